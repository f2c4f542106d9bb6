//! ECS documents, one per line: Elastic Defend process events, and Winlogbeat's Sysmon 1 /
//! Security 4688 documents (ECS fields where the ingest pipeline set them, the raw
//! `winlog.event_data.*` otherwise). Fields may be nested objects or dotted keys.
//!
//! Field sources follow the ProblemChild spec's fallbacks (section 2), e.g. the command line is
//! `process.command_line`, else `process.args` joined by a space.

use super::ecs_typed::{Doc, Leaf, LeafKind, Str};
use super::windows::{from_event_data, parse_pid};
use super::{parse_timestamp_ms, Parsed, SkipReason};
use crate::event::{
    non_empty, normalize_elevation_type, normalize_integrity_level, EventSource, Label,
    ProcessEvent, Text,
};
use serde_json::Value;

/// A line that is not NXLog's (see [`super::nxlog::is_nxlog`]), as the typed walker read
/// it when it could.
pub(crate) fn parse_line(line: &str, typed: Option<Doc<'_>>) -> Parsed {
    if let Some(mut doc) = typed {
        return from_document(&mut doc);
    }
    match serde_json::from_str::<Value>(line) {
        Ok(mut v) if v.is_object() => from_document(&mut v),
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

/// Read access to an ECS document, whichever way it was parsed.
pub(crate) trait View {
    /// A string field.
    fn text(&self, path: &str) -> Option<&str>;
    /// A field as text whatever its JSON type (ids are numbers in some shippers).
    fn scalar(&self, path: &str) -> Option<Text>;
    fn boolean(&self, path: &str) -> Option<bool>;
    /// Whether an array (or single string) field holds `want`; `None` when absent.
    fn contains(&self, path: &str, want: &str) -> Option<bool>;
    /// A string field as an owned, trimmed [`Text`]; `None` when absent, empty or `-`. A
    /// document may hand over the copy it holds (no second allocation), so the mapping
    /// takes each path at most once.
    fn take(&mut self, path: &str) -> Option<Text>;
    /// An array (or single string) field's strings, handed over as [`View::take`] does.
    fn take_strings(&mut self, path: &str) -> Vec<Text>;
    fn has(&self, path: &str) -> bool;
    fn number(&self, path: &str) -> Option<i64>;
    /// A raw Windows event field (`winlog.event_data.<key>`).
    fn event_data(&self, key: &str) -> Option<&str>;
}

fn parse_bool(s: &str) -> Option<bool> {
    let s = s.trim();
    let is = |word: &str| s.eq_ignore_ascii_case(word);
    if is("true") || s == "1" || is("yes") {
        Some(true)
    } else if is("false") || s == "0" || is("no") {
        Some(false)
    } else {
        None
    }
}

impl View for Value {
    fn text(&self, path: &str) -> Option<&str> {
        lookup(self, path)?.as_str()
    }
    fn scalar(&self, path: &str) -> Option<Text> {
        match lookup(self, path)? {
            Value::String(s) => non_empty(s),
            Value::Number(n) => Some(n.to_string().into()),
            Value::Bool(b) => Some(Text::const_new(if *b { "true" } else { "false" })),
            _ => None,
        }
    }
    fn boolean(&self, path: &str) -> Option<bool> {
        match lookup(self, path)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => parse_bool(s),
            Value::Number(n) => n.as_u64().map(|x| x != 0),
            _ => None,
        }
    }
    fn contains(&self, path: &str, want: &str) -> Option<bool> {
        match lookup(self, path)? {
            Value::String(s) => Some(s == want),
            Value::Array(a) => Some(a.iter().any(|x| x.as_str() == Some(want))),
            _ => None,
        }
    }
    fn take(&mut self, path: &str) -> Option<Text> {
        self.text(path).and_then(non_empty)
    }
    fn take_strings(&mut self, path: &str) -> Vec<Text> {
        match lookup(self, path) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|x| x.as_str().map(Text::from))
                .collect(),
            Some(Value::String(s)) => vec![Text::from(s.as_str())],
            _ => Vec::new(),
        }
    }
    fn has(&self, path: &str) -> bool {
        lookup(self, path).is_some()
    }
    fn number(&self, path: &str) -> Option<i64> {
        match lookup(self, path)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => parse_pid(s),
            _ => None,
        }
    }
    fn event_data(&self, key: &str) -> Option<&str> {
        lookup(self, "winlog.event_data")?.get(key)?.as_str()
    }
}

