//! The one Parquet layout of canonical events.
//!
//! Columns, in order (ECS dotted names; types are Arrow/Polars):
//!
//! | column | type | [`ProcessEvent`] field |
//! |---|---|---|
//! | `@timestamp` | Datetime(ms, UTC) | `timestamp_ms` |
//! | `event.id` | String | `event_id` |
//! | `host.name` | String | `host_name` |
//! | `host.id` | String? | `host_id` |
//! | `event.source` | String? (`sysmon-1`, `security-4688`, `elastic-defend`, `winlogbeat`, `mde`, `synthetic`) | `source` |
//! | `event.action` | String? | `event_action` |
//! | `process.pid` | Int64? | `process_pid` |
//! | `process.entity_id` | String? | `process_entity_id` |
//! | `process.name` | String? | `process_name` |
//! | `process.executable` | String? | `process_executable` |
//! | `process.command_line` | String? | `process_command_line` |
//! | `process.args` | List(String) | `process_args` |
//! | `process.pe.original_file_name` | String? | `process_pe_original_file_name` |
//! | `process.code_signature.exists` | Boolean? | `process_code_signature_exists` |
//! | `process.code_signature.trusted` | Boolean? | `process_code_signature_trusted` |
//! | `process.code_signature.subject_name` | String? | `process_code_signature_subject` |
//! | `process.Ext.token.integrity_level_name` | String? | `integrity_level` |
//! | `process.Ext.token.elevation_type` | String? | `elevation_type` |
//! | `process.Ext.token.elevation` | Boolean? | `elevated` |
//! | `process.parent.pid` | Int64? | `parent_pid` |
//! | `process.parent.entity_id` | String? | `parent_entity_id` |
//! | `process.parent.name` | String? | `parent_name` |
//! | `process.parent.executable` | String? | `parent_executable` |
//! | `process.parent.command_line` | String? | `parent_command_line` |
//! | `user.name` | String? | `user_name` |
//! | `user.domain` | String? | `user_domain` |
//! | `user.id` | String? | `user_id` |
//! | `lotl.source_file` | String? | `source_file` |
//! | `lotl.label` | String? (`benign`, `malicious`, `unknown`) | `label` |
//! | `lotl.scenario_id` | String? | `scenario_id` |
//! | `lotl.technique` | String? | `technique` |
//! | `lotl.family` | String? | `family` |
//!
//! Files carry the key-value metadata `lotl.schema = events/1`. Readers require every column
//! above and ignore extra ones, so later stages (`lotl predict`) can append columns.

use crate::error::{Error, Result};
use crate::event::{EventSource, Label, ProcessEvent, Text};
use polars::io::parquet::write::BatchedWriter;
use polars::prelude::*;
use rayon::prelude::*;
use std::path::Path;
use std::sync::Arc;

mod dictionary_pages;

/// Schema identifier written into each file's key-value metadata.
pub const SCHEMA_VERSION: &str = "events/1";

pub use crate::event::COLUMNS;

