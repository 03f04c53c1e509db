//! The heartbeat hash chain: heartbeats authenticated at the cost of one
//! SHA-256 each.
//!
//! An Ed25519 verification costs tens of microseconds; 1 000 producers at
//! 50 Hz are 50 000 heartbeats a second, more than a whole core even with
//! batch verification (BENCHMARKS.md). Instead the producer draws a random
//! seed `s`, computes `e_k = H^k(s)` for `k = 0..=N` and puts the anchor
//! `e_N` into its *signed* advert. Heartbeat `i` reveals `e_{N-i}`; a
//! receiver that last verified `e_j` checks `H^{i-j}(e_{N-i}) == e_{N-j}`:
//! only the holder of the seed can give the next element, and an element
//! already seen cannot be given again (the index only rises), so a
//! replayed heartbeat is refused. When the chain runs out the producer
//! draws a new one and re-signs its advert (one Ed25519 verification per
//! `N` heartbeats).
//!
//! What it does not cover: the heartbeat's other fields (its state) are
//! not bound to the element; someone who can both suppress the producer's
//! heartbeat and send their own first could change its state once. The
//! advert, which says what a consumer ranks on, is signed in full.

use sha2::{Digest, Sha256};

use super::Refusal;

/// Elements per chain: 4 096 heartbeats (82 s at 50 Hz, 7 minutes at
/// 10 Hz) per advert signature; a receiver joining late catches up with at
/// most that many hashes (about half a millisecond), once.
pub const CHAIN_LEN: u32 = 4096;

/// Elements between the producer's stored checkpoints: it keeps
/// `CHAIN_LEN / SEGMENT` checkpoints and one segment (4 KiB in all), not
/// the whole chain.
const SEGMENT: u32 = 64;

/// The bytes of a heartbeat's `auth` field: a tag, the chain id (the
/// anchor's first 8 bytes), the index, the element.
pub const HEARTBEAT_AUTH_LEN: usize = 1 + 8 + 4 + 32;

/// `auth` tag of this layout.
const AUTH_TAG: u8 = 1;

fn hash(x: &[u8; 32]) -> [u8; 32] {
    Sha256::digest(x).into()
}

fn hash_n(mut x: [u8; 32], n: u32) -> [u8; 32] {
    for _ in 0..n {
        x = hash(&x);
    }
    x
}

/// The producer's side: hands out the chain's elements from the anchor
/// down.
#[derive(Clone)]
pub struct HashChain {
    /// `e_{m * SEGMENT}` for each `m`.
    checkpoints: Vec<[u8; 32]>,
    anchor: [u8; 32],
    /// The segment in `segment`, and its elements.
    segment_at: Option<u32>,
    segment: Vec<[u8; 32]>,
    /// The index of the next heartbeat (1 for the first).
    next: u32,
}

impl std::fmt::Debug for HashChain {
    /// The anchor and position only: the elements not yet given are the
    /// secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashChain")
            .field("id", &chain_id(&self.anchor))
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl HashChain {
    /// A chain from `seed` (random in use: [`HashChain::random`]).
    pub fn from_seed(seed: [u8; 32]) -> HashChain {
        let mut checkpoints = Vec::with_capacity((CHAIN_LEN / SEGMENT) as usize);
        let mut x = seed;
        for k in 0..CHAIN_LEN {
            if k % SEGMENT == 0 {
                checkpoints.push(x);
            }
            x = hash(&x);
        }
        HashChain {
            checkpoints,
            anchor: x,
            segment_at: None,
            segment: Vec::with_capacity(SEGMENT as usize),
            next: 1,
        }
    }

    /// A chain from a random seed.
    pub fn random() -> Result<HashChain, super::KeyError> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| super::KeyError::Random(e.to_string()))?;
        Ok(HashChain::from_seed(seed))
    }

    /// `e_N`, what the signed advert commits to.
    pub fn anchor(&self) -> [u8; 32] {
        self.anchor
    }

    /// Whether every element was given: a new chain (and a re-signed
    /// advert) is due.
    pub fn exhausted(&self) -> bool {
        self.next > CHAIN_LEN
    }

    /// The `auth` bytes of the next heartbeat; `None` once exhausted.
    pub fn next_auth(&mut self) -> Option<Vec<u8>> {
        if self.exhausted() {
            return None;
        }
        let i = self.next;
        self.next += 1;
        let k = CHAIN_LEN - i;
        let m = k / SEGMENT;
        if self.segment_at != Some(m) {
            self.segment.clear();
            let mut x = self.checkpoints[m as usize];
            for _ in 0..SEGMENT {
                self.segment.push(x);
                x = hash(&x);
            }
            self.segment_at = Some(m);
        }
        let element = self.segment[(k % SEGMENT) as usize];
        let mut auth = Vec::with_capacity(HEARTBEAT_AUTH_LEN);
        auth.push(AUTH_TAG);
        auth.extend_from_slice(&chain_id(&self.anchor));
        auth.extend_from_slice(&i.to_le_bytes());
        auth.extend_from_slice(&element);
        Some(auth)
    }
}

