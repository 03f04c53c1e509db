//! Tree files: loading arbitrary text never panics, and neither does
//! building whatever loaded (whole or partial).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_diag::{load_tree_partial, load_tree_str, Tree};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = load_tree_str(text, "fuzz.yaml") {
        let _ = Tree::build(&spec);
    }
    let (partial, problems) = load_tree_partial(text, "fuzz.yaml");
    for problem in &problems {
        assert!(problem.line >= 1, "every problem names a line: {problem}");
    }
    let _ = Tree::build(&partial);
});
