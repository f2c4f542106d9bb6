use crate::args::FeaturesArgs;
use anyhow::Context;
use lotl_features::{featurize_parquet_file, LotlParams, RecipeConfig};
use std::process::ExitCode;

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
    let rows = lotl_events::parquet::parquet_rows(input)
        .with_context(|| format!("reading events from {}", input.display()))?;
    let bar = indicatif::ProgressBar::new(rows as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "featurising [{bar:40}] {pos}/{len} events ({per_sec}, {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let stats = featurize_parquet_file(recipe.as_ref(), input, output, &|n| bar.inc(n as u64))
        .with_context(|| format!("featurising {} into {}", input.display(), output.display()))?;
    bar.finish_and_clear();
    println!(
        "{} v{}: {} events x {} features ({} numeric, {} categorical) in {:.2}s -> {}",
        recipe.name(),
        recipe.version(),
        stats.rows,
        recipe.features().len(),
        recipe.n_numeric(),
        recipe.n_categorical(),
        stats.featurize_secs,
        output.display()
    );
    Ok(ExitCode::SUCCESS)
}
