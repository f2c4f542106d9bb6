//! Scored events: a process start with the classifier's verdict, in memory, in Parquet and
//! as NDJSON lines.
//!
//! Parquet: the events layout of [`lotl_events::parquet`] plus `prediction` (UInt8 or
//! Int64), `prediction_probability` (Float32 or Float64) and optionally `top_features`
//! (String holding JSON: `[["feature", contribution], ...]`; objects with
//! `feature`/`name` and `contribution`/`importance`/`value` keys are read too).

use crate::error::{Error, Result};
use lotl_events::ProcessEvent;
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Column holding the classifier's class (0 benign, 1 malicious).
pub const PREDICTION_COLUMN: &str = "prediction";
/// Column holding the classifier's probability of class 1.
pub const PROBABILITY_COLUMN: &str = "prediction_probability";
/// Optional column holding the per-event top feature contributions as JSON.
pub const TOP_FEATURES_COLUMN: &str = "top_features";

/// One process start with the classifier's verdict.
///
/// As JSON the event's own fields are flattened beside `prediction`, `probability` (also
/// read as `prediction_probability`) and `top_features`, so a scored NDJSON line is a
/// serialised [`ProcessEvent`] with three more keys.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScoredEvent {
    #[serde(flatten)]
    pub event: ProcessEvent,
    pub prediction: u8,
    #[serde(alias = "prediction_probability")]
    pub probability: f32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top_features: Vec<(String, f32)>,
}

#[derive(Deserialize)]
struct Verdict {
    prediction: u8,
    #[serde(alias = "prediction_probability")]
    probability: f32,
    #[serde(default)]
    top_features: Vec<(String, f32)>,
}

/// Parse one scored NDJSON line (see [`ScoredEvent`]).
///
/// Two direct passes (the event, then the verdict, each skipping the other's keys) instead
/// of `#[serde(flatten)]`, which buffers every value and is several times slower.
pub fn parse_scored_line(line: &str) -> std::result::Result<ScoredEvent, serde_json::Error> {
    let event: ProcessEvent = serde_json::from_str(line)?;
    let v: Verdict = serde_json::from_str(line)?;
    Ok(ScoredEvent {
        event,
        prediction: v.prediction,
        probability: v.probability,
        top_features: v.top_features,
    })
}

/// Read a scored Parquet file (see the module documentation for its columns).
pub fn read_scored(path: &Path) -> Result<Vec<ScoredEvent>> {
    let df = lotl_events::parquet::read_frame(path)?;
    scored_from_frame(path, &df, 0)
}

/// A Parquet file of events, scored (by `lotl predict`) or not (by `lotl ingest`).
pub enum EventsFile {
    Scored(Vec<ScoredEvent>),
    Unscored(Vec<ProcessEvent>),
}

/// Read a Parquet file of events (scored when it has a `prediction` column) a slice of at
/// most `rows` rows at a time, in file order: the file is read a row group at a time and
/// never held whole. `each` may fail with its own error type; the read stops there.
///
/// The file is read and decoded on a thread of its own while `each` works on the slice
/// before: reading is serial, and `each` (scoring) would otherwise leave every other core
/// idle while the next slice is decoded. `each` takes what it keeps out of the slice; the
/// rest is dropped on the reading thread, which made it: its memory is freed where it was
/// allocated and serves the next slice there.
pub fn read_events_file_in_slices<E: From<Error>>(
    path: &Path,
    rows: usize,
    each: &mut dyn FnMut(&mut EventsFile) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let rows = rows.max(1);
    // Two slices in flight: one being read while `each` works on the other.
    let (send, receive) = std::sync::mpsc::sync_channel::<EventsFile>(1);
    let (give_back, returned) = std::sync::mpsc::channel::<EventsFile>();
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let mut hand_over = |events| {
                returned.try_iter().for_each(drop);
                send.send(events).map_err(|_| Stop::Gone)
            };
            match read_slices(path, rows, &mut hand_over) {
                Ok(()) | Err(Stop::Gone) => Ok(()),
                Err(Stop::Failed(e)) => Err(e),
            }
        });
        let mut consumed = Ok(());
        for mut events in receive.iter() {
            let done = each(&mut events);
            // After the reader's last slice this is dropped here instead.
            let _ = give_back.send(events);
            if let Err(e) = done {
                consumed = Err(e);
                break;
            }
        }
        // Dropping the receiver stops a reader still sending.
        drop(receive);
        let read = reader.join().unwrap_or_else(|_| {
            Err(Error::Scored {
                path: path.to_owned(),
                message: "the reading thread panicked".into(),
            })
        });
        consumed?;
        Ok(read?)
    })
}

