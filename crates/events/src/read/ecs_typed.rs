//! The fast path for ECS documents: a borrowed, typed view of the fields lotl reads, filled
//! by a hand-written JSON walker that validates the whole document but builds nothing for
//! the parts lotl does not read (serde's visitor machinery cost three times a full parse
//! here). Documents it cannot represent (dotted keys, a field of an unexpected shape) fall
//! back to the `Value` path in [`super::ecs`]; both paths feed the same mapping through
//! [`super::ecs::View`].

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

// `event_data` is kept in document order; see [`WinlogF::event_data_value`].
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

/// The leaf at an ECS path in a [`Doc`], shared or mutable (`$($r)+` is `&` or `&mut`):
/// one table for [`Doc::leaf`] and [`Doc::leaf_mut`].
macro_rules! leaf_at {
    ($doc:expr, $path:expr, $($r:tt)+) => {{
        let doc = $doc;
        let p = $($r)+ doc.process;
        let l = match $path {
            "@timestamp" => $($r)+ doc.timestamp,
            "event.kind" => $($r)+ doc.event.kind,
            "event.action" => $($r)+ doc.event.action,
            "event.code" => $($r)+ doc.event.code,
            "event.id" => $($r)+ doc.event.id,
            "event.provider" => $($r)+ doc.event.provider,
            "host.name" => $($r)+ doc.host.name,
            "host.hostname" => $($r)+ doc.host.hostname,
            "host.id" => $($r)+ doc.host.id,
            "host.os.type" => $($r)+ doc.host.os.os_type,
            "host.os.family" => $($r)+ doc.host.os.family,
            "host.os.platform" => $($r)+ doc.host.os.platform,
            "agent.hostname" => $($r)+ doc.agent.hostname,
            "process.name" => $($r)+ p.name,
            "process.executable" => $($r)+ p.executable,
            "process.command_line" => $($r)+ p.command_line,
            "process.pid" => $($r)+ p.pid,
            "process.entity_id" => $($r)+ p.entity_id,
            "process.pe.original_file_name" => $($r)+ p.pe.original_file_name,
            "process.code_signature.exists" => $($r)+ p.code_signature.exists,
            "process.code_signature.trusted" => $($r)+ p.code_signature.trusted,
            "process.code_signature.subject_name" => $($r)+ p.code_signature.subject_name,
            "process.Ext.token.integrity_level_name" => $($r)+ p.ext.token.integrity_level_name,
            "process.Ext.token.elevation_type" => $($r)+ p.ext.token.elevation_type,
            "process.Ext.token.elevation" => $($r)+ p.ext.token.elevation,
            "process.Ext.token.elevation_level" => $($r)+ p.ext.token.elevation_level,
            "process.parent.name" => $($r)+ p.parent.name,
            "process.parent.executable" => $($r)+ p.parent.executable,
            "process.parent.command_line" => $($r)+ p.parent.command_line,
            "process.parent.pid" => $($r)+ p.parent.pid,
            "process.parent.entity_id" => $($r)+ p.parent.entity_id,
            "user.name" => $($r)+ doc.user.name,
            "user.domain" => $($r)+ doc.user.domain,
            "user.id" => $($r)+ doc.user.id,
            "lotl.label" => $($r)+ doc.lotl.label,
            "lotl.scenario_id" => $($r)+ doc.lotl.scenario_id,
            "lotl.technique" => $($r)+ doc.lotl.technique,
            "lotl.family" => $($r)+ doc.lotl.family,
            "lotl.source" => $($r)+ doc.lotl.source,
            path => {
                let Some(w) = $($r)+ doc.winlog else {
                    return None;
                };
                match path {
                    "winlog.event_id" => $($r)+ w.event_id,
                    "winlog.record_id" => $($r)+ w.record_id,
                    "winlog.computer_name" => $($r)+ w.computer_name,
                    "winlog.provider_name" => $($r)+ w.provider_name,
                    "winlog.channel" => $($r)+ w.channel,
                    _ => {
                        let key = path.strip_prefix("winlog.event_data.")?;
                        let Some(data) = $($r)+ w.event_data else {
                            return None;
                        };
                        // The last of repeated keys, as a JSON object map keeps it.
                        data.into_iter().rev().find(|(k, _)| **k == *key).map(|(_, v)| v)?
                    }
                }
            }
        };
        (l.1 != LeafKind::Absent).then_some(l)
    }};
}

impl<'a> Doc<'a> {
    /// The leaf at an ECS path, for the paths the mapping reads.
    pub(crate) fn leaf(&self, path: &str) -> Option<&Leaf<'a>> {
        leaf_at!(self, path, &)
    }

    pub(crate) fn leaf_mut(&mut self, path: &str) -> Option<&mut Leaf<'a>> {
        leaf_at!(self, path, &mut)
    }

    pub(crate) fn list_mut(&mut self, path: &str) -> Option<&mut List<'a>> {
        match path {
            "event.category" => Some(&mut self.event.category),
            "event.type" => Some(&mut self.event.kind_type),
            "process.args" => Some(&mut self.process.args),
            _ => None,
        }
    }

    pub(crate) fn list(&self, path: &str) -> Option<&[Str<'a>]> {
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
        data.iter().rev().find(|(k, _)| **k == *key).map(|(_, v)| v)
    }
}
