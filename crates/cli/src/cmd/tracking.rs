//! What `lotl train` and `lotl eval` record in their tracked run, kept apart from the
//! commands so both log the same way and the commands stay about their work.

use lotl_classifier::experiment::{events_hash, Trained};
use lotl_track::{Metric, Run};
use std::path::Path;

/// A JSON value's leaves as flat `a.b.0.c` keys: strings and booleans as text, numbers as
/// numbers, nulls dropped.
pub(crate) fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, Leaf)>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_owned()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                flatten(&key(k), x, out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                flatten(&key(&i.to_string()), x, out);
            }
        }
        serde_json::Value::Null => {}
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) => out.push((prefix.to_owned(), Leaf::Number(f))),
            None => out.push((prefix.to_owned(), Leaf::Text(n.to_string()))),
        },
        serde_json::Value::String(s) => out.push((prefix.to_owned(), Leaf::Text(s.clone()))),
        serde_json::Value::Bool(b) => out.push((prefix.to_owned(), Leaf::Text(b.to_string()))),
    }
}

pub(crate) enum Leaf {
    Number(f64),
    Text(String),
}

impl std::fmt::Display for Leaf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Leaf::Number(x) => write!(f, "{x}"),
            Leaf::Text(s) => f.write_str(s),
        }
    }
}

/// Every setting of an experiment as a `section.key = value` parameter (the recipe is
/// `features.recipe`, hyperparameters `model.gbdt.*`).
pub(crate) fn log_config(run: &mut Run, cfg: &lotl_classifier::experiment::ExperimentConfig) {
    let mut leaves = Vec::new();
    if let Ok(v) = serde_json::to_value(cfg) {
        flatten("", &v, &mut leaves);
    }
    run.log_params(leaves);
}

/// A trained model's record: dataset hashes (as tags, so runs can be filtered by them),
/// per-round validation loss, final metrics, and the bundle and the evaluation report as
/// artifacts. `scratch` holds the report file until the run ends.
pub(crate) fn log_trained(
    run: &mut Run,
    trained: &Trained,
    evaluation: &serde_json::Value,
    bundle: &Path,
    scratch: &Path,
) {
    let test_events: Vec<_> = trained.test_events.iter().map(|(e, _)| e.clone()).collect();
    let test_hash = events_hash(&test_events);
    run.log_param("training_data_hash", &trained.train_data_hash);
    run.set_tag("dataset.train.xxh3", &trained.train_data_hash);
    run.set_tag("dataset.test.xxh3", &test_hash);
    for (k, n) in &trained.counts {
        run.log_param(&format!("count.{k}"), n);
    }

    let now = lotl_track::now_ms();
    let history: Vec<Metric> = [
        ("valid_logloss", &trained.valid_loss),
        ("train_logloss", &trained.train_loss),
    ]
    .into_iter()
    .flat_map(|(key, losses)| {
        losses.iter().enumerate().map(move |(step, loss)| Metric {
            key: key.to_owned(),
            value: *loss,
            step: step as i64,
            timestamp: now,
        })
    })
    .collect();
    run.log_metrics(&history);

    let mut finals = Vec::new();
    for (part, s) in &trained.test {
        for (k, v) in [
            ("roc_auc", s.roc_auc),
            ("pr_auc", s.pr_auc),
            ("recall_at_1pct_fpr", s.recall_at_1pct_fpr),
            ("precision_at_threshold", s.precision_at_threshold),
            ("recall_at_threshold", s.recall_at_threshold),
        ] {
            if let Some(v) = v {
                finals.push(Metric::new(format!("test_{part}_{k}"), v, 0));
            }
        }
    }
    let v = &trained.validation;
    for (k, x) in [
        ("validation_roc_auc", v.roc_auc),
        ("validation_pr_auc", v.pr_auc),
        ("validation_ece_before", trained.calibration.ece_before),
        ("validation_ece", trained.calibration.ece_after),
        ("threshold", Some(f64::from(trained.threshold.threshold))),
        (
            "validation_recall_malicious",
            Some(trained.threshold.recall_positive),
        ),
        (
            "validation_recall_benign",
            Some(trained.threshold.recall_negative),
        ),
        ("n_rounds", Some(trained.valid_loss.len() as f64)),
    ] {
        if let Some(x) = x {
            finals.push(Metric::new(k, x, 0));
        }
    }
    run.log_metrics(&finals);

    run.log_artifact(bundle, Some("bundle"));
    let report = scratch.join("evaluation.json");
    let text = serde_json::to_string_pretty(evaluation).unwrap_or_else(|_| "{}".to_owned());
    match lotl_track::write_atomic(&report, text.as_bytes()) {
        Ok(()) => run.log_artifact(&report, Some("evaluation")),
        Err(e) => run.set_tag("lotl.evaluation_report_error", e),
    }
}

/// An evaluation's record: what was evaluated, each model's metrics, the report directory.
pub(crate) fn log_evaluation(
    run: &mut Run,
    bundles: &[std::path::PathBuf],
    data: &Path,
    report: &lotl_report::Report,
    report_dir: &Path,
) {
    for (i, b) in bundles.iter().enumerate() {
        run.log_param(&format!("bundle.{i}"), b.display());
    }
    run.log_param("data", data.display());
    if data.is_file() {
        match lotl_track::file_digest(data) {
            Ok(d) => run.set_tag("dataset.eval.xxh3", d),
            Err(e) => run.set_tag("lotl.dataset_hash_error", e),
        }
    }
    let d = &report.data;
    run.log_params([
        ("data.events", d.events),
        ("data.benign", d.benign),
        ("data.malicious", d.malicious),
    ]);
    let mut metrics = Vec::new();
    for m in &report.models {
        let name = key_part(&m.name);
        if let Some(r) = &m.recipe {
            run.log_param(&format!("{name}.recipe"), r);
        }
        if let Some(c) = &m.git_commit {
            run.log_param(&format!("{name}.git_commit"), c);
        }
        let mut leaves = Vec::new();
        if let Ok(v) = serde_json::to_value(&m.metrics) {
            flatten(&name, &v, &mut leaves);
        }
        if let Some(c) = m
            .cluster
            .as_ref()
            .and_then(|c| serde_json::to_value(c).ok())
        {
            flatten(&format!("{name}.cluster"), &c, &mut leaves);
        }
        metrics.push(Metric::new(
            format!("{name}.threshold"),
            f64::from(m.threshold),
            0,
        ));
        for (k, leaf) in leaves {
            if let Leaf::Number(x) = leaf {
                metrics.push(Metric::new(k, x, 0));
            }
        }
    }
    run.log_metrics(&metrics);
    run.log_artifact(report_dir, Some("report"));
}

/// MLflow accepts only letters, digits, `_ - . / ` and spaces in keys; a bundle directory
/// name may hold anything.
fn key_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-./ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Ends a run whose work succeeded. Tracking never fails the work: what did not reach the
/// server is reported (with where the local copy went), and the command still succeeds.
pub(crate) fn finish(run: Run) {
    let id = run.id().to_owned();
    if let Err(e) = run.finish() {
        eprintln!("warning: tracking: run {id} not fully recorded: {e}");
    }
}
