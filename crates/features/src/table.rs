//! Batch featurisation into a columnar, dictionary-encoded table.

use crate::error::Error;
use crate::fasthash::{pack_short, FastBuild};
use crate::memo::BlockMemo;
use crate::recipe::FeatureRecipe;
use crate::row::{kind_indices, FeatureKind, FeatureRow, FeatureSpec};
use lotl_events::ProcessEvent;
use polars::prelude::*;
use polars_arrow::array::{
    ArrayRef, DictionaryArray, DictionaryKey, MutableBinaryViewArray, PrimitiveArray,
};
use polars_arrow::bitmap::Bitmap;
use polars_arrow::datatypes::{ArrowDataType, IntegerType};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::Path;

/// Code of a missing categorical value.
pub const MISSING_CODE: u32 = u32::MAX;

/// Events per parallel work unit: eight to a batch of `lotl features`, so that its units
/// balance across the cores shared with the writer's encoding. Units of 8 Ki and 16 Ki
/// events ran within run-to-run noise of these; 2 Ki-event units, with four times the
/// slots and dictionaries to merge, were ~15 % slower.
const CHUNK: usize = 4096;

/// One categorical feature, dictionary-encoded: `dict[codes[row]]`, or missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CatColumn {
    pub dict: Vec<String>,
    pub codes: Vec<u32>,
}

impl CatColumn {
    pub fn get(&self, row: usize) -> Option<&str> {
        let c = *self.codes.get(row)?;
        self.dict.get(c as usize).map(String::as_str)
    }
}

/// Features of many events, column by column, in the recipe's order within each kind.
#[derive(Debug, Clone)]
pub struct FeatureTable {
    pub recipe: String,
    pub recipe_version: u32,
    pub features: Vec<FeatureSpec>,
    /// One column per numeric feature.
    pub numeric: Vec<Vec<f32>>,
    /// One column per categorical feature.
    pub categorical: Vec<CatColumn>,
    n_rows: usize,
}

/// Value → code of one categorical column. Most values (Elastic's bigrams, short names) fit
/// in seven bytes and are looked up as packed integers; longer ones by string.
#[derive(Debug, Clone, Default)]
struct Dict {
    short: HashMap<u64, u32, FastBuild>,
    long: HashMap<String, u32, FastBuild>,
    /// The last short value looked up and its code: neighbouring events often share a
    /// value (the same parent, the same bigram at a position), and a hit skips the hash.
    last_short: Option<(u64, u32)>,
}

impl Dict {
    /// The code of `v` in `values` (the column's values by code), pushed there when new.
    #[inline]
    fn code_in(&mut self, values: &mut impl ValueList, v: &str) -> u32 {
        let next = values.len() as u32;
        let code = match pack_short(v) {
            Some(k) => self.code_packed(next, k),
            None => match self.long.get(v) {
                Some(&c) => c,
                None => {
                    self.long.insert(v.to_owned(), next);
                    next
                }
            },
        };
        if code == next {
            values.push(v);
        }
        code
    }

    /// The code of a value of at most seven bytes, packed by [`pack_short`]: `next` when new.
    #[inline]
    fn code_packed(&mut self, next: u32, k: u64) -> u32 {
        match self.last_short {
            Some((last, code)) if last == k => code,
            _ => {
                let code = *self.short.entry(k).or_insert(next);
                self.last_short = Some((k, code));
                code
            }
        }
    }

    /// The code of a unit's grouped value `packed` ([`pack_value`]) in `values`, pushed
    /// there when new.
    fn code_of_packed(&mut self, values: &mut impl ValueList, packed: u64, long: &Values) -> u32 {
        if packed == MISSING_VALUE {
            return MISSING_CODE;
        }
        if packed & LONG_VALUE == LONG_VALUE {
            return self.code_in(values, long.get((packed & u64::from(u32::MAX)) as usize));
        }
        let next = values.len() as u32;
        let code = self.code_packed(next, packed);
        if code == next {
            let bytes = packed.to_le_bytes();
            let len = usize::from(bytes[7]).min(7);
            values.push(&String::from_utf8_lossy(&bytes[..len]));
        }
        code
    }
}

/// A column's values by code, as a [`Dict`] adds them.
trait ValueList {
    fn len(&self) -> usize;
    fn push(&mut self, v: &str);
}

impl ValueList for Vec<String> {
    fn len(&self) -> usize {
        <[String]>::len(self)
    }

    fn push(&mut self, v: &str) {
        Vec::push(self, v.to_owned());
    }
}

impl ValueList for MutableBinaryViewArray<str> {
    fn len(&self) -> usize {
        MutableBinaryViewArray::len(self)
    }

    fn push(&mut self, v: &str) {
        self.push_value(v);
    }
}

/// A unit's values of one column, by code, side by side in one string: a string each was
/// an allocation (and a free) per value per unit, for every one of 470 columns.
#[derive(Debug, Clone, Default)]
struct Values {
    text: String,
    ends: Vec<usize>,
}

impl ValueList for Values {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn push(&mut self, v: &str) {
        self.text.push_str(v);
        self.ends.push(self.text.len());
    }
}

impl Values {
    fn get(&self, i: usize) -> &str {
        let start = i.checked_sub(1).map_or(0, |p| self.ends[p]);
        self.text.get(start..self.ends[i]).unwrap_or_default()
    }

    fn iter(&self) -> impl Iterator<Item = &str> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let v = self.text.get(start..end).unwrap_or_default();
            start = end;
            v
        })
    }
}

