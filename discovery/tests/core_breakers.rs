//! Circuit breakers in the selection (issue 14), in simulated time: gaps
//! eject, the selection serves from the best remaining, a half-open link
//! is probed as the standby, closes by itself once on time, and the
//! selection returns to it after wait-to-restore; never more than the
//! maximum share ejected; the recorded inputs replay to the same
//! decisions.

mod core_support;

use std::collections::BTreeMap;
use std::time::Duration;

use core_support::{advert, guid, ms, t, Sim};
use vigil_diag::{State, Timestamp};
use vigil_discovery::{
    BreakerEvent, BreakerPolicy, RecordedInput, RecordedSession, Replayer, SampleArrival,
    SwitchCause, SwitchPolicy,
};

const IMU: &str = "imu PREFER accuracy";

fn policy() -> SwitchPolicy {
    let mut breaker = BreakerPolicy::default();
    breaker.base_ejection = Duration::from_secs(1);
    SwitchPolicy {
        breaker: Some(breaker),
        ..SwitchPolicy::default()
    }
}

/// Producers at 100 Hz (`rate_hz=100`), best first by accuracy.
fn sim(producers: &[&str]) -> Sim {
    let mut sim = Sim::new(IMU, policy());
    for (i, p) in producers.iter().enumerate() {
        let accuracy = format!("0.00{}", i + 1);
        sim.publish(advert(
            p,
            "imu",
            &[("rate_hz", "100Hz"), ("accuracy", &accuracy)],
        ));
    }
    assert_eq!(sim.active().as_deref(), Some(producers[0]));
    sim
}

/// How each producer sends samples: every `period` ms, or none.
struct Feed {
    every_ms: BTreeMap<&'static str, Option<u64>>,
    last: BTreeMap<&'static str, u64>,
    breakers: Vec<BreakerEvent>,
    /// Every input the selection took, for a replay.
    samples: Vec<(Timestamp, Vec<SampleArrival>)>,
}

impl Feed {
    fn new(producers: &[&'static str]) -> Feed {
        Feed {
            every_ms: producers.iter().map(|p| (*p, Some(10))).collect(),
            last: BTreeMap::new(),
            breakers: Vec::new(),
            samples: Vec::new(),
        }
    }

    /// Runs the simulation to `until` ms, 10 ms at a time, each producer
    /// sending when its period is due.
    fn run(&mut self, sim: &mut Sim, until: u64) {
        let mut now = sim.now.as_nanos() / 1_000_000;
        while now < until {
            now += 10;
            sim.advance_to(t(now));
            let mut arrivals = Vec::new();
            for (p, every) in &self.every_ms {
                let Some(every) = every else { continue };
                let last = self.last.get(p).copied().unwrap_or(0);
                if now >= last + every {
                    self.last.insert(p, now);
                    arrivals.push(SampleArrival {
                        writer_guid: guid(p, 0),
                        at: t(now),
                    });
                }
            }
            if let Some(e) = sim.selection.on_samples(&sim.registry, &arrivals, t(now)) {
                sim.events.push(e);
            }
            self.samples.push((t(now), arrivals));
            self.breakers.extend(sim.selection.take_breaker_events());
        }
        self.breakers.extend(sim.selection.take_breaker_events());
    }

    fn labels(&self, producer: &str) -> Vec<&'static str> {
        self.breakers
            .iter()
            .filter(|e| e.key().producer == producer)
            .map(BreakerEvent::label)
            .collect()
    }
}

#[test]
fn gaps_eject_the_active_producer_and_a_probe_brings_it_back() {
    let mut sim = sim(&["a", "b", "c"]);
    let mut feed = Feed::new(&["a", "b", "c"]);
    feed.run(&mut sim, 200);
    assert!(feed.breakers.is_empty(), "{:?}", feed.breakers);
    // a's samples now come every 100 ms: ten periods, late every time.
    feed.every_ms.insert("a", Some(100));
    feed.run(&mut sim, 1_000);
    assert_eq!(sim.active().as_deref(), Some("b"), "{:?}", sim.switches());
    let ejected = sim
        .events
        .iter()
        .find(|e| matches!(e.cause, SwitchCause::Ejected { .. }))
        .expect("a switch caused by the breaker");
    assert_eq!(ejected.cause, SwitchCause::Ejected { ejections: 1 });
    assert_eq!(feed.labels("a"), ["ejected"]);
    // Ejected: not the standby either (c is).
    assert_eq!(
        sim.selection.standby().map(|s| s.key.producer.as_str()),
        Some("c")
    );
    // Half-open after a second: probed as the standby; still late, so
    // ejected again, for twice as long.
    feed.run(&mut sim, 2_000);
    assert_eq!(feed.labels("a"), ["ejected", "half_open", "ejected"]);
    assert!(matches!(
        feed.breakers.last(),
        Some(BreakerEvent::Ejected { ejections: 2, .. })
    ));
    // On time again: half-open at the end of the second ejection, closed
    // after ten on-time samples, selected again after wait-to-restore.
    feed.every_ms.insert("a", Some(10));
    let second_until = match feed.breakers.last() {
        Some(BreakerEvent::Ejected { until, .. }) => *until,
        other => panic!("{other:?}"),
    };
    feed.run(&mut sim, second_until.as_nanos() / 1_000_000 + 50);
    assert_eq!(
        sim.selection.standby().map(|s| s.key.producer.as_str()),
        Some("a"),
        "a half-open link is the standby: probed, not delivered"
    );
    assert_eq!(sim.active().as_deref(), Some("b"));
    feed.run(&mut sim, second_until.as_nanos() / 1_000_000 + 2_000);
    assert_eq!(
        feed.labels("a"),
        ["ejected", "half_open", "ejected", "half_open", "closed"]
    );
    assert_eq!(sim.active().as_deref(), Some("a"));
    assert_eq!(sim.last_event().cause, SwitchCause::Restored);
    assert_eq!(sim.selection.stats().ejections, 2);
}

