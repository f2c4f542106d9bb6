//! `lotl runs list|show|compare` over a store written through lotl-track.

use lotl_track::{start_run, LocalStore, TrackingConfig};
use std::process::Command;

fn lotl(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lotl"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn list_show_and_compare_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let cfg = TrackingConfig::local(tmp.path());
    let mut a = start_run(&cfg, "lotl-train", "lr 0.1", &[])
        .unwrap()
        .quiet();
    a.log_params([("learning_rate", "0.1"), ("max_depth", "6")]);
    a.log_metric("auc", 0.95, 3);
    let ida = a.id().to_owned();
    a.finish().unwrap();
    let mut b = start_run(&cfg, "lotl-train", "lr 0.05", &[])
        .unwrap()
        .quiet();
    b.log_params([("learning_rate", "0.05"), ("max_depth", "6")]);
    b.log_metric("auc", 0.97, 3);
    let idb = b.id().to_owned();
    drop(b); // never finished: FAILED

    let (code, out, err) = lotl(&["runs", "list", "--tracking-dir", dir]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&ida)
            && out.contains(&idb)
            && out.contains("FAILED")
            && out.contains("FINISHED"),
        "{out}"
    );

    let (code, out, _) = lotl(&["runs", "show", &ida[..8], "--tracking-dir", dir]);
    assert_eq!(code, 0);
    assert!(
        out.contains("learning_rate  0.1") && out.contains("auc"),
        "{out}"
    );

    let (code, out, _) = lotl(&["runs", "show", &idb, "--tracking-dir", dir, "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["meta"]["status"], "FAILED");
    assert_eq!(v["last_metrics"]["auc"]["value"], 0.97);

    let (code, out, _) = lotl(&["runs", "compare", &ida, &idb, "--tracking-dir", dir]);
    assert_eq!(code, 0);
    let marked: Vec<&str> = out.lines().filter(|l| l.starts_with('*')).collect();
    assert_eq!(marked.len(), 2, "{out}");
    assert!(
        marked[0].contains("learning_rate") && marked[1].contains("auc"),
        "{out}"
    );

    let (code, _, err) = lotl(&["runs", "show", "nope", "--tracking-dir", dir]);
    assert_ne!(code, 0);
    assert!(err.contains("no run matches \"nope\""), "{err}");
    assert_eq!(LocalStore::new(tmp.path()).list().unwrap().len(), 2);
}
