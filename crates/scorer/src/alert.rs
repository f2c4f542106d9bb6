//! Alerts in the shape of Elastic Security's machine-learning alerts (ECS field names,
//! nested), one JSON object per line, plus a terminal summary.

use lotl_cluster::ScoredEvent;
use serde::{Deserialize, Serialize};

/// ISO 8601 UTC with milliseconds, as ECS `@timestamp` values are written.
pub fn iso(ms: i64) -> String {
    match chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => ms.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Time of the rule execution that raised the alert.
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    pub event: AlertEvent,
    pub kibana: Kibana,
    pub threat: Vec<Threat>,
    pub anomaly: Anomaly,
    pub influencers: Vec<Influencer>,
    pub cluster: Cluster,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    pub kind: String,
    pub category: Vec<String>,
    pub module: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kibana {
    pub alert: KibanaAlert,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KibanaAlert {
    /// Stable id of the anomaly (xxh3 of job, series and bucket).
    pub uuid: String,
    pub rule: Rule,
    pub severity: String,
    pub risk_score: u32,
    /// Start of the anomalous bucket.
    pub original_time: String,
    pub reason: String,
    pub workflow_status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub name: String,
    pub rule_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub severity: String,
    pub risk_score: u32,
    pub anomaly_threshold: f64,
    pub machine_learning_job_id: Vec<String>,
    pub interval: String,
    pub from: String,
    pub max_signals: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threat {
    pub framework: String,
    pub tactic: ThreatRef,
    pub technique: Vec<ThreatRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreatRef {
    pub id: String,
    pub name: String,
    pub reference: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    pub job_id: String,
    pub function: String,
    /// Record score at the execution that raised the alert (renormalised).
    pub record_score: f64,
    /// Record score when the bucket was first scored.
    pub initial_record_score: f64,
    pub probability: f64,
    pub multi_bucket_impact: f64,
    pub actual: f64,
    pub typical: f64,
    pub by_field_name: String,
    pub by_field_value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_field_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_field_value: Option<String>,
    pub bucket_span: u64,
    /// Bucket start.
    pub timestamp: String,
    pub timestamp_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Influencer {
    pub influencer_field_name: String,
    pub influencer_field_values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// Child processes in the anomalous bucket and series (after exceptions).
    pub size: usize,
    /// Sum of their prediction probabilities.
    pub probability_sum: f64,
    pub children: Vec<Child>,
}

/// One process of the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Child {
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    pub event: ChildEvent,
    pub process: ChildProcess,
    pub user: ChildUser,
    pub host: ChildHost,
    pub problemchild: ProblemChild,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildEvent {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildProcess {
    pub name: Option<String>,
    pub executable: Option<String>,
    pub command_line: Option<String>,
    pub pid: Option<i64>,
    pub parent: ChildParent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildParent {
    pub name: Option<String>,
    pub executable: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildUser {
    pub name: Option<String>,
    pub domain: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildHost {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProblemChild {
    pub prediction: u8,
    pub prediction_probability: f32,
    pub top_features: Vec<TopFeature>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopFeature {
    pub feature: String,
    pub contribution: f32,
}

impl Child {
    pub fn from_scored(e: &ScoredEvent) -> Child {
        let ev = &e.event;
        Child {
            timestamp: iso(ev.timestamp_ms),
            event: ChildEvent {
                id: ev.event_id.to_string(),
            },
            process: ChildProcess {
                name: ev.process_name.as_deref().map(str::to_owned),
                executable: ev.process_executable.as_deref().map(str::to_owned),
                command_line: ev.process_command_line.as_deref().map(str::to_owned),
                pid: ev.process_pid,
                parent: ChildParent {
                    name: ev.parent_name.as_deref().map(str::to_owned),
                    executable: ev.parent_executable.as_deref().map(str::to_owned),
                },
            },
            user: ChildUser {
                name: ev.user_name.as_deref().map(str::to_owned),
                domain: ev.user_domain.as_deref().map(str::to_owned),
            },
            host: ChildHost {
                name: ev.host_name.to_string(),
            },
            problemchild: ProblemChild {
                prediction: e.prediction,
                prediction_probability: e.probability,
                top_features: e
                    .top_features
                    .iter()
                    .map(|(f, c)| TopFeature {
                        feature: f.clone(),
                        contribution: *c,
                    })
                    .collect(),
            },
        }
    }
}

/// Rule name and id of a job, following Elastic's ProblemChild rules.
pub fn rule_identity(job: &str) -> (String, String) {
    let name = match job {
        "high_sum_by_parent" => "Parent Process Detected with Suspicious Windows Process(es)",
        "high_sum_by_host" => "Host Detected with Suspicious Windows Process(es)",
        "high_sum_by_user" => "User Detected with Suspicious Windows Process(es)",
        "rare_process_by_parent" => "Unusual Process Spawned by a Parent Process",
        "rare_process_by_host" => "Unusual Process Spawned by a Host",
        "rare_process_by_user" => "Unusual Process Spawned by a User",
        other => return (format!("Anomaly in {other}"), format!("lotl-{other}")),
    };
    (name.to_owned(), format!("lotl-{job}"))
}

pub(crate) fn threat() -> Vec<Threat> {
    let r = |id: &str, name: &str, kind: &str| ThreatRef {
        id: id.to_owned(),
        name: name.to_owned(),
        reference: format!("https://attack.mitre.org/{kind}/{id}/"),
    };
    vec![Threat {
        framework: "MITRE ATT&CK".to_owned(),
        tactic: r("TA0005", "Defense Evasion", "tactics"),
        technique: vec![
            r("T1036", "Masquerading", "techniques"),
            r("T1218", "System Binary Proxy Execution", "techniques"),
        ],
    }]
}

/// Distinct values of the influencer fields over the children, most frequent first.
pub(crate) fn influencers(children: &[Child]) -> Vec<Influencer> {
    type Get = fn(&Child) -> Option<&str>;
    let fields: [(&str, Get); 5] = [
        ("process.name", |c| c.process.name.as_deref()),
        ("process.parent.name", |c| c.process.parent.name.as_deref()),
        ("process.command_line", |c| {
            c.process.command_line.as_deref()
        }),
        ("host.name", |c| Some(c.host.name.as_str())),
        ("user.name", |c| c.user.name.as_deref()),
    ];
    let mut out = Vec::new();
    for (name, get) in fields {
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for c in children {
            if let Some(v) = get(c).filter(|v| !v.is_empty()) {
                *counts.entry(v).or_default() += 1;
            }
        }
        if counts.is_empty() {
            continue;
        }
        let mut v: Vec<(&str, usize)> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        out.push(Influencer {
            influencer_field_name: name.to_owned(),
            influencer_field_values: v.into_iter().take(10).map(|x| x.0.to_owned()).collect(),
        });
    }
    out
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// A fixed-width table of alerts for the terminal.
pub fn summary_table(alerts: &[Alert]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<20} {:<22} {:<24} {:>5} {:>5} {:>4}  top child",
        "bucket (UTC)", "job", "entity", "score", "init", "kids"
    );
    for a in alerts {
        let entity = match &a.anomaly.partition_field_value {
            Some(p) => format!("{p}/{}", a.anomaly.by_field_value),
            None => a.anomaly.by_field_value.clone(),
        };
        let top = a
            .cluster
            .children
            .first()
            .map(|c| {
                c.process
                    .command_line
                    .clone()
                    .or_else(|| c.process.name.clone())
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "{:<20} {:<22} {:<24} {:>5.1} {:>5.1} {:>4}  {}",
            truncate(&a.anomaly.timestamp, 19),
            truncate(&a.anomaly.job_id, 22),
            truncate(&entity, 24),
            a.anomaly.record_score,
            a.anomaly.initial_record_score,
            a.cluster.size,
            truncate(&top, 60)
        );
    }
    let _ = writeln!(s, "{} alert(s)", alerts.len());
    s
}
