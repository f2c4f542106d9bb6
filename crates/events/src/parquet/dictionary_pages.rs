//! Parquet pages of a string dictionary column (`u32` keys, nullable, no statistics),
//! encoded and compressed here rather than by polars-parquet. Its generic path runs every
//! definition level and key through an iterator-driven hybrid-RLE encoder and creates a
//! zstd context per page: for a feature file's 470 such columns that was most of
//! `lotl features`' time. Here the definition levels of a page are its validity bitmap
//! copied as one bit-packed run, the keys are bit-packed 32 at a time, and each worker
//! thread keeps its zstd context.

use polars::prelude::PolarsResult;
use polars_arrow::array::{Array, DictionaryArray, DictionaryKey, Utf8ViewArray};
use polars_arrow::bitmap::Bitmap;
use polars_parquet::parquet::compression::Compression;
use polars_parquet::parquet::encoding::{bitpacked, uleb128, Encoding};
use polars_parquet::parquet::metadata::Descriptor;
use polars_parquet::parquet::page::{
    CompressedDataPage, CompressedDictPage, CompressedPage, DataPageHeader, DataPageHeaderV1,
};
use polars_parquet::parquet::schema::types::{ParquetType, PrimitiveType};
use polars_parquet::parquet::schema::Repetition;
use polars_parquet::parquet::CowBuffer;
use polars_parquet::write::{CompressionOptions, Version, WriteOptions};
use std::cell::RefCell;

/// Rows per data page: a page's keys stay well under polars' 1 MiB page size at any bit
/// width, and the number is a multiple of 8, so every page's validity starts on a byte.
const PAGE_ROWS: usize = 1 << 17;

/// The pages of `array` as column `field`, or `None` when this is not a column this module
/// encodes (another type, statistics wanted, another compression or page version): the
/// caller then uses polars-parquet's general path.
pub(super) fn encode(
    array: &dyn Array,
    field: &ParquetType,
    options: &WriteOptions,
) -> PolarsResult<Option<Vec<CompressedPage>>> {
    let any = array.as_any();
    if let Some(array) = any.downcast_ref::<DictionaryArray<u8>>() {
        encode_keyed(array, field, options)
    } else if let Some(array) = any.downcast_ref::<DictionaryArray<u16>>() {
        encode_keyed(array, field, options)
    } else if let Some(array) = any.downcast_ref::<DictionaryArray<u32>>() {
        encode_keyed(array, field, options)
    } else {
        Ok(None)
    }
}

/// [`encode`] of a dictionary array with keys of type `K`.
fn encode_keyed<K: Key>(
    array: &DictionaryArray<K>,
    field: &ParquetType,
    options: &WriteOptions,
) -> PolarsResult<Option<Vec<CompressedPage>>> {
    let Some(values) = array.values().as_any().downcast_ref::<Utf8ViewArray>() else {
        return Ok(None);
    };
    let ParquetType::PrimitiveType(column) = field else {
        return Ok(None);
    };
    let CompressionOptions::Zstd(level) = options.compression else {
        return Ok(None);
    };
    if options.has_statistics()
        || options.version != Version::V1
        || values.null_count() > 0
        || column.field_info.repetition != Repetition::Optional
    {
        return Ok(None);
    }
    let level = level.map_or(0, |l| l.compression_level());
    let mut pages = Vec::with_capacity(1 + array.len().div_ceil(PAGE_ROWS));
    pages.push(dictionary_page(values, level)?);
    let keys = array.keys().values().as_slice();
    let validity = array.keys().validity().filter(|v| v.unset_bits() > 0);
    for start in (0..array.len()).step_by(PAGE_ROWS) {
        let rows = start..(start + PAGE_ROWS).min(array.len());
        pages.push(data_page(keys, validity, rows, column, level)?);
    }
    Ok(Some(pages))
}

/// The dictionary page: each value as its little-endian `u32` length and its bytes.
fn dictionary_page(values: &Utf8ViewArray, level: i32) -> PolarsResult<CompressedPage> {
    with_raw(|raw| {
        raw.reserve(values.total_bytes_len() + 4 * values.len());
        for v in values.values_iter() {
            raw.extend_from_slice(&(v.len() as u32).to_le_bytes());
            raw.extend_from_slice(v.as_bytes());
        }
        let compressed = compress(raw, level)?;
        Ok(CompressedPage::Dict(CompressedDictPage::new(
            CowBuffer::Owned(compressed),
            Compression::Zstd,
            raw.len(),
            values.len(),
            false,
        )))
    })
}

