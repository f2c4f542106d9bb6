use std::path::PathBuf;

/// Errors of the cluster model: bad configuration, bad input files, out-of-order buckets.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid cluster configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Events(#[from] lotl_events::Error),
    #[error("{path}: {message}")]
    Scored { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "bucket {bucket_ms} observed after bucket {last_ms}: buckets must arrive in time order"
    )]
    OutOfOrder { bucket_ms: i64, last_ms: i64 },
    #[error("event {event_id} at {timestamp_ms} does not belong to bucket {bucket_ms}")]
    WrongBucket {
        event_id: String,
        timestamp_ms: i64,
        bucket_ms: i64,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