fn str_col<'a>(
    name: &str,
    events: &[&'a ProcessEvent],
    f: impl Fn(&'a ProcessEvent) -> Option<&'a str>,
) -> Column {
    let ca: StringChunked = events.iter().map(|&e| f(e)).collect();
    ca.with_name(name.into()).into_column()
}

fn i64_col(
    name: &str,
    events: &[&ProcessEvent],
    f: impl Fn(&ProcessEvent) -> Option<i64>,
) -> Column {
    let ca: Int64Chunked = events.iter().map(|&e| f(e)).collect();
    ca.with_name(name.into()).into_column()
}

fn bool_col(
    name: &str,
    events: &[&ProcessEvent],
    f: impl Fn(&ProcessEvent) -> Option<bool>,
) -> Column {
    let ca: BooleanChunked = events.iter().map(|&e| f(e)).collect();
    ca.with_name(name.into()).into_column()
}

/// Events as a polars frame with the documented columns; the events themselves or
/// references to them (of scored events, say: no copy).
pub fn to_dataframe<E: std::borrow::Borrow<ProcessEvent>>(events: &[E]) -> PolarsResult<DataFrame> {
    let events: Vec<&ProcessEvent> = events.iter().map(E::borrow).collect();
    let events = events.as_slice();
    let ts: Int64Chunked = events.iter().map(|e| Some(e.timestamp_ms)).collect();
    let ts = ts
        .with_name(COLUMNS[0].into())
        .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
        .into_column();
    let mut args = ListStringChunkedBuilder::new(
        "process.args".into(),
        events.len(),
        events.iter().map(|e| e.process_args.len()).sum(),
    );
    for e in events {
        args.append_values_iter(e.process_args.iter().map(Text::as_str));
    }
    let columns = vec![
        ts,
        str_col("event.id", events, |e| Some(e.event_id.as_str())),
        str_col("host.name", events, |e| Some(e.host_name.as_str())),
        str_col("host.id", events, |e| e.host_id.as_deref()),
        str_col("event.source", events, |e| {
            e.source.map(EventSource::as_str)
        }),
        str_col("event.action", events, |e| e.event_action.as_deref()),
        i64_col("process.pid", events, |e| e.process_pid),
        str_col("process.entity_id", events, |e| {
            e.process_entity_id.as_deref()
        }),
        str_col("process.name", events, |e| e.process_name.as_deref()),
        str_col("process.executable", events, |e| {
            e.process_executable.as_deref()
        }),
        str_col("process.command_line", events, |e| {
            e.process_command_line.as_deref()
        }),
        args.finish().into_column(),
        str_col("process.pe.original_file_name", events, |e| {
            e.process_pe_original_file_name.as_deref()
        }),
        bool_col("process.code_signature.exists", events, |e| {
            e.process_code_signature_exists
        }),
        bool_col("process.code_signature.trusted", events, |e| {
            e.process_code_signature_trusted
        }),
        str_col("process.code_signature.subject_name", events, |e| {
            e.process_code_signature_subject.as_deref()
        }),
        str_col("process.Ext.token.integrity_level_name", events, |e| {
            e.integrity_level.as_deref()
        }),
        str_col("process.Ext.token.elevation_type", events, |e| {
            e.elevation_type.as_deref()
        }),
        bool_col("process.Ext.token.elevation", events, |e| e.elevated),
        i64_col("process.parent.pid", events, |e| e.parent_pid),
        str_col("process.parent.entity_id", events, |e| {
            e.parent_entity_id.as_deref()
        }),
        str_col("process.parent.name", events, |e| e.parent_name.as_deref()),
        str_col("process.parent.executable", events, |e| {
            e.parent_executable.as_deref()
        }),
        str_col("process.parent.command_line", events, |e| {
            e.parent_command_line.as_deref()
        }),
        str_col("user.name", events, |e| e.user_name.as_deref()),
        str_col("user.domain", events, |e| e.user_domain.as_deref()),
        str_col("user.id", events, |e| e.user_id.as_deref()),
        str_col("lotl.source_file", events, |e| e.source_file.as_deref()),
        str_col("lotl.label", events, |e| e.label.map(Label::as_str)),
        str_col("lotl.scenario_id", events, |e| e.scenario_id.as_deref()),
        str_col("lotl.technique", events, |e| e.technique.as_deref()),
        str_col("lotl.family", events, |e| e.family.as_deref()),
    ];
    DataFrame::new(events.len(), columns)
}

/// Write `frame` to `path` atomically: a temp file in the same directory, then a rename, so
/// a crash never leaves a half-written file and an existing file stays intact until then.
pub fn write_frame_atomic(path: &Path, frame: &mut DataFrame) -> Result<()> {
    write_batches_atomic(path, std::iter::once(Ok(std::mem::take(frame))), true)
}

/// Rows per row group when a table is written in batches.
pub const BATCH_ROWS: usize = 32_768;

/// Write frames of one schema as consecutive row groups of one Parquet file, atomically
/// (see [`write_frame_atomic`]). Only one batch is materialised at a time, so a wide table
/// is written in bounded memory; an error in any batch leaves no file behind. `statistics`:
/// per-row-group min/max/null counts, which let readers skip row groups by value (events
/// by time) but cost a fifth of the write time of a wide table nobody filters by value.
pub fn write_batches_atomic(
    path: &Path,
    batches: impl Iterator<Item = PolarsResult<DataFrame>>,
    statistics: bool,
) -> Result<()> {
    let mut writer = BatchWriter::new(path, statistics);
    for frame in batches {
        let mut frame = frame.map_err(|source| Error::Parquet {
            path: path.to_owned(),
            source,
        })?;
        writer.write(&mut frame)?;
    }
    writer.finish()
}

/// A Parquet file written one row group batch at a time, atomically: nothing appears at
/// the path until [`BatchWriter::finish`]; dropping the writer before then (an error, a
/// crash) leaves any existing file untouched. The file is created at the first batch, so a
/// writer that receives none creates nothing and `finish` reports it.
pub struct BatchWriter {
    path: std::path::PathBuf,
    statistics: bool,
    open: Option<(tempfile::NamedTempFile, BatchedWriter<FileOut>)>,
    /// How [`BatchWriter::write_arrays`] encodes, derived at its first call.
    layout: Option<ArrayLayout>,
    rows: usize,
}

/// A file's Arrow schema and how each column is encoded, for writing arrays.
struct ArrayLayout {
    arrow: ArrowSchema,
    encodings: Vec<Vec<polars_parquet::write::Encoding>>,
    fields: Vec<polars_parquet::parquet::schema::types::ParquetType>,
    options: polars_parquet::write::WriteOptions,
}

impl ArrayLayout {
    /// The layout of `schema` as `writer` (created with it) writes it.
    fn new(
        schema: &Schema,
        writer: &mut BatchedWriter<FileOut>,
        statistics: bool,
    ) -> PolarsResult<Self> {
        use polars_parquet::write::{CompressionOptions, Version, WriteOptions};
        let arrow = polars::io::schema_to_arrow_checked(schema, CompatLevel::newest(), "parquet")?;
        let encodings = polars::io::parquet::write::get_encodings(&arrow).to_vec();
        let fields = writer.parquet_schema().fields().to_vec();
        // As `create_batched` configures the file's writer.
        let options = WriteOptions {
            statistics: statistics_options(statistics),
            compression: CompressionOptions::Zstd(zstd_level()),
            version: Version::V1,
            data_page_size: None,
        };
        Ok(ArrayLayout {
            arrow,
            encodings,
            fields,
            options,
        })
    }

    /// An error unless `arrays` are `rows` rows of this layout's columns, in order.
    fn check(&self, rows: usize, arrays: &[ArrayRef]) -> PolarsResult<()> {
        if arrays.len() != self.fields.len() {
            polars_bail!(ShapeMismatch: "{} arrays for {} columns", arrays.len(), self.fields.len());
        }
        for (array, field) in arrays.iter().zip(self.arrow.iter_values()) {
            if array.len() != rows || !same_values(array.dtype(), field.dtype()) {
                polars_bail!(
                    SchemaMismatch: "column {}: {} rows of {:?} where the schema says {rows} of {:?}",
                    field.name,
                    array.len(),
                    array.dtype(),
                    field.dtype()
                );
            }
        }
        Ok(())
    }
}

/// Whether an array of type `array` holds the values of a column of type `column`: the
/// same type, or dictionaries of the same values whatever their keys' width (Parquet
/// stores keys by value; the file's schema says the column's key type).
fn same_values(array: &ArrowDataType, column: &ArrowDataType) -> bool {
    match (array, column) {
        (ArrowDataType::Dictionary(_, a, a_sorted), ArrowDataType::Dictionary(_, c, c_sorted)) => {
            a == c && a_sorted == c_sorted
        }
        _ => array == column,
    }
}

/// Row-group statistics, or none (feature matrices are read whole, never filtered).
fn statistics_options(statistics: bool) -> StatisticsOptions {
    if statistics {
        StatisticsOptions::default()
    } else {
        StatisticsOptions::empty()
    }
}

impl BatchWriter {
    pub fn new(path: &Path, statistics: bool) -> BatchWriter {
        BatchWriter {
            path: path.to_owned(),
            statistics,
            open: None,
            layout: None,
            rows: 0,
        }
    }

    /// Rows written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The file this writer writes (once finished).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append `frame` (every frame must have the first one's schema).
    pub fn write(&mut self, frame: &mut DataFrame) -> Result<()> {
        if self.open.is_none() {
            self.open = Some(create_batched(&self.path, self.statistics, frame.schema())?);
        }
        // Aligned chunks of at most 512 Ki rows, as `ParquetWriter::finish` writes them.
        let chunked = polars::frame::chunk_df_for_writing(frame, 512 * 512)
            .map_err(parquet_err(&self.path))?;
        if let Some((_, writer)) = &mut self.open {
            writer
                .write_batch(&chunked)
                .map_err(parquet_err(&self.path))?;
        }
        self.rows += frame.height();
        Ok(())
    }

    /// Append a row group of `rows` rows given as Arrow arrays laid out as `schema` (the
    /// first call's schema rules the file), each column encoded and compressed on its own
    /// worker. For callers holding Arrow arrays already: a dictionary array built from
    /// codes is written as it is, where polars' export of a categorical column remaps every
    /// value.
    pub fn write_arrays(
        &mut self,
        schema: &Schema,
        rows: usize,
        arrays: &[ArrayRef],
    ) -> Result<()> {
        use polars_parquet::parquet::error::ParquetError;
        use polars_parquet::write::{array_to_columns, Compressor};
        let err = parquet_err(&self.path);
        if self.open.is_none() {
            self.open = Some(create_batched(&self.path, self.statistics, schema)?);
        }
        let Some((_, writer)) = &mut self.open else {
            unreachable!("opened just above")
        };
        if self.layout.is_none() {
            self.layout = Some(ArrayLayout::new(schema, writer, self.statistics).map_err(&err)?);
        }
        let Some(layout) = &self.layout else {
            unreachable!("derived just above")
        };
        layout.check(rows, arrays).map_err(&err)?;
        if rows == 0 {
            // The file keeps the schema; Parquet has no use for an empty row group.
            return Ok(());
        }
        let options = layout.options;
        let columns: Vec<Vec<_>> = arrays
            .par_iter()
            .zip(layout.fields.par_iter())
            .zip(layout.encodings.par_iter())
            .map(|((array, field), encoding)| {
                if let Some(pages) = dictionary_pages::encode(array.as_ref(), field, &options)? {
                    return Ok(pages);
                }
                let mut pages = Vec::new();
                for leaf in array_to_columns(array, field.clone(), options, encoding)? {
                    let leaf = leaf.map(|page| {
                        page.map_err(|e| ParquetError::FeatureNotSupported(e.to_string()))
                    });
                    for page in Compressor::new(leaf, options.compression, Vec::new()) {
                        pages.push(page.map_err(PolarsError::from)?);
                    }
                }
                Ok(pages)
            })
            .collect::<PolarsResult<_>>()
            .map_err(&err)?;
        writer
            .write_row_group(rows as u64, &columns)
            .map_err(&err)?;
        self.rows += rows;
        Ok(())
    }

    /// Close the file and move it into place.
    pub fn finish(self) -> Result<()> {
        let Some((tmp, writer)) = self.open else {
            return Err(parquet_err(&self.path)(PolarsError::NoData(
                "no frame to write".into(),
            )));
        };
        writer.finish().map_err(parquet_err(&self.path))?;
        drop(writer);
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::io(tmp.path(), e))?;
        tmp.persist(&self.path)
            .map_err(|e| Error::io(&self.path, e.error))?;
        Ok(())
    }
}

