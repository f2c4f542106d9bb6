//! Against a real MLflow server: `.ci/mlflow.sh` starts one and exports
//! LOTL_TEST_MLFLOW_URI. Without it these tests fail, unless LOTL_SKIP_MLFLOW=1 says the
//! skip is intended.
//!
//!     .ci/mlflow.sh cargo test -p lotl-track --test mlflow_server
//!
//! Everything written through lotl-track is read back through the REST API directly
//! (runs/get, metrics/get-history, artifacts/list, the artifact proxy), not through the
//! client under test.

use lotl_track::{
    start_run, Backend, Credentials, MlflowTracker, RetryPolicy, RunStatus, TrackError, Tracker,
    TrackingConfig,
};
use serde_json::Value;
use std::collections::BTreeMap;

fn server() -> Option<String> {
    match std::env::var("LOTL_TEST_MLFLOW_URI") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var("LOTL_SKIP_MLFLOW").as_deref() == Ok("1") => {
            eprintln!("LOTL_SKIP_MLFLOW=1: MLflow server tests skipped");
            None
        }
        _ => panic!(
            "LOTL_TEST_MLFLOW_URI is not set: these tests need a real MLflow server. Run them with \
             `.ci/mlflow.sh cargo test -p lotl-track` (or `source .ci/mlflow.sh && mlflow_up`), \
             or set LOTL_SKIP_MLFLOW=1 to skip them on purpose"
        ),
    }
}

fn get(uri: &str, path: &str, query: &[(&str, &str)]) -> Value {
    let url = format!("{}/api/2.0/{path}", uri.trim_end_matches('/'));
    let resp = reqwest::blocking::Client::new()
        .get(&url)
        .query(query)
        .send()
        .unwrap();
    let status = resp.status();
    let text = resp.text().unwrap();
    assert!(status.is_success(), "GET {path} {query:?}: {status} {text}");
    serde_json::from_str(&text).unwrap()
}

fn get_bytes(uri: &str, path: &str) -> Vec<u8> {
    let url = format!(
        "{}/api/2.0/mlflow-artifacts/artifacts/{path}",
        uri.trim_end_matches('/')
    );
    let resp = reqwest::blocking::get(url).unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    resp.bytes().unwrap().to_vec()
}

fn kv_map(v: &Value) -> BTreeMap<String, String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["key"].as_str().unwrap().to_owned(),
                        e["value"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{nanos}")
}

#[test]
fn a_run_is_read_back_through_the_rest_api() {
    let Some(uri) = server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("eval report.json");
    std::fs::write(&report, b"{\"auc\": 0.981}\n").unwrap();
    let bundle = tmp.path().join("bundle");
    std::fs::create_dir_all(bundle.join("trees")).unwrap();
    std::fs::write(bundle.join("model.json"), b"{\"trees\": []}").unwrap();
    std::fs::write(bundle.join("trees/0.json"), vec![b'x'; 100_000]).unwrap();

    let experiment = unique("lotl-test");
    let cfg = TrackingConfig::resolve(Some(uri.clone()), Some(tmp.path().join("runs")));
    let tags = [
        ("lotl.version".to_owned(), "0.1.0".to_owned()),
        ("lotl.git_commit".to_owned(), "abc123".to_owned()),
    ];
    let mut run = start_run(&cfg, &experiment, "depth 6", &tags)
        .unwrap()
        .quiet();
    assert_eq!(
        run.handle().backend,
        Backend::Mlflow,
        "{:?}",
        run.warnings()
    );
    run.log_params([
        ("learning_rate", "0.1"),
        ("max_depth", "6"),
        ("recipe", "elastic2021"),
    ]);
    run.log_params((0..150).map(|i| (format!("feature.{i}"), i)));
    let train: Vec<f64> = vec![0.69, 0.52, 0.41, 0.37, 0.35];
    for (step, loss) in train.iter().enumerate() {
        run.log_metric("train_loss", *loss, step as i64);
        run.log_metric("valid_loss", loss + 0.05, step as i64);
    }
    let many: Vec<lotl_track::Metric> = (0..1500)
        .map(|i| lotl_track::Metric::new("batch_loss", 1.0 / f64::from(i + 1), i64::from(i)))
        .collect();
    run.log_metrics(&many);
    run.log_metric("nan_metric", f64::NAN, 0);
    run.log_artifact(&report, None);
    run.log_artifact(&bundle, Some("model"));
    run.set_tag("dataset.train.xxh3", "0123abcd");
    assert!(run.warnings().is_empty(), "{:?}", run.warnings());
    let run_id = run.id().to_owned();
    let t_end = lotl_track::now_ms();
    run.finish().unwrap();

    let got = get(&uri, "mlflow/runs/get", &[("run_id", &run_id)]);
    let info = &got["run"]["info"];
    assert_eq!(info["status"], "FINISHED");
    assert_eq!(info["run_name"], "depth 6");
    assert!(info["end_time"].as_i64().unwrap() >= t_end);
    let exp = get(
        &uri,
        "mlflow/experiments/get-by-name",
        &[("experiment_name", &experiment)],
    );
    assert_eq!(info["experiment_id"], exp["experiment"]["experiment_id"]);
    let params = kv_map(&got["run"]["data"]["params"]);
    assert_eq!(params.len(), 153);
    assert_eq!(params["learning_rate"], "0.1");
    assert_eq!(params["feature.149"], "149");
    let tags = kv_map(&got["run"]["data"]["tags"]);
    assert_eq!(tags["lotl.git_commit"], "abc123");
    assert_eq!(tags["dataset.train.xxh3"], "0123abcd");

    let history = |key: &str| -> Vec<(i64, f64)> {
        let h = get(
            &uri,
            "mlflow/metrics/get-history",
            &[("run_id", &run_id), ("metric_key", key)],
        );
        let mut v: Vec<(i64, f64)> = h["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["step"].as_i64().unwrap(),
                    m["value"].as_f64().unwrap_or(f64::NAN),
                )
            })
            .collect();
        v.sort_by_key(|x| x.0);
        v
    };
    assert_eq!(
        history("train_loss"),
        train
            .iter()
            .enumerate()
            .map(|(s, l)| (s as i64, *l))
            .collect::<Vec<_>>()
    );
    assert_eq!(history("valid_loss").len(), 5);
    let b = history("batch_loss");
    assert_eq!(b.len(), 1500);
    assert_eq!(b[1499], (1499, 1.0 / 1500.0));
    let nan = get(
        &uri,
        "mlflow/metrics/get-history",
        &[("run_id", &run_id), ("metric_key", "nan_metric")],
    );
    assert_eq!(nan["metrics"][0]["value"], "NaN");

    let list = |path: &str| -> BTreeMap<String, (bool, i64)> {
        let l = get(
            &uri,
            "mlflow/artifacts/list",
            &[("run_id", &run_id), ("path", path)],
        );
        l["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["path"].as_str().unwrap().to_owned(),
                    (
                        f["is_dir"].as_bool().unwrap(),
                        f["file_size"].as_i64().unwrap_or(-1),
                    ),
                )
            })
            .collect()
    };
    let root = list("");
    assert_eq!(root.get("eval report.json"), Some(&(false, 15)));
    assert_eq!(root.get("model").map(|x| x.0), Some(true));
    let model = list("model");
    assert_eq!(model.get("model/model.json"), Some(&(false, 13)));
    assert_eq!(model.get("model/trees").map(|x| x.0), Some(true));
    assert_eq!(
        list("model/trees").get("model/trees/0.json"),
        Some(&(false, 100_000))
    );
    let art = info["artifact_uri"]
        .as_str()
        .unwrap()
        .trim_start_matches("mlflow-artifacts:/")
        .to_owned();
    assert_eq!(
        get_bytes(&uri, &format!("{art}/model/trees/0.json")),
        vec![b'x'; 100_000]
    );
    assert_eq!(
        get_bytes(&uri, &format!("{art}/eval%20report.json")),
        b"{\"auc\": 0.981}\n"
    );
}