/// A grouped feature's value in a unit as one word: a value of at most seven bytes packed
/// ([`pack_short`], whose top byte is the length), a longer one [`LONG_VALUE`] and its index
/// among the unit's long values, or [`MISSING_VALUE`].
fn pack_value(v: Option<&str>, long: &mut Values) -> u64 {
    match v {
        None => MISSING_VALUE,
        Some(v) => pack_short(v).unwrap_or_else(|| {
            long.push(v);
            LONG_VALUE | (long.len() - 1) as u64
        }),
    }
}

const MISSING_VALUE: u64 = u64::MAX;
const LONG_VALUE: u64 = 0xFE << 56;

/// How a batch's categorical codes are kept until its units are merged: the features of a
/// recipe group ([`FeatureRecipe::categorical_groups`], Elastic's positional bigrams of one
/// string) share one code per row, the slot of the group's values in that row; a feature
/// outside every group is a slot of its own, coded by its value.
///
/// Writing a row's 470 codes (elastic2021) and turning them into columns was most of the
/// work of featurising: with slots a row writes nine codes, and a column's codes are
/// gathered once, when the units are merged.
#[derive(Debug, Clone)]
struct SlotLayout {
    /// Categorical feature ranges, in order, covering them all.
    slots: Vec<std::ops::Range<usize>>,
    /// Per categorical feature, its slot.
    slot_of: Vec<usize>,
}

impl SlotLayout {
    fn of(recipe: &dyn FeatureRecipe) -> Self {
        let n_cat = recipe.n_categorical();
        let mut groups: Vec<std::ops::Range<usize>> = recipe
            .categorical_groups()
            .into_iter()
            .filter(|g| g.end <= n_cat && g.len() > 1)
            .collect();
        groups.sort_by_key(|g| g.start);
        let mut slots = Vec::new();
        let mut j = 0;
        for g in groups {
            // Overlapping groups: the later one's features are coded alone.
            if g.start < j {
                continue;
            }
            slots.extend((j..g.start).map(|c| c..c + 1));
            j = g.end;
            slots.push(g);
        }
        slots.extend((j..n_cat).map(|c| c..c + 1));
        let mut slot_of = vec![0; n_cat];
        for (s, cats) in slots.iter().enumerate() {
            slot_of[cats.clone()].fill(s);
        }
        SlotLayout { slots, slot_of }
    }

    fn grouped(&self, slot: usize) -> bool {
        self.slots[slot].len() > 1
    }
}

/// A work unit's features, before the batch's units are merged.
struct Unit {
    n_rows: usize,
    numeric: Vec<Vec<f32>>,
    /// Per categorical feature, its values by the unit's code, first seen first (empty
    /// for a feature of a group: see `by_slot`).
    dicts: Vec<Values>,
    /// Per slot, each row's code: a group's slot number, a lone feature's own code (or
    /// [`MISSING_CODE`]).
    rows: Vec<Vec<u32>>,
    /// Per categorical feature of a group, its value in each of the group's slots
    /// ([`pack_value`]; empty for a lone feature). Coded only when the units are merged:
    /// coding a new slot's hundred values here hopped between a hundred dictionaries,
    /// where the merge codes a column's values with its one dictionary in cache.
    by_slot: Vec<Vec<u64>>,
    /// The grouped values longer than seven bytes.
    long: Values,
}

impl Unit {
    /// Featurise a run of events sequentially (one work unit of the batch).
    fn build(recipe: &dyn FeatureRecipe, layout: &SlotLayout, events: &[ProcessEvent]) -> Self {
        let n_cat = layout.slot_of.len();
        let mut unit = Unit {
            n_rows: events.len(),
            numeric: vec![Vec::with_capacity(events.len()); recipe.n_numeric()],
            dicts: vec![Values::default(); n_cat],
            rows: vec![Vec::with_capacity(events.len()); layout.slots.len()],
            by_slot: vec![Vec::new(); n_cat],
            long: Values::default(),
        };
        let mut dicts: Vec<Dict> = vec![Dict::default(); n_cat];
        // A group's slots by the group's values: the same process name or path is coded
        // once, not once per bigram position per event. Evicted values get a new slot
        // holding the same values.
        let mut memos: Vec<BlockMemo<u32>> = vec![BlockMemo::new(); layout.slots.len()];
        let mut row = FeatureRow::new();
        let mut key = Vec::new();
        for e in events {
            recipe.featurize(e, &mut row);
            for (j, col) in unit.numeric.iter_mut().enumerate() {
                col.push(row.numeric().get(j).copied().unwrap_or(f32::NAN));
            }
            for (s, cats) in layout.slots.iter().enumerate() {
                let code = if cats.len() == 1 {
                    code_of(&row, cats.start, &mut dicts, &mut unit.dicts)
                } else {
                    let known = row.categorical_key(cats.clone(), &mut key);
                    match known.then(|| memos[s].get(&key)).flatten() {
                        Some(&[slot]) => slot,
                        _ => {
                            let slot = unit.by_slot[cats.start].len() as u32;
                            for c in cats.clone() {
                                let value = pack_value(row.categorical(c), &mut unit.long);
                                unit.by_slot[c].push(value);
                            }
                            if known {
                                memos[s].put(&key, &[slot]);
                            }
                            slot
                        }
                    }
                };
                unit.rows[s].push(code);
            }
        }
        unit
    }
}

/// The code of categorical feature `j`'s value in `row`, new values added to `values[j]`.
#[inline]
fn code_of(row: &FeatureRow, j: usize, dicts: &mut [Dict], values: &mut [Values]) -> u32 {
    row.categorical(j)
        .map_or(MISSING_CODE, |v| dicts[j].code_in(&mut values[j], v))
}

/// The code of slot `s` through `code_at` (a unit's slot codes): [`MISSING_CODE`] for a
/// missing value or a slot past the end (a lone feature's missing value).
#[inline]
fn slot_code(code_at: &[u32], s: u32) -> u32 {
    code_at.get(s as usize).copied().unwrap_or(MISSING_CODE)
}

