//! Hyperparameters of the gradient-boosted trees, checked once into [`ValidGbdtParams`].
//!
//! Names follow LightGBM where one exists, so experiment files and benchmark scripts can be
//! compared side by side.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Unchecked GBDT hyperparameters; deserialisable from an experiment file.
///
/// Build with `GbdtParams::builder()` (or `default()`) and setters, then call
/// [`GbdtParams::build`] to obtain the checked [`ValidGbdtParams`] that `fit` takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GbdtParams {
    /// Maximum number of boosting rounds (trees).
    pub n_trees: u32,
    /// Shrinkage applied to every leaf value.
    pub learning_rate: f64,
    /// Maximum leaves per tree (leaf-wise, best-first growth).
    pub max_leaves: u32,
    /// Maximum depth of a leaf; `None` means limited only by `max_leaves`.
    pub max_depth: Option<u32>,
    /// Minimum number of training rows in a leaf.
    pub min_data_in_leaf: u32,
    /// Minimum sum of hessians (weighted) in a leaf.
    pub min_child_weight: f64,
    /// L2 regularisation on leaf values.
    pub lambda_l2: f64,
    /// Minimum gain for a split to be made.
    pub min_split_gain: f64,
    /// Maximum number of value bins per feature (one more bin is reserved for missing).
    pub max_bins: u32,
    /// Rows sampled to find bin boundaries.
    pub bin_sample_rows: u32,
    /// Fraction of rows used by each tree (bagging); 1.0 disables it.
    pub subsample: f64,
    /// Fraction of features available to each tree; 1.0 disables it.
    pub colsample_bytree: f64,
    /// Weight multiplier for positive rows (class weighting).
    pub scale_pos_weight: f64,
    /// Stop when the validation log-loss has not improved for this many rounds.
    pub early_stopping_rounds: Option<u32>,
    /// Seed for bagging and column sampling.
    pub seed: u64,
    /// Worker threads; `None` uses rayon's global pool.
    pub n_threads: Option<usize>,
}

impl Default for GbdtParams {
    fn default() -> Self {
        Self {
            n_trees: 100,
            learning_rate: 0.1,
            max_leaves: 31,
            max_depth: None,
            min_data_in_leaf: 20,
            min_child_weight: 1e-3,
            lambda_l2: 0.0,
            min_split_gain: 0.0,
            max_bins: 255,
            bin_sample_rows: 200_000,
            subsample: 1.0,
            colsample_bytree: 1.0,
            scale_pos_weight: 1.0,
            early_stopping_rounds: None,
            seed: 0,
            n_threads: None,
        }
    }
}

