//! lotl-classifier: see ARCHITECTURE.md.
