//! Batch and single-event paths agree; encoders behave; bad input stays defined.

use lotl_events::{Label, ProcessEvent, Text};
use lotl_features::{
    featurize_batch, featurize_parquet_file, EncoderParams, FeaturePipeline, FeatureRow,
    FeatureValue, LotlParams, RecipeConfig,
};
use proptest::prelude::*;
use std::time::Instant;

fn opt_str() -> impl Strategy<Value = Option<Text>> {
    prop_oneof![
        Just(None),
        Just(Some(Text::default())),
        "[a-zA-Z0-9 .\\\\/:^\"'-]{0,60}".prop_map(|s| Some(s.into())),
        any::<String>().prop_map(|s| Some(s.into())),
        prop::sample::select(vec![
            r"C:\Windows\System32\cmd.exe",
            r"C:\Users\bob\AppData\Local\Temp\svch0st.exe",
            "powershell -enc SQBFAFgA",
            "rundll32.exe javascript:\"\\..\\mshtml,RunHTMLApplication\"",
            "cmd.exe",
            "6f9619ff-8b86-d011-b42d-00c04fc964ff 0xdeadbeef 123456",
        ])
        .prop_map(|s| Some(s.into())),
    ]
}

prop_compose! {
    fn event()(
        name in opt_str(), exe in opt_str(), cl in opt_str(), pname in opt_str(), pexe in opt_str(),
        pe in opt_str(), integ in prop::option::of(prop::sample::select(vec!["low", "medium", "high", "system", "weird"])),
        elev in prop::option::of(prop::sample::select(vec!["default", "full", "limited"])),
        elevated in prop::option::of(any::<bool>()), signed in prop::option::of(any::<bool>()),
        user in prop::option::of(prop::sample::select(vec!["S-1-5-18", "S-1-5-20", "S-1-5-21-1-2-3-1001", "x"])),
        args in prop::collection::vec("[a-z/-]{0,8}".prop_map(Text::from), 0..3), action in opt_str(),
    ) -> ProcessEvent {
        ProcessEvent {
            process_name: name, process_executable: exe, process_command_line: cl,
            parent_name: pname, parent_executable: pexe, process_pe_original_file_name: pe,
            integrity_level: integ.map(Text::from), elevation_type: elev.map(Text::from),
            elevated, process_code_signature_exists: signed, process_code_signature_trusted: signed,
            user_id: user.map(Text::from), process_args: args, event_action: action,
            ..Default::default()
        }
    }
}

/// A recipe's event columns are columns of the events layout: a misspelt one would be
/// silently left unread.
#[test]
fn recipe_columns_are_event_columns() {
    for cfg in configs() {
        let recipe = cfg.build().unwrap();
        let Some(columns) = recipe.event_columns() else {
            assert!(recipe.input_key().is_none(), "{}", cfg.name());
            continue;
        };
        let key = lotl_events::key::ColumnKey::new(columns)
            .unwrap_or_else(|e| panic!("{}: {e}", cfg.name()));
        assert_eq!(recipe.input_key(), Some(key), "{}", cfg.name());
        for (column, stands_in_for) in recipe.fallback_columns() {
            assert!(
                columns.contains(column) && columns.contains(stands_in_for),
                "{}: {column}",
                cfg.name()
            );
        }
    }
}

