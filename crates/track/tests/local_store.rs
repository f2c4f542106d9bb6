//! The local run store: layout, atomic writes, read-back, failure marking, comparison.

use lotl_track::report::{render_list, render_run, Comparison};
use lotl_track::{
    start_run, LocalStore, Metric, Run, RunStatus, TrackError, Tracker, TrackingConfig,
};
use std::path::Path;

fn kv(k: &str, v: &str) -> (String, String) {
    (k.to_owned(), v.to_owned())
}

fn artifact_sources(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let file = dir.join("report.json");
    std::fs::write(&file, b"{\"auc\": 0.98}\n").unwrap();
    let bundle = dir.join("bundle");
    std::fs::create_dir_all(bundle.join("nested")).unwrap();
    std::fs::write(bundle.join("model.json"), b"trees").unwrap();
    std::fs::write(bundle.join("nested/recipe.toml"), b"recipe = 1").unwrap();
    (file, bundle)
}

#[test]
fn a_run_round_trips_through_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = TrackingConfig::local(tmp.path().join("runs"));
    let (file, bundle) = artifact_sources(tmp.path());
    let mut run = start_run(
        &cfg,
        "lotl-train",
        "depth 6",
        &[kv("lotl.version", "0.1.0")],
    )
    .unwrap()
    .quiet();
    run.log_params([("learning_rate", "0.1"), ("max_depth", "6")]);
    run.log_param("recipe", "elastic2021");
    for step in 0..5 {
        run.log_metric("train_loss", 1.0 / (step + 1) as f64, step);
        run.log_metric_at(
            "valid_loss",
            2.0 / (step + 1) as f64,
            step,
            1_700_000_000_000 + step,
        );
    }
    run.log_metric("weird", f64::NAN, 0);
    run.log_artifact(&file, None);
    run.log_artifact(&bundle, Some("model/bundle"));
    run.set_tag("dataset.train.xxh3", "abc");
    let id = run.id().to_owned();
    assert!(run.warnings().is_empty(), "{:?}", run.warnings());
    run.finish().unwrap();

    let store = LocalStore::new(cfg.tracking_dir.clone());
    let rec = store.load(&id).unwrap();
    assert_eq!(rec.meta.status, RunStatus::Finished);
    assert_eq!(rec.meta.experiment, "lotl-train");
    assert_eq!(rec.meta.run_name, "depth 6");
    assert!(rec.meta.end_time.unwrap() >= rec.meta.start_time);
    assert_eq!(
        rec.meta.tags.get("lotl.version").map(String::as_str),
        Some("0.1.0")
    );
    assert_eq!(
        rec.meta.tags.get("dataset.train.xxh3").map(String::as_str),
        Some("abc")
    );
    assert_eq!(rec.params.len(), 3);
    assert_eq!(rec.params["max_depth"], "6");
    let hist = rec.history("valid_loss");
    assert_eq!(hist.len(), 5);
    assert_eq!(
        hist.iter().map(|m| m.step).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
    assert_eq!(hist[2].timestamp, 1_700_000_000_002);
    assert_eq!(hist[4].value, 0.4);
    let last = rec.last_metrics();
    assert_eq!(last["train_loss"].value, 0.2);
    assert!(
        last["weird"].value.is_nan(),
        "NaN survives the JSON round trip"
    );
    let paths: Vec<&str> = rec.artifacts.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "model/bundle/model.json",
            "model/bundle/nested/recipe.toml",
            "report.json"
        ]
    );
    assert_eq!(
        std::fs::read(rec.dir.join("artifacts/model/bundle/nested/recipe.toml")).unwrap(),
        b"recipe = 1"
    );
    // Layout: the files the issue promises, and no temp files left behind.
    let mut names: Vec<String> = std::fs::read_dir(&rec.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec!["artifacts", "meta.json", "metrics.ndjson", "params.json"]
    );
    let lines = std::fs::read_to_string(rec.dir.join("metrics.ndjson")).unwrap();
    assert_eq!(lines.lines().count(), 11);
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    for field in ["key", "value", "step", "timestamp"] {
        assert!(first.get(field).is_some(), "{field} in {first}");
    }

    let shown = render_run(&rec);
    assert!(
        shown.contains("FINISHED")
            && shown.contains("learning_rate")
            && shown.contains("(5 logged)"),
        "{shown}"
    );
}

