//! Per-event feature contributions for `--explain` (path-based, Saabas style).
//!
//! Every node carries the value it would predict as a leaf; walking a row down a tree,
//! each split hands the change `value(child) - value(node)` to the feature it tested.
//! Summed over trees, the contributions plus the bias (base score + root values) equal the
//! row's raw score exactly (up to rounding), so they explain the log-odds additively.
//! Cheaper than TreeSHAP (one path per tree) and good enough to name the features that
//! pushed an event up.

use crate::gbdt::{GbdtModel, Node};

/// Contributions of one row: one per feature plus the bias, on the log-odds scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Contributions {
    /// Contribution of each feature, in the model's feature order.
    pub features: Vec<f64>,
    /// Base score plus every tree's root value: the score before any split.
    pub bias: f64,
}

impl Contributions {
    /// Bias plus all feature contributions: the raw score of the row.
    pub fn total(&self) -> f64 {
        self.bias + self.features.iter().sum::<f64>()
    }
}

impl GbdtModel {
    /// Path-based contributions of one row (features in model order).
    pub fn contributions_row(&self, row: &[f32]) -> Contributions {
        let mut features = vec![0.0f64; self.feature_names.len()];
        let mut bias = f64::from(self.base_score);
        for t in &self.trees {
            let Some(root) = t.nodes.first() else {
                continue;
            };
            bias += f64::from(root.value());
            let mut i = 0usize;
            while let Node::Split {
                feature,
                threshold,
                default_left,
                left,
                right,
                value,
                ..
            } = &t.nodes[i]
            {
                let x = row.get(*feature as usize).copied().unwrap_or(f32::NAN);
                let go_left = if x.is_nan() {
                    *default_left
                } else {
                    x <= *threshold
                };
                let next = if go_left { *left } else { *right } as usize;
                let delta = f64::from(t.nodes[next].value()) - f64::from(*value);
                if let Some(c) = features.get_mut(*feature as usize) {
                    *c += delta;
                }
                i = next;
            }
        }
        Contributions { features, bias }
    }

    /// The `k` features with the largest absolute contribution for one row, largest
    /// first, with their contributions (log-odds).
    pub fn top_contributions(&self, row: &[f32], k: usize) -> Vec<(String, f64)> {
        let c = self.contributions_row(row);
        let mut v: Vec<(usize, f64)> = c
            .features
            .into_iter()
            .enumerate()
            .filter(|(_, x)| *x != 0.0)
            .collect();
        v.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
        v.into_iter()
            .take(k)
            .map(|(i, x)| (self.feature_names[i].clone(), x))
            .collect()
    }
}
