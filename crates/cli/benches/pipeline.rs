//! End to end on one core: ECS NDJSON in → alerts out, with a GBDT bundle and with a burn
//! bundle, as `lotl detect` runs it (events read, scored a chunk at a time and dropped but
//! for those the datafeed keeps, then the rule's replay). Stages: read (a streamed pass on
//! its own), read + score (featurise, encode, predict, explain what is kept), detect (the
//! replay).
//!
//! The bench trains its own bundles with the `lotl` binary on a small synthetic fleet, then
//! scores a fresh synthetic fleet written as Elastic Defend NDJSON. One rayon thread, so the
//! numbers are per core.
//!
//! Run: `cargo bench -p lotl --bench pipeline` (`LOTL_BENCH_HOSTS`, `LOTL_BENCH_DAYS` size
//! the scored fleet; default 100 hosts × 2 days ≈ 250,000 events).

/// The allocator the `lotl` binary runs with (see `src/main.rs`), so the numbers are its.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use lotl_cluster::ClusterModel;
use lotl_events::{read_paths_streaming, ReadOptions};
use lotl_export::Bundle;
use lotl_scorer::{score_paths_into, Engine, Explain, ReplayInput, RuleConfig};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const LOTL: &str = env!("CARGO_BIN_EXE_lotl");

fn lotl(args: &[&str]) {
    let out = Command::new(LOTL).args(args).output().expect("run lotl");
    assert!(
        out.status.success(),
        "lotl {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn train(dir: &Path, name: &str, model: &str) -> std::path::PathBuf {
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            r#"name = "{name}"
seed = 1
[[data]]
synth = {{ hosts = 24, days = 2, seed = 7, attack_rate = 1.5 }}
[split]
by = "host"
ratios = [0.6, 0.2, 0.2]
[features]
recipe = "lotl"
{model}
"#
        ),
    )
    .expect("write config");
    let bundle = dir.join(name);
    lotl(&[
        "train",
        "--config",
        config.to_str().expect("utf-8 path"),
        "-o",
        bundle.to_str().expect("utf-8 path"),
        "--tracking-dir",
        dir.join("runs").to_str().expect("utf-8 path"),
    ]);
    bundle
}

fn env_or(k: &str, d: u32) -> u32 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn per_s(n: usize, secs: f64) -> String {
    format!("{:>10.0}/s", n as f64 / secs)
}

fn run(bundle_dir: &Path, ndjson: &Path, label: &str) {
    let bundle = Bundle::load(bundle_dir).expect("load bundle");
    let cluster = ClusterModel::load(&bundle_dir.join("cluster.json")).expect("cluster model");
    let paths = [ndjson.to_path_buf()];

    // Reading alone, streamed as `lotl detect` reads (the events are dropped batch by batch).
    let t = Instant::now();
    let mut n = 0usize;
    read_paths_streaming(&paths, &ReadOptions::default(), &mut |_| {}, &mut |batch| {
        n += batch.len();
        Ok(())
    })
    .expect("read NDJSON");
    let read_s = t.elapsed().as_secs_f64();

    // End to end as `lotl detect` runs it: read, score a chunk at a time, replay, alerts.
    let total = Instant::now();
    let mut input = ReplayInput::new(&cluster, None, None);
    score_paths_into(
        &bundle,
        &paths,
        &ReadOptions::default(),
        Explain::Flagged(3),
        &mut input,
    )
    .expect("score NDJSON");
    let read_score_s = total.elapsed().as_secs_f64();
    let kept = input.kept();
    let t = Instant::now();
    let mut engine = Engine::new(cluster, RuleConfig::default()).expect("engine");
    let (alerts, pushed) = input.run(&mut engine).expect("replay");
    let detect_s = t.elapsed().as_secs_f64();
    let total_s = total.elapsed().as_secs_f64();
    assert_eq!(pushed, n);

    println!(
        "{label:<5} {n} events: read alone {} | read + score {} | detect {} ({kept} kept) | end to end {} ({:.2}s, {} alerts)",
        per_s(n, read_s),
        per_s(n, read_score_s),
        per_s(n, detect_s),
        per_s(n, total_s),
        total_s,
        alerts.len()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects nothing here.
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global()
        .expect("one-thread pool");
    let dir = tempfile::tempdir().expect("temp dir");
    let gbdt = train(
        dir.path(),
        "gbdt",
        "[model]\ntype = \"gbdt\"\n[model.gbdt]\nn_trees = 200\nlearning_rate = 0.1\nmax_leaves = 31\nseed = 1",
    );
    let burn = train(
        dir.path(),
        "burn",
        "[model]\ntype = \"burn\"\n[model.burn]\nmax_epochs = 3\nseed = 1",
    );
    let ndjson = dir.path().join("fleet.ndjson");
    let hosts = env_or("LOTL_BENCH_HOSTS", 100).to_string();
    let days = env_or("LOTL_BENCH_DAYS", 2).to_string();
    // A fleet after the training history, as in production: the cluster model only moves
    // forward in time.
    let default_config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../datasets/synth-default.toml"
    );
    let synth_config = dir.path().join("synth.toml");
    let text = std::fs::read_to_string(default_config).expect("datasets/synth-default.toml");
    std::fs::write(
        &synth_config,
        text.replace("start_date = \"2026-01-05\"", "start_date = \"2026-02-02\""),
    )
    .expect("write synth config");
    lotl(&[
        "synth",
        "--config",
        synth_config.to_str().expect("utf-8 path"),
        "--hosts",
        &hosts,
        "--days",
        &days,
        "--seed",
        "99",
        "--ndjson",
        ndjson.to_str().expect("utf-8 path"),
    ]);
    let size = std::fs::metadata(&ndjson).map(|m| m.len()).unwrap_or(0);
    println!(
        "scored fleet: {hosts} hosts x {days} days, {:.0} MB of Elastic Defend NDJSON; one thread",
        size as f64 / 1e6
    );
    for _ in 0..2 {
        run(&gbdt, &ndjson, "gbdt");
        run(&burn, &ndjson, "burn");
    }
}
