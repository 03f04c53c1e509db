//! Disposal names its advert writer: a late dispose from an earlier
//! incarnation's writer does not remove the entry a newer writer published
//! (review finding B3: a Zenoh bridge proxy replaced before its old
//! advertiser's dispose arrived left the producer invisible).

mod core_support;

use core_support::{advert, guid, ms, t};
use vigil_discovery::{AdvertKey, Registry, RegistryChange, RegistryConfig, RegistryInput};

fn registry() -> Registry {
    Registry::new(RegistryConfig { grace: ms(500) })
}

fn key(p: &str) -> AdvertKey {
    AdvertKey::new(p, "imu")
}

/// Advert writers, distinct from the data writers the adverts name.
const OLD: [u8; 16] = [0xa1; 16];
const NEW: [u8; 16] = [0xa2; 16];

/// The advert of `producer`'s incarnation `n` (its data writer), sent by
/// the advert writer `sender`.
fn advert_from(producer: &str, n: u8, sender: [u8; 16]) -> RegistryInput {
    let mut a = advert(producer, "imu", &[]);
    a.writer_guid = guid(producer, n);
    RegistryInput::AdvertFrom {
        wire: a.to_wire(),
        sender,
    }
}

fn disposed_by(producer: &str, sender: [u8; 16]) -> RegistryInput {
    RegistryInput::DisposedBy {
        key: key(producer),
        sender,
    }
}

#[test]
fn b3_a_late_dispose_from_the_old_writer_keeps_the_new_incarnation() {
    let r = registry();
    r.apply(advert_from("a", 0, OLD), t(0));
    // The producer comes back with new writers while the old one is live:
    // refused as a hijack (issue 13), kept waiting; the lease has not run
    // out when the new one takes over at t(100).
    assert!(matches!(
        r.apply(advert_from("a", 1, NEW), t(1)).as_slice(),
        [RegistryChange::Refused { .. }]
    ));
    assert_eq!(
        r.tick(t(100)),
        vec![RegistryChange::Updated(key("a"))],
        "the waiting incarnation takes over at the holder's lease"
    );
    // The old advert writer's late dispose then changes nothing.
    assert_eq!(r.apply(disposed_by("a", OLD), t(102)), vec![]);
    let view = r.get(&key("a")).expect("the new incarnation stays");
    assert_eq!(view.advert.writer_guid, guid("a", 1));
    assert_eq!(r.stats().disposes_ignored, 1);
    assert_eq!(r.stats().adverts, 1);
    // Its own writer's dispose still removes it at once.
    assert_eq!(
        r.apply(disposed_by("a", NEW), t(103)),
        vec![RegistryChange::Removed(key("a"))]
    );
    assert!(r.get(&key("a")).is_none());
    assert_eq!(r.stats().disposes_ignored, 1);
}

#[test]
fn a_dispose_of_the_live_holder_hands_over_to_the_waiting_incarnation() {
    let r = registry();
    r.apply(advert_from("a", 0, OLD), t(0));
    r.apply(advert_from("a", 1, NEW), t(1));
    assert_eq!(
        r.apply(disposed_by("a", OLD), t(2)),
        vec![RegistryChange::Updated(key("a"))]
    );
    assert_eq!(r.get(&key("a")).unwrap().advert.writer_guid, guid("a", 1));
}

#[test]
fn a_dispose_before_the_new_advert_removes_then_the_new_one_is_added() {
    let r = registry();
    r.apply(advert_from("a", 0, OLD), t(0));
    assert_eq!(
        r.apply(disposed_by("a", OLD), t(1)),
        vec![RegistryChange::Removed(key("a"))]
    );
    assert_eq!(
        r.apply(advert_from("a", 1, NEW), t(2)),
        vec![RegistryChange::Added(key("a"))]
    );
    assert_eq!(r.stats().disposes_ignored, 0);
}

#[test]
fn the_last_writer_to_send_the_advert_is_the_one_that_may_dispose_it() {
    let r = registry();
    r.apply(advert_from("a", 0, OLD), t(0));
    // The same advert (same data writer, same sequence) from another
    // advert writer: a repeat, but now that writer speaks for it.
    r.apply(advert_from("a", 0, NEW), t(1));
    assert_eq!(r.apply(disposed_by("a", OLD), t(2)), vec![]);
    assert_eq!(
        r.apply(disposed_by("a", NEW), t(3)),
        vec![RegistryChange::Removed(key("a"))]
    );
}

#[test]
fn a_writer_not_named_on_either_side_matches_any() {
    // An advert whose sender is unknown: any dispose removes it.
    let r = registry();
    r.apply(
        RegistryInput::Advert(advert("a", "imu", &[]).to_wire()),
        t(0),
    );
    assert_eq!(
        r.apply(disposed_by("a", OLD), t(1)),
        vec![RegistryChange::Removed(key("a"))]
    );
    // A dispose whose sender is unknown removes whatever published it.
    r.apply(advert_from("b", 0, NEW), t(2));
    assert_eq!(
        r.apply(RegistryInput::Disposed(key("b")), t(3)),
        vec![RegistryChange::Removed(key("b"))]
    );
    assert_eq!(r.stats().disposes_ignored, 0);
}

#[test]
fn an_ignored_dispose_leaves_liveness_alone() {
    let r = registry();
    r.apply(advert_from("a", 0, OLD), t(0));
    r.apply(advert_from("a", 1, NEW), t(50));
    r.apply(disposed_by("a", OLD), t(60));
    // The lease counts from the new advert, not from the ignored dispose.
    assert_eq!(r.next_deadline(), Some(t(150)));
    assert_eq!(
        r.tick(t(150)).first(),
        Some(&RegistryChange::Unreachable(key("a")))
    );
}
