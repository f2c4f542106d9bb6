use lotl_events::{EventSource, Label, ProcessEvent};
use lotl_report::gate::{compare, Baseline};
use lotl_report::metrics::cluster_metrics;
use lotl_report::{evaluate_scores, write_report, AlertPoint, Data, ModelScores, WriteOptions};
use std::path::Path;

fn ev(id: &str, host: &str, t_ms: i64, label: Option<Label>) -> ProcessEvent {
    ProcessEvent {
        timestamp_ms: t_ms,
        event_id: id.into(),
        host_name: host.into(),
        source: Some(EventSource::Sysmon1),
        process_name: Some("cmd.exe".into()),
        parent_name: Some("explorer.exe".into()),
        label,
        ..Default::default()
    }
}

fn mal(id: &str, host: &str, t: i64, scenario: &str, tech: &str) -> ProcessEvent {
    ProcessEvent {
        scenario_id: Some(scenario.into()),
        technique: Some(tech.into()),
        ..ev(id, host, t, Some(Label::Malicious))
    }
}

fn model(name: &str, probs: Vec<f32>, alerts: Option<Vec<AlertPoint>>) -> ModelScores {
    ModelScores {
        name: name.into(),
        bundle: format!("models/{name}"),
        experiment: Some("test".into()),
        recipe: Some("lotl v1".into()),
        git_commit: None,
        threshold: 0.5,
        probs,
        alerts,
        cluster_note: None,
    }
}

/// Four labelled events (two sources, two techniques, one benign family) and one unlabelled.
fn hand_made() -> Vec<ProcessEvent> {
    let mut a = mal("m1", "h3", 0, "s1", "T1059");
    let mut b = ev("b1", "h1", 1_000, Some(Label::Benign));
    b.family = Some("installer".into());
    let mut c = mal("m2", "h3", 2_000, "s1", "T1218");
    let mut d = ev("b2", "h1", 3_000, Some(Label::Benign));
    c.source = Some(EventSource::Security4688);
    d.source = Some(EventSource::Security4688);
    a.source = Some(EventSource::Sysmon1);
    b.source = Some(EventSource::Sysmon1);
    let u = ev("u1", "h1", 4_000, None);
    vec![a, b, c, d, u]
}

const PROBS: [f32; 5] = [0.8, 0.6, 0.4, 0.2, 0.99];

fn close(a: Option<f64>, b: f64) {
    let a = a.expect("metric available");
    assert!((a - b).abs() < 1e-6, "{a} != {b}");
}

#[test]
fn metrics_on_hand_made_data() {
    let data = Data {
        events: hand_made(),
        description: "hand-made".into(),
    };
    let e = evaluate_scores(data, vec![model("m", PROBS.to_vec(), None)]).unwrap();
    let r = &e.report;
    assert_eq!((r.data.events, r.data.unlabelled), (5, 1));
    let o = &r.models[0].metrics.overall;
    // The unlabelled event (0.99) is kept out: labels [1,0,1,0], scores [.8,.6,.4,.2].
    assert_eq!((o.n, o.malicious, o.benign), (4, 2, 2));
    close(o.roc_auc, 0.75);
    close(o.pr_auc, 0.5 + 0.5 * 2.0 / 3.0);
    close(o.recall_at_fpr_0_1pct, 0.5);
    close(o.recall_at_fpr_5pct, 0.5);
    close(o.precision_at_threshold, 0.5);
    close(o.recall_at_threshold, 0.5);
    close(o.fpr_at_threshold, 0.5);
    // |1-.8| + |0-.6| + |1-.4| + |0-.2| over 4 rows, one per bin.
    close(o.ece, 0.4);
    assert_eq!(
        (
            o.confusion.tp,
            o.confusion.fp,
            o.confusion.tn,
            o.confusion.fn_
        ),
        (1, 1, 1, 1)
    );
    let m = &r.models[0].metrics;
    close(m.per_source["sysmon-1"].roc_auc, 1.0);
    close(m.per_source["security-4688"].roc_auc, 1.0);
    close(m.per_source["security-4688"].recall_at_threshold, 0.0);
    // Technique slices: the technique's malicious events against all benign ones.
    close(m.per_technique["T1059"].roc_auc, 1.0);
    close(m.per_technique["T1218"].roc_auc, 0.5);
    close(m.per_technique["T1218"].recall_at_threshold, 0.0);
    assert_eq!(m.per_technique["T1218"].n, 3);
    // Family slice: the family's benign events against all malicious ones.
    close(m.per_family["installer"].fpr_at_threshold, 1.0);
    close(m.per_family["installer"].roc_auc, 0.5);
    assert!(!m.per_family.contains_key("(none)"));
}

