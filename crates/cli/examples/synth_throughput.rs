//! Throughput of the generator on a large fleet, streamed per host-day (nothing kept).
//! `cargo run --release -p lotl --example synth_throughput -- 1000 7 [--ndjson]`
//! generates about 10 million events; with `--ndjson` it also serialises them to ECS
//! NDJSON (into a sink) to show the cost of the writer.

/// The allocator the `lotl` binary runs with (see `src/main.rs`), so the numbers are its.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use lotl_datasets::synth::{ndjson::write_ecs_ndjson, Generator, SynthConfig, TemplateBank};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let hosts = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let days = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(7);
    let with_json = args.iter().any(|a| a == "--ndjson");
    let cfg = SynthConfig {
        hosts,
        days,
        ..SynthConfig::default()
    };
    let params = match cfg.check() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let gen = Generator::new(params, TemplateBank::builtin());
    let start = Instant::now();
    let mut n = 0usize;
    let mut bytes = 0usize;
    let mut sink = Vec::with_capacity(1 << 24);
    let r: Result<(), std::io::Error> = gen.for_each_host_day(|chunk| {
        n += chunk.len();
        if with_json {
            sink.clear();
            write_ecs_ndjson(&mut sink, chunk)?;
            bytes += sink.len();
        }
        Ok(())
    });
    if let Err(e) = r {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    let s = start.elapsed().as_secs_f64();
    println!(
        "{n} events from {hosts} hosts x {days} days in {s:.2}s: {:.0} events/s{}",
        n as f64 / s,
        if with_json {
            format!(", {:.1} MB NDJSON", bytes as f64 / 1e6)
        } else {
            String::new()
        }
    );
}