/// A data page (format V1) of rows `rows`: the definition levels' byte length, the levels,
/// the keys' bit width and the keys of the present rows.
fn data_page<K: Key>(
    keys: &[K],
    validity: Option<&Bitmap>,
    rows: std::ops::Range<usize>,
    column: &PrimitiveType,
    level: i32,
) -> PolarsResult<CompressedPage> {
    with_scratch(|raw, present: &mut Vec<K>| {
        let n = rows.len();
        let validity = validity.map(|v| v.clone().sliced(rows.start, n));
        raw.extend_from_slice(&[0; 4]);
        match &validity {
            // One RLE run of "defined", its value in one byte (bit width 1).
            None => {
                put_uleb128(raw, (n as u64) << 1);
                raw.push(1);
            }
            Some(validity) => {
                put_uleb128(raw, ((n.div_ceil(8) as u64) << 1) | 1);
                put_bits(raw, validity);
            }
        }
        let levels_len = (raw.len() - 4) as u32;
        raw[..4].copy_from_slice(&levels_len.to_le_bytes());

        let keys = &keys[rows];
        let present: &[K] = match &validity {
            None => keys,
            Some(validity) => {
                present.reserve(n);
                push_present(present, keys, validity);
                &present[..]
            }
        };
        let max_key: u32 = present.iter().copied().max().map_or(0, Into::into);
        // At least one bit: every reader takes a bit-packed run of width 1.
        let bit_width = (u32::BITS - max_key.leading_zeros()).max(1) as usize;
        raw.push(bit_width as u8);
        if !present.is_empty() {
            let groups = present.len().div_ceil(8);
            put_uleb128(raw, ((groups as u64) << 1) | 1);
            K::pack_groups(present, bit_width, raw);
        }
        let compressed = compress(raw, level)?;
        let header = DataPageHeaderV1 {
            num_values: n as i32,
            encoding: Encoding::RleDictionary.into(),
            definition_level_encoding: Encoding::Rle.into(),
            repetition_level_encoding: Encoding::Rle.into(),
            statistics: None,
        };
        Ok(CompressedPage::Data(CompressedDataPage::new(
            DataPageHeader::V1(header),
            CowBuffer::Owned(compressed),
            Compression::Zstd,
            raw.len(),
            // As polars-parquet describes its own pages.
            Descriptor {
                primitive_type: column.clone(),
                max_def_level: 0,
                max_rep_level: 0,
            },
            n,
        )))
    })
}

/// Append the `keys` whose bit in `validity` (as long as `keys`) is set, 64 rows at a
/// time: a word of all-present rows is one copy, a word of none is skipped.
fn push_present<K: Copy>(out: &mut Vec<K>, keys: &[K], validity: &Bitmap) {
    let mut words = validity.fast_iter_u64();
    let mut at = 0;
    for word in words.by_ref() {
        push_set(out, &keys[at..at + 64], word);
        at += 64;
    }
    let ([low, high], left) = words.remainder();
    let first = left.min(64);
    push_set(out, &keys[at..at + first], low);
    push_set(out, &keys[at + first..at + left], high);
}

/// Append the `keys` (at most 64) whose bit in `word` is set; bits past them are ignored.
#[inline]
fn push_set<K: Copy>(out: &mut Vec<K>, keys: &[K], word: u64) {
    let word = if keys.len() >= 64 {
        word
    } else {
        word & ((1u64 << keys.len()) - 1)
    };
    if word == u64::MAX {
        out.extend_from_slice(keys);
        return;
    }
    let mut rest = word;
    while rest != 0 {
        out.push(keys[rest.trailing_zeros() as usize]);
        rest &= rest - 1;
    }
}

