//! EVTX files through the `evtx` crate: Sysmon event 1 and Security 4688. A corrupt chunk or
//! record is counted and skipped; the parser goes on with the next chunk.

use super::json::{Cursor, Leaf, LeafKind, Str};
use super::windows::{from_event_data, EVENT_DATA_FIELDS};
use super::{parse_timestamp_ms, InputFormat, Parsed, Reader, RecordCtx, SkipReason};
use crate::error::{Error, Result};
use crate::event::Text;
use ::evtx::binxml::value_variant::BinXmlValue;
use ::evtx::{EvtxParser, ParserSettings};
use compact_str::ToCompactString;
use serde_json::Value;

pub(crate) fn read<S: std::io::Read + std::io::Seek>(
    reader: &mut Reader<'_>,
    name: &str,
    source: S,
) -> Result<()> {
    let parser = EvtxParser::from_read_seek(source).map_err(|e| Error::Format {
        path: name.into(),
        message: format!("unreadable EVTX header: {e}"),
    });
    let mut parser = match parser {
        Ok(p) => p,
        Err(e) => {
            // A file whose header is broken holds nothing we can reach: count it as one bad
            // record instead of aborting the whole ingest.
            let ctx = RecordCtx {
                file: name,
                record: 0,
            };
            reader.record_seen(InputFormat::Evtx);
            return reader.skip(
                InputFormat::Evtx,
                &ctx,
                SkipReason::CorruptEvtx,
                &e.to_string(),
            );
        }
    };
    // Attributes stay inline (`"Provider": {"#attributes": {..}}`): separating them turns
    // off the evtx crate's compiled JSON templates and renders three times slower.
    let settings = ParserSettings::new().num_threads(reader.evtx_threads());
    parser = parser.with_configuration(settings);
    // Read each record's EventID from its template substitutions and render to JSON text
    // (as `records_json` does) only the records that can be process starts; most records
    // of a Sysmon or Security log are not, and rendering is much of the parser's cost.
    // Process starts are read from their substitution values too, through their template's
    // layout, when it has a shape known here. The closure is cloned per chunk, so `layouts`
    // caches per chunk.
    let mut layouts = Layouts::default();
    let records = parser.serialized_records(move |rec| {
        let rec = rec?;
        match layouts.event_id(&rec) {
            Some((id, _)) if id != 1 && id != 4688 => {
                return Ok(Rendered::NotProcessStart(rec.event_record_id))
            }
            Some((id, layout)) => {
                if let Some(r) = LaidOut::read(&rec, id, &layout, &mut layouts) {
                    return Ok(Rendered::LaidOut(r));
                }
            }
            None => {}
        }
        rec.into_json_bytes().map(Rendered::Json)
    });
    for (ordinal, rec) in (1u64..).zip(records) {
        match rec {
            Ok(Rendered::NotProcessStart(record)) => {
                let ctx = RecordCtx { file: name, record };
                reader.accept(
                    InputFormat::Evtx,
                    &ctx,
                    Parsed::Skip(SkipReason::NotProcessStart),
                    "",
                    false,
                )?;
            }
            Ok(Rendered::LaidOut(r)) => {
                let ctx = RecordCtx {
                    file: name,
                    record: r.record_id,
                };
                let parsed = map_record(&r.record(), r.record_id);
                let raw = match &parsed {
                    Parsed::Skip(reason) if reason.is_defect() => r.to_json(),
                    _ => String::new(),
                };
                reader.accept(InputFormat::Evtx, &ctx, parsed, &raw, false)?;
            }
            Ok(Rendered::Json(r)) => {
                let ctx = RecordCtx {
                    file: name,
                    record: r.event_record_id,
                };
                let fast = std::str::from_utf8(&r.data)
                    .ok()
                    .and_then(Record::from_text)
                    .map(|rec| map_record(&rec, r.event_record_id));
                if let Some(
                    parsed @ (Parsed::Event(_) | Parsed::Skip(SkipReason::NotProcessStart)),
                ) = fast
                {
                    reader.accept(InputFormat::Evtx, &ctx, parsed, "", false)?;
                    continue;
                }
                let (parsed, raw) = match serde_json::from_slice::<Value>(&r.data) {
                    Ok(v) => {
                        let parsed = parse_record(&v, r.event_record_id);
                        let raw = match &parsed {
                            Parsed::Skip(reason) if reason.is_defect() => v.to_string(),
                            _ => String::new(),
                        };
                        (parsed, raw)
                    }
                    Err(e) => (
                        Parsed::Skip(SkipReason::CorruptEvtx),
                        format!("record rendered to invalid JSON: {e}"),
                    ),
                };
                reader.accept(InputFormat::Evtx, &ctx, parsed, &raw, false)?;
            }
            Err(e) => {
                let ctx = RecordCtx {
                    file: name,
                    record: ordinal,
                };
                reader.record_seen(InputFormat::Evtx);
                reader.skip(
                    InputFormat::Evtx,
                    &ctx,
                    SkipReason::CorruptEvtx,
                    &e.to_string(),
                )?;
            }
        }
    }
    Ok(())
}

/// What the per-record closure hands back: the rendered record, the record read through its
/// template's layout, or only its id when its EventID shows it is not a process start.
enum Rendered {
    Json(::evtx::SerializedEvtxRecord<Vec<u8>>),
    LaidOut(LaidOut),
    NotProcessStart(u64),
}