#[test]
fn an_abandoned_run_is_failed_on_the_server() {
    let Some(uri) = server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cfg = TrackingConfig::resolve(Some(uri.clone()), Some(tmp.path().into()));
    let run = start_run(&cfg, &unique("lotl-test-fail"), "diverges", &[])
        .unwrap()
        .quiet();
    let id = run.id().to_owned();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let mut run = run;
        run.log_metric("loss", f64::INFINITY, 0);
        panic!("training diverged");
    }));
    assert!(r.is_err());
    let got = get(&uri, "mlflow/runs/get", &[("run_id", &id)]);
    assert_eq!(got["run"]["info"]["status"], "FAILED");
    assert!(got["run"]["info"]["end_time"].as_i64().is_some());
}

#[test]
fn server_errors_are_surfaced_verbatim() {
    let Some(uri) = server() else { return };
    let mut t = MlflowTracker::new(&uri, Credentials::None, RetryPolicy::default()).unwrap();
    let h = t.start_run(&unique("lotl-test-err"), "r", &[]).unwrap();
    t.log_params(&h, &[("lr".into(), "0.1".into())]).unwrap();
    t.log_params(&h, &[("lr".into(), "0.1".into())]).unwrap(); // same value: fine
    let err = t
        .log_params(&h, &[("lr".into(), "0.2".into())])
        .unwrap_err();
    let TrackError::Mlflow {
        status,
        error_code,
        message,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (*status, error_code.as_str()),
        (400, "INVALID_PARAMETER_VALUE")
    );
    assert!(
        message.contains("Changing param values is not allowed"),
        "{message}"
    );
    t.end_run(&h, RunStatus::Killed).unwrap();
    let got = get(&uri, "mlflow/runs/get", &[("run_id", &h.run_id)]);
    assert_eq!(got["run"]["info"]["status"], "KILLED");
}

#[test]
fn two_clients_share_a_new_experiment() {
    let Some(uri) = server() else { return };
    let name = unique("lotl-test-shared");
    let mut a = MlflowTracker::new(&uri, Credentials::None, RetryPolicy::default()).unwrap();
    let mut b = MlflowTracker::new(&uri, Credentials::None, RetryPolicy::default()).unwrap();
    let ha = a.start_run(&name, "a", &[]).unwrap();
    let hb = b.start_run(&name, "b", &[]).unwrap();
    assert_eq!(ha.experiment_id, hb.experiment_id);
    assert_ne!(ha.run_id, hb.run_id);
    assert!(ha.location.contains(&format!(
        "#/experiments/{}/runs/{}",
        ha.experiment_id, ha.run_id
    )));
    a.end_run(&ha, RunStatus::Finished).unwrap();
    b.end_run(&hb, RunStatus::Finished).unwrap();
}
