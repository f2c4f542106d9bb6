//! An MLflow tracking server, over its REST API 2.0.
//!
//! Endpoints used: `experiments/get-by-name`, `experiments/create`, `runs/create`,
//! `runs/log-batch`, `runs/update`, and the artifact proxy
//! `PUT /api/2.0/mlflow-artifacts/artifacts/<exp>/<run>/artifacts/<path>` (the server must
//! serve artifacts, which `mlflow server` does by default since 2.0).
//!
//! Faults: connection errors, timeouts, 429 and 5xx are retried with exponential backoff.
//! When the server stays unreachable mid-run, params, metrics and artifacts are buffered in
//! memory and the caller carries on; the buffer is retried every `offline_probe_interval`
//! and at the end of the run. If it still cannot be delivered then, the whole run is saved
//! to the local store under the same run id and the error says so. A 4xx answer is
//! MLflow rejecting the data: its `error_code` and `message` are passed on verbatim.

use crate::error::{Result, TrackError};
use crate::ids::now_ms;
use crate::local::LocalStore;
use crate::model::{check_artifact_path, Backend, Metric, RunHandle, RunStatus};
use crate::tracker::{KeyValue, Tracker};
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::{Method, StatusCode, Url};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// MLflow's `runs/log-batch` limits (mlflow/utils/validation.py, MLflow 3.x).
pub mod limits {
    pub const MAX_PARAMS_PER_BATCH: usize = 100;
    pub const MAX_TAGS_PER_BATCH: usize = 100;
    pub const MAX_METRICS_PER_BATCH: usize = 1000;
    pub const MAX_ENTITIES_PER_BATCH: usize = 1000;
    /// The server rejects requests over 1 MB; stay well below it.
    pub const MAX_BATCH_BYTES: usize = 900_000;
    pub const MAX_PARAM_VALUE_CHARS: usize = 6000;
    pub const MAX_TAG_VALUE_CHARS: usize = 8000;
    pub const MAX_KEY_CHARS: usize = 250;
}
use limits::*;

/// How hard to try before calling the server unreachable.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request (1 = no retry).
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled for each further one.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// While the server is unreachable mid-run, how often one delivery attempt is made.
    pub offline_probe_interval: Duration,
    /// Time to establish a connection.
    pub connect_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            offline_probe_interval: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// A string that never appears in `Debug` output or messages.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How to authenticate to the server; the same variables as MLflow's Python client.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Credentials {
    #[default]
    None,
    /// `Authorization: Bearer <token>` from `MLFLOW_TRACKING_TOKEN`.
    Bearer(Secret),
    /// HTTP Basic from `MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD`.
    Basic { username: Secret, password: Secret },
}

impl Credentials {
    /// `MLFLOW_TRACKING_TOKEN` wins over username/password; empty variables count as unset.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(t) = var("MLFLOW_TRACKING_TOKEN") {
            return Credentials::Bearer(Secret(t));
        }
        match (
            var("MLFLOW_TRACKING_USERNAME"),
            var("MLFLOW_TRACKING_PASSWORD"),
        ) {
            (Some(u), p) => Credentials::Basic {
                username: Secret(u),
                password: Secret(p.unwrap_or_default()),
            },
            _ => Credentials::None,
        }
    }

    fn apply(&self, rb: RequestBuilder) -> RequestBuilder {
        match self {
            Credentials::None => rb,
            Credentials::Bearer(t) => rb.bearer_auth(t.expose()),
            Credentials::Basic { username, password } => {
                rb.basic_auth(username.expose(), Some(password.expose()))
            }
        }
    }
}

/// A file waiting to be uploaded, and where it goes under the run's artifact root.
#[derive(Debug, Clone)]
struct PendingArtifact {
    file: PathBuf,
    dest: Vec<String>,
}

/// What this client knows about a run it started: everything logged (to save a full local
/// copy if the server never comes back) and what has not reached the server yet.
#[derive(Debug)]
struct RunState {
    experiment: String,
    run_name: String,
    start_time: i64,
    /// `<exp>/<run>/artifacts` under the artifact proxy; None when the server does not
    /// proxy artifacts.
    artifact_root: Option<String>,
    artifact_uri: String,
    all_tags: Vec<KeyValue>,
    all_params: Vec<KeyValue>,
    all_metrics: Vec<Metric>,
    all_artifacts: Vec<(PathBuf, Option<String>)>,
    pending_params: VecDeque<KeyValue>,
    pending_tags: VecDeque<KeyValue>,
    pending_metrics: VecDeque<Metric>,
    pending_artifacts: VecDeque<PendingArtifact>,
    /// Set while the server is unreachable: when the last attempt failed, and why.
    offline: Option<(Instant, String)>,
}

