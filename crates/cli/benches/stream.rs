//! Throughput and memory of the detection engine on one core.
//!
//! `cargo bench -p lotl --bench stream -- [events]` (default 2,000,000), or build with
//! `cargo bench -p lotl --bench stream --no-run` and run the binary it names under
//! `/usr/bin/time -v` for peak memory. Events are synthesised on the fly (a fleet of 500
//! hosts, 60 parents, 3% of events called malicious, bursts now and then), so memory is the
//! engine's own. Reports events/s through datafeed + buckets + cluster model + rule, and
//! separately the cost of parsing scored NDJSON lines.

/// The allocator the `lotl` binary runs with (see `src/main.rs`), so the numbers are its.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use lotl_cluster::{fit_cluster, ClusterConfig, ScoredEvent};
use lotl_events::ProcessEvent;
use lotl_scorer::{Engine, RuleConfig};
use std::time::Instant;

struct Gen {
    s: u64,
    t: i64,
    id: u64,
    parents: Vec<String>,
    children: Vec<String>,
    hosts: Vec<String>,
    users: Vec<String>,
    burst_left: u32,
    burst_parent: usize,
}

impl Gen {
    fn new(start: i64) -> Gen {
        Gen {
            s: 42,
            t: start,
            id: 0,
            parents: (0..60).map(|i| format!("parent{i:02}.exe")).collect(),
            children: (0..200).map(|i| format!("child{i:03}.exe")).collect(),
            hosts: (0..500).map(|i| format!("ws{i:04}")).collect(),
            users: (0..800).map(|i| format!("user{i:04}")).collect(),
            burst_left: 0,
            burst_parent: 0,
        }
    }
    fn r(&mut self) -> u64 {
        self.s ^= self.s << 13;
        self.s ^= self.s >> 7;
        self.s ^= self.s << 17;
        self.s
    }
    fn fill(&mut self, e: &mut ScoredEvent) {
        // ~ 40 events/s across the fleet.
        self.t += (self.r() % 50) as i64;
        self.id += 1;
        let x = self.r();
        if self.burst_left == 0 && x.is_multiple_of(200_000) {
            self.burst_left = 12;
            self.burst_parent = (self.r() % 60) as usize;
        }
        let (parent, prediction, probability) = if self.burst_left > 0 {
            self.burst_left -= 1;
            (self.burst_parent, 1, 0.95)
        } else {
            let p = (x >> 8) % 60;
            let mal = (x >> 20) % 100 < 3;
            let prob = if mal {
                0.5 + ((x >> 30) % 50) as f32 / 100.0
            } else {
                ((x >> 30) % 50) as f32 / 100.0
            };
            (p as usize, u8::from(mal), prob)
        };
        let ev = &mut e.event;
        ev.timestamp_ms = self.t;
        ev.event_id.clear();
        use std::fmt::Write;
        let _ = write!(ev.event_id, "{}", self.id);
        ev.host_name.clone_from(
            &self.hosts[(x >> 40) as usize % self.hosts.len()]
                .as_str()
                .into(),
        );
        ev.parent_name = Some(self.parents[parent].clone().into());
        ev.process_name = Some(
            self.children[(x >> 24) as usize % self.children.len()]
                .clone()
                .into(),
        );
        ev.user_name = Some(
            self.users[(x >> 48) as usize % self.users.len()]
                .clone()
                .into(),
        );
        e.prediction = prediction;
        e.probability = probability;
    }
}

fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let start = 1_767_571_200_000i64;
    // A day of history for the model.
    let mut g = Gen::new(start - 86_400_000);
    let mut history = Vec::new();
    while g.t < start {
        let mut e = ScoredEvent {
            event: ProcessEvent::default(),
            ..Default::default()
        };
        g.fill(&mut e);
        if e.prediction == 1 {
            history.push(e);
        }
    }
    let t = Instant::now();
    let model = fit_cluster(&history, ClusterConfig::default()).expect("fit");
    println!(
        "fit_cluster: {} accepted history events in {:.2}s",
        history.len(),
        t.elapsed().as_secs_f64()
    );
    drop(history);

    let mut g = Gen::new(start);
    let mut e = ScoredEvent::default();
    let t = Instant::now();
    for _ in 0..n {
        g.fill(&mut e);
        std::hint::black_box(&e);
    }
    let gen_s = t.elapsed().as_secs_f64();

    let rule = RuleConfig {
        jobs: vec!["all".into()],
        ..Default::default()
    };
    let mut engine = Engine::new(model, rule).expect("engine");
    let mut g = Gen::new(start);
    let mut alerts = 0usize;
    let t = Instant::now();
    for _ in 0..n {
        g.fill(&mut e);
        alerts += engine.push(&e).expect("push").len();
    }
    alerts += engine.finish().expect("finish").len();
    let total_s = t.elapsed().as_secs_f64();
    let engine_s = (total_s - gen_s).max(1e-9);
    let days = (g.t - start) as f64 / 86_400_000.0;
    println!(
        "{n} events ({days:.1} days of a 500-host fleet), {alerts} alerts, all six jobs: {:.0} events/s including generation, {:.0} events/s engine only",
        n as f64 / total_s,
        n as f64 / engine_s
    );
    let json = engine.to_json().expect("state");
    println!("state: {} bytes, stats {:?}", json.len(), engine.stats());

    // Parsing scored NDJSON lines (the `lotl watch` input).
    let mut g = Gen::new(start);
    let lines: Vec<String> = (0..20_000)
        .map(|_| {
            g.fill(&mut e);
            serde_json::to_string(&e).expect("json")
        })
        .collect();
    let t = Instant::now();
    for l in &lines {
        std::hint::black_box(lotl_cluster::parse_scored_line(l).expect("parse"));
    }
    println!(
        "parse scored NDJSON: {:.0} lines/s ({} bytes/line)",
        lines.len() as f64 / t.elapsed().as_secs_f64(),
        lines.iter().map(String::len).sum::<usize>() / lines.len()
    );
}
