//! One cold pass of a recipe over a fresh synthetic fleet, for profilers:
//! `valgrind --tool=callgrind --toggle-collect='featurize_pass::pass*' <binary> lotl`.
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
    let recipe = RecipeConfig::from_name(&name)?.build()?;
    let t = std::time::Instant::now();
    let n = pass(recipe.as_ref(), &fleet);
    let dt = t.elapsed().as_secs_f64();
    let distinct: std::collections::HashSet<_> = fleet
        .iter()
        .map(|e| e.process_command_line.clone())
        .collect();
    println!(
        "{name}: {} events, {} distinct command lines, {:.0} events/s ({n})",
        fleet.len(),
        distinct.len(),
        fleet.len() as f64 / dt
    );
    Ok(())
}
