//! What a consumer follows, shared by every shell (DDS, in-process): the
//! selection driven by registry changes and time, the data [`Route`] it
//! yields, and the [`Filter`] that delivers the route's samples.
//!
//! Plain data and functions: no clock, no I/O. A shell feeds
//! [`Follower`] the registry's changes and the time, sleeps until
//! [`Follower::next_deadline`], and moves the route and events it returns.
//!
//! # Layout
//!
//! - `align`: [`Align`], each writer's source timestamps on the
//!   consumer's clock, so hosts' clocks need not agree (issue 14).
//! - `filter`: [`Filter`], the active producer's samples only, with the
//!   hot-standby buffer and its gapless replay; [`Delivered`].
//! - this file: [`Follower`], [`Route`], [`RouteEnd`].

use std::time::Duration;

use vigil_diag::Timestamp;

use crate::registry::{Registry, RegistryChange};
use crate::selection::{ActiveProducer, Selection, SelectionEvent};

mod align;
mod filter;

pub(crate) use align::Align;

pub use filter::{Delivered, Filter, StandbyConfig, SubscriptionStats};

/// One end of a [`Route`]: a producer and the DataWriter it publishes with.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RouteEnd {
    /// Producer id.
    pub producer: String,
    /// The data topic.
    pub topic: String,
    /// The producer's data writer GUID (in-process: its writer id).
    pub writer_guid: [u8; 16],
}

/// Where a consumer's data comes from now: the active producer, and the
/// one a hot standby keeps warm.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Route {
    /// Samples of this writer are delivered.
    pub active: Option<RouteEnd>,
    /// Samples of this writer are buffered in hot-standby mode.
    pub standby: Option<RouteEnd>,
}

/// The selection's timers also run this often, deadline or not. Its
/// `next_deadline` covers every switch, but a flap-suppressed producer is
/// counted as passed over (`flaps_suppressed`) only when a decision runs
/// after its wait-to-restore; this makes that happen within 50 ms.
const HOUSEKEEPING: Duration = Duration::from_millis(50);

/// A [`Follower`]'s state as plain data.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct FollowerSnapshot {
    settled_at: Timestamp,
    settled: bool,
    last_tick: Timestamp,
    selection: Option<crate::selection::SelectionSnapshot>,
}

/// A selection fed by registry changes and time, with a settle period
/// before the first decision. `None` selection: a registry-only follower
/// (a monitor), which decides nothing.
#[derive(Debug)]
pub(crate) struct Follower {
    selection: Option<Selection>,
    /// No selection before this: transient-local adverts of the producers
    /// already running arrive one by one, and selecting at once would take
    /// the first heard and switch again when the best one arrives.
    settled_at: Timestamp,
    settled: bool,
    /// When the selection's timers last ran.
    last_tick: Timestamp,
}

impl Follower {
    pub(crate) fn new(
        selection: Option<Selection>,
        start: Timestamp,
        settle: Duration,
    ) -> Follower {
        Follower {
            selection,
            settled_at: start + settle,
            settled: false,
            last_tick: start,
        }
    }

    pub(crate) fn selection(&self) -> Option<&Selection> {
        self.selection.as_ref()
    }

    /// Its state now (see [`crate::CoreSnapshot`]).
    pub(crate) fn save(&self) -> FollowerSnapshot {
        FollowerSnapshot {
            settled_at: self.settled_at,
            settled: self.settled,
            last_tick: self.last_tick,
            selection: self.selection.as_ref().map(Selection::save),
        }
    }

    /// Puts this fresh follower in the state `snapshot` holds, over
    /// `registry` (restored from the same snapshot).
    pub(crate) fn restore(
        &mut self,
        registry: &Registry,
        snapshot: &FollowerSnapshot,
    ) -> Result<(), String> {
        self.settled_at = snapshot.settled_at;
        self.settled = snapshot.settled;
        self.last_tick = snapshot.last_tick;
        match (&mut self.selection, &snapshot.selection) {
            (Some(selection), Some(saved)) => selection.restore(registry, saved),
            (None, None) => Ok(()),
            _ => Err("the snapshot's core and the session disagree on having a query".into()),
        }
    }

