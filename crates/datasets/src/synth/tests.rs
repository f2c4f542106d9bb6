use super::*;
use lotl_events::Label;
use std::collections::{BTreeMap, BTreeSet, HashMap};

fn gen(cfg: SynthConfig) -> Vec<ProcessEvent> {
    Generator::new(cfg.check().unwrap(), TemplateBank::builtin()).generate()
}

fn small() -> SynthConfig {
    SynthConfig {
        hosts: 12,
        days: 2,
        seed: 7,
        volume: 0.2,
        attack_rate: 1.0,
        benign_burst_rate: 1.0,
        ..SynthConfig::default()
    }
}

/// A fleet that reports everything (Elastic Defend only), for tests of the process trees.
fn full_fields() -> SynthConfig {
    SynthConfig {
        telemetry: [("elastic-defend".to_owned(), 1.0)].into_iter().collect(),
        ..small()
    }
}

#[test]
fn hosts_report_through_a_mix_of_sources() {
    let events = gen(SynthConfig {
        hosts: 30,
        ..small()
    });
    let signed = events
        .iter()
        .filter(|e| e.process_code_signature_exists.is_some())
        .count();
    let no_guid = events
        .iter()
        .filter(|e| e.process_entity_id.is_none())
        .count();
    let sysmon_like = events
        .iter()
        .filter(|e| e.process_entity_id.is_some() && e.process_code_signature_exists.is_none())
        .count();
    assert!(
        signed > 0 && no_guid > 0 && sysmon_like > 0,
        "{signed} {no_guid} {sysmon_like}"
    );
    // One host, one source.
    let mut by_host: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
    for e in &events {
        let k = (
            e.process_entity_id.is_some(),
            e.process_code_signature_exists.is_some(),
        );
        assert_eq!(
            *by_host.entry(&e.host_name).or_insert(k),
            k,
            "{}",
            e.host_name
        );
    }
}

fn ndjson(events: &[ProcessEvent]) -> Vec<u8> {
    let mut v = Vec::new();
    ndjson::write_ecs_ndjson(&mut v, events).unwrap();
    v
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = gen(small());
    let b = gen(small());
    assert!(!a.is_empty());
    assert_eq!(ndjson(&a), ndjson(&b));
    let c = gen(SynthConfig { seed: 8, ..small() });
    assert_ne!(ndjson(&a), ndjson(&c));
}

#[test]
fn streaming_equals_in_memory() {
    let g = Generator::new(small().check().unwrap(), TemplateBank::builtin());
    let mut streamed = Vec::new();
    g.for_each_host_day(|chunk| -> Result<(), ()> {
        streamed.extend_from_slice(chunk);
        Ok(())
    })
    .unwrap();
    let mut all = g.generate();
    // generate() is host-major per day too; compare as multisets of ids.
    let key = |e: &ProcessEvent| e.event_id.clone();
    let mut s: Vec<_> = streamed.iter().map(key).collect();
    let mut m: Vec<_> = all.drain(..).map(|e| key(&e)).collect();
    s.sort();
    m.sort();
    assert_eq!(s, m);
}

#[test]
fn ids_do_not_reveal_generation_order() {
    let events = gen(small());
    let ids: BTreeSet<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids.len(), events.len(), "event ids are unique");
    // Within a host-day, ids count up in time order, whatever was generated first.
    let mut last: HashMap<(String, String), (i64, usize)> = HashMap::new();
    for e in &events {
        let mut parts = e.event_id.rsplitn(2, '-');
        let n: usize = parts.next().unwrap().parse().unwrap();
        let hd = parts.next().unwrap().to_owned();
        if let Some((t, prev)) = last.get(&(e.host_name.to_string(), hd.clone())) {
            assert!(*t <= e.timestamp_ms && *prev < n);
        }
        last.insert((e.host_name.to_string(), hd), (e.timestamp_ms, n));
    }
}

