//! Adverts and heartbeats from any participant on the domain: the bytes of a
//! sample on `vigil_adverts` / `vigil_heartbeats`, decoded exactly as the
//! DDS shell's readers decode them (rustdds's CDR deserializer, little
//! endian), then validated by `Advert::from_wire` / `Heartbeat::from_wire`.
//! Arbitrary bytes never panic nor allocate from an untrusted length, and
//! whatever validates goes back to the wire and validates the same.
//!
//! Each input is tried as both types, so one seed set (real encodings of
//! each) serves both.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rustdds::no_key::DeserializerAdapter;
use rustdds::{CDRDeserializerAdapter, RepresentationIdentifier};
use vigil_discovery::{Advert, AdvertWire, Heartbeat, HeartbeatWire};

fuzz_target!(|data: &[u8]| {
    let le = RepresentationIdentifier::CDR_LE;
    if let Ok(wire) = CDRDeserializerAdapter::<AdvertWire>::from_bytes(data, le) {
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
});
