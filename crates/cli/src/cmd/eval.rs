//! `lotl eval`: evaluation report of one or more bundles, optionally gated by a baseline.

use crate::args::EvalArgs;
use anyhow::Context;
use lotl_report::gate::{compare, Baseline, TOLERANCE_NOTE};
use lotl_report::WriteOptions;
use std::process::ExitCode;

pub fn run(a: EvalArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let tags = lotl_track::source_tags(env!("CARGO_PKG_VERSION"), env!("LOTL_GIT_COMMIT"));
    let run_name = a
        .bundles
        .iter()
        .map(|b| b.file_name().unwrap_or(b.as_os_str()).to_string_lossy())
        .collect::<Vec<_>>()
        .join(" vs ");
    let mut run = lotl_track::start_run(&a.tracking.config(), "lotl-eval", &run_name, &tags)?;
    run.log_param("tolerance", a.tolerance);
    if let Some(b) = &a.baseline {
        run.log_param("baseline", b.display());
    }
    if let Some(r) = &a.rule {
        run.log_param("rule", r.display());
    }
    // Read the baseline first: a wrong file should fail before minutes of scoring.
    let baseline = a.baseline.as_deref().map(Baseline::load).transpose()?;
    let data = lotl_report::data::load(&a.data)?;
    let bundles = a
        .bundles
        .iter()
        .map(|b| {
            lotl_export::Bundle::load(b).with_context(|| format!("loading bundle {}", b.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let rule = match &a.rule {
        Some(p) => lotl_scorer::RuleConfig::from_file(p)?,
        None => lotl_scorer::RuleConfig::default(),
    };
    let eval = lotl_report::evaluate(&bundles, data, &rule)?;
    let gate = match (&baseline, &a.baseline) {
        (Some(b), Some(p)) => Some(compare(b, p, &eval.report, a.tolerance)?),
        _ => None,
    };
    let opts = WriteOptions {
        font: a.font.clone(),
        no_png: a.no_png,
    };
    let written = lotl_report::write_report(&eval, &a.output, &opts, gate.as_ref())?;
    super::tracking::log_evaluation(&mut run, &a.bundles, &a.data, &eval.report, &a.output);
    if let Some(g) = &gate {
        run.log_metric("gate_passed", f64::from(u8::from(g.passed())), 0);
        run.log_metric("gate_regressions", g.regressions.len() as f64, 0);
    }
    let run_id = run.id().to_owned();
    super::tracking::finish(run);
    for m in &eval.report.models {
        if let Some(note) = &m.cluster_note {
            eprintln!("note: {}: no cluster-level metrics: {note}", m.name);
        }
    }
    let d = &eval.report.data;
    println!(
        "{} events ({} benign, {} malicious, {} unlabelled) from {}",
        d.events, d.benign, d.malicious, d.unlabelled, d.description
    );
    print!("{}", lotl_report::render::summary_text(&eval.report));
    match &written.png {
        Ok(font) => println!("PNG text font: {}", font.display()),
        Err(why) if !a.no_png => eprintln!("note: {why}"),
        Err(_) => {}
    }
    println!(
        "wrote {} files to {} in {:.1}s (open {})",
        written.files.len(),
        a.output.display(),
        started.elapsed().as_secs_f64(),
        a.output.join("report.html").display()
    );
    println!("tracked run {run_id}");
    if let Some(g) = gate {
        if g.passed() {
            println!(
                "regression gate passed: {} metrics within {} of the baseline",
                g.compared, g.tolerance
            );
        } else {
            eprintln!(
                "regression gate FAILED: {} of {} metrics worse than the baseline beyond {} ({})",
                g.regressions.len(),
                g.compared,
                g.tolerance,
                TOLERANCE_NOTE
            );
            eprint!("{}", g.table());
            return Ok(ExitCode::from(3));
        }
    }
    Ok(ExitCode::SUCCESS)
}
