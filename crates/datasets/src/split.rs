//! Train/validation/test manifests that split by host, scenario or source file — never by
//! event — so an attack (or a host's habits) never sits on both sides of an evaluation.
//!
//! A manifest lists group keys, not events: applying it to any event table re-derives each
//! event's key and keeps the events whose group it lists. Groups holding malicious events
//! are assigned separately from purely benign groups, so every side gets attacks when
//! there are at least three attack groups.

use crate::Error;
use lotl_events::{Label, ProcessEvent};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// What must never be cut in two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    Host,
    /// `scenario_id`; events without one (real corpora) fall back to their source file.
    Scenario,
    /// `source_file`; events without one (synthetic data) fall back to their host.
    File,
}

impl GroupBy {
    pub fn parse(s: &str) -> Option<GroupBy> {
        match s {
            "host" => Some(GroupBy::Host),
            "scenario" => Some(GroupBy::Scenario),
            "file" => Some(GroupBy::File),
            _ => None,
        }
    }

    /// The group an event belongs to.
    pub fn key(self, e: &ProcessEvent) -> String {
        let file = || e.source_file.as_ref().map(|f| format!("file:{f}"));
        let host = || format!("host:{}", e.host_name);
        match self {
            GroupBy::Host => host(),
            GroupBy::Scenario => e
                .scenario_id
                .as_ref()
                .map(|s| format!("scenario:{s}"))
                .or_else(file)
                .unwrap_or_else(host),
            GroupBy::File => file().unwrap_or_else(host),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Train,
    Validation,
    Test,
}

impl Side {
    pub const ALL: [Side; 3] = [Side::Train, Side::Validation, Side::Test];
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Train => "train",
            Side::Validation => "validation",
            Side::Test => "test",
        }
    }
}

/// Checked split ratios (non-negative, normalised to sum 1, train positive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratios([f64; 3]);

impl Ratios {
    pub fn new(train: f64, validation: f64, test: f64) -> Result<Ratios, Error> {
        let r = [train, validation, test];
        if r.iter().any(|x| !x.is_finite() || *x < 0.0) || train <= 0.0 {
            return Err(Error::Split(format!(
                "ratios must be >= 0 with train > 0, got {r:?}"
            )));
        }
        let s: f64 = r.iter().sum();
        Ok(Ratios(r.map(|x| x / s)))
    }

    /// `"0.7,0.15,0.15"`.
    pub fn parse(s: &str) -> Result<Ratios, Error> {
        let v: Vec<f64> = s
            .split(',')
            .map(|x| x.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|e| Error::Split(format!("ratios {s:?}: {e}")))?;
        match v.as_slice() {
            [a, b, c] => Ratios::new(*a, *b, *c),
            _ => Err(Error::Split(format!(
                "ratios {s:?}: need three numbers (train,validation,test)"
            ))),
        }
    }

    pub fn get(&self) -> [f64; 3] {
        self.0
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub groups: usize,
    pub events: usize,
    pub benign: usize,
    pub malicious: usize,
    pub unknown: usize,
}

impl Counts {
    fn add(&mut self, e: &ProcessEvent) {
        self.events += 1;
        match e.label {
            Some(Label::Benign) => self.benign += 1,
            Some(Label::Malicious) => self.malicious += 1,
            _ => self.unknown += 1,
        }
    }
}

/// One side of a split, as written to `<dir>/<side>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub split: Side,
    pub by: GroupBy,
    pub seed: u64,
    pub ratios: [f64; 3],
    pub inputs: Vec<String>,
    pub counts: Counts,
    /// Sorted group keys on this side.
    pub groups: Vec<String>,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Manifest, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|source| Error::Json {
            path: path.to_owned(),
            source,
        })
    }

    /// Keep the events whose group this manifest lists.
    pub fn select(&self, events: Vec<ProcessEvent>) -> Vec<ProcessEvent> {
        let set: HashSet<&str> = self.groups.iter().map(String::as_str).collect();
        events
            .into_iter()
            .filter(|e| set.contains(self.by.key(e).as_str()))
            .collect()
    }
}

/// Assign whole groups to train/validation/test.
pub fn plan(
    events: &[ProcessEvent],
    by: GroupBy,
    ratios: Ratios,
    seed: u64,
    inputs: &[String],
) -> [Manifest; 3] {
    let mut groups: BTreeMap<String, Counts> = BTreeMap::new();
    for e in events {
        groups.entry(by.key(e)).or_default().add(e);
    }
    let (attack, benign): (Vec<_>, Vec<_>) = groups.iter().partition(|(_, c)| c.malicious > 0);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut side_of: BTreeMap<&str, Side> = BTreeMap::new();
    for stratum in [attack, benign] {
        let mut keys: Vec<(&String, &Counts)> = stratum;
        keys.shuffle(&mut rng);
        let total: usize = keys.iter().map(|(_, c)| c.events).sum();
        let r = ratios.get();
        let mut filled = [0usize; 3];
        for (n, (k, c)) in keys.iter().enumerate() {
            // Seed each side that wants data with one group, smallest side first, then
            // fill by largest shortfall of events against the target share.
            let s = if n < 3 && keys.len() >= 3 && r.iter().all(|x| *x > 0.0) {
                [2, 1, 0][n]
            } else {
                (0..3)
                    .filter(|&i| r[i] > 0.0)
                    .max_by(|&a, &b| {
                        let da = r[a] * total as f64 - filled[a] as f64;
                        let db = r[b] * total as f64 - filled[b] as f64;
                        da.total_cmp(&db).then(b.cmp(&a))
                    })
                    .unwrap_or(0)
            };
            filled[s] += c.events;
            side_of.insert(k.as_str(), Side::ALL[s]);
        }
    }
    Side::ALL.map(|side| {
        let mut counts = Counts::default();
        let mut keys = Vec::new();
        for (k, c) in &groups {
            if side_of.get(k.as_str()) == Some(&side) {
                keys.push(k.clone());
                counts.groups += 1;
                counts.events += c.events;
                counts.benign += c.benign;
                counts.malicious += c.malicious;
                counts.unknown += c.unknown;
            }
        }
        Manifest {
            split: side,
            by,
            seed,
            ratios: ratios.get(),
            inputs: inputs.to_vec(),
            counts,
            groups: keys,
        }
    })
}