/// The narrowest key type of a dictionary of `n_values` values. Every column of Elastic's
/// recipe has at most 256 values in a batch: one byte a key, not four, is a quarter of the
/// memory written by the merge and read by the writer. Parquet stores keys by value: the
/// file is the same.
fn narrowest_key(n_values: usize) -> IntegerType {
    if n_values <= 1 << 8 {
        IntegerType::UInt8
    } else if n_values <= 1 << 16 {
        IntegerType::UInt16
    } else {
        IntegerType::UInt32
    }
}

/// An integer type of dictionary keys, made from a code known to fit.
trait Key: DictionaryKey {
    fn from_code(code: u32) -> Self;
}

impl Key for u8 {
    fn from_code(code: u32) -> Self {
        code as u8
    }
}

impl Key for u16 {
    fn from_code(code: u32) -> Self {
        code as u16
    }
}

impl Key for u32 {
    fn from_code(code: u32) -> Self {
        code
    }
}

/// Keys of one width and the rows' presence bits, gathered row by row.
struct KeyGather<K> {
    /// Codes, 0 under a missing value (Arrow readers may look up the value under a null).
    keys: Vec<K>,
    /// A bit per row, set when its value is present, eight rows to a byte.
    present: Vec<u8>,
}

impl<K: Key> KeyGather<K> {
    fn with_rows(n_rows: usize) -> Self {
        KeyGather {
            keys: Vec::with_capacity(n_rows),
            present: Vec::with_capacity(n_rows.div_ceil(8)),
        }
    }

    /// The keys of `n_rows` rows given as runs of slots and their units' slot codes.
    fn gather<'a>(
        runs: impl Iterator<Item = (&'a [u32], &'a Vec<u32>)>,
        n_rows: usize,
    ) -> PrimitiveArray<K> {
        let mut keys = Self::with_rows(n_rows);
        for (slots, code_at) in runs {
            keys.extend(code_at, slots);
        }
        keys.into_keys()
    }

    /// Rows whose slots are `slots`, slot `s` coded `code_at[s]` ([`MISSING_CODE`] or past
    /// the end: missing); every code below `K`'s range.
    fn extend(&mut self, code_at: &[u32], slots: &[u32]) {
        // Rows up to a byte boundary one at a time, then eight to a byte.
        let aligning = ((8 - self.keys.len() % 8) % 8).min(slots.len());
        let (first, rest) = slots.split_at(aligning);
        for &s in first {
            self.push(slot_code(code_at, s));
        }
        let (whole, tail) = rest.split_at(rest.len() / 8 * 8);
        if code_at.iter().all(|&c| c == MISSING_CODE) {
            // No value in the unit (a third of Elastic's unit columns: bigram positions
            // past most names' ends): every row missing.
            self.keys
                .resize(self.keys.len() + whole.len(), K::default());
            self.present.resize(self.present.len() + whole.len() / 8, 0);
        } else {
            self.gather_whole_bytes(code_at, whole);
        }
        for &s in tail {
            self.push(slot_code(code_at, s));
        }
    }

    /// Rows of `slots` (a multiple of eight, from a byte boundary), as [`Self::extend`].
    /// Keys and bits are gathered in passes of their own: one loop writing both kept its
    /// vectors' lengths in memory, a dependency from row to row.
    fn gather_whole_bytes(&mut self, code_at: &[u32], slots: &[u32]) {
        self.keys
            .extend(slots.iter().map(|&s| match slot_code(code_at, s) {
                MISSING_CODE => K::default(),
                c => K::from_code(c),
            }));
        self.present.extend(slots.chunks_exact(8).map(|eight| {
            eight.iter().enumerate().fold(0u8, |byte, (i, &s)| {
                byte | u8::from(slot_code(code_at, s) != MISSING_CODE) << i
            })
        }));
    }

    fn push(&mut self, code: u32) {
        let bit = self.keys.len() % 8;
        if bit == 0 {
            self.present.push(0);
        }
        let present = code != MISSING_CODE;
        if let Some(byte) = self.present.last_mut() {
            *byte |= u8::from(present) << bit;
        }
        self.keys.push(K::from_code(if present { code } else { 0 }));
    }

    fn into_keys(self) -> PrimitiveArray<K> {
        let rows = self.keys.len();
        let present = Bitmap::from_u8_vec(self.present, rows);
        let validity = (present.unset_bits() > 0).then_some(present);
        PrimitiveArray::from_vec(self.keys).with_validity(validity)
    }
}

/// Categorical feature `j` of the `units`' rows in order: their dictionaries joined in unit
/// order (so codes are as a sequential featurisation numbers them), each row's code
/// written once, into its final place, through its slot.
fn merge_column(layout: &SlotLayout, units: &[Unit], j: usize, n_rows: usize) -> CatColumn {
    let mut col = CatColumn {
        dict: Vec::new(),
        codes: Vec::with_capacity(n_rows),
    };
    let slot = layout.slot_of[j];
    for (unit, code_at) in units
        .iter()
        .zip(code_units(layout, units, j, &mut col.dict))
    {
        col.codes
            .extend(unit.rows[slot].iter().map(|&s| slot_code(&code_at, s)));
    }
    col
}

