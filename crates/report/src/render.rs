//! The human-readable report: figures, then one document rendered twice (Markdown and a
//! self-contained HTML page with the SVGs inline), so the two never say different things.

use crate::gate::GateOutcome;
use crate::metrics::{self, ClassMetrics};
use crate::plots::{self, Rendered};
use crate::{Evaluation, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Hosts shown in the alert timeline (most alerts first, attacked hosts kept).
const MAX_TIMELINE_HOSTS: usize = 40;

fn stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Labels and probabilities of the labelled events, per model.
fn labelled(eval: &Evaluation) -> (Vec<u8>, Vec<Vec<f32>>) {
    let labels = metrics::binary_labels(&eval.events);
    let idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i].is_some()).collect();
    let l = idx.iter().filter_map(|&i| labels[i]).collect();
    let p = eval
        .scores
        .iter()
        .map(|s| idx.iter().map(|&i| s.probs[i]).collect())
        .collect();
    (l, p)
}

/// Draw every figure into `dir`.
pub fn draw_figures(eval: &Evaluation, dir: &Path, png: bool) -> Result<Vec<Rendered>> {
    let mut out = Vec::new();
    let (labels, probs) = labelled(eval);
    let names: Vec<String> = eval.scores.iter().map(|s| s.name.clone()).collect();
    let mut roc = Vec::new();
    let mut pr = Vec::new();
    for (n, p) in names.iter().zip(&probs) {
        if let Some((r, q)) = metrics::roc_pr_curves(&labels, p, 2000) {
            roc.push((n.clone(), r));
            pr.push((n.clone(), q));
        }
    }
    if !roc.is_empty() {
        let neg = labels.iter().filter(|&&l| l == 0).count().max(1) as f64;
        out.push(plots::render(
            &plots::RocFigure {
                curves: roc,
                min_fpr: 1.0 / neg,
            },
            dir,
            png,
        )?);
        out.push(plots::render(&plots::PrFigure { curves: pr }, dir, png)?);
    }
    if !labels.is_empty() {
        let curves = names
            .iter()
            .zip(&probs)
            .map(|(n, p)| {
                (
                    n.clone(),
                    metrics::calibration_curve(&labels, p, metrics::CALIBRATION_BINS),
                )
            })
            .collect();
        out.push(plots::render(
            &plots::CalibrationFigure { curves },
            dir,
            png,
        )?);
        for ((n, p), s) in names.iter().zip(&probs).zip(&eval.scores) {
            let (mut b, mut m) = (Vec::new(), Vec::new());
            for (&l, &x) in labels.iter().zip(p) {
                if l == 1 {
                    m.push(x)
                } else {
                    b.push(x)
                }
            }
            out.push(plots::render(
                &plots::HistogramFigure {
                    model: n.clone(),
                    stem: stem(n),
                    benign: b,
                    malicious: m,
                    threshold: s.threshold,
                },
                dir,
                png,
            )?);
        }
    }
    let techniques: Vec<String> = eval
        .report
        .models
        .iter()
        .flat_map(|m| m.metrics.per_technique.keys().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !techniques.is_empty() {
        let models = eval
            .report
            .models
            .iter()
            .map(|m| {
                let r = techniques
                    .iter()
                    .map(|t| {
                        m.metrics
                            .per_technique
                            .get(t)
                            .and_then(|c| c.recall_at_threshold)
                    })
                    .collect();
                (m.name.clone(), r)
            })
            .collect();
        out.push(plots::render(
            &plots::TechniqueFigure { techniques, models },
            dir,
            png,
        )?);
    }
    for s in &eval.scores {
        if let Some(alerts) = &s.alerts {
            out.push(plots::render(&timeline(eval, &s.name, alerts), dir, png)?);
        }
    }
    Ok(out)
}

fn timeline(eval: &Evaluation, model: &str, alerts: &[crate::AlertPoint]) -> plots::TimelineFigure {
    let ev = &eval.events;
    let start = ev.iter().map(|e| e.timestamp_ms).min().unwrap_or(0);
    let end = ev.iter().map(|e| e.timestamp_ms).max().unwrap_or(start);
    let malicious: BTreeSet<&str> = ev
        .iter()
        .filter(|e| e.label == Some(lotl_events::Label::Malicious))
        .map(|e| e.event_id.as_str())
        .collect();
    let mut starts: BTreeMap<&str, (i64, &str)> = BTreeMap::new();
    for e in ev
        .iter()
        .filter(|e| e.label == Some(lotl_events::Label::Malicious))
    {
        let k = e.scenario_id.as_deref().unwrap_or("");
        let s = starts
            .entry(k)
            .or_insert((e.timestamp_ms, e.host_name.as_str()));
        if e.timestamp_ms < s.0 {
            *s = (e.timestamp_ms, e.host_name.as_str());
        }
    }
    let mut weight: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for a in alerts {
        weight.entry(a.host.as_str()).or_default().0 += 1;
    }
    for (_, h) in starts.values() {
        weight.entry(*h).or_default().1 += 1;
    }
    let mut hosts: Vec<(&str, (usize, usize))> = weight.into_iter().collect();
    hosts.sort_by(|a, b| (b.1 .1 + b.1 .0).cmp(&(a.1 .1 + a.1 .0)).then(a.0.cmp(b.0)));
    hosts.truncate(MAX_TIMELINE_HOSTS);
    let mut names: Vec<String> = hosts.iter().map(|h| h.0.to_owned()).collect();
    names.sort();
    let index: BTreeMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    plots::TimelineFigure {
        model: model.to_owned(),
        stem: stem(model),
        alerts: alerts
            .iter()
            .filter_map(|a| {
                let h = *index.get(a.host.as_str())?;
                let hit = a.event_ids.iter().any(|id| malicious.contains(id.as_str()));
                Some((h, a.time_ms - start, hit))
            })
            .collect(),
        scenario_starts: starts
            .values()
            .filter_map(|(t, h)| Some((*index.get(h)?, t - start)))
            .collect(),
        hosts: names,
        start_ms: start,
        span_ms: (end - start).max(1),
    }
}

/// A document element, rendered to Markdown or HTML.
enum Block {
    H(u8, String),
    P(String),
    Table(Vec<String>, Vec<Vec<String>>),
    Pre(String),
    Figure(usize, String),
}

fn f(v: Option<f64>) -> String {
    v.map_or("n/a".to_owned(), |x| format!("{x:.4}"))
}

fn delta(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{:+.4}", b - a),
        _ => "n/a".to_owned(),
    }
}

