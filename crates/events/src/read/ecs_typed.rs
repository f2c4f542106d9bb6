//! The fast path for ECS documents: a borrowed, typed view of the fields lotl reads, filled
//! by a hand-written JSON walker that validates the whole document but builds nothing for
//! the parts lotl does not read (serde's visitor machinery cost three times a full parse
//! here). Documents it cannot represent (dotted keys, a field of an unexpected shape) fall
//! back to the `Value` path in [`super::ecs`]; both paths feed the same mapping through
//! [`super::ecs::View`].

use std::borrow::Cow;

/// A scalar leaf: strings borrowed when unescaped; numbers and booleans kept as their JSON
/// text; arrays, objects and null recorded as [`LeafKind::Other`].
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

/// `event.category` / `event.type` / `process.args`: an array of strings, or one string.
#[derive(Debug, Default, Clone)]
pub(crate) struct List<'a>(pub Option<Vec<Cow<'a, str>>>);

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
    let mut c = Cursor {
        s: text,
        b: text.as_bytes(),
        i: 0,
        depth: 0,
    };
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
    c.ws();
    (c.i == c.b.len()).then_some(doc)
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

/// Nesting deeper than this is refused (as serde_json refuses it), so a hostile document
/// cannot exhaust the stack.
const MAX_DEPTH: u32 = 128;

/// A position in a JSON text. Every method returns `None` on invalid JSON.
struct Cursor<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    depth: u32,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                break;
            }
            self.i += 1;
        }
    }

    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    #[inline]
    fn eat(&mut self, want: u8) -> Option<()> {
        (self.peek()? == want).then(|| self.i += 1)
    }

    /// An object lotl reads fields of: `f` is called with each key, positioned before its
    /// value, and must consume the value. A dotted key (`"os.type"`) flattens fields the
    /// typed view does not model, so it sends the document to the generic path.
    fn fields(&mut self, mut f: impl FnMut(&mut Self, &str) -> Option<()>) -> Option<()> {
        self.object(|c, key| {
            if key.contains('.') {
                return None;
            }
            f(c, &key)
        })
    }

    /// An object: `f` is called with each key, positioned before its value, and must
    /// consume the value.
    fn object(&mut self, mut f: impl FnMut(&mut Self, Cow<'a, str>) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        if self.peek()? == b'}' {
            self.i += 1;
            self.depth -= 1;
            return Some(());
        }
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            self.eat(b':')?;
            f(self, key)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    self.depth -= 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self, mut f: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        if self.peek()? == b']' {
            self.i += 1;
            self.depth -= 1;
            return Some(());
        }
        loop {
            f(self)?;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    self.depth -= 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string (the cursor on its opening quote), borrowed unless it holds escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.i + 1;
        let end = scan_string(self.b, start)?;
        if self.b[end] == b'"' {
            self.i = end + 1;
            // On character boundaries: both ends are ASCII.
            return Some(Cow::Borrowed(&self.s[start..end]));
        }
        // The decoded text is never longer than the escaped one: size it once.
        let close = self.string_end(end)?;
        let mut out = String::with_capacity(close - start);
        out.push_str(&self.s[start..end]);
        let mut i = end;
        loop {
            if self.b[i] == b'"' {
                self.i = i + 1;
                return Some(Cow::Owned(out));
            }
            let esc = *self.b.get(i + 1)?;
            i += 2;
            match esc {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let (ch, used) = self.unicode_escape(i)?;
                    out.push(ch);
                    i += used;
                }
                _ => return None,
            }
            let next = scan_string(self.b, i)?;
            out.push_str(&self.s[i..next]);
            i = next;
        }
    }

    /// The character of a `\uXXXX` escape whose digits start at `at` (a surrogate pair
    /// takes two escapes; a lone surrogate is invalid), and the bytes it used after `\u`.
    fn unicode_escape(&self, at: usize) -> Option<(char, usize)> {
        let hi = self.hex4(at)?;
        if !(0xD800..0xDC00).contains(&hi) {
            return Some((char::from_u32(hi)?, 4));
        }
        if self.b.get(at + 4..at + 6)? != b"\\u" {
            return None;
        }
        let lo = self.hex4(at + 6)?;
        if !(0xDC00..0xE000).contains(&lo) {
            return None;
        }
        Some((
            char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?,
            10,
        ))
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.s.get(at..at + 4)?;
        if !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(digits, 16).ok()
    }

    /// A number's text, checked against JSON's grammar.
    fn number(&mut self) -> Option<&'a str> {
        let start = self.i;
        let b = self.b;
        let mut i = start;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        let digits = |i: &mut usize| {
            let from = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > from
        };
        match b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                digits(&mut i);
            }
            _ => return None,
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                return None;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digits(&mut i) {
                return None;
            }
        }
        self.i = i;
        Some(&self.s[start..i])
    }

    fn literal(&mut self, word: &'static str) -> Option<()> {
        self.b[self.i..]
            .starts_with(word.as_bytes())
            .then(|| self.i += word.len())
    }

    /// Any value, as a [`Leaf`]: containers are validated and skipped.
    fn leaf(&mut self) -> Option<Leaf<'a>> {
        Some(match self.peek()? {
            b'"' => Leaf(Some(self.string()?), LeafKind::Str),
            b't' => {
                self.literal("true")?;
                Leaf(Some(Cow::Borrowed("true")), LeafKind::Bool)
            }
            b'f' => {
                self.literal("false")?;
                Leaf(Some(Cow::Borrowed("false")), LeafKind::Bool)
            }
            b'n' => {
                self.literal("null")?;
                Leaf(None, LeafKind::Other)
            }
            b'{' | b'[' => {
                self.skip_value()?;
                Leaf(None, LeafKind::Other)
            }
            _ => Leaf(Some(Cow::Borrowed(self.number()?)), LeafKind::Number),
        })
    }

    /// A string or an array of values (its strings kept), or null.
    fn list(&mut self) -> Option<List<'a>> {
        match self.peek()? {
            b'"' => Some(List(Some(vec![self.string()?]))),
            b'n' => {
                self.literal("null")?;
                Some(List(None))
            }
            b'[' => {
                let mut out = Vec::new();
                self.array(|c| {
                    if let Leaf(Some(v), LeafKind::Str) = c.leaf()? {
                        out.push(v);
                    }
                    Some(())
                })?;
                Some(List(Some(out)))
            }
            // Any other shape is for the generic path to judge.
            _ => None,
        }
    }

    /// Validate and step over one value.
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(|c, _| c.skip_value()),
            b'[' => self.array(|c| c.skip_value()),
            b'"' => self.skip_string(),
            _ => self.leaf().map(drop),
        }
    }

    /// A string nobody reads: validated, never copied.
    fn skip_string(&mut self) -> Option<()> {
        let close = self.string_end(scan_string(self.b, self.i + 1)?)?;
        self.i = close + 1;
        Some(())
    }

    /// The index of the quote closing a string, from `i` inside it; escapes are validated.
    fn string_end(&self, mut i: usize) -> Option<usize> {
        loop {
            if self.b[i] == b'"' {
                return Some(i);
            }
            match *self.b.get(i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' => i += 2 + self.unicode_escape(i + 2)?.1,
                _ => return None,
            }
            i = scan_string(self.b, i)?;
        }
    }
}

