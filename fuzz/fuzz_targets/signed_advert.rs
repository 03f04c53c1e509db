//! Signed adverts and chained heartbeats from any participant (issue 13):
//! the bytes of a sample decoded as the DDS shell decodes them, the
//! signature opened and verified, the advert fed to a registry enforcing a
//! trust policy that lists the seed's key, then the same bytes as a
//! heartbeat (its `auth` decoded and checked against the held chain), and
//! as a supervisor's FAILED-on-behalf word (its signature opened and
//! verified, the word applied under the policy). Nothing may panic, and
//! whatever the registry accepted must verify.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rustdds::no_key::DeserializerAdapter;
use rustdds::{CDRDeserializerAdapter, RepresentationIdentifier};
use vigil_diag::Timestamp;
use vigil_discovery::{
    AdvertKey, AdvertWire, FailedOnBehalfWire, HeartbeatAuth, HeartbeatWire, KeyPair, Registry,
    RegistryConfig, RegistryInput, TrustMode, TrustPolicy, TrustedKey, Verifier,
};

fuzz_target!(|data: &[u8]| {
    let le = RepresentationIdentifier::CDR_LE;
    let registry = Registry::new(RegistryConfig::default());
    // The key the seeds are signed with.
    let key = KeyPair::from_seed([13; 32]).public();
    registry.set_policy(TrustPolicy::new(
        TrustMode::Enforce,
        vec![TrustedKey::new("seed", key).advertising(&["*"], &[])],
    ));
    let sender = [1; 16];
    if let Ok(wire) = CDRDeserializerAdapter::<AdvertWire>::from_bytes(data, le) {
        let verdict = Verifier::new().verify_advert(&wire);
        registry.apply(
            RegistryInput::AdvertFrom {
                wire: wire.clone(),
                sender,
            },
            Timestamp::from_nanos(1),
        );
        let held = registry.get(&AdvertKey::new(wire.key.producer.clone(), wire.key.topic.clone()));
        if held.is_some() {
            assert!(
                matches!(verdict, Ok(Some(_))),
                "enforce accepted an advert that does not verify"
            );
        }
    }
    if let Ok(wire) = CDRDeserializerAdapter::<HeartbeatWire>::from_bytes(data, le) {
        let _ = HeartbeatAuth::decode(&wire.auth);
        registry.apply(
            RegistryInput::HeartbeatFrom { wire, sender },
            Timestamp::from_nanos(2),
        );
    }
    if let Ok(wire) = CDRDeserializerAdapter::<FailedOnBehalfWire>::from_bytes(data, le) {
        let _ = Verifier::new().verify_failed_on_behalf(&wire);
        registry.apply(
            RegistryInput::FailedOnBehalf { wire, sender },
            Timestamp::from_nanos(3),
        );
    }
});
