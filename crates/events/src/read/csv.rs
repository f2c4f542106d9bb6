//! CSV exports with a column mapping. Two mappings are built in: Microsoft Defender for
//! Endpoint `DeviceProcessEvents` (advanced hunting export) and lotl's canonical one, whose
//! columns are the Parquet column names (`process.name`, ...). Users give others as JSON:
//!
//! ```json
//! {"name": "my-edr", "columns": {"@timestamp": "Time", "host.name": "Computer",
//!   "process.executable": "ImagePath", "process.command_line": "Cmd"}}
//! ```
//!
//! Keys are canonical column names (see [`crate::event::COLUMNS`]); values are header names.
//! `process.executable` and `process.parent.executable` may name a folder: when the value
//! does not end with the mapped `process.name`, the two are joined.

use super::{parse_timestamp_ms, InputFormat, Parsed, Reader, RecordCtx, SkipReason};
use crate::error::{Error, Result};
use crate::event::{
    non_empty, normalize_elevation_type, normalize_integrity_level, EventSource, Label,
    ProcessEvent, Text,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

/// Which CSV header holds each canonical field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CsvMapping {
    pub name: String,
    /// Canonical column name → CSV header.
    pub columns: BTreeMap<String, String>,
    /// The event source to record.
    #[serde(default)]
    pub source: Option<EventSource>,
}

impl CsvMapping {
    /// Microsoft Defender for Endpoint `DeviceProcessEvents`.
    pub fn mde() -> CsvMapping {
        let pairs = [
            ("@timestamp", "Timestamp"),
            ("event.id", "ReportId"),
            ("event.action", "ActionType"),
            ("host.name", "DeviceName"),
            ("host.id", "DeviceId"),
            ("process.pid", "ProcessId"),
            ("process.name", "FileName"),
            ("process.executable", "FolderPath"),
            ("process.command_line", "ProcessCommandLine"),
            (
                "process.pe.original_file_name",
                "ProcessVersionInfoOriginalFileName",
            ),
            (
                "process.Ext.token.integrity_level_name",
                "ProcessIntegrityLevel",
            ),
            ("process.Ext.token.elevation_type", "ProcessTokenElevation"),
            ("process.parent.pid", "InitiatingProcessId"),
            ("process.parent.name", "InitiatingProcessFileName"),
            ("process.parent.executable", "InitiatingProcessFolderPath"),
            (
                "process.parent.command_line",
                "InitiatingProcessCommandLine",
            ),
            ("user.name", "AccountName"),
            ("user.domain", "AccountDomain"),
            ("user.id", "AccountSid"),
        ];
        CsvMapping {
            name: "mde-device-process-events".into(),
            columns: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            source: Some(EventSource::Mde),
        }
    }

    /// Headers equal to lotl's own column names.
    pub fn canonical() -> CsvMapping {
        CsvMapping {
            name: "lotl-canonical".into(),
            columns: crate::event::COLUMNS
                .iter()
                .filter(|c| **c != "process.args")
                .map(|c| (c.to_string(), c.to_string()))
                .collect(),
            source: None,
        }
    }

    /// Read a mapping from a JSON file.
    pub fn from_file(path: &Path) -> Result<CsvMapping> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let m: CsvMapping = serde_json::from_str(&text).map_err(|e| Error::Format {
            path: path.to_owned(),
            message: format!("invalid CSV mapping: {e}"),
        })?;
        for k in m.columns.keys() {
            if !crate::event::COLUMNS.contains(&k.as_str()) {
                return Err(Error::Format {
                    path: path.to_owned(),
                    message: format!(
                        "invalid CSV mapping: `{k}` is not a lotl column (expected one of: {})",
                        crate::event::COLUMNS.join(", ")
                    ),
                });
            }
        }
        Ok(m)
    }

    /// The header a mapping needs at least: a time and a process.
    fn matches(&self, headers: &[String]) -> bool {
        let has = |k: &str| {
            self.columns
                .get(k)
                .is_some_and(|h| headers.iter().any(|x| x == h))
        };
        has("@timestamp") && (has("process.name") || has("process.executable"))
    }
}

