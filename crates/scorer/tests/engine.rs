mod common;

use common::*;
use lotl_scorer::{detect, Alert, Engine, Exceptions, ReplayInput, RuleConfig};
use std::collections::BTreeSet;

fn parent_alerts<'a>(alerts: &'a [Alert], parent: &str) -> Vec<&'a Alert> {
    alerts
        .iter()
        .filter(|a| a.anomaly.job_id == "high_sum_by_parent" && a.anomaly.by_field_value == parent)
        .collect()
}

fn keys(alerts: &[Alert]) -> Vec<(String, String, i64)> {
    alerts
        .iter()
        .map(|a| {
            (
                a.anomaly.job_id.clone(),
                a.anomaly.by_field_value.clone(),
                a.anomaly.timestamp_ms,
            )
        })
        .collect()
}

#[test]
fn malicious_burst_under_one_parent_raises_one_alert_with_its_cluster() {
    let mut fleet = Fleet::new(1);
    let model = fitted(&mut fleet, 7);
    let day = fleet.normal(T0, T0 + DAY);
    let at = T0 + 14 * 60 * MIN + 3 * MIN;
    let burst = fleet.burst(at, "ws03", "winword.exe", 8);
    let burst_ids: BTreeSet<String> = burst.iter().map(|e| e.event.event_id.to_string()).collect();
    let events = merge(day, burst);
    let alerts = detect(&model, &RuleConfig::default(), &events, None, None).unwrap();
    let hits = parent_alerts(&alerts, "winword.exe");
    assert_eq!(hits.len(), 1, "{alerts:#?}");
    let a = hits[0];
    assert!(a.anomaly.record_score >= 75.0, "{}", a.anomaly.record_score);
    assert!(a.anomaly.initial_record_score >= 75.0);
    assert_eq!(a.anomaly.timestamp_ms, T0 + 14 * 60 * MIN);
    assert_eq!(a.kibana.alert.rule.rule_id, "lotl-high_sum_by_parent");
    assert_eq!(a.kibana.alert.severity, "low");
    assert_eq!(a.kibana.alert.risk_score, 21);
    assert_eq!(a.threat[0].tactic.id, "TA0005");
    let techniques: Vec<&str> = a.threat[0]
        .technique
        .iter()
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(techniques, ["T1036", "T1218"]);
    // The cluster is exactly the burst (the parent had no false positive in that bucket or
    // if it had, the burst is all of the top children).
    let ids: BTreeSet<String> = a
        .cluster
        .children
        .iter()
        .map(|c| c.event.id.clone())
        .collect();
    assert!(burst_ids.is_subset(&ids), "{ids:?}");
    assert!(a
        .cluster
        .children
        .iter()
        .all(|c| c.host.name == "ws03" || !burst_ids.contains(&c.event.id)));
    assert!(!a.cluster.children[0].problemchild.top_features.is_empty());
    let infl: Vec<&str> = a
        .influencers
        .iter()
        .map(|i| i.influencer_field_name.as_str())
        .collect();
    assert!(
        infl.contains(&"process.name") && infl.contains(&"host.name"),
        "{infl:?}"
    );
    // Nothing else in an ordinary day reaches the threshold.
    assert_eq!(alerts.len(), 1, "{:?}", keys(&alerts));
    // NDJSON round trip of the alert.
    let line = serde_json::to_string(a).unwrap();
    assert!(line.contains("\"@timestamp\"") && !line.contains('\n'));
    let back: Alert = serde_json::from_str(&line).unwrap();
    assert_eq!(back.cluster, a.cluster);
    assert_eq!(back.kibana, a.kibana);
    assert!((back.anomaly.probability / a.anomaly.probability - 1.0).abs() < 1e-12);
}

#[test]
fn the_same_parents_normal_activity_raises_nothing() {
    let mut fleet = Fleet::new(2);
    let model = fitted(&mut fleet, 7);
    // Two ordinary days, with winword's usual single false positives.
    let days = fleet.normal(T0, T0 + 2 * DAY);
    assert!(days
        .iter()
        .any(|e| e.prediction == 1 && e.event.parent_name.as_deref() == Some("winword.exe")));
    let alerts = detect(&model, &RuleConfig::default(), &days, None, None).unwrap();
    assert!(alerts.is_empty(), "{:?}", keys(&alerts));
}

