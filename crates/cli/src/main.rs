//! The `lotl` binary: parses flags (all defined in `args.rs`), calls the crates, prints.

mod args;
mod cmd;

use clap::Parser;

/// mimalloc instead of glibc's malloc: reading ECS documents allocates a dozen strings per
/// event, and glibc's malloc and free were a tenth of the instructions; ingest runs ~13 %
/// faster on one core (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = args::Cli::parse();
    match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}
