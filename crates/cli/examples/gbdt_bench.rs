//! Benchmark half of `bench/gbdt_vs_lightgbm`: trains on the generated matrix and prints
//! one JSON line (seconds, test AUC, single-core prediction throughput).
//!
//! Usage: gbdt_bench <data dir> <trees> <leaves> <learning rate> <threads>

/// The allocator the `lotl` binary runs with (see `src/main.rs`), so the numbers are its.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::time::Instant;

use lotl_classifier::metrics::roc_auc;
use lotl_classifier::{Classifier, Dataset, GbdtModel, GbdtParams, Matrix};

fn read_f32(path: &Path) -> Result<Vec<f32>, Box<dyn std::error::Error>> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn load(dir: &Path, name: &str, n_features: usize) -> Result<Dataset, Box<dyn std::error::Error>> {
    let x = read_f32(&dir.join(format!("X_{name}.f32")))?;
    let y = read_f32(&dir.join(format!("y_{name}.f32")))?;
    let names = (0..n_features).map(|i| format!("f{i}")).collect();
    let m = Matrix::from_column_major(y.len(), names, x)?;
    Ok(Dataset::new(m, &y, None)?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        return Err(
            "usage: gbdt_bench <data dir> <trees> <leaves> <learning rate> <threads>".into(),
        );
    }
    let dir = Path::new(&args[1]);
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("meta.json"))?)?;
    let n_features = meta["n_features"].as_u64().ok_or("meta.json: n_features")? as usize;
    let train = load(dir, "train", n_features)?;
    let test = load(dir, "test", n_features)?;
    let params = GbdtParams::builder()
        .n_trees(args[2].parse()?)
        .max_leaves(args[3].parse()?)
        .learning_rate(args[4].parse()?)
        .n_threads(Some(args[5].parse()?))
        .max_bins(255)
        .min_data_in_leaf(20)
        .build()?;
    let t0 = Instant::now();
    let model = GbdtModel::fit(&params, &train, None)?;
    let train_s = t0.elapsed().as_secs_f64();
    let probs = model.predict_proba(test.features())?;
    let auc = roc_auc(test.labels(), &probs).unwrap_or(f64::NAN);

    // Single-core prediction: one row at a time, as the scorer would.
    let n = test.n_rows().min(200_000);
    let mut rows = vec![0.0f32; n * n_features];
    for c in 0..n_features {
        for (r, &v) in test.features().column(c)[..n].iter().enumerate() {
            rows[r * n_features + c] = v;
        }
    }
    let t1 = Instant::now();
    let mut sum = 0.0f64;
    for row in rows.chunks_exact(n_features) {
        sum += f64::from(model.predict_proba_row(row));
    }
    let row_s = t1.elapsed().as_secs_f64();
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let t2 = Instant::now();
    let batch = one.install(|| model.predict_proba(test.features()))?;
    let batch_s = t2.elapsed().as_secs_f64();
    let depth = model.trees.iter().map(|t| t.depth()).max().unwrap_or(0);
    println!(
        "{}",
        serde_json::json!({
            "learner": "lotl-classifier gbdt",
            "total_seconds": (train_s * 1000.0).round() / 1000.0,
            "test_auc": (auc * 1e5).round() / 1e5,
            "trees": model.n_trees(),
            "max_depth_seen": depth,
            "predict_row_events_per_s_1core": (n as f64 / row_s).round(),
            "predict_batch_events_per_s_1core": (batch.len() as f64 / batch_s).round(),
            "checksum": sum / n as f64,
        })
    );
    Ok(())
}
