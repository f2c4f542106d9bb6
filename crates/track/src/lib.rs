//! Experiment tracking for lotl: record a training or evaluation run's params, metric
//! histories, artifacts and outcome, either in a local run store (the default, nothing to
//! configure) or on an MLflow tracking server over its REST API.
//!
//! ```no_run
//! use lotl_track::{TrackingConfig, RunStatus};
//! let cfg = TrackingConfig::resolve(None, None); // --tracking-uri, --tracking-dir
//! let mut run = lotl_track::start_run(&cfg, "lotl-train", "gbdt depth 6", &[])?;
//! run.log_param("learning_rate", 0.1);
//! for (step, loss) in [0.69, 0.41, 0.33].into_iter().enumerate() {
//!     run.log_metric("train_loss", loss, step as i64);
//! }
//! run.log_artifact(std::path::Path::new("model"), Some("bundle"));
//! run.finish()?; // dropped without finish: marked FAILED
//! # Ok::<(), lotl_track::TrackError>(())
//! ```
//!
//! Tracking never stops the work it records: a server that is down at the start means a
//! warning and the local store; one that dies mid-run means buffering, retrying, and at the
//! end a local copy plus an error saying what was not delivered.

mod atomic;
mod error;
mod ids;
pub mod local;
pub mod mlflow;
mod model;
pub mod report;
mod run;
mod tracker;

pub use atomic::write_atomic;
pub use error::{Result, TrackError};
pub use ids::now_ms;
pub use local::{LocalStore, RunMeta, RunRecord};
pub use mlflow::{Credentials, MlflowTracker, RetryPolicy, Secret};
pub use model::{Backend, Metric, RunHandle, RunStatus};
pub use run::Run;
pub use tracker::{KeyValue, Tracker};

use std::path::PathBuf;

/// The environment variable MLflow's own clients read for the server address.
pub const TRACKING_URI_ENV: &str = "MLFLOW_TRACKING_URI";

/// Where runs go: an MLflow server when a URI is given, otherwise the local store.
#[derive(Debug, Clone)]
pub struct TrackingConfig {
    pub tracking_uri: Option<String>,
    /// The local store: the default backend, and where MLflow runs fall back to.
    pub tracking_dir: PathBuf,
    pub retry: RetryPolicy,
}

impl TrackingConfig {
    /// `--tracking-uri` wins over `MLFLOW_TRACKING_URI`; neither means the local store in
    /// `--tracking-dir` (default `./lotl-runs`).
    pub fn resolve(tracking_uri: Option<String>, tracking_dir: Option<PathBuf>) -> Self {
        let tracking_uri = tracking_uri
            .or_else(|| std::env::var(TRACKING_URI_ENV).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        TrackingConfig {
            tracking_uri,
            tracking_dir: tracking_dir.unwrap_or_else(|| PathBuf::from(local::DEFAULT_DIR)),
            retry: RetryPolicy::default(),
        }
    }

    /// The local store only.
    pub fn local(dir: impl Into<PathBuf>) -> Self {
        TrackingConfig {
            tracking_uri: None,
            tracking_dir: dir.into(),
            retry: RetryPolicy::default(),
        }
    }
}

/// Starts a run on the configured backend.
///
/// With an MLflow URI, a server that cannot be reached or refuses to start the run gives a
/// warning (its error code and message included) and the run goes to the local store
/// instead. Fails only for a malformed URI or a local store that cannot be written.
pub fn start_run(
    cfg: &TrackingConfig,
    experiment: &str,
    run_name: &str,
    tags: &[KeyValue],
) -> Result<Run> {
    if let Some(uri) = &cfg.tracking_uri {
        let tracker = MlflowTracker::new(uri, Credentials::from_env(), cfg.retry.clone())?
            .with_rescue_dir(cfg.tracking_dir.clone());
        let base = tracker.base_url().to_owned();
        match Run::start(Box::new(tracker), experiment, run_name, tags) {
            Ok(run) => return Ok(run),
            Err(e) => {
                let mut run = Run::start(
                    Box::new(LocalStore::new(&cfg.tracking_dir)),
                    experiment,
                    run_name,
                    tags,
                )?;
                run.warn(format!(
                    "cannot start an MLflow run at {base}: {e}; recording run {} in the local store {} instead",
                    run.id(),
                    cfg.tracking_dir.display()
                ));
                run.set_tag("lotl.mlflow.fallback", format!("{base}: {e}"));
                return Ok(run);
            }
        }
    }
    Run::start(
        Box::new(LocalStore::new(&cfg.tracking_dir)),
        experiment,
        run_name,
        tags,
    )
}

/// Tags that identify the code behind a run. The `mlflow.source.*` ones are MLflow's
/// reserved names, shown in its UI; `lotl.*` ones carry the same in the local store.
pub fn source_tags(lotl_version: &str, git_commit: &str) -> Vec<KeyValue> {
    let mut tags = vec![
        ("lotl.version".to_owned(), lotl_version.to_owned()),
        ("lotl.git_commit".to_owned(), git_commit.to_owned()),
        ("mlflow.source.name".to_owned(), "lotl".to_owned()),
        ("mlflow.source.type".to_owned(), "LOCAL".to_owned()),
        ("mlflow.source.git.commit".to_owned(), git_commit.to_owned()),
    ];
    if let Some(user) = std::env::var("USER").ok().filter(|u| !u.is_empty()) {
        tags.push(("mlflow.user".to_owned(), user));
    }
    tags
}

/// A file's xxh3-64 digest as 16 hex digits, streamed: to record which dataset a run saw
/// (log it as a param, e.g. `dataset.train.xxh3`).
pub fn file_digest(path: &std::path::Path) -> Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| TrackError::Io {
        path: path.to_owned(),
        source: e,
    })?;
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| TrackError::Io {
            path: path.to_owned(),
            source: e,
        })?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:016x}", h.digest()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_digest_streams_to_the_one_shot_value() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("d.bin");
        // Larger than the read buffer, so the streaming path is exercised.
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let want = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&data));
        assert_eq!(file_digest(&p).unwrap(), want);
        assert!(file_digest(&tmp.path().join("missing"))
            .unwrap_err()
            .to_string()
            .contains("missing"));
    }

    #[test]
    fn the_flag_wins_over_the_environment_and_no_uri_means_local() {
        // Only the flag path is tested: the environment is process-wide and tests run in
        // parallel.
        let c = TrackingConfig::resolve(Some(" http://h:5000 ".into()), None);
        assert_eq!(c.tracking_uri.as_deref(), Some("http://h:5000"));
        assert_eq!(c.tracking_dir, std::path::PathBuf::from("lotl-runs"));
        let c = TrackingConfig::local("x");
        assert!(c.tracking_uri.is_none());
    }
}
