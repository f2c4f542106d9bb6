//! Export a bundle for Elasticsearch, and score with Elasticsearch tree models.
//!
//! `lotl export <bundle> --format elasticsearch -o out/` writes:
//!
//! ```text
//! out/
//!   README.md                                  how to load everything, what is approximate
//!   <model_id>.trained_model.json              PUT _ml/trained_models/<model_id>
//!   <model_id>.ingest_pipeline.json            PUT _ingest/pipeline/<model_id>
//!   ml/<job>.job.json, ml/<job>.datafeed.json  PUT _ml/anomaly_detectors/..., _ml/datafeeds/...
//!   rules/<rule>.toml                          detection-rules layout
//! ```
//!
//! Numbers are written as the exact `f64` of the model's `f32` values, so Elasticsearch
//! (which compares in `f64`) takes every split the way lotl does.

pub mod eval;
pub mod ml;
pub mod model;
pub mod pipeline;

pub use eval::{EsModel, EsModelError, EsScorer, FieldValue};
pub use model::TrainedModelConfig;

use crate::bundle::Bundle;
use lotl_classifier::calibration::Calibration;
use lotl_classifier::{Classifier, Node};
use model::{
    compress_definition, Aggregate, Definition, Ensemble, Input, LeafValue, Preprocessor,
    TrainedModel, TreeModel, TreeNode, Weights,
};
use std::path::{Path, PathBuf};

/// Where the inference processor writes (`problemchild.prediction` and
/// `problemchild.prediction_probability`, as Elastic's integration does).
pub const RESULTS_PARENT: &str = "problemchild";

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A model id Elasticsearch accepts (lower-case letters, digits, `-`, `_`; starts and
/// ends alphanumeric), derived from the bundle directory name.
pub fn default_model_id(bundle: &Bundle) -> String {
    let name = bundle
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let mut id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    id = id
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned();
    if id.is_empty() {
        id = format!("lotl_{}", bundle.manifest.recipe.name);
    }
    id
}

/// Checks a user-given model id against Elasticsearch's rules.
pub fn check_model_id(id: &str) -> Result<(), ExportError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(ExportError::Invalid(format!(
            "model id {id:?}: Elasticsearch needs 1-64 lower-case letters, digits, '-' or '_', starting and ending with a letter or digit"
        )))
    }
}

