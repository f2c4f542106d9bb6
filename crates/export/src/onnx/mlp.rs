//! The bundle's network as standard ONNX operators (default domain, opset 17).
//!
//! Same interface as the tree export: input `input` float `[N, n_features]` (NaN =
//! missing), outputs `label` int64 `[N]` and `probabilities` float `[N, 2]`.
//!
//! ```text
//! input ─IsNaN─┐
//!   └──────Where(nan, mean, input) ─Sub(mean) ─Mul(inv_std)─▶ z          standardise
//! z ─MatMul(embed)─▶ h0       embedding bags and the numeric pass-through, as one matrix
//! h ─MatMul(W)─Add(b)─Relu─▶ …─MatMul(W)─Add(b)─▶ logit [N, 1]             the head
//! logit ─Sigmoid─▶ p ; probabilities = Concat(1 - p, p) ; label = Cast(p > 0.5)
//! ```
//!
//! The embedding bags (tf-weighted sums of bucket embeddings) and the numeric columns the
//! head reads directly are one `[n_features, head_width]` matrix: a bag's rows hold its
//! embeddings, a numeric column's row a single 1. A Platt calibration (`a·logit + b`) is
//! folded into the last layer; an isotonic one is recorded in the metadata as for trees.

use super::proto::*;
use super::{metadata_props, tensor_info, IR_VERSION, ONNX_OPSET};
use crate::bundle::Bundle;
use lotl_classifier::calibration::Calibration;
use lotl_classifier::NnModel;

fn tensor(name: &str, dims: &[usize], data: Vec<f32>) -> TensorProto {
    TensorProto {
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: data_type::FLOAT,
        float_data: data,
        int64_data: Vec::new(),
        name: name.into(),
    }
}

fn node(op: &str, inputs: &[&str], output: &str) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| (*s).to_owned()).collect(),
        output: vec![output.into()],
        name: output.into(),
        op_type: op.into(),
        domain: String::new(),
        attribute: Vec::new(),
        doc_string: String::new(),
    }
}

fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::INT,
        i: v,
        ..Default::default()
    }
}

/// `[n_features, head_width]`, row-major: the bags' embeddings and the numeric identity.
pub fn embedding_matrix(model: &NnModel) -> Vec<f32> {
    let n_f = model.feature_names.len();
    let width = model.head_width();
    let mut p = vec![0.0f32; n_f * width];
    let mut off = 0usize;
    for bag in &model.bags {
        let dim = bag.dim as usize;
        for (j, &c) in bag.columns.iter().enumerate() {
            let row = c as usize * width + off;
            p[row..row + dim].copy_from_slice(&bag.weight[j * dim..(j + 1) * dim]);
        }
        off += dim;
    }
    for (k, &c) in model.numeric.iter().enumerate() {
        p[c as usize * width + off + k] = 1.0;
    }
    p
}

/// The ONNX model of a bundle whose classifier is a network.
pub fn network_model(bundle: &Bundle, model: &NnModel) -> ModelProto {
    let (scale, shift, post) = match bundle.calibration() {
        Calibration::None => (1.0f64, 0.0f64, None),
        Calibration::Platt { a, b } => (*a, *b, None),
        c @ Calibration::Isotonic { .. } => (1.0, 0.0, Some(c.clone())),
    };
    let n_f = model.feature_names.len();
    let width = model.head_width();
    let mut init = vec![
        tensor("mean", &[n_f], model.mean.clone()),
        tensor("inv_std", &[n_f], model.inv_std.clone()),
        tensor("embed", &[n_f, width], embedding_matrix(model)),
        tensor("one", &[], vec![1.0]),
        tensor("half", &[], vec![0.5]),
        TensorProto {
            dims: vec![1],
            data_type: data_type::INT64,
            float_data: Vec::new(),
            int64_data: vec![-1],
            name: "flat".into(),
        },
    ];
    let mut nodes = vec![
        node("IsNaN", &["input"], "missing"),
        node("Where", &["missing", "mean", "input"], "filled"),
        node("Sub", &["filled", "mean"], "centred"),
        node("Mul", &["centred", "inv_std"], "z"),
        node("MatMul", &["z", "embed"], "h0"),
    ];
    let n = model.layers.len();
    let mut h = "h0".to_owned();
    for (l, layer) in model.layers.iter().enumerate() {
        let (w_name, b_name) = (format!("w{l}"), format!("b{l}"));
        let (mut w, mut b) = (layer.weight.clone(), layer.bias.clone());
        let last = l + 1 == n;
        if last && (scale != 1.0 || shift != 0.0) {
            for v in &mut w {
                *v = (f64::from(*v) * scale) as f32;
            }
            for v in &mut b {
                *v = (f64::from(*v) * scale + shift) as f32;
            }
        }
        init.push(tensor(
            &w_name,
            &[layer.n_in as usize, layer.n_out as usize],
            w,
        ));
        init.push(tensor(&b_name, &[layer.n_out as usize], b));
        let mm = format!("matmul{l}");
        nodes.push(node("MatMul", &[&h, &w_name], &mm));
        let pre = if last {
            "logit".to_owned()
        } else {
            format!("pre{l}")
        };
        nodes.push(node("Add", &[&mm, &b_name], &pre));
        if last {
            h = pre;
        } else {
            let next = format!("h{}", l + 1);
            nodes.push(node("Relu", &[&pre], &next));
            h = next;
        }
    }
    nodes.push(node("Sigmoid", &[&h], "p1"));
    nodes.push(node("Sub", &["one", "p1"], "p0"));
    let mut concat = node("Concat", &["p0", "p1"], "probabilities");
    concat.attribute.push(attr_int("axis", 1));
    nodes.push(concat);
    nodes.push(node("Greater", &["p1", "half"], "positive"));
    let mut cast = node("Cast", &["positive"], "label2d");
    cast.attribute
        .push(attr_int("to", i64::from(data_type::INT64)));
    nodes.push(cast);
    nodes.push(node("Reshape", &["label2d", "flat"], "label"));

    let m = &bundle.manifest;
    let hidden: Vec<String> = model.layers[..n.saturating_sub(1)]
        .iter()
        .map(|l| l.n_out.to_string())
        .collect();
    ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: ONNX_OPSET,
        }],
        producer_name: "lotl".into(),
        producer_version: m.lotl_version.clone(),
        domain: "lotl".into(),
        model_version: 1,
        doc_string: format!(
            "lotl burn network, recipe {} v{}: {} embedding bag(s) of width {}, hidden [{}]; input = feature vector ({} columns, names in metadata feature_names); p(malicious) = probabilities[:, 1]",
            m.recipe.name,
            m.recipe.version,
            model.bags.len(),
            model.bags.first().map_or(0, |b| b.dim),
            hidden.join(", "),
            n_f
        ),
        graph: Some(GraphProto {
            node: nodes,
            name: "lotl_network".into(),
            initializer: init,
            doc_string: String::new(),
            input: vec![tensor_info(
                "input",
                data_type::FLOAT,
                &[Err("N"), Ok(n_f as i64)],
            )],
            output: vec![
                tensor_info("label", data_type::INT64, &[Err("N")]),
                tensor_info("probabilities", data_type::FLOAT, &[Err("N"), Ok(2)]),
            ],
        }),
        metadata_props: metadata_props(bundle, post.as_ref()),
    }
}
