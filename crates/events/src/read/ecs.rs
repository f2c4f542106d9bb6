//! ECS documents, one per line: Elastic Defend process events, and Winlogbeat's Sysmon 1 /
//! Security 4688 documents (ECS fields where the ingest pipeline set them, the raw
//! `winlog.event_data.*` otherwise). Fields may be nested objects or dotted keys.
//!
//! Field sources follow the ProblemChild spec's fallbacks (section 2), e.g. the command line is
//! `process.command_line`, else `process.args` joined by a space.

use super::windows::{from_event_data, parse_pid};
use super::{parse_timestamp_ms, Parsed, RecordCtx, SkipReason};
use crate::event::{
    non_empty, normalize_elevation_type, normalize_integrity_level, EventSource, Label,
    ProcessEvent,
};
use serde_json::Value;

pub(crate) fn parse_line(line: &str, _ctx: &RecordCtx<'_>) -> Parsed {
    match serde_json::from_str::<Value>(line) {
        Ok(v) if v.is_object() => from_document(&v),
        _ => Parsed::Skip(SkipReason::InvalidJson),
    }
}

/// Look up a dotted ECS path in a document whose objects may be nested (`{"process":
/// {"name": ..}}`), flattened (`{"process.name": ..}`) or anything between.
pub(crate) fn lookup<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    let obj = v.as_object()?;
    if let Some(found) = obj.get(path) {
        return Some(found);
    }
    let mut rest = path;
    while let Some(dot) = rest.find('.') {
        let consumed = path.len() - rest.len() + dot;
        let (head, tail) = (&path[..consumed], &path[consumed + 1..]);
        if let Some(inner) = obj.get(head) {
            if let Some(found) = lookup(inner, tail) {
                return Some(found);
            }
        }
        rest = &rest[dot + 1..];
    }
    None
}

fn text<'v>(v: &'v Value, path: &str) -> Option<&'v str> {
    match lookup(v, path)? {
        Value::String(s) => Some(s.as_str()),
        _ => None,
    }
}