impl View for Doc<'_> {
    fn text(&self, path: &str) -> Option<&str> {
        match self.leaf(path)? {
            Leaf(Some(s), LeafKind::Str) => Some(&**s),
            _ => None,
        }
    }
    fn scalar(&self, path: &str) -> Option<Text> {
        match self.leaf(path)? {
            Leaf(Some(s), LeafKind::Str) => non_empty(s),
            Leaf(Some(s), _) => Some(Text::from(&**s)),
            _ => None,
        }
    }
    fn boolean(&self, path: &str) -> Option<bool> {
        match self.leaf(path)? {
            Leaf(Some(s), LeafKind::Number) => s.parse::<u64>().ok().map(|x| x != 0),
            Leaf(Some(s), _) => parse_bool(s),
            _ => None,
        }
    }
    fn contains(&self, path: &str, want: &str) -> Option<bool> {
        self.list(path).map(|l| l.iter().any(|x| **x == *want))
    }
    fn take(&mut self, path: &str) -> Option<Text> {
        let leaf = self.leaf_mut(path)?;
        match std::mem::take(leaf) {
            Leaf(Some(s), LeafKind::Str) => non_empty_str(s),
            other => {
                *leaf = other;
                None
            }
        }
    }
    fn take_strings(&mut self, path: &str) -> Vec<Text> {
        let taken = self.list_mut(path).and_then(|l| l.0.take());
        taken
            .map(|l| l.into_iter().map(Text::from).collect())
            .unwrap_or_default()
    }
    fn has(&self, path: &str) -> bool {
        match path {
            "winlog" => self.winlog.is_some(),
            "winlog.event_data" => self.winlog.as_ref().is_some_and(|w| w.event_data.is_some()),
            _ => self.leaf(path).is_some(),
        }
    }
    fn number(&self, path: &str) -> Option<i64> {
        match self.leaf(path)? {
            Leaf(Some(s), LeafKind::Number) => s.parse().ok(),
            Leaf(Some(s), LeafKind::Str) => parse_pid(s),
            _ => None,
        }
    }
    fn event_data(&self, key: &str) -> Option<&str> {
        match self.winlog.as_ref()?.event_data_value(key)? {
            Leaf(Some(s), LeafKind::Str) => Some(&**s),
            _ => None,
        }
    }
}

/// [`non_empty`] for text the walker may have unescaped into its own [`Text`]: that one is
/// kept when nothing is trimmed.
fn non_empty_str(s: Str<'_>) -> Option<Text> {
    match s {
        Str::Owned(o) if !o.is_empty() && o.trim().len() == o.len() && o != "-" => Some(o),
        s => non_empty(&s),
    }
}

fn first(v: &mut impl View, paths: &[&str]) -> Option<Text> {
    paths.iter().find_map(|p| v.take(p))
}

