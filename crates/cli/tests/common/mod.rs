//! Helpers shared by the `lotl` binary's end-to-end tests.

// Each test crate compiles this module for itself and uses only part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Run `lotl` in `dir` with no MLflow server configured; the output, whatever the status.
pub fn lotl(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lotl"))
        .args(args)
        .current_dir(dir)
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .expect("run lotl")
}

/// [`lotl`], failing the test unless it succeeds.
pub fn lotl_ok(dir: &Path, args: &[&str]) -> Output {
    let out = lotl(dir, args);
    assert!(
        out.status.success(),
        "lotl {args:?}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A small GBDT experiment on a synthetic fleet with attacks, quick to train in a test.
pub fn small_gbdt_experiment(name: &str, hosts: u32, days: u32, n_trees: u32) -> String {
    format!(
        r#"name = "{name}"
seed = 3

[[data]]
synth = {{ hosts = {hosts}, days = {days}, seed = 5, attack_rate = 2.0 }}

[split]
by = "host"
ratios = [0.6, 0.2, 0.2]

[features]
recipe = "lotl"

[model]
type = "gbdt"
[model.gbdt]
n_trees = {n_trees}
learning_rate = 0.2
max_leaves = 15
min_data_in_leaf = 5
seed = 1
"#
    )
}
