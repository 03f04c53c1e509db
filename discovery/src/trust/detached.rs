//! Ed25519 signatures over bytes that are no vigil DDS message: a Zenoh
//! producer's JSON advert, checked by the Zenoh bridge. The signature
//! covers a domain label the caller names, then the bytes, so that no
//! other message signed with the same key can pass for one of these.

use ed25519_dalek::{Signature, Signer as _};

use super::{KeyPair, PublicKey, Refusal, Verifier};

/// Signs `message` under `domain` with `key`.
pub fn sign_detached(key: &KeyPair, domain: &[u8], message: &[u8]) -> [u8; 64] {
    key.signing().sign(&labelled(domain, message)).to_bytes()
}

fn labelled(domain: &[u8], message: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(domain.len() + message.len());
    bytes.extend_from_slice(domain);
    bytes.extend_from_slice(message);
    bytes
}

impl Verifier {
    /// Verifies a [`sign_detached`] signature (strictly: no malleable or
    /// small-order forms); a [`Refusal::BadSignature`] saying what is
    /// wrong otherwise.
    pub fn verify_detached(
        &self,
        key: &PublicKey,
        domain: &[u8],
        message: &[u8],
        signature: &[u8; 64],
    ) -> Result<(), (Refusal, String)> {
        let bad = |why: String| (Refusal::BadSignature, why);
        let decoded = self.key(key).map_err(bad)?;
        decoded
            .verify_strict(
                &labelled(domain, message),
                &Signature::from_bytes(signature),
            )
            .map_err(|_| bad(format!("the signature does not verify with key {key}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_under_its_domain_only_and_with_its_key_only() {
        let key = KeyPair::from_seed([4; 32]);
        let signature = sign_detached(&key, b"a\0", b"payload");
        let verifier = Verifier::new();
        assert!(verifier
            .verify_detached(&key.public(), b"a\0", b"payload", &signature)
            .is_ok());
        for (domain, message) in [(&b"b\0"[..], &b"payload"[..]), (b"a\0", b"payloaD")] {
            let (reason, _) = verifier
                .verify_detached(&key.public(), domain, message, &signature)
                .unwrap_err();
            assert_eq!(reason, Refusal::BadSignature);
        }
        let other = KeyPair::from_seed([5; 32]).public();
        assert!(verifier
            .verify_detached(&other, b"a\0", b"payload", &signature)
            .is_err());
    }
}