/// A field as text whatever its JSON type (ids are numbers in some shippers).
fn scalar(v: &Value, path: &str) -> Option<String> {
    match lookup(v, path)? {
        Value::String(s) => non_empty(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn owned(v: &Value, path: &str) -> Option<String> {
    text(v, path).and_then(non_empty)
}

fn first(v: &Value, paths: &[&str]) -> Option<String> {
    paths.iter().find_map(|p| owned(v, p))
}

fn boolean(v: &Value, path: &str) -> Option<bool> {
    match lookup(v, path)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_u64().map(|x| x != 0),
        _ => None,
    }
}

/// `event.category` and `event.type` are arrays in ECS but single strings in some shippers.
fn contains(v: &Value, path: &str, want: &str) -> Option<bool> {
    match lookup(v, path)? {
        Value::String(s) => Some(s == want),
        Value::Array(a) => Some(a.iter().any(|x| x.as_str() == Some(want))),
        _ => None,
    }
}

fn pid(v: &Value, path: &str) -> Option<i64> {
    match lookup(v, path)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => parse_pid(s),
        _ => None,
    }
}

pub(crate) fn from_document(doc: &Value) -> Parsed {
    if let Some(kind) = text(doc, "event.kind") {
        if kind != "event" {
            return Parsed::Skip(SkipReason::NotProcessStart);
        }
    }
    let code = scalar(doc, "event.code").or_else(|| scalar(doc, "winlog.event_id"));
    let provider = text(doc, "event.provider")
        .or_else(|| text(doc, "winlog.provider_name"))
        .or_else(|| text(doc, "winlog.channel"))
        .unwrap_or("");
    let windows_id: Option<u32> = match code.as_deref() {
        Some("1") if provider.contains("Sysmon") => Some(1),
        Some("4688") => Some(4688),
        _ => None,
    };
    let is_process = contains(doc, "event.category", "process").unwrap_or(windows_id.is_some());
    if !is_process {
        return Parsed::Skip(SkipReason::NotProcessStart);
    }
    let action = owned(doc, "event.action");
    let is_start = contains(doc, "event.type", "start").unwrap_or(false)
        || windows_id.is_some()
        || matches!(
            action.as_deref(),
            Some("start" | "exec" | "fork" | "created-process")
        );
    if !is_start {
        return Parsed::Skip(SkipReason::NotProcessStart);
    }
    for p in ["host.os.type", "host.os.family", "host.os.platform"] {
        if let Some(os) = text(doc, p) {
            if !os.eq_ignore_ascii_case("windows") {
                return Parsed::Skip(SkipReason::NotWindows);
            }
        }
    }
    let ts = match text(doc, "@timestamp") {
        Some(s) => match parse_timestamp_ms(s) {
            Some(t) => t,
            None => return Parsed::Skip(SkipReason::InvalidTimestamp),
        },
        None => match lookup(doc, "@timestamp").and_then(Value::as_i64) {
            Some(t) => t,
            None => return Parsed::Skip(SkipReason::MissingField("@timestamp")),
        },
    };

    // Winlogbeat without Elastic's ingest pipeline has only the raw event data: map it as the
    // EVTX reader does, then let ECS fields (where present) take precedence.
    let mut ev = match windows_id {
        Some(id) if lookup(doc, "winlog.event_data").is_some() => {
            let data = lookup(doc, "winlog.event_data");
            let get = |k: &str| data.and_then(|d| d.get(k)).and_then(Value::as_str);
            match from_event_data(id, &get, Some(ts)) {
                Parsed::Event(e) => *e,
                // ECS fields may still carry what the raw data lacks.
                Parsed::Skip(_) => ProcessEvent::default(),
            }
        }
        _ => ProcessEvent::default(),
    };
    ev.timestamp_ms = ts;
    ev.source = Some(match windows_id {
        Some(1) => EventSource::Sysmon1,
        Some(_) => EventSource::Security4688,
        None if lookup(doc, "winlog").is_some() => EventSource::Winlogbeat,
        None => match text(doc, "lotl.source").and_then(EventSource::parse) {
            Some(s) => s,
            None => EventSource::ElasticDefend,
        },
    });
    let or = |field: &mut Option<String>, value: Option<String>| {
        if value.is_some() {
            *field = value;
        }
    };
    ev.event_id = scalar(doc, "event.id")
        .or_else(|| scalar(doc, "winlog.record_id"))
        .unwrap_or_default();
    ev.host_name = first(
        doc,
        &[
            "host.name",
            "host.hostname",
            "winlog.computer_name",
            "agent.hostname",
        ],
    )
    .unwrap_or_default();
    ev.host_id = owned(doc, "host.id");
    if action.is_some() {
        ev.event_action = action;
    }

    or(&mut ev.process_name, owned(doc, "process.name"));
    or(&mut ev.process_executable, owned(doc, "process.executable"));
    let args: Vec<String> = match lookup(doc, "process.args") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    let command_line =
        owned(doc, "process.command_line").or_else(|| (!args.is_empty()).then(|| args.join(" ")));
    or(&mut ev.process_command_line, command_line);
    ev.process_args = args;
    if let Some(p) = pid(doc, "process.pid") {
        ev.process_pid = Some(p);
    }
    or(&mut ev.process_entity_id, owned(doc, "process.entity_id"));
    or(
        &mut ev.process_pe_original_file_name,
        first(
            doc,
            &[
                "process.pe.original_file_name",
                "winlog.event_data.OriginalFileName",
            ],
        ),
    );
    ev.process_code_signature_exists = boolean(doc, "process.code_signature.exists")
        .or_else(|| boolean(doc, "winlog.event_data.Signed"));
    ev.process_code_signature_trusted =
        boolean(doc, "process.code_signature.trusted").or_else(|| {
            text(doc, "winlog.event_data.SignatureStatus").map(|s| s.eq_ignore_ascii_case("Valid"))
        });
    ev.process_code_signature_subject = owned(doc, "process.code_signature.subject_name");
    if let Some(il) = text(doc, "process.Ext.token.integrity_level_name")
        .or_else(|| text(doc, "winlog.event_data.IntegrityLevel"))
        .and_then(normalize_integrity_level)
    {
        ev.integrity_level = Some(il);
    }
    if let Some(et) = text(doc, "process.Ext.token.elevation_type")
        .or_else(|| text(doc, "winlog.event_data.TokenElevationType"))
        .and_then(normalize_elevation_type)
    {
        ev.elevation_type = Some(et);
    }
    ev.elevated = boolean(doc, "process.Ext.token.elevation");

    if let Some(p) = pid(doc, "process.parent.pid") {
        ev.parent_pid = Some(p);
    }
    or(
        &mut ev.parent_entity_id,
        owned(doc, "process.parent.entity_id"),
    );
    or(&mut ev.parent_name, owned(doc, "process.parent.name"));
    or(
        &mut ev.parent_executable,
        owned(doc, "process.parent.executable"),
    );
    or(
        &mut ev.parent_command_line,
        owned(doc, "process.parent.command_line"),
    );

    or(&mut ev.user_name, owned(doc, "user.name"));
    or(&mut ev.user_domain, owned(doc, "user.domain"));
    or(&mut ev.user_id, owned(doc, "user.id"));

    if let Some(label) = text(doc, "lotl.label").and_then(Label::parse) {
        ev.label = Some(label);
    }
    ev.scenario_id = owned(doc, "lotl.scenario_id");
    ev.technique = owned(doc, "lotl.technique");
    ev.family = owned(doc, "lotl.family");

    if ev.process_name.is_none() && ev.process_executable.is_none() {
        return Parsed::Skip(SkipReason::MissingField(
            "process.name and process.executable",
        ));
    }
    Parsed::Event(Box::new(ev))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookup_handles_nested_and_dotted() {
        let v = json!({"process": {"parent.name": "a", "name": "b"}, "host.name": "h"});
        assert_eq!(text(&v, "process.parent.name"), Some("a"));
        assert_eq!(text(&v, "process.name"), Some("b"));
        assert_eq!(text(&v, "host.name"), Some("h"));
        assert_eq!(text(&v, "user.name"), None);
    }
}