/// Append the bits of `validity`, least significant first, whole bytes (the last one's
/// unused bits zero).
fn put_bits(out: &mut Vec<u8>, validity: &Bitmap) {
    let end = out.len() + validity.len().div_ceil(8);
    let mut words = validity.fast_iter_u64();
    for word in words.by_ref() {
        out.extend_from_slice(&word.to_le_bytes());
    }
    // The remainder's bits past the bitmap's end are zero.
    let ([low, high], _) = words.remainder();
    out.extend_from_slice(&low.to_le_bytes());
    out.extend_from_slice(&high.to_le_bytes());
    out.truncate(end);
}

fn put_uleb128(out: &mut Vec<u8>, value: u64) {
    let mut container = [0u8; 10];
    let used = uleb128::encode(value, &mut container);
    out.extend_from_slice(&container[..used]);
}

/// An integer type of dictionary keys: its bit-packing, and this thread's buffer of
/// present keys.
trait Key: DictionaryKey + Ord + Into<u32> {
    fn with_present<T>(f: impl FnOnce(&mut Vec<Self>) -> T) -> T;

    /// Append `keys` bit-packed `bit_width` bits each (at least their width), in whole
    /// groups of eight (the last padded with zeros): `bit_width` bytes a group.
    fn pack_groups(keys: &[Self], bit_width: usize, out: &mut Vec<u8>);
}

macro_rules! key_with_present {
    ($t:ty) => {
        fn with_present<T>(f: impl FnOnce(&mut Vec<Self>) -> T) -> T {
            thread_local! {
                static PRESENT: RefCell<Vec<$t>> = const { RefCell::new(Vec::new()) };
            }
            PRESENT.with(|cell| f(&mut cell.borrow_mut()))
        }
    };
}

impl Key for u8 {
    key_with_present!(u8);

    // polars-parquet packs no bytes; a group of eight keys of at most 8 bits is a word.
    fn pack_groups(keys: &[u8], bit_width: usize, out: &mut Vec<u8>) {
        out.reserve(keys.len().div_ceil(8) * bit_width);
        for eight in keys.chunks(8) {
            let mut word = 0u64;
            for (i, &k) in eight.iter().enumerate() {
                word |= u64::from(k) << (i * bit_width);
            }
            out.extend_from_slice(&word.to_le_bytes()[..bit_width]);
        }
    }
}

macro_rules! key_packed_by_polars {
    ($($t:ty),*) => {$(
        impl Key for $t {
            key_with_present!($t);

            fn pack_groups(keys: &[$t], bit_width: usize, out: &mut Vec<u8>) {
                // `encode` fills whole blocks of `block` values (a multiple of eight).
                let block = <<$t as bitpacked::Unpackable>::Unpacked as bitpacked::Unpacked<$t>>::LENGTH;
                let at = out.len();
                out.resize(at + keys.len().div_ceil(block) * block / 8 * bit_width, 0);
                bitpacked::encode::<$t>(keys, bit_width, &mut out[at..]);
                out.truncate(at + keys.len().div_ceil(8) * bit_width);
            }
        }
    )*};
}

key_packed_by_polars!(u16, u32);

/// Run `f` with this thread's page buffer, emptied; it keeps its capacity from page to page.
fn with_raw<T>(f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    thread_local! {
        static RAW: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    RAW.with(|cell| {
        let mut raw = cell.borrow_mut();
        raw.clear();
        f(&mut raw)
    })
}

/// [`with_raw`], with this thread's buffer of present keys too, emptied.
fn with_scratch<K: Key, T>(f: impl FnOnce(&mut Vec<u8>, &mut Vec<K>) -> T) -> T {
    with_raw(|raw| {
        K::with_present(|present| {
            present.clear();
            f(raw, present)
        })
    })
}

/// `raw` compressed with zstd at `level` (0: zstd's default), by this thread's context.
fn compress(raw: &[u8], level: i32) -> PolarsResult<Vec<u8>> {
    thread_local! {
        static CONTEXT: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(None) };
    }
    CONTEXT.with(|cell| {
        let mut slot = cell.borrow_mut();
        let compressor = match &mut *slot {
            Some((l, compressor)) if *l == level => compressor,
            other => &mut other.insert((level, zstd::bulk::Compressor::new(level)?)).1,
        };
        let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(raw.len()));
        compressor.compress_to_buffer(raw, &mut out)?;
        Ok(out)
    })
}
