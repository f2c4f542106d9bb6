//! The corpora every lotl model is trained and judged on.
//!
//! - [`synth`]: a deterministic synthetic Windows fleet with ground truth on every event,
//!   generated per host-day so arbitrarily large fleets stream in bounded memory.
//! - [`label`]: the per-event labelling rule for the real recordings, which are labelled
//!   by file, not by event.
//! - [`split`]: train/validation/test manifests that never cut a host, scenario or file
//!   in two, so that no attack is seen in training and then "detected" in test.

pub mod label;
pub mod split;
pub mod synth;

use std::path::PathBuf;

/// Everything that can go wrong while building a dataset; each variant names its input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid generator configuration: {0}")]
    Config(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot parse TOML: {source}")]
    Toml {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("{path}: cannot parse JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid split request: {0}")]
    Split(String),
    #[error("writing NDJSON: {0}")]
    Write(#[source] std::io::Error),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
