//! Reading process starts from files, directories and archives in any supported format.
//!
//! Formats are detected from content, not from the extension: EVTX by its `ElfFile` magic,
//! gzip and zip by theirs (then the decompressed content is detected again), JSON lines by a
//! leading `{` or `[` (each line is ECS when it has no top-level `EventID`, NXLog flat JSON
//! otherwise), CSV by a header row that a column mapping recognises.
//!
//! Per-record problems never stop reading unless [`ReadOptions::strict`] is set: each is
//! skipped, counted by [`SkipReason`], and written to the quarantine file when one is given.

mod csv;
mod ecs;
mod ecs_typed;
mod evtx;
mod json;
mod nxlog;
mod windows;

pub use self::csv::CsvMapping;

use crate::error::{Error, Result};
use crate::event::{ProcessEvent, Text};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// Command lines and other strings longer than this are cut here: Windows itself limits a
/// command line to 32,767 characters, so anything longer is corrupt or hostile input.
pub const MAX_FIELD_CHARS: usize = 32_768;

/// Zip members are read into memory; refuse ones that would not fit (a zip bomb, or a file
/// better unpacked and streamed).
pub const MAX_ZIP_MEMBER_BYTES: u64 = 4 << 30;

/// What a file holds, as detected from its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputFormat {
    EcsNdjson,
    NxlogJson,
    Evtx,
    Csv,
    /// lotl's own Parquet layout (so every command that reads events takes it too).
    Parquet,
}

impl InputFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::EcsNdjson => "ecs-ndjson",
            InputFormat::NxlogJson => "nxlog-json",
            InputFormat::Evtx => "evtx",
            InputFormat::Csv => "csv",
            InputFormat::Parquet => "parquet",
        }
    }
}

/// Why a record was not kept.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// A valid event that is not a Windows process start (other event ids, network events...).
    NotProcessStart,
    /// An event from a host whose OS is not Windows.
    NotWindows,
    /// A line that is not valid JSON.
    InvalidJson,
    /// A CSV row that does not parse.
    InvalidCsv,
    /// An EVTX chunk or record that the parser could not read.
    CorruptEvtx,
    /// A process start without a field every record needs.
    MissingField(&'static str),
    /// A timestamp that does not parse.
    InvalidTimestamp,
    /// A file with no recognisable content.
    UnknownFormat,
}

impl SkipReason {
    /// Whether this is bad input (reported in strict mode) rather than an expected skip.
    pub fn is_defect(&self) -> bool {
        !matches!(self, SkipReason::NotProcessStart | SkipReason::NotWindows)
    }

    pub fn describe(&self) -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed(match self {
            SkipReason::NotProcessStart => "not a process start",
            SkipReason::NotWindows => "not a Windows host",
            SkipReason::InvalidJson => "invalid JSON",
            SkipReason::InvalidCsv => "invalid CSV row",
            SkipReason::CorruptEvtx => "corrupt EVTX chunk or record",
            SkipReason::MissingField(f) => return format!("missing {f}").into(),
            SkipReason::InvalidTimestamp => "invalid timestamp",
            SkipReason::UnknownFormat => "unknown file format",
        })
    }
}

/// Counts for one input format.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FormatStats {
    pub files: u64,
    /// Records seen (lines, EVTX records, CSV rows), good or bad.
    pub records: u64,
    /// Process starts kept.
    pub kept: u64,
    pub skipped: BTreeMap<String, u64>,
    /// Kept records in which a field longer than [`MAX_FIELD_CHARS`] was cut.
    pub truncated: u64,
    /// Kept records whose invalid UTF-8 bytes were replaced by U+FFFD.
    pub repaired_utf8: u64,
}

impl FormatStats {
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }
}

/// Counts per input format, and of kept records per event source.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReadStats {
    pub by_format: BTreeMap<InputFormat, FormatStats>,
    pub kept_by_source: BTreeMap<String, u64>,
    /// Files whose format could not be recognised.
    pub unknown_files: Vec<String>,
}

impl ReadStats {
    pub fn kept(&self) -> u64 {
        self.by_format.values().map(|s| s.kept).sum()
    }
}

/// How to read.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Fail on the first bad record (see [`SkipReason::is_defect`]).
    pub strict: bool,
    /// Write every defective record here as NDJSON: file, record number, reason, raw text.
    pub quarantine: Option<PathBuf>,
    /// Column mapping for CSV files; the MDE and canonical mappings are always tried.
    pub csv_mapping: Option<CsvMapping>,
    /// Threads the EVTX parser may use per file (0: all cores).
    pub evtx_threads: usize,
}

