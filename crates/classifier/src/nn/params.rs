//! Hyperparameters of the neural classifier, checked once into [`ValidNnParams`].

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Unchecked network hyperparameters; deserialisable from an experiment file's
/// `[model.burn]` table.
///
/// Build with `NnParams::builder()` (or `default()`) and setters, then call
/// [`NnParams::build`] to obtain the checked [`ValidNnParams`] that `fit` takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NnParams {
    /// Width of each hashed n-gram embedding bag (one bag per `<name>_ngram_<i>` family).
    pub embedding_dim: u32,
    /// Widths of the hidden ReLU layers of the head, input side first.
    pub hidden: Vec<u32>,
    /// AdamW step size.
    pub learning_rate: f64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f64,
    /// Rows per mini-batch.
    pub batch_size: u32,
    /// Maximum passes over the training set.
    pub max_epochs: u32,
    /// Stop when the validation log-loss has not improved for this many epochs; the weights
    /// of the best epoch are kept.
    pub early_stopping_rounds: Option<u32>,
    /// Weight multiplier for positive rows (class weighting).
    pub scale_pos_weight: f64,
    /// Rows of the validation set (or training set without one) used for the
    /// gradient × input feature importance.
    pub importance_rows: u32,
    /// Seed for weight initialisation and batch order.
    pub seed: u64,
}

impl Default for NnParams {
    fn default() -> Self {
        Self {
            embedding_dim: 16,
            hidden: vec![64, 32],
            learning_rate: 2e-3,
            weight_decay: 1e-4,
            batch_size: 256,
            max_epochs: 20,
            early_stopping_rounds: Some(4),
            scale_pos_weight: 1.0,
            importance_rows: 5_000,
            seed: 0,
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

impl NnParams {
    /// Starts from the defaults.
    pub fn builder() -> Self {
        Self::default()
    }

    setter! {
        /// Sets [`NnParams::embedding_dim`].
        embedding_dim: u32,
        /// Sets [`NnParams::hidden`].
        hidden: Vec<u32>,
        /// Sets [`NnParams::learning_rate`].
        learning_rate: f64,
        /// Sets [`NnParams::weight_decay`].
        weight_decay: f64,
        /// Sets [`NnParams::batch_size`].
        batch_size: u32,
        /// Sets [`NnParams::max_epochs`].
        max_epochs: u32,
        /// Sets [`NnParams::early_stopping_rounds`].
        early_stopping_rounds: Option<u32>,
        /// Sets [`NnParams::scale_pos_weight`].
        scale_pos_weight: f64,
        /// Sets [`NnParams::importance_rows`].
        importance_rows: u32,
        /// Sets [`NnParams::seed`].
        seed: u64,
    }

    /// Checks every hyperparameter once, so training never meets an invalid value.
    pub fn build(self) -> Result<ValidNnParams> {
        fn bad(name: &'static str, reason: impl Into<String>) -> Error {
            Error::InvalidParam {
                name,
                reason: reason.into(),
            }
        }
        let p = &self;
        if !(1..=1024).contains(&p.embedding_dim) {
            return Err(bad(
                "embedding_dim",
                format!("{} is not in 1..=1024", p.embedding_dim),
            ));
        }
        if p.hidden.len() > 8 {
            return Err(bad(
                "hidden",
                format!("{} layers; at most 8 are supported", p.hidden.len()),
            ));
        }
        if let Some(w) = p.hidden.iter().find(|w| !(1..=4096).contains(*w)) {
            return Err(bad("hidden", format!("layer width {w} is not in 1..=4096")));
        }
        if !(p.learning_rate.is_finite() && p.learning_rate > 0.0 && p.learning_rate <= 1.0) {
            return Err(bad(
                "learning_rate",
                format!("{} is not in (0, 1]", p.learning_rate),
            ));
        }
        if !(p.weight_decay.is_finite() && p.weight_decay >= 0.0) {
            return Err(bad(
                "weight_decay",
                format!("{} is not a finite number >= 0", p.weight_decay),
            ));
        }
        if p.batch_size == 0 {
            return Err(bad("batch_size", "must be at least 1"));
        }
        if p.max_epochs == 0 {
            return Err(bad("max_epochs", "must be at least 1"));
        }
        if p.early_stopping_rounds == Some(0) {
            return Err(bad(
                "early_stopping_rounds",
                "must be at least 1 (or unset)",
            ));
        }
        if !(p.scale_pos_weight.is_finite() && p.scale_pos_weight > 0.0) {
            return Err(bad(
                "scale_pos_weight",
                format!("{} is not > 0", p.scale_pos_weight),
            ));
        }
        Ok(ValidNnParams(self))
    }
}

/// Hyperparameters that passed [`NnParams::build`]; the only form training accepts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ValidNnParams(NnParams);

impl std::ops::Deref for ValidNnParams {
    type Target = NnParams;
    fn deref(&self) -> &NnParams {
        &self.0
    }
}

impl ValidNnParams {
    /// The checked values.
    pub fn params(&self) -> &NnParams {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_the_parameter() {
        assert!(NnParams::builder().build().is_ok());
        for (p, name) in [
            (NnParams::builder().learning_rate(0.0), "learning_rate"),
            (NnParams::builder().learning_rate(f64::NAN), "learning_rate"),
            (NnParams::builder().embedding_dim(0), "embedding_dim"),
            (NnParams::builder().hidden(vec![64, 0]), "hidden"),
            (NnParams::builder().batch_size(0), "batch_size"),
            (NnParams::builder().max_epochs(0), "max_epochs"),
            (NnParams::builder().weight_decay(-1.0), "weight_decay"),
            (
                NnParams::builder().early_stopping_rounds(Some(0)),
                "early_stopping_rounds",
            ),
            (
                NnParams::builder().scale_pos_weight(0.0),
                "scale_pos_weight",
            ),
        ] {
            let err = p.build().unwrap_err();
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn params_deserialise_from_partial_toml_and_reject_unknown_keys() {
        let p: NnParams = toml::from_str("hidden = [8]\nmax_epochs = 3").unwrap();
        assert_eq!(p.hidden, vec![8]);
        assert_eq!(p.max_epochs, 3);
        assert_eq!(p.embedding_dim, 16);
        assert!(toml::from_str::<NnParams>("hiden = [8]").is_err());
    }
}
