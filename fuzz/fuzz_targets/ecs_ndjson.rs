//! ECS NDJSON: arbitrary bytes after a valid document prefix.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = b"{\"@timestamp\":\"2024-01-01T00:00:00Z\",\"event\":{\"category\":[\"process\"],\"type\":[\"start\"]},\"host\":{\"name\":\"h\"},\"process\":".to_vec();
    input.extend_from_slice(data);
    // Must never panic; errors are fine.
    let _ = lotl_events::read_bytes("fuzz-input", &input, &Default::default());
    let _ = lotl_events::read_bytes("fuzz-input", data, &Default::default());
});