impl RunState {
    fn pending_summary(&self) -> String {
        let mut parts = Vec::new();
        let mut add = |n: usize, what: &str| {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        };
        add(self.pending_params.len(), "param(s)");
        add(self.pending_tags.len(), "tag(s)");
        add(self.pending_metrics.len(), "metric value(s)");
        add(self.pending_artifacts.len(), "artifact file(s)");
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join(", ")
        }
    }

    fn has_pending(&self) -> bool {
        !(self.pending_params.is_empty()
            && self.pending_tags.is_empty()
            && self.pending_metrics.is_empty()
            && self.pending_artifacts.is_empty())
    }
}

/// How many leading params, tags and metrics fit in one `runs/log-batch` request.
pub(crate) fn next_batch(
    params: &VecDeque<KeyValue>,
    tags: &VecDeque<KeyValue>,
    metrics: &VecDeque<Metric>,
) -> (usize, usize, usize) {
    let (mut np, mut nt, mut nm, mut bytes) = (0usize, 0usize, 0usize, 64usize);
    let room = |n: usize, bytes: usize, add: usize| {
        n < MAX_ENTITIES_PER_BATCH && bytes + add <= MAX_BATCH_BYTES
    };
    for (k, v) in params {
        let add = k.len() + v.len() + 32;
        if np >= MAX_PARAMS_PER_BATCH || !room(np, bytes, add) {
            break;
        }
        np += 1;
        bytes += add;
    }
    for (k, v) in tags {
        let add = k.len() + v.len() + 32;
        if nt >= MAX_TAGS_PER_BATCH || !room(np + nt, bytes, add) {
            break;
        }
        nt += 1;
        bytes += add;
    }
    for m in metrics {
        let add = m.key.len() + 96;
        if nm >= MAX_METRICS_PER_BATCH || !room(np + nt + nm, bytes, add) {
            break;
        }
        nm += 1;
        bytes += add;
    }
    (np, nt, nm)
}

fn truncate_chars(s: &str, max: usize) -> Option<String> {
    s.char_indices().nth(max).map(|(i, _)| s[..i].to_owned())
}

fn check_key(kind: &str, key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(TrackError::Invalid(format!("empty {kind} key")));
    }
    if key.chars().count() > MAX_KEY_CHARS {
        return Err(TrackError::Invalid(format!(
            "{kind} key {:?}... is longer than MLflow's {MAX_KEY_CHARS} characters",
            truncate_chars(key, 40).unwrap_or_default()
        )));
    }
    Ok(())
}

fn kv_json(kv: &KeyValue) -> Value {
    json!({"key": kv.0, "value": kv.1})
}

/// Percent-decoding for the user-info part of a URI.
fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Ways one request can fail, before deciding whether to retry.
enum Failure {
    /// Worth retrying: no connection, timeout, 429, 5xx.
    Transient {
        detail: String,
        mlflow: Option<(u16, String, String)>,
    },
    /// The server refused the request; retrying will not help.
    Rejected {
        status: u16,
        error_code: String,
        message: String,
    },
}

/// An MLflow tracking server.
pub struct MlflowTracker {
    base: Url,
    credentials: Credentials,
    client: Client,
    retry: RetryPolicy,
    rescue_dir: Option<PathBuf>,
    experiments: BTreeMap<String, String>,
    runs: BTreeMap<String, RunState>,
    notices: Vec<String>,
}

