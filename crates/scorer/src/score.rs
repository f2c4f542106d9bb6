//! Scoring events with a model bundle, whole or a chunk at a time into a replay.

use crate::replay::ReplayInput;
use lotl_cluster::{read_events_file_in_slices, scored_frame, EventsFile, ScoredEvent};
use lotl_events::parquet::{BatchWriter, BATCH_ROWS};
use lotl_events::{ProcessEvent, ReadOptions, ReadStats};
use lotl_export::Bundle;
use rayon::prelude::*;
use std::path::PathBuf;

/// Which scored events get their top feature contributions, and how many.
#[derive(Debug, Clone, Copy)]
pub enum Explain {
    None,
    All(usize),
    /// Only events predicted malicious: the only ones the detection rule can put in an
    /// alert, and a few percent of the cost of explaining all.
    Flagged(usize),
}

impl Explain {
    fn count(self, prediction: u8) -> usize {
        match self {
            Explain::All(k) => k,
            Explain::Flagged(k) if prediction == 1 => k,
            Explain::Flagged(_) | Explain::None => 0,
        }
    }
}

fn top_features(
    bundle: &Bundle,
    event: &ProcessEvent,
    k: usize,
    row: &mut Vec<f32>,
) -> Vec<(String, f32)> {
    if k == 0 {
        return Vec::new();
    }
    bundle
        .explain_one(event, k, row)
        .into_iter()
        .map(|(n, v)| (n, v as f32))
        .collect()
}

/// Score events with a bundle, keeping every event column, with top feature contributions
/// as `explain` asks.
pub fn score_events(
    bundle: &Bundle,
    events: Vec<ProcessEvent>,
    explain: Explain,
) -> Vec<ScoredEvent> {
    let scores = bundle.score(&events);
    events
        .into_par_iter()
        .zip(scores)
        .map_init(Vec::new, |row, (event, s)| ScoredEvent {
            top_features: top_features(bundle, &event, explain.count(s.prediction), row),
            event,
            prediction: s.prediction,
            probability: s.probability,
        })
        .collect()
}

/// Score a chunk of events into a replay: events outside its window are dropped unscored,
/// only the events it keeps are taken out of `events` (and explained, as `explain` asks);
/// the chunk can be cleared and refilled.
pub fn score_into(
    bundle: &Bundle,
    events: &mut Vec<ProcessEvent>,
    explain: Explain,
    input: &mut ReplayInput,
) {
    events.retain(|e| input.in_window(e.timestamp_ms));
    let scores = bundle.score(events);
    let tops: Vec<Vec<(String, f32)>> = events
        .par_iter()
        .zip(&scores)
        .map_init(Vec::new, |row, (e, s)| {
            let k = explain.count(s.prediction);
            if k > 0 && input.keeps(e, s.prediction, s.probability) {
                top_features(bundle, e, k, row)
            } else {
                Vec::new()
            }
        })
        .collect();
    for ((event, s), top) in events.iter_mut().zip(&scores).zip(tops) {
        input.push_verdict(event, s.prediction, s.probability, top);
    }
}

/// Events scored at a time: enough to keep every core busy, few enough that a chunk's
/// events are dropped (all but the few a replay keeps) while their memory is reused.
pub const SCORE_CHUNK: usize = 8_192;

/// Read process starts from files in any format `lotl ingest` reads and score them into a
/// replay a chunk at a time, only those inside its window; returns the read counts.
pub fn score_paths_into(
    bundle: &Bundle,
    paths: &[PathBuf],
    opts: &ReadOptions,
    explain: Explain,
    input: &mut ReplayInput,
) -> lotl_events::Result<ReadStats> {
    let mut chunk: Vec<ProcessEvent> = Vec::with_capacity(SCORE_CHUNK);
    let stats = lotl_events::read_paths_streaming(paths, opts, &mut |_| {}, &mut |batch| {
        chunk.append(batch);
        if chunk.len() >= SCORE_CHUNK {
            score_into(bundle, &mut chunk, explain, input);
            chunk.clear();
        }
        Ok(())
    })?;
    score_into(bundle, &mut chunk, explain, input);
    Ok(stats)
}

/// What [`score_files_to_parquet`] did.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScoredFile {
    /// Events scored and written.
    pub events: usize,
    /// Of those, predicted malicious.
    pub flagged: usize,
}

/// Score every process start in `inputs`, in the order given, and write the events with
/// their scores to `output` as [`lotl_cluster::write_scored`] lays them out, a row group at
/// a time: Parquet inputs are read in slices on a reading thread, other formats through the
/// streaming reader, and no input is ever held whole. The file appears only when complete;
/// with no events (`events == 0`) nothing is written.
///
/// `score` scores a batch of events (in order): [`score_events`] with a bundle, or any other
/// model.
pub fn score_files_to_parquet(
    inputs: &[PathBuf],
    output: &std::path::Path,
    score: &mut dyn FnMut(Vec<ProcessEvent>) -> Vec<ScoredEvent>,
) -> crate::Result<ScoredFile> {
    let mut out = ScoredWriter {
        score,
        writer: BatchWriter::new(output, true),
        pending: Vec::with_capacity(BATCH_ROWS),
        flagged: 0,
    };
    for p in inputs {
        if p.is_file() && is_parquet(p)? {
            read_events_file_in_slices(p, BATCH_ROWS, &mut |slice| -> crate::Result<()> {
                match slice {
                    EventsFile::Scored(v) => out.pending.extend(v.drain(..).map(|s| s.event)),
                    EventsFile::Unscored(v) => out.pending.append(v),
                }
                Ok(out.write_full().map_err(lotl_cluster::Error::from)?)
            })?;
        } else {
            lotl_events::read_paths_streaming(
                std::slice::from_ref(p),
                &ReadOptions::default(),
                &mut |_| {},
                &mut |batch| {
                    out.pending.append(batch);
                    out.write_full()
                },
            )
            .map_err(lotl_cluster::Error::from)?;
        }
    }
    out.write_pending().map_err(lotl_cluster::Error::from)?;
    let done = ScoredFile {
        events: out.writer.rows(),
        flagged: out.flagged,
    };
    if done.events > 0 {
        out.writer.finish().map_err(lotl_cluster::Error::from)?;
    }
    Ok(done)
}

/// Whether `path` starts as a Parquet file does.
pub fn is_parquet(path: &std::path::Path) -> crate::Result<bool> {
    use std::io::Read;
    let io = |source| crate::Error::Io {
        path: path.to_owned(),
        source,
    };
    let mut magic = [0u8; 4];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut magic))
        .map_err(io)?;
    Ok(n == 4 && &magic == b"PAR1")
}

/// Events on their way to a scored file: scored and written a row group at a time.
struct ScoredWriter<'s> {
    score: &'s mut dyn FnMut(Vec<ProcessEvent>) -> Vec<ScoredEvent>,
    writer: BatchWriter,
    pending: Vec<ProcessEvent>,
    flagged: usize,
}

impl ScoredWriter<'_> {
    /// Score and write the pending events once they fill a row group.
    fn write_full(&mut self) -> lotl_events::Result<()> {
        if self.pending.len() >= BATCH_ROWS {
            self.write_pending()?;
        }
        Ok(())
    }

    fn write_pending(&mut self) -> lotl_events::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let events = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH_ROWS));
        let scored = (self.score)(events);
        self.flagged += scored.iter().filter(|s| s.prediction == 1).count();
        let mut frame = scored_frame(&scored).map_err(|source| lotl_events::Error::Parquet {
            path: self.writer.path().to_owned(),
            source,
        })?;
        self.writer.write(&mut frame)
    }
}