/// Where the string text from `from` stops: the index of the next `"` or `\`. `None` at the
/// end of input or on a raw control character, which JSON forbids inside strings.
#[inline]
fn scan_string(b: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Eight bytes at a time: flag bytes equal to `"` or `\`, or below 0x20. The lowest flag
    // is exact (borrows only run upwards), which is the only one used.
    let flagged = |w: u64| {
        let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
        zero(w ^ (ONES * u64::from(b'"')))
            | zero(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGH)
    };
    let mut i = from;
    while let Some(chunk) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().ok()?);
        let f = flagged(w);
        if f != 0 {
            i += (f.trailing_zeros() / 8) as usize;
            return (b[i] >= 0x20).then_some(i);
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        match c {
            b'"' | b'\\' => return Some(i),
            c if c < 0x20 => return None,
            _ => i += 1,
        }
    }
    None
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

#[cfg(test)]
mod tests {
    use super::scan_string;

    proptest::proptest! {
        /// The word-at-a-time scan finds what a byte loop finds, wherever it starts.
        #[test]
        fn scan_matches_a_byte_loop(
            bytes in proptest::collection::vec(
                proptest::sample::select(vec![b'a', b'"', b'\\', 0x1f, 0x20, 0x7f, 0x80, 0xff, b'0']),
                0..40,
            ),
            from in 0usize..40,
        ) {
            let naive = bytes.iter().enumerate().skip(from).find_map(|(i, &c)| match c {
                b'"' | b'\\' => Some(Some(i)),
                c if c < 0x20 => Some(None),
                _ => None,
            }).flatten();
            proptest::prop_assert_eq!(scan_string(&bytes, from), naive);
        }
    }
}
