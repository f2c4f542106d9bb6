//! Cold passes of a recipe (`lotl`, `elastic2021`, `elastic2026`) over a fresh synthetic
//! fleet of 40 host-days, each pass on a new thread so that the memos start empty, for
//! profilers: `valgrind --tool=callgrind --toggle-collect='featurize_pass::pass*'
//! <binary> lotl`.
//!
//! - default: one pass over the whole fleet in memory (`RUNS` passes, the best printed);
//!   `NORMALISED=1` also counts the distinct normalised command lines;
//! - `touch` instead of a recipe: the memory floor, only reading the strings a recipe reads.
//!
//! Wall-clock rates of passes over reader-sized batches: `cargo bench --bench featurize`
//! (`featurize/one_pass_fleet`).

/// The allocator the `lotl` binary runs with (see `src/main.rs`), so the numbers are its.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use lotl_datasets::synth::{Generator, SynthConfig, TemplateBank};
use lotl_features::{FeatureRow, RecipeConfig};
use std::hint::black_box;

#[inline(never)]
fn pass(recipe: &dyn lotl_features::FeatureRecipe, fleet: &[lotl_events::ProcessEvent]) -> usize {
    let mut row = FeatureRow::new();
    let mut n = 0;
    for e in fleet {
        recipe.featurize(black_box(e), &mut row);
        n += row.numeric().len();
    }
    n
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = std::env::args().nth(1).unwrap_or_else(|| "lotl".into());
    let params = SynthConfig {
        hosts: 40,
        days: 1,
        ..SynthConfig::default()
    }
    .check()?;
    let generator = Generator::new(params, TemplateBank::builtin());
    let mut fleet = Vec::new();
    for h in 0..40 {
        generator.host_day(h, 0, &mut fleet);
    }
    if name == "touch" {
        // The floor: read every string a recipe reads, nothing else.
        let t = std::time::Instant::now();
        let mut sum = 0u64;
        for e in &fleet {
            for v in [
                &e.process_name,
                &e.process_executable,
                &e.process_pe_original_file_name,
                &e.parent_name,
                &e.parent_executable,
                &e.process_command_line,
                &e.user_id,
            ] {
                sum += v
                    .as_deref()
                    .map_or(0, |s| s.bytes().map(u64::from).sum::<u64>());
            }
        }
        let dt = t.elapsed().as_secs_f64();
        println!("touch: {:.0} events/s ({sum})", fleet.len() as f64 / dt);
        return Ok(());
    }
    let recipe = RecipeConfig::from_name(&name)?.build()?;
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let mut best = f64::INFINITY;
    let mut n = 0;
    for _ in 0..runs {
        // A new thread per pass: the per-thread memos start empty, as in a fresh process.
        let t = std::time::Instant::now();
        n = std::thread::scope(|s| s.spawn(|| pass(recipe.as_ref(), &fleet)).join())
            .map_err(|_| "featurisation panicked")?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    let dt = best;
    let distinct: std::collections::HashSet<_> = fleet
        .iter()
        .map(|e| e.process_command_line.clone())
        .collect();
    if std::env::var_os("NORMALISED").is_some() {
        let norm: std::collections::HashSet<_> = fleet
            .iter()
            .map(|e| {
                lotl_features::elastic::normalized_command_line(
                    e,
                    lotl_features::elastic::Generation::Y2021,
                )
                .0
            })
            .collect();
        println!("{} distinct normalised command lines", norm.len());
    }
    let bytes: usize = distinct.iter().flatten().map(|c| c.len()).sum();
    println!(
        "{name}: {} events, {} distinct command lines ({} bytes mean), {:.0} events/s ({n})",
        fleet.len(),
        distinct.len(),
        bytes / distinct.len().max(1),
        fleet.len() as f64 / dt
    );
    Ok(())
}
