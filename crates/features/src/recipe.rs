//! The recipe abstraction and the serialisable choice of recipe.

use crate::elastic::{ElasticRecipe, Generation};
use crate::error::Error;
use crate::lotl::{LotlParams, LotlRecipe};
use crate::row::{FeatureKind, FeatureRow, FeatureSpec};
use lotl_events::key::ColumnKey;
use lotl_events::ProcessEvent;
use serde::{Deserialize, Serialize};

/// A way of turning one event into features. Adding a recipe is adding one module that
/// implements this and one variant of [`RecipeConfig`].
pub trait FeatureRecipe: Send + Sync + std::fmt::Debug {
    /// Stable name (`elastic2021`, `elastic2026`, `lotl`).
    fn name(&self) -> &'static str;
    /// Bumped whenever any feature's value may change for the same event.
    fn version(&self) -> u32;
    /// Every feature, in output order, with its kind and meaning.
    fn features(&self) -> &[FeatureSpec];
    /// The one code path for single events and batches: clears `out` and fills it with the
    /// numeric values (in the order of the numeric features) and the categorical values (in
    /// the order of the categorical features). Never panics, whatever the strings hold.
    fn featurize(&self, event: &ProcessEvent, out: &mut FeatureRow);

    fn n_numeric(&self) -> usize {
        self.features()
            .iter()
            .filter(|f| f.kind == FeatureKind::Numeric)
            .count()
    }
    fn n_categorical(&self) -> usize {
        self.features()
            .iter()
            .filter(|f| f.kind == FeatureKind::Categorical)
            .count()
    }
    /// Runs of consecutive categorical features (indices among the categorical ones) whose
    /// values all derive from one input string, such as its positional bigrams. Scoring
    /// memoises each run's encoding by its values, which repeat across events far more
    /// often than the run is long; none by default.
    fn categorical_groups(&self) -> Vec<std::ops::Range<usize>> {
        Vec::new()
    }
    /// The event columns (`lotl_events::parquet` names) whose fields `featurize` reads:
    /// featurising a file decodes only these. `None`, the default, reads every column; a
    /// recipe that lists its columns must list every one it reads (the pipeline tests check
    /// that streamed and in-memory features agree on events with every field set).
    fn event_columns(&self) -> Option<&'static [&'static str]> {
        None
    }
    /// A key over [`Self::event_columns`]: events with equal keys have equal features, so
    /// what is computed from them can be memoised by it. `None` when the recipe reads
    /// every column (the event id among them: no two events would share a key).
    fn input_key(&self) -> Option<ColumnKey> {
        self.event_columns().and_then(|c| ColumnKey::new(c).ok())
    }
    /// Columns of [`Self::event_columns`] that `featurize` reads only in place of another
    /// one, missing or empty, as `(column, stands_in_for)`: featurising a file decodes
    /// `column` only for the batches in which some event lacks `stands_in_for`. None by
    /// default.
    fn fallback_columns(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
}

/// Which recipe, with its parameters: what a saved pipeline stores to rebuild its recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "recipe", rename_all = "lowercase")]
pub enum RecipeConfig {
    Elastic2021,
    Elastic2026,
    Lotl(LotlParams),
}

impl RecipeConfig {
    /// Recipe names accepted by [`RecipeConfig::from_name`].
    pub const NAMES: [&'static str; 3] = ["elastic2021", "elastic2026", "lotl"];

    /// The named recipe with default parameters.
    pub fn from_name(name: &str) -> Result<Self, Error> {
        match name {
            "elastic2021" => Ok(RecipeConfig::Elastic2021),
            "elastic2026" => Ok(RecipeConfig::Elastic2026),
            "lotl" => Ok(RecipeConfig::Lotl(LotlParams::default())),
            other => Err(Error::UnknownRecipe(other.to_owned())),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            RecipeConfig::Elastic2021 => "elastic2021",
            RecipeConfig::Elastic2026 => "elastic2026",
            RecipeConfig::Lotl(_) => "lotl",
        }
    }

    /// Build the recipe (validates parameters).
    pub fn build(&self) -> Result<Box<dyn FeatureRecipe>, Error> {
        Ok(match self {
            RecipeConfig::Elastic2021 => Box::new(ElasticRecipe::new(Generation::Y2021)),
            RecipeConfig::Elastic2026 => Box::new(ElasticRecipe::new(Generation::Y2026)),
            RecipeConfig::Lotl(p) => Box::new(LotlRecipe::new(p.clone())?),
        })
    }
}
