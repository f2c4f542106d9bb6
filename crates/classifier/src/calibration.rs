//! Probability calibration and decision thresholds, fitted on validation data.
//!
//! Boosted trees trained with class weights or early stopping give scores that rank well
//! but are not frequencies; analysts read them as probabilities, so they are mapped
//! through a monotone calibration (Platt's sigmoid or isotonic regression). The decision
//! threshold follows Elastic's ProblemChild class-assignment objective
//! `maximize_minimum_recall`, or a target false-positive rate.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::metrics::expected_calibration_error;

/// Which calibration to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationMethod {
    /// Leave probabilities unchanged.
    None,
    /// Sigmoid on the log-odds: `sigmoid(a * logit(p) + b)`.
    Platt,
    /// Monotone step function fitted by pool-adjacent-violators, linearly interpolated.
    Isotonic,
}

/// A fitted calibration map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Calibration {
    /// Identity.
    None,
    /// `sigmoid(a * logit(p) + b)`.
    Platt {
        /// Slope on the log-odds.
        a: f64,
        /// Intercept.
        b: f64,
    },
    /// Piecewise-linear through `(x[i], y[i])`, `x` ascending, constant outside.
    Isotonic {
        /// Input probabilities.
        x: Vec<f32>,
        /// Calibrated probabilities (non-decreasing).
        y: Vec<f32>,
    },
}

fn check_inputs(labels: &[u8], probs: &[f32]) -> Result<()> {
    if labels.len() != probs.len() {
        return Err(Error::InvalidData(format!(
            "{} labels for {} probabilities",
            labels.len(),
            probs.len()
        )));
    }
    if let Some(i) = probs.iter().position(|p| !(0.0..=1.0).contains(p)) {
        return Err(Error::InvalidData(format!(
            "probability {} at row {i} is not in [0, 1]",
            probs[i]
        )));
    }
    let pos = labels.iter().filter(|&&l| l == 1).count();
    if pos == 0 || pos == labels.len() {
        return Err(Error::Untrainable(
            "calibration data need both classes".into(),
        ));
    }
    Ok(())
}

fn logit(p: f32) -> f64 {
    let p = f64::from(p).clamp(1e-12, 1.0 - 1e-12);
    (p / (1.0 - p)).ln()
}

impl Calibration {
    /// Fits `method` on validation labels and (uncalibrated) probabilities.
    pub fn fit(method: CalibrationMethod, labels: &[u8], probs: &[f32]) -> Result<Self> {
        match method {
            CalibrationMethod::None => Ok(Calibration::None),
            CalibrationMethod::Platt => Self::fit_platt(labels, probs),
            CalibrationMethod::Isotonic => Self::fit_isotonic(labels, probs),
        }
    }

