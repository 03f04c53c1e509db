//! A consumer on the in-process network.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use vigil_diag::Timestamp;
use vigil_qos::Query;

use super::{lock, InProcess};
use crate::advert::AdvertKey;
use crate::follow::{Delivered, Filter, Follower, Route, StandbyConfig, SubscriptionStats};
use crate::record::{RecordedInput, RecordedSession, RecordedStep, Recorder};
use crate::registry::{Registry, RegistryInput, RegistryStats};
use crate::selection::{
    ActiveProducer, Selection, SelectionEvent, SelectionExplanation, SelectionQuery,
    SelectionStats, SwitchPolicy,
};

/// How an [`InProcConsumer`] switches and reads.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct InProcConsumerConfig {
    /// The switching policy.
    pub policy: SwitchPolicy,
    /// How long after joining to wait before the first selection. Zero by
    /// default: the advert store is delivered whole at once, so there is
    /// nothing to wait for (unlike on DDS).
    pub settle: Duration,
    /// The hot standby.
    pub standby: StandbyConfig,
    /// Where every input of the consumer's core and every decision go
    /// (the flight recorder, the metrics), as a DDS
    /// [`Selector`](crate::Selector)'s do.
    pub recorder: Option<Arc<dyn Recorder>>,
}

impl InProcConsumerConfig {
    /// With this switching policy.
    pub fn with_policy(mut self, policy: SwitchPolicy) -> InProcConsumerConfig {
        self.policy = policy;
        self
    }

    /// With or without a hot standby.
    pub fn with_hot_standby(mut self, hot_standby: bool) -> InProcConsumerConfig {
        self.standby.hot_standby = hot_standby;
        self
    }

    /// Recording every input and decision to `recorder`.
    pub fn with_recorder(mut self, recorder: Option<Arc<dyn Recorder>>) -> InProcConsumerConfig {
        self.recorder = recorder;
        self
    }

    /// With this settle time.
    pub fn with_settle(mut self, settle: Duration) -> InProcConsumerConfig {
        self.settle = settle;
        self
    }
}

/// What an [`InProcConsumer`] receives, in the order it happened: a switch
/// is reported before the first sample it brings.
#[derive(Clone, Debug)]
pub enum Incoming<T> {
    /// The active producer changed (boxed: switches are rare, samples are
    /// not, and the item is as big as its largest variant).
    Selected(Box<SelectionEvent>),
    /// A sample of the active producer (or a hot-standby replay).
    Sample(Delivered<T>),
}

/// Counters of an [`InProcConsumer`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InProcConsumerStats {
    /// The registry's counters.
    pub registry: RegistryStats,
    /// The selection's counters.
    pub selection: SelectionStats,
    /// The data filter's counters (`errors`: samples of another Rust type
    /// than the consumer's on its topics).
    pub data: SubscriptionStats,
}

/// The items a consumer has not taken yet, shared by the bus (which
/// pushes) and the handle (which takes).
struct Queue<T> {
    items: Mutex<VecDeque<Incoming<T>>>,
    ready: Notify,
}

/// The typed half of a consumer, behind the bus's type-erased slot.
trait Sink: Send {
    fn selected(&mut self, events: Vec<SelectionEvent>, route: Route);
    fn data(&mut self, writer: [u8; 16], ts: u64, value: &Arc<dyn Any + Send + Sync>);
    fn stats(&self) -> SubscriptionStats;
}

struct TypedSink<T> {
    filter: Filter<T>,
    queue: Arc<Queue<T>>,
}

