//! The default backend: one directory per run under `./lotl-runs`.
//!
//! Layout of a run directory `<root>/<run_id>/`:
//! - `meta.json`: id, experiment, name, status, start and end time, tags;
//! - `params.json`: `{key: value}`;
//! - `metrics.ndjson`: one `{"key","value","step","timestamp"}` object per line, appended;
//! - `artifacts/`: copies of the logged files.
//!
//! JSON files are replaced atomically (temp file + rename), so a reader never sees half a
//! file. The metrics log is append-only; each line is written with one `write` call, and a
//! torn last line (a crash mid-write) is skipped on reading.

use crate::atomic::{copy_atomic, write_json_atomic};
use crate::error::{Result, TrackError};
use crate::ids::{new_run_id, now_ms};
use crate::model::{check_artifact_path, Backend, Metric, RunHandle, RunStatus};
use crate::tracker::{KeyValue, Tracker};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The directory used when none is configured.
pub const DEFAULT_DIR: &str = "lotl-runs";

const META: &str = "meta.json";
const PARAMS: &str = "params.json";
const METRICS: &str = "metrics.ndjson";
const ARTIFACTS: &str = "artifacts";

/// `meta.json` of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    pub run_id: String,
    pub experiment: String,
    pub run_name: String,
    pub status: RunStatus,
    /// Milliseconds since the Unix epoch.
    pub start_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// Everything stored for one run, as read back from disk.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub dir: PathBuf,
    pub meta: RunMeta,
    pub params: BTreeMap<String, String>,
    /// Every observation, in logging order.
    pub metrics: Vec<Metric>,
    /// Artifact paths relative to the artifact root (`/`-separated), with sizes in bytes.
    pub artifacts: Vec<(String, u64)>,
    /// Lines of `metrics.ndjson` that could not be read (a torn last line after a crash).
    pub skipped_metric_lines: usize,
}

impl RunRecord {
    /// The latest observation of each metric: highest step, then latest timestamp, then
    /// the last logged.
    pub fn last_metrics(&self) -> BTreeMap<String, Metric> {
        let mut last: BTreeMap<String, Metric> = BTreeMap::new();
        for m in &self.metrics {
            match last.get(&m.key) {
                Some(prev) if (prev.step, prev.timestamp) > (m.step, m.timestamp) => {}
                _ => {
                    last.insert(m.key.clone(), m.clone());
                }
            }
        }
        last
    }

    /// The history of one metric, in logging order.
    pub fn history(&self, key: &str) -> Vec<&Metric> {
        self.metrics.iter().filter(|m| m.key == key).collect()
    }
}

/// State kept for a run this store started, so params are checked without re-reading.
#[derive(Debug)]
struct Open {
    meta: RunMeta,
    params: BTreeMap<String, String>,
}

