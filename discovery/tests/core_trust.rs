//! Issue 13 in the registry core, signing on: a supervisor's
//! FAILED-on-behalf believed only from a key the policy lets speak for the
//! producer, a captured advert replayed from elsewhere refused, and a
//! producer's repeated advert (once a second, issue 14) never a replay.

mod core_support;

use core_support::{advert, guid, ms, t};
use vigil_diag::State;
use vigil_discovery::{
    sign_advert, sign_failed_on_behalf, AdvertKey, FailedOnBehalf, HashChain, KeyPair, Refusal,
    Registry, RegistryChange, RegistryConfig, RegistryInput, TrustMode, TrustPolicy, TrustedKey,
};

const SUPERVISOR: [u8; 12] = [5; 12];

fn key(p: &str) -> AdvertKey {
    AdvertKey::new(p, "imu")
}

fn producer_key() -> KeyPair {
    KeyPair::from_seed([1; 32])
}

fn supervisor_key() -> KeyPair {
    KeyPair::from_seed([2; 32])
}

/// A registry under `mode`: the producer key may advertise `a`, the
/// supervisor key speaks for every producer, a third key is listed for
/// `gps_*` only.
fn registry(mode: TrustMode) -> Registry {
    let r = Registry::new(RegistryConfig { grace: ms(500) });
    r.set_policy(TrustPolicy::new(
        mode,
        vec![
            TrustedKey::new("imu_team", producer_key().public()).advertising(&["a"], &["imu"]),
            TrustedKey::new("supervisor", supervisor_key().public()).speaking_for(&["*"]),
            TrustedKey::new("gps_team", KeyPair::from_seed([3; 32]).public())
                .advertising(&["gps_*"], &["gps"]),
        ],
    ));
    r
}

/// The advert writer of participant `n` (its GUID prefix is `[n; 12]`).
fn writer(n: u8) -> [u8; 16] {
    let mut g = [n; 16];
    g[12..].copy_from_slice(&[0, 0, 0x03, 0xc2]);
    g
}

/// Producer `a`'s signed advert, supervised by [`SUPERVISOR`], sent by
/// participant `n`.
fn signed_advert(n: u8, sequence: u64, timestamp_ns: u64) -> RegistryInput {
    let mut a = advert("a", "imu", &[]);
    a.writer_guid = guid("a", 1);
    a.sequence = sequence;
    a.timestamp_ns = timestamp_ns;
    a.supervisor = Some(SUPERVISOR);
    let mut wire = a.to_wire();
    let chain = HashChain::from_seed([7; 32]);
    sign_advert(&mut wire, &producer_key(), chain.anchor()).unwrap();
    RegistryInput::AdvertFrom {
        wire,
        sender: writer(n),
    }
}

/// The supervisor's word that `a` FAILED, signed by `signer`.
fn said(signer: Option<&KeyPair>) -> RegistryInput {
    let mut wire = FailedOnBehalf {
        child: "a_proc".into(),
        producers: vec!["a".into()],
        reason: "exited: signal 9".into(),
        timestamp_ns: 10,
    }
    .to_wire();
    if let Some(k) = signer {
        sign_failed_on_behalf(&mut wire, k).unwrap();
    }
    RegistryInput::FailedOnBehalf {
        wire,
        sender: writer(SUPERVISOR[0]),
    }
}

fn refusal(changes: &[RegistryChange]) -> Option<Refusal> {
    changes.iter().find_map(|c| match c {
        RegistryChange::Refused { reason, .. } => Some(*reason),
        _ => None,
    })
}

fn state(r: &Registry) -> State {
    r.get(&key("a")).unwrap().health.state
}

#[test]
fn failed_on_behalf_is_believed_from_a_key_that_speaks_for_the_producer() {
    let r = registry(TrustMode::Enforce);
    r.apply(signed_advert(1, 1, 1), t(0));
    assert_eq!(state(&r), State::Ok);
    assert_eq!(refusal(&r.apply(said(Some(&supervisor_key())), t(5))), None);
    assert_eq!(state(&r), State::Failed);
}

#[test]
fn failed_on_behalf_from_the_producers_own_key_is_believed() {
    let r = registry(TrustMode::Enforce);
    r.apply(signed_advert(1, 1, 1), t(0));
    assert_eq!(refusal(&r.apply(said(Some(&producer_key())), t(5))), None);
    assert_eq!(state(&r), State::Failed);
}

