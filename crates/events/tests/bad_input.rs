//! Bad input: skipped and counted (or an error in strict mode), never a panic or a silent drop.

mod common;
use lotl_events::read::InputFormat;
use lotl_events::{read_paths, Error, ReadOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

const GOOD: &str = r#"{"@timestamp":"2024-01-01T00:00:00Z","event":{"kind":"event","category":["process"],"type":["start"],"id":"e1"},"host":{"name":"h1","os":{"type":"windows"}},"process":{"name":"cmd.exe","executable":"C:\\Windows\\System32\\cmd.exe","command_line":"cmd.exe /c dir"}}"#;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write fixture");
    p
}

fn lenient(p: &Path) -> lotl_events::ReadOutcome {
    read_paths(&[p.to_path_buf()], &ReadOptions::default())
        .expect("lenient read never fails on bad records")
}

/// A lenient read that quarantines defects to `q`.
fn quarantined(p: &Path, q: &Path) -> lotl_events::ReadOutcome {
    read_paths(
        &[p.to_path_buf()],
        &ReadOptions {
            quarantine: Some(q.to_path_buf()),
            ..Default::default()
        },
    )
    .expect("lenient read never fails on bad records")
}

fn strict(p: &Path) -> Result<lotl_events::ReadOutcome, Error> {
    read_paths(
        &[p.to_path_buf()],
        &ReadOptions {
            strict: true,
            ..Default::default()
        },
    )
}

/// Lines are parsed in parallel batches; what comes out is still in input order, and
/// counts, quarantine and `--strict` are those of reading line by line.
#[test]
fn bad_lines_in_later_batches_keep_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let bad = [3_000usize, 4_500];
    let mut text = String::new();
    for i in 1..=5_000usize {
        if bad.contains(&i) {
            text.push_str("{\"process\": {\n");
        } else {
            text.push_str(&GOOD.replace("\"id\":\"e1\"", &format!("\"id\":\"e{i}\"")));
            text.push('\n');
        }
    }
    let p = write(dir.path(), "many.ndjson", text.as_bytes());
    let q = dir.path().join("bad.ndjson");
    let o = read_paths(
        std::slice::from_ref(&p),
        &ReadOptions {
            quarantine: Some(q.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let ids: Vec<String> = (1..=5_000)
        .filter(|i| !bad.contains(i))
        .map(|i| format!("e{i}"))
        .collect();
    let got: Vec<&str> = o.events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(got, ids);
    let s = &o.stats.by_format[&InputFormat::EcsNdjson];
    assert_eq!(
        (s.records, s.kept, s.skipped["invalid JSON"]),
        (5_000, 4_998, 2)
    );
    let records: Vec<u64> = std::fs::read_to_string(&q)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["record"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(records, [3_000, 4_500]);
    match strict(&p) {
        Err(Error::Strict { record, .. }) => assert_eq!(record, 3_000),
        other => panic!("strict read should fail at record 3000, got {other:?}"),
    }
}

#[test]
fn broken_json_line_is_skipped_counted_and_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        format!("{GOOD}\n{{\"@timestamp\": \"2024-01-01T00:00:01Z\", \"process\": {{\n{GOOD}\n");
    let p = write(dir.path(), "mixed.ndjson", text.as_bytes());
    let q = dir.path().join("bad.ndjson");
    let o = quarantined(&p, &q);
    assert_eq!(o.events.len(), 2);
    let s = &o.stats.by_format[&InputFormat::EcsNdjson];
    assert_eq!(s.records, 3);
    assert_eq!(s.skipped["invalid JSON"], 1);
    let qtext = std::fs::read_to_string(&q).unwrap();
    let rec: serde_json::Value = serde_json::from_str(qtext.lines().next().unwrap()).unwrap();
    assert_eq!(rec["record"], 2);
    assert_eq!(rec["file"], p.display().to_string());
    assert_eq!(rec["reason"], "invalid JSON");
    match strict(&p) {
        Err(Error::Strict { record, .. }) => assert_eq!(record, 2),
        other => panic!("strict read should fail at record 2, got {other:?}"),
    }
}

/// Blank lines are not records, CRLF and surrounding spaces are trimmed, a last line without
/// a newline is read, and each bad record is quarantined under its own number and text.
#[test]
fn line_numbers_survive_blank_lines_crlf_and_a_missing_last_newline() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("\n\r\n  {GOOD}  \r\n\n{{broken\r\n{GOOD}\n   \n{{\"also\": broken");
    let p = write(dir.path(), "ragged.ndjson", text.as_bytes());
    let q = dir.path().join("bad.ndjson");
    let o = quarantined(&p, &q);
    assert_eq!(o.events.len(), 2);
    let s = &o.stats.by_format[&InputFormat::EcsNdjson];
    assert_eq!((s.records, s.skipped["invalid JSON"]), (4, 2));
    let quarantined: Vec<(u64, String)> = std::fs::read_to_string(&q)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["record"].as_u64().unwrap(),
                v["raw"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        quarantined,
        [
            (2, "{broken".to_owned()),
            (4, "{\"also\": broken".to_owned())
        ]
    );
}

#[test]
fn missing_fields_are_counted_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let no_process = r#"{"@timestamp":"2024-01-01T00:00:00Z","event":{"kind":"event","category":["process"],"type":["start"]},"host":{"name":"h1"}}"#;
    let no_time = r#"{"event":{"kind":"event","category":["process"],"type":["start"]},"host":{"name":"h1"},"process":{"name":"a.exe"}}"#;
    let bad_time = r#"{"@timestamp":"soon","event":{"kind":"event","category":["process"],"type":["start"]},"host":{"name":"h1"},"process":{"name":"a.exe"}}"#;
    let p = write(
        dir.path(),
        "m.ndjson",
        format!("{no_process}\n{no_time}\n{bad_time}\n{GOOD}\n").as_bytes(),
    );
    let o = lenient(&p);
    assert_eq!(o.events.len(), 1);
    let s = &o.stats.by_format[&InputFormat::EcsNdjson];
    assert_eq!(s.skipped["missing process.name and process.executable"], 1);
    assert_eq!(s.skipped["missing @timestamp"], 1);
    assert_eq!(s.skipped["invalid timestamp"], 1);
}

