//! The consumer's data path: a typed reader that delivers samples of the
//! active producer only, with an optional hot standby.
//!
//! rustdds delivers the samples of every matched writer and ignores
//! EXCLUSIVE ownership strength (REFERENCES.md), so vigil follows one
//! producer by filtering on `SampleInfo::writer_guid()` against the
//! selector's [`Route`].

use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{select_all, SelectAll, StreamExt};
use futures::FutureExt;
use rustdds::with_key::{DataReaderStream, Sample};
use rustdds::{CDRDeserializerAdapter, Keyed, QosPolicies};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use super::sample::{unix_now_ns, unix_ns_of};
use super::{DdsError, VigilParticipant};

/// One end of a [`Route`]: a producer and the DataWriter it publishes with.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RouteEnd {
    /// Producer id.
    pub producer: String,
    /// The data topic.
    pub topic: String,
    /// The producer's data writer GUID.
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

/// How a [`Subscription`] reads.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SubscriptionConfig {
    /// Keep the standby's recent samples and replay the ones the active
    /// producer did not cover when switching to it, so a failover loses no
    /// sample.
    pub hot_standby: bool,
    /// How far back (by source timestamp) the standby buffer reaches. It
    /// must cover the time to detect a failure: the lease plus margin.
    pub standby_window: Duration,
    /// Hard cap on buffered standby samples, whatever their age.
    pub standby_capacity: usize,
    /// QoS of the readers; default [`data_qos`](super::data_qos).
    pub qos: Option<QosPolicies>,
}

impl Default for SubscriptionConfig {
    /// No hot standby; a 1 s, 16 384-sample standby buffer when enabled.
    fn default() -> Self {
        SubscriptionConfig {
            hot_standby: false,
            standby_window: Duration::from_secs(1),
            standby_capacity: 16_384,
            qos: None,
        }
    }
}

impl SubscriptionConfig {
    /// Enables or disables the hot standby.
    pub fn with_hot_standby(mut self, hot_standby: bool) -> SubscriptionConfig {
        self.hot_standby = hot_standby;
        self
    }

    /// Sets the standby window (see the field).
    pub fn with_standby_window(mut self, window: Duration) -> SubscriptionConfig {
        self.standby_window = window;
        self
    }

