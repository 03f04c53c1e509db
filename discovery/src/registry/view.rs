//! [`EntryView`]: a registry entry as readers see it, with liveness and
//! heartbeat overrides applied to the advert's health.

use std::sync::Arc;

use serde::Serialize;
use vigil_diag::{Path, State, Timestamp, Trend, UnknownReason};
use vigil_qos::{Candidate, Capabilities, Key, QosPolicies, Value};

use crate::advert::Advert;

/// The health a registry entry has now: the advert's, overridden by a
/// newer heartbeat's state, overridden by its supervisor's word that it
/// FAILED, or UNKNOWN (`unreachable`) once its lease expired.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct EffectiveHealth {
    /// Overall state.
    pub state: State,
    /// Why, when UNKNOWN.
    pub reason: Option<UnknownReason>,
    /// Confidence in `[0, 1]`; 0 when unreachable.
    pub confidence: f64,
    /// Which way it is moving.
    pub trend: Trend,
    /// Whether a heartbeat's state overrides the advert's.
    pub from_heartbeat: bool,
    /// Whether its supervisor said it FAILED (see
    /// [`EntryView::failed_on_behalf`]).
    pub from_supervisor: bool,
}

/// A cloned snapshot of one registry entry (cheap: the advert is shared).
#[derive(Clone, Debug, PartialEq)]
pub struct EntryView {
    /// The latest good advert.
    pub advert: Arc<Advert>,
    /// Its health now.
    pub health: EffectiveHealth,
    /// When it was last heard from (advert or heartbeat).
    pub last_heard: Timestamp,
    /// False once its lease expired without news.
    pub reachable: bool,
    /// Why its supervisor said it FAILED (`exited: signal 9`), until its
    /// next fresh advert.
    pub failed_on_behalf: Option<Arc<str>>,
    /// Why the reconfiguration engine isolated its producer: FAILED for
    /// every consumer until released.
    pub isolated: Option<Arc<str>>,
    /// The capabilities the reconfiguration engine overrides while a mode
    /// holds: matching and ranking read these before the advert's.
    pub overrides: Option<Arc<Capabilities>>,
}

impl EntryView {
    pub(crate) fn new(
        advert: Arc<Advert>,
        heartbeat_state: Option<State>,
        failed_on_behalf: Option<Arc<str>>,
        isolated: Option<Arc<str>>,
        overrides: Option<Arc<Capabilities>>,
        last_heard: Timestamp,
        reachable: bool,
    ) -> EntryView {
        let h = &advert.health;
        let health = if !reachable {
            EffectiveHealth {
                state: State::Unknown,
                reason: Some(UnknownReason::Unreachable),
                confidence: 0.0,
                trend: Trend::Degrading,
                from_heartbeat: false,
                from_supervisor: false,
            }
        } else if failed_on_behalf.is_some() || isolated.is_some() {
            // The supervisor saw the process die, or the engine isolated
            // it: certain, and worse than anything the producer last said.
            EffectiveHealth {
                state: State::Failed,
                reason: None,
                confidence: 1.0,
                trend: Trend::Degrading,
                from_heartbeat: false,
                from_supervisor: failed_on_behalf.is_some(),
            }
        } else if let Some(state) = heartbeat_state {
            EffectiveHealth {
                state,
                // A heartbeat carries a ROS 2 level; level 3 is STALE.
                reason: (state == State::Unknown)
                    .then_some(h.reason.unwrap_or(UnknownReason::Stale)),
                confidence: h.confidence,
                trend: if state > h.state {
                    Trend::Degrading
                } else {
                    Trend::Recovering
                },
                from_heartbeat: true,
                from_supervisor: false,
            }
        } else {
            EffectiveHealth {
                state: h.state,
                reason: h.reason,
                confidence: h.confidence,
                trend: h.trend,
                from_heartbeat: false,
                from_supervisor: false,
            }
        };
        EntryView {
            advert,
            health,
            last_heard,
            reachable,
            failed_on_behalf,
            isolated,
            overrides,
        }
    }
}

/// The entry as matching sees it: its effective health. The nodes of an
/// unreachable entry read UNKNOWN: what it last said may no longer hold.
impl Candidate for EntryView {
    fn producer(&self) -> &str {
        &self.advert.key.producer
    }
    fn topic(&self) -> &str {
        &self.advert.key.topic
    }
    fn capability(&self, key: &Key) -> Option<&Value> {
        self.overrides
            .as_deref()
            .and_then(|o| o.get_key(key))
            .or_else(|| self.advert.capabilities.get_key(key))
    }
    fn health_state(&self) -> State {
        self.health.state
    }
    fn health_confidence(&self) -> f64 {
        self.health.confidence
    }
    fn health_trend(&self) -> Trend {
        self.health.trend
    }
    fn node_state(&self, path: &Path) -> Option<State> {
        let state = self.advert.health.nodes.get(path).copied()?;
        Some(if self.reachable {
            state
        } else {
            State::Unknown
        })
    }
    fn offered_qos(&self) -> &QosPolicies {
        &self.advert.qos
    }
    fn diagnostic_root(&self) -> Option<&Path> {
        self.advert.diagnostic_root.as_ref()
    }
}
