//! NXLog / OTRF flat JSON lines: Windows event fields at the top level (`EventID`, `Image`,
//! `NewProcessName`, ...), plus `@timestamp` or `EventTime`, `Hostname` or `host`.

use super::windows::from_event_data;
use super::{parse_timestamp_ms, Parsed, RecordCtx, SkipReason};
use crate::event::Text;
use serde_json::{Map, Value};

/// NXLog lines carry `EventID` at the top level; ECS documents never do. For a line the
/// typed ECS walker took, `top_level_event_id` says whether it saw that key; a line it
/// refused is searched for one.
pub(crate) fn is_nxlog(line: &str, top_level_event_id: Option<bool>) -> bool {
    static EVENT_ID: std::sync::OnceLock<memchr::memmem::Finder<'static>> =
        std::sync::OnceLock::new();
    let has_key = top_level_event_id.unwrap_or_else(|| {
        let finder = EVENT_ID.get_or_init(|| memchr::memmem::Finder::new(b"\"EventID\""));
        finder.find(line.as_bytes()).is_some()
    });
    has_key && !line.starts_with("{\"@timestamp\":{")
}

pub(crate) fn parse_line(line: &str, ctx: &RecordCtx<'_>) -> Parsed {
    let v: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(_) => return Parsed::Skip(SkipReason::InvalidJson),
    };
    let Some(obj) = v.as_object() else {
        return Parsed::Skip(SkipReason::InvalidJson);
    };
    if obj.get("EventID").is_none() {
        return Parsed::Skip(SkipReason::NotProcessStart);
    }
    let parsed = from_object(obj);
    match parsed {
        // OTRF concatenates many recorded datasets into one file and names each record's
        // dataset; keep it, so splits by file keep each recording whole.
        Parsed::Event(mut ev) => {
            if let Some(ds) = obj
                .get("_source_file")
                .and_then(str_of)
                .filter(|s| !s.is_empty())
            {
                ev.source_file = Some(format!("{}!{ds}", ctx.file).into());
            }
            Parsed::Event(ev)
        }
        skip => skip,
    }
}

fn str_of(v: &Value) -> Option<&str> {
    v.as_str()
}

fn from_object(obj: &Map<String, Value>) -> Parsed {
    let event_id = match obj.get("EventID") {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0) as u32,
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    };
    let channel = obj.get("Channel").and_then(str_of).unwrap_or("");
    let is_sysmon = channel.contains("Sysmon")
        || obj
            .get("SourceName")
            .and_then(str_of)
            .is_some_and(|s| s.contains("Sysmon"));
    let is_security = channel.eq_ignore_ascii_case("Security")
        || obj
            .get("SourceName")
            .and_then(str_of)
            .is_some_and(|s| s.contains("Security-Auditing"));
    let id = match (event_id, is_sysmon, is_security) {
        (1, true, _) => 1,
        (4688, _, true) => 4688,
        // Channel missing: trust the id when its fields are there.
        (1, false, false) if obj.contains_key("Image") => 1,
        (4688, false, false) if obj.contains_key("NewProcessName") => 4688,
        _ => return Parsed::Skip(SkipReason::NotProcessStart),
    };
    let get = |k: &str| obj.get(k).and_then(str_of);
    // EventTime is the collector's local time: the last resort, after the UTC fields.
    let event_time = ["@timestamp", "TimeCreated", "UtcTime", "EventTime"]
        .iter()
        .find_map(|k| obj.get(*k).and_then(str_of).and_then(parse_timestamp_ms));
    // Numeric event-data fields (ProcessId in some exports) are numbers, not strings.
    let owned: std::collections::HashMap<&str, String> =
        ["ProcessId", "ParentProcessId", "NewProcessId"]
            .into_iter()
            .filter_map(|k| match obj.get(k) {
                Some(Value::Number(n)) => Some((k, n.to_string())),
                _ => None,
            })
            .collect();
    let lookup = |k: &str| -> Option<&str> { owned.get(k).map(String::as_str).or_else(|| get(k)) };
    let parsed = from_event_data(id, &lookup, event_time);
    let Parsed::Event(mut ev) = parsed else {
        return parsed;
    };
    ev.host_name = get("Hostname")
        .or_else(|| get("host"))
        .or_else(|| get("Computer"))
        .unwrap_or("")
        .into();
    if ev.host_name.is_empty() {
        return Parsed::Skip(SkipReason::MissingField("Hostname"));
    }
    ev.event_id = match obj.get("RecordNumber") {
        Some(Value::Number(n)) => n.to_string().into(),
        Some(Value::String(s)) => s.as_str().into(),
        _ => Text::default(),
    };
    Parsed::Event(ev)
}
