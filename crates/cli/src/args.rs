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
    Features(FeaturesArgs),
    Demo(DemoArgs),
    Train(TrainArgs),
    Predict(PredictArgs),
    Export(ExportArgs),
    Eval(EvalArgs),
    #[command(subcommand)]
    Runs(RunsCommand),
    FitCluster(FitClusterArgs),
    Detect(DetectArgs),
    Watch(WatchArgs),
}

/// Learn the parent-cluster model (Elastic's problem_child_high_sum_by_parent and sibling
/// jobs) from past scored events and store it in the bundle as cluster.json.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  lotl fit-cluster bundle/ --history scored-history.parquet")]
pub struct FitClusterArgs {
    /// Model bundle directory.
    pub bundle: PathBuf,
    /// Scored Parquet files (events + prediction, prediction_probability).
    #[arg(long, required = true)]
    pub history: Vec<PathBuf>,
    /// Cluster model settings (TOML or JSON: bucket_span_secs, datafeed, jobs, priors).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Rule settings shared by `detect` and `watch`.
#[derive(Debug, clap::Args)]
pub struct RuleFlags {
    /// Rule settings (TOML or JSON: interval_secs, lookback_secs, anomaly_threshold,
    /// max_alerts_per_execution, latency_secs, jobs, max_children, learn, exceptions).
    #[arg(long)]
    pub rule: Option<PathBuf>,
    /// Exceptions (TOML or JSON: parent_names, executables, users, hosts,
    /// command_line_substrings).
    #[arg(long)]
    pub exceptions: Option<PathBuf>,
    /// Jobs that raise alerts, comma-separated, or `all` (default high_sum_by_parent).
    #[arg(long)]
    pub jobs: Option<String>,
    /// Minimum record score (default 75).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Score against the stored model without learning from the new events.
    #[arg(long)]
    pub no_learn: bool,
}

/// Replay events through the rule as Elastic runs it: executions every 15 minutes looking
/// back 45, alerts as ECS NDJSON and a summary table. Events not yet scored are scored with
/// the bundle's classifier first.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  lotl detect bundle/ winlogbeat/ -o alerts.ndjson\n  lotl detect bundle/ scored.parquet --from 2026-01-05 --to 2026-01-12 -o alerts.ndjson --exceptions exceptions.toml"
)]
pub struct DetectArgs {
    /// Model bundle directory (holding cluster.json, and the classifier for unscored input).
    pub bundle: PathBuf,
    /// Scored Parquet files (`lotl predict`), or events in any format `lotl ingest` reads
    /// (files or directories), which are scored here.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Start of event time (RFC 3339, YYYY-MM-DD or epoch ms).
    #[arg(long)]
    pub from: Option<String>,
    /// End of event time (exclusive).
    #[arg(long)]
    pub to: Option<String>,
    /// Alerts, one JSON object per line.
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub rule: RuleFlags,
}

/// Score a live stream of scored NDJSON (a file that grows, or `-` for stdin), saving state
/// so that a restart neither drops nor repeats an alert.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  lotl watch bundle/ scored.ndjson --state watch-state.json -o alerts.ndjson"
)]
pub struct WatchArgs {
    /// Model bundle directory (holding cluster.json); ignored when --state exists.
    pub bundle: PathBuf,
    /// Scored NDJSON file to follow, or `-` for stdin.
    pub input: PathBuf,
    /// Engine state file (model, open buckets, schedule, emitted alerts, input position),
    /// replaced atomically.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Append alerts here (default stdout); truncated to the last saved state on restart.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Stop at the end of the input instead of waiting for more.
    #[arg(long)]
    pub once: bool,
    /// At the end (with --once or stdin): the stream is over; close every bucket.
    #[arg(long)]
    pub flush: bool,
    /// How often to look for new lines, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub poll_ms: u64,
    /// Save state at least every this many lines.
    #[arg(long, default_value_t = 100_000)]
    pub checkpoint_every: u64,
    #[command(flatten)]
    pub rule: RuleFlags,
}