#[test]
fn half_open_ends_by_itself_when_no_sample_comes() {
    let mut sim = sim(&["a", "b"]);
    let mut feed = Feed::new(&["a", "b"]);
    feed.run(&mut sim, 100);
    feed.every_ms.insert("a", Some(100));
    feed.run(&mut sim, 1_000);
    assert_eq!(feed.labels("a"), ["ejected"]);
    // a goes silent: the probe window ends without samples and ejects it.
    feed.every_ms.insert("a", None);
    feed.run(&mut sim, 3_000);
    assert_eq!(feed.labels("a"), ["ejected", "half_open", "ejected"]);
    assert_eq!(sim.active().as_deref(), Some("b"));
}

#[test]
fn never_more_than_the_maximum_share_ejected() {
    let mut sim = sim(&["a", "b"]);
    let mut feed = Feed::new(&["a", "b"]);
    feed.run(&mut sim, 100);
    feed.every_ms.insert("a", Some(100));
    feed.every_ms.insert("b", Some(100));
    feed.run(&mut sim, 900);
    // One of two may be ejected: a went first; b is refused and serves.
    assert_eq!(feed.labels("a"), ["ejected"]);
    assert_eq!(feed.labels("b")[0], "ejection_refused");
    assert_eq!(sim.active().as_deref(), Some("b"));
    let b = vigil_discovery::AdvertKey::new("b", "imu");
    assert!(!sim.selection.breakers().expect("breakers").ejected(&b));
}

#[test]
fn an_ejected_producer_is_followed_only_as_the_last_resort() {
    let mut sim = sim(&["a", "b", "c"]);
    let mut feed = Feed::new(&["a", "b", "c"]);
    feed.run(&mut sim, 100);
    feed.every_ms.insert("b", Some(100));
    feed.run(&mut sim, 800);
    assert_eq!(feed.labels("b"), ["ejected"]);
    // a fails: c, not the ejected b, takes over.
    sim.state("a", "imu", State::Failed);
    assert_eq!(sim.active().as_deref(), Some("c"));
    // c fails too: b is all there is left.
    sim.state("c", "imu", State::Failed);
    assert_eq!(sim.active().as_deref(), Some("b"));
}

#[test]
fn health_flaps_eject() {
    let mut sim = sim(&["a", "b", "c"]);
    let mut feed = Feed::new(&["a", "b", "c"]);
    feed.run(&mut sim, 100);
    for i in 0..6 {
        let state = if i % 2 == 0 {
            State::Degraded
        } else {
            State::Ok
        };
        sim.state("b", "imu", state);
        feed.run(&mut sim, 100 + (i + 1) * 50);
    }
    assert_eq!(feed.labels("b"), ["ejected"]);
    sim.state("a", "imu", State::Failed);
    assert_eq!(sim.active().as_deref(), Some("c"));
}

/// The breakers read only their inputs: a fresh core fed the same inputs
/// at the same times (adverts, heartbeats, sample arrivals, ticks) decides
/// the same switches and breaker transitions. `vigil replay` relies on it.
#[test]
fn breakers_replay_exactly() {
    let run = || {
        let session = RecordedSession::new(
            Some(&vigil_qos::Query::parse(IMU).expect("query")),
            &policy(),
            Duration::ZERO,
            ms(500),
            Timestamp::ZERO,
        );
        let mut core = Replayer::new(&session).expect("core");
        let mut decisions = Vec::new();
        let adverts: Vec<_> = ["a", "b"]
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut a = advert(
                    p,
                    "imu",
                    &[("rate_hz", "100"), ("accuracy", &format!("0.00{}", i + 1))],
                );
                // No heartbeats in this run: a lease that outlasts it.
                a.lease = Duration::from_secs(3_600);
                a
            })
            .collect();
        for a in &adverts {
            let input = RecordedInput::Advert {
                wire: a.to_wire(),
                sender: None,
            };
            decisions.push(format!("{:?}", core.step(t(0), &input).1));
        }
        for now in (10..3_000).step_by(10) {
            let mut arrivals = vec![SampleArrival {
                writer_guid: guid("b", 0),
                at: t(now),
            }];
            // a: late every time for a while, then on time.
            if now % 100 == 0 || now > 1_500 {
                arrivals.push(SampleArrival {
                    writer_guid: guid("a", 0),
                    at: t(now),
                });
            }
            let input = RecordedInput::Samples { arrivals };
            decisions.push(format!("{:?}", core.step(t(now), &input).1));
            decisions.push(format!("{:?}", core.step(t(now), &RecordedInput::Tick).1));
            decisions.push(format!("{:?}", core.take_breaker_events()));
        }
        decisions
    };
    let first = run();
    assert!(
        first.iter().any(|d| d.contains("Ejected")),
        "the scenario ejects"
    );
    assert_eq!(first, run());
}

#[test]
fn explain_says_which_link_is_ejected() {
    let mut sim = sim(&["a", "b", "c"]);
    let mut feed = Feed::new(&["a", "b", "c"]);
    feed.run(&mut sim, 100);
    feed.every_ms.insert("a", Some(100));
    feed.run(&mut sim, 900);
    let explanation = sim.selection.explain(&sim.registry);
    let a = explanation
        .candidates
        .iter()
        .find(|c| c.key.producer == "a")
        .expect("a is explained");
    assert!(
        a.reasons[0].starts_with("ejected by its circuit breaker until"),
        "{:?}",
        a.reasons
    );
}