/// Events read and what happened on the way.
#[derive(Debug, Default)]
pub struct ReadOutcome {
    pub events: Vec<ProcessEvent>,
    pub stats: ReadStats,
}

/// The files `paths` name: files as given, directories walked recursively in sorted order
/// (hidden files and our own Parquet outputs skipped).
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| Error::io(p, e))?;
        if meta.is_dir() {
            let walker = walkdir::WalkDir::new(p).sort_by_file_name().into_iter();
            for entry in walker.filter_entry(|e| {
                e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.')
            }) {
                let entry = entry.map_err(|e| {
                    let path = e.path().map(Path::to_path_buf).unwrap_or_else(|| p.clone());
                    Error::io(path, e.into())
                })?;
                if entry.file_type().is_file() && is_candidate(entry.path()) {
                    files.push(entry.into_path());
                }
            }
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

/// Licence texts, READMEs and Parquet files sit beside data in real folders; they are not
/// event sources, and trying them would only add "unknown format" noise.
fn is_candidate(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    !(name.starts_with("license")
        || name.starts_with("readme")
        || name.starts_with("copying")
        || matches!(
            ext.as_str(),
            "md" | "parquet" | "txt" | "yml" | "yaml" | "toml" | "html"
        ))
}

/// Read every process start under `paths`. `progress` is called with the number of input
/// bytes finished after each file.
pub fn read_paths(paths: &[PathBuf], opts: &ReadOptions) -> Result<ReadOutcome> {
    read_paths_with_progress(paths, opts, &mut |_| {})
}

/// Events handed to a streaming sink at a time. Small, so that the strings of a batch are
/// freed and reused while still in cache: 32 Ki-event batches read 15 % slower.
pub const STREAM_BATCH: usize = 1_024;

/// What receives events while they are read: a batch at a time, in input order. The sink
/// may take the events out of the vector; whatever it leaves is dropped, and the vector's
/// memory is reused for the next batch.
pub type Sink<'s> = dyn FnMut(&mut Vec<ProcessEvent>) -> Result<()> + 's;

/// [`read_paths_with_progress`] in bounded memory: events go to `sink` in batches of
/// [`STREAM_BATCH`] instead of being collected; returns the counts.
pub fn read_paths_streaming(
    paths: &[PathBuf],
    opts: &ReadOptions,
    progress: &mut dyn FnMut(u64),
    sink: &mut Sink<'_>,
) -> Result<ReadStats> {
    Ok(read_all(paths, Reader::streaming(opts, sink)?, progress)?.stats)
}

/// [`read_paths`] with a progress callback (bytes of input files done so far).
pub fn read_paths_with_progress(
    paths: &[PathBuf],
    opts: &ReadOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<ReadOutcome> {
    read_all(paths, Reader::new(opts)?, progress)
}

/// Every file under `paths` through `reader`, reporting input bytes done after each file.
fn read_all(
    paths: &[PathBuf],
    mut reader: Reader<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<ReadOutcome> {
    let mut done = 0u64;
    for f in &expand_paths(paths)? {
        reader.read_file(f)?;
        done += std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
        progress(done);
    }
    reader.finish()
}

/// Read events from bytes in memory (any supported format, compressed or not); `name`
/// stands for the file name in counts, errors and the quarantine file.
pub fn read_bytes(name: &str, bytes: &[u8], opts: &ReadOptions) -> Result<ReadOutcome> {
    let mut reader = Reader::new(opts)?;
    reader.read_reader(Path::new(name), Box::new(std::io::Cursor::new(bytes)))?;
    reader.finish()
}

/// Total size in bytes of the files under `paths` (for progress bars).
pub fn total_input_bytes(paths: &[PathBuf]) -> Result<u64> {
    Ok(expand_paths(paths)?
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum())
}

/// Accumulates events (or streams them to a sink) and counts over many inputs.
pub struct Reader<'o> {
    opts: &'o ReadOptions,
    quarantine: Option<(PathBuf, tempfile::NamedTempFile, std::io::BufWriter<File>)>,
    out: ReadOutcome,
    sink: Option<&'o mut Sink<'o>>,
    /// The file being read, shared by all its events.
    file: Option<std::sync::Arc<str>>,
}

/// Where one record came from, for error messages and the quarantine file.
pub(crate) struct RecordCtx<'a> {
    pub file: &'a str,
    pub record: u64,
}

/// What a format parser gives back for one record. Boxed: from the parser to the batch
/// a record moves about ten times, and each move of its ~700 bytes cost more than the
/// allocation.
pub(crate) enum Parsed {
    Event(Box<ProcessEvent>),
    Skip(SkipReason),
}

/// One JSON record, as NXLog's flat layout or as ECS: a pure function of the text, so
/// batches of records parse in parallel.
fn parse_json_record(name: &str, record: u64, text: &str) -> (InputFormat, Parsed) {
    let ctx = RecordCtx { file: name, record };
    let mut doc = ecs_typed::Doc::default();
    let typed = ecs_typed::parse_doc_into(text, &mut doc).map(|()| &mut doc);
    if nxlog::is_nxlog(text, typed.as_ref().map(|d| d.top_level_event_id)) {
        (InputFormat::NxlogJson, nxlog::parse_line(text, &ctx))
    } else {
        (InputFormat::EcsNdjson, ecs::parse_line(text, typed))
    }
}

/// JSON lines waiting to be parsed together: their bytes end to end, and each line's record
/// number and byte range.
#[derive(Default)]
struct LineBatch {
    bytes: Vec<u8>,
    lines: Vec<(u64, std::ops::Range<usize>)>,
    /// Each line's format, parse and whether its UTF-8 was repaired; kept between batches
    /// so its memory is reused (freeing a buffer this size makes glibc consolidate its heap).
    parsed: Vec<(InputFormat, Parsed, bool)>,
}

impl LineBatch {
    /// Lines per batch: enough to keep every core busy, few enough to stay in cache.
    const LINES: usize = 2048;

    /// Take the bytes from `start` to the end as line `record`, trimmed; `false` (and the
    /// bytes dropped) when the line is blank.
    fn end_line(&mut self, record: u64, start: usize) -> bool {
        let line = &self.bytes[start..];
        let trimmed = trim_ascii(line);
        if trimmed.is_empty() {
            self.bytes.truncate(start);
            return false;
        }
        let offset = start + (trimmed.as_ptr() as usize - line.as_ptr() as usize);
        let range = offset..offset + trimmed.len();
        self.lines.push((record, range));
        true
    }

    fn is_full(&self) -> bool {
        self.lines.len() >= Self::LINES || self.bytes.len() >= 64 << 20
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.lines.clear();
    }
}

impl<'o> Reader<'o> {
    pub fn new(opts: &'o ReadOptions) -> Result<Reader<'o>> {
        let quarantine = match &opts.quarantine {
            None => None,
            Some(p) => {
                let dir = match p.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                let tmp = tempfile::Builder::new()
                    .prefix(".lotl-quarantine-")
                    .tempfile_in(&dir)
                    .map_err(|e| Error::io(&dir, e))?;
                let w = tmp.as_file().try_clone().map_err(|e| Error::io(p, e))?;
                Some((p.clone(), tmp, std::io::BufWriter::new(w)))
            }
        };
        Ok(Reader {
            opts,
            quarantine,
            out: ReadOutcome::default(),
            sink: None,
            file: None,
        })
    }

    /// A reader that hands events to `sink` in batches of [`STREAM_BATCH`]; the outcome of
    /// [`Reader::finish`] then holds only the counts.
    pub fn streaming(opts: &'o ReadOptions, sink: &'o mut Sink<'o>) -> Result<Reader<'o>> {
        let mut reader = Reader::new(opts)?;
        reader.out.events.reserve(STREAM_BATCH);
        reader.sink = Some(sink);
        Ok(reader)
    }

    /// Hand the events read so far to the sink, when streaming and `at_least` are waiting.
    fn drain(&mut self, at_least: usize) -> Result<()> {
        if let Some(sink) = &mut self.sink {
            if self.out.events.len() >= at_least.max(1) {
                sink(&mut self.out.events)?;
                self.out.events.clear();
            }
        }
        Ok(())
    }

    /// Read one file (or archive).
    pub fn read_file(&mut self, path: &Path) -> Result<()> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut magic = [0u8; 8];
        let n = read_up_to(&mut file, &mut magic).map_err(|e| Error::io(path, e))?;
        // Back to the start for format detection, which needs more than the magic. A source
        // that cannot seek (a named pipe) is read into memory behind the bytes taken.
        if std::io::Seek::rewind(&mut file).is_err() {
            let mut bytes = magic[..n].to_vec();
            file.read_to_end(&mut bytes)
                .map_err(|e| Error::io(path, e))?;
            return self.read_reader(path, Box::new(std::io::Cursor::new(bytes)));
        }
        if magic[..n] == *EVTX_MAGIC {
            // The parser reads the file a chunk at a time as it goes: a buffer of the whole
            // file cost a tenth of the reading time in page faults.
            return self.read_evtx(&path.display().to_string(), file);
        }
        self.read_reader(path, Box::new(file))
    }

    /// Read from any byte source; `path` names it.
    pub fn read_reader(&mut self, path: &Path, source: Box<dyn std::io::Read + '_>) -> Result<()> {
        let name = path.display().to_string();
        let mut buf = BufReader::with_capacity(1 << 20, source);
        let head = head_of(buf.fill_buf().map_err(|e| Error::io(path, e))?);
        if head.starts_with(b"PK\x03\x04") {
            let mut bytes = Vec::new();
            buf.read_to_end(&mut bytes)
                .map_err(|e| Error::io(path, e))?;
            return self.read_zip(path, &name, std::io::Cursor::new(bytes));
        }
        if head.starts_with(&[0x1f, 0x8b]) {
            let gz = flate2::read::MultiGzDecoder::new(buf);
            let inner = BufReader::with_capacity(1 << 20, gz);
            let inner_name = name.trim_end_matches(".gz").to_owned();
            return self.read_stream(path, &name, &inner_name, Box::new(inner));
        }
        self.read_stream(path, &name, &name, Box::new(buf))
    }

    fn read_zip(
        &mut self,
        path: &Path,
        name: &str,
        archive: std::io::Cursor<Vec<u8>>,
    ) -> Result<()> {
        let mut zip = zip::ZipArchive::new(archive).map_err(|e| Error::Format {
            path: path.to_owned(),
            message: format!("unreadable zip archive: {e}"),
        })?;
        for i in 0..zip.len() {
            let member = zip.by_index(i).map_err(|e| Error::Format {
                path: path.to_owned(),
                message: format!("zip member {i}: {e}"),
            })?;
            if member.is_dir() {
                continue;
            }
            let member_name = format!("{name}!{}", member.name());
            if !is_candidate(Path::new(member.name())) {
                continue;
            }
            if member.size() > MAX_ZIP_MEMBER_BYTES {
                return Err(Error::Format {
                    path: path.to_owned(),
                    message: format!(
                        "zip member {member_name} unpacks to {} bytes, over the {} byte limit; unpack it first",
                        member.size(),
                        MAX_ZIP_MEMBER_BYTES
                    ),
                });
            }
            // A zip member cannot be re-opened; read it into memory (EVTX needs random access
            // anyway), then detect its format like any file.
            let mut bytes = Vec::new();
            let mut member = member;
            member.read_to_end(&mut bytes).map_err(|e| Error::Format {
                path: path.to_owned(),
                message: format!("zip member {}: {e}", member_name),
            })?;
            let inner: Box<dyn BufRead> = if bytes.starts_with(&[0x1f, 0x8b]) {
                Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(
                    std::io::Cursor::new(bytes),
                )))
            } else {
                Box::new(std::io::Cursor::new(bytes))
            };
            self.read_stream(path, name, &member_name, inner)?;
        }
        Ok(())
    }

    /// Detect the format of a (decompressed) stream and parse it.
    fn read_stream(
        &mut self,
        path: &Path,
        outer_name: &str,
        name: &str,
        mut stream: Box<dyn BufRead + '_>,
    ) -> Result<()> {
        let head = head_of(stream.fill_buf().map_err(|e| Error::io(path, e))?);
        #[cfg(feature = "parquet")]
        if head.starts_with(b"PAR1") {
            let mut bytes = Vec::new();
            stream
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io(path, e))?;
            return self.read_parquet_bytes(path, bytes);
        }
        if head.starts_with(EVTX_MAGIC) {
            let mut bytes = Vec::new();
            stream
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io(path, e))?;
            return self.read_evtx(name, std::io::Cursor::new(bytes));
        }
        let first = head
            .iter()
            .copied()
            .find(|b| !b.is_ascii_whitespace() && *b != 0xEF && *b != 0xBB && *b != 0xBF);
        match first {
            Some(b'{') | Some(b'[') => self.read_json_lines(path, name, stream),
            Some(_) => {
                if csv::looks_like_csv(&head, self.opts.csv_mapping.as_ref()) {
                    self.stats(InputFormat::Csv).files += 1;
                    csv::read(self, path, name, stream)
                } else {
                    self.unknown(outer_name, name)
                }
            }
            None => {
                // An empty file holds no events; say so instead of silently passing it by.
                self.unknown(outer_name, name)
            }
        }
    }

    fn read_evtx<S: std::io::Read + std::io::Seek>(&mut self, name: &str, source: S) -> Result<()> {
        self.stats(InputFormat::Evtx).files += 1;
        evtx::read(self, name, source)
    }

    #[cfg(feature = "parquet")]
    fn read_parquet_bytes(&mut self, path: &Path, bytes: Vec<u8>) -> Result<()> {
        use polars::prelude::{ParquetReader, SerReader};
        let df = ParquetReader::new(std::io::Cursor::new(bytes))
            .finish()
            .map_err(|source| Error::Parquet {
                path: path.to_owned(),
                source,
            })?;
        let events = crate::parquet::from_dataframe(&df).map_err(|message| Error::Schema {
            path: path.to_owned(),
            message,
        })?;
        let n = events.len() as u64;
        let stats = self.stats(InputFormat::Parquet);
        stats.files += 1;
        stats.records += n;
        stats.kept += n;
        for e in &events {
            let source = e.source.map(|s| s.as_str()).unwrap_or("unknown");
            count(&mut self.out.stats.kept_by_source, source);
        }
        self.out.events.extend(events);
        self.drain(STREAM_BATCH)
    }

    fn unknown(&mut self, _outer: &str, name: &str) -> Result<()> {
        self.out.stats.unknown_files.push(name.to_owned());
        if self.opts.strict {
            return Err(Error::Strict {
                path: name.to_owned(),
                record: 0,
                reason: "empty file or unknown format (expected EVTX, JSON lines or CSV)".into(),
            });
        }
        Ok(())
    }

    /// JSON lines: each line is ECS or NXLog. A file that is one pretty-printed document or a
    /// JSON array is read whole as a stream of documents.
    fn read_json_lines(
        &mut self,
        path: &Path,
        name: &str,
        mut stream: Box<dyn BufRead + '_>,
    ) -> Result<()> {
        let mut record = 0u64;
        let mut counted: [bool; 2] = [false, false];
        let mut batch = LineBatch::default();
        // Lines are copied once, from the read buffer straight into the batch.
        let mut start = 0;
        loop {
            let buf = stream.fill_buf().map_err(|e| Error::io(path, e))?;
            let at_end = buf.is_empty();
            let newline = memchr::memchr(b'\n', buf);
            let used = newline.map_or(buf.len(), |p| p + 1);
            batch
                .bytes
                .extend_from_slice(&buf[..newline.unwrap_or(buf.len())]);
            stream.consume(used);
            if newline.is_none() && !(at_end && batch.bytes.len() > start) {
                if at_end {
                    break;
                }
                continue;
            }
            if !batch.end_line(record + 1, start) {
                if at_end {
                    break;
                }
                continue;
            }
            record += 1;
            if record == 1 {
                let range = batch.lines[0].1.clone();
                let first = &batch.bytes[range];
                if first == b"{" || first.starts_with(b"[") {
                    // Not one document per line: read the rest as a JSON document stream.
                    let mut rest = batch.bytes[start..].to_vec();
                    rest.push(b'\n');
                    stream
                        .read_to_end(&mut rest)
                        .map_err(|e| Error::io(path, e))?;
                    return self.read_json_documents(name, &rest);
                }
            }
            if batch.is_full() {
                self.json_batch(name, &mut batch, &mut counted)?;
            }
            start = batch.bytes.len();
            if at_end {
                break;
            }
        }
        self.json_batch(name, &mut batch, &mut counted)
    }

    /// Parse a batch of lines in parallel (on rayon's pool: one thread under
    /// `RAYON_NUM_THREADS=1`), then count and keep them in input order, so results, counts,
    /// quarantine and `--strict` errors are those of a sequential read.
    fn json_batch(
        &mut self,
        name: &str,
        batch: &mut LineBatch,
        counted: &mut [bool; 2],
    ) -> Result<()> {
        use rayon::prelude::*;
        let LineBatch {
            bytes,
            lines,
            parsed,
        } = batch;
        lines
            .par_iter()
            .map(|&(record, ref range)| {
                let bytes = &bytes[range.clone()];
                // Checked with SIMD: std's word-at-a-time check was a fortieth of reading.
                let (text, repaired) = match simdutf8::basic::from_utf8(bytes) {
                    Ok(s) => (std::borrow::Cow::Borrowed(s), false),
                    Err(_) => (String::from_utf8_lossy(bytes), true),
                };
                let (format, parsed) = parse_json_record(name, record, &text);
                (format, parsed, repaired)
            })
            .collect_into_vec(parsed);
        for ((format, parsed, repaired), (record, range)) in parsed.drain(..).zip(lines.iter()) {
            let ctx = RecordCtx {
                file: name,
                record: *record,
            };
            // The text is needed only to quarantine a skipped record.
            let raw = match parsed {
                Parsed::Skip(_) => String::from_utf8_lossy(&bytes[range.clone()]),
                Parsed::Event(_) => std::borrow::Cow::Borrowed(""),
            };
            self.keep_json(&ctx, format, parsed, &raw, repaired, counted)?;
        }
        batch.clear();
        Ok(())
    }

    fn read_json_documents(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let text = String::from_utf8_lossy(bytes);
        let mut counted = [false, false];
        let trimmed = text.trim_start();
        let mut record = 0u64;
        if trimmed.starts_with('[') {
            match serde_json::from_str::<Vec<serde_json::Value>>(trimmed) {
                Ok(docs) => {
                    for d in docs {
                        record += 1;
                        let s = d.to_string();
                        self.json_record(name, record, &s, false, &mut counted)?;
                    }
                }
                Err(e) => {
                    self.stats(InputFormat::EcsNdjson).files += 1;
                    self.record_seen(InputFormat::EcsNdjson);
                    let ctx = RecordCtx {
                        file: name,
                        record: 1,
                    };
                    self.skip(
                        InputFormat::EcsNdjson,
                        &ctx,
                        SkipReason::InvalidJson,
                        &format!("{e}"),
                    )?;
                }
            }
            return Ok(());
        }
        let stream = serde_json::Deserializer::from_str(trimmed).into_iter::<serde_json::Value>();
        for doc in stream {
            record += 1;
            match doc {
                Ok(d) => {
                    let s = d.to_string();
                    self.json_record(name, record, &s, false, &mut counted)?;
                }
                Err(e) => {
                    if !counted[0] {
                        self.stats(InputFormat::EcsNdjson).files += 1;
                    }
                    self.record_seen(InputFormat::EcsNdjson);
                    let ctx = RecordCtx { file: name, record };
                    self.skip(
                        InputFormat::EcsNdjson,
                        &ctx,
                        SkipReason::InvalidJson,
                        &format!("{e}"),
                    )?;
                    break;
                }
            }
        }
        Ok(())
    }

    fn json_record(
        &mut self,
        name: &str,
        record: u64,
        text: &str,
        repaired: bool,
        counted: &mut [bool; 2],
    ) -> Result<()> {
        let (format, parsed) = parse_json_record(name, record, text);
        let ctx = RecordCtx { file: name, record };
        self.keep_json(&ctx, format, parsed, text, repaired, counted)
    }

    /// Count a parsed JSON record (and its file, once per format) and keep or skip it.
    fn keep_json(
        &mut self,
        ctx: &RecordCtx<'_>,
        format: InputFormat,
        parsed: Parsed,
        text: &str,
        repaired: bool,
        counted: &mut [bool; 2],
    ) -> Result<()> {
        let slot = usize::from(format == InputFormat::NxlogJson);
        if !counted[slot] {
            counted[slot] = true;
            self.stats(format).files += 1;
        }
        self.accept(format, ctx, parsed, text, repaired)
    }

    pub(crate) fn evtx_threads(&self) -> usize {
        self.opts.evtx_threads
    }

    fn opts_csv_mapping(&self) -> Option<CsvMapping> {
        self.opts.csv_mapping.clone()
    }

    pub(crate) fn stats(&mut self, format: InputFormat) -> &mut FormatStats {
        self.out.stats.by_format.entry(format).or_default()
    }

    pub(crate) fn record_seen(&mut self, format: InputFormat) {
        self.stats(format).records += 1;
    }

    /// Count a record and keep or skip it.
    pub(crate) fn accept(
        &mut self,
        format: InputFormat,
        ctx: &RecordCtx<'_>,
        parsed: Parsed,
        raw: &str,
        repaired: bool,
    ) -> Result<()> {
        self.record_seen(format);
        match parsed {
            Parsed::Event(mut ev) => {
                if repaired {
                    if self.opts.strict {
                        return Err(Error::Strict {
                            path: ctx.file.to_owned(),
                            record: ctx.record,
                            reason: "invalid UTF-8".into(),
                        });
                    }
                    self.stats(format).repaired_utf8 += 1;
                }
                if truncate_long_fields(&mut ev) {
                    self.stats(format).truncated += 1;
                }
                if ev.source_file.is_none() {
                    let file = match &self.file {
                        Some(f) if **f == *ctx.file => f.clone(),
                        _ => self.file.insert(ctx.file.into()).clone(),
                    };
                    ev.source_file = Some(file);
                }
                if ev.event_id.is_empty() {
                    // No id in the source: the file and record number identify it uniquely.
                    let base = ctx.file.rsplit(['/', '\\']).next().unwrap_or(ctx.file);
                    ev.event_id = compact_str::format_compact!("{base}#{}", ctx.record);
                }
                ev.complete();
                let source = ev.source.map(|s| s.as_str()).unwrap_or("unknown");
                count(&mut self.out.stats.kept_by_source, source);
                self.stats(format).kept += 1;
                self.out.events.push(*ev);
                self.drain(STREAM_BATCH)
            }
            Parsed::Skip(reason) => self.skip(format, ctx, reason, raw),
        }
    }

    pub(crate) fn skip(
        &mut self,
        format: InputFormat,
        ctx: &RecordCtx<'_>,
        reason: SkipReason,
        raw: &str,
    ) -> Result<()> {
        if reason.is_defect() {
            if self.opts.strict {
                return Err(Error::Strict {
                    path: ctx.file.to_owned(),
                    record: ctx.record,
                    reason: reason.describe().into_owned(),
                });
            }
            if let Some((_, _, w)) = &mut self.quarantine {
                let mut cut = raw;
                if cut.len() > 1 << 16 {
                    let mut end = 1 << 16;
                    while !cut.is_char_boundary(end) {
                        end -= 1;
                    }
                    cut = &cut[..end];
                }
                let line = serde_json::json!({
                    "file": ctx.file,
                    "record": ctx.record,
                    "format": format.as_str(),
                    "reason": reason.describe(),
                    "raw": cut,
                });
                let qpath = self.opts.quarantine.clone().unwrap_or_default();
                writeln!(w, "{line}").map_err(|e| Error::io(qpath, e))?;
            }
        }
        count(&mut self.stats(format).skipped, &reason.describe());
        Ok(())
    }

    /// Finish: move the quarantine file into place, return events and counts.
    pub fn finish(mut self) -> Result<ReadOutcome> {
        self.drain(1)?;
        if let Some((path, tmp, mut w)) = self.quarantine.take() {
            w.flush().map_err(|e| Error::io(&path, e))?;
            drop(w);
            tmp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
        }
        Ok(std::mem::take(&mut self.out))
    }
}

