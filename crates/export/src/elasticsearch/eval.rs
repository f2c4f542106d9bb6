//! Scoring with Elasticsearch tree-model JSON in Rust, with Elasticsearch's semantics: a
//! missing field produces no encoded feature, a missing feature follows `default_left`,
//! unseen categories get frequency 0 and the target-mean default, and the ensemble's
//! logistic-regression aggregate turns the weighted sum of leaves into p(class 1).
//!
//! This lets `lotl predict` score with models exported by lotl or by a user's own cluster.

use super::model::{
    decompress_definition, Aggregate, Definition, LeafValue, Preprocessor, TrainedModel,
    TrainedModelConfig, TreeModel,
};
use lotl_classifier::calibration::Calibration;
use lotl_events::ProcessEvent;
use lotl_features::{FeatureKind, FeatureRecipe, FeatureRow, RecipeConfig};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why an Elasticsearch model could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EsModelError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: not an Elasticsearch trained model: {message}")]
    Invalid { origin: String, message: String },
    #[error("{origin}: unsupported model: {message}")]
    Unsupported { origin: String, message: String },
}

/// A value of a document field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    Missing,
    Num(f64),
    Str(&'a str),
}

#[derive(Debug, Clone, Copy)]
struct CNode {
    /// `u32::MAX` for a leaf.
    feature: u32,
    threshold: f64,
    default_left: bool,
    left: u32,
    right: u32,
    leaf: f64,
}

#[derive(Debug, Clone)]
enum Encoder {
    Frequency {
        map: HashMap<String, f64>,
        out: usize,
    },
    TargetMean {
        map: HashMap<String, f64>,
        default: f64,
        out: usize,
    },
    OneHot {
        map: Vec<(String, usize)>,
    },
}

