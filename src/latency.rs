//! Keep this machine's CPUs from sleeping deeply while a reroute must be
//! fast (issue 17).
//!
//! A reroute is a chain of wake-ups (rustdds's event loop, the selector
//! task, the subscriber), and a core woken from a deep idle state, or a
//! virtual CPU the host descheduled while it idled, takes milliseconds to
//! run again. On the reference machine (a VM, `haltpoll` cpuidle) that was
//! the whole tail: reroute p99 2-15 ms and max up to 32 ms on an idle
//! machine, against p99 1.4 ms and max 1.4-2.8 ms with the request below
//! (BENCHMARKS.md). Linux's PM QoS interface takes a process's wish for a
//! maximum CPU wake-up latency as long as it holds `/dev/cpu_dma_latency`
//! open (what cyclictest and real-time Linux guides do); with 0 the idle
//! loop polls instead of halting. It costs power, so it is opt-in:
//! `--cpu-latency-us` on the DDS commands, [`CpuLatency::hold`] here.

use std::fs::File;
use std::io::Write;
use std::time::Duration;

/// The kernel's PM QoS device for the CPU wake-up latency.
const DEVICE: &str = "/dev/cpu_dma_latency";

/// A held request for CPUs that wake within a bound; released when
/// dropped.
#[derive(Debug)]
pub struct CpuLatency {
    _device: File,
}

impl CpuLatency {
    /// Asks that no CPU take longer than `bound` to wake (0: never sleep
    /// deeper than polling), for as long as the returned value lives.
    /// Needs write access to `/dev/cpu_dma_latency` (root); the error says
    /// what was refused.
    pub fn hold(bound: Duration) -> std::io::Result<CpuLatency> {
        let micros = i32::try_from(bound.as_micros()).unwrap_or(i32::MAX);
        let mut device = File::options()
            .write(true)
            .open(DEVICE)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{DEVICE}: {e}")))?;
        // The device takes the bound as a binary s32 (or as hex text).
        device
            .write_all(&micros.to_ne_bytes())
            .map_err(|e| std::io::Error::new(e.kind(), format!("{DEVICE}: {e}")))?;
        Ok(CpuLatency { _device: device })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_held_or_refused_with_the_device_named() {
        match CpuLatency::hold(Duration::from_micros(10)) {
            Ok(held) => drop(held),
            Err(e) => assert!(e.to_string().contains(DEVICE), "{e}"),
        }
    }
}
