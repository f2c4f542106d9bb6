//! GBDT prediction throughput on one core (issue 5: ≥ 1M events/s for a 200-tree model).
//!
//! The model is trained here, as `lotl train` would, on elastic2021 features of a synthetic
//! fleet (the real feature width, ~950 encoded columns): 200 trees, 31 leaves, no early
//! stopping. Measured: batch prediction over a column-major matrix, a single row at a time
//! (what the streaming scorer calls), and the plain tree-by-tree walk of the exported
//! trees for reference. Throughput is reported in events/s.
//!
//! `cargo bench -p lotl --bench predict`

/// The allocator the `lotl` binary runs with (see `src/main.rs`), so the numbers are its.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lotl_classifier::experiment::{synthesize, SynthSource};
use lotl_classifier::{Classifier, Dataset, GbdtModel, GbdtParams, Matrix};
use lotl_events::Label;
use lotl_features::{EncoderParams, FeaturePipeline, RecipeConfig};

const TREES: u32 = 200;

fn setup() -> (GbdtModel, Matrix) {
    let events = synthesize(&SynthSource {
        hosts: 12,
        days: 2,
        seed: 11,
        attack_rate: Some(3.0),
        reference: None,
        start_date: None,
    })
    .unwrap_or_else(|e| panic!("synthesising: {e}"));
    let (train, test): (Vec<_>, Vec<_>) = events
        .into_iter()
        .partition(|e| e.host_name.bytes().map(u32::from).sum::<u32>() % 3 != 0);
    let labels = |ev: &[lotl_events::ProcessEvent]| -> Vec<bool> {
        ev.iter()
            .map(|e| matches!(e.label, Some(Label::Malicious)))
            .collect()
    };
    let ytr = labels(&train);
    let (pipeline, xtr) = FeaturePipeline::fit_transform(
        RecipeConfig::Elastic2021,
        EncoderParams::default(),
        &train,
        &ytr,
    )
    .unwrap_or_else(|e| panic!("fitting encoders: {e}"));
    let xte = pipeline.transform(&test);
    let to_matrix = |d: lotl_features::DenseMatrix| {
        Matrix::from_row_major(d.n_rows, d.columns, &d.data)
            .unwrap_or_else(|e| panic!("matrix: {e}"))
    };
    let yf: Vec<f32> = ytr.iter().map(|&y| f32::from(u8::from(y))).collect();
    let train = Dataset::new(to_matrix(xtr), &yf, None).unwrap_or_else(|e| panic!("{e}"));
    let params = GbdtParams::builder()
        .n_trees(TREES)
        .max_leaves(31)
        .learning_rate(0.1)
        .min_data_in_leaf(5)
        .build()
        .unwrap_or_else(|e| panic!("params: {e}"));
    let model = GbdtModel::fit(&params, &train, None).unwrap_or_else(|e| panic!("fit: {e}"));
    (model, to_matrix(xte))
}

fn bench(c: &mut Criterion) {
    let (model, test) = setup();
    let depth = model.trees.iter().map(|t| t.depth()).max().unwrap_or(0);
    let leaves = model.trees.iter().map(|t| t.n_leaves()).sum::<usize>() as f64 / f64::from(TREES);
    eprintln!(
        "model: {} trees, {leaves:.1} leaves on average, max depth {depth}; test matrix {} rows x {} columns",
        model.n_trees(),
        test.n_rows(),
        test.n_cols()
    );
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap_or_else(|e| panic!("pool: {e}"));
    let n = test.n_rows();
    let rows: Vec<Vec<f32>> = (0..n)
        .map(|r| (0..test.n_cols()).map(|c| test.get(r, c)).collect())
        .collect();
    let mut g = c.benchmark_group("gbdt_predict_200_trees");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    g.bench_function(BenchmarkId::new("batch_1_core", n), |b| {
        b.iter(|| one.install(|| model.predict_proba(&test)))
    });
    g.bench_function(BenchmarkId::new("row_at_a_time", n), |b| {
        b.iter(|| rows.iter().map(|r| model.predict_proba_row(r)).sum::<f32>())
    });
    g.bench_function(BenchmarkId::new("plain_trees_reference", n), |b| {
        b.iter(|| {
            rows.iter()
                .map(|r| {
                    model
                        .trees
                        .iter()
                        .map(|t| f64::from(t.nodes[t.leaf_index(r)].value()))
                        .sum::<f64>()
                })
                .sum::<f64>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