const GLOSSARY: [(&str, &str); 13] = [
    ("roc_auc", "ROC-AUC: chance that a random malicious event scores above a random benign one (0.5 = guessing, 1 = perfect)."),
    ("pr_auc", "PR-AUC (average precision): precision averaged over all recall levels; sensitive to the rarity of attacks."),
    ("recall_at_fpr_0_1pct", "Recall at 0.1% FPR: share of malicious events caught if only 1 benign event in 1000 may be flagged."),
    ("recall_at_fpr_1pct", "Recall at 1% FPR: the same with 1 benign event in 100 flagged."),
    ("recall_at_fpr_5pct", "Recall at 5% FPR: the same with 5 benign events in 100 flagged."),
    ("precision_at_threshold", "Precision at the threshold: of the events the model calls malicious, the share that are."),
    ("recall_at_threshold", "Recall at the threshold: of the malicious events, the share the model calls malicious."),
    ("fpr_at_threshold", "FPR at the threshold: of the benign events, the share the model wrongly calls malicious."),
    ("ece", "ECE (expected calibration error): average gap between predicted probability and observed malicious rate (10 bins; 0 = honest probabilities)."),
    ("scenario_recall", "Scenario recall: attack scenarios with at least one alert holding one of their events."),
    ("alerts_per_benign_host_day", "Alerts per benign host-day: alerts on hosts without any attack, per host and day of data (the analyst's noise)."),
    ("alert_precision", "Alert precision: alerts holding at least one malicious event, over all alerts."),
    ("median_time_to_alert_s", "Median time to alert: seconds from a scenario's first event to its first alert (detected scenarios only)."),
];

