//! The circuit breakers wired into a selection (issue 14): which link a
//! sample arrival belongs to, the period it is judged against, and what a
//! breaker's transition does to the members.
//!
//! A selection made with [`SwitchPolicy::breaker`](super::SwitchPolicy)
//! keeps one [`Breakers`]. Its inputs are the selection's own: health
//! changes of members (a flap is an error) and [`SampleArrival`]s the shell
//! reports from its data path (a gap or a late sample is an error). The
//! rules in `decide` read the result: an open link is never selected
//! while a closed one qualifies (by rule 1 only as the last resort), a
//! half-open one is the preferred hot standby, so the probe costs no
//! data, and a link that closes again counts as recovered for
//! wait-to-restore.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vigil_diag::Timestamp;
use vigil_qos::{Key, Period, Value};

use super::breaker::{BreakerEvent, BreakerPolicy, BreakerState, Breakers, BreakersSnapshot};
use crate::advert::AdvertKey;
use crate::registry::EntryView;

/// One data sample seen by a consumer's data path: which writer sent it
/// and when it arrived, on the core's clock. What the breakers judge; a
/// recorded input of the core, so a replay judges the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleArrival {
    /// The data writer's GUID.
    pub writer_guid: [u8; 16],
    /// When it arrived.
    pub at: Timestamp,
}

/// At most this many transitions wait for [`Guard::take_events`].
const LOG_MAX: usize = 1024;

/// What a link is judged against.
#[derive(Clone, Debug)]
struct Link {
    key: AdvertKey,
    /// The advertised sample period (`rate_hz`), else the offered
    /// deadline; `None`: arrivals are not judged, only health flaps.
    period: Option<Duration>,
}

/// The breakers of one selection and the index that maps a sample's
/// writer to its link.
#[derive(Clone, Debug)]
pub(crate) struct Guard {
    breakers: Breakers,
    by_guid: HashMap<[u8; 16], Link>,
    /// Transitions not taken by the shell yet.
    log: Vec<BreakerEvent>,
    ejections: u64,
}

impl Guard {
    pub(crate) fn new(policy: BreakerPolicy) -> Guard {
        Guard {
            breakers: Breakers::new(policy),
            by_guid: HashMap::new(),
            log: Vec::new(),
            ejections: 0,
        }
    }

    /// Starts (or keeps) judging a member's link, under its current writer.
    pub(crate) fn track(&mut self, view: &EntryView, now: Timestamp) {
        let key = &view.advert.key;
        self.breakers.add(key.clone(), now);
        let guid = view.advert.writer_guid;
        let stale = self.by_guid.get(&guid).is_none_or(|l| l.key != *key);
        if stale {
            // The producer restarted with a new writer: drop the old one.
            self.by_guid.retain(|_, l| l.key != *key);
        }
        self.by_guid.insert(
            guid,
            Link {
                key: key.clone(),
                period: period_of(view),
            },
        );
    }

    /// Stops judging a member that left the registry.
    pub(crate) fn forget(&mut self, key: &AdvertKey) {
        self.breakers.remove(key);
        self.by_guid.retain(|_, l| l.key != *key);
    }

    /// A member's health state changed: a flap is an error.
    pub(crate) fn health_changed(&mut self, key: &AdvertKey, now: Timestamp) {
        let event = self.breakers.on_health_change(key, now);
        self.push(event);
    }

    /// Data samples arrived; those of writers no member advertises are
    /// ignored (another topic's, or a producer not known yet).
    pub(crate) fn samples(&mut self, arrivals: &[SampleArrival]) {
        for arrival in arrivals {
            let Some(link) = self.by_guid.get(&arrival.writer_guid) else {
                continue;
            };
            let (key, period) = (link.key.clone(), link.period);
            let event = self.breakers.on_sample(&key, period, arrival.at);
            self.push(event);
        }
    }

    /// Runs the breakers' timers.
    pub(crate) fn tick(&mut self, now: Timestamp) {
        for event in self.breakers.tick(now) {
            self.push(Some(event));
        }
    }

    fn push(&mut self, event: Option<BreakerEvent>) {
        if let Some(event) = event {
            if matches!(event, BreakerEvent::Ejected { .. }) {
                self.ejections += 1;
            }
            tracing::info!(%event, "circuit breaker");
            if self.log.len() >= LOG_MAX {
                // Nobody takes them (a caller that does not report them):
                // keep the newest.
                self.log.remove(0);
            }
            self.log.push(event);
        }
    }

    /// The transitions since the last call, oldest first.
    pub(crate) fn take_events(&mut self) -> Vec<BreakerEvent> {
        std::mem::take(&mut self.log)
    }

    /// The transitions not taken yet.
    pub(crate) fn pending(&self) -> &[BreakerEvent] {
        &self.log
    }

    /// Ejections so far.
    pub(crate) fn ejections(&self) -> u64 {
        self.ejections
    }

    /// Whether the link is open or half-open: not to be selected while a
    /// closed one qualifies.
    pub(crate) fn ejected(&self, key: &AdvertKey) -> bool {
        self.breakers.ejected(key)
    }

    /// Whether the link is being probed.
    pub(crate) fn half_open(&self, key: &AdvertKey) -> bool {
        matches!(
            self.breakers.state(key),
            Some(BreakerState::HalfOpen { .. })
        )
    }

    /// The breakers.
    pub(crate) fn breakers(&self) -> &Breakers {
        &self.breakers
    }

    pub(crate) fn next_deadline(&self) -> Option<Timestamp> {
        self.breakers.next_deadline()
    }

    pub(crate) fn save(&self) -> GuardSnapshot {
        GuardSnapshot {
            breakers: self.breakers.save(),
            ejections: self.ejections,
        }
    }

    /// Puts back the breakers; the writer index is rebuilt by the caller
    /// ([`Guard::track`] of every member).
    pub(crate) fn restore(&mut self, snapshot: &GuardSnapshot) {
        self.breakers.restore(&snapshot.breakers);
        self.ejections = snapshot.ejections;
        self.log.clear();
    }
}

/// A [`Guard`]'s history as plain data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct GuardSnapshot {
    breakers: BreakersSnapshot,
    ejections: u64,
}

/// The period a producer's samples should come at: its advertised
/// `rate_hz` (a rate, in any unit of frequency), else its offered DDS
/// deadline.
fn period_of(view: &EntryView) -> Option<Duration> {
    thread_local! {
        static RATE: Option<Key> = Key::new("rate_hz").ok();
    }
    let rate = RATE.with(|key| {
        let key = key.as_ref()?;
        match view.advert.capabilities.get_key(key)? {
            Value::Number(q) if q.base() > 0.0 && q.base().is_finite() => Some(q.base()),
            _ => None,
        }
    });
    if let Some(hz) = rate {
        return Duration::try_from_secs_f64(1.0 / hz).ok();
    }
    match view.advert.qos.deadline {
        Some(Period::Finite(d)) if !d.is_zero() => Some(d),
        _ => None,
    }
}