#[test]
fn a_benign_installer_burst_raises_nothing() {
    let mut fleet = Fleet::new(3);
    let model = fitted(&mut fleet, 7);
    let day = fleet.normal(T0, T0 + DAY);
    // A larger install than usual, at night: 40 children, most below the datafeed threshold.
    let install = fleet.installer(T0 + 2 * 60 * MIN, 40);
    let passing = install.iter().filter(|e| e.prediction == 1).count();
    assert!(
        passing >= 5,
        "the test needs some children through the datafeed: {passing}"
    );
    let alerts = detect(
        &model,
        &RuleConfig::default(),
        &merge(day, install),
        None,
        None,
    )
    .unwrap();
    assert!(
        parent_alerts(&alerts, "msiexec.exe").is_empty(),
        "{:?}",
        keys(&alerts)
    );
}

#[test]
fn exceptions_suppress_whole_clusters_and_remove_excepted_children() {
    let mut fleet = Fleet::new(4);
    let model = fitted(&mut fleet, 7);
    let day = fleet.normal(T0, T0 + DAY);
    let burst = fleet.burst(T0 + 10 * 60 * MIN, "ws05", "excel.exe", 8);
    let events = merge(day, burst);
    let base = detect(&model, &RuleConfig::default(), &events, None, None).unwrap();
    assert_eq!(
        parent_alerts(&base, "excel.exe").len(),
        1,
        "{:?}",
        keys(&base)
    );

    for exceptions in [
        Exceptions {
            parent_names: vec!["EXCEL.EXE".into()],
            ..Default::default()
        },
        Exceptions {
            hosts: vec!["ws05".into()],
            ..Default::default()
        },
        Exceptions {
            command_line_substrings: vec!["evil.example".into()],
            ..Default::default()
        },
    ] {
        let rule = RuleConfig {
            exceptions: exceptions.clone(),
            ..Default::default()
        };
        let alerts = detect(&model, &rule, &events, None, None).unwrap();
        assert!(
            parent_alerts(&alerts, "excel.exe").is_empty(),
            "{exceptions:?}"
        );
    }
    // Excepting one tool keeps the alert but drops that tool from the cluster.
    let rule = RuleConfig {
        exceptions: Exceptions {
            executables: vec!["certutil.exe".into()],
            ..Default::default()
        },
        ..Default::default()
    };
    let alerts = detect(&model, &rule, &events, None, None).unwrap();
    let hit = parent_alerts(&alerts, "excel.exe");
    assert_eq!(hit.len(), 1);
    let before = parent_alerts(&base, "excel.exe")[0].cluster.size;
    assert_eq!(hit[0].cluster.size, before - 1);
    assert!(hit[0]
        .cluster
        .children
        .iter()
        .all(|c| c.process.name.as_deref() != Some("certutil.exe")));
}

#[test]
fn exceptions_are_read_from_toml_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("e.toml");
    std::fs::write(
        &t,
        "parent_names = [\"SCCM.exe\"]\ncommand_line_substrings = [\"Backup\"]\n",
    )
    .unwrap();
    let e = Exceptions::from_file(&t).unwrap();
    assert_eq!(e.parent_names, ["sccm.exe"]);
    assert_eq!(e.command_line_substrings, ["backup"]);
    let j = dir.path().join("e.json");
    std::fs::write(&j, r#"{"users": ["Admin"], "hosts": ["DC01"]}"#).unwrap();
    let e = Exceptions::from_file(&j).unwrap();
    assert_eq!(e.users, ["admin"]);
    std::fs::write(&j, r#"{"usrs": ["x"]}"#).unwrap();
    let err = Exceptions::from_file(&j).unwrap_err().to_string();
    assert!(err.contains("e.json") && err.contains("usrs"), "{err}");
}

#[test]
fn at_most_max_alerts_per_execution_and_the_rest_follow() {
    let mut fleet = Fleet::new(5);
    let model = fitted(&mut fleet, 3);
    let at = T0 + 60 * MIN;
    let mut events = fleet.normal(T0, T0 + 3 * 60 * MIN);
    for i in 0..150 {
        events.extend(fleet.burst(at + i, "ws01", &format!("tool{i:03}.exe"), 6));
    }
    events.sort_by_key(|e| e.event.timestamp_ms);
    // 150 simultaneous anomalies cannot all rank in the top 0.5% of a short history
    // (quantile normalisation); a low threshold isolates the cap.
    let rule = RuleConfig {
        anomaly_threshold: 1.0,
        ..Default::default()
    };
    let alerts = detect(&model, &rule, &events, None, None).unwrap();
    let tools: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.anomaly.by_field_value.starts_with("tool"))
        .collect();
    assert_eq!(tools.len(), 150);
    let mut per_exec: std::collections::BTreeMap<&str, usize> = Default::default();
    for a in &alerts {
        *per_exec.entry(a.timestamp.as_str()).or_default() += 1;
    }
    assert!(per_exec.values().all(|&n| n <= 100), "{per_exec:?}");
    assert_eq!(per_exec.values().max(), Some(&100));
    let k = keys(&alerts);
    assert_eq!(
        k.iter().collect::<BTreeSet<_>>().len(),
        k.len(),
        "duplicate alerts"
    );
}

