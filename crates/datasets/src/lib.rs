//! lotl-datasets: see ARCHITECTURE.md.