/// BinXML tokens (MS-EVEN6 2.2.3.1) that [`Layout::of`] steps over.
mod token {
    pub const EOF: u8 = 0x00;
    pub const OPEN_START: u8 = 0x01;
    pub const CLOSE_START: u8 = 0x02;
    pub const CLOSE_EMPTY: u8 = 0x03;
    pub const END_ELEMENT: u8 = 0x04;
    pub const VALUE: u8 = 0x05;
    pub const ATTRIBUTE: u8 = 0x06;
    pub const CDATA: u8 = 0x07;
    pub const CHAR_REF: u8 = 0x08;
    pub const ENTITY_REF: u8 = 0x09;
    pub const PI_TARGET: u8 = 0x0a;
    pub const PI_DATA: u8 = 0x0b;
    pub const TEMPLATE_INSTANCE: u8 = 0x0c;
    pub const SUBSTITUTION: u8 = 0x0d;
    pub const OPTIONAL_SUBSTITUTION: u8 = 0x0e;
    pub const FRAGMENT_HEADER: u8 = 0x0f;
    /// Set on a token that has more of its kind after it (attributes, values).
    pub const MORE: u8 = 0x40;
    /// Value types.
    pub const NULL: u8 = 0x00;
    pub const STRING: u8 = 0x01;
    pub const INT8: u8 = 0x03;
    pub const UINT8: u8 = 0x04;
    pub const INT16: u8 = 0x05;
    pub const UINT16: u8 = 0x06;
    pub const INT32: u8 = 0x07;
    pub const UINT32: u8 = 0x08;
    pub const INT64: u8 = 0x09;
    pub const UINT64: u8 = 0x0a;
    pub const BOOL: u8 = 0x0d;
    pub const GUID: u8 = 0x0f;
    pub const FILETIME: u8 = 0x11;
    pub const HEX_INT32: u8 = 0x14;
    pub const HEX_INT64: u8 = 0x15;
    pub const BINXML: u8 = 0x21;
}

/// Where a template's text comes from: one of the instance's substitution values, or text
/// written in the template itself.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    Substitution(u16),
    Text(Text),
}

/// Where a template puts what the process-start mapping reads (see [`Record`]): found once
/// per template and chunk by walking the template's definition, so that a record is read
/// from its substitution values instead of being rendered to JSON and parsed back.
#[derive(Debug, Default, PartialEq)]
struct Layout {
    /// The substitution that fills `System/EventID`'s text.
    event_id: Option<u16>,
    provider: Option<Part>,
    created: Option<Part>,
    computer: Option<Part>,
    /// `EventData/Data` elements that the mapping reads (see [`EVENT_DATA_FIELDS`]):
    /// their `Name` attribute and their text.
    data: Vec<(&'static str, Part)>,
    /// The substitution, directly inside the root element, whose value is a BinXML
    /// fragment of its own (Sysmon and Security put `EventData` in one).
    fragment: Option<u16>,
    /// Whether the layout is all the mapping reads, in shapes read here (a `Data` element
    /// whose name is a substitution, or whose text is two parts, is not): when false, the
    /// record is rendered.
    complete: bool,
}

/// The elements and attributes whose text a [`Layout`] records.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Node {
    System,
    Provider,
    EventId,
    TimeCreated,
    Computer,
    EventData,
    Data,
    NameAttribute,
    SystemTime,
    Other,
}

impl Node {
    fn of(name: &str) -> Node {
        match name {
            "System" => Node::System,
            "Provider" => Node::Provider,
            "EventID" => Node::EventId,
            "TimeCreated" => Node::TimeCreated,
            "Computer" => Node::Computer,
            "EventData" => Node::EventData,
            "Data" => Node::Data,
            _ => Node::Other,
        }
    }

