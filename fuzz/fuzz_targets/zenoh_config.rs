//! `vigil bridge zenoh` config files: reading arbitrary text never panics
//! and every problem names a line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_bridges::zenoh::BridgeConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(error) = BridgeConfig::parse(text, "fuzz.yaml") {
        assert!(!error.problems.is_empty());
        for problem in &error.problems {
            assert!(problem.line >= 1, "every problem names a line: {problem}");
        }
    }
});
