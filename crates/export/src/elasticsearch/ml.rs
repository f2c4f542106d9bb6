//! Anomaly-detection jobs, their datafeeds, and detection rules in the layout of
//! elastic/detection-rules (TOML), mirroring Elastic's ProblemChild package (spec
//! section 4) but reading this model's `problemchild.*` fields.

use sha2::{Digest, Sha256};

use super::RESULTS_PARENT;

/// Index patterns the datafeeds and query rules read (Elastic Defend and Winlogbeat).
pub const INDICES: [&str; 3] = [
    "logs-endpoint.events.process-*",
    "winlogbeat-*",
    "logs-windows.*",
];

/// The monitoring agents whose own processes the datafeeds drop.
pub const AGENTS: [&str; 6] = [
    "elastic-agent",
    "elastic-endpoint",
    "metricbeat",
    "filebeat",
    "packetbeat",
    "winlogbeat",
];

/// Probability floor of the datafeeds (Elastic 2026; also lotl's default datafeed).
pub const MIN_PROBABILITY: f64 = 0.5;

const INFLUENCERS: [&str; 5] = [
    "process.name",
    "process.parent.name",
    "process.command_line",
    "host.name",
    "user.name",
];

/// One of the six jobs.
#[derive(Debug, Clone, Copy)]
pub struct Job {
    /// Suffix of the job id (`<model_id>_<name>`).
    pub name: &'static str,
    /// `high_sum` or `rare`.
    pub function: &'static str,
    /// `by_field_name`.
    pub by: &'static str,
    /// `partition_field_name` (rare jobs).
    pub partition: Option<&'static str>,
    pub title: &'static str,
}

/// Elastic's six ProblemChild jobs.
pub fn jobs() -> [Job; 6] {
    let hs = |name, by, title| Job {
        name,
        function: "high_sum",
        by,
        partition: None,
        title,
    };
    let rare = |name, partition, title| Job {
        name,
        function: "rare",
        by: "process.name",
        partition: Some(partition),
        title,
    };
    [
        hs(
            "high_sum_by_parent",
            "process.parent.name",
            "Parent Process Detected with Suspicious Windows Process(es)",
        ),
        hs(
            "high_sum_by_host",
            "host.name",
            "Host Detected with Suspicious Windows Process(es)",
        ),
        hs(
            "high_sum_by_user",
            "user.name",
            "User Detected with Suspicious Windows Process(es)",
        ),
        rare(
            "rare_process_by_parent",
            "process.parent.name",
            "Unusual Process Spawned by a Parent Process",
        ),
        rare(
            "rare_process_by_host",
            "host.name",
            "Unusual Process Spawned by a Host",
        ),
        rare(
            "rare_process_by_user",
            "user.name",
            "Unusual Process Spawned by a User",
        ),
    ]
}

fn probability_field() -> String {
    format!("{RESULTS_PARENT}.prediction_probability")
}

impl Job {
    pub fn id(&self, model_id: &str) -> String {
        format!("{model_id}_{}", self.name)
    }

    pub fn datafeed_id(&self, model_id: &str) -> String {
        format!("datafeed-{}", self.id(model_id))
    }

    /// Body of `PUT _ml/anomaly_detectors/<id>`.
    pub fn job_body(&self, model_id: &str) -> serde_json::Value {
        let mut det = serde_json::json!({
            "function": self.function,
            "by_field_name": self.by,
            "detector_index": 0,
        });
        let desc = if self.function == "high_sum" {
            det["field_name"] = probability_field().into();
            format!("high_sum(\"{}\") by \"{}\"", probability_field(), self.by)
        } else {
            let p = self.partition.unwrap_or("host.name");
            det["partition_field_name"] = p.into();
            format!("rare by \"{}\" partitionfield=\"{p}\"", self.by)
        };
        det["detector_description"] = desc.into();
        serde_json::json!({
            "description": format!("lotl ({model_id}): {}", self.title),
            "groups": ["lotl", "problemchild"],
            "analysis_config": {
                "bucket_span": "15m",
                "detectors": [det],
                "influencers": INFLUENCERS,
            },
            "analysis_limits": { "model_memory_limit": "256mb" },
            "data_description": { "time_field": "@timestamp" },
            "allow_lazy_open": true,
            "custom_settings": { "created_by": "lotl", "lotl_model_id": model_id },
        })
    }

    /// Body of `PUT _ml/datafeeds/<datafeed id>`: predicted-malicious events with
    /// probability at least [`MIN_PROBABILITY`], the agents' own processes dropped.
    pub fn datafeed_body(&self, model_id: &str) -> serde_json::Value {
        let agents: Vec<String> = AGENTS
            .iter()
            .flat_map(|a| [a.to_string(), format!("{a}.exe")])
            .collect();
        serde_json::json!({
            "job_id": self.id(model_id),
            "indices": INDICES,
            "query": { "bool": {
                "filter": [
                    { "term": { format!("{RESULTS_PARENT}.prediction"): 1 } },
                    { "range": { probability_field(): { "gte": MIN_PROBABILITY } } },
                ],
                "must_not": [
                    { "terms": { "process.name": agents } }
                ]
            } },
            "max_empty_searches": 10,
        })
    }
}

