//! The trust policy: which keys may advertise which producer ids and
//! topics, which may speak for others, and how strictly that is enforced.

use std::fmt;

use super::{PublicKey, Refusal};

/// How the policy is applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TrustMode {
    /// Signatures are not required and the policy is not checked (the
    /// behaviour before issue 13); the hijack rules still hold.
    #[default]
    Off,
    /// Everything is accepted, but what `Enforce` would refuse is counted
    /// and logged.
    Warn,
    /// Inputs the policy does not allow are refused.
    Enforce,
}

impl TrustMode {
    /// The mode's name in the trust file.
    pub fn as_str(self) -> &'static str {
        match self {
            TrustMode::Off => "off",
            TrustMode::Warn => "warn",
            TrustMode::Enforce => "enforce",
        }
    }
}

impl vigil_diag::config::Named for TrustMode {
    const WHAT: &'static str = "trust mode";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("off", TrustMode::Off),
        ("warn", TrustMode::Warn),
        ("enforce", TrustMode::Enforce),
    ];
}

/// A shell-style pattern: `*` any run of characters, `?` one character,
/// everything else itself.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Glob(String);

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.0)
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Glob {
    /// The pattern `text`.
    pub fn new(text: impl Into<String>) -> Glob {
        Glob(text.into())
    }

    /// Whether `name` matches it whole.
    pub fn matches(&self, name: &str) -> bool {
        // Iterative wildcard matching with one backtrack point: linear in
        // practice, never exponential on `*a*a*a*b`.
        let (p, n): (Vec<char>, Vec<char>) = (self.0.chars().collect(), name.chars().collect());
        let (mut pi, mut ni) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while ni < n.len() {
            if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
                pi += 1;
                ni += 1;
            } else if pi < p.len() && p[pi] == '*' {
                star = Some((pi, ni));
                pi += 1;
            } else if let Some((sp, sn)) = star {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|c| *c == '*')
    }
}

/// One key of the policy and what it may do.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrustedKey {
    /// Its name, for logs (`imu_team`).
    pub name: String,
    /// The key.
    pub key: PublicKey,
    /// Producer ids it may advertise as itself.
    pub producers: Vec<Glob>,
    /// Topics it may advertise on; empty: any.
    pub topics: Vec<Glob>,
    /// Producer ids it may speak for, on any topic (an agent, a bridge, a
    /// supervisor saying FAILED on a child's behalf).
    pub speaks_for: Vec<Glob>,
}

impl TrustedKey {
    /// A key allowed nothing yet.
    pub fn new(name: impl Into<String>, key: PublicKey) -> TrustedKey {
        TrustedKey {
            name: name.into(),
            key,
            producers: Vec::new(),
            topics: Vec::new(),
            speaks_for: Vec::new(),
        }
    }

    /// Allows producer ids matching `producers` on topics matching
    /// `topics` (none: any topic).
    pub fn advertising(mut self, producers: &[&str], topics: &[&str]) -> TrustedKey {
        self.producers = producers.iter().map(|p| Glob::new(*p)).collect();
        self.topics = topics.iter().map(|t| Glob::new(*t)).collect();
        self
    }

    /// Allows speaking for producer ids matching `producers`.
    pub fn speaking_for(mut self, producers: &[&str]) -> TrustedKey {
        self.speaks_for = producers.iter().map(|p| Glob::new(*p)).collect();
        self
    }

    fn allows(&self, producer: &str, topic: Option<&str>) -> bool {
        let own = self.producers.iter().any(|g| g.matches(producer))
            && match topic {
                None => true,
                Some(topic) => {
                    self.topics.is_empty() || self.topics.iter().any(|g| g.matches(topic))
                }
            };
        own || self.speaks_for.iter().any(|g| g.matches(producer))
    }
}

