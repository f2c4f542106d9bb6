//! The Elasticsearch export scored by the Rust evaluator equals the native bundle.

mod common;

use lotl_classifier::calibration::CalibrationMethod;
use lotl_export::elasticsearch::model::{decompress_definition, Definition};
use lotl_export::elasticsearch::{self as es, EsModel, EsScorer};
use lotl_export::Bundle;
use lotl_features::RecipeConfig;

/// Export, re-read from JSON text, score the unseen fleet; returns (max |Δp|, n events,
/// share of predictions that agree, number of NaN inputs seen).
fn compare(recipe: RecipeConfig, cal: CalibrationMethod) -> (f64, usize, f64, usize) {
    let dir = tempfile::tempdir().unwrap();
    let bdir = dir.path().join("bundle");
    let test = common::write_bundle(&bdir, recipe, cal);
    let bundle = Bundle::load(&bdir).unwrap();
    let tm = es::trained_model(&bundle).unwrap();
    let text = serde_json::to_string_pretty(&tm).unwrap();
    let model = EsModel::from_json(&text, "export").unwrap();
    assert_eq!(model.n_trees(), bundle.model.n_trees());
    let scorer = EsScorer::new(model).unwrap();
    assert!(scorer.unprovided.is_empty());
    let native = bundle.score(&test);
    let ours = scorer.score(&test);
    let mut max = 0.0f64;
    let mut agree = 0usize;
    for (n, (c, p)) in native.iter().zip(&ours) {
        max = max.max((f64::from(n.probability) - p).abs());
        agree += usize::from(n.prediction == *c);
    }
    let nan = bundle
        .pipeline
        .transform(&test)
        .data
        .iter()
        .filter(|v| v.is_nan())
        .count();
    eprintln!(
        "{}: {} events, {nan} missing inputs, max |p_es - p_lotl| = {max:e}",
        bundle.manifest.recipe.name,
        test.len()
    );
    (max, test.len(), agree as f64 / test.len() as f64, nan)
}

#[test]
fn elastic2026_export_scores_like_native() {
    let (max, n, agree, nan) = compare(RecipeConfig::Elastic2026, CalibrationMethod::None);
    assert!(n >= 2000, "only {n} test events");
    assert!(nan > 0, "the test must include missing values");
    assert!(max <= 1e-6, "max |Δp| = {max}");
    assert!(agree > 0.999, "predictions agree on {agree}");
}

#[test]
fn lotl_recipe_with_platt_scores_like_native() {
    let (max, n, agree, nan) = compare(
        RecipeConfig::from_name("lotl").unwrap(),
        CalibrationMethod::Platt,
    );
    assert!(n >= 2000, "only {n} test events; {nan} missing inputs");
    assert!(max <= 1e-6, "max |Δp| = {max}");
    assert!(agree > 0.999, "predictions agree on {agree}");
}

#[test]
fn elastic2021_with_isotonic_scores_like_native() {
    let (max, _, agree, _) = compare(RecipeConfig::Elastic2021, CalibrationMethod::Isotonic);
    assert!(max <= 1e-6, "max |Δp| = {max}");
    assert!(agree > 0.999, "predictions agree on {agree}");
}