#[test]
fn overlapping_lookbacks_never_repeat_an_alert() {
    let mut fleet = Fleet::new(6);
    let model = fitted(&mut fleet, 7);
    let mut events = fleet.normal(T0, T0 + 2 * DAY);
    for (h, p) in [
        (2, "outlook.exe"),
        (9, "wmiprvse.exe"),
        (30, "excel.exe"),
        (31, "winword.exe"),
    ] {
        events.extend(fleet.burst(T0 + h * 60 * MIN + 7 * MIN, "ws07", p, 7));
    }
    events.sort_by_key(|e| e.event.timestamp_ms);
    let rule = RuleConfig::default();
    let alerts = detect(&model, &rule, &events, None, None).unwrap();
    let k = keys(&alerts);
    assert!(k.len() >= 4, "{k:?}");
    assert_eq!(k.iter().collect::<BTreeSet<_>>().len(), k.len(), "{k:?}");
    // Every bucket is inside three look-backs: the engine did run them.
    let mut engine = Engine::new(model.clone(), rule).unwrap();
    lotl_scorer::replay(&mut engine, &events, None, None).unwrap();
    assert!(engine.stats().executions >= 2 * 96, "{:?}", engine.stats());
}

#[test]
fn a_replay_holding_only_kept_events_matches_pushing_every_event_in_time_order() {
    let mut fleet = Fleet::new(11);
    let model = fitted(&mut fleet, 7);
    let mut events = fleet.normal(T0, T0 + DAY);
    events.extend(fleet.burst(T0 + 9 * 60 * MIN + 4 * MIN, "ws05", "excel.exe", 7));
    // A monitoring agent's own process, confidently malicious: the datafeed never sees it,
    // so the replay must not hold it (its name is what decides).
    events.push(fleet.event(
        T0 + 9 * 60 * MIN + 5 * MIN,
        "ws05",
        "excel.exe",
        "elastic-agent.exe",
        "run",
        1,
        0.99,
    ));
    events.sort_by_key(|e| e.event.timestamp_ms);
    let mut reference = Engine::new(model.clone(), RuleConfig::default()).unwrap();
    let mut expected = Vec::new();
    for e in &events {
        expected.extend(reference.push(e).unwrap());
    }
    expected.extend(reference.finish().unwrap());
    assert!(!parent_alerts(&expected, "excel.exe").is_empty());

    // The same events in another order: times in random order, equal times in their order.
    let mut groups: Vec<(u64, &[lotl_cluster::ScoredEvent])> = events
        .chunk_by(|a, b| a.event.timestamp_ms == b.event.timestamp_ms)
        .map(|g| (fleet.rng.next_u64(), g))
        .collect();
    groups.sort_unstable_by_key(|g| g.0);
    let mut input = ReplayInput::new(&model, None, None);
    for e in groups.iter().flat_map(|g| g.1) {
        input.push(e.clone());
    }
    let datafeed = &model.params().datafeed;
    let accepted = events.iter().filter(|e| datafeed.accepts(e)).count();
    assert_eq!(input.len(), events.len());
    assert_eq!(input.kept(), accepted);
    assert!(
        accepted * 4 < events.len(),
        "{accepted} of {}",
        events.len()
    );
    let mut engine = Engine::new(model.clone(), RuleConfig::default()).unwrap();
    let (alerts, pushed) = input.run(&mut engine).unwrap();
    assert_eq!(pushed, events.len());
    assert_eq!(
        serde_json::to_string(&alerts).unwrap(),
        serde_json::to_string(&expected).unwrap()
    );
    assert_eq!(engine.to_json().unwrap(), reference.to_json().unwrap());
}

fn run_with_restarts(
    model: &lotl_cluster::ClusterModel,
    events: &[lotl_cluster::ScoredEvent],
    cuts: &[usize],
    dir: &std::path::Path,
) -> (Vec<Alert>, String) {
    let state = dir.join("state.json");
    let mut engine = Engine::new(model.clone(), RuleConfig::default()).unwrap();
    let mut alerts = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if cuts.contains(&i) {
            engine.save(&state).unwrap();
            drop(engine);
            engine = Engine::load(&state).unwrap();
        }
        alerts.extend(engine.push(e).unwrap());
    }
    alerts.extend(engine.finish().unwrap());
    (alerts, engine.to_json().unwrap())
}

