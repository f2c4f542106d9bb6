//! lotl-cluster: see ARCHITECTURE.md.
