//! Behaviour of the gradient-boosted trees through the public API.

use lotl_classifier::metrics::roc_auc;
use lotl_classifier::{Classifier, Dataset, Error, GbdtModel, GbdtParams, Matrix, Node};

/// Deterministic uniform numbers in [0, 1).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32) / (1u64 << 24) as f32
    }
}

/// `n` rows of `k` uniform features in [-1, 1) and labels from `label`.
fn make(n: usize, k: usize, seed: u64, label: impl Fn(&[f32], &mut Lcg) -> bool) -> Dataset {
    let mut rng = Lcg(seed);
    let mut cols = vec![Vec::with_capacity(n); k];
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let row: Vec<f32> = (0..k).map(|_| rng.next() * 2.0 - 1.0).collect();
        y.push(if label(&row, &mut rng) { 1.0 } else { 0.0 });
        for (c, v) in row.into_iter().enumerate() {
            cols[c].push(v);
        }
    }
    let m = Matrix::from_columns(
        cols.into_iter()
            .enumerate()
            .map(|(i, c)| (format!("x{i}"), c))
            .collect(),
    )
    .unwrap();
    Dataset::new(m, &y, None).unwrap()
}

fn params() -> GbdtParams {
    GbdtParams::builder()
        .n_trees(60)
        .learning_rate(0.2)
        .max_leaves(15)
        .min_data_in_leaf(10)
}

fn test_auc(model: &GbdtModel, test: &Dataset) -> f64 {
    let p = model.predict_proba(test.features()).unwrap();
    roc_auc(test.labels(), &p).unwrap()
}

#[test]
fn learns_xor() {
    let xor = |r: &[f32], _: &mut Lcg| (r[0] > 0.0) != (r[1] > 0.0);
    let train = make(3000, 4, 1, xor);
    let test = make(1000, 4, 2, xor);
    let model = GbdtModel::fit(&params().build().unwrap(), &train, None).unwrap();
    let auc = test_auc(&model, &test);
    assert!(auc > 0.98, "xor auc {auc}");
    // The noise features should matter far less than the two informative ones.
    let imp = model.feature_importance();
    assert!(
        imp[0].1 > 5.0 * imp[2].1 && imp[1].1 > 5.0 * imp[3].1,
        "{imp:?}"
    );
}

#[test]
fn learns_a_noisy_linear_rule() {
    let lin =
        |r: &[f32], g: &mut Lcg| 2.0 * r[0] - r[1] + 0.5 * r[2] + 0.3 * (g.next() - 0.5) > 0.0;
    let train = make(4000, 5, 3, lin);
    let test = make(2000, 5, 4, lin);
    let model = GbdtModel::fit(&params().n_trees(150).build().unwrap(), &train, None).unwrap();
    let auc = test_auc(&model, &test);
    assert!(auc > 0.97, "linear auc {auc}");
}

/// One feature: values decide the label (x > 0 is positive) and missing values carry
/// label `missing_label`.
fn missing_data(missing_label: bool, seed: u64) -> Dataset {
    let mut rng = Lcg(seed);
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..2000 {
        if i % 4 == 0 {
            x.push(f32::NAN);
            y.push(if missing_label { 1.0 } else { 0.0 });
        } else {
            let v = rng.next() * 2.0 - 1.0;
            x.push(v);
            y.push(if v > 0.0 { 1.0 } else { 0.0 });
        }
    }
    let m = Matrix::from_columns(vec![("x".into(), x)]).unwrap();
    Dataset::new(m, &y, None).unwrap()
}

#[test]
fn missing_values_follow_the_learned_default_direction() {
    let p = params().n_trees(20).max_leaves(2).build().unwrap();
    for (missing_label, expect_left) in [(true, false), (false, true)] {
        let model = GbdtModel::fit(&p, &missing_data(missing_label, 5), None).unwrap();
        match &model.trees[0].nodes[0] {
            Node::Split {
                threshold,
                default_left,
                ..
            } => {
                assert!(threshold.abs() < 0.05, "threshold {threshold}");
                assert_eq!(*default_left, expect_left, "missing label {missing_label}");
            }
            other => panic!("root is not a split: {other:?}"),
        }
        let p_missing = model.predict_proba_row(&[f32::NAN]);
        if missing_label {
            assert!(p_missing > 0.9, "{p_missing}");
        } else {
            assert!(p_missing < 0.1, "{p_missing}");
        }
    }
}

#[test]
fn early_stopping_stops_on_noise() {
    let noise = |_: &[f32], g: &mut Lcg| g.next() < 0.3;
    let train = make(2000, 3, 6, noise);
    let valid = make(1000, 3, 7, noise);
    let p = params()
        .n_trees(500)
        .early_stopping_rounds(Some(5))
        .build()
        .unwrap();
    let model = GbdtModel::fit(&p, &train, Some(&valid)).unwrap();
    assert!(model.n_trees() < 50, "kept {} trees", model.n_trees());
    // It ran exactly `early_stopping_rounds` past the best round, and kept the best.
    assert_eq!(model.valid_loss.len(), model.n_trees() + 5);
    let best = model
        .valid_loss
        .iter()
        .cloned()
        .fold(f64::INFINITY, f64::min);
    assert_eq!(model.valid_loss[model.n_trees() - 1], best);
}