#[test]
fn kill_and_restart_gives_the_same_alerts_as_an_uninterrupted_run() {
    let mut fleet = Fleet::new(7);
    let model = fitted(&mut fleet, 7);
    let mut events = fleet.normal(T0, T0 + DAY);
    events.extend(fleet.burst(T0 + 5 * 60 * MIN, "ws02", "winword.exe", 6));
    events.extend(fleet.burst(T0 + 17 * 60 * MIN + 14 * MIN, "ws04", "outlook.exe", 9));
    events.sort_by_key(|e| e.event.timestamp_ms);
    let dir = tempfile::tempdir().unwrap();
    let (plain, plain_state) = run_with_restarts(&model, &events, &[], dir.path());
    assert!(plain.len() >= 2, "{:?}", keys(&plain));
    // Cut inside the bursts' buckets, at a bucket boundary and elsewhere.
    let n = events.len();
    let in_burst = events
        .iter()
        .position(|e| e.event.parent_name.as_deref() == Some("outlook.exe") && e.probability > 0.9)
        .unwrap();
    let cuts = [1, n / 7, n / 3, in_burst + 2, in_burst + 5, n - 1];
    let (restarted, restarted_state) = run_with_restarts(&model, &events, &cuts, dir.path());
    assert_eq!(
        serde_json::to_string(&plain).unwrap(),
        serde_json::to_string(&restarted).unwrap()
    );
    assert_eq!(plain_state, restarted_state);
}

#[test]
fn state_is_replaced_atomically() {
    let mut fleet = Fleet::new(8);
    let model = fitted(&mut fleet, 2);
    let events = fleet.normal(T0, T0 + 60 * MIN);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let mut engine = Engine::new(model, RuleConfig::default()).unwrap();
    engine.save(&path).unwrap();
    let old_text = std::fs::read_to_string(&path).unwrap();
    // A reader holding the old file keeps seeing the complete old state while it is
    // replaced: the new state is written elsewhere and renamed over it, never in place.
    let mut held = std::fs::File::open(&path).unwrap();
    for e in &events {
        engine.push(e).unwrap();
    }
    engine.save(&path).unwrap();
    let mut via_old = String::new();
    std::io::Read::read_to_string(&mut held, &mut via_old).unwrap();
    assert_eq!(via_old, old_text);
    let new_text = std::fs::read_to_string(&path).unwrap();
    assert_ne!(new_text, old_text);
    assert_eq!(Engine::load(&path).unwrap().to_json().unwrap(), new_text);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "state.json")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A truncated state file is an error naming the file, not a panic.
    std::fs::write(&path, &new_text[..new_text.len() / 2]).unwrap();
    let err = Engine::load(&path).unwrap_err().to_string();
    assert!(err.contains("state.json"), "{err}");
}

#[test]
fn late_events_are_counted_not_scored_and_from_to_bound_the_replay() {
    let mut fleet = Fleet::new(9);
    let model = fitted(&mut fleet, 2);
    let mut engine = Engine::new(model.clone(), RuleConfig::default()).unwrap();
    let a = fleet.burst(T0 + 60 * MIN, "ws01", "cmd.exe", 1);
    let b = fleet.burst(T0, "ws01", "cmd.exe", 1);
    engine.push(&a[0]).unwrap();
    engine
        .push(&fleet.burst(T0 + 2 * 60 * MIN, "ws01", "cmd.exe", 1)[0])
        .unwrap();
    engine.push(&b[0]).unwrap();
    assert_eq!(engine.stats().late, 1);
    // A burst outside [from, to) is not seen.
    let mut events = fleet.normal(T0, T0 + DAY);
    events.extend(fleet.burst(T0 + 20 * 60 * MIN, "ws02", "winword.exe", 8));
    events.sort_by_key(|e| e.event.timestamp_ms);
    let all = detect(&model, &RuleConfig::default(), &events, None, None).unwrap();
    assert_eq!(parent_alerts(&all, "winword.exe").len(), 1);
    let early = detect(
        &model,
        &RuleConfig::default(),
        &events,
        Some(T0),
        Some(T0 + 12 * 60 * MIN),
    )
    .unwrap();
    assert!(parent_alerts(&early, "winword.exe").is_empty());
}

#[test]
fn summary_table_lists_each_alert() {
    let mut fleet = Fleet::new(10);
    let model = fitted(&mut fleet, 7);
    let events = merge(
        fleet.normal(T0, T0 + DAY),
        fleet.burst(T0 + 9 * 60 * MIN, "ws01", "winword.exe", 8),
    );
    let alerts = detect(&model, &RuleConfig::default(), &events, None, None).unwrap();
    let table = lotl_scorer::summary_table(&alerts);
    assert!(
        table.contains("winword.exe") && table.contains("high_sum_by_parent"),
        "{table}"
    );
    assert_eq!(table.lines().count(), alerts.len() + 2);
}