/// [`merge_column`] as a feature file's dictionary array, built as the rows are gathered:
/// turning a [`CatColumn`]'s codes into keys and validity afterwards was another pass over
/// every cell (5 % of `lotl features`' samples), and each value its own string. Keys are
/// as narrow as the column's values allow ([`narrowest_key`]).
fn merge_keyed_column(
    layout: &SlotLayout,
    units: &[Unit],
    j: usize,
    n_rows: usize,
) -> PolarsResult<ArrayRef> {
    let mut values = MutableBinaryViewArray::<str>::new();
    let code_at = code_units(layout, units, j, &mut values);
    let slot = layout.slot_of[j];
    let runs = units.iter().map(|u| &u.rows[slot][..]).zip(&code_at);
    match narrowest_key(values.len()) {
        IntegerType::UInt8 => dictionary_of(KeyGather::<u8>::gather(runs, n_rows), values),
        IntegerType::UInt16 => dictionary_of(KeyGather::<u16>::gather(runs, n_rows), values),
        _ => dictionary_of(KeyGather::<u32>::gather(runs, n_rows), values),
    }
}

/// Per unit, the code of each of its slots of categorical feature `j` in `values` (the
/// column's values by code, new ones pushed), unit after unit.
fn code_units(
    layout: &SlotLayout,
    units: &[Unit],
    j: usize,
    values: &mut impl ValueList,
) -> Vec<Vec<u32>> {
    let mut dict = Dict::default();
    let grouped = layout.grouped(layout.slot_of[j]);
    units
        .iter()
        .map(|unit| {
            if grouped {
                unit.by_slot[j]
                    .iter()
                    .map(|&v| dict.code_of_packed(values, v, &unit.long))
                    .collect()
            } else {
                unit.dicts[j]
                    .iter()
                    .map(|v| dict.code_in(values, v))
                    .collect()
            }
        })
        .collect()
}

/// Numeric feature `j` of the `units`' rows in order.
fn merge_numeric(units: &[Unit], j: usize, n_rows: usize) -> Vec<f32> {
    let mut col = Vec::with_capacity(n_rows);
    for u in units {
        col.extend_from_slice(&u.numeric[j]);
    }
    col
}

impl FeatureTable {
    fn empty(recipe: &dyn FeatureRecipe) -> Self {
        FeatureTable {
            recipe: recipe.name().to_owned(),
            recipe_version: recipe.version(),
            features: recipe.features().to_vec(),
            numeric: vec![Vec::new(); recipe.n_numeric()],
            categorical: vec![CatColumn::default(); recipe.n_categorical()],
            n_rows: 0,
        }
    }

    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// The units' rows in order (same recipe). Columns are independent: each is merged on
    /// its own worker.
    fn merge(recipe: &dyn FeatureRecipe, layout: &SlotLayout, units: Vec<Unit>) -> Self {
        let mut table = Self::empty(recipe);
        let n_rows = units.iter().map(|u| u.n_rows).sum();
        table.n_rows = n_rows;
        table.numeric = (0..table.numeric.len())
            .into_par_iter()
            .map(|j| merge_numeric(&units, j, n_rows))
            .collect();
        table.categorical = (0..table.categorical.len())
            .into_par_iter()
            .map(|j| merge_column(layout, &units, j, n_rows))
            .collect();
        table
    }

    /// Features as a polars frame: `Float32` numeric columns and nullable categorical
    /// columns (each with categories of its own), in the recipe's feature order.
    pub fn to_dataframe(&self) -> PolarsResult<DataFrame> {
        let idx = kind_indices(&self.features);
        let cols: Vec<Column> = self
            .features
            .par_iter()
            .zip(idx.par_iter())
            .map(|(f, &i)| match f.kind {
                FeatureKind::Numeric => Ok(Float32Chunked::from_slice(
                    f.name.as_ref().into(),
                    &self.numeric[i],
                )
                .into_column()),
                FeatureKind::Categorical => {
                    categorical_column(f.name.as_ref().into(), &self.categorical[i])
                }
            })
            .collect::<PolarsResult<_>>()?;
        DataFrame::new(self.n_rows, cols)
    }

    /// Write the features of `events` (this table's rows, in order) with their
    /// `event.id`, `host.name` and `lotl.label` columns, so they can be joined back;
    /// atomically, [`lotl_events::parquet::BATCH_ROWS`] rows to a row group.
    pub fn write_parquet_with_ids(
        &self,
        path: &Path,
        events: &[ProcessEvent],
    ) -> Result<(), Error> {
        let schema = output_schema(&self.features);
        // A feature matrix is read whole, never filtered by value: no statistics.
        let mut writer = lotl_events::parquet::BatchWriter::new(path, false);
        let batch = lotl_events::parquet::BATCH_ROWS;
        for start in (0..self.n_rows.max(1)).step_by(batch) {
            let rows = start..(start + batch).min(self.n_rows);
            let events = events.get(rows.clone()).unwrap_or_default();
            let arrays = self.output_arrays(rows.clone(), events)?;
            writer.write_arrays(&schema, rows.len(), &arrays)?;
        }
        writer.finish()?;
        Ok(())
    }

    /// The arrays of a feature file's rows `rows` (laid out as [`output_schema`]), given
    /// those rows' `events`. Built straight from the codes: a polars categorical column
    /// remaps every value on its way to the writer, which was a sixth of `lotl features`.
    fn output_arrays(
        &self,
        rows: std::ops::Range<usize>,
        events: &[ProcessEvent],
    ) -> Result<Vec<ArrayRef>, Error> {
        check_events(events, rows.len())?;
        let idx = kind_indices(&self.features);
        let mut arrays: Vec<ArrayRef> = self
            .features
            .par_iter()
            .zip(idx.par_iter())
            .map(|(f, &i)| match f.kind {
                FeatureKind::Numeric => {
                    Ok(PrimitiveArray::<f32>::from_slice(&self.numeric[i][rows.clone()]).boxed())
                }
                FeatureKind::Categorical => dictionary_array(&self.categorical[i], rows.clone()),
            })
            .collect::<PolarsResult<_>>()?;
        arrays.extend(id_arrays(events));
        Ok(arrays)
    }
}

