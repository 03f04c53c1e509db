//! Signed JSON adverts on Zenoh (issue 13): the signature is carried in
//! the advert itself, as its last member, and covers the advert as its
//! producer wrote it without that member. No canonical JSON is needed:
//! the bytes signed are the bytes sent, minus the signature's own text,
//! so a producer in any language signs what its JSON library printed.
//!
//! A producer prints its advert (`{...}`, with `timestamp_ns`: when it
//! signed it, so that an older advert sent again is a replay), signs
//! [`ZENOH_ADVERT_DOMAIN`] followed by those bytes with Ed25519, and
//! inserts before the closing brace:
//!
//! ```text
//! ,"signature":"<base64 of public key (32 bytes) then signature (64 bytes)>"
//! ```
//!
//! (without the comma when the object was empty). A payload that ends so
//! is signed; the signed bytes are the payload with that text removed.

use base64::Engine as _;
use vigil_discovery::{sign_detached, KeyPair, PublicKey};

/// What a Zenoh advert's signature covers first.
pub const ZENOH_ADVERT_DOMAIN: &[u8] = b"vigil/zenoh-advert/1\0";

/// The member's text before its value.
const MEMBER: &[u8] = b"\"signature\":\"";
/// Base64 characters of public key and signature (96 bytes).
const VALUE_LEN: usize = 128;

/// A signed payload taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    /// The key it says signed it.
    pub key: PublicKey,
    /// The signature.
    pub signature: [u8; 64],
    /// The bytes the signature covers (after [`ZENOH_ADVERT_DOMAIN`]).
    pub message: Vec<u8>,
}

/// Signs the JSON object `json` (as printed) with `key`: the text with the
/// signature member appended.
pub fn sign_json(json: &str, key: &KeyPair) -> String {
    let trimmed = json.trim_end();
    let signature = sign_detached(key, ZENOH_ADVERT_DOMAIN, trimmed.as_bytes());
    let mut value = Vec::with_capacity(96);
    value.extend_from_slice(&key.public().0);
    value.extend_from_slice(&signature);
    let value = base64::engine::general_purpose::STANDARD.encode(value);
    let body = trimmed.strip_suffix('}').unwrap_or(trimmed);
    let empty = body.trim_end().ends_with('{');
    format!(
        "{body}{}\"signature\":\"{value}\"}}",
        if empty { "" } else { "," }
    )
}

/// Takes a payload apart: `Ok(None)` when it carries no signature member
/// at its end, the key, signature and signed bytes when it does, and an
/// error saying what is wrong with a member that is there but malformed.
pub fn open_signed(payload: &[u8]) -> Result<Option<Signed>, String> {
    let end = payload
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let payload = &payload[..end];
    let Some(body) = payload.strip_suffix(b"\"}") else {
        return Ok(None);
    };
    if body.len() < VALUE_LEN + MEMBER.len() {
        return Ok(None);
    }
    let (head, value) = body.split_at(body.len() - VALUE_LEN);
    let Some(before) = head.strip_suffix(MEMBER) else {
        return Ok(None);
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|e| format!("signature: not base64: {e}"))?;
    let (key, signature) = raw.split_at(32);
    let mut k = [0; 32];
    k.copy_from_slice(key);
    let mut s = [0; 64];
    s.copy_from_slice(signature);
    // The member goes, and the comma before it (or nothing, when it was
    // the only member).
    let kept = before.trim_ascii_end();
    let kept = kept.strip_suffix(b",").unwrap_or(kept);
    let mut message = kept.to_vec();
    message.push(b'}');
    Ok(Some(Signed {
        key: PublicKey(k),
        signature: s,
        message,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_discovery::Verifier;

    fn verify(signed: &Signed) -> bool {
        Verifier::new()
            .verify_detached(
                &signed.key,
                ZENOH_ADVERT_DOMAIN,
                &signed.message,
                &signed.signature,
            )
            .is_ok()
    }

    #[test]
    fn a_signed_advert_opens_to_the_bytes_printed_and_verifies() {
        let key = KeyPair::from_seed([9; 32]);
        let json = r#"{"version": 1, "producer": "imu_z", "timestamp_ns": 5}"#;
        let payload = sign_json(json, &key);
        assert!(payload.starts_with(&json[..json.len() - 1]), "{payload}");
        let value: serde_json::Value = serde_json::from_str(&payload).unwrap();
        assert!(value["signature"].is_string(), "still one JSON object");
        let signed = open_signed(payload.as_bytes()).unwrap().unwrap();
        assert_eq!(signed.message, json.as_bytes());
        assert_eq!(signed.key, key.public());
        assert!(verify(&signed));
        // One byte of the advert changed: the signature no longer holds.
        let forged = payload.replace("imu_z", "imu_y");
        assert!(!verify(&open_signed(forged.as_bytes()).unwrap().unwrap()));
        // An empty object, and trailing whitespace.
        let signed = open_signed(format!("{} \n", sign_json("{}", &key)).as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(signed.message, b"{}");
        assert!(verify(&signed));
    }

    #[test]
    fn unsigned_or_malformed_payloads_say_so() {
        assert_eq!(open_signed(br#"{"producer": "imu_z"}"#), Ok(None));
        assert_eq!(open_signed(b""), Ok(None));
        let bad = format!(r#"{{"a": 1,"signature":"{}"}}"#, "!".repeat(VALUE_LEN));
        assert!(open_signed(bad.as_bytes())
            .unwrap_err()
            .contains("not base64"));
    }
}
