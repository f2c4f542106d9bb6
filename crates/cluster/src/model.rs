//! The cluster model: per-job series state, scoring of closed buckets, incremental updates.

use crate::error::{Error, Result};
use crate::job::{ClusterConfig, ClusterParams, Detector, Field};
use crate::normalize::Normalizer;
use crate::scored::ScoredEvent;
use crate::stats::{Moments, NigPrior};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

const LN_10: f64 = std::f64::consts::LN_10;
/// Log-sum prior used before the population has two non-empty buckets: one child at ~0.75.
const DEFAULT_LOG_MEAN: f64 = -0.287_682_072_451_780_9; // ln 0.75
const DEFAULT_LOG_VAR: f64 = 1.0;
/// Floor on the population variance of log sums, so one dominant series cannot make the
/// prior overconfident.
const MIN_POP_LOG_VAR: f64 = 0.05;
const HOURS_PER_WEEK: i64 = 168;

/// One anomaly record: a (job, series, bucket) with its probability and scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyRecord {
    pub job: String,
    /// Index of the job in the model (for [`ClusterModel::normalized_score`]).
    pub job_index: usize,
    /// `high_sum` or `rare`.
    pub function: String,
    pub bucket_start_ms: i64,
    pub bucket_span_ms: i64,
    /// For `high_sum` the split field (the parent, host or user); for `rare` the rare
    /// field (`process.name`).
    pub by_field: Field,
    /// Lower-cased value of `by_field`.
    pub by_value: String,
    pub partition_field: Option<Field>,
    pub partition_value: Option<String>,
    /// `high_sum`: the bucket sum; `rare`: events with this name in the bucket.
    #[serde(with = "crate::exact")]
    pub actual: f64,
    /// `high_sum`: the series' typical (median) non-empty sum; `rare`: the name's expected
    /// share of the partition's buckets.
    #[serde(with = "crate::exact")]
    pub typical: f64,
    /// Probability of a bucket at least this anomalous.
    #[serde(with = "crate::exact")]
    pub probability: f64,
    /// −5..5; positive when the last-12-buckets total is more surprising than this bucket.
    #[serde(with = "crate::exact")]
    pub multi_bucket_impact: f64,
    /// −log10 probability, the input of normalisation.
    #[serde(with = "crate::exact")]
    pub raw_score: f64,
    /// Score at detection time (0–100).
    #[serde(with = "crate::exact")]
    pub initial_record_score: f64,
    /// Indices of the member events within the slice passed to
    /// [`ClusterModel::observe_bucket`].
    pub members: Vec<usize>,
}

