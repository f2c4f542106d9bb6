//! A small validating JSON walker for the readers' fast paths: it steps through a
//! document, hands the caller each key of the objects it descends into, borrows the
//! strings it keeps and checks (without copying) everything it skips. Every method returns
//! `None` on text that is not JSON, or on a shape the caller does not model, so callers fall
//! back to `serde_json::Value`.

use crate::event::Text;
use std::cell::RefCell;

/// A JSON string's text: borrowed from the document when it holds no escapes, else
/// unescaped into its own [`Text`] (inline up to 24 bytes), which a reader can keep as
/// the event's field without copying it again.
#[derive(Debug, Clone, Eq)]
pub(crate) enum Str<'a> {
    Borrowed(&'a str),
    Owned(Text),
}

impl Default for Str<'_> {
    fn default() -> Self {
        Str::Borrowed("")
    }
}

impl std::ops::Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Str::Borrowed(s) => s,
            Str::Owned(t) => t,
        }
    }
}

/// Equal by text, however held.
impl PartialEq for Str<'_> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl PartialEq<str> for Str<'_> {
    fn eq(&self, other: &str) -> bool {
        **self == *other
    }
}

impl From<Str<'_>> for Text {
    fn from(s: Str<'_>) -> Text {
        match s {
            Str::Borrowed(s) => Text::from(s),
            Str::Owned(t) => t,
        }
    }
}

/// A scalar leaf: strings borrowed when unescaped; numbers and booleans kept as their JSON
/// text; arrays, objects and null recorded as [`LeafKind::Other`].
#[derive(Debug, Default, Clone)]
pub(crate) struct Leaf<'a>(pub Option<Str<'a>>, pub LeafKind);

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
pub(crate) struct List<'a>(pub Option<Vec<Str<'a>>>);

/// Nesting deeper than this is refused (as serde_json refuses it), so a hostile document
/// cannot exhaust the stack.
const MAX_DEPTH: u32 = 128;

