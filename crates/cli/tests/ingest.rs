//! `lotl ingest` end to end: mixed inputs, quarantine, more events than one row group,
//! `--strict`, and the output file appearing only when everything was read.

mod common;

use common::{lotl, lotl_ok};
use std::io::Write;
use std::path::Path;

fn defend_line(i: usize) -> String {
    format!(
        r#"{{"@timestamp":"2024-03-01T10:{m:02}:{s:02}.000Z","event":{{"id":"ev-{i}","kind":"event","category":["process"],"type":["start"],"action":"start"}},"host":{{"name":"ws-{h}","os":{{"type":"windows"}}}},"process":{{"pid":{i},"name":"cmd.exe","executable":"C:\\Windows\\System32\\cmd.exe","command_line":"cmd.exe /c echo {i}","parent":{{"name":"explorer.exe","executable":"C:\\Windows\\explorer.exe"}}}},"user":{{"name":"alice","domain":"CORP"}}}}"#,
        m = (i / 60) % 60,
        s = i % 60,
        h = i % 7,
    )
}

fn write_lines(path: &Path, lines: impl Iterator<Item = String>) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).expect("create input"));
    for l in lines {
        writeln!(w, "{l}").expect("write input");
    }
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets/fixtures")
        .join(name)
}

/// More events than one row group (32,768), with a broken line among them and two other
/// sources beside them: every good event arrives, in input order, and the broken line is
/// counted and quarantined under its record number.
#[test]
fn ingest_streams_many_row_groups_and_quarantines_bad_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("in");
    std::fs::create_dir(&input).expect("input dir");
    let n = 40_000;
    write_lines(
        &input.join("defend.ndjson"),
        (0..n).map(|i| {
            if i == 35_000 {
                "{\"@timestamp\": broken".to_owned()
            } else {
                defend_line(i)
            }
        }),
    );
    std::fs::copy(
        fixture("winlogbeat.ndjson"),
        input.join("winlogbeat.ndjson"),
    )
    .expect("copy fixture");
    std::fs::copy(
        fixture("mde-device-process-events.csv"),
        input.join("mde.csv"),
    )
    .expect("copy fixture");
    let out = dir.path().join("events.parquet");
    let stdout = lotl_ok(
        dir.path(),
        &[
            "ingest",
            "in",
            "-o",
            "events.parquet",
            "--quarantine",
            "bad.ndjson",
        ],
    )
    .stdout;
    let stdout = String::from_utf8_lossy(&stdout);
    assert!(stdout.contains("invalid JSON: 1"), "{stdout}");

    let events = lotl_events::parquet::read_parquet(&out).expect("read back");
    let defend: Vec<&str> = events
        .iter()
        .filter(|e| e.event_id.starts_with("ev-"))
        .map(|e| e.event_id.as_str())
        .collect();
    assert_eq!(defend.len(), n - 1);
    let expected: Vec<String> = (0..n)
        .filter(|&i| i != 35_000)
        .map(|i| format!("ev-{i}"))
        .collect();
    assert!(defend.iter().zip(&expected).all(|(a, b)| a == b));
    // Winlogbeat's process starts and MDE's rows are there too.
    assert!(events.len() > n - 1, "only {} events", events.len());
    assert!(stdout.contains(&format!("wrote {} events", events.len())));

    let quarantine = std::fs::read_to_string(dir.path().join("bad.ndjson")).expect("quarantine");
    let rec: serde_json::Value =
        serde_json::from_str(quarantine.lines().next().expect("one line")).expect("json");
    assert_eq!(rec["record"], 35_001);
    assert!(rec["file"]
        .as_str()
        .is_some_and(|f| f.ends_with("defend.ndjson")));
}

/// `--strict` stops at the first bad record, past the first row group, and leaves an existing
/// output file exactly as it was, with no temp file beside it.
#[test]
fn strict_failure_after_a_row_group_leaves_the_old_output_intact() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_lines(
        &dir.path().join("in.ndjson"),
        (0..34_000).map(|i| {
            if i == 33_000 {
                "not json".to_owned()
            } else {
                defend_line(i)
            }
        }),
    );
    let out = dir.path().join("events.parquet");
    std::fs::write(&out, b"previous output").expect("old output");
    let run = lotl(
        dir.path(),
        &["ingest", "in.ndjson", "-o", "events.parquet", "--strict"],
    );
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("in.ndjson") && stderr.contains("33001"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&out).expect("old output"), b"previous output");
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".lotl-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Nothing readable: exit status 1, and no output file.
#[test]
fn no_events_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_lines(
        &dir.path().join("net.ndjson"),
        std::iter::once(
            r#"{"@timestamp":"2024-01-01T00:00:00Z","event":{"kind":"event","category":["network"],"type":["connection"]},"host":{"name":"h"}}"#
                .to_owned(),
        ),
    );
    let run = lotl(
        dir.path(),
        &["ingest", "net.ndjson", "-o", "events.parquet"],
    );
    assert_eq!(run.status.code(), Some(1));
    assert!(!dir.path().join("events.parquet").exists());
}