#[test]
fn a_dropped_run_is_failed_and_a_panicking_one_too() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = TrackingConfig::local(tmp.path());
    let store = LocalStore::new(tmp.path());

    let run = start_run(&cfg, "e", "early return", &[]).unwrap().quiet();
    let id = run.id().to_owned();
    assert_eq!(store.load(&id).unwrap().meta.status, RunStatus::Running);
    let work = |run: Run| -> Result<(), String> {
        let _run = run;
        Err("training diverged".into())
    };
    assert!(work(run).is_err());
    let rec = store.load(&id).unwrap();
    assert_eq!(rec.meta.status, RunStatus::Failed);
    assert!(rec.meta.end_time.is_some());

    let run = start_run(&cfg, "e", "panics", &[]).unwrap().quiet();
    let id = run.id().to_owned();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let mut run = run;
        run.log_metric("loss", 1.0, 0);
        panic!("boom");
    }));
    assert!(r.is_err());
    assert_eq!(store.load(&id).unwrap().meta.status, RunStatus::Failed);

    let run = start_run(&cfg, "e", "killed", &[]).unwrap().quiet();
    let id = run.id().to_owned();
    run.end(RunStatus::Killed).unwrap();
    assert_eq!(store.load(&id).unwrap().meta.status, RunStatus::Killed);
}

#[test]
fn params_are_write_once() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = LocalStore::new(tmp.path());
    let h = store.start_run("e", "r", &[]).unwrap();
    store.log_params(&h, &[kv("a", "1")]).unwrap();
    store.log_params(&h, &[kv("a", "1"), kv("b", "2")]).unwrap();
    let err = store
        .log_params(&h, &[kv("c", "3"), kv("a", "2")])
        .unwrap_err();
    assert!(err.to_string().contains("cannot change"), "{err}");
    store.end_run(&h, RunStatus::Finished).unwrap();
    let rec = store.load(&h.run_id).unwrap();
    // The rejected call wrote nothing, not even its valid part.
    assert_eq!(rec.params.keys().collect::<Vec<_>>(), vec!["a", "b"]);
    assert_eq!(rec.params["a"], "1");
}

#[test]
fn a_failed_log_becomes_a_warning_not_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = TrackingConfig::local(tmp.path());
    let mut run = start_run(&cfg, "e", "r", &[]).unwrap().quiet();
    run.log_param("a", 1);
    run.log_param("a", 2);
    run.log_artifact(Path::new("/nonexistent/file"), None);
    run.log_artifact(&tmp.path().join("x"), Some("../escape"));
    assert_eq!(run.warnings().len(), 3, "{:?}", run.warnings());
    assert!(run.warnings()[0].contains("cannot change"));
    assert!(run.warnings()[1].contains("/nonexistent/file"));
    assert!(run.warnings()[2].contains(".."));
    run.finish().unwrap();
}

#[test]
fn json_files_are_replaced_atomically() {
    // A reader polling meta.json while a writer rewrites it must only ever see whole
    // documents: a truncate-then-write would show empty or partial files.
    let tmp = tempfile::tempdir().unwrap();
    let mut store = LocalStore::new(tmp.path());
    let h = store.start_run("e", "r", &[]).unwrap();
    let meta = tmp.path().join(&h.run_id).join("meta.json");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        let meta = meta.clone();
        std::thread::spawn(move || {
            let (mut reads, mut bad) = (0u32, 0u32);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let bytes = std::fs::read(&meta).unwrap();
                reads += 1;
                if serde_json::from_slice::<serde_json::Value>(&bytes).is_err() {
                    bad += 1;
                }
            }
            (reads, bad)
        })
    };
    for i in 0..150 {
        let big = format!("{i}").repeat(100_000 / (i + 1).to_string().len());
        store.set_tags(&h, &[("t".to_owned(), big)]).unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (reads, bad) = reader.join().unwrap();
    assert!(reads > 0);
    assert_eq!(bad, 0, "{bad} of {reads} reads saw a partial meta.json");
    let leftovers: Vec<_> = std::fs::read_dir(meta.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn a_torn_metrics_line_is_skipped_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = LocalStore::new(tmp.path());
    let h = store.start_run("e", "r", &[]).unwrap();
    store
        .log_metrics(
            &h,
            &[Metric::new("loss", 0.5, 0), Metric::new("loss", 0.25, 1)],
        )
        .unwrap();
    let path = tmp.path().join(&h.run_id).join("metrics.ndjson");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"key\":\"loss\",\"val"); // a crash mid-append
    std::fs::write(&path, text).unwrap();
    let rec = store.load(&h.run_id).unwrap();
    assert_eq!(rec.metrics.len(), 2);
    assert_eq!(rec.skipped_metric_lines, 1);
    assert!(render_run(&rec).contains("1 unreadable line"));
}

