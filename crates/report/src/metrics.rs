//! What `metrics.json` holds: event-level classification metrics (overall and per slice) and
//! cluster-level detection metrics, computed from labels, calibrated probabilities and alerts.
//!
//! Every metric that needs both classes (or any rows) is an `Option`, serialised as `null`,
//! so a one-class slice reads "not available" instead of NaN. The arithmetic itself is
//! [`lotl_classifier::metrics`]: training reports and evaluation cannot disagree.

use lotl_classifier::metrics::{
    expected_calibration_error, pr_auc, recall_at_fpr, roc_auc, ConfusionMatrix,
};
use lotl_events::{Label, ProcessEvent};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// False-positive budgets reported as `recall_at_fpr_*`.
pub const FPR_BUDGETS: [(f64, &str); 3] = [
    (0.001, "recall_at_fpr_0_1pct"),
    (0.01, "recall_at_fpr_1pct"),
    (0.05, "recall_at_fpr_5pct"),
];

/// Equal-width bins of the calibration error and curve.
pub const CALIBRATION_BINS: usize = 10;

const DAY_MS: i64 = 86_400_000;

/// Classification quality of one set of labelled events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    /// Labelled events in the slice.
    pub n: u64,
    pub benign: u64,
    pub malicious: u64,
    pub roc_auc: Option<f64>,
    /// Average precision.
    pub pr_auc: Option<f64>,
    pub recall_at_fpr_0_1pct: Option<f64>,
    pub recall_at_fpr_1pct: Option<f64>,
    pub recall_at_fpr_5pct: Option<f64>,
    /// At the bundle's decision threshold.
    pub precision_at_threshold: Option<f64>,
    pub recall_at_threshold: Option<f64>,
    pub fpr_at_threshold: Option<f64>,
    /// Expected calibration error ([`CALIBRATION_BINS`] bins); needs both classes to mean
    /// anything about a classifier, so it is `null` for one-class slices too.
    pub ece: Option<f64>,
    pub confusion: ConfusionMatrix,
}

impl ClassMetrics {
    /// `labels` are 0/1; `probs` calibrated probabilities of class 1.
    pub fn compute(labels: &[u8], probs: &[f32], threshold: f32) -> ClassMetrics {
        let malicious = labels.iter().filter(|&&l| l == 1).count() as u64;
        let n = labels.len() as u64;
        let both = malicious > 0 && malicious < n;
        let confusion = ConfusionMatrix::at_threshold(labels, probs, threshold);
        let at = |fpr| recall_at_fpr(labels, probs, fpr);
        ClassMetrics {
            n,
            benign: n - malicious,
            malicious,
            roc_auc: roc_auc(labels, probs),
            pr_auc: pr_auc(labels, probs),
            recall_at_fpr_0_1pct: at(FPR_BUDGETS[0].0),
            recall_at_fpr_1pct: at(FPR_BUDGETS[1].0),
            recall_at_fpr_5pct: at(FPR_BUDGETS[2].0),
            precision_at_threshold: confusion.precision(),
            recall_at_threshold: confusion.recall(),
            fpr_at_threshold: confusion.fpr(),
            ece: both
                .then(|| expected_calibration_error(labels, probs, CALIBRATION_BINS))
                .flatten(),
            confusion,
        }
    }

    /// The gated and displayed metrics by name, in display order.
    pub fn named(&self) -> Vec<(&'static str, Option<f64>)> {
        vec![
            ("roc_auc", self.roc_auc),
            ("pr_auc", self.pr_auc),
            ("recall_at_fpr_0_1pct", self.recall_at_fpr_0_1pct),
            ("recall_at_fpr_1pct", self.recall_at_fpr_1pct),
            ("recall_at_fpr_5pct", self.recall_at_fpr_5pct),
            ("precision_at_threshold", self.precision_at_threshold),
            ("recall_at_threshold", self.recall_at_threshold),
            ("fpr_at_threshold", self.fpr_at_threshold),
            ("ece", self.ece),
        ]
    }
}