#[test]
fn failed_on_behalf_unsigned_forged_or_by_another_key_is_refused_under_enforce() {
    let r = registry(TrustMode::Enforce);
    r.apply(signed_advert(1, 1, 1), t(0));
    assert_eq!(refusal(&r.apply(said(None), t(5))), Some(Refusal::Unsigned));
    let gps = KeyPair::from_seed([3; 32]);
    assert_eq!(
        refusal(&r.apply(said(Some(&gps)), t(6))),
        Some(Refusal::NotAllowed)
    );
    let rogue = KeyPair::from_seed([4; 32]);
    assert_eq!(
        refusal(&r.apply(said(Some(&rogue)), t(7))),
        Some(Refusal::UnknownKey)
    );
    let RegistryInput::FailedOnBehalf { mut wire, sender } = said(Some(&supervisor_key())) else {
        unreachable!()
    };
    wire.reason = "hung".into();
    assert_eq!(
        refusal(&r.apply(RegistryInput::FailedOnBehalf { wire, sender }, t(8))),
        Some(Refusal::BadSignature)
    );
    assert_eq!(state(&r), State::Ok, "nothing refused was applied");
    let stats = r.stats().refused;
    assert_eq!(
        (
            stats.unsigned,
            stats.not_allowed,
            stats.unknown_key,
            stats.bad_signature
        ),
        (1, 1, 1, 1)
    );
}

#[test]
fn failed_on_behalf_unsigned_is_counted_but_applied_under_warn_and_applied_under_off() {
    let r = registry(TrustMode::Warn);
    r.apply(signed_advert(1, 1, 1), t(0));
    assert_eq!(refusal(&r.apply(said(None), t(5))), None);
    assert_eq!(state(&r), State::Failed);
    assert_eq!(r.stats().warned.unsigned, 1);

    let r = registry(TrustMode::Off);
    r.apply(signed_advert(1, 1, 1), t(0));
    assert_eq!(refusal(&r.apply(said(None), t(5))), None);
    assert_eq!(state(&r), State::Failed);
}

#[test]
fn a_captured_advert_sent_again_from_another_participant_is_a_replay() {
    let r = registry(TrustMode::Enforce);
    r.apply(signed_advert(1, 2, 20), t(0));
    // The same bytes, from a participant that is not the producer's.
    assert_eq!(
        refusal(&r.apply(signed_advert(9, 2, 20), t(5))),
        Some(Refusal::Replayed)
    );
    // An older one of the producer, from anyone.
    assert_eq!(
        refusal(&r.apply(signed_advert(9, 1, 10), t(6))),
        Some(Refusal::Replayed)
    );
    assert_eq!(r.stats().refused.replayed, 2);
}

#[test]
fn the_producers_own_repeated_advert_is_no_replay() {
    let r = registry(TrustMode::Enforce);
    r.apply(signed_advert(1, 2, 20), t(0));
    for i in 1..5 {
        let changes = r.apply(signed_advert(1, 2, 20), t(i * 50));
        assert_eq!(refusal(&changes), None, "{changes:?}");
    }
    assert_eq!(r.stats().refused.total(), 0);
    assert_eq!(state(&r), State::Ok);
}

#[test]
fn a_dead_producers_last_advert_sent_again_does_not_bring_it_back() {
    let r = registry(TrustMode::Enforce);
    r.apply(signed_advert(1, 2, 20), t(0));
    // Its lease (100 ms) and the grace (500 ms) pass: forgotten.
    r.tick(t(1_000));
    assert!(r.get(&key("a")).is_none(), "forgotten");
    // Its last advert, captured and sent by another participant.
    assert_eq!(
        refusal(&r.apply(signed_advert(9, 2, 20), t(1_100))),
        Some(Refusal::Replayed)
    );
    assert!(r.get(&key("a")).is_none(), "not brought back");
    // Its own participant, once a partition healed, is heard again.
    assert_eq!(refusal(&r.apply(signed_advert(1, 2, 20), t(1_200))), None);
    assert_eq!(state(&r), State::Ok);
    // A restart signs a fresh advert: taken from its new participant.
    r.tick(t(3_000));
    assert_eq!(refusal(&r.apply(signed_advert(3, 1, 30), t(3_100))), None);
    assert_eq!(state(&r), State::Ok);
}