const EVTX_MAGIC: &[u8; 8] = b"ElfFile\0";

/// One more under `key`; the key is allocated only the first time it is seen (this runs
/// once per record).
fn count(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_owned(), 1);
        }
    }
}

/// The start of a stream, for format detection: enough for every magic number and a CSV
/// header line, without copying a whole read buffer.
fn head_of(buffered: &[u8]) -> Vec<u8> {
    buffered[..buffered.len().min(64 << 10)].to_vec()
}

/// Fill `buf` as far as the source allows (a short read is not the end of a file).
fn read_up_to(source: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match source.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

fn truncate(s: &mut Option<Text>) -> bool {
    match s {
        Some(v) if v.len() > MAX_FIELD_CHARS => {
            let mut end = MAX_FIELD_CHARS;
            while !v.is_char_boundary(end) {
                end -= 1;
            }
            v.truncate(end);
            true
        }
        _ => false,
    }
}

fn truncate_long_fields(ev: &mut ProcessEvent) -> bool {
    let mut cut = false;
    for f in [
        &mut ev.process_command_line,
        &mut ev.parent_command_line,
        &mut ev.process_executable,
        &mut ev.parent_executable,
        &mut ev.process_name,
        &mut ev.parent_name,
    ] {
        cut |= truncate(f);
    }
    let total: usize = ev.process_args.iter().map(Text::len).sum();
    if total > MAX_FIELD_CHARS {
        ev.process_args.clear();
        cut = true;
    }
    cut
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`, the shape nearly every ECS shipper writes, without
/// chrono's general parser; anything else (offsets, out-of-range fields) is left to it.
fn parse_utc_z_fast(b: &[u8]) -> Option<i64> {
    fn num(b: &[u8]) -> Option<i64> {
        b.iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    }
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' || *b.last()? != b'Z' {
        return None;
    }
    let (y, mo, d) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
    let (h, mi, sec) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    let frac = &b[19..b.len() - 1];
    let ms = match frac {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let mut v = num(digits)?;
            for _ in digits.len()..3 {
                v *= 10;
            }
            for _ in 3..digits.len() {
                v /= 10;
            }
            v
        }
        _ => return None,
    };
    if !(1..=12).contains(&mo) || h > 23 || mi > 59 || sec > 59 || d < 1 {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let dim = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if d > dim[(mo - 1) as usize] {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms)
}

/// Parse a timestamp in the shapes the sources use: RFC 3339 (`2020-09-21T07:15:45.860Z`),
/// `YYYY-MM-DD HH:MM:SS[.fff]` (UTC, as Sysmon's UtcTime and NXLog write it), MDE's
/// `2024-01-02T03:04:05.1234567Z`, or epoch milliseconds.
pub(crate) fn parse_timestamp_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(ms) = parse_utc_z_fast(s.as_bytes()) {
        return Some(ms);
    }
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.fZ",
        "%m/%d/%Y %I:%M:%S%.f %p",
        "%m/%d/%Y %H:%M:%S%.f",
    ] {
        if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some(dt.and_utc().timestamp_millis());
        }
    }
    if s.bytes().all(|b| b.is_ascii_digit()) && s.len() >= 10 {
        return s.parse::<i64>().ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A top-level `EventID` makes a line NXLog's; one nested in an ECS document does not.
    #[test]
    fn nxlog_is_told_by_a_top_level_event_id() {
        let ecs = r#"{"@timestamp":"2024-01-01T00:00:00Z","event":{"kind":"event","category":["process"],"type":["start"]},"host":{"name":"h"},"process":{"name":"a.exe","pid":1},"extra":{"EventID":1}}"#;
        let nxlog = r#"{"EventID":1,"SourceName":"Microsoft-Windows-Sysmon","Hostname":"h","EventTime":"2024-01-01 00:00:00","UtcTime":"2024-01-01 00:00:00.000","Image":"C:\\a.exe","CommandLine":"a.exe","ProcessId":1}"#;
        let out = read_bytes(
            "t.ndjson",
            format!("{ecs}\n{nxlog}\n").as_bytes(),
            &ReadOptions::default(),
        )
        .expect("read");
        let kept = |f: InputFormat| out.stats.by_format.get(&f).map_or(0, |s| s.kept);
        assert_eq!(kept(InputFormat::EcsNdjson), 1, "{:?}", out.stats);
        assert_eq!(kept(InputFormat::NxlogJson), 1, "{:?}", out.stats);
    }

    #[test]
    fn the_fast_timestamp_path_agrees_with_chrono() {
        for s in [
            "2020-09-21T07:15:45.860Z",
            "2024-02-29T23:59:59Z",
            "1999-12-31T00:00:00.1Z",
            "2024-01-02T03:04:05.1234567Z",
            "2100-03-01T12:00:00.999999999Z",
            "1969-07-20T20:17:40.5Z",
        ] {
            let want = chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_millis();
            assert_eq!(parse_utc_z_fast(s.as_bytes()), Some(want), "{s}");
        }
        for bad in [
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00+01:00",
            "2024-01-01T0a:00:00Z",
        ] {
            assert_eq!(parse_utc_z_fast(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            parse_timestamp_ms("2020-09-21T07:15:45.860Z"),
            Some(1_600_672_545_860)
        );
        assert_eq!(
            parse_timestamp_ms("2020-09-21 07:15:45.860"),
            Some(1_600_672_545_860)
        );
        assert_eq!(
            parse_timestamp_ms("2020-09-21T07:15:45.8600000Z"),
            Some(1_600_672_545_860)
        );
        assert_eq!(parse_timestamp_ms("yesterday"), None);
    }
}
