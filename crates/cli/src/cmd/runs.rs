//! `lotl runs list|show|compare`: read the local run store.

use crate::args::{RunsCommand, RunsCompareArgs, RunsListArgs, RunsShowArgs};
use lotl_track::report::{render_list, render_run, Comparison};
use lotl_track::LocalStore;
use std::path::PathBuf;
use std::process::ExitCode;

pub fn run(c: RunsCommand) -> anyhow::Result<ExitCode> {
    match c {
        RunsCommand::List(a) => list(a),
        RunsCommand::Show(a) => show(a),
        RunsCommand::Compare(a) => compare(a),
    }
}

fn store(dir: Option<PathBuf>) -> LocalStore {
    LocalStore::new(dir.unwrap_or_else(|| PathBuf::from(lotl_track::local::DEFAULT_DIR)))
}

fn list(a: RunsListArgs) -> anyhow::Result<ExitCode> {
    let store = store(a.tracking_dir);
    let mut runs = store.list()?;
    if let Some(e) = &a.experiment {
        runs.retain(|r| &r.experiment == e);
    }
    if runs.is_empty() {
        eprintln!("no runs in {}", store.root().display());
        return Ok(ExitCode::SUCCESS);
    }
    emit(&render_list(&runs))?;
    Ok(ExitCode::SUCCESS)
}

fn show(a: RunsShowArgs) -> anyhow::Result<ExitCode> {
    let rec = store(a.tracking_dir).load(&a.run)?;
    if a.json {
        let last = rec.last_metrics();
        let v = serde_json::json!({
            "meta": rec.meta,
            "params": rec.params,
            "last_metrics": last,
            "artifacts": rec.artifacts,
            "dir": rec.dir,
        });
        emit(&(serde_json::to_string_pretty(&v)? + "\n"))?;
    } else {
        emit(&render_run(&rec))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn compare(a: RunsCompareArgs) -> anyhow::Result<ExitCode> {
    let store = store(a.tracking_dir);
    let ra = store.load(&a.a)?;
    let rb = store.load(&a.b)?;
    emit(&Comparison::new(&ra, &rb).render())?;
    Ok(ExitCode::SUCCESS)
}

/// Writes to stdout; a closed pipe (`lotl runs list | head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}
