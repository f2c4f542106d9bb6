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
    Synth(SynthArgs),
    #[command(subcommand)]
    Dataset(DatasetCommand),
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

/// Generate a synthetic Windows fleet's process starts with ground truth on every event
/// (deterministic for a seed).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  lotl synth --hosts 200 --days 7 --seed 1 -o fleet.parquet --ndjson fleet.ndjson --reference ../shared/datasets/reference"
)]
pub struct SynthArgs {
    /// Generator settings (TOML, see datasets/synth-default.toml); flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub hosts: Option<u32>,
    #[arg(long)]
    pub days: Option<u32>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Expected attack scenarios per host per day.
    #[arg(long)]
    pub attack_rate: Option<f64>,
    /// Expected benign false-positive bursts per host per day.
    #[arg(long)]
    pub benign_burst_rate: Option<f64>,
    /// Multiplier on background volume (1.0 ≈ 1,000–4,000 process starts per host-day).
    #[arg(long)]
    pub volume: Option<f64>,
    /// LOLBAS / Atomic Red Team definitions to draw attack command lines from.
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// Output Parquet file (holds the fleet in memory; use --ndjson alone for huge fleets).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Also (or only) write Elastic Defend-shaped ECS NDJSON, streamed per host-day.
    #[arg(long)]
    pub ndjson: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    Build(DatasetBuildArgs),
    Split(DatasetSplitArgs),
}

/// Read the real recordings, label every event (tree descent from each attack's first
/// process; background recognised), and write labelled Parquet.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  lotl dataset build ../shared/datasets/real -o real.parquet")]
pub struct DatasetBuildArgs {
    /// Files or directories; files under a `benign` folder are benign recordings.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[arg(short, long)]
    pub output: PathBuf,
}

/// Write train/validation/test manifests that never cut a host, scenario or file in two.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  lotl dataset split fleet.parquet real.parquet --by host --seed 1 --ratios 0.7,0.15,0.15 -o splits/"
)]
pub struct DatasetSplitArgs {
    /// Labelled Parquet files.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// host | scenario | file
    #[arg(long, default_value = "host")]
    pub by: String,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// train,validation,test shares.
    #[arg(long, default_value = "0.7,0.15,0.15")]
    pub ratios: String,
    /// Directory for train.json, validation.json, test.json.
    #[arg(short, long)]
    pub output: PathBuf,
}
