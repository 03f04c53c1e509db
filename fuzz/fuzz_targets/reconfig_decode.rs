//! Isolations and modes from any participant on the domain (issue 10): the
//! bytes of a sample on `vigil_isolation` / `vigil_mode`, decoded exactly
//! as the DDS shell's readers decode them (rustdds's CDR deserializer,
//! little endian), then validated; an isolation is fed to a registry
//! holding an advert of the producer it names, which must not panic and
//! must hold that producer FAILED exactly while it is isolated. A
//! capability override (`vigil_capability_overrides`) likewise: held
//! exactly when valid and not empty. Each input is tried as every type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rustdds::no_key::DeserializerAdapter;
use rustdds::{CDRDeserializerAdapter, RepresentationIdentifier};
use vigil_diag::{State, Timestamp};
use vigil_discovery::reconfig::{CapabilityOverrideWire, IsolationWire, ModeWire};
use vigil_discovery::{Advert, AdvertKey, HealthSummary, Registry, RegistryConfig, RegistryInput};

fn advert(producer: &str) -> Advert {
    Advert {
        key: AdvertKey::new(producer, "imu"),
        type_name: "t".into(),
        writer_guid: [1; 16],
        capabilities: Default::default(),
        qos: Default::default(),
        diagnostic_root: None,
        health: HealthSummary {
            state: State::Ok,
            reason: None,
            confidence: 1.0,
            trend: vigil_diag::Trend::Stable,
            nodes: Default::default(),
        },
        heartbeat_period: std::time::Duration::from_millis(20),
        lease: std::time::Duration::from_secs(10),
        sequence: 1,
        timestamp_ns: 1,
        supervisor: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let le = RepresentationIdentifier::CDR_LE;
    if let Ok(wire) = CDRDeserializerAdapter::<ModeWire>::from_bytes(data, le) {
        let _ = wire.validate();
    }
    if let Ok(wire) = CDRDeserializerAdapter::<IsolationWire>::from_bytes(data, le) {
        let valid = wire.validate().is_ok();
        let registry = Registry::new(RegistryConfig::default());
        let producer = wire.producer.clone();
        // An advert of the producer named (when it is a valid one).
        registry.apply(RegistryInput::Advert(advert(&producer).to_wire()), Timestamp::from_nanos(0));
        let isolated = wire.isolated;
        registry.apply(RegistryInput::Isolation(wire), Timestamp::from_nanos(1));
        if valid {
            assert_eq!(registry.isolated(&producer).is_some(), isolated);
            if let Some(entry) = registry.get(&AdvertKey::new(producer, "imu")) {
                assert_eq!(entry.health.state == State::Failed, isolated);
            }
        } else {
            assert!(registry.isolated(&producer).is_none(), "a refused one holds nothing");
        }
    }
    if let Ok(wire) = CDRDeserializerAdapter::<CapabilityOverrideWire>::from_bytes(data, le) {
        let held = wire.validate().ok().filter(|values| !values.is_empty());
        let registry = Registry::new(RegistryConfig::default());
        let producer = wire.producer.clone();
        registry.apply(RegistryInput::Advert(advert(&producer).to_wire()), Timestamp::from_nanos(0));
        registry.apply(RegistryInput::CapabilityOverride(wire), Timestamp::from_nanos(1));
        assert_eq!(
            registry.capability_overrides(&producer).as_deref(),
            held.as_ref(),
            "held exactly when valid and not empty"
        );
    }
});
