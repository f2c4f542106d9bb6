//! `lotl detect` refuses a bundle whose cluster model was altered after training.

use std::path::Path;
use std::process::{Command, Output};

fn lotl(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lotl"))
        .args(args)
        .current_dir(dir)
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .unwrap()
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn detect_refuses_an_altered_cluster_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("tiny.toml"),
        r#"name = "tiny"
seed = 3

[[data]]
synth = { hosts = 6, days = 1, seed = 5, attack_rate = 2.0 }

[split]
by = "host"
ratios = [0.6, 0.2, 0.2]

[features]
recipe = "lotl"

[model]
type = "gbdt"
[model.gbdt]
n_trees = 8
learning_rate = 0.2
max_leaves = 15
min_data_in_leaf = 5
seed = 1
"#,
    )
    .unwrap();
    ok(&lotl(
        d,
        &[
            "train",
            "-c",
            "tiny.toml",
            "-o",
            "model",
            "--tracking-dir",
            "runs",
        ],
    ));
    ok(&lotl(
        d,
        &[
            "synth",
            "--hosts",
            "2",
            "--days",
            "1",
            "--seed",
            "9",
            "-o",
            "week.parquet",
        ],
    ));
    ok(&lotl(
        d,
        &["predict", "model", "week.parquet", "-o", "scored.parquet"],
    ));
    // The week overlaps the training days, so detect may refuse its buckets as older than
    // the model's history; what this test needs is that loading the bundle passed.
    let detect = ["detect", "model", "scored.parquet", "-o", "alerts.ndjson"];
    let before = lotl(d, &detect);

    let cluster = d.join("model/cluster.json");
    let mut text = std::fs::read_to_string(&cluster).unwrap();
    text.push(' ');
    std::fs::write(&cluster, text).unwrap();
    let after = lotl(d, &detect);
    assert!(!after.status.success());
    let err = String::from_utf8_lossy(&after.stderr);
    assert!(
        err.contains("cluster.json") && err.contains("checksum mismatch"),
        "{err}"
    );
    // Unaltered, the same command got past loading the bundle.
    let before_err = String::from_utf8_lossy(&before.stderr);
    assert!(!before_err.contains("checksum"), "{before_err}");
}
