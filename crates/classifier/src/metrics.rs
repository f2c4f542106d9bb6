//! Evaluation metrics shared by training reports and the evaluation crate.
//!
//! Scores are "higher = more likely class 1". Metrics that need both classes (or any rows)
//! return `None` instead of NaN, so reports can print "n/a" rather than propagate NaN.

/// Cumulative (true positives, false positives) after each distinct score, descending,
/// with the numbers of positives and negatives.
type RocPoints = (Vec<(f64, f64)>, f64, f64);

/// Sorts row indices by descending score and yields, per distinct score, the cumulative
/// (true positives, false positives) after including all rows with that score.
fn roc_points(labels: &[u8], scores: &[f32]) -> Option<RocPoints> {
    if labels.len() != scores.len() || labels.is_empty() {
        return None;
    }
    let pos = labels.iter().filter(|&&l| l == 1).count() as f64;
    let neg = labels.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return None;
    }
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_unstable_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut points = Vec::new();
    let (mut tp, mut fp) = (0.0f64, 0.0f64);
    for (k, &i) in order.iter().enumerate() {
        if labels[i] == 1 {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let last_of_group = order
            .get(k + 1)
            .is_none_or(|&j| scores[j].total_cmp(&scores[i]).is_ne());
        if last_of_group {
            points.push((tp, fp));
        }
    }
    Some((points, pos, neg))
}

/// Area under the ROC curve (ties count one half), or `None` without both classes.
pub fn roc_auc(labels: &[u8], scores: &[f32]) -> Option<f64> {
    let (points, pos, neg) = roc_points(labels, scores)?;
    let mut area = 0.0;
    let (mut ptp, mut pfp) = (0.0, 0.0);
    for (tp, fp) in points {
        area += (fp - pfp) * (tp + ptp) / 2.0;
        ptp = tp;
        pfp = fp;
    }
    Some(area / (pos * neg))
}