    fn of_attribute(name: &str) -> Node {
        match name {
            "Name" => Node::NameAttribute,
            "SystemTime" => Node::SystemTime,
            _ => Node::Other,
        }
    }
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

/// `chars` UTF-16LE code units at `at`, when they decode.
fn utf16_at(data: &[u8], at: usize, chars: usize) -> Option<Text> {
    utf16_text(data.get(at..at.checked_add(chars.checked_mul(2)?)?)?)
}

impl Layout {
    /// The layout of the template defined at chunk offset `def`: its tokens are walked,
    /// tracking the element path. `None` for any token this walk does not know.
    fn of(data: &[u8], def: usize) -> Option<Layout> {
        let size = u32_at(data, def.checked_add(20)?)? as usize;
        let mut pos = def + 24;
        let end = pos.checked_add(size)?.min(data.len());
        let mut layout = Layout {
            complete: true,
            ..Layout::default()
        };
        // The open elements, and for the innermost its `Name` attribute (for `Data`) and
        // how many parts its text has had.
        let mut path: Vec<Node> = Vec::with_capacity(8);
        // `Some(None)` for a name the mapping does not read.
        let mut data_name: Option<Option<&'static str>> = None;
        let mut text_parts = 0;
        let mut in_start_tag = false;
        // The attribute whose value comes next, inside a start tag.
        let mut attribute: Option<Node> = None;
        // A name reference: a chunk offset, with the name itself inline when it points just
        // past the reference (next-name link u32, hash u16, length u16, UTF-16, NUL u16).
        let name_ref = |pos: &mut usize| -> Option<Text> {
            let at = u32_at(data, *pos)? as usize;
            *pos += 4;
            let chars = usize::from(u16_at(data, at.checked_add(6)?)?);
            if at == *pos {
                *pos += 10 + 2 * chars;
            }
            utf16_at(data, at + 8, chars)
        };
        let under = |path: &[Node], parent: Node, element: Node| matches!(path, [.., p, e] if *p == parent && *e == element);
        while pos < end {
            let t = data[pos];
            pos += 1;
            let part = match t & !token::MORE {
                token::EOF => break,
                token::FRAGMENT_HEADER => {
                    pos += 3;
                    continue;
                }
                token::OPEN_START => {
                    // Dependency id u16, data size u32.
                    pos += 6;
                    let name = Node::of(&name_ref(&mut pos)?);
                    if t & token::MORE != 0 {
                        pos += 4;
                    }
                    path.push(name);
                    in_start_tag = true;
                    attribute = None;
                    data_name = None;
                    text_parts = 0;
                    continue;
                }
                token::CLOSE_START => {
                    in_start_tag = false;
                    if under(&path, Node::EventData, Node::Data) && data_name.is_none() {
                        layout.complete = false;
                    }
                    continue;
                }
                token::CLOSE_EMPTY | token::END_ELEMENT => {
                    // An empty `Data` element renders as a null or an empty string: left
                    // to rendering.
                    if under(&path, Node::EventData, Node::Data) && text_parts == 0 {
                        layout.complete = false;
                    }
                    path.pop()?;
                    in_start_tag = false;
                    // Text after a child element is mixed content, which the JSON renderer
                    // writes in a shape of its own: never a first part.
                    text_parts = usize::MAX / 2;
                    continue;
                }
                token::ATTRIBUTE => {
                    attribute = Some(Node::of_attribute(&name_ref(&mut pos)?));
                    continue;
                }
                token::ENTITY_REF | token::PI_TARGET => {
                    name_ref(&mut pos)?;
                    layout.complete = false;
                    continue;
                }
                token::CDATA | token::PI_DATA => {
                    pos += 2 + 2 * usize::from(u16_at(data, pos)?);
                    layout.complete = false;
                    continue;
                }
                token::CHAR_REF => {
                    pos += 2;
                    layout.complete = false;
                    continue;
                }
                token::VALUE => {
                    if *data.get(pos)? != token::STRING {
                        return None;
                    }
                    let chars = usize::from(u16_at(data, pos + 1)?);
                    let text = utf16_at(data, pos + 3, chars)?;
                    pos += 3 + 2 * chars;
                    Part::Text(text)
                }
                token::SUBSTITUTION | token::OPTIONAL_SUBSTITUTION => {
                    let index = u16_at(data, pos)?;
                    pos += 3;
                    Part::Substitution(index)
                }
                _ => return None,
            };
            if in_start_tag {
                let element = path.last().copied();
                match (element, attribute.take()) {
                    (Some(Node::Provider), Some(Node::NameAttribute))
                        if under(&path, Node::System, Node::Provider) =>
                    {
                        layout.provider = Some(part)
                    }
                    (Some(Node::TimeCreated), Some(Node::SystemTime))
                        if under(&path, Node::System, Node::TimeCreated) =>
                    {
                        layout.created = Some(part)
                    }
                    (Some(Node::Data), Some(Node::NameAttribute)) => match part {
                        Part::Text(name) => {
                            data_name = Some(
                                EVENT_DATA_FIELDS
                                    .iter()
                                    .copied()
                                    .find(|f| *f == name.as_str()),
                            )
                        }
                        Part::Substitution(_) => layout.complete = false,
                    },
                    // A second part of one attribute's value.
                    (_, None) => layout.complete = false,
                    _ => {}
                }
                continue;
            }
            text_parts += 1;
            if under(&path, Node::System, Node::EventId) {
                match part {
                    Part::Substitution(index) if text_parts == 1 => layout.event_id = Some(index),
                    _ => layout.complete = false,
                }
            } else if under(&path, Node::System, Node::Computer) {
                layout.computer = Some(part);
                layout.complete &= text_parts == 1;
            } else if under(&path, Node::EventData, Node::Data) {
                match (&data_name, text_parts) {
                    (Some(Some(name)), 1) => layout.data.push((name, part)),
                    (Some(None), 1) => {}
                    _ => layout.complete = false,
                }
            } else if path.last() == Some(&Node::EventData) {
                layout.complete = false;
            } else if path.len() == 1 {
                match part {
                    Part::Substitution(index) if layout.fragment.is_none() => {
                        layout.fragment = Some(index)
                    }
                    _ => layout.complete = false,
                }
            }
        }
        Some(layout)
    }
}

/// Per chunk, each template's [`Layout`] by its definition's offset (`None` when the walk
/// did not know the definition's shape: its records are rendered).
#[derive(Clone, Default)]
struct Layouts {
    /// The chunk the layouts belong to (its data's address and first record id): offsets
    /// mean nothing in another chunk, so a new chunk starts an empty cache.
    chunk: (usize, u64),
    by_offset: Vec<(u32, Option<std::sync::Arc<Layout>>)>,
}

/// The record's root template instance: its definition's offset, and where its
/// substitution descriptors (count u32, then size u16, type u8, padding u8 each) start.
fn root_instance(rec: &::evtx::EvtxRecord<'_>) -> Option<(u32, usize)> {
    let data = rec.chunk.data;
    let mut pos = usize::try_from(rec.binxml_offset).ok()?;
    if *data.get(pos)? == token::FRAGMENT_HEADER {
        pos += 4;
    }
    if *data.get(pos)? != token::TEMPLATE_INSTANCE {
        return None;
    }
    // Token, an unknown byte, the template id.
    pos += 6;
    let def_offset = u32_at(data, pos)?;
    pos += 4;
    if pos == def_offset as usize {
        // The definition is inline, the first time the chunk uses the template.
        pos += 24 + u32_at(data, pos + 20)? as usize;
    }
    Some((def_offset, pos))
}

impl Layouts {
    fn get(
        &mut self,
        chunk: &::evtx::EvtxChunk<'_>,
        def_offset: u32,
    ) -> Option<std::sync::Arc<Layout>> {
        let this_chunk = (
            chunk.data.as_ptr() as usize,
            chunk.header.first_event_record_id,
        );
        if self.chunk != this_chunk {
            self.chunk = this_chunk;
            self.by_offset.clear();
        }
        if let Some((_, layout)) = self.by_offset.iter().find(|(at, _)| *at == def_offset) {
            return layout.clone();
        }
        let layout = Layout::of(chunk.data, def_offset as usize).map(std::sync::Arc::new);
        self.by_offset.push((def_offset, layout.clone()));
        layout
    }

