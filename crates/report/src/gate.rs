//! The regression gate: compare this report's headline metrics with a committed baseline.
//!
//! Gated keys are `<model>/overall/<metric>`, `<model>/source/<source>/<metric>` and
//! `<model>/cluster/<metric>`. Per-technique and per-family slices are reported but not
//! gated: with a handful of events each they flip on harmless changes.
//!
//! Tolerance is absolute for metrics bounded in [0, 1] (AUCs, recalls, precision, ECE) and
//! relative (a fraction of the baseline value) for unbounded ones (alerts per host-day,
//! time to alert), so one `--tolerance` means "half a point" and "half a percent" alike.

use crate::error::{Error, Result};
use crate::Report;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Format tag of `baseline.json`.
pub const BASELINE_FORMAT: &str = "lotl-eval-baseline";

/// Default `--tolerance`.
pub const DEFAULT_TOLERANCE: f64 = 0.005;

/// How the tolerance applies, for messages.
pub const TOLERANCE_NOTE: &str =
    "absolute for AUCs, rates and ECE; relative for alerts per host-day and time to alert";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

/// Direction and whether the tolerance is relative, from the metric name (last key part);
/// `None` for keys that are not gated.
pub fn direction(key: &str) -> Option<(Direction, bool)> {
    let metric = key.rsplit('/').next().unwrap_or(key);
    match metric {
        "roc_auc"
        | "pr_auc"
        | "recall_at_fpr_0_1pct"
        | "recall_at_fpr_1pct"
        | "recall_at_fpr_5pct"
        | "precision_at_threshold"
        | "recall_at_threshold"
        | "scenario_recall"
        | "alert_precision" => Some((Direction::HigherIsBetter, false)),
        "ece" | "fpr_at_threshold" => Some((Direction::LowerIsBetter, false)),
        "alerts_per_benign_host_day" | "median_time_to_alert_s" => {
            Some((Direction::LowerIsBetter, true))
        }
        _ => None,
    }
}

/// The gated metrics of a report, by key (`null` = not available).
pub fn gated_metrics(report: &Report) -> BTreeMap<String, Option<f64>> {
    let mut out = BTreeMap::new();
    for m in &report.models {
        for (k, v) in m.metrics.overall.named() {
            out.insert(format!("{}/overall/{k}", m.name), v);
        }
        for (src, cm) in &m.metrics.per_source {
            for (k, v) in cm.named() {
                out.insert(format!("{}/source/{src}/{k}", m.name), v);
            }
        }
        if let Some(c) = &m.cluster {
            for (k, v) in c.named() {
                out.insert(format!("{}/cluster/{k}", m.name), v);
            }
        }
    }
    out
}

/// `baseline.json`: the gated metrics, written next to every report so that promoting a
/// report to the new baseline is one copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub format: String,
    pub metrics: BTreeMap<String, Option<f64>>,
}

impl Baseline {
    pub fn of(report: &Report) -> Baseline {
        Baseline {
            format: BASELINE_FORMAT.to_owned(),
            metrics: gated_metrics(report),
        }
    }

    /// Read a `baseline.json`, or a whole `metrics.json` (its gated metrics are used).
    pub fn load(path: &Path) -> Result<Baseline> {
        let text = std::fs::read_to_string(path).map_err(crate::error::io(path))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|source| Error::Json {
            path: path.to_owned(),
            source,
        })?;
        let bad = |message: String| Error::Baseline {
            path: path.to_owned(),
            message,
        };
        match v.get("format").and_then(|f| f.as_str()) {
            Some(BASELINE_FORMAT) => serde_json::from_value(v).map_err(|e| bad(e.to_string())),
            Some(crate::REPORT_FORMAT) => {
                let r: Report = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
                Ok(Baseline::of(&r))
            }
            Some(other) => Err(bad(format!(
                "format `{other}`, expected `{BASELINE_FORMAT}` or `{}`",
                crate::REPORT_FORMAT
            ))),
            None => Err(bad(format!(
                "no `format` key (expected `{BASELINE_FORMAT}`, as written to <report>/baseline.json)"
            ))),
        }
    }
}

/// One metric that got worse beyond the tolerance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Regression {
    pub key: String,
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    /// Worst value still accepted.
    pub limit: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateOutcome {
    pub tolerance: f64,
    /// Keys compared (baseline value available).
    pub compared: usize,
    pub regressions: Vec<Regression>,
}

impl GateOutcome {
    pub fn passed(&self) -> bool {
        self.regressions.is_empty()
    }

    /// A plain-text table of the regressions (empty string when none).
    pub fn table(&self) -> String {
        if self.regressions.is_empty() {
            return String::new();
        }
        let fmt = |v: Option<f64>| v.map_or("n/a".to_owned(), |x| format!("{x:.4}"));
        let w = self
            .regressions
            .iter()
            .map(|r| r.key.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let mut s = format!(
            "{:<w$}  {:>10}  {:>10}  {:>10}  {:>10}\n",
            "metric", "baseline", "current", "change", "limit"
        );
        for r in &self.regressions {
            let change = match (r.baseline, r.current) {
                (Some(b), Some(c)) => format!("{:+.4}", c - b),
                _ => "n/a".to_owned(),
            };
            s.push_str(&format!(
                "{:<w$}  {:>10}  {:>10}  {:>10}  {:>10.4}\n",
                r.key,
                fmt(r.baseline),
                fmt(r.current),
                change,
                r.limit
            ));
        }
        s
    }
}

/// Compare `current` with `baseline`. Every gated baseline key must exist in the report
/// (else [`Error::BaselineKeys`] names the missing ones); a metric that was available and
/// is now `null` counts as a regression.
pub fn compare(
    baseline: &Baseline,
    baseline_path: &Path,
    report: &Report,
    tolerance: f64,
) -> Result<GateOutcome> {
    if !(tolerance.is_finite() && tolerance >= 0.0) {
        return Err(Error::Input(format!(
            "tolerance {tolerance} must be a finite number >= 0"
        )));
    }
    let current = gated_metrics(report);
    let gated: Vec<(&String, &Option<f64>)> = baseline
        .metrics
        .iter()
        .filter(|(k, _)| direction(k).is_some())
        .collect();
    let missing: Vec<String> = gated
        .iter()
        .filter(|(k, _)| !current.contains_key(k.as_str()))
        .map(|(k, _)| (*k).clone())
        .collect();
    if !missing.is_empty() || gated.is_empty() {
        let missing = if gated.is_empty() {
            vec!["(the baseline has no gated metrics at all)".to_owned()]
        } else {
            missing
        };
        return Err(Error::BaselineKeys {
            path: baseline_path.to_owned(),
            missing,
        });
    }
    let mut out = GateOutcome {
        tolerance,
        compared: 0,
        regressions: Vec::new(),
    };
    for (key, base) in gated {
        let Some(b) = *base else { continue };
        let Some((dir, relative)) = direction(key) else {
            continue;
        };
        out.compared += 1;
        let slack = if relative {
            tolerance * b.abs()
        } else {
            tolerance
        };
        let limit = match dir {
            Direction::HigherIsBetter => b - slack,
            Direction::LowerIsBetter => b + slack,
        };
        let cur = current.get(key.as_str()).copied().flatten();
        let worse = match (cur, dir) {
            (None, _) => true,
            (Some(c), Direction::HigherIsBetter) => c < limit - 1e-12,
            (Some(c), Direction::LowerIsBetter) => c > limit + 1e-12,
        };
        if worse {
            out.regressions.push(Regression {
                key: key.clone(),
                baseline: Some(b),
                current: cur,
                limit,
            });
        }
    }
    Ok(out)
}
