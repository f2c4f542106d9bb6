//! A small real bundle for tests: synthetic events, a fitted feature pipeline and a GBDT
//! (or a small burn network).

#![allow(dead_code)]

use lotl_classifier::calibration::{calibrate, CalibrationFit, CalibrationMethod, Threshold};
use lotl_classifier::{
    Dataset, GbdtModel, GbdtParams, Matrix, Model, ModelKind, NnModel, NnParams,
};
use lotl_datasets::synth::{Generator, SynthConfig, TemplateBank};
use lotl_events::{Label, ProcessEvent};
use lotl_export::bundle::NewBundle;
use lotl_export::Bundle;
use lotl_features::{EncoderParams, FeaturePipeline, RecipeConfig};
use std::path::Path;

/// Synthetic labelled events (benign and malicious only), deterministic.
pub fn events(seed: u64) -> Vec<ProcessEvent> {
    let cfg = SynthConfig {
        hosts: 6,
        days: 1,
        seed,
        volume: 0.25,
        attack_rate: 3.0,
        benign_burst_rate: 1.0,
        ..SynthConfig::default()
    };
    let params = cfg.check().expect("valid synth config");
    Generator::new(params, TemplateBank::builtin())
        .generate()
        .into_iter()
        .filter(|e| matches!(e.label, Some(Label::Benign | Label::Malicious)))
        .collect()
}

/// Train and write a bundle for `recipe` into `dir`; returns the test events (a second
/// synthetic fleet, never seen in training).
pub fn write_bundle(
    dir: &Path,
    recipe: RecipeConfig,
    calibration: CalibrationMethod,
) -> Vec<ProcessEvent> {
    write_bundle_of(dir, recipe, calibration, ModelKind::Gbdt)
}

/// [`write_bundle`] with a choice of model family.
pub fn write_bundle_of(
    dir: &Path,
    recipe: RecipeConfig,
    calibration: CalibrationMethod,
    kind: ModelKind,
) -> Vec<ProcessEvent> {
    let train = events(11);
    let labels: Vec<bool> = train
        .iter()
        .map(|e| e.label == Some(Label::Malicious))
        .collect();
    let (pipeline, mat) =
        FeaturePipeline::fit_transform(recipe, EncoderParams::default(), &train, &labels)
            .expect("fit pipeline");
    let m = Matrix::from_row_major(mat.n_rows, mat.columns.clone(), &mat.data).expect("matrix");
    let y: Vec<f32> = labels.iter().map(|&l| f32::from(u8::from(l))).collect();
    let ds = Dataset::new(m, &y, None).expect("dataset");
    let model: Model = match kind {
        ModelKind::Gbdt => {
            let params = GbdtParams::builder()
                .n_trees(60)
                .max_leaves(15)
                .min_data_in_leaf(5)
                .learning_rate(0.2)
                .build()
                .expect("params");
            GbdtModel::fit(&params, &ds, None).expect("fit").into()
        }
        ModelKind::Burn => {
            let params = NnParams::builder()
                .embedding_dim(8)
                .hidden(vec![32, 16])
                .learning_rate(0.01)
                .batch_size(128)
                .max_epochs(6)
                .importance_rows(500)
                .seed(3)
                .build()
                .expect("params");
            NnModel::fit(&params, &ds, None).expect("fit").into()
        }
    };
    let test = events(12);
    let tm = pipeline.transform(&test);
    let probs: Vec<f32> = (0..tm.n_rows)
        .map(|i| model.predict_proba_row(tm.row(i)))
        .collect();
    let test_labels: Vec<u8> = test
        .iter()
        .map(|e| u8::from(e.label == Some(Label::Malicious)))
        .collect();
    let cal: CalibrationFit = calibrate(calibration, &test_labels, &probs).expect("calibrate");
    Bundle::write(
        dir,
        &NewBundle {
            lotl_version: "test",
            git_commit: "test",
            experiment_name: None,
            experiment_toml: None,
            pipeline: &pipeline,
            model: &model,
            calibration: &cal,
            threshold: Threshold {
                threshold: 0.4,
                recall_positive: 1.0,
                recall_negative: 1.0,
            },
            training_data_hash: "none",
            metrics: serde_json::json!({}),
        },
    )
    .expect("write bundle");
    test
}
