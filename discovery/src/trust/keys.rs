//! Ed25519 keys: the key pair a producer signs with and the public keys a
//! trust policy lists, in the files `vigil keygen` writes (PKCS#8 and SPKI
//! PEM, as openssl writes them) or as raw base64.

use std::fmt;

use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use thiserror::Error;

/// Why a key could not be read or made.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is neither a PEM key of the expected kind nor 32 bytes of
    /// base64.
    #[error("{what}: {why}")]
    Unreadable {
        /// Which key (a file name, `base64 key`).
        what: String,
        /// What is wrong with it.
        why: String,
    },
    /// The system's random source failed.
    #[error("no randomness for a new key: {0}")]
    Random(String),
}

/// A producer's Ed25519 key pair.
#[derive(Clone)]
pub struct KeyPair {
    signing: SigningKey,
}

impl fmt::Debug for KeyPair {
    /// The public half only: a secret never goes into a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// A new random key pair.
    pub fn generate() -> Result<KeyPair, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(KeyPair {
            signing: SigningKey::from_bytes(&seed),
        })
    }

    /// From a 32-byte secret seed (tests, benchmarks).
    pub fn from_seed(seed: [u8; 32]) -> KeyPair {
        KeyPair {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// Reads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`);
    /// `what` names it in errors.
    pub fn from_pem(text: &str, what: &str) -> Result<KeyPair, KeyError> {
        let signing = SigningKey::from_pkcs8_pem(text).map_err(|e| KeyError::Unreadable {
            what: what.to_owned(),
            why: format!("not an Ed25519 PKCS#8 PEM private key ({e})"),
        })?;
        Ok(KeyPair { signing })
    }

    /// The private key as PKCS#8 PEM, for the `.key` file: the version 1
    /// form of RFC 8410 (the seed alone), which OpenSSL 3.0 and Python's
    /// `cryptography` read; the version 2 form (with the public key) that
    /// `SigningKey` writes by default they refuse. Both are read here.
    pub fn to_pem(&self) -> Result<String, KeyError> {
        ed25519_dalek::pkcs8::KeypairBytes {
            secret_key: self.signing.to_bytes(),
            public_key: None,
        }
        .to_pkcs8_pem(Default::default())
        .map(|pem| pem.to_string())
        .map_err(|e| KeyError::Unreadable {
            what: "a new key".into(),
            why: e.to_string(),
        })
    }

    /// Its public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key().to_bytes())
    }

    pub(crate) fn signing(&self) -> &SigningKey {
        &self.signing
    }
}

/// An Ed25519 public key (32 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(pub [u8; 32]);

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl fmt::Display for PublicKey {
    /// Standard base64, as the trust file takes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&base64::engine::general_purpose::STANDARD.encode(self.0))
    }
}

impl PublicKey {
    /// Reads an SPKI PEM public key (`-----BEGIN PUBLIC KEY-----`, what
    /// `vigil keygen` and `openssl pkey -pubout` write) or 32 bytes in
    /// standard base64; `what` names it in errors.
    pub fn parse(text: &str, what: &str) -> Result<PublicKey, KeyError> {
        let text = text.trim();
        let unreadable = |why: String| KeyError::Unreadable {
            what: what.to_owned(),
            why,
        };
        if text.starts_with("-----BEGIN") {
            let key = VerifyingKey::from_public_key_pem(text)
                .map_err(|e| unreadable(format!("not an Ed25519 SPKI PEM public key ({e})")))?;
            return Ok(PublicKey(key.to_bytes()));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| unreadable(format!("neither PEM nor base64 ({e})")))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            unreadable(format!(
                "base64 of {} bytes; an Ed25519 public key is 32",
                b.len()
            ))
        })?;
        // Not every 32 bytes are a point of the curve.
        VerifyingKey::from_bytes(&bytes)
            .map_err(|_| unreadable("not a valid Ed25519 public key".into()))?;
        Ok(PublicKey(bytes))
    }

    /// As SPKI PEM, for the `.pub` file.
    pub fn to_pem(&self) -> Result<String, KeyError> {
        let unreadable = |why: String| KeyError::Unreadable {
            what: "a public key".into(),
            why,
        };
        let key = VerifyingKey::from_bytes(&self.0).map_err(|e| unreadable(e.to_string()))?;
        key.to_public_key_pem(Default::default())
            .map_err(|e| unreadable(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_and_base64_round_trip() {
        let pair = KeyPair::from_seed([7; 32]);
        let pem = pair.to_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let back = KeyPair::from_pem(&pem, "k").unwrap();
        assert_eq!(back.public(), pair.public());
        let public = pair.public();
        let pub_pem = public.to_pem().unwrap();
        assert!(pub_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
        assert_eq!(PublicKey::parse(&pub_pem, "p").unwrap(), public);
        assert_eq!(PublicKey::parse(&public.to_string(), "p").unwrap(), public);
    }

    #[test]
    fn the_private_key_file_is_pkcs8_version_1() {
        // RFC 8410's example form: SEQUENCE { INTEGER 0, AlgorithmIdentifier
        // { 1.3.101.112 }, OCTET STRING { OCTET STRING seed } }, 48 bytes.
        let pem = KeyPair::from_seed([7; 32]).to_pem().unwrap();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        assert_eq!(der.len(), 48, "{pem}");
        assert_eq!(&der[..5], &[0x30, 0x2e, 0x02, 0x01, 0x00]);
        // A version 2 file (what earlier builds wrote) still reads.
        let v2 = KeyPair::from_seed([7; 32])
            .signing
            .to_pkcs8_pem(Default::default())
            .unwrap();
        assert_eq!(
            KeyPair::from_pem(&v2, "old.key").unwrap().public(),
            KeyPair::from_seed([7; 32]).public()
        );
    }

    #[test]
    fn bad_keys_say_what_and_why() {
        let e = PublicKey::parse("aGVsbG8=", "imu.pub")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("imu.pub: base64 of 5 bytes"), "{e}");
        let e = PublicKey::parse("not base64!", "k")
            .unwrap_err()
            .to_string();
        assert!(e.contains("neither PEM nor base64"), "{e}");
        let e = KeyPair::from_pem(
            "-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----",
            "a.key",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("a.key: not an Ed25519 PKCS#8"), "{e}");
    }
}
