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
    non_empty, normalize_elevation_type, normalize_integrity_level, trim, EventSource, Label, Text,
};
use serde_json::Value;

/// A line that is not NXLog's (see [`super::nxlog::is_nxlog`]), as the typed walker read
/// it when it could.
pub(crate) fn parse_line(line: &str, typed: Option<&mut Doc<'_>>) -> Parsed {
    if let Some(doc) = typed {
        return from_document(doc);
    }
    match serde_json::from_str::<Value>(line) {
        Ok(mut v) if v.is_object() => from_document(&mut v),
        _ => Parsed::Skip(SkipReason::InvalidJson),
    }
}

/// The ECS fields the mapping reads: matched as a number by the typed view (a string
/// path compared at each of ~60 reads per event was a fifth of the mapping), spelled out
/// as a dotted path for the generic one.
macro_rules! ecs_fields {
    ($($field:ident => $path:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Field {
            $($field,)*
            /// `winlog.event_data.<name>`: a raw Windows event field.
            EventData(&'static str),
        }

        impl Field {
            /// The dotted ECS path.
            pub(crate) fn path(self) -> std::borrow::Cow<'static, str> {
                match self {
                    $(Field::$field => std::borrow::Cow::Borrowed($path),)*
                    Field::EventData(name) => format!("winlog.event_data.{name}").into(),
                }
            }
        }
    };
}

ecs_fields! {
    Timestamp => "@timestamp",
    EventKind => "event.kind",
    EventAction => "event.action",
    EventCode => "event.code",
    EventId => "event.id",
    EventProvider => "event.provider",
    EventCategory => "event.category",
    EventType => "event.type",
    HostName => "host.name",
    HostHostname => "host.hostname",
    HostId => "host.id",
    HostOsType => "host.os.type",
    HostOsFamily => "host.os.family",
    HostOsPlatform => "host.os.platform",
    AgentHostname => "agent.hostname",
    ProcessName => "process.name",
    ProcessExecutable => "process.executable",
    ProcessCommandLine => "process.command_line",
    ProcessArgs => "process.args",
    ProcessPid => "process.pid",
    ProcessEntityId => "process.entity_id",
    ProcessPeOriginalFileName => "process.pe.original_file_name",
    ProcessCodeSignatureExists => "process.code_signature.exists",
    ProcessCodeSignatureTrusted => "process.code_signature.trusted",
    ProcessCodeSignatureSubjectName => "process.code_signature.subject_name",
    ProcessIntegrityLevelName => "process.Ext.token.integrity_level_name",
    ProcessElevationType => "process.Ext.token.elevation_type",
    ProcessElevation => "process.Ext.token.elevation",
    ProcessElevationLevel => "process.Ext.token.elevation_level",
    ParentName => "process.parent.name",
    ParentExecutable => "process.parent.executable",
    ParentCommandLine => "process.parent.command_line",
    ParentPid => "process.parent.pid",
    ParentEntityId => "process.parent.entity_id",
    UserName => "user.name",
    UserDomain => "user.domain",
    UserId => "user.id",
    LotlLabel => "lotl.label",
    LotlScenarioId => "lotl.scenario_id",
    LotlTechnique => "lotl.technique",
    LotlFamily => "lotl.family",
    LotlSource => "lotl.source",
    Winlog => "winlog",
    WinlogEventId => "winlog.event_id",
    WinlogRecordId => "winlog.record_id",
    WinlogComputerName => "winlog.computer_name",
    WinlogProviderName => "winlog.provider_name",
    WinlogChannel => "winlog.channel",
    WinlogEventData => "winlog.event_data",
}

use Field as F;

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
    fn text(&self, field: Field) -> Option<&str>;
    /// A field as text whatever its JSON type (ids are numbers in some shippers).
    fn scalar(&self, field: Field) -> Option<Text>;
    fn boolean(&self, field: Field) -> Option<bool>;
    /// Whether an array (or single string) field holds `want`; `None` when absent.
    fn contains(&self, field: Field, want: &str) -> Option<bool>;
    /// A string field as an owned, trimmed [`Text`]; `None` when absent, empty or `-`. A
    /// document may hand over the copy it holds (no second allocation), so the mapping
    /// takes each field at most once.
    fn take(&mut self, field: Field) -> Option<Text>;
    /// An array (or single string) field's strings, handed over as [`View::take`] does.
    fn take_strings(&mut self, field: Field) -> Vec<Text>;
    fn has(&self, field: Field) -> bool;
    fn number(&self, field: Field) -> Option<i64>;
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
    fn text(&self, field: Field) -> Option<&str> {
        lookup(self, &field.path())?.as_str()
    }
    fn scalar(&self, field: Field) -> Option<Text> {
        match lookup(self, &field.path())? {
            Value::String(s) => non_empty(s),
            Value::Number(n) => Some(n.to_string().into()),
            Value::Bool(b) => Some(Text::const_new(if *b { "true" } else { "false" })),
            _ => None,
        }
    }
    fn boolean(&self, field: Field) -> Option<bool> {
        match lookup(self, &field.path())? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => parse_bool(s),
            Value::Number(n) => n.as_u64().map(|x| x != 0),
            _ => None,
        }
    }
    fn contains(&self, field: Field, want: &str) -> Option<bool> {
        match lookup(self, &field.path())? {
            Value::String(s) => Some(s == want),
            Value::Array(a) => Some(a.iter().any(|x| x.as_str() == Some(want))),
            _ => None,
        }
    }
    fn take(&mut self, field: Field) -> Option<Text> {
        self.text(field).and_then(non_empty)
    }
    fn take_strings(&mut self, field: Field) -> Vec<Text> {
        match lookup(self, &field.path()) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|x| x.as_str().map(Text::from))
                .collect(),
            Some(Value::String(s)) => vec![Text::from(s.as_str())],
            _ => Vec::new(),
        }
    }
    fn has(&self, field: Field) -> bool {
        lookup(self, &field.path()).is_some()
    }
    fn number(&self, field: Field) -> Option<i64> {
        match lookup(self, &field.path())? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => parse_pid(s),
            _ => None,
        }
    }
}