    /// Sets the reader QoS.
    pub fn with_qos(mut self, qos: QosPolicies) -> SubscriptionConfig {
        self.qos = Some(qos);
        self
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

/// Counters of a [`Subscription`].
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

#[derive(Default)]
struct Counters {
    delivered: u64,
    replayed: u64,
    filtered: u64,
    deduplicated: u64,
    incomplete_replays: u64,
    errors: u64,
}

/// A typed data reader on the topics a consumer's query names that
/// delivers samples from the active producer only, switching when the
/// route changes. See the module docs.
///
/// It has no task of its own: [`Subscription::recv`] reads DDS and filters
/// in the caller's task, so a delivered sample costs no extra wake-up or
/// channel hop over a plain rustdds reader. Samples wait in the DDS reader
/// history (keep-last 256 per producer by default) between calls.
pub struct Subscription<T>
where
    T: Keyed + DeserializeOwned + 'static,
    T::K: DeserializeOwned,
{
    samples: Streams<T>,
    routes: watch::Receiver<Route>,
    /// False once the selector is gone: the last route is kept.
    routes_open: bool,
    filter: Filter<T>,
    /// Delivered but not returned yet (a hot-standby replay).
    pending: VecDeque<Delivered<T>>,
}

impl<T> fmt::Debug for Subscription<T>
where
    T: Keyed + DeserializeOwned + 'static,
    T::K: DeserializeOwned,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("route", &self.filter.route)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<T> Subscription<T>
where
    T: Keyed + DeserializeOwned + 'static,
    T::K: DeserializeOwned,
{
    /// Reads `topics` (all of type `type_name`) and follows `routes`.
    pub fn new(
        participant: &VigilParticipant,
        topics: &[String],
        type_name: &str,
        mut routes: watch::Receiver<Route>,
        config: SubscriptionConfig,
    ) -> Result<Subscription<T>, DdsError> {
        let mut streams = Vec::with_capacity(topics.len());
        let mut seen: Vec<&String> = Vec::new();
        for topic in topics {
            if seen.contains(&topic) {
                continue;
            }
            seen.push(topic);
            let dds_topic = participant.data_topic(topic, type_name)?;
            let reader = participant.data_reader::<T>(&dds_topic, config.qos.clone())?;
            streams.push(reader.async_sample_stream());
        }
        let mut filter = Filter {
            config,
            route: Route::default(),
            active_name: None,
            buffer: VecDeque::new(),
            last_delivered_ts: None,
            counters: Counters::default(),
            _marker: PhantomData,
        };
        let mut out = Vec::new();
        let initial = routes.borrow_and_update().clone();
        filter.on_route(initial, &mut out);
        Ok(Subscription {
            samples: if streams.len() == 1 {
                Streams::One(streams.remove(0))
            } else {
                Streams::Many(select_all(streams))
            },
            routes,
            routes_open: true,
            filter,
            pending: out.into(),
        })
    }

    /// The next sample from the active producer; `None` when there is no
    /// topic to read. Cancel-safe: use it in `tokio::select!`.
    pub async fn recv(&mut self) -> Option<Delivered<T>> {
        let mut out = Vec::new();
        loop {
            if let Some(delivered) = self.pending.pop_front() {
                return Some(delivered);
            }
            // Fast path, without registering wakers: a route change first
            // (a sample of the new producer that arrived with it is then
            // delivered, not filtered), then a sample already waiting.
            let sample = match self.routes.has_changed() {
                Ok(true) => {
                    let route = self.routes.borrow_and_update().clone();
                    self.filter.on_route(route, &mut out);
                    None
                }
                Ok(false) => self.samples.next().now_or_never(),
                // The selector is gone: keep following the last route.
                Err(_) => {
                    self.routes_open = false;
                    self.samples.next().now_or_never()
                }
            };
            let sample = match sample {
                Some(sample) => Some(sample),
                None if !out.is_empty() => None,
                None => {
                    tokio::select! {
                        biased;
                        changed = self.routes.changed(), if self.routes_open => {
                            match changed {
                                Ok(()) => {
                                    let route = self.routes.borrow_and_update().clone();
                                    self.filter.on_route(route, &mut out);
                                }
                                Err(_) => self.routes_open = false,
                            }
                            None
                        }
                        sample = self.samples.next() => Some(sample),
                    }
                }
            };
            match sample {
                Some(Some(Ok(sample))) => self.filter.on_sample(sample, &mut out),
                Some(Some(Err(error))) => {
                    self.filter.counters.errors += 1;
                    tracing::warn!(?error, "data sample dropped");
                }
                Some(None) => return None,
                None => {}
            }
            // The common case, one live sample: no queueing.
            if out.len() == 1 && self.pending.is_empty() {
                return out.pop();
            }
            self.pending.extend(out.drain(..));
        }
    }
}

impl<T> Subscription<T>
where
    T: Keyed + DeserializeOwned + 'static,
    T::K: DeserializeOwned,
{
    /// The counters so far.
    pub fn stats(&self) -> SubscriptionStats {
        let c = &self.filter.counters;
        SubscriptionStats {
            delivered: c.delivered,
            replayed: c.replayed,
            filtered: c.filtered,
            deduplicated: c.deduplicated,
            incomplete_replays: c.incomplete_replays,
            errors: c.errors,
        }
    }

    /// The route followed now.
    pub fn route(&self) -> &Route {
        &self.filter.route
    }
}

type Reader<T> = DataReaderStream<T, CDRDeserializerAdapter<T>>;

/// The readers of the query's topics. One topic (the usual case) is read
/// directly: merging streams costs a waker indirection per sample.
enum Streams<T>
where
    T: Keyed + DeserializeOwned + 'static,
    T::K: DeserializeOwned,
{
    One(Reader<T>),
    Many(SelectAll<Reader<T>>),
}

impl<T> Streams<T>
where
    T: Keyed + DeserializeOwned + 'static,
    T::K: DeserializeOwned,
{
    async fn next(&mut self) -> Option<rustdds::dds::ReadResult<rustdds::with_key::DataSample<T>>> {
        match self {
            Streams::One(s) => s.next().await,
            Streams::Many(s) => s.next().await,
        }
    }
}

/// The filtering state: plain data, so it is tested without DDS.
struct Filter<T> {
    config: SubscriptionConfig,
    route: Route,
    /// The active producer's id, shared by every delivery.
    active_name: Option<Arc<str>>,
    /// The standby's recent samples, oldest first, with source timestamps.
    buffer: VecDeque<(u64, T)>,
    /// Source timestamp of the last sample delivered.
    last_delivered_ts: Option<u64>,
    counters: Counters,
    _marker: PhantomData<T>,
}

impl<T> Filter<T> {
    fn on_sample(&mut self, sample: rustdds::with_key::DataSample<T>, out: &mut Vec<Delivered<T>>)
    where
        T: Keyed,
    {
        let info = sample.sample_info();
        let guid = info.writer_guid().to_bytes();
        // rustdds sends a source timestamp only when the writer gives one;
        // without it the reception time orders the samples (same clock for
        // every producer, seen from here).
        let ts = Some(info.source_timestamp().map_or_else(unix_now_ns, unix_ns_of));
        let Sample::Value(value) = sample.into_value() else {
            // A disposal carries no data; the selector learns of a
            // producer leaving from its advert.
            return;
        };
        self.accept(guid, ts, value, out);
    }

    fn accept(&mut self, guid: [u8; 16], ts: Option<u64>, value: T, out: &mut Vec<Delivered<T>>) {
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
                let window =
                    u64::try_from(self.config.standby_window.as_nanos()).unwrap_or(u64::MAX);
                let oldest = ts.saturating_sub(window);
                while self.buffer.front().is_some_and(|(t, _)| *t < oldest)
                    || self.buffer.len() > self.config.standby_capacity
                {
                    self.buffer.pop_front();
                }
            }
            _ => {
                self.counters.filtered += 1;
            }
        }
    }

    fn on_route(&mut self, route: Route, out: &mut Vec<Delivered<T>>) {
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

    fn end(name: &str, id: u8) -> RouteEnd {
        RouteEnd {
            producer: name.to_owned(),
            topic: "imu".to_owned(),
            writer_guid: [id; 16],
        }
    }

    fn filter(hot: bool) -> Filter<u64> {
        Filter {
            config: SubscriptionConfig::default().with_hot_standby(hot),
            route: Route::default(),
            active_name: None,
            buffer: VecDeque::new(),
            last_delivered_ts: None,
            counters: Counters::default(),
            _marker: PhantomData,
        }
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
        f.config.standby_window = Duration::from_nanos(100);
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
