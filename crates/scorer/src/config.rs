//! The rule's settings and its exceptions, checked once into [`RuleParams`].

use crate::error::{Error, Result};
use lotl_cluster::ClusterModel;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How the rule runs, as Elastic ships it by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleConfig {
    /// Seconds between executions (Elastic: 15 minutes). Executions happen at multiples of
    /// this since the Unix epoch, so replay and live runs share one schedule.
    pub interval_secs: u32,
    /// Each execution looks at anomalies whose bucket starts within this many seconds
    /// before it (Elastic: `now-45m`).
    pub lookback_secs: u32,
    /// Minimum record score (Elastic: 75).
    pub anomaly_threshold: f64,
    /// Alerts per rule (job) and execution (Elastic: `max_signals` 100). Anomalies left over
    /// are reconsidered by the next execution while still in its look-back.
    pub max_alerts_per_execution: usize,
    /// Seconds a bucket stays open after event time passes its end, for late events.
    pub latency_secs: u32,
    /// Jobs that raise alerts (each is one Elastic rule). Jobs not listed are still modelled.
    pub jobs: Vec<String>,
    /// Child processes kept per anomaly for the alert (highest probability first).
    pub max_children: usize,
    /// Keep learning from the stream (Elastic's jobs do); off scores against a frozen model.
    pub learn: bool,
    pub exceptions: Exceptions,
}

impl Default for RuleConfig {
    fn default() -> Self {
        RuleConfig {
            interval_secs: 900,
            lookback_secs: 2700,
            anomaly_threshold: 75.0,
            max_alerts_per_execution: 100,
            latency_secs: 0,
            jobs: vec!["high_sum_by_parent".to_owned()],
            max_children: 100,
            learn: true,
            exceptions: Exceptions::default(),
        }
    }
}

/// A [`RuleConfig`] checked against a model.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleParams {
    config: RuleConfig,
    /// Per model job: does it raise alerts.
    enabled: Vec<bool>,
}

impl std::ops::Deref for RuleParams {
    type Target = RuleConfig;
    fn deref(&self) -> &RuleConfig {
        &self.config
    }
}

impl RuleParams {
    pub fn config(&self) -> &RuleConfig {
        &self.config
    }
    pub fn enabled(&self, job_index: usize) -> bool {
        self.enabled.get(job_index).copied().unwrap_or(false)
    }
    pub fn interval_ms(&self) -> i64 {
        i64::from(self.config.interval_secs) * 1000
    }
    pub fn lookback_ms(&self) -> i64 {
        i64::from(self.config.lookback_secs) * 1000
    }
    pub fn latency_ms(&self) -> i64 {
        i64::from(self.config.latency_secs) * 1000
    }
}

impl RuleConfig {
    /// Read rule settings from TOML or JSON (by extension; otherwise TOML, then JSON).
    pub fn from_file(path: &Path) -> Result<RuleConfig> {
        read_toml_or_json(path)
    }

    /// Validate against the model whose jobs the rule reads. `jobs = ["all"]` enables all.
    pub fn check(mut self, model: &ClusterModel) -> Result<RuleParams> {
        let bad = |m: String| Err(Error::Config(m));
        if self.interval_secs == 0 {
            return bad("interval_secs must be positive".into());
        }
        if self.lookback_secs < self.interval_secs {
            return bad(format!(
                "lookback_secs ({}) shorter than interval_secs ({}) would skip anomalies",
                self.lookback_secs, self.interval_secs
            ));
        }
        if !(0.0..=100.0).contains(&self.anomaly_threshold) {
            return bad(format!(
                "anomaly_threshold = {}: must be in 0..=100",
                self.anomaly_threshold
            ));
        }
        if self.max_alerts_per_execution == 0 {
            return bad("max_alerts_per_execution must be positive".into());
        }
        if self.max_children == 0 {
            return bad("max_children must be positive".into());
        }
        if self.jobs.iter().any(|j| j == "all") {
            self.jobs = model.job_names().map(str::to_owned).collect();
        }
        let mut enabled = vec![false; model.job_names().count()];
        for j in &self.jobs {
            match model.job_index(j) {
                Some(i) => enabled[i] = true,
                None => {
                    let known: Vec<&str> = model.job_names().collect();
                    return bad(format!(
                        "rule job `{j}` is not in the model (jobs: {})",
                        known.join(", ")
                    ));
                }
            }
        }
        self.exceptions = self.exceptions.normalized();
        Ok(RuleParams {
            config: self,
            enabled,
        })
    }
}

