//! Generator throughput per host-day (events/s); the 10-million-event figure comes from
//! `examples/synth_throughput.rs`.

/// The allocator the `lotl` binary runs with (see `src/main.rs`), so the numbers are its.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lotl_datasets::synth::{Generator, SynthConfig, TemplateBank};

fn bench(c: &mut Criterion) {
    let cfg = SynthConfig {
        hosts: 50,
        days: 1,
        ..SynthConfig::default()
    };
    let Ok(params) = cfg.check() else { return };
    let gen = Generator::new(params, TemplateBank::builtin());
    let mut buf = Vec::new();
    let per_day: usize = (0..50)
        .map(|h| {
            buf.clear();
            gen.host_day(h, 0, &mut buf);
            buf.len()
        })
        .sum();
    let mut g = c.benchmark_group("synth");
    g.throughput(Throughput::Elements(per_day as u64));
    g.sample_size(10);
    g.bench_function("50 host-days", |b| {
        b.iter(|| {
            let mut n = 0;
            for h in 0..50 {
                buf.clear();
                gen.host_day(h, 0, &mut buf);
                n += buf.len();
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