/// Why [`read_slices`] stopped early.
enum Stop {
    Failed(Error),
    /// The consumer stopped (with its own error).
    Gone,
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Failed(e)
    }
}

impl From<lotl_events::Error> for Stop {
    fn from(e: lotl_events::Error) -> Self {
        Stop::Failed(e.into())
    }
}

/// The reading half of [`read_events_file_in_slices`], on the calling thread.
fn read_slices(
    path: &Path,
    rows: usize,
    each: &mut dyn FnMut(EventsFile) -> std::result::Result<(), Stop>,
) -> std::result::Result<(), Stop> {
    let mut first_row = 0usize;
    lotl_events::parquet::read_frames(
        path,
        rows,
        None,
        &mut |df| -> std::result::Result<(), Stop> {
            let scored = df.column(PREDICTION_COLUMN).is_ok();
            for offset in (0..df.height()).step_by(rows) {
                let slice = df.slice(offset as i64, rows);
                let at = first_row + offset;
                let events = if scored {
                    EventsFile::Scored(scored_from_frame(path, &slice, at)?)
                } else {
                    EventsFile::Unscored(
                        lotl_events::parquet::from_dataframe_at(&slice, at, None).map_err(
                            |message| Error::Scored {
                                path: path.to_owned(),
                                message,
                            },
                        )?,
                    )
                };
                each(events)?;
            }
            first_row += df.height();
            Ok(())
        },
    )
}

/// The scored events of a frame whose first row is row `first_row` of `path`.
fn scored_from_frame(path: &Path, df: &DataFrame, first_row: usize) -> Result<Vec<ScoredEvent>> {
    let bad = |message: String| Error::Scored {
        path: path.to_owned(),
        message,
    };
    let events = lotl_events::parquet::from_dataframe_at(df, first_row, None).map_err(bad)?;
    let predictions = prediction_column(df, first_row).map_err(bad)?;
    let probabilities = probability_column(df).map_err(bad)?;
    let top = top_features_column(df).map_err(bad)?;
    let mut out = Vec::with_capacity(events.len());
    for (i, event) in events.into_iter().enumerate() {
        let row = first_row + i;
        let prediction =
            predictions[i].ok_or_else(|| bad(format!("row {row}: null prediction")))?;
        let probability = probabilities[i]
            .ok_or_else(|| bad(format!("row {row}: null prediction_probability")))?;
        if !(0.0..=1.0).contains(&probability) {
            return Err(bad(format!(
                "row {row}: prediction_probability {probability} outside [0, 1]"
            )));
        }
        let top_features = match top.as_ref().and_then(|t| t[i].as_deref()) {
            None | Some("") => Vec::new(),
            Some(s) => {
                parse_top_features(s).map_err(|e| bad(format!("row {row}: top_features: {e}")))?
            }
        };
        out.push(ScoredEvent {
            event,
            prediction,
            probability,
            top_features,
        });
    }
    Ok(out)
}

/// Write scored events to `path` atomically (temp file + rename).
pub fn write_scored(path: &Path, events: &[ScoredEvent]) -> Result<()> {
    let mut df = scored_frame(events).map_err(|source| {
        Error::Events(lotl_events::Error::Parquet {
            path: path.to_owned(),
            source,
        })
    })?;
    lotl_events::parquet::write_frame_atomic(path, &mut df)?;
    Ok(())
}