#[test]
fn bad_training_data_gives_clear_errors() {
    let m = Matrix::from_columns(vec![("x".into(), vec![1.0, 2.0, 3.0])]).unwrap();
    let one_class = Dataset::new(m.clone(), &[1.0, 1.0, 1.0], None).unwrap();
    let err = GbdtModel::fit(&params().build().unwrap(), &one_class, None).unwrap_err();
    assert!(matches!(err, Error::Untrainable(_)), "{err}");
    assert!(err.to_string().contains("negative"), "{err}");

    let empty = Dataset::new(
        Matrix::from_columns(vec![("x".into(), vec![])]).unwrap(),
        &[],
        None,
    )
    .unwrap();
    let err = GbdtModel::fit(&params().build().unwrap(), &empty, None).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");

    let err = Dataset::new(m.clone(), &[0.0, f32::NAN, 1.0], None).unwrap_err();
    assert!(err.to_string().contains("row 1"), "{err}");
    let err = Matrix::from_columns(vec![("x".into(), vec![1.0, f32::INFINITY])]).unwrap_err();
    assert!(err.to_string().contains("`x` row 1"), "{err}");
    let err = Dataset::new(m, &[0.0, 1.0, 1.0], Some(vec![1.0, -1.0, 1.0])).unwrap_err();
    assert!(err.to_string().contains("weight"), "{err}");
}

#[test]
fn save_load_round_trip_predicts_identically() {
    let xor = |r: &[f32], _: &mut Lcg| (r[0] > 0.0) != (r[1] > 0.0);
    let mut train = make(1500, 3, 8, xor);
    // Add missing values to exercise default directions.
    let mut cols: Vec<(String, Vec<f32>)> = (0..3)
        .map(|c| (format!("x{c}"), train.features().column(c).to_vec()))
        .collect();
    for (i, v) in cols[1].1.iter_mut().enumerate() {
        if i % 7 == 0 {
            *v = f32::NAN;
        }
    }
    let labels: Vec<f32> = train.labels().iter().map(|&l| f32::from(l)).collect();
    train = Dataset::new(Matrix::from_columns(cols).unwrap(), &labels, None).unwrap();
    let p = params()
        .subsample(0.8)
        .colsample_bytree(0.67)
        .build()
        .unwrap();
    let model = GbdtModel::fit(&p, &train, None).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    model.save(&path).unwrap();
    let loaded = GbdtModel::load(&path).unwrap();
    let a = model.predict_proba(train.features()).unwrap();
    let b = loaded.predict_proba(train.features()).unwrap();
    assert_eq!(a, b);
    assert!(model.trees == loaded.trees, "trees differ after reload");

    // A newer format version and a corrupt tree are refused with clear errors.
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    json["format_version"] = 99.into();
    std::fs::write(&path, json.to_string()).unwrap();
    let err = GbdtModel::load(&path).unwrap_err();
    assert!(matches!(err, Error::NewerFormat { found: 99, .. }), "{err}");
    json["format_version"] = 1.into();
    json["trees"][0]["nodes"][0]["left"] = 0.into();
    std::fs::write(&path, json.to_string()).unwrap();
    let err = GbdtModel::load(&path).unwrap_err();
    assert!(matches!(err, Error::CorruptModel(_)), "{err}");
}

#[test]
fn same_seed_same_model_different_seed_different_model() {
    let lin = |r: &[f32], g: &mut Lcg| r[0] + r[1] + 0.5 * (g.next() - 0.5) > 0.0;
    let train = make(1500, 4, 9, lin);
    let p = |seed| {
        params()
            .subsample(0.7)
            .colsample_bytree(0.5)
            .seed(seed)
            .build()
            .unwrap()
    };
    let a = GbdtModel::fit(&p(1), &train, None).unwrap();
    let b = GbdtModel::fit(&p(1), &train, None).unwrap();
    let c = GbdtModel::fit(&p(2), &train, None).unwrap();
    assert_eq!(a.trees, b.trees);
    assert_ne!(a.trees, c.trees);
}

#[test]
fn class_weights_shift_probabilities_up() {
    let noisy = |r: &[f32], g: &mut Lcg| r[0] + g.next() > 0.9;
    let train = make(2000, 2, 10, noisy);
    let mean = |spw: f64| {
        let m = GbdtModel::fit(
            &params().scale_pos_weight(spw).build().unwrap(),
            &train,
            None,
        )
        .unwrap();
        let p = m.predict_proba(train.features()).unwrap();
        p.iter().map(|&v| f64::from(v)).sum::<f64>() / p.len() as f64
    };
    let (plain, weighted) = (mean(1.0), mean(5.0));
    assert!(weighted > plain + 0.05, "{plain} -> {weighted}");
}