/// An error unless there are `rows` events, one per feature row.
fn check_events(events: &[ProcessEvent], rows: usize) -> Result<(), Error> {
    if events.len() == rows {
        return Ok(());
    }
    Err(Error::Schema(format!(
        "{} events for {rows} feature rows",
        events.len()
    )))
}

/// A dictionary array of `keys` (as [`keys_of`] makes them) into `values`.
///
/// Every present key must be below the number of values, and missing keys 0 under a null:
/// the keys are not checked again, which was 1.3 % of `lotl features`' samples.
fn dictionary_of<K: DictionaryKey>(
    keys: PrimitiveArray<K>,
    values: MutableBinaryViewArray<str>,
) -> PolarsResult<ArrayRef> {
    debug_assert!(keys.values().iter().all(|&k| {
        let k: Option<usize> = k.try_into().ok();
        k.is_some_and(|k| k < values.len().max(1))
    }));
    let dtype = ArrowDataType::Dictionary(K::KEY_TYPE, Box::new(ArrowDataType::Utf8View), false);
    // SAFETY: the callers' keys are codes of a column, below the number of its values
    // given here, or renumberings below the number of values pushed; a missing key is 0
    // under a null.
    let array =
        unsafe { DictionaryArray::try_new_unchecked(dtype, keys, values.freeze().boxed())? };
    Ok(array.boxed())
}

/// `col`'s rows `rows` as a dictionary array, missing as null. Rows that are not the whole
/// column carry only the values they use, so a row group's dictionary is its own.
fn dictionary_array(col: &CatColumn, rows: std::ops::Range<usize>) -> PolarsResult<ArrayRef> {
    let whole = rows == (0..col.codes.len());
    let codes = &col.codes[rows];
    let (keys, values) = if whole {
        let values = MutableBinaryViewArray::<str>::from_values_iter(col.dict.iter());
        (keys_of(codes, |c| c), values)
    } else {
        let mut renumbered = vec![MISSING_CODE; col.dict.len()];
        let mut used = MutableBinaryViewArray::<str>::new();
        let keys = keys_of(codes, |c| {
            let new = &mut renumbered[c as usize];
            if *new == MISSING_CODE {
                *new = used.len() as u32;
                used.push_value(&col.dict[c as usize]);
            }
            *new
        });
        (keys, used)
    };
    dictionary_of(keys, values)
}

/// `codes` as `u32` keys, each present code through `key`, a missing one null (key 0).
fn keys_of(codes: &[u32], mut key: impl FnMut(u32) -> u32) -> PrimitiveArray<u32> {
    keys_array(
        codes
            .iter()
            .map(|&c| if c == MISSING_CODE { c } else { key(c) })
            .collect(),
    )
}

/// `codes` as `u32` keys, in place: each [`MISSING_CODE`] a null over key 0 (Arrow readers
/// may look up the value under a null).
fn keys_array(mut codes: Vec<u32>) -> PrimitiveArray<u32> {
    let validity = codes.contains(&MISSING_CODE).then(|| {
        let mut bits = Vec::with_capacity(codes.len().div_ceil(8));
        for chunk in codes.chunks_mut(8) {
            let mut byte = 0u8;
            for (i, c) in chunk.iter_mut().enumerate() {
                let present = *c != MISSING_CODE;
                byte |= u8::from(present) << i;
                *c = if present { *c } else { 0 };
            }
            bits.push(byte);
        }
        Bitmap::from_u8_vec(bits, codes.len())
    });
    PrimitiveArray::new(ArrowDataType::UInt32, codes.into(), validity)
}

/// The schema of a feature file: `features` in order (`Float32` numeric columns,
/// categorical columns each with a dictionary of its own), then `event.id`, `host.name`
/// and `lotl.label`.
fn output_schema(features: &[FeatureSpec]) -> Schema {
    let mut schema: Schema = features
        .iter()
        .map(|f| {
            let dtype = match f.kind {
                FeatureKind::Numeric => DataType::Float32,
                FeatureKind::Categorical => fresh_categorical(),
            };
            Field::new(f.name.as_ref().into(), dtype)
        })
        .collect();
    for id in ID_COLUMNS {
        schema.insert(id.into(), DataType::String);
    }
    schema
}

/// A `u32` categorical type with a mapping of its own: one per column, so that a reader
/// builds each column's categories apart.
fn fresh_categorical() -> DataType {
    DataType::from_categories(Categories::random(
        "lotl.features".into(),
        CategoricalPhysical::U32,
    ))
}

/// The columns that join features back to their events.
const ID_COLUMNS: [&str; 3] = ["event.id", "host.name", "lotl.label"];

/// [`ID_COLUMNS`] of `events`.
fn id_arrays(events: &[ProcessEvent]) -> [ArrayRef; 3] {
    let ids =
        MutableBinaryViewArray::<str>::from_values_iter(events.iter().map(|e| e.event_id.as_str()));
    let hosts = MutableBinaryViewArray::<str>::from_values_iter(
        events.iter().map(|e| e.host_name.as_str()),
    );
    let labels: MutableBinaryViewArray<str> =
        events.iter().map(|e| e.label.map(|l| l.as_str())).collect();
    [
        ids.freeze().boxed(),
        hosts.freeze().boxed(),
        labels.freeze().boxed(),
    ]
}

/// `col` as a polars categorical column with categories of its own, missing as null.
fn categorical_column(name: PlSmallStr, col: &CatColumn) -> PolarsResult<Column> {
    let dtype = fresh_categorical();
    let DataType::Categorical(_, mapping) = &dtype else {
        unreachable!("fresh_categorical makes a categorical type")
    };
    let ids: Vec<u32> = col
        .dict
        .iter()
        .map(|v| mapping.insert_cat(v))
        .collect::<PolarsResult<_>>()?;
    let keys = keys_of(&col.codes, |c| ids[c as usize]);
    let phys = UInt32Chunked::with_chunk(name, keys);
    // SAFETY: every id was just inserted into `dtype`'s mapping, and `dtype` is a
    // categorical type of `u32` ids.
    let cats = unsafe { Categorical32Chunked::from_cats_and_dtype_unchecked(phys, dtype) };
    Ok(cats.into_column())
}

