//! `vigil bridge zenoh` config files, and the zenohd plugin's section read
//! as a bridge in a router (issue 16): reading arbitrary text never panics
//! and every problem names a line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_bridges::zenoh::BridgeConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for parsed in [
        BridgeConfig::parse(text, "fuzz.yaml"),
        BridgeConfig::parse_in_router(text, "fuzz.yaml"),
    ] {
        if let Err(error) = parsed {
            assert!(!error.problems.is_empty());
            for problem in &error.problems {
                assert!(problem.line >= 1, "every problem names a line: {problem}");
            }
        }
    }
});