    /// The record's EventID read from its substitution values without rendering it;
    /// `None` when the record has another shape (it is rendered then).
    fn event_id(&mut self, rec: &::evtx::EvtxRecord<'_>) -> Option<(u16, std::sync::Arc<Layout>)> {
        let data = rec.chunk.data;
        let (def_offset, mut pos) = root_instance(rec)?;
        let layout = self.get(rec.chunk, def_offset)?;
        let index = usize::from(layout.event_id?);
        let count = u32_at(data, pos)? as usize;
        pos += 4;
        if index >= count {
            return None;
        }
        let descriptors = data.get(pos..pos.checked_add(count * 4)?)?;
        let mut value = pos + count * 4;
        for d in descriptors.chunks_exact(4).take(index) {
            value += usize::from(u16::from_le_bytes([d[0], d[1]]));
        }
        let d = &descriptors[index * 4..index * 4 + 4];
        let end = usize::try_from(rec.binxml_offset + u64::from(rec.binxml_size)).ok()?;
        if u16::from_le_bytes([d[0], d[1]]) != 2 || d[2] != token::UINT16 || value + 2 > end {
            return None;
        }
        Some((u16_at(data, value)?, layout))
    }
}

/// A record read through its template's [`Layout`], owned so that it can leave the chunk.
#[derive(Debug, PartialEq)]
struct LaidOut {
    record_id: u64,
    event_id: u32,
    provider: Text,
    created: Option<Text>,
    computer: Text,
    fields: Vec<(&'static str, Text)>,
}

impl LaidOut {
    /// `None` when a value the mapping reads has a type whose text this does not write as
    /// the JSON renderer does (the record is rendered then). Values are read in place from
    /// the chunk; a record holding a type that reader leaves alone (a SID, say) has its
    /// values deserialized by the evtx crate instead.
    fn read<'c>(
        rec: &::evtx::EvtxRecord<'c>,
        event_id: u16,
        layout: &Layout,
        layouts: &mut Layouts,
    ) -> Option<LaidOut> {
        if !layout.complete {
            return None;
        }
        if let Some(values) = in_place(rec) {
            let read = Self::read_from(rec, event_id, layout, layouts, &values, &in_place);
            if read.is_some() {
                return read;
            }
        }
        let values = deserialized(rec)?;
        Self::read_from(rec, event_id, layout, layouts, &values, &deserialized)
    }

    /// [`LaidOut::read`] from one source of substitution values: `values` for the record,
    /// `instance` to read those of the nested EventData fragment.
    fn read_from<'c, V: Values<'c>>(
        rec: &::evtx::EvtxRecord<'c>,
        event_id: u16,
        layout: &Layout,
        layouts: &mut Layouts,
        values: &V,
        instance: &dyn Fn(&::evtx::EvtxRecord<'c>) -> Option<V>,
    ) -> Option<LaidOut> {
        let part = |p: &Part, values: &V| -> Option<Option<Text>> {
            match p {
                Part::Text(t) => Some(Some(t.clone())),
                Part::Substitution(i) => values.text(*i),
            }
        };
        let provider = match &layout.provider {
            Some(p) => part(p, values)?.unwrap_or_default(),
            None => Text::default(),
        };
        let created = match &layout.created {
            Some(p) => part(p, values)?,
            None => None,
        };
        let computer = part(layout.computer.as_ref()?, values)?.unwrap_or_default();
        let mut fields = Vec::with_capacity(layout.data.len());
        let mut push_data = |layout: &Layout, values: &V| -> Option<()> {
            for (name, p) in &layout.data {
                if let Some(text) = part(p, values)? {
                    fields.push((*name, text));
                }
            }
            Some(())
        };
        push_data(layout, values)?;
        let fragment = match layout.fragment {
            Some(i) => values.fragment(i)?,
            None => None,
        };
        if let Some(bytes) = fragment {
            // The fragment is a slice of the chunk: read it as a record of its own.
            let data = rec.chunk.data;
            let offset = (bytes.as_ptr() as usize).checked_sub(data.as_ptr() as usize)?;
            if offset.checked_add(bytes.len())? > data.len() {
                return None;
            }
            let mut inner = rec.clone();
            inner.binxml_offset = offset as u64;
            inner.binxml_size = u32::try_from(bytes.len()).ok()?;
            let (def_offset, _) = root_instance(&inner)?;
            let inner_layout = layouts.get(rec.chunk, def_offset)?;
            if !inner_layout.complete || inner_layout.fragment.is_some() {
                return None;
            }
            push_data(&inner_layout, &instance(&inner)?)?;
        }
        Some(LaidOut {
            record_id: rec.event_record_id,
            event_id: u32::from(event_id),
            provider,
            created,
            computer,
            fields,
        })
    }

    /// The fields as JSON, for the quarantine file.
    fn to_json(&self) -> String {
        let data: serde_json::Map<String, Value> = self
            .fields
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        serde_json::json!({"Event": {
            "System": {
                "EventID": self.event_id,
                "Provider": {"#attributes": {"Name": self.provider.as_str()}},
                "TimeCreated": {"#attributes": {"SystemTime": self.created.as_deref()}},
                "Computer": self.computer.as_str(),
            },
            "EventData": data,
        }})
        .to_string()
    }

    fn record(&self) -> Record<'_> {
        Record {
            event_id: self.event_id,
            provider: Str::Borrowed(&self.provider),
            created: self.created.as_deref().map(Str::Borrowed),
            computer: Str::Borrowed(&self.computer),
            fields: self
                .fields
                .iter()
                .map(|(k, v)| (Str::Borrowed(k), Str::Borrowed(v.as_str())))
                .collect(),
        }
    }
}

/// UTF-16LE text decoded through a buffer kept per thread (a `Text` built a character at a
/// time was half of the reader's time), ASCII without a decoder; `None` when it does not
/// decode.
fn utf16_text(bytes: &[u8]) -> Option<Text> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        let units = bytes.chunks_exact(2);
        if units.clone().all(|b| b[1] == 0 && b[0] < 0x80) {
            scratch.extend(units.map(|b| char::from(b[0])));
        } else {
            for c in char::decode_utf16(units.map(|b| u16::from_le_bytes([b[0], b[1]]))) {
                scratch.push(c.ok()?);
            }
        }
        Some(Text::from(scratch.as_str()))
    })
}

