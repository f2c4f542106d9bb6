//! `lotl detect` refuses a bundle whose cluster model was altered after training.

mod common;

use common::{lotl, lotl_ok};

#[test]
fn detect_refuses_an_altered_cluster_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("tiny.toml"),
        common::small_gbdt_experiment("tiny", 6, 1, 8),
    )
    .unwrap();
    lotl_ok(
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
    );
    lotl_ok(
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
    );
    lotl_ok(
        d,
        &["predict", "model", "week.parquet", "-o", "scored.parquet"],
    );
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
