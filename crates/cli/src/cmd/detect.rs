//! `lotl detect`: replay scored events through the rule as scheduled executions.

use crate::args::{DetectArgs, RuleFlags};
use anyhow::Context;
use lotl_cluster::{read_events_file_in_slices, ClusterModel, EventsFile};
use lotl_events::read::ReadOptions;
use lotl_export::Bundle;
use lotl_scorer::{
    score_into, score_paths_into, summary_table, Engine, Exceptions, Explain, ReplayInput,
    RuleConfig,
};
use std::io::Write;
use std::process::ExitCode;

pub fn run(a: DetectArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let mut model = load_bundle_model(&a.bundle)?;
    let rule = rule_config(&a.rule)?;
    let from = a.from.as_deref().map(parse_time).transpose()?;
    let to = a.to.as_deref().map(parse_time).transpose()?;
    let mut input = ReplayInput::new(&model, from, to);
    read_inputs(&a.bundle, &a.inputs, &mut input)?;
    if input.is_empty() {
        anyhow::bail!(
            "no process-start events in the given inputs{}; nothing to detect",
            if from.is_some() || to.is_some() {
                " between --from and --to"
            } else {
                ""
            }
        );
    }
    if let Some(first) = input.first_ms() {
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
    let (alerts, pushed) = input.run(&mut engine)?;
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
const ALERT_EXPLAIN: Explain = Explain::Flagged(3);

/// Scored Parquet files are taken as scored; every other input (unscored Parquet, or any
/// format `lotl ingest` reads) is scored here with the bundle's classifier, a chunk at a
/// time, only the events inside the replay's window.
fn read_inputs(
    bundle_dir: &std::path::Path,
    inputs: &[std::path::PathBuf],
    input: &mut ReplayInput,
) -> anyhow::Result<()> {
    let mut bundle: Option<Bundle> = None;
    let mut raw_paths = Vec::new();
    let spinner = super::spinner("reading and scoring events");
    for p in inputs {
        if !(p.is_file() && lotl_scorer::is_parquet(p)?) {
            raw_paths.push(p.clone());
            continue;
        }
        read_events_file_in_slices(
            p,
            lotl_scorer::SCORE_CHUNK,
            &mut |slice| -> anyhow::Result<()> {
                match slice {
                    EventsFile::Scored(v) => v.drain(..).for_each(|e| input.push(e)),
                    EventsFile::Unscored(v) => {
                        score_into(loaded(&mut bundle, bundle_dir)?, v, ALERT_EXPLAIN, input)
                    }
                }
                Ok(())
            },
        )?;
    }
    if !raw_paths.is_empty() {
        let b = loaded(&mut bundle, bundle_dir)?;
        let stats = score_paths_into(b, &raw_paths, &ReadOptions::default(), ALERT_EXPLAIN, input)?;
        let skipped = stats
            .by_format
            .values()
            .map(|s| s.skipped_total())
            .sum::<u64>();
        if skipped > 0 {
            eprintln!("note: {skipped} input records were not process starts or could not be read (`lotl ingest` shows why)");
        }
    }
    spinner.finish_and_clear();
    Ok(())
}

/// The bundle, loaded the first time events need scoring.
fn loaded<'b>(bundle: &'b mut Option<Bundle>, dir: &std::path::Path) -> anyhow::Result<&'b Bundle> {
    if bundle.is_none() {
        *bundle = Some(Bundle::load(dir)?);
    }
    bundle.as_ref().context("the bundle was loaded just above")
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
