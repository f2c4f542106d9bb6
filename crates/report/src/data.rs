//! The labelled events an evaluation runs on: a lotl Parquet file (from `lotl synth` or
//! `lotl dataset build`), anything `lotl ingest` reads, or a split manifest (the `test` side
//! of a `lotl dataset split` directory, or one side's JSON file).

use crate::error::{Error, Result};
use lotl_datasets::split::Manifest;
use lotl_events::{ProcessEvent, ReadOptions};
use std::path::{Path, PathBuf};

/// Events plus a one-line description of where they came from (printed in the report).
#[derive(Debug, Clone)]
pub struct Data {
    pub events: Vec<ProcessEvent>,
    pub description: String,
}

fn read_events(path: &Path) -> Result<Vec<ProcessEvent>> {
    let is_parquet = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    if is_parquet {
        Ok(lotl_events::parquet::read_parquet(path)?)
    } else {
        Ok(lotl_events::read_paths(&[path.to_owned()], &ReadOptions::default())?.events)
    }
}

/// A manifest's input as written (relative to where `lotl dataset split` ran), or else
/// relative to the manifest's directory.
fn resolve_input(input: &str, manifest: &Path) -> Result<PathBuf> {
    let p = PathBuf::from(input);
    if p.exists() {
        return Ok(p);
    }
    if let Some(dir) = manifest.parent() {
        let q = dir.join(&p);
        if q.exists() {
            return Ok(q);
        }
    }
    Err(Error::Data {
        path: manifest.to_owned(),
        message: format!(
            "input `{input}` not found (relative to the working directory or the manifest)"
        ),
    })
}

fn load_manifest(path: &Path) -> Result<Data> {
    let m = Manifest::load(path)?;
    if m.inputs.is_empty() {
        return Err(Error::Data {
            path: path.to_owned(),
            message: "the manifest lists no input files (split made inside `lotl train`?); \
                      pass the labelled Parquet file instead"
                .into(),
        });
    }
    let mut events = Vec::new();
    for input in &m.inputs {
        events.extend(read_events(&resolve_input(input, path)?)?);
    }
    let events = m.select(events);
    Ok(Data {
        description: format!(
            "`{}` side of split manifest {} (by {:?}, seed {}; inputs: {})",
            m.split.as_str(),
            path.display(),
            m.by,
            m.seed,
            m.inputs.join(", ")
        ),
        events,
    })
}

/// Load labelled events from `path` (see the module documentation).
pub fn load(path: &Path) -> Result<Data> {
    if path.is_dir() && path.join("test.json").is_file() {
        return load_manifest(&path.join("test.json"));
    }
    let is_json = path.extension().is_some_and(|e| e == "json");
    if is_json && path.is_file() {
        let text = std::fs::read_to_string(path).map_err(crate::error::io(path))?;
        if text.contains("\"groups\"") && text.contains("\"split\"") {
            return load_manifest(path);
        }
    }
    let events = read_events(path)?;
    Ok(Data {
        description: format!("{}", path.display()),
        events,
    })
}
