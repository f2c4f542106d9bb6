//! Reading Windows process-start events from every source into one canonical
//! [`ProcessEvent`], and storing them as Parquet.

pub mod error;
pub mod event;
pub mod parquet;

pub use error::{Error, Result};
pub use event::{EventSource, Label, ProcessEvent};