/// Where a template instance's substitution values come from.
trait Values<'c> {
    /// Value `i` as text; `Some(None)` for a null one, `None` when it is missing or its type
    /// is not one this reads.
    fn text(&self, i: u16) -> Option<Option<Text>>;
    /// Value `i` as a nested BinXML fragment (a slice of the chunk); `Some(None)` for null.
    fn fragment(&self, i: u16) -> Option<Option<&'c [u8]>>;
}

/// A GUID as Windows renders it: lower-case hex in braces, the first three groups
/// little-endian.
fn guid_text(bytes: &[u8; 16]) -> Text {
    const ORDER: [usize; 16] = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; 38];
    out[0] = b'{';
    out[37] = b'}';
    let mut n = 1;
    for (i, &at) in ORDER.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            n += 1;
        }
        out[n] = HEX[usize::from(bytes[at] >> 4)];
        out[n + 1] = HEX[usize::from(bytes[at] & 0x0f)];
        n += 2;
    }
    Text::from_utf8(out).unwrap_or_default()
}

/// A FILETIME (100 ns ticks since 1601-01-01 UTC) as Windows renders it, seven fractional
/// digits: years past 9999 keep their last four digits, and a value past `i64::MAX`
/// renders as zeros.
fn filetime_text(ticks: u64) -> Text {
    const TICKS_PER_SEC: u64 = 10_000_000;
    const TICKS_PER_DAY: u64 = 86_400 * TICKS_PER_SEC;
    let mut out = *b"0000-00-00T00:00:00.0000000Z";
    if ticks <= i64::MAX as u64 {
        let (days, of_day) = (ticks / TICKS_PER_DAY, ticks % TICKS_PER_DAY);
        // Howard Hinnant's civil_from_days, counting from 0000-03-01, 584,694 days before
        // 1601-01-01, in 400-year eras of 146,097 days.
        let z = days + 584_694;
        let (era, doe) = (z / 146_097, z % 146_097);
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = era * 400 + yoe + u64::from(month <= 2);
        let secs = of_day / TICKS_PER_SEC;
        for (range, value) in [
            (0..4, year % 10_000),
            (5..7, month),
            (8..10, day),
            (11..13, secs / 3_600),
            (14..16, secs / 60 % 60),
            (17..19, secs % 60),
            (20..27, of_day % TICKS_PER_SEC),
        ] {
            let mut v = value;
            for b in out[range].iter_mut().rev() {
                *b = b'0' + (v % 10) as u8;
                v /= 10;
            }
        }
    }
    Text::from_utf8(out).unwrap_or_default()
}

/// The record's root instance's values, in place.
fn in_place<'c>(rec: &::evtx::EvtxRecord<'c>) -> Option<InPlace<'c>> {
    let (_, pos) = root_instance(rec)?;
    let end = usize::try_from(rec.binxml_offset + u64::from(rec.binxml_size)).ok()?;
    InPlace::at(rec.chunk.data, pos, end)
}

/// The record's root instance's values, deserialized by the evtx crate.
fn deserialized<'c>(rec: &::evtx::EvtxRecord<'c>) -> Option<Vec<BinXmlValue<'c>>> {
    let instances = rec.template_instances().ok()?;
    Some(instances.into_iter().next()?.values)
}

/// Values as the evtx crate deserializes them.
impl<'c> Values<'c> for Vec<BinXmlValue<'c>> {
    fn text(&self, i: u16) -> Option<Option<Text>> {
        value_text(self.get(usize::from(i))?)
    }
    fn fragment(&self, i: u16) -> Option<Option<&'c [u8]>> {
        match self.get(usize::from(i)) {
            None | Some(BinXmlValue::NullType) => Some(None),
            Some(BinXmlValue::BinXmlType(bytes)) => Some(Some(bytes)),
            Some(_) => None,
        }
    }
}

/// Values read where they lie in the chunk: each one's type and bytes, from the instance's
/// descriptor table (count u32, then size u16, type u8, padding u8 each); a value is decoded
/// only when the layout reads it. The evtx crate's own deserialization decodes every value
/// of the record, most of which the mapping never reads.
struct InPlace<'c> {
    values: Vec<(u8, &'c [u8])>,
}