#[test]
fn tree_shape_limits_are_respected() {
    let xor = |r: &[f32], _: &mut Lcg| (r[0] > 0.0) != (r[1] > 0.0);
    let train = make(2000, 3, 11, xor);
    let p = params().max_leaves(8).max_depth(Some(3)).build().unwrap();
    let model = GbdtModel::fit(&p, &train, None).unwrap();
    for t in &model.trees {
        assert!(t.n_leaves() <= 8);
        assert!(t.depth() <= 3);
        for n in &t.nodes {
            if let Node::Leaf { count, .. } = n {
                assert!(*count >= 10, "leaf with {count} rows");
            }
        }
    }
    let p = params().max_leaves(5).build().unwrap();
    let model = GbdtModel::fit(&p, &train, None).unwrap();
    assert!(model.trees.iter().any(|t| t.n_leaves() == 5));
}

#[test]
fn batch_row_and_reordered_predictions_agree_and_contributions_add_up() {
    let lin = |r: &[f32], g: &mut Lcg| r[0] - r[2] + 0.3 * g.next() > 0.0;
    let train = make(1500, 3, 12, lin);
    let model = GbdtModel::fit(&params().build().unwrap(), &train, None).unwrap();
    let batch = model.predict_proba(train.features()).unwrap();
    let m = train.features();
    let mut mean_abs = [0.0f64; 3];
    for r in (0..m.n_rows()).step_by(7) {
        let row: Vec<f32> = (0..3).map(|c| m.get(r, c)).collect();
        assert_eq!(model.predict_proba_row(&row), batch[r]);
        let c = model.contributions_row(&row);
        assert!((c.total() - model.predict_raw_row(&row)).abs() < 1e-4);
        for (a, x) in mean_abs.iter_mut().zip(&c.features) {
            *a += x.abs();
        }
        let top = model.top_contributions(&row, 2);
        assert!(top.len() == 2 && top[0].1.abs() >= top[1].1.abs());
    }
    // x1 carries no signal, so it explains far less than x0 and x2.
    assert!(
        mean_abs[1] * 3.0 < mean_abs[0].min(mean_abs[2]),
        "{mean_abs:?}"
    );
    // Columns in another order are matched by name; a missing column is an error.
    let reordered = Matrix::from_columns(vec![
        ("x2".into(), m.column(2).to_vec()),
        ("x0".into(), m.column(0).to_vec()),
        ("x1".into(), m.column(1).to_vec()),
    ])
    .unwrap();
    assert_eq!(model.predict_proba(&reordered).unwrap(), batch);
    let short = Matrix::from_columns(vec![("x0".into(), m.column(0).to_vec())]).unwrap();
    let err = model.predict_proba(&short).unwrap_err();
    assert!(
        matches!(err, Error::FeatureMismatch(_)) && err.to_string().contains("x2"),
        "{err}"
    );
}

#[test]
fn fit_calibrated_chooses_a_threshold_and_reports() {
    use lotl_classifier::pipeline::{fit_calibrated, Calibrated, FitOptions, ThresholdRule};
    let lin = |r: &[f32], g: &mut Lcg| r[0] + 0.5 * r[1] + 0.4 * (g.next() - 0.5) > 0.6;
    let train = make(3000, 3, 13, lin);
    let valid = make(1500, 3, 14, lin);
    let test = make(1500, 3, 15, lin);
    let p = params().early_stopping_rounds(Some(10)).build().unwrap();
    let (model, rep): (Calibrated<GbdtModel>, _) =
        fit_calibrated(&p, &train, &valid, &FitOptions::default()).unwrap();
    assert!(rep.roc_auc.unwrap() > 0.95, "{rep:?}");
    assert!(rep.ece_calibrated.unwrap() <= rep.ece_uncalibrated.unwrap() + 1e-9);
    let t = model.threshold;
    assert!(t.recall_positive.min(t.recall_negative) > 0.85, "{t:?}");
    let test_rep = model.evaluate(&test).unwrap();
    assert!(test_rep.roc_auc.unwrap() > 0.95, "{test_rep:?}");
    let strict = FitOptions {
        threshold: ThresholdRule::TargetFpr { max_fpr: 0.01 },
        ..FitOptions::default()
    };
    let (m2, rep2): (Calibrated<GbdtModel>, _) =
        fit_calibrated(&p, &train, &valid, &strict).unwrap();
    assert!(m2.threshold.fpr() <= 0.01);
    assert!(rep2.confusion.fpr().unwrap() <= 0.01);
    assert!(m2.threshold.threshold >= model.threshold.threshold);
}

#[test]
fn shap_values_add_up_on_a_trained_model() {
    let lin = |r: &[f32], g: &mut Lcg| r[0] - r[2] + 0.3 * g.next() > 0.0;
    let train = make(1000, 3, 16, lin);
    let model = GbdtModel::fit(&params().n_trees(20).build().unwrap(), &train, None).unwrap();
    let m = train.features();
    for r in (0..m.n_rows()).step_by(97) {
        let row: Vec<f32> = (0..3).map(|c| m.get(r, c)).collect();
        let s = model.shap_row(&row);
        let c = model.contributions_row(&row);
        assert!(
            (s.total() - model.predict_raw_row(&row)).abs() < 1e-4,
            "shap {s:?} saabas {c:?} raw {}",
            model.predict_raw_row(&row)
        );
    }
}
