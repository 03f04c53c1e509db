//! Modes files (`vigil bt run --modes`): reading arbitrary text never
//! panics, every problem names a line, and a file that reads has its
//! target and every rule's mode among its modes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_diag::config::Severity;
use vigil_recovery::modes::load_modes_str;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match load_modes_str(text, "fuzz.yaml") {
        Ok((modes, _warnings)) => {
            assert!(modes.mode(&modes.target).is_some());
            for rule in &modes.rules {
                assert!(modes.mode(&rule.mode).is_some());
            }
        }
        Err(error) => {
            assert!(error
                .problems
                .iter()
                .any(|p| p.severity() == Severity::Error));
            for problem in &error.problems {
                assert!(problem.line >= 1, "every problem names a line: {problem}");
            }
        }
    }
});
