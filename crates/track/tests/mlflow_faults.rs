//! MLflow client faults against a scripted HTTP server (no MLflow needed): server down at
//! start, server dying mid-run, error answers, credentials.

use lotl_track::{
    start_run, Backend, Credentials, LocalStore, MlflowTracker, RetryPolicy, RunStatus, Secret,
    TrackError, Tracker, TrackingConfig,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        offline_probe_interval: Duration::from_millis(0),
        connect_timeout: Duration::from_secs(2),
    }
}

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    authorization: Option<String>,
    body: Vec<u8>,
    /// The status the mock answered with.
    status: u16,
}

type Responder = dyn Fn(&Req) -> (u16, String) + Send + Sync;

/// A one-connection-at-a-time HTTP/1.1 server that records requests and answers through a
/// closure. Dropping it closes the port (connections are then refused).
struct Mock {
    port: u16,
    requests: Arc<Mutex<Vec<Req>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Mock {
    fn start(respond: Arc<Responder>) -> Mock {
        Self::start_on(0, respond)
    }

    fn start_on(port: u16, respond: Arc<Responder>) -> Mock {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (reqs, stop2) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        serve(stream, &reqs, &*respond);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Mock {
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn uri(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<Req> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, reqs: &Mutex<Vec<Req>>, respond: &Responder) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_owned(),
            parts.next().unwrap_or("").to_owned(),
        );
        let (mut len, mut authorization) = (0usize, None);
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (name, value) = h.split_once(':').unwrap_or((h, ""));
            match name.to_ascii_lowercase().as_str() {
                "content-length" => len = value.trim().parse().unwrap_or(0),
                "authorization" => authorization = Some(value.trim().to_owned()),
                _ => {}
            }
        }
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let mut req = Req {
            method,
            path,
            authorization,
            body,
            status: 0,
        };
        let (status, text) = respond(&req);
        req.status = status;
        reqs.lock().unwrap().push(req);
        let resp = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
        if stream.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

/// Answers like an MLflow server that accepts everything.
fn mlflow_like(req: &Req) -> (u16, String) {
    let p = req.path.as_str();
    if p.starts_with("/api/2.0/mlflow/experiments/get-by-name") {
        (
            200,
            r#"{"experiment":{"experiment_id":"7","name":"e"}}"#.into(),
        )
    } else if p.starts_with("/api/2.0/mlflow/runs/create") {
        (
            200,
            r#"{"run":{"info":{"run_id":"0123456789abcdef0123456789abcdef","experiment_id":"7","artifact_uri":"mlflow-artifacts:/7/0123456789abcdef0123456789abcdef/artifacts"}}}"#.into(),
        )
    } else {
        (200, "{}".into())
    }
}

fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn metric_values(reqs: &[Req]) -> Vec<f64> {
    reqs.iter()
        .filter(|r| r.path.ends_with("/runs/log-batch") && r.status == 200)
        .flat_map(|r| {
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            v["metrics"].as_array().cloned().unwrap_or_default()
        })
        .map(|m| m["value"].as_f64().unwrap())
        .collect()
}

#[test]
fn server_down_at_start_falls_back_to_the_local_store() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = TrackingConfig::resolve(
        Some(format!("http://127.0.0.1:{}", closed_port())),
        Some(tmp.path().into()),
    );
    cfg.retry = fast_retry();
    let t0 = std::time::Instant::now();
    let mut run = start_run(&cfg, "lotl-train", "r", &[]).unwrap();
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert_eq!(run.handle().backend, Backend::Local);
    assert!(
        run.warnings()
            .iter()
            .any(|w| w.contains("cannot start an MLflow run") && w.contains("unreachable")),
        "{:?}",
        run.warnings()
    );
    run.log_metric("loss", 0.5, 0);
    let id = run.id().to_owned();
    run.finish().unwrap();
    let rec = LocalStore::new(tmp.path()).load(&id).unwrap();
    assert_eq!(rec.meta.status, RunStatus::Finished);
    assert_eq!(rec.metrics.len(), 1);
    assert!(rec.meta.tags["lotl.mlflow.fallback"].contains("127.0.0.1"));
}

#[test]
fn an_http_error_at_start_is_shown_and_falls_back() {
    let mock = Mock::start(Arc::new(|_req: &Req| {
        (403, r#"{"error_code":"PERMISSION_DENIED","message":"User alice cannot write experiment 7"}"#.into())
    }));
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = TrackingConfig::resolve(Some(mock.uri()), Some(tmp.path().into()));
    cfg.retry = fast_retry();
    let run = start_run(&cfg, "e", "r", &[]).unwrap().quiet();
    assert_eq!(run.handle().backend, Backend::Local);
    let w = run.warnings().join("\n");
    assert!(
        w.contains("PERMISSION_DENIED") && w.contains("cannot write experiment 7"),
        "{w}"
    );
    // 4xx is not retried.
    assert_eq!(mock.requests().len(), 1);
    run.finish().unwrap();
}

#[test]
fn http_errors_carry_mlflows_code_and_message() {
    let mock = Mock::start(Arc::new(|req: &Req| {
        if req.path.ends_with("/runs/log-batch") {
            (
                400,
                r#"{"error_code":"INVALID_PARAMETER_VALUE","message":"Changing param values is not allowed."}"#.into(),
            )
        } else if req.path.ends_with("/runs/update") {
            (
                500,
                r#"{"error_code":"INTERNAL_ERROR","message":"database is locked"}"#.into(),
            )
        } else if req.method == "PUT" {
            (404, "<html>no such route</html>".into())
        } else {
            mlflow_like(req)
        }
    }));
    let mut t = MlflowTracker::new(&mock.uri(), Credentials::None, fast_retry()).unwrap();
    let h = t.start_run("e", "r", &[]).unwrap();
    let err = t.log_params(&h, &[("a".into(), "1".into())]).unwrap_err();
    match &err {
        TrackError::Mlflow {
            status,
            error_code,
            message,
            endpoint,
        } => {
            assert_eq!(
                (*status, error_code.as_str(), endpoint.as_str()),
                (400, "INVALID_PARAMETER_VALUE", "runs/log-batch")
            );
            assert_eq!(message, "Changing param values is not allowed.");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .contains("INVALID_PARAMETER_VALUE: Changing param values"),
        "{err}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("a.txt");
    std::fs::write(&f, b"x").unwrap();
    let err = t.log_artifact(&h, &f, None).unwrap_err().to_string();
    assert!(
        err.contains("HTTP 404") && err.contains("no such route"),
        "{err}"
    );

    // A 5xx with MLflow's own error body is retried, then reported with its message
    // (the server is up, so this is not "unreachable").
    let n_before = mock.requests().len();
    let err = t.end_run(&h, RunStatus::Finished).unwrap_err();
    assert!(
        err.to_string()
            .contains("INTERNAL_ERROR: database is locked"),
        "{err}"
    );
    assert_eq!(mock.requests().len() - n_before, 3, "3 attempts");
}

#[test]
fn server_dying_mid_run_buffers_then_saves_a_local_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let mock = Mock::start(Arc::new(mlflow_like));
    let mut cfg = TrackingConfig::resolve(Some(mock.uri()), Some(tmp.path().into()));
    cfg.retry = fast_retry();
    let mut run = start_run(&cfg, "e", "r", &[("k".into(), "v".into())])
        .unwrap()
        .quiet();
    assert_eq!(run.handle().backend, Backend::Mlflow);
    run.log_param("lr", 0.1);
    run.log_metric("loss", 1.0, 0);
    let delivered_before = metric_values(&mock.requests());
    assert_eq!(delivered_before, vec![1.0]);
    drop(mock); // the server dies

    // Training goes on; logging neither fails nor blocks for long.
    let t0 = std::time::Instant::now();
    for step in 1..50 {
        run.log_metric("loss", 1.0 / (step + 1) as f64, step);
    }
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    let model = tmp.path().join("model.bin");
    std::fs::write(&model, b"weights").unwrap();
    run.log_artifact(&model, Some("bundle"));
    let w = run.warnings().join("\n");
    assert!(
        w.contains("unreachable") && w.contains("the run goes on"),
        "{w}"
    );
    let id = run.id().to_owned();

    let err = run.finish().unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("49 metric value(s)") && msg.contains("1 artifact file(s)"),
        "{msg}"
    );
    let TrackError::Undelivered {
        rescued: Some(dir), ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(msg.contains(&dir.display().to_string()));

    // The local copy is the whole run: what reached the server too.
    let rec = LocalStore::new(tmp.path()).load(&id).unwrap();
    assert_eq!(rec.meta.run_id, "0123456789abcdef0123456789abcdef");
    assert_eq!(rec.meta.status, RunStatus::Finished);
    assert_eq!(rec.params["lr"], "0.1");
    assert_eq!(rec.history("loss").len(), 50);
    assert_eq!(rec.meta.tags["k"], "v");
    assert!(rec.meta.tags["lotl.mlflow.undelivered"].contains("49 metric"));
    assert_eq!(rec.artifacts, vec![("bundle/model.bin".to_owned(), 7)]);
}

#[test]
fn a_server_that_comes_back_gets_the_buffered_data() {
    let up = Arc::new(AtomicBool::new(true));
    let up2 = up.clone();
    let mock = Mock::start(Arc::new(move |req: &Req| {
        if up2.load(Ordering::Relaxed) {
            mlflow_like(req)
        } else {
            (503, "Service Unavailable".into())
        }
    }));
    let mut t = MlflowTracker::new(&mock.uri(), Credentials::None, fast_retry()).unwrap();
    let h = t.start_run("e", "r", &[]).unwrap();
    up.store(false, Ordering::Relaxed);
    for step in 0..10 {
        t.log_metric(&h, "loss", step as f64, step, 0).unwrap();
    }
    let notices = t.take_notices().join("\n");
    assert!(
        notices.contains("HTTP 503") && notices.contains("keeping 1 metric value(s)"),
        "{notices}"
    );
    assert!(metric_values(&mock.requests()).is_empty());
    up.store(true, Ordering::Relaxed);
    t.end_run(&h, RunStatus::Finished).unwrap();
    assert!(t.take_notices().join("\n").contains("reachable again"));
    let values = metric_values(&mock.requests());
    assert_eq!(
        values,
        (0..10).map(f64::from).collect::<Vec<_>>(),
        "all delivered, in order"
    );
    let last = mock.requests().last().cloned().unwrap();
    assert!(last.path.ends_with("/runs/update"));
    let body: serde_json::Value = serde_json::from_slice(&last.body).unwrap();
    assert_eq!(body["status"], "FINISHED");
    assert!(body["end_time"].as_i64().unwrap() > 0);
}

#[test]
fn large_logs_are_split_into_batches_within_limits() {
    let mock = Mock::start(Arc::new(mlflow_like));
    let mut t = MlflowTracker::new(&mock.uri(), Credentials::None, fast_retry()).unwrap();
    let h = t.start_run("e", "r", &[]).unwrap();
    let params: Vec<(String, String)> =
        (0..250).map(|i| (format!("p{i}"), i.to_string())).collect();
    t.log_params(&h, &params).unwrap();
    let long = "é".repeat(7000);
    t.log_params(&h, &[("long".into(), long)]).unwrap();
    assert!(t.take_notices().join("").contains("truncated"));
    let metrics: Vec<lotl_track::Metric> = (0..2500)
        .map(|i| lotl_track::Metric::new("m", f64::from(i), i64::from(i)))
        .collect();
    t.log_metrics(&h, &metrics).unwrap();
    t.log_metric(&h, "nan", f64::NAN, 0, 1).unwrap();
    t.end_run(&h, RunStatus::Finished).unwrap();
    let batches: Vec<serde_json::Value> = mock
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/runs/log-batch"))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let count = |b: &serde_json::Value, k: &str| b[k].as_array().map_or(0, Vec::len);
    for b in &batches {
        assert!(
            count(b, "params") <= 100 && count(b, "metrics") <= 1000 && count(b, "tags") <= 100
        );
        assert!(count(b, "params") + count(b, "metrics") + count(b, "tags") <= 1000);
        assert!(b.to_string().len() < 1_000_000);
    }
    let total = |k: &str| batches.iter().map(|b| count(b, k)).sum::<usize>();
    assert_eq!(total("params"), 251);
    assert_eq!(total("metrics"), 2501);
    let long_sent = batches
        .iter()
        .flat_map(|b| b["params"].as_array().cloned().unwrap_or_default())
        .find(|p| p["key"] == "long")
        .unwrap();
    assert_eq!(long_sent["value"].as_str().unwrap().chars().count(), 6000);
    let nan = batches
        .iter()
        .flat_map(|b| b["metrics"].as_array().cloned().unwrap_or_default())
        .find(|m| m["key"] == "nan")
        .unwrap();
    assert_eq!(nan["value"], "NaN");
}

#[test]
fn credentials_are_sent_but_never_shown() {
    let mock = Mock::start(Arc::new(mlflow_like));
    let token = "tok-SECRET-4242";
    let mut t = MlflowTracker::new(
        &mock.uri(),
        Credentials::Bearer(Secret::new(token)),
        fast_retry(),
    )
    .unwrap();
    assert!(!format!("{t:?}").contains(token));
    let h = t.start_run("e", "r", &[]).unwrap();
    t.end_run(&h, RunStatus::Finished).unwrap();
    let reqs = mock.requests();
    assert!(!reqs.is_empty());
    assert!(reqs
        .iter()
        .all(|r| r.authorization.as_deref() == Some("Bearer tok-SECRET-4242")));

    // Basic auth from the URI's user info: sent as a header, removed from the URL.
    let uri = format!("http://alice:pa%24%24@127.0.0.1:{}/", mock.port);
    let mut t = MlflowTracker::new(&uri, Credentials::None, fast_retry()).unwrap();
    let d = format!("{t:?}");
    assert!(!d.contains("alice") && !d.contains("pa%24"), "{d}");
    t.start_run("e", "r2", &[]).unwrap();
    let auth = mock
        .requests()
        .last()
        .unwrap()
        .authorization
        .clone()
        .unwrap();
    // base64("alice:pa$$")
    assert_eq!(auth, "Basic YWxpY2U6cGEkJA==");

    // Errors name the server without the user info.
    let mut cfg = TrackingConfig::resolve(
        Some(format!("http://alice:hunter2@127.0.0.1:{}", closed_port())),
        None,
    );
    cfg.retry = fast_retry();
    let tmp = tempfile::tempdir().unwrap();
    cfg.tracking_dir = tmp.path().into();
    let run = start_run(&cfg, "e", "r", &[]).unwrap().quiet();
    let w = run.warnings().join("\n");
    assert!(
        w.contains("127.0.0.1") && !w.contains("hunter2") && !w.contains("alice"),
        "{w}"
    );
    run.finish().unwrap();
}