pub(crate) fn from_document(doc: &mut impl View) -> Parsed {
    if let Some(kind) = doc.text("event.kind") {
        if kind != "event" {
            return Parsed::Skip(SkipReason::NotProcessStart);
        }
    }
    let code = doc
        .scalar("event.code")
        .or_else(|| doc.scalar("winlog.event_id"));
    let provider = doc
        .text("event.provider")
        .or_else(|| doc.text("winlog.provider_name"))
        .or_else(|| doc.text("winlog.channel"))
        .unwrap_or("");
    let windows_id: Option<u32> = match code.as_deref() {
        Some("1") if provider.contains("Sysmon") => Some(1),
        Some("4688") => Some(4688),
        _ => None,
    };
    let is_process = doc
        .contains("event.category", "process")
        .unwrap_or(windows_id.is_some());
    if !is_process {
        return Parsed::Skip(SkipReason::NotProcessStart);
    }
    let action = doc.take("event.action");
    let is_start = doc.contains("event.type", "start").unwrap_or(false)
        || windows_id.is_some()
        || matches!(
            action.as_deref(),
            Some("start" | "exec" | "fork" | "created-process")
        );
    if !is_start {
        return Parsed::Skip(SkipReason::NotProcessStart);
    }
    for p in ["host.os.type", "host.os.family", "host.os.platform"] {
        if let Some(os) = doc.text(p) {
            if !os.eq_ignore_ascii_case("windows") {
                return Parsed::Skip(SkipReason::NotWindows);
            }
        }
    }
    let ts = match doc.text("@timestamp") {
        Some(s) => match parse_timestamp_ms(s) {
            Some(t) => t,
            None => return Parsed::Skip(SkipReason::InvalidTimestamp),
        },
        None => match doc.number("@timestamp") {
            Some(t) => t,
            None => return Parsed::Skip(SkipReason::MissingField("@timestamp")),
        },
    };

    // Winlogbeat without Elastic's ingest pipeline has only the raw event data: map it as the
    // EVTX reader does, then let ECS fields (where present) take precedence.
    let mut ev = match windows_id {
        Some(id) if doc.has("winlog.event_data") => {
            let get = |k: &str| doc.event_data(k);
            match from_event_data(id, &get, Some(ts)) {
                Parsed::Event(e) => e,
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
        None if doc.has("winlog") => EventSource::Winlogbeat,
        None => match doc.text("lotl.source").and_then(EventSource::parse) {
            Some(s) => s,
            None => EventSource::ElasticDefend,
        },
    });
    let or = |field: &mut Option<Text>, value: Option<Text>| {
        if value.is_some() {
            *field = value;
        }
    };
    ev.event_id = doc
        .scalar("event.id")
        .or_else(|| doc.scalar("winlog.record_id"))
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
    ev.host_id = doc.take("host.id");
    if action.is_some() {
        ev.event_action = action;
    }

    or(&mut ev.process_name, doc.take("process.name"));
    or(&mut ev.process_executable, doc.take("process.executable"));
    let args = doc.take_strings("process.args");
    let command_line = doc.take("process.command_line")
        .or_else(|| (!args.is_empty()).then(|| args.join(" ").into()));
    or(&mut ev.process_command_line, command_line);
    ev.process_args = args;
    if let Some(p) = doc.number("process.pid") {
        ev.process_pid = Some(p);
    }
    or(&mut ev.process_entity_id, doc.take("process.entity_id"));
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
    ev.process_code_signature_exists = doc
        .boolean("process.code_signature.exists")
        .or_else(|| doc.boolean("winlog.event_data.Signed"));
    ev.process_code_signature_trusted =
        doc.boolean("process.code_signature.trusted").or_else(|| {
            doc.text("winlog.event_data.SignatureStatus")
                .map(|s| s.eq_ignore_ascii_case("Valid"))
        });
    ev.process_code_signature_subject = doc.take("process.code_signature.subject_name");
    if let Some(il) = doc
        .text("process.Ext.token.integrity_level_name")
        .or_else(|| doc.text("winlog.event_data.IntegrityLevel"))
        .and_then(normalize_integrity_level)
    {
        ev.integrity_level = Some(il);
    }
    if let Some(et) = doc
        .text("process.Ext.token.elevation_type")
        .or_else(|| doc.text("process.Ext.token.elevation_level"))
        .or_else(|| doc.text("winlog.event_data.TokenElevationType"))
        .and_then(normalize_elevation_type)
    {
        ev.elevation_type = Some(et);
    }
    ev.elevated = doc.boolean("process.Ext.token.elevation");

    if let Some(p) = doc.number("process.parent.pid") {
        ev.parent_pid = Some(p);
    }
    or(
        &mut ev.parent_entity_id,
        doc.take("process.parent.entity_id"),
    );
    or(&mut ev.parent_name, doc.take("process.parent.name"));
    or(
        &mut ev.parent_executable,
        doc.take("process.parent.executable"),
    );
    or(
        &mut ev.parent_command_line,
        doc.take("process.parent.command_line"),
    );

    or(&mut ev.user_name, doc.take("user.name"));
    or(&mut ev.user_domain, doc.take("user.domain"));
    or(&mut ev.user_id, doc.take("user.id"));

    if let Some(label) = doc.text("lotl.label").and_then(Label::parse) {
        ev.label = Some(label);
    }
    ev.scenario_id = doc.take("lotl.scenario_id");
    ev.technique = doc.take("lotl.technique");
    ev.family = doc.take("lotl.family");

    if ev.process_name.is_none() && ev.process_executable.is_none() {
        return Parsed::Skip(SkipReason::MissingField(
            "process.name and process.executable",
        ));
    }
    Parsed::Event(ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::ecs_typed::parse_doc;
    use serde_json::json;

    #[test]
    fn lookup_handles_nested_and_dotted() {
        let v = json!({"process": {"parent.name": "a", "name": "b"}, "host.name": "h"});
        assert_eq!(v.text("process.parent.name"), Some("a"));
        assert_eq!(v.text("process.name"), Some("b"));
        assert_eq!(v.text("host.name"), Some("h"));
        assert_eq!(v.text("user.name"), None);
    }

    /// The typed fast path and the generic path must map a document identically.
    #[test]
    fn typed_and_generic_paths_agree() {
        let docs = [
            include_str!("../../../../datasets/fixtures/winlogbeat.ndjson"),
            r#"{"@timestamp":"2024-01-01T00:00:00Z","event":{"kind":"event","category":"process","type":["start"],"id":7},"host":{"name":"h","os":{"type":"windows"}},"process":{"pid":"12","name":"a.exe","args":["a.exe","-x"],"code_signature":{"exists":"true","trusted":1},"Ext":{"token":{"elevation":true,"integrity_level_name":"High"}},"parent":{"name":"p.exe","pid":3}},"user":{"name":"u","id":"S-1-5-21-1"},"lotl":{"label":"malicious","scenario_id":"s1","technique":"T1218","family":"proxy"}}"#,
        ];
        for text in docs.iter().flat_map(|d| d.lines()) {
            let mut doc: Doc<'_> = parse_doc(text).unwrap();
            let mut v: Value = serde_json::from_str(text).unwrap();
            let (a, b) = (from_document(&mut doc), from_document(&mut v));
            match (a, b) {
                (Parsed::Event(a), Parsed::Event(b)) => assert_eq!(a, b, "{text}"),
                (Parsed::Skip(a), Parsed::Skip(b)) => assert_eq!(a, b, "{text}"),
                _ => panic!("paths disagree on {text}"),
            }
        }
    }

    fn same_mapping(text: &str) {
        let mut doc = parse_doc(text).expect("typed path takes it");
        let mut v: Value = serde_json::from_str(text).expect("valid JSON");
        match (from_document(&mut doc), from_document(&mut v)) {
            (Parsed::Event(a), Parsed::Event(b)) => assert_eq!(a, b, "{text}"),
            (Parsed::Skip(a), Parsed::Skip(b)) => assert_eq!(a, b, "{text}"),
            _ => panic!("paths disagree on {text}"),
        }
    }

    const DEFEND: &str = r#"{"@timestamp":"2024-03-01T10:00:00.123Z","agent":{"id":"a","type":"endpoint"},"event":{"id":"MrKl1","kind":"event","category":["process"],"type":["start"],"action":"start"},"host":{"name":"ws-1","id":"h1","os":{"type":"windows"}},"process":{"pid":4242,"entity_id":"e1","name":"cmd.exe","executable":"C:\\Windows\\System32\\cmd.exe","command_line":"cmd.exe /c \"echo \u00e9\ud83d\ude00\" \/ \t","args":["cmd.exe","/c",7,null,{"x":[1,2]}],"pe":{"original_file_name":"Cmd.Exe"},"code_signature":{"exists":true,"trusted":false,"subject_name":"Microsoft Windows"},"hash":{"sha256":"ab"},"Ext":{"ancestry":["a","b"],"token":{"integrity_level_name":"high","elevation":false,"elevation_type":"full"}},"parent":{"pid":-1.5e3,"entity_id":"p1","name":"explorer.exe","executable":"C:\\Windows\\explorer.exe","command_line":"C:\\Windows\\Explorer.EXE","args":[]}},"user":{"name":"alice","domain":"CORP","id":"S-1-5-21-1"},"extra":[[[]],{},"",0,-0.0,true,false,null]}"#;

    /// Escapes, surrogate pairs, numbers of every JSON form, containers skipped at depth.
    #[test]
    fn walker_maps_like_serde_json() {
        same_mapping(DEFEND);
        let doc = parse_doc(DEFEND).unwrap();
        assert_eq!(
            doc.process.command_line.0.as_deref(),
            Some("cmd.exe /c \"echo \u{e9}\u{1F600}\" / \t")
        );
        assert_eq!(doc.process.parent.pid.0.as_deref(), Some("-1.5e3"));
        assert_eq!(doc.process.args.0.as_ref().map(Vec::len), Some(2));
    }

    /// Text that is not JSON never gets through the walker, and a flattened ECS key sends
    /// the document to the generic path.
    #[test]
    fn walker_refuses_what_it_must() {
        for bad in [
            "",
            "{",
            r#"{"a":1}x"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":-}"#,
            r#"{"a":tru}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\ud83d"}"#,
            "{\"a\":\"tab\tinside\"}",
            r#"{"a":[1,]}"#,
            r#"{"a":{"b":1,}}"#,
            r#"{"a" 1}"#,
            r#"{1:2}"#,
            r#"[{"a":1}]"#,
            r#"{"process.name":"cmd.exe"}"#,
            r#"{"process":{"parent.name":"x.exe"}}"#,
            r#"{"host":{"os.type":"linux"}}"#,
            r#"{"process":"cmd.exe"}"#,
        ] {
            assert!(parse_doc(bad).is_none(), "{bad}");
        }
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(parse_doc(&deep).is_none());
        let ok = format!("{{\"x\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert!(parse_doc(&ok).is_some());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Any edit of a real-shaped document: when serde_json rejects the text the walker
        /// rejects it too, and when both take it they map it identically.
        #[test]
        fn walker_agrees_with_serde_json_on_edits(
            at in 0usize..DEFEND.len(),
            len in 0usize..4,
            with in proptest::sample::select(vec!["", "\"", "\\", ",", "}", "]", "{", "[", ":", "0", "-", "e", ".", "n", "\\u00", " ", "\u{7}", "é"]),
        ) {
            let mut text = DEFEND.as_bytes().to_vec();
            let end = (at + len).min(text.len());
            text.splice(at..end, with.bytes());
            let Ok(text) = String::from_utf8(text) else { return Ok(()) };
            let value: Result<Value, _> = serde_json::from_str(&text);
            match (parse_doc(&text), value) {
                (Some(_), Err(e)) => panic!("walker took invalid JSON ({e}): {text}"),
                (Some(_), Ok(_)) => same_mapping(&text),
                (None, _) => {}
            }
        }
    }
}