    /// Takes what an input changed in `registry` at `at`; returns the
    /// selection events it caused (the route is then [`Follower::route`]).
    pub(crate) fn on_changes(
        &mut self,
        registry: &Registry,
        changes: &[RegistryChange],
        at: Timestamp,
    ) -> Vec<SelectionEvent> {
        self.decide(registry, changes, at)
    }

    /// Takes data sample arrivals at `at` (for the circuit breakers);
    /// returns the selection events they caused. Before the selection
    /// settled there are no links to judge: they are ignored.
    pub(crate) fn on_samples(
        &mut self,
        registry: &Registry,
        arrivals: &[crate::selection::SampleArrival],
        at: Timestamp,
    ) -> Vec<SelectionEvent> {
        let settled = self.settled;
        match &mut self.selection {
            Some(selection) if settled => selection
                .on_samples(registry, arrivals, at)
                .into_iter()
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The circuit breakers' transitions since the last call.
    pub(crate) fn take_breaker_events(&mut self) -> Vec<crate::selection::BreakerEvent> {
        self.selection
            .as_mut()
            .map(Selection::take_breaker_events)
            .unwrap_or_default()
    }

    /// Runs the timers due at `at`; returns what they changed in
    /// `registry` (for a recorder) and the selection events that caused.
    pub(crate) fn tick(
        &mut self,
        registry: &Registry,
        at: Timestamp,
    ) -> (Vec<RegistryChange>, Vec<SelectionEvent>) {
        let changes = registry.tick(at);
        let events = self.decide(registry, &changes, at);
        (changes, events)
    }

    /// The next time [`Follower::tick`] may change something: the
    /// registry's leases, the selection's timers, the settle time and the
    /// housekeeping period.
    pub(crate) fn next_deadline(&self, registry: &Registry) -> Option<Timestamp> {
        let min = |a: Option<Timestamp>, b: Option<Timestamp>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut next = registry.next_deadline();
        if !self.settled {
            next = min(next, Some(self.settled_at));
        } else if let Some(selection) = &self.selection {
            next = min(next, Some(self.last_tick + HOUSEKEEPING));
            next = min(next, selection.next_deadline());
        }
        next
    }

    /// The data route as the selection stands.
    pub(crate) fn route(&self) -> Route {
        let Some(selection) = &self.selection else {
            return Route::default();
        };
        Route {
            active: selection.active().map(route_end),
            standby: selection.standby().map(route_end),
        }
    }

    /// Runs the selection on what changed, then on its timers when due (or
    /// at the first decision after settling). Most inputs are heartbeats
    /// that change nothing: they cost no selection work.
    fn decide(
        &mut self,
        registry: &Registry,
        changes: &[RegistryChange],
        at: Timestamp,
    ) -> Vec<SelectionEvent> {
        let mut fired = Vec::new();
        let first = !self.settled && at >= self.settled_at;
        if first {
            // The selection loads the registry as it is now.
            self.settled = true;
        }
        if !self.settled {
            return fired;
        }
        let Some(selection) = &mut self.selection else {
            return fired;
        };
        if !changes.is_empty() && !first {
            fired.extend(selection.on_changes(registry, changes, at));
        }
        let housekeeping = at >= self.last_tick + HOUSEKEEPING;
        if first || selection.next_deadline().is_some_and(|d| d <= at) || housekeeping {
            self.last_tick = at;
            fired.extend(selection.tick(registry, at));
        }
        fired
    }
}

fn route_end(active: &ActiveProducer) -> RouteEnd {
    RouteEnd {
        producer: active.key.producer.clone(),
        topic: active.key.topic.clone(),
        writer_guid: active.writer_guid,
    }
}
