//! Scoring events with a model bundle, whole or a chunk at a time into a replay.

use crate::replay::ReplayInput;
use lotl_cluster::ScoredEvent;
use lotl_events::ProcessEvent;
use lotl_export::Bundle;
use rayon::prelude::*;

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

/// Score a chunk of events into a replay: only the events it keeps are taken out of
/// `events` (and explained, as `explain` asks); the chunk can be cleared and refilled.
pub fn score_into(
    bundle: &Bundle,
    events: &mut [ProcessEvent],
    explain: Explain,
    input: &mut ReplayInput,
) {
    let scores = bundle.score(events);
    let explained: Vec<usize> = (0..events.len())
        .filter(|&i| {
            let s = &scores[i];
            explain.count(s.prediction) > 0 && input.keeps(&events[i], s.prediction, s.probability)
        })
        .collect();
    let mut tops: Vec<Vec<(String, f32)>> = explained
        .par_iter()
        .map_init(Vec::new, |row, &i| {
            top_features(bundle, &events[i], explain.count(scores[i].prediction), row)
        })
        .collect();
    let mut next = explained.iter().zip(tops.iter_mut()).peekable();
    for (i, (event, s)) in events.iter_mut().zip(&scores).enumerate() {
        let top = match next.next_if(|(&j, _)| j == i) {
            Some((_, top)) => std::mem::take(top),
            None => Vec::new(),
        };
        input.push_verdict(event, s.prediction, s.probability, top);
    }
}
