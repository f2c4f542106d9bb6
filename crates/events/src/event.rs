//! The canonical process-start record every reader produces and every later stage consumes.

use serde::{Deserialize, Serialize};

/// The text of an event field: up to 24 bytes (most names, ids, levels, short arguments)
/// are stored inline, without an allocation; a reader builds ~25 of these per event.
pub type Text = compact_str::CompactString;

/// Which sensor (and which of its events) a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventSource {
    /// Sysmon event 1 (Process Create), from EVTX, NXLog JSON or Winlogbeat ECS.
    #[serde(rename = "sysmon-1")]
    Sysmon1,
    /// Windows Security event 4688 (A new process has been created).
    #[serde(rename = "security-4688")]
    Security4688,
    /// Elastic Defend (Endpoint) `process` start documents.
    ElasticDefend,
    /// Winlogbeat documents that are process starts but neither Sysmon 1 nor 4688.
    Winlogbeat,
    /// Microsoft Defender for Endpoint `DeviceProcessEvents` exports.
    Mde,
    /// Produced by `lotl synth`.
    Synthetic,
}

impl EventSource {
    pub const ALL: [EventSource; 6] = [
        EventSource::Sysmon1,
        EventSource::Security4688,
        EventSource::ElasticDefend,
        EventSource::Winlogbeat,
        EventSource::Mde,
        EventSource::Synthetic,
    ];

    /// The stable name stored in Parquet and printed in summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::Sysmon1 => "sysmon-1",
            EventSource::Security4688 => "security-4688",
            EventSource::ElasticDefend => "elastic-defend",
            EventSource::Winlogbeat => "winlogbeat",
            EventSource::Mde => "mde",
            EventSource::Synthetic => "synthetic",
        }
    }

    pub fn parse(s: &str) -> Option<EventSource> {
        EventSource::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl std::fmt::Display for EventSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Ground-truth class of an event, when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Benign,
    Malicious,
    /// The labelling rule could not decide; kept out of training and metrics.
    Unknown,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Benign => "benign",
            Label::Malicious => "malicious",
            Label::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Label> {
        match s {
            "benign" | "0" => Some(Label::Benign),
            "malicious" | "1" => Some(Label::Malicious),
            "unknown" => Some(Label::Unknown),
            _ => None,
        }
    }
}

/// Parquet/CSV column names of the [`ProcessEvent`] fields, in file order (ECS dotted names;
/// the layout is documented in the `parquet` module).
pub const COLUMNS: [&str; 32] = [
    "@timestamp",
    "event.id",
    "host.name",
    "host.id",
    "event.source",
    "event.action",
    "process.pid",
    "process.entity_id",
    "process.name",
    "process.executable",
    "process.command_line",
    "process.args",
    "process.pe.original_file_name",
    "process.code_signature.exists",
    "process.code_signature.trusted",
    "process.code_signature.subject_name",
    "process.Ext.token.integrity_level_name",
    "process.Ext.token.elevation_type",
    "process.Ext.token.elevation",
    "process.parent.pid",
    "process.parent.entity_id",
    "process.parent.name",
    "process.parent.executable",
    "process.parent.command_line",
    "user.name",
    "user.domain",
    "user.id",
    "lotl.source_file",
    "lotl.label",
    "lotl.scenario_id",
    "lotl.technique",
    "lotl.family",
];