/// Non-empty bucket counts of one time slot.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
struct Slot {
    total: u64,
    nonempty: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RecentSum {
    bucket: i64,
    #[serde(with = "crate::exact")]
    sum: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Series {
    /// Bucket index (start / span) of the first non-empty bucket.
    first_bucket: i64,
    nonempty: u64,
    /// Non-empty buckets per hour of day (UTC).
    hour_nonempty: Vec<u32>,
    /// Log sums of non-empty buckets.
    single: Moments,
    /// Log totals of the multi-bucket window at non-empty buckets.
    window: Moments,
    /// Non-empty sums inside the current multi-bucket window.
    recent: Vec<RecentSum>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct HighSumState {
    series: BTreeMap<String, Series>,
    single: Moments,
    window: Moments,
    series_buckets: u64,
    nonempty_buckets: u64,
    hour_of_day: Vec<Slot>,
    hour_of_week: Vec<Slot>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct Partition {
    /// Buckets in which the partition had any event.
    buckets: u64,
    /// Buckets in which each name appeared.
    names: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct RareState {
    partitions: BTreeMap<String, Partition>,
    /// Partition-buckets in which each name appeared, over all partitions.
    population: BTreeMap<String, u64>,
    population_total: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "function", rename_all = "snake_case")]
enum JobState {
    HighSum(HighSumState),
    Rare(RareState),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct JobModel {
    name: String,
    state: JobState,
    normalizer: Normalizer,
}

/// What one bucket contributes to a job, computed before anything is updated so that all
/// series of a bucket are scored against the same state.
enum Grouped {
    HighSum(Vec<SumGroup>),
    Rare(Vec<RareGroup>),
}

struct SumGroup {
    key: String,
    sum: f64,
    window: f64,
    raw_score: f64,
}

struct RareGroup {
    partition: String,
    name: String,
}

/// The state of every job: serialisable, deterministic, updated one closed bucket at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterModel {
    params: ClusterParams,
    jobs: Vec<JobModel>,
    first_bucket: Option<i64>,
    last_bucket: Option<i64>,
}

/// Learn a model from past scored events (any order), bucket by bucket, as if they had been
/// streamed; the record scores seen on the way seed the normalisers.
pub fn fit_cluster(history: &[ScoredEvent], config: ClusterConfig) -> Result<ClusterModel> {
    let mut model = ClusterModel::new(config.check()?);
    let span = model.params.bucket_span_ms();
    let mut order: Vec<&ScoredEvent> = history
        .iter()
        .filter(|e| model.params.datafeed.accepts(e))
        .collect();
    order.sort_by_key(|e| e.event.timestamp_ms);
    let mut start = 0;
    while start < order.len() {
        let bucket = order[start].event.timestamp_ms.div_euclid(span) * span;
        let end = start
            + order[start..]
                .iter()
                .position(|e| e.event.timestamp_ms >= bucket + span)
                .unwrap_or(order.len() - start);
        model.observe_bucket_refs(bucket, &order[start..end])?;
        start = end;
    }
    Ok(model)
}

impl ClusterModel {
    pub fn new(params: ClusterParams) -> ClusterModel {
        let jobs = params
            .jobs
            .iter()
            .map(|spec| JobModel {
                name: spec.name.clone(),
                state: match spec.detector {
                    Detector::HighSum { .. } => JobState::HighSum(HighSumState {
                        series: BTreeMap::new(),
                        single: Moments::default(),
                        window: Moments::default(),
                        series_buckets: 0,
                        nonempty_buckets: 0,
                        hour_of_day: vec![Slot::default(); 24],
                        hour_of_week: vec![Slot::default(); HOURS_PER_WEEK as usize],
                    }),
                    Detector::Rare { .. } => JobState::Rare(RareState::default()),
                },
                normalizer: Normalizer::default(),
            })
            .collect();
        ClusterModel {
            params,
            jobs,
            first_bucket: None,
            last_bucket: None,
        }
    }

    pub fn params(&self) -> &ClusterParams {
        &self.params
    }

    pub fn job_names(&self) -> impl Iterator<Item = &str> {
        self.jobs.iter().map(|j| j.name.as_str())
    }

    pub fn job_index(&self, name: &str) -> Option<usize> {
        self.jobs.iter().position(|j| j.name == name)
    }

    /// Series (high_sum) or partitions (rare) a job has seen.
    pub fn series_count(&self, job_index: usize) -> usize {
        match self.jobs.get(job_index).map(|j| &j.state) {
            Some(JobState::HighSum(s)) => s.series.len(),
            Some(JobState::Rare(r)) => r.partitions.len(),
            None => 0,
        }
    }

    /// Move the model's history back in time by whole weeks so that it ends before
    /// `start_ms`, for replaying events that overlap what the model learned from (e.g. a
    /// test split of the training period). What was learned is unchanged: ages, windows and
    /// the hour-of-day and hour-of-week slots keep their meaning because the shift is a
    /// multiple of a week. Returns the number of weeks moved (0 when nothing overlaps).
    pub fn rewind_before(&mut self, start_ms: i64) -> i64 {
        let span = self.params.bucket_span_ms();
        let Some(last) = self.last_bucket else {
            return 0;
        };
        let start = start_ms.div_euclid(span);
        if last < start {
            return 0;
        }
        let per_week = 7 * 86_400_000 / span;
        let weeks = (last - start) / per_week + 1;
        let delta = -weeks * per_week;
        self.last_bucket = Some(last + delta);
        if let Some(f) = &mut self.first_bucket {
            *f += delta;
        }
        for job in &mut self.jobs {
            if let JobState::HighSum(state) = &mut job.state {
                for series in state.series.values_mut() {
                    series.first_bucket += delta;
                    for r in &mut series.recent {
                        r.bucket += delta;
                    }
                }
            }
        }
        weeks
    }

    /// Start of the last bucket observed.
    pub fn last_bucket_ms(&self) -> Option<i64> {
        self.last_bucket.map(|b| b * self.params.bucket_span_ms())
    }

    /// The record score of a raw score now (renormalised against everything seen since).
    pub fn normalized_score(&self, job_index: usize, raw_score: f64) -> f64 {
        self.jobs
            .get(job_index)
            .map_or(0.0, |j| j.normalizer.score(raw_score))
    }

    /// Score one closed bucket and learn from it. `events` are the events whose timestamp
    /// falls in `[bucket_start_ms, bucket_start_ms + span)`; those the datafeed rejects are
    /// ignored. Buckets must come in increasing order; skipped buckets count as empty.
    pub fn observe_bucket(
        &mut self,
        bucket_start_ms: i64,
        events: &[ScoredEvent],
    ) -> Result<Vec<AnomalyRecord>> {
        let refs: Vec<&ScoredEvent> = events.iter().collect();
        self.observe_bucket_refs(bucket_start_ms, &refs)
    }

    /// [`Self::observe_bucket`] over borrowed events.
    pub fn observe_bucket_refs(
        &mut self,
        bucket_start_ms: i64,
        events: &[&ScoredEvent],
    ) -> Result<Vec<AnomalyRecord>> {
        let b = self.check_bucket(bucket_start_ms, events)?;
        let (mut records, grouped) = self.evaluate(b, events);
        self.advance_to(b);
        for (job, g) in self.jobs.iter_mut().zip(grouped) {
            apply(job, g, b, &self.params);
        }
        for r in &records {
            self.jobs[r.job_index].normalizer.observe(r.raw_score);
        }
        for r in &mut records {
            r.initial_record_score = self.jobs[r.job_index].normalizer.score(r.raw_score);
        }
        Ok(records)
    }

    /// Score one closed bucket without learning from it.
    pub fn score_bucket(
        &self,
        bucket_start_ms: i64,
        events: &[&ScoredEvent],
    ) -> Result<Vec<AnomalyRecord>> {
        let b = self.check_bucket(bucket_start_ms, events)?;
        let (mut records, _) = self.evaluate(b, events);
        for r in &mut records {
            r.initial_record_score = self.jobs[r.job_index].normalizer.score(r.raw_score);
        }
        Ok(records)
    }

    fn check_bucket(&self, bucket_start_ms: i64, events: &[&ScoredEvent]) -> Result<i64> {
        let span = self.params.bucket_span_ms();
        let b = bucket_start_ms.div_euclid(span);
        let start = b * span;
        if let Some(last) = self.last_bucket {
            if b <= last {
                return Err(Error::OutOfOrder {
                    bucket_ms: start,
                    last_ms: last * span,
                });
            }
        }
        if let Some(e) = events
            .iter()
            .find(|e| e.event.timestamp_ms.div_euclid(span) != b)
        {
            return Err(Error::WrongBucket {
                event_id: e.event.event_id.to_string(),
                timestamp_ms: e.event.timestamp_ms,
                bucket_ms: start,
            });
        }
        Ok(b)
    }

    /// Count the empty buckets between the last observed one and `b` (exclusive), so that
    /// non-empty rates see them as zeros.
    fn advance_to(&mut self, b: i64) {
        let span = self.params.bucket_span_ms();
        if let Some(last) = self.last_bucket {
            for gap in last + 1..b {
                for job in &mut self.jobs {
                    if let JobState::HighSum(s) = &mut job.state {
                        count_slot(s, gap * span, 0);
                    }
                }
            }
        }
        self.first_bucket.get_or_insert(b);
        self.last_bucket = Some(b);
    }

    fn evaluate(&self, b: i64, events: &[&ScoredEvent]) -> (Vec<AnomalyRecord>, Vec<Grouped>) {
        let span = self.params.bucket_span_ms();
        let accepted: Vec<usize> = (0..events.len())
            .filter(|&i| self.params.datafeed.accepts(events[i]))
            .collect();
        let mut records = Vec::new();
        let mut grouped = Vec::with_capacity(self.jobs.len());
        for (ji, (job, spec)) in self.jobs.iter().zip(&self.params.jobs).enumerate() {
            let base =
                |by_field, by_value: String, partition: Option<(Field, String)>| AnomalyRecord {
                    job: job.name.clone(),
                    job_index: ji,
                    function: spec.detector.function().to_owned(),
                    bucket_start_ms: b * span,
                    bucket_span_ms: span,
                    by_field,
                    by_value,
                    partition_field: partition.as_ref().map(|p| p.0),
                    partition_value: partition.map(|p| p.1),
                    actual: 0.0,
                    typical: 0.0,
                    probability: 1.0,
                    multi_bucket_impact: 0.0,
                    raw_score: 0.0,
                    initial_record_score: 0.0,
                    members: Vec::new(),
                };
            match (&job.state, &spec.detector) {
                (JobState::HighSum(state), Detector::HighSum { by }) => {
                    let mut groups: BTreeMap<String, (f64, Vec<usize>)> = BTreeMap::new();
                    for &i in &accepted {
                        if let Some(k) = by.key(&events[i].event) {
                            let g = groups.entry(k).or_default();
                            g.0 += f64::from(events[i].probability);
                            g.1.push(i);
                        }
                    }
                    let mut out = Vec::with_capacity(groups.len());
                    for (key, (sum, members)) in groups {
                        let s = self.score_sum(state, &key, b, sum);
                        let mut r = base(*by, key.clone(), None);
                        r.actual = sum;
                        r.typical = s.typical;
                        r.probability = s.ln_p.exp();
                        r.multi_bucket_impact = s.impact;
                        r.raw_score = -s.ln_p / LN_10;
                        r.members = members;
                        records.push(r);
                        out.push(SumGroup {
                            key,
                            sum,
                            window: s.window,
                            raw_score: -s.ln_p / LN_10,
                        });
                    }
                    grouped.push(Grouped::HighSum(out));
                }
                (JobState::Rare(state), Detector::Rare { by, partition }) => {
                    let mut groups: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
                    for &i in &accepted {
                        let e = &events[i].event;
                        if let (Some(p), Some(n)) = (partition.key(e), by.key(e)) {
                            groups.entry((p, n)).or_default().push(i);
                        }
                    }
                    let a = self.params.rare_prior_strength;
                    let distinct = state.population.len() as f64;
                    let mut out = Vec::with_capacity(groups.len());
                    for ((p, n), members) in groups {
                        let (seen, buckets) = state.partitions.get(&p).map_or((0, 0), |part| {
                            (part.names.get(&n).copied().unwrap_or(0), part.buckets)
                        });
                        let pop = state.population.get(&n).copied().unwrap_or(0);
                        let q =
                            (pop as f64 + 1.0) / (state.population_total as f64 + distinct + 1.0);
                        let prob = ((seen as f64 + a * q) / (buckets as f64 + a)).min(1.0);
                        let mut r = base(*by, n.clone(), Some((*partition, p.clone())));
                        r.actual = members.len() as f64;
                        r.typical = prob;
                        r.probability = prob;
                        r.raw_score = (-prob.log10()).max(0.0);
                        r.members = members;
                        records.push(r);
                        out.push(RareGroup {
                            partition: p,
                            name: n,
                        });
                    }
                    grouped.push(Grouped::Rare(out));
                }
                // A state always matches its spec: both are built from the same list.
                _ => grouped.push(Grouped::Rare(Vec::new())),
            }
        }
        (records, grouped)
    }

    fn score_sum(&self, state: &HighSumState, key: &str, b: i64, sum: f64) -> SumScore {
        let p = &self.params;
        let span = p.bucket_span_ms();
        let series = state.series.get(key);
        // Non-empty rate: the series' own, shrunk towards the population's.
        let pop_rate = (state.nonempty_buckets as f64 + 0.5) / (state.series_buckets as f64 + 1.0);
        let (n, nonempty) = series.map_or((0.0, 0.0), |s| {
            ((b - s.first_bucket) as f64, s.nonempty as f64)
        });
        let a = p.rate_prior_buckets;
        let mut rate = (nonempty + a * pop_rate) / (n + a);
        rate *= self.seasonal_factor(state, b * span, b);
        // The series' own hour-of-day rate, shrunk towards the above, once it has the days.
        if let Some(s) = series {
            let days = ((b - s.first_bucket) * span) as f64 / 86_400_000.0;
            if days >= p.seasonality.min_days_hour_of_day {
                let h = hour_of_day(b * span);
                let total = slot_buckets(s.first_bucket, b, span, h) as f64;
                let seen = f64::from(s.hour_nonempty.get(h).copied().unwrap_or(0));
                let k = p.seasonality.series_slot_prior_buckets;
                rate = (seen + k * rate) / (total + k);
            }
        }
        let ln_rate = rate.clamp(1e-12, 1.0).ln();

        let prior = |m: &Moments| {
            let (mean, var) = match m.variance() {
                Some(v) => (m.mean, v.max(MIN_POP_LOG_VAR)),
                None => (DEFAULT_LOG_MEAN, DEFAULT_LOG_VAR),
            };
            NigPrior::from_population(mean, var, p.size_prior_strength)
        };
        let empty = Moments::default();
        let own_single = series.map_or(&empty, |s| &s.single);
        let own_window = series.map_or(&empty, |s| &s.window);
        let mut t1 = prior(&state.single).predictive(own_single);
        t1.scale = t1.scale.max(p.min_log_scale);
        let w = i64::from(p.multi_bucket_window);
        let window = sum
            + series.map_or(0.0, |s| {
                s.recent
                    .iter()
                    .filter(|r| r.bucket > b - w)
                    .map(|r| r.sum)
                    .sum::<f64>()
            });
        let mut t2 = prior(&state.window).predictive(own_window);
        t2.scale = t2.scale.max(p.min_log_scale);
        let ln_p1 = ln_rate + t1.ln_sf(sum.max(1e-9).ln());
        let ln_p2 = ln_rate + t2.ln_sf(window.max(1e-9).ln());
        // Two looks at the same bucket: Bonferroni.
        let ln_p = (std::f64::consts::LN_2 + ln_p1.min(ln_p2)).min(0.0);
        SumScore {
            ln_p,
            impact: ((ln_p1 - ln_p2) / LN_10).clamp(-5.0, 5.0),
            typical: t1.loc.exp(),
            window,
        }
    }

    /// Multiplier of the non-empty rate for the time slot of `start_ms` across all series:
    /// hour of day shrunk towards the overall rate, hour of week shrunk towards its hour of
    /// day, each used only once the job has seen enough days.
    fn seasonal_factor(&self, state: &HighSumState, start_ms: i64, b: i64) -> f64 {
        let p = &self.params;
        let Some(first) = self.first_bucket else {
            return 1.0;
        };
        let days = ((b - first) * p.bucket_span_ms()) as f64 / 86_400_000.0;
        if days < p.seasonality.min_days_hour_of_day {
            return 1.0;
        }
        let overall = (state.nonempty_buckets as f64 + 0.5) / (state.series_buckets as f64 + 1.0);
        let k = p.seasonality.slot_prior_strength;
        let shrink =
            |s: Slot, towards: f64| (s.nonempty as f64 + k * towards) / (s.total as f64 + k);
        let mut rate = shrink(state.hour_of_day[hour_of_day(start_ms)], overall);
        if days >= p.seasonality.min_days_hour_of_week {
            rate = shrink(state.hour_of_week[hour_of_week(start_ms)], rate);
        }
        (rate / overall).clamp(0.05, 20.0)
    }

    /// Serialise to JSON.
    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string(self)
    }

    /// Write the model to `path` atomically (temp file in the same directory, then rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = self.to_json().map_err(|source| Error::Json {
            path: path.to_owned(),
            source,
        })?;
        write_atomic(path, json.as_bytes())
    }

