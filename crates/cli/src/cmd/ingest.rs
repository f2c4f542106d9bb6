use crate::args::IngestArgs;
use std::process::ExitCode;

pub fn run(_args: IngestArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("ingest: not implemented yet")
}
