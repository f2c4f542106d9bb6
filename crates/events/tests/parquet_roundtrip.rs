//! A written file reads back to identical records; the write is atomic.

use lotl_events::parquet::{read_parquet, write_parquet};
use lotl_events::{EventSource, Label, ProcessEvent, Text};
use proptest::prelude::*;

fn opt_str() -> impl Strategy<Value = Option<Text>> {
    prop::option::of(
        prop_oneof!["[a-zA-Z0-9 .:\\\\/\"-]{0,40}", any::<String>(),].prop_map(Text::from),
    )
}

fn event() -> impl Strategy<Value = ProcessEvent> {
    let a = (
        any::<i64>().prop_map(|t| t / 1000),
        "[a-z0-9#]{1,12}",
        "[a-z0-9.-]{0,20}",
        opt_str(),
        prop::option::of(prop::sample::select(EventSource::ALL.to_vec())),
        opt_str(),
        prop::option::of(any::<i64>()),
        opt_str(),
        opt_str(),
        opt_str(),
        opt_str(),
        prop::collection::vec(any::<String>().prop_map(Text::from), 0..4),
    );
    let b = (
        opt_str(),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        opt_str(),
        opt_str(),
        opt_str(),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<i64>()),
        opt_str(),
        opt_str(),
        opt_str(),
        opt_str(),
    );
    let c = (
        opt_str(),
        opt_str(),
        opt_str(),
        opt_str(),
        prop::option::of(prop::sample::select(vec![
            Label::Benign,
            Label::Malicious,
            Label::Unknown,
        ])),
        opt_str(),
        opt_str(),
        opt_str(),
    );
    (a, b, c).prop_map(|(a, b, c)| ProcessEvent {
        timestamp_ms: a.0,
        event_id: a.1.into(),
        host_name: a.2.into(),
        host_id: a.3,
        source: a.4,
        event_action: a.5,
        process_pid: a.6,
        process_entity_id: a.7,
        process_name: a.8,
        process_executable: a.9,
        process_command_line: a.10,
        process_args: a.11,
        process_pe_original_file_name: b.0,
        process_code_signature_exists: b.1,
        process_code_signature_trusted: b.2,
        process_code_signature_subject: b.3,
        integrity_level: b.4,
        elevation_type: b.5,
        elevated: b.6,
        parent_pid: b.7,
        parent_entity_id: b.8,
        parent_name: b.9,
        parent_executable: b.10,
        parent_command_line: b.11,
        user_name: c.0,
        user_domain: c.1,
        user_id: c.2,
        source_file: c.3.map(|f| f.as_str().into()),
        label: c.4,
        scenario_id: c.5,
        technique: c.6,
        family: c.7,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn round_trip(events in prop::collection::vec(event(), 0..40)) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.parquet");
        write_parquet(&p, &events).unwrap();
        let back = read_parquet(&p).unwrap();
        prop_assert_eq!(back, events);
    }
}

