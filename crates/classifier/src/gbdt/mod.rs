//! Gradient-boosted decision trees for binary log-loss.
//!
//! Written here rather than taken from a crate because the pure-Rust learners measured for
//! this project were 4.7× to 60× slower than LightGBM at equal AUC (see
//! `bench/gbdt_vs_lightgbm`). The fitted model is a list of plain [`Tree`]s plus a base
//! score on the log-odds scale: `p = sigmoid(base_score + Σ tree(x))`.

mod predict;
mod train;
pub mod tree;

use serde::{Deserialize, Serialize};

use crate::binning::{fit_mappers, BinnedMatrix};
use crate::classifier::{column_map, Classifier};
use crate::data::{Dataset, Matrix};
use crate::error::{Error, Result};
use crate::params::{GbdtParams, ValidGbdtParams};
use predict::Compiled;
pub use tree::{Node, Tree};

/// A fitted gradient-boosted tree ensemble.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GbdtModel {
    /// Version of this JSON layout.
    pub format_version: u32,
    /// Feature names, in the column order the trees index.
    pub feature_names: Vec<String>,
    /// Raw score (log-odds) added to the sum of the trees.
    pub base_score: f32,
    /// The trees, on the log-odds scale, learning rate already applied.
    pub trees: Vec<Tree>,
    /// Hyperparameters used.
    pub params: GbdtParams,
    /// Validation log-loss after each boosting round (empty without validation data).
    pub valid_loss: Vec<f64>,
    /// Training log-loss after each boosting round.
    #[serde(default)]
    pub train_loss: Vec<f64>,
    #[serde(skip)]
    compiled: Compiled,
}

/// How [`GbdtModel::importance`] ranks features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportanceKind {
    /// Total loss reduction of the splits on the feature.
    Gain,
    /// Number of splits on the feature.
    Splits,
}

impl GbdtModel {
    /// Format version of the JSON layout written by this build.
    pub const VERSION: u32 = 1;