/// A polars error while writing `path`.
fn parquet_err(path: &Path) -> impl Fn(PolarsError) -> Error + '_ {
    move |source| Error::Parquet {
        path: path.to_owned(),
        source,
    }
}

/// The zstd level of every file written: level 1 wrote a feature file in 5 % less time
/// than zstd's default (3), 2 % larger (72.0 against 70.4 MB for 703k events).
fn zstd_level() -> Option<polars_parquet::write::ZstdLevel> {
    polars_parquet::write::ZstdLevel::try_new(1).ok()
}

/// Where a batched writer writes: buffered, because the Parquet writer issues a write per
/// page header field and page (a million system calls for one 70 MB feature file, a
/// quarter of `lotl features`' time). The file's footer write flushes it, errors included.
type FileOut = std::io::BufWriter<std::fs::File>;

/// A temp file beside `path` and a batched Parquet writer on it.
fn create_batched(
    path: &Path,
    statistics: bool,
    schema: &Schema,
) -> Result<(tempfile::NamedTempFile, BatchedWriter<FileOut>)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".lotl-")
        .suffix(".parquet.tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    let file = tmp
        .as_file()
        .try_clone()
        .map_err(|e| Error::io(tmp.path(), e))?;
    let meta =
        KeyValueMetadata::from_static(vec![("lotl.schema".to_owned(), SCHEMA_VERSION.to_owned())]);
    let writer = ParquetWriter::new(std::io::BufWriter::with_capacity(1 << 20, file))
        .with_compression(ParquetCompression::Zstd(zstd_level()))
        .with_statistics(statistics_options(statistics))
        .with_key_value_metadata(Some(meta))
        .batched(schema)
        .map_err(parquet_err(path))?;
    Ok((tmp, writer))
}