/// More events than one row group holds: written batch by batch, read back whole and in order.
#[test]
fn round_trip_across_row_groups() {
    use lotl_events::parquet::BATCH_ROWS;
    let n = 2 * BATCH_ROWS + 17;
    let events: Vec<ProcessEvent> = (0..n)
        .map(|i| ProcessEvent {
            timestamp_ms: i as i64,
            event_id: format!("e{i}").into(),
            host_name: format!("h{}", i % 7).into(),
            process_command_line: (i % 3 != 0).then(|| format!("cmd.exe /c echo {i}").into()),
            ..Default::default()
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("many.parquet");
    write_parquet(&p, &events).unwrap();
    assert_eq!(read_parquet(&p).unwrap(), events);
}

#[test]
fn failed_write_leaves_existing_file_intact() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("e.parquet");
    let one = vec![ProcessEvent {
        event_id: "1".into(),
        host_name: "h".into(),
        ..Default::default()
    }];
    write_parquet(&p, &one).unwrap();
    // Writing to a path that is a directory fails at the rename; the old file is untouched
    // and no temp file is left behind.
    let as_dir = dir.path().join("d.parquet");
    std::fs::create_dir(&as_dir).unwrap();
    assert!(write_parquet(&as_dir, &one).is_err());
    assert_eq!(read_parquet(&p).unwrap(), one);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn a_non_lotl_parquet_file_is_a_clear_error() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("other.parquet");
    let mut df = df!("x" => [1i64, 2]).unwrap();
    lotl_events::parquet::write_frame_atomic(&p, &mut df).unwrap();
    let err = read_parquet(&p).unwrap_err().to_string();
    assert!(
        err.contains("not a lotl events Parquet file") && err.contains("missing column"),
        "{err}"
    );
}

/// Another writer's dictionary (categorical) string columns read as the strings they hold.
#[test]
fn categorical_string_columns_read_as_strings() {
    use polars::prelude::*;
    let events: Vec<ProcessEvent> = (0..5)
        .map(|i| ProcessEvent {
            event_id: format!("e{i}").into(),
            host_name: format!("h{}", i % 2).into(),
            process_name: (i % 3 != 0).then(|| "cmd.exe".into()),
            ..Default::default()
        })
        .collect();
    let mut frame = lotl_events::parquet::to_dataframe(&events).unwrap();
    let cat = DataType::from_categories(Categories::global());
    for name in ["host.name", "process.name"] {
        let c = frame.column(name).unwrap().cast(&cat).unwrap();
        frame.with_column(c).unwrap();
    }
    assert!(matches!(
        frame.column("host.name").unwrap().dtype(),
        DataType::Categorical(..)
    ));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cat.parquet");
    lotl_events::parquet::write_frame_atomic(&p, &mut frame).unwrap();
    assert_eq!(read_parquet(&p).unwrap(), events);
}

/// A row group far larger than the reader's minimum (pyarrow writes whole files as one) is
/// read a bounded slice at a time, every row once, in order.
#[test]
fn a_huge_row_group_is_read_in_bounded_slices() {
    let n = 5 * lotl_events::parquet::BATCH_ROWS + 3;
    let events: Vec<ProcessEvent> = (0..n)
        .map(|i| ProcessEvent {
            timestamp_ms: i as i64,
            event_id: format!("e{i}").into(),
            host_name: "h".into(),
            ..Default::default()
        })
        .collect();
    let frame = lotl_events::parquet::to_dataframe(&events).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("one-group.parquet");
    lotl_events::parquet::write_batches_atomic(&p, std::iter::once(Ok(frame)), false).unwrap();
    let mut heights = Vec::new();
    let mut back = Vec::new();
    lotl_events::parquet::read_frames(&p, 1, None, &mut |df| -> Result<(), lotl_events::Error> {
        heights.push(df.height());
        back.extend(lotl_events::parquet::from_dataframe(&df).unwrap());
        Ok(())
    })
    .unwrap();
    // Slices larger than any writer batch: the one group was cut by the reader.
    let batch = lotl_events::parquet::BATCH_ROWS;
    assert!(heights.len() > 1 && heights[0] > batch, "{heights:?}");
    assert!(heights.iter().all(|&h| h <= 4 * batch), "{heights:?}");
    assert_eq!(back, events);
}

/// Arrow arrays are written as the schema lays them out, one row group per call; an array
/// that does not fit the schema is an error naming its column, and nothing is written.
#[test]
fn arrays_are_written_as_their_schema_says_or_refused() {
    use lotl_events::parquet::BatchWriter;
    use polars::prelude::*;
    let frame = df!(
        "score" => [0.5f32, 1.5, f32::NAN],
        "name" => [Some("a"), None, Some("c")],
    )
    .unwrap();
    let arrays = |frame: &DataFrame| -> Vec<_> {
        frame
            .columns()
            .iter()
            .map(|c| {
                c.as_materialized_series()
                    .to_arrow(0, CompatLevel::newest())
            })
            .collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("arrays.parquet");
    let mut w = BatchWriter::new(&p, false);
    w.write_arrays(frame.schema(), 3, &arrays(&frame)).unwrap();
    w.write_arrays(frame.schema(), 0, &arrays(&frame.head(Some(0))))
        .unwrap();
    w.write_arrays(frame.schema(), 2, &arrays(&frame.tail(Some(2))))
        .unwrap();
    w.finish().unwrap();
    let back = ParquetReader::new(std::fs::File::open(&p).unwrap())
        .finish()
        .unwrap();
    let expected = frame.vstack(&frame.tail(Some(2))).unwrap();
    assert!(back.equals_missing(&expected), "{back}");

    let swapped = frame.select(["name", "score"]).unwrap();
    let bad = dir.path().join("bad.parquet");
    let mut w = BatchWriter::new(&bad, false);
    let err = w
        .write_arrays(frame.schema(), 3, &arrays(&swapped))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column score") && err.contains("bad.parquet"),
        "{err}"
    );
    let err = w
        .write_arrays(frame.schema(), 2, &arrays(&frame))
        .unwrap_err()
        .to_string();
    assert!(err.contains("3 rows"), "{err}");
    drop(w);
    assert!(!bad.exists());
}

/// A dictionary column's name, its rows' keys and its dictionary.
type DictionaryPattern = (&'static str, Vec<Option<u32>>, Vec<String>);

/// A string dictionary array of `rows`' keys, as `K`, into `dict`.
fn dictionary_column<K: polars_arrow::array::DictionaryKey>(
    rows: &[Option<u32>],
    dict: &[String],
) -> Box<dyn polars_arrow::array::Array> {
    use polars_arrow::array::{DictionaryArray, MutableBinaryViewArray, PrimitiveArray};
    use polars_arrow::datatypes::ArrowDataType;
    let keys: Vec<Option<K>> = rows
        .iter()
        .map(|k| k.map(|k| K::try_from(k as usize).ok().unwrap()))
        .collect();
    let dtype = ArrowDataType::Dictionary(K::KEY_TYPE, Box::new(ArrowDataType::Utf8View), false);
    let values = MutableBinaryViewArray::<str>::from_values_iter(dict.iter());
    DictionaryArray::try_new(
        dtype,
        PrimitiveArray::<K>::from(keys),
        values.freeze().boxed(),
    )
    .unwrap()
    .boxed()
}

/// `n` rows' keys below `n_values`: runs of nulls, runs of one value and scattered keys.
fn mixed_keys(n: usize, n_values: usize) -> Vec<Option<u32>> {
    (0..n)
        .map(|i| match i % 97 {
            0..=9 => None,
            10..=40 => Some(7),
            _ if i % 5 == 0 => None,
            _ => Some((i * 7919 % n_values) as u32),
        })
        .collect()
}

/// A `u32` categorical column per pattern, as feature files declare them.
fn categorical_schema(patterns: &[DictionaryPattern]) -> polars::prelude::Schema {
    use polars::prelude::*;
    patterns
        .iter()
        .map(|(name, _, _)| {
            Field::new(
                (*name).into(),
                DataType::from_categories(Categories::random(
                    (*name).into(),
                    CategoricalPhysical::U32,
                )),
            )
        })
        .collect()
}

/// Write `arrays` (one per pattern, `n` rows) to `path`, then rows 11..1,011 again (a slice
/// whose validity starts at bit 3 of a byte).
fn write_with_slice(
    path: &std::path::Path,
    schema: &polars::prelude::Schema,
    n: usize,
    arrays: &[Box<dyn polars_arrow::array::Array>],
) {
    let mut w = lotl_events::parquet::BatchWriter::new(path, false);
    w.write_arrays(schema, n, arrays).unwrap();
    let sliced: Vec<_> = arrays.iter().map(|a| a.sliced(11, 1_000)).collect();
    w.write_arrays(schema, 1_000, &sliced).unwrap();
    w.finish().unwrap();
}

/// `back` holds each pattern's rows, then its rows 11..1,011 again.
fn assert_read_back(back: &polars::prelude::DataFrame, patterns: &[DictionaryPattern]) {
    use polars::prelude::*;
    let n = patterns[0].1.len();
    assert_eq!(back.height(), n + 1_000);
    for (name, rows, dict) in patterns {
        let got = back.column(name).unwrap().cast(&DataType::String).unwrap();
        let expected = rows.iter().chain(&rows[11..1_011]);
        for (i, (g, e)) in got.str().unwrap().iter().zip(expected).enumerate() {
            assert_eq!(g, e.map(|k| dict[k as usize].as_str()), "{name} row {i}");
        }
    }
}

/// String dictionary columns (what feature files hold) read back value for value, whatever
/// their nulls: a column spanning several data pages, a slice starting mid-byte of its
/// validity, a column of one value, a column with no value at all and one with no nulls.
#[test]
fn dictionary_columns_read_back_value_for_value() {
    use polars::prelude::*;
    let n = 300_011;
    let dict: Vec<String> = (0..1000).map(|i| format!("value-{i}")).collect();
    let patterns: Vec<DictionaryPattern> = vec![
        // Keys of every bit width.
        ("mixed", mixed_keys(n, 1000), dict.clone()),
        (
            "one_value",
            (0..n).map(|i| (i % 3 != 0).then_some(0)).collect(),
            vec!["only".to_owned()],
        ),
        ("no_value", vec![None; n], vec![]),
        (
            "no_null",
            (0..n).map(|i| Some((i % 300) as u32)).collect(),
            dict[..300].to_vec(),
        ),
    ];
    let arrays: Vec<_> = patterns
        .iter()
        .map(|(_, rows, dict)| dictionary_column::<u32>(rows, dict))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dictionary.parquet");
    // A whole column (three pages), then a slice.
    write_with_slice(&p, &categorical_schema(&patterns), n, &arrays);
    let back = ParquetReader::new(std::fs::File::open(&p).unwrap())
        .finish()
        .unwrap();
    assert_read_back(&back, &patterns);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    /// A column key spells a column's value as its Parquet column holds it: an event made
    /// of `a`'s columns but for one taken from `b` keys like `b` on that column and like
    /// `a` on every other, and two events key alike on a column exactly when its cells
    /// are equal.
    #[test]
    fn column_keys_follow_the_parquet_columns(a in event(), b in event()) {
        use lotl_events::event::COLUMNS;
        use lotl_events::key::ColumnKey;
        use lotl_events::parquet::{from_dataframe, to_dataframe};
        let key = |columns: &[&str], e: &ProcessEvent| {
            let mut out = Vec::new();
            ColumnKey::new(columns).unwrap().append(e, &mut out);
            out
        };
        let fa = to_dataframe(std::slice::from_ref(&a)).unwrap();
        let fb = to_dataframe(std::slice::from_ref(&b)).unwrap();
        for c in COLUMNS {
            let mut mixed = fa.clone();
            mixed.with_column(fb.column(c).unwrap().clone()).unwrap();
            let m = from_dataframe(&mixed).unwrap().remove(0);
            let others: Vec<&str> = COLUMNS.into_iter().filter(|o| *o != c).collect();
            prop_assert_eq!(key(&[c], &m), key(&[c], &b), "column {}", c);
            prop_assert_eq!(key(&others, &m), key(&others, &a), "all but {}", c);
            let same_cells = fa
                .column(c)
                .unwrap()
                .as_materialized_series()
                .equals_missing(fb.column(c).unwrap().as_materialized_series());
            prop_assert_eq!(key(&[c], &a) == key(&[c], &b), same_cells, "column {}", c);
        }
    }
}

/// Dictionary arrays with keys of one, two or four bytes write the same file: Parquet stores
/// keys by value, and the schema's key type is the file's. (The feature writer keys a
/// column as narrowly as its values allow.)
#[test]
fn narrow_dictionary_keys_write_the_same_file() {
    use polars::prelude::*;
    let n = 140_003;
    let dict: Vec<String> = (0..256).map(|i| format!("v{i}")).collect();
    let patterns: Vec<DictionaryPattern> = vec![
        ("mixed", mixed_keys(n, 256), dict.clone()),
        ("no_value", vec![None; n], vec![]),
        (
            "no_null",
            (0..n).map(|i| Some((i % 3) as u32)).collect(),
            dict[..3].to_vec(),
        ),
    ];
    // One schema for the three files: its categories are named at random.
    let schema = categorical_schema(&patterns);
    let dir = tempfile::tempdir().unwrap();
    let write = |file: &str, column: fn(&[Option<u32>], &[String]) -> _| {
        let p = dir.path().join(file);
        let arrays: Vec<_> = patterns.iter().map(|(_, r, d)| column(r, d)).collect();
        write_with_slice(&p, &schema, n, &arrays);
        std::fs::read(p).unwrap()
    };
    let wide = write("u32.parquet", dictionary_column::<u32>);
    let middle = write("u16.parquet", dictionary_column::<u16>);
    let narrow = write("u8.parquet", dictionary_column::<u8>);
    assert!(wide == middle, "u16 keys wrote another file than u32 keys");
    assert!(wide == narrow, "u8 keys wrote another file than u32 keys");
    let back = ParquetReader::new(std::io::Cursor::new(narrow))
        .finish()
        .unwrap();
    assert_read_back(&back, &patterns);
}
