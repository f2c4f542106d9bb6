//! The streaming engine (one code path for replay and live scoring) and its saved state.

use crate::alert::{self, iso, Alert, Child};
use crate::config::{RuleConfig, RuleParams};
use crate::error::{Error, Result};
use lotl_cluster::normalize::max_score;
use lotl_cluster::{AnomalyRecord, ClusterModel, ScoredEvent};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const FORMAT: &str = "lotl-engine/1";

/// Counters since the engine was created (they survive restarts).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineStats {
    pub events: u64,
    /// Events the datafeed kept.
    pub accepted: u64,
    /// Kept events that arrived after their bucket had closed (dropped).
    pub late: u64,
    pub buckets_scored: u64,
    /// Anomalies that could still reach the threshold, held for the executions.
    pub anomalies_held: u64,
    pub executions: u64,
    pub alerts: u64,
    /// Anomalies over the threshold whose every child was excepted.
    pub suppressed: u64,
    /// Anomalies over the threshold left for a later execution by the per-execution cap.
    pub deferred_by_cap: u64,
}

/// Where the caller's input and output stood when the state was saved, so that a restarted
/// reader resumes at the same record and truncates output written after the save.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub input_offset: u64,
    pub input_lines: u64,
    pub output_len: u64,
}

/// An anomaly that may still become an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Held {
    record: AnomalyRecord,
    key: String,
    child_count: usize,
    children: Vec<Child>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    format: String,
    rule: RuleConfig,
    model: ClusterModel,
    watermark_ms: Option<i64>,
    /// Start of the first bucket not yet closed.
    next_bucket_ms: Option<i64>,
    next_execution_ms: Option<i64>,
    last_execution_ms: Option<i64>,
    /// Accepted events of open buckets, by bucket start.
    open: BTreeMap<i64, Vec<ScoredEvent>>,
    held: Vec<Held>,
    /// (bucket start, anomaly key) of every alert whose bucket is still in a look-back.
    emitted: BTreeSet<(i64, String)>,
    stats: EngineStats,
    checkpoint: Checkpoint,
}

/// Scheduled rule executions over a stream of scored events.
#[derive(Debug, Clone)]
pub struct Engine {
    state: State,
    rule: RuleParams,
}

impl Engine {
    pub fn new(model: ClusterModel, rule: RuleConfig) -> Result<Engine> {
        let rule = rule.check(&model)?;
        Ok(Engine {
            state: State {
                format: FORMAT.to_owned(),
                rule: rule.config().clone(),
                model,
                watermark_ms: None,
                next_bucket_ms: None,
                next_execution_ms: None,
                last_execution_ms: None,
                open: BTreeMap::new(),
                held: Vec::new(),
                emitted: BTreeSet::new(),
                stats: EngineStats::default(),
                checkpoint: Checkpoint::default(),
            },
            rule,
        })
    }

