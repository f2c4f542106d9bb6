//! The values a tracker records, shared by both backends.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// How a run ended (or that it has not). The names are MLflow's `RunStatus` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RunStatus {
    Running,
    Scheduled,
    Finished,
    Failed,
    Killed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    /// True once the run has ended, whichever way.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Finished | RunStatus::Failed | RunStatus::Killed
        )
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One metric observation. A metric's history is the sequence of its observations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub key: String,
    /// Non-finite values are kept: JSON has no NaN, so they are written as the strings
    /// "NaN", "Infinity" and "-Infinity" (protobuf's JSON mapping, which MLflow accepts).
    #[serde(serialize_with = "ser_f64", deserialize_with = "de_f64")]
    pub value: f64,
    pub step: i64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
}

impl Metric {
    /// An observation timestamped now.
    pub fn new(key: impl Into<String>, value: f64, step: i64) -> Self {
        Metric {
            key: key.into(),
            value,
            step,
            timestamp: crate::ids::now_ms(),
        }
    }
}

pub(crate) fn ser_f64<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(*v)
    } else if v.is_nan() {
        s.serialize_str("NaN")
    } else if *v > 0.0 {
        s.serialize_str("Infinity")
    } else {
        s.serialize_str("-Infinity")
    }
}

pub(crate) fn de_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Num {
        F(f64),
        S(String),
    }
    match Num::deserialize(d)? {
        Num::F(f) => Ok(f),
        Num::S(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other
                .parse()
                .map_err(|_| serde::de::Error::custom(format!("not a number: {other:?}"))),
        },
    }
}

/// Which backend holds a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Local,
    Mlflow,
}

/// Identifies a started run to the tracker that started it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunHandle {
    pub run_id: String,
    pub experiment_id: String,
    pub backend: Backend,
    /// Where the run lives, for messages: the local run directory or the MLflow run's URL.
    pub location: String,
}

/// Rejects artifact sub-paths that could escape the run's artifact root.
pub(crate) fn check_artifact_path(p: &str) -> crate::error::Result<Vec<String>> {
    let mut parts = Vec::new();
    for seg in p.split(['/', '\\']) {
        match seg {
            "" | "." => {}
            ".." => {
                return Err(crate::error::TrackError::Invalid(format!(
                    "artifact path {p:?} must not contain '..'"
                )))
            }
            s if s.contains(':') => {
                return Err(crate::error::TrackError::Invalid(format!(
                    "artifact path {p:?} must be relative (no drive or scheme)"
                )))
            }
            s => parts.push(s.to_owned()),
        }
    }
    if p.starts_with('/') || p.starts_with('\\') {
        return Err(crate::error::TrackError::Invalid(format!(
            "artifact path {p:?} must be relative"
        )));
    }
    Ok(parts)
}