/// One Windows process start, whatever sensor saw it.
///
/// Field meanings follow ECS; the Parquet column of each field is its ECS dotted name
/// (see [`COLUMNS`]). Normalisations applied by every reader:
/// - `integrity_level` is lower-case: `untrusted`, `low`, `medium`, `high`, `system`,
///   `protected` (Sysmon's `High`, Elastic's `high` and 4688's `S-1-16-12288` all become `high`).
/// - `elevation_type` uses Elastic Defend's words: `default`, `full`, `limited`
///   (4688's `%%1936`, `%%1937`, `%%1938`).
/// - `elevated` is set only when the sensor states it (Elastic Defend); recipes that follow
///   Elastic derive it from `elevation_type` themselves.
/// - `user_id` is the SID of the account the process runs as. The SID of the account that
///   *wrote* the event (Sysmon's own `S-1-5-18`) is never used; well-known service accounts
///   named without a SID get their SID.
/// - `process_name` is derived from `process_executable` when absent, and vice versa
///   when the name is a full path.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProcessEvent {
    /// Event time, UTC, milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// ECS `event.id`, EVTX EventRecordID, or the source's own record id.
    pub event_id: Text,
    pub host_name: Text,
    pub host_id: Option<Text>,
    pub source: Option<EventSource>,
    pub event_action: Option<Text>,

    pub process_pid: Option<i64>,
    pub process_entity_id: Option<Text>,
    pub process_name: Option<Text>,
    pub process_executable: Option<Text>,
    pub process_command_line: Option<Text>,
    pub process_args: Vec<Text>,
    pub process_pe_original_file_name: Option<Text>,
    pub process_code_signature_exists: Option<bool>,
    pub process_code_signature_trusted: Option<bool>,
    pub process_code_signature_subject: Option<Text>,
    pub integrity_level: Option<Text>,
    pub elevation_type: Option<Text>,
    pub elevated: Option<bool>,

    pub parent_pid: Option<i64>,
    pub parent_entity_id: Option<Text>,
    pub parent_name: Option<Text>,
    pub parent_executable: Option<Text>,
    pub parent_command_line: Option<Text>,

    pub user_name: Option<Text>,
    pub user_domain: Option<Text>,
    pub user_id: Option<Text>,

    /// Where the record was read from (file path, `file!member` inside archives).
    /// Shared by the events of one file: one allocation per file, not per event.
    pub source_file: Option<std::sync::Arc<str>>,

    /// Ground truth, when known (synthetic data, labelled corpora).
    pub label: Option<Label>,
    pub scenario_id: Option<Text>,
    /// ATT&CK technique id, e.g. `T1218.011`.
    pub technique: Option<Text>,
    /// For benign bursts: the false-positive family (e.g. `software-install`).
    pub family: Option<Text>,
}

impl ProcessEvent {
    /// Fill `process_name`/`parent_name` from executables and vice versa, and well-known
    /// SIDs from account names. Readers call this once per record.
    pub fn complete(&mut self) {
        complete_name_and_path(&mut self.process_name, &mut self.process_executable);
        complete_name_and_path(&mut self.parent_name, &mut self.parent_executable);
        if self.user_id.is_none() {
            if let Some(name) = self.user_name.as_deref() {
                self.user_id = well_known_sid(name).map(Text::const_new);
            }
        }
        if self.process_args.is_empty() {
            if let Some(cl) = self.process_command_line.as_deref() {
                self.process_args = split_command_line(cl);
            }
        }
    }
}

fn complete_name_and_path(name: &mut Option<Text>, path: &mut Option<Text>) {
    match (name.as_deref(), path.as_deref()) {
        (None, Some(p)) => *name = file_name_of(p).map(Text::from),
        (Some(n), None) if n.contains('\\') || n.contains('/') => {
            let full = name.take();
            *name = full.as_deref().and_then(file_name_of).map(Text::from);
            *path = full;
        }
        _ => {}
    }
}

/// The last component of a Windows or POSIX path; `None` for an empty result.
pub fn file_name_of(path: &str) -> Option<&str> {
    let tail = path.rsplit(['\\', '/']).next().unwrap_or(path).trim();
    (!tail.is_empty()).then_some(tail)
}

/// SID of an account named without one (`NT AUTHORITY\SYSTEM` style names already split).
pub fn well_known_sid(user_name: &str) -> Option<&'static str> {
    let n = user_name.trim();
    if n.eq_ignore_ascii_case("SYSTEM") || n.eq_ignore_ascii_case("LocalSystem") {
        Some("S-1-5-18")
    } else if n.eq_ignore_ascii_case("LOCAL SERVICE") {
        Some("S-1-5-19")
    } else if n.eq_ignore_ascii_case("NETWORK SERVICE") {
        Some("S-1-5-20")
    } else {
        None
    }
}