    /// Read a model written by [`Self::save`].
    pub fn load(path: &Path) -> Result<ClusterModel> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let m: ClusterModel = serde_json::from_str(&text).map_err(|source| Error::Json {
            path: path.to_owned(),
            source,
        })?;
        m.validate().map_err(|message| Error::Scored {
            path: path.to_owned(),
            message,
        })?;
        Ok(m)
    }

    /// Consistency of a deserialised model (jobs match the configuration).
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.jobs.len() != self.params.jobs.len() {
            return Err(format!(
                "model has {} job states for {} configured jobs",
                self.jobs.len(),
                self.params.jobs.len()
            ));
        }
        for (j, spec) in self.jobs.iter().zip(&self.params.jobs) {
            let ok = j.name == spec.name
                && match (&j.state, &spec.detector) {
                    (JobState::HighSum(s), Detector::HighSum { .. }) => {
                        s.hour_of_day.len() == 24 && s.hour_of_week.len() == HOURS_PER_WEEK as usize
                    }
                    (JobState::Rare(_), Detector::Rare { .. }) => true,
                    _ => false,
                };
            if !ok {
                return Err(format!(
                    "job state `{}` does not match its configuration",
                    j.name
                ));
            }
        }
        Ok(())
    }
}

struct SumScore {
    ln_p: f64,
    impact: f64,
    typical: f64,
    window: f64,
}