impl View for Doc<'_> {
    fn text(&self, field: Field) -> Option<&str> {
        match self.leaf(field)? {
            Leaf(Some(s), LeafKind::Str) => Some(&**s),
            _ => None,
        }
    }
    fn scalar(&self, field: Field) -> Option<Text> {
        match self.leaf(field)? {
            Leaf(Some(s), LeafKind::Str) => non_empty(s),
            Leaf(Some(s), _) => Some(Text::from(&**s)),
            _ => None,
        }
    }
    fn boolean(&self, field: Field) -> Option<bool> {
        match self.leaf(field)? {
            Leaf(Some(s), LeafKind::Number) => s.parse::<u64>().ok().map(|x| x != 0),
            Leaf(Some(s), _) => parse_bool(s),
            _ => None,
        }
    }
    fn contains(&self, field: Field, want: &str) -> Option<bool> {
        self.list(field).map(|l| l.iter().any(|x| **x == *want))
    }
    fn take(&mut self, field: Field) -> Option<Text> {
        let leaf = self.leaf_mut(field)?;
        match std::mem::take(leaf) {
            Leaf(Some(s), LeafKind::Str) => non_empty_str(s),
            other => {
                *leaf = other;
                None
            }
        }
    }
    fn take_strings(&mut self, field: Field) -> Vec<Text> {
        let taken = self.list_mut(field).and_then(|l| l.0.take());
        taken
            .map(|l| l.into_iter().map(Text::from).collect())
            .unwrap_or_default()
    }
    fn has(&self, field: Field) -> bool {
        match field {
            F::Winlog => self.winlog.is_some(),
            F::WinlogEventData => self.winlog.as_ref().is_some_and(|w| w.event_data.is_some()),
            _ => self.leaf(field).is_some(),
        }
    }
    fn number(&self, field: Field) -> Option<i64> {
        match self.leaf(field)? {
            Leaf(Some(s), LeafKind::Number) => s.parse().ok(),
            Leaf(Some(s), LeafKind::Str) => parse_pid(s),
            _ => None,
        }
    }
}

/// [`non_empty`] for text the walker may have unescaped into its own [`Text`]: that one is
/// kept when nothing is trimmed.
fn non_empty_str(s: Str<'_>) -> Option<Text> {
    match s {
        Str::Owned(o) if !o.is_empty() && trim(&o).len() == o.len() && o != "-" => Some(o),
        s => non_empty(&s),
    }
}

fn first(v: &mut impl View, fields: &[Field]) -> Option<Text> {
    fields.iter().find_map(|&f| v.take(f))
}

