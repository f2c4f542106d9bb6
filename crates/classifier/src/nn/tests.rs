use super::*;
use crate::metrics::roc_auc;
use crate::rng::SplitMix64;
use std::path::Path;

/// A small data set shaped like the lotl recipe: two hashed n-gram families (term
/// frequencies) and two numeric columns, one with missing values. The label depends on a
/// numeric column and on one n-gram bucket, so both paths of the network must learn.
fn synthetic(n: usize, seed: u64) -> Dataset {
    let mut rng = SplitMix64::new(seed);
    let mut names: Vec<String> = (0..12).map(|i| format!("cl_ngram_{i}")).collect();
    names.extend((0..6).map(|i| format!("path_ngram_{i}")));
    names.push("x1".into());
    names.push("x2".into());
    let n_f = names.len();
    let mut rows = vec![0.0f32; n * n_f];
    let mut labels = Vec::with_capacity(n);
    for r in 0..n {
        let row = &mut rows[r * n_f..(r + 1) * n_f];
        let malicious = rng.next_f64() < 0.3;
        // n-gram counts, then term frequencies; malicious rows use bucket 3 a lot.
        let mut counts = [0.0f32; 12];
        for _ in 0..8 {
            counts[rng.below(12)] += 1.0;
        }
        if malicious {
            counts[3] += 6.0;
        }
        let total: f32 = counts.iter().sum();
        for (i, c) in counts.iter().enumerate() {
            row[i] = c / total;
        }
        row[12 + rng.below(6)] = 1.0;
        row[18] = (rng.next_f64() * 10.0 + if malicious { 4.0 } else { 0.0 }) as f32;
        row[19] = if rng.next_f64() < 0.2 {
            f32::NAN
        } else {
            (rng.next_f64() * 100.0) as f32
        };
        labels.push(if malicious { 1.0 } else { 0.0 });
    }
    let m = Matrix::from_row_major(n, names, &rows).unwrap();
    Dataset::new(m, &labels, None).unwrap()
}

fn small_params() -> ValidNnParams {
    NnParams::builder()
        .embedding_dim(4)
        .hidden(vec![16])
        .learning_rate(0.01)
        .batch_size(64)
        .max_epochs(8)
        .early_stopping_rounds(Some(3))
        .importance_rows(300)
        .seed(7)
        .build()
        .unwrap()
}

#[test]
fn layout_groups_ngram_families_and_keeps_numeric_columns() {
    let m = NnModel::fit(&small_params(), &synthetic(400, 1), None).unwrap();
    let bags: Vec<(&str, usize)> = m
        .bags
        .iter()
        .map(|b| (b.name.as_str(), b.columns.len()))
        .collect();
    assert_eq!(bags, vec![("cl", 12), ("path", 6)]);
    assert_eq!(m.numeric, vec![18, 19]);
    assert_eq!(m.head_width(), 4 + 4 + 2);
    // n-gram columns are not standardised; numeric ones are.
    assert_eq!((m.mean[0], m.inv_std[0]), (0.0, 1.0));
    assert!(m.mean[18] > 1.0 && m.inv_std[18] < 1.0);
    assert!(ngram_family("cl_ngram_12") == Some("cl"));
    assert!(ngram_family("cl_ngram_x").is_none());
    assert!(ngram_family("_ngram_1").is_none());
}

#[test]
fn learns_a_separable_problem_with_early_stopping() {
    let train = synthetic(3000, 1);
    let valid = synthetic(1000, 2);
    let test = synthetic(1000, 3);
    let m = NnModel::fit(&small_params(), &train, Some(&valid)).unwrap();
    let p = m.predict_proba(test.features()).unwrap();
    let auc = roc_auc(test.labels(), &p).unwrap();
    assert!(auc > 0.97, "test AUC {auc}");
    assert!(!m.valid_loss.is_empty() && m.valid_loss.len() as u32 == m.epochs);
    assert!(m.valid_loss[0] > *m.valid_loss.last().unwrap() || m.epochs < 8);
    // The informative features rank above the pure-noise numeric column.
    let imp = m.feature_importance();
    let get = |n: &str| imp.iter().find(|(k, _)| k == n).unwrap().1;
    assert!(get("x1") > get("x2"), "{imp:?}");
    assert!(get("cl_ngram_3") > get("x2"), "{imp:?}");
    // Missing values are scored (as the mean), never NaN.
    assert!(p.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)));
}

