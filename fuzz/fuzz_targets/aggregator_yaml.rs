//! diagnostic_aggregator analyzer files: importing arbitrary text never
//! panics, every problem names a line, and whatever imports prints a tree
//! file that loads and builds, and routes any status without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_bridges::ros2::{Analyzers, DiagnosticStatus};
use vigil_diag::{load_tree_str, Tree};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Analyzers::from_yaml(text, "fuzz.yaml") {
        Ok(analyzers) => {
            let printed = analyzers.tree_file();
            let spec = load_tree_str(&printed, "printed.yaml")
                .unwrap_or_else(|e| panic!("the printed tree file loads: {e}\n{printed}"));
            assert!(Tree::build(&spec).is_ok(), "{printed}");
            // The file's own text as status names exercises the matchers.
            for name in text.lines().take(16) {
                let status = DiagnosticStatus {
                    level: name.len() as u8 % 5,
                    name: name.to_owned(),
                    ..DiagnosticStatus::default()
                };
                let mut spec = analyzers.tree_spec();
                if let Ok(routes) = analyzers.route(&status) {
                    for (path, _) in routes {
                        analyzers.extend(&mut spec, &path);
                    }
                }
            }
        }
        Err(error) => {
            for problem in &error.problems {
                assert!(problem.line >= 1, "every problem names a line: {problem}");
            }
        }
    }
});
