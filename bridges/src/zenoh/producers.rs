//! The Zenoh producers the bridge knows: when each one is up (worth
//! advertising on DDS) and when it goes down. Pure: the shell feeds it what
//! Zenoh said and acts on what it returns.
//!
//! A Zenoh producer is up while both its advert (a put on
//! `<prefix>/adverts/<topic>/<producer>`) and its liveliness token
//! (`<prefix>/alive/<topic>/<producer>`) are there. Either may come first:
//! a late-joining bridge gets the tokens from liveliness history and asks
//! for the adverts. The token is what makes a `kill -9` visible at once
//! (Zenoh drops a dead session's tokens when its TCP link closes), so the
//! token's deletion takes the producer down whatever its advert says.
//!
//! # Bounds
//!
//! Adverts and tokens come from remote peers, so what is kept of them is
//! bounded. An advert without a token (a producer that has not declared
//! it yet, or a put from something that never will) is forgotten
//! [`ADVERT_WITHOUT_TOKEN_TTL`] after its last put; at most
//! [`MAX_PRODUCERS`] producers are tracked, and when that many are, the
//! advert without a token put the longest ago makes room for a new one.
//! Forgetting such an advert loses nothing for a real producer: when its
//! token comes, the shell asks for the advert again (`wants_advert`). A
//! new producer that finds the table full of producers holding tokens is
//! refused. Both are counted.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use vigil_diag::Timestamp;
use vigil_discovery::AdvertKey;

use super::advert_json::AdvertJson;

/// At most this many Zenoh producers (with an advert, a token or both) are
/// tracked, and so at most this many are advertised on DDS.
pub(crate) const MAX_PRODUCERS: usize = 4096;

/// An advert whose liveliness token has not come is forgotten this long
/// after its last put. A producer puts its advert and declares its token
/// within milliseconds; ten seconds is a leftover.
pub(crate) const ADVERT_WITHOUT_TOKEN_TTL: Duration = Duration::from_secs(10);

/// Why a Zenoh producer went down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DownCause {
    /// Its liveliness token was deleted: the producer left or died.
    TokenDeleted,
    /// Its advert was deleted: the producer withdrew it.
    AdvertDeleted,
    /// The bridge is stopping.
    BridgeStopping,
}

impl fmt::Display for DownCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DownCause::TokenDeleted => "liveliness token deleted (producer left or died)",
            DownCause::AdvertDeleted => "advert deleted",
            DownCause::BridgeStopping => "bridge stopping",
        })
    }
}

/// What the shell must do.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Action {
    /// Advertise it on DDS and forward its samples.
    Up(AdvertJson),
    /// It is up and its advert changed: update the DDS advert.
    Update(AdvertJson),
    /// Stop advertising it on DDS (dispose the advert at once).
    Down(DownCause),
}

#[derive(Debug)]
struct Entry {
    advert: Option<AdvertJson>,
    alive: bool,
    /// When its advert was last put (the age of an advert without token).
    put_at: Timestamp,
}

impl Entry {
    fn new(now: Timestamp) -> Entry {
        Entry {
            advert: None,
            alive: false,
            put_at: now,
        }
    }

    fn up(&self) -> bool {
        self.alive && self.advert.is_some()
    }

    /// An advert without a token: what the bounds may forget.
    fn pending(&self) -> bool {
        !self.alive && self.advert.is_some()
    }
}

/// Every Zenoh producer heard of, by advert key, within the bounds of the
/// module doc.
#[derive(Debug)]
pub(crate) struct ZenohProducers {
    entries: HashMap<AdvertKey, Entry>,
    max: usize,
    ttl: Duration,
    evicted: u64,
    refused: u64,
}

impl Default for ZenohProducers {
    fn default() -> Self {
        ZenohProducers::with_limits(MAX_PRODUCERS, ADVERT_WITHOUT_TOKEN_TTL)
    }
}

impl ZenohProducers {
    /// With other bounds than the defaults.
    pub(crate) fn with_limits(max: usize, ttl: Duration) -> ZenohProducers {
        ZenohProducers {
            entries: HashMap::new(),
            max: max.max(1),
            ttl,
            evicted: 0,
            refused: 0,
        }
    }

