//! Featurisation speed, one core, no I/O: events/s of each recipe and of the encoded
//! pipeline. Events are the OTRF atomic process starts from `../shared/datasets` (realistic
//! command lines, many attacks), or built-in samples when that file is absent.
//!
//! `featurize/one_pass_fleet/*` featurises a synthetic fleet's events once each (40
//! host-days, ~52 k events), each host-day's batch right after it is made, as a reader
//! hands batches over; a new thread per pass, so every memo starts empty and command lines
//! repeat only as often as they do within the fleet itself. Only featurisation is timed.
//!
//! Run: `cargo bench -p lotl --bench featurize`.

/// The allocator the `lotl` binary runs with (see `src/main.rs`), so the numbers are its.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use lotl_events::{ProcessEvent, Text};
use lotl_features::{EncoderParams, FeaturePipeline, FeatureRow, RecipeConfig};
use std::hint::black_box;

fn field(v: &serde_json::Value, k: &str) -> Option<Text> {
    v.get(k)
        .and_then(|x| x.as_str())
        .filter(|s| !s.is_empty() && *s != "-")
        .map(Text::from)
}

fn events() -> Vec<ProcessEvent> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/datasets/real/otrf-atomic/process_events.jsonl"
    );
    let mut out = Vec::new();
    if let Ok(text) = std::fs::read_to_string(path) {
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let mut e = ProcessEvent {
                process_executable: field(&v, "Image").or_else(|| field(&v, "NewProcessName")),
                parent_executable: field(&v, "ParentImage")
                    .or_else(|| field(&v, "ParentProcessName")),
                process_command_line: field(&v, "CommandLine"),
                process_pe_original_file_name: field(&v, "OriginalFileName"),
                integrity_level: field(&v, "IntegrityLevel").map(|s| s.to_ascii_lowercase()),
                user_name: field(&v, "User").map(|u| u.rsplit('\\').next().unwrap_or(&u).into()),
                ..Default::default()
            };
            e.complete();
            out.push(e);
        }
    }
    if out.is_empty() {
        for (exe, cl) in [
            (
                r"C:\Windows\System32\cmd.exe",
                r#"cmd.exe /c "whoami /all > C:\Users\bob\AppData\Local\Temp\x.txt""#,
            ),
            (
                r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
                "powershell -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA",
            ),
            (
                r"C:\Windows\System32\svchost.exe",
                r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule",
            ),
            (
                r"C:\Program Files\Google\Chrome\Application\chrome.exe",
                r#""C:\Program Files\Google\Chrome\Application\chrome.exe" --type=renderer --field-trial-handle=1234,5678"#,
            ),
        ] {
            let mut e = ProcessEvent {
                process_executable: Some(exe.into()),
                parent_executable: Some(r"C:\Windows\explorer.exe".into()),
                process_command_line: Some(cl.into()),
                ..Default::default()
            };
            e.complete();
            out.push(e);
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let evs = events();
    let mut g = c.benchmark_group("featurize");
    g.throughput(Throughput::Elements(evs.len() as u64));
    for cfg in [
        RecipeConfig::Elastic2021,
        RecipeConfig::Elastic2026,
        RecipeConfig::from_name("lotl").unwrap_or(RecipeConfig::Elastic2021),
    ] {
        let Ok(recipe) = cfg.build() else { continue };
        let mut row = FeatureRow::new();
        g.bench_function(cfg.name(), |b| {
            b.iter(|| {
                for e in &evs {
                    recipe.featurize(black_box(e), &mut row);
                }
                black_box(row.numeric().len())
            })
        });
        if cfg.name() == "lotl" {
            // The lotl recipe memoises command-line features per thread; the loop above
            // measures the corpus as it repeats (every command line seen before). Here every
            // command line is new: the cost of an unseen command line.
            let fresh = std::cell::Cell::new(0u64);
            g.bench_function("lotl/unseen_command_lines", |b| {
                b.iter_batched(
                    || {
                        let mut evs = evs.clone();
                        for e in &mut evs {
                            fresh.set(fresh.get() + 1);
                            let cl = e.process_command_line.get_or_insert_with(Default::default);
                            cl.push_str(&format!(" #{}", fresh.get()));
                        }
                        evs
                    },
                    |evs| {
                        for e in &evs {
                            recipe.featurize(black_box(e), &mut row);
                        }
                        black_box(row.numeric().len())
                    },
                    BatchSize::LargeInput,
                )
            });
        }
        let labels: Vec<bool> = (0..evs.len()).map(|i| i % 10 == 0).collect();
        if let Ok(pipe) = FeaturePipeline::fit(cfg.clone(), EncoderParams::default(), &evs, &labels)
        {
            let mut out = Vec::new();
            g.bench_function(format!("{}+encode", cfg.name()), |b| {
                b.iter(|| {
                    for e in &evs {
                        pipe.transform_one(black_box(e), &mut out);
                    }
                    black_box(out.len())
                })
            });
        }
    }
    g.finish();
    one_pass_fleet(c);
}

fn one_pass_fleet(c: &mut Criterion) {
    use lotl_datasets::synth::{Generator, SynthConfig, TemplateBank};
    const HOSTS: u32 = 40;
    let Ok(params) = (SynthConfig {
        hosts: HOSTS,
        days: 1,
        ..SynthConfig::default()
    })
    .check() else {
        return;
    };
    let generator = Generator::new(params, TemplateBank::builtin());
    let mut events = 0;
    let mut batch = Vec::new();
    for h in 0..HOSTS as usize {
        batch.clear();
        generator.host_day(h, 0, &mut batch);
        events += batch.len();
    }
    let mut g = c.benchmark_group("featurize/one_pass_fleet");
    g.throughput(Throughput::Elements(events as u64));
    g.sample_size(10);
    for cfg in [
        RecipeConfig::Elastic2021,
        RecipeConfig::Elastic2026,
        RecipeConfig::from_name("lotl").unwrap_or(RecipeConfig::Elastic2021),
    ] {
        let Ok(recipe) = cfg.build() else { continue };
        let recipe = recipe.as_ref();
        // Each host-day's events are featurised right after they are made, as a reader's
        // batches are, so they are in cache; only the featurisation is timed. A new thread
        // per pass: every memo starts empty.
        g.bench_function(cfg.name(), |b| {
            b.iter_custom(|passes| {
                let mut busy = std::time::Duration::ZERO;
                for _ in 0..passes {
                    busy += std::thread::scope(|s| {
                        s.spawn(|| {
                            let mut row = FeatureRow::new();
                            let mut batch = Vec::new();
                            let mut busy = std::time::Duration::ZERO;
                            for h in 0..HOSTS as usize {
                                batch.clear();
                                generator.host_day(h, 0, &mut batch);
                                let t = std::time::Instant::now();
                                for e in &batch {
                                    recipe.featurize(black_box(e), &mut row);
                                }
                                busy += t.elapsed();
                            }
                            black_box(row.numeric().len());
                            busy
                        })
                        .join()
                        .unwrap_or_default()
                    });
                }
                busy
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
