//! Errors of the evaluation crate; each names the file or key it is about.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Events(#[from] lotl_events::Error),
    #[error(transparent)]
    Datasets(#[from] lotl_datasets::Error),
    #[error(transparent)]
    Bundle(#[from] lotl_export::BundleError),
    #[error(transparent)]
    Cluster(#[from] lotl_cluster::Error),
    #[error(transparent)]
    Scorer(#[from] lotl_scorer::Error),
    #[error("{path}: {message}")]
    Data { path: PathBuf, message: String },
    #[error("plot {name}: {message}")]
    Plot { name: String, message: String },
    #[error("{path}: baseline is from another metric set; these baseline keys are missing from this report: {}", .missing.join(", "))]
    BaselineKeys { path: PathBuf, missing: Vec<String> },
    #[error("{path}: not a lotl metrics or baseline file: {message}")]
    Baseline { path: PathBuf, message: String },
    #[error("{0}")]
    Input(String),
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}
