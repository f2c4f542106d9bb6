//! The bundle's classifier as an ONNX model. A GBDT becomes one `ai.onnx.ml`
//! `TreeEnsembleClassifier` node (ai.onnx.ml opset 3, ONNX opset 17, IR 8); a network
//! becomes standard operators ([`mlp`]) with the same input and outputs.
//!
//! * input `input`: float `[N, n_features]`, the feature pipeline's output in column order
//!   (names in the metadata property `feature_names`, a JSON list); NaN = missing, routed by
//!   `nodes_missing_value_tracks_true` exactly as lotl's `default_left`;
//! * outputs `label` (int64 `[N]`) and `probabilities` (float `[N, 2]`).
//!
//! Each leaf carries its value for class 1 and its negation for class 0 with
//! `post_transform = LOGISTIC`, which gives `[1 - p, p]` in every runtime (onnxruntime
//! treats a single-class-weight binary model differently depending on the weights' signs).
//! The base score (and a Platt calibration, `a·raw + b`) is folded into the leaves of the
//! first tree instead of `base_values`, which some runtimes require per class. An isotonic
//! calibration cannot be folded: it is recorded in the metadata (`post_calibration`).

pub mod mlp;
pub mod proto;

use crate::bundle::Bundle;
use lotl_classifier::calibration::Calibration;
use lotl_classifier::{Classifier, GbdtModel, Model, Node};
use prost::Message;
use proto::*;

/// Layout facts a caller may want to check or print.
pub const IR_VERSION: i64 = 8;
pub const ONNX_OPSET: i64 = 17;
pub const ML_OPSET: i64 = 3;

fn attr_ints(name: &str, v: Vec<i64>) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::INTS,
        ints: v,
        ..Default::default()
    }
}

fn attr_floats(name: &str, v: Vec<f32>) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::FLOATS,
        floats: v,
        ..Default::default()
    }
}

fn attr_strings(name: &str, v: Vec<&str>) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::STRINGS,
        strings: v.into_iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..Default::default()
    }
}

fn attr_string(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::STRING,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn tensor_info(name: &str, elem: i32, dims: &[Result<i64, &str>]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor {
                elem_type: elem,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|d| Dimension {
                            value: Some(match d {
                                Ok(v) => DimValue::DimValue(*v),
                                Err(p) => DimValue::DimParam((*p).to_owned()),
                            }),
                        })
                        .collect(),
                }),
            }),
        }),
        doc_string: String::new(),
    }
}

/// The ONNX model of a bundle's classifier: a tree ensemble for GBDT bundles, standard
/// operators for networks ([`mlp`]). Inputs and outputs are the same for both.
pub fn onnx_model(bundle: &Bundle) -> ModelProto {
    match &bundle.model {
        Model::Gbdt(m) => gbdt_model(bundle, m),
        Model::Burn(m) => mlp::network_model(bundle, m),
    }
}

