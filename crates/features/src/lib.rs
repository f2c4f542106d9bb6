//! lotl-features: see ARCHITECTURE.md.