/// Summary of the delays from a scenario's first event to its first alert, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Delays {
    pub median_s: Option<f64>,
    pub mean_s: Option<f64>,
    pub max_s: Option<f64>,
}

/// Detection quality of the alerts the rule raised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterMetrics {
    pub alerts: u64,
    /// Attack scenarios (distinct `scenario_id` of malicious events).
    pub scenarios: u64,
    /// Scenarios with at least one alert holding one of their events.
    pub scenarios_alerted: u64,
    pub scenario_recall: Option<f64>,
    /// Hosts with no malicious event.
    pub benign_hosts: u64,
    /// Distinct (host, UTC day) pairs with events on those hosts.
    pub benign_host_days: u64,
    pub benign_host_alerts: u64,
    pub alerts_per_benign_host_day: Option<f64>,
    /// Alerts holding at least one malicious event, over all alerts.
    pub alert_precision: Option<f64>,
    pub time_to_alert: Delays,
    /// Per scenario: seconds from its first event to its first alert (`null`: never alerted).
    pub per_scenario: BTreeMap<String, Option<f64>>,
}

impl ClusterMetrics {
    pub fn named(&self) -> Vec<(&'static str, Option<f64>)> {
        vec![
            ("scenario_recall", self.scenario_recall),
            (
                "alerts_per_benign_host_day",
                self.alerts_per_benign_host_day,
            ),
            ("alert_precision", self.alert_precision),
            ("median_time_to_alert_s", self.time_to_alert.median_s),
        ]
    }
}

/// The little the cluster metrics need from an alert. Built from a [`lotl_scorer::Alert`]
/// (see [`AlertPoint::from_alert`]) or by hand in tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertPoint {
    /// When the alert was raised (rule execution time), ms since the epoch.
    pub time_ms: i64,
    pub host: String,
    /// `event.id` of the child processes the alert holds.
    pub event_ids: Vec<String>,
}

impl AlertPoint {
    pub fn from_alert(a: &lotl_scorer::Alert) -> AlertPoint {
        let time_ms = chrono::DateTime::parse_from_rfc3339(&a.timestamp)
            .map(|t| t.timestamp_millis())
            .unwrap_or(a.anomaly.timestamp_ms);
        let host = a
            .cluster
            .children
            .first()
            .map(|c| c.host.name.clone())
            .unwrap_or_default();
        AlertPoint {
            time_ms,
            host,
            event_ids: a
                .cluster
                .children
                .iter()
                .map(|c| c.event.id.clone())
                .collect(),
        }
    }
}

fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// Cluster-level metrics of `alerts` raised over `events` (labels from the events).
pub fn cluster_metrics(events: &[ProcessEvent], alerts: &[AlertPoint]) -> ClusterMetrics {
    // Scenario → (first event time, event ids); host → has a malicious event.
    let mut scenarios: BTreeMap<&str, (i64, BTreeSet<&str>)> = BTreeMap::new();
    let mut malicious_ids: BTreeSet<&str> = BTreeSet::new();
    let mut attacked_hosts: BTreeSet<&str> = BTreeSet::new();
    for e in events.iter().filter(|e| e.label == Some(Label::Malicious)) {
        malicious_ids.insert(e.event_id.as_str());
        attacked_hosts.insert(e.host_name.as_str());
        let key = e.scenario_id.as_deref().unwrap_or("(no scenario id)");
        let s = scenarios
            .entry(key)
            .or_insert_with(|| (e.timestamp_ms, BTreeSet::new()));
        s.0 = s.0.min(e.timestamp_ms);
        s.1.insert(e.event_id.as_str());
    }
    let mut scenario_of: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, (_, ids)) in &scenarios {
        for id in ids {
            scenario_of.insert(id, name);
        }
    }
    let mut first_alert: BTreeMap<&str, i64> = BTreeMap::new();
    let mut true_alerts = 0u64;
    for a in alerts {
        let mut hit = false;
        for id in &a.event_ids {
            if malicious_ids.contains(id.as_str()) {
                hit = true;
            }
            if let Some(&s) = scenario_of.get(id.as_str()) {
                let t = first_alert.entry(s).or_insert(a.time_ms);
                *t = (*t).min(a.time_ms);
            }
        }
        true_alerts += u64::from(hit);
    }
    let mut per_scenario = BTreeMap::new();
    let mut delays = Vec::new();
    for (name, (start, _)) in &scenarios {
        let d = first_alert
            .get(name)
            .map(|t| ((*t - start) as f64 / 1000.0).max(0.0));
        if let Some(d) = d {
            delays.push(d);
        }
        per_scenario.insert((*name).to_owned(), d);
    }
    delays.sort_by(f64::total_cmp);
    let mut benign_hosts: BTreeSet<&str> = BTreeSet::new();
    let mut host_days: BTreeSet<(&str, i64)> = BTreeSet::new();
    for e in events {
        if !attacked_hosts.contains(e.host_name.as_str()) {
            benign_hosts.insert(e.host_name.as_str());
            host_days.insert((e.host_name.as_str(), e.timestamp_ms.div_euclid(DAY_MS)));
        }
    }
    let benign_host_alerts = alerts
        .iter()
        .filter(|a| benign_hosts.contains(a.host.as_str()))
        .count() as u64;
    let n_scen = scenarios.len() as u64;
    let alerted = first_alert.len() as u64;
    ClusterMetrics {
        alerts: alerts.len() as u64,
        scenarios: n_scen,
        scenarios_alerted: alerted,
        scenario_recall: (n_scen > 0).then(|| alerted as f64 / n_scen as f64),
        benign_hosts: benign_hosts.len() as u64,
        benign_host_days: host_days.len() as u64,
        benign_host_alerts,
        alerts_per_benign_host_day: (!host_days.is_empty())
            .then(|| benign_host_alerts as f64 / host_days.len() as f64),
        alert_precision: (!alerts.is_empty()).then(|| true_alerts as f64 / alerts.len() as f64),
        time_to_alert: Delays {
            median_s: median(&delays),
            mean_s: (!delays.is_empty()).then(|| delays.iter().sum::<f64>() / delays.len() as f64),
            max_s: delays.last().copied(),
        },
        per_scenario,
    }
}

/// Labelled rows of one slice: indices into the event list.
fn slice_metrics(idx: &[usize], labels: &[u8], probs: &[f32], threshold: f32) -> ClassMetrics {
    let l: Vec<u8> = idx.iter().map(|&i| labels[i]).collect();
    let p: Vec<f32> = idx.iter().map(|&i| probs[i]).collect();
    ClassMetrics::compute(&l, &p, threshold)
}

/// Event-level metrics of one model: overall and per slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventMetrics {
    pub overall: ClassMetrics,
    /// Events of each sensor.
    pub per_source: BTreeMap<String, ClassMetrics>,
    /// Malicious events of each ATT&CK technique against all benign events.
    pub per_technique: BTreeMap<String, ClassMetrics>,
    /// Benign events of each false-positive family against all malicious events.
    pub per_family: BTreeMap<String, ClassMetrics>,
}

/// 0/1 label of each event, `None` for unlabelled/unknown ones (kept out of metrics).
pub fn binary_labels(events: &[ProcessEvent]) -> Vec<Option<u8>> {
    events
        .iter()
        .map(|e| match e.label {
            Some(Label::Benign) => Some(0),
            Some(Label::Malicious) => Some(1),
            _ => None,
        })
        .collect()
}