#[test]
fn list_resolve_and_compare() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = LocalStore::new(tmp.path());
    let a = store.start_run("exp", "a", &[]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let b = store.start_run("exp", "b", &[]).unwrap();
    store
        .log_params(&a, &[kv("lr", "0.1"), kv("depth", "6"), kv("only_a", "x")])
        .unwrap();
    store
        .log_params(&b, &[kv("lr", "0.05"), kv("depth", "6")])
        .unwrap();
    store
        .log_metrics(
            &a,
            &[
                Metric::new("auc", 0.90, 0),
                Metric::new("auc", 0.95, 1),
                Metric::new("loss", 0.3, 1),
            ],
        )
        .unwrap();
    store
        .log_metrics(
            &b,
            &[
                Metric::new("auc", 0.97, 3),
                Metric::new("auc", 0.10, 2),
                Metric::new("loss", 0.3, 9),
            ],
        )
        .unwrap();
    store.end_run(&a, RunStatus::Finished).unwrap();
    store.end_run(&b, RunStatus::Failed).unwrap();
    // Junk in the root does not break listing.
    std::fs::create_dir_all(tmp.path().join("not-a-run")).unwrap();
    std::fs::write(tmp.path().join("stray.txt"), b"x").unwrap();

    let runs = store.list().unwrap();
    assert_eq!(
        runs.iter().map(|r| r.run_name.as_str()).collect::<Vec<_>>(),
        vec!["b", "a"]
    );
    let listed = render_list(&runs);
    assert!(
        listed.contains(&a.run_id) && listed.contains("FAILED"),
        "{listed}"
    );

    assert_eq!(store.resolve(&a.run_id[..10]).unwrap(), a.run_id);
    assert!(matches!(
        store.resolve("zzzz"),
        Err(TrackError::RunNotFound(..))
    ));
    assert!(matches!(store.resolve(""), Err(TrackError::Invalid(_))));

    let ra = store.load(&a.run_id).unwrap();
    let rb = store.load(&b.run_id).unwrap();
    let c = Comparison::new(&ra, &rb);
    let diff: Vec<(&str, bool)> = c
        .params
        .iter()
        .map(|r| (r.key.as_str(), r.differs))
        .collect();
    assert_eq!(diff, vec![("depth", false), ("lr", true), ("only_a", true)]);
    // The last value is the one at the highest step, not the last logged.
    let auc = c.metrics.iter().find(|r| r.key == "auc").unwrap();
    assert_eq!(
        (auc.a.as_deref(), auc.b.as_deref(), auc.differs),
        (Some("0.95"), Some("0.97"), true)
    );
    let loss = c.metrics.iter().find(|r| r.key == "loss").unwrap();
    assert!(!loss.differs);
    let text = c.render();
    let marked: Vec<&str> = text.lines().filter(|l| l.starts_with('*')).collect();
    assert_eq!(marked.len(), 3, "{text}");
    assert!(
        marked
            .iter()
            .any(|l| l.contains("only_a") && l.ends_with(" -")),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("  depth")), "{text}");
}

#[test]
fn an_empty_or_missing_root_lists_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(LocalStore::new(tmp.path().join("absent"))
        .list()
        .unwrap()
        .is_empty());
    assert!(LocalStore::new(tmp.path()).list().unwrap().is_empty());
}