/// A loaded, checked Elasticsearch tree model (binary classification or regression).
#[derive(Debug, Clone)]
pub struct EsModel {
    config: TrainedModelConfig,
    /// Model features (the ensemble's `feature_names`).
    features: Vec<String>,
    feature_index: HashMap<String, usize>,
    /// Encoders by input field name.
    encoders: HashMap<String, Vec<Encoder>>,
    trees: Vec<Vec<CNode>>,
    weights: Vec<f64>,
    aggregate: AggregateKind,
    class_weights: Option<Vec<f64>>,
    /// Post-model calibration recorded by lotl (isotonic maps cannot be folded into trees),
    /// with the threshold on the calibrated probability.
    calibration: Option<(Calibration, f64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AggregateKind {
    Logistic,
    Sum,
}

fn invalid(origin: &str, message: impl Into<String>) -> EsModelError {
    EsModelError::Invalid {
        origin: origin.to_owned(),
        message: message.into(),
    }
}

fn unsupported(origin: &str, message: impl Into<String>) -> EsModelError {
    EsModelError::Unsupported {
        origin: origin.to_owned(),
        message: message.into(),
    }
}

/// Compile one tree: nodes by `node_index`, split features mapped to ensemble indices,
/// and a check that the nodes form one tree (no cycles, no shared children), so that
/// scoring cannot loop or index out of range.
fn compile_tree(
    origin: &str,
    t: &TreeModel,
    ensemble_index: &HashMap<String, usize>,
    ensemble_names: &[String],
    k: usize,
) -> Result<Vec<CNode>, EsModelError> {
    let n = t.tree_structure.len();
    if n == 0 {
        return Err(invalid(origin, format!("tree {k} has no nodes")));
    }
    let names = if t.feature_names.is_empty() {
        ensemble_names
    } else {
        &t.feature_names
    };
    let mut nodes: Vec<Option<CNode>> = vec![None; n];
    for node in &t.tree_structure {
        let i = node.node_index as usize;
        if i >= n || nodes[i].is_some() {
            return Err(invalid(
                origin,
                format!("tree {k}: node_index {i} repeated or out of range"),
            ));
        }
        let c = match (node.split_feature, &node.leaf_value) {
            (Some(f), _) => {
                let name = names.get(f as usize).ok_or_else(|| {
                    invalid(
                        origin,
                        format!("tree {k} node {i}: split_feature {f} out of range"),
                    )
                })?;
                let feature = *ensemble_index.get(name).ok_or_else(|| {
                    invalid(
                        origin,
                        format!("tree {k}: feature {name} not in the ensemble"),
                    )
                })? as u32;
                match node.decision_type.as_deref() {
                    None | Some("lte") => {}
                    Some(other) => {
                        return Err(unsupported(
                            origin,
                            format!("tree {k} node {i}: decision_type {other} (only lte)"),
                        ))
                    }
                }
                let (Some(left), Some(right)) = (node.left_child, node.right_child) else {
                    return Err(invalid(
                        origin,
                        format!("tree {k} node {i}: split without children"),
                    ));
                };
                let threshold = node.threshold.ok_or_else(|| {
                    invalid(
                        origin,
                        format!("tree {k} node {i}: split without threshold"),
                    )
                })?;
                CNode {
                    feature,
                    threshold,
                    // Elasticsearch's default when the key is absent.
                    default_left: node.default_left.unwrap_or(true),
                    left,
                    right,
                    leaf: 0.0,
                }
            }
            (None, Some(v)) => {
                let leaf = match v {
                    LeafValue::One(x) => *x,
                    LeafValue::Many(xs) if xs.len() == 1 => xs[0],
                    LeafValue::Many(xs) => {
                        return Err(unsupported(
                            origin,
                            format!("tree {k} leaf {i}: {} values (multi-class)", xs.len()),
                        ))
                    }
                };
                CNode {
                    feature: u32::MAX,
                    threshold: 0.0,
                    default_left: true,
                    left: 0,
                    right: 0,
                    leaf,
                }
            }
            (None, None) => {
                return Err(invalid(
                    origin,
                    format!("tree {k} node {i}: neither split nor leaf"),
                ))
            }
        };
        nodes[i] = Some(c);
    }
    let nodes: Vec<CNode> = nodes.into_iter().flatten().collect();
    if nodes.len() != n {
        return Err(invalid(origin, format!("tree {k}: node indices have gaps")));
    }
    let mut seen = vec![false; n];
    let mut stack = vec![0u32];
    while let Some(i) = stack.pop() {
        let i = i as usize;
        if i >= n || seen[i] {
            return Err(invalid(
                origin,
                format!("tree {k}: child {i} out of range or reached twice"),
            ));
        }
        seen[i] = true;
        if nodes[i].feature != u32::MAX {
            stack.push(nodes[i].left);
            stack.push(nodes[i].right);
        }
    }
    Ok(nodes)
}

impl EsModel {
    /// Read a trained-model JSON file (the PUT body, or one model of
    /// `GET _ml/trained_models/<id>?include=definition` / `?decompress_definition=false`).
    pub fn load(path: &Path) -> Result<EsModel, EsModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| EsModelError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text, &path.display().to_string())
    }

