//! A lossy, jittery link between one producer's heartbeats and a
//! consumer's [`Registry`], in simulated time (issue 14). Shared by the
//! `lossy_lease` bench (the table in BENCHMARKS.md) and the test that
//! holds the default liveness to zero false failovers.
//!
//! Heartbeats are sent every period; each is lost with probability `loss`
//! (independently) or delayed by a uniform `[0, jitter]` (so they may
//! arrive out of order, as with netem's jitter). The registry is the real
//! one: every time it declares the live producer unreachable is a false
//! failover (the consumer would leave it). Adverts (reliable, repeated
//! each second) are left out: fewer signs of life, so the count is an
//! upper bound. Includers also include tests/core_support as
//! `crate::core_support` (the adverts of the core tests).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use vigil_diag::{State, Timestamp};
use vigil_discovery::{Heartbeat, Registry, RegistryChange, RegistryConfig, RegistryInput};

/// One link and liveness setting.
#[derive(Clone, Copy, Debug)]
pub struct Link {
    /// Heartbeat period.
    pub period: Duration,
    /// Lease.
    pub lease: Duration,
    /// Probability that a heartbeat is lost.
    pub loss: f64,
    /// Largest extra delay of a heartbeat.
    pub jitter: Duration,
}

/// What a run saw.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcome {
    /// Times the live producer was declared unreachable.
    pub false_failovers: u64,
    /// Heartbeats sent.
    pub sent: u64,
    /// Heartbeats lost.
    pub lost: u64,
}

/// SplitMix64: a small seeded generator, so a run is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Runs `link` for `span` of simulated time.
pub fn run(link: Link, span: Duration, seed: u64) -> Outcome {
    let registry = Registry::new(RegistryConfig {
        grace: Duration::from_secs(5),
    });
    let mut advert = crate::core_support::advert("p", "imu", &[]);
    advert.heartbeat_period = link.period;
    advert.lease = link.lease;
    registry.apply(
        RegistryInput::Advert(advert.to_wire()),
        Timestamp::from_nanos(0),
    );
    let mut rng = Rng(seed);
    let mut out = Outcome::default();
    let (period, jitter, end) = (nanos(link.period), nanos(link.jitter), nanos(span));
    // Arrivals in flight: (arrival time, heartbeat sequence).
    let mut in_flight: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new();
    let mut next_send = period;
    let count = |changes: Vec<RegistryChange>, out: &mut Outcome| {
        out.false_failovers += changes
            .iter()
            .filter(|c| matches!(c, RegistryChange::Unreachable(_)))
            .count() as u64;
    };
    loop {
        let arrival = in_flight.peek().map(|Reverse((at, _))| *at);
        let deadline = registry.next_deadline().map(|d| d.as_nanos());
        let now = [Some(next_send), arrival, deadline]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(end);
        if now >= end {
            break;
        }
        if deadline == Some(now) {
            count(registry.tick(Timestamp::from_nanos(now)), &mut out);
        }
        if arrival == Some(now) {
            if let Some(Reverse((_, sequence))) = in_flight.pop() {
                let beat = Heartbeat {
                    producer: "p".into(),
                    topic: String::new(),
                    sequence,
                    state: State::Ok,
                    advert_sequence: 1,
                    timestamp_ns: 0,
                };
                let changes = registry.apply(
                    RegistryInput::Heartbeat(beat.to_wire()),
                    Timestamp::from_nanos(now),
                );
                count(changes, &mut out);
            }
        }
        if next_send == now {
            out.sent += 1;
            if rng.unit() < link.loss {
                out.lost += 1;
            } else {
                let delay = (rng.unit() * jitter as f64) as u64;
                in_flight.push(Reverse((now + delay, out.sent)));
            }
            next_send += period;
        }
    }
    out
}

/// The model the short leases check: the producer is declared unreachable
/// when every heartbeat that would surely have renewed the lease in time
/// is lost: those sent within `lease - jitter` after the last one received
/// (with no jitter, strictly within the lease: one due exactly at the
/// deadline is too late). `m` such heartbeats lost in a row has
/// probability `loss^m` per heartbeat received. An order of magnitude, not
/// exact: a heartbeat sent just after that window sometimes renews in time.
pub fn model_per_heartbeat(link: Link) -> f64 {
    let (period, window) = (
        nanos(link.period),
        nanos(link.lease.saturating_sub(link.jitter)),
    );
    let m = if link.jitter.is_zero() {
        window.saturating_sub(1) / period
    } else {
        window / period
    };
    link.loss.powi(i32::try_from(m).unwrap_or(i32::MAX))
}
