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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{select_all, StreamExt};
use rustdds::with_key::Sample;
use rustdds::{Keyed, QosPolicies};
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

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
    /// Delivered samples the application has not taken yet before the
    /// reader task waits (and DDS history absorbs the rest).
    pub channel_capacity: usize,
}

impl Default for SubscriptionConfig {
    /// No hot standby; a 1 s, 16 384-sample standby buffer when enabled.
    fn default() -> Self {
        SubscriptionConfig {
            hot_standby: false,
            standby_window: Duration::from_secs(1),
            standby_capacity: 16_384,
            qos: None,
            channel_capacity: 4096,
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
    pub producer: String,
    /// The writer GUID it came from.
    pub writer_guid: [u8; 16],
    /// DDS source timestamp, nanoseconds since the Unix epoch; the
    /// reception time when the writer sent none.
    pub source_ts_ns: Option<u64>,
    /// Received while its producer was the standby and replayed at the
    /// switch (hot standby).
    pub replayed: bool,
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
    /// Samples rustdds could not deserialize.
    pub errors: u64,
}

#[derive(Default)]
struct Counters {
    delivered: AtomicU64,
    replayed: AtomicU64,
    filtered: AtomicU64,
    deduplicated: AtomicU64,
    errors: AtomicU64,
}

/// A typed data reader on the topics a consumer's query names that
/// delivers samples from the active producer only, switching when the
/// route changes. See the module docs.
pub struct Subscription<T> {
    rx: mpsc::Receiver<Delivered<T>>,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl<T> fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<T> Drop for Subscription<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<T> Subscription<T>
where
    T: Keyed + DeserializeOwned + Send + 'static,
    T::K: DeserializeOwned + Send,
{
    /// Reads `topics` (all of type `type_name`) and follows `routes`. Must
    /// be called inside a tokio runtime.
    pub fn new(
        participant: &VigilParticipant,
        topics: &[String],
        type_name: &str,
        routes: watch::Receiver<Route>,
        config: SubscriptionConfig,
    ) -> Result<Subscription<T>, DdsError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| DdsError::Config {
            reason: "Subscription::new needs a tokio runtime".to_owned(),
        })?;
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
        let (tx, rx) = mpsc::channel(config.channel_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let filter = Filter {
            config,
            route: Route::default(),
            buffer: VecDeque::new(),
            last_delivered_ts: None,
            counters: Arc::clone(&counters),
            _marker: PhantomData,
        };
        let task = runtime.spawn(run(select_all(streams), routes, tx, filter));
        Ok(Subscription { rx, counters, task })
    }
}

impl<T> Subscription<T> {
    /// The next sample from the active producer; `None` once the reader
    /// task has stopped.
    pub async fn recv(&mut self) -> Option<Delivered<T>> {
        self.rx.recv().await
    }

    /// The counters so far.
    pub fn stats(&self) -> SubscriptionStats {
        let c = &self.counters;
        SubscriptionStats {
            delivered: c.delivered.load(Ordering::Relaxed),
            replayed: c.replayed.load(Ordering::Relaxed),
            filtered: c.filtered.load(Ordering::Relaxed),
            deduplicated: c.deduplicated.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
        }
    }
}

async fn run<T, S>(
    mut samples: S,
    mut routes: watch::Receiver<Route>,
    tx: mpsc::Sender<Delivered<T>>,
    mut filter: Filter<T>,
) where
    S: futures::Stream<Item = rustdds::dds::ReadResult<rustdds::with_key::DataSample<T>>> + Unpin,
    T: Keyed,
{
    let mut out = Vec::new();
    let initial = routes.borrow_and_update().clone();
    filter.on_route(initial, &mut out);
    let mut routes_open = true;
    loop {
        for delivered in out.drain(..) {
            if tx.send(delivered).await.is_err() {
                return;
            }
        }
        tokio::select! {
            // A route change first: a sample of the new producer that
            // arrived together with it is then delivered, not filtered.
            biased;
            changed = routes.changed(), if routes_open => match changed {
                Ok(()) => {
                    let route = routes.borrow_and_update().clone();
                    filter.on_route(route, &mut out);
                }
                // The selector is gone: keep following the last route.
                Err(_) => routes_open = false,
            },
            sample = samples.next() => match sample {
                Some(Ok(sample)) => filter.on_sample(sample, &mut out),
                Some(Err(error)) => {
                    filter.counters.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(?error, "data sample dropped");
                }
                None => return,
            },
            () = tx.closed() => return,
        }
    }
}

/// The filtering state: plain data, so it is tested without DDS.
struct Filter<T> {
    config: SubscriptionConfig,
    route: Route,
    /// The standby's recent samples, oldest first, with source timestamps.
    buffer: VecDeque<(u64, T)>,
    /// Source timestamp of the last sample delivered.
    last_delivered_ts: Option<u64>,
    counters: Arc<Counters>,
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
        if let Some(active) = self.route.active.as_ref().filter(|a| a.writer_guid == guid) {
            if ts.is_some() {
                self.last_delivered_ts = ts.max(self.last_delivered_ts);
            }
            out.push(Delivered {
                value,
                producer: active.producer.clone(),
                writer_guid: guid,
                source_ts_ns: ts,
                replayed: false,
            });
            self.counters.delivered.fetch_add(1, Ordering::Relaxed);
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
                self.counters.filtered.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn on_route(&mut self, route: Route, out: &mut Vec<Delivered<T>>) {
        if route == self.route {
            return;
        }
        let old = std::mem::replace(&mut self.route, route);
        let active_guid = |r: &Route| r.active.as_ref().map(|a| a.writer_guid);
        let standby_guid = |r: &Route| r.standby.as_ref().map(|s| s.writer_guid);
        let switched = active_guid(&old) != active_guid(&self.route);
        let promoted = switched
            && self.config.hot_standby
            && active_guid(&self.route).is_some()
            && active_guid(&self.route) == standby_guid(&old);
        if promoted {
            if let Some(active) = self.route.active.clone() {
                let mut buffer = std::mem::take(&mut self.buffer);
                buffer.make_contiguous().sort_by_key(|(ts, _)| *ts);
                for (ts, value) in buffer {
                    // Deduplicate: what the previous producer covered up to
                    // its last delivered sample is not replayed.
                    if self.last_delivered_ts.is_some_and(|last| ts <= last) {
                        self.counters.deduplicated.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    self.last_delivered_ts = Some(ts);
                    out.push(Delivered {
                        value,
                        producer: active.producer.clone(),
                        writer_guid: active.writer_guid,
                        source_ts_ns: Some(ts),
                        replayed: true,
                    });
                    self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                    self.counters.replayed.fetch_add(1, Ordering::Relaxed);
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
            buffer: VecDeque::new(),
            last_delivered_ts: None,
            counters: Arc::new(Counters::default()),
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
        assert_eq!(f.counters.filtered.load(Ordering::Relaxed), 2);
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
        assert!(out.iter().all(|d| d.replayed && d.producer == "b"));
        assert_eq!(f.counters.deduplicated.load(Ordering::Relaxed), 1);
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