/// The trained-model configuration of a bundle's classifier.
///
/// Platt calibration is folded into the leaves (`a·raw + b` is still a sum of leaves), so
/// `prediction_probability` is the calibrated probability and `classification_weights`
/// encode the bundle's threshold. An isotonic map cannot be folded: it is recorded in
/// `metadata.lotl.post_calibration`, the ingest pipeline applies it after inference, and
/// the weights then encode the threshold on the uncalibrated probability.
pub fn trained_model(bundle: &Bundle) -> Result<TrainedModelConfig, ExportError> {
    let model = bundle.model.as_gbdt().ok_or_else(|| {
        ExportError::Invalid(format!(
            "Elasticsearch runs tree ensembles only; this bundle holds a {} model (export it with --format onnx)",
            bundle.model.kind().name()
        ))
    })?;
    let pipeline = &bundle.pipeline;
    let (scale, shift, post) = match bundle.calibration() {
        Calibration::None => (1.0, 0.0, None),
        Calibration::Platt { a, b } => (*a, *b, None),
        c @ Calibration::Isotonic { .. } => (1.0, 0.0, Some(c.clone())),
    };
    let threshold = f64::from(bundle.manifest.threshold.threshold);
    let raw_threshold = match &post {
        Some(c) => isotonic_inverse(c, threshold),
        None => threshold,
    };
    let base = scale * f64::from(model.base_score) + shift;
    let mut trees: Vec<TrainedModel> = Vec::with_capacity(model.trees.len().max(1));
    let features = model.feature_names().to_vec();
    for (k, t) in model.trees.iter().enumerate() {
        let add = if k == 0 { base } else { 0.0 };
        let nodes = t
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| match n {
                Node::Split {
                    feature,
                    threshold,
                    default_left,
                    left,
                    right,
                    gain,
                    count,
                    ..
                } => TreeNode {
                    node_index: i as u32,
                    split_feature: Some(*feature),
                    threshold: Some(f64::from(*threshold)),
                    decision_type: Some("lte".into()),
                    default_left: Some(*default_left),
                    left_child: Some(*left),
                    right_child: Some(*right),
                    split_gain: Some(f64::from(*gain)),
                    number_samples: Some(u64::from(*count)),
                    leaf_value: None,
                },
                Node::Leaf { value, count, .. } => TreeNode {
                    node_index: i as u32,
                    number_samples: Some(u64::from(*count)),
                    leaf_value: Some(LeafValue::One(scale * f64::from(*value) + add)),
                    ..TreeNode::default()
                },
            })
            .collect();
        trees.push(tree_model(&features, nodes));
    }
    if trees.is_empty() {
        let leaf = TreeNode {
            node_index: 0,
            leaf_value: Some(LeafValue::One(base)),
            ..TreeNode::default()
        };
        trees.push(tree_model(&features, vec![leaf]));
    }
    let mut preprocessors = Vec::with_capacity(2 * pipeline.encoders().len());
    for enc in pipeline.encoders() {
        preprocessors.push(Preprocessor::FrequencyEncoding {
            field: enc.feature.clone(),
            feature_name: format!("{}_frequency", enc.feature),
            frequency_map: enc
                .frequency_map()
                .into_iter()
                .map(|(k, v)| (k, f64::from(v)))
                .collect(),
        });
        preprocessors.push(Preprocessor::TargetMeanEncoding {
            field: enc.feature.clone(),
            feature_name: format!("{}_targetmean", enc.feature),
            target_map: enc
                .target_map()
                .into_iter()
                .map(|(k, v)| (k, f64::from(v)))
                .collect(),
            default_value: f64::from(enc.default_target),
        });
    }
    let n_trees = trees.len();
    let definition = Definition {
        preprocessors,
        trained_model: TrainedModel::Ensemble(Ensemble {
            feature_names: features,
            target_type: Some("classification".into()),
            classification_labels: Some(vec!["0".into(), "1".into()]),
            // Class 1 wins when w1·p > w0·(1-p), i.e. p > threshold.
            classification_weights: Some(vec![raw_threshold, 1.0 - raw_threshold]),
            trained_models: trees,
            aggregate_output: Some(Aggregate::LogisticRegression(Weights {
                weights: Some(vec![1.0; n_trees]),
            })),
        }),
    };
    let definition_json_len = serde_json::to_vec(&definition)
        .map_err(|e| ExportError::Invalid(e.to_string()))?
        .len();
    let compressed =
        compress_definition(&definition).map_err(|e| ExportError::Invalid(e.to_string()))?;
    let m = &bundle.manifest;
    let field_names: Vec<String> = pipeline
        .recipe()
        .features()
        .iter()
        .map(|f| f.name.to_string())
        .collect();
    let mut lotl_meta = serde_json::json!({
        "recipe": pipeline.recipe_config(),
        "recipe_version": m.recipe.version,
        "lotl_version": m.lotl_version,
        "git_commit": m.git_commit,
        "bundle_created": m.created,
        "training_data_hash": m.training_data_hash,
        "threshold": m.threshold.threshold,
        "calibration": m.calibration.calibration,
        "metrics": m.metrics,
    });
    if let Some(c) = &post {
        lotl_meta["post_calibration"] =
            serde_json::to_value(c).map_err(|e| ExportError::Invalid(e.to_string()))?;
    }
    Ok(TrainedModelConfig {
        model_id: None,
        description: format!(
            "lotl {} classifier ({} recipe v{}, {} trees, threshold {:.4}{}), exported from bundle created {}",
            m.model.kind,
            m.recipe.name,
            m.recipe.version,
            n_trees,
            m.threshold.threshold,
            if post.is_some() { ", isotonic calibration applied by the ingest pipeline" } else { "" },
            m.created
        ),
        tags: vec!["lotl".into(), "problemchild".into(), m.recipe.name.clone()],
        input: Input { field_names },
        inference_config: serde_json::json!({
            "classification": {
                "num_top_classes": 2,
                "num_top_feature_importance_values": 0,
                "results_field": "prediction",
                "prediction_field_type": "number",
                "top_classes_results_field": "top_classes"
            }
        }),
        metadata: serde_json::json!({ "lotl": lotl_meta }),
        model_size_bytes: Some(definition_json_len as u64),
        compressed_definition: Some(compressed),
        definition: None,
    })
}

fn tree_model(features: &[String], nodes: Vec<TreeNode>) -> TrainedModel {
    TrainedModel::Tree(TreeModel {
        feature_names: features.to_vec(),
        target_type: Some("classification".into()),
        classification_labels: None,
        tree_structure: nodes,
    })
}