    /// Trains a model; see [`Classifier::fit`].
    pub fn fit(params: &ValidGbdtParams, train: &Dataset, valid: Option<&Dataset>) -> Result<Self> {
        train.check_trainable("training")?;
        if let Some(v) = valid {
            if v.n_rows() == 0 {
                return Err(Error::Untrainable("the validation set is empty".into()));
            }
            if v.features().names() != train.features().names() {
                return Err(Error::FeatureMismatch(
                    "validation columns differ from training columns".into(),
                ));
            }
        }
        let run = || Self::fit_inner(params, train, valid);
        match params.n_threads {
            Some(n) => rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| Error::InvalidParam {
                    name: "n_threads",
                    reason: e.to_string(),
                })?
                .install(run),
            None => run(),
        }
    }

    fn fit_inner(
        params: &ValidGbdtParams,
        train: &Dataset,
        valid: Option<&Dataset>,
    ) -> Result<Self> {
        let p = params.params();
        let mappers = fit_mappers(
            train.features(),
            p.max_bins as usize,
            p.bin_sample_rows as usize,
            p.seed,
        );
        let bins = BinnedMatrix::new(train.features(), &mappers, true);
        let spw = p.scale_pos_weight as f32;
        let weights: Vec<f32> = train
            .labels()
            .iter()
            .enumerate()
            .map(|(r, &y)| {
                let w = train.weights().map_or(1.0, |w| w[r]);
                if y == 1 {
                    w * spw
                } else {
                    w
                }
            })
            .collect();
        let td = train::TrainData {
            bins: &bins,
            labels: train.labels(),
            weights,
        };
        let vbins = valid.map(|v| BinnedMatrix::new(v.features(), &mappers, false));
        let vd = valid.zip(vbins.as_ref()).map(|(v, b)| train::ValidData {
            bins: b,
            labels: v.labels(),
            weights: v.weights(),
        });
        let out = train::boost(p, &mappers, &td, vd.as_ref());
        let mut model = GbdtModel {
            format_version: Self::VERSION,
            feature_names: train.features().names().to_vec(),
            base_score: out.base_score,
            trees: out.trees,
            params: p.clone(),
            valid_loss: out.valid_loss,
            train_loss: out.train_loss,
            compiled: Compiled::default(),
        };
        model.compiled = Compiled::new(&model.trees);
        Ok(model)
    }

    /// Raw score (log-odds) of one row.
    pub fn predict_raw_row(&self, row: &[f32]) -> f64 {
        f64::from(self.base_score) + self.compiled.raw(row)
    }

    /// Raw scores (log-odds) of row-major rows in [`Self::feature_names`] order, on the
    /// calling thread. Same values as [`Self::predict_raw_row`] row by row.
    pub fn predict_raw_rows(&self, rows: &[f32], out: &mut [f64]) {
        self.compiled.raw_rows(rows, self.feature_names.len(), out);
        let base = f64::from(self.base_score);
        for v in out.iter_mut() {
            *v += base;
        }
    }

    /// Raw scores (log-odds) of every row of `m`, columns matched by name. Runs on the
    /// current rayon pool.
    pub fn predict_raw(&self, m: &Matrix) -> Result<Vec<f64>> {
        use rayon::prelude::*;
        let map = column_map(&self.feature_names, m)?;
        let mut out = vec![0.0f64; m.n_rows()];
        // Chunks big enough that gathering a block's columns is amortised, small enough
        // that both threads of a 2-core machine get work.
        const CHUNK: usize = 4096;
        let columns: Vec<&[f32]> = map.iter().map(|&c| m.column(c)).collect();
        let base = f64::from(self.base_score);
        out.par_chunks_mut(CHUNK).enumerate().for_each(|(ci, o)| {
            self.compiled.raw_columns(&columns, ci * CHUNK, o);
            for v in o.iter_mut() {
                *v += base;
            }
        });
        Ok(out)
    }

    /// Feature importance by total gain or number of splits, in feature order.
    pub fn importance(&self, kind: ImportanceKind) -> Vec<(String, f64)> {
        let mut imp = vec![0.0f64; self.feature_names.len()];
        for t in &self.trees {
            for n in &t.nodes {
                if let Node::Split { feature, gain, .. } = n {
                    if let Some(v) = imp.get_mut(*feature as usize) {
                        *v += match kind {
                            ImportanceKind::Gain => f64::from(*gain),
                            ImportanceKind::Splits => 1.0,
                        };
                    }
                }
            }
        }
        self.feature_names.iter().cloned().zip(imp).collect()
    }

    /// Assembles a model from plain trees (e.g. converted from another learner); the
    /// trees are validated and compiled.
    pub fn from_parts(feature_names: Vec<String>, base_score: f32, trees: Vec<Tree>) -> Self {
        let compiled = Compiled::new(&trees);
        GbdtModel {
            format_version: Self::VERSION,
            feature_names,
            base_score,
            trees,
            params: GbdtParams::default(),
            valid_loss: Vec::new(),
            train_loss: Vec::new(),
            compiled,
        }
    }

    /// Number of trees kept.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Which columns any split tests (`true` at a column index); the others never change
    /// a prediction.
    pub fn read_columns(&self) -> Vec<bool> {
        let mut read = vec![false; self.feature_names.len()];
        for node in self.trees.iter().flat_map(|t| &t.nodes) {
            if let tree::Node::Split { feature, .. } = node {
                if let Some(r) = read.get_mut(*feature as usize) {
                    *r = true;
                }
            }
        }
        read
    }
}

fn sigmoid(x: f64) -> f32 {
    (1.0 / (1.0 + (-x).exp())) as f32
}

impl Classifier for GbdtModel {
    type Params = ValidGbdtParams;
    const FORMAT_VERSION: u32 = GbdtModel::VERSION;

    fn fit(params: &ValidGbdtParams, train: &Dataset, valid: Option<&Dataset>) -> Result<Self> {
        GbdtModel::fit(params, train, valid)
    }

    fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    fn predict_proba_row(&self, row: &[f32]) -> f32 {
        sigmoid(self.predict_raw_row(row))
    }

    fn predict_proba(&self, m: &Matrix) -> Result<Vec<f32>> {
        Ok(self.predict_raw(m)?.into_iter().map(sigmoid).collect())
    }

    fn predict_proba_rows(&self, rows: &[f32], out: &mut [f32]) {
        let mut raw = vec![0.0f64; out.len()];
        self.predict_raw_rows(rows, &mut raw);
        for (o, r) in out.iter_mut().zip(raw) {
            *o = sigmoid(r);
        }
    }

    fn feature_importance(&self) -> Vec<(String, f64)> {
        self.importance(ImportanceKind::Gain)
    }

    fn after_load(&mut self) -> Result<()> {
        if !self.base_score.is_finite() {
            return Err(Error::CorruptModel("non-finite base score".into()));
        }
        for (i, t) in self.trees.iter().enumerate() {
            t.validate(self.feature_names.len())
                .map_err(|e| Error::CorruptModel(format!("tree {i}: {e}")))?;
        }
        self.compiled = Compiled::new(&self.trees);
        Ok(())
    }
}
