//! Every flag of every `lotl` command, in one place.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("LOTL_GIT_COMMIT"),
    ")"
);

/// lotl finds living-off-the-land attacks on Windows: clusters of malicious processes
/// spawned by one parent process.
#[derive(Debug, Parser)]
#[command(name = "lotl", version = VERSION, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Ingest(IngestArgs),
}

/// Read process-start events (ECS NDJSON, EVTX, NXLog JSON, CSV; .gz/.zip; directories)
/// into one canonical Parquet file.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  lotl ingest ../shared/datasets/real -o events.parquet --quarantine bad.ndjson"
)]
pub struct IngestArgs {
    /// Files or directories (walked recursively). Format is detected from content.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output Parquet file (written to a temp file, then renamed).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Write every rejected record here as NDJSON, with its file and record number.
    #[arg(long)]
    pub quarantine: Option<PathBuf>,
    /// Stop at the first bad record instead of skipping and counting it.
    #[arg(long)]
    pub strict: bool,
    /// Column mapping for CSV input (TOML); the MDE DeviceProcessEvents mapping is built in.
    #[arg(long)]
    pub csv_mapping: Option<PathBuf>,
}
