//! `lotl demo`: the whole chain on synthetic data, for a newcomer on a fresh machine.

use crate::args::DemoArgs;
use anyhow::Context;
use lotl_classifier::experiment::{self, ExperimentConfig, SynthSource};
use lotl_export::Bundle;
use lotl_scorer::{summary_table, RuleConfig};
use std::process::ExitCode;

/// First day of the week the demo detects on, well after the training fleet's.
const DETECT_START: &str = "2026-03-02";

/// The experiment the demo trains (also in `experiments/demo.toml`).
const DEMO_EXPERIMENT: &str = include_str!("../../../../experiments/demo.toml");

pub fn run(a: DemoArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    std::fs::create_dir_all(&a.output)
        .with_context(|| format!("creating {}", a.output.display()))?;
    let exp_path = a.output.join("experiment.toml");
    std::fs::write(&exp_path, DEMO_EXPERIMENT)
        .with_context(|| format!("writing {}", exp_path.display()))?;
    let bundle_dir = a.output.join("model");

    println!(
        "1/4 training the demo model on a synthetic fleet (experiment {})",
        exp_path.display()
    );
    super::train::run(crate::args::TrainArgs {
        config: exp_path.clone(),
        output: bundle_dir.clone(),
        tracking: crate::args::TrackingArgs {
            tracking_uri: None,
            tracking_dir: a.output.join("runs"),
        },
    })?;
    let cfg = ExperimentConfig::from_file(&exp_path)?;

    println!(
        "2/4 generating a fresh week: {} hosts x {} days, seed {}",
        a.hosts, a.days, a.seed
    );
    let train_seed = cfg
        .data
        .iter()
        .find_map(|d| d.synth.as_ref().map(|s| s.seed));
    anyhow::ensure!(
        train_seed != Some(a.seed),
        "--seed {} is the training fleet's seed; pick another so detection runs on unseen data",
        a.seed
    );
    let week = experiment::synthesize(&SynthSource {
        hosts: a.hosts,
        days: a.days,
        seed: a.seed,
        attack_rate: None,
        reference: None,
        // After the training fleet's days: the cluster model has learned those buckets and
        // goes on forward in time from there.
        start_date: Some(DETECT_START.to_owned()),
    })?;
    let events_path = a.output.join("week.parquet");
    lotl_events::parquet::write_parquet(&events_path, &week)?;

    println!("3/4 scoring {} events", week.len());
    let bundle = Bundle::load(&bundle_dir)?;
    let scored = lotl_scorer::score_events(&bundle, week, lotl_scorer::Explain::All(3));
    let scored_path = a.output.join("scored.parquet");
    lotl_cluster::write_scored(&scored_path, &scored)?;

    println!("4/4 running the detection rule over the week");
    let model = super::detect::load_bundle_model(&bundle_dir)?;
    let alerts = lotl_scorer::detect(&model, &RuleConfig::default(), &scored, None, None)?;
    let alerts_path = a.output.join("alerts.ndjson");
    super::detect::write_alerts(&alerts_path, &alerts)?;

    print!("{}", summary_table(&alerts));
    let events: Vec<lotl_events::ProcessEvent> = scored.iter().map(|s| s.event.clone()).collect();
    let points: Vec<lotl_report::metrics::AlertPoint> = alerts
        .iter()
        .map(lotl_report::metrics::AlertPoint::from_alert)
        .collect();
    let m = lotl_report::metrics::cluster_metrics(&events, &points);
    println!(
        "{} alerts over {} events: {} of the week's {} attack scenarios alerted, {} of {} alerts hold attack processes (ground truth in week.parquet)",
        alerts.len(),
        scored.len(),
        m.scenarios_alerted,
        m.scenarios,
        m.alert_precision.map_or(0, |p| (p * alerts.len() as f64).round() as usize),
        alerts.len()
    );
    println!("files in {}:", a.output.display());
    for (what, p) in [
        ("model bundle", &bundle_dir),
        ("events", &events_path),
        ("scored events", &scored_path),
        ("alerts", &alerts_path),
    ] {
        println!("  {what:<14} {}", p.display());
    }
    println!("done in {:.1}s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}
