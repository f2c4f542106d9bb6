//! `lotl detect` on events nobody has scored yet: it scores them with the bundle's
//! classifier, and the alerts are the ones `lotl predict` then `lotl detect` would give.

mod common;

use common::lotl_ok as lotl;

#[test]
fn raw_events_give_the_alerts_of_predict_then_detect() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    std::fs::write(
        d.join("model.toml"),
        common::small_gbdt_experiment("raw-detect", 8, 2, 30),
    )
    .expect("write config");
    lotl(
        d,
        &[
            "train",
            "-c",
            "model.toml",
            "-o",
            "model",
            "--tracking-dir",
            "runs",
        ],
    );
    // A fleet after the training days, as in production.
    let defaults = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../datasets/synth-default.toml"
    ))
    .expect("datasets/synth-default.toml");
    let later = defaults.replace("start_date = \"2026-01-05\"", "start_date = \"2026-02-02\"");
    assert_ne!(
        later, defaults,
        "synth-default.toml no longer starts on 2026-01-05"
    );
    std::fs::write(d.join("synth.toml"), later).expect("write synth config");
    lotl(
        d,
        &[
            "synth",
            "--config",
            "synth.toml",
            "--hosts",
            "6",
            "--days",
            "1",
            "--seed",
            "9",
            "--attack-rate",
            "4",
            "-o",
            "week.parquet",
            "--ndjson",
            "week.ndjson",
        ],
    );

    let alerts = |name: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(d.join(name))
            .expect("alerts file")
            .lines()
            .map(|l| serde_json::from_str(l).expect("alert JSON"))
            .collect()
    };
    lotl(
        d,
        &[
            "predict",
            "model",
            "week.parquet",
            "-o",
            "scored.parquet",
            "--explain",
            "3",
        ],
    );
    // Predict streams its inputs in the order given: the Parquet and NDJSON copies of the
    // week score alike, one after the other (the NDJSON one in 1,024-event batches).
    lotl(
        d,
        &[
            "predict",
            "model",
            "week.parquet",
            "week.ndjson",
            "-o",
            "both.parquet",
        ],
    );
    let scores = |name: &str| -> Vec<(String, u8, u32)> {
        lotl_cluster::read_scored(&d.join(name))
            .expect("scored file")
            .into_iter()
            .map(|s| {
                (
                    s.event.event_id.to_string(),
                    s.prediction,
                    s.probability.to_bits(),
                )
            })
            .collect()
    };
    let once = scores("scored.parquet");
    assert!(once.iter().any(|s| s.1 == 1), "nothing predicted malicious");
    assert_eq!(
        scores("both.parquet"),
        [once.clone(), once.clone()].concat()
    );
    // An Elasticsearch export of the same model scores the same, streamed the same way.
    lotl(
        d,
        &["export", "model", "--format", "elasticsearch", "-o", "es"],
    );
    lotl(
        d,
        &[
            "predict",
            "es/model.trained_model.json",
            "week.parquet",
            "-o",
            "es-scored.parquet",
        ],
    );
    let es = scores("es-scored.parquet");
    assert_eq!(es.len(), once.len());
    for (a, b) in es.iter().zip(&once) {
        assert_eq!((&a.0, a.1), (&b.0, b.1));
        let (pa, pb) = (f32::from_bits(a.2), f32::from_bits(b.2));
        assert!((pa - pb).abs() < 1e-5, "{}: {pa} vs {pb}", a.0);
    }
    // No events: an error, and no file.
    std::fs::write(d.join("empty.ndjson"), "").expect("write empty input");
    let none = common::lotl(
        d,
        &["predict", "model", "empty.ndjson", "-o", "none.parquet"],
    );
    assert!(!none.status.success());
    assert!(!d.join("none.parquet").exists());
    lotl(
        d,
        &[
            "detect",
            "model",
            "scored.parquet",
            "-o",
            "from-scored.ndjson",
        ],
    );
    let expected = alerts("from-scored.ndjson");
    assert!(!expected.is_empty(), "the attack week raised no alert");

    lotl(
        d,
        &[
            "detect",
            "model",
            "week.parquet",
            "-o",
            "from-parquet.ndjson",
        ],
    );
    assert_eq!(alerts("from-parquet.ndjson"), expected);

    let out = lotl(
        d,
        &["detect", "model", "week.ndjson", "-o", "from-ndjson.ndjson"],
    );
    assert_eq!(
        alerts("from-ndjson.ndjson"),
        expected,
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // A window: raw events outside it are not scored, and the alerts are the window's.
    let window = [
        "--from",
        "2026-02-02T09:00:00Z",
        "--to",
        "2026-02-02T17:00:00Z",
    ];
    let args = |input: &'static str, out: &'static str| {
        let mut v = vec!["detect", "model", input, "-o", out];
        v.extend(window);
        v
    };
    lotl(d, &args("scored.parquet", "window-scored.ndjson"));
    lotl(d, &args("week.ndjson", "window-raw.ndjson"));
    let in_window = alerts("window-scored.ndjson");
    assert_eq!(alerts("window-raw.ndjson"), in_window);
    assert!(in_window.len() <= expected.len());

    // A window with no events is an error, not an empty alert file.
    let empty = common::lotl(
        d,
        &[
            "detect",
            "model",
            "week.ndjson",
            "-o",
            "none.ndjson",
            "--from",
            "2030-01-01",
        ],
    );
    assert!(!empty.status.success());
    let err = String::from_utf8_lossy(&empty.stderr);
    assert!(err.contains("no process-start events"), "{err}");
    assert!(!d.join("none.ndjson").exists());
}