#[test]
fn same_seed_same_weights_other_seed_other_weights() {
    let train = synthetic(600, 1);
    let valid = synthetic(200, 2);
    let a = NnModel::fit(&small_params(), &train, Some(&valid)).unwrap();
    let b = NnModel::fit(&small_params(), &train, Some(&valid)).unwrap();
    assert_eq!(a, b);
    let other = NnParams {
        seed: 8,
        ..small_params().params().clone()
    }
    .build()
    .unwrap();
    let c = NnModel::fit(&other, &train, Some(&valid)).unwrap();
    assert_ne!(a.layers, c.layers);
}

#[test]
fn save_load_round_trip_gives_identical_probabilities() {
    let train = synthetic(600, 1);
    let m = NnModel::fit(&small_params(), &train, None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    m.save(&path).unwrap();
    let back = NnModel::load(&path).unwrap();
    // Weights are stored as raw f32 bytes: bit-exact. Importances are plain JSON numbers.
    assert_eq!(
        (
            &back.mean,
            &back.inv_std,
            &back.bags,
            &back.numeric,
            &back.layers
        ),
        (&m.mean, &m.inv_std, &m.bags, &m.numeric, &m.layers)
    );
    assert!(back
        .importance
        .iter()
        .zip(&m.importance)
        .all(|(a, b)| (a - b).abs() <= 1e-12 * b.abs().max(1.0)));
    let p1 = m.predict_proba(train.features()).unwrap();
    let p2 = back.predict_proba(train.features()).unwrap();
    assert!(p1.iter().zip(&p2).all(|(a, b)| a.to_bits() == b.to_bits()));
    // Row and batch paths agree exactly.
    let row: Vec<f32> = (0..train.features().n_cols())
        .map(|c| train.features().get(5, c))
        .collect();
    assert_eq!(back.predict_proba_row(&row).to_bits(), p1[5].to_bits());
}

#[test]
fn corrupt_or_newer_files_are_refused() {
    let m = NnModel::fit(&small_params(), &synthetic(300, 1), None).unwrap();
    let mut bad = m.clone();
    bad.layers[0].bias.pop();
    let json = serde_json::to_vec(&bad).unwrap();
    let err = NnModel::from_json_bytes(&json, Path::new("m.json")).unwrap_err();
    assert!(err.to_string().contains("layer 0"), "{err}");
    let mut v = serde_json::to_value(&m).unwrap();
    v["format_version"] = serde_json::json!(99);
    let err = NnModel::from_json_bytes(&serde_json::to_vec(&v).unwrap(), Path::new("m.json"))
        .unwrap_err();
    assert!(matches!(err, Error::NewerFormat { .. }), "{err}");
}

#[test]
fn one_class_and_mismatched_data_are_rejected() {
    let d = synthetic(200, 1);
    let neg: Vec<usize> = (0..d.n_rows()).filter(|&r| d.labels()[r] == 0).collect();
    let one = d.select_rows(&neg).unwrap();
    let err = NnModel::fit(&small_params(), &one, None).unwrap_err();
    assert!(matches!(err, Error::Untrainable(_)), "{err}");
    assert!(err.to_string().contains("both classes"), "{err}");
    let empty = d.select_rows(&[]).unwrap();
    let err = NnModel::fit(&small_params(), &d, Some(&empty)).unwrap_err();
    assert!(err.to_string().contains("validation set is empty"), "{err}");
}

#[test]
fn input_gradient_matches_finite_differences() {
    let train = synthetic(600, 1);
    let m = NnModel::fit(&small_params(), &train, None).unwrap();
    let row: Vec<f32> = (0..train.features().n_cols())
        .map(|c| train.features().get(3, c))
        .map(|v| if v.is_nan() { 50.0 } else { v })
        .collect();
    let mut s = m.scratch();
    m.standardise(&row, &mut s.z);
    m.forward(&mut s);
    let grad = m.input_gradient(&s);
    for c in [0usize, 3, 13, 18, 19] {
        let h = 1e-2f32;
        let mut up = row.clone();
        up[c] += h / m.inv_std[c];
        let mut down = row.clone();
        down[c] -= h / m.inv_std[c];
        let fd = (m.predict_raw_row(&up) - m.predict_raw_row(&down)) / (2.0 * h);
        assert!(
            (fd - grad[c]).abs() <= 1e-2 * (1.0 + grad[c].abs()),
            "column {c}: finite difference {fd}, gradient {}",
            grad[c]
        );
    }
    let top = m.top_contributions(&row, 3);
    assert!(top.len() <= 3 && !top.is_empty());
    assert!(top.windows(2).all(|w| w[0].1.abs() >= w[1].1.abs()));
}