prop_compose! {
    /// [`event`] with every other field of an event set too: what a recipe does not read
    /// must not matter, and what it reads must be read from a file.
    fn full_event()(
        e in event(), pcl in opt_str(), uname in opt_str(), udomain in opt_str(),
        ids in prop::collection::vec("[0-9a-f-]{36}", 3), subject in opt_str(),
        pids in (prop::option::of(0i64..70_000), prop::option::of(0i64..70_000)),
        lotl in (opt_str(), opt_str(), opt_str()), sysmon in any::<bool>(), ts in 0i64..2_000_000_000_000,
    ) -> ProcessEvent {
        ProcessEvent {
            timestamp_ms: ts,
            event_id: ids[0].as_str().into(),
            host_name: "host-1".into(),
            host_id: Some(ids[1].as_str().into()),
            source: Some(if sysmon { lotl_events::EventSource::Sysmon1 } else { lotl_events::EventSource::ElasticDefend }),
            process_pid: pids.0,
            process_entity_id: Some(ids[2].as_str().into()),
            process_code_signature_subject: subject,
            parent_pid: pids.1,
            parent_entity_id: Some(ids[1].as_str().into()),
            parent_command_line: pcl,
            user_name: uname,
            user_domain: udomain,
            label: Some(if sysmon { Label::Malicious } else { Label::Benign }),
            scenario_id: lotl.0,
            technique: lotl.1,
            family: lotl.2,
            ..e
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Featurising an events file (which decodes only the columns a recipe names) gives
    /// every recipe's features of the events in memory, value for value.
    #[test]
    fn a_file_featurises_as_its_events_do(events in prop::collection::vec(full_event(), 1..40)) {
        use polars::prelude::{DataType, ParquetReader, SerReader};
        let dir = tempfile::tempdir().unwrap();
        let events_path = dir.path().join("events.parquet");
        lotl_events::parquet::write_parquet(&events_path, &events).unwrap();
        for cfg in configs() {
            let recipe = cfg.build().unwrap();
            let out = dir.path().join("features.parquet");
            featurize_parquet_file(recipe.as_ref(), &events_path, &out, &|_| {}).unwrap();
            let file = as_strings(&ParquetReader::new(std::fs::File::open(&out).unwrap()).finish().unwrap());
            let memory = as_strings(&featurize_batch(recipe.as_ref(), &events).to_dataframe().unwrap());
            for c in memory.columns() {
                let got = file.column(c.name()).unwrap();
                if c.dtype() == &DataType::Float32 {
                    let (a, b) = (c.f32().unwrap(), got.f32().unwrap());
                    for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
                        prop_assert!(same(x.unwrap_or(f32::NAN), y.unwrap_or(f32::NAN)), "{} {} row {}: {:?} vs {:?}", cfg.name(), c.name(), i, x, y);
                    }
                } else {
                    prop_assert!(got.equals_missing(c), "{} column {}", cfg.name(), c.name());
                }
            }
            let labels = file.column("lotl.label").unwrap().str().unwrap().clone();
            prop_assert_eq!(labels.iter().flatten().count(), events.len());
        }
    }
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn configs() -> Vec<RecipeConfig> {
    vec![
        RecipeConfig::Elastic2021,
        RecipeConfig::Elastic2026,
        RecipeConfig::Lotl(LotlParams {
            cl_buckets: 32,
            path_buckets: 8,
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn batch_equals_single(train in prop::collection::vec(event(), 6..30), test in prop::collection::vec(event(), 1..20)) {
        let labels: Vec<bool> = (0..train.len()).map(|i| i % 3 == 0).collect();
        for cfg in configs() {
            let pipe = FeaturePipeline::fit(cfg.clone(), EncoderParams::default(), &train, &labels).unwrap();
            let batch = pipe.transform(&test);
            let table = featurize_batch(pipe.recipe(), &test);
            let via_table = pipe.encode_table(&table).unwrap();
            let mut one = Vec::new();
            for (i, e) in test.iter().enumerate() {
                pipe.transform_one(e, &mut one);
                prop_assert_eq!(one.len(), batch.n_cols);
                for (j, &v) in one.iter().enumerate() {
                    prop_assert!(same(v, batch.get(i, j)), "{} row {} col {}: {} vs {}", cfg.name(), i, pipe.columns()[j], v, batch.get(i, j));
                    prop_assert!(same(v, via_table.get(i, j)), "table path differs at {}", pipe.columns()[j]);
                }
            }
            // The scoring plan (groups memoised per thread) encodes the same values; the second
            // pass finds every group in its memo, and a plan reading every other column keeps
            // exactly the values of the columns it reads.
            let every = pipe.scoring_plan(None);
            let reads: Vec<bool> = (0..pipe.n_columns()).map(|j| j % 4 < 2).collect();
            let some = pipe.scoring_plan(Some(&reads));
            let mut planned = vec![0.0; every.width()];
            for pass in 0..2 {
                for (i, e) in test.iter().enumerate() {
                    pipe.transform_planned(&every, e, &mut planned);
                    for (j, &v) in planned.iter().enumerate() {
                        prop_assert!(same(v, batch.get(i, j)), "{} pass {} row {} col {}: {} vs {}", cfg.name(), pass, i, pipe.columns()[j], v, batch.get(i, j));
                    }
                    pipe.transform_planned(&some, e, &mut planned);
                    for (j, &v) in planned.iter().enumerate() {
                        prop_assert!(!reads[j] || same(v, batch.get(i, j)), "{} column {} read but differs", cfg.name(), pipe.columns()[j]);
                    }
                }
            }
            // A reused row gives the same values as a fresh one (no state leaks between events).
            let mut fresh = FeatureRow::new();
            let mut reused = FeatureRow::new();
            for e in &test {
                pipe.recipe().featurize(&train[0], &mut reused);
                pipe.recipe().featurize(e, &mut reused);
                pipe.recipe().featurize(e, &mut fresh);
                let a = reused.values(pipe.recipe().features());
                let b = fresh.values(pipe.recipe().features());
                for ((n, x), (_, y)) in a.iter().zip(&b) {
                    let eq = match (x, y) {
                        (FeatureValue::Num(p), FeatureValue::Num(q)) => same(*p, *q),
                        _ => x == y,
                    };
                    prop_assert!(eq, "{}: {:?} vs {:?}", n, x, y);
                }
            }
        }
    }
}

#[test]
fn schema_and_row_lengths_agree() {
    for cfg in configs() {
        let r = cfg.build().unwrap();
        let mut row = FeatureRow::new();
        r.featurize(&ProcessEvent::default(), &mut row);
        assert_eq!(row.numeric().len(), r.n_numeric(), "{}", cfg.name());
        assert_eq!(row.n_categorical(), r.n_categorical(), "{}", cfg.name());
        let mut names: Vec<&str> = r.features().iter().map(|f| f.name.as_ref()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            r.features().len(),
            "{}: duplicate feature names",
            cfg.name()
        );
        assert!(r.features().iter().all(|f| !f.doc.is_empty()));
    }
    let lotl = RecipeConfig::from_name("lotl").unwrap().build().unwrap();
    assert_eq!(lotl.n_categorical(), 3);
    assert_eq!(
        lotl.n_numeric(),
        lotl_features::lotl::SCALARS.len() + 256 + 64
    );
}

fn ev(name: &str, parent: &str, label: Label) -> ProcessEvent {
    ProcessEvent {
        process_name: Some(name.into()),
        parent_name: Some(parent.into()),
        label: Some(label),
        ..Default::default()
    }
}

#[test]
fn encoders_frequency_target_and_unseen() {
    let mut train = Vec::new();
    for _ in 0..80 {
        train.push(ev("a.exe", "p.exe", Label::Benign));
    }
    for _ in 0..20 {
        train.push(ev("b.exe", "p.exe", Label::Malicious));
    }
    let labels: Vec<bool> = train
        .iter()
        .map(|e| e.label == Some(Label::Malicious))
        .collect();
    let params = EncoderParams {
        smoothing: 0.0,
        ..Default::default()
    };
    let (pipe, train_m) = FeaturePipeline::fit_transform(
        RecipeConfig::Lotl(LotlParams::default()),
        params,
        &train,
        &labels,
    )
    .unwrap();
    let col = |n: &str| pipe.columns().iter().position(|c| c == n).unwrap();
    let (f, t) = (
        col("process_name_frequency"),
        col("process_name_targetmean"),
    );
    let m = pipe.transform(&[
        ev("a.exe", "p.exe", Label::Benign),
        ev("b.exe", "p.exe", Label::Benign),
        ev("zzz.exe", "q.exe", Label::Benign),
    ]);
    assert!((m.get(0, f) - 0.8).abs() < 1e-6);
    assert!((m.get(1, f) - 0.2).abs() < 1e-6);
    assert_eq!(m.get(0, t), 0.0);
    assert_eq!(m.get(1, t), 1.0);
    // Unseen: frequency 0, target mean = prior.
    assert_eq!(m.get(2, f), 0.0);
    assert!((m.get(2, t) - 0.2).abs() < 1e-6);
    // Out-of-fold on the training rows: still separates, but computed without the row itself:
    // with a constant label per value the OOF mean equals the in-sample one...
    assert_eq!(train_m.get(0, t), 0.0);
    assert_eq!(train_m.get(90, t), 1.0);
    // ...while a value seen once gets the other folds' prior, not its own label.
    let mut train2 = train.clone();
    train2.push(ev("once.exe", "p.exe", Label::Malicious));
    let mut labels2 = labels.clone();
    labels2.push(true);
    let (pipe2, m2) = FeaturePipeline::fit_transform(
        RecipeConfig::Lotl(LotlParams::default()),
        params_default_smoothing0(),
        &train2,
        &labels2,
    )
    .unwrap();
    let t2 = pipe2
        .columns()
        .iter()
        .position(|c| c == "process_name_targetmean")
        .unwrap();
    let oof = m2.get(100, t2);
    assert!(
        oof < 0.5,
        "a singleton must not see its own label, got {oof}"
    );
    assert_eq!(
        pipe2.transform(&train2[100..]).get(0, t2),
        1.0,
        "in-sample it would be 1"
    );
    // Fold assignment is fixed: fitting twice gives identical matrices.
    let (_, m3) = FeaturePipeline::fit_transform(
        RecipeConfig::Lotl(LotlParams::default()),
        params_default_smoothing0(),
        &train2,
        &labels2,
    )
    .unwrap();
    assert_eq!(
        m2.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        m3.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}

fn params_default_smoothing0() -> EncoderParams {
    EncoderParams {
        smoothing: 0.0,
        ..Default::default()
    }
}

#[test]
fn missing_categorical_is_nan() {
    let train = vec![ProcessEvent::default(); 4];
    let pipe = FeaturePipeline::fit(
        RecipeConfig::Elastic2021,
        EncoderParams::default(),
        &train,
        &[true, false, false, false],
    )
    .unwrap();
    let c = pipe
        .columns()
        .iter()
        .position(|c| c == "command_line_2-gram_feature50_frequency")
        .unwrap();
    let m = pipe.transform(&train[..1]);
    assert!(m.get(0, c).is_nan());
    assert!(m.get(0, c + 1).is_nan());
}

#[test]
fn pipeline_round_trips_through_json() {
    let train: Vec<ProcessEvent> = (0..20)
        .map(|i| ProcessEvent {
            process_name: Some(format!("p{}.exe", i % 4).into()),
            process_command_line: Some(format!("p{} /x {}", i % 4, i).into()),
            ..Default::default()
        })
        .collect();
    let labels: Vec<bool> = (0..20).map(|i| i % 4 == 1).collect();
    for cfg in configs() {
        let pipe = FeaturePipeline::fit(cfg, EncoderParams::default(), &train, &labels).unwrap();
        let json = pipe.to_json().unwrap();
        let back = FeaturePipeline::from_json(&json).unwrap();
        assert_eq!(back.columns(), pipe.columns());
        let (a, b) = (pipe.transform(&train), back.transform(&train));
        assert!(a.data.iter().zip(&b.data).all(|(x, y)| same(*x, *y)));
        // Serialisation is deterministic (sorted maps, no random hasher state).
        assert_eq!(json, back.to_json().unwrap());
    }
}

#[test]
fn bad_params_and_labels_are_errors() {
    assert!(RecipeConfig::from_name("nope").is_err());
    assert!(RecipeConfig::Lotl(LotlParams {
        cl_buckets: 0,
        path_buckets: 8
    })
    .build()
    .is_err());
    let e = vec![ProcessEvent::default(); 3];
    assert!(FeaturePipeline::fit(
        RecipeConfig::Elastic2021,
        EncoderParams::default(),
        &e,
        &[true]
    )
    .is_err());
    let p = EncoderParams {
        folds: 1,
        ..Default::default()
    };
    assert!(FeaturePipeline::fit(RecipeConfig::Elastic2021, p, &e, &[true, false, true]).is_err());
}

#[test]
fn huge_and_strange_input_is_defined_and_bounded() {
    let mb = "A^b`c\"d\\e 0x1f 12345 http://1.2.3.4/é ".repeat(1 << 20 >> 5);
    let weird = "\u{0}\u{FFFD}\u{202E}exe.\u{1F600}".repeat(1000);
    let events = vec![
        ProcessEvent {
            process_command_line: Some(mb.clone().into()),
            process_name: Some(weird.clone().into()),
            process_executable: Some(format!(r"C:\Users\{weird}\{weird}").into()),
            parent_executable: Some(mb.clone().into()),
            process_pe_original_file_name: Some(weird.clone().into()),
            ..Default::default()
        },
        ProcessEvent {
            process_command_line: Some(String::new().into()),
            process_args: vec![String::new().into()],
            ..Default::default()
        },
        ProcessEvent {
            process_command_line: Some("\"\"".into()),
            ..Default::default()
        },
    ];
    for cfg in configs() {
        let r = cfg.build().unwrap();
        let mut row = FeatureRow::new();
        for e in &events {
            let t = Instant::now();
            r.featurize(e, &mut row);
            // A generous bound (debug build): catches super-linear scans, not speed.
            assert!(
                t.elapsed().as_secs() < 20,
                "{} took {:?}",
                cfg.name(),
                t.elapsed()
            );
            assert_eq!(row.numeric().len(), r.n_numeric());
            assert!(
                row.numeric().iter().all(|v| !v.is_infinite()),
                "{}",
                cfg.name()
            );
        }
    }
    // Elastic: the normalised empty command line has one empty bigram.
    let r = RecipeConfig::Elastic2021.build().unwrap();
    let mut row = FeatureRow::new();
    r.featurize(&events[2], &mut row);
    assert_eq!(
        row.value(r.features(), "command_line_2-gram_feature0"),
        Some(FeatureValue::Cat(Some("")))
    );
    assert_eq!(
        row.value(r.features(), "command_line_2-gram_feature1"),
        Some(FeatureValue::Cat(None))
    );
}

/// A table longer than one row group is written batch by batch and reads back as the
/// whole table's frame, ids and all.
#[test]
fn written_table_reads_back_whole() {
    use polars::prelude::{DataType, ParquetReader, SerReader};
    let n = lotl_events::parquet::BATCH_ROWS + 1000;
    let events: Vec<ProcessEvent> = (0..n)
        .map(|i| {
            let mut e = ev(
                ["cmd.exe", "rundll32.exe", "svchost.exe"][i % 3],
                ["explorer.exe", "winword.exe"][i % 2],
                if i % 5 == 0 {
                    Label::Malicious
                } else {
                    Label::Benign
                },
            );
            e.event_id = format!("e{i}").into();
            e.process_command_line = (i % 4 != 0).then(|| format!("x.exe /c {}", i % 50).into());
            e
        })
        .collect();
    let recipe = RecipeConfig::Elastic2021.build().unwrap();
    let table = featurize_batch(recipe.as_ref(), &events);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("features.parquet");
    table.write_parquet_with_ids(&path, &events).unwrap();
    let back = ParquetReader::new(std::fs::File::open(&path).unwrap())
        .finish()
        .unwrap();
    let whole = table.to_dataframe().unwrap();
    assert_eq!(back.height(), n);
    assert_eq!(back.width(), whole.width() + 3);
    // Categorical features are written as dictionaries, not strings.
    let name = back.column("process_name_2-gram_feature0").unwrap();
    assert!(
        matches!(name.dtype(), DataType::Categorical(..)),
        "{}",
        name.dtype()
    );
    let (whole, back) = (as_strings(&whole), as_strings(&back));
    for c in whole.columns() {
        let got = back.column(c.name()).unwrap();
        assert!(got.equals_missing(c), "column {}", c.name());
    }
    let ids = back.column("event.id").unwrap().str().unwrap();
    assert_eq!(ids.get(n - 1), Some(format!("e{}", n - 1).as_str()));

    // The same from an events file, a row group at a time: the same frame.
    let events_path = dir.path().join("events.parquet");
    lotl_events::parquet::write_parquet(&events_path, &events).unwrap();
    let streamed = dir.path().join("streamed.parquet");
    let done = std::sync::atomic::AtomicUsize::new(0);
    let stats = featurize_parquet_file(recipe.as_ref(), &events_path, &streamed, &|k| {
        done.fetch_add(k, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!((stats.rows, done.into_inner()), (n, n));
    let again = ParquetReader::new(std::fs::File::open(&streamed).unwrap())
        .finish()
        .unwrap();
    assert!(as_strings(&again).equals_missing(&back));
    // One row group holding every event (as other writers often make it): the same.
    let one_group = dir.path().join("one-group.parquet");
    let frame = lotl_events::parquet::to_dataframe(&events);
    lotl_events::parquet::write_batches_atomic(&one_group, std::iter::once(frame), false).unwrap();
    featurize_parquet_file(recipe.as_ref(), &one_group, &streamed, &|_| {}).unwrap();
    let again = ParquetReader::new(std::fs::File::open(&streamed).unwrap())
        .finish()
        .unwrap();
    assert!(as_strings(&again).equals_missing(&back));

    // No events: a file with the columns and no rows.
    let none = dir.path().join("none.parquet");
    lotl_events::parquet::write_parquet(&none, &[]).unwrap();
    featurize_parquet_file(recipe.as_ref(), &none, &streamed, &|_| {}).unwrap();
    let empty = ParquetReader::new(std::fs::File::open(&streamed).unwrap())
        .finish()
        .unwrap();
    assert_eq!((empty.height(), empty.width()), (0, back.width()));

    // A broken input is an error naming it, and the last good output is left as it was.
    let broken = dir.path().join("broken.parquet");
    let bytes = std::fs::read(&events_path).unwrap();
    std::fs::write(&broken, &bytes[..bytes.len() / 2]).unwrap();
    let before = std::fs::read(&streamed).unwrap();
    let err = featurize_parquet_file(recipe.as_ref(), &broken, &streamed, &|_| {}).unwrap_err();
    assert!(err.to_string().contains("broken.parquet"), "{err}");
    assert_eq!(std::fs::read(&streamed).unwrap(), before);
}

/// Argument lists, read from a file only for the batches in which some event has no
/// command line, stand in for it there as they do in memory: from the right rows, in a
/// file of row groups and in a file of one.
#[test]
fn arguments_stand_in_for_missing_command_lines_in_files() {
    use polars::prelude::{ParquetReader, SerReader};
    let n = lotl_events::parquet::BATCH_ROWS + 1000;
    let events: Vec<ProcessEvent> = (0..n)
        .map(|i| {
            let mut e = ev("cmd.exe", "explorer.exe", Label::Benign);
            e.event_id = format!("e{i}").into();
            e.process_args = vec![format!("/c{}", i % 997).into(), "run".into()];
            // Only the second batch has events without command lines (some without
            // arguments either).
            let has_line = i < lotl_events::parquet::BATCH_ROWS || i % 7 != 0;
            e.process_command_line = has_line.then(|| format!("cmd.exe /k {}", i % 13).into());
            if i % 21 == 0 {
                e.process_args.clear();
            }
            e
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let groups = dir.path().join("groups.parquet");
    lotl_events::parquet::write_parquet(&groups, &events).unwrap();
    let one_group = dir.path().join("one-group.parquet");
    let frame = lotl_events::parquet::to_dataframe(&events);
    lotl_events::parquet::write_batches_atomic(&one_group, std::iter::once(frame), false).unwrap();
    let features = dir.path().join("features.parquet");
    for cfg in [
        RecipeConfig::Elastic2021,
        RecipeConfig::Lotl(LotlParams::default()),
    ] {
        let recipe = cfg.build().unwrap();
        let memory = as_strings(
            &featurize_batch(recipe.as_ref(), &events)
                .to_dataframe()
                .unwrap(),
        );
        for input in [&groups, &one_group] {
            featurize_parquet_file(recipe.as_ref(), input, &features, &|_| {}).unwrap();
            let file = ParquetReader::new(std::fs::File::open(&features).unwrap())
                .finish()
                .unwrap();
            let file = as_strings(
                &file
                    .select(memory.get_column_names().into_iter().cloned())
                    .unwrap(),
            );
            assert!(
                file.equals_missing(&memory),
                "{} from {}",
                cfg.name(),
                input.display()
            );
        }
    }
}

/// `df` with its categorical columns as strings: two files number their categories apart.
fn as_strings(df: &polars::prelude::DataFrame) -> polars::prelude::DataFrame {
    use polars::prelude::{DataFrame, DataType};
    let cols = df
        .columns()
        .iter()
        .map(|c| match c.dtype() {
            DataType::Categorical(..) => c.cast(&DataType::String).unwrap(),
            _ => c.clone(),
        })
        .collect();
    DataFrame::new(df.height(), cols).unwrap()
}

/// The per-thread memos (command line, paths) never change a value: featurising events
/// again on a warm thread, interleaving recipes that share a memo, gives what a fresh
/// thread computes from scratch.
#[test]
fn warm_memos_equal_fresh_computation() {
    let events: Vec<ProcessEvent> = [
        r#"cmd.exe /c "whoami ^& net user""#,
        "powershell -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA",
        r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule",
        "",
    ]
    .iter()
    .map(|cl| {
        let mut e = ev("cmd.exe", "explorer.exe", Label::Benign);
        e.process_executable = Some(r"C:\Windows\System32\cmd.exe".into());
        e.process_command_line = (!cl.is_empty()).then(|| (*cl).into());
        e
    })
    .collect();
    let recipes: Vec<_> = configs().iter().map(|c| c.build().unwrap()).collect();
    let one = |r: &dyn lotl_features::FeatureRecipe, e: &ProcessEvent| {
        let mut row = FeatureRow::new();
        r.featurize(e, &mut row);
        let num: Vec<u32> = row.numeric().iter().map(|x| x.to_bits()).collect();
        let cat: Vec<Option<String>> = (0..row.n_categorical())
            .map(|j| row.categorical(j).map(str::to_owned))
            .collect();
        (num, cat)
    };
    // One thread, every recipe in turn on every event, twice over.
    let warm: Vec<Vec<_>> = events
        .iter()
        .chain(&events)
        .map(|e| recipes.iter().map(|r| one(r.as_ref(), e)).collect())
        .collect();
    for (i, w) in warm.iter().enumerate() {
        let e = &events[i % events.len()];
        // Each recipe alone on a new thread: an empty memo, nothing shared.
        let fresh: Vec<_> = recipes
            .iter()
            .map(|r| std::thread::scope(|s| s.spawn(|| one(r.as_ref(), e)).join().unwrap()))
            .collect();
        assert_eq!(w, &fresh, "event {i}");
    }
}
