//! lotl-scorer: see ARCHITECTURE.md.
