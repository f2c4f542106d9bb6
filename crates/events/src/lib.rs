//! Reading Windows process-start events from every source into one canonical
//! [`ProcessEvent`], and storing them as Parquet.

pub mod event;

pub use event::{EventSource, Label, ProcessEvent};
