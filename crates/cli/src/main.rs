//! The `lotl` binary: parses flags (all defined in `args.rs`), calls the crates, prints.

mod args;
mod cmd;

use clap::Parser;

/// mimalloc instead of glibc's malloc: reading ECS documents allocates a dozen strings per
/// event, and glibc's malloc and free were a tenth of the instructions; ingest runs ~13 %
/// faster on one core (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its place in mimalloc v3's `mi_option_e`; the
/// Rust bindings name only v2's options).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keep freed memory 10 s before returning it to the OS, not mimalloc's 1 s. A command
/// frees and reallocates hundreds of megabytes a second, batch after batch, and memory
/// returned to the OS comes back as fresh pages the kernel zeroes, transparent huge
/// pages included: `lotl features` spent up to a third of its time there (system time
/// 0.2-1.6 s, with 20,000 page faults against 4,500). An explicit `MIMALLOC_PURGE_DELAY`
/// still rules.
fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one option of the process's allocator, which mimalloc allows at
        // any time, from any thread.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10_000) };
    }
}

fn main() -> std::process::ExitCode {
    keep_freed_memory();
    let cli = args::Cli::parse();
    match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The option set is mimalloc's purge delay: its documented default (1000 ms), and no
    /// neighbour's, before it is set.
    #[test]
    fn the_purge_delay_is_the_option_set() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: reading and setting allocator options is allowed at any time.
        let (before, after) = unsafe {
            let before = libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY);
            keep_freed_memory();
            let after = libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY);
            (before, after)
        };
        assert_eq!((before, after), (1000, 10_000));
    }
}
