//! The fast path for ECS documents: a borrowed, typed view of the fields lotl reads, filled
//! by a hand-written JSON walker that validates the whole document but builds nothing for
//! the parts lotl does not read (serde's visitor machinery cost three times a full parse
//! here). Documents it cannot represent (dotted keys, a field of an unexpected shape) fall
//! back to the `Value` path in [`super::ecs`]; both paths feed the same mapping through
//! [`super::ecs::View`].

use super::ecs::Field;
use super::ecs::Field as F;
use super::json::Cursor;
pub(crate) use super::json::{Leaf, LeafKind, List, Str};

macro_rules! object {
    ($name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        #[derive(Debug, Default)]
        pub(crate) struct $name<'a> {
            $(pub $field: $ty,)*
            pub _p: std::marker::PhantomData<&'a ()>,
        }
    };
}

object!(Doc {
    timestamp: Leaf<'a>,
    event: EventF<'a>,
    host: HostF<'a>,
    process: ProcessF<'a>,
    user: UserF<'a>,
    winlog: Option<WinlogF<'a>>,
    agent: AgentF<'a>,
    lotl: LotlF<'a>,
    // A top-level `EventID` marks NXLog's flat layout (see [`super::nxlog::is_nxlog`]).
    top_level_event_id: bool,
});
object!(EventF { kind: Leaf<'a>, category: List<'a>, kind_type: List<'a>, action: Leaf<'a>, code: Leaf<'a>, id: Leaf<'a>, provider: Leaf<'a> });
object!(HostF { name: Leaf<'a>, hostname: Leaf<'a>, id: Leaf<'a>, os: OsF<'a> });
object!(OsF { os_type: Leaf<'a>, family: Leaf<'a>, platform: Leaf<'a> });
object!(ProcessF {
    name: Leaf<'a>,
    executable: Leaf<'a>,
    command_line: Leaf<'a>,
    args: List<'a>,
    pid: Leaf<'a>,
    entity_id: Leaf<'a>,
    pe: PeF<'a>,
    code_signature: SigF<'a>,
    ext: ExtF<'a>,
    parent: ParentF<'a>,
});
object!(PeF { original_file_name: Leaf<'a> });
object!(SigF { exists: Leaf<'a>, trusted: Leaf<'a>, subject_name: Leaf<'a> });
object!(ExtF { token: TokenF<'a> });
object!(TokenF { integrity_level_name: Leaf<'a>, elevation_type: Leaf<'a>, elevation_level: Leaf<'a>, elevation: Leaf<'a> });
object!(ParentF { name: Leaf<'a>, executable: Leaf<'a>, command_line: Leaf<'a>, pid: Leaf<'a>, entity_id: Leaf<'a> });
object!(UserF { name: Leaf<'a>, domain: Leaf<'a>, id: Leaf<'a> });
object!(AgentF { hostname: Leaf<'a> });
object!(LotlF { label: Leaf<'a>, scenario_id: Leaf<'a>, technique: Leaf<'a>, family: Leaf<'a>, source: Leaf<'a> });

// `event_data` is kept in document order: the last of repeated keys is read, as a JSON
// object map keeps it.
object!(WinlogF {
    event_id: Leaf<'a>,
    record_id: Leaf<'a>,
    computer_name: Leaf<'a>,
    provider_name: Leaf<'a>,
    channel: Leaf<'a>,
    event_data: Option<Vec<(Str<'a>, Leaf<'a>)>>,
});

/// An object of leaves (and, after `lists`, string lists): `"key" => field` pairs read
/// into `$obj`, other members validated and skipped.
macro_rules! members {
    ($c:expr, $obj:expr, { $($key:literal => $field:ident),* $(,)? }
        $(lists { $($lkey:literal => $lfield:ident),* $(,)? })?) => {
        $c.fields(|c, k| {
            match k {
                $($key => $obj.$field = c.leaf()?,)*
                $($($lkey => $obj.$lfield = c.list()?,)*)?
                _ => c.skip_member(k)?,
            }
            Some(())
        })
    };
}

/// [`parse_doc_into`] a fresh [`Doc`].
#[cfg(test)]
pub(crate) fn parse_doc(text: &str) -> Option<Doc<'_>> {
    let mut doc = Doc::default();
    parse_doc_into(text, &mut doc)?;
    Some(doc)
}

/// Parse one JSON document into `doc`, fresh from `Doc::default()` (held by the caller: a
/// `Doc` is a couple of kilobytes, and returning one cost a copy per move). `None` when the
/// text is not valid JSON, or is valid but shaped in a way the typed view does not
/// represent (the caller then takes the generic path, which tells the two apart).
pub(crate) fn parse_doc_into<'a>(text: &'a str, doc: &mut Doc<'a>) -> Option<()> {
    let mut c = Cursor::new(text);
    c.object(|c, key| {
        match &*key {
            "@timestamp" => doc.timestamp = c.leaf()?,
            "event" => members!(c, doc.event, {
                "kind" => kind, "action" => action, "code" => code, "id" => id,
                "provider" => provider,
            } lists {
                "category" => category, "type" => kind_type,
            })?,
            "host" => c.fields(|c, k| {
                let h = &mut doc.host;
                match k {
                    "name" => h.name = c.leaf()?,
                    "hostname" => h.hostname = c.leaf()?,
                    "id" => h.id = c.leaf()?,
                    "os" => members!(c, h.os, {
                        "type" => os_type, "family" => family, "platform" => platform,
                    })?,
                    _ => c.skip_member(k)?,
                }
                Some(())
            })?,
            "process" => c.fields(|c, k| process(c, k, &mut doc.process))?,
            "user" => members!(c, doc.user, { "name" => name, "domain" => domain, "id" => id })?,
            "winlog" => {
                let w = doc.winlog.get_or_insert_with(WinlogF::default);
                c.fields(|c, k| {
                    match k {
                        "event_id" => w.event_id = c.leaf()?,
                        "record_id" => w.record_id = c.leaf()?,
                        "computer_name" => w.computer_name = c.leaf()?,
                        "provider_name" => w.provider_name = c.leaf()?,
                        "channel" => w.channel = c.leaf()?,
                        "event_data" => {
                            let mut data = Vec::new();
                            c.object(|c, k| {
                                let v = c.leaf()?;
                                data.push((k, v));
                                Some(())
                            })?;
                            w.event_data = Some(data);
                        }
                        _ => c.skip_member(k)?,
                    }
                    Some(())
                })?
            }
            "agent" => members!(c, doc.agent, { "hostname" => hostname })?,
            "lotl" => members!(c, doc.lotl, {
                "label" => label, "scenario_id" => scenario_id, "technique" => technique,
                "family" => family, "source" => source,
            })?,
            "EventID" => {
                doc.top_level_event_id = true;
                c.skip_value()?
            }
            // A flattened ECS key (`"process.name": ..`) needs the generic path's lookup.
            k if is_dotted_ecs_key(k) => return None,
            _ => c.skip_value()?,
        }
        Some(())
    })?;
    c.at_end().then_some(())
}

fn process<'a>(c: &mut Cursor<'a>, key: &str, p: &mut ProcessF<'a>) -> Option<()> {
    match key {
        "name" => p.name = c.leaf()?,
        "executable" => p.executable = c.leaf()?,
        "command_line" => p.command_line = c.leaf()?,
        "args" => p.args = c.list()?,
        "pid" => p.pid = c.leaf()?,
        "entity_id" => p.entity_id = c.leaf()?,
        "pe" => members!(c, p.pe, { "original_file_name" => original_file_name })?,
        "code_signature" => members!(c, p.code_signature, {
            "exists" => exists, "trusted" => trusted, "subject_name" => subject_name,
        })?,
        "Ext" => c.fields(|c, k| match k {
            "token" => members!(c, p.ext.token, {
                "integrity_level_name" => integrity_level_name,
                "elevation_type" => elevation_type,
                "elevation_level" => elevation_level,
                "elevation" => elevation,
            }),
            _ => c.skip_member(k),
        })?,
        "parent" => members!(c, p.parent, {
            "name" => name, "executable" => executable, "command_line" => command_line,
            "pid" => pid, "entity_id" => entity_id,
        })?,
        _ => c.skip_member(key)?,
    }
    Some(())
}

/// Top-level keys that flatten a field the mapping reads.
fn is_dotted_ecs_key(k: &str) -> bool {
    [
        "process.", "event.", "host.", "user.", "winlog.", "lotl.", "agent.",
    ]
    .iter()
    .any(|p| k.starts_with(p))
}

/// The leaf of a [`Field`] in a [`Doc`], shared or mutable (`$($r)+` is `&` or `&mut`):
/// one table for [`Doc::leaf`] and [`Doc::leaf_mut`].
macro_rules! leaf_at {
    ($doc:expr, $field:expr, $($r:tt)+) => {{
        let doc = $doc;
        let p = $($r)+ doc.process;
        let l = match $field {
            F::Timestamp => $($r)+ doc.timestamp,
            F::EventKind => $($r)+ doc.event.kind,
            F::EventAction => $($r)+ doc.event.action,
            F::EventCode => $($r)+ doc.event.code,
            F::EventId => $($r)+ doc.event.id,
            F::EventProvider => $($r)+ doc.event.provider,
            F::HostName => $($r)+ doc.host.name,
            F::HostHostname => $($r)+ doc.host.hostname,
            F::HostId => $($r)+ doc.host.id,
            F::HostOsType => $($r)+ doc.host.os.os_type,
            F::HostOsFamily => $($r)+ doc.host.os.family,
            F::HostOsPlatform => $($r)+ doc.host.os.platform,
            F::AgentHostname => $($r)+ doc.agent.hostname,
            F::ProcessName => $($r)+ p.name,
            F::ProcessExecutable => $($r)+ p.executable,
            F::ProcessCommandLine => $($r)+ p.command_line,
            F::ProcessPid => $($r)+ p.pid,
            F::ProcessEntityId => $($r)+ p.entity_id,
            F::ProcessPeOriginalFileName => $($r)+ p.pe.original_file_name,
            F::ProcessCodeSignatureExists => $($r)+ p.code_signature.exists,
            F::ProcessCodeSignatureTrusted => $($r)+ p.code_signature.trusted,
            F::ProcessCodeSignatureSubjectName => $($r)+ p.code_signature.subject_name,
            F::ProcessIntegrityLevelName => $($r)+ p.ext.token.integrity_level_name,
            F::ProcessElevationType => $($r)+ p.ext.token.elevation_type,
            F::ProcessElevation => $($r)+ p.ext.token.elevation,
            F::ProcessElevationLevel => $($r)+ p.ext.token.elevation_level,
            F::ParentName => $($r)+ p.parent.name,
            F::ParentExecutable => $($r)+ p.parent.executable,
            F::ParentCommandLine => $($r)+ p.parent.command_line,
            F::ParentPid => $($r)+ p.parent.pid,
            F::ParentEntityId => $($r)+ p.parent.entity_id,
            F::UserName => $($r)+ doc.user.name,
            F::UserDomain => $($r)+ doc.user.domain,
            F::UserId => $($r)+ doc.user.id,
            F::LotlLabel => $($r)+ doc.lotl.label,
            F::LotlScenarioId => $($r)+ doc.lotl.scenario_id,
            F::LotlTechnique => $($r)+ doc.lotl.technique,
            F::LotlFamily => $($r)+ doc.lotl.family,
            F::LotlSource => $($r)+ doc.lotl.source,
            field => {
                let Some(w) = $($r)+ doc.winlog else {
                    return None;
                };
                match field {
                    F::WinlogEventId => $($r)+ w.event_id,
                    F::WinlogRecordId => $($r)+ w.record_id,
                    F::WinlogComputerName => $($r)+ w.computer_name,
                    F::WinlogProviderName => $($r)+ w.provider_name,
                    F::WinlogChannel => $($r)+ w.channel,
                    F::EventData(key) => {
                        let Some(data) = $($r)+ w.event_data else {
                            return None;
                        };
                        // The last of repeated keys, as a JSON object map keeps it.
                        data.into_iter().rev().find(|(k, _)| **k == *key).map(|(_, v)| v)?
                    }
                    _ => return None,
                }
            }
        };
        (l.1 != LeafKind::Absent).then_some(l)
    }};
}

impl<'a> Doc<'a> {
    /// The leaf of a field the mapping reads; `None` when the document lacks it.
    pub(crate) fn leaf(&self, field: Field) -> Option<&Leaf<'a>> {
        leaf_at!(self, field, &)
    }

    pub(crate) fn leaf_mut(&mut self, field: Field) -> Option<&mut Leaf<'a>> {
        leaf_at!(self, field, &mut)
    }

    pub(crate) fn list_mut(&mut self, field: Field) -> Option<&mut List<'a>> {
        match field {
            F::EventCategory => Some(&mut self.event.category),
            F::EventType => Some(&mut self.event.kind_type),
            F::ProcessArgs => Some(&mut self.process.args),
            _ => None,
        }
    }

    pub(crate) fn list(&self, field: Field) -> Option<&[Str<'a>]> {
        match field {
            F::EventCategory => self.event.category.0.as_deref(),
            F::EventType => self.event.kind_type.0.as_deref(),
            F::ProcessArgs => self.process.args.0.as_deref(),
            _ => None,
        }
    }
}