    /// Parse a trained-model JSON; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<EsModel, EsModelError> {
        let mut value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| invalid(origin, e.to_string()))?;
        // `GET _ml/trained_models` wraps configs in {"count", "trained_model_configs": [..]}.
        if let Some(list) = value
            .get_mut("trained_model_configs")
            .map(serde_json::Value::take)
        {
            match list {
                serde_json::Value::Array(mut v) if v.len() == 1 => value = v.remove(0),
                _ => {
                    return Err(invalid(
                        origin,
                        "expected exactly one trained_model_configs entry",
                    ))
                }
            }
        }
        let config: TrainedModelConfig =
            serde_json::from_value(value).map_err(|e| invalid(origin, e.to_string()))?;
        Self::from_config(config, origin)
    }

    /// Check and compile a parsed configuration.
    pub fn from_config(config: TrainedModelConfig, origin: &str) -> Result<EsModel, EsModelError> {
        let def: Definition = match (&config.definition, &config.compressed_definition) {
            (Some(d), _) => d.clone(),
            (None, Some(c)) => decompress_definition(c).map_err(|m| invalid(origin, m))?,
            (None, None) => {
                return Err(invalid(
                    origin,
                    "no definition (export it with ?include=definition)",
                ))
            }
        };
        let (features, members, aggregate, weights, class_weights) = match &def.trained_model {
            TrainedModel::Ensemble(e) => {
                let mut trees = Vec::with_capacity(e.trained_models.len());
                for m in &e.trained_models {
                    match m {
                        TrainedModel::Tree(t) => trees.push(t.clone()),
                        TrainedModel::Ensemble(_) => {
                            return Err(unsupported(origin, "nested ensembles"))
                        }
                    }
                }
                let (agg, w) = match &e.aggregate_output {
                    Some(Aggregate::LogisticRegression(w)) => {
                        (AggregateKind::Logistic, w.weights.clone())
                    }
                    Some(Aggregate::WeightedSum(w)) => (AggregateKind::Sum, w.weights.clone()),
                    None => {
                        let classification = e.target_type.as_deref() == Some("classification");
                        (
                            if classification {
                                AggregateKind::Logistic
                            } else {
                                AggregateKind::Sum
                            },
                            None,
                        )
                    }
                    Some(other) => {
                        return Err(unsupported(origin, format!("aggregate_output {other:?}")))
                    }
                };
                let w = w.unwrap_or_else(|| vec![1.0; trees.len()]);
                if w.len() != trees.len() {
                    return Err(invalid(
                        origin,
                        format!("{} aggregate weights for {} trees", w.len(), trees.len()),
                    ));
                }
                if let Some(labels) = &e.classification_labels {
                    if labels.len() > 2 {
                        return Err(unsupported(origin, "more than two classes"));
                    }
                }
                (
                    e.feature_names.clone(),
                    trees,
                    agg,
                    w,
                    e.classification_weights.clone(),
                )
            }
            TrainedModel::Tree(t) => {
                let agg = if t.target_type.as_deref() == Some("classification") {
                    AggregateKind::Logistic
                } else {
                    AggregateKind::Sum
                };
                (
                    t.feature_names.clone(),
                    vec![t.clone()],
                    agg,
                    vec![1.0],
                    None,
                )
            }
        };
        if let Some(cw) = &class_weights {
            if cw.len() != 2 {
                return Err(invalid(
                    origin,
                    format!("{} classification_weights", cw.len()),
                ));
            }
        }
        let feature_index: HashMap<String, usize> = features
            .iter()
            .enumerate()
            .map(|(i, f)| (f.clone(), i))
            .collect();
        let trees = members
            .iter()
            .enumerate()
            .map(|(k, t)| compile_tree(origin, t, &feature_index, &features, k))
            .collect::<Result<Vec<_>, _>>()?;
        let mut encoders: HashMap<String, Vec<Encoder>> = HashMap::new();
        let out_of = |name: &str| -> Result<usize, EsModelError> {
            feature_index.get(name).copied().ok_or_else(|| {
                invalid(
                    origin,
                    format!("preprocessor output {name} is not a model feature"),
                )
            })
        };
        for p in &def.preprocessors {
            let (field, enc) = match p {
                Preprocessor::FrequencyEncoding {
                    field,
                    feature_name,
                    frequency_map,
                } => (
                    field,
                    Encoder::Frequency {
                        map: frequency_map.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                        out: out_of(feature_name)?,
                    },
                ),
                Preprocessor::TargetMeanEncoding {
                    field,
                    feature_name,
                    target_map,
                    default_value,
                } => (
                    field,
                    Encoder::TargetMean {
                        map: target_map.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                        default: *default_value,
                        out: out_of(feature_name)?,
                    },
                ),
                Preprocessor::OneHotEncoding { field, hot_map } => (
                    field,
                    Encoder::OneHot {
                        map: hot_map
                            .iter()
                            .map(|(v, f)| Ok((v.clone(), out_of(f)?)))
                            .collect::<Result<_, EsModelError>>()?,
                    },
                ),
            };
            encoders.entry(field.clone()).or_default().push(enc);
        }
        let calibration = config
            .metadata
            .pointer("/lotl/post_calibration")
            .cloned()
            .map(serde_json::from_value::<Calibration>)
            .transpose()
            .map_err(|e| invalid(origin, format!("metadata.lotl.post_calibration: {e}")))?
            .map(|c| {
                let t = config
                    .metadata
                    .pointer("/lotl/threshold")
                    .and_then(serde_json::Value::as_f64)
                    .unwrap_or(0.5);
                (c, t)
            });
        Ok(EsModel {
            config,
            features,
            feature_index,
            encoders,
            trees,
            weights,
            aggregate,
            class_weights,
            calibration,
        })
    }

    /// The configuration as read (definition left as it was in the file).
    pub fn config(&self) -> &TrainedModelConfig {
        &self.config
    }

    /// Input fields the model reads (`input.field_names`).
    pub fn field_names(&self) -> &[String] {
        &self.config.input.field_names
    }

    /// Model features after preprocessing.
    pub fn feature_names(&self) -> &[String] {
        &self.features
    }

    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Decision threshold on p(class 1) implied by `classification_weights`
    /// (`w1·p >= w0·(1-p)`); 0.5 without weights.
    pub fn threshold(&self) -> f64 {
        if let Some((_, t)) = &self.calibration {
            return *t;
        }
        match &self.class_weights {
            Some(w) if w[0] + w[1] > 0.0 => w[0] / (w[0] + w[1]),
            _ => 0.5,
        }
    }

    /// Set one document field into the feature vector: encoders of the field first, then
    /// the field itself when it is a model feature and numeric.
    fn apply_field(&self, field: &str, v: FieldValue<'_>, x: &mut [Option<f64>]) {
        let s_owned;
        let s: Option<&str> = match v {
            FieldValue::Missing => return,
            FieldValue::Str(s) => Some(s),
            FieldValue::Num(n) => {
                if let Some(&i) = self.feature_index.get(field) {
                    x[i] = (!n.is_nan()).then_some(n);
                }
                if n.is_nan() {
                    return;
                }
                s_owned = java_double_string(n);
                Some(&s_owned)
            }
        };
        let (Some(s), Some(encs)) = (s, self.encoders.get(field)) else {
            return;
        };
        for e in encs {
            match e {
                Encoder::Frequency { map, out } => {
                    x[*out] = Some(map.get(s).copied().unwrap_or(0.0))
                }
                Encoder::TargetMean { map, default, out } => {
                    x[*out] = Some(map.get(s).copied().unwrap_or(*default))
                }
                Encoder::OneHot { map } => {
                    for (val, out) in map {
                        x[*out] = Some(if val == s { 1.0 } else { 0.0 });
                    }
                }
            }
        }
    }

    /// Raw output (log-odds for classification) of a preprocessed feature vector.
    pub fn raw_from_features(&self, x: &[Option<f64>]) -> f64 {
        let mut sum = 0.0;
        for (t, w) in self.trees.iter().zip(&self.weights) {
            let mut i = 0usize;
            loop {
                let n = &t[i];
                if n.feature == u32::MAX {
                    sum += w * n.leaf;
                    break;
                }
                let go_left = match x.get(n.feature as usize).copied().flatten() {
                    None => n.default_left,
                    Some(v) => v <= n.threshold,
                };
                i = if go_left { n.left } else { n.right } as usize;
            }
        }
        sum
    }

    fn finish(&self, raw: f64) -> f64 {
        match self.aggregate {
            AggregateKind::Sum => raw,
            AggregateKind::Logistic => {
                let p = 1.0 / (1.0 + (-raw).exp());
                match &self.calibration {
                    Some((c, _)) => f64::from(c.apply(p as f32)),
                    None => p,
                }
            }
        }
    }

    /// p(class 1) (or the regression value) of a document given as field → value.
    pub fn predict_doc<'a>(&self, doc: impl IntoIterator<Item = (&'a str, FieldValue<'a>)>) -> f64 {
        let mut x = vec![None; self.features.len()];
        for (f, v) in doc {
            self.apply_field(f, v, &mut x);
        }
        self.finish(self.raw_from_features(&x))
    }

    /// Class 1 when `classification_weights` make it the top class (or, after lotl's
    /// isotonic calibration, when the calibrated `p` reaches the bundle's threshold).
    pub fn predict_class(&self, p: f64) -> u8 {
        if let Some((_, t)) = &self.calibration {
            // Both are f32 values in lotl: compare as the bundle does.
            return u8::from(p as f32 >= *t as f32);
        }
        match &self.class_weights {
            Some(w) => u8::from(w[1] * p > w[0] * (1.0 - p)),
            None => u8::from(p > 0.5),
        }
    }

    /// The lotl recipe whose features these are: the one recorded in the metadata by
    /// `lotl export`, else the built-in recipe covering most input fields.
    pub fn recipe(&self) -> Result<(RecipeConfig, Vec<String>), EsModelError> {
        if let Some(r) = self.config.metadata.pointer("/lotl/recipe") {
            let rc: RecipeConfig = serde_json::from_value(r.clone())
                .map_err(|e| invalid("metadata.lotl.recipe", e.to_string()))?;
            return Ok((rc, Vec::new()));
        }
        let mut best: Option<(usize, RecipeConfig, Vec<String>)> = None;
        for name in RecipeConfig::NAMES {
            let Ok(rc) = RecipeConfig::from_name(name) else {
                continue;
            };
            let Ok(recipe) = rc.build() else { continue };
            let have: std::collections::HashSet<&str> =
                recipe.features().iter().map(|f| f.name.as_ref()).collect();
            let missing: Vec<String> = self
                .field_names()
                .iter()
                .filter(|f| !have.contains(f.as_str()))
                .cloned()
                .collect();
            let covered = self.field_names().len() - missing.len();
            if best.as_ref().is_none_or(|b| covered > b.0) {
                best = Some((covered, rc, missing));
            }
        }
        match best {
            Some((covered, rc, missing)) if covered > 0 => Ok((rc, missing)),
            _ => Err(unsupported(
                "input.field_names",
                "no lotl recipe computes any of the model's input fields",
            )),
        }
    }
}

