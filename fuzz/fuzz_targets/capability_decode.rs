//! Capability vectors from the wire: decoding arbitrary bytes never panics
//! nor allocates from an untrusted length, and whatever decodes encodes
//! back to bytes that decode to the same vector.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_qos::Capabilities;

fuzz_target!(|data: &[u8]| {
    let Ok(caps) = Capabilities::decode_cdr(data) else {
        return;
    };
    let bytes = caps.encode_cdr();
    assert_eq!(
        Capabilities::decode_cdr(&bytes).as_ref(),
        Ok(&caps),
        "re-encoding must round-trip"
    );
});