impl<T: Clone + Send + Sync + 'static> TypedSink<T> {
    fn push(&self, items: impl IntoIterator<Item = Incoming<T>>) {
        let mut queue = lock(&self.queue.items);
        let before = queue.len();
        queue.extend(items);
        if queue.len() > before {
            self.queue.ready.notify_one();
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Sink for TypedSink<T> {
    fn selected(&mut self, events: Vec<SelectionEvent>, route: Route) {
        // The events first, then what the new route replays.
        self.push(events.into_iter().map(|e| Incoming::Selected(Box::new(e))));
        let mut out = Vec::new();
        self.filter.on_route(route, &mut out);
        self.push(out.into_iter().map(Incoming::Sample));
    }

    fn data(&mut self, writer: [u8; 16], ts: u64, value: &Arc<dyn Any + Send + Sync>) {
        let Some(value) = value.downcast_ref::<T>() else {
            self.filter.count_error();
            return;
        };
        let mut out = Vec::new();
        self.filter
            .accept(writer, Some(ts), value.clone(), &mut out);
        self.push(out.into_iter().map(Incoming::Sample));
    }

    fn stats(&self) -> SubscriptionStats {
        self.filter.stats()
    }
}

/// A consumer's registry, selection and data sink, held by the bus.
pub(crate) struct ConsumerSlot {
    registry: Registry,
    follower: Follower,
    topics: Vec<String>,
    type_name: String,
    sink: Box<dyn Sink>,
    recorder: Option<Arc<dyn Recorder>>,
}

impl ConsumerSlot {
    pub(super) fn next_deadline(&self) -> Option<Timestamp> {
        self.follower.next_deadline(&self.registry)
    }

    pub(super) fn input(&mut self, input: RegistryInput, now: Timestamp) {
        let recorded = self.recorder.as_ref().map(|_| RecordedInput::from(&input));
        let changes = self.registry.apply(input, now);
        let events = self.follower.on_changes(&self.registry, &changes, now);
        self.record_and_publish(now, recorded, changes, events);
    }

    pub(super) fn tick(&mut self, now: Timestamp) {
        let (changes, events) = self.follower.tick(&self.registry, now);
        self.record_and_publish(now, Some(RecordedInput::Tick), changes, events);
    }

    /// Records the step (with the breakers' transitions it caused), then
    /// publishes its events.
    fn record_and_publish(
        &mut self,
        now: Timestamp,
        input: Option<RecordedInput>,
        changes: Vec<crate::RegistryChange>,
        events: Vec<SelectionEvent>,
    ) {
        let breakers = self.follower.take_breaker_events();
        for event in &breakers {
            tracing::debug!(%event, "circuit breaker (in-process)");
        }
        if let (Some(recorder), Some(input)) = (&self.recorder, input) {
            recorder.step(RecordedStep {
                at: now,
                input,
                changes,
                events: events.clone(),
                breakers,
            });
        }
        self.publish(events);
    }

    fn publish(&mut self, events: Vec<SelectionEvent>) {
        for event in &events {
            tracing::debug!(%event, "selection changed (in-process)");
        }
        let route = self.follower.route();
        self.sink.selected(events, route);
    }

    /// A data sample; `now` on the network's clock, `ts` its source
    /// timestamp (Unix nanoseconds).
    pub(super) fn data(
        &mut self,
        topic: &str,
        type_name: &str,
        (writer, ts, now): ([u8; 16], u64, Timestamp),
        value: &Arc<dyn Any + Send + Sync>,
    ) {
        // As on DDS, a reader matches a writer of its topic and type name
        // only.
        if type_name == self.type_name && self.topics.iter().any(|t| t == topic) {
            self.sink.data(writer, ts, value);
            let judged = self
                .follower
                .selection()
                .is_some_and(|s| s.policy().breaker.is_some());
            if judged {
                // The circuit breakers judge every sample's arrival, as the
                // DDS subscription reports them.
                let arrivals = vec![crate::SampleArrival {
                    writer_guid: writer,
                    at: now,
                }];
                let events = self.follower.on_samples(&self.registry, &arrivals, now);
                let input = RecordedInput::Samples { arrivals };
                self.record_and_publish(now, Some(input), Vec::new(), events);
            }
        }
    }
}

/// A consumer following a query on an [`InProcess`] network: the
/// in-process twin of a [`Selector`](crate::Selector) with its
/// [`Subscription`](crate::Subscription), as one ordered stream.
pub struct InProcConsumer<T> {
    net: InProcess,
    id: u64,
    queue: Arc<Queue<T>>,
}

impl<T> fmt::Debug for InProcConsumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcConsumer")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl InProcess {
    /// Starts following `query`, reading samples of Rust type `T` published
    /// with DDS type name `type_name` on the query's topics. Every current
    /// advert is delivered at once (the advert store is transient-local).
    /// With a recorder ([`InProcConsumerConfig::recorder`]) the first
    /// selection waits for the clock to move (at least a nanosecond): the
    /// stored adverts are recorded one input each, so that a replay makes
    /// its first selection on all of them, as this consumer does.
    pub fn follow<T: Clone + Send + Sync + 'static>(
        &self,
        query: &Query,
        type_name: &str,
        config: InProcConsumerConfig,
    ) -> InProcConsumer<T> {
        let queue = Arc::new(Queue {
            items: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
        });
        let mut bus = self.lock();
        let id = InProcess::next_id(&mut bus);
        // A recorded consumer takes the advert store input by input, as
        // a replay will, and so settles a nanosecond later: its first
        // selection is made when the clock next moves, with every stored
        // advert in its registry (not on the first one alone).
        let recording = config.recorder.is_some();
        let (registry, settle) = if recording {
            let registry = Registry::new(crate::RegistryConfig {
                grace: bus.config.grace,
            });
            (registry, config.settle.max(Duration::from_nanos(1)))
        } else {
            (bus.new_registry(), config.settle)
        };
        if let Some(recorder) = &config.recorder {
            recorder.session(RecordedSession::new(
                Some(query),
                &config.policy,
                settle,
                bus.config.grace,
                bus.now,
            ));
        }
        let selection = Selection::new(SelectionQuery::new(query), config.policy);
        let mut slot = ConsumerSlot {
            registry,
            follower: Follower::new(Some(selection), bus.now, settle),
            topics: query
                .clauses()
                .iter()
                .map(|c| c.topic().to_owned())
                .collect(),
            type_name: type_name.to_owned(),
            sink: Box::new(TypedSink {
                filter: Filter::new(config.standby),
                queue: Arc::clone(&queue),
            }),
            recorder: config.recorder,
        };
        if recording {
            for input in bus.stored_adverts() {
                slot.input(input, bus.now);
            }
        } else {
            // With no settle time the first selection is made now.
            slot.tick(bus.now);
        }
        bus.consumers.insert(id, slot);
        drop(bus);
        InProcConsumer {
            net: self.clone(),
            id,
            queue,
        }
    }
}