/// Smallest uncalibrated probability whose isotonic image reaches `t` (the raw-scale
/// threshold), found by bisection on the monotone map.
fn isotonic_inverse(c: &Calibration, t: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if f64::from(c.apply(mid as f32)) >= t {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// Files written by [`write_elasticsearch`].
#[derive(Debug, Clone, Default)]
pub struct EsExport {
    pub model_id: String,
    pub files: Vec<PathBuf>,
    /// Recipe features the ingest pipeline cannot compute (empty for the elastic recipes).
    pub not_expressible: Vec<String>,
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    std::fs::write(path, bytes).map_err(io(path))
}

fn pretty<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, ExportError> {
    let mut b = serde_json::to_vec_pretty(v).map_err(|e| ExportError::Invalid(e.to_string()))?;
    b.push(b'\n');
    Ok(b)
}

/// Write everything an Elastic user needs into `out` (created if missing).
pub fn write_elasticsearch(
    bundle: &Bundle,
    out: &Path,
    model_id: Option<&str>,
) -> Result<EsExport, ExportError> {
    let model_id = match model_id {
        Some(id) => id.to_owned(),
        None => default_model_id(bundle),
    };
    check_model_id(&model_id)?;
    std::fs::create_dir_all(out).map_err(io(out))?;
    let mut files = Vec::new();

    let tm = trained_model(bundle)?;
    let p = out.join(format!("{model_id}.trained_model.json"));
    write_file(&p, &pretty(&tm)?)?;
    files.push(p);

    let ip = pipeline::ingest_pipeline(bundle, &model_id);
    let p = out.join(format!("{model_id}.ingest_pipeline.json"));
    write_file(&p, &pretty(&ip.body)?)?;
    files.push(p);

    for job in ml::jobs() {
        let p = out
            .join("ml")
            .join(format!("{}.job.json", job.id(&model_id)));
        write_file(&p, &pretty(&job.job_body(&model_id))?)?;
        files.push(p);
        let p = out
            .join("ml")
            .join(format!("{}.datafeed.json", job.datafeed_id(&model_id)));
        write_file(&p, &pretty(&job.datafeed_body(&model_id))?)?;
        files.push(p);
    }
    for (name, text) in ml::rules(&model_id) {
        let p = out.join("rules").join(name);
        write_file(&p, text.as_bytes())?;
        files.push(p);
    }
    let readme = readme(bundle, &model_id, &ip.not_expressible, &files, out);
    let p = out.join("README.md");
    write_file(&p, readme.as_bytes())?;
    files.push(p);
    Ok(EsExport {
        model_id,
        files,
        not_expressible: ip.not_expressible,
    })
}

fn readme(
    bundle: &Bundle,
    id: &str,
    not_expressible: &[String],
    files: &[PathBuf],
    out: &Path,
) -> String {
    let m = &bundle.manifest;
    let mut s = format!(
        "# {id}: lotl model for Elasticsearch\n\n\
         Exported by lotl {} from a `{}` bundle (recipe `{}` v{}, {} trees, threshold {:.4}, created {}).\n\n\
         ## Load\n\n```sh\nES=https://localhost:9200\n\
         curl -XPUT \"$ES/_ml/trained_models/{id}\" -H 'Content-Type: application/json' -d @{id}.trained_model.json\n\
         curl -XPUT \"$ES/_ingest/pipeline/{id}\" -H 'Content-Type: application/json' -d @{id}.ingest_pipeline.json\n",
        m.lotl_version, m.model.kind, m.recipe.name, m.recipe.version, m.model.n_trees,
        m.threshold.threshold, m.created
    );
    for job in ml::jobs() {
        let j = job.id(id);
        let d = job.datafeed_id(id);
        s.push_str(&format!(
            "curl -XPUT \"$ES/_ml/anomaly_detectors/{j}\" -H 'Content-Type: application/json' -d @ml/{j}.job.json\n\
             curl -XPUT \"$ES/_ml/datafeeds/{d}\" -H 'Content-Type: application/json' -d @ml/{d}.datafeed.json\n"
        ));
    }
    s.push_str(
        "```\n\nThen index process events through the pipeline (`?pipeline=<id>`, or set it as the \
         index's `default_pipeline`), open the jobs and start their datafeeds. The rules in `rules/` \
         follow the layout of elastic/detection-rules (`rules/windows/*.toml`).\n\n\
         The pipeline writes `problemchild.prediction` (0/1) and `problemchild.prediction_probability`, \
         the fields Elastic's ProblemChild jobs and rules read, so they also work with this model.\n\n",
    );
    s.push_str("## Features the ingest pipeline cannot compute\n\n");
    if not_expressible.is_empty() {
        s.push_str(
            "None: the pipeline computes every model input from ECS fields, as lotl does. \
             Painless regular expressions must be enabled (`script.painless.regex.enabled: limited`, the default).\n",
        );
    } else {
        s.push_str(
            "The ingest pipeline leaves these inputs missing (each split on them then takes its \
             default branch, exactly as for an event that lacks the field), so scores in \
             Elasticsearch can differ from `lotl predict`. Compute them upstream (e.g. with \
             `lotl predict` or a Logstash/Beats processor) and index them under the same names \
             to get identical scores:\n\n",
        );
        for f in not_expressible {
            s.push_str(&format!("- `{f}`\n"));
        }
    }
    s.push_str("\n## Files\n\n");
    for f in files {
        let rel = f.strip_prefix(out).unwrap_or(f);
        s.push_str(&format!("- `{}`\n", rel.display()));
    }
    s
}
