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

/// Parse one JSON document into a [`Doc`]. `None` when the text is not valid JSON, or is
/// valid but shaped in a way the typed view does not represent (the caller then takes the
/// generic path, which tells the two apart).
pub(crate) fn parse_doc(text: &str) -> Option<Doc<'_>> {
    let mut c = Cursor::new(text);
    let mut doc = Doc::default();
    c.object(|c, key| {
        match &*key {
            "@timestamp" => doc.timestamp = c.leaf()?,
            "event" => c.fields(|c, k| {
                let e = &mut doc.event;
                match k {
                    "kind" => e.kind = c.leaf()?,
                    "category" => e.category = c.list()?,
                    "type" => e.kind_type = c.list()?,
                    "action" => e.action = c.leaf()?,
                    "code" => e.code = c.leaf()?,
                    "id" => e.id = c.leaf()?,
                    "provider" => e.provider = c.leaf()?,
                    _ => c.skip_value()?,
                }
                Some(())
            })?,
            "host" => c.fields(|c, k| {
                let h = &mut doc.host;
                match k {
                    "name" => h.name = c.leaf()?,
                    "hostname" => h.hostname = c.leaf()?,
                    "id" => h.id = c.leaf()?,
                    "os" => c.fields(|c, k| {
                        match k {
                            "type" => h.os.os_type = c.leaf()?,
                            "family" => h.os.family = c.leaf()?,
                            "platform" => h.os.platform = c.leaf()?,
                            _ => c.skip_value()?,
                        }
                        Some(())
                    })?,
                    _ => c.skip_value()?,
                }
                Some(())
            })?,
            "process" => c.fields(|c, k| process(c, k, &mut doc.process))?,
            "user" => c.fields(|c, k| {
                let u = &mut doc.user;
                match k {
                    "name" => u.name = c.leaf()?,
                    "domain" => u.domain = c.leaf()?,
                    "id" => u.id = c.leaf()?,
                    _ => c.skip_value()?,
                }
                Some(())
            })?,
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
            "agent" => c.fields(|c, k| {
                match k {
                    "hostname" => doc.agent.hostname = c.leaf()?,
                    _ => c.skip_value()?,
                }
                Some(())
            })?,
            "lotl" => c.fields(|c, k| {
                let l = &mut doc.lotl;
                match k {
                    "label" => l.label = c.leaf()?,
                    "scenario_id" => l.scenario_id = c.leaf()?,
                    "technique" => l.technique = c.leaf()?,
                    "family" => l.family = c.leaf()?,
                    "source" => l.source = c.leaf()?,
                    _ => c.skip_value()?,
                }
                Some(())
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
        "pe" => c.fields(|c, k| {
            match k {
                "original_file_name" => p.pe.original_file_name = c.leaf()?,
                _ => c.skip_value()?,
            }
            Some(())
        })?,
        "code_signature" => c.fields(|c, k| {
            let s = &mut p.code_signature;
            match k {
                "exists" => s.exists = c.leaf()?,
                "trusted" => s.trusted = c.leaf()?,
                "subject_name" => s.subject_name = c.leaf()?,
                _ => c.skip_value()?,
            }
            Some(())
        })?,
        "Ext" => c.fields(|c, k| {
            match k {
                "token" => c.fields(|c, k| {
                    let t = &mut p.ext.token;
                    match k {
                        "integrity_level_name" => t.integrity_level_name = c.leaf()?,
                        "elevation_type" => t.elevation_type = c.leaf()?,
                        "elevation_level" => t.elevation_level = c.leaf()?,
                        "elevation" => t.elevation = c.leaf()?,
                        _ => c.skip_value()?,
                    }
                    Some(())
                })?,
                _ => c.skip_value()?,
            }
            Some(())
        })?,
        "parent" => c.fields(|c, k| {
            let q = &mut p.parent;
            match k {
                "name" => q.name = c.leaf()?,
                "executable" => q.executable = c.leaf()?,
                "command_line" => q.command_line = c.leaf()?,
                "pid" => q.pid = c.leaf()?,
                "entity_id" => q.entity_id = c.leaf()?,
                _ => c.skip_value()?,
            }
            Some(())
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