/// Run the whole chain on synthetic data: train a model on a small fleet, generate a fresh
/// week with attacks, score it, run the detection rule, print the alerts.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  lotl demo -o demo-out\n  lotl demo -o demo-out --hosts 50 --days 7 --seed 99"
)]
pub struct DemoArgs {
    /// Directory for the model, events, scored events and alerts.
    #[arg(short, long, default_value = "demo-out")]
    pub output: PathBuf,
    /// Hosts in the week to detect on.
    #[arg(long, default_value_t = 30)]
    pub hosts: u32,
    /// Days in the week to detect on.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Seed of the week to detect on (not the training fleet's).
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
}

/// Train a model from an experiment file into a bundle directory (feature pipeline,
/// classifier, calibration, threshold, parent-cluster model, manifest with checksums).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  lotl train --config experiments/lotl-gbdt.toml -o models/lotl-gbdt"
)]
pub struct TrainArgs {
    /// Experiment file (TOML): data sources, split, recipe, model, decision.
    #[arg(short, long)]
    pub config: PathBuf,
    /// Bundle directory to write (replaced atomically if it exists).
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub tracking: TrackingArgs,
}

/// Score events with a bundle: every event column kept, plus `prediction` and
/// `prediction_probability` (and the top feature contributions with --explain).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  lotl predict models/lotl-gbdt events.parquet -o scored.parquet --explain 5"
)]
pub struct PredictArgs {
    /// Bundle directory written by `lotl train`, or an Elasticsearch trained-model JSON
    /// file (exported by `lotl export` or from a cluster with `?include=definition`).
    pub bundle: PathBuf,
    /// Events: lotl Parquet, or anything `lotl ingest` reads (EVTX, NDJSON, CSV, folders).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Scored Parquet to write.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Add this many top feature contributions per event (column `top_features`, JSON).
    #[arg(long, default_value_t = 0)]
    pub explain: usize,
}

/// Export a bundle for production scorers: Elasticsearch (trained model, ingest pipeline,
/// anomaly jobs and datafeeds, detection rules) or ONNX (the GBDT as a
/// TreeEnsembleClassifier over the feature vector).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  lotl export models/lotl-gbdt --format elasticsearch -o out/\n  lotl export models/lotl-gbdt --format onnx -o model.onnx"
)]
pub struct ExportArgs {
    /// Bundle directory written by `lotl train`.
    pub bundle: PathBuf,
    /// Target format.
    #[arg(short, long, value_enum)]
    pub format: ExportFormat,
    /// Output: a directory (elasticsearch) or a file (onnx).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Elasticsearch model id (default: the bundle directory name, lower-cased).
    #[arg(long)]
    pub model_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Elasticsearch,
    Onnx,
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

/// Compute a feature recipe for every event of an events Parquet file (`lotl ingest`
/// output) and write the features as Parquet: Float32 numeric and categorical (dictionary
/// of strings; pandas' `category`) columns in the recipe's order, plus `event.id`,
/// `host.name` and `lotl.label`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  lotl features -r lotl events.parquet -o features.parquet\n  lotl features -r elastic2026 --describe"
)]
pub struct FeaturesArgs {
    /// Events Parquet file.
    #[arg(required_unless_present = "describe")]
    pub input: Option<PathBuf>,
    /// Recipe: elastic2021, elastic2026 (Elastic ProblemChild) or lotl.
    #[arg(short, long, value_parser = ["elastic2021", "elastic2026", "lotl"])]
    pub recipe: String,
    /// Output Parquet file (written to a temp file, then renamed).
    #[arg(short, long, required_unless_present = "describe")]
    pub output: Option<PathBuf>,
    /// lotl recipe: hash buckets for command-line character n-grams.
    #[arg(long, default_value_t = 256)]
    pub cl_buckets: usize,
    /// lotl recipe: hash buckets for executable-path character n-grams.
    #[arg(long, default_value_t = 64)]
    pub path_buckets: usize,
    /// Print every feature of the recipe (name, kind, meaning) and exit.
    #[arg(long)]
    pub describe: bool,
}

