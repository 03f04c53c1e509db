//! The consumer's data filter: samples of the active producer only, and in
//! hot-standby mode the standby's recent samples, replayed without a gap
//! when it takes over.
//!
//! rustdds delivers the samples of every matched writer and ignores
//! EXCLUSIVE ownership strength (REFERENCES.md), so vigil follows one
//! producer by the writer of each sample against the [`Route`]. The
//! in-process transport uses the same filter.

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use super::Route;

/// How a consumer keeps its hot standby.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StandbyConfig {
    /// Keep the standby's recent samples and replay the ones the active
    /// producer did not cover when switching to it, so a failover loses no
    /// sample.
    pub hot_standby: bool,
    /// How far back (by source timestamp) the standby buffer reaches. It
    /// must cover the time to detect a failure: the lease plus margin.
    pub window: Duration,
    /// Hard cap on buffered standby samples, whatever their age.
    pub capacity: usize,
}

impl Default for StandbyConfig {
    /// No hot standby; a 1 s, 16 384-sample standby buffer when enabled.
    fn default() -> Self {
        StandbyConfig {
            hot_standby: false,
            window: Duration::from_secs(1),
            capacity: 16_384,
        }
    }
}

/// A sample from the active producer.
#[derive(Clone, Debug)]
pub struct Delivered<T> {
    /// The sample.
    pub value: T,
    /// The producer it came from (the active one when it was delivered).
    /// Shared, so a delivery allocates nothing.
    pub producer: Arc<str>,
    /// The writer GUID it came from.
    pub writer_guid: [u8; 16],
    /// DDS source timestamp, nanoseconds since the Unix epoch; the
    /// reception time when the writer sent none.
    pub source_ts_ns: Option<u64>,
    /// Received while its producer was the standby and replayed at the
    /// switch (hot standby).
    pub replayed: bool,
    /// Replayed from a standby buffer that reached back past the last
    /// sample delivered before the switch: every standby sample after that
    /// one is delivered, so the switch lost nothing.
    pub gapless: bool,
}

/// Counters of a consumer's data filter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscriptionStats {
    /// Samples delivered (replayed ones included).
    pub delivered: u64,
    /// Standby samples replayed at a switch.
    pub replayed: u64,
    /// Samples dropped because they came from another producer.
    pub filtered: u64,
    /// Buffered standby samples dropped as already covered by the previous
    /// producer (source timestamp not newer than the last delivered).
    pub deduplicated: u64,
    /// Hot-standby switches whose buffer did not reach back to the last
    /// delivered sample (standby too new, or the window too short): some
    /// samples may be missing there.
    pub incomplete_replays: u64,
    /// Samples rustdds could not deserialize.
    pub errors: u64,
}

/// The filtering state: the active producer's samples only, and with hot
/// standby the standby's recent ones, replayed at a switch. Plain data, so
/// any shell (a DDS subscription, the in-process transport, a bridge that
/// follows a selection for another middleware) uses the same rules and it
/// is tested without DDS: feed it the [`Route`] at every change
/// ([`Filter::on_route`]) and every sample with its writer
/// ([`Filter::accept`]), and deliver what they push.
pub struct Filter<T> {
    config: StandbyConfig,
    route: Route,
    /// The active producer's id, shared by every delivery.
    active_name: Option<Arc<str>>,
    /// The standby's recent samples, oldest first, with source timestamps.
    buffer: VecDeque<(u64, T)>,
    /// Source timestamp of the last sample delivered.
    last_delivered_ts: Option<u64>,
    counters: SubscriptionStats,
    _marker: PhantomData<T>,
}