#[test]
fn one_class_data_gives_null_not_nan() {
    let events: Vec<ProcessEvent> = (0..4)
        .map(|i| ev(&format!("b{i}"), "h1", i * 1000, Some(Label::Benign)))
        .collect();
    let data = Data {
        events,
        description: "benign only".into(),
    };
    let e = evaluate_scores(data, vec![model("m", vec![0.1, 0.2, 0.7, 0.3], None)]).unwrap();
    let o = &e.report.models[0].metrics.overall;
    assert_eq!(o.roc_auc, None);
    assert_eq!(o.pr_auc, None);
    assert_eq!(o.recall_at_fpr_1pct, None);
    assert_eq!(o.recall_at_threshold, None);
    assert_eq!(o.ece, None);
    close(o.fpr_at_threshold, 0.25);
    let json = serde_json::to_string(&e.report).unwrap();
    assert!(json.contains("\"roc_auc\":null"), "{json}");
    assert!(!json.contains("NaN"));
    // No labels at all: every metric is null, nothing panics, the report still writes.
    let unl: Vec<ProcessEvent> = (0..3).map(|i| ev(&format!("u{i}"), "h", i, None)).collect();
    let e = evaluate_scores(
        Data {
            events: unl,
            description: "unlabelled".into(),
        },
        vec![model("m", vec![0.5; 3], Some(vec![]))],
    )
    .unwrap();
    assert_eq!(e.report.models[0].metrics.overall.n, 0);
    assert_eq!(
        e.report.models[0].metrics.overall.precision_at_threshold,
        None
    );
    let dir = tempfile::tempdir().unwrap();
    write_report(&e, dir.path(), &WriteOptions::default(), None).unwrap();
    let text = std::fs::read_to_string(dir.path().join("metrics.json")).unwrap();
    assert!(!text.contains("NaN"));
}

#[test]
fn cluster_metrics_on_hand_made_alerts() {
    let day = 86_400_000;
    let t0 = 1_000_000;
    let events = vec![
        mal("m1", "h3", t0, "s1", "T1059"),
        mal("m2", "h3", t0 + 60_000, "s1", "T1059"),
        mal("m3", "h4", t0, "s2", "T1218"),
        ev("b1", "h1", t0, Some(Label::Benign)),
        ev("b2", "h1", t0 + day, Some(Label::Benign)),
        ev("b3", "h2", t0, Some(Label::Benign)),
        ev("b4", "h3", t0, Some(Label::Benign)),
    ];
    let alerts = vec![
        AlertPoint {
            time_ms: t0 + 900_000,
            host: "h3".into(),
            event_ids: vec!["m2".into(), "b4".into()],
        },
        AlertPoint {
            time_ms: t0 + 1_800_000,
            host: "h3".into(),
            event_ids: vec!["m1".into()],
        },
        AlertPoint {
            time_ms: t0 + 900_000,
            host: "h1".into(),
            event_ids: vec!["b1".into()],
        },
    ];
    let c = cluster_metrics(&events, &alerts);
    assert_eq!((c.scenarios, c.scenarios_alerted), (2, 1));
    close(c.scenario_recall, 0.5);
    // h3 and h4 are attacked; h1 has two days, h2 one.
    assert_eq!(
        (c.benign_hosts, c.benign_host_days, c.benign_host_alerts),
        (2, 3, 1)
    );
    close(c.alerts_per_benign_host_day, 1.0 / 3.0);
    close(c.alert_precision, 2.0 / 3.0);
    close(c.time_to_alert.median_s, 900.0);
    assert_eq!(c.per_scenario["s1"], Some(900.0));
    assert_eq!(c.per_scenario["s2"], None);
    // No alerts: rates that divide by alerts are unavailable, not NaN.
    let none = cluster_metrics(&events, &[]);
    assert_eq!(none.alert_precision, None);
    close(none.scenario_recall, 0.0);
    assert_eq!(none.time_to_alert.median_s, None);
}

fn two_models() -> lotl_report::Evaluation {
    let data = Data {
        events: hand_made(),
        description: "hand-made".into(),
    };
    evaluate_scores(
        data,
        vec![
            model("old", PROBS.to_vec(), Some(vec![])),
            model("new", vec![0.9, 0.1, 0.7, 0.2, 0.5], Some(vec![])),
        ],
    )
    .unwrap()
}

#[test]
fn baseline_gate_fails_beyond_tolerance_only() {
    let e = two_models();
    let p = Path::new("baseline.json");
    let base = Baseline::of(&e.report);
    assert!(base.metrics.contains_key("old/overall/roc_auc"));
    assert!(base.metrics.contains_key("new/cluster/scenario_recall"));
    // Same numbers: passes.
    let g = compare(&base, p, &e.report, 0.005).unwrap();
    assert!(g.passed() && g.compared > 10, "{g:?}");
    // Baseline ROC-AUC 0.01 better than now: fails at 0.005, passes at 0.02.
    let mut better = base.clone();
    *better.metrics.get_mut("old/overall/roc_auc").unwrap() = Some(0.76);
    // Lower-is-better: baseline ECE 0.004 lower than now is within 0.005.
    let ece = better.metrics["old/overall/ece"].unwrap();
    *better.metrics.get_mut("old/overall/ece").unwrap() = Some(ece - 0.004);
    let g = compare(&better, p, &e.report, 0.005).unwrap();
    assert_eq!(g.regressions.len(), 1, "{g:?}");
    assert_eq!(g.regressions[0].key, "old/overall/roc_auc");
    assert!(g.table().contains("old/overall/roc_auc"));
    assert!(g.table().contains("-0.0100"), "{}", g.table());
    assert!(compare(&better, p, &e.report, 0.02).unwrap().passed());
    // A metric that became unavailable is a regression.
    let mut e2 = e.clone();
    e2.report.models[0].metrics.overall.pr_auc = None;
    let g = compare(&base, p, &e2.report, 0.5).unwrap();
    assert_eq!(g.regressions[0].key, "old/overall/pr_auc");
    assert!(compare(&base, p, &e.report, -1.0).is_err());
}

