//! The `lotl` binary: parses flags (all defined in `args.rs`), calls the crates, prints.

mod args;
mod cmd;

use clap::Parser;

/// mimalloc instead of glibc's malloc: reading ECS documents allocates a dozen strings per
/// event, and glibc's malloc and free were a tenth of the instructions; ingest runs ~13 %
/// faster on one core (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` (mimalloc.h's `mi_option_e`; the crate names no constant).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keep freed pages for reuse instead of returning them to the kernel. Featurising and
/// writing a batch allocates and frees tens of megabytes, and with the default 10 ms purge
/// every batch faulted its pages back in, each a zeroed 2 MiB huge page: a sixth of
/// `lotl features`' CPU time. The peak resident size is what it was; only its decline
/// after a peak is given up.
fn keep_freed_pages() {
    // SAFETY: called before any other thread exists (the option is not thread safe).
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

fn main() -> std::process::ExitCode {
    keep_freed_pages();
    let cli = args::Cli::parse();
    match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}
