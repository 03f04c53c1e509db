//! The registry in simulated time: liveness, order, bad input, disposal,
//! heartbeat state, shared components (issue 4 items 1, 3, 7).

mod core_support;

use core_support::{advert, ms, path, set_state, t};
use vigil_diag::{State, UnknownReason};
use vigil_discovery::{
    AdvertKey, Heartbeat, Registry, RegistryChange, RegistryConfig, RegistryInput, WIRE_VERSION,
};

fn registry() -> Registry {
    Registry::new(RegistryConfig { grace: ms(500) })
}

fn key(p: &str) -> AdvertKey {
    AdvertKey::new(p, "imu")
}

fn heartbeat(producer: &str, sequence: u64, state: State, advert_sequence: u64) -> RegistryInput {
    RegistryInput::Heartbeat(
        Heartbeat {
            producer: producer.into(),
            topic: String::new(),
            sequence,
            state,
            advert_sequence,
            timestamp_ns: 0,
        }
        .to_wire(),
    )
}

#[test]
fn lease_expiry_then_removal_after_grace() {
    let r = registry();
    let changes = r.apply(
        RegistryInput::Advert(advert("a", "imu", &[]).to_wire()),
        t(0),
    );
    assert_eq!(changes, vec![RegistryChange::Added(key("a"))]);
    assert_eq!(r.next_deadline(), Some(t(100)));
    r.apply(heartbeat("a", 1, State::Ok, 1), t(50));
    assert_eq!(r.tick(t(149)), vec![]);
    assert_eq!(
        r.tick(t(150)),
        vec![
            RegistryChange::Unreachable(key("a")),
            RegistryChange::HealthChanged {
                key: key("a"),
                old: State::Ok,
                new: State::Unknown
            },
        ]
    );
    let view = r.get(&key("a")).expect("kept during grace");
    assert!(!view.reachable);
    assert_eq!(view.health.state, State::Unknown);
    assert_eq!(view.health.reason, Some(UnknownReason::Unreachable));
    assert_eq!(r.stats().reachable, 0);
    // Grace counts from the lease expiry, even when ticked late.
    assert_eq!(r.next_deadline(), Some(t(650)));
    assert_eq!(r.tick(t(700)), vec![RegistryChange::Removed(key("a"))]);
    assert!(r.get(&key("a")).is_none());
    assert_eq!(r.next_deadline(), None);
}

#[test]
fn a_late_tick_reports_both_steps() {
    let r = registry();
    r.apply(
        RegistryInput::Advert(advert("a", "imu", &[]).to_wire()),
        t(0),
    );
    let changes = r.tick(t(10_000));
    assert_eq!(
        changes.first(),
        Some(&RegistryChange::Unreachable(key("a")))
    );
    assert_eq!(changes.last(), Some(&RegistryChange::Removed(key("a"))));
}

#[test]
fn heard_again_is_reachable() {
    let r = registry();
    r.apply(
        RegistryInput::Advert(advert("a", "imu", &[]).to_wire()),
        t(0),
    );
    r.tick(t(100));
    let changes = r.apply(heartbeat("a", 1, State::Ok, 1), t(200));
    assert_eq!(
        changes,
        vec![
            RegistryChange::Reachable(key("a")),
            RegistryChange::HealthChanged {
                key: key("a"),
                old: State::Unknown,
                new: State::Ok
            },
        ]
    );
    assert_eq!(r.next_deadline(), Some(t(300)));
}

#[test]
fn stale_sequence_is_ignored() {
    let r = registry();
    let mut a = advert("a", "imu", &[]);
    a.sequence = 5;
    r.apply(RegistryInput::Advert(a.to_wire()), t(0));
    let mut old = a.clone();
    old.sequence = 4;
    set_state(&mut old, State::Failed);
    assert_eq!(r.apply(RegistryInput::Advert(old.to_wire()), t(10)), vec![]);
    assert_eq!(r.get(&key("a")).map(|v| v.health.state), Some(State::Ok));
    assert_eq!(r.stats().stale, 1);
    // An exact repeat is a sign of life only.
    assert_eq!(r.apply(RegistryInput::Advert(a.to_wire()), t(20)), vec![]);
    assert_eq!(r.get(&key("a")).map(|v| v.last_heard), Some(t(20)));
}

