//! Replay in bounded memory: of the events handed to a replay, only those the datafeed keeps
//! are held whole; of every other event, its time and place in the input.
//!
//! The datafeed keeps a few percent of a fleet's process starts (prediction 1 at probability
//! ≥ 0.5), so a replay of a week holds kilobytes per kept event and 16 bytes per dropped one,
//! where holding every event whole held a kilobyte each and spent most of its time having
//! the kernel clear fresh pages for them.

use crate::alert::Alert;
use crate::engine::Engine;
use crate::error::Result;
use lotl_cluster::{ClusterModel, Datafeed, ScoredEvent};
use lotl_events::ProcessEvent;

/// Scored events gathered for a replay through an [`Engine`], in any order.
#[derive(Debug, Clone)]
pub struct ReplayInput {
    datafeed: Datafeed,
    from: Option<i64>,
    to: Option<i64>,
    /// `(time, arrival << 1 | kept)` per event inside the window: sorted, the replay order,
    /// stable for equal times.
    order: Vec<(i64, u64)>,
    /// The kept events with their arrival numbers, in arrival order.
    kept: Vec<(u64, ScoredEvent)>,
}

impl ReplayInput {
    /// Events outside `[from, to)` are ignored; `model` is the cluster model the engine will
    /// run (its datafeed decides what is kept).
    pub fn new(model: &ClusterModel, from: Option<i64>, to: Option<i64>) -> ReplayInput {
        ReplayInput {
            datafeed: model.params().datafeed.clone(),
            from,
            to,
            order: Vec::new(),
            kept: Vec::new(),
        }
    }

    /// Whether a time lies inside the replay's window.
    pub fn in_window(&self, t: i64) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|x| t < x)
    }

    /// Whether [`ReplayInput::push_verdict`] would keep this event whole: a caller can skip
    /// what only a kept event uses (e.g. its feature contributions) for the rest.
    pub fn keeps(&self, event: &ProcessEvent, prediction: u8, probability: f32) -> bool {
        self.in_window(event.timestamp_ms)
            && self
                .datafeed
                .accepts_verdict(event.process_name.as_deref(), prediction, probability)
    }

    /// Add a scored event.
    pub fn push(&mut self, e: ScoredEvent) {
        let ScoredEvent {
            mut event,
            prediction,
            probability,
            top_features,
        } = e;
        self.push_verdict(&mut event, prediction, probability, top_features);
    }

    /// Add an event and its verdict; the event is taken (left as default) only when kept.
    pub fn push_verdict(
        &mut self,
        event: &mut ProcessEvent,
        prediction: u8,
        probability: f32,
        top_features: Vec<(String, f32)>,
    ) {
        let t = event.timestamp_ms;
        if !self.keeps(event, prediction, probability) {
            self.push_dropped(t);
            return;
        }
        let arrival = self.arrive(t, true);
        self.kept.push((
            arrival,
            ScoredEvent {
                event: std::mem::take(event),
                prediction,
                probability,
                top_features,
            },
        ));
    }

    /// An event [`ReplayInput::keeps`] said no to: only its time is held.
    pub(crate) fn push_dropped(&mut self, t: i64) {
        if self.in_window(t) {
            self.arrive(t, false);
        }
    }

    /// Record an event's time; returns its arrival number.
    fn arrive(&mut self, t: i64, keep: bool) -> u64 {
        let arrival = self.order.len() as u64;
        self.order.push((t, arrival << 1 | u64::from(keep)));
        arrival
    }

    /// Events inside the window so far.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Events held whole (the datafeed accepted them).
    pub fn kept(&self) -> usize {
        self.kept.len()
    }

    /// The earliest event time inside the window.
    pub fn first_ms(&self) -> Option<i64> {
        self.order.iter().map(|&(t, _)| t).min()
    }

    /// Push every event through `engine` in time order (stable for equal times). With `to`,
    /// event time ends there; without it, every anomaly gets its full look-back after the
    /// last event. Returns the alerts and the number of events pushed.
    pub fn run(self, engine: &mut Engine) -> Result<(Vec<Alert>, usize)> {
        debug_assert_eq!(
            &self.datafeed,
            &engine.model().params().datafeed,
            "a replay keeps what its engine's datafeed accepts"
        );
        let ReplayInput {
            mut order,
            kept,
            to,
            ..
        } = self;
        order.sort_unstable();
        let mut kept: Vec<(u64, Option<ScoredEvent>)> =
            kept.into_iter().map(|(a, e)| (a, Some(e))).collect();
        let mut alerts = Vec::new();
        for &(t, key) in &order {
            let taken = if key & 1 == 1 {
                let arrival = key >> 1;
                kept.binary_search_by_key(&arrival, |k| k.0)
                    .ok()
                    .and_then(|i| kept[i].1.take())
            } else {
                None
            };
            alerts.extend(match taken {
                Some(e) => engine.push_owned(e)?,
                None => engine.push_dropped(t)?,
            });
        }
        alerts.extend(match to {
            Some(t) => engine.advance_to(t)?,
            None => engine.finish()?,
        });
        Ok((alerts, order.len()))
    }
}
