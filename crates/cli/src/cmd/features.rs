use crate::args::FeaturesArgs;
use anyhow::Context;
use lotl_features::{featurize_batch_with_progress, LotlParams, RecipeConfig};
use std::process::ExitCode;
use std::time::Instant;

pub fn run(args: FeaturesArgs) -> anyhow::Result<ExitCode> {
    let config = match args.recipe.as_str() {
        "lotl" => RecipeConfig::Lotl(LotlParams {
            cl_buckets: args.cl_buckets,
            path_buckets: args.path_buckets,
        }),
        name => RecipeConfig::from_name(name)?,
    };
    let recipe = config.build()?;
    if args.describe {
        println!(
            "recipe {} v{}: {} features",
            recipe.name(),
            recipe.version(),
            recipe.features().len()
        );
        for f in recipe.features() {
            let kind = match f.kind {
                lotl_features::FeatureKind::Numeric => "numeric",
                lotl_features::FeatureKind::Categorical => "categorical",
            };
            println!("{}\t{}\t{}", f.name, kind, f.doc);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(input), Some(output)) = (args.input.as_deref(), args.output.as_deref()) else {
        anyhow::bail!("an input file and -o/--output are required");
    };
    let events = lotl_events::parquet::read_parquet(input)
        .with_context(|| format!("reading events from {}", input.display()))?;
    let bar = indicatif::ProgressBar::new(events.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "featurising [{bar:40}] {pos}/{len} events ({per_sec}, {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let start = Instant::now();
    let table = featurize_batch_with_progress(recipe.as_ref(), &events, &|n| bar.inc(n as u64));
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    table
        .write_parquet_with_ids(output, &events)
        .with_context(|| format!("writing {}", output.display()))?;
    println!(
        "{} v{}: {} events x {} features ({} numeric, {} categorical) in {:.2}s -> {}",
        recipe.name(),
        recipe.version(),
        table.n_rows(),
        recipe.features().len(),
        recipe.n_numeric(),
        recipe.n_categorical(),
        secs,
        output.display()
    );
    Ok(ExitCode::SUCCESS)
}