/// Event-level metrics of `probs` (one per event) at `threshold`.
pub fn event_metrics(events: &[ProcessEvent], probs: &[f32], threshold: f32) -> EventMetrics {
    let labels: Vec<u8> = binary_labels(events)
        .into_iter()
        .map(|l| l.unwrap_or(u8::MAX))
        .collect();
    let labelled: Vec<usize> = (0..events.len())
        .filter(|&i| labels[i] != u8::MAX)
        .collect();
    let benign: Vec<usize> = labelled
        .iter()
        .copied()
        .filter(|&i| labels[i] == 0)
        .collect();
    let malicious: Vec<usize> = labelled
        .iter()
        .copied()
        .filter(|&i| labels[i] == 1)
        .collect();
    let mut by_source: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut by_tech: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut by_family: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for &i in &labelled {
        let e = &events[i];
        let src = e.source.map_or("unknown", |s| s.as_str());
        by_source.entry(src.to_owned()).or_default().push(i);
        if labels[i] == 1 {
            let t = e.technique.as_deref().unwrap_or("(none)");
            by_tech.entry(t.to_owned()).or_default().push(i);
        } else if let Some(f) = e.family.as_deref() {
            by_family.entry(f.to_owned()).or_default().push(i);
        }
    }
    let with = |own: &[usize], others: &[usize]| {
        let mut v: Vec<usize> = own.iter().chain(others).copied().collect();
        v.sort_unstable();
        slice_metrics(&v, &labels, probs, threshold)
    };
    EventMetrics {
        overall: slice_metrics(&labelled, &labels, probs, threshold),
        per_source: by_source
            .iter()
            .map(|(k, v)| (k.clone(), slice_metrics(v, &labels, probs, threshold)))
            .collect(),
        per_technique: by_tech
            .iter()
            .map(|(k, v)| (k.clone(), with(v, &benign)))
            .collect(),
        per_family: by_family
            .iter()
            .map(|(k, v)| (k.clone(), with(v, &malicious)))
            .collect(),
    }
}

/// Points of a curve for plotting.
pub type Curve = Vec<(f64, f64)>;

/// ROC points (FPR, TPR) and PR points (recall, precision), thinned to at most `max_points`.
pub fn roc_pr_curves(labels: &[u8], probs: &[f32], max_points: usize) -> Option<(Curve, Curve)> {
    let pos = labels.iter().filter(|&&l| l == 1).count() as f64;
    let neg = labels.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 || labels.len() != probs.len() {
        return None;
    }
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_unstable_by(|&a, &b| probs[b].total_cmp(&probs[a]));
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut roc = vec![(0.0, 0.0)];
    let mut pr = Vec::new();
    for (k, &i) in order.iter().enumerate() {
        if labels[i] == 1 {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let last = order
            .get(k + 1)
            .is_none_or(|&j| probs[j].total_cmp(&probs[i]).is_ne());
        if last {
            roc.push((fp / neg, tp / pos));
            pr.push((tp / pos, tp / (tp + fp)));
        }
    }
    Some((thin(roc, max_points), thin(pr, max_points)))
}

fn thin(points: Curve, max: usize) -> Curve {
    if points.len() <= max || max < 2 {
        return points;
    }
    let step = points.len() as f64 / (max - 1) as f64;
    let mut out: Curve = (0..max - 1)
        .map(|k| points[(k as f64 * step) as usize])
        .collect();
    if let Some(&last) = points.last() {
        out.push(last);
    }
    out
}

/// Calibration curve: per non-empty bin, (mean predicted probability, observed positive
/// rate, rows).
pub fn calibration_curve(labels: &[u8], probs: &[f32], bins: usize) -> Vec<(f64, f64, u64)> {
    let mut acc = vec![(0.0f64, 0.0f64, 0u64); bins.max(1)];
    let nb = acc.len();
    for (&l, &p) in labels.iter().zip(probs) {
        let p = f64::from(p).clamp(0.0, 1.0);
        let b = ((p * nb as f64) as usize).min(nb - 1);
        acc[b].0 += p;
        acc[b].1 += f64::from(l);
        acc[b].2 += 1;
    }
    acc.into_iter()
        .filter(|a| a.2 > 0)
        .map(|(p, l, c)| (p / c as f64, l / c as f64, c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thin_keeps_ends() {
        let pts: Curve = (0..100).map(|i| (i as f64, i as f64)).collect();
        let t = thin(pts, 10);
        assert_eq!(t.len(), 10);
        assert_eq!(t[0], (0.0, 0.0));
        assert_eq!(t[9], (99.0, 99.0));
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, 2.0, 9.0]), Some(2.0));
        assert_eq!(median(&[1.0, 3.0]), Some(2.0));
    }
}