impl std::fmt::Debug for MlflowTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlflowTracker")
            .field("base", &self.base.as_str())
            .field("credentials", &self.credentials)
            .field("retry", &self.retry)
            .field("rescue_dir", &self.rescue_dir)
            .field("runs", &self.runs.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl MlflowTracker {
    /// A client for the server at `uri` (`http://host:port`, optionally with a path prefix).
    /// User info in the URI (`http://user:pass@host`) becomes Basic credentials when
    /// `credentials` is `None`, and is removed from the URL so it can never be printed.
    pub fn new(uri: &str, credentials: Credentials, retry: RetryPolicy) -> Result<Self> {
        let mut base = Url::parse(uri.trim())
            .map_err(|e| TrackError::Invalid(format!("tracking URI: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(TrackError::Invalid(format!(
                "tracking URI scheme {:?} is not supported: use http:// or https://",
                base.scheme()
            )));
        }
        let mut credentials = credentials;
        if !base.username().is_empty() {
            if credentials == Credentials::None {
                credentials = Credentials::Basic {
                    username: Secret(percent_decode(base.username())),
                    password: Secret(percent_decode(base.password().unwrap_or(""))),
                };
            }
            let _ = base.set_username("");
            let _ = base.set_password(None);
        }
        base.set_query(None);
        base.set_fragment(None);
        let insecure = std::env::var("MLFLOW_TRACKING_INSECURE_TLS")
            .is_ok_and(|v| v.eq_ignore_ascii_case("true"));
        let client = Client::builder()
            .connect_timeout(retry.connect_timeout)
            .timeout(Duration::from_secs(120))
            .danger_accept_invalid_certs(insecure)
            .user_agent(concat!("lotl-track/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TrackError::Invalid(format!("HTTP client: {e}")))?;
        Ok(MlflowTracker {
            base,
            credentials,
            client,
            retry,
            rescue_dir: None,
            experiments: BTreeMap::new(),
            runs: BTreeMap::new(),
            notices: Vec::new(),
        })
    }

    /// A client with credentials from the environment (see [`Credentials::from_env`]).
    pub fn from_env(uri: &str) -> Result<Self> {
        Self::new(uri, Credentials::from_env(), RetryPolicy::default())
    }

    /// Where to save a full copy of a run whose data could not be delivered.
    pub fn with_rescue_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.rescue_dir = Some(dir.into());
        self
    }

    /// The server's URL, without credentials.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut u = self.base.clone();
        if let Ok(mut s) = u.path_segments_mut() {
            s.pop_if_empty().extend(segments);
        }
        u
    }

    fn api(&self, path: &str) -> Url {
        let mut segs = vec!["api", "2.0", "mlflow"];
        segs.extend(path.split('/'));
        self.url(&segs)
    }

    /// One attempt.
    fn attempt(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Value>,
        file: Option<&Path>,
    ) -> std::result::Result<Value, Failure> {
        let mut rb = self
            .credentials
            .apply(self.client.request(method.clone(), url.clone()));
        if let Some(b) = body {
            rb = rb.json(b).timeout(Duration::from_secs(60));
        }
        if let Some(p) = file {
            let f = std::fs::File::open(p).map_err(|e| Failure::Rejected {
                status: 0,
                error_code: "LOCAL_FILE".into(),
                message: format!("{}: {e}", p.display()),
            })?;
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            rb = rb
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(reqwest::blocking::Body::sized(f, len))
                .timeout(Duration::from_secs(600));
        }
        let resp = rb.send().map_err(|e| Failure::Transient {
            detail: error_chain(&e),
            mlflow: None,
        })?;
        let status = resp.status();
        let text = resp.text().unwrap_or_default();
        if status.is_success() {
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text).map_err(|e| Failure::Rejected {
                status: status.as_u16(),
                error_code: "BAD_RESPONSE".into(),
                message: format!("answer is not JSON ({e}): {}", snippet(&text)),
            });
        }
        let parsed: Option<(String, String)> =
            serde_json::from_str::<Value>(&text).ok().and_then(|v| {
                let code = v.get("error_code")?.as_str()?.to_owned();
                let msg = v
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                Some((code, msg))
            });
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Failure::Transient {
                detail: match &parsed {
                    Some((c, m)) => format!("HTTP {} {c}: {m}", status.as_u16()),
                    None => format!("HTTP {} {}", status.as_u16(), snippet(&text)),
                },
                mlflow: parsed.map(|(c, m)| (status.as_u16(), c, m)),
            });
        }
        let (error_code, message) = parsed.unwrap_or_else(|| {
            (
                status
                    .canonical_reason()
                    .unwrap_or("HTTP_ERROR")
                    .to_uppercase()
                    .replace(' ', "_"),
                snippet(&text),
            )
        });
        Err(Failure::Rejected {
            status: status.as_u16(),
            error_code,
            message,
        })
    }

    /// Sends a request, retrying transient failures up to `attempts` times.
    fn call(
        &self,
        endpoint: &str,
        method: Method,
        url: Url,
        body: Option<&Value>,
        file: Option<&Path>,
        attempts: u32,
    ) -> Result<Value> {
        let attempts = attempts.max(1);
        let mut last = String::new();
        let mut last_mlflow = None;
        for n in 1..=attempts {
            match self.attempt(&method, &url, body, file) {
                Ok(v) => return Ok(v),
                Err(Failure::Rejected {
                    status,
                    error_code,
                    message,
                }) => {
                    return Err(TrackError::Mlflow {
                        endpoint: endpoint.to_owned(),
                        status,
                        error_code,
                        message,
                    })
                }
                Err(Failure::Transient { detail, mlflow }) => {
                    last = detail;
                    last_mlflow = mlflow;
                    if n < attempts {
                        std::thread::sleep(self.retry.backoff(n));
                    }
                }
            }
        }
        // A server that answers every try with its own 5xx error is up but failing this
        // request: show its message rather than calling it unreachable.
        if let Some((status, error_code, message)) = last_mlflow {
            return Err(TrackError::Mlflow {
                endpoint: endpoint.to_owned(),
                status,
                error_code,
                message,
            });
        }
        Err(TrackError::Unreachable {
            endpoint: endpoint.to_owned(),
            attempts,
            detail: last,
        })
    }

    fn get(&self, path: &str, query: &[(&str, &str)], attempts: u32) -> Result<Value> {
        let mut url = self.api(path);
        url.query_pairs_mut().extend_pairs(query);
        self.call(path, Method::GET, url, None, None, attempts)
    }

    fn post(&self, path: &str, body: &Value, attempts: u32) -> Result<Value> {
        self.call(
            path,
            Method::POST,
            self.api(path),
            Some(body),
            None,
            attempts,
        )
    }

    fn experiment_id(&mut self, name: &str) -> Result<String> {
        if let Some(id) = self.experiments.get(name) {
            return Ok(id.clone());
        }
        let a = self.retry.max_attempts;
        let by_name = |me: &Self| -> Result<Option<String>> {
            match me.get("experiments/get-by-name", &[("experiment_name", name)], a) {
                Ok(v) => Ok(v["experiment"]["experiment_id"].as_str().map(str::to_owned)),
                Err(TrackError::Mlflow { error_code, .. })
                    if error_code == "RESOURCE_DOES_NOT_EXIST" =>
                {
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        };
        let id = match by_name(self)? {
            Some(id) => id,
            None => match self.post("experiments/create", &json!({ "name": name }), a) {
                Ok(v) => v["experiment_id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad_answer("experiments/create", &v))?,
                // Created by someone else between our two calls.
                Err(TrackError::Mlflow { error_code, .. })
                    if error_code == "RESOURCE_ALREADY_EXISTS" =>
                {
                    by_name(self)?.ok_or_else(|| {
                        TrackError::Invalid(format!(
                            "experiment {name:?} exists but cannot be read"
                        ))
                    })?
                }
                Err(e) => return Err(e),
            },
        };
        self.experiments.insert(name.to_owned(), id.clone());
        Ok(id)
    }

    fn state(&mut self, run: &RunHandle) -> Result<&mut RunState> {
        self.runs.get_mut(&run.run_id).ok_or_else(|| {
            TrackError::Invalid(format!(
                "run {} was not started by this MLflow client",
                run.run_id
            ))
        })
    }

    /// Sends what is pending. Not `force`d (during the run): while the server is known to
    /// be down, only one attempt per probe interval, and unreachability is buffered, not an
    /// error. `force`d (at the end): full retries, and unreachability is an error.
    fn flush(&mut self, run_id: &str, force: bool) -> Result<()> {
        let Some(st) = self.runs.get(run_id) else {
            return Ok(());
        };
        if !st.has_pending() {
            return Ok(());
        }
        let was_offline = st.offline.is_some();
        if let Some((since, _)) = &st.offline {
            if !force && since.elapsed() < self.retry.offline_probe_interval {
                return Ok(());
            }
        }
        let attempts = if was_offline && !force {
            1
        } else {
            self.retry.max_attempts
        };
        let result = self.send_pending(run_id, attempts);
        let Some(st) = self.runs.get_mut(run_id) else {
            return result;
        };
        match result {
            Err(TrackError::Unreachable {
                endpoint,
                attempts,
                detail,
            }) => {
                if !was_offline {
                    self.notices.push(format!(
                        "MLflow server at {} unreachable ({detail}); keeping {} in memory and retrying every {}s; the run goes on",
                        self.base,
                        st.pending_summary(),
                        self.retry.offline_probe_interval.as_secs()
                    ));
                }
                st.offline = Some((Instant::now(), detail.clone()));
                if force {
                    Err(TrackError::Unreachable {
                        endpoint,
                        attempts,
                        detail,
                    })
                } else {
                    Ok(())
                }
            }
            other => {
                if was_offline && !st.has_pending() {
                    st.offline = None;
                    self.notices.push(format!(
                        "MLflow server at {} reachable again; buffered data delivered",
                        self.base
                    ));
                }
                other
            }
        }
    }

    fn send_pending(&mut self, run_id: &str, attempts: u32) -> Result<()> {
        loop {
            let Some(st) = self.runs.get(run_id) else {
                return Ok(());
            };
            let (np, nt, nm) =
                next_batch(&st.pending_params, &st.pending_tags, &st.pending_metrics);
            if np + nt + nm == 0 {
                break;
            }
            let body = json!({
                "run_id": run_id,
                "params": st.pending_params.iter().take(np).map(kv_json).collect::<Vec<_>>(),
                "tags": st.pending_tags.iter().take(nt).map(kv_json).collect::<Vec<_>>(),
                "metrics": st.pending_metrics.iter().take(nm).map(|m| json!({
                    "key": m.key,
                    "value": metric_value_json(m.value),
                    "step": m.step,
                    "timestamp": m.timestamp,
                })).collect::<Vec<_>>(),
            });
            let r = self.post("runs/log-batch", &body, attempts);
            if let Err(e) = &r {
                if e.is_unreachable() {
                    return r.map(|_| ());
                }
            }
            // Delivered, or rejected (sending it again would be rejected again).
            if let Some(st) = self.runs.get_mut(run_id) {
                st.pending_params.drain(..np);
                st.pending_tags.drain(..nt);
                st.pending_metrics.drain(..nm);
            }
            r?;
        }
        loop {
            let Some(st) = self.runs.get(run_id) else {
                return Ok(());
            };
            let Some(next) = st.pending_artifacts.front().cloned() else {
                break;
            };
            let Some(root) = st.artifact_root.clone() else {
                let uri = st.artifact_uri.clone();
                if let Some(st) = self.runs.get_mut(run_id) {
                    st.pending_artifacts.clear();
                }
                return Err(TrackError::Invalid(format!(
                    "the server stores this run's artifacts at {uri:?}, which it does not proxy; start it with --artifacts-destination (and without --no-serve-artifacts)"
                )));
            };
            let mut segs: Vec<&str> = vec!["api", "2.0", "mlflow-artifacts", "artifacts"];
            segs.extend(root.split('/').filter(|s| !s.is_empty()));
            segs.extend(next.dest.iter().map(String::as_str));
            let url = self.url(&segs);
            let r = self.call(
                "mlflow-artifacts/artifacts",
                Method::PUT,
                url,
                None,
                Some(&next.file),
                attempts,
            );
            if let Err(e) = &r {
                if e.is_unreachable() {
                    return r.map(|_| ());
                }
            }
            if let Some(st) = self.runs.get_mut(run_id) {
                st.pending_artifacts.pop_front();
            }
            r?;
        }
        Ok(())
    }

    /// Saves everything logged for the run to the local store, under the same id.
    fn rescue(&self, run_id: &str, status: RunStatus) -> Result<PathBuf> {
        let dir = self.rescue_dir.clone().ok_or_else(|| {
            TrackError::Invalid("no local directory configured for a copy".into())
        })?;
        let st = self
            .runs
            .get(run_id)
            .ok_or_else(|| TrackError::Invalid(format!("unknown run {run_id}")))?;
        let mut store = LocalStore::new(dir);
        let mut tags = st.all_tags.clone();
        tags.push(("lotl.mlflow.tracking_uri".into(), self.base.to_string()));
        tags.push(("lotl.mlflow.undelivered".into(), st.pending_summary()));
        let h = store.start_run_with(run_id, st.start_time, &st.experiment, &st.run_name, &tags)?;
        // Params may have been truncated for MLflow; the journal has full values, and a
        // repeated key with the same value is accepted.
        store.log_params(&h, &st.all_params)?;
        store.log_metrics(&h, &st.all_metrics)?;
        for (path, sub) in &st.all_artifacts {
            store.log_artifact(&h, path, sub.as_deref())?;
        }
        store.end_run(&h, status)?;
        Ok(PathBuf::from(h.location))
    }
}

fn metric_value_json(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else if v.is_nan() {
        json!("NaN")
    } else if v > 0.0 {
        json!("Infinity")
    } else {
        json!("-Infinity")
    }
}

fn snippet(text: &str) -> String {
    let t = text.trim();
    truncate_chars(t, 300)
        .map(|s| s + "...")
        .unwrap_or_else(|| t.to_owned())
}

fn bad_answer(endpoint: &str, v: &Value) -> TrackError {
    TrackError::Mlflow {
        endpoint: endpoint.to_owned(),
        status: 200,
        error_code: "BAD_RESPONSE".into(),
        message: format!("unexpected answer: {}", snippet(&v.to_string())),
    }
}

/// reqwest's top-level message is "error sending request"; the cause (connection refused,
/// timed out) is further down the chain.
fn error_chain(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// `mlflow-artifacts:/1/<run>/artifacts` or `mlflow-artifacts://host:port/1/<run>/artifacts`
/// → `1/<run>/artifacts`.
fn proxied_artifact_root(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("mlflow-artifacts:")?;
    let path = match rest.strip_prefix("//") {
        Some(auth_and_path) => auth_and_path.find('/').map(|i| &auth_and_path[i..])?,
        None => rest,
    };
    Some(path.trim_matches('/').to_owned())
}

impl Tracker for MlflowTracker {
    fn start_run(
        &mut self,
        experiment: &str,
        run_name: &str,
        tags: &[KeyValue],
    ) -> Result<RunHandle> {
        if experiment.is_empty() {
            return Err(TrackError::Invalid("empty experiment name".into()));
        }
        for (k, _) in tags {
            check_key("tag", k)?;
        }
        let exp_id = self.experiment_id(experiment)?;
        let start_time = now_ms();
        let mut sent_tags: Vec<KeyValue> = Vec::new();
        for (k, v) in tags {
            sent_tags.push((k.clone(), self.fit(k, v, MAX_TAG_VALUE_CHARS, "tag")));
        }
        let later = sent_tags.split_off(sent_tags.len().min(MAX_TAGS_PER_BATCH));
        let body = json!({
            "experiment_id": exp_id,
            "run_name": run_name,
            "start_time": start_time,
            "tags": sent_tags.iter().map(kv_json).collect::<Vec<_>>(),
        });
        let v = self.post("runs/create", &body, self.retry.max_attempts)?;
        let info = &v["run"]["info"];
        let run_id = info["run_id"]
            .as_str()
            .or_else(|| info["run_uuid"].as_str())
            .ok_or_else(|| bad_answer("runs/create", &v))?
            .to_owned();
        let artifact_uri = info["artifact_uri"].as_str().unwrap_or("").to_owned();
        let state = RunState {
            experiment: experiment.to_owned(),
            run_name: run_name.to_owned(),
            start_time,
            artifact_root: proxied_artifact_root(&artifact_uri),
            artifact_uri,
            all_tags: tags.to_vec(),
            all_params: Vec::new(),
            all_metrics: Vec::new(),
            all_artifacts: Vec::new(),
            pending_params: VecDeque::new(),
            pending_tags: later.into(),
            pending_metrics: VecDeque::new(),
            pending_artifacts: VecDeque::new(),
            offline: None,
        };
        self.runs.insert(run_id.clone(), state);
        self.flush(&run_id, false)?;
        let location = self
            .url(&[])
            .join(&format!("#/experiments/{exp_id}/runs/{run_id}"))
            .map(|u| u.to_string())
            .unwrap_or_else(|_| format!("{}#/experiments/{exp_id}/runs/{run_id}", self.base));
        Ok(RunHandle {
            run_id,
            experiment_id: exp_id,
            backend: Backend::Mlflow,
            location,
        })
    }

    fn log_params(&mut self, run: &RunHandle, params: &[KeyValue]) -> Result<()> {
        for (k, _) in params {
            check_key("param", k)?;
        }
        let fitted: Vec<KeyValue> = params
            .iter()
            .map(|(k, v)| (k.clone(), self.fit(k, v, MAX_PARAM_VALUE_CHARS, "param")))
            .collect();
        let st = self.state(run)?;
        st.all_params.extend(params.iter().cloned());
        st.pending_params.extend(fitted);
        self.flush(&run.run_id, false)
    }

    fn set_tags(&mut self, run: &RunHandle, tags: &[KeyValue]) -> Result<()> {
        for (k, _) in tags {
            check_key("tag", k)?;
        }
        let fitted: Vec<KeyValue> = tags
            .iter()
            .map(|(k, v)| (k.clone(), self.fit(k, v, MAX_TAG_VALUE_CHARS, "tag")))
            .collect();
        let st = self.state(run)?;
        st.all_tags.extend(tags.iter().cloned());
        st.pending_tags.extend(fitted);
        self.flush(&run.run_id, false)
    }

    fn log_metrics(&mut self, run: &RunHandle, metrics: &[Metric]) -> Result<()> {
        for m in metrics {
            check_key("metric", &m.key)?;
        }
        let st = self.state(run)?;
        st.all_metrics.extend(metrics.iter().cloned());
        st.pending_metrics.extend(metrics.iter().cloned());
        self.flush(&run.run_id, false)
    }

    fn log_artifact(
        &mut self,
        run: &RunHandle,
        local_path: &Path,
        artifact_path: Option<&str>,
    ) -> Result<()> {
        let base = check_artifact_path(artifact_path.unwrap_or(""))?;
        let meta = std::fs::metadata(local_path).map_err(|e| TrackError::io(local_path, e))?;
        let mut files = Vec::new();
        if meta.is_file() {
            let name = local_path.file_name().ok_or_else(|| {
                TrackError::Invalid(format!("{} has no file name", local_path.display()))
            })?;
            let mut dest = base.clone();
            dest.push(name.to_string_lossy().into_owned());
            files.push(PendingArtifact {
                file: local_path.to_owned(),
                dest,
            });
        } else {
            for entry in walkdir::WalkDir::new(local_path).sort_by_file_name() {
                let entry = entry.map_err(|e| {
                    TrackError::io(local_path, std::io::Error::other(e.to_string()))
                })?;
                if !entry.file_type().is_file() {
                    continue;
                }
                let rel = entry
                    .path()
                    .strip_prefix(local_path)
                    .unwrap_or(entry.path());
                let mut dest = base.clone();
                dest.extend(
                    rel.components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned()),
                );
                files.push(PendingArtifact {
                    file: entry.path().to_owned(),
                    dest,
                });
            }
        }
        let st = self.state(run)?;
        st.all_artifacts
            .push((local_path.to_owned(), artifact_path.map(str::to_owned)));
        st.pending_artifacts.extend(files);
        self.flush(&run.run_id, false)
    }

    fn end_run(&mut self, run: &RunHandle, status: RunStatus) -> Result<()> {
        self.state(run)?;
        let flushed = self.flush(&run.run_id, true);
        let updated = if flushed.as_ref().is_err_and(TrackError::is_unreachable) {
            // No point trying the status update against a server just found unreachable.
            Err(TrackError::Unreachable {
                endpoint: "runs/update".into(),
                attempts: 0,
                detail: "skipped: server unreachable".into(),
            })
        } else {
            let body =
                json!({"run_id": run.run_id, "status": status.as_str(), "end_time": now_ms()});
            self.post("runs/update", &body, self.retry.max_attempts)
                .map(|_| ())
        };
        let result = match (flushed, updated) {
            (Ok(()), Ok(())) => Ok(()),
            (flushed, updated) => {
                let unreachable = flushed
                    .as_ref()
                    .err()
                    .filter(|e| e.is_unreachable())
                    .or(updated.as_ref().err().filter(|e| e.is_unreachable()));
                match unreachable {
                    Some(cause) => {
                        let st = self.runs.get(&run.run_id);
                        let mut undelivered = st.map(RunState::pending_summary).unwrap_or_default();
                        if undelivered == "nothing" {
                            undelivered = format!("the final status {status}");
                        } else {
                            undelivered.push_str(&format!(" and the final status {status}"));
                        }
                        let cause = cause.to_string();
                        let rescued = self.rescue(&run.run_id, status);
                        let cause = match &rescued {
                            Ok(_) => cause,
                            Err(e) => format!("{cause}; the local copy also failed: {e}"),
                        };
                        Err(TrackError::Undelivered {
                            run_id: run.run_id.clone(),
                            undelivered,
                            cause,
                            rescued: rescued.ok(),
                        })
                    }
                    None => flushed.and(updated),
                }
            }
        };
        self.runs.remove(&run.run_id);
        result
    }

    fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }
}

impl MlflowTracker {
    /// Cuts a value to MLflow's limit (the server would reject the whole batch), with a
    /// notice. The local copy and the journal keep the full value.
    fn fit(&mut self, key: &str, value: &str, max: usize, kind: &str) -> String {
        match truncate_chars(value, max) {
            Some(t) => {
                self.notices.push(format!(
                    "{kind} {key:?} is {} characters; MLflow keeps at most {max}, so it was truncated",
                    value.chars().count()
                ));
                t
            }
            None => value.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(n: usize, vlen: usize) -> VecDeque<KeyValue> {
        (0..n)
            .map(|i| (format!("k{i}"), "v".repeat(vlen)))
            .collect()
    }

    fn ms(n: usize) -> VecDeque<Metric> {
        (0..n)
            .map(|i| Metric::new("loss", i as f64, i as i64))
            .collect()
    }

    #[test]
    fn batches_respect_mlflow_limits() {
        assert_eq!(next_batch(&kv(250, 1), &kv(0, 1), &ms(0)), (100, 0, 0));
        assert_eq!(next_batch(&kv(0, 1), &kv(150, 1), &ms(0)), (0, 100, 0));
        assert_eq!(next_batch(&kv(0, 1), &kv(0, 1), &ms(2500)), (0, 0, 1000));
        // 1000 entities in total across kinds.
        assert_eq!(
            next_batch(&kv(100, 1), &kv(100, 1), &ms(2000)),
            (100, 100, 800)
        );
        // Large values: the 1 MB request limit binds before the count limit.
        let (np, _, _) = next_batch(&kv(100, 6000), &kv(0, 1), &ms(0));
        assert_eq!(np, 100);
        let (np, nt, _) = next_batch(&kv(100, 6000), &kv(100, 8000), &ms(0));
        assert_eq!(np, 100);
        assert!(nt < 100 && nt > 0, "tags {nt}");
        let bytes = 100 * (6000 + 34) + nt * (8000 + 34);
        assert!(bytes <= MAX_BATCH_BYTES);
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let c = Credentials::Basic {
            username: Secret::new("alice"),
            password: Secret::new("hunter2"),
        };
        let d = format!("{c:?}");
        assert!(!d.contains("alice") && !d.contains("hunter2"), "{d}");
        let t = MlflowTracker::new(
            "http://bob:s3cr%21t@127.0.0.1:5000/",
            Credentials::None,
            RetryPolicy::default(),
        );
        let t = match t {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        let d = format!("{t:?}");
        assert!(!d.contains("bob") && !d.contains("s3cr"), "{d}");
        assert_eq!(t.base_url(), "http://127.0.0.1:5000/");
        assert_eq!(
            t.credentials,
            Credentials::Basic {
                username: Secret::new("bob"),
                password: Secret::new("s3cr!t")
            }
        );
        let tok = MlflowTracker::new(
            "https://h/",
            Credentials::Bearer(Secret::new("tok-123")),
            RetryPolicy::default(),
        );
        let d = format!("{:?}", tok.map_err(|e| e.to_string()));
        assert!(!d.contains("tok-123"), "{d}");
    }

    #[test]
    fn artifact_root_from_uri() {
        assert_eq!(
            proxied_artifact_root("mlflow-artifacts:/1/abc/artifacts").as_deref(),
            Some("1/abc/artifacts")
        );
        assert_eq!(
            proxied_artifact_root("mlflow-artifacts://host:5000/1/abc/artifacts").as_deref(),
            Some("1/abc/artifacts")
        );
        assert_eq!(proxied_artifact_root("s3://bucket/1/abc/artifacts"), None);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1), Duration::from_millis(250));
        assert_eq!(p.backoff(2), Duration::from_millis(500));
        assert_eq!(p.backoff(3), Duration::from_secs(1));
        assert_eq!(p.backoff(10), Duration::from_secs(8));
        assert_eq!(p.backoff(100), Duration::from_secs(8));
    }

    #[test]
    fn unsupported_schemes_are_refused() {
        for uri in ["file:///tmp/mlruns", "databricks", "ftp://x/"] {
            assert!(
                MlflowTracker::new(uri, Credentials::None, RetryPolicy::default()).is_err(),
                "{uri}"
            );
        }
    }

    #[test]
    fn long_values_are_truncated_on_char_boundaries() {
        assert_eq!(truncate_chars("héllo", 2).as_deref(), Some("hé"));
        assert_eq!(truncate_chars("abc", 3), None);
    }
}