/// Write `train.json`, `validation.json`, `test.json` under `dir` (created if missing).
pub fn write_manifests(dir: &Path, manifests: &[Manifest; 3]) -> Result<Vec<PathBuf>, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut out = Vec::new();
    for m in manifests {
        let path = dir.join(format!("{}.json", m.split.as_str()));
        let tmp = dir.join(format!(".{}.json.tmp", m.split.as_str()));
        let text = serde_json::to_string_pretty(m).map_err(|source| Error::Json {
            path: path.clone(),
            source,
        })?;
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        out.push(path);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{Generator, SynthConfig, TemplateBank};

    fn fleet() -> Vec<ProcessEvent> {
        let cfg = SynthConfig {
            hosts: 20,
            days: 2,
            volume: 0.05,
            attack_rate: 1.0,
            ..SynthConfig::default()
        };
        Generator::new(cfg.check().unwrap(), TemplateBank::builtin()).generate()
    }

    fn sides_of(
        ms: &[Manifest; 3],
        key: impl Fn(&ProcessEvent) -> String,
        events: &[ProcessEvent],
    ) -> BTreeMap<String, HashSet<Side>> {
        let mut seen: BTreeMap<String, HashSet<Side>> = BTreeMap::new();
        for m in ms {
            for e in m.select(events.to_vec()) {
                seen.entry(key(&e)).or_default().insert(m.split);
            }
        }
        seen
    }

    #[test]
    fn no_group_and_no_attack_scenario_sits_on_two_sides() {
        let events = fleet();
        for by in [GroupBy::Host, GroupBy::Scenario, GroupBy::File] {
            let ms = plan(
                &events,
                by,
                Ratios::parse("0.7,0.15,0.15").unwrap(),
                3,
                &["x".into()],
            );
            let all: usize = ms.iter().map(|m| m.counts.events).sum();
            assert_eq!(all, events.len(), "{by:?}: every event on exactly one side");
            let mut groups = HashSet::new();
            for m in &ms {
                for g in &m.groups {
                    assert!(groups.insert(g.clone()), "{by:?}: group {g} on two sides");
                }
            }
            for (s, sides) in sides_of(
                &ms,
                |e| e.scenario_id.clone().unwrap_or_default().to_string(),
                &events,
            ) {
                if s.starts_with("atk-") {
                    assert_eq!(sides.len(), 1, "{by:?}: attack {s} leaks across {sides:?}");
                }
            }
            if by == GroupBy::Host {
                for (h, sides) in sides_of(&ms, |e| e.host_name.to_string(), &events) {
                    assert_eq!(sides.len(), 1, "host {h} on {sides:?}");
                }
            }
            for m in &ms {
                assert!(
                    m.counts.malicious > 0,
                    "{by:?}: {} has attacks",
                    m.split.as_str()
                );
            }
        }
    }

    #[test]
    fn split_by_file_keeps_each_recording_whole_and_is_deterministic() {
        let mut events = Vec::new();
        for f in 0..12 {
            for i in 0..(5 + f * 3) {
                events.push(ProcessEvent {
                    host_name: "LAB".into(),
                    source_file: Some(format!("/real/f{f}.evtx").into()),
                    label: Some(if i == 0 && f % 2 == 0 {
                        Label::Malicious
                    } else {
                        Label::Benign
                    }),
                    ..Default::default()
                });
            }
        }
        let r = Ratios::parse("0.6,0.2,0.2").unwrap();
        let a = plan(&events, GroupBy::File, r, 9, &[]);
        let b = plan(&events, GroupBy::File, r, 9, &[]);
        assert_eq!(a, b);
        let sides = sides_of(&a, |e| e.source_file.clone().unwrap().to_string(), &events);
        assert_eq!(sides.len(), 12);
        assert!(sides.values().all(|s| s.len() == 1));
        let train_share = a[0].counts.events as f64 / events.len() as f64;
        assert!((0.4..0.8).contains(&train_share), "{train_share}");
    }

    #[test]
    fn manifests_round_trip_and_bad_ratios_are_rejected() {
        let events = fleet();
        let ms = plan(
            &events,
            GroupBy::Host,
            Ratios::parse("0.7,0.15,0.15").unwrap(),
            1,
            &["fleet.parquet".into()],
        );
        let dir = tempfile::tempdir().unwrap();
        let paths = write_manifests(dir.path(), &ms).unwrap();
        assert_eq!(paths.len(), 3);
        let back = Manifest::load(&paths[2]).unwrap();
        assert_eq!(back, ms[2]);
        assert!(Ratios::parse("0.7,0.3").is_err());
        assert!(Ratios::parse("0,0.5,0.5").is_err());
        assert!(Ratios::parse("a,b,c").is_err());
    }
}
