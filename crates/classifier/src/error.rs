//! Errors of the classifier crate.

use std::path::PathBuf;

/// Everything that can go wrong while building data sets, checking hyperparameters,
/// training, predicting, or loading a saved model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The feature matrix or label vector is malformed (sizes, names, values).
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// The data are well-formed but cannot train a binary classifier.
    #[error("cannot train: {0}")]
    Untrainable(String),
    /// A hyperparameter is outside its valid range.
    #[error("invalid hyperparameter `{name}`: {reason}")]
    InvalidParam {
        /// Name of the offending hyperparameter.
        name: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// The matrix handed to a model does not have the columns it was trained on.
    #[error("feature mismatch: {0}")]
    FeatureMismatch(String),
    /// A saved model could not be read or written.
    #[error("model file {path}: {source}")]
    Io {
        /// File being read or written.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// A saved model is not valid JSON for this model type.
    #[error("model file {path}: {source}")]
    Json {
        /// File being parsed.
        path: PathBuf,
        /// Underlying parse error.
        source: serde_json::Error,
    },
    /// A saved model was written by a newer, incompatible format version.
    #[error(
        "model file {path}: format version {found} is newer than supported version {supported}"
    )]
    NewerFormat {
        /// File being loaded.
        path: PathBuf,
        /// Version found in the file.
        found: u32,
        /// Highest version this build reads.
        supported: u32,
    },
    /// A saved model parsed but is structurally inconsistent (e.g. a child index out of range).
    #[error("corrupt model: {0}")]
    CorruptModel(String),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
