//! Reading Windows process-start events from every source into one canonical
//! [`ProcessEvent`], and storing them as Parquet.

pub mod error;
pub mod event;
pub mod key;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod read;

pub use compact_str::{format_compact, ToCompactString};
pub use error::{Error, Result};
pub use event::{EventSource, Label, ProcessEvent, Text};
pub use read::{
    read_bytes, read_paths, read_paths_streaming, read_paths_with_progress, CsvMapping,
    ReadOptions, ReadOutcome, ReadStats,
};