#[test]
fn every_event_carries_ground_truth() {
    for e in gen(full_fields()) {
        assert_eq!(e.source, Some(lotl_events::EventSource::Synthetic));
        let label = e.label.expect("label");
        assert!(e.scenario_id.is_some() && e.family.is_some(), "{e:?}");
        assert!(label != Label::Unknown);
        assert_eq!(label == Label::Malicious, e.technique.is_some(), "{e:?}");
        assert_eq!(
            label == Label::Malicious,
            e.scenario_id.as_deref().unwrap().starts_with("atk-")
        );
        assert!(
            e.process_entity_id.is_some() && e.parent_entity_id.is_some() && e.user_id.is_some()
        );
    }
}

#[test]
fn families_appear_at_configured_rates() {
    let mut cfg = SynthConfig {
        hosts: 40,
        days: 3,
        volume: 0.05,
        attack_rate: 3.0,
        benign_burst_rate: 3.0,
        ..small()
    };
    cfg.attack_families.insert("wmi".into(), 3.0); // 3 of 11 weight units
    cfg.attack_families.insert("persistence".into(), 0.0);
    let events = gen(cfg.clone());
    let mut scen: BTreeMap<String, String> = BTreeMap::new();
    for e in &events {
        if let (Some(s), Some(f)) = (&e.scenario_id, &e.family) {
            if !s.starts_with("bg-") {
                scen.insert(s.to_string(), f.to_string());
            }
        }
    }
    let mut per_fam: BTreeMap<&str, f64> = BTreeMap::new();
    for f in scen.values() {
        *per_fam.entry(f.as_str()).or_default() += 1.0;
    }
    let host_days = 120.0;
    let attacks: f64 = AttackFamily::ALL
        .iter()
        .map(|f| per_fam.get(f.as_str()).copied().unwrap_or(0.0))
        .sum();
    let benign: f64 = BenignFamily::ALL
        .iter()
        .map(|f| per_fam.get(f.as_str()).copied().unwrap_or(0.0))
        .sum();
    assert!(
        (attacks / host_days - 3.0).abs() < 0.45,
        "attacks {attacks}"
    );
    assert!((benign / host_days - 3.0).abs() < 0.45, "benign {benign}");
    let params = cfg.check().unwrap();
    for (f, w) in &params.attack_families {
        let got = per_fam.get(f.as_str()).copied().unwrap_or(0.0) / attacks;
        assert!(
            (got - w).abs() < 0.05 + w * 0.35,
            "{f:?}: share {got:.3} vs weight {w:.3}"
        );
        if *w == 0.0 {
            assert_eq!(got, 0.0);
        }
    }
    for (f, w) in &params.benign_families {
        let got = per_fam.get(f.as_str()).copied().unwrap_or(0.0) / benign;
        assert!(
            (got - w).abs() < 0.05 + w * 0.35,
            "{f:?}: share {got:.3} vs weight {w:.3}"
        );
    }
}

#[test]
fn labels_agree_with_process_trees() {
    let events = gen(full_fields());
    let by_id: HashMap<&str, &ProcessEvent> = events
        .iter()
        .map(|e| (e.process_entity_id.as_deref().unwrap(), e))
        .collect();
    assert_eq!(by_id.len(), events.len(), "entity ids are unique");
    let mut roots: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &events {
        let parent = by_id.get(e.parent_entity_id.as_deref().unwrap());
        if let Some(p) = parent {
            assert!(p.timestamp_ms < e.timestamp_ms, "parent starts first");
            assert_eq!(p.host_name, e.host_name);
            if p.label == Some(Label::Malicious) {
                assert_eq!(
                    e.label,
                    Some(Label::Malicious),
                    "child of an attack process is malicious: {e:?}"
                );
                assert_eq!(p.scenario_id, e.scenario_id);
            }
        }
        if e.label == Some(Label::Malicious)
            && parent.is_none_or(|p| p.label != Some(Label::Malicious))
        {
            *roots.entry(e.scenario_id.as_deref().unwrap()).or_default() += 1;
        }
    }
    assert!(!roots.is_empty());
    for (s, n) in roots {
        assert_eq!(n, 1, "scenario {s} has one root under a benign parent");
    }
}