impl<'c> InPlace<'c> {
    /// The instance whose descriptor table starts at `pos`; `None` when the table or a
    /// value runs past `end`, the record's end.
    fn at(data: &'c [u8], pos: usize, end: usize) -> Option<InPlace<'c>> {
        let data = data.get(..end)?;
        let count = u32_at(data, pos)? as usize;
        let table = pos.checked_add(4)?;
        let descriptors = data.get(table..table.checked_add(count.checked_mul(4)?)?)?;
        let mut at = table + count * 4;
        let mut values = Vec::with_capacity(count);
        for d in descriptors.chunks_exact(4) {
            let size = usize::from(u16::from_le_bytes([d[0], d[1]]));
            values.push((d[2], data.get(at..at + size)?));
            at += size;
        }
        Some(InPlace { values })
    }
}

impl<'c> Values<'c> for InPlace<'c> {
    fn text(&self, i: u16) -> Option<Option<Text>> {
        // A substitution the instance lacks is left to the evtx crate, as its values are.
        let &(kind, bytes) = self.values.get(usize::from(i))?;
        // A fixed-size value whose descriptor gives another size is left to the evtx crate.
        fn array<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
            bytes.try_into().ok()
        }
        // Written here as the evtx crate's renderer writes them: its `Display` renders into
        // a buffer of its own and then through `fmt`, most of the cost of a process start.
        let int = |n: i128| Some(Some(n.to_compact_string()));
        match kind {
            token::NULL => Some(None),
            token::STRING => {
                if bytes.len() % 2 != 0 {
                    return None;
                }
                // Cut at the first NUL, as the evtx crate reads a sized string.
                let units = bytes.chunks_exact(2).position(|u| u == [0, 0]);
                Some(Some(utf16_text(
                    &bytes[..units.map_or(bytes.len(), |n| n * 2)],
                )?))
            }
            token::INT8 => int(i8::from_le_bytes(array(bytes)?).into()),
            token::UINT8 => int(u8::from_le_bytes(array(bytes)?).into()),
            token::INT16 => int(i16::from_le_bytes(array(bytes)?).into()),
            token::UINT16 => int(u16::from_le_bytes(array(bytes)?).into()),
            token::INT32 => int(i32::from_le_bytes(array(bytes)?).into()),
            token::UINT32 => int(u32::from_le_bytes(array(bytes)?).into()),
            token::INT64 => int(i64::from_le_bytes(array(bytes)?).into()),
            token::UINT64 => int(u64::from_le_bytes(array(bytes)?).into()),
            // Windows writes bitmasks into some bool slots: any other value is its number.
            token::BOOL => match i32::from_le_bytes(array(bytes)?) {
                0 => Some(Some(Text::const_new("false"))),
                1 => Some(Some(Text::const_new("true"))),
                raw => int(raw.into()),
            },
            token::GUID => Some(Some(guid_text(&array(bytes)?))),
            token::FILETIME => Some(Some(filetime_text(u64::from_le_bytes(array(bytes)?)))),
            token::HEX_INT32 => {
                let v = u32::from_le_bytes(array(bytes)?);
                Some(Some(compact_str::format_compact!("0x{v:x}")))
            }
            token::HEX_INT64 => {
                let v = u64::from_le_bytes(array(bytes)?);
                Some(Some(compact_str::format_compact!("0x{v:x}")))
            }
            _ => None,
        }
    }

    fn fragment(&self, i: u16) -> Option<Option<&'c [u8]>> {
        match self.values.get(usize::from(i)) {
            None | Some(&(token::NULL, _)) => Some(None),
            Some(&(token::BINXML, bytes)) => Some(Some(bytes)),
            Some(_) => None,
        }
    }
}

/// A substitution value's text as the JSON renderer writes it and [`text_value`] reads it
/// back: `Some(None)` for a null, `None` for a type left to rendering (floats, arrays,
/// binary, nested BinXML) or a string that does not decode.
fn value_text(v: &BinXmlValue<'_>) -> Option<Option<Text>> {
    use BinXmlValue as V;
    Some(Some(match v {
        V::NullType => return Some(None),
        V::StringType(s) => {
            let text = utf16_text(s.as_bytes())?;
            if text.contains('\0') {
                return None;
            }
            text
        }
        V::AnsiStringType(s) if !s.contains('\0') => Text::from(*s),
        V::Int8Type(_)
        | V::UInt8Type(_)
        | V::Int16Type(_)
        | V::UInt16Type(_)
        | V::Int32Type(_)
        | V::UInt32Type(_)
        | V::Int64Type(_)
        | V::UInt64Type(_)
        | V::BoolType(_)
        | V::GuidType(_)
        | V::SizeTType(_)
        | V::FileTimeType(_)
        | V::SysTimeType(_)
        | V::SidType(_)
        | V::HexInt32Type(_)
        | V::HexInt64Type(_) => compact_str::ToCompactString::to_compact_string(v),
        _ => return None,
    }))
}

/// A number, or an object whose `#text` is one (when attributes are not separated).
fn number(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Object(o) => number(o.get("#text")),
        _ => None,
    }
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(o) => o.get("#text").and_then(text_of),
        _ => None,
    }
}

/// What the process-start mapping reads from a rendered record.
#[derive(Debug, Default, PartialEq)]
struct Record<'a> {
    event_id: u32,
    provider: Str<'a>,
    created: Option<Str<'a>>,
    computer: Str<'a>,
    /// `EventData`, in document order (the last of repeated names wins).
    fields: Vec<(Str<'a>, Str<'a>)>,
}

