//! The fast path for ECS documents: a borrowed, typed view of the fields lotl reads, filled
//! by a hand-written JSON walker that validates the whole document but builds nothing for
//! the parts lotl does not read (serde's visitor machinery cost three times a full parse
//! here). Documents it cannot represent (dotted keys, a field of an unexpected shape) fall
//! back to the `Value` path in [`super::ecs`]; both paths feed the same mapping through
//! [`super::ecs::View`].

use std::borrow::Cow;

use super::json::Cursor;
pub(crate) use super::json::{Leaf, LeafKind, List};

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

// `event_data` is kept in document order; see [`WinlogF::event_data_value`].
object!(WinlogF {
    event_id: Leaf<'a>,
    record_id: Leaf<'a>,
    computer_name: Leaf<'a>,
    provider_name: Leaf<'a>,
    channel: Leaf<'a>,
    event_data: Option<Vec<(Cow<'a, str>, Leaf<'a>)>>,
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
                _ => c.skip_value()?,
            }
            Some(())
        })
    };
}

/// Parse one JSON document into a [`Doc`]. `None` when the text is not valid JSON, or is
/// valid but shaped in a way the typed view does not represent (the caller then takes the
/// generic path, which tells the two apart).
pub(crate) fn parse_doc(text: &str) -> Option<Doc<'_>> {
    let mut c = Cursor::new(text);
    let mut doc = Doc::default();
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
                    _ => c.skip_value()?,
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
                        _ => c.skip_value()?,
                    }
                    Some(())
                })?
            }
            "agent" => members!(c, doc.agent, { "hostname" => hostname })?,
            "lotl" => members!(c, doc.lotl, {
                "label" => label, "scenario_id" => scenario_id, "technique" => technique,
                "family" => family, "source" => source,
            })?,
            // A flattened ECS key (`"process.name": ..`) needs the generic path's lookup.
            k if is_dotted_ecs_key(k) => return None,
            _ => c.skip_value()?,
        }
        Some(())
    })?;
    c.at_end().then_some(doc)
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
            _ => c.skip_value(),
        })?,
        "parent" => members!(c, p.parent, {
            "name" => name, "executable" => executable, "command_line" => command_line,
            "pid" => pid, "entity_id" => entity_id,
        })?,
        _ => c.skip_value()?,
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

impl<'a> Doc<'a> {
    /// The leaf at an ECS path, for the paths the mapping reads.
    pub(crate) fn leaf(&self, path: &str) -> Option<&Leaf<'a>> {
        let p = &self.process;
        let w = self.winlog.as_ref();
        let l = match path {
            "@timestamp" => &self.timestamp,
            "event.kind" => &self.event.kind,
            "event.action" => &self.event.action,
            "event.code" => &self.event.code,
            "event.id" => &self.event.id,
            "event.provider" => &self.event.provider,
            "host.name" => &self.host.name,
            "host.hostname" => &self.host.hostname,
            "host.id" => &self.host.id,
            "host.os.type" => &self.host.os.os_type,
            "host.os.family" => &self.host.os.family,
            "host.os.platform" => &self.host.os.platform,
            "agent.hostname" => &self.agent.hostname,
            "process.name" => &p.name,
            "process.executable" => &p.executable,
            "process.command_line" => &p.command_line,
            "process.pid" => &p.pid,
            "process.entity_id" => &p.entity_id,
            "process.pe.original_file_name" => &p.pe.original_file_name,
            "process.code_signature.exists" => &p.code_signature.exists,
            "process.code_signature.trusted" => &p.code_signature.trusted,
            "process.code_signature.subject_name" => &p.code_signature.subject_name,
            "process.Ext.token.integrity_level_name" => &p.ext.token.integrity_level_name,
            "process.Ext.token.elevation_type" => &p.ext.token.elevation_type,
            "process.Ext.token.elevation" => &p.ext.token.elevation,
            "process.Ext.token.elevation_level" => &p.ext.token.elevation_level,
            "process.parent.name" => &p.parent.name,
            "process.parent.executable" => &p.parent.executable,
            "process.parent.command_line" => &p.parent.command_line,
            "process.parent.pid" => &p.parent.pid,
            "process.parent.entity_id" => &p.parent.entity_id,
            "user.name" => &self.user.name,
            "user.domain" => &self.user.domain,
            "user.id" => &self.user.id,
            "lotl.label" => &self.lotl.label,
            "lotl.scenario_id" => &self.lotl.scenario_id,
            "lotl.technique" => &self.lotl.technique,
            "lotl.family" => &self.lotl.family,
            "lotl.source" => &self.lotl.source,
            "winlog.event_id" => &w?.event_id,
            "winlog.record_id" => &w?.record_id,
            "winlog.computer_name" => &w?.computer_name,
            "winlog.provider_name" => &w?.provider_name,
            "winlog.channel" => &w?.channel,
            _ => {
                let key = path.strip_prefix("winlog.event_data.")?;
                return w?.event_data_value(key);
            }
        };
        (l.1 != LeafKind::Absent).then_some(l)
    }

    pub(crate) fn list(&self, path: &str) -> Option<&[Cow<'a, str>]> {
        match path {
            "event.category" => self.event.category.0.as_deref(),
            "event.type" => self.event.kind_type.0.as_deref(),
            "process.args" => self.process.args.0.as_deref(),
            _ => None,
        }
    }
}

impl<'a> WinlogF<'a> {
    /// A raw event field; the last of repeated keys, as a JSON object map keeps it.
    pub(crate) fn event_data_value(&self, key: &str) -> Option<&Leaf<'a>> {
        let data = self.event_data.as_ref()?;
        data.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}