#[test]
fn a_new_writer_guid_is_a_new_incarnation() {
    let r = registry();
    let mut a = advert("a", "imu", &[]);
    a.sequence = 40;
    r.apply(RegistryInput::Advert(a.to_wire()), t(0));
    let mut restarted = advert("a", "imu", &[]);
    restarted.writer_guid = core_support::guid("a", 1);
    restarted.sequence = 1;
    // Once the held incarnation is gone (its lease expired; while it is
    // live, see core_hijack.rs), whatever its sequence.
    r.tick(t(100));
    let changes = r.apply(RegistryInput::Advert(restarted.to_wire()), t(110));
    assert!(changes.contains(&RegistryChange::Updated(key("a"))));
    assert_eq!(r.get(&key("a")).map(|v| v.advert.sequence), Some(1));
}

#[test]
fn malformed_is_rejected_counted_and_the_last_good_state_stays() {
    let r = registry();
    r.apply(
        RegistryInput::Advert(advert("a", "imu", &[]).to_wire()),
        t(0),
    );
    let mut bad = advert("a", "imu", &[]);
    bad.sequence = 2;
    set_state(&mut bad, State::Failed);
    let mut wire = bad.to_wire();
    wire.writer_guid = vec![1, 2, 3];
    wire.health.confidence = f32::NAN;
    let changes = r.apply(RegistryInput::Advert(wire), t(10));
    match changes.as_slice() {
        [RegistryChange::Rejected { what, error }] => {
            assert_eq!(what, "advert a/imu");
            assert!(
                error.contains("writer_guid") && error.contains("confidence"),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
    let garbage = RegistryInput::Malformed {
        source: "vigil_adverts from 0102".into(),
        error: "unexpected end of CDR".into(),
    };
    assert!(matches!(
        r.apply(garbage, t(20)).as_slice(),
        [RegistryChange::Rejected { .. }]
    ));
    let mut hb = Heartbeat {
        producer: "a".into(),
        topic: String::new(),
        sequence: 1,
        state: State::Ok,
        advert_sequence: 1,
        timestamp_ns: 0,
    }
    .to_wire();
    hb.state = 9;
    assert!(matches!(
        r.apply(RegistryInput::Heartbeat(hb), t(30)).as_slice(),
        [RegistryChange::Rejected { .. }]
    ));
    assert_eq!(r.stats().rejected, 3);
    let view = r.get(&key("a")).expect("last good state");
    assert_eq!((view.health.state, view.advert.sequence), (State::Ok, 1));
}

#[test]
fn a_reused_sequence_with_new_content_is_rejected() {
    let r = registry();
    r.apply(
        RegistryInput::Advert(advert("a", "imu", &[]).to_wire()),
        t(0),
    );
    let mut liar = advert("a", "imu", &[]);
    set_state(&mut liar, State::Failed);
    let changes = r.apply(RegistryInput::Advert(liar.to_wire()), t(1));
    assert!(
        matches!(changes.as_slice(), [RegistryChange::Rejected { .. }]),
        "{changes:?}"
    );
    assert_eq!(r.stats().rejected, 1);
}

#[test]
fn unknown_wire_version_is_rejected() {
    let r = registry();
    let mut wire = advert("a", "imu", &[]).to_wire();
    wire.version = WIRE_VERSION + 1;
    let changes = r.apply(RegistryInput::Advert(wire), t(0));
    match changes.as_slice() {
        [RegistryChange::Rejected { error, .. }] => assert!(error.contains("version"), "{error}"),
        other => panic!("{other:?}"),
    }
    assert!(r.is_empty());
}

#[test]
fn dispose_removes() {
    let r = registry();
    r.apply(
        RegistryInput::Advert(advert("a", "imu", &[]).to_wire()),
        t(0),
    );
    assert_eq!(
        r.apply(RegistryInput::Disposed(key("a")), t(1)),
        vec![RegistryChange::Removed(key("a"))]
    );
    assert!(r.get(&key("a")).is_none());
    assert_eq!(r.next_deadline(), None);
    assert_eq!(r.apply(RegistryInput::Disposed(key("a")), t(2)), vec![]);
    assert_eq!(r.stats().adverts, 0);
}

#[test]
fn heartbeat_state_overrides_until_the_next_advert() {
    let r = registry();
    let mut a = advert("a", "imu", &[]);
    r.apply(RegistryInput::Advert(a.to_wire()), t(0));
    r.apply(
        RegistryInput::Advert(advert("a", "gps", &[]).to_wire()),
        t(0),
    );
    let changes = r.apply(heartbeat("a", 1, State::Failed, 1), t(10));
    // One heartbeat speaks for every topic of the producer.
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(
        r.get(&key("a"))
            .map(|v| (v.health.state, v.health.from_heartbeat)),
        Some((State::Failed, true))
    );
    // A heartbeat sent before the held advert says nothing of state.
    a.sequence = 2;
    r.apply(RegistryInput::Advert(a.to_wire()), t(20));
    assert_eq!(r.get(&key("a")).map(|v| v.health.state), Some(State::Ok));
    assert_eq!(r.apply(heartbeat("a", 2, State::Failed, 1), t(30)), vec![]);
    assert_eq!(r.get(&key("a")).map(|v| v.last_heard), Some(t(30)));
    // An agreeing heartbeat clears an override.
    r.apply(heartbeat("a", 3, State::Degraded, 2), t(40));
    assert_eq!(
        r.get(&key("a")).map(|v| v.health.state),
        Some(State::Degraded)
    );
    r.apply(heartbeat("a", 4, State::Ok, 2), t(50));
    assert_eq!(r.get(&key("a")).map(|v| v.health.state), Some(State::Ok));
    assert_eq!(r.stats().heartbeats, 4);
}

#[test]
fn snapshot_is_sorted_and_stats_count() {
    let r = registry();
    for p in ["c", "a", "b"] {
        r.apply(RegistryInput::Advert(advert(p, "imu", &[]).to_wire()), t(0));
    }
    let keys: Vec<String> = r
        .snapshot()
        .iter()
        .map(|v| v.advert.key.to_string())
        .collect();
    assert_eq!(keys, ["a/imu", "b/imu", "c/imu"]);
    let s = r.stats();
    assert_eq!((s.adverts, s.reachable, s.rejected), (3, 3, 0));
}

#[test]
fn shared_state_votes_over_every_advert() {
    let r = registry();
    let bus = path("vehicle.power.bus_a");
    for (p, state) in [("o1", State::Ok), ("o2", State::Ok), ("o3", State::Failed)] {
        let mut a = advert(p, "power", &[]);
        a.health.nodes.insert(bus.clone(), state);
        r.apply(RegistryInput::Advert(a.to_wire()), t(0));
    }
    let c = r.shared_state(&bus, 2);
    assert_eq!((c.state, c.agreeing), (State::Ok, 2));
    // o1 goes silent: OK vs FAILED cannot be settled, never OK.
    r.apply(heartbeat("o2", 1, State::Ok, 1), t(60));
    r.apply(heartbeat("o3", 1, State::Ok, 1), t(60));
    r.tick(t(100));
    let c = r.shared_state(&bus, 2);
    assert_eq!(
        (c.state, c.reason),
        (State::Unknown, Some(UnknownReason::Conflicting))
    );
    // Quorum 4 with three observers (o1 still counts, as UNKNOWN): no data.
    let c = r.shared_state(&bus, 4);
    assert_eq!(
        (c.state, c.reason),
        (State::Unknown, Some(UnknownReason::NoData))
    );
    assert_eq!(
        r.shared_state(&path("vehicle.other"), 1).reason,
        Some(UnknownReason::NoData)
    );
}

#[test]
fn a_partition_hiding_an_observer_gives_conflicting_never_ok() {
    // Issue 14: two observers of a bus say OK; a partition hides one. The
    // one left must not decide alone: OK against an observer that cannot
    // tell is UNKNOWN(conflicting), until the hidden one is forgotten.
    let r = registry();
    let bus = path("vehicle.power.bus_a");
    for p in ["o1", "o2"] {
        let mut a = advert(p, "power", &[]);
        a.health.nodes.insert(bus.clone(), State::Ok);
        r.apply(RegistryInput::Advert(a.to_wire()), t(0));
    }
    assert_eq!(r.shared_state(&bus, 1).state, State::Ok);
    r.apply(heartbeat("o1", 1, State::Ok, 1), t(60));
    r.tick(t(100));
    let c = r.shared_state(&bus, 1);
    assert_eq!(
        (c.state, c.reason),
        (State::Unknown, Some(UnknownReason::Conflicting))
    );
    assert_eq!(r.reporters(&bus), 2);
    // The partition heals: o2 speaks again, the vote is OK again.
    r.apply(heartbeat("o2", 1, State::Ok, 1), t(120));
    assert_eq!(r.shared_state(&bus, 1).state, State::Ok);
    // o2 dies for good: forgotten after the grace, o1 alone decides.
    r.apply(heartbeat("o1", 2, State::Ok, 1), t(200));
    r.tick(t(230));
    assert_eq!(
        r.shared_state(&bus, 1).reason,
        Some(UnknownReason::Conflicting)
    );
    for (i, at) in (260..=800).step_by(60).enumerate() {
        r.apply(heartbeat("o1", 3 + i as u64, State::Ok, 1), t(at));
        r.tick(t(at));
    }
    assert_eq!(r.reporters(&bus), 1);
    assert_eq!(r.shared_state(&bus, 1).state, State::Ok);
}

#[test]
fn concurrent_readers_while_applying() {
    let r = std::sync::Arc::new(registry());
    let writer = {
        let r = r.clone();
        std::thread::spawn(move || {
            for i in 0..2_000u64 {
                let mut a = advert(&format!("p{}", i % 50), "imu", &[]);
                a.sequence = i + 1;
                r.apply(RegistryInput::Advert(a.to_wire()), t(i));
                r.tick(t(i));
            }
        })
    };
    for _ in 0..200 {
        let snap = r.snapshot();
        assert!(snap.len() <= 50);
        let _ = r.stats();
    }
    writer.join().expect("writer");
    assert_eq!(r.stats().adverts, 50);
}

/// Issue 9: a supervisor's "FAILED on behalf of".
mod failed_on_behalf {
    use super::*;
    use vigil_discovery::{FailedOnBehalf, FailedOnBehalfWire};

    const SUPERVISOR: [u8; 12] = [7; 12];

    /// A writer GUID of the participant `prefix`.
    fn writer_of(prefix: [u8; 12]) -> [u8; 16] {
        let mut guid = [0; 16];
        guid[..12].copy_from_slice(&prefix);
        guid[12..].copy_from_slice(&[0, 0, 0x12, 0xc2]);
        guid
    }

    fn said(producers: &[&str], at_ns: u64) -> FailedOnBehalfWire {
        FailedOnBehalf {
            child: "imu_child".into(),
            producers: producers.iter().map(|p| p.to_string()).collect(),
            reason: "exited: signal 9".into(),
            timestamp_ns: at_ns,
        }
        .to_wire()
    }

    fn supervised(producer: &str, sequence: u64, writer: u8) -> RegistryInput {
        let mut a = advert(producer, "imu", &[]);
        a.supervisor = Some(SUPERVISOR);
        a.sequence = sequence;
        a.writer_guid[15] = writer;
        RegistryInput::Advert(a.to_wire())
    }

    #[test]
    fn accepted_from_the_supervisor_the_advert_names() {
        let r = registry();
        r.apply(supervised("a", 1, 0), t(0));
        let changes = r.apply(
            RegistryInput::FailedOnBehalf {
                wire: said(&["a", "not_known_here"], 1),
                sender: writer_of(SUPERVISOR),
            },
            t(5),
        );
        assert_eq!(
            changes,
            vec![RegistryChange::HealthChanged {
                key: key("a"),
                old: State::Ok,
                new: State::Failed
            }]
        );
        let view = r.get(&key("a")).expect("kept");
        assert_eq!(view.health.state, State::Failed);
        assert!(view.health.from_supervisor);
        assert_eq!(view.failed_on_behalf.as_deref(), Some("exited: signal 9"));
        assert_eq!(r.stats().on_behalf_accepted, 1);
        assert_eq!(r.stats().rejected, 0);
        // A heartbeat in flight from the dead process does not undo it.
        r.apply(heartbeat("a", 9, State::Ok, 1), t(6));
        assert_eq!(r.get(&key("a")).unwrap().health.state, State::Failed);
        // Nor does a transient-local repeat of its last advert.
        r.apply(supervised("a", 1, 0), t(7));
        assert_eq!(r.get(&key("a")).unwrap().health.state, State::Failed);
    }

    #[test]
    fn rejected_and_counted_from_anyone_else() {
        let r = registry();
        r.apply(supervised("a", 1, 0), t(0));
        let mut plain = advert("b", "imu", &[]);
        plain.supervisor = None;
        r.apply(RegistryInput::Advert(plain.to_wire()), t(0));
        let forger = [9; 12];
        let changes = r.apply(
            RegistryInput::FailedOnBehalf {
                wire: said(&["a", "b"], 1),
                sender: writer_of(forger),
            },
            t(5),
        );
        assert_eq!(changes.len(), 2, "{changes:?}");
        for change in &changes {
            let RegistryChange::Rejected { what, error } = change else {
                panic!("{change:?}");
            };
            assert!(what.contains("imu_child"), "{what}");
            assert!(error.contains("090909090909090909090909"), "{error}");
        }
        assert!(matches!(&changes[1], RegistryChange::Rejected { error, .. }
            if error.contains("names no supervisor")));
        assert_eq!(r.get(&key("a")).unwrap().health.state, State::Ok);
        assert_eq!(r.get(&key("b")).unwrap().health.state, State::Ok);
        let stats = r.stats();
        assert_eq!((stats.on_behalf_rejected, stats.rejected), (2, 2));
        assert_eq!(stats.on_behalf_accepted, 0);
        // A producer without a supervisor cannot be failed even by one that
        // supervises another.
        r.apply(
            RegistryInput::FailedOnBehalf {
                wire: said(&["b"], 1),
                sender: writer_of(SUPERVISOR),
            },
            t(6),
        );
        assert_eq!(r.get(&key("b")).unwrap().health.state, State::Ok);
        assert_eq!(r.stats().on_behalf_rejected, 3);
    }

    #[test]
    fn malformed_is_rejected_with_every_problem() {
        let r = registry();
        let mut wire = said(&["a", "", "a"], 1);
        wire.reason = "bad\u{7}".into();
        let changes = r.apply(
            RegistryInput::FailedOnBehalf {
                wire,
                sender: writer_of(SUPERVISOR),
            },
            t(0),
        );
        let [RegistryChange::Rejected { error, .. }] = changes.as_slice() else {
            panic!("{changes:?}");
        };
        for field in ["producers[1]", "producers[2]", "reason"] {
            assert!(error.contains(field), "{error}");
        }
        assert_eq!(r.stats().rejected, 1);
    }

    #[test]
    fn cleared_by_a_fresh_advert_only() {
        let r = registry();
        r.apply(supervised("a", 1, 0), t(0));
        r.apply(
            RegistryInput::FailedOnBehalf {
                wire: said(&["a"], 1),
                sender: writer_of(SUPERVISOR),
            },
            t(5),
        );
        // The restarted child: a new incarnation (new writer GUID) with its
        // own advert, sequence 1 again.
        let changes = r.apply(supervised("a", 1, 1), t(300));
        assert!(changes.contains(&RegistryChange::HealthChanged {
            key: key("a"),
            old: State::Failed,
            new: State::Ok
        }));
        let view = r.get(&key("a")).unwrap();
        assert_eq!(view.health.state, State::Ok);
        assert!(view.failed_on_behalf.is_none());
    }

    #[test]
    fn a_word_older_than_the_held_advert_is_ignored() {
        let r = registry();
        let mut a = advert("a", "imu", &[]);
        a.supervisor = Some(SUPERVISOR);
        a.timestamp_ns = 2_000;
        r.apply(RegistryInput::Advert(a.to_wire()), t(0));
        let changes = r.apply(
            RegistryInput::FailedOnBehalf {
                wire: said(&["a"], 1_000),
                sender: writer_of(SUPERVISOR),
            },
            t(5),
        );
        assert_eq!(changes, vec![]);
        assert_eq!(r.get(&key("a")).unwrap().health.state, State::Ok);
        assert_eq!(r.stats().stale, 1);
    }
}

/// Issue 10: an isolation makes every advert of a producer FAILED for every
/// consumer, across its restarts, until released.
mod isolation {
    use super::*;
    use vigil_discovery::reconfig::IsolationWire;

    fn isolation(producer: &str, isolated: bool) -> RegistryInput {
        RegistryInput::Isolation(IsolationWire {
            version: WIRE_VERSION,
            producer: producer.into(),
            isolated,
            reason: if isolated {
                "still failing".into()
            } else {
                String::new()
            },
            by: "recover".into(),
            timestamp_ns: 1,
        })
    }

    #[test]
    fn isolated_until_released_even_across_a_restart() {
        let r = registry();
        // Said before the producer is known: it applies when it arrives.
        r.apply(isolation("a", true), t(0));
        r.apply(
            RegistryInput::Advert(advert("a", "imu", &[]).to_wire()),
            t(1),
        );
        let view = r.get(&key("a")).expect("kept");
        assert_eq!(view.health.state, State::Failed);
        assert_eq!(view.isolated.as_deref(), Some("still failing"));
        // A new incarnation (another writer) is still isolated.
        let mut again = advert("a", "imu", &[]);
        again.writer_guid[15] = 9;
        r.apply(RegistryInput::Advert(again.to_wire()), t(2));
        assert_eq!(r.get(&key("a")).unwrap().health.state, State::Failed);
        let changes = r.apply(isolation("a", false), t(3));
        assert_eq!(
            changes,
            vec![RegistryChange::HealthChanged {
                key: key("a"),
                old: State::Failed,
                new: State::Ok
            }]
        );
        assert!(r.isolated("a").is_none());
    }

    #[test]
    fn a_bad_isolation_is_rejected_and_counted() {
        let r = registry();
        r.apply(
            RegistryInput::Advert(advert("a", "imu", &[]).to_wire()),
            t(0),
        );
        let RegistryInput::Isolation(mut wire) = isolation("a", true) else {
            unreachable!()
        };
        wire.reason = "bell\u{7}".into();
        let changes = r.apply(RegistryInput::Isolation(wire), t(1));
        assert!(
            matches!(changes.as_slice(), [RegistryChange::Rejected { .. }]),
            "{changes:?}"
        );
        assert_eq!(r.stats().rejected, 1);
        assert_eq!(r.get(&key("a")).unwrap().health.state, State::Ok);
    }
}

/// Issue 10: a mode's capability overrides are what matching reads for the
/// producer, across its restarts, until cleared; the advert is untouched.
mod capability_override {
    use super::*;
    use vigil_discovery::reconfig::CapabilityOverrideWire;
    use vigil_qos::{Candidate, Capabilities, Key, Value};

    fn overriding(producer: &str, values: &[(&str, &str)]) -> RegistryInput {
        let mut caps = Capabilities::new();
        for (k, v) in values {
            caps.insert(k, Value::parse_capability(v).unwrap()).unwrap();
        }
        RegistryInput::CapabilityOverride(CapabilityOverrideWire {
            version: WIRE_VERSION,
            producer: producer.into(),
            capabilities: caps.encode_cdr(),
            mode: "degraded_nav".into(),
            by: "recover".into(),
            timestamp_ns: 1,
        })
    }

    fn num(text: &str) -> Value {
        Value::parse_capability(text).unwrap()
    }

    fn accuracy(r: &Registry, producer: &str) -> Option<Value> {
        let view = r.get(&key(producer)).expect("kept");
        view.capability(&Key::new("accuracy").unwrap()).cloned()
    }

    #[test]
    fn overridden_until_cleared_even_across_a_restart() {
        let r = registry();
        // Said before the producer is known: it applies when it arrives.
        r.apply(overriding("a", &[("accuracy", "0.5")]), t(0));
        r.apply(
            RegistryInput::Advert(
                advert("a", "imu", &[("accuracy", "0.01"), ("rate_hz", "100")]).to_wire(),
            ),
            t(1),
        );
        assert_eq!(accuracy(&r, "a"), Some(num("0.5")));
        let view = r.get(&key("a")).unwrap();
        // What the override does not name is the advert's; the advert is
        // untouched.
        assert!(view.capability(&Key::new("rate_hz").unwrap()).is_some());
        assert_eq!(view.advert.capabilities.get("accuracy"), Some(&num("0.01")));
        // A new incarnation (another writer) is still overridden.
        let mut again = advert("a", "imu", &[("accuracy", "0.01")]);
        again.writer_guid[15] = 9;
        r.apply(RegistryInput::Advert(again.to_wire()), t(2));
        assert_eq!(accuracy(&r, "a"), Some(num("0.5")));
        // Cleared: an `updated` change, so selections rank it again.
        let changes = r.apply(overriding("a", &[]), t(3));
        assert_eq!(changes, vec![RegistryChange::Updated(key("a"))]);
        assert_eq!(accuracy(&r, "a"), Some(num("0.01")));
        assert!(r.capability_overrides("a").is_none());
        // Saying the same again changes nothing.
        assert!(r.apply(overriding("a", &[]), t(4)).is_empty());
    }

    #[test]
    fn a_bad_override_is_rejected_counted_and_the_last_one_stays() {
        let r = registry();
        r.apply(
            RegistryInput::Advert(advert("a", "imu", &[("accuracy", "0.01")]).to_wire()),
            t(0),
        );
        r.apply(overriding("a", &[("accuracy", "0.5")]), t(1));
        let RegistryInput::CapabilityOverride(mut wire) = overriding("a", &[("accuracy", "0.9")])
        else {
            unreachable!()
        };
        wire.capabilities.truncate(5);
        let changes = r.apply(RegistryInput::CapabilityOverride(wire), t(2));
        assert!(
            matches!(changes.as_slice(), [RegistryChange::Rejected { error, .. }] if error.contains("capabilities")),
            "{changes:?}"
        );
        assert_eq!(r.stats().rejected, 1);
        assert_eq!(accuracy(&r, "a"), Some(num("0.5")));
    }
}

fn heartbeat_for(producer: &str, topic: &str, sequence: u64, state: State) -> RegistryInput {
    RegistryInput::Heartbeat(
        Heartbeat {
            producer: producer.into(),
            topic: topic.into(),
            sequence,
            state,
            advert_sequence: 1,
            timestamp_ns: 0,
        }
        .to_wire(),
    )
}

/// Issue 14 (wire v2): one producer id advertises two topics; a heartbeat
/// naming its topic keeps that advert alive and sets its state only, the
/// other topic lives and dies on its own. An unnamed heartbeat (a writer
/// before revision 5) still speaks for both.
#[test]
fn heartbeats_naming_their_topic_speak_for_that_advert_only() {
    let r = registry();
    let imu = AdvertKey::new("a", "imu");
    let raw = AdvertKey::new("a", "imu_raw");
    r.apply(
        RegistryInput::Advert(advert("a", "imu", &[]).to_wire()),
        t(0),
    );
    r.apply(
        RegistryInput::Advert(advert("a", "imu_raw", &[]).to_wire()),
        t(0),
    );
    let changes = r.apply(heartbeat_for("a", "imu_raw", 1, State::Failed), t(50));
    assert_eq!(
        changes,
        vec![RegistryChange::HealthChanged {
            key: raw.clone(),
            old: State::Ok,
            new: State::Failed
        }]
    );
    assert_eq!(r.get(&imu).expect("held").health.state, State::Ok);
    // Only imu_raw was heard at 50: imu's lease ends at 100, raw's at 150.
    let changes = r.tick(t(100));
    assert!(changes.contains(&RegistryChange::Unreachable(imu.clone())));
    assert!(!changes.contains(&RegistryChange::Unreachable(raw.clone())));
    assert!(r.get(&raw).expect("held").reachable);
    // A heartbeat for a topic the producer does not advertise: nothing.
    assert_eq!(
        r.apply(heartbeat_for("a", "gps", 2, State::Ok), t(110)),
        vec![]
    );
    assert!(!r.get(&imu).expect("held").reachable);
    // The older, unnamed form speaks for every topic of the producer.
    let changes = r.apply(heartbeat("a", 3, State::Ok, 1), t(120));
    assert!(changes.contains(&RegistryChange::Reachable(imu.clone())));
    assert!(changes.contains(&RegistryChange::HealthChanged {
        key: raw.clone(),
        old: State::Failed,
        new: State::Ok
    }));
}
