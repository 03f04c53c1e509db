//! Ed25519 signatures over adverts (in [`AdvertWire::signature`]), and
//! their verification with a cache of decoded keys.
//!
//! The signature field holds `tag (1) | public key (32) | heartbeat chain
//! anchor (32) | signature (64)`. The signature covers a domain label, the
//! anchor, and the CDR encoding (little endian) of the whole advert with an
//! empty signature field: every field a consumer acts on, the producer id
//! and topic, the sequence and the timestamp. The key travels with the
//! advert so that a receiver without a trust policy can still tell that a
//! restarted producer holds the same key (no hijacking) and a policy is
//! looked up by key, not by a name the sender chose.

use std::collections::HashMap;
use std::sync::Mutex;

use ed25519_dalek::{Signature, Signer as _, VerifyingKey};
use rustdds::no_key::SerializerAdapter;
use rustdds::CDRSerializerAdapter;

use super::{KeyPair, PublicKey, Refusal};
use crate::wire::AdvertWire;

/// Bytes of a signed advert's `signature` field.
pub const ADVERT_SIGNATURE_LEN: usize = 1 + 32 + 32 + 64;

/// `signature` tag of this layout.
const SIGNATURE_TAG: u8 = 1;

/// What the signature covers first, so that no other vigil message signed
/// with the same key can pass for an advert.
const ADVERT_DOMAIN: &[u8] = b"vigil/advert/1\0";

/// What a verified advert proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdvertProof {
    /// The key that signed it.
    pub key: PublicKey,
    /// The anchor of its heartbeats' hash chain.
    pub anchor: [u8; 32],
}

/// The decoded signature field (not yet verified).
struct Opened {
    key: PublicKey,
    anchor: [u8; 32],
    signature: Signature,
}

fn open(field: &[u8]) -> Result<Option<Opened>, String> {
    if field.is_empty() {
        return Ok(None);
    }
    if field.len() != ADVERT_SIGNATURE_LEN || field[0] != SIGNATURE_TAG {
        return Err(format!(
            "signature field of {} bytes with tag {}; expected {ADVERT_SIGNATURE_LEN} bytes, tag {SIGNATURE_TAG}",
            field.len(),
            field[0]
        ));
    }
    let mut key = [0; 32];
    key.copy_from_slice(&field[1..33]);
    let mut anchor = [0; 32];
    anchor.copy_from_slice(&field[33..65]);
    let mut signature = [0; 64];
    signature.copy_from_slice(&field[65..129]);
    Ok(Some(Opened {
        key: PublicKey(key),
        anchor,
        signature: Signature::from_bytes(&signature),
    }))
}

/// The bytes an advert's signature covers.
pub(crate) fn advert_message(wire: &AdvertWire, anchor: &[u8; 32]) -> Result<Vec<u8>, String> {
    let unsigned = AdvertWire {
        signature: Vec::new(),
        ..wire.clone()
    };
    let body = CDRSerializerAdapter::<AdvertWire>::to_bytes(&unsigned)
        .map_err(|e| format!("the advert does not encode: {e}"))?;
    let mut message = Vec::with_capacity(ADVERT_DOMAIN.len() + 32 + body.len());
    message.extend_from_slice(ADVERT_DOMAIN);
    message.extend_from_slice(anchor);
    message.extend_from_slice(&body);
    Ok(message)
}

/// Signs `wire` in place with `key`, committing to the heartbeat chain
/// `anchor`.
pub fn sign_advert(wire: &mut AdvertWire, key: &KeyPair, anchor: [u8; 32]) -> Result<(), String> {
    let message = advert_message(wire, &anchor)?;
    let signature = key.signing().sign(&message);
    let mut field = Vec::with_capacity(ADVERT_SIGNATURE_LEN);
    field.push(SIGNATURE_TAG);
    field.extend_from_slice(&key.public().0);
    field.extend_from_slice(&anchor);
    field.extend_from_slice(&signature.to_bytes());
    wire.signature = field;
    Ok(())
}

/// Most keys a [`Verifier`] keeps decoded; past it the cache starts again
/// (a flood of made-up keys cannot grow it without bound).
const KEY_CACHE_MAX: usize = 4096;

/// Verifies advert signatures, keeping the keys it decoded (decoding a key
/// is a point decompression, a good part of a verification's cost).
#[derive(Debug, Default)]
pub struct Verifier {
    keys: Mutex<HashMap<[u8; 32], VerifyingKey>>,
    /// Signature fields already verified, with the message each covered:
    /// a producer repeats its advert unchanged every second (issue 14),
    /// and the same bytes over the same message need no second
    /// verification (tens of microseconds each, 1 000 a second with 1 000
    /// producers). Bounded like `keys`.
    verified: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
}

impl Verifier {
    /// A verifier with an empty cache.
    pub fn new() -> Verifier {
        Verifier::default()
    }

    pub(super) fn key(&self, key: &PublicKey) -> Result<VerifyingKey, String> {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = keys.get(&key.0) {
            return Ok(*k);
        }
        let decoded = VerifyingKey::from_bytes(&key.0)
            .map_err(|_| format!("{key} is not a valid Ed25519 public key"))?;
        if keys.len() >= KEY_CACHE_MAX {
            keys.clear();
        }
        keys.insert(key.0, decoded);
        Ok(decoded)
    }