/// Share of malicious events whose value of a field never occurs on a benign event.
fn pure_malicious_share(
    events: &[ProcessEvent],
    field: impl Fn(&ProcessEvent) -> String,
) -> (f64, usize) {
    let mut seen: HashMap<String, (usize, usize)> = HashMap::new();
    for e in events {
        let c = seen.entry(field(e).to_ascii_lowercase()).or_default();
        if e.label == Some(Label::Malicious) {
            c.1 += 1
        } else {
            c.0 += 1
        }
    }
    let mal: usize = seen.values().map(|c| c.1).sum();
    let pure: usize = seen.values().filter(|c| c.0 == 0).map(|c| c.1).sum();
    (pure as f64 / mal.max(1) as f64, mal)
}

#[test]
fn no_single_field_separates_the_classes() {
    let events = gen(SynthConfig {
        hosts: 30,
        days: 2,
        volume: 0.3,
        attack_rate: 1.5,
        ..small()
    });
    let (_, mal) = pure_malicious_share(&events, |e| e.host_name.to_string());
    assert!(mal > 300, "enough attacks to judge: {mal}");
    type F = fn(&ProcessEvent) -> String;
    let fields: [(&str, F, f64); 4] = [
        ("host", |e| e.host_name.to_string(), 0.0),
        (
            "user",
            |e| e.user_name.clone().unwrap_or_default().to_string(),
            0.0,
        ),
        (
            "parent name",
            |e| e.parent_name.clone().unwrap_or_default().to_string(),
            0.1,
        ),
        (
            "process name",
            |e| e.process_name.clone().unwrap_or_default().to_string(),
            0.15,
        ),
    ];
    for (name, f, max) in fields {
        let (share, _) = pure_malicious_share(&events, f);
        assert!(
            share <= max,
            "{name}: {share:.3} of malicious events have a value never seen on benign ones"
        );
    }
    // And the abused binaries really do run benignly too.
    let benign_names: BTreeSet<String> = events
        .iter()
        .filter(|e| e.label == Some(Label::Benign))
        .filter_map(|e| e.process_name.as_deref().map(str::to_ascii_lowercase))
        .collect();
    for n in [
        "powershell.exe",
        "cmd.exe",
        "rundll32.exe",
        "msiexec.exe",
        "certutil.exe",
        "regsvr32.exe",
        "mshta.exe",
        "wscript.exe",
        "schtasks.exe",
        "reg.exe",
        "net.exe",
        "wmic.exe",
        "psexesvc.exe",
        "whoami.exe",
    ] {
        assert!(benign_names.contains(n), "{n} has benign uses");
    }
}

#[test]
fn ndjson_has_elastic_defend_shape_and_truth() {
    let events = gen(small());
    let bytes = ndjson(&events[..50]);
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 50);
    for (l, e) in lines.iter().zip(&events) {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["event"]["kind"], "event");
        assert_eq!(v["event"]["category"][0], "process");
        assert_eq!(v["event"]["type"][0], "start");
        assert_eq!(v["host"]["os"]["type"], "windows");
        assert_eq!(v["process"]["name"].as_str(), e.process_name.as_deref());
        assert_eq!(
            v["process"]["parent"]["entity_id"].as_str(),
            e.parent_entity_id.as_deref()
        );
        assert_eq!(v["lotl"]["label"].as_str(), e.label.map(|l| l.as_str()));
        assert_eq!(v["lotl"]["scenario_id"].as_str(), e.scenario_id.as_deref());
        assert!(v["@timestamp"].as_str().unwrap().ends_with('Z'));
    }
}
