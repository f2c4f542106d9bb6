//! Elasticsearch's trained-model JSON (the body of `PUT _ml/trained_models/<id>`), as serde
//! types. Only the parts tree models use are typed; unknown keys are ignored on reading, so
//! models exported by newer Elasticsearch versions still load when their trees do.

use base64::Engine as _;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Write};

/// The trained-model configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainedModelConfig {
    /// Present in `GET _ml/trained_models` output; never written by the export (the id
    /// goes in the URL of the PUT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub input: Input,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub inference_config: serde_json::Value,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub metadata: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_size_bytes: Option<u64>,
    /// `base64(gzip(definition JSON))`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed_definition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<Definition>,
}

/// The document fields the model reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Input {
    pub field_names: Vec<String>,
}

/// Preprocessors and the model proper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Definition {
    #[serde(default)]
    pub preprocessors: Vec<Preprocessor>,
    pub trained_model: TrainedModel,
}

/// A field encoder run before the trees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preprocessor {
    /// Share of training rows holding the value; unseen values give 0.
    FrequencyEncoding {
        field: String,
        feature_name: String,
        frequency_map: BTreeMap<String, f64>,
    },
    /// Mean target of the value; unseen values give `default_value`.
    TargetMeanEncoding {
        field: String,
        feature_name: String,
        target_map: BTreeMap<String, f64>,
        default_value: f64,
    },
    /// Value → name of the 0/1 feature it sets.
    OneHotEncoding {
        field: String,
        hot_map: BTreeMap<String, String>,
    },
}

/// A tree or an ensemble of models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainedModel {
    Ensemble(Ensemble),
    Tree(TreeModel),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ensemble {
    pub feature_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification_labels: Option<Vec<String>>,
    /// Per-class weights applied to the probabilities before picking the top class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification_weights: Option<Vec<f64>>,
    pub trained_models: Vec<TrainedModel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate_output: Option<Aggregate>,
}

/// How an ensemble combines its models' outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    LogisticRegression(Weights),
    WeightedSum(Weights),
    WeightedMode(Weights),
    Exponent(Weights),
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Weights {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeModel {
    #[serde(default)]
    pub feature_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification_labels: Option<Vec<String>>,
    pub tree_structure: Vec<TreeNode>,
}

/// A split (has `split_feature`) or a leaf (has `leaf_value`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TreeNode {
    pub node_index: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_feature: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_left: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_child: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right_child: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_gain: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_samples: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_value: Option<LeafValue>,
}

/// Elasticsearch writes a number, or a one-element array for binary classification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LeafValue {
    One(f64),
    Many(Vec<f64>),
}

/// `base64(gzip(json))`, the encoding of `compressed_definition`.
pub fn compress_definition(def: &Definition) -> Result<String, std::io::Error> {
    let json = serde_json::to_vec(def)?;
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&json)?;
    let bytes = gz.finish()?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Inverse of [`compress_definition`]; the error says which step failed.
pub fn decompress_definition(s: &str) -> Result<Definition, String> {
    let cleaned: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .map_err(|e| format!("compressed_definition is not base64: {e}"))?;
    let mut json = Vec::new();
    // A definition is a few MB at most; refuse to inflate past 1 GiB (a gzip bomb).
    GzDecoder::new(bytes.as_slice())
        .take(1 << 30)
        .read_to_end(&mut json)
        .map_err(|e| format!("compressed_definition is not gzip: {e}"))?;
    serde_json::from_slice(&json)
        .map_err(|e| format!("compressed_definition holds no valid definition: {e}"))
}