    /// Verifies `wire`'s signature: `Ok(None)` when it has none, the proof
    /// when it verifies (strictly: no malleable or small-order forms), a
    /// [`Refusal::BadSignature`] with what is wrong otherwise.
    pub fn verify_advert(
        &self,
        wire: &AdvertWire,
    ) -> Result<Option<AdvertProof>, (Refusal, String)> {
        let bad = |why: String| (Refusal::BadSignature, why);
        let Some(opened) = open(&wire.signature).map_err(bad)? else {
            return Ok(None);
        };
        let proof = AdvertProof {
            key: opened.key,
            anchor: opened.anchor,
        };
        let message = advert_message(wire, &opened.anchor).map_err(bad)?;
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.get(&wire.signature) == Some(&message) {
            return Ok(Some(proof));
        }
        drop(verified);
        let key = self.key(&opened.key).map_err(bad)?;
        key.verify_strict(&message, &opened.signature)
            .map_err(|_| {
                bad(format!(
                    "the signature does not verify with key {}",
                    opened.key
                ))
            })?;
        verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.len() >= KEY_CACHE_MAX {
            verified.clear();
        }
        verified.insert(wire.signature.clone(), message);
        Ok(Some(proof))
    }

    /// Verifies many adverts in one batch (cheaper per item than one by
    /// one; all-or-nothing: on failure, verify them one by one to find the
    /// bad ones). Unsigned adverts fail the batch.
    pub fn verify_batch(&self, wires: &[&AdvertWire]) -> Result<(), String> {
        let mut messages = Vec::with_capacity(wires.len());
        let mut signatures = Vec::with_capacity(wires.len());
        let mut keys = Vec::with_capacity(wires.len());
        for wire in wires {
            let opened = open(&wire.signature)?.ok_or("an unsigned advert")?;
            messages.push(advert_message(wire, &opened.anchor)?);
            signatures.push(opened.signature);
            keys.push(self.key(&opened.key)?);
        }
        let messages: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        ed25519_dalek::verify_batch(&messages, &signatures, &keys)
            .map_err(|_| "a signature of the batch does not verify".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{AdvertKeyWire, HealthWire, OfferedQosWire, NOT_SET, WIRE_VERSION};

    pub(crate) fn wire() -> AdvertWire {
        AdvertWire {
            version: WIRE_VERSION,
            key: AdvertKeyWire {
                producer: "imu_a".into(),
                topic: "imu".into(),
            },
            type_name: "t".into(),
            writer_guid: vec![1; 16],
            capabilities: vec![],
            qos: OfferedQosWire::default(),
            diagnostic_root: String::new(),
            health: HealthWire {
                state: 0,
                reason: NOT_SET,
                confidence: 1.0,
                trend: 0,
                nodes: vec![],
            },
            heartbeat_period_ns: 20,
            lease_ns: 100,
            sequence: 3,
            timestamp_ns: 4,
            signature: vec![],
            supervisor: vec![],
        }
    }

    #[test]
    fn signed_verifies_and_any_changed_field_does_not() {
        let key = KeyPair::from_seed([1; 32]);
        let mut w = wire();
        sign_advert(&mut w, &key, [9; 32]).unwrap();
        let verifier = Verifier::new();
        let proof = verifier.verify_advert(&w).unwrap().unwrap();
        assert_eq!(proof.key, key.public());
        assert_eq!(proof.anchor, [9; 32]);
        verifier.verify_batch(&[&w, &w]).unwrap();
        type Change = Box<dyn Fn(&mut AdvertWire)>;
        let changes: Vec<Change> = vec![
            Box::new(|w| w.key.producer = "imu_b".into()),
            Box::new(|w| w.key.topic = "gps".into()),
            Box::new(|w| w.sequence += 1),
            Box::new(|w| w.timestamp_ns += 1),
            Box::new(|w| w.health.confidence = 0.5),
            Box::new(|w| w.writer_guid[0] = 7),
            Box::new(|w| w.supervisor = vec![1; 12]),
            Box::new(|w| w.signature[40] ^= 1), // the anchor
            Box::new(|w| w.signature[100] ^= 1),
        ];
        for change in changes {
            let mut forged = w.clone();
            change(&mut forged);
            let (reason, _) = verifier.verify_advert(&forged).unwrap_err();
            assert_eq!(reason, Refusal::BadSignature);
            assert!(verifier.verify_batch(&[&w, &forged]).is_err());
        }
        assert_eq!(verifier.verify_advert(&wire()).unwrap(), None);
        // Verified again from the cache: the same answer.
        assert_eq!(verifier.verify_advert(&w).unwrap().unwrap(), proof);
        // The cached signature field over another message still fails.
        let mut other = w.clone();
        other.sequence += 7;
        assert!(verifier.verify_advert(&other).is_err());
        let mut short = wire();
        short.signature = vec![1; 10];
        assert!(verifier.verify_advert(&short).is_err());
    }

    /// The fuzz seed of `signed_advert` is a real signed encoding (by the
    /// key the fuzz target's policy lists); Ed25519 signatures are
    /// deterministic, so it is rebuilt exactly. `VIGIL_WRITE_SEEDS=1`
    /// rewrites it.
    #[test]
    fn signed_advert_seed_is_a_real_encoding() {
        use rustdds::no_key::DeserializerAdapter;
        use rustdds::{CDRDeserializerAdapter, RepresentationIdentifier};
        let mut w = wire();
        sign_advert(&mut w, &KeyPair::from_seed([13; 32]), [5; 32]).unwrap();
        let bytes = CDRSerializerAdapter::<AdvertWire>::to_bytes(&w)
            .unwrap()
            .to_vec();
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fuzz/seeds/signed_advert/signed.bin"
        );
        if std::env::var_os("VIGIL_WRITE_SEEDS").is_some() {
            std::fs::write(path, &bytes).unwrap();
        }
        assert_eq!(std::fs::read(path).unwrap(), bytes);
        let back = CDRDeserializerAdapter::<AdvertWire>::from_bytes(
            &bytes,
            RepresentationIdentifier::CDR_LE,
        )
        .unwrap();
        assert!(Verifier::new().verify_advert(&back).unwrap().is_some());
    }
}