/// A stable UUID-shaped rule id, so re-exporting the same model updates the same rules.
fn rule_uuid(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let x: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &x[0..8],
        &x[8..12],
        &x[13..16],
        &x[17..20],
        &x[20..32]
    )
}

fn toml_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

const THREAT: &str = r#"
[[rule.threat]]
framework = "MITRE ATT&CK"

[[rule.threat.technique]]
id = "T1036"
name = "Masquerading"
reference = "https://attack.mitre.org/techniques/T1036/"

[[rule.threat.technique]]
id = "T1218"
name = "System Binary Proxy Execution"
reference = "https://attack.mitre.org/techniques/T1218/"

[rule.threat.tactic]
id = "TA0005"
name = "Defense Evasion"
reference = "https://attack.mitre.org/tactics/TA0005/"
"#;

const FALSE_POSITIVES: [&str; 5] = [
    "Administrative tools",
    "Software updates and installations",
    "Automated scripts and batch jobs",
    "Security and monitoring software",
    "Custom business applications",
];

fn list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| toml_str(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn metadata() -> String {
    let today = chrono::Utc::now().format("%Y/%m/%d").to_string();
    format!(
        "[metadata]\ncreation_date = {d}\nintegration = [\"problemchild\"]\nmaturity = \"production\"\nupdated_date = {d}\n\n",
        d = toml_str(&today)
    )
}

/// `(file name, TOML)` of one machine-learning rule per job and the two single-event rules.
pub fn rules(model_id: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let fps: Vec<String> = FALSE_POSITIVES.iter().map(|s| s.to_string()).collect();
    let tags: Vec<String> = [
        "Domain: Endpoint",
        "OS: Windows",
        "Use Case: Living off the Land Attack Detection",
        "Rule Type: Machine Learning",
        "Tactic: Defense Evasion",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for job in jobs() {
        let id = job.id(model_id);
        let text = format!(
            "{meta}[rule]\nanomaly_threshold = 75\nauthor = [\"lotl\"]\ndescription = {desc}\nfalse_positives = {fps}\nfrom = \"now-45m\"\ninterval = \"15m\"\nlicense = \"Apache-2.0\"\nmachine_learning_job_id = {jobid}\nmax_signals = 100\nname = {name}\nrisk_score = 21\nrule_id = {rid}\nseverity = \"low\"\ntags = {tags}\ntype = \"machine_learning\"\n{THREAT}",
            meta = metadata(),
            desc = toml_str(&format!(
                "A machine learning job ({id}) found an unusually {} of suspicious Windows processes, as scored by the lotl model {model_id}.",
                if job.function == "high_sum" { "high sum of probabilities" } else { "rare process" }
            )),
            fps = list(&fps),
            jobid = list(std::slice::from_ref(&id)),
            name = toml_str(&format!("lotl: {}", job.title)),
            rid = toml_str(&rule_uuid(&id)),
            tags = list(&tags),
        );
        out.push((format!("ml_{id}.toml"), text));
    }
    for (suffix, cmp, sev, risk, title) in [
        ("high_probability", ">", "high", 73, "Machine Learning Detected a Suspicious Windows Event with a High Malicious Probability Score"),
        ("predicted", "<=", "low", 21, "Machine Learning Detected a Suspicious Windows Event Predicted to be Malicious Activity"),
    ] {
        let rid = format!("{model_id}_{suffix}");
        let query = format!(
            "event.category:process and {RESULTS_PARENT}.prediction:1 and {RESULTS_PARENT}.prediction_probability {cmp} 0.98"
        );
        let text = format!(
            "{meta}[rule]\nauthor = [\"lotl\"]\ndescription = {desc}\nfalse_positives = {fps}\nfrom = \"now-10m\"\nindex = {idx}\ninterval = \"5m\"\nlanguage = \"kuery\"\nlicense = \"Apache-2.0\"\nmax_signals = 100\nname = {name}\nquery = {query}\nrisk_score = {risk}\nrule_id = {uuid}\nseverity = {sev}\ntags = {tags}\ntype = \"query\"\n{THREAT}",
            meta = metadata(),
            desc = toml_str(&format!("The lotl model {model_id} scored a process start as malicious (probability {cmp} 0.98).")),
            fps = list(&fps),
            idx = list(&INDICES.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
            name = toml_str(&format!("lotl: {title}")),
            query = toml_str(&query),
            uuid = toml_str(&rule_uuid(&rid)),
            sev = toml_str(sev),
            tags = list(&tags),
        );
        out.push((format!("event_{rid}.toml"), text));
    }
    out
}
