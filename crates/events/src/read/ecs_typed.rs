//! The fast path for ECS documents: a borrowed, typed view of the fields lotl reads, parsed
//! without building a `serde_json::Value` tree. Documents it cannot represent (dotted keys,
//! a field of an unexpected shape) fall back to the `Value` path in [`super::ecs`]; both
//! paths feed the same mapping through [`super::ecs::View`].

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A scalar leaf: strings borrowed when unescaped; numbers and booleans kept as text;
/// arrays and objects ignored.
#[derive(Debug, Default, Clone)]
pub(crate) struct Leaf<'a>(pub Option<Cow<'a, str>>, pub LeafKind);

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeafKind {
    #[default]
    Absent,
    Str,
    Number,
    Bool,
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Leaf<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Leaf<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Leaf(Some(Cow::Borrowed(v)), LeafKind::Str))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Leaf(Some(Cow::Owned(v.to_owned())), LeafKind::Str))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Leaf(Some(Cow::Owned(v)), LeafKind::Str))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Leaf(Some(Cow::Owned(v.to_string())), LeafKind::Number))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Leaf(Some(Cow::Owned(v.to_string())), LeafKind::Number))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Leaf(Some(Cow::Owned(v.to_string())), LeafKind::Number))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Leaf(
                    Some(Cow::Borrowed(if v { "true" } else { "false" })),
                    LeafKind::Bool,
                ))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Leaf(None, LeafKind::Other))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Leaf(None, LeafKind::Other))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Leaf(None, LeafKind::Other))
            }
        }
        d.deserialize_any(V)
    }
}

/// `event.category` / `event.type` / `process.args`: an array of strings, or one string.
#[derive(Debug, Default, Clone)]
pub(crate) struct List<'a>(pub Option<Vec<Cow<'a, str>>>);

impl<'de: 'a, 'a> Deserialize<'de> for List<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = List<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(List(Some(vec![Cow::Borrowed(v)])))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(List(Some(vec![Cow::Owned(v.to_owned())])))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(Leaf(v, kind)) = s.next_element::<Leaf<'de>>()? {
                    if let (Some(v), LeafKind::Str) = (v, kind) {
                        out.push(v);
                    }
                }
                Ok(List(Some(out)))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(List(None))
            }
        }
        d.deserialize_any(V)
    }
}

macro_rules! object {
    ($name:ident { $($field:ident $(= $rename:literal)? : $ty:ty),* $(,)? }) => {
        #[derive(Debug, Default, Deserialize)]
        #[serde(default)]
        pub(crate) struct $name<'a> {
            $(
                $(#[serde(rename = $rename)])?
                #[serde(borrow)]
                pub $field: $ty,
            )*
            #[serde(skip)]
            pub _p: std::marker::PhantomData<&'a ()>,
        }
    };
}

object!(Doc {
    timestamp = "@timestamp": Leaf<'a>,
    event: EventF<'a>,
    host: HostF<'a>,
    process: ProcessF<'a>,
    user: UserF<'a>,
    winlog: Option<WinlogF<'a>>,
    agent: AgentF<'a>,
    lotl: LotlF<'a>,
});
object!(EventF { kind: Leaf<'a>, category: List<'a>, kind_type = "type": List<'a>, action: Leaf<'a>, code: Leaf<'a>, id: Leaf<'a>, provider: Leaf<'a> });
object!(HostF { name: Leaf<'a>, hostname: Leaf<'a>, id: Leaf<'a>, os: OsF<'a> });
object!(OsF { os_type = "type": Leaf<'a>, family: Leaf<'a>, platform: Leaf<'a> });
object!(ProcessF {
    name: Leaf<'a>,
    executable: Leaf<'a>,
    command_line: Leaf<'a>,
    args: List<'a>,
    pid: Leaf<'a>,
    entity_id: Leaf<'a>,
    pe: PeF<'a>,
    code_signature: SigF<'a>,
    ext = "Ext": ExtF<'a>,
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

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct WinlogF<'a> {
    #[serde(borrow)]
    pub event_id: Leaf<'a>,
    #[serde(borrow)]
    pub record_id: Leaf<'a>,
    #[serde(borrow)]
    pub computer_name: Leaf<'a>,
    #[serde(borrow)]
    pub provider_name: Leaf<'a>,
    #[serde(borrow)]
    pub channel: Leaf<'a>,
    #[serde(borrow)]
    pub event_data: Option<BTreeMap<Cow<'a, str>, Leaf<'a>>>,
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
                return w?.event_data.as_ref()?.get(key);
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

/// Lines with dotted top-level keys need the generic path.
pub(crate) fn has_dotted_keys(line: &str) -> bool {
    static FINDERS: std::sync::OnceLock<Vec<memchr::memmem::Finder<'static>>> =
        std::sync::OnceLock::new();
    let finders = FINDERS.get_or_init(|| {
        [
            "\"process.",
            "\"event.",
            "\"host.",
            "\"user.",
            "\"winlog.",
            "\"lotl.",
        ]
        .iter()
        .map(|k| memchr::memmem::Finder::new(k.as_bytes()).into_owned())
        .collect()
    });
    let b = line.as_bytes();
    finders.iter().any(|f| f.find(b).is_some())
}
