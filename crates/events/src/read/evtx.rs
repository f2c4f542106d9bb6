//! EVTX files through the `evtx` crate: Sysmon event 1 and Security 4688. A corrupt chunk or
//! record is counted and skipped; the parser goes on with the next chunk.

use super::windows::from_event_data;
use super::{parse_timestamp_ms, InputFormat, Parsed, Reader, RecordCtx, SkipReason};
use crate::error::{Error, Result};
use ::evtx::{EvtxParser, ParserSettings};
use serde_json::Value;
use std::collections::HashMap;

pub(crate) fn read(reader: &mut Reader<'_>, name: &str, bytes: Vec<u8>) -> Result<()> {
    let parser = EvtxParser::from_buffer(bytes).map_err(|e| Error::Format {
        path: name.into(),
        message: format!("unreadable EVTX header: {e}"),
    });
    let mut parser = match parser {
        Ok(p) => p,
        Err(e) => {
            // A file whose header is broken holds nothing we can reach: count it as one bad
            // record instead of aborting the whole ingest.
            let ctx = RecordCtx {
                file: name,
                record: 0,
            };
            reader.record_seen(InputFormat::Evtx);
            return reader.skip(
                InputFormat::Evtx,
                &ctx,
                SkipReason::CorruptEvtx,
                &e.to_string(),
            );
        }
    };
    let settings = ParserSettings::new()
        .separate_json_attributes(true)
        .num_threads(reader.evtx_threads());
    parser = parser.with_configuration(settings);
    for (ordinal, rec) in (1u64..).zip(parser.records_json_value()) {
        match rec {
            Ok(r) => {
                let ctx = RecordCtx {
                    file: name,
                    record: r.event_record_id,
                };
                let parsed = parse_record(&r.data, r.event_record_id);
                let raw = match &parsed {
                    Parsed::Skip(reason) if reason.is_defect() => r.data.to_string(),
                    _ => String::new(),
                };
                reader.accept(InputFormat::Evtx, &ctx, parsed, &raw, false)?;
            }
            Err(e) => {
                let ctx = RecordCtx {
                    file: name,
                    record: ordinal,
                };
                reader.record_seen(InputFormat::Evtx);
                reader.skip(
                    InputFormat::Evtx,
                    &ctx,
                    SkipReason::CorruptEvtx,
                    &e.to_string(),
                )?;
            }
        }
    }
    Ok(())
}

/// A number, or an object whose `#text` is one (when attributes are not separated).
fn number(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Object(o) => number(o.get("#text")),
        _ => None,
    }
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(o) => o.get("#text").and_then(text_of),
        _ => None,
    }
}

pub(crate) fn parse_record(data: &Value, record_id: u64) -> Parsed {
    let event = &data["Event"];
    let system = &event["System"];
    let event_id = number(system.get("EventID")).unwrap_or(0) as u32;
    let provider = system["Provider_attributes"]["Name"].as_str().unwrap_or("");
    let id = match event_id {
        1 if provider.contains("Sysmon") => 1,
        4688 if provider.contains("Security-Auditing") || provider.is_empty() => 4688,
        _ => return Parsed::Skip(SkipReason::NotProcessStart),
    };
    let fields: HashMap<&str, String> = match event.get("EventData") {
        Some(Value::Object(o)) => o
            .iter()
            .filter_map(|(k, v)| text_of(v).map(|t| (k.as_str(), t)))
            .collect(),
        _ => HashMap::new(),
    };
    let created = system["TimeCreated_attributes"]["SystemTime"]
        .as_str()
        .and_then(parse_timestamp_ms);
    let get = |k: &str| fields.get(k).map(String::as_str);
    let parsed = from_event_data(id, &get, created);
    let Parsed::Event(mut ev) = parsed else {
        return parsed;
    };
    ev.event_id = record_id.to_string();
    ev.host_name = system["Computer"].as_str().unwrap_or("").to_owned();
    if ev.host_name.is_empty() {
        return Parsed::Skip(SkipReason::MissingField("Computer"));
    }
    Parsed::Event(ev)
}
