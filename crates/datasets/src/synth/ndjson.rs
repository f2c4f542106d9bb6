//! ECS NDJSON in Elastic Defend's process-start shape, with the ground truth under
//! `lotl.*` (`lotl.label`, `lotl.scenario_id`, `lotl.technique`, `lotl.family`) so that
//! `lotl ingest` reads labelled synthetic data back like any Defend export.

use lotl_events::ProcessEvent;
use serde::Serialize;
use std::io::Write;

#[derive(Serialize)]
struct Doc<'a> {
    #[serde(rename = "@timestamp")]
    timestamp: String,
    event: EventObj<'a>,
    host: HostObj<'a>,
    process: ProcessObj<'a>,
    user: UserObj<'a>,
    agent: AgentObj,
    lotl: Truth<'a>,
}

#[derive(Serialize)]
struct EventObj<'a> {
    kind: &'static str,
    category: [&'static str; 1],
    #[serde(rename = "type")]
    type_: [&'static str; 1],
    action: &'static str,
    id: &'a str,
    module: &'static str,
    dataset: &'static str,
}

#[derive(Serialize)]
struct HostObj<'a> {
    name: &'a str,
    hostname: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    os: OsObj,
}

#[derive(Serialize)]
struct OsObj {
    #[serde(rename = "type")]
    type_: &'static str,
    family: &'static str,
    name: &'static str,
}

#[derive(Serialize)]
struct AgentObj {
    #[serde(rename = "type")]
    type_: &'static str,
}

#[derive(Serialize)]
struct ProcessObj<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entity_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    executable: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command_line: Option<&'a str>,
    args: &'a [lotl_events::Text],
    args_count: usize,
    pe: Pe<'a>,
    code_signature: Sig<'a>,
    #[serde(rename = "Ext")]
    ext: Ext<'a>,
    parent: Parent<'a>,
}

#[derive(Serialize)]
struct Pe<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    original_file_name: Option<&'a str>,
}

#[derive(Serialize)]
struct Sig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    exists: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trusted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject_name: Option<&'a str>,
}

#[derive(Serialize)]
struct Ext<'a> {
    token: Token<'a>,
}

#[derive(Serialize)]
struct Token<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    integrity_level_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    elevation_level: Option<&'a str>,
}

#[derive(Serialize)]
struct Parent<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entity_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    executable: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command_line: Option<&'a str>,
}

#[derive(Serialize)]
struct UserObj<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
}

#[derive(Serialize)]
struct Truth<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scenario_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    technique: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    family: Option<&'a str>,
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".into())
}

/// Write events as one ECS document per line.
pub fn write_ecs_ndjson<W: Write>(w: &mut W, events: &[ProcessEvent]) -> std::io::Result<()> {
    for e in events {
        let d = Doc {
            timestamp: iso(e.timestamp_ms),
            event: EventObj {
                kind: "event",
                category: ["process"],
                type_: ["start"],
                action: "start",
                id: &e.event_id,
                module: "endpoint",
                dataset: "endpoint.events.process",
            },
            host: HostObj {
                name: &e.host_name,
                hostname: &e.host_name,
                id: e.host_id.as_deref(),
                os: OsObj {
                    type_: "windows",
                    family: "windows",
                    name: "Windows",
                },
            },
            process: ProcessObj {
                pid: e.process_pid,
                entity_id: e.process_entity_id.as_deref(),
                name: e.process_name.as_deref(),
                executable: e.process_executable.as_deref(),
                command_line: e.process_command_line.as_deref(),
                args: &e.process_args,
                args_count: e.process_args.len(),
                pe: Pe {
                    original_file_name: e.process_pe_original_file_name.as_deref(),
                },
                code_signature: Sig {
                    exists: e.process_code_signature_exists,
                    trusted: e.process_code_signature_trusted,
                    subject_name: e.process_code_signature_subject.as_deref(),
                },
                ext: Ext {
                    token: Token {
                        integrity_level_name: e.integrity_level.as_deref(),
                        elevation_level: e.elevation_type.as_deref(),
                    },
                },
                parent: Parent {
                    pid: e.parent_pid,
                    entity_id: e.parent_entity_id.as_deref(),
                    name: e.parent_name.as_deref(),
                    executable: e.parent_executable.as_deref(),
                    command_line: e.parent_command_line.as_deref(),
                },
            },
            user: UserObj {
                name: e.user_name.as_deref(),
                domain: e.user_domain.as_deref(),
                id: e.user_id.as_deref(),
            },
            agent: AgentObj { type_: "endpoint" },
            lotl: Truth {
                label: e.label.map(|l| l.as_str()),
                scenario_id: e.scenario_id.as_deref(),
                technique: e.technique.as_deref(),
                family: e.family.as_deref(),
            },
        };
        serde_json::to_writer(&mut *w, &d).map_err(std::io::Error::other)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}