/// Runs on the local disk. Also reads them back (`list`, `load`) for `lotl runs`.
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
    open: BTreeMap<String, Open>,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalStore {
            root: root.into(),
            open: BTreeMap::new(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Starts a run under a given id and start time: used to keep a copy of an MLflow run
    /// under the id the server gave it.
    pub(crate) fn start_run_with(
        &mut self,
        run_id: &str,
        start_time: i64,
        experiment: &str,
        run_name: &str,
        tags: &[KeyValue],
    ) -> Result<RunHandle> {
        check_run_id(run_id)?;
        let dir = self.root.join(run_id);
        std::fs::create_dir_all(dir.join(ARTIFACTS)).map_err(|e| TrackError::io(&dir, e))?;
        let meta = RunMeta {
            run_id: run_id.to_owned(),
            experiment: experiment.to_owned(),
            run_name: run_name.to_owned(),
            status: RunStatus::Running,
            start_time,
            end_time: None,
            tags: tags.iter().cloned().collect(),
        };
        write_json_atomic(&dir.join(META), &meta)?;
        let params = BTreeMap::new();
        write_json_atomic(&dir.join(PARAMS), &params)?;
        self.open.insert(run_id.to_owned(), Open { meta, params });
        Ok(RunHandle {
            run_id: run_id.to_owned(),
            experiment_id: experiment.to_owned(),
            backend: Backend::Local,
            location: dir.display().to_string(),
        })
    }

    fn open_run(&mut self, run: &RunHandle) -> Result<&mut Open> {
        if !self.open.contains_key(&run.run_id) {
            // A handle from another LocalStore value on the same root: pick the run up.
            let rec = self.load(&run.run_id)?;
            self.open.insert(
                run.run_id.clone(),
                Open {
                    meta: rec.meta,
                    params: rec.params,
                },
            );
        }
        self.open
            .get_mut(&run.run_id)
            .ok_or_else(|| TrackError::RunNotFound(run.run_id.clone(), self.root.clone()))
    }

    fn run_dir(&self, run_id: &str) -> PathBuf {
        self.root.join(run_id)
    }

    /// All runs under the root, newest first. Directories without a readable `meta.json`
    /// are skipped (a run being created, or foreign files).
    pub fn list(&self) -> Result<Vec<RunMeta>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(TrackError::io(&self.root, e)),
        };
        let mut runs = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| TrackError::io(&self.root, e))?;
            let meta_path = entry.path().join(META);
            if let Ok(meta) = read_json::<RunMeta>(&meta_path) {
                runs.push(meta);
            }
        }
        runs.sort_by(|a, b| {
            b.start_time
                .cmp(&a.start_time)
                .then_with(|| a.run_id.cmp(&b.run_id))
        });
        Ok(runs)
    }

    /// Finds a run by its full id or a unique prefix of it.
    pub fn resolve(&self, id_or_prefix: &str) -> Result<String> {
        if id_or_prefix.is_empty() {
            return Err(TrackError::Invalid("empty run id".into()));
        }
        if self.run_dir(id_or_prefix).join(META).is_file() && check_run_id(id_or_prefix).is_ok() {
            return Ok(id_or_prefix.to_owned());
        }
        let matches: Vec<String> = self
            .list()?
            .into_iter()
            .map(|m| m.run_id)
            .filter(|id| id.starts_with(id_or_prefix))
            .collect();
        match matches.len() {
            0 => Err(TrackError::RunNotFound(
                id_or_prefix.to_owned(),
                self.root.clone(),
            )),
            1 => Ok(matches.into_iter().next().unwrap_or_default()),
            _ => Err(TrackError::AmbiguousRun(
                id_or_prefix.to_owned(),
                matches.join(", "),
            )),
        }
    }

    /// Reads one run (full id or unique prefix).
    pub fn load(&self, id_or_prefix: &str) -> Result<RunRecord> {
        let run_id = self.resolve(id_or_prefix)?;
        let dir = self.run_dir(&run_id);
        let meta: RunMeta = read_json(&dir.join(META))?;
        let params: BTreeMap<String, String> = match read_json(&dir.join(PARAMS)) {
            Err(TrackError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                BTreeMap::new()
            }
            other => other?,
        };
        let (metrics, skipped_metric_lines) = read_metrics(&dir.join(METRICS))?;
        let mut artifacts = Vec::new();
        let art_root = dir.join(ARTIFACTS);
        if art_root.is_dir() {
            for entry in walkdir::WalkDir::new(&art_root).sort_by_file_name() {
                let entry = entry.map_err(|e| {
                    let path = e
                        .path()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| art_root.clone());
                    TrackError::io(path, std::io::Error::other(e.to_string()))
                })?;
                if !entry.file_type().is_file() {
                    continue;
                }
                let rel = entry.path().strip_prefix(&art_root).unwrap_or(entry.path());
                let rel: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                artifacts.push((rel.join("/"), size));
            }
        }
        Ok(RunRecord {
            dir,
            meta,
            params,
            metrics,
            artifacts,
            skipped_metric_lines,
        })
    }
}

/// Run ids become directory names: keep them to one plain path component.
fn check_run_id(id: &str) -> Result<()> {
    if id.is_empty()
        || id.starts_with('.')
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(TrackError::Invalid(format!(
            "run id {id:?} is not a plain name"
        )));
    }
    Ok(())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|e| TrackError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| TrackError::Json {
        path: path.to_owned(),
        source: e,
    })
}

