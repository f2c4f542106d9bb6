//! Sysmon event 1 and Security 4688 field names, shared by the EVTX, NXLog and Winlogbeat
//! (`winlog.event_data.*`) readers: all three carry the same Windows event fields.

use super::{parse_timestamp_ms, Parsed, SkipReason};
use crate::event::{
    non_empty, normalize_elevation_type, normalize_integrity_level, split_domain_user, EventSource,
    ProcessEvent,
};

/// Every event-data field [`from_event_data`] reads: readers that pick fields out one by one
/// (EVTX, through its templates) need no others.
pub(crate) const EVENT_DATA_FIELDS: &[&str] = &[
    "UtcTime",
    "Image",
    "CommandLine",
    "ProcessGuid",
    "ProcessId",
    "OriginalFileName",
    "IntegrityLevel",
    "ParentImage",
    "ParentCommandLine",
    "ParentProcessGuid",
    "ParentProcessId",
    "User",
    "NewProcessName",
    "NewProcessId",
    "ParentProcessName",
    "SubjectUserName",
    "SubjectDomainName",
    "SubjectUserSid",
    "TargetUserName",
    "TargetDomainName",
    "TargetUserSid",
    "TokenElevationType",
    "MandatoryLabel",
];

/// Fill a process start from Windows event fields. `get` looks a field up by its event-data
/// name (`Image`, `NewProcessName`, ...). `event_id` is 1 (Sysmon) or 4688 (Security).
/// `fallback_time_ms` is the record's own creation time, used when the event has no UtcTime.
pub(crate) fn from_event_data<'a>(
    event_id: u32,
    get: &dyn Fn(&'static str) -> Option<&'a str>,
    fallback_time_ms: Option<i64>,
) -> Parsed {
    let mut ev = ProcessEvent::default();
    let s = |k: &'static str| get(k).and_then(non_empty);
    match event_id {
        1 => {
            ev.source = Some(EventSource::Sysmon1);
            ev.event_action = Some("start".into());
            ev.timestamp_ms = match get("UtcTime")
                .and_then(parse_timestamp_ms)
                .or(fallback_time_ms)
            {
                Some(t) => t,
                None => return Parsed::Skip(SkipReason::InvalidTimestamp),
            };
            ev.process_executable = s("Image");
            ev.process_command_line = s("CommandLine");
            ev.process_entity_id = s("ProcessGuid");
            ev.process_pid = get("ProcessId").and_then(parse_pid);
            ev.process_pe_original_file_name = s("OriginalFileName");
            ev.integrity_level = get("IntegrityLevel").and_then(normalize_integrity_level);
            ev.parent_executable = s("ParentImage");
            ev.parent_command_line = s("ParentCommandLine");
            ev.parent_entity_id = s("ParentProcessGuid");
            ev.parent_pid = get("ParentProcessId").and_then(parse_pid);
            if let Some(user) = get("User") {
                let (d, u) = split_domain_user(user);
                ev.user_domain = d;
                ev.user_name = u;
            }
            if ev.process_executable.is_none() {
                return Parsed::Skip(SkipReason::MissingField("Image"));
            }
        }
        4688 => {
            ev.source = Some(EventSource::Security4688);
            ev.event_action = Some("created-process".into());
            ev.timestamp_ms = match fallback_time_ms {
                Some(t) => t,
                None => return Parsed::Skip(SkipReason::InvalidTimestamp),
            };
            ev.process_executable = s("NewProcessName");
            ev.process_command_line = s("CommandLine");
            ev.process_pid = get("NewProcessId").and_then(parse_pid);
            ev.parent_executable = s("ParentProcessName");
            ev.parent_pid = get("ProcessId").and_then(parse_pid);
            ev.elevation_type = get("TokenElevationType").and_then(normalize_elevation_type);
            ev.integrity_level = get("MandatoryLabel").and_then(normalize_integrity_level);
            // Since Windows 10 the new process's own account is the Target*; the Subject* is
            // the creator, the same account unless the process was started as another user.
            let target_sid = s("TargetUserSid").filter(|sid| sid != "S-1-0-0");
            if let Some(sid) = target_sid {
                ev.user_id = Some(sid);
                ev.user_name = s("TargetUserName");
                ev.user_domain = s("TargetDomainName");
            } else {
                ev.user_id = s("SubjectUserSid");
                ev.user_name = s("SubjectUserName");
                ev.user_domain = s("SubjectDomainName");
            }
            if ev.process_executable.is_none() {
                return Parsed::Skip(SkipReason::MissingField("NewProcessName"));
            }
        }
        _ => return Parsed::Skip(SkipReason::NotProcessStart),
    }
    Parsed::Event(ev.into())
}

/// Process ids come as decimal (Sysmon) or `0x` hex (4688).
pub(crate) fn parse_pid(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16).ok()
    } else {
        t.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::{from_event_data, EVENT_DATA_FIELDS};
    use std::cell::RefCell;

    /// `EVENT_DATA_FIELDS` names every field the mapping asks for.
    #[test]
    fn the_field_list_covers_every_lookup() {
        for id in [1, 4688] {
            let asked = RefCell::new(Vec::new());
            let get = |k: &str| -> Option<&'static str> {
                asked.borrow_mut().push(k.to_owned());
                Some(match k {
                    "UtcTime" => "2024-01-02 03:04:05.678",
                    "User" => r"CORP\alice",
                    k if k.ends_with("Id") => "0x1f4",
                    _ => r"C:\Windows\System32\cmd.exe",
                })
            };
            let _ = from_event_data(id, &get, Some(0));
            let asked = asked.into_inner();
            assert!(asked.len() > 8, "{asked:?}");
            for k in asked {
                assert!(
                    EVENT_DATA_FIELDS.contains(&k.as_str()),
                    "{k} is read but not listed"
                );
            }
        }
    }
}