    pub fn model(&self) -> &ClusterModel {
        &self.state.model
    }
    pub fn rule(&self) -> &RuleParams {
        &self.rule
    }
    pub fn stats(&self) -> &EngineStats {
        &self.state.stats
    }
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.state.checkpoint
    }
    pub fn checkpoint_mut(&mut self) -> &mut Checkpoint {
        &mut self.state.checkpoint
    }
    pub fn last_execution_ms(&self) -> Option<i64> {
        self.state.last_execution_ms
    }
    pub fn watermark_ms(&self) -> Option<i64> {
        self.state.watermark_ms
    }

    /// Replace the exceptions (e.g. after the exceptions file changed) without touching
    /// anything learnt.
    pub fn set_exceptions(&mut self, exceptions: crate::Exceptions) -> Result<()> {
        let mut cfg = self.rule.config().clone();
        cfg.exceptions = exceptions;
        self.rule = cfg.check(&self.state.model)?;
        self.state.rule = self.rule.config().clone();
        Ok(())
    }

    /// Feed one event (in time order; events of already closed buckets are counted as late
    /// and dropped). Returns the alerts of every execution the event's time has reached.
    pub fn push(&mut self, e: &ScoredEvent) -> Result<Vec<Alert>> {
        let kept = self
            .state
            .model
            .params()
            .datafeed
            .accepts(e)
            .then(|| e.clone());
        self.push_kept(e.event.timestamp_ms, kept)
    }

    /// [`Engine::push`] of an event the caller no longer needs (no copy is made).
    pub(crate) fn push_owned(&mut self, e: ScoredEvent) -> Result<Vec<Alert>> {
        let t = e.event.timestamp_ms;
        let kept = self.state.model.params().datafeed.accepts(&e).then_some(e);
        self.push_kept(t, kept)
    }

    /// Feed an event the datafeed does not keep (see [`crate::ReplayInput`]): it counts and
    /// moves event time, exactly as [`Engine::push`] would, without the event itself.
    pub(crate) fn push_dropped(&mut self, t: i64) -> Result<Vec<Alert>> {
        self.push_kept(t, None)
    }

    /// One event at time `t`; `kept` is the event when the datafeed accepts it.
    fn push_kept(&mut self, t: i64, kept: Option<ScoredEvent>) -> Result<Vec<Alert>> {
        self.state.stats.events += 1;
        self.start_at(t);
        let st = &mut self.state;
        if let Some(e) = kept {
            let span = st.model.params().bucket_span_ms();
            let bucket = t.div_euclid(span) * span;
            if st.next_bucket_ms.is_some_and(|nb| bucket < nb) {
                st.stats.late += 1;
            } else {
                st.stats.accepted += 1;
                st.open.entry(bucket).or_default().push(e);
            }
        }
        self.observe_time(t)
    }

    fn start_at(&mut self, t: i64) {
        let st = &mut self.state;
        if st.next_bucket_ms.is_none() {
            let span = st.model.params().bucket_span_ms();
            let interval = self.rule.interval_ms();
            st.next_bucket_ms = Some(t.div_euclid(span) * span);
            st.next_execution_ms = Some((t.div_euclid(interval) + 1) * interval);
        }
    }

    fn observe_time(&mut self, t: i64) -> Result<Vec<Alert>> {
        let st = &mut self.state;
        if st.watermark_ms.is_none_or(|w| t > w) {
            st.watermark_ms = Some(t);
            let now = t - self.rule.latency_ms();
            return self.advance(now);
        }
        Ok(Vec::new())
    }

    /// Declare that event time has reached `now_ms` (all events before it have been pushed):
    /// close the buckets that end by then and run the executions due.
    pub fn advance_to(&mut self, now_ms: i64) -> Result<Vec<Alert>> {
        if self.state.next_bucket_ms.is_none() {
            return Ok(Vec::new());
        }
        self.advance(now_ms)
    }

    /// End of input: close every open bucket and run executions until each anomaly has been
    /// through a full look-back.
    pub fn finish(&mut self) -> Result<Vec<Alert>> {
        let span = self.state.model.params().bucket_span_ms();
        let last_open = self.state.open.keys().next_back().copied();
        let last_seen = self.state.watermark_ms.map(|w| w.div_euclid(span) * span);
        match last_open.max(last_seen) {
            Some(b) => self.advance(b + self.rule.lookback_ms().max(span)),
            None => Ok(Vec::new()),
        }
    }

    fn advance(&mut self, now: i64) -> Result<Vec<Alert>> {
        let span = self.state.model.params().bucket_span_ms();
        let interval = self.rule.interval_ms();
        let mut alerts = Vec::new();
        while let (Some(nb), Some(ne)) = (self.state.next_bucket_ms, self.state.next_execution_ms) {
            if nb + span <= now && nb + span <= ne {
                // Nothing held and nothing open before `target`: the executions in between
                // would find nothing, so skip the quiet stretch.
                let mut target = now.div_euclid(span) * span;
                if let Some(&first_open) = self.state.open.keys().next() {
                    target = target.min(first_open);
                }
                if self.state.held.is_empty() && target > nb + span {
                    self.state.next_bucket_ms = Some(target);
                    let first_exec = target.div_euclid(interval) * interval;
                    let first_exec = if first_exec < target {
                        first_exec + interval
                    } else {
                        first_exec
                    };
                    self.state.next_execution_ms = Some(ne.max(first_exec));
                    continue;
                }
                self.close(nb)?;
                self.state.next_bucket_ms = Some(nb + span);
                continue;
            }
            if ne <= now {
                alerts.extend(self.execute(ne));
                self.state.next_execution_ms = Some(ne + interval);
                self.state.last_execution_ms = Some(ne);
                continue;
            }
            break;
        }
        Ok(alerts)
    }

    fn close(&mut self, b: i64) -> Result<()> {
        let st = &mut self.state;
        let Some(events) = st.open.remove(&b) else {
            return Ok(());
        };
        let refs: Vec<&ScoredEvent> = events.iter().collect();
        let records = if self.rule.learn {
            st.model.observe_bucket_refs(b, &refs)?
        } else {
            st.model.score_bucket(b, &refs)?
        };
        st.stats.buckets_scored += 1;
        for mut r in records {
            if !self.rule.enabled(r.job_index)
                || max_score(r.raw_score) < self.rule.anomaly_threshold
            {
                continue;
            }
            let mut members = std::mem::take(&mut r.members);
            members.sort_by(|&a, &b| {
                let (x, y) = (&events[a], &events[b]);
                y.probability
                    .total_cmp(&x.probability)
                    .then(x.event.timestamp_ms.cmp(&y.event.timestamp_ms))
                    .then(x.event.event_id.cmp(&y.event.event_id))
            });
            let children = members
                .iter()
                .take(self.rule.max_children)
                .map(|&i| Child::from_scored(&events[i]))
                .collect();
            let key = format!(
                "{}\u{1f}{}\u{1f}{}",
                r.job,
                r.partition_value.as_deref().unwrap_or(""),
                r.by_value
            );
            st.stats.anomalies_held += 1;
            st.held.push(Held {
                record: r,
                key,
                child_count: members.len(),
                children,
            });
        }
        Ok(())
    }

    fn execute(&mut self, t: i64) -> Vec<Alert> {
        let st = &mut self.state;
        let rule = &self.rule;
        let lo = t - rule.lookback_ms();
        st.held.retain(|h| h.record.bucket_start_ms >= lo);
        st.emitted = st.emitted.split_off(&(lo, String::new()));
        st.stats.executions += 1;

        let mut by_job: BTreeMap<usize, Vec<(f64, usize)>> = BTreeMap::new();
        for (i, h) in st.held.iter().enumerate() {
            let r = &h.record;
            if r.bucket_start_ms >= t || st.emitted.contains(&(r.bucket_start_ms, h.key.clone())) {
                continue;
            }
            let score = st.model.normalized_score(r.job_index, r.raw_score);
            if score >= rule.anomaly_threshold {
                by_job.entry(r.job_index).or_default().push((score, i));
            }
        }
        let mut alerts = Vec::new();
        for (_, mut cands) in by_job {
            cands.sort_by(|a, b| {
                let (ha, hb) = (&st.held[a.1], &st.held[b.1]);
                b.0.total_cmp(&a.0)
                    .then(ha.record.bucket_start_ms.cmp(&hb.record.bucket_start_ms))
                    .then(ha.key.cmp(&hb.key))
            });
            let mut n = 0;
            for (k, &(score, i)) in cands.iter().enumerate() {
                if n == rule.max_alerts_per_execution {
                    st.stats.deferred_by_cap += (cands.len() - k) as u64;
                    break;
                }
                let h = &st.held[i];
                let children: Vec<Child> = if rule.exceptions.is_empty() {
                    h.children.clone()
                } else {
                    h.children
                        .iter()
                        .filter(|c| !rule.exceptions.matches(c))
                        .cloned()
                        .collect()
                };
                if children.is_empty() {
                    st.stats.suppressed += 1;
                    continue;
                }
                let excepted = h.children.len() - children.len();
                alerts.push(build_alert(
                    rule,
                    t,
                    h,
                    score,
                    children,
                    h.child_count - excepted,
                ));
                st.emitted.insert((h.record.bucket_start_ms, h.key.clone()));
                n += 1;
            }
        }
        st.stats.alerts += alerts.len() as u64;
        alerts
    }

    /// Serialise the whole state (model, open buckets, held anomalies, emitted keys,
    /// schedule, checkpoint) to JSON.
    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string(&self.state)
    }

    pub fn from_json(json: &str) -> Result<Engine> {
        let state: State =
            serde_json::from_str(json).map_err(|e| Error::Config(format!("engine state: {e}")))?;
        Engine::from_state(state)
    }

    fn from_state(state: State) -> Result<Engine> {
        if state.format != FORMAT {
            return Err(Error::Config(format!(
                "engine state format `{}`, expected `{FORMAT}`",
                state.format
            )));
        }
        state
            .model
            .validate()
            .map_err(|m| Error::Config(format!("engine state: {m}")))?;
        let rule = state.rule.clone().check(&state.model)?;
        Ok(Engine { state, rule })
    }

    /// Write the state to `path` atomically (temp file in the same directory, fsync,
    /// rename): a crash leaves either the old state or the new one.
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = self.to_json().map_err(|e| Error::File {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        lotl_cluster::write_atomic(path, json.as_bytes())?;
        Ok(())
    }

    pub fn load(path: &Path) -> Result<Engine> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let state: State = serde_json::from_str(&text).map_err(|e| Error::File {
            path: path.to_owned(),
            message: format!("not a lotl engine state: {e}"),
        })?;
        Engine::from_state(state).map_err(|e| Error::File {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }
}

fn duration(ms: i64) -> String {
    if ms % 60_000 == 0 {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", ms / 1000)
    }
}

fn build_alert(
    rule: &RuleParams,
    t: i64,
    h: &Held,
    score: f64,
    children: Vec<Child>,
    size: usize,
) -> Alert {
    let r = &h.record;
    let (name, rule_id) = alert::rule_identity(&r.job);
    let uuid = format!(
        "{:032x}",
        xxhash_rust::xxh3::xxh3_128(format!("{}\u{1f}{}", h.key, r.bucket_start_ms).as_bytes())
    );
    let entity = match &r.partition_value {
        Some(p) => format!(
            "{} `{}` in {} `{p}`",
            r.by_field.as_str(),
            r.by_value,
            r.partition_field.map_or("", |f| f.as_str())
        ),
        None => format!("{} `{}`", r.by_field.as_str(), r.by_value),
    };
    let reason = format!(
        "{size} suspicious process(es) for {entity} in the 15-minute bucket at {}: {} {:.2} (typical {:.2}), record score {score:.0}",
        iso(r.bucket_start_ms),
        r.function,
        r.actual,
        r.typical
    );
    let probability_sum = children
        .iter()
        .map(|c| f64::from(c.problemchild.prediction_probability))
        .sum();
    Alert {
        timestamp: iso(t),
        event: alert::AlertEvent {
            kind: "signal".to_owned(),
            category: vec!["process".to_owned()],
            module: "lotl".to_owned(),
        },
        kibana: alert::Kibana {
            alert: alert::KibanaAlert {
                uuid,
                rule: alert::Rule {
                    name,
                    rule_id,
                    kind: "machine_learning".to_owned(),
                    severity: "low".to_owned(),
                    risk_score: 21,
                    anomaly_threshold: rule.anomaly_threshold,
                    machine_learning_job_id: vec![r.job.clone()],
                    interval: duration(rule.interval_ms()),
                    from: format!("now-{}", duration(rule.lookback_ms())),
                    max_signals: rule.max_alerts_per_execution,
                },
                severity: "low".to_owned(),
                risk_score: 21,
                original_time: iso(r.bucket_start_ms),
                reason,
                workflow_status: "open".to_owned(),
            },
        },
        threat: alert::threat(),
        anomaly: alert::Anomaly {
            job_id: r.job.clone(),
            function: r.function.clone(),
            record_score: score,
            initial_record_score: r.initial_record_score,
            probability: r.probability,
            multi_bucket_impact: r.multi_bucket_impact,
            actual: r.actual,
            typical: r.typical,
            by_field_name: r.by_field.as_str().to_owned(),
            by_field_value: r.by_value.clone(),
            partition_field_name: r.partition_field.map(|f| f.as_str().to_owned()),
            partition_field_value: r.partition_value.clone(),
            bucket_span: (r.bucket_span_ms / 1000) as u64,
            timestamp: iso(r.bucket_start_ms),
            timestamp_ms: r.bucket_start_ms,
        },
        influencers: alert::influencers(&children),
        cluster: alert::Cluster {
            size,
            probability_sum,
            children,
        },
    }
}

/// Replay: the streaming engine fed from a slice. Events outside `[from, to)` are ignored;
/// the rest are pushed in time order (stable for equal times). With `to`, event time ends
/// there; without it, every anomaly gets its full look-back after the last event.
pub fn detect(
    model: &ClusterModel,
    rule: &RuleConfig,
    events: &[ScoredEvent],
    from: Option<i64>,
    to: Option<i64>,
) -> Result<Vec<Alert>> {
    let mut engine = Engine::new(model.clone(), rule.clone())?;
    let (alerts, _) = replay(&mut engine, events, from, to)?;
    Ok(alerts)
}

/// [`detect`] on a given engine; returns the alerts and the number of events pushed.
pub fn replay(
    engine: &mut Engine,
    events: &[ScoredEvent],
    from: Option<i64>,
    to: Option<i64>,
) -> Result<(Vec<Alert>, usize)> {
    let mut input = crate::ReplayInput::new(engine.model(), from, to);
    for e in events {
        if input.keeps(&e.event, e.prediction, e.probability) {
            input.push(e.clone());
        } else {
            input.push_dropped(e.event.timestamp_ms);
        }
    }
    input.run(engine)
}