/// What [`featurize_parquet_file`] did.
#[derive(Debug, Clone, Copy, Default)]
pub struct FeaturizeFileStats {
    pub rows: usize,
    /// Time spent featurising, summed over row groups (reading and writing excluded).
    pub featurize_secs: f64,
}

/// Featurise a Parquet file of events (as `lotl_events::parquet` writes them) into a
/// Parquet file of features with their `event.id`, `host.name` and `lotl.label` columns,
/// as [`FeatureTable::write_parquet_with_ids`] writes them, a row group at a time: neither
/// file is ever held whole, and one row group is written while the next is featurised.
/// The output appears only when complete (temp file, then rename).
pub fn featurize_parquet_file(
    recipe: &dyn FeatureRecipe,
    input: &Path,
    output: &Path,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<FeaturizeFileStats, Error> {
    let mut stats = FeaturizeFileStats::default();
    let schema = output_schema(recipe.features());
    // What the recipe reads and what the output carries, nothing else; fallback
    // columns only for the batches that need them.
    let fallbacks = recipe.fallback_columns();
    let columns: Option<Vec<&str>> = recipe.event_columns().map(|c| {
        [&["@timestamp"][..], &ID_COLUMNS, c]
            .concat()
            .into_iter()
            .filter(|c| !fallbacks.iter().any(|(f, _)| f == c))
            .collect()
    });
    let columns = columns.as_deref();
    // `None` says the input was read whole: only then is the output finished.
    let (send, receive) = std::sync::mpsc::sync_channel::<Option<(usize, Vec<ArrayRef>)>>(1);
    std::thread::scope(|scope| {
        let schema = &schema;
        let writing = scope.spawn(move || -> Result<(), Error> {
            let mut writer = lotl_events::parquet::BatchWriter::new(output, false);
            for batch in receive {
                match batch {
                    Some((rows, arrays)) => writer.write_arrays(schema, rows, &arrays)?,
                    None => return Ok(writer.finish()?),
                }
            }
            // The reader stopped on an error: the writer is dropped, nothing appears.
            Ok(())
        });
        let writer_gone = || Error::Schema("the Parquet writer stopped".into());
        // Reading and decoding into events runs on a thread of its own, a batch ahead of
        // the featurising: done in turn on one thread, it left the workers idle.
        let (events_send, events_receive) = std::sync::mpsc::sync_channel::<Vec<ProcessEvent>>(1);
        let reading = scope.spawn(move || -> Result<(), Error> {
            let mut rows = 0usize;
            lotl_events::parquet::read_frames(
                input,
                lotl_events::parquet::BATCH_ROWS,
                columns,
                &mut |df| -> Result<(), Error> {
                    // Other writers' row groups can be a whole file: slices keep the events
                    // and features of one batch in memory at a time.
                    let batch = lotl_events::parquet::BATCH_ROWS;
                    for offset in (0..df.height()).step_by(batch) {
                        let events = read_batch(
                            input,
                            &df.slice(offset as i64, batch),
                            rows,
                            columns,
                            fallbacks,
                        )?;
                        rows += events.len();
                        events_send
                            .send(events)
                            .map_err(|_| Error::Schema("featurising stopped".into()))?;
                    }
                    Ok(())
                },
            )
        });
        let featurised = (|| -> Result<(), Error> {
            for events in events_receive {
                let start = std::time::Instant::now();
                let arrays = featurize_batch_into_arrays(recipe, &events, progress)?;
                stats.featurize_secs += start.elapsed().as_secs_f64();
                stats.rows += events.len();
                send.send(Some((events.len(), arrays)))
                    .map_err(|_| writer_gone())?;
            }
            Ok(())
        })();
        let read = reading
            .join()
            .unwrap_or_else(|_| Err(Error::Schema("the Parquet reader thread panicked".into())));
        // A featurising error explains the reader's "featurising stopped"; a reading error
        // ends the events, and the output is finished only when both went through.
        let done = featurised.and(read).and_then(|()| {
            if stats.rows == 0 {
                // An empty input still gives a file with the feature columns.
                let arrays = featurize_batch(recipe, &[]).output_arrays(0..0, &[])?;
                send.send(Some((0, arrays))).map_err(|_| writer_gone())?;
            }
            send.send(None).map_err(|_| writer_gone())
        });
        drop(send);
        // The writer's own error explains a featuriser's "writer stopped".
        writing
            .join()
            .unwrap_or_else(|_| Err(Error::Schema("the Parquet writer thread panicked".into())))?;
        done
    })?;
    Ok(stats)
}

/// The events of `slice`, rows `first_row..` of the file `input`, read as `columns` says
/// (every column when `None`), with the fallback columns its events need.
fn read_batch(
    input: &Path,
    slice: &DataFrame,
    first_row: usize,
    columns: Option<&[&str]>,
    fallbacks: &[(&'static str, &'static str)],
) -> Result<Vec<ProcessEvent>, Error> {
    let schema_err = |m: String| Error::Schema(format!("{}: {m}", input.display()));
    let mut read: Option<Vec<&str>> = columns.map(<[&str]>::to_vec);
    let mut with_fallbacks = None;
    if let Some(read) = &mut read {
        let needed = fallbacks_needed(slice, fallbacks);
        if !needed.is_empty() {
            let extra = lotl_events::parquet::read_rows(input, first_row, slice.height(), &needed)?;
            with_fallbacks = Some(
                slice
                    .hstack(extra.columns())
                    .map_err(|e| schema_err(e.to_string()))?,
            );
            read.extend(needed);
        }
    }
    let slice = with_fallbacks.as_ref().unwrap_or(slice);
    lotl_events::parquet::from_dataframe_at(slice, first_row, read.as_deref()).map_err(schema_err)
}

/// The fallback columns (of `fallbacks`, as [`FeatureRecipe::fallback_columns`]) that some
/// event of `frame` needs: its column stood in for is missing or empty there. A column of
/// another type than strings (a dictionary from another writer) is not looked into: its
/// fallback is read.
fn fallbacks_needed(
    frame: &DataFrame,
    fallbacks: &[(&'static str, &'static str)],
) -> Vec<&'static str> {
    fallbacks
        .iter()
        .filter(|(_, stands_in_for)| match frame.column(stands_in_for) {
            Err(_) => true,
            Ok(c) => c
                .str()
                .map_or(true, |s| s.iter().any(|v| v.is_none_or(str::is_empty))),
        })
        .map(|&(column, _)| column)
        .collect()
}

