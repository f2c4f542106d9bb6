//! lotl-export: see ARCHITECTURE.md.