/// Split `DOMAIN\user` into its parts; a bare name has no domain.
pub fn split_domain_user(s: &str) -> (Option<Text>, Option<Text>) {
    let s = s.trim();
    if s.is_empty() || s == "-" {
        return (None, None);
    }
    match s.split_once('\\') {
        Some((d, u)) => (non_empty(d), non_empty(u)),
        None => (None, Some(Text::from(s))),
    }
}

pub(crate) fn non_empty(s: &str) -> Option<Text> {
    let t = trim(s);
    (!t.is_empty() && t != "-").then(|| Text::from(t))
}

/// `str::trim`, with the common case (printable ASCII at both ends) decided from two
/// bytes: the Unicode whitespace test at each end cost more than copying a short field.
#[inline]
pub(crate) fn trim(s: &str) -> &str {
    let plain = |b: Option<&u8>| b.is_some_and(|&b| b > b' ' && b < 0x7f);
    if plain(s.as_bytes().first()) && plain(s.as_bytes().last()) {
        s
    } else {
        s.trim()
    }
}

/// `raw` lower-cased into a [`Text`] (no intermediate `String`: inline up to 24 bytes).
fn ascii_lowercase(raw: &str) -> Text {
    let mut t = Text::from(raw);
    t.make_ascii_lowercase();
    t
}

/// Lower-case integrity level name from Sysmon/ECS words or a mandatory-label SID.
pub fn normalize_integrity_level(raw: &str) -> Option<Text> {
    let r = trim(raw);
    if r.is_empty() || r == "-" {
        return None;
    }
    // A mandatory-label SID's prefix is matched without regard to case.
    let rid = r
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("S-1-16-"))
        .map(|_| &r[7..]);
    let name = match rid {
        Some("0") => "untrusted",
        Some("4096") => "low",
        Some("8192") => "medium",
        Some("8448") => "medium", // medium plus
        Some("12288") => "high",
        Some("16384") => "system",
        Some("20480") => "protected",
        _ => return Some(ascii_lowercase(r)),
    };
    Some(Text::const_new(name))
}

/// Elastic Defend's elevation words from 4688's `%%193x` codes or Elastic's own words.
pub fn normalize_elevation_type(raw: &str) -> Option<Text> {
    let r = trim(raw);
    let name = match r {
        "" | "-" => return None,
        "%%1936" | "TokenElevationTypeDefault" | "1" => "default",
        "%%1937" | "TokenElevationTypeFull" | "2" => "full",
        "%%1938" | "TokenElevationTypeLimited" | "3" => "limited",
        _ => return Some(ascii_lowercase(r)),
    };
    Some(Text::const_new(name))
}

