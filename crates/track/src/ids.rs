//! Run ids and clocks.

use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A process-wide counter: keeps temp names and ids distinct within one process.
pub(crate) fn counter() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// Milliseconds since the Unix epoch, MLflow's unit for every timestamp.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A 32-hex-digit run id, shaped like MLflow's so ids look alike in both backends.
///
/// Ids need to be unique, not reproducible: the clock, process id and a counter go through
/// xxh3-128 so that two runs started in the same millisecond still differ.
pub(crate) fn new_run_id(salt: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seed = format!("{nanos}:{}:{}:{salt}", std::process::id(), counter());
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(seed.as_bytes()))
}