/// Scored events as a frame laid out as [`write_scored`] writes them: the events' columns,
/// then prediction, probability and top features; for writers of scored files in batches.
pub fn scored_frame(events: &[ScoredEvent]) -> PolarsResult<DataFrame> {
    let plain: Vec<&ProcessEvent> = events.iter().map(|e| &e.event).collect();
    let mut df = lotl_events::parquet::to_dataframe(&plain)?;
    let pred: UInt8Chunked = events.iter().map(|e| Some(e.prediction)).collect();
    let prob: Float32Chunked = events.iter().map(|e| Some(e.probability)).collect();
    let top: StringChunked = events
        .iter()
        .map(|e| {
            (!e.top_features.is_empty())
                .then(|| serde_json::to_string(&e.top_features).unwrap_or_default())
        })
        .collect();
    df.with_column(pred.with_name(PREDICTION_COLUMN.into()).into_column())?;
    df.with_column(prob.with_name(PROBABILITY_COLUMN.into()).into_column())?;
    df.with_column(top.with_name(TOP_FEATURES_COLUMN.into()).into_column())?;
    Ok(df)
}

fn prediction_column(
    df: &DataFrame,
    first_row: usize,
) -> std::result::Result<Vec<Option<u8>>, String> {
    let c = df
        .column(PREDICTION_COLUMN)
        .map_err(|_| format!("missing column `{PREDICTION_COLUMN}` (not a scored file?)"))?;
    let ints: Vec<Option<i64>> = match c.dtype() {
        DataType::Boolean => c
            .bool()
            .map_err(|e| e.to_string())?
            .iter()
            .map(|v| v.map(i64::from))
            .collect(),
        DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64 => {
            let cast = c.cast(&DataType::Int64).map_err(|e| e.to_string())?;
            cast.i64().map_err(|e| e.to_string())?.iter().collect()
        }
        other => {
            return Err(format!(
                "column `{PREDICTION_COLUMN}` is {other}, expected UInt8 or Int64"
            ))
        }
    };
    ints.into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            None => Ok(None),
            Some(x @ 0..=1) => Ok(Some(x as u8)),
            Some(x) => Err(format!(
                "row {}: prediction {x} is neither 0 nor 1",
                first_row + i
            )),
        })
        .collect()
}

fn probability_column(df: &DataFrame) -> std::result::Result<Vec<Option<f32>>, String> {
    let c = df
        .column(PROBABILITY_COLUMN)
        .map_err(|_| format!("missing column `{PROBABILITY_COLUMN}` (not a scored file?)"))?;
    match c.dtype() {
        DataType::Float32 => Ok(c.f32().map_err(|e| e.to_string())?.iter().collect()),
        DataType::Float64 => Ok(c
            .f64()
            .map_err(|e| e.to_string())?
            .iter()
            .map(|v| v.map(|x| x as f32))
            .collect()),
        other => Err(format!(
            "column `{PROBABILITY_COLUMN}` is {other}, expected Float32 or Float64"
        )),
    }
}

