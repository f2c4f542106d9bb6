//! `lotl fit-cluster`: learn the parent-cluster model from scored history into a bundle.

use crate::args::FitClusterArgs;
use anyhow::Context;
use lotl_cluster::{fit_cluster, read_scored, ClusterConfig};
use std::process::ExitCode;

/// File name of the cluster model inside a bundle directory.
pub const CLUSTER_FILE: &str = "cluster.json";

pub fn run(a: FitClusterArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let config = match &a.config {
        Some(p) => read_cluster_config(p)?,
        None => ClusterConfig::default(),
    };
    let mut history = Vec::new();
    for p in &a.history {
        let mut v = read_scored(p)?;
        eprintln!("{}: {} scored events", p.display(), v.len());
        history.append(&mut v);
    }
    let accepted = history
        .iter()
        .filter(|e| config.datafeed.accepts(e))
        .count();
    let model = fit_cluster(&history, config)?;
    let out = a.bundle.join(CLUSTER_FILE);
    // Through the bundle so its manifest records the new checksum.
    lotl_export::bundle::Bundle::put_file(&a.bundle, CLUSTER_FILE, model.to_json()?.as_bytes())?;
    println!(
        "cluster model: {} events, {} through the datafeed, {:.1}s",
        history.len(),
        accepted,
        started.elapsed().as_secs_f64()
    );
    for (i, job) in model.job_names().enumerate() {
        println!("  {job:<24} {:>7} series", model.series_count(i));
    }
    println!("wrote {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// A cluster configuration file (TOML, or JSON by extension).
pub fn read_cluster_config(p: &std::path::Path) -> anyhow::Result<ClusterConfig> {
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    let cfg = if p
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        serde_json::from_str(&text).with_context(|| format!("{}", p.display()))?
    } else {
        toml::from_str(&text).with_context(|| format!("{}", p.display()))?
    };
    Ok(cfg)
}