fn metric_rows(
    names: &[String],
    metrics: &[Vec<(&'static str, Option<f64>)>],
) -> (Vec<String>, Vec<Vec<String>>) {
    let mut head = vec!["metric".to_owned()];
    head.extend(names.iter().cloned());
    for n in names.iter().skip(1) {
        head.push(format!("{n} − {}", names[0]));
    }
    let Some(first) = metrics.first() else {
        return (head, Vec::new());
    };
    let rows = first
        .iter()
        .enumerate()
        .map(|(k, (name, _))| {
            let mut row = vec![(*name).to_owned()];
            row.extend(metrics.iter().map(|m| f(m[k].1)));
            for m in metrics.iter().skip(1) {
                row.push(delta(first[k].1, m[k].1));
            }
            row
        })
        .collect();
    (head, rows)
}

fn slice_table(slices: &BTreeMap<String, ClassMetrics>) -> (Vec<String>, Vec<Vec<String>>) {
    let head = [
        "slice",
        "events",
        "malicious",
        "ROC-AUC",
        "PR-AUC",
        "recall@1%FPR",
        "precision@thr",
        "recall@thr",
        "FPR@thr",
    ]
    .map(str::to_owned)
    .to_vec();
    let rows = slices
        .iter()
        .map(|(k, c)| {
            vec![
                k.clone(),
                c.n.to_string(),
                c.malicious.to_string(),
                f(c.roc_auc),
                f(c.pr_auc),
                f(c.recall_at_fpr_1pct),
                f(c.precision_at_threshold),
                f(c.recall_at_threshold),
                f(c.fpr_at_threshold),
            ]
        })
        .collect();
    (head, rows)
}

fn document(
    eval: &Evaluation,
    figures: &[Rendered],
    gate: Option<&GateOutcome>,
    png_note: Option<&str>,
) -> Vec<Block> {
    let r = &eval.report;
    let d = &r.data;
    let names: Vec<String> = r.models.iter().map(|m| m.name.clone()).collect();
    let mut b = vec![Block::H(1, "lotl evaluation report".into())];
    b.push(Block::P(format!(
        "Created {} by lotl {}. {} model{} evaluated on the same events. Each model is a \
         per-process classifier (it gives every process start a probability of being \
         malicious) plus a per-parent cluster model whose detection rule raises alerts. \
         Event-level metrics judge the classifier; cluster-level metrics judge the alerts \
         an analyst would see. \"n/a\" means the metric cannot be computed on this data \
         (for example, it needs both benign and malicious events).",
        r.created,
        r.lotl_version,
        r.models.len(),
        if r.models.len() == 1 { "" } else { "s" }
    )));
    if let Some(g) = gate {
        b.push(Block::H(2, "Regression gate".into()));
        if g.passed() {
            b.push(Block::P(format!(
                "PASSED: {} baseline metrics compared, none worse than the tolerance {}.",
                g.compared, g.tolerance
            )));
        } else {
            b.push(Block::P(format!(
                "FAILED: {} of {} baseline metrics got worse than the tolerance {} allows.",
                g.regressions.len(),
                g.compared,
                g.tolerance
            )));
            b.push(Block::Pre(g.table()));
        }
    }
    b.push(Block::H(2, "Data".into()));
    b.push(Block::Table(
        vec!["".into(), "".into()],
        vec![
            vec!["source".into(), d.description.clone()],
            vec!["events".into(), d.events.to_string()],
            vec!["benign".into(), d.benign.to_string()],
            vec!["malicious".into(), d.malicious.to_string()],
            vec![
                "unlabelled (scored, not in metrics)".into(),
                d.unlabelled.to_string(),
            ],
            vec!["hosts".into(), d.hosts.to_string()],
            vec!["attack scenarios".into(), d.scenarios.to_string()],
            vec!["ATT&CK techniques".into(), d.techniques.to_string()],
            vec![
                "time range".into(),
                format!(
                    "{} to {}",
                    d.start.as_deref().unwrap_or("-"),
                    d.end.as_deref().unwrap_or("-")
                ),
            ],
        ],
    ));
    b.push(Block::H(2, "Models".into()));
    b.push(Block::Table(
        [
            "model",
            "bundle",
            "experiment",
            "recipe",
            "commit",
            "threshold",
        ]
        .map(str::to_owned)
        .to_vec(),
        r.models
            .iter()
            .map(|m| {
                vec![
                    m.name.clone(),
                    m.bundle.clone(),
                    m.experiment.clone().unwrap_or_default(),
                    m.recipe.clone().unwrap_or_default(),
                    m.git_commit.clone().unwrap_or_default(),
                    format!("{:.4}", m.threshold),
                ]
            })
            .collect(),
    ));
    b.push(Block::H(
        2,
        "Event-level metrics (all labelled events)".into(),
    ));
    let overall: Vec<_> = r.models.iter().map(|m| m.metrics.overall.named()).collect();
    let (h, rows) = metric_rows(&names, &overall);
    b.push(Block::Table(h, rows));
    let conf: Vec<Vec<String>> = r
        .models
        .iter()
        .map(|m| {
            let c = &m.metrics.overall.confusion;
            vec![
                m.name.clone(),
                c.tp.to_string(),
                c.fn_.to_string(),
                c.fp.to_string(),
                c.tn.to_string(),
            ]
        })
        .collect();
    b.push(Block::P(
        "Confusion matrix at each model's threshold:".into(),
    ));
    b.push(Block::Table(
        [
            "model",
            "malicious caught (TP)",
            "malicious missed (FN)",
            "benign flagged (FP)",
            "benign passed (TN)",
        ]
        .map(str::to_owned)
        .to_vec(),
        conf,
    ));
    b.push(Block::H(2, "Detection (cluster level)".into()));
    let with_cluster: Vec<_> = r.models.iter().filter(|m| m.cluster.is_some()).collect();
    for m in r.models.iter().filter(|m| m.cluster.is_none()) {
        b.push(Block::P(format!(
            "{}: not available ({}).",
            m.name,
            m.cluster_note.as_deref().unwrap_or("no cluster model")
        )));
    }
    if !with_cluster.is_empty() {
        let cn: Vec<String> = with_cluster.iter().map(|m| m.name.clone()).collect();
        let mut rows_m: Vec<Vec<(&'static str, Option<f64>)>> = Vec::new();
        for m in &with_cluster {
            if let Some(c) = &m.cluster {
                let mut v = c.named();
                v.push(("alerts", Some(c.alerts as f64)));
                v.push(("scenarios_alerted", Some(c.scenarios_alerted as f64)));
                v.push(("scenarios", Some(c.scenarios as f64)));
                v.push(("benign_host_days", Some(c.benign_host_days as f64)));
                v.push(("mean_time_to_alert_s", c.time_to_alert.mean_s));
                v.push(("max_time_to_alert_s", c.time_to_alert.max_s));
                rows_m.push(v);
            }
        }
        let (h, rows) = metric_rows(&cn, &rows_m);
        b.push(Block::Table(h, rows));
    }
    b.push(Block::H(2, "Plots".into()));
    if let Some(n) = png_note {
        b.push(Block::P(format!("PNG files: {n}.")));
    }
    if figures.is_empty() {
        b.push(Block::P(
            "No plots: the data has no labelled events.".into(),
        ));
    }
    let captions = |name: &str| -> String {
        match name {
            "roc" => "ROC: recall against false-positive rate on a log axis; the dotted verticals are the 0.1%, 1% and 5% budgets. Up and left is better.".into(),
            "pr" => "Precision-recall: how precise the alerts stay as more malicious events are caught. Up and right is better.".into(),
            "calibration" => "Calibration: dots on the diagonal mean a probability of 0.8 really is malicious 80% of the time.".into(),
            "technique_recall" => "Share of each ATT&CK technique's malicious events the model flags at its threshold.".into(),
            n if n.starts_with("scores_") => "Score distribution per class; good models push benign left and malicious right of the threshold line.".into(),
            n if n.starts_with("timeline_") => "Alerts per host over time (red: the alert holds malicious events; blue: benign-only); red ticks mark attack scenario starts.".into(),
            _ => String::new(),
        }
    };
    for (i, fig) in figures.iter().enumerate() {
        b.push(Block::Figure(i, captions(&fig.name)));
    }
    for m in &r.models {
        b.push(Block::H(2, format!("Breakdown: {}", m.name)));
        for (title, slices, note) in [
            ("Per source", &m.metrics.per_source, "events of each sensor"),
            (
                "Per ATT&CK technique",
                &m.metrics.per_technique,
                "malicious events of the technique against all benign events",
            ),
            (
                "Per benign family",
                &m.metrics.per_family,
                "benign events of the family against all malicious events; watch FPR@thr",
            ),
        ] {
            b.push(Block::H(3, format!("{title} ({note})")));
            if slices.is_empty() {
                b.push(Block::P("none in this data".into()));
            } else {
                let (h, rows) = slice_table(slices);
                b.push(Block::Table(h, rows));
            }
        }
    }
    b.push(Block::H(2, "How to read the metrics".into()));
    b.push(Block::Table(
        vec!["metric".into(), "meaning".into()],
        GLOSSARY
            .iter()
            .map(|(k, v)| vec![(*k).to_owned(), (*v).to_owned()])
            .collect(),
    ));
    b.push(Block::P(
        "Machine-readable numbers: metrics.json. baseline.json holds the metrics the CI \
         gate compares (`lotl eval ... --baseline baseline.json`)."
            .into(),
    ));
    b
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// `report.md` (plots linked as files next to it).
pub fn markdown(
    eval: &Evaluation,
    figures: &[Rendered],
    gate: Option<&GateOutcome>,
    png_note: Option<&str>,
) -> String {
    let mut s = String::new();
    for block in document(eval, figures, gate, png_note) {
        match block {
            Block::H(l, t) => {
                s.push_str(&format!("{} {}\n\n", "#".repeat(l as usize), t));
            }
            Block::P(t) => s.push_str(&format!("{t}\n\n")),
            Block::Pre(t) => s.push_str(&format!("```\n{t}```\n\n")),
            Block::Table(h, rows) => {
                s.push_str(&format!(
                    "| {} |\n|{}\n",
                    h.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | "),
                    "---|".repeat(h.len())
                ));
                for r in rows {
                    s.push_str(&format!(
                        "| {} |\n",
                        r.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | ")
                    ));
                }
                s.push('\n');
            }
            Block::Figure(i, cap) => {
                let fig = &figures[i];
                let file = fig
                    .png_path
                    .as_ref()
                    .unwrap_or(&fig.svg_path)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                s.push_str(&format!("![{}]({file})\n\n{cap}\n\n", fig.name));
            }
        }
    }
    s
}

pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

/// Inline SVG without its XML prolog (not allowed inside HTML).
fn inline_svg(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

const CSS: &str =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;\
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}table{border-collapse:collapse;\
margin:0.6em 0 1.2em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
td:first-child,th:first-child{text-align:left}th{background:#f2f2f2}\
pre{background:#fff3f3;border:1px solid #e0a0a0;padding:8px;overflow-x:auto}\
figure{margin:1em 0}figcaption{color:#555;font-size:0.92em}svg{max-width:100%;height:auto}";

/// `report.html`: one file, no external resources (styles and SVGs inline).
pub fn html(
    eval: &Evaluation,
    figures: &[Rendered],
    gate: Option<&GateOutcome>,
    png_note: Option<&str>,
) -> String {
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>lotl evaluation report</title><style>{CSS}</style></head><body>\n"
    );
    for block in document(eval, figures, gate, png_note) {
        match block {
            Block::H(l, t) => s.push_str(&format!("<h{l}>{}</h{l}>\n", escape(&t))),
            Block::P(t) => s.push_str(&format!("<p>{}</p>\n", escape(&t))),
            Block::Pre(t) => s.push_str(&format!("<pre>{}</pre>\n", escape(&t))),
            Block::Table(h, rows) => {
                s.push_str("<table>");
                if h.iter().any(|c| !c.is_empty()) {
                    s.push_str("<tr>");
                    for c in &h {
                        s.push_str(&format!("<th>{}</th>", escape(c)));
                    }
                    s.push_str("</tr>");
                }
                for r in rows {
                    s.push_str("<tr>");
                    for c in &r {
                        s.push_str(&format!("<td>{}</td>", escape(c)));
                    }
                    s.push_str("</tr>");
                }
                s.push_str("</table>\n");
            }
            Block::Figure(i, cap) => {
                s.push_str(&format!(
                    "<figure>{}<figcaption>{}</figcaption></figure>\n",
                    inline_svg(&figures[i].svg),
                    escape(&cap)
                ));
            }
        }
    }
    s.push_str("</body></html>\n");
    s
}

/// A compact plain-text table of the headline metrics, for the terminal.
pub fn summary_text(report: &crate::Report) -> String {
    let names: Vec<String> = report.models.iter().map(|m| m.name.clone()).collect();
    let mut rows: Vec<Vec<(&'static str, Option<f64>)>> = report
        .models
        .iter()
        .map(|m| m.metrics.overall.named())
        .collect();
    for (r, m) in rows.iter_mut().zip(&report.models) {
        let c = m.cluster.as_ref();
        r.push(("scenario_recall", c.and_then(|c| c.scenario_recall)));
        r.push((
            "alerts_per_benign_host_day",
            c.and_then(|c| c.alerts_per_benign_host_day),
        ));
        r.push((
            "median_time_to_alert_s",
            c.and_then(|c| c.time_to_alert.median_s),
        ));
    }
    let (head, body) = metric_rows(&names, &rows);
    let widths: Vec<usize> = (0..head.len())
        .map(|k| {
            body.iter()
                .map(|r| r[k].chars().count())
                .chain([head[k].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (k, c) in cells.iter().enumerate() {
            let pad = widths[k].saturating_sub(c.chars().count());
            if k == 0 {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str("  ");
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            }
        }
        s.push('\n');
        s
    };
    let mut s = line(&head);
    for r in &body {
        s.push_str(&line(r));
    }
    s
}
