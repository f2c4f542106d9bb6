//! The native bundle refuses altered files and newer formats, naming the problem.

mod common;

use lotl_classifier::calibration::CalibrationMethod;
use lotl_export::{Bundle, BundleError, BUNDLE_FORMAT_VERSION};
use lotl_features::RecipeConfig;

fn bundle_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("b");
    common::write_bundle(
        &b,
        RecipeConfig::from_name("lotl").unwrap(),
        CalibrationMethod::None,
    );
    (dir, b)
}

#[test]
fn bundle_integrity_is_enforced() {
    let (_t, b) = bundle_dir();
    let loaded = Bundle::load(&b).unwrap();
    assert_eq!(loaded.manifest.format_version, BUNDLE_FORMAT_VERSION);
    assert!(loaded.manifest.files.contains_key("model.json"));

    // One changed byte in model.json.
    let p = b.join("model.json");
    let mut bytes = std::fs::read(&p).unwrap();
    let i = bytes.iter().position(|c| c.is_ascii_digit()).unwrap();
    bytes[i] = if bytes[i] == b'9' { b'8' } else { bytes[i] + 1 };
    std::fs::write(&p, &bytes).unwrap();
    match Bundle::load(&b) {
        Err(e @ BundleError::Checksum { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("model.json") && msg.contains("altered"),
                "{msg}"
            );
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("an altered bundle loaded"),
    }
}

#[test]
fn newer_format_and_missing_manifest_are_refused() {
    let (_t, b) = bundle_dir();
    let mpath = b.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&mpath).unwrap()).unwrap();
    m["format_version"] = (BUNDLE_FORMAT_VERSION + 1).into();
    std::fs::write(&mpath, serde_json::to_vec(&m).unwrap()).unwrap();
    match Bundle::load(&b) {
        Err(e @ BundleError::TooNew { .. }) => assert!(e.to_string().contains("upgrade lotl")),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a newer bundle loaded"),
    }
    std::fs::remove_file(&mpath).unwrap();
    assert!(matches!(
        Bundle::load(&b),
        Err(BundleError::NotABundle { .. })
    ));
}

#[test]
fn put_file_is_checksummed_too() {
    let (_t, b) = bundle_dir();
    Bundle::put_file(&b, "cluster.json", b"{\"x\": 1}").unwrap();
    let loaded = Bundle::load(&b).unwrap();
    assert!(loaded.file("cluster.json").is_some());
    std::fs::write(b.join("cluster.json"), b"{\"x\": 2}").unwrap();
    let e = Bundle::load(&b)
        .err()
        .expect("altered cluster.json must be refused");
    assert!(e.to_string().contains("cluster.json"), "{e}");
}

#[test]
fn batch_scoring_equals_one_event_at_a_time() {
    let (_t, b) = bundle_dir();
    let bundle = Bundle::load(&b).unwrap();
    // More events than one work unit, and not a multiple of the compiled walk's lanes.
    let events: Vec<_> = (0..3).flat_map(common::events).take(1_003).collect();
    assert!(events.len() > 600, "{} events", events.len());
    let batch = bundle.score(&events);
    assert_eq!(batch.len(), events.len());
    let mut row = Vec::new();
    let mut positives = 0;
    for (e, s) in events.iter().zip(&batch) {
        let one = bundle.score_one(e, &mut row);
        assert_eq!(one.probability.to_bits(), s.probability.to_bits());
        assert_eq!(one.prediction, s.prediction);
        positives += usize::from(s.prediction);
    }
    assert!(
        positives > 0 && positives < events.len(),
        "{positives} positives"
    );
}

/// Scores are remembered by the recipe's input fields: events that differ only elsewhere
/// (ids, times, hosts, pids) reuse a score, events that differ in one input get their own,
/// and either way every score is the model's, on a cold memo and a warm one.
#[test]
fn remembered_scores_are_the_models() {
    for recipe in ["lotl", "elastic2021"] {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path().join("b");
        common::write_bundle(
            &b,
            RecipeConfig::from_name(recipe).unwrap(),
            CalibrationMethod::None,
        );
        let bundle = Bundle::load(&b).unwrap();
        let events: Vec<_> = (0..2).flat_map(common::events).take(600).collect();
        let mut all = events.clone();
        for (i, e) in events.iter().enumerate() {
            let mut elsewhere = e.clone();
            elsewhere.event_id = format!("other-{i}").into();
            elsewhere.timestamp_ms += 1;
            elsewhere.host_name = "another-host".into();
            elsewhere.process_pid = Some(4);
            all.push(elsewhere);
            let mut input = e.clone();
            let cl = input.process_command_line.as_deref().unwrap_or("");
            input.process_command_line = Some(format!("{cl} /{i}").into());
            all.push(input);
        }
        let mut row = Vec::new();
        let want: Vec<u32> = all
            .iter()
            .map(|e| bundle.score_one(e, &mut row).probability.to_bits())
            .collect();
        let distinct = |v: &[u32]| v.iter().collect::<std::collections::HashSet<_>>().len();
        assert!(
            distinct(&want) > 10,
            "{recipe}: {} distinct scores",
            distinct(&want)
        );
        for round in 0..2 {
            let got: Vec<u32> = bundle
                .score(&all)
                .iter()
                .map(|s| s.probability.to_bits())
                .collect();
            assert_eq!(got, want, "{recipe}, round {round}");
        }
    }
}

/// Scoring encodes only the columns the trees read; a full row predicts the same.
#[test]
fn scoring_reads_only_the_model_columns_and_agrees_with_full_rows() {
    let (_t, b) = bundle_dir();
    let bundle = Bundle::load(&b).unwrap();
    let read = bundle.model.read_columns().expect("a tree model");
    assert!(
        read.iter().any(|r| !r),
        "the fixture model reads every column: nothing to skip"
    );
    let events: Vec<_> = (0..2).flat_map(common::events).take(400).collect();
    let full = bundle.pipeline.transform(&events);
    let scored = bundle.score(&events);
    for (i, s) in scored.iter().enumerate() {
        let raw = bundle.model.predict_proba_row(full.row(i));
        let want = bundle.calibration().apply(raw);
        assert_eq!(want.to_bits(), s.probability.to_bits(), "event {i}");
    }
}
