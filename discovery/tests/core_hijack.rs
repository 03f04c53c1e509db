//! Issue 13: no hijacking of a live producer id, with signing off. An
//! advert from another writer for a producer that is live is refused until
//! the holder withdraws, is said FAILED, or its lease expires; heartbeats
//! speak only for their own participant's adverts.

mod core_support;

use core_support::{advert, guid, ms, t};
use vigil_diag::State;
use vigil_discovery::{
    AdvertKey, Heartbeat, Refusal, Registry, RegistryChange, RegistryConfig, RegistryInput,
};

fn registry() -> Registry {
    Registry::new(RegistryConfig { grace: ms(500) })
}

fn key(p: &str) -> AdvertKey {
    AdvertKey::new(p, "imu")
}

/// The advert writer of participant `n` (its GUID prefix is `[n; 12]`).
fn writer(n: u8) -> [u8; 16] {
    let mut g = [n; 16];
    g[12..].copy_from_slice(&[0, 0, 0x03, 0xc2]);
    g
}

/// Producer `a`'s advert from participant `n`, its data writer of that
/// incarnation.
fn advert_from(n: u8, sequence: u64) -> RegistryInput {
    let mut a = advert("a", "imu", &[]);
    a.writer_guid = guid("a", n);
    a.sequence = sequence;
    RegistryInput::AdvertFrom {
        wire: a.to_wire(),
        sender: writer(n),
    }
}

fn heartbeat_from(n: u8, sequence: u64, state: State) -> RegistryInput {
    RegistryInput::HeartbeatFrom {
        wire: Heartbeat {
            producer: "a".into(),
            topic: String::new(),
            sequence,
            state,
            advert_sequence: 1,
            timestamp_ns: 0,
        }
        .to_wire(),
        sender: writer(n),
    }
}

fn refused(changes: &[RegistryChange]) -> Option<Refusal> {
    match changes {
        [RegistryChange::Refused {
            reason,
            producer,
            topic,
            ..
        }] if producer == "a" && topic == "imu" => Some(*reason),
        _ => None,
    }
}

#[test]
fn a_rogue_with_its_own_heartbeats_never_takes_a_live_producer() {
    let r = registry();
    r.apply(advert_from(1, 1), t(0));
    assert_eq!(
        refused(&r.apply(advert_from(9, 50), t(5))),
        Some(Refusal::Hijack)
    );
    assert_eq!(r.stats().refused.hijack, 1);
    // Both keep heartbeating for a long time; the rogue's FAILED says
    // nothing about the holder, and the holder stays.
    for i in 1..50 {
        let at = 5 + i * 20;
        assert!(r
            .apply(heartbeat_from(9, i, State::Failed), t(at))
            .is_empty());
        r.apply(heartbeat_from(1, i, State::Ok), t(at + 1));
        assert!(r.tick(t(at + 2)).is_empty(), "at {at}");
    }
    let view = r.get(&key("a")).unwrap();
    assert_eq!(view.advert.writer_guid, guid("a", 1));
    assert_eq!(view.health.state, State::Ok);
}

#[test]
fn a_rogues_heartbeats_do_not_keep_a_dead_holder_alive() {
    let r = registry();
    r.apply(advert_from(1, 1), t(0));
    for i in 1..10 {
        r.apply(heartbeat_from(9, i, State::Ok), t(i * 20));
    }
    let changes = r.tick(t(100));
    assert!(changes.contains(&RegistryChange::Unreachable(key("a"))));
}

#[test]
fn a_fast_restart_takes_over_when_the_old_lease_ends() {
    let r = registry();
    r.apply(advert_from(1, 7), t(0));
    r.apply(heartbeat_from(1, 1, State::Ok), t(20));
    // Killed at t(30); restarted at t(40), before the lease (t(120)).
    assert_eq!(
        refused(&r.apply(advert_from(2, 1), t(40))),
        Some(Refusal::Hijack)
    );
    r.apply(heartbeat_from(2, 1, State::Ok), t(60));
    r.apply(heartbeat_from(2, 2, State::Ok), t(80));
    r.apply(heartbeat_from(2, 3, State::Ok), t(100));
    assert_eq!(r.tick(t(119)), vec![]);
    assert_eq!(r.tick(t(120)), vec![RegistryChange::Updated(key("a"))]);
    let view = r.get(&key("a")).unwrap();
    assert_eq!(view.advert.writer_guid, guid("a", 2));
    assert!(view.reachable);
    // Its lease counts from its own last heartbeat, and its heartbeats now
    // count (their sequence starts again).
    assert_eq!(r.next_deadline(), Some(t(200)));
    r.apply(heartbeat_from(2, 4, State::Degraded), t(130));
    assert_eq!(r.get(&key("a")).unwrap().health.state, State::Degraded);
}

#[test]
fn a_waiting_successor_that_went_quiet_does_not_take_over() {
    let r = registry();
    r.apply(advert_from(1, 1), t(0));
    r.apply(advert_from(2, 1), t(10));
    r.apply(heartbeat_from(1, 1, State::Ok), t(90));
    // The successor's lease ran out at t(110); the holder's at t(190).
    let changes = r.tick(t(190));
    assert!(changes.contains(&RegistryChange::Unreachable(key("a"))));
    assert_eq!(r.get(&key("a")).unwrap().advert.writer_guid, guid("a", 1));
    // Once the holder is gone, a newcomer is accepted at once.
    let changes = r.apply(advert_from(2, 2), t(200));
    assert!(
        changes.contains(&RegistryChange::Updated(key("a"))),
        "{changes:?}"
    );
}

#[test]
fn the_supervisor_saying_failed_lets_the_restarted_child_in_at_once() {
    use vigil_discovery::FailedOnBehalf;
    let r = registry();
    let supervised = |n: u8| {
        let mut a = advert("a", "imu", &[]);
        a.writer_guid = guid("a", n);
        a.supervisor = Some([5; 12]);
        RegistryInput::AdvertFrom {
            wire: a.to_wire(),
            sender: writer(n),
        }
    };
    let said = || RegistryInput::FailedOnBehalf {
        wire: FailedOnBehalf {
            child: "c".into(),
            producers: vec!["a".into()],
            reason: "exited: signal 9".into(),
            timestamp_ns: 1,
        }
        .to_wire(),
        sender: writer(5),
    };
    r.apply(supervised(1), t(0));
    // Order 1: FAILED first, then the restarted child's advert.
    r.apply(said(), t(5));
    let changes = r.apply(supervised(2), t(6));
    assert_eq!(changes.first(), Some(&RegistryChange::Updated(key("a"))));
    // Order 2: the restarted child's advert first (refused), then FAILED.
    assert_eq!(
        refused(&r.apply(supervised(3), t(7))),
        Some(Refusal::Hijack)
    );
    let changes = r.apply(said(), t(8));
    assert_eq!(changes.first(), Some(&RegistryChange::Updated(key("a"))));
    assert_eq!(r.get(&key("a")).unwrap().advert.writer_guid, guid("a", 3));
    assert_eq!(r.get(&key("a")).unwrap().health.state, State::Ok);
}
