use crate::args::{DatasetBuildArgs, DatasetCommand, DatasetSplitArgs};
use anyhow::Context;
use lotl_datasets::label::label_events;
use lotl_datasets::split::{plan, write_manifests, GroupBy, Ratios};
use lotl_events::read::ReadOptions;
use lotl_events::Label;
use std::collections::BTreeSet;
use std::process::ExitCode;

pub fn run(c: DatasetCommand) -> anyhow::Result<ExitCode> {
    match c {
        DatasetCommand::Build(a) => build(a),
        DatasetCommand::Split(a) => split(a),
    }
}

fn build(a: DatasetBuildArgs) -> anyhow::Result<ExitCode> {
    let outcome = lotl_events::read_paths(&a.paths, &ReadOptions::default())?;
    let mut events = outcome.events;
    if events.is_empty() {
        eprintln!("error: no process-start events under the given paths; nothing written");
        return Ok(ExitCode::from(1));
    }
    let stats = label_events(&mut events);
    lotl_events::parquet::write_parquet(&a.output, &events)
        .with_context(|| format!("writing {}", a.output.display()))?;
    let sources: BTreeSet<&String> = stats.per_source.keys().map(|(s, _)| s).collect();
    println!(
        "{:<24} {:>8} {:>10} {:>8} {:>8}",
        "source", "benign", "malicious", "unknown", "total"
    );
    for s in sources {
        let n = |l: Label| stats.per_source.get(&(s.clone(), l)).copied().unwrap_or(0);
        let (b, m, u) = (n(Label::Benign), n(Label::Malicious), n(Label::Unknown));
        println!("{s:<24} {b:>8} {m:>10} {u:>8} {:>8}", b + m + u);
    }
    let (b, m, u) = (
        stats.total(Label::Benign),
        stats.total(Label::Malicious),
        stats.total(Label::Unknown),
    );
    println!("{:<24} {b:>8} {m:>10} {u:>8} {:>8}", "all", b + m + u);
    if !stats.files_without_root.is_empty() {
        println!(
            "attack files where no attack process was found ({}):",
            stats.files_without_root.len()
        );
        for f in &stats.files_without_root {
            println!("  {f}");
        }
    }
    println!(
        "wrote {} labelled events to {}",
        events.len(),
        a.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn split(a: DatasetSplitArgs) -> anyhow::Result<ExitCode> {
    let by = GroupBy::parse(&a.by)
        .with_context(|| format!("--by {:?}: expected host, scenario or file", a.by))?;
    let ratios = Ratios::parse(&a.ratios)?;
    let mut events = Vec::new();
    for p in &a.inputs {
        events.extend(
            lotl_events::parquet::read_parquet(p)
                .with_context(|| format!("reading {}", p.display()))?,
        );
    }
    let inputs: Vec<String> = a.inputs.iter().map(|p| p.display().to_string()).collect();
    let ms = plan(&events, by, ratios, a.seed, &inputs);
    let paths = write_manifests(&a.output, &ms)?;
    println!(
        "{:<11} {:>7} {:>9} {:>8} {:>10} {:>8}",
        "split", "groups", "events", "benign", "malicious", "unknown"
    );
    for m in &ms {
        let c = &m.counts;
        println!(
            "{:<11} {:>7} {:>9} {:>8} {:>10} {:>8}",
            m.split.as_str(),
            c.groups,
            c.events,
            c.benign,
            c.malicious,
            c.unknown
        );
    }
    for p in paths {
        println!("wrote {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}
