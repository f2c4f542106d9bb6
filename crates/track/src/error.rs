use std::path::PathBuf;

/// Everything that can go wrong while tracking. Messages name the file, run or endpoint
/// involved, and never contain credentials.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
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
    #[error("no run matches {0:?} in {1}")]
    RunNotFound(String, PathBuf),
    #[error("{0:?} matches several runs ({1}); give more characters")]
    AmbiguousRun(String, String),
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The MLflow server answered with an error: its own code and message, verbatim.
    #[error("MLflow {endpoint}: HTTP {status} {error_code}: {message}")]
    Mlflow {
        endpoint: String,
        status: u16,
        error_code: String,
        message: String,
    },
    /// The MLflow server could not be reached (connection refused, timeout, 5xx) even after
    /// retrying.
    #[error("MLflow {endpoint}: server unreachable after {attempts} attempts: {detail}")]
    Unreachable {
        endpoint: String,
        attempts: u32,
        detail: String,
    },
    /// Some of a run's data never reached the server; `rescued` says where a full copy went.
    #[error(
        "MLflow run {run_id}: {undelivered} not delivered ({cause}){}",
        rescued.as_ref().map(|p| format!("; the full run was saved locally in {}", p.display())).unwrap_or_default()
    )]
    Undelivered {
        run_id: String,
        undelivered: String,
        cause: String,
        rescued: Option<PathBuf>,
    },
}

impl TrackError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrackError::Io {
            path: path.into(),
            source,
        }
    }

    /// True when the server could not be reached at all, as opposed to answering with an error.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, TrackError::Unreachable { .. })
    }
}

pub type Result<T, E = TrackError> = std::result::Result<T, E>;