impl<T> InProcConsumer<T> {
    /// The next item, if one is waiting.
    pub fn try_recv(&self) -> Option<Incoming<T>> {
        lock(&self.queue.items).pop_front()
    }

    /// The next item, waiting for one. With a manual clock something else
    /// must move it ([`InProcess::advance`], [`InProcess::spawn_realtime`]).
    /// Cancel-safe.
    pub async fn recv(&self) -> Incoming<T> {
        loop {
            let ready = self.queue.ready.notified();
            if let Some(item) = self.try_recv() {
                return item;
            }
            ready.await;
        }
    }

    fn with_slot<R>(&self, read: impl FnOnce(&ConsumerSlot) -> R) -> Option<R> {
        let bus = self.net.lock();
        bus.consumers.get(&self.id).map(read)
    }

    /// The producer followed now.
    pub fn active(&self) -> Option<ActiveProducer> {
        self.with_slot(|s| s.follower.selection()?.active().cloned())
            .flatten()
    }

    /// The whole fallback chain, best first.
    pub fn chain(&self) -> Vec<AdvertKey> {
        self.with_slot(|s| {
            s.follower
                .selection()
                .map(|s| s.chain().to_vec())
                .unwrap_or_default()
        })
        .unwrap_or_default()
    }

    /// Why the active producer was chosen and why each other one was not.
    pub fn explain(&self) -> Option<SelectionExplanation> {
        self.with_slot(|s| Some(s.follower.selection()?.explain(&s.registry)))
            .flatten()
    }

    /// The counters.
    pub fn stats(&self) -> InProcConsumerStats {
        self.with_slot(|s| InProcConsumerStats {
            registry: s.registry.stats(),
            selection: s
                .follower
                .selection()
                .map(Selection::stats)
                .unwrap_or_default(),
            data: s.sink.stats(),
        })
        .unwrap_or_default()
    }
}

impl<T> Drop for InProcConsumer<T> {
    fn drop(&mut self) {
        self.net.lock().consumers.remove(&self.id);
    }
}
