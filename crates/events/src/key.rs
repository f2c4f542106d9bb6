//! Byte keys of some of an event's fields, for memos of what is computed from them.
//!
//! A feature recipe reads a dozen of an event's 32 fields, and in telemetry the same
//! dozen values recur (one updater's command line on every host, a service started every
//! hour): a key over exactly those fields lets a later stage compute once per distinct
//! value set.

use crate::event::{ProcessEvent, COLUMNS};

/// A set of event columns ([`COLUMNS`] names) and how to spell their values as one key:
/// two events give equal keys exactly when every one of the columns has equal values
/// (absent and empty text differ, so do `None` and `Some(false)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnKey {
    /// Indices into [`COLUMNS`], in the caller's order.
    columns: Vec<usize>,
}

impl ColumnKey {
    /// The key over `columns`; an unknown name is an error naming it.
    pub fn new(columns: &[&str]) -> Result<Self, String> {
        let columns = columns
            .iter()
            .map(|name| {
                COLUMNS
                    .iter()
                    .position(|c| c == name)
                    .ok_or_else(|| format!("`{name}` is not an event column"))
            })
            .collect::<Result<_, _>>()?;
        Ok(ColumnKey { columns })
    }

    /// The column names of this key, in order.
    pub fn columns(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns.iter().map(|&i| COLUMNS[i])
    }

    /// Append `event`'s key to `out`.
    pub fn append(&self, event: &ProcessEvent, out: &mut Vec<u8>) {
        for &c in &self.columns {
            write_column(event, c, out);
        }
    }
}

fn text(out: &mut Vec<u8>, v: Option<&str>) {
    match v {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            // Length-prefixed, so no two value lists spell the same bytes.
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
}

fn flag(out: &mut Vec<u8>, v: Option<bool>) {
    out.push(match v {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    });
}

fn int(out: &mut Vec<u8>, v: Option<i64>) {
    match v {
        None => out.push(0),
        Some(n) => {
            out.push(1);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

/// Column `c` of [`COLUMNS`]: the match follows its order (a test checks every column
/// against the Parquet layout).
fn write_column(e: &ProcessEvent, c: usize, out: &mut Vec<u8>) {
    match c {
        0 => int(out, Some(e.timestamp_ms)),
        1 => text(out, Some(&e.event_id)),
        2 => text(out, Some(&e.host_name)),
        3 => text(out, e.host_id.as_deref()),
        4 => text(out, e.source.map(|s| s.as_str())),
        5 => text(out, e.event_action.as_deref()),
        6 => int(out, e.process_pid),
        7 => text(out, e.process_entity_id.as_deref()),
        8 => text(out, e.process_name.as_deref()),
        9 => text(out, e.process_executable.as_deref()),
        10 => text(out, e.process_command_line.as_deref()),
        11 => {
            out.extend_from_slice(&(e.process_args.len() as u64).to_le_bytes());
            for a in &e.process_args {
                text(out, Some(a));
            }
        }
        12 => text(out, e.process_pe_original_file_name.as_deref()),
        13 => flag(out, e.process_code_signature_exists),
        14 => flag(out, e.process_code_signature_trusted),
        15 => text(out, e.process_code_signature_subject.as_deref()),
        16 => text(out, e.integrity_level.as_deref()),
        17 => text(out, e.elevation_type.as_deref()),
        18 => flag(out, e.elevated),
        19 => int(out, e.parent_pid),
        20 => text(out, e.parent_entity_id.as_deref()),
        21 => text(out, e.parent_name.as_deref()),
        22 => text(out, e.parent_executable.as_deref()),
        23 => text(out, e.parent_command_line.as_deref()),
        24 => text(out, e.user_name.as_deref()),
        25 => text(out, e.user_domain.as_deref()),
        26 => text(out, e.user_id.as_deref()),
        27 => text(out, e.source_file.as_deref()),
        28 => text(out, e.label.map(|l| l.as_str())),
        29 => text(out, e.scenario_id.as_deref()),
        30 => text(out, e.technique.as_deref()),
        31 => text(out, e.family.as_deref()),
        _ => unreachable!("column indices come from COLUMNS"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_columns_are_named() {
        let e = ColumnKey::new(&["process.name", "process.nmae"]).unwrap_err();
        assert!(e.contains("process.nmae"), "{e}");
    }

    #[test]
    fn absent_empty_and_split_values_differ() {
        let key = ColumnKey::new(&["process.name", "process.executable"]).unwrap();
        let spell = |name: Option<&str>, exe: Option<&str>| {
            let e = ProcessEvent {
                process_name: name.map(Into::into),
                process_executable: exe.map(Into::into),
                ..Default::default()
            };
            let mut out = Vec::new();
            key.append(&e, &mut out);
            out
        };
        let keys = [
            spell(None, None),
            spell(Some(""), None),
            spell(None, Some("")),
            spell(Some("ab"), Some("")),
            spell(Some("a"), Some("b")),
            spell(Some(""), Some("ab")),
        ];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(spell(Some("a"), Some("b")), keys[4]);
    }
}
