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
    super::tracking::log_config(&mut run, &cfg);
    let spinner = super::spinner("loading data");
    let parts = experiment::load_data(&cfg)?;
    let mut say = |msg: &str| spinner.set_message(msg.to_owned());
    let trained = experiment::run(&cfg, parts, &mut say)?;
    spinner.finish_and_clear();

    let evaluation = serde_json::json!({
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
            metrics: evaluation.clone(),
        },
    )?;
    fit_cluster_into_bundle(
        &a.output,
        &trained.history_events,
        trained.threshold.threshold,
    )?;

    // The evaluation report outlives the run only as an artifact.
    let scratch = tempfile::tempdir().context("creating a temporary directory")?;
    super::tracking::log_trained(&mut run, &trained, &evaluation, &a.output, scratch.path());
    let run_id = run.id().to_owned();
    let run_location = run.handle().location.clone();
    super::tracking::finish(run);
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
    println!(
        "bundle: {}; tracked run {run_id} ({run_location})",
        a.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |x| format!("{x:.4}"))
}

/// Fit the parent-cluster model on the training history (scored by the new model) and store
/// it in the bundle, so every bundle can run `lotl detect` out of the box. Events labelled
/// malicious are left out: the cluster model's baseline is normal activity, and a series
/// that learnt from the training attacks would find the next attack unremarkable.
pub(crate) fn fit_cluster_into_bundle(
    bundle: &std::path::Path,
    history: &[(lotl_events::ProcessEvent, f32)],
    threshold: f32,
) -> anyhow::Result<()> {
    let scored: Vec<lotl_cluster::ScoredEvent> = history
        .iter()
        .filter(|(e, _)| e.label != Some(lotl_events::Label::Malicious))
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
