//! `ros_discovery_info` samples from any peer on the domain: arbitrary
//! bytes never panic nor allocate beyond what the input can hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_bridges::ros2::decode_discovery_info;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = decode_discovery_info(data) {
        let writers: usize = info.nodes.iter().map(|n| n.writers.len()).sum();
        assert!(writers * 16 <= data.len());
    }
});