/// Java's `Double.toString` for the values encoders see as strings (integers print `1.0`).
fn java_double_string(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e7 {
        format!("{n:.1}")
    } else {
        format!("{n}")
    }
}

/// Scores [`ProcessEvent`]s with an [`EsModel`]: the recipe computes the document fields,
/// the model does the rest, as the ingest pipeline + inference processor would.
#[derive(Debug)]
pub struct EsScorer {
    model: EsModel,
    recipe: Box<dyn FeatureRecipe>,
    /// Per recipe feature: whether the model reads it.
    used: Vec<bool>,
    /// Input fields no recipe feature provides (always missing).
    pub unprovided: Vec<String>,
}

impl EsScorer {
    pub fn new(model: EsModel) -> Result<EsScorer, EsModelError> {
        let (rc, unprovided) = model.recipe()?;
        let recipe = rc
            .build()
            .map_err(|e| invalid("metadata.lotl.recipe", e.to_string()))?;
        let wanted: std::collections::HashSet<&str> =
            model.field_names().iter().map(String::as_str).collect();
        let used = recipe
            .features()
            .iter()
            .map(|f| wanted.contains(f.name.as_ref()))
            .collect();
        Ok(EsScorer {
            model,
            recipe,
            used,
            unprovided,
        })
    }

