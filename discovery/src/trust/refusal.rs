//! Why an input was refused on trust grounds.

use std::fmt;

use serde::Serialize;

/// Why an advert or heartbeat was refused by the trust rules (as opposed to
/// rejected as malformed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// No signature where the trust policy requires one.
    Unsigned,
    /// A signature that does not verify against the key it names.
    BadSignature,
    /// Signed by a key the trust policy does not list.
    UnknownKey,
    /// Signed by a listed key that may not advertise this producer id or
    /// topic, nor speak for it.
    NotAllowed,
    /// Older than what this producer already said (a captured advert sent
    /// again).
    Replayed,
    /// A producer id that is live and held by another writer, claimed by a
    /// newcomer that does not prove the holder's key.
    Hijack,
}

impl Refusal {
    /// Every reason, in a fixed order (counters, metrics labels).
    pub const ALL: [Refusal; 6] = [
        Refusal::Unsigned,
        Refusal::BadSignature,
        Refusal::UnknownKey,
        Refusal::NotAllowed,
        Refusal::Replayed,
        Refusal::Hijack,
    ];

    /// The reason's name in metrics, JSON and logs (`bad_signature`).
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Unsigned => "unsigned",
            Refusal::BadSignature => "bad_signature",
            Refusal::UnknownKey => "unknown_key",
            Refusal::NotAllowed => "not_allowed",
            Refusal::Replayed => "replayed",
            Refusal::Hijack => "hijack",
        }
    }

    /// Its position in [`Refusal::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Inputs refused since the start, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RefusedStats {
    /// [`Refusal::Unsigned`].
    pub unsigned: u64,
    /// [`Refusal::BadSignature`].
    pub bad_signature: u64,
    /// [`Refusal::UnknownKey`].
    pub unknown_key: u64,
    /// [`Refusal::NotAllowed`].
    pub not_allowed: u64,
    /// [`Refusal::Replayed`].
    pub replayed: u64,
    /// [`Refusal::Hijack`].
    pub hijack: u64,
}

impl RefusedStats {
    /// From counts in [`Refusal::ALL`] order.
    pub fn from_counts(counts: [u64; 6]) -> RefusedStats {
        let [unsigned, bad_signature, unknown_key, not_allowed, replayed, hijack] = counts;
        RefusedStats {
            unsigned,
            bad_signature,
            unknown_key,
            not_allowed,
            replayed,
            hijack,
        }
    }

    /// The count for one reason.
    pub fn get(&self, reason: Refusal) -> u64 {
        match reason {
            Refusal::Unsigned => self.unsigned,
            Refusal::BadSignature => self.bad_signature,
            Refusal::UnknownKey => self.unknown_key,
            Refusal::NotAllowed => self.not_allowed,
            Refusal::Replayed => self.replayed,
            Refusal::Hijack => self.hijack,
        }
    }

    /// Counts one more for `reason`.
    pub fn count(&mut self, reason: Refusal) {
        let count = match reason {
            Refusal::Unsigned => &mut self.unsigned,
            Refusal::BadSignature => &mut self.bad_signature,
            Refusal::UnknownKey => &mut self.unknown_key,
            Refusal::NotAllowed => &mut self.not_allowed,
            Refusal::Replayed => &mut self.replayed,
            Refusal::Hijack => &mut self.hijack,
        };
        *count += 1;
    }

    /// All reasons together.
    pub fn total(&self) -> u64 {
        Refusal::ALL.iter().map(|r| self.get(*r)).sum()
    }
}
