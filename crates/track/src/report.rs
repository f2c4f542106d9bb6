//! Text for `lotl runs list|show|compare`: built here so the CLI only prints it.

use crate::local::{RunMeta, RunRecord};
use std::collections::BTreeSet;
use std::fmt::Write;

fn fmt_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}

fn fmt_duration(meta: &RunMeta) -> String {
    match meta.end_time {
        Some(end) => {
            let s = (end - meta.start_time).max(0) as f64 / 1000.0;
            if s < 60.0 {
                format!("{s:.1}s")
            } else if s < 3600.0 {
                format!("{:.1}m", s / 60.0)
            } else {
                format!("{:.1}h", s / 3600.0)
            }
        }
        None => "-".into(),
    }
}

/// Shortest text that reads back as the same f64, so differences are never hidden by
/// rounding.
pub fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v}")
    }
}

/// `lotl runs list`: one line per run, newest first.
pub fn render_list(runs: &[RunMeta]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<32}  {:<20}  {:<24}  {:<8}  {:<19}  {:>8}",
        "run id", "experiment", "name", "status", "started (UTC)", "duration"
    );
    for r in runs {
        let _ = writeln!(
            out,
            "{:<32}  {:<20}  {:<24}  {:<8}  {:<19}  {:>8}",
            r.run_id,
            r.experiment,
            r.run_name,
            r.status.as_str(),
            fmt_time(r.start_time),
            fmt_duration(r)
        );
    }
    out
}

/// `lotl runs show`: a run's meta, tags, params, last metric values with their step and
/// number of observations, and artifacts.
pub fn render_run(rec: &RunRecord) -> String {
    let m = &rec.meta;
    let mut out = String::new();
    let _ = writeln!(out, "run        {}", m.run_id);
    let _ = writeln!(out, "experiment {}", m.experiment);
    let _ = writeln!(out, "name       {}", m.run_name);
    let _ = writeln!(out, "status     {}", m.status);
    let _ = writeln!(out, "started    {} UTC", fmt_time(m.start_time));
    if let Some(end) = m.end_time {
        let _ = writeln!(
            out,
            "ended      {} UTC ({})",
            fmt_time(end),
            fmt_duration(m)
        );
    }
    let _ = writeln!(out, "directory  {}", rec.dir.display());
    if !m.tags.is_empty() {
        let _ = writeln!(out, "\ntags");
        let w = m.tags.keys().map(String::len).max().unwrap_or(0);
        for (k, v) in &m.tags {
            let _ = writeln!(out, "  {k:<w$}  {v}");
        }
    }
    if !rec.params.is_empty() {
        let _ = writeln!(out, "\nparams");
        let w = rec.params.keys().map(String::len).max().unwrap_or(0);
        for (k, v) in &rec.params {
            let _ = writeln!(out, "  {k:<w$}  {v}");
        }
    }
    let last = rec.last_metrics();
    if !last.is_empty() {
        let _ = writeln!(out, "\nmetrics (last value)");
        let w = last.keys().map(String::len).max().unwrap_or(0);
        for (k, metric) in &last {
            let n = rec.metrics.iter().filter(|x| &x.key == k).count();
            let _ = writeln!(
                out,
                "  {k:<w$}  {:<24}  step {:<6}  ({n} logged)",
                fmt_value(metric.value),
                metric.step
            );
        }
    }
    if !rec.artifacts.is_empty() {
        let _ = writeln!(out, "\nartifacts");
        for (p, size) in &rec.artifacts {
            let _ = writeln!(out, "  {p}  ({size} bytes)");
        }
    }
    if rec.skipped_metric_lines > 0 {
        let _ = writeln!(
            out,
            "\nnote: {} unreadable line(s) in metrics.ndjson skipped",
            rec.skipped_metric_lines
        );
    }
    out
}

/// One line of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    pub key: String,
    pub a: Option<String>,
    pub b: Option<String>,
    pub differs: bool,
}

/// Two runs side by side: params, and each metric's last value.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    pub params: Vec<CompareRow>,
    pub metrics: Vec<CompareRow>,
}

impl Comparison {
    pub fn new(a: &RunRecord, b: &RunRecord) -> Self {
        let keys: BTreeSet<&String> = a.params.keys().chain(b.params.keys()).collect();
        let params = keys
            .into_iter()
            .map(|k| {
                let (va, vb) = (a.params.get(k).cloned(), b.params.get(k).cloned());
                CompareRow {
                    key: k.clone(),
                    differs: va != vb,
                    a: va,
                    b: vb,
                }
            })
            .collect();
        let (la, lb) = (a.last_metrics(), b.last_metrics());
        let keys: BTreeSet<&String> = la.keys().chain(lb.keys()).collect();
        let metrics = keys
            .into_iter()
            .map(|k| {
                let va = la.get(k).map(|m| m.value);
                let vb = lb.get(k).map(|m| m.value);
                // Compare bit patterns so NaN equals NaN and a 1-ulp change still shows.
                let differs = va.map(f64::to_bits) != vb.map(f64::to_bits);
                CompareRow {
                    key: k.clone(),
                    a: va.map(fmt_value),
                    b: vb.map(fmt_value),
                    differs,
                }
            })
            .collect();
        Comparison {
            a: a.meta.run_id.clone(),
            b: b.meta.run_id.clone(),
            params,
            metrics,
        }
    }

    /// A table with a `*` in the first column on every line whose values differ.
    pub fn render(&self) -> String {
        let short = |id: &str| id.chars().take(12).collect::<String>();
        let rows = self.params.iter().chain(&self.metrics);
        let kw = rows.clone().map(|r| r.key.len()).max().unwrap_or(0).max(6);
        let vw = rows
            .flat_map(|r| [r.a.as_deref(), r.b.as_deref()])
            .map(|v| v.map_or(1, str::len))
            .max()
            .unwrap_or(0)
            .clamp(12, 40);
        let mut out = String::new();
        let header = |out: &mut String, title: &str| {
            let l = format!(
                "  {title:<kw$}  {:<vw$}  {:<vw$}",
                short(&self.a),
                short(&self.b)
            );
            let _ = writeln!(out, "{}", l.trim_end());
        };
        let line = |out: &mut String, r: &CompareRow| {
            let mark = if r.differs { '*' } else { ' ' };
            let l = format!(
                "{mark} {:<kw$}  {:<vw$}  {:<vw$}",
                r.key,
                r.a.as_deref().unwrap_or("-"),
                r.b.as_deref().unwrap_or("-")
            );
            let _ = writeln!(out, "{}", l.trim_end());
        };
        header(&mut out, "param");
        for r in &self.params {
            line(&mut out, r);
        }
        out.push('\n');
        header(&mut out, "metric");
        for r in &self.metrics {
            line(&mut out, r);
        }
        let nd = self
            .params
            .iter()
            .chain(&self.metrics)
            .filter(|r| r.differs)
            .count();
        let _ = writeln!(
            out,
            "\n{nd} difference(s) marked *; metrics show the last logged value"
        );
        out
    }
}
