use crate::args::IngestArgs;
use lotl_events::read::{self, CsvMapping, ReadOptions};
use std::process::ExitCode;

pub fn run(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let csv_mapping = args
        .csv_mapping
        .as_deref()
        .map(CsvMapping::from_file)
        .transpose()?;
    let opts = ReadOptions {
        strict: args.strict,
        quarantine: args.quarantine.clone(),
        csv_mapping,
        evtx_threads: 0,
    };
    let total = read::total_input_bytes(&args.paths)?;
    let bar = super::progress_bytes(total, "reading");
    let (stats, written) =
        lotl_events::parquet::ingest(&args.paths, &opts, &args.output, &mut |done| {
            bar.set_position(done)
        })?;
    bar.finish_and_clear();
    print_summary(&stats);
    if written == 0 {
        eprintln!(
            "error: no process-start events could be read from the given paths; nothing written"
        );
        return Ok(ExitCode::from(1));
    }
    println!("wrote {written} events to {}", args.output.display());
    if let Some(q) = &args.quarantine {
        println!("rejected records: {}", q.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(stats: &lotl_events::ReadStats) {
    println!(
        "{:<12} {:>6} {:>9} {:>9} {:>9}  skipped by reason",
        "format", "files", "records", "kept", "skipped"
    );
    for (format, s) in &stats.by_format {
        let reasons: Vec<String> = s.skipped.iter().map(|(r, n)| format!("{r}: {n}")).collect();
        println!(
            "{:<12} {:>6} {:>9} {:>9} {:>9}  {}",
            format.as_str(),
            s.files,
            s.records,
            s.kept,
            s.skipped_total(),
            reasons.join(", ")
        );
        if s.truncated > 0 || s.repaired_utf8 > 0 {
            println!(
                "{:<12} kept with fields cut to {} chars: {}; with invalid UTF-8 replaced: {}",
                "",
                read::MAX_FIELD_CHARS,
                s.truncated,
                s.repaired_utf8
            );
        }
    }
    if !stats.kept_by_source.is_empty() {
        let by: Vec<String> = stats
            .kept_by_source
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        println!("kept by source: {}", by.join(", "));
    }
    if !stats.unknown_files.is_empty() {
        println!(
            "files with no recognisable events ({}):",
            stats.unknown_files.len()
        );
        for f in stats.unknown_files.iter().take(10) {
            println!("  {f}");
        }
    }
}