#[test]
fn baseline_from_another_metric_set_names_missing_keys() {
    let e = two_models();
    let mut base = Baseline::of(&e.report);
    base.metrics
        .insert("gone/overall/roc_auc".into(), Some(0.9));
    base.metrics
        .insert("old/overall/recall_at_fpr_2pct".into(), Some(0.9));
    let err = compare(&base, Path::new("b.json"), &e.report, 0.005)
        .unwrap_err()
        .to_string();
    assert!(err.contains("gone/overall/roc_auc"), "{err}");
    assert!(err.contains("b.json"), "{err}");
    // An unknown metric name is not gated, so it is not reported missing.
    assert!(!err.contains("recall_at_fpr_2pct"), "{err}");
    // Files: a baseline.json and a full metrics.json both load; other JSON is refused.
    let dir = tempfile::tempdir().unwrap();
    write_report(
        &e,
        dir.path(),
        &WriteOptions {
            no_png: true,
            ..Default::default()
        },
        None,
    )
    .unwrap();
    let b1 = Baseline::load(&dir.path().join("baseline.json")).unwrap();
    let b2 = Baseline::load(&dir.path().join("metrics.json")).unwrap();
    assert_eq!(b1, b2);
    let other = dir.path().join("other.json");
    std::fs::write(&other, r#"{"auc": 0.9}"#).unwrap();
    let err = Baseline::load(&other).unwrap_err().to_string();
    assert!(
        err.contains("other.json") && err.contains("format"),
        "{err}"
    );
}

fn assert_well_formed_svg(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains("<svg"), "{}", path.display());
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut elements = 0;
    let mut depth = 0i32;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(_)) => {
                depth += 1;
                elements += 1
            }
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Empty(_)) => elements += 1,
            Ok(_) => {}
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
    assert_eq!(depth, 0, "{}", path.display());
    assert!(
        elements > 20,
        "{}: only {elements} elements",
        path.display()
    );
}

#[test]
fn plots_and_self_contained_html_are_written() {
    let mut e = two_models();
    e.scores[0].alerts = Some(vec![AlertPoint {
        time_ms: 2_500,
        host: "h3".into(),
        event_ids: vec!["m1".into()],
    }]);
    e.report.models[0].cluster = Some(cluster_metrics(
        &e.events,
        e.scores[0].alerts.as_deref().unwrap(),
    ));
    let dir = tempfile::tempdir().unwrap();
    let w = write_report(&e, dir.path(), &WriteOptions::default(), None).unwrap();
    let svgs = [
        "roc",
        "pr",
        "calibration",
        "scores_old",
        "scores_new",
        "technique_recall",
        "timeline_old",
        "timeline_new",
    ];
    for s in svgs {
        assert_well_formed_svg(&dir.path().join(format!("{s}.svg")));
    }
    let roc = std::fs::read_to_string(dir.path().join("roc.svg")).unwrap();
    assert!(roc.contains("false-positive rate"));
    // One curve per model, in the model colours.
    assert!(
        roc.contains("#1F77B4") && roc.contains("#FF7F0E"),
        "colours"
    );
    match lotl_report::plots::find_font() {
        Some(_) => {
            assert!(w.png.is_ok(), "{:?}", w.png);
            for s in svgs {
                let png = std::fs::read(dir.path().join(format!("{s}.png"))).unwrap();
                assert!(
                    png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 2000,
                    "{s}.png"
                );
            }
        }
        None => {
            assert!(w.png.unwrap_err().contains("no TrueType font"));
            assert!(!dir.path().join("roc.png").exists());
        }
    }
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), svgs.len());
    for external in [
        "src=", "<link", "href=", "url(", "https://", "<?xml", "<script",
    ] {
        assert!(
            !html.contains(external),
            "report.html refers outside itself: {external}"
        );
    }
    assert!(html.contains("new − old"), "comparison columns");
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(
        md.contains("| roc_auc | 0.7500 | 1.0000 | +0.2500 |"),
        "{md}"
    );
    assert!(md.contains("![roc]("));
}

#[test]
fn no_png_means_svg_only() {
    let e = two_models();
    let dir = tempfile::tempdir().unwrap();
    let w = write_report(
        &e,
        dir.path(),
        &WriteOptions {
            no_png: true,
            font: None,
        },
        None,
    )
    .unwrap();
    assert!(w.png.is_err());
    assert!(dir.path().join("roc.svg").is_file());
    assert!(!dir.path().join("roc.png").exists());
}