/// The id of the chain with this anchor, as heartbeats name it.
pub fn chain_id(anchor: &[u8; 32]) -> [u8; 8] {
    let mut id = [0; 8];
    id.copy_from_slice(&anchor[..8]);
    id
}

/// A heartbeat's `auth`, decoded (never trusted: see [`ChainCheck`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeartbeatAuth {
    /// Which chain.
    pub chain: [u8; 8],
    /// Which heartbeat of it.
    pub index: u32,
    /// The element it reveals.
    pub element: [u8; 32],
}

impl HeartbeatAuth {
    /// Decodes `auth`; `None` when empty (unsigned), an error when it is
    /// not this layout.
    pub fn decode(auth: &[u8]) -> Result<Option<HeartbeatAuth>, String> {
        if auth.is_empty() {
            return Ok(None);
        }
        if auth.len() != HEARTBEAT_AUTH_LEN || auth[0] != AUTH_TAG {
            return Err(format!(
                "heartbeat auth of {} bytes with tag {}; expected {HEARTBEAT_AUTH_LEN} bytes, tag {AUTH_TAG}",
                auth.len(),
                auth[0]
            ));
        }
        let mut chain = [0; 8];
        chain.copy_from_slice(&auth[1..9]);
        let mut index = [0; 4];
        index.copy_from_slice(&auth[9..13]);
        let mut element = [0; 32];
        element.copy_from_slice(&auth[13..45]);
        Ok(Some(HeartbeatAuth {
            chain,
            index: u32::from_le_bytes(index),
            element,
        }))
    }
}

/// The receiver's side for one advert: the last element verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainCheck {
    id: [u8; 8],
    index: u32,
    element: [u8; 32],
}

impl ChainCheck {
    /// Starts at the anchor a verified advert committed to.
    pub fn new(anchor: [u8; 32]) -> ChainCheck {
        ChainCheck {
            id: chain_id(&anchor),
            index: 0,
            element: anchor,
        }
    }

    /// Whether `auth` is of this chain (a producer with several topics
    /// runs one chain per topic, all under one producer id).
    pub fn is_of(&self, auth: &HeartbeatAuth) -> bool {
        auth.chain == self.id
    }

    /// Verifies the next heartbeat of this chain and moves on to it.
    pub fn verify(&mut self, auth: &HeartbeatAuth) -> Result<(), Refusal> {
        if auth.index <= self.index {
            return Err(Refusal::Replayed);
        }
        if auth.index > CHAIN_LEN {
            return Err(Refusal::BadSignature);
        }
        if hash_n(auth.element, auth.index - self.index) != self.element {
            return Err(Refusal::BadSignature);
        }
        self.index = auth.index;
        self.element = auth.element;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_element_verifies_in_order_with_gaps_and_nothing_twice() {
        let mut chain = HashChain::from_seed([3; 32]);
        let mut check = ChainCheck::new(chain.anchor());
        let mut n = 0;
        while let Some(auth) = chain.next_auth() {
            n += 1;
            let auth = HeartbeatAuth::decode(&auth).unwrap().unwrap();
            assert!(check.is_of(&auth));
            // Every third one is lost on the way.
            if n % 3 == 0 {
                continue;
            }
            assert_eq!(check.verify(&auth), Ok(()), "index {}", auth.index);
            assert_eq!(check.verify(&auth), Err(Refusal::Replayed));
        }
        assert_eq!(n, CHAIN_LEN);
        assert!(chain.exhausted());
    }

    #[test]
    fn a_forged_element_fails() {
        let mut chain = HashChain::from_seed([3; 32]);
        let mut check = ChainCheck::new(chain.anchor());
        let mut auth = HeartbeatAuth::decode(&chain.next_auth().unwrap())
            .unwrap()
            .unwrap();
        auth.element[0] ^= 1;
        assert_eq!(check.verify(&auth), Err(Refusal::BadSignature));
        // A late joiner starting at the anchor catches up.
        let late = HeartbeatAuth::decode(&chain.next_auth().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(check.verify(&late), Ok(()));
    }

    #[test]
    fn malformed_auth_is_an_error_not_a_panic() {
        assert_eq!(HeartbeatAuth::decode(&[]), Ok(None));
        assert!(HeartbeatAuth::decode(&[1, 2, 3]).is_err());
        assert!(HeartbeatAuth::decode(&[9; HEARTBEAT_AUTH_LEN]).is_err());
    }
}
