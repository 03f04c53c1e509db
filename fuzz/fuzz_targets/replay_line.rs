//! The replay format: parsing arbitrary lines and files never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_diag::{parse_event_line, parse_numbered_events};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_event_line(text);
    if let Err(errors) = parse_numbered_events(text) {
        assert!(errors.errors.iter().all(|e| e.line >= 1));
    }
});
