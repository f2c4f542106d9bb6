//! Which fields each host's telemetry reports.
//!
//! A real fleet is not all Elastic Defend: many hosts ship Sysmon event 1 or Security 4688
//! through Winlogbeat or an EVTX collector, and those sources leave fields out (no code
//! signature anywhere but Defend; no process GUIDs, original file name or parent command
//! line in 4688; human SIDs absent from Sysmon's `User`). A model trained on fully
//! populated synthetic events learns to lean on fields that are missing in most real data,
//! and then routes every real event down whatever branch "missing" happened to take. Each
//! synthetic host therefore reports through one source, chosen deterministically, and its
//! events are stripped to what that source carries, as the readers of `lotl-events` would
//! produce them.

use lotl_events::event::well_known_sid;
use lotl_events::ProcessEvent;
use serde::{Deserialize, Serialize};

/// The process-start source a synthetic host reports through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Telemetry {
    /// Elastic Defend: every field, code signature and token elevation included.
    ElasticDefend,
    /// Sysmon event 1: GUIDs, integrity level, `DOMAIN\user` without a SID; original
    /// file name only from Sysmon 10 on.
    Sysmon,
    /// Security 4688: pids only, the creator's SID, token elevation type; the command line
    /// only where its audit setting is on, the integrity level only from Windows 10 on.
    Security4688,
}

impl Telemetry {
    pub const ALL: [Telemetry; 3] = [
        Telemetry::ElasticDefend,
        Telemetry::Sysmon,
        Telemetry::Security4688,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Telemetry::ElasticDefend => "elastic-defend",
            Telemetry::Sysmon => "sysmon",
            Telemetry::Security4688 => "security-4688",
        }
    }
}

/// One host's source and the settings of its collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostTelemetry {
    pub source: Telemetry,
    /// Sysmon 10 or later (reports `OriginalFileName`).
    pub original_file_name: bool,
    /// 4688 command-line auditing is on.
    pub command_line: bool,
    /// 4688 reports the mandatory label (Windows 10 and later).
    pub integrity: bool,
}

impl HostTelemetry {
    /// Pick a host's telemetry from `u` in `[0, 1)` (its source, by `weights`) and two more
    /// uniform draws for the collector settings.
    pub fn pick(weights: &[(Telemetry, f64)], u: f64, v: f64, w: f64) -> HostTelemetry {
        let mut acc = 0.0;
        let mut source = Telemetry::ElasticDefend;
        for &(t, p) in weights {
            source = t;
            acc += p;
            if u < acc {
                break;
            }
        }
        HostTelemetry {
            source,
            original_file_name: v < 0.5,
            command_line: v < 0.9,
            integrity: w < 0.85,
        }
    }

    /// Strip `e` to what this host's source reports.
    pub fn shape(&self, e: &mut ProcessEvent) {
        match self.source {
            Telemetry::ElasticDefend => {}
            Telemetry::Sysmon => {
                clear_defend_only(e);
                e.user_id = e
                    .user_name
                    .as_deref()
                    .and_then(well_known_sid)
                    .map(lotl_events::Text::from);
                if !self.original_file_name {
                    e.process_pe_original_file_name = None;
                }
            }
            Telemetry::Security4688 => {
                let elevation = e.elevation_type.take();
                clear_defend_only(e);
                e.elevation_type = elevation.or_else(|| Some("default".into()));
                e.process_entity_id = None;
                e.parent_entity_id = None;
                e.process_pe_original_file_name = None;
                e.parent_command_line = None;
                if !self.command_line {
                    e.process_command_line = None;
                    e.process_args.clear();
                }
                if !self.integrity {
                    e.integrity_level = None;
                }
            }
        }
    }
}

fn clear_defend_only(e: &mut ProcessEvent) {
    e.process_code_signature_exists = None;
    e.process_code_signature_trusted = None;
    e.process_code_signature_subject = None;
    e.elevated = None;
    e.elevation_type = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> ProcessEvent {
        ProcessEvent {
            process_entity_id: Some("{p}".into()),
            parent_entity_id: Some("{q}".into()),
            process_command_line: Some("cmd.exe /c whoami".into()),
            process_args: vec!["cmd.exe".into(), "/c".into(), "whoami".into()],
            process_pe_original_file_name: Some("Cmd.Exe".into()),
            process_code_signature_exists: Some(true),
            process_code_signature_trusted: Some(true),
            integrity_level: Some("high".into()),
            elevation_type: Some("full".into()),
            elevated: Some(true),
            parent_command_line: Some("explorer.exe".into()),
            user_name: Some("alice".into()),
            user_id: Some("S-1-5-21-1-2-3-1104".into()),
            ..ProcessEvent::default()
        }
    }

    #[test]
    fn weights_pick_the_source_by_cumulative_share() {
        let w = [
            (Telemetry::ElasticDefend, 0.5),
            (Telemetry::Sysmon, 0.3),
            (Telemetry::Security4688, 0.2),
        ];
        let src = |u| HostTelemetry::pick(&w, u, 0.0, 0.0).source;
        assert_eq!(src(0.1), Telemetry::ElasticDefend);
        assert_eq!(src(0.6), Telemetry::Sysmon);
        assert_eq!(src(0.95), Telemetry::Security4688);
    }

    #[test]
    fn each_source_keeps_only_its_fields() {
        let pick = |s, v, w| HostTelemetry {
            source: s,
            ..HostTelemetry::pick(&[(s, 1.0)], 0.0, v, w)
        };
        let mut d = full();
        pick(Telemetry::ElasticDefend, 0.0, 0.0).shape(&mut d);
        assert_eq!(d, full());

        let mut s = full();
        pick(Telemetry::Sysmon, 0.7, 0.0).shape(&mut s);
        assert_eq!(s.process_code_signature_exists, None);
        assert_eq!(s.elevation_type, None);
        assert_eq!(s.user_id, None, "Sysmon's User carries no SID for humans");
        assert_eq!(s.process_pe_original_file_name, None, "pre-10 Sysmon");
        assert_eq!(s.process_entity_id.as_deref(), Some("{p}"));
        assert_eq!(s.integrity_level.as_deref(), Some("high"));

        let mut sys = ProcessEvent {
            user_name: Some("SYSTEM".into()),
            ..full()
        };
        pick(Telemetry::Sysmon, 0.0, 0.0).shape(&mut sys);
        assert_eq!(sys.user_id.as_deref(), Some("S-1-5-18"));
        assert_eq!(
            sys.process_pe_original_file_name.as_deref(),
            Some("Cmd.Exe")
        );

        let mut a = full();
        pick(Telemetry::Security4688, 0.95, 0.9).shape(&mut a);
        assert_eq!(a.process_entity_id, None);
        assert_eq!(a.parent_command_line, None);
        assert_eq!(a.process_command_line, None, "command-line auditing off");
        assert!(a.process_args.is_empty());
        assert_eq!(a.integrity_level, None);
        assert_eq!(a.elevation_type.as_deref(), Some("full"));
        assert_eq!(a.elevated, None);
        assert_eq!(a.user_id.as_deref(), Some("S-1-5-21-1-2-3-1104"));
    }
}