/// Featurise the events of a polars frame laid out as `lotl_events::parquet` writes them.
pub fn featurize_frame(
    recipe: &dyn FeatureRecipe,
    frame: &DataFrame,
) -> Result<FeatureTable, Error> {
    let events = lotl_events::parquet::from_dataframe(frame).map_err(Error::Schema)?;
    Ok(featurize_batch(recipe, &events))
}

/// Featurise the events of a Parquet file written by `lotl_events::parquet::write_parquet`.
pub fn featurize_parquet(recipe: &dyn FeatureRecipe, path: &Path) -> Result<FeatureTable, Error> {
    let events = lotl_events::parquet::read_parquet(path)?;
    Ok(featurize_batch(recipe, &events))
}

/// The arrays of a feature file (laid out as [`output_schema`]) of `events`, featurised in
/// parallel, calling `progress(n)` after each work unit of `n` events: the units' columns
/// are merged straight into the arrays.
fn featurize_batch_into_arrays(
    recipe: &dyn FeatureRecipe,
    events: &[ProcessEvent],
    progress: &(dyn Fn(usize) + Sync),
) -> PolarsResult<Vec<ArrayRef>> {
    let layout = SlotLayout::of(recipe);
    let units = build_units(recipe, &layout, events, progress);
    let n_rows = events.len();
    let features = recipe.features();
    let idx = kind_indices(features);
    let mut arrays: Vec<ArrayRef> = features
        .par_iter()
        .zip(idx.par_iter())
        .map(|(f, &i)| match f.kind {
            FeatureKind::Numeric => {
                Ok(PrimitiveArray::<f32>::from_vec(merge_numeric(&units, i, n_rows)).boxed())
            }
            FeatureKind::Categorical => merge_keyed_column(&layout, &units, i, n_rows),
        })
        .collect::<PolarsResult<_>>()?;
    arrays.extend(id_arrays(events));
    Ok(arrays)
}

/// `events` featurised in work units of [`CHUNK`] events, in parallel.
fn build_units(
    recipe: &dyn FeatureRecipe,
    layout: &SlotLayout,
    events: &[ProcessEvent],
    progress: &(dyn Fn(usize) + Sync),
) -> Vec<Unit> {
    events
        .par_chunks(CHUNK)
        .map(|chunk| {
            let unit = Unit::build(recipe, layout, chunk);
            progress(chunk.len());
            unit
        })
        .collect()
}

/// Featurise `events` in parallel; row `i` of the table is event `i`.
pub fn featurize_batch(recipe: &dyn FeatureRecipe, events: &[ProcessEvent]) -> FeatureTable {
    featurize_batch_with_progress(recipe, events, &|_| {})
}

