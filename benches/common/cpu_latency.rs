//! `--cpu-latency-us N` on a harness's command line: holds the CPUs'
//! wake-up latency (PM QoS, root) for the whole run, as `vigil ...
//! --cpu-latency-us` does (issue 17). Included with `#[path]` by each
//! bench that takes it.

use std::time::Duration;

/// The hold `args` ask for, if any; dropping it lets the CPUs idle again.
pub(crate) fn hold_from_args(args: &[String]) -> Option<vigil::latency::CpuLatency> {
    args.iter()
        .position(|a| a == "--cpu-latency-us")
        .and_then(|at| args.get(at + 1)?.parse().ok())
        .map(|us| {
            vigil::latency::CpuLatency::hold(Duration::from_micros(us)).expect("--cpu-latency-us")
        })
}
