//! Job definitions (which series a bucket is split into, and how they are modelled) and the
//! checked configuration of the whole model.

use crate::error::{Error, Result};
use crate::scored::ScoredEvent;
use lotl_events::ProcessEvent;
use serde::{Deserialize, Serialize};

/// An event field a job splits or partitions on (ECS names in files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Field {
    #[serde(rename = "process.parent.name")]
    ParentName,
    #[serde(rename = "host.name")]
    HostName,
    #[serde(rename = "user.name")]
    UserName,
    #[serde(rename = "process.name")]
    ProcessName,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::ParentName => "process.parent.name",
            Field::HostName => "host.name",
            Field::UserName => "user.name",
            Field::ProcessName => "process.name",
        }
    }

    /// The raw field value; `None` (or empty) means the event has no series in this job,
    /// as Elastic's detectors ignore documents without their by/partition field.
    pub fn value(self, e: &ProcessEvent) -> Option<&str> {
        let v = match self {
            Field::ParentName => e.parent_name.as_deref(),
            Field::HostName => Some(e.host_name.as_str()),
            Field::UserName => e.user_name.as_deref(),
            Field::ProcessName => e.process_name.as_deref(),
        }?;
        let v = v.trim();
        (!v.is_empty()).then_some(v)
    }

    /// The series key: the value lower-cased, because Windows names are case-insensitive
    /// and `CMD.EXE`/`cmd.exe` must be one series.
    pub fn key(self, e: &ProcessEvent) -> Option<String> {
        self.value(e).map(str::to_lowercase)
    }
}

/// How a job models its series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "function", rename_all = "snake_case")]
pub enum Detector {
    /// SUM of prediction probability per bucket, one series per value of `by`; only
    /// unusually large sums are anomalous.
    HighSum { by: Field },
    /// How rare each value of `by` is within its `partition`.
    Rare { by: Field, partition: Field },
}

impl Detector {
    pub fn function(&self) -> &'static str {
        match self {
            Detector::HighSum { .. } => "high_sum",
            Detector::Rare { .. } => "rare",
        }
    }
}

/// One anomaly job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    pub name: String,
    #[serde(flatten)]
    pub detector: Detector,
}

impl JobSpec {
    /// Elastic's six ProblemChild jobs, with the `problem_child_` prefix dropped.
    pub fn elastic_defaults() -> Vec<JobSpec> {
        let hs = |name: &str, by| JobSpec {
            name: name.to_owned(),
            detector: Detector::HighSum { by },
        };
        let rare = |name: &str, partition| JobSpec {
            name: name.to_owned(),
            detector: Detector::Rare {
                by: Field::ProcessName,
                partition,
            },
        };
        vec![
            hs("high_sum_by_parent", Field::ParentName),
            hs("high_sum_by_host", Field::HostName),
            hs("high_sum_by_user", Field::UserName),
            rare("rare_process_by_parent", Field::ParentName),
            rare("rare_process_by_host", Field::HostName),
            rare("rare_process_by_user", Field::UserName),
        ]
    }
}

/// Which events the jobs see (Elastic's datafeed query).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Datafeed {
    /// Keep only events the classifier calls malicious (`prediction == 1`).
    pub require_prediction: bool,
    /// And whose probability is at least this (Elastic 2026: 0.5).
    pub min_probability: f32,
    /// Process names never counted: the monitoring agents' own processes (compared
    /// case-insensitively, with and without `.exe`).
    pub excluded_process_names: Vec<String>,
}

impl Default for Datafeed {
    fn default() -> Self {
        let agents = [
            "elastic-agent",
            "elastic-endpoint",
            "metricbeat",
            "filebeat",
            "packetbeat",
            "winlogbeat",
        ];
        Datafeed {
            require_prediction: true,
            min_probability: 0.5,
            excluded_process_names: agents
                .iter()
                .flat_map(|a| [a.to_string(), format!("{a}.exe")])
                .collect(),
        }
    }
}

impl Datafeed {
    /// Whether the jobs see this event.
    pub fn accepts(&self, e: &ScoredEvent) -> bool {
        self.accepts_verdict(e.event.process_name.as_deref(), e.prediction, e.probability)
    }

    /// [`Datafeed::accepts`] before the event and its verdict are put together.
    pub fn accepts_verdict(
        &self,
        process_name: Option<&str>,
        prediction: u8,
        probability: f32,
    ) -> bool {
        if self.require_prediction && prediction != 1 {
            return false;
        }
        if probability.is_nan() || probability < self.min_probability {
            return false;
        }
        match process_name {
            Some(name) => !self
                .excluded_process_names
                .iter()
                .any(|x| x.eq_ignore_ascii_case(name.trim())),
            None => true,
        }
    }
}

/// When time-of-day effects are used, and how strongly they are shrunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Seasonality {
    /// Days of history before an hour-of-day factor is applied.
    pub min_days_hour_of_day: f64,
    /// Days of history before an hour-of-week factor (day-of-week × hour) is applied.
    pub min_days_hour_of_week: f64,
    /// Pseudo series-buckets pulling each population slot's rate towards the coarser rate
    /// (hour of week → hour of day → overall).
    pub slot_prior_strength: f64,
    /// Pseudo buckets pulling a series' own hour-of-day rate towards its overall rate.
    pub series_slot_prior_buckets: f64,
}

impl Default for Seasonality {
    fn default() -> Self {
        Seasonality {
            min_days_hour_of_day: 3.0,
            min_days_hour_of_week: 14.0,
            slot_prior_strength: 20.0,
            series_slot_prior_buckets: 8.0,
        }
    }
}