fn top_features_column(df: &DataFrame) -> std::result::Result<Option<Vec<Option<String>>>, String> {
    let Ok(c) = df.column(TOP_FEATURES_COLUMN) else {
        return Ok(None);
    };
    let ca = c.str().map_err(|_| {
        format!(
            "column `{TOP_FEATURES_COLUMN}` is {}, expected String (JSON)",
            c.dtype()
        )
    })?;
    Ok(Some(ca.iter().map(|v| v.map(str::to_owned)).collect()))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum TopFeature {
    Pair(String, f32),
    Object {
        #[serde(alias = "name", alias = "feature_name")]
        feature: String,
        #[serde(alias = "importance", alias = "value")]
        contribution: f32,
    },
}

/// Parse the JSON of a `top_features` cell.
pub fn parse_top_features(s: &str) -> std::result::Result<Vec<(String, f32)>, serde_json::Error> {
    let v: Vec<TopFeature> = serde_json::from_str(s)?;
    Ok(v.into_iter()
        .map(|t| match t {
            TopFeature::Pair(n, c) => (n, c),
            TopFeature::Object {
                feature,
                contribution,
            } => (feature, contribution),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(i: i64) -> ScoredEvent {
        let mut event = ProcessEvent {
            timestamp_ms: 1_700_000_000_000 + i * 1000,
            event_id: format!("e{i}").into(),
            host_name: "h1".into(),
            process_executable: Some(r"C:\Windows\System32\rundll32.exe".into()),
            parent_name: Some("winword.exe".into()),
            user_name: Some("alice".into()),
            ..Default::default()
        };
        event.complete();
        ScoredEvent {
            event,
            prediction: (i % 2) as u8,
            probability: 0.25 + i as f32 / 10.0,
            top_features: if i == 0 {
                vec![]
            } else {
                vec![("process.name_frequency".into(), 0.5), ("x".into(), -0.125)]
            },
        }
    }

    #[test]
    fn parquet_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.parquet");
        let events: Vec<ScoredEvent> = (0..5).map(sample).collect();
        write_scored(&path, &events).unwrap();
        assert_eq!(read_scored(&path).unwrap(), events);
        // An events file without scores is rejected with a message naming the column.
        let plain = dir.path().join("p.parquet");
        let bare: Vec<_> = events.iter().map(|e| e.event.clone()).collect();
        lotl_events::parquet::write_parquet(&plain, &bare).unwrap();
        let err = read_scored(&plain).unwrap_err().to_string();
        assert!(err.contains("prediction"), "{err}");
    }

    fn slices(path: &Path, rows: usize) -> (Vec<usize>, Vec<ProcessEvent>) {
        let (mut sizes, mut events) = (Vec::new(), Vec::new());
        read_events_file_in_slices(path, rows, &mut |slice| -> Result<()> {
            match slice {
                EventsFile::Scored(v) => {
                    sizes.push(v.len());
                    events.extend(v.drain(..).map(|e| e.event));
                }
                EventsFile::Unscored(v) => {
                    sizes.push(v.len());
                    events.append(v);
                }
            }
            Ok(())
        })
        .unwrap();
        (sizes, events)
    }

    #[test]
    fn slices_cover_the_file_in_order_across_row_groups_and_name_file_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut scored: Vec<ScoredEvent> = (0..23)
            .map(|i| ScoredEvent {
                probability: i as f32 / 23.0,
                ..sample(i)
            })
            .collect();
        let events: Vec<ProcessEvent> = scored.iter().map(|e| e.event.clone()).collect();
        let path = dir.path().join("s.parquet");
        write_scored(&path, &scored).unwrap();
        assert_eq!(slices(&path, 5), (vec![5, 5, 5, 5, 3], events.clone()));
        // Three row groups of 7, 7 and 9 rows: groups are merged up to the slice size.
        let plain = dir.path().join("p.parquet");
        let frames = [0..7, 7..14, 14..23].map(|r| lotl_events::parquet::to_dataframe(&events[r]));
        lotl_events::parquet::write_batches_atomic(&plain, frames.into_iter(), false).unwrap();
        assert_eq!(slices(&plain, 8), (vec![8, 6, 8, 1], events));
        // An error in a later slice names the row of the file.
        scored[13].probability = 1.5;
        write_scored(&path, &scored).unwrap();
        let mut seen = 0;
        let err = read_events_file_in_slices(&path, 5, &mut |_| -> Result<()> {
            seen += 1;
            Ok(())
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("row 13:"), "{err}");
        assert_eq!(seen, 2);
    }

    #[test]
    fn ndjson_line_round_trip_and_aliases() {
        let e = sample(3);
        let line = serde_json::to_string(&e).unwrap();
        assert_eq!(parse_scored_line(&line).unwrap(), e);
        let alt = line.replace("\"probability\"", "\"prediction_probability\"");
        assert_eq!(parse_scored_line(&alt).unwrap(), e);
        assert!(parse_scored_line("{\"prediction\": 1}").is_err());
    }

    #[test]
    fn top_features_accepts_pairs_and_objects() {
        let a =
            parse_top_features(r#"[["a", 0.5], {"feature": "b", "importance": -1.0}]"#).unwrap();
        assert_eq!(a, vec![("a".to_owned(), 0.5), ("b".to_owned(), -1.0)]);
        assert!(parse_top_features("{").is_err());
    }
}
