//! `/diagnostics` samples as they come off the wire (the agent decodes every
//! node's DiagnosticArray): arbitrary bytes never panic nor allocate beyond
//! the input, and what decodes re-encodes to bytes that decode the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_bridges::ros2::{decode, encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(array) = decode(data) {
        let again = decode(&encode(&array)).expect("an encoded array decodes");
        assert_eq!(again, array);
    }
});
