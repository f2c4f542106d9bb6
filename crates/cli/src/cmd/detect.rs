//! `lotl detect`: replay scored events through the rule as scheduled executions.

use super::predict::{score_events, Explain};
use crate::args::{DetectArgs, RuleFlags};
use anyhow::Context;
use lotl_cluster::{read_events_file, ClusterModel, EventsFile, ScoredEvent};
use lotl_events::read::ReadOptions;
use lotl_scorer::{summary_table, Engine, Exceptions, RuleConfig};
use std::io::Write;
use std::process::ExitCode;

pub fn run(a: DetectArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let model = load_bundle_model(&a.bundle)?;
    let rule = rule_config(&a.rule)?;
    let from = a.from.as_deref().map(parse_time).transpose()?;
    let to = a.to.as_deref().map(parse_time).transpose()?;
    let events = read_inputs(&a.bundle, &a.inputs, from, to)?;
    let mut model = model;
    let first = events
        .iter()
        .map(|e| e.event.timestamp_ms)
        .filter(|&t| from.is_none_or(|f| t >= f) && to.is_none_or(|x| t < x))
        .min();
    if let Some(first) = first {
        let last = model.last_bucket_ms();
        let weeks = model.rewind_before(first);
        if weeks > 0 {
            eprintln!(
                "note: the cluster model learned up to {} and these events start at {}; its history was moved back {weeks} week(s) for this replay (what it learned is unchanged)",
                fmt_ms(last.unwrap_or(first)),
                fmt_ms(first)
            );
        }
    }
    let mut engine = Engine::new(model, rule)?;
    let (alerts, pushed) = lotl_scorer::replay(&mut engine, &events, from, to)?;
    write_alerts(&a.output, &alerts)?;
    print!("{}", summary_table(&alerts));
    let s = engine.stats();
    println!(
        "{pushed} events, {} through the datafeed ({} late), {} buckets scored, {} executions, {} suppressed by exceptions, {:.1}s",
        s.accepted,
        s.late,
        s.buckets_scored,
        s.executions,
        s.suppressed,
        started.elapsed().as_secs_f64()
    );
    println!("wrote {}", a.output.display());
    Ok(ExitCode::SUCCESS)
}

/// Alerts list each child's top contributing features: as many as the demo shows.
const ALERT_EXPLAIN: usize = 3;

/// Scored Parquet files are taken as scored; every other input (unscored Parquet, or any
/// format `lotl ingest` reads) is scored here with the bundle's classifier, only the events
/// inside `[from, to)`.
fn read_inputs(
    bundle: &std::path::Path,
    inputs: &[std::path::PathBuf],
    from: Option<i64>,
    to: Option<i64>,
) -> anyhow::Result<Vec<ScoredEvent>> {
    let mut scored = Vec::new();
    let mut unscored = Vec::new();
    let mut raw_paths = Vec::new();
    for p in inputs {
        if p.is_file() && is_parquet(p)? {
            match read_events_file(p)? {
                EventsFile::Scored(mut v) => scored.append(&mut v),
                EventsFile::Unscored(mut v) => unscored.append(&mut v),
            }
        } else {
            raw_paths.push(p.clone());
        }
    }
    if !raw_paths.is_empty() {
        let spinner = super::spinner("reading events");
        let outcome = lotl_events::read_paths(&raw_paths, &ReadOptions::default())?;
        spinner.finish_and_clear();
        let skipped = outcome
            .stats
            .by_format
            .values()
            .map(|s| s.skipped_total())
            .sum::<u64>();
        if skipped > 0 {
            eprintln!("note: {skipped} input records were not process starts or could not be read (`lotl ingest` shows why)");
        }
        unscored.extend(outcome.events);
    }
    unscored.retain(|e| {
        from.is_none_or(|f| e.timestamp_ms >= f) && to.is_none_or(|t| e.timestamp_ms < t)
    });
    if !unscored.is_empty() {
        let model = lotl_export::Bundle::load(bundle)?;
        let spinner = super::spinner(&format!("scoring {} events", unscored.len()));
        scored.extend(score_events(
            &model,
            unscored,
            Explain::Flagged(ALERT_EXPLAIN),
        ));
        spinner.finish_and_clear();
    }
    if scored.is_empty() {
        anyhow::bail!(
            "no process-start events in the given inputs{}; nothing to detect",
            if from.is_some() || to.is_some() {
                " between --from and --to"
            } else {
                ""
            }
        );
    }
    Ok(scored)
}

fn is_parquet(path: &std::path::Path) -> anyhow::Result<bool> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let n = f
        .read(&mut magic)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(n == 4 && &magic == b"PAR1")
}

pub fn load_bundle_model(bundle: &std::path::Path) -> anyhow::Result<ClusterModel> {
    // A full bundle is checked file by file, as `Bundle::load` does, so an altered cluster
    // model is refused rather than scored with.
    if bundle.join("manifest.json").is_file() {
        let manifest = lotl_export::Bundle::read_manifest(bundle)?;
        lotl_export::Bundle::verify(bundle, &manifest)?;
    }
    let p = bundle.join(super::cluster::CLUSTER_FILE);
    ClusterModel::load(&p).with_context(|| {
        format!(
            "no cluster model in {} (run `lotl fit-cluster {} --history scored.parquet`)",
            bundle.display(),
            bundle.display()
        )
    })
}

/// The rule settings: file, then flags on top.
pub fn rule_config(f: &RuleFlags) -> anyhow::Result<RuleConfig> {
    let mut rule = match &f.rule {
        Some(p) => RuleConfig::from_file(p)?,
        None => RuleConfig::default(),
    };
    if let Some(p) = &f.exceptions {
        rule.exceptions.extend(Exceptions::from_file(p)?);
    }
    if let Some(j) = &f.jobs {
        rule.jobs = j
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
    }
    if let Some(t) = f.threshold {
        rule.anomaly_threshold = t;
    }
    if f.no_learn {
        rule.learn = false;
    }
    Ok(rule)
}

fn fmt_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

/// RFC 3339 (`2026-01-05T10:00:00Z`), a date (`2026-01-05`, midnight UTC) or epoch ms.
pub fn parse_time(s: &str) -> anyhow::Result<i64> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    anyhow::bail!("`{s}`: expected RFC 3339 time, YYYY-MM-DD or epoch milliseconds")
}

/// Write alerts as NDJSON, atomically (temp file, sync, rename).
pub(crate) fn write_alerts(
    path: &std::path::Path,
    alerts: &[lotl_scorer::Alert],
) -> anyhow::Result<()> {
    let tmp = path.with_extension("ndjson.tmp");
    {
        let f =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut w = std::io::BufWriter::new(f);
        for al in alerts {
            serde_json::to_writer(&mut w, al)?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
        w.get_ref().sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