#[test]
fn megabyte_command_line_is_kept_and_cut() {
    let dir = tempfile::tempdir().unwrap();
    let huge = "A".repeat(1 << 20);
    let line = GOOD.replace("cmd.exe /c dir", &format!("cmd.exe /c {huge}"));
    let p = write(dir.path(), "huge.ndjson", line.as_bytes());
    let o = lenient(&p);
    assert_eq!(o.events.len(), 1);
    let cl = o.events[0].process_command_line.as_deref().unwrap();
    assert_eq!(cl.len(), lotl_events::read::MAX_FIELD_CHARS);
    assert_eq!(o.stats.by_format[&InputFormat::EcsNdjson].truncated, 1);
}

#[test]
fn invalid_utf8_is_repaired_and_counted_or_strict_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = GOOD.replace("dir", "di\u{1}r").into_bytes();
    let pos = bytes.iter().position(|b| *b == 1).unwrap();
    bytes[pos] = 0xff;
    let p = write(dir.path(), "utf8.ndjson", &bytes);
    let o = lenient(&p);
    assert_eq!(o.events.len(), 1);
    assert!(o.events[0]
        .process_command_line
        .as_deref()
        .unwrap()
        .contains('\u{fffd}'));
    assert_eq!(o.stats.by_format[&InputFormat::EcsNdjson].repaired_utf8, 1);
    assert!(matches!(strict(&p), Err(Error::Strict { record: 1, .. })));
}

#[test]
fn empty_file_is_reported_not_silently_passed() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "empty.ndjson", b"");
    let o = lenient(&p);
    assert!(o.events.is_empty());
    assert_eq!(o.stats.unknown_files, vec![p.display().to_string()]);
    assert!(strict(&p).is_err());
}

