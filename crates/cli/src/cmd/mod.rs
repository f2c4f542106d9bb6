//! One module per command; each takes its parsed args and returns the exit code.

mod cluster;
mod dataset;
mod demo;
mod detect;
mod eval;
mod export;
mod features;
mod ingest;
mod predict;
mod runs;
mod synth;
mod tracking;
mod train;
mod watch;

use crate::args::{Cli, Command};
use std::process::ExitCode;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Ingest(a) => ingest::run(a),
        Command::Synth(a) => synth::run(a),
        Command::Dataset(c) => dataset::run(c),
        Command::Features(a) => features::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Train(a) => train::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Export(a) => export::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Runs(c) => runs::run(c),
        Command::FitCluster(a) => cluster::run(a),
        Command::Detect(a) => detect::run(a),
        Command::Watch(a) => watch::run(a),
    }
}

/// A progress bar over input bytes, drawn on stderr only when it is a terminal.
pub(crate) fn progress_bytes(total: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

/// A spinner with a status message, for work whose length is unknown.
pub(crate) fn spinner(what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar.set_message(what.to_owned());
    bar
}
