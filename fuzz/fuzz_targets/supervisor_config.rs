//! `vigil supervise` config files: reading arbitrary text never panics,
//! every problem names a line, and a config that reads has children with
//! commands and unique names.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use vigil_recovery::{load_config_str, Supervisor};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match load_config_str(text) {
        Ok(spec) => {
            assert!(spec.period > std::time::Duration::ZERO);
            let children = spec.children();
            assert!(!children.is_empty());
            let mut ids = HashSet::new();
            for child in &children {
                assert!(!child.command.is_empty() && !child.command[0].trim().is_empty());
                assert!(ids.insert(child.id.clone()), "duplicate {}", child.id);
            }
            // The core starts every child of a spec that reads.
            let mut sup = Supervisor::new(spec);
            let started = sup
                .start(vigil_diag::Timestamp::ZERO)
                .iter()
                .filter(|a| matches!(a, vigil_recovery::Action::Start(_)))
                .count();
            assert!(started >= 1);
        }
        Err(error) => {
            assert!(!error.problems.is_empty());
            for problem in &error.problems {
                assert!(problem.line >= 1, "every problem names a line: {problem}");
            }
        }
    }
});
