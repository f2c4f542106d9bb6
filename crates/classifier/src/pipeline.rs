//! Fit, calibrate, choose a threshold and report, in one call: what `lotl train` needs.
//!
//! The validation set serves early stopping, calibration and the threshold. Using one set
//! for all three slightly flatters the reported validation metrics; the evaluation report
//! must use the held-out test split, never these numbers.

use serde::{Deserialize, Serialize};

use crate::calibration::{
    calibrate, maximize_minimum_recall, threshold_for_fpr, Calibration, CalibrationMethod,
    Threshold,
};
use crate::classifier::Classifier;
use crate::data::{Dataset, Matrix};
use crate::error::{Error, Result};
use crate::metrics::{pr_auc, recall_at_fpr, roc_auc, ConfusionMatrix};

/// How the decision threshold is chosen on validation data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum ThresholdRule {
    /// Elastic's class-assignment objective: maximise min(recall class 0, recall class 1).
    MaximizeMinimumRecall,
    /// The most recall with a false-positive rate at most `max_fpr`.
    TargetFpr {
        /// False-positive budget, e.g. 0.01.
        max_fpr: f64,
    },
}

/// Options of [`fit_calibrated`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FitOptions {
    /// Calibration fitted on the validation set.
    pub calibration: CalibrationMethod,
    /// Threshold rule, applied to calibrated probabilities.
    pub threshold: ThresholdRule,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            calibration: CalibrationMethod::Isotonic,
            threshold: ThresholdRule::MaximizeMinimumRecall,
        }
    }
}

/// Metrics on a labelled set (`None` where a metric is undefined, e.g. one class).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Rows evaluated.
    pub n_rows: usize,
    /// Positive rows.
    pub n_positive: usize,
    /// Area under the ROC curve.
    pub roc_auc: Option<f64>,
    /// Average precision.
    pub pr_auc: Option<f64>,
    /// Recall at a false-positive rate of at most 1%.
    pub recall_at_1pct_fpr: Option<f64>,
    /// Expected calibration error (10 bins) of the uncalibrated probabilities.
    pub ece_uncalibrated: Option<f64>,
    /// Expected calibration error (10 bins) of the calibrated probabilities.
    pub ece_calibrated: Option<f64>,
    /// Counts at the chosen threshold (calibrated probabilities).
    pub confusion: ConfusionMatrix,
}

/// A model with its calibration and decision threshold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Calibrated<M> {
    /// The fitted model.
    pub model: M,
    /// Calibration applied to the model's probabilities.
    pub calibration: Calibration,
    /// Decision threshold on calibrated probabilities.
    pub threshold: Threshold,
}

impl<M: Classifier> Calibrated<M> {
    /// Calibrated probabilities for every row of `m` (columns matched by name).
    pub fn predict_proba(&self, m: &Matrix) -> Result<Vec<f32>> {
        Ok(self.calibration.apply_all(&self.model.predict_proba(m)?))
    }

    /// Calibrated probability of one row in model feature order.
    pub fn predict_proba_row(&self, row: &[f32]) -> f32 {
        self.calibration.apply(self.model.predict_proba_row(row))
    }

    /// Whether a calibrated probability is classified malicious.
    pub fn is_positive(&self, prob: f32) -> bool {
        prob >= self.threshold.threshold
    }

    /// Metrics of this model on a labelled set.
    pub fn evaluate(&self, data: &Dataset) -> Result<Report> {
        let raw = self.model.predict_proba(data.features())?;
        Ok(report(
            data.labels(),
            &raw,
            &self.calibration,
            self.threshold.threshold,
        ))
    }
}

fn report(labels: &[u8], raw: &[f32], calibration: &Calibration, threshold: f32) -> Report {
    use crate::metrics::expected_calibration_error as ece;
    let cal = calibration.apply_all(raw);
    Report {
        n_rows: labels.len(),
        n_positive: labels.iter().filter(|&&l| l == 1).count(),
        roc_auc: roc_auc(labels, &cal),
        pr_auc: pr_auc(labels, &cal),
        recall_at_1pct_fpr: recall_at_fpr(labels, &cal, 0.01),
        ece_uncalibrated: ece(labels, raw, 10),
        ece_calibrated: ece(labels, &cal, 10),
        confusion: ConfusionMatrix::at_threshold(labels, &cal, threshold),
    }
}

/// Fits `M` on `train` (early stopping on `valid`), calibrates on `valid`, chooses the
/// threshold on calibrated validation probabilities, and reports validation metrics.
pub fn fit_calibrated<M: Classifier>(
    params: &M::Params,
    train: &Dataset,
    valid: &Dataset,
    options: &FitOptions,
) -> Result<(Calibrated<M>, Report)> {
    valid.check_trainable("validation")?;
    let model = M::fit(params, train, Some(valid))?;
    let raw = model.predict_proba(valid.features())?;
    let fit = calibrate(options.calibration, valid.labels(), &raw)?;
    let cal = fit.calibration.apply_all(&raw);
    let threshold = match options.threshold {
        ThresholdRule::MaximizeMinimumRecall => maximize_minimum_recall(valid.labels(), &cal),
        ThresholdRule::TargetFpr { max_fpr } => threshold_for_fpr(valid.labels(), &cal, max_fpr),
    }
    .ok_or_else(|| {
        Error::Untrainable("no threshold satisfies the rule on the validation set".into())
    })?;
    let rep = report(valid.labels(), &raw, &fit.calibration, threshold.threshold);
    Ok((
        Calibrated {
            model,
            calibration: fit.calibration,
            threshold,
        },
        rep,
    ))
}