pub(crate) fn from_document(doc: &mut impl View) -> Parsed {
    if let Some(kind) = doc.text(F::EventKind) {
        if kind != "event" {
            return Parsed::Skip(SkipReason::NotProcessStart);
        }
    }
    let code = doc
        .scalar(F::EventCode)
        .or_else(|| doc.scalar(F::WinlogEventId));
    let provider = doc
        .text(F::EventProvider)
        .or_else(|| doc.text(F::WinlogProviderName))
        .or_else(|| doc.text(F::WinlogChannel))
        .unwrap_or("");
    let windows_id: Option<u32> = match code.as_deref() {
        Some("1") if provider.contains("Sysmon") => Some(1),
        Some("4688") => Some(4688),
        _ => None,
    };
    let is_process = doc
        .contains(F::EventCategory, "process")
        .unwrap_or(windows_id.is_some());
    if !is_process {
        return Parsed::Skip(SkipReason::NotProcessStart);
    }
    let action = doc.take(F::EventAction);
    let is_start = doc.contains(F::EventType, "start").unwrap_or(false)
        || windows_id.is_some()
        || matches!(
            action.as_deref(),
            Some("start" | "exec" | "fork" | "created-process")
        );
    if !is_start {
        return Parsed::Skip(SkipReason::NotProcessStart);
    }
    for p in [F::HostOsType, F::HostOsFamily, F::HostOsPlatform] {
        if let Some(os) = doc.text(p) {
            if !os.eq_ignore_ascii_case("windows") {
                return Parsed::Skip(SkipReason::NotWindows);
            }
        }
    }
    let ts = match doc.text(F::Timestamp) {
        Some(s) => match parse_timestamp_ms(s) {
            Some(t) => t,
            None => return Parsed::Skip(SkipReason::InvalidTimestamp),
        },
        None => match doc.number(F::Timestamp) {
            Some(t) => t,
            None => return Parsed::Skip(SkipReason::MissingField("@timestamp")),
        },
    };

    // Winlogbeat without Elastic's ingest pipeline has only the raw event data: map it as the
    // EVTX reader does, then let ECS fields (where present) take precedence.
    let mut ev = match windows_id {
        Some(id) if doc.has(F::WinlogEventData) => {
            let get = |k: &'static str| doc.text(F::EventData(k));
            match from_event_data(id, &get, Some(ts)) {
                Parsed::Event(e) => e,
                // ECS fields may still carry what the raw data lacks.
                Parsed::Skip(_) => Box::default(),
            }
        }
        _ => Box::default(),
    };
    ev.timestamp_ms = ts;
    ev.source = Some(match windows_id {
        Some(1) => EventSource::Sysmon1,
        Some(_) => EventSource::Security4688,
        None if doc.has(F::Winlog) => EventSource::Winlogbeat,
        None => match doc.text(F::LotlSource).and_then(EventSource::parse) {
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
        .scalar(F::EventId)
        .or_else(|| doc.scalar(F::WinlogRecordId))
        .unwrap_or_default();
    ev.host_name = first(
        doc,
        &[
            F::HostName,
            F::HostHostname,
            F::WinlogComputerName,
            F::AgentHostname,
        ],
    )
    .unwrap_or_default();
    ev.host_id = doc.take(F::HostId);
    if action.is_some() {
        ev.event_action = action;
    }

    or(&mut ev.process_name, doc.take(F::ProcessName));
    or(&mut ev.process_executable, doc.take(F::ProcessExecutable));
    let args = doc.take_strings(F::ProcessArgs);
    let command_line = doc
        .take(F::ProcessCommandLine)
        .or_else(|| (!args.is_empty()).then(|| args.join(" ").into()));
    or(&mut ev.process_command_line, command_line);
    ev.process_args = args;
    if let Some(p) = doc.number(F::ProcessPid) {
        ev.process_pid = Some(p);
    }
    or(&mut ev.process_entity_id, doc.take(F::ProcessEntityId));
    or(
        &mut ev.process_pe_original_file_name,
        first(
            doc,
            &[
                F::ProcessPeOriginalFileName,
                F::EventData("OriginalFileName"),
            ],
        ),
    );
    ev.process_code_signature_exists = doc
        .boolean(F::ProcessCodeSignatureExists)
        .or_else(|| doc.boolean(F::EventData("Signed")));
    ev.process_code_signature_trusted = doc.boolean(F::ProcessCodeSignatureTrusted).or_else(|| {
        doc.text(F::EventData("SignatureStatus"))
            .map(|s| s.eq_ignore_ascii_case("Valid"))
    });
    ev.process_code_signature_subject = doc.take(F::ProcessCodeSignatureSubjectName);
    if let Some(il) = doc
        .text(F::ProcessIntegrityLevelName)
        .or_else(|| doc.text(F::EventData("IntegrityLevel")))
        .and_then(normalize_integrity_level)
    {
        ev.integrity_level = Some(il);
    }
    if let Some(et) = doc
        .text(F::ProcessElevationType)
        .or_else(|| doc.text(F::ProcessElevationLevel))
        .or_else(|| doc.text(F::EventData("TokenElevationType")))
        .and_then(normalize_elevation_type)
    {
        ev.elevation_type = Some(et);
    }
    ev.elevated = doc.boolean(F::ProcessElevation);

    if let Some(p) = doc.number(F::ParentPid) {
        ev.parent_pid = Some(p);
    }
    or(&mut ev.parent_entity_id, doc.take(F::ParentEntityId));
    or(&mut ev.parent_name, doc.take(F::ParentName));
    or(&mut ev.parent_executable, doc.take(F::ParentExecutable));
    or(&mut ev.parent_command_line, doc.take(F::ParentCommandLine));

    or(&mut ev.user_name, doc.take(F::UserName));
    or(&mut ev.user_domain, doc.take(F::UserDomain));
    or(&mut ev.user_id, doc.take(F::UserId));

    if let Some(label) = doc.text(F::LotlLabel).and_then(Label::parse) {
        ev.label = Some(label);
    }
    ev.scenario_id = doc.take(F::LotlScenarioId);
    ev.technique = doc.take(F::LotlTechnique);
    ev.family = doc.take(F::LotlFamily);

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
        assert_eq!(v.text(F::ParentName), Some("a"));
        assert_eq!(v.text(F::ProcessName), Some("b"));
        assert_eq!(v.text(F::HostName), Some("h"));
        assert_eq!(v.text(F::UserName), None);
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
