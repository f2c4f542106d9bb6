//! Model evaluation for people and for CI.
//!
//! [`evaluate`] scores labelled events with one or more model bundles, replays the bundles'
//! detection rule over them, and computes [`Report`]: event-level metrics (overall, per
//! source, per ATT&CK technique, per benign family) and cluster-level metrics (scenarios
//! alerted, alerts per benign host-day, time to alert). [`write_report`] writes
//! `metrics.json`, `baseline.json`, the plots (SVG, plus PNG when a font is available),
//! `report.html` (self-contained) and `report.md`. [`gate`] compares a report with a
//! committed baseline so CI fails when detection gets worse.
//!
//! Several bundles evaluated together share the data, the plots (one curve per model) and
//! a comparison table, so a report answers "is the new model better" directly.

pub mod data;
pub mod error;
pub mod gate;
pub mod metrics;
pub mod plots;
pub mod render;

pub use data::Data;
pub use error::{Error, Result};
pub use gate::{Baseline, GateOutcome};
pub use metrics::{AlertPoint, ClassMetrics, ClusterMetrics, EventMetrics};

use lotl_events::{Label, ProcessEvent};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Format tag of `metrics.json`.
pub const REPORT_FORMAT: &str = "lotl-eval";
pub const REPORT_FORMAT_VERSION: u32 = 1;

/// The evaluated data, in numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    pub description: String,
    pub events: u64,
    pub benign: u64,
    pub malicious: u64,
    /// Events without a benign/malicious label: scored and replayed, not in the metrics.
    pub unlabelled: u64,
    pub hosts: u64,
    pub scenarios: u64,
    pub techniques: u64,
    pub start: Option<String>,
    pub end: Option<String>,
}

impl DataSummary {
    pub fn of(description: &str, events: &[ProcessEvent]) -> DataSummary {
        let count = |l: Label| events.iter().filter(|e| e.label == Some(l)).count() as u64;
        let (benign, malicious) = (count(Label::Benign), count(Label::Malicious));
        let mal = events.iter().filter(|e| e.label == Some(Label::Malicious));
        let scenarios: BTreeSet<_> = mal
            .clone()
            .filter_map(|e| e.scenario_id.as_deref())
            .collect();
        let techniques: BTreeSet<_> = mal.filter_map(|e| e.technique.as_deref()).collect();
        let hosts: BTreeSet<_> = events.iter().map(|e| e.host_name.as_str()).collect();
        let times = events.iter().map(|e| e.timestamp_ms);
        DataSummary {
            description: description.to_owned(),
            events: events.len() as u64,
            benign,
            malicious,
            unlabelled: events.len() as u64 - benign - malicious,
            hosts: hosts.len() as u64,
            scenarios: scenarios.len() as u64,
            techniques: techniques.len() as u64,
            start: times.clone().min().map(lotl_scorer::alert::iso),
            end: times.max().map(lotl_scorer::alert::iso),
        }
    }
}

/// One model's part of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelReport {
    /// Unique within the report (bundle directory name, numbered on clashes).
    pub name: String,
    pub bundle: String,
    pub experiment: Option<String>,
    pub recipe: Option<String>,
    pub git_commit: Option<String>,
    /// Decision threshold on the calibrated probability.
    pub threshold: f32,
    pub metrics: EventMetrics,
    /// `null` when the bundle has no cluster model (see `cluster_note`).
    pub cluster: Option<ClusterMetrics>,
    pub cluster_note: Option<String>,
}

/// `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub format: String,
    pub format_version: u32,
    pub created: String,
    pub lotl_version: String,
    pub data: DataSummary,
    pub models: Vec<ModelReport>,
}

/// What a model contributes before metrics: its identity, probabilities and alerts.
#[derive(Debug, Clone)]
pub struct ModelScores {
    pub name: String,
    pub bundle: String,
    pub experiment: Option<String>,
    pub recipe: Option<String>,
    pub git_commit: Option<String>,
    pub threshold: f32,
    /// Calibrated probability of malicious, one per event.
    pub probs: Vec<f32>,
    /// Alerts of the detection rule; `None` when there is no cluster model.
    pub alerts: Option<Vec<AlertPoint>>,
    pub cluster_note: Option<String>,
}

/// A report with what its plots need.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub report: Report,
    pub events: Vec<ProcessEvent>,
    pub scores: Vec<ModelScores>,
}

/// Metrics of already-scored models on `data` (probabilities in event order).
pub fn evaluate_scores(data: Data, scores: Vec<ModelScores>) -> Result<Evaluation> {
    for s in &scores {
        if s.probs.len() != data.events.len() {
            return Err(Error::Input(format!(
                "model {}: {} scores for {} events",
                s.name,
                s.probs.len(),
                data.events.len()
            )));
        }
    }
    let models = scores
        .iter()
        .map(|s| ModelReport {
            name: s.name.clone(),
            bundle: s.bundle.clone(),
            experiment: s.experiment.clone(),
            recipe: s.recipe.clone(),
            git_commit: s.git_commit.clone(),
            threshold: s.threshold,
            metrics: metrics::event_metrics(&data.events, &s.probs, s.threshold),
            cluster: s
                .alerts
                .as_deref()
                .map(|a| metrics::cluster_metrics(&data.events, a)),
            cluster_note: s.cluster_note.clone(),
        })
        .collect();
    let report = Report {
        format: REPORT_FORMAT.to_owned(),
        format_version: REPORT_FORMAT_VERSION,
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        lotl_version: env!("CARGO_PKG_VERSION").to_owned(),
        data: DataSummary::of(&data.description, &data.events),
        models,
    };
    Ok(Evaluation {
        report,
        events: data.events,
        scores,
    })
}