/// A position in a JSON text. Every method returns `None` on invalid JSON.
pub(crate) struct Cursor<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    depth: u32,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(text: &'a str) -> Cursor<'a> {
        Cursor {
            s: text,
            b: text.as_bytes(),
            i: 0,
            depth: 0,
        }
    }

    /// Whether only whitespace is left.
    pub(crate) fn at_end(&mut self) -> bool {
        self.ws();
        self.i == self.b.len()
    }

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
    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    #[inline]
    fn eat(&mut self, want: u8) -> Option<()> {
        (self.peek()? == want).then(|| self.i += 1)
    }

    /// An object lotl reads fields of: `f` is called with each key, positioned before its
    /// value, and must consume the value (members it does not read through
    /// [`Cursor::skip_member`]).
    pub(crate) fn fields(
        &mut self,
        mut f: impl FnMut(&mut Self, &str) -> Option<()>,
    ) -> Option<()> {
        self.object(|c, key| f(c, &key))
    }

    /// A member lotl does not read: validated and skipped. A dotted key (`"os.type"`) may
    /// flatten a field the typed view models, so it sends the document to the generic path.
    /// Checked here, not on every key: the keys lotl reads hold no dots.
    pub(crate) fn skip_member(&mut self, key: &str) -> Option<()> {
        if key.bytes().any(|b| b == b'.') {
            return None;
        }
        self.skip_value()
    }

    /// An object: `f` is called with each key, positioned before its value, and must
    /// consume the value.
    pub(crate) fn object(
        &mut self,
        mut f: impl FnMut(&mut Self, Str<'a>) -> Option<()>,
    ) -> Option<()> {
        self.container(b'{', b'}', |c| {
            if c.peek()? != b'"' {
                return None;
            }
            let key = c.string()?;
            c.eat(b':')?;
            f(c, key)
        })
    }

    fn array(&mut self, f: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.container(b'[', b']', f)
    }

    /// An object or array between `open` and `close`: `item` consumes each member.
    fn container(
        &mut self,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.eat(open)?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        if self.peek()? == close {
            self.i += 1;
            self.depth -= 1;
            return Some(());
        }
        loop {
            item(self)?;
            match self.peek()? {
                b',' => self.i += 1,
                c if c == close => {
                    self.i += 1;
                    self.depth -= 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string (the cursor on its opening quote), borrowed unless it holds escapes.
    #[inline(always)]
    fn string(&mut self) -> Option<Str<'a>> {
        let start = self.i + 1;
        let end = scan_string(self.b, start)?;
        if self.b[end] == b'"' {
            self.i = end + 1;
            // On character boundaries: both ends are ASCII.
            return Some(Str::Borrowed(&self.s[start..end]));
        }
        self.unescape(start)
    }

    /// The rest of [`Cursor::string`] for a string from `start` that holds escapes. Kept
    /// out of line: the escape-free path is most of the calls (every key) and stays small.
    /// The first run is scanned again while it is copied: cheaper than a call to copy it.
    /// Runs between escapes are copied sixteen bytes a step into a buffer with room to
    /// spare, then the write position moves back to the stop: a Windows path escapes
    /// every separator, and a call to copy each short run cost more than the run.
    #[inline(never)]
    fn unescape(&mut self, start: usize) -> Option<Str<'a>> {
        thread_local! {
            /// Unescaped text is built here, then copied once into a `Text` of its size.
            static UNESCAPED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        UNESCAPED.with_borrow_mut(|out| {
            let b = self.b;
            let (mut i, mut n) = copy_to_stop(b, start, out, 0)?;
            loop {
                if b[i] == b'"' {
                    self.i = i + 1;
                    // SAFETY: `out[..n]` holds runs of `self.s` (a `str`) cut at stops,
                    // which are ASCII, so each run starts and ends on a character
                    // boundary, and between runs ASCII bytes and `char::encode_utf8`
                    // output. Bytes a block copy wrote past a stop lie at or beyond the
                    // next write, so none of them is left inside `..n`.
                    let text = Text::from(unsafe { std::str::from_utf8_unchecked(&out[..n]) });
                    // A huge command line must not keep its buffer for the thread's life.
                    if out.len() > 1 << 20 {
                        *out = Vec::new();
                    }
                    return Some(Str::Owned(text));
                }
                let esc = *b.get(i + 1)?;
                i += 2;
                let byte = match esc {
                    b'"' | b'\\' | b'/' => esc,
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'u' => {
                        let (ch, used) = self.unicode_escape(i)?;
                        i += used;
                        reserve(out, n + 4);
                        n += ch.encode_utf8(&mut out[n..n + 4]).len();
                        (i, n) = copy_to_stop(b, i, out, n)?;
                        continue;
                    }
                    _ => return None,
                };
                reserve(out, n + 1);
                out[n] = byte;
                (i, n) = copy_to_stop(b, i, out, n + 1)?;
            }
        })
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
    #[inline(always)]
    pub(crate) fn leaf(&mut self) -> Option<Leaf<'a>> {
        Some(match self.peek()? {
            b'"' => Leaf(Some(self.string()?), LeafKind::Str),
            b't' => {
                self.literal("true")?;
                Leaf(Some(Str::Borrowed("true")), LeafKind::Bool)
            }
            b'f' => {
                self.literal("false")?;
                Leaf(Some(Str::Borrowed("false")), LeafKind::Bool)
            }
            b'n' => {
                self.literal("null")?;
                Leaf(None, LeafKind::Other)
            }
            b'{' | b'[' => {
                self.skip_value()?;
                Leaf(None, LeafKind::Other)
            }
            _ => Leaf(Some(Str::Borrowed(self.number()?)), LeafKind::Number),
        })
    }

    /// A string or an array of values (its strings kept), or null.
    pub(crate) fn list(&mut self) -> Option<List<'a>> {
        match self.peek()? {
            b'"' => Some(List(Some(vec![self.string()?]))),
            b'n' => {
                self.literal("null")?;
                Some(List(None))
            }
            b'[' => {
                // Room for a typical `process.args` without growing.
                let mut out = Vec::with_capacity(8);
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
    pub(crate) fn skip_value(&mut self) -> Option<()> {
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

/// Copy the string text from `b[i..]` to `out[n..]` up to its next stop (see
/// [`scan_string`]); returns where both positions stop. Whole sixteen-byte blocks are
/// copied and scanned in one step while they fit in `b` (`out` grows to hold them): the
/// bytes copied past the stop are overwritten by whatever follows.
#[inline(always)]
fn copy_to_stop(b: &[u8], mut i: usize, out: &mut Vec<u8>, mut n: usize) -> Option<(usize, usize)> {
    #[cfg(target_arch = "x86_64")]
    while let Some(block) = b.get(i..i + 16) {
        reserve(out, n + 16);
        out[n..n + 16].copy_from_slice(block);
        if let Some(at) = sse2::first_stop(block) {
            i += at;
            return (b[i] >= 0x20).then_some((i, n + at));
        }
        i += 16;
        n += 16;
    }
    let stop = scan_words(b, i)?;
    let len = stop - i;
    reserve(out, n + len);
    out[n..n + len].copy_from_slice(&b[i..stop]);
    Some((stop, n + len))
}

/// Make `out` at least `len` long (it is only ever written, never read past what was
/// written, so its length is its room).
#[inline(always)]
fn reserve(out: &mut Vec<u8>, len: usize) {
    if out.len() < len {
        grow(out, len);
    }
}

#[cold]
fn grow(out: &mut Vec<u8>, len: usize) {
    out.resize(len.max(256).next_power_of_two(), 0);
}

/// Where the string text from `from` stops: the index of the next `"` or `\`. `None` at the
/// end of input or on a raw control character, which JSON forbids inside strings.
#[inline(always)]
fn scan_string(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    #[cfg(target_arch = "x86_64")]
    while let Some(chunk) = b.get(i..i + 16) {
        if let Some(at) = sse2::first_stop(chunk) {
            i += at;
            return (b[i] >= 0x20).then_some(i);
        }
        i += 16;
    }
    scan_words(b, i)
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };

    /// Index of the first `"`, `\` or byte below 0x20 among 16 bytes. Sixteen bytes per
    /// step cover most strings of a document (keys, names, ids) in one.
    #[inline(always)]
    pub(super) fn first_stop(chunk: &[u8]) -> Option<usize> {
        if chunk.len() < 16 {
            return None;
        }
        // SAFETY: SSE2 is part of the x86_64 baseline, and the load reads the 16 bytes of
        // `chunk`, whose length was checked above (`loadu` needs no alignment).
        let mask = unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast());
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // v <= 0x1f (unsigned) exactly when max(v, 0x1f) == 0x1f.
            let control = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control))
        };
        (mask != 0).then(|| mask.trailing_zeros() as usize)
    }
}

/// [`scan_string`] eight bytes at a time (the tail under 16 bytes, other architectures).
#[inline(always)]
fn scan_words(b: &[u8], from: usize) -> Option<usize> {
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

#[cfg(test)]
mod tests {
    use super::{scan_string, Cursor, Leaf, LeafKind};
    use proptest::prelude::Strategy;

    proptest::proptest! {
        /// The vector and word-at-a-time scans find what a byte loop finds, wherever they
        /// start (stops are rare, so that long runs reach every step width).
        #[test]
        fn scan_matches_a_byte_loop(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    12 => proptest::sample::select(vec![b'a', 0x20, 0x7f, 0x80, 0xff, b'0', 0x9f, 0xdc]),
                    1 => proptest::sample::select(vec![b'"', b'\\', 0x1f, 0x00, 0x0a]),
                ],
                0..80,
            ),
            from in 0usize..80,
        ) {
            let naive = bytes.iter().enumerate().skip(from).find_map(|(i, &c)| match c {
                b'"' | b'\\' => Some(Some(i)),
                c if c < 0x20 => Some(None),
                _ => None,
            }).flatten();
            proptest::prop_assert_eq!(scan_string(&bytes, from), naive);
        }
    }

    proptest::proptest! {
        /// A string of runs and escapes (runs long enough to cross the sixteen-byte blocks,
        /// escapes that lengthen nothing, invalid ones) reads as serde_json reads it, and
        /// is refused where serde_json refuses it.
        #[test]
        fn strings_read_as_serde_json_reads_them(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    (0usize..40).prop_map(|n| "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN"[..n].to_string()),
                    proptest::sample::select(vec![
                        "\\\\", "\\\"", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u00e9",
                        "\\u0041", "\\ud83d\\ude00", "\u{e9}", "\u{1F600}", "\\x", "\\ud83d", "\t",
                    ]).prop_map(str::to_string),
                ],
                0..12,
            ),
            tail in 0usize..20,
        ) {
            let text = format!("\"{}\"{}", pieces.concat(), " ".repeat(tail));
            let ours = match Cursor::new(&text).leaf() {
                Some(Leaf(Some(s), LeafKind::Str)) => Some(s.to_string()),
                _ => None,
            };
            let theirs = serde_json::from_str::<String>(&text).ok();
            proptest::prop_assert_eq!(ours, theirs, "{}", text);
        }
    }
}