    /// Platt scaling with Platt's smoothed targets, by damped Newton iterations.
    pub fn fit_platt(labels: &[u8], probs: &[f32]) -> Result<Self> {
        check_inputs(labels, probs)?;
        let n_pos = labels.iter().filter(|&&l| l == 1).count() as f64;
        let n_neg = labels.len() as f64 - n_pos;
        let t_pos = (n_pos + 1.0) / (n_pos + 2.0);
        let t_neg = 1.0 / (n_neg + 2.0);
        let xs: Vec<f64> = probs.iter().map(|&p| logit(p)).collect();
        let ts: Vec<f64> = labels
            .iter()
            .map(|&l| if l == 1 { t_pos } else { t_neg })
            .collect();
        let loss = |a: f64, b: f64| -> f64 {
            xs.iter()
                .zip(&ts)
                .map(|(&x, &t)| {
                    let z = a * x + b;
                    // t * log(1+e^-z) + (1-t) * log(1+e^z), stably.
                    let lp = if z > 0.0 {
                        (-z).exp().ln_1p()
                    } else {
                        -z + z.exp().ln_1p()
                    };
                    lp + (1.0 - t) * z
                })
                .sum()
        };
        let (mut a, mut b) = (1.0f64, 0.0f64);
        let mut f = loss(a, b);
        for _ in 0..100 {
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-12, 0.0, 1e-12);
            for (&x, &t) in xs.iter().zip(&ts) {
                let p = 1.0 / (1.0 + (-(a * x + b)).exp());
                let d = p - t;
                let w = (p * (1.0 - p)).max(1e-12);
                ga += d * x;
                gb += d;
                haa += w * x * x;
                hab += w * x;
                hbb += w;
            }
            let det = haa * hbb - hab * hab;
            if det.abs() < 1e-300 {
                break;
            }
            let da = -(hbb * ga - hab * gb) / det;
            let db = -(haa * gb - hab * ga) / det;
            let mut step = 1.0;
            let mut improved = false;
            while step > 1e-10 {
                let (na, nb) = (a + step * da, b + step * db);
                let nf = loss(na, nb);
                if nf < f + 1e-4 * step * (ga * da + gb * db) {
                    a = na;
                    b = nb;
                    improved = (f - nf).abs() > 1e-12 * f.abs().max(1.0);
                    f = nf;
                    break;
                }
                step /= 2.0;
            }
            if !improved {
                break;
            }
        }
        if !(a.is_finite() && b.is_finite()) {
            return Err(Error::Untrainable("Platt scaling did not converge".into()));
        }
        Ok(Calibration::Platt { a, b })
    }

    /// Isotonic regression (pool adjacent violators) of labels on probabilities.
    pub fn fit_isotonic(labels: &[u8], probs: &[f32]) -> Result<Self> {
        check_inputs(labels, probs)?;
        let mut order: Vec<usize> = (0..probs.len()).collect();
        order.sort_unstable_by(|&i, &j| probs[i].total_cmp(&probs[j]));
        // Blocks: (sum of labels, count, min x, max x); equal x values share a block.
        let mut blocks: Vec<(f64, f64, f32, f32)> = Vec::new();
        for &i in &order {
            let (x, y) = (probs[i], f64::from(labels[i]));
            match blocks.last_mut() {
                Some(last) if last.3 == x => {
                    last.0 += y;
                    last.1 += 1.0;
                }
                _ => blocks.push((y, 1.0, x, x)),
            }
            while blocks.len() >= 2 {
                let k = blocks.len();
                let (s1, c1, lo1, _) = blocks[k - 2];
                let (s2, c2, _, hi2) = blocks[k - 1];
                if s1 / c1 >= s2 / c2 {
                    blocks.truncate(k - 2);
                    blocks.push((s1 + s2, c1 + c2, lo1, hi2));
                } else {
                    break;
                }
            }
        }
        let mut x = Vec::with_capacity(blocks.len() * 2);
        let mut y = Vec::with_capacity(blocks.len() * 2);
        for (s, c, lo, hi) in blocks {
            let v = (s / c) as f32;
            x.push(lo);
            y.push(v);
            if hi > lo {
                x.push(hi);
                y.push(v);
            }
        }
        Ok(Calibration::Isotonic { x, y })
    }

    /// Calibrated probability.
    pub fn apply(&self, p: f32) -> f32 {
        match self {
            Calibration::None => p,
            Calibration::Platt { a, b } => (1.0 / (1.0 + (-(a * logit(p) + b)).exp())) as f32,
            Calibration::Isotonic { x, y } => {
                if x.is_empty() || p.is_nan() {
                    return p;
                }
                let k = x.partition_point(|&v| v <= p);
                if k == 0 {
                    return y[0];
                }
                if k == x.len() {
                    return y[x.len() - 1];
                }
                let (x0, x1, y0, y1) = (x[k - 1], x[k], y[k - 1], y[k]);
                if x1 > x0 {
                    y0 + (y1 - y0) * (p - x0) / (x1 - x0)
                } else {
                    y0
                }
            }
        }
    }

    /// Calibrates many probabilities.
    pub fn apply_all(&self, probs: &[f32]) -> Vec<f32> {
        probs.iter().map(|&p| self.apply(p)).collect()
    }
}

/// Calibration fitted on validation data, with the calibration error before and after
/// (10 equal-width bins) measured on the same data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationFit {
    /// The fitted map.
    pub calibration: Calibration,
    /// Expected calibration error of the raw probabilities.
    pub ece_before: Option<f64>,
    /// Expected calibration error after calibration.
    pub ece_after: Option<f64>,
}

/// Fits a calibration and reports its effect on the expected calibration error.
pub fn calibrate(
    method: CalibrationMethod,
    labels: &[u8],
    probs: &[f32],
) -> Result<CalibrationFit> {
    let calibration = Calibration::fit(method, labels, probs)?;
    let after = calibration.apply_all(probs);
    Ok(CalibrationFit {
        ece_before: expected_calibration_error(labels, probs, 10),
        ece_after: expected_calibration_error(labels, &after, 10),
        calibration,
    })
}

/// A decision threshold (`prob >= threshold` predicts malicious) and its rates on the
/// data it was chosen on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// Probabilities at or above it are class 1.
    pub threshold: f32,
    /// Recall of class 1 (malicious) at this threshold.
    pub recall_positive: f64,
    /// Recall of class 0 (benign) at this threshold.
    pub recall_negative: f64,
}

impl Threshold {
    /// False-positive rate at this threshold.
    pub fn fpr(&self) -> f64 {
        1.0 - self.recall_negative
    }
}