fn hour_of_day(start_ms: i64) -> usize {
    start_ms.div_euclid(3_600_000).rem_euclid(24) as usize
}

/// Hour of the week, Monday 00:00 UTC = 0 (1970-01-01 was a Thursday).
fn hour_of_week(start_ms: i64) -> usize {
    (start_ms.div_euclid(3_600_000) + 72).rem_euclid(HOURS_PER_WEEK) as usize
}

/// How much an observation teaches the model: full weight for ordinary buckets, down to a
/// tenth for very anomalous ones, so that an attack in progress does not immediately become
/// the series' new normal (Elastic's models likewise down-weight outliers).
fn learn_weight(raw_score: f64) -> f64 {
    if raw_score <= 1.5 {
        1.0
    } else {
        (1.0 - 0.9 * (raw_score - 1.5) / 3.5).max(0.1)
    }
}

/// Buckets with index in `[first, end)` that start in hour `hour` of the day.
fn slot_buckets(first: i64, end: i64, span: i64, hour: usize) -> i64 {
    let per_day = 86_400_000 / span;
    let mut total = 0;
    for q in 0..per_day {
        if hour_of_day(q * span) != hour {
            continue;
        }
        // Indices i ≡ q (mod per_day) with first ≤ i < end.
        total += (end - 1 - q).div_euclid(per_day) - (first - 1 - q).div_euclid(per_day);
    }
    total
}

