//! The ONNX model decodes, has the documented layout, and — walked with ONNX's
//! TreeEnsembleClassifier semantics in this test — gives the bundle's probabilities.
//! (`.ci/onnx_check.sh` checks the same with onnx.checker and onnxruntime.)

mod common;

use lotl_classifier::calibration::CalibrationMethod;
use lotl_export::onnx::proto::ModelProto;
use lotl_export::Bundle;
use lotl_features::RecipeConfig;
use prost::Message;
use std::collections::HashMap;

#[test]
fn onnx_tree_ensemble_matches_native() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("b");
    let test = common::write_bundle(&b, RecipeConfig::Elastic2021, CalibrationMethod::None);
    let bundle = Bundle::load(&b).unwrap();
    let bytes = lotl_export::onnx::onnx_bytes(&bundle);
    let m = ModelProto::decode(bytes.as_slice()).unwrap();
    assert_eq!(m.ir_version, 8);
    let ops: HashMap<&str, i64> = m
        .opset_import
        .iter()
        .map(|o| (o.domain.as_str(), o.version))
        .collect();
    assert_eq!(ops[""], 17);
    assert_eq!(ops["ai.onnx.ml"], 3);
    let meta: HashMap<&str, &str> = m
        .metadata_props
        .iter()
        .map(|p| (p.key.as_str(), p.value.as_str()))
        .collect();
    let names: Vec<String> = serde_json::from_str(meta["feature_names"]).unwrap();
    assert_eq!(names, bundle.pipeline.columns());

    let g = m.graph.unwrap();
    let node = &g.node[0];
    assert_eq!(
        (node.op_type.as_str(), node.domain.as_str()),
        ("TreeEnsembleClassifier", "ai.onnx.ml")
    );
    let a: HashMap<&str, &lotl_export::onnx::proto::AttributeProto> = node
        .attribute
        .iter()
        .map(|a| (a.name.as_str(), a))
        .collect();
    assert_eq!(a["post_transform"].s, b"LOGISTIC");
    assert!(!node.attribute.iter().any(|a| a.name == "base_values"));
    let n = a["nodes_treeids"].ints.len();
    for k in [
        "nodes_nodeids",
        "nodes_featureids",
        "nodes_truenodeids",
        "nodes_falsenodeids",
        "nodes_missing_value_tracks_true",
    ] {
        assert_eq!(a[k].ints.len(), n, "{k}");
    }
    assert_eq!(a["nodes_values"].floats.len(), n);
    assert_eq!(a["nodes_modes"].strings.len(), n);

    // Index nodes and class-1 weights by (tree, node).
    let mut nodes = HashMap::new();
    for i in 0..n {
        nodes.insert((a["nodes_treeids"].ints[i], a["nodes_nodeids"].ints[i]), i);
    }
    let mut w1 = HashMap::new();
    for i in 0..a["class_ids"].ints.len() {
        let key = (a["class_treeids"].ints[i], a["class_nodeids"].ints[i]);
        if a["class_ids"].ints[i] == 1 {
            w1.insert(key, a["class_weights"].floats[i]);
        } else {
            // Class 0 carries the negation, so LOGISTIC gives [1 - p, p].
            assert_eq!(
                a["class_weights"].floats[i],
                -w1.get(&key)
                    .copied()
                    .unwrap_or(-a["class_weights"].floats[i])
            );
        }
    }
    let n_trees = a["nodes_treeids"].ints.iter().max().unwrap() + 1;
    let x = bundle.pipeline.transform(&test);
    assert!(x.data.iter().any(|v| v.is_nan()));
    let native = bundle.score(&test);
    let mut max = 0.0f64;
    for (r, nat) in native.iter().enumerate() {
        let row = x.row(r);
        let mut s = 0.0f32;
        for t in 0..n_trees {
            let mut id = 0i64;
            loop {
                let i = nodes[&(t, id)];
                if a["nodes_modes"].strings[i] == b"LEAF" {
                    s += w1[&(t, id)];
                    break;
                }
                let v = row[a["nodes_featureids"].ints[i] as usize];
                let go_true = if v.is_nan() {
                    a["nodes_missing_value_tracks_true"].ints[i] == 1
                } else {
                    v <= a["nodes_values"].floats[i]
                };
                id = if go_true {
                    a["nodes_truenodeids"].ints[i]
                } else {
                    a["nodes_falsenodeids"].ints[i]
                };
            }
        }
        let p = 1.0 / (1.0 + (-f64::from(s)).exp());
        max = max.max((p - f64::from(nat.probability)).abs());
    }
    assert!(max <= 1e-5, "max |Δp| = {max}");
}
