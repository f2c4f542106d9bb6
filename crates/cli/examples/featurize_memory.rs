//! The in-memory featurising step of `bench/compare`: reads a Parquet file of events whole
//! (untimed), then featurises them in batches of `lotl_events::parquet::BATCH_ROWS`
//! events, as `lotl features` does, timing only the featurising. It is the counterpart of
//! the Python replica's `featurise_seconds`, which times its feature function alone.
//!
//! `lotl features` also reports its featurising time, but there the workers share the
//! cores with the threads reading and writing files, so that time is not I/O-free.
//!
//! Usage: featurize_memory <events.parquet> [recipe]

/// The allocator the `lotl` binary runs with (see `src/main.rs`), so the numbers are its.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use lotl_features::RecipeConfig;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        return Err("usage: featurize_memory <events.parquet> [recipe]".into());
    };
    let recipe_name = args.get(2).map_or("elastic2021", String::as_str);
    let recipe = RecipeConfig::from_name(recipe_name)?.build()?;
    let events = lotl_events::parquet::read_parquet(std::path::Path::new(path))?;
    let mut seconds = 0.0;
    let mut cells = 0usize;
    for batch in events.chunks(lotl_events::parquet::BATCH_ROWS) {
        let start = std::time::Instant::now();
        let table = lotl_features::featurize_batch(recipe.as_ref(), batch);
        seconds += start.elapsed().as_secs_f64();
        // Freed outside the timing, as the replica's frames are.
        cells += table.n_rows() * table.features.len();
    }
    println!(
        "{}",
        serde_json::json!({
            "step": "featurise_in_memory",
            "recipe": recipe_name,
            "events": events.len(),
            "cells": cells,
            "featurise_seconds": seconds,
        })
    );
    Ok(())
}
