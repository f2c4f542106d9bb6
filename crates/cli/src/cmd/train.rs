use crate::args::TrainArgs;
use anyhow::Context;
use lotl_classifier::experiment::{self, ExperimentConfig};
use lotl_export::bundle::{Bundle, NewBundle};
use std::process::ExitCode;

pub fn run(a: TrainArgs) -> anyhow::Result<ExitCode> {
    let cfg = ExperimentConfig::from_file(&a.config)?;
    let toml_text = std::fs::read_to_string(&a.config)
        .with_context(|| format!("reading {}", a.config.display()))?;
    let started = std::time::Instant::now();
    let tags = lotl_track::source_tags(env!("CARGO_PKG_VERSION"), env!("LOTL_GIT_COMMIT"));
    let mut run = lotl_track::start_run(&a.tracking.config(), &cfg.name, &cfg.name, &tags)?;
    log_config(&mut run, &cfg);
    let spinner = super::spinner("loading data");
    let parts = experiment::load_data(&cfg)?;
    let mut say = |msg: &str| spinner.set_message(msg.to_owned());
    let trained = experiment::run(&cfg, parts, &mut say)?;
    spinner.finish_and_clear();

    let metrics = serde_json::json!({
        "test": trained.test,
        "validation": trained.validation,
        "counts": trained.counts,
        "calibration": {
            "ece_before": trained.calibration.ece_before,
            "ece_after": trained.calibration.ece_after,
        },
    });
    let manifest = Bundle::write(
        &a.output,
        &NewBundle {
            lotl_version: env!("CARGO_PKG_VERSION"),
            git_commit: env!("LOTL_GIT_COMMIT"),
            experiment_name: Some(&cfg.name),
            experiment_toml: Some(&toml_text),
            pipeline: &trained.pipeline,
            model: &trained.model,
            calibration: &trained.calibration,
            threshold: trained.threshold,
            training_data_hash: &trained.train_data_hash,
            metrics,
        },
    )?;
    fit_cluster_into_bundle(
        &a.output,
        &trained.history_events,
        trained.threshold.threshold,
    )?;

    run.log_param("training_data_hash", &trained.train_data_hash);
    for (step, loss) in trained.valid_loss.iter().enumerate() {
        run.log_metric("valid_logloss", *loss, step as i64);
    }
    for (part, s) in &trained.test {
        for (k, v) in [
            ("roc_auc", s.roc_auc),
            ("pr_auc", s.pr_auc),
            ("recall_at_1pct_fpr", s.recall_at_1pct_fpr),
            ("precision_at_threshold", s.precision_at_threshold),
            ("recall_at_threshold", s.recall_at_threshold),
        ] {
            if let Some(v) = v {
                run.log_metric(&format!("test_{part}_{k}"), v, 0);
            }
        }
    }
    run.log_metric("threshold", f64::from(trained.threshold.threshold), 0);
    if let Some(e) = trained.calibration.ece_after {
        run.log_metric("validation_ece", e, 0);
    }
    run.log_artifact(&a.output, Some("bundle"));
    let run_id = run.id().to_owned();
    run.finish()?;
    println!(
        "trained {} ({} recipe, {} model: {}, {} features) in {:.1}s",
        cfg.name,
        manifest.recipe.name,
        manifest.model.kind,
        trained.model.summary(),
        manifest.model.n_features,
        started.elapsed().as_secs_f64()
    );
    println!(
        "threshold {:.4} (recall malicious {:.3}, benign {:.3} on validation); calibration error {} → {}",
        trained.threshold.threshold,
        trained.threshold.recall_positive,
        trained.threshold.recall_negative,
        fmt_opt(trained.calibration.ece_before),
        fmt_opt(trained.calibration.ece_after)
    );
    println!(
        "{:<12} {:>8} {:>9} {:>8} {:>8} {:>12}",
        "test part", "events", "malicious", "ROC-AUC", "PR-AUC", "recall@1%FPR"
    );
    for (part, s) in &trained.test {
        println!(
            "{:<12} {:>8} {:>9} {:>8} {:>8} {:>12}",
            part,
            s.events,
            s.malicious,
            fmt_opt(s.roc_auc),
            fmt_opt(s.pr_auc),
            fmt_opt(s.recall_at_1pct_fpr)
        );
    }
    println!("bundle: {}; tracked run {run_id}", a.output.display());
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |x| format!("{x:.4}"))
}

/// Fit the parent-cluster model on the training history (scored by the new model) and store
/// it in the bundle, so every bundle can run `lotl detect` out of the box.
pub(crate) fn fit_cluster_into_bundle(
    bundle: &std::path::Path,
    history: &[(lotl_events::ProcessEvent, f32)],
    threshold: f32,
) -> anyhow::Result<()> {
    let scored: Vec<lotl_cluster::ScoredEvent> = history
        .iter()
        .map(|(e, p)| lotl_cluster::ScoredEvent {
            event: e.clone(),
            prediction: u8::from(*p >= threshold),
            probability: *p,
            top_features: Vec::new(),
        })
        .collect();
    let model = lotl_cluster::fit_cluster(&scored, lotl_cluster::ClusterConfig::default())?;
    let json = model.to_json()?;
    Bundle::put_file(bundle, "cluster.json", json.as_bytes())?;
    Ok(())
}

/// Every setting of the experiment as a flat `section.key = value` parameter.
fn log_config(run: &mut lotl_track::Run, cfg: &ExperimentConfig) {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, x, out);
                }
            }
            serde_json::Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(&format!("{prefix}.{i}"), x, out);
                }
            }
            serde_json::Value::Null => {}
            serde_json::Value::String(s) => out.push((prefix.to_owned(), s.clone())),
            other => out.push((prefix.to_owned(), other.to_string())),
        }
    }
    let mut params = Vec::new();
    if let Ok(v) = serde_json::to_value(cfg) {
        walk("", &v, &mut params);
    }
    run.log_params(params);
}
