//! Either fitted model, for code that scores whatever a bundle or experiment produced
//! (`lotl train`, `lotl predict`, exports) without being generic over [`Classifier`].

use std::path::Path;

use crate::classifier::Classifier;
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::gbdt::{GbdtModel, ImportanceKind};
use crate::nn::NnModel;

/// The model families `lotl train` can fit; the name is the experiment's `[model] type`
/// and the bundle manifest's `model.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// Histogram gradient-boosted trees.
    Gbdt,
    /// The burn-trained network.
    Burn,
}

impl ModelKind {
    /// Parses `gbdt` or `burn`.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "gbdt" => Ok(Self::Gbdt),
            "burn" => Ok(Self::Burn),
            other => Err(Error::InvalidParam {
                name: "type",
                reason: format!("model type `{other}` is unknown (expected gbdt or burn)"),
            }),
        }
    }

    /// `gbdt` or `burn`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gbdt => "gbdt",
            Self::Burn => "burn",
        }
    }
}

/// A fitted model of any kind.
#[derive(Debug, Clone)]
pub enum Model {
    /// Gradient-boosted trees.
    Gbdt(GbdtModel),
    /// The neural network.
    Burn(NnModel),
}

impl From<GbdtModel> for Model {
    fn from(m: GbdtModel) -> Self {
        Self::Gbdt(m)
    }
}

impl From<NnModel> for Model {
    fn from(m: NnModel) -> Self {
        Self::Burn(m)
    }
}

impl Model {
    /// Which family this is.
    pub fn kind(&self) -> ModelKind {
        match self {
            Self::Gbdt(_) => ModelKind::Gbdt,
            Self::Burn(_) => ModelKind::Burn,
        }
    }

    /// Reads a model saved by [`Model::save`]; `kind` comes from the bundle manifest.
    pub fn load(kind: ModelKind, path: &Path) -> Result<Self> {
        Ok(match kind {
            ModelKind::Gbdt => Self::Gbdt(GbdtModel::load(path)?),
            ModelKind::Burn => Self::Burn(NnModel::load(path)?),
        })
    }

    /// Writes the model as JSON (the layout of its own [`Classifier::save`]).
    pub fn save(&self, path: &Path) -> Result<()> {
        match self {
            Self::Gbdt(m) => m.save(path),
            Self::Burn(m) => m.save(path),
        }
    }

    /// The trees, when this is a tree model (Elasticsearch export needs them).
    pub fn as_gbdt(&self) -> Option<&GbdtModel> {
        match self {
            Self::Gbdt(m) => Some(m),
            Self::Burn(_) => None,
        }
    }

    /// The network, when this is one.
    pub fn as_nn(&self) -> Option<&NnModel> {
        match self {
            Self::Burn(m) => Some(m),
            Self::Gbdt(_) => None,
        }
    }

    /// Number of trees (0 for a network), for summaries.
    pub fn n_trees(&self) -> usize {
        self.as_gbdt().map_or(0, GbdtModel::n_trees)
    }

    /// A one-line description for summaries, e.g. `120 trees` or `network 12,345 weights`.
    pub fn summary(&self) -> String {
        match self {
            Self::Gbdt(m) => format!("{} trees", m.n_trees()),
            Self::Burn(m) => format!(
                "network {} → {} → 1, {} weights",
                m.feature_names.len(),
                m.layers
                    .iter()
                    .take(m.layers.len().saturating_sub(1))
                    .map(|l| l.n_out.to_string())
                    .collect::<Vec<_>>()
                    .join(" → "),
                m.n_weights()
            ),
        }
    }

    /// Which input columns the model can read (`None`: all of them). A column it never
    /// reads may hold anything without changing a prediction or a contribution.
    pub fn read_columns(&self) -> Option<Vec<bool>> {
        match self {
            Self::Gbdt(m) => Some(m.read_columns()),
            Self::Burn(_) => None,
        }
    }

    /// Feature names in row order.
    pub fn feature_names(&self) -> &[String] {
        match self {
            Self::Gbdt(m) => m.feature_names(),
            Self::Burn(m) => m.feature_names(),
        }
    }

    /// Probability of class 1 for one row in feature order.
    pub fn predict_proba_row(&self, row: &[f32]) -> f32 {
        match self {
            Self::Gbdt(m) => m.predict_proba_row(row),
            Self::Burn(m) => m.predict_proba_row(row),
        }
    }

    /// Probabilities of class 1 for consecutive row-major rows in feature order.
    pub fn predict_proba_rows(&self, rows: &[f32], out: &mut [f32]) {
        match self {
            Self::Gbdt(m) => m.predict_proba_rows(rows, out),
            Self::Burn(m) => m.predict_proba_rows(rows, out),
        }
    }

    /// Probabilities of class 1 for every row of `m` (columns matched by name).
    pub fn predict_proba(&self, m: &Matrix) -> Result<Vec<f32>> {
        match self {
            Self::Gbdt(g) => g.predict_proba(m),
            Self::Burn(n) => n.predict_proba(m),
        }
    }

    /// Feature importance (gain for trees, mean |gradient × input| for the network).
    pub fn feature_importance(&self) -> Vec<(String, f64)> {
        match self {
            Self::Gbdt(m) => m.importance(ImportanceKind::Gain),
            Self::Burn(m) => m.feature_importance(),
        }
    }

    /// The `k` features that moved this row's log-odds most (path contributions for trees,
    /// gradient × input for the network).
    pub fn top_contributions(&self, row: &[f32], k: usize) -> Vec<(String, f64)> {
        match self {
            Self::Gbdt(m) => m.top_contributions(row, k),
            Self::Burn(m) => m.top_contributions(row, k),
        }
    }

    /// Training log-loss after each boosting round or epoch.
    pub fn train_loss(&self) -> &[f64] {
        match self {
            Self::Gbdt(m) => &m.train_loss,
            Self::Burn(m) => &m.train_loss,
        }
    }

    /// Validation log-loss after each boosting round or epoch.
    pub fn valid_loss(&self) -> &[f64] {
        match self {
            Self::Gbdt(m) => &m.valid_loss,
            Self::Burn(m) => &m.valid_loss,
        }
    }
}