impl<'a> Record<'a> {
    /// From a parsed `Value` (the general path).
    fn from_value(data: &'a Value) -> Record<'a> {
        let event = &data["Event"];
        let system = &event["System"];
        let fields = match event.get("EventData") {
            Some(Value::Object(o)) => o
                .iter()
                .filter_map(|(k, v)| {
                    text_of(v).map(|t| (Str::Borrowed(k.as_str()), Str::Owned(Text::from(t))))
                })
                .collect(),
            _ => Vec::new(),
        };
        Record {
            event_id: number(system.get("EventID")).unwrap_or(0) as u32,
            provider: Str::Borrowed(
                system["Provider"]["#attributes"]["Name"]
                    .as_str()
                    .unwrap_or(""),
            ),
            created: system["TimeCreated"]["#attributes"]["SystemTime"]
                .as_str()
                .map(Str::Borrowed),
            computer: Str::Borrowed(system["Computer"].as_str().unwrap_or("")),
            fields,
        }
    }

    /// From the rendered text by the JSON walker, building nothing for the parts not read;
    /// `None` when the text is not JSON or holds a shape the walker leaves to `Value`.
    fn from_text(text: &'a str) -> Option<Record<'a>> {
        let mut r = Record::default();
        let mut c = Cursor::new(text);
        c.object(|c, k| match &*k {
            "Event" => c.object(|c, k| match &*k {
                "System" => c.object(|c, k| {
                    match &*k {
                        "EventID" => {
                            r.event_id = text_value(c)?
                                .and_then(|t| t.trim().parse::<u64>().ok())
                                .unwrap_or(0) as u32
                        }
                        "Provider" => r.provider = attribute(c, "Name")?.unwrap_or_default(),
                        "TimeCreated" => r.created = attribute(c, "SystemTime")?,
                        "Computer" => r.computer = string_value(c)?.unwrap_or_default(),
                        _ => c.skip_value()?,
                    }
                    Some(())
                }),
                "EventData" => c.object(|c, k| {
                    if let Some(t) = text_value(c)? {
                        r.fields.push((k, t));
                    }
                    Some(())
                }),
                _ => c.skip_value(),
            }),
            _ => c.skip_value(),
        })?;
        c.at_end().then_some(r)
    }
}

/// A string value (`None` for any other type), as `Value::as_str` reads it.
fn string_value<'a>(c: &mut Cursor<'a>) -> Option<Option<Str<'a>>> {
    Some(match c.leaf()? {
        Leaf(Some(s), LeafKind::Str) => Some(s),
        _ => None,
    })
}

/// `{"#attributes": {name: "..", ..}, ..}`: the named attribute when it is a string.
fn attribute<'a>(c: &mut Cursor<'a>, name: &str) -> Option<Option<Str<'a>>> {
    let mut out = None;
    c.object(|c, k| match &*k {
        "#attributes" => c.object(|c, k| {
            if *k == *name {
                out = string_value(c)?;
                Some(())
            } else {
                c.skip_value()
            }
        }),
        _ => c.skip_value(),
    })?;
    Some(out)
}

/// A value as [`text_of`] reads it: a string, a number or boolean as text, an object's
/// `#text`; `None` otherwise. A non-integer number is left to the `Value` path (whose
/// float formatting this does not copy).
fn text_value<'a>(c: &mut Cursor<'a>) -> Option<Option<Str<'a>>> {
    if c.peek()? == b'{' {
        let mut out = None;
        c.object(|c, k| {
            if &*k == "#text" {
                out = text_value(c)?;
                Some(())
            } else {
                c.skip_value()
            }
        })?;
        return Some(out);
    }
    match c.leaf()? {
        Leaf(Some(s), LeafKind::Number) if s.contains(['.', 'e', 'E']) => None,
        Leaf(Some(s), LeafKind::Str | LeafKind::Number | LeafKind::Bool) => Some(Some(s)),
        _ => Some(None),
    }
}

fn map_record(r: &Record<'_>, record_id: u64) -> Parsed {
    let id = match r.event_id {
        1 if r.provider.contains("Sysmon") => 1,
        4688 if r.provider.contains("Security-Auditing") || r.provider.is_empty() => 4688,
        _ => return Parsed::Skip(SkipReason::NotProcessStart),
    };
    let created = r.created.as_deref().and_then(parse_timestamp_ms);
    let get = |k: &str| {
        r.fields
            .iter()
            .rev()
            .find(|(name, _)| **name == *k)
            .map(|(_, v)| v.as_ref())
    };
    let parsed = from_event_data(id, &get, created);
    let Parsed::Event(mut ev) = parsed else {
        return parsed;
    };
    ev.event_id = compact_str::ToCompactString::to_compact_string(&record_id);
    ev.host_name = Text::from(&*r.computer);
    if ev.host_name.is_empty() {
        return Parsed::Skip(SkipReason::MissingField("Computer"));
    }
    Parsed::Event(ev)
}