/// Values whose child processes never count towards an alert (compared case-insensitively).
///
/// An exception removes matching children from an anomaly's cluster; the anomaly is
/// suppressed when no child is left. This is stricter than Elastic's "any matching field
/// suppresses the alert": one excepted administrator tool inside a burst must not hide the
/// rest of the burst.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Exceptions {
    /// `process.parent.name` values.
    pub parent_names: Vec<String>,
    /// `process.executable` full paths or `process.name` values.
    pub executables: Vec<String>,
    /// `user.name` values (`DOMAIN\user` also matches the bare user).
    pub users: Vec<String>,
    /// `host.name` values.
    pub hosts: Vec<String>,
    /// Substrings of `process.command_line`.
    pub command_line_substrings: Vec<String>,
}

impl Exceptions {
    /// Read exceptions from TOML or JSON (by extension; otherwise TOML, then JSON).
    pub fn from_file(path: &Path) -> Result<Exceptions> {
        read_toml_or_json::<Exceptions>(path).map(Exceptions::normalized)
    }

    pub fn is_empty(&self) -> bool {
        self.parent_names.is_empty()
            && self.executables.is_empty()
            && self.users.is_empty()
            && self.hosts.is_empty()
            && self.command_line_substrings.is_empty()
    }

    /// Merge another list into this one.
    pub fn extend(&mut self, other: Exceptions) {
        self.parent_names.extend(other.parent_names);
        self.executables.extend(other.executables);
        self.users.extend(other.users);
        self.hosts.extend(other.hosts);
        self.command_line_substrings
            .extend(other.command_line_substrings);
        *self = std::mem::take(self).normalized();
    }

    pub(crate) fn normalized(self) -> Exceptions {
        let norm = |v: Vec<String>| {
            let mut v: Vec<String> = v
                .into_iter()
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect();
            v.sort();
            v.dedup();
            v
        };
        Exceptions {
            parent_names: norm(self.parent_names),
            executables: norm(self.executables),
            users: norm(self.users),
            hosts: norm(self.hosts),
            command_line_substrings: norm(self.command_line_substrings),
        }
    }

    /// Whether a child process is excepted. Values must be normalised (lower-cased, trimmed) first.
    pub fn matches(&self, c: &crate::alert::Child) -> bool {
        let eq = |list: &[String], v: Option<&str>| {
            v.is_some_and(|v| {
                let v = v.trim().to_lowercase();
                list.contains(&v)
            })
        };
        if eq(&self.parent_names, c.process.parent.name.as_deref())
            || eq(&self.executables, c.process.executable.as_deref())
            || eq(&self.executables, c.process.name.as_deref())
            || eq(&self.hosts, Some(c.host.name.as_str()))
        {
            return true;
        }
        if let Some(u) = c.user.name.as_deref() {
            let bare = u.rsplit('\\').next().unwrap_or(u);
            if eq(&self.users, Some(u)) || eq(&self.users, Some(bare)) {
                return true;
            }
        }
        if let Some(cl) = c.process.command_line.as_deref() {
            if !self.command_line_substrings.is_empty() {
                let cl = cl.to_lowercase();
                return self
                    .command_line_substrings
                    .iter()
                    .any(|s| cl.contains(s.as_str()));
            }
        }
        false
    }
}

fn read_toml_or_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let file_err = |message: String| Error::File {
        path: path.to_owned(),
        message,
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("json") => serde_json::from_str(&text).map_err(|e| file_err(e.to_string())),
        Some("toml") => toml::from_str(&text).map_err(|e| file_err(e.to_string())),
        _ => toml::from_str(&text).or_else(|te| {
            serde_json::from_str(&text)
                .map_err(|je| file_err(format!("neither TOML ({te}) nor JSON ({je})")))
        }),
    }
}