/// As [`featurize_batch`], calling `progress(n)` after each work unit of `n` events.
pub fn featurize_batch_with_progress(
    recipe: &dyn FeatureRecipe,
    events: &[ProcessEvent],
    progress: &(dyn Fn(usize) + Sync),
) -> FeatureTable {
    let layout = SlotLayout::of(recipe);
    let units = build_units(recipe, &layout, events, progress);
    FeatureTable::merge(recipe, &layout, units)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipe::RecipeConfig;
    use polars_arrow::array::Array;

    /// Three units' worth of events whose groups repeat values, miss values (no command
    /// line), hold values too long to pack, and more distinct values than a unit's memo
    /// keeps (evictions).
    fn events() -> Vec<ProcessEvent> {
        (0..3 * CHUNK + 123)
            .map(|i| ProcessEvent {
                process_name: Some(format!("tool{}.exe", i % 37).into()),
                parent_name: (i % 11 != 0).then(|| "explorer.exe".into()),
                process_executable: Some(format!(r"C:\Windows\System32\tool{}.exe", i % 37).into()),
                // Two four-byte characters make a bigram of eight bytes, past packing.
                process_command_line: (i % 7 != 0).then(|| {
                    let face = char::from_u32(0x1F600 + (i % 5) as u32).unwrap_or('?');
                    let mark = if i % 13 == 0 {
                        format!("{face}{face}")
                    } else {
                        String::new()
                    };
                    format!("tool{}.exe /run {mark}job{}", i % 37, (i * 7919) % 5003).into()
                }),
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn merged_units_hold_every_row_value_coded_in_first_seen_order() {
        let events = events();
        let lotl = RecipeConfig::Lotl(crate::lotl::LotlParams {
            cl_buckets: 32,
            path_buckets: 8,
        });
        for config in [RecipeConfig::Elastic2021, RecipeConfig::Elastic2026, lotl] {
            let recipe = config.build().unwrap();
            let table = featurize_batch(recipe.as_ref(), &events);
            assert_eq!(table.n_rows(), events.len());
            let mut row = FeatureRow::new();
            for (i, e) in events.iter().enumerate() {
                recipe.featurize(e, &mut row);
                for (j, col) in table.categorical.iter().enumerate() {
                    assert_eq!(col.get(i), row.categorical(j), "row {i}, feature {j}");
                }
                for (j, col) in table.numeric.iter().enumerate() {
                    assert_eq!(col[i].to_bits(), row.numeric()[j].to_bits(), "row {i}");
                }
            }
            // A feature file's arrays, merged straight from the units, are the table's.
            let arrays = featurize_batch_into_arrays(recipe.as_ref(), &events, &|_| {}).unwrap();
            let from_table = table.output_arrays(0..events.len(), &events).unwrap();
            assert_eq!(arrays.len(), from_table.len());
            for (i, (a, b)) in arrays.iter().zip(&from_table).enumerate() {
                let what = format!("array {i} of {}", recipe.name());
                // Keys as `u32`, whatever their width.
                let dictionary = |a: &ArrayRef| {
                    let any = a.as_any();
                    let widen = |keys: Vec<Option<u32>>, values: &dyn Array| {
                        Some((keys, values.to_boxed()))
                    };
                    if let Some(d) = any.downcast_ref::<DictionaryArray<u8>>() {
                        widen(
                            d.keys().iter().map(|k| k.map(|&k| u32::from(k))).collect(),
                            d.values().as_ref(),
                        )
                    } else if let Some(d) = any.downcast_ref::<DictionaryArray<u16>>() {
                        widen(
                            d.keys().iter().map(|k| k.map(|&k| u32::from(k))).collect(),
                            d.values().as_ref(),
                        )
                    } else {
                        let d = any.downcast_ref::<DictionaryArray<u32>>()?;
                        widen(
                            d.keys().iter().map(|k| k.copied()).collect(),
                            d.values().as_ref(),
                        )
                    }
                };
                match (dictionary(a), dictionary(b)) {
                    // Compared apart: polars looks up the value under a null key, which an
                    // empty dictionary (a column missing throughout) does not have.
                    (Some((a_keys, a_values)), Some((b_keys, b_values))) => {
                        assert_eq!(a_keys, b_keys, "{what}");
                        assert!(a_values.as_ref() == b_values.as_ref(), "{what}");
                    }
                    _ => {
                        // Numeric features hold NaN, unequal to itself: compared by bits.
                        let bits = |a: &ArrayRef| {
                            a.as_any()
                                .downcast_ref::<PrimitiveArray<f32>>()
                                .map(|a| a.values_iter().map(|v| v.to_bits()).collect::<Vec<_>>())
                        };
                        match (bits(a), bits(b)) {
                            (Some(a), Some(b)) => assert_eq!(a, b, "{what}"),
                            _ => assert!(a.as_ref() == b.as_ref(), "{what}"),
                        }
                    }
                }
            }
            // Codes number values as one sequential pass meets them.
            for col in &table.categorical {
                let mut next = 0;
                for &c in &col.codes {
                    if c != MISSING_CODE {
                        assert!(c <= next, "code {c} before code {next}");
                        next = next.max(c + 1);
                    }
                }
                assert_eq!(next as usize, col.dict.len());
            }
        }
    }

    /// Keys and presence bits gathered in runs that start and end anywhere within a byte
    /// of bits are those of the codes gathered whole, at every key width.
    #[test]
    fn keyed_columns_gather_runs_of_any_length() {
        fn gather<K: Key + Into<u32>>(code_at: &[u32], slots: &[u32], runs: &[usize]) {
            let expected = keys_array(slots.iter().map(|&s| slot_code(code_at, s)).collect());
            let mut keyed = KeyGather::<K>::with_rows(slots.len());
            let mut start = 0;
            for &n in runs {
                keyed.extend(code_at, &slots[start..start + n]);
                start += n;
            }
            let keys = keyed.into_keys();
            let widened: Vec<u32> = keys.values().iter().map(|&k| k.into()).collect();
            assert_eq!(widened, expected.values().as_slice(), "runs {runs:?}");
            let present: Vec<bool> = (0..slots.len()).map(|r| keys.is_valid(r)).collect();
            let expected_present: Vec<bool> =
                (0..slots.len()).map(|r| expected.is_valid(r)).collect();
            assert_eq!(present, expected_present, "runs {runs:?}");
            assert_eq!(keys.null_count(), expected.null_count(), "runs {runs:?}");
        }
        // Slots past `code_at` (a lone feature's missing code) are missing too.
        let slots: Vec<u32> = (0..100u32).map(|i| (i * i + i / 3) % 6).collect();
        for runs in [&[100][..], &[3, 13, 8, 1, 75], &[1; 100], &[0, 7, 0, 9, 84]] {
            gather::<u8>(&[7, MISSING_CODE, 0, 255], &slots, runs);
            gather::<u8>(&[MISSING_CODE, MISSING_CODE], &slots, runs);
            gather::<u8>(&[], &slots, runs);
            gather::<u16>(&[7, MISSING_CODE, 0, 65_535], &slots, runs);
            gather::<u32>(&[7, MISSING_CODE, 0, 1 << 20], &slots, runs);
        }
    }

    /// A column's keys are as narrow as its number of values allows.
    #[test]
    fn keys_are_as_narrow_as_the_values_allow() {
        use IntegerType::{UInt16, UInt32, UInt8};
        assert_eq!(
            [0, 256, 257, 65_536, 65_537].map(narrowest_key),
            [UInt8, UInt8, UInt16, UInt16, UInt32]
        );
    }
}
