//! CSV with the MDE header: arbitrary rows.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = b"Timestamp,DeviceName,FileName,FolderPath,ProcessCommandLine\n".to_vec();
    input.extend_from_slice(data);
    // Must never panic; errors are fine.
    let _ = lotl_events::read_bytes("fuzz-input", &input, &Default::default());
    let _ = lotl_events::read_bytes("fuzz-input", data, &Default::default());
});
