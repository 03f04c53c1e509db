//! The consumer's data path: a typed reader that delivers samples of the
//! active producer only, with an optional hot standby.
//!
//! rustdds delivers the samples of every matched writer and ignores
//! EXCLUSIVE ownership strength (REFERENCES.md), so vigil follows one
//! producer by filtering on `SampleInfo::writer_guid()` against the
//! selector's [`Route`].

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use futures::stream::{select_all, SelectAll, StreamExt};
use futures::FutureExt;
use rustdds::with_key::{DataReaderStream, Sample};
use rustdds::{CDRDeserializerAdapter, Keyed, QosPolicies};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use super::sample::{unix_now_ns, unix_ns_of};
use super::{DdsError, VigilParticipant};
use crate::follow::{Align, Delivered, Filter, Route, StandbyConfig, SubscriptionStats};
use crate::selection::SampleArrival;

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
    /// No hot standby; the standby buffer of [`StandbyConfig::default`]
    /// when enabled.
    fn default() -> Self {
        let standby = StandbyConfig::default();
        SubscriptionConfig {
            hot_standby: standby.hot_standby,
            standby_window: standby.window,
            standby_capacity: standby.capacity,
            qos: None,
        }
    }
}

impl SubscriptionConfig {
    /// The hot-standby part, as the filter takes it.
    fn standby(&self) -> StandbyConfig {
        StandbyConfig {
            hot_standby: self.hot_standby,
            window: self.standby_window,
            capacity: self.standby_capacity,
        }
    }

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
    /// Each writer's source timestamps on this host's clock: producers on
    /// other hosts need not have synchronised clocks (issue 14).
    align: Align,
    /// Delivered but not returned yet (a hot-standby replay).
    pending: VecDeque<Delivered<T>>,
    /// Where every sample's arrival goes when the selector's policy has
    /// circuit breakers (issue 14): they judge each link's gaps.
    arrivals: Option<Arrivals>,
}

/// The sending half of a selector's sample-arrival queue.
#[derive(Debug)]
pub(crate) struct Arrivals {
    tx: tokio::sync::mpsc::Sender<SampleArrival>,
    /// Arrivals the full queue did not take (a selector that fell behind):
    /// the breakers see a longer gap there, so it is logged.
    dropped: u64,
}

impl Arrivals {
    pub(crate) fn new(tx: tokio::sync::mpsc::Sender<SampleArrival>) -> Arrivals {
        Arrivals { tx, dropped: 0 }
    }

    fn send(&mut self, writer_guid: [u8; 16]) {
        let arrival = SampleArrival {
            writer_guid,
            at: super::sample::now(),
        };
        if let Err(tokio::sync::mpsc::error::TrySendError::Full(_)) = self.tx.try_send(arrival) {
            self.dropped += 1;
            if self.dropped.is_power_of_two() {
                tracing::warn!(
                    dropped = self.dropped,
                    "sample arrivals not taken by a busy selector: its breakers may see gaps"
                );
            }
        }
    }
}

impl<T> fmt::Debug for Subscription<T>
where
    T: Keyed + DeserializeOwned + 'static,
    T::K: DeserializeOwned,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("route", self.filter.route())
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
        let mut filter = Filter::new(config.standby());
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
            align: Align::new(),
            pending: out.into(),
            arrivals: None,
        })
    }

    /// Reports every sample's arrival to a selector's circuit breakers.
    pub(crate) fn with_arrivals(mut self, arrivals: Option<Arrivals>) -> Subscription<T> {
        self.arrivals = arrivals;
        self
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
                Some(Some(Ok(sample))) => {
                    if let Some(arrivals) = &mut self.arrivals {
                        arrivals.send(sample.sample_info().writer_guid().to_bytes());
                    }
                    on_sample(&mut self.filter, &mut self.align, sample, &mut out)
                }
                Some(Some(Err(error))) => {
                    self.filter.count_error();
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
        self.filter.stats()
    }

    /// The route followed now.
    pub fn route(&self) -> &Route {
        self.filter.route()
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

/// Takes one DDS sample into the filter.
fn on_sample<T>(
    filter: &mut Filter<T>,
    align: &mut Align,
    sample: rustdds::with_key::DataSample<T>,
    out: &mut Vec<Delivered<T>>,
) where
    T: Keyed,
{
    let info = sample.sample_info();
    let guid = info.writer_guid().to_bytes();
    // rustdds sends a source timestamp only when the writer gives one;
    // without it the reception time orders the samples (same clock for
    // every producer, seen from here). With one, it is moved onto this
    // host's clock, as other hosts' clocks may be off.
    let received = unix_now_ns();
    let ts = Some(
        info.source_timestamp()
            .map_or(received, |ts| align.align(guid, unix_ns_of(ts), received)),
    );
    let Sample::Value(value) = sample.into_value() else {
        // A disposal carries no data; the selector learns of a producer
        // leaving from its advert.
        return;
    };
    filter.accept(guid, ts, value, out);
}
