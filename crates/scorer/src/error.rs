use std::path::PathBuf;

/// Errors of the detection engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid rule configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Cluster(#[from] lotl_cluster::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