    /// Adverts without a token forgotten since the start (too old, or to
    /// make room).
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted
    }

    /// New producers not tracked since the start: the table was full of
    /// producers holding tokens.
    pub(crate) fn refused(&self) -> u64 {
        self.refused
    }

    /// The entry of `key`, made if there is room (see the module doc).
    fn entry(&mut self, key: &AdvertKey, now: Timestamp) -> Option<&mut Entry> {
        if !self.entries.contains_key(key) && self.entries.len() >= self.max {
            let oldest = self
                .entries
                .iter()
                .filter(|(_, e)| e.pending())
                .min_by_key(|(_, e)| e.put_at)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(oldest) => {
                    self.entries.remove(&oldest);
                    self.evicted += 1;
                    tracing::debug!(producer = %oldest.producer, topic = %oldest.topic,
                        "zenoh advert without token forgotten to make room");
                }
                None => {
                    self.refused += 1;
                    tracing::debug!(producer = %key.producer, topic = %key.topic,
                        "zenoh producer not tracked: {} producers hold tokens", self.max);
                    return None;
                }
            }
        }
        Some(
            self.entries
                .entry(key.clone())
                .or_insert_with(|| Entry::new(now)),
        )
    }

    /// Forgets the adverts without a token put [`ADVERT_WITHOUT_TOKEN_TTL`]
    /// or more before `now`; returns how many.
    pub(crate) fn expire(&mut self, now: Timestamp) -> usize {
        let ttl = self.ttl;
        let before = self.entries.len();
        self.entries
            .retain(|_, e| !(e.pending() && now.saturating_since(e.put_at) >= ttl));
        let expired = before - self.entries.len();
        self.evicted += expired as u64;
        expired
    }

    /// A (checked) advert was put at `now`.
    pub(crate) fn on_advert(
        &mut self,
        key: &AdvertKey,
        advert: AdvertJson,
        now: Timestamp,
    ) -> Option<Action> {
        let entry = self.entry(key, now)?;
        entry.put_at = now;
        let was_up = entry.up();
        let changed = entry.advert.as_ref() != Some(&advert);
        entry.advert = Some(advert.clone());
        match (was_up, entry.up()) {
            (false, true) => Some(Action::Up(advert)),
            (true, true) if changed => Some(Action::Update(advert)),
            _ => None,
        }
    }

    /// The advert was deleted.
    pub(crate) fn on_advert_deleted(&mut self, key: &AdvertKey) -> Option<Action> {
        let entry = self.entries.get_mut(key)?;
        let was_up = entry.up();
        entry.advert = None;
        let action = was_up.then_some(Action::Down(DownCause::AdvertDeleted));
        self.forget_if_empty(key);
        action
    }

    /// The liveliness token appeared at `now`.
    pub(crate) fn on_alive(&mut self, key: &AdvertKey, now: Timestamp) -> Option<Action> {
        let entry = self.entry(key, now)?;
        let was_up = entry.up();
        entry.alive = true;
        match (was_up, entry.up(), &entry.advert) {
            (false, true, Some(advert)) => Some(Action::Up(advert.clone())),
            _ => None,
        }
    }

    /// The liveliness token was deleted. The advert is forgotten too: a
    /// producer that comes back puts a fresh one, and an old one must not
    /// bring back a dead producer when some token reappears.
    pub(crate) fn on_dead(&mut self, key: &AdvertKey) -> Option<Action> {
        let entry = self.entries.remove(key)?;
        entry.up().then_some(Action::Down(DownCause::TokenDeleted))
    }

    /// Alive but no advert yet: the shell should ask for it.
    pub(crate) fn wants_advert(&self, key: &AdvertKey) -> bool {
        self.entries
            .get(key)
            .is_some_and(|e| e.alive && e.advert.is_none())
    }

    /// The keys of the producers up now.
    #[cfg(test)]
    fn up(&self) -> impl Iterator<Item = &AdvertKey> {
        self.entries.iter().filter(|(_, e)| e.up()).map(|(k, _)| k)
    }

    fn forget_if_empty(&mut self, key: &AdvertKey) {
        if self
            .entries
            .get(key)
            .is_some_and(|e| !e.alive && e.advert.is_none())
        {
            self.entries.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp::ZERO;

    fn s(s: u64) -> Timestamp {
        Timestamp::from_nanos(s * 1_000_000_000)
    }

    fn advert(state: &str) -> AdvertJson {
        let json = format!(
            r#"{{"version": 1, "producer": "z", "topic": "imu", "type_name": "T",
                "origin": "zenoh", "health": {{"state": "{state}"}}}}"#
        );
        AdvertJson::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn up_needs_both_advert_and_token_in_either_order() {
        let key = AdvertKey::new("z", "imu");
        let mut p = ZenohProducers::default();
        assert_eq!(p.on_advert(&key, advert("OK"), T0), None);
        assert_eq!(p.on_alive(&key, T0), Some(Action::Up(advert("OK"))));

        let mut p = ZenohProducers::default();
        assert_eq!(p.on_alive(&key, T0), None);
        assert!(p.wants_advert(&key));
        assert_eq!(
            p.on_advert(&key, advert("OK"), T0),
            Some(Action::Up(advert("OK")))
        );
        assert!(!p.wants_advert(&key));
        assert_eq!(p.up().count(), 1);
    }

    #[test]
    fn a_changed_advert_updates_and_a_repeat_does_nothing() {
        let key = AdvertKey::new("z", "imu");
        let mut p = ZenohProducers::default();
        p.on_alive(&key, T0);
        p.on_advert(&key, advert("OK"), T0);
        assert_eq!(p.on_advert(&key, advert("OK"), T0), None);
        assert_eq!(
            p.on_advert(&key, advert("DEGRADED"), T0),
            Some(Action::Update(advert("DEGRADED")))
        );
    }

    #[test]
    fn a_deleted_token_takes_it_down_and_forgets_the_advert() {
        let key = AdvertKey::new("z", "imu");
        let mut p = ZenohProducers::default();
        p.on_alive(&key, T0);
        p.on_advert(&key, advert("OK"), T0);
        assert_eq!(p.on_dead(&key), Some(Action::Down(DownCause::TokenDeleted)));
        assert_eq!(p.on_dead(&key), None);
        // A new token alone does not revive the old advert.
        assert_eq!(p.on_alive(&key, T0), None);
        assert_eq!(p.up().count(), 0);
    }

    #[test]
    fn a_deleted_advert_takes_it_down_until_a_new_one() {
        let key = AdvertKey::new("z", "imu");
        let mut p = ZenohProducers::default();
        p.on_alive(&key, T0);
        p.on_advert(&key, advert("OK"), T0);
        assert_eq!(
            p.on_advert_deleted(&key),
            Some(Action::Down(DownCause::AdvertDeleted))
        );
        assert_eq!(p.on_advert_deleted(&key), None);
        assert_eq!(
            p.on_advert(&key, advert("OK"), T0),
            Some(Action::Up(advert("OK")))
        );
        // Deleting an unknown advert is nothing.
        assert_eq!(p.on_advert_deleted(&AdvertKey::new("y", "imu")), None);
    }

    /// B7: adverts without a token expire, and make room when the table is
    /// full; producers holding tokens are never evicted.
    #[test]
    fn b7_adverts_without_a_token_are_bounded() {
        let mut p = ZenohProducers::with_limits(3, Duration::from_secs(10));
        let k = |n: &str| AdvertKey::new(n, "imu");
        p.on_alive(&k("live"), s(0));
        p.on_advert(&k("live"), advert("OK"), s(0));
        p.on_advert(&k("a"), advert("OK"), s(1));
        p.on_advert(&k("b"), advert("OK"), s(2));
        // Full: the oldest advert without a token makes room.
        p.on_advert(&k("c"), advert("OK"), s(3));
        assert_eq!(p.evicted(), 1);
        assert!(!p.entries.contains_key(&k("a")));
        // Its token comes later: the shell asks for the advert again.
        p.on_alive(&k("a"), s(4));
        assert!(p.wants_advert(&k("a")));
        assert_eq!(p.evicted(), 2, "b made room for a's token");
        // A put refreshes an advert's age; expiry takes the others.
        p.on_advert(&k("c"), advert("OK"), s(9));
        assert_eq!(p.expire(s(12)), 0);
        assert_eq!(p.expire(s(19)), 1);
        assert!(!p.entries.contains_key(&k("c")));
        assert_eq!(p.evicted(), 3);
        // Producers with tokens never expire.
        assert_eq!(p.expire(s(1000)), 0);
        assert_eq!(p.up().count(), 1);
    }

    #[test]
    fn b7_a_table_full_of_tokens_refuses_new_producers() {
        let mut p = ZenohProducers::with_limits(2, Duration::from_secs(10));
        let k = |n: &str| AdvertKey::new(n, "imu");
        p.on_alive(&k("a"), T0);
        p.on_alive(&k("b"), T0);
        assert_eq!(p.on_alive(&k("c"), T0), None);
        assert_eq!(p.on_advert(&k("c"), advert("OK"), T0), None);
        assert_eq!(p.refused(), 2);
        assert!(!p.wants_advert(&k("c")));
        // Known producers still work.
        assert_eq!(
            p.on_advert(&k("a"), advert("OK"), T0),
            Some(Action::Up(advert("OK")))
        );
    }
}
