use crate::args::PredictArgs;
use anyhow::Context;
use lotl_cluster::scored::ScoredEvent;
use lotl_export::Bundle;
use lotl_scorer::{score_events, score_files_to_parquet, Explain};
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
    let done = score_files_to_parquet(&a.inputs, &a.output, &mut |events| {
        score_events(&bundle, events, explain)
    })
    .with_context(|| format!("writing {}", a.output.display()))?;
    spinner.finish_and_clear();
    if done.events == 0 {
        eprintln!("error: no process-start events in the given inputs; nothing written");
        return Ok(ExitCode::from(1));
    }
    println!(
        "scored {} events: {} predicted malicious (threshold {:.4}); wrote {}",
        done.events,
        done.flagged,
        bundle.manifest.threshold.threshold,
        a.output.display()
    );
    Ok(ExitCode::SUCCESS)
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
    let spinner = super::spinner("reading and scoring events");
    let done = score_files_to_parquet(&a.inputs, &a.output, &mut |events| {
        let scores = scorer.score(&events);
        events
            .into_iter()
            .zip(scores)
            .map(|(event, (prediction, p))| ScoredEvent {
                event,
                prediction,
                probability: p as f32,
                top_features: Vec::new(),
            })
            .collect()
    })
    .with_context(|| format!("writing {}", a.output.display()))?;
    spinner.finish_and_clear();
    if done.events == 0 {
        eprintln!("error: no process-start events in the given inputs; nothing written");
        return Ok(ExitCode::from(1));
    }
    println!(
        "scored {} events with Elasticsearch model {} ({} trees, recipe {}): {} predicted malicious (threshold {:.4}); wrote {}",
        done.events,
        a.bundle.display(),
        scorer.model().n_trees(),
        scorer.recipe_name(),
        done.flagged,
        scorer.model().threshold(),
        a.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