/// Who may advertise what (see the module doc of `trust`).
///
/// Key rotation: list the old and the new key, both allowed the same
/// producers, for the overlap; then drop the old one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrustPolicy {
    /// How strictly.
    pub mode: TrustMode,
    /// The keys.
    pub keys: Vec<TrustedKey>,
}

impl TrustPolicy {
    /// No policy: mode off.
    pub fn off() -> TrustPolicy {
        TrustPolicy::default()
    }

    /// A policy of `keys` applied in `mode`.
    pub fn new(mode: TrustMode, keys: Vec<TrustedKey>) -> TrustPolicy {
        TrustPolicy { mode, keys }
    }

    /// Whether `signer` may say something about `producer` (on `topic`,
    /// for an advert): the policy's answer, whatever the mode.
    pub fn check(
        &self,
        signer: Option<&PublicKey>,
        producer: &str,
        topic: Option<&str>,
    ) -> Result<(), (Refusal, String)> {
        let Some(signer) = signer else {
            return Err((Refusal::Unsigned, "not signed".to_owned()));
        };
        let mut listed = self.keys.iter().filter(|k| k.key == *signer).peekable();
        if listed.peek().is_none() {
            return Err((
                Refusal::UnknownKey,
                format!("signed by key {signer}, which the trust policy does not list"),
            ));
        }
        let names: Vec<&str> = listed.clone().map(|k| k.name.as_str()).collect();
        if listed.any(|k| k.allows(producer, topic)) {
            return Ok(());
        }
        let what = match topic {
            Some(topic) => format!("producer `{producer}` on topic `{topic}`"),
            None => format!("producer `{producer}`"),
        };
        Err((
            Refusal::NotAllowed,
            format!("key `{}` may not advertise {what}", names.join("`, `")),
        ))
    }

    /// The name of the first entry of `key`, for logs.
    pub fn name_of(&self, key: &PublicKey) -> Option<&str> {
        self.keys
            .iter()
            .find(|k| k.key == *key)
            .map(|k| k.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (p, n, m) in [
            ("imu_*", "imu_a", true),
            ("imu_*", "imu_", true),
            ("imu_*", "gps_a", false),
            ("*", "", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaac", false),
            ("*_raw", "imu_a_raw", true),
            ("imu", "imu", true),
            ("imu", "imu2", false),
        ] {
            assert_eq!(Glob::new(p).matches(n), m, "{p} {n}");
        }
    }

    #[test]
    fn who_may_advertise_what() {
        let imu = PublicKey([1; 32]);
        let gps = PublicKey([2; 32]);
        let sup = PublicKey([3; 32]);
        let policy = TrustPolicy::new(
            TrustMode::Enforce,
            vec![
                TrustedKey::new("imu_team", imu).advertising(&["imu_*"], &["imu"]),
                TrustedKey::new("gps_team", gps).advertising(&["gps_*"], &[]),
                TrustedKey::new("supervisor", sup).speaking_for(&["*"]),
            ],
        );
        assert!(policy.check(Some(&imu), "imu_a", Some("imu")).is_ok());
        assert_eq!(
            policy
                .check(Some(&imu), "imu_a", Some("gps"))
                .unwrap_err()
                .0,
            Refusal::NotAllowed
        );
        assert_eq!(
            policy
                .check(Some(&gps), "imu_a", Some("imu"))
                .unwrap_err()
                .0,
            Refusal::NotAllowed
        );
        assert!(policy.check(Some(&gps), "gps_1", Some("anything")).is_ok());
        assert!(policy.check(Some(&sup), "imu_a", Some("imu")).is_ok());
        assert!(policy.check(Some(&sup), "imu_a", None).is_ok());
        assert_eq!(
            policy
                .check(Some(&PublicKey([9; 32])), "imu_a", None)
                .unwrap_err()
                .0,
            Refusal::UnknownKey
        );
        assert_eq!(
            policy.check(None, "imu_a", None).unwrap_err().0,
            Refusal::Unsigned
        );
    }
}