/// Every candidate threshold (each distinct probability, descending) with its recalls.
fn sweep(labels: &[u8], probs: &[f32]) -> Option<Vec<Threshold>> {
    if labels.len() != probs.len() {
        return None;
    }
    let pos = labels.iter().filter(|&&l| l == 1).count() as f64;
    let neg = labels.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 || probs.iter().any(|p| p.is_nan()) {
        return None;
    }
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_unstable_by(|&i, &j| probs[j].total_cmp(&probs[i]));
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut out = Vec::new();
    for (k, &i) in order.iter().enumerate() {
        if labels[i] == 1 {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        if order.get(k + 1).is_none_or(|&j| probs[j] != probs[i]) {
            out.push(Threshold {
                threshold: probs[i],
                recall_positive: tp / pos,
                recall_negative: (neg - fp) / neg,
            });
        }
    }
    Some(out)
}

/// Elastic's `maximize_minimum_recall`: the threshold maximising
/// `min(recall of class 0, recall of class 1)`; ties go to the larger sum of recalls,
/// then the higher threshold. `None` without both classes.
pub fn maximize_minimum_recall(labels: &[u8], probs: &[f32]) -> Option<Threshold> {
    sweep(labels, probs)?.into_iter().reduce(|best, t| {
        let key = |t: &Threshold| {
            (
                t.recall_positive.min(t.recall_negative),
                t.recall_positive + t.recall_negative,
            )
        };
        if key(&t) > key(&best) {
            t
        } else {
            best
        }
    })
}

/// The lowest threshold whose false-positive rate is at most `max_fpr` (the most recall
/// within a false-positive budget). `None` without both classes or if even the highest
/// threshold exceeds the budget.
pub fn threshold_for_fpr(labels: &[u8], probs: &[f32], max_fpr: f64) -> Option<Threshold> {
    sweep(labels, probs)?
        .into_iter()
        .take_while(|t| t.fpr() <= max_fpr)
        .last()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maximize_minimum_recall_balances_the_two_recalls() {
        // Negatives 0.1..0.6, positives 0.5..0.9.
        let labels = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1];
        let probs = [0.1, 0.2, 0.3, 0.4, 0.55, 0.6, 0.5, 0.7, 0.8, 0.85, 0.9];
        let t = maximize_minimum_recall(&labels, &probs).unwrap();
        // At 0.7: recall1 = 4/5, recall0 = 6/6 -> min 0.8. At 0.5: recall1 = 1, recall0 = 4/6.
        assert_eq!(t.threshold, 0.7);
        assert!((t.recall_positive - 0.8).abs() < 1e-12);
        assert_eq!(t.recall_negative, 1.0);
        assert!(maximize_minimum_recall(&[1, 1], &[0.2, 0.3]).is_none());
    }

    #[test]
    fn threshold_for_fpr_respects_the_budget() {
        let labels = [0, 0, 0, 0, 1, 0, 1, 1];
        let probs = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
        let t = threshold_for_fpr(&labels, &probs, 0.0).unwrap();
        assert_eq!(t.threshold, 0.7);
        let t = threshold_for_fpr(&labels, &probs, 0.2).unwrap();
        assert_eq!(t.threshold, 0.5);
        assert_eq!(t.recall_positive, 1.0);
        assert!((t.fpr() - 0.2).abs() < 1e-12);
    }

    /// Scores that are systematically overconfident: true rate is 0.5 * p.
    fn overconfident() -> (Vec<u8>, Vec<f32>) {
        let mut labels = Vec::new();
        let mut probs = Vec::new();
        for i in 0..2000u32 {
            let p = (i % 100) as f32 / 100.0 + 0.005;
            // Deterministic "coin": label 1 for the first 50*p percent of each stratum.
            let rank = (i / 100) as f32 / 20.0;
            labels.push(u8::from(rank < 0.5 * p));
            probs.push(p);
        }
        (labels, probs)
    }

    #[test]
    fn platt_and_isotonic_reduce_calibration_error() {
        let (labels, probs) = overconfident();
        for method in [CalibrationMethod::Platt, CalibrationMethod::Isotonic] {
            let fit = calibrate(method, &labels, &probs).unwrap();
            let (before, after) = (fit.ece_before.unwrap(), fit.ece_after.unwrap());
            assert!(before > 0.2, "{method:?} before {before}");
            assert!(after < 0.05, "{method:?} after {after}");
            // Monotone: a higher score never gets a lower calibrated probability.
            let c = &fit.calibration;
            assert!(c.apply(0.9) >= c.apply(0.5) && c.apply(0.5) >= c.apply(0.1));
        }
        assert!(Calibration::fit_platt(&[1, 1], &[0.1, 0.2]).is_err());
        assert!(Calibration::fit_isotonic(&[1, 0], &[0.1, 1.2]).is_err());
    }

    #[test]
    fn isotonic_pools_violators_and_interpolates() {
        let c = Calibration::fit_isotonic(&[0, 1, 0, 1], &[0.1, 0.2, 0.3, 0.4]).unwrap();
        // 0.2 and 0.3 violate order and pool to 0.5.
        assert_eq!(c.apply(0.1), 0.0);
        assert_eq!(c.apply(0.25), 0.5);
        assert_eq!(c.apply(0.4), 1.0);
        assert_eq!(c.apply(0.0), 0.0);
        assert_eq!(c.apply(0.99), 1.0);
        assert!((c.apply(0.35) - 0.75).abs() < 1e-6);
    }
}