fn count_slot(s: &mut HighSumState, start_ms: i64, nonempty: u64) {
    let total = s.series.len() as u64;
    s.series_buckets += total;
    s.nonempty_buckets += nonempty;
    for slot in [
        &mut s.hour_of_day[hour_of_day(start_ms)],
        &mut s.hour_of_week[hour_of_week(start_ms)],
    ] {
        slot.total += total;
        slot.nonempty += nonempty;
    }
}

fn apply(job: &mut JobModel, g: Grouped, b: i64, params: &ClusterParams) {
    let span = params.bucket_span_ms();
    let w = i64::from(params.multi_bucket_window);
    match (&mut job.state, g) {
        (JobState::HighSum(s), Grouped::HighSum(groups)) => {
            let n = groups.len() as u64;
            for g in groups {
                let series = s.series.entry(g.key).or_insert_with(|| Series {
                    first_bucket: b,
                    nonempty: 0,
                    hour_nonempty: vec![0; 24],
                    single: Moments::default(),
                    window: Moments::default(),
                    recent: Vec::new(),
                });
                let (ls, lw) = (g.sum.max(1e-9).ln(), g.window.max(1e-9).ln());
                let weight = learn_weight(g.raw_score);
                series.nonempty += 1;
                if let Some(h) = series.hour_nonempty.get_mut(hour_of_day(b * span)) {
                    *h += 1;
                }
                series.single.push_weighted(ls, weight);
                series.window.push_weighted(lw, weight);
                series.recent.retain(|r| r.bucket > b - w);
                series.recent.push(RecentSum {
                    bucket: b,
                    sum: g.sum,
                });
                s.single.push_weighted(ls, weight);
                s.window.push_weighted(lw, weight);
            }
            count_slot(s, b * span, n);
        }
        (JobState::Rare(r), Grouped::Rare(groups)) => {
            let mut last_partition: Option<String> = None;
            for g in groups {
                // Groups are sorted by partition: count each partition's bucket once.
                let part = r.partitions.entry(g.partition.clone()).or_default();
                if last_partition.as_deref() != Some(g.partition.as_str()) {
                    part.buckets += 1;
                    last_partition = Some(g.partition);
                }
                *part.names.entry(g.name.clone()).or_default() += 1;
                *r.population.entry(g.name).or_default() += 1;
                r.population_total += 1;
            }
        }
        _ => {}
    }
}

/// Write `bytes` to `path` via a temp file in the same directory and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let io = |p: &Path| {
        let p = p.to_owned();
        move |source| Error::Io { path: p, source }
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".lotl-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io(dir))?;
    tmp.write_all(bytes).map_err(io(path))?;
    tmp.as_file().sync_all().map_err(io(path))?;
    tmp.persist(path).map_err(|e| Error::Io {
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(())
}