fn gbdt_model(bundle: &Bundle, model: &GbdtModel) -> ModelProto {
    let (scale, shift, post) = match bundle.calibration() {
        Calibration::None => (1.0f64, 0.0f64, None),
        Calibration::Platt { a, b } => (*a, *b, None),
        c @ Calibration::Isotonic { .. } => (1.0, 0.0, Some(c.clone())),
    };
    let base = scale * f64::from(model.base_score) + shift;

    let mut treeids = Vec::new();
    let mut nodeids = Vec::new();
    let mut featureids = Vec::new();
    let mut modes = Vec::new();
    let mut values = Vec::new();
    let mut trues = Vec::new();
    let mut falses = Vec::new();
    let mut missing = Vec::new();
    let mut c_tree = Vec::new();
    let mut c_node = Vec::new();
    let mut c_id = Vec::new();
    let mut c_w = Vec::new();
    let mut leaf = |t: i64, i: i64, v: f64| {
        for (class, w) in [(0i64, -v), (1, v)] {
            c_tree.push(t);
            c_node.push(i);
            c_id.push(class);
            c_w.push(w as f32);
        }
    };
    if model.trees.is_empty() {
        treeids.push(0);
        nodeids.push(0);
        featureids.push(0);
        modes.push("LEAF");
        values.push(0.0);
        trues.push(0);
        falses.push(0);
        missing.push(0);
        leaf(0, 0, base);
    }
    for (t, tree) in model.trees.iter().enumerate() {
        let add = if t == 0 { base } else { 0.0 };
        for (i, n) in tree.nodes.iter().enumerate() {
            treeids.push(t as i64);
            nodeids.push(i as i64);
            match n {
                Node::Split {
                    feature,
                    threshold,
                    default_left,
                    left,
                    right,
                    ..
                } => {
                    featureids.push(i64::from(*feature));
                    modes.push("BRANCH_LEQ");
                    values.push(*threshold);
                    trues.push(i64::from(*left));
                    falses.push(i64::from(*right));
                    missing.push(i64::from(*default_left));
                }
                Node::Leaf { value, .. } => {
                    featureids.push(0);
                    modes.push("LEAF");
                    values.push(0.0);
                    trues.push(0);
                    falses.push(0);
                    missing.push(0);
                    leaf(t as i64, i as i64, scale * f64::from(*value) + add);
                }
            }
        }
    }
    let n_features = model.feature_names().len() as i64;
    let node = NodeProto {
        input: vec!["input".into()],
        output: vec!["label".into(), "probabilities".into()],
        name: "gbdt".into(),
        op_type: "TreeEnsembleClassifier".into(),
        domain: "ai.onnx.ml".into(),
        attribute: vec![
            attr_ints("classlabels_int64s", vec![0, 1]),
            attr_ints("nodes_treeids", treeids),
            attr_ints("nodes_nodeids", nodeids),
            attr_ints("nodes_featureids", featureids),
            attr_strings("nodes_modes", modes),
            attr_floats("nodes_values", values),
            attr_ints("nodes_truenodeids", trues),
            attr_ints("nodes_falsenodeids", falses),
            attr_ints("nodes_missing_value_tracks_true", missing),
            attr_ints("class_treeids", c_tree),
            attr_ints("class_nodeids", c_node),
            attr_ints("class_ids", c_id),
            attr_floats("class_weights", c_w),
            attr_string("post_transform", "LOGISTIC"),
        ],
        doc_string: "lotl GBDT: p(malicious) = probabilities[:, 1]".into(),
    };
    let m = &bundle.manifest;
    ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![
            OperatorSetIdProto {
                domain: String::new(),
                version: ONNX_OPSET,
            },
            OperatorSetIdProto {
                domain: "ai.onnx.ml".into(),
                version: ML_OPSET,
            },
        ],
        producer_name: "lotl".into(),
        producer_version: m.lotl_version.clone(),
        domain: "lotl".into(),
        model_version: 1,
        doc_string: format!(
            "lotl {} classifier, recipe {} v{}, {} trees; input = feature vector ({} columns, names in metadata feature_names)",
            m.model.kind, m.recipe.name, m.recipe.version, m.model.n_trees, n_features
        ),
        graph: Some(GraphProto {
            node: vec![node],
            name: "lotl_gbdt".into(),
            initializer: Vec::new(),
            doc_string: String::new(),
            input: vec![tensor_info(
                "input",
                data_type::FLOAT,
                &[Err("N"), Ok(n_features)],
            )],
            output: vec![
                tensor_info("label", data_type::INT64, &[Err("N")]),
                tensor_info("probabilities", data_type::FLOAT, &[Err("N"), Ok(2)]),
            ],
        }),
        metadata_props: metadata_props(bundle, post.as_ref()),
    }
}

/// Metadata shared by every exported model: feature names, recipe, decision threshold,
/// calibration (and the isotonic map still to apply, when it could not be folded in).
fn metadata_props(bundle: &Bundle, post: Option<&Calibration>) -> Vec<StringStringEntryProto> {
    let m = &bundle.manifest;
    let mut props = vec![
        ("feature_names", json(bundle.model.feature_names())),
        ("recipe", json(bundle.pipeline.recipe_config())),
        ("recipe_version", m.recipe.version.to_string()),
        ("threshold", m.threshold.threshold.to_string()),
        ("calibration", json(&m.calibration.calibration)),
        ("lotl_version", m.lotl_version.clone()),
        ("git_commit", m.git_commit.clone()),
        ("bundle_created", m.created.clone()),
        ("training_data_hash", m.training_data_hash.clone()),
        (
            "probability",
            if post.is_some() {
                "uncalibrated: apply post_calibration (isotonic) to probabilities[:, 1]".into()
            } else {
                "calibrated: probabilities[:, 1] is the bundle's probability".into()
            },
        ),
    ];
    if let Some(c) = post {
        props.push(("post_calibration", json(c)));
    }
    props
        .into_iter()
        .map(|(k, v)| StringStringEntryProto {
            key: k.into(),
            value: v,
        })
        .collect()
}

/// Serialised bytes of [`onnx_model`].
pub fn onnx_bytes(bundle: &Bundle) -> Vec<u8> {
    onnx_model(bundle).encode_to_vec()
}

/// Metadata values are strings: JSON text of a serialisable value.
fn json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}
