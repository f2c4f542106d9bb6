//! The one interface both backends implement.

use crate::error::Result;
use crate::model::{Metric, RunHandle, RunStatus};
use std::path::Path;

/// A key and its value, for params and tags. Values are strings in MLflow; format numbers
/// with `to_string()` (Rust prints the shortest representation that reads back exactly).
pub type KeyValue = (String, String);

/// Records runs: their params, metric histories, artifacts and final status.
///
/// Object safe, so a command can hold a `Box<dyn Tracker>` without caring which backend
/// [`crate::start_run`] picked. Most callers want [`crate::Run`], which wraps a tracker, never
/// fails the caller's work on a tracking problem and marks an abandoned run FAILED.
pub trait Tracker: Send {
    /// Starts a run in `experiment` (created when missing) and returns its handle.
    fn start_run(
        &mut self,
        experiment: &str,
        run_name: &str,
        tags: &[KeyValue],
    ) -> Result<RunHandle>;

    /// Logs params. A param is written once: the same value again is accepted, a different
    /// one is an error (MLflow's rule, kept by the local store too).
    fn log_params(&mut self, run: &RunHandle, params: &[KeyValue]) -> Result<()>;

    /// Sets tags; unlike params, a tag may be overwritten.
    fn set_tags(&mut self, run: &RunHandle, tags: &[KeyValue]) -> Result<()>;

    /// Logs one observation of a metric. `timestamp_ms` is milliseconds since the epoch.
    fn log_metric(
        &mut self,
        run: &RunHandle,
        key: &str,
        value: f64,
        step: i64,
        timestamp_ms: i64,
    ) -> Result<()> {
        let m = Metric {
            key: key.to_owned(),
            value,
            step,
            timestamp: timestamp_ms,
        };
        self.log_metrics(run, std::slice::from_ref(&m))
    }

    /// Logs many observations at once (one request per batch for MLflow).
    fn log_metrics(&mut self, run: &RunHandle, metrics: &[Metric]) -> Result<()>;

    /// Logs a file or a directory as artifacts. A file lands at `<artifact_path>/<file name>`;
    /// a directory's contents land under `<artifact_path>/` (MLflow's `log_artifact` and
    /// `log_artifacts` conventions). `None` means the run's artifact root.
    fn log_artifact(
        &mut self,
        run: &RunHandle,
        local_path: &Path,
        artifact_path: Option<&str>,
    ) -> Result<()>;

    /// Ends the run with `status` and the current time as end time.
    fn end_run(&mut self, run: &RunHandle, status: RunStatus) -> Result<()>;

    /// Messages the tracker wants shown (data buffered while a server is down, values
    /// truncated to a server's limits). Drained by the call.
    fn take_notices(&mut self) -> Vec<String> {
        Vec::new()
    }
}