/// Unique, readable model names: the bundle directory names, numbered when they clash.
pub fn model_names(dirs: &[PathBuf]) -> Vec<String> {
    let base: Vec<String> = dirs
        .iter()
        .map(|d| {
            d.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "model".to_owned())
        })
        .collect();
    base.iter()
        .enumerate()
        .map(|(i, n)| {
            if base.iter().filter(|m| *m == n).count() > 1 {
                format!("{n}-{}", i + 1)
            } else {
                n.clone()
            }
        })
        .collect()
}

/// Score `data` with every bundle, replay each bundle's cluster model through the
/// detection rule `rule`, and compute the report.
pub fn evaluate(
    bundles: &[lotl_export::Bundle],
    data: Data,
    rule: &lotl_scorer::RuleConfig,
) -> Result<Evaluation> {
    let dirs: Vec<PathBuf> = bundles.iter().map(|b| b.dir.clone()).collect();
    let names = model_names(&dirs);
    let mut scores = Vec::with_capacity(bundles.len());
    for (b, name) in bundles.iter().zip(names) {
        let s = b.score(&data.events);
        let probs: Vec<f32> = s.iter().map(|x| x.probability).collect();
        let (alerts, cluster_note) = match b.file("cluster.json") {
            None => (
                None,
                Some(
                    "the bundle has no cluster model (cluster.json); train with `lotl train`"
                        .into(),
                ),
            ),
            Some(p) => match lotl_cluster::ClusterModel::load(&p) {
                // A cluster model this build cannot read (older format) should not hide
                // the event-level metrics: report the reason where the numbers would be.
                Err(e) => (
                    None,
                    Some(format!(
                        "cluster model unreadable ({e}); retrain the bundle"
                    )),
                ),
                Ok(model) => {
                    let scored: Vec<lotl_cluster::ScoredEvent> = data
                        .events
                        .iter()
                        .zip(&s)
                        .map(|(e, x)| lotl_cluster::ScoredEvent {
                            event: e.clone(),
                            prediction: x.prediction,
                            probability: x.probability,
                            top_features: Vec::new(),
                        })
                        .collect();
                    let history_end = model.last_bucket_ms();
                    match lotl_scorer::detect(&model, rule, &scored, None, None) {
                        Ok(alerts) => (
                            Some(alerts.iter().map(AlertPoint::from_alert).collect()),
                            None,
                        ),
                        // The cluster model only moves forward in time: data older than its
                        // history cannot be replayed. Keep the event metrics, say why.
                        Err(e) => (
                            None,
                            Some(format!(
                                "detection replay failed: {e} (the cluster model's history \
                                 ends at {}; cluster metrics need events after it)",
                                history_end.map_or("-".to_owned(), lotl_scorer::alert::iso)
                            )),
                        ),
                    }
                }
            },
        };
        let m = &b.manifest;
        scores.push(ModelScores {
            name,
            bundle: b.dir.display().to_string(),
            experiment: m.experiment.clone(),
            recipe: Some(format!("{} v{}", m.recipe.name, m.recipe.version)),
            git_commit: Some(m.git_commit.clone()),
            threshold: m.threshold.threshold,
            probs,
            alerts,
            cluster_note,
        });
    }
    evaluate_scores(data, scores)
}

/// How to write a report.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// TTF for PNG text; searched under [`plots::FONT_DIRS`] when `None`.
    pub font: Option<PathBuf>,
    /// Skip PNGs even when a font exists.
    pub no_png: bool,
}

/// What [`write_report`] wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub files: Vec<PathBuf>,
    /// The font used for PNGs, or why no PNG was drawn.
    pub png: std::result::Result<PathBuf, String>,
}

fn write_file(path: &Path, bytes: &[u8], files: &mut Vec<PathBuf>) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(error::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(error::io(path))?;
    files.push(path.to_owned());
    Ok(())
}

fn json_pretty<T: Serialize>(v: &T, path: &Path) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(v).map_err(|source| Error::Json {
        path: path.to_owned(),
        source,
    })
}

/// Write the report directory (created if missing). `gate` adds the regression table.
pub fn write_report(
    eval: &Evaluation,
    dir: &Path,
    opts: &WriteOptions,
    gate: Option<&GateOutcome>,
) -> Result<Written> {
    std::fs::create_dir_all(dir).map_err(error::io(dir))?;
    let mut files = Vec::new();
    let png = if opts.no_png {
        Err("PNG disabled".to_owned())
    } else {
        match plots::use_font(opts.font.as_deref())? {
            Some(f) => Ok(f),
            None => Err(format!(
                "no TrueType font found under {} (give one with --font, or install \
                 fonts-dejavu-core); PNGs skipped, SVGs written",
                plots::FONT_DIRS.join(", ")
            )),
        }
    };
    let figures = render::draw_figures(eval, dir, png.is_ok())?;
    for f in &figures {
        files.push(f.svg_path.clone());
        files.extend(f.png_path.clone());
    }
    let p = dir.join("metrics.json");
    write_file(&p, &json_pretty(&eval.report, &p)?, &mut files)?;
    let p = dir.join("baseline.json");
    write_file(
        &p,
        &json_pretty(&Baseline::of(&eval.report), &p)?,
        &mut files,
    )?;
    let p = dir.join("report.md");
    let md = render::markdown(eval, &figures, gate, png.as_ref().err().map(String::as_str));
    write_file(&p, md.as_bytes(), &mut files)?;
    let p = dir.join("report.html");
    let html = render::html(eval, &figures, gate, png.as_ref().err().map(String::as_str));
    write_file(&p, html.as_bytes(), &mut files)?;
    Ok(Written { files, png })
}
