//! EVTX files through the `evtx` crate: Sysmon event 1 and Security 4688. A corrupt chunk or
//! record is counted and skipped; the parser goes on with the next chunk.

use super::json::{Cursor, Leaf, LeafKind};
use super::windows::from_event_data;
use super::{parse_timestamp_ms, InputFormat, Parsed, Reader, RecordCtx, SkipReason};
use crate::error::{Error, Result};
use crate::event::Text;
use ::evtx::{EvtxParser, ParserSettings};
use serde_json::Value;
use std::borrow::Cow;

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
    // Attributes stay inline (`"Provider": {"#attributes": {..}}`): separating them turns
    // off the evtx crate's compiled JSON templates and renders three times slower.
    let settings = ParserSettings::new().num_threads(reader.evtx_threads());
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
                let fast = std::str::from_utf8(&r.data)
                    .ok()
                    .and_then(Record::from_text)
                    .map(|rec| map_record(&rec, r.event_record_id));
                if let Some(
                    parsed @ (Parsed::Event(_) | Parsed::Skip(SkipReason::NotProcessStart)),
                ) = fast
                {
                    reader.accept(InputFormat::Evtx, &ctx, parsed, "", false)?;
                    continue;
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
    static KEY: std::sync::OnceLock<memchr::memmem::Finder<'static>> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| memchr::memmem::Finder::new(b"\"EventID\":"));
    let at = key.find(json)? + key.needle().len();
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

/// What the process-start mapping reads from a rendered record.
#[derive(Debug, Default, PartialEq)]
struct Record<'a> {
    event_id: u32,
    provider: Cow<'a, str>,
    created: Option<Cow<'a, str>>,
    computer: Cow<'a, str>,
    /// `EventData`, in document order (the last of repeated names wins).
    fields: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Record<'a> {
    /// From a parsed `Value` (the general path).
    fn from_value(data: &'a Value) -> Record<'a> {
        let event = &data["Event"];
        let system = &event["System"];
        let fields = match event.get("EventData") {
            Some(Value::Object(o)) => o
                .iter()
                .filter_map(|(k, v)| text_of(v).map(|t| (Cow::Borrowed(k.as_str()), Cow::Owned(t))))
                .collect(),
            _ => Vec::new(),
        };
        Record {
            event_id: number(system.get("EventID")).unwrap_or(0) as u32,
            provider: Cow::Borrowed(
                system["Provider"]["#attributes"]["Name"]
                    .as_str()
                    .unwrap_or(""),
            ),
            created: system["TimeCreated"]["#attributes"]["SystemTime"]
                .as_str()
                .map(Cow::Borrowed),
            computer: Cow::Borrowed(system["Computer"].as_str().unwrap_or("")),
            fields,
        }
    }

    /// From the rendered text by the JSON walker, building nothing for the parts not read;
    /// `None` when the text is not JSON or holds a shape the walker leaves to `Value`.
    fn from_text(text: &'a str) -> Option<Record<'a>> {
        let mut r = Record::default();
        let mut c = Cursor::new(text);
        c.object(|c, k| match &*k {
            "Event" => c.object(|c, k| match &*k {
                "System" => c.object(|c, k| {
                    match &*k {
                        "EventID" => {
                            r.event_id = text_value(c)?
                                .and_then(|t| t.trim().parse::<u64>().ok())
                                .unwrap_or(0) as u32
                        }
                        "Provider" => r.provider = attribute(c, "Name")?.unwrap_or_default(),
                        "TimeCreated" => r.created = attribute(c, "SystemTime")?,
                        "Computer" => r.computer = string_value(c)?.unwrap_or_default(),
                        _ => c.skip_value()?,
                    }
                    Some(())
                }),
                "EventData" => c.object(|c, k| {
                    if let Some(t) = text_value(c)? {
                        r.fields.push((k, t));
                    }
                    Some(())
                }),
                _ => c.skip_value(),
            }),
            _ => c.skip_value(),
        })?;
        c.at_end().then_some(r)
    }
}

/// A string value (`None` for any other type), as `Value::as_str` reads it.
fn string_value<'a>(c: &mut Cursor<'a>) -> Option<Option<Cow<'a, str>>> {
    Some(match c.leaf()? {
        Leaf(Some(s), LeafKind::Str) => Some(s),
        _ => None,
    })
}