fn read_metrics(path: &Path) -> Result<(Vec<Metric>, usize)> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(TrackError::io(path, e)),
    };
    let mut metrics = Vec::new();
    let mut skipped = 0;
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Metric>(line) {
            Ok(m) => metrics.push(m),
            Err(_) => skipped += 1,
        }
    }
    Ok((metrics, skipped))
}

impl Tracker for LocalStore {
    fn start_run(
        &mut self,
        experiment: &str,
        run_name: &str,
        tags: &[KeyValue],
    ) -> Result<RunHandle> {
        let id = new_run_id(run_name);
        self.start_run_with(&id, now_ms(), experiment, run_name, tags)
    }

    fn log_params(&mut self, run: &RunHandle, params: &[KeyValue]) -> Result<()> {
        let path = self.run_dir(&run.run_id).join(PARAMS);
        let open = self.open_run(run)?;
        let mut next = open.params.clone();
        for (k, v) in params {
            if k.is_empty() {
                return Err(TrackError::Invalid("empty param key".into()));
            }
            match next.get(k) {
                Some(old) if old != v => {
                    return Err(TrackError::Invalid(format!(
                        "param {k:?} is already {old:?}; a param cannot change (tried {v:?})"
                    )))
                }
                _ => {
                    next.insert(k.clone(), v.clone());
                }
            }
        }
        write_json_atomic(&path, &next)?;
        open.params = next;
        Ok(())
    }

    fn set_tags(&mut self, run: &RunHandle, tags: &[KeyValue]) -> Result<()> {
        let path = self.run_dir(&run.run_id).join(META);
        let open = self.open_run(run)?;
        let mut meta = open.meta.clone();
        meta.tags.extend(tags.iter().cloned());
        write_json_atomic(&path, &meta)?;
        open.meta = meta;
        Ok(())
    }

    fn log_metrics(&mut self, run: &RunHandle, metrics: &[Metric]) -> Result<()> {
        if metrics.is_empty() {
            return Ok(());
        }
        self.open_run(run)?;
        let path = self.run_dir(&run.run_id).join(METRICS);
        let mut buf = Vec::with_capacity(metrics.len() * 96);
        for m in metrics {
            if m.key.is_empty() {
                return Err(TrackError::Invalid("empty metric key".into()));
            }
            serde_json::to_writer(&mut buf, m).map_err(|e| TrackError::Json {
                path: path.clone(),
                source: e,
            })?;
            buf.push(b'\n');
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| TrackError::io(&path, e))?;
        f.write_all(&buf).map_err(|e| TrackError::io(&path, e))
    }

    fn log_artifact(
        &mut self,
        run: &RunHandle,
        local_path: &Path,
        artifact_path: Option<&str>,
    ) -> Result<()> {
        self.open_run(run)?;
        let mut dest = self.run_dir(&run.run_id).join(ARTIFACTS);
        for part in check_artifact_path(artifact_path.unwrap_or(""))? {
            dest.push(part);
        }
        let meta = std::fs::metadata(local_path).map_err(|e| TrackError::io(local_path, e))?;
        if meta.is_file() {
            let name = local_path.file_name().ok_or_else(|| {
                TrackError::Invalid(format!("{} has no file name", local_path.display()))
            })?;
            return copy_atomic(local_path, &dest.join(name));
        }
        for entry in walkdir::WalkDir::new(local_path).sort_by_file_name() {
            let entry = entry
                .map_err(|e| TrackError::io(local_path, std::io::Error::other(e.to_string())))?;
            if !entry.file_type().is_file() {
                continue;
            }
            let rel = entry
                .path()
                .strip_prefix(local_path)
                .unwrap_or(entry.path());
            copy_atomic(entry.path(), &dest.join(rel))?;
        }
        Ok(())
    }

    fn end_run(&mut self, run: &RunHandle, status: RunStatus) -> Result<()> {
        let path = self.run_dir(&run.run_id).join(META);
        let open = self.open_run(run)?;
        let mut meta = open.meta.clone();
        meta.status = status;
        meta.end_time = Some(now_ms());
        write_json_atomic(&path, &meta)?;
        self.open.remove(&run.run_id);
        Ok(())
    }
}
