//! [`Run`]: the handle a command holds while it works.

use crate::error::Result;
use crate::model::{Metric, RunHandle, RunStatus};
use crate::tracker::{KeyValue, Tracker};
use std::fmt::Display;
use std::path::Path;

/// A started run that owns its tracker.
///
/// Logging never fails the caller: training must finish and save its model even when the
/// disk is full or the MLflow server went away, so a logging error becomes a warning on
/// stderr (kept in [`Run::warnings`]). [`Run::finish`] returns what could not be delivered.
///
/// Dropping a `Run` that was not ended (an early `?` return, a panic) marks it FAILED, so a
/// run is never left RUNNING by a crash the process survives long enough to unwind.
pub struct Run {
    tracker: Box<dyn Tracker>,
    handle: RunHandle,
    ended: bool,
    quiet: bool,
    warnings: Vec<String>,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("handle", &self.handle)
            .field("ended", &self.ended)
            .field("warnings", &self.warnings.len())
            .finish_non_exhaustive()
    }
}

impl Run {
    /// Starts a run on `tracker`. Fails only if the run cannot be created at all.
    pub fn start(
        mut tracker: Box<dyn Tracker>,
        experiment: &str,
        run_name: &str,
        tags: &[KeyValue],
    ) -> Result<Run> {
        let handle = tracker.start_run(experiment, run_name, tags)?;
        let mut run = Run {
            tracker,
            handle,
            ended: false,
            quiet: false,
            warnings: Vec::new(),
        };
        run.drain_notices();
        Ok(run)
    }

    /// Keeps warnings in [`Run::warnings`] only, without printing them (tests, servers).
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    pub fn id(&self) -> &str {
        &self.handle.run_id
    }

    pub fn handle(&self) -> &RunHandle {
        &self.handle
    }

    /// Warnings so far: logging errors and the tracker's notices.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub(crate) fn warn(&mut self, msg: String) {
        if !self.quiet {
            eprintln!("warning: tracking: {msg}");
        }
        self.warnings.push(msg);
    }

    fn drain_notices(&mut self) {
        for n in self.tracker.take_notices() {
            self.warn(n);
        }
    }

    fn check(&mut self, r: Result<()>) {
        self.drain_notices();
        if let Err(e) = r {
            self.warn(e.to_string());
        }
    }

    pub fn log_param(&mut self, key: &str, value: impl Display) {
        let r = self
            .tracker
            .log_params(&self.handle, &[(key.to_owned(), value.to_string())]);
        self.check(r);
    }

    pub fn log_params<K: Display, V: Display>(&mut self, params: impl IntoIterator<Item = (K, V)>) {
        let kv: Vec<KeyValue> = params
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let r = self.tracker.log_params(&self.handle, &kv);
        self.check(r);
    }

    pub fn set_tag(&mut self, key: &str, value: impl Display) {
        let r = self
            .tracker
            .set_tags(&self.handle, &[(key.to_owned(), value.to_string())]);
        self.check(r);
    }

    /// Logs one observation timestamped now.
    pub fn log_metric(&mut self, key: &str, value: f64, step: i64) {
        let m = Metric::new(key, value, step);
        let r = self
            .tracker
            .log_metrics(&self.handle, std::slice::from_ref(&m));
        self.check(r);
    }

    /// Logs one observation with an explicit timestamp (milliseconds since the epoch).
    pub fn log_metric_at(&mut self, key: &str, value: f64, step: i64, timestamp_ms: i64) {
        let r = self
            .tracker
            .log_metric(&self.handle, key, value, step, timestamp_ms);
        self.check(r);
    }

    pub fn log_metrics(&mut self, metrics: &[Metric]) {
        let r = self.tracker.log_metrics(&self.handle, metrics);
        self.check(r);
    }

    /// Logs a file (at `<artifact_path>/<name>`) or a directory's contents (under
    /// `<artifact_path>/`).
    pub fn log_artifact(&mut self, local_path: &Path, artifact_path: Option<&str>) {
        let r = self
            .tracker
            .log_artifact(&self.handle, local_path, artifact_path);
        self.check(r);
    }

    /// Ends the run as FINISHED.
    pub fn finish(self) -> Result<()> {
        self.end(RunStatus::Finished)
    }

    /// Ends the run with `status`. An error here means some of the run's data did not reach
    /// the backend (the message says what, and where a local copy was saved).
    pub fn end(mut self, status: RunStatus) -> Result<()> {
        self.ended = true;
        let r = self.tracker.end_run(&self.handle, status);
        for n in self.tracker.take_notices() {
            self.warn(n);
        }
        r
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        self.ended = true;
        let panicking = std::thread::panicking();
        let r = self.tracker.end_run(&self.handle, RunStatus::Failed);
        // Printing while unwinding is fine; panicking again is not, hence no `?` or unwrap.
        if !self.quiet {
            let why = if panicking {
                "panicked"
            } else {
                "ended without finishing"
            };
            eprintln!(
                "warning: tracking: run {} {why}; marked FAILED",
                self.handle.run_id
            );
            if let Err(e) = r {
                eprintln!("warning: tracking: {e}");
            }
        }
    }
}