#[test]
fn export_writes_model_pipeline_jobs_and_rules() {
    let dir = tempfile::tempdir().unwrap();
    let bdir = dir.path().join("My Model");
    common::write_bundle(
        &bdir,
        RecipeConfig::from_name("lotl").unwrap(),
        CalibrationMethod::None,
    );
    let bundle = Bundle::load(&bdir).unwrap();
    let out = dir.path().join("out");
    let ex = es::write_elasticsearch(&bundle, &out, None).unwrap();
    assert_eq!(ex.model_id, "my_model");
    // 1 model + 1 pipeline + 6 jobs + 6 datafeeds + 8 rules + README
    assert_eq!(ex.files.len(), 23, "{:?}", ex.files);

    // compressed_definition = base64(gzip(definition)), and it is what trained_model built.
    let text = std::fs::read_to_string(out.join("my_model.trained_model.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let def: Definition =
        decompress_definition(v["compressed_definition"].as_str().unwrap()).unwrap();
    let pre = &def.preprocessors;
    assert_eq!(pre.len(), 2 * bundle.pipeline.encoders().len());
    let dj = serde_json::to_value(&def).unwrap();
    let ens = &dj["trained_model"]["ensemble"];
    assert_eq!(
        ens["aggregate_output"]["logistic_regression"]["weights"]
            .as_array()
            .unwrap()
            .len(),
        bundle.model.n_trees()
    );
    assert_eq!(ens["classification_labels"], serde_json::json!(["0", "1"]));
    let w = ens["classification_weights"].as_array().unwrap();
    assert!((w[0].as_f64().unwrap() - 0.4).abs() < 1e-6);
    assert!(dj.to_string().contains("\"decision_type\":\"lte\""));
    assert!(dj["preprocessors"][0]["frequency_encoding"]["feature_name"]
        .as_str()
        .unwrap()
        .ends_with("_frequency"));

    // The lotl pipeline says what it cannot compute, in the JSON and the README.
    let p: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("my_model.ingest_pipeline.json")).unwrap(),
    )
    .unwrap();
    let desc = p["description"].as_str().unwrap();
    assert!(
        desc.contains("NOT computed") && desc.contains("cl_entropy"),
        "{desc}"
    );
    assert!(!ex.not_expressible.iter().any(|f| f == "parent_child"));
    let procs = p["processors"].as_array().unwrap();
    assert_eq!(procs[1]["inference"]["model_id"], "my_model");
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(readme.contains("`cl_entropy`"));

    // Jobs and datafeeds.
    let job: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("ml/my_model_high_sum_by_parent.job.json")).unwrap(),
    )
    .unwrap();
    let det = &job["analysis_config"]["detectors"][0];
    assert_eq!(det["function"], "high_sum");
    assert_eq!(det["by_field_name"], "process.parent.name");
    assert_eq!(det["field_name"], "problemchild.prediction_probability");
    assert_eq!(job["analysis_config"]["bucket_span"], "15m");
    let feed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("ml/datafeed-my_model_high_sum_by_parent.datafeed.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(feed["job_id"], "my_model_high_sum_by_parent");

    // Rules are valid TOML in the detection-rules layout.
    let rule: toml::Table =
        std::fs::read_to_string(out.join("rules/ml_my_model_high_sum_by_parent.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let r = rule["rule"].as_table().unwrap();
    assert_eq!(r["type"].as_str(), Some("machine_learning"));
    assert_eq!(r["anomaly_threshold"].as_integer(), Some(75));
    assert_eq!(
        r["machine_learning_job_id"].as_array().unwrap()[0].as_str(),
        Some("my_model_high_sum_by_parent")
    );
    assert_eq!(
        r["threat"].as_array().unwrap()[0]["tactic"]["id"].as_str(),
        Some("TA0005")
    );
    for f in std::fs::read_dir(out.join("rules")).unwrap() {
        let t = std::fs::read_to_string(f.unwrap().path()).unwrap();
        t.parse::<toml::Table>().unwrap();
    }
}

#[test]
fn elastic_pipeline_computes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let bdir = dir.path().join("b");
    common::write_bundle(&bdir, RecipeConfig::Elastic2026, CalibrationMethod::None);
    let bundle = Bundle::load(&bdir).unwrap();
    let p = es::pipeline::ingest_pipeline(&bundle, "m");
    assert!(p.not_expressible.is_empty());
    let src = p.body["processors"][0]["script"]["source"]
        .as_str()
        .unwrap();
    for needle in [
        "_2-gram_feature",
        "normalized_ppath",
        "cmd_obfuscation",
        "mimikatz",
        "win_system_dir",
    ] {
        assert!(src.contains(needle), "{needle}");
    }
    assert_eq!(p.body["processors"][0]["script"]["params"]["y2026"], true);
    let cleanup = p.body["processors"].as_array().unwrap().last().unwrap();
    assert_eq!(
        cleanup["script"]["params"]["fields"]
            .as_array()
            .unwrap()
            .len(),
        485
    );
}

fn tiny_model(tree: serde_json::Value) -> String {
    serde_json::json!({
        "input": {"field_names": ["a", "c"]},
        "definition": {
            "preprocessors": [
                {"frequency_encoding": {"field": "c", "feature_name": "c_frequency", "frequency_map": {"x": 0.25}}},
                {"target_mean_encoding": {"field": "c", "feature_name": "c_targetmean", "target_map": {"x": 0.9}, "default_value": 0.1}}
            ],
            "trained_model": {"ensemble": {
                "feature_names": ["a", "c_frequency", "c_targetmean"],
                "target_type": "classification",
                "classification_labels": ["0", "1"],
                "trained_models": [{"tree": {"feature_names": ["a", "c_frequency", "c_targetmean"], "tree_structure": tree}}],
                "aggregate_output": {"logistic_regression": {"weights": [2.0]}}
            }}
        }
    })
    .to_string()
}

#[test]
fn evaluator_follows_elasticsearch_semantics() {
    use es::FieldValue::*;
    let tree = serde_json::json!([
        {"node_index": 0, "split_feature": 2, "threshold": 0.5, "decision_type": "lte", "default_left": false, "left_child": 1, "right_child": 2},
        {"node_index": 1, "split_feature": 0, "threshold": 3.0, "default_left": true, "left_child": 3, "right_child": 4},
        {"node_index": 2, "leaf_value": [1.5]},
        {"node_index": 3, "leaf_value": -1.0},
        {"node_index": 4, "leaf_value": 0.5}
    ]);
    let m = EsModel::from_json(&tiny_model(tree), "tiny").unwrap();
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    // Known category: target mean 0.9 > 0.5 → right leaf 1.5, weight 2.
    assert!((m.predict_doc([("c", Str("x")), ("a", Num(1.0))]) - sig(3.0)).abs() < 1e-12);
    // Unseen category: default 0.1 → left; a = 3.0 <= 3.0 → -1.0.
    assert!((m.predict_doc([("c", Str("y")), ("a", Num(3.0))]) - sig(-2.0)).abs() < 1e-12);
    // Missing category: no encoded feature → default_left false → right.
    assert!((m.predict_doc([("a", Num(9.0))]) - sig(3.0)).abs() < 1e-12);
    // Missing `a` → default_left true → -1.0.
    assert!((m.predict_doc([("c", Str("y"))]) - sig(-2.0)).abs() < 1e-12);
    assert!((m.predict_doc([("c", Str("y")), ("a", Num(f64::NAN))]) - sig(-2.0)).abs() < 1e-12);
}

#[test]
fn evaluator_rejects_broken_models_with_a_reason() {
    let cycle = serde_json::json!([
        {"node_index": 0, "split_feature": 0, "threshold": 0.5, "left_child": 1, "right_child": 0},
        {"node_index": 1, "leaf_value": 1.0}
    ]);
    let e = EsModel::from_json(&tiny_model(cycle), "m.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("m.json") && e.contains("reached twice"), "{e}");
    let range = serde_json::json!([
        {"node_index": 0, "split_feature": 7, "threshold": 0.5, "left_child": 1, "right_child": 2},
        {"node_index": 1, "leaf_value": 1.0},
        {"node_index": 2, "leaf_value": 1.0}
    ]);
    let e = EsModel::from_json(&tiny_model(range), "m.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("split_feature 7"), "{e}");
    let e = EsModel::from_json(
        r#"{"input":{"field_names":[]},"compressed_definition":"!!!"}"#,
        "m.json",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("base64"), "{e}");
    let e = EsModel::from_json(r#"{"input":{"field_names":[]}}"#, "m.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("no definition"), "{e}");
    assert!(EsModel::from_json("not json", "m.json").is_err());
}

#[test]
fn bad_model_id_is_refused() {
    assert!(es::check_model_id("lotl_2026-a").is_ok());
    for bad in ["", "Upper", "_x", "a b", "x-"] {
        assert!(es::check_model_id(bad).is_err(), "{bad}");
    }
}