/// `{"#attributes": {name: "..", ..}, ..}`: the named attribute when it is a string.
fn attribute<'a>(c: &mut Cursor<'a>, name: &str) -> Option<Option<Cow<'a, str>>> {
    let mut out = None;
    c.object(|c, k| match &*k {
        "#attributes" => c.object(|c, k| {
            if *k == *name {
                out = string_value(c)?;
                Some(())
            } else {
                c.skip_value()
            }
        }),
        _ => c.skip_value(),
    })?;
    Some(out)
}

/// A value as [`text_of`] reads it: a string, a number or boolean as text, an object's
/// `#text`; `None` otherwise. A non-integer number is left to the `Value` path (whose
/// float formatting this does not copy).
fn text_value<'a>(c: &mut Cursor<'a>) -> Option<Option<Cow<'a, str>>> {
    if c.peek()? == b'{' {
        let mut out = None;
        c.object(|c, k| {
            if &*k == "#text" {
                out = text_value(c)?;
                Some(())
            } else {
                c.skip_value()
            }
        })?;
        return Some(out);
    }
    match c.leaf()? {
        Leaf(Some(s), LeafKind::Number) if s.contains(['.', 'e', 'E']) => None,
        Leaf(Some(s), LeafKind::Str | LeafKind::Number | LeafKind::Bool) => Some(Some(s)),
        _ => Some(None),
    }
}

fn map_record(r: &Record<'_>, record_id: u64) -> Parsed {
    let id = match r.event_id {
        1 if r.provider.contains("Sysmon") => 1,
        4688 if r.provider.contains("Security-Auditing") || r.provider.is_empty() => 4688,
        _ => return Parsed::Skip(SkipReason::NotProcessStart),
    };
    let created = r.created.as_deref().and_then(parse_timestamp_ms);
    let get = |k: &str| {
        r.fields
            .iter()
            .rev()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.as_ref())
    };
    let parsed = from_event_data(id, &get, created);
    let Parsed::Event(mut ev) = parsed else {
        return parsed;
    };
    ev.event_id = compact_str::ToCompactString::to_compact_string(&record_id);
    ev.host_name = Text::from(r.computer.as_ref());
    if ev.host_name.is_empty() {
        return Parsed::Skip(SkipReason::MissingField("Computer"));
    }
    Parsed::Event(ev)
}

pub(crate) fn parse_record(data: &Value, record_id: u64) -> Parsed {
    map_record(&Record::from_value(data), record_id)
}

#[cfg(test)]
mod tests {
    use super::quick_event_id;

    #[test]
    fn quick_event_id_reads_plain_numbers_and_defers_the_rest() {
        let j = br##"{"Event":{"System":{"Provider":{"#attributes":{"Name":"x"}},"EventID": 4688,"Level":0},"EventData":{"EventID":"1"}}}"##;
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

    /// On every record of the shared real EVTX files, the walker reads what `Value` reads.
    #[test]
    fn walker_and_value_read_real_records_alike() {
        use super::{map_record, Record};
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/real");
        if !dir.is_dir() {
            eprintln!("skipped: {} not found", dir.display());
            return;
        }
        let files = crate::read::expand_paths(&[dir]).unwrap();
        let (mut compared, mut process) = (0, 0);
        for f in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "evtx"))
        {
            let Ok(mut parser) = ::evtx::EvtxParser::from_path(f) else {
                continue;
            };
            for rec in parser.records_json().flatten() {
                let value: serde_json::Value = serde_json::from_str(&rec.data).unwrap();
                let slow = Record::from_value(&value);
                let fast = Record::from_text(&rec.data).expect("walker reads evtx's JSON");
                assert_eq!(fast, slow, "{}", rec.data);
                if let super::Parsed::Event(_) = map_record(&fast, rec.event_record_id) {
                    process += 1;
                }
                compared += 1;
            }
        }
        assert!(compared > 5_000, "{compared} records");
        assert!(process > 1_500, "{process} process starts");
    }
}
