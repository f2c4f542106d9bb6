//! The burn network's ONNX graph, run by a small interpreter of the standard operators it
//! uses (numpy broadcasting, f64 arithmetic), gives the bundle's probabilities; every node
//! input is defined before use. (`.ci/onnx_check.sh` checks the same with onnx.checker and
//! onnxruntime.)

mod common;

use lotl_classifier::calibration::CalibrationMethod;
use lotl_classifier::ModelKind;
use lotl_export::onnx::proto::{data_type, ModelProto, NodeProto};
use lotl_export::Bundle;
use lotl_features::RecipeConfig;
use prost::Message;
use std::collections::HashMap;

#[derive(Clone, Debug)]
struct T {
    dims: Vec<usize>,
    v: Vec<f64>,
}

/// Index of `out` (a multi-index of the broadcast shape) into a tensor of shape `dims`.
fn bidx(dims: &[usize], out: &[usize]) -> usize {
    let off = out.len() - dims.len();
    let mut i = 0;
    for (k, &d) in dims.iter().enumerate() {
        i = i * d + if d == 1 { 0 } else { out[off + k] };
    }
    i
}

fn broadcast(ts: &[&T], f: impl Fn(&[f64]) -> f64) -> T {
    let rank = ts.iter().map(|t| t.dims.len()).max().unwrap_or(0);
    let mut dims = vec![1usize; rank];
    for t in ts {
        let off = rank - t.dims.len();
        for (k, &d) in t.dims.iter().enumerate() {
            if d != 1 {
                assert!(
                    dims[off + k] == 1 || dims[off + k] == d,
                    "shapes do not broadcast"
                );
                dims[off + k] = d;
            }
        }
    }
    let n: usize = dims.iter().product();
    let mut v = Vec::with_capacity(n);
    let mut idx = vec![0usize; rank];
    let mut args = vec![0.0; ts.len()];
    for _ in 0..n {
        for (a, t) in args.iter_mut().zip(ts) {
            *a = t.v[bidx(&t.dims, &idx)];
        }
        v.push(f(&args));
        for k in (0..rank).rev() {
            idx[k] += 1;
            if idx[k] < dims[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    T { dims, v }
}

fn attr_i(n: &NodeProto, name: &str) -> i64 {
    n.attribute.iter().find(|a| a.name == name).unwrap().i
}

fn run(m: &ModelProto, x: T) -> HashMap<String, T> {
    let g = m.graph.as_ref().unwrap();
    let mut env: HashMap<String, T> = HashMap::new();
    for t in &g.initializer {
        let v = if t.data_type == data_type::FLOAT {
            t.float_data.iter().map(|&f| f64::from(f)).collect()
        } else {
            t.int64_data.iter().map(|&i| i as f64).collect()
        };
        env.insert(
            t.name.clone(),
            T {
                dims: t.dims.iter().map(|&d| d as usize).collect(),
                v,
            },
        );
    }
    env.insert("input".into(), x);
    for n in &g.node {
        let ins: Vec<&T> = n
            .input
            .iter()
            .map(|i| {
                env.get(i)
                    .unwrap_or_else(|| panic!("{} reads undefined {i}", n.name))
            })
            .collect();
        let out = match n.op_type.as_str() {
            "IsNaN" => broadcast(&ins, |a| f64::from(u8::from(a[0].is_nan()))),
            "Where" => broadcast(&ins, |a| if a[0] != 0.0 { a[1] } else { a[2] }),
            "Sub" => broadcast(&ins, |a| a[0] - a[1]),
            "Mul" => broadcast(&ins, |a| a[0] * a[1]),
            "Add" => broadcast(&ins, |a| a[0] + a[1]),
            "Greater" => broadcast(&ins, |a| f64::from(u8::from(a[0] > a[1]))),
            "Relu" => broadcast(&ins, |a| a[0].max(0.0)),
            "Sigmoid" => broadcast(&ins, |a| 1.0 / (1.0 + (-a[0]).exp())),
            "Cast" => {
                assert_eq!(attr_i(n, "to"), i64::from(data_type::INT64));
                ins[0].clone()
            }
            "MatMul" => {
                let (a, b) = (ins[0], ins[1]);
                let (r, k, c) = (a.dims[0], a.dims[1], b.dims[1]);
                assert_eq!(b.dims[0], k, "{}: inner dimensions", n.name);
                let mut v = vec![0.0; r * c];
                for i in 0..r {
                    for j in 0..k {
                        let x = a.v[i * k + j];
                        for o in 0..c {
                            v[i * c + o] += x * b.v[j * c + o];
                        }
                    }
                }
                T {
                    dims: vec![r, c],
                    v,
                }
            }
            "Concat" => {
                assert_eq!(attr_i(n, "axis"), 1);
                let r = ins[0].dims[0];
                let c: usize = ins.iter().map(|t| t.dims[1]).sum();
                let mut v = Vec::with_capacity(r * c);
                for i in 0..r {
                    for t in &ins {
                        let w = t.dims[1];
                        v.extend_from_slice(&t.v[i * w..(i + 1) * w]);
                    }
                }
                T {
                    dims: vec![r, c],
                    v,
                }
            }
            "Reshape" => {
                assert_eq!(ins[1].v, vec![-1.0]);
                T {
                    dims: vec![ins[0].v.len()],
                    v: ins[0].v.clone(),
                }
            }
            other => panic!("operator {other} not expected in the network export"),
        };
        env.insert(n.output[0].clone(), out);
    }
    env
}

fn check(cal: CalibrationMethod) {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("b");
    let test = common::write_bundle_of(
        &b,
        RecipeConfig::from_name("lotl").unwrap(),
        cal,
        ModelKind::Burn,
    );
    let bundle = Bundle::load(&b).unwrap();
    assert_eq!(bundle.manifest.model.kind, "burn");
    let m = ModelProto::decode(lotl_export::onnx::onnx_bytes(&bundle).as_slice()).unwrap();
    let g = m.graph.as_ref().unwrap();
    assert!(
        g.node.iter().all(|n| n.domain.is_empty()),
        "standard operators only"
    );
    assert_eq!(
        m.opset_import
            .iter()
            .map(|o| (o.domain.as_str(), o.version))
            .collect::<Vec<_>>(),
        vec![("", 17)]
    );
    let meta: HashMap<&str, &str> = m
        .metadata_props
        .iter()
        .map(|p| (p.key.as_str(), p.value.as_str()))
        .collect();
    let names: Vec<String> = serde_json::from_str(meta["feature_names"]).unwrap();
    assert_eq!(names, bundle.pipeline.columns());

    let events = &test[..test.len().min(400)];
    let x = bundle.pipeline.transform(events);
    assert!(
        x.data.iter().any(|v| v.is_nan()),
        "the check needs missing values"
    );
    let want: Vec<f32> = bundle.score(events).iter().map(|s| s.probability).collect();
    let out = run(
        &m,
        T {
            dims: vec![x.n_rows, x.n_cols],
            v: x.data.iter().map(|&f| f64::from(f)).collect(),
        },
    );
    let probs = &out["probabilities"];
    assert_eq!(probs.dims, vec![x.n_rows, 2]);
    let label = &out["label"];
    assert_eq!(label.dims, vec![x.n_rows]);
    let mut max_err = 0.0f64;
    for (i, &w) in want.iter().enumerate() {
        let p = probs.v[i * 2 + 1];
        assert!((probs.v[i * 2] + p - 1.0).abs() < 1e-12);
        max_err = max_err.max((p - f64::from(w)).abs());
        assert_eq!(label.v[i], f64::from(u8::from(p > 0.5)));
    }
    assert!(max_err <= 1e-5, "max |p_onnx - p_lotl| = {max_err:e}");
    // The network must have learnt something for the comparison to mean anything.
    assert!(want.iter().any(|&p| p > 0.5) && want.iter().any(|&p| p < 0.5));
}

#[test]
fn onnx_network_matches_native_uncalibrated() {
    check(CalibrationMethod::None);
}

#[test]
fn onnx_network_matches_native_with_platt_folded_in() {
    check(CalibrationMethod::Platt);
}

#[test]
fn elasticsearch_export_of_a_network_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("b");
    common::write_bundle_of(
        &b,
        RecipeConfig::from_name("lotl").unwrap(),
        CalibrationMethod::None,
        ModelKind::Burn,
    );
    let bundle = Bundle::load(&b).unwrap();
    let err = lotl_export::elasticsearch::trained_model(&bundle).unwrap_err();
    assert!(err.to_string().contains("--format onnx"), "{err}");
}
