use crate::args::PredictArgs;
use anyhow::Context;
use lotl_cluster::scored::{write_scored, ScoredEvent};
use lotl_cluster::{read_events_file_in_slices, scored_frame, EventsFile};
use lotl_events::parquet::{BatchWriter, BATCH_ROWS};
use lotl_events::read::ReadOptions;
use lotl_events::ProcessEvent;
use lotl_export::Bundle;
use lotl_scorer::{score_events, Explain};
use std::process::ExitCode;

pub fn run(a: PredictArgs) -> anyhow::Result<ExitCode> {
    if a.bundle.is_file() {
        return run_es_model(a);
    }
    let bundle = Bundle::load(&a.bundle)?;
    let explain = match a.explain {
        0 => Explain::None,
        k => Explain::All(k),
    };
    let spinner = super::spinner("reading and scoring events");
    let mut out = ScoredWriter {
        bundle: &bundle,
        explain,
        writer: BatchWriter::new(&a.output, true),
        pending: Vec::with_capacity(BATCH_ROWS),
        flagged: 0,
    };
    // Inputs in order, a row group of events at a time: never held whole.
    for p in &a.inputs {
        if p.is_file() && super::detect::is_parquet(p)? {
            read_events_file_in_slices(p, BATCH_ROWS, &mut |slice| -> anyhow::Result<()> {
                match slice {
                    EventsFile::Scored(v) => out.pending.extend(v.drain(..).map(|s| s.event)),
                    EventsFile::Unscored(v) => out.pending.append(v),
                }
                Ok(out.write_full()?)
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
            )?;
        }
    }
    out.write_pending()?;
    spinner.finish_and_clear();
    let (scored, flagged) = (out.writer.rows(), out.flagged);
    if scored == 0 {
        // The writer saw no rows: no file was created.
        eprintln!("error: no process-start events in the given inputs; nothing written");
        return Ok(ExitCode::from(1));
    }
    out.writer
        .finish()
        .with_context(|| format!("writing {}", a.output.display()))?;
    println!(
        "scored {scored} events: {flagged} predicted malicious (threshold {:.4}); wrote {}",
        bundle.manifest.threshold.threshold,
        a.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Events on their way to the scored file: scored and written a row group at a time.
struct ScoredWriter<'b> {
    bundle: &'b Bundle,
    explain: Explain,
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
        let scored = score_events(self.bundle, events, self.explain);
        self.flagged += scored.iter().filter(|s| s.prediction == 1).count();
        let mut frame = scored_frame(&scored).map_err(|source| lotl_events::Error::Parquet {
            path: self.writer.path().to_owned(),
            source,
        })?;
        self.writer.write(&mut frame)
    }
}

/// `lotl predict model.json ...`: score with an Elasticsearch trained-model file.
fn run_es_model(a: PredictArgs) -> anyhow::Result<ExitCode> {
    use lotl_export::elasticsearch::{EsModel, EsScorer};
    let scorer = EsScorer::new(EsModel::load(&a.bundle)?)?;
    if !scorer.unprovided.is_empty() {
        eprintln!(
            "warning: the {} recipe provides none of these model inputs; they are scored as missing: {}",
            scorer.recipe_name(),
            scorer.unprovided.join(", ")
        );
    }
    if a.explain > 0 {
        eprintln!("note: --explain needs a lotl bundle; ignored for an Elasticsearch model");
    }
    let outcome = lotl_events::read_paths(&a.inputs, &ReadOptions::default())?;
    if outcome.events.is_empty() {
        eprintln!("error: no process-start events in the given inputs; nothing written");
        return Ok(ExitCode::from(1));
    }
    let scores = scorer.score(&outcome.events);
    let scored: Vec<ScoredEvent> = outcome
        .events
        .into_iter()
        .zip(scores)
        .map(|(event, (prediction, p))| ScoredEvent {
            event,
            prediction,
            probability: p as f32,
            top_features: Vec::new(),
        })
        .collect();
    write_scored(&a.output, &scored).with_context(|| format!("writing {}", a.output.display()))?;
    let flagged = scored.iter().filter(|s| s.prediction == 1).count();
    println!(
        "scored {} events with Elasticsearch model {} ({} trees, recipe {}): {} predicted malicious (threshold {:.4}); wrote {}",
        scored.len(),
        a.bundle.display(),
        scorer.model().n_trees(),
        scorer.recipe_name(),
        flagged,
        scorer.model().threshold(),
        a.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