impl<T> std::fmt::Debug for Filter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("config", &self.config)
            .field("route", &self.route)
            .field("buffered", &self.buffer.len())
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl<T> Filter<T> {
    /// A filter following no route yet.
    pub fn new(config: StandbyConfig) -> Filter<T> {
        Filter {
            config,
            route: Route::default(),
            active_name: None,
            buffer: VecDeque::new(),
            last_delivered_ts: None,
            counters: SubscriptionStats::default(),
            _marker: PhantomData,
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> SubscriptionStats {
        self.counters
    }

    /// Counts a sample that could not be read.
    pub fn count_error(&mut self) {
        self.counters.errors += 1;
    }

    /// The route followed now.
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// Takes one sample of writer `guid` with its source timestamp
    /// (nanoseconds since the Unix epoch); pushes what it delivers.
    pub fn accept(
        &mut self,
        guid: [u8; 16],
        ts: Option<u64>,
        value: T,
        out: &mut Vec<Delivered<T>>,
    ) {
        let is_active = self
            .route
            .active
            .as_ref()
            .is_some_and(|a| a.writer_guid == guid);
        if let (true, Some(name)) = (is_active, &self.active_name) {
            if ts.is_some() {
                self.last_delivered_ts = ts.max(self.last_delivered_ts);
            }
            out.push(Delivered {
                value,
                producer: Arc::clone(name),
                writer_guid: guid,
                source_ts_ns: ts,
                replayed: false,
                gapless: false,
            });
            self.counters.delivered += 1;
            return;
        }
        let is_standby = self.config.hot_standby
            && self
                .route
                .standby
                .as_ref()
                .is_some_and(|s| s.writer_guid == guid);
        match (is_standby, ts) {
            (true, Some(ts)) => {
                self.buffer.push_back((ts, value));
                let window = u64::try_from(self.config.window.as_nanos()).unwrap_or(u64::MAX);
                let oldest = ts.saturating_sub(window);
                while self.buffer.front().is_some_and(|(t, _)| *t < oldest)
                    || self.buffer.len() > self.config.capacity
                {
                    self.buffer.pop_front();
                }
            }
            _ => {
                self.counters.filtered += 1;
            }
        }
    }

    /// Follows a new route; pushes a hot-standby replay if the standby
    /// was promoted.
    pub fn on_route(&mut self, route: Route, out: &mut Vec<Delivered<T>>) {
        if route == self.route {
            return;
        }
        let old = std::mem::replace(&mut self.route, route);
        self.active_name = self
            .route
            .active
            .as_ref()
            .map(|a| Arc::from(a.producer.as_str()));
        let active_guid = |r: &Route| r.active.as_ref().map(|a| a.writer_guid);
        let standby_guid = |r: &Route| r.standby.as_ref().map(|s| s.writer_guid);
        let switched = active_guid(&old) != active_guid(&self.route);
        let promoted = switched
            && self.config.hot_standby
            && active_guid(&self.route).is_some()
            && active_guid(&self.route) == standby_guid(&old);
        if promoted {
            if let (Some(active), Some(name)) = (&self.route.active, self.active_name.clone()) {
                let writer_guid = active.writer_guid;
                let mut buffer = std::mem::take(&mut self.buffer);
                buffer.make_contiguous().sort_by_key(|(ts, _)| *ts);
                // The buffer holds every standby sample since its oldest, so
                // it covers the gap when that one is not newer than the last
                // delivered sample.
                let gapless = match (self.last_delivered_ts, buffer.front()) {
                    (None, _) => true,
                    (Some(last), Some((oldest, _))) => *oldest <= last,
                    (Some(_), None) => false,
                };
                if !gapless {
                    self.counters.incomplete_replays += 1;
                }
                for (ts, value) in buffer {
                    // Deduplicate: what the previous producer covered up to
                    // its last delivered sample is not replayed.
                    if self.last_delivered_ts.is_some_and(|last| ts <= last) {
                        self.counters.deduplicated += 1;
                        continue;
                    }
                    self.last_delivered_ts = Some(ts);
                    out.push(Delivered {
                        value,
                        producer: Arc::clone(&name),
                        writer_guid,
                        source_ts_ns: Some(ts),
                        replayed: true,
                        gapless,
                    });
                    self.counters.delivered += 1;
                    self.counters.replayed += 1;
                }
            }
        }
        if standby_guid(&old) != standby_guid(&self.route) || switched {
            self.buffer.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::follow::RouteEnd;

    fn end(name: &str, id: u8) -> RouteEnd {
        RouteEnd {
            producer: name.to_owned(),
            topic: "imu".to_owned(),
            writer_guid: [id; 16],
        }
    }

    fn filter(hot: bool) -> Filter<u64> {
        Filter::new(StandbyConfig {
            hot_standby: hot,
            ..StandbyConfig::default()
        })
    }

    fn route(active: Option<RouteEnd>, standby: Option<RouteEnd>) -> Route {
        Route { active, standby }
    }

    #[test]
    fn delivers_only_the_active_writer() {
        let mut f = filter(false);
        let mut out = Vec::new();
        f.on_route(route(Some(end("a", 1)), Some(end("b", 2))), &mut out);
        f.accept([1; 16], Some(10), 1, &mut out);
        f.accept([2; 16], Some(11), 2, &mut out);
        f.accept([3; 16], Some(12), 3, &mut out);
        assert_eq!(out.iter().map(|d| d.value).collect::<Vec<_>>(), vec![1]);
        assert_eq!(f.counters.filtered, 2);
    }

    #[test]
    fn hot_standby_replays_only_what_the_old_producer_did_not_cover() {
        let mut f = filter(true);
        let mut out = Vec::new();
        f.on_route(route(Some(end("a", 1)), Some(end("b", 2))), &mut out);
        // b runs slightly ahead of a; a dies after its sample at t=20.
        for t in [10, 20] {
            f.accept([1; 16], Some(t), t, &mut out);
        }
        for t in [11, 21, 31, 41] {
            f.accept([2; 16], Some(t), t, &mut out);
        }
        out.clear();
        f.on_route(route(Some(end("b", 2)), None), &mut out);
        let replayed: Vec<u64> = out.iter().map(|d| d.value).collect();
        assert_eq!(replayed, vec![21, 31, 41]);
        assert!(out.iter().all(|d| d.replayed && &*d.producer == "b"));
        assert_eq!(f.counters.deduplicated, 1);
        assert!(out.iter().all(|d| d.gapless));
        // Live samples of b follow.
        out.clear();
        f.accept([2; 16], Some(51), 51, &mut out);
        assert_eq!(out.len(), 1);
        assert!(!out[0].replayed);
    }

    #[test]
    fn without_hot_standby_a_switch_replays_nothing() {
        let mut f = filter(false);
        let mut out = Vec::new();
        f.on_route(route(Some(end("a", 1)), Some(end("b", 2))), &mut out);
        f.accept([2; 16], Some(5), 5, &mut out);
        f.on_route(route(Some(end("b", 2)), None), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn the_standby_buffer_is_bounded_by_age() {
        let mut f = filter(true);
        f.config.window = Duration::from_nanos(100);
        let mut out = Vec::new();
        f.on_route(route(None, Some(end("b", 2))), &mut out);
        for t in (0..1000).step_by(10) {
            f.accept([2; 16], Some(t), t, &mut out);
        }
        assert!(f.buffer.len() <= 11, "{}", f.buffer.len());
        assert!(f.buffer.front().is_some_and(|(t, _)| *t >= 890));
    }

    #[test]
    fn a_new_standby_starts_with_an_empty_buffer() {
        let mut f = filter(true);
        let mut out = Vec::new();
        f.on_route(route(Some(end("a", 1)), Some(end("b", 2))), &mut out);
        f.accept([2; 16], Some(5), 5, &mut out);
        f.on_route(route(Some(end("a", 1)), Some(end("c", 3))), &mut out);
        assert!(f.buffer.is_empty());
    }
}
