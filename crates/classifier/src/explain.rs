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

/// One element of the feature path of TreeSHAP (Lundberg et al. 2018, Algorithm 2).
#[derive(Debug, Clone, Copy)]
struct PathElement {
    feature: Option<u32>,
    zero_fraction: f64,
    one_fraction: f64,
    pweight: f64,
}

fn extend_path(
    path: &mut Vec<PathElement>,
    zero_fraction: f64,
    one_fraction: f64,
    feature: Option<u32>,
) {
    let d = path.len();
    path.push(PathElement {
        feature,
        zero_fraction,
        one_fraction,
        pweight: if d == 0 { 1.0 } else { 0.0 },
    });
    for i in (0..d).rev() {
        path[i + 1].pweight += one_fraction * path[i].pweight * (i + 1) as f64 / (d + 1) as f64;
        path[i].pweight = zero_fraction * path[i].pweight * (d - i) as f64 / (d + 1) as f64;
    }
}

fn unwind_path(path: &mut Vec<PathElement>, index: usize) {
    let d = path.len() - 1;
    let (one, zero) = (path[index].one_fraction, path[index].zero_fraction);
    let mut next_one = path[d].pweight;
    for i in (0..d).rev() {
        if one != 0.0 {
            let tmp = path[i].pweight;
            path[i].pweight = next_one * (d + 1) as f64 / ((i + 1) as f64 * one);
            next_one = tmp - path[i].pweight * zero * (d - i) as f64 / (d + 1) as f64;
        } else {
            path[i].pweight = path[i].pweight * (d + 1) as f64 / (zero * (d - i) as f64);
        }
    }
    // The weights were recomputed in place for positions 0..d; only the feature data move.
    for i in index..d {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
    path.pop();
}

fn unwound_path_sum(path: &[PathElement], index: usize) -> f64 {
    let d = path.len() - 1;
    let (one, zero) = (path[index].one_fraction, path[index].zero_fraction);
    let mut next_one = path[d].pweight;
    let mut total = 0.0;
    for i in (0..d).rev() {
        if one != 0.0 {
            let tmp = next_one * (d + 1) as f64 / ((i + 1) as f64 * one);
            total += tmp;
            next_one = path[i].pweight - tmp * zero * (d - i) as f64 / (d + 1) as f64;
        } else if zero != 0.0 {
            total += path[i].pweight / zero / ((d - i) as f64 / (d + 1) as f64);
        }
    }
    total
}

/// Training rows reaching a node: TreeSHAP's "cover" (LightGBM's convention).
fn cover(n: &Node) -> f64 {
    f64::from(n.count())
}

#[allow(clippy::too_many_arguments)]
fn tree_shap(
    nodes: &[Node],
    row: &[f32],
    phi: &mut [f64],
    node: usize,
    parent: &[PathElement],
    zero_fraction: f64,
    one_fraction: f64,
    feature: Option<u32>,
) {
    let mut path = parent.to_vec();
    extend_path(&mut path, zero_fraction, one_fraction, feature);
    match &nodes[node] {
        Node::Leaf { value, .. } => {
            for i in 1..path.len() {
                let w = unwound_path_sum(&path, i);
                let el = path[i];
                if let Some(f) = el.feature.and_then(|f| phi.get_mut(f as usize)) {
                    *f += w * (el.one_fraction - el.zero_fraction) * f64::from(*value);
                }
            }
        }
        n @ Node::Split {
            feature: split,
            threshold,
            default_left,
            left,
            right,
            ..
        } => {
            let x = row.get(*split as usize).copied().unwrap_or(f32::NAN);
            let go_left = if x.is_nan() {
                *default_left
            } else {
                x <= *threshold
            };
            let (hot, cold) = if go_left {
                (*left as usize, *right as usize)
            } else {
                (*right as usize, *left as usize)
            };
            let w = cover(n);
            let (hot_zero, cold_zero) = if w > 0.0 {
                (cover(&nodes[hot]) / w, cover(&nodes[cold]) / w)
            } else {
                (0.5, 0.5)
            };
            let (mut in_zero, mut in_one) = (1.0, 1.0);
            if let Some(k) = path.iter().skip(1).position(|e| e.feature == Some(*split)) {
                let k = k + 1;
                in_zero = path[k].zero_fraction;
                in_one = path[k].one_fraction;
                unwind_path(&mut path, k);
            }
            tree_shap(
                nodes,
                row,
                phi,
                hot,
                &path,
                hot_zero * in_zero,
                in_one,
                Some(*split),
            );
            tree_shap(
                nodes,
                row,
                phi,
                cold,
                &path,
                cold_zero * in_zero,
                0.0,
                Some(*split),
            );
        }
    }
}

/// Cover-weighted mean output of a tree: its expected value over the training data.
fn expected_value(nodes: &[Node], node: usize) -> f64 {
    match &nodes[node] {
        Node::Leaf { value, .. } => f64::from(*value),
        n @ Node::Split { left, right, .. } => {
            let (l, r) = (*left as usize, *right as usize);
            let w = cover(n);
            if w > 0.0 {
                (cover(&nodes[l]) * expected_value(nodes, l)
                    + cover(&nodes[r]) * expected_value(nodes, r))
                    / w
            } else {
                (expected_value(nodes, l) + expected_value(nodes, r)) / 2.0
            }
        }
    }
}

impl GbdtModel {
    /// Exact TreeSHAP values (path-dependent, covers = training row counts) of one row:
    /// consistent attributions that also account for features a row did *not* use.
    /// Costs O(leaves × depth²) per tree, so it suits explaining chosen events, not every
    /// event of a large batch (use [`GbdtModel::contributions_row`] there).
    pub fn shap_row(&self, row: &[f32]) -> Contributions {
        let mut features = vec![0.0f64; self.feature_names.len()];
        let mut bias = f64::from(self.base_score);
        for t in &self.trees {
            if t.nodes.is_empty() {
                continue;
            }
            bias += expected_value(&t.nodes, 0);
            tree_shap(&t.nodes, row, &mut features, 0, &[], 1.0, 1.0, None);
        }
        Contributions { features, bias }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gbdt::Tree;

    /// E[f(x) | x_S] under the same cover-weighted convention, by recursion.
    fn cond_exp(nodes: &[Node], node: usize, row: &[f32], s: u32) -> f64 {
        match &nodes[node] {
            Node::Leaf { value, .. } => f64::from(*value),
            n @ Node::Split {
                feature,
                threshold,
                default_left,
                left,
                right,
                ..
            } => {
                let (l, r) = (*left as usize, *right as usize);
                if s & (1 << feature) != 0 {
                    let x = row[*feature as usize];
                    let go_left = if x.is_nan() {
                        *default_left
                    } else {
                        x <= *threshold
                    };
                    cond_exp(nodes, if go_left { l } else { r }, row, s)
                } else {
                    (cover(&nodes[l]) * cond_exp(nodes, l, row, s)
                        + cover(&nodes[r]) * cond_exp(nodes, r, row, s))
                        / cover(n)
                }
            }
        }
    }

    fn split(feature: u32, threshold: f32, left: u32, right: u32, count: u32) -> Node {
        Node::Split {
            feature,
            threshold,
            default_left: true,
            left,
            right,
            gain: 1.0,
            value: 0.0,
            hessian: count as f32,
            count,
        }
    }

    fn leaf(value: f32, count: u32) -> Node {
        Node::Leaf {
            value,
            hessian: count as f32,
            count,
        }
    }

    #[test]
    fn tree_shap_matches_brute_force_shapley_values() {
        // Two trees over 3 features, one splitting twice on feature 0 along a path.
        let t1 = Tree {
            nodes: vec![
                split(0, 0.5, 1, 2, 100),
                split(1, 0.0, 3, 4, 60),
                split(0, 2.0, 5, 6, 40),
                leaf(-1.0, 20),
                leaf(0.5, 40),
                leaf(1.5, 30),
                split(2, 1.0, 7, 8, 10),
                leaf(3.0, 4),
                leaf(-2.0, 6),
            ],
        };
        let t2 = Tree {
            nodes: vec![split(2, 0.0, 1, 2, 100), leaf(0.25, 70), leaf(-0.75, 30)],
        };
        let model =
            GbdtModel::from_parts(vec!["a".into(), "b".into(), "c".into()], 0.1, vec![t1, t2]);
        let m = 3usize;
        let fact = |n: usize| (1..=n).product::<usize>() as f64;
        for row in [
            [0.0f32, 1.0, 2.0],
            [3.0, -1.0, 0.5],
            [1.0, f32::NAN, -1.0],
            [0.2, -0.5, 1.5],
        ] {
            let shap = model.shap_row(&row);
            let v = |s: u32| -> f64 {
                model
                    .trees
                    .iter()
                    .map(|t| cond_exp(&t.nodes, 0, &row, s))
                    .sum()
            };
            for i in 0..m {
                let mut phi = 0.0;
                for s in 0u32..(1 << m) {
                    if s & (1 << i) != 0 {
                        continue;
                    }
                    let k = s.count_ones() as usize;
                    let w = fact(k) * fact(m - k - 1) / fact(m);
                    phi += w * (v(s | 1 << i) - v(s));
                }
                assert!(
                    (shap.features[i] - phi).abs() < 1e-9,
                    "row {row:?} feature {i}: {} vs {phi}",
                    shap.features[i]
                );
            }
            assert!((shap.bias - f64::from(0.1f32) - v(0)).abs() < 1e-9);
            assert!((shap.total() - model.predict_raw_row(&row)).abs() < 1e-6);
        }
    }
}