/// Split a Windows command line into arguments (CommandLineToArgvW rules, simplified:
/// quotes group, backslashes are literal except before a quote).
pub fn split_command_line(cl: &str) -> Vec<Text> {
    let mut args = Vec::new();
    // Runs of ordinary characters are copied whole, from `run` up to the next character
    // with a meaning: a character at a time was a tenth of EVTX reading.
    let mut cur = String::new();
    let mut run = 0;
    let mut in_quotes = false;
    let mut has_token = false;
    let mut chars = cl.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let whitespace = c.is_whitespace() && !in_quotes;
        if c != '\\' && c != '"' && !whitespace {
            has_token = true;
            continue;
        }
        cur.push_str(&cl[run..at]);
        match c {
            '\\' => {
                let mut n = 1;
                while chars.next_if(|&(_, c)| c == '\\').is_some() {
                    n += 1;
                }
                if chars.next_if(|&(_, c)| c == '"').is_some() {
                    cur.extend(std::iter::repeat_n('\\', n / 2));
                    if n % 2 == 1 {
                        cur.push('"');
                    } else {
                        in_quotes = !in_quotes;
                    }
                } else {
                    cur.extend(std::iter::repeat_n('\\', n));
                }
                has_token = true;
            }
            '"' => {
                in_quotes = !in_quotes;
                has_token = true;
            }
            _ => {
                if has_token {
                    args.push(Text::from(cur.as_str()));
                    cur.clear();
                    has_token = false;
                }
            }
        }
        run = chars.peek().map_or(cl.len(), |&(next, _)| next);
    }
    cur.push_str(&cl[run..]);
    if has_token {
        args.push(Text::from(cur.as_str()));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The oracle: the character-at-a-time splitter the run-copying one replaced.
    fn split_command_line_by_char(cl: &str) -> Vec<Text> {
        let mut args = Vec::new();
        let mut cur = Text::default();
        let mut in_quotes = false;
        let mut has_token = false;
        let mut chars = cl.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    let mut n = 1;
                    while chars.peek() == Some(&'\\') {
                        chars.next();
                        n += 1;
                    }
                    if chars.peek() == Some(&'"') {
                        cur.extend(std::iter::repeat_n('\\', n / 2));
                        if n % 2 == 1 {
                            chars.next();
                            cur.push('"');
                        }
                    } else {
                        cur.extend(std::iter::repeat_n('\\', n));
                    }
                    has_token = true;
                }
                '"' => {
                    in_quotes = !in_quotes;
                    has_token = true;
                }
                c if c.is_whitespace() && !in_quotes => {
                    if has_token {
                        args.push(std::mem::take(&mut cur));
                        has_token = false;
                    }
                }
                c => {
                    cur.push(c);
                    has_token = true;
                }
            }
        }
        if has_token {
            args.push(cur);
        }
        args
    }

    #[test]
    fn splitting_copies_runs_as_the_character_splitter_did() {
        let alphabet = ['a', 'Z', '\\', '"', ' ', '\t', '\u{3000}', 'é', '-', '/'];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for len in 0..400 {
            let s: String = (0..len % 40)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            assert_eq!(
                split_command_line(&s),
                split_command_line_by_char(&s),
                "{s:?}"
            );
        }
        assert_eq!(
            split_command_line(r#"a "b c" d\\"e" f\"g h\\\\"#),
            split_command_line_by_char(r#"a "b c" d\\"e" f\"g h\\\\"#)
        );
    }

    #[test]
    fn names_and_paths_complete_each_other() {
        let mut e = ProcessEvent {
            process_executable: Some(r"C:\Windows\System32\cmd.exe".into()),
            parent_name: Some(r"C:\Windows\explorer.exe".into()),
            user_name: Some("SYSTEM".into()),
            process_command_line: Some(r#""C:\a b\x.exe" /c "echo hi""#.into()),
            ..Default::default()
        };
        e.complete();
        assert_eq!(e.process_name.as_deref(), Some("cmd.exe"));
        assert_eq!(e.parent_name.as_deref(), Some("explorer.exe"));
        assert_eq!(
            e.parent_executable.as_deref(),
            Some(r"C:\Windows\explorer.exe")
        );
        assert_eq!(e.user_id.as_deref(), Some("S-1-5-18"));
        assert_eq!(e.process_args, vec![r"C:\a b\x.exe", "/c", "echo hi"]);
    }

    #[test]
    fn normalisations() {
        assert_eq!(
            normalize_integrity_level("S-1-16-12288").as_deref(),
            Some("high")
        );
        assert_eq!(normalize_integrity_level("High").as_deref(), Some("high"));
        assert_eq!(
            normalize_elevation_type("%%1938").as_deref(),
            Some("limited")
        );
        assert_eq!(
            split_domain_user(r"NT AUTHORITY\SYSTEM").1.as_deref(),
            Some("SYSTEM")
        );
        assert_eq!(split_domain_user("-"), (None, None));
    }
}