#[test]
fn truncated_evtx_keeps_what_precedes_the_cut() {
    let src = common::real("benign/mixed-wannacry-background-sysmon.evtx");
    let full = lenient(&src);
    let bytes = std::fs::read(&src).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Header (4 KiB) + two chunks (64 KiB each) + half of the third.
    let cut = 4096 + 2 * 65536 + 32768;
    assert!(bytes.len() > cut);
    let p = write(dir.path(), "cut.evtx", &bytes[..cut]);
    let o = lenient(&p);
    assert!(
        !o.events.is_empty(),
        "records of the whole chunks before the cut are kept"
    );
    assert!(o.events.len() < full.events.len());
    for (a, b) in o.events.iter().zip(&full.events) {
        assert_eq!(a.event_id, b.event_id);
    }
    // Garbage after a valid header: counted as corrupt, no panic.
    let mut garbage = bytes[..4096 + 512].to_vec();
    garbage.extend(std::iter::repeat_n(0xA5u8, 70_000));
    let p = write(dir.path(), "garbage.evtx", &garbage);
    let o = lenient(&p);
    assert!(o.events.is_empty());
    // Only the magic: unreadable header, one corrupt record.
    let p = write(dir.path(), "magic.evtx", b"ElfFile\0");
    let o = lenient(&p);
    assert_eq!(
        o.stats.by_format[&InputFormat::Evtx].skipped["corrupt EVTX chunk or record"],
        1
    );
}

#[test]
fn gzip_and_zip_are_read_transparently() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("events.ndjson.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    writeln!(enc, "{GOOD}").unwrap();
    enc.finish().unwrap();
    assert_eq!(lenient(&gz).events.len(), 1);

    let zp = dir.path().join("bundle.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&zp).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    z.start_file("a/events.json", opts).unwrap();
    z.write_all(format!("{GOOD}\n{GOOD}\n").as_bytes()).unwrap();
    z.start_file("sysmon.evtx", opts).unwrap();
    let evtx = std::fs::read(common::real("deepbluecli/sliver-sysmon.evtx")).unwrap();
    z.write_all(&evtx).unwrap();
    z.start_file("LICENSE", opts).unwrap();
    z.write_all(b"not events").unwrap();
    z.finish().unwrap();
    let o = lenient(&zp);
    let direct = lenient(&common::real("deepbluecli/sliver-sysmon.evtx"));
    assert_eq!(o.events.len(), 2 + direct.events.len());
    assert!(o.events[0]
        .source_file
        .as_deref()
        .unwrap()
        .ends_with("bundle.zip!a/events.json"));
    assert!(o.stats.unknown_files.is_empty());
}

#[test]
fn format_is_detected_from_content_not_extension() {
    let dir = tempfile::tempdir().unwrap();
    let evtx = std::fs::read(common::real("deepbluecli/sliver-sysmon.evtx")).unwrap();
    let p = write(dir.path(), "looks-like.json", &evtx);
    let o = lenient(&p);
    assert!(o.stats.by_format.contains_key(&InputFormat::Evtx));
    assert!(!o.events.is_empty());
    let p = write(dir.path(), "events.log", format!("{GOOD}\n").as_bytes());
    assert_eq!(lenient(&p).events.len(), 1);
}

#[test]
fn a_pretty_printed_document_and_a_json_array_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let v: serde_json::Value = serde_json::from_str(GOOD).unwrap();
    let pretty = serde_json::to_string_pretty(&v).unwrap();
    let p = write(dir.path(), "one.json", pretty.as_bytes());
    assert_eq!(lenient(&p).events.len(), 1);
    let arr = format!("[{GOOD},\n{GOOD}]");
    let p = write(dir.path(), "arr.json", arr.as_bytes());
    assert_eq!(lenient(&p).events.len(), 2);
}
