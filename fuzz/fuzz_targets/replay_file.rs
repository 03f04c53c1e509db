//! `vigil replay`: an MCAP file from outside (damaged, truncated, forged)
//! is read and replayed without a panic, whatever it holds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = vigil::record::replay_bytes(data, |_| {});
});