    pub fn model(&self) -> &EsModel {
        &self.model
    }

    pub fn recipe_name(&self) -> &'static str {
        self.recipe.name()
    }

    /// p(class 1) of one event; `row` is scratch space.
    pub fn score_one(
        &self,
        e: &ProcessEvent,
        row: &mut FeatureRow,
        x: &mut Vec<Option<f64>>,
    ) -> f64 {
        self.recipe.featurize(e, row);
        x.clear();
        x.resize(self.model.features.len(), None);
        let (mut ni, mut ci) = (0usize, 0usize);
        for (spec, &used) in self.recipe.features().iter().zip(&self.used) {
            let v = match spec.kind {
                FeatureKind::Numeric => {
                    let v = row.numeric().get(ni).copied().unwrap_or(f32::NAN);
                    ni += 1;
                    if v.is_nan() {
                        FieldValue::Missing
                    } else {
                        FieldValue::Num(f64::from(v))
                    }
                }
                FeatureKind::Categorical => {
                    let v = row.categorical(ci);
                    ci += 1;
                    v.map_or(FieldValue::Missing, FieldValue::Str)
                }
            };
            if used {
                self.model.apply_field(&spec.name, v, x);
            }
        }
        self.model.finish(self.model.raw_from_features(x))
    }

    /// Scores many events in parallel: `(prediction, probability)` per event.
    pub fn score(&self, events: &[ProcessEvent]) -> Vec<(u8, f64)> {
        use rayon::prelude::*;
        events
            .par_iter()
            .map_init(
                || (FeatureRow::new(), Vec::new()),
                |(row, x), e| {
                    let p = self.score_one(e, row, x);
                    (self.model.predict_class(p), p)
                },
            )
            .collect()
    }
}