/// `lotl ingest`: read every process start under `paths` into an events Parquet file at
/// `output`, a row group at a time, in bounded memory. Returns the counts and the number of
/// events written; with none, no file is written (and an existing one is left alone).
pub fn ingest(
    paths: &[std::path::PathBuf],
    opts: &crate::ReadOptions,
    output: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<(crate::ReadStats, usize)> {
    let mut writer = BatchWriter::new(output, true);
    // The reader hands over small batches (their strings are freed while still in cache);
    // their columns are gathered into row groups of BATCH_ROWS.
    let mut pending: Option<DataFrame> = None;
    let flush = |pending: &mut Option<DataFrame>, writer: &mut BatchWriter| match pending.take() {
        Some(mut frame) => writer.write(frame.rechunk_mut()),
        None => Ok(()),
    };
    let stats = crate::read::read_paths_streaming(paths, opts, progress, &mut |events| {
        let frame = to_dataframe(events).map_err(parquet_err(output))?;
        let rows = match &mut pending {
            Some(p) => p
                .vstack_mut_owned(frame)
                .map_err(parquet_err(output))?
                .height(),
            None => pending.insert(frame).height(),
        };
        if rows >= BATCH_ROWS {
            flush(&mut pending, &mut writer)?;
        }
        Ok(())
    })?;
    flush(&mut pending, &mut writer)?;
    let written = writer.rows();
    if written > 0 {
        writer.finish()?;
    }
    Ok((stats, written))
}

/// Write events to `path` (atomically; see [`write_frame_atomic`]), [`BATCH_ROWS`] events
/// per row group.
pub fn write_parquet(path: &Path, events: &[ProcessEvent]) -> Result<()> {
    // At least one batch, so that no events still make a file with the schema.
    let starts = (0..events.len().max(1)).step_by(BATCH_ROWS);
    let batches =
        starts.map(|start| to_dataframe(&events[start..(start + BATCH_ROWS).min(events.len())]));
    write_batches_atomic(path, batches, true)
}

fn open_reader(path: &Path) -> Result<ParquetReader<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(ParquetReader::new(file))
}

