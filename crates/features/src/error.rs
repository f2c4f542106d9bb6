use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown recipe {0:?} (known: elastic2021, elastic2026, lotl)")]
    UnknownRecipe(String),
    #[error("invalid recipe parameter: {0}")]
    InvalidParam(String),
    #[error("{what}: {n_labels} labels for {n_rows} rows")]
    LabelCount {
        what: &'static str,
        n_labels: usize,
        n_rows: usize,
    },
    #[error("pipeline was fitted for recipe {fitted} but the table holds {got}")]
    RecipeMismatch { fitted: String, got: String },
    #[error("invalid encoder parameter: {0}")]
    InvalidEncoderParam(String),
    #[error("writing {path}: {source}")]
    Polars {
        path: PathBuf,
        source: polars::error::PolarsError,
    },
    #[error("building the feature frame: {0}")]
    Frame(#[from] polars::error::PolarsError),
    #[error("events frame: {0}")]
    Schema(String),
    #[error(transparent)]
    Events(#[from] lotl_events::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
}
