//! Data preparation of `bench/compare`: fits the elastic2021 feature pipeline on the train
//! events exactly as `lotl train` does (out-of-fold target means for training rows), and
//! writes the encoded train and test matrices in the raw layout of `bench/gbdt_vs_lightgbm`
//! (column-major little-endian `f32`, plus `meta.json`) so that LightGBM and lotl's GBDT
//! train on the same numbers.
//!
//! Usage: compare_prep <train.parquet> <test.parquet> <out dir> [recipe]

/// The allocator the `lotl` binary runs with (see `src/main.rs`), so the numbers are its.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::path::Path;

use lotl_events::Label;
use lotl_features::{EncoderParams, FeaturePipeline, RecipeConfig};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn write_f32(path: &Path, values: impl Iterator<Item = f32>) -> Res<()> {
    let f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut w = std::io::BufWriter::new(f);
    for v in values {
        w.write_all(&v.to_le_bytes())?;
    }
    w.flush()?;
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: compare_prep <train.parquet> <test.parquet> <out dir> [recipe]".into());
    }
    let dir = Path::new(&args[3]);
    let recipe = args.get(4).map_or("elastic2021", String::as_str);
    std::fs::create_dir_all(dir)?;
    let train = lotl_events::parquet::read_parquet(Path::new(&args[1]))?;
    let test = lotl_events::parquet::read_parquet(Path::new(&args[2]))?;
    let labels = |ev: &[lotl_events::ProcessEvent]| -> Vec<bool> {
        ev.iter()
            .map(|e| matches!(e.label, Some(Label::Malicious)))
            .collect()
    };
    let (ytr, yte) = (labels(&train), labels(&test));
    let (pipeline, xtr) = FeaturePipeline::fit_transform(
        RecipeConfig::from_name(recipe)?,
        EncoderParams::default(),
        &train,
        &ytr,
    )?;
    let xte = pipeline.transform(&test);
    for (name, x, y) in [("train", &xtr, &ytr), ("test", &xte, &yte)] {
        write_f32(
            &dir.join(format!("X_{name}.f32")),
            (0..x.n_cols).flat_map(|c| (0..x.n_rows).map(move |r| x.get(r, c))),
        )?;
        write_f32(
            &dir.join(format!("y_{name}.f32")),
            y.iter().map(|&v| f32::from(u8::from(v))),
        )?;
    }
    let meta = serde_json::json!({
        "n_train": xtr.n_rows,
        "n_test": xte.n_rows,
        "n_features": xtr.n_cols,
        "recipe": recipe,
        "train_positives": ytr.iter().filter(|&&v| v).count(),
        "test_positives": yte.iter().filter(|&&v| v).count(),
    });
    std::fs::write(dir.join("meta.json"), serde_json::to_vec_pretty(&meta)?)?;
    println!("{meta}");
    Ok(())
}