/// Read a whole Parquet file as a frame.
pub fn read_frame(path: &Path) -> Result<DataFrame> {
    open_reader(path)?.finish().map_err(parquet_err(path))
}

/// Columns `columns` of the rows `offset..offset + rows` of a Parquet file (those of the
/// columns the file has).
pub fn read_rows(path: &Path, offset: usize, rows: usize, columns: &[&str]) -> Result<DataFrame> {
    let mut footer = open_reader(path)?;
    let projection = present_columns(&mut footer, path, columns)?;
    footer
        .with_slice(Some((offset, rows)))
        .with_columns(Some(projection))
        .finish()
        .map_err(parquet_err(path))
}

/// Those of `columns` the file read by `reader` has.
fn present_columns(
    reader: &mut ParquetReader<std::fs::File>,
    path: &Path,
    columns: &[&str],
) -> Result<Vec<String>> {
    let schema = reader.schema().map_err(parquet_err(path))?;
    Ok(columns
        .iter()
        .filter(|c| schema.contains(c))
        .map(|c| c.to_string())
        .collect())
}

/// Rows of a Parquet file, from its footer.
pub fn parquet_rows(path: &Path) -> Result<usize> {
    open_reader(path)?.num_rows().map_err(parquet_err(path))
}

/// Rows of one read from a row group larger than this (and than the caller's minimum).
/// Slicing inside a row group costs polars some decoding again (page skipping), so slices
/// stay large; 128 Ki rows of events decode to ~60 MB.
const MAX_SLICE_ROWS: usize = 4 * BATCH_ROWS;