/// Model settings as read from a file; check them into [`ClusterParams`] once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Bucket length in seconds (Elastic: 15 minutes).
    pub bucket_span_secs: u32,
    pub datafeed: Datafeed,
    pub jobs: Vec<JobSpec>,
    /// Buckets of pseudo-history pulling a series' non-empty-bucket rate towards the
    /// population's.
    pub rate_prior_buckets: f64,
    /// Pseudo-observations pulling a series' typical (log) sum towards the population's.
    pub size_prior_strength: f64,
    /// Floor of the predictive scale of log sums: sums are near-discrete (one child ≈ 0.5–1),
    /// so without it a parent that always has exactly one suspicious child would make two
    /// children look astronomically unlikely.
    pub min_log_scale: f64,
    /// Buckets in the multi-bucket window (Elastic: 12).
    pub multi_bucket_window: u32,
    /// Pseudo partition-buckets pulling a name's frequency in a partition towards its
    /// frequency in the whole population (rare jobs).
    pub rare_prior_strength: f64,
    pub seasonality: Seasonality,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            bucket_span_secs: 900,
            datafeed: Datafeed::default(),
            jobs: JobSpec::elastic_defaults(),
            rate_prior_buckets: 96.0,
            size_prior_strength: 1.0,
            min_log_scale: 0.3,
            multi_bucket_window: 12,
            rare_prior_strength: 10.0,
            seasonality: Seasonality::default(),
        }
    }
}

/// A [`ClusterConfig`] whose values have been checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ClusterParams(ClusterConfig);

impl<'de> Deserialize<'de> for ClusterParams {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        ClusterConfig::deserialize(d)?
            .check()
            .map_err(serde::de::Error::custom)
    }
}

impl std::ops::Deref for ClusterParams {
    type Target = ClusterConfig;
    fn deref(&self) -> &ClusterConfig {
        &self.0
    }
}

impl ClusterParams {
    pub fn bucket_span_ms(&self) -> i64 {
        i64::from(self.0.bucket_span_secs) * 1000
    }
}

impl ClusterConfig {
    pub fn check(self) -> Result<ClusterParams> {
        let bad = |m: String| Err(Error::Config(m));
        if self.bucket_span_secs < 60 || 86_400 % self.bucket_span_secs != 0 {
            return bad(format!(
                "bucket_span_secs = {}: must be at least 60 and divide a day",
                self.bucket_span_secs
            ));
        }
        let p = self.datafeed.min_probability;
        if !(0.0..=1.0).contains(&p) {
            return bad(format!("datafeed.min_probability = {p}: must be in [0, 1]"));
        }
        if self.jobs.is_empty() {
            return bad("no jobs".into());
        }
        let mut names: Vec<&str> = self.jobs.iter().map(|j| j.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return bad(format!("job `{}` defined twice", w[0]));
        }
        if names.iter().any(|n| n.is_empty()) {
            return bad("a job has an empty name".into());
        }
        for (name, v) in [
            ("rate_prior_buckets", self.rate_prior_buckets),
            ("size_prior_strength", self.size_prior_strength),
            ("min_log_scale", self.min_log_scale),
            ("rare_prior_strength", self.rare_prior_strength),
            (
                "seasonality.slot_prior_strength",
                self.seasonality.slot_prior_strength,
            ),
            (
                "seasonality.series_slot_prior_buckets",
                self.seasonality.series_slot_prior_buckets,
            ),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("{name} = {v}: must be a positive number"));
            }
        }
        for (name, v) in [
            (
                "seasonality.min_days_hour_of_day",
                self.seasonality.min_days_hour_of_day,
            ),
            (
                "seasonality.min_days_hour_of_week",
                self.seasonality.min_days_hour_of_week,
            ),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("{name} = {v}: must be a non-negative number"));
            }
        }
        if !(1..=1000).contains(&self.multi_bucket_window) {
            return bad(format!(
                "multi_bucket_window = {}: must be in 1..=1000",
                self.multi_bucket_window
            ));
        }
        Ok(ClusterParams(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_check_and_bad_values_are_named() {
        let p = ClusterConfig::default().check().unwrap();
        assert_eq!(p.bucket_span_ms(), 900_000);
        assert_eq!(p.jobs.len(), 6);
        let e = ClusterConfig {
            bucket_span_secs: 7,
            ..Default::default()
        }
        .check()
        .unwrap_err();
        assert!(e.to_string().contains("bucket_span_secs"));
        let mut c = ClusterConfig::default();
        c.jobs.push(c.jobs[0].clone());
        assert!(c.check().unwrap_err().to_string().contains("twice"));
    }

    #[test]
    fn datafeed_filter_follows_elastic() {
        let df = Datafeed::default();
        let mut e = ScoredEvent {
            prediction: 1,
            probability: 0.7,
            ..Default::default()
        };
        e.event.process_name = Some("rundll32.exe".into());
        assert!(df.accepts(&e));
        e.probability = 0.49;
        assert!(!df.accepts(&e));
        e.probability = 0.9;
        e.prediction = 0;
        assert!(!df.accepts(&e));
        e.prediction = 1;
        for agent in ["Winlogbeat.exe", "elastic-endpoint", "metricbeat.exe"] {
            e.event.process_name = Some(agent.into());
            assert!(!df.accepts(&e), "{agent}");
        }
    }

    #[test]
    fn job_specs_read_from_toml_like_json() {
        let j: JobSpec = serde_json::from_str(
            r#"{"name":"x","function":"rare","by":"process.name","partition":"host.name"}"#,
        )
        .unwrap();
        assert_eq!(
            j.detector,
            Detector::Rare {
                by: Field::ProcessName,
                partition: Field::HostName
            }
        );
    }
}