/// Average precision (area under the precision-recall curve, step-wise as scikit-learn's
/// `average_precision_score`), or `None` without both classes.
pub fn pr_auc(labels: &[u8], scores: &[f32]) -> Option<f64> {
    let (points, pos, _) = roc_points(labels, scores)?;
    let mut ap = 0.0;
    let mut prev_recall = 0.0;
    for (tp, fp) in points {
        let recall = tp / pos;
        let precision = tp / (tp + fp);
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    Some(ap)
}

/// Highest recall (true-positive rate) reachable with a false-positive rate at most
/// `max_fpr`, thresholding between distinct scores; `None` without both classes.
pub fn recall_at_fpr(labels: &[u8], scores: &[f32], max_fpr: f64) -> Option<f64> {
    let (points, pos, neg) = roc_points(labels, scores)?;
    let mut best = 0.0;
    for (tp, fp) in points {
        if fp / neg <= max_fpr {
            best = tp / pos;
        } else {
            break;
        }
    }
    Some(best)
}

/// Expected calibration error with `n_bins` equal-width probability bins: the
/// row-weighted mean of |observed positive rate − mean predicted probability| per bin.
/// `None` for no rows or zero bins.
pub fn expected_calibration_error(labels: &[u8], probs: &[f32], n_bins: usize) -> Option<f64> {
    if labels.is_empty() || labels.len() != probs.len() || n_bins == 0 {
        return None;
    }
    let mut count = vec![0usize; n_bins];
    let mut pos = vec![0.0f64; n_bins];
    let mut conf = vec![0.0f64; n_bins];
    for (&l, &p) in labels.iter().zip(probs) {
        let p = f64::from(p).clamp(0.0, 1.0);
        let b = ((p * n_bins as f64) as usize).min(n_bins - 1);
        count[b] += 1;
        pos[b] += f64::from(l);
        conf[b] += p;
    }
    let n = labels.len() as f64;
    Some(
        (0..n_bins)
            .filter(|&b| count[b] > 0)
            .map(|b| {
                let c = count[b] as f64;
                (c / n) * (pos[b] / c - conf[b] / c).abs()
            })
            .sum(),
    )
}

/// Mean log-loss of probabilities (clipped to `[1e-15, 1 - 1e-15]`); `None` for no rows.
pub fn log_loss(labels: &[u8], probs: &[f32]) -> Option<f64> {
    if labels.is_empty() || labels.len() != probs.len() {
        return None;
    }
    let s: f64 = labels
        .iter()
        .zip(probs)
        .map(|(&l, &p)| {
            let p = f64::from(p).clamp(1e-15, 1.0 - 1e-15);
            if l == 1 {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum();
    Some(s / labels.len() as f64)
}

/// Counts of a thresholded prediction (`prob >= threshold` predicts class 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ConfusionMatrix {
    /// Class 1 predicted 1.
    pub tp: u64,
    /// Class 0 predicted 1.
    pub fp: u64,
    /// Class 0 predicted 0.
    pub tn: u64,
    /// Class 1 predicted 0.
    pub fn_: u64,
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

impl ConfusionMatrix {
    /// Counts predictions `prob >= threshold` against labels.
    pub fn at_threshold(labels: &[u8], probs: &[f32], threshold: f32) -> Self {
        let mut m = Self::default();
        for (&l, &p) in labels.iter().zip(probs) {
            match (l == 1, p >= threshold) {
                (true, true) => m.tp += 1,
                (false, true) => m.fp += 1,
                (false, false) => m.tn += 1,
                (true, false) => m.fn_ += 1,
            }
        }
        m
    }

    /// Recall of class 1 (true-positive rate).
    pub fn recall(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// Recall of class 0 (true-negative rate).
    pub fn specificity(&self) -> Option<f64> {
        ratio(self.tn, self.tn + self.fp)
    }

    /// Precision of class 1.
    pub fn precision(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fp)
    }

    /// False-positive rate.
    pub fn fpr(&self) -> Option<f64> {
        ratio(self.fp, self.fp + self.tn)
    }

    /// F1 of class 1.
    pub fn f1(&self) -> Option<f64> {
        let p = self.precision()?;
        let r = self.recall()?;
        (p + r > 0.0).then(|| 2.0 * p * r / (p + r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Option<f64>, b: f64) {
        let a = a.expect("metric defined");
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    #[test]
    fn roc_auc_matches_hand_computed_values() {
        // Pairs (pos, neg): (0.8,0.6) (0.8,0.2) (0.4,0.6) (0.4,0.2): 1 + 1 + 0 + 1 = 3 of 4.
        close(roc_auc(&[1, 0, 1, 0], &[0.8, 0.6, 0.4, 0.2]), 0.75);
        close(roc_auc(&[1, 1, 0, 0], &[0.9, 0.8, 0.1, 0.2]), 1.0);
        close(roc_auc(&[0, 0, 1, 1], &[0.9, 0.8, 0.1, 0.2]), 0.0);
        // One tie between a positive and a negative counts one half: (1 + 0.5) / 2.
        close(roc_auc(&[1, 0, 0], &[0.5, 0.5, 0.1]), 0.75);
    }

    #[test]
    fn pr_auc_matches_hand_computed_values() {
        // Ranked: 1 (P=1, R=.5), 0, 1 (P=2/3, R=1): AP = .5*1 + .5*2/3.
        close(
            pr_auc(&[1, 0, 1, 0], &[0.9, 0.8, 0.7, 0.1]),
            0.5 + 1.0 / 3.0,
        );
        close(pr_auc(&[1, 1, 0], &[0.9, 0.8, 0.1]), 1.0);
    }

    #[test]
    fn recall_at_fpr_stops_at_the_budget() {
        let labels = [1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        let scores = [
            0.99, 0.98, 0.97, 0.96, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.04, 0.03,
        ];
        // 9 negatives: FPR 0 reaches 2/3 recall; FPR 1/9 reaches 1.0.
        close(recall_at_fpr(&labels, &scores, 0.0), 2.0 / 3.0);
        close(recall_at_fpr(&labels, &scores, 0.12), 1.0);
    }

    #[test]
    fn metrics_needing_both_classes_return_none() {
        assert_eq!(roc_auc(&[1, 1], &[0.1, 0.2]), None);
        assert_eq!(pr_auc(&[0, 0], &[0.1, 0.2]), None);
        assert_eq!(recall_at_fpr(&[], &[], 0.01), None);
        assert_eq!(expected_calibration_error(&[], &[], 10), None);
        assert_eq!(ConfusionMatrix::default().recall(), None);
    }

    #[test]
    fn ece_and_confusion_matrix_match_hand_computed_values() {
        // Bin [0.0,0.5): probs 0.1, 0.3, labels 0, 1 -> |0.5 - 0.2| = 0.3, weight 1/2.
        // Bin [0.5,1.0]: probs 0.9, 0.9, labels 1, 1 -> |1 - 0.9| = 0.1, weight 1/2.
        let e = expected_calibration_error(&[0, 1, 1, 1], &[0.1, 0.3, 0.9, 0.9], 2);
        assert!((e.unwrap() - 0.2).abs() < 1e-6, "{e:?}");
        let m = ConfusionMatrix::at_threshold(&[1, 1, 0, 0, 1], &[0.9, 0.2, 0.6, 0.1, 0.5], 0.5);
        assert_eq!((m.tp, m.fn_, m.fp, m.tn), (2, 1, 1, 1));
        close(m.recall(), 2.0 / 3.0);
        close(m.fpr(), 0.5);
        close(m.precision(), 2.0 / 3.0);
        close(m.f1(), 2.0 / 3.0);
        let ll = log_loss(&[1, 0], &[0.5, 0.5]).unwrap();
        assert!((ll - std::f64::consts::LN_2).abs() < 1e-12);
    }
}
