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

use std::collections::HashMap;
use std::fmt;

use vigil_discovery::AdvertKey;

use super::advert_json::AdvertJson;

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

#[derive(Debug, Default)]
struct Entry {
    advert: Option<AdvertJson>,
    alive: bool,
}

impl Entry {
    fn up(&self) -> bool {
        self.alive && self.advert.is_some()
    }
}

/// Every Zenoh producer heard of, by advert key.
#[derive(Debug, Default)]
pub(crate) struct ZenohProducers {
    entries: HashMap<AdvertKey, Entry>,
}

impl ZenohProducers {
    /// A (checked) advert was put.
    pub(crate) fn on_advert(&mut self, key: &AdvertKey, advert: AdvertJson) -> Option<Action> {
        let entry = self.entries.entry(key.clone()).or_default();
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

    /// The liveliness token appeared.
    pub(crate) fn on_alive(&mut self, key: &AdvertKey) -> Option<Action> {
        let entry = self.entries.entry(key.clone()).or_default();
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
        assert_eq!(p.on_advert(&key, advert("OK")), None);
        assert_eq!(p.on_alive(&key), Some(Action::Up(advert("OK"))));

        let mut p = ZenohProducers::default();
        assert_eq!(p.on_alive(&key), None);
        assert!(p.wants_advert(&key));
        assert_eq!(
            p.on_advert(&key, advert("OK")),
            Some(Action::Up(advert("OK")))
        );
        assert!(!p.wants_advert(&key));
        assert_eq!(p.up().count(), 1);
    }

    #[test]
    fn a_changed_advert_updates_and_a_repeat_does_nothing() {
        let key = AdvertKey::new("z", "imu");
        let mut p = ZenohProducers::default();
        p.on_alive(&key);
        p.on_advert(&key, advert("OK"));
        assert_eq!(p.on_advert(&key, advert("OK")), None);
        assert_eq!(
            p.on_advert(&key, advert("DEGRADED")),
            Some(Action::Update(advert("DEGRADED")))
        );
    }

    #[test]
    fn a_deleted_token_takes_it_down_and_forgets_the_advert() {
        let key = AdvertKey::new("z", "imu");
        let mut p = ZenohProducers::default();
        p.on_alive(&key);
        p.on_advert(&key, advert("OK"));
        assert_eq!(p.on_dead(&key), Some(Action::Down(DownCause::TokenDeleted)));
        assert_eq!(p.on_dead(&key), None);
        // A new token alone does not revive the old advert.
        assert_eq!(p.on_alive(&key), None);
        assert_eq!(p.up().count(), 0);
    }

    #[test]
    fn a_deleted_advert_takes_it_down_until_a_new_one() {
        let key = AdvertKey::new("z", "imu");
        let mut p = ZenohProducers::default();
        p.on_alive(&key);
        p.on_advert(&key, advert("OK"));
        assert_eq!(
            p.on_advert_deleted(&key),
            Some(Action::Down(DownCause::AdvertDeleted))
        );
        assert_eq!(p.on_advert_deleted(&key), None);
        assert_eq!(
            p.on_advert(&key, advert("OK")),
            Some(Action::Up(advert("OK")))
        );
        // Deleting an unknown advert is nothing.
        assert_eq!(p.on_advert_deleted(&AdvertKey::new("y", "imu")), None);
    }
}
