//! lquery patterns: parsing never panics, Display round-trips, and matching
//! any path never panics. Input: the pattern, then after the first newline
//! a path to match it against.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_diag::{Path, Pattern};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern_text, path_text) = text.split_once('\n').unwrap_or((text, "a.b.c"));
    let Ok(pattern) = Pattern::parse(pattern_text) else {
        return;
    };
    let shown = pattern.to_string();
    assert_eq!(
        Pattern::parse(&shown).as_ref(),
        Ok(&pattern),
        "Display must round-trip: {shown}"
    );
    if let Ok(path) = Path::parse(path_text) {
        let _ = pattern.matches(&path);
    }
});
