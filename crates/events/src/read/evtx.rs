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
    // Render each record to JSON text as `records_json` does (bytes, no UTF-8 pass), and
    // build a `Value` tree only for the few records whose EventID can be a process start.
    let records = parser.serialized_records(|rec| rec.and_then(|r| r.into_json_bytes()));
    for (ordinal, rec) in (1u64..).zip(records) {
        match rec {
            Ok(r) => {
                let ctx = RecordCtx {
                    file: name,
                    record: r.event_record_id,
                };
                if let Some(id) = quick_event_id(&r.data) {
                    if id != 1 && id != 4688 {
                        reader.accept(
                            InputFormat::Evtx,
                            &ctx,
                            Parsed::Skip(SkipReason::NotProcessStart),
                            "",
                            false,
                        )?;
                        continue;
                    }
                }
                let (parsed, raw) = match serde_json::from_slice::<Value>(&r.data) {
                    Ok(v) => {
                        let parsed = parse_record(&v, r.event_record_id);
                        let raw = match &parsed {
                            Parsed::Skip(reason) if reason.is_defect() => v.to_string(),
                            _ => String::new(),
                        };
                        (parsed, raw)
                    }
                    Err(e) => (
                        Parsed::Skip(SkipReason::CorruptEvtx),
                        format!("record rendered to invalid JSON: {e}"),
                    ),
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

/// The record's EventID read straight from the rendered JSON text, when it is a plain
/// number: `System` is the first element of `Event`, so the first `"EventID":` key is
/// System's (a value holding that text would have its quotes escaped). `None` (some other
/// shape) means: parse the record fully.
fn quick_event_id(json: &[u8]) -> Option<u64> {
    let at = memchr::memmem::find(json, b"\"EventID\":")? + b"\"EventID\":".len();
    let rest = &json[at..];
    let start = rest.iter().position(|b| !b.is_ascii_whitespace())?;
    let digits = &rest[start..];
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if len == 0 || len > 10 {
        return None;
    }
    // Only a complete number: `4688,` or `4688}` or `4688\n`, not `4688.5`.
    match digits.get(len) {
        Some(b',' | b'}' | b' ' | b'\n' | b'\r' | b'\t') | None => {}
        _ => return None,
    }
    std::str::from_utf8(&digits[..len]).ok()?.parse().ok()
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

#[cfg(test)]
mod tests {
    use super::quick_event_id;

    #[test]
    fn quick_event_id_reads_plain_numbers_and_defers_the_rest() {
        let j = br#"{"Event":{"System":{"Provider_attributes":{"Name":"x"},"EventID": 4688,"Level":0},"EventData":{"EventID":"1"}}}"#;
        assert_eq!(quick_event_id(j), Some(4688));
        assert_eq!(quick_event_id(br#"{"EventID":1}"#), Some(1));
        assert_eq!(quick_event_id(br#"{"EventID": 7 , "x": 1}"#), Some(7));
        // Other shapes are left to the full parse.
        assert_eq!(quick_event_id(br##"{"EventID":{"#text":1}}"##), None);
        assert_eq!(quick_event_id(br#"{"EventID":"1"}"#), None);
        assert_eq!(quick_event_id(br#"{"EventID":1.5}"#), None);
        assert_eq!(quick_event_id(br#"{"Message":"\"EventID\": 5"}"#), None);
        assert_eq!(quick_event_id(b"{}"), None);
    }
}