/// Where `lotl train` / `lotl eval` record runs: flatten into a command's args.
#[derive(Debug, Clone, clap::Args)]
pub struct TrackingArgs {
    /// MLflow tracking server (http://host:port). Without it (and without
    /// MLFLOW_TRACKING_URI) runs go to the local store. Credentials come from
    /// MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD.
    #[arg(long, env = "MLFLOW_TRACKING_URI", hide_env_values = true)]
    pub tracking_uri: Option<String>,
    /// Local run store (also the fallback when the MLflow server is unreachable).
    #[arg(long, default_value = "lotl-runs")]
    pub tracking_dir: PathBuf,
}

impl TrackingArgs {
    pub fn config(&self) -> lotl_track::TrackingConfig {
        lotl_track::TrackingConfig::resolve(
            self.tracking_uri.clone(),
            Some(self.tracking_dir.clone()),
        )
    }
}

/// Inspect runs recorded in the local run store.
#[derive(Debug, clap::Subcommand)]
pub enum RunsCommand {
    List(RunsListArgs),
    Show(RunsShowArgs),
    Compare(RunsCompareArgs),
}

/// List runs, newest first.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  lotl runs list --tracking-dir lotl-runs --experiment lotl-train"
)]
pub struct RunsListArgs {
    /// Local run store.
    #[arg(long)]
    pub tracking_dir: Option<PathBuf>,
    /// Only runs of this experiment.
    #[arg(long)]
    pub experiment: Option<String>,
}

/// Show one run: status, tags, params, last metric values, artifacts.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  lotl runs show 3f9c2a")]
pub struct RunsShowArgs {
    /// Run id, or a unique prefix of it.
    pub run: String,
    #[arg(long)]
    pub tracking_dir: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Two runs side by side: params and last metric values, differences marked with `*`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  lotl runs compare 3f9c2a 81d07e")]
pub struct RunsCompareArgs {
    /// First run id (or unique prefix).
    pub a: String,
    /// Second run id (or unique prefix).
    pub b: String,
    #[arg(long)]
    pub tracking_dir: Option<PathBuf>,
}

/// Evaluate one or more bundles on labelled events: metrics.json, plots (SVG, PNG when a
/// font is found), report.html and report.md; with several bundles, one comparison report.
/// With --baseline, exit with status 3 when a metric got worse than the tolerance allows.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  lotl eval models/lotl-gbdt --data splits/ -o report/\n  lotl eval models/old models/new --data test.parquet -o cmp/\n  lotl eval models/ci --data test.parquet -o report/ --baseline .ci/baseline.json --tolerance 0.005"
)]
pub struct EvalArgs {
    /// Bundle directories written by `lotl train` (one curve and column per bundle).
    #[arg(required = true)]
    pub bundles: Vec<PathBuf>,
    /// Labelled events: lotl Parquet (from `lotl synth` / `lotl dataset build`), or a split
    /// manifest (a `lotl dataset split` directory, whose `test` side is used, or one side's
    /// JSON file).
    #[arg(long)]
    pub data: PathBuf,
    /// Report directory (created if missing).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Baseline to gate against: a report's baseline.json (or metrics.json).
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Largest accepted worsening: absolute for rates and AUCs, relative for alerts per
    /// host-day and time to alert.
    #[arg(long, default_value_t = 0.005)]
    pub tolerance: f64,
    /// TrueType font for PNG text (default: the first found under /usr/share/fonts).
    #[arg(long)]
    pub font: Option<PathBuf>,
    /// Write SVG plots only.
    #[arg(long)]
    pub no_png: bool,
    /// Detection rule settings (TOML, as for `lotl detect`); default: Elastic's.
    #[arg(long)]
    pub rule: Option<PathBuf>,
    #[command(flatten)]
    pub tracking: TrackingArgs,
}
