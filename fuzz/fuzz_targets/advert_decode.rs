//! Adverts, heartbeats, supervisors' FAILED-on-behalf messages and
//! consumers' routes (`vigil_consumer_routes`, `ConsumerRoute::from_wire`) from any
//! participant on the domain: the bytes of a sample on `vigil_adverts` /
//! `vigil_heartbeats` / `vigil_failed_on_behalf`, decoded exactly as the
//! DDS shell's readers decode them (rustdds's CDR deserializer, little
//! endian), then validated by `Advert::from_wire` / `Heartbeat::from_wire` /
//! `FailedOnBehalf::from_wire`, and the message fed to a registry holding
//! the advert (sender: a fixed writer), which must not panic either.
//! Arbitrary bytes never panic nor allocate from an untrusted length, and
//! whatever validates goes back to the wire and validates the same.
//!
//! Also heartbeat bundles (`vigil_heartbeat_bundles`, wire v2).
//!
//! Each input is tried as both types, so one seed set (real encodings of
//! each) serves both.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rustdds::no_key::DeserializerAdapter;
use rustdds::{CDRDeserializerAdapter, RepresentationIdentifier};
use vigil_diag::Timestamp;
use vigil_discovery::{
    Advert, AdvertWire, ConsumerRoute, ConsumerRouteWire, FailedOnBehalf, FailedOnBehalfWire, Heartbeat, HeartbeatBundleWire, HeartbeatWire, Registry,
    RegistryConfig, RegistryInput,
};

fuzz_target!(|data: &[u8]| {
    let le = RepresentationIdentifier::CDR_LE;
    let registry = Registry::new(RegistryConfig::default());
    if let Ok(wire) = CDRDeserializerAdapter::<AdvertWire>::from_bytes(data, le) {
        registry.apply(
            RegistryInput::Advert(wire.clone()),
            Timestamp::from_nanos(1),
        );
        if let Ok(advert) = Advert::from_wire(&wire) {
            let again = Advert::from_wire(&advert.to_wire()).expect("a valid advert re-encodes");
            assert_eq!(again, advert, "an advert must round-trip");
        }
    }
    if let Ok(wire) = CDRDeserializerAdapter::<HeartbeatWire>::from_bytes(data, le) {
        if let Ok(heartbeat) = Heartbeat::from_wire(&wire) {
            let again =
                Heartbeat::from_wire(&heartbeat.to_wire()).expect("a valid heartbeat re-encodes");
            assert_eq!(again, heartbeat, "a heartbeat must round-trip");
        }
    }
    if let Ok(wire) = CDRDeserializerAdapter::<FailedOnBehalfWire>::from_bytes(data, le) {
        if let Ok(said) = FailedOnBehalf::from_wire(&wire) {
            let again = FailedOnBehalf::from_wire(&said.to_wire()).expect("a valid one re-encodes");
            assert_eq!(again, said, "a FAILED on behalf must round-trip");
        }
        // Whatever the registry holds (the advert above, if it validated),
        // the message is applied or refused, never a panic.
        let sender = [7; 16];
        registry.apply(
            RegistryInput::FailedOnBehalf { wire, sender },
            Timestamp::from_nanos(2),
        );
    }
    // Wire v2's bundles (`vigil_heartbeat_bundles`): each entry as the
    // single heartbeat it stands for, validated and applied as one.
    if let Ok(bundle) = CDRDeserializerAdapter::<HeartbeatBundleWire>::from_bytes(data, le) {
        if let Ok(beats) = bundle.heartbeats() {
            for wire in beats {
                if let Ok(heartbeat) = Heartbeat::from_wire(&wire) {
                    let again = Heartbeat::from_wire(&heartbeat.to_wire())
                        .expect("a valid bundled heartbeat re-encodes");
                    assert_eq!(again, heartbeat, "a bundled heartbeat must round-trip");
                }
                let sender = [7; 16];
                registry.apply(
                    RegistryInput::HeartbeatFrom { wire, sender },
                    Timestamp::from_nanos(3),
                );
            }
        }
    }
    if let Ok(wire) = CDRDeserializerAdapter::<ConsumerRouteWire>::from_bytes(data, le) {
        if let Ok(route) = ConsumerRoute::from_wire(&wire) {
            let again = ConsumerRoute::from_wire(&route.to_wire()).expect("a valid route re-encodes");
            assert_eq!(again, route, "a consumer route must round-trip");
        }
    }
});