/// Read a Parquet file as frames of whole row groups, in file order, each at least
/// `min_rows` rows (but the last), a row group larger than both `min_rows` and 128 Ki rows
/// a slice at a time: a file is never held whole, only its current rows.
/// `each` may fail with its own error type; the read stops there. With `columns`, only
/// those of them the file has are decoded (a missing one is the caller's to report).
pub fn read_frames<E: From<Error>>(
    path: &Path,
    min_rows: usize,
    columns: Option<&[&str]>,
    each: &mut dyn FnMut(DataFrame) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let mut footer = open_reader(path)?;
    let metadata = footer.get_metadata().map_err(parquet_err(path))?.clone();
    let projection = columns
        .map(|columns| present_columns(&mut footer, path, columns))
        .transpose()?;
    let mut offset = 0usize;
    let mut groups = metadata.row_groups.iter().map(|g| g.num_rows()).peekable();
    while groups.peek().is_some() {
        let mut rows = 0usize;
        while rows < min_rows.max(1) {
            match groups.next() {
                Some(n) => rows += n,
                None => break,
            }
        }
        // Another writer's row group can be a whole file (pyarrow writes up to a million
        // rows per group): it is read a slice at a time, so its decoded columns are never
        // all held, and the memory freed after a slice serves the next.
        let end = offset + rows;
        while offset < end {
            let take = (end - offset).min(min_rows.max(MAX_SLICE_ROWS));
            let mut reader = open_reader(path)?
                .with_slice(Some((offset, take)))
                .with_columns(projection.clone());
            reader.set_metadata(metadata.clone());
            each(reader.finish().map_err(parquet_err(path))?)?;
            offset += take;
        }
    }
    Ok(())
}

/// Read events written by [`write_parquet`] (extra columns are ignored).
pub fn read_parquet(path: &Path) -> Result<Vec<ProcessEvent>> {
    from_dataframe(&read_frame(path)?).map_err(|message| Error::Schema {
        path: path.to_owned(),
        message,
    })
}

/// Events from a frame holding the documented columns.
pub fn from_dataframe(df: &DataFrame) -> std::result::Result<Vec<ProcessEvent>, String> {
    from_dataframe_at(df, 0, None)
}

