use std::path::PathBuf;

/// Errors that stop reading or writing. Per-record problems are not errors: they are
/// skipped and counted (see [`crate::read::SkipReason`]) unless reading is strict.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a lotl events Parquet file: {message}")]
    Schema { path: PathBuf, message: String },
    #[cfg(feature = "parquet")]
    #[error("{path}: Parquet: {source}")]
    Parquet {
        path: PathBuf,
        #[source]
        source: polars::error::PolarsError,
    },
    #[error(
        "{path}: record {record}: {reason} (run without --strict to skip and count such records)"
    )]
    Strict {
        path: String,
        record: u64,
        reason: String,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    #[error("{0}")]
    Config(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
