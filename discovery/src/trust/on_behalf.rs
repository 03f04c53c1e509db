//! Signatures over a supervisor's FAILED-on-behalf word (in
//! [`FailedOnBehalfWire::signature`]).
//!
//! The field holds `tag (1) | public key (32) | signature (64)`; the
//! signature covers a domain label and the CDR encoding (little endian) of
//! the message with an empty signature field: the child, the producers,
//! the reason and the timestamp. A participant's GUID prefix says which
//! supervisor an advert names, but anyone on the domain can send with any
//! prefix; the signature says who spoke, and the policy whether that key
//! may speak for the producer (`speaks_for`, or the producer's own key).

use ed25519_dalek::{Signature, Signer as _};
use rustdds::no_key::SerializerAdapter;
use rustdds::CDRSerializerAdapter;

use super::{KeyPair, PublicKey, Refusal, Verifier};
use crate::wire::FailedOnBehalfWire;

/// Bytes of a signed FAILED-on-behalf's `signature` field.
pub const ON_BEHALF_SIGNATURE_LEN: usize = 1 + 32 + 64;

/// `signature` tag of this layout.
const SIGNATURE_TAG: u8 = 1;

/// What the signature covers first, so that no other vigil message signed
/// with the same key (an advert) can pass for this one.
const ON_BEHALF_DOMAIN: &[u8] = b"vigil/failed-on-behalf/1\0";

fn message(wire: &FailedOnBehalfWire) -> Result<Vec<u8>, String> {
    let unsigned = FailedOnBehalfWire {
        signature: Vec::new(),
        ..wire.clone()
    };
    let body = CDRSerializerAdapter::<FailedOnBehalfWire>::to_bytes(&unsigned)
        .map_err(|e| format!("the FAILED-on-behalf message does not encode: {e}"))?;
    let mut message = Vec::with_capacity(ON_BEHALF_DOMAIN.len() + body.len());
    message.extend_from_slice(ON_BEHALF_DOMAIN);
    message.extend_from_slice(&body);
    Ok(message)
}

/// Signs `wire` in place with `key`.
pub fn sign_failed_on_behalf(wire: &mut FailedOnBehalfWire, key: &KeyPair) -> Result<(), String> {
    let message = message(wire)?;
    let signature = key.signing().sign(&message);
    let mut field = Vec::with_capacity(ON_BEHALF_SIGNATURE_LEN);
    field.push(SIGNATURE_TAG);
    field.extend_from_slice(&key.public().0);
    field.extend_from_slice(&signature.to_bytes());
    wire.signature = field;
    Ok(())
}

impl Verifier {
    /// Verifies a FAILED-on-behalf's signature: `Ok(None)` when it has
    /// none, the signer's key when it verifies (strictly), a
    /// [`Refusal::BadSignature`] with what is wrong otherwise.
    pub fn verify_failed_on_behalf(
        &self,
        wire: &FailedOnBehalfWire,
    ) -> Result<Option<PublicKey>, (Refusal, String)> {
        let bad = |why: String| (Refusal::BadSignature, why);
        let field = &wire.signature;
        if field.is_empty() {
            return Ok(None);
        }
        if field.len() != ON_BEHALF_SIGNATURE_LEN || field[0] != SIGNATURE_TAG {
            return Err(bad(format!(
                "signature field of {} bytes with tag {}; expected {ON_BEHALF_SIGNATURE_LEN} bytes, tag {SIGNATURE_TAG}",
                field.len(),
                field[0]
            )));
        }
        let mut key = [0; 32];
        key.copy_from_slice(&field[1..33]);
        let mut signature = [0; 64];
        signature.copy_from_slice(&field[33..97]);
        let signer = PublicKey(key);
        let verifying = self.key(&signer).map_err(bad)?;
        let message = message(wire).map_err(bad)?;
        verifying
            .verify_strict(&message, &Signature::from_bytes(&signature))
            .map_err(|_| bad(format!("the signature does not verify with key {signer}")))?;
        Ok(Some(signer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::WIRE_VERSION;

    fn said() -> FailedOnBehalfWire {
        FailedOnBehalfWire {
            version: WIRE_VERSION,
            child: "imu_child".into(),
            producers: vec!["imu_a".into()],
            reason: "exited: signal 9".into(),
            timestamp_ns: 5,
            signature: vec![],
        }
    }

    #[test]
    fn signed_verifies_and_any_changed_field_does_not() {
        let key = KeyPair::from_seed([3; 32]);
        let mut w = said();
        sign_failed_on_behalf(&mut w, &key).unwrap();
        let verifier = Verifier::new();
        assert_eq!(
            verifier.verify_failed_on_behalf(&w).unwrap(),
            Some(key.public())
        );
        type Change = Box<dyn Fn(&mut FailedOnBehalfWire)>;
        let changes: Vec<Change> = vec![
            Box::new(|w| w.child = "other".into()),
            Box::new(|w| w.producers.push("gps_a".into())),
            Box::new(|w| w.reason = "hung".into()),
            Box::new(|w| w.timestamp_ns += 1),
            Box::new(|w| w.signature[5] ^= 1), // the key
            Box::new(|w| w.signature[90] ^= 1),
            Box::new(|w| w.signature.truncate(40)),
            Box::new(|w| w.signature[0] = 9),
        ];
        for change in changes {
            let mut forged = w.clone();
            change(&mut forged);
            let (reason, _) = verifier.verify_failed_on_behalf(&forged).unwrap_err();
            assert_eq!(reason, Refusal::BadSignature);
        }
        assert_eq!(verifier.verify_failed_on_behalf(&said()).unwrap(), None);
    }

    /// An advert's signature cannot pass for this one: the domains differ.
    #[test]
    fn the_domain_label_is_not_an_adverts() {
        assert_ne!(ON_BEHALF_DOMAIN, b"vigil/advert/1\0".as_slice());
    }
}