/// [`from_dataframe`] of a slice whose first row is row `first_row` of its file: errors
/// name the file's row. With `columns`, only those columns (and `@timestamp`) are read; the
/// events' other fields are left missing, for callers that need no more (featurising).
pub fn from_dataframe_at(
    df: &DataFrame,
    first_row: usize,
    columns: Option<&[&str]>,
) -> std::result::Result<Vec<ProcessEvent>, String> {
    let wanted = |name: &str| columns.is_none_or(|c| c.contains(&name));
    let col = |name: &str| {
        df.column(name)
            .map_err(|_| format!("missing column `{name}`"))
    };
    // An unread column is an empty vector: every row's value missing, nothing allocated.
    let strs = |name: &str| -> std::result::Result<Vec<Option<Text>>, String> {
        if !wanted(name) {
            return Ok(Vec::new());
        }
        let c = col(name)?;
        // Other writers store repetitive strings as dictionaries (pandas' `category`).
        let decoded;
        let c = match c.dtype() {
            DataType::Categorical(..) | DataType::Enum(..) => {
                decoded = c
                    .cast(&DataType::String)
                    .map_err(|e| format!("column `{name}`: {e}"))?;
                &decoded
            }
            _ => c,
        };
        let ca = c
            .str()
            .map_err(|_| format!("column `{name}` is {}, expected String", c.dtype()))?;
        Ok(ca.iter().map(|v| v.map(Text::from)).collect())
    };
    let ints = |name: &str| -> std::result::Result<Vec<Option<i64>>, String> {
        if !wanted(name) {
            return Ok(Vec::new());
        }
        let c = col(name)?;
        let ca = c
            .i64()
            .map_err(|_| format!("column `{name}` is {}, expected Int64", c.dtype()))?;
        Ok(ca.iter().collect())
    };
    let bools = |name: &str| -> std::result::Result<Vec<Option<bool>>, String> {
        if !wanted(name) {
            return Ok(Vec::new());
        }
        let c = col(name)?;
        let ca = c
            .bool()
            .map_err(|_| format!("column `{name}` is {}, expected Boolean", c.dtype()))?;
        Ok(ca.iter().collect())
    };
    let ts_col = col("@timestamp")?;
    let ts: Vec<Option<i64>> = match ts_col.dtype() {
        DataType::Datetime(unit, _) => {
            let factor_div = match unit {
                TimeUnit::Milliseconds => 1,
                TimeUnit::Microseconds => 1_000,
                TimeUnit::Nanoseconds => 1_000_000,
            };
            let phys = ts_col.to_physical_repr();
            let ca = phys.i64().map_err(|e| e.to_string())?;
            ca.iter()
                .map(|v| v.map(|x| x.div_euclid(factor_div)))
                .collect()
        }
        DataType::Int64 => ts_col.i64().map_err(|e| e.to_string())?.iter().collect(),
        other => return Err(format!("column `@timestamp` is {other}, expected Datetime")),
    };
    let read_args = || -> std::result::Result<Vec<Vec<Text>>, String> {
        if !wanted("process.args") {
            return Ok(Vec::new());
        }
        let args_col = col("process.args")?;
        let args_ca = args_col.list().map_err(|_| {
            format!(
                "column `process.args` is {}, expected List(String)",
                args_col.dtype()
            )
        })?;
        // Straight from the Arrow offsets and strings: a series per row (`amortized_iter`)
        // cost more than the strings.
        let mut args: Vec<Vec<Text>> = Vec::with_capacity(df.height());
        for list in args_ca.downcast_iter() {
            let strings = list
                .values()
                .as_any()
                .downcast_ref::<polars_arrow::array::Utf8ViewArray>()
                .ok_or_else(|| "column `process.args` holds non-strings".to_owned())?;
            let offsets = list.offsets();
            for row in 0..list.len() {
                if !polars_arrow::array::Array::is_valid(list, row) {
                    args.push(Vec::new());
                    continue;
                }
                let (start, end) = offsets.start_end(row);
                args.push(
                    (start..end)
                        .filter_map(|i| strings.get(i))
                        .map(Text::from)
                        .collect(),
                );
            }
        }
        Ok(args)
    };
    // The text columns are converted in parallel: one column of a million events is a
    // million small strings.
    let text_columns = [
        "event.id",
        "host.name",
        "host.id",
        "event.source",
        "event.action",
        "process.entity_id",
        "process.name",
        "process.executable",
        "process.command_line",
        "process.pe.original_file_name",
        "process.code_signature.subject_name",
        "process.Ext.token.integrity_level_name",
        "process.Ext.token.elevation_type",
        "process.parent.entity_id",
        "process.parent.name",
        "process.parent.executable",
        "process.parent.command_line",
        "user.name",
        "user.domain",
        "user.id",
        "lotl.source_file",
        "lotl.label",
        "lotl.scenario_id",
        "lotl.technique",
        "lotl.family",
    ];
    let (args, texts) = rayon::join(read_args, || {
        text_columns
            .par_iter()
            .map(|&name| Ok((name, strs(name)?)))
            .collect::<std::result::Result<std::collections::HashMap<_, _>, String>>()
    });
    let args = args?;
    let mut texts = texts?;
    let mut text = |name: &str| texts.remove(name).unwrap_or_default();
    let mut event_id = text("event.id");
    let mut host_name = text("host.name");
    let mut host_id = text("host.id");
    let source = text("event.source");
    let mut action = text("event.action");
    let mut entity = text("process.entity_id");
    let mut name = text("process.name");
    let mut exe = text("process.executable");
    let mut cl = text("process.command_line");
    let mut pe = text("process.pe.original_file_name");
    let mut sig_subject = text("process.code_signature.subject_name");
    let mut integrity = text("process.Ext.token.integrity_level_name");
    let mut elev_type = text("process.Ext.token.elevation_type");
    let mut pentity = text("process.parent.entity_id");
    let mut pname = text("process.parent.name");
    let mut pexe = text("process.parent.executable");
    let mut pcl = text("process.parent.command_line");
    let mut uname = text("user.name");
    let mut udomain = text("user.domain");
    let mut uid = text("user.id");
    let mut source_file = text("lotl.source_file");
    let label = text("lotl.label");
    let mut scenario = text("lotl.scenario_id");
    let mut technique = text("lotl.technique");
    let mut family = text("lotl.family");
    let pid = ints("process.pid")?;
    let sig_exists = bools("process.code_signature.exists")?;
    let sig_trusted = bools("process.code_signature.trusted")?;
    let elevated = bools("process.Ext.token.elevation")?;
    let ppid = ints("process.parent.pid")?;

    let mut out = Vec::with_capacity(df.height());
    // Events of one file share its name.
    let mut last_file: Option<Arc<str>> = None;
    let mut args = args.into_iter();
    fn take(column: &mut [Option<Text>], row: usize) -> Option<Text> {
        column.get_mut(row).and_then(Option::take)
    }
    fn value<T: Copy>(column: &[Option<T>], row: usize) -> Option<T> {
        column.get(row).copied().flatten()
    }
    for (i, ts) in ts.iter().enumerate() {
        let source = match source.get(i).and_then(Option::as_deref) {
            None => None,
            Some(s) => Some(
                EventSource::parse(s)
                    .ok_or_else(|| format!("row {}: unknown event.source `{s}`", first_row + i))?,
            ),
        };
        let label = match label.get(i).and_then(Option::as_deref) {
            None => None,
            Some(s) => Some(
                Label::parse(s)
                    .ok_or_else(|| format!("row {}: unknown lotl.label `{s}`", first_row + i))?,
            ),
        };
        out.push(ProcessEvent {
            timestamp_ms: ts.ok_or_else(|| format!("row {}: null @timestamp", first_row + i))?,
            event_id: take(&mut event_id, i).unwrap_or_default(),
            host_name: take(&mut host_name, i).unwrap_or_default(),
            host_id: take(&mut host_id, i),
            source,
            event_action: take(&mut action, i),
            process_pid: value(&pid, i),
            process_entity_id: take(&mut entity, i),
            process_name: take(&mut name, i),
            process_executable: take(&mut exe, i),
            process_command_line: take(&mut cl, i),
            process_args: args.next().unwrap_or_default(),
            process_pe_original_file_name: take(&mut pe, i),
            process_code_signature_exists: value(&sig_exists, i),
            process_code_signature_trusted: value(&sig_trusted, i),
            process_code_signature_subject: take(&mut sig_subject, i),
            integrity_level: take(&mut integrity, i),
            elevation_type: take(&mut elev_type, i),
            elevated: value(&elevated, i),
            parent_pid: value(&ppid, i),
            parent_entity_id: take(&mut pentity, i),
            parent_name: take(&mut pname, i),
            parent_executable: take(&mut pexe, i),
            parent_command_line: take(&mut pcl, i),
            user_name: take(&mut uname, i),
            user_domain: take(&mut udomain, i),
            user_id: take(&mut uid, i),
            source_file: take(&mut source_file, i).map(|f| match &last_file {
                Some(last) if **last == *f => Arc::clone(last),
                _ => Arc::clone(last_file.insert(Arc::from(f.as_str()))),
            }),
            label,
            scenario_id: take(&mut scenario, i),
            technique: take(&mut technique, i),
            family: take(&mut family, i),
        });
    }
    Ok(out)
}