fn header_fields(head: &[u8]) -> Vec<String> {
    let first_line = head.split(|b| *b == b'\n').next().unwrap_or(&[]);
    let mut rdr = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(first_line);
    rdr.records()
        .next()
        .and_then(|r| r.ok())
        .map(|r| {
            r.iter()
                .map(|s| s.trim().trim_start_matches('\u{feff}').to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn candidates(user: Option<&CsvMapping>) -> Vec<CsvMapping> {
    let mut v: Vec<CsvMapping> = user.cloned().into_iter().collect();
    v.push(CsvMapping::mde());
    v.push(CsvMapping::canonical());
    v
}

pub(crate) fn looks_like_csv(head: &[u8], user: Option<&CsvMapping>) -> bool {
    let headers = header_fields(head);
    candidates(user).iter().any(|m| m.matches(&headers))
}

pub(crate) fn read(
    reader: &mut Reader<'_>,
    path: &Path,
    name: &str,
    stream: Box<dyn BufRead + '_>,
) -> Result<()> {
    let mut rdr = ::csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(stream);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| Error::Format {
            path: path.to_owned(),
            message: format!("CSV header: {e}"),
        })?
        .iter()
        .map(|s| s.trim().trim_start_matches('\u{feff}').to_owned())
        .collect();
    let user = reader.opts_csv_mapping();
    let Some(mapping) = candidates(user.as_ref())
        .into_iter()
        .find(|m| m.matches(&headers))
    else {
        return Err(Error::Format {
            path: path.to_owned(),
            message: "CSV header matches no column mapping (give one with --csv-mapping)".into(),
        });
    };
    let index: BTreeMap<&str, usize> = mapping
        .columns
        .iter()
        .filter_map(|(k, h)| headers.iter().position(|x| x == h).map(|i| (k.as_str(), i)))
        .collect();
    let mut record = ::csv::ByteRecord::new();
    let mut row = 1u64; // the header is row 1
    loop {
        row += 1;
        let ctx = RecordCtx {
            file: name,
            record: row,
        };
        match rdr.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let mut repaired = false;
                let fields: Vec<std::borrow::Cow<'_, str>> = record
                    .iter()
                    .map(|f| match std::str::from_utf8(f) {
                        Ok(s) => std::borrow::Cow::Borrowed(s),
                        Err(_) => {
                            repaired = true;
                            String::from_utf8_lossy(f)
                        }
                    })
                    .collect();
                let get = |k: &str| -> Option<&str> {
                    index
                        .get(k)
                        .and_then(|i| fields.get(*i))
                        .map(|s| s.as_ref())
                };
                let parsed = parse_row(&get, mapping.source);
                let raw = match &parsed {
                    Parsed::Skip(_) => fields.join(","),
                    Parsed::Event(_) => String::new(),
                };
                reader.accept(InputFormat::Csv, &ctx, parsed, &raw, repaired)?;
            }
            Err(e) => {
                reader.record_seen(InputFormat::Csv);
                reader.skip(
                    InputFormat::Csv,
                    &ctx,
                    SkipReason::InvalidCsv,
                    &e.to_string(),
                )?;
                if e.is_io_error() {
                    break;
                }
            }
        }
    }
    Ok(())
}

fn join_folder(folder: Option<Text>, name: Option<&str>) -> Option<Text> {
    let folder = folder?;
    match name {
        Some(n)
            if !folder
                .to_ascii_lowercase()
                .ends_with(&n.to_ascii_lowercase()) =>
        {
            let sep = if folder.ends_with('\\') || folder.ends_with('/') {
                ""
            } else {
                "\\"
            };
            Some(compact_str::format_compact!("{folder}{sep}{n}"))
        }
        _ => Some(folder),
    }
}

fn parse_row<'a>(get: &dyn Fn(&str) -> Option<&'a str>, source: Option<EventSource>) -> Parsed {
    let s = |k: &str| get(k).and_then(non_empty);
    let Some(ts) = get("@timestamp") else {
        return Parsed::Skip(SkipReason::MissingField("@timestamp"));
    };
    let Some(timestamp_ms) = parse_timestamp_ms(ts) else {
        return Parsed::Skip(SkipReason::InvalidTimestamp);
    };
    let process_name = s("process.name");
    let parent_name = s("process.parent.name");
    let mut ev = ProcessEvent {
        timestamp_ms,
        event_id: s("event.id").unwrap_or_default(),
        host_name: s("host.name").unwrap_or_default(),
        host_id: s("host.id"),
        source: source.or_else(|| get("event.source").and_then(EventSource::parse)),
        event_action: s("event.action"),
        process_pid: get("process.pid").and_then(super::windows::parse_pid),
        process_entity_id: s("process.entity_id"),
        process_executable: join_folder(s("process.executable"), process_name.as_deref()),
        process_name,
        process_command_line: s("process.command_line"),
        process_pe_original_file_name: s("process.pe.original_file_name"),
        integrity_level: get("process.Ext.token.integrity_level_name")
            .and_then(normalize_integrity_level),
        elevation_type: get("process.Ext.token.elevation_type").and_then(normalize_elevation_type),
        parent_pid: get("process.parent.pid").and_then(super::windows::parse_pid),
        parent_entity_id: s("process.parent.entity_id"),
        parent_executable: join_folder(s("process.parent.executable"), parent_name.as_deref()),
        parent_name,
        parent_command_line: s("process.parent.command_line"),
        user_name: s("user.name"),
        user_domain: s("user.domain"),
        user_id: s("user.id"),
        label: get("lotl.label").and_then(Label::parse),
        scenario_id: s("lotl.scenario_id"),
        technique: s("lotl.technique"),
        family: s("lotl.family"),
        ..Default::default()
    };
    if ev.process_name.is_none() && ev.process_executable.is_none() {
        return Parsed::Skip(SkipReason::MissingField("process name or path"));
    }
    if ev.host_name.is_empty() {
        return Parsed::Skip(SkipReason::MissingField("host.name"));
    }
    if ev.source.is_none() {
        ev.source = Some(EventSource::Mde);
    }
    Parsed::Event(ev.into())
}
