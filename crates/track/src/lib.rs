//! lotl-track: see ARCHITECTURE.md.
