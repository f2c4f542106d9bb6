//! `lotl watch`: score a live stream of scored NDJSON, persisting state so that a restart
//! neither drops nor repeats an alert.
//!
//! Exactly-once protocol: alerts are appended to the output and synced before the state
//! (with the input position after the record that raised them and the output length) is
//! saved atomically. On restart the output is truncated to the saved length and input
//! resumes at the saved position, so alerts written after the last save are regenerated
//! identically instead of being duplicated.

use crate::args::WatchArgs;
use anyhow::Context;
use lotl_cluster::parse_scored_line;
use lotl_scorer::{summary_table, Alert, Engine};
use std::io::{BufRead, Seek, SeekFrom, Write};
use std::process::ExitCode;

enum Output {
    Stdout(std::io::Stdout),
    File(std::fs::File),
}

impl Output {
    fn write_alerts(&mut self, alerts: &[Alert]) -> anyhow::Result<u64> {
        let mut buf = Vec::new();
        for a in alerts {
            serde_json::to_writer(&mut buf, a)?;
            buf.push(b'\n');
        }
        match self {
            Output::Stdout(s) => {
                s.write_all(&buf)?;
                s.flush()?;
            }
            Output::File(f) => {
                f.write_all(&buf)?;
                f.sync_data()?;
            }
        }
        Ok(buf.len() as u64)
    }
}

pub fn run(a: WatchArgs) -> anyhow::Result<ExitCode> {
    let rule = super::detect::rule_config(&a.rule)?;
    let mut engine = match &a.state {
        Some(p) if p.exists() => {
            let mut e = Engine::load(p)?;
            if a.rule.exceptions.is_some() {
                e.set_exceptions(rule.exceptions.clone())?;
            }
            eprintln!(
                "resuming from {} (line {}, {} alerts so far)",
                p.display(),
                e.checkpoint().input_lines,
                e.stats().alerts
            );
            e
        }
        _ => Engine::new(super::detect::load_bundle_model(&a.bundle)?, rule)?,
    };
    if a.state.is_none() {
        eprintln!("note: no --state: a restart will start from scratch");
    }
    let mut out = match &a.output {
        Some(p) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(p)
                .with_context(|| format!("opening {}", p.display()))?;
            // Drop alerts written after the last saved state: they will be raised again.
            f.set_len(engine.checkpoint().output_len)
                .with_context(|| format!("truncating {}", p.display()))?;
            let mut f = f;
            f.seek(SeekFrom::End(0))?;
            Output::File(f)
        }
        None => Output::Stdout(std::io::stdout()),
    };

    let stdin = a.input.as_os_str() == "-";
    let mut reader: Box<dyn BufRead> = if stdin {
        Box::new(std::io::BufReader::with_capacity(1 << 20, std::io::stdin()))
    } else {
        let mut f = std::fs::File::open(&a.input)
            .with_context(|| format!("opening {}", a.input.display()))?;
        f.seek(SeekFrom::Start(engine.checkpoint().input_offset))?;
        Box::new(std::io::BufReader::with_capacity(1 << 20, f))
    };
    let input_name = a.input.display().to_string();
    let mut line = Vec::new();
    if stdin {
        // A pipe cannot seek: skip the lines the saved state has already seen.
        for _ in 0..engine.checkpoint().input_lines {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                break;
            }
        }
    }

    let save = |engine: &Engine| -> anyhow::Result<()> {
        if let Some(p) = &a.state {
            engine.save(p)?;
        }
        Ok(())
    };
    let mut since_save = 0u64;
    let mut bad = 0u64;
    let mut all_alerts = Vec::new();
    line.clear();
    loop {
        reader.read_until(b'\n', &mut line)?;
        if line.last() != Some(&b'\n') {
            // End of what is there, or a line still being written: its bytes stay in
            // `line` and the next read completes it; the checkpoint stays before it.
            if since_save > 0 {
                save(&engine)?;
                since_save = 0;
            }
            if a.once || stdin {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(a.poll_ms));
            continue;
        }
        {
            let cp = engine.checkpoint_mut();
            cp.input_offset += line.len() as u64;
            cp.input_lines += 1;
        }
        since_save += 1;
        let text = String::from_utf8_lossy(&line).trim().to_owned();
        line.clear();
        if text.is_empty() {
            continue;
        }
        let event = match parse_scored_line(&text) {
            Ok(e) => e,
            Err(e) => {
                bad += 1;
                if bad <= 10 {
                    eprintln!(
                        "{input_name}: line {}: skipped: {e}",
                        engine.checkpoint().input_lines
                    );
                }
                continue;
            }
        };
        let alerts = engine.push(&event)?;
        if !alerts.is_empty() {
            emit(&mut out, &mut engine, &alerts)?;
            save(&engine)?;
            since_save = 0;
            all_alerts.extend(alerts);
        } else if since_save >= a.checkpoint_every {
            save(&engine)?;
            since_save = 0;
        }
    }
    if a.flush {
        let alerts = engine.finish()?;
        if !alerts.is_empty() {
            emit(&mut out, &mut engine, &alerts)?;
            all_alerts.extend(alerts);
        }
        save(&engine)?;
    }
    let s = engine.stats();
    eprint!("{}", summary_table(&all_alerts));
    eprintln!(
        "{} events in total, {} through the datafeed ({} late), {} executions, {} alerts in total, {bad} unreadable lines skipped",
        s.events, s.accepted, s.late, s.executions, s.alerts
    );
    Ok(ExitCode::SUCCESS)
}

fn emit(out: &mut Output, engine: &mut Engine, alerts: &[Alert]) -> anyhow::Result<()> {
    let written = out.write_alerts(alerts)?;
    engine.checkpoint_mut().output_len += written;
    for al in alerts {
        eprintln!(
            "ALERT {} {} `{}` score {:.0} ({} children)",
            al.anomaly.timestamp,
            al.anomaly.job_id,
            al.anomaly.by_field_value,
            al.anomaly.record_score,
            al.cluster.size
        );
    }
    Ok(())
}