macro_rules! setter {
    ($($(#[$m:meta])* $name:ident : $ty:ty),* $(,)?) => {
        $(
            $(#[$m])*
            #[must_use]
            pub fn $name(mut self, v: $ty) -> Self {
                self.$name = v;
                self
            }
        )*
    };
}

impl GbdtParams {
    /// Starts from the defaults (LightGBM's, except where noted on the fields).
    pub fn builder() -> Self {
        Self::default()
    }

    setter! {
        /// Sets [`GbdtParams::n_trees`].
        n_trees: u32,
        /// Sets [`GbdtParams::learning_rate`].
        learning_rate: f64,
        /// Sets [`GbdtParams::max_leaves`].
        max_leaves: u32,
        /// Sets [`GbdtParams::max_depth`].
        max_depth: Option<u32>,
        /// Sets [`GbdtParams::min_data_in_leaf`].
        min_data_in_leaf: u32,
        /// Sets [`GbdtParams::min_child_weight`].
        min_child_weight: f64,
        /// Sets [`GbdtParams::lambda_l2`].
        lambda_l2: f64,
        /// Sets [`GbdtParams::min_split_gain`].
        min_split_gain: f64,
        /// Sets [`GbdtParams::max_bins`].
        max_bins: u32,
        /// Sets [`GbdtParams::bin_sample_rows`].
        bin_sample_rows: u32,
        /// Sets [`GbdtParams::subsample`].
        subsample: f64,
        /// Sets [`GbdtParams::colsample_bytree`].
        colsample_bytree: f64,
        /// Sets [`GbdtParams::scale_pos_weight`].
        scale_pos_weight: f64,
        /// Sets [`GbdtParams::early_stopping_rounds`].
        early_stopping_rounds: Option<u32>,
        /// Sets [`GbdtParams::seed`].
        seed: u64,
        /// Sets [`GbdtParams::n_threads`].
        n_threads: Option<usize>,
    }

    /// Checks every hyperparameter once, so training never meets an invalid value.
    pub fn build(self) -> Result<ValidGbdtParams> {
        fn bad(name: &'static str, reason: impl Into<String>) -> Error {
            Error::InvalidParam {
                name,
                reason: reason.into(),
            }
        }
        let p = &self;
        if p.n_trees == 0 {
            return Err(bad("n_trees", "must be at least 1"));
        }
        if !(p.learning_rate.is_finite() && p.learning_rate > 0.0) {
            return Err(bad(
                "learning_rate",
                format!("{} is not > 0", p.learning_rate),
            ));
        }
        if p.max_leaves < 2 || p.max_leaves > 1 << 16 {
            return Err(bad(
                "max_leaves",
                format!("{} is not in 2..=65536", p.max_leaves),
            ));
        }
        if p.max_depth == Some(0) {
            return Err(bad("max_depth", "must be at least 1 (or unset)"));
        }
        if p.min_data_in_leaf == 0 {
            return Err(bad("min_data_in_leaf", "must be at least 1"));
        }
        for (name, v) in [
            ("min_child_weight", p.min_child_weight),
            ("lambda_l2", p.lambda_l2),
            ("min_split_gain", p.min_split_gain),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(name, format!("{v} is not a finite number >= 0")));
            }
        }
        if !(2..=255).contains(&p.max_bins) {
            return Err(bad("max_bins", format!("{} is not in 2..=255", p.max_bins)));
        }
        if p.bin_sample_rows < 100 {
            return Err(bad("bin_sample_rows", "must be at least 100"));
        }
        for (name, v) in [
            ("subsample", p.subsample),
            ("colsample_bytree", p.colsample_bytree),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                return Err(bad(name, format!("{v} is not in (0, 1]")));
            }
        }
        if !(p.scale_pos_weight.is_finite() && p.scale_pos_weight > 0.0) {
            return Err(bad(
                "scale_pos_weight",
                format!("{} is not > 0", p.scale_pos_weight),
            ));
        }
        if p.early_stopping_rounds == Some(0) {
            return Err(bad(
                "early_stopping_rounds",
                "must be at least 1 (or unset)",
            ));
        }
        if p.n_threads == Some(0) {
            return Err(bad("n_threads", "must be at least 1 (or unset)"));
        }
        Ok(ValidGbdtParams(self))
    }
}

/// Hyperparameters that passed [`GbdtParams::build`]; the only form training accepts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ValidGbdtParams(GbdtParams);

impl std::ops::Deref for ValidGbdtParams {
    type Target = GbdtParams;
    fn deref(&self) -> &GbdtParams {
        &self.0
    }
}

impl ValidGbdtParams {
    /// The checked values.
    pub fn params(&self) -> &GbdtParams {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_the_parameter() {
        assert!(GbdtParams::builder().build().is_ok());
        let err = GbdtParams::builder()
            .learning_rate(0.0)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("learning_rate"), "{err}");
        let err = GbdtParams::builder().max_bins(256).build().unwrap_err();
        assert!(err.to_string().contains("max_bins"), "{err}");
        let err = GbdtParams::builder().subsample(1.5).build().unwrap_err();
        assert!(err.to_string().contains("subsample"), "{err}");
        let err = GbdtParams::builder().max_leaves(1).build().unwrap_err();
        assert!(err.to_string().contains("max_leaves"), "{err}");
    }

    #[test]
    fn params_deserialise_from_partial_json_and_reject_unknown_keys() {
        let p: GbdtParams = serde_json::from_str(r#"{"n_trees": 7, "max_depth": 4}"#).unwrap();
        assert_eq!(p.n_trees, 7);
        assert_eq!(p.max_depth, Some(4));
        assert_eq!(p.max_leaves, 31);
        assert!(serde_json::from_str::<GbdtParams>(r#"{"n_tree": 7}"#).is_err());
    }
}