pub(crate) fn parse_record(data: &Value, record_id: u64) -> Parsed {
    map_record(&Record::from_value(data), record_id)
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        /// Values read in place are written as the evtx crate writes them, whatever the
        /// bytes: every fixed-size type the in-place reader takes.
        #[test]
        fn in_place_values_are_written_as_evtx_writes_them(
            bytes in proptest::array::uniform16(proptest::num::u8::ANY),
            small in proptest::sample::select(vec![0u64, 1, 2, 9, 10, 0x7fff_ffff_ffff_ffff, 0x8000_0000_0000_0000, u64::MAX]),
            pick_small in proptest::bool::ANY,
        ) {
            use super::{token, value_text, InPlace, Values};
            use ::evtx::binxml::value_variant::{BinXmlValue as V, FileTime};
            let le8 = if pick_small { small.to_le_bytes() } else { bytes[..8].try_into().unwrap() };
            let u = u64::from_le_bytes(le8);
            let b4: [u8; 4] = le8[..4].try_into().unwrap();
            let cases: Vec<(u8, &[u8], V<'_>)> = vec![
                (token::INT8, &le8[..1], V::Int8Type(le8[0] as i8)),
                (token::UINT8, &le8[..1], V::UInt8Type(le8[0])),
                (token::INT16, &le8[..2], V::Int16Type(i16::from_le_bytes([le8[0], le8[1]]))),
                (token::UINT16, &le8[..2], V::UInt16Type(u16::from_le_bytes([le8[0], le8[1]]))),
                (token::INT32, &b4, V::Int32Type(i32::from_le_bytes(b4))),
                (token::UINT32, &b4, V::UInt32Type(u32::from_le_bytes(b4))),
                (token::INT64, &le8, V::Int64Type(u as i64)),
                (token::UINT64, &le8, V::UInt64Type(u)),
                (token::HEX_INT32, &b4, V::HexInt32Type(u32::from_le_bytes(b4))),
                (token::HEX_INT64, &le8, V::HexInt64Type(u)),
                (token::FILETIME, &le8, V::FileTimeType(FileTime(u))),
                (token::GUID, &bytes, V::GuidType(bytes)),
                (
                    token::BOOL,
                    &b4,
                    match i32::from_le_bytes(b4) {
                        0 => V::BoolType(false),
                        1 => V::BoolType(true),
                        raw => V::Int32Type(raw),
                    },
                ),
            ];
            for (kind, raw, value) in cases {
                let in_place = InPlace { values: vec![(kind, raw)] };
                proptest::prop_assert_eq!(in_place.text(0), value_text(&value), "{:?}", value);
            }
        }
    }

    /// The EVTX files of the shared real corpus; `None` (the test is skipped) without it.
    fn real_evtx_files() -> Option<Vec<std::path::PathBuf>> {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/real");
        if !dir.is_dir() {
            eprintln!("skipped: {} not found", dir.display());
            return None;
        }
        let files = crate::read::expand_paths(&[dir]).unwrap();
        Some(
            files
                .into_iter()
                .filter(|f| f.extension().is_some_and(|e| e == "evtx"))
                .collect(),
        )
    }

    /// On every record of the shared real EVTX files, the EventID read from the template
    /// substitutions is the rendered one, and a process start read through its template's
    /// layout is the rendered one; both hold for nearly all records.
    #[test]
    fn layouts_read_real_records_as_rendering_does() {
        use super::{deserialized, in_place, LaidOut, Layouts, Record};
        let Some(files) = real_evtx_files() else {
            return;
        };
        let settings = std::sync::Arc::new(::evtx::ParserSettings::new().num_threads(1));
        let (mut ids, mut rendered_only, mut laid_out, mut starts) = (0, 0, 0, 0);
        let (mut read_in_place, mut sysmon_starts) = (0, 0);
        for f in &files {
            let Ok(mut parser) = ::evtx::EvtxParser::from_path(f) else {
                continue;
            };
            for mut chunk in parser.chunks().flatten() {
                let Ok(mut chunk) = chunk.parse(settings.clone()) else {
                    continue;
                };
                let mut layouts = Layouts::default();
                for rec in chunk.iter().flatten() {
                    let read = layouts.event_id(&rec);
                    let direct = read
                        .as_ref()
                        .and_then(|(id, layout)| LaidOut::read(&rec, *id, layout, &mut layouts));
                    let json = rec.clone().into_json_bytes().unwrap();
                    let text = std::str::from_utf8(&json.data).unwrap();
                    let Some((id, _)) = read else {
                        rendered_only += 1;
                        continue;
                    };
                    ids += 1;
                    let rendered = Record::from_text(text).expect("walker reads evtx's JSON");
                    assert_eq!(u32::from(id), rendered.event_id, "{text}");
                    if id == 1 || id == 4688 {
                        starts += 1;
                        sysmon_starts += usize::from(id == 1);
                        // Values read in place give what the evtx crate's deserialized
                        // values give.
                        if let (Some((_, layout)), Some(values)) = (&read, in_place(&rec)) {
                            let in_chunk = LaidOut::read_from(
                                &rec,
                                id,
                                layout,
                                &mut layouts,
                                &values,
                                &in_place,
                            );
                            if let Some(in_chunk) = in_chunk {
                                read_in_place += 1;
                                let values = deserialized(&rec).expect("deserializes");
                                let by_evtx = LaidOut::read_from(
                                    &rec,
                                    id,
                                    layout,
                                    &mut layouts,
                                    &values,
                                    &deserialized,
                                );
                                assert_eq!(Some(in_chunk), by_evtx, "{text}");
                            }
                        }
                        if let Some(direct) = direct {
                            laid_out += 1;
                            let mut rendered = Record::from_text(text).unwrap();
                            rendered
                                .fields
                                .retain(|(k, _)| super::EVENT_DATA_FIELDS.contains(&&**k));
                            assert_eq!(direct.record(), rendered, "{}: {text}", f.display());
                        }
                    }
                }
            }
        }
        eprintln!("{ids} ids read, {rendered_only} left to rendering, {laid_out} of {starts} process starts laid out, {read_in_place} read in place");
        // Every Sysmon process start is read in place; 4688's SIDs are left to evtx.
        assert!(
            read_in_place >= sysmon_starts && sysmon_starts > 1_400,
            "{read_in_place} read in place, {sysmon_starts} Sysmon starts"
        );
        assert!(
            ids > 5_000,
            "{ids} ids read, {rendered_only} left to rendering"
        );
        assert!(
            rendered_only * 50 < ids,
            "{ids} read, {rendered_only} left to rendering"
        );
        assert!(
            starts > 1_500 && laid_out * 50 > starts * 49,
            "{laid_out} of {starts}"
        );
    }

    /// On every record of the shared real EVTX files, the walker reads what `Value` reads.
    #[test]
    fn walker_and_value_read_real_records_alike() {
        use super::{map_record, Record};
        let Some(files) = real_evtx_files() else {
            return;
        };
        let (mut compared, mut process) = (0, 0);
        for f in &files {
            let Ok(mut parser) = ::evtx::EvtxParser::from_path(f) else {
                continue;
            };
            for rec in parser.records_json().flatten() {
                let value: serde_json::Value = serde_json::from_str(&rec.data).unwrap();
                let slow = Record::from_value(&value);
                let fast = Record::from_text(&rec.data).expect("walker reads evtx's JSON");
                assert_eq!(fast, slow, "{}", rec.data);
                if let super::Parsed::Event(_) = map_record(&fast, rec.event_record_id) {
                    process += 1;
                }
                compared += 1;
            }
        }
        assert!(compared > 5_000, "{compared} records");
        assert!(process > 1_500, "{process} process starts");
    }
}
