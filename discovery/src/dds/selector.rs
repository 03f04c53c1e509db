//! The consumer side: the registry and a selection, driven by DDS samples
//! and timers in one tokio task.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::StreamExt;
use rustdds::with_key::Sample;
use serde::de::DeserializeOwned;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use vigil_diag::Timestamp;
use vigil_qos::Query;

use super::routes::RoutePublisher;
use super::sample::{instant_of, now};
use super::subscription::{Arrivals, Subscription, SubscriptionConfig};
use super::{DdsError, VigilParticipant};
use crate::advert::AdvertKey;
use crate::follow::{Follower, Route};
use crate::reconfig::{CAPABILITY_OVERRIDE_TOPIC, ISOLATION_TOPIC};
use crate::record::{RecordedInput, RecordedSession, RecordedStep, Recorder};
use crate::registry::{Registry, RegistryConfig, RegistryInput, RegistryStats};
use crate::route::ConsumerIdentity;
use crate::selection::{
    ActiveProducer, BreakerEvent, SampleArrival, Selection, SelectionEvent, SelectionExplanation,
    SelectionQuery, SelectionStats, SwitchPolicy,
};
use crate::wire::{ADVERT_TOPIC, FAILED_ON_BEHALF_TOPIC, HEARTBEAT_BUNDLE_TOPIC, HEARTBEAT_TOPIC};

/// The next item of an optional stream; never, without one.
async fn next_of<S: futures::Stream + Unpin>(stream: &mut Option<S>) -> Option<S::Item> {
    match stream {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

/// How a [`Selector`] switches and forgets.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct SelectorConfig {
    /// The switching policy.
    pub policy: SwitchPolicy,
    /// How long the registry keeps an unreachable producer. Default: the
    /// participant's [`DdsConfig::grace`](super::DdsConfig::grace).
    pub grace: Option<std::time::Duration>,
    /// How many selection events a slow [`Selector::events`] receiver may
    /// fall behind before it misses some.
    pub event_capacity: Option<usize>,
    /// How long after the start to collect adverts before the first
    /// selection. Transient-local adverts of the producers already running
    /// arrive within a few hundred milliseconds, one by one: selecting at
    /// once would take the first heard and switch again when the best one
    /// arrives. Zero: select at once.
    pub settle: std::time::Duration,
    /// Where to send every input and what it caused (the flight
    /// recorder); `None`: nothing is recorded and nothing is cloned.
    pub recorder: Option<Arc<dyn Recorder>>,
    /// The trust policy the registry applies (issue 13); `None`: mode off.
    /// Reload it through [`Registry::policy_slot`](crate::Registry::policy_slot).
    pub trust: Option<crate::TrustPolicy>,
    /// The slot the registry reads its trust policy from, shared with the
    /// caller (see [`Registry::with_policy_slot`]); `None`: its own. A
    /// [`SelectorConfig::trust`] is set into it.
    pub policy_slot: Option<crate::PolicySlot>,
    /// Who the consumer is: when set, its route (query, active producer,
    /// every switch and its cause) is published on
    /// [`CONSUMER_ROUTE_TOPIC`](crate::CONSUMER_ROUTE_TOPIC) and disposed
    /// at [`Selector::shutdown`]. Ignored by a registry-only selector.
    pub identity: Option<ConsumerIdentity>,
}

impl SelectorConfig {
    /// With this switching policy.
    pub fn with_policy(mut self, policy: SwitchPolicy) -> SelectorConfig {
        self.policy = policy;
        self
    }

    /// With this settle time (see the field).
    pub fn with_settle(mut self, settle: std::time::Duration) -> SelectorConfig {
        self.settle = settle;
        self
    }

    /// With this trust policy (see the field).
    pub fn with_trust(mut self, trust: Option<crate::TrustPolicy>) -> SelectorConfig {
        self.trust = trust;
        self
    }

    /// Reading the trust policy from `slot` (see the field).
    pub fn with_policy_slot(mut self, slot: crate::PolicySlot) -> SelectorConfig {
        self.policy_slot = Some(slot);
        self
    }

    /// Publishing the route as `identity` (see the field).
    pub fn with_identity(mut self, identity: Option<ConsumerIdentity>) -> SelectorConfig {
        self.identity = identity;
        self
    }

    /// With this flight recorder (see the field).
    pub fn with_recorder(mut self, recorder: Option<Arc<dyn Recorder>>) -> SelectorConfig {
        self.recorder = recorder;
        self
    }
}

/// Counters of a [`Selector`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SelectorStats {
    /// The registry's counters (`rejected` counts malformed samples too).
    pub registry: RegistryStats,
    /// The selection's counters (zero for a registry-only selector).
    pub selection: SelectionStats,
    /// Samples on the vigil topics that did not even deserialize.
    pub malformed: u64,
}

/// Follows a constraint query over the adverts on DDS.
///
/// A tokio task reads the advert, heartbeat and FAILED-on-behalf topics
/// into the
/// [`Registry`], runs the [`Selection`] on every change and at its
/// deadlines (hold-off, wait-to-restore, lease expiry), publishes each
/// [`SelectionEvent`] on [`Selector::events`] and the data route on
/// [`Selector::routes`], which [`Subscription`]s follow.
pub struct Selector {
    shared: Arc<Shared>,
    participant: VigilParticipant,
    /// Data topics of the query's clauses, first clause first.
    topics: Vec<String>,
    events: broadcast::Sender<SelectionEvent>,
    /// The receiver made with the channel, handed to the first caller of
    /// [`Selector::events`] so it sees every event since the start.
    first_events: Mutex<Option<broadcast::Receiver<SelectionEvent>>>,
    routes: watch::Receiver<Route>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    /// The consumer's published route, disposed at shutdown.
    route: Option<Arc<RoutePublisher>>,
    /// Where subscriptions report sample arrivals, when the policy has
    /// circuit breakers.
    arrivals: Option<tokio::sync::mpsc::Sender<SampleArrival>>,
    breaker_events: broadcast::Sender<BreakerEvent>,
}

struct Shared {
    registry: Registry,
    /// The selection (`None` in it for a registry-only selector, `vigil
    /// monitor`).
    follower: Mutex<Follower>,
    malformed: AtomicU64,
}

impl fmt::Debug for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Selector")
            .field("topics", &self.topics)
            .field("route", &*self.routes.borrow())
            .finish_non_exhaustive()
    }
}

/// A poisoned lock only means a panic elsewhere; the selection is plain
/// data and every mutation completes before it returns.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Selector {
    /// Starts following `query`. Must be called inside a tokio runtime.
    pub fn start(
        participant: &VigilParticipant,
        query: &Query,
        config: SelectorConfig,
    ) -> Result<Selector, DdsError> {
        let topics = query
            .clauses()
            .iter()
            .map(|c| c.topic().to_owned())
            .collect();
        let selection = Selection::new(SelectionQuery::new(query), config.policy.clone());
        Selector::spawn(participant, Some((selection, query)), topics, config)
    }

    /// Keeps the registry only, with no query: what `vigil monitor` shows.
    pub fn registry_only(
        participant: &VigilParticipant,
        config: SelectorConfig,
    ) -> Result<Selector, DdsError> {
        Selector::spawn(participant, None, Vec::new(), config)
    }

    fn spawn(
        participant: &VigilParticipant,
        selection: Option<(Selection, &Query)>,
        topics: Vec<String>,
        config: SelectorConfig,
    ) -> Result<Selector, DdsError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| DdsError::Config {
            reason: "Selector::start needs a tokio runtime".to_owned(),
        })?;
        let grace = config.grace.unwrap_or(participant.config().grace);
        let start = now();
        let query = selection.as_ref().map(|(_, query)| *query);
        if let Some(recorder) = &config.recorder {
            recorder.session(RecordedSession::new(
                query,
                &config.policy,
                config.settle,
                grace,
                start,
            ));
        }
        let route = match (query, config.identity) {
            (Some(query), Some(identity)) => Some(Arc::new(RoutePublisher::start(
                participant,
                identity,
                query.to_string(),
            )?)),
            _ => None,
        };
        let selection = selection.map(|(selection, _)| selection);
        let shared = Arc::new(Shared {
            registry: Registry::with_policy_slot(
                RegistryConfig { grace },
                config.policy_slot.unwrap_or_default(),
            ),
            follower: Mutex::new(Follower::new(selection, start, config.settle)),
            malformed: AtomicU64::new(0),
        });
        if let Some(trust) = config.trust {
            shared.registry.set_policy(trust);
        }
        let adverts = participant.advert_reader()?.async_sample_stream();
        // Wire v2 (issue 14): the bundle reader first, so that DDS
        // discovery never shows writers a v1 reader here that is not one.
        let v1 = participant.config().wire_version < 2;
        let bundles = match v1 {
            true => None,
            false => Some(participant.bundle_reader()?.async_sample_stream()),
        };
        let heartbeats = participant.heartbeat_reader()?.async_sample_stream();
        let on_behalf = participant.failed_on_behalf_reader()?.async_sample_stream();
        // The engine's words (isolations, capability overrides): one stream.
        let reconfig = futures::stream::select(
            super::isolation_reader(participant)?
                .async_sample_stream()
                .map(reconfig_item(ISOLATION_TOPIC, RegistryInput::Isolation)),
            super::capability_override_reader(participant)?
                .async_sample_stream()
                .map(reconfig_item(
                    CAPABILITY_OVERRIDE_TOPIC,
                    RegistryInput::CapabilityOverride,
                )),
        );
        let (events, first_events) =
            broadcast::channel(config.event_capacity.unwrap_or(256).max(1));
        let (route_tx, routes) = watch::channel(Route::default());
        let (stop, stopped) = watch::channel(false);
        let (arrivals, arrivals_rx) = if config.policy.breaker.is_some() && query.is_some() {
            let (tx, rx) = tokio::sync::mpsc::channel(ARRIVAL_QUEUE);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let (breaker_events, _) = broadcast::channel(config.event_capacity.unwrap_or(256).max(1));
        let driver = Driver {
            shared: Arc::clone(&shared),
            events: events.clone(),
            routes: route_tx,
            recorder: config.recorder,
            route: route.clone(),
            breaker_events: breaker_events.clone(),
        };
        let task = runtime.spawn(driver.run(
            (adverts, (heartbeats, bundles, v1), on_behalf, reconfig),
            arrivals_rx,
            stopped,
        ));
        Ok(Selector {
            shared,
            participant: participant.clone(),
            topics,
            events,
            first_events: Mutex::new(Some(first_events)),
            routes,
            stop,
            task: Some(task),
            route,
            arrivals,
            breaker_events,
        })
    }

    /// A receiver of the circuit breakers' transitions from now on (none
    /// without breakers in the policy).
    pub fn breaker_events(&self) -> broadcast::Receiver<BreakerEvent> {
        self.breaker_events.subscribe()
    }

    /// A receiver of selection events: the first call gets every event
    /// since the selector started, later calls those from now on.
    pub fn events(&self) -> broadcast::Receiver<SelectionEvent> {
        lock(&self.first_events)
            .take()
            .unwrap_or_else(|| self.events.subscribe())
    }

    /// The data route (active and standby writers), updated at every change.
    pub fn routes(&self) -> watch::Receiver<Route> {
        self.routes.clone()
    }

    /// The producer followed now.
    pub fn active(&self) -> Option<ActiveProducer> {
        lock(&self.shared.follower).selection()?.active().cloned()
    }

    /// Why the active producer was chosen and why each other one was not;
    /// `None` for a registry-only selector.
    pub fn explain(&self) -> Option<SelectionExplanation> {
        let follower = lock(&self.shared.follower);
        Some(follower.selection()?.explain(&self.shared.registry))
    }

    /// The whole fallback chain, best first (empty for a registry-only
    /// selector).
    pub fn chain(&self) -> Vec<AdvertKey> {
        let follower = lock(&self.shared.follower);
        follower
            .selection()
            .map(|s| s.chain().to_vec())
            .unwrap_or_default()
    }

    /// The live registry.
    pub fn registry(&self) -> &Registry {
        &self.shared.registry
    }

    /// The data topics the query names, first clause first.
    pub fn topics(&self) -> &[String] {
        &self.topics
    }

    /// The counters.
    pub fn stats(&self) -> SelectorStats {
        SelectorStats {
            registry: self.shared.registry.stats(),
            selection: lock(&self.shared.follower)
                .selection()
                .map(Selection::stats)
                .unwrap_or_default(),
            malformed: self.shared.malformed.load(Ordering::Relaxed),
        }
    }

    /// A typed reader of the query's data topics (all of DDS type
    /// `type_name`) that delivers the active producer's samples only.
    pub fn subscribe<T>(
        &self,
        type_name: &str,
        config: SubscriptionConfig,
    ) -> Result<Subscription<T>, DdsError>
    where
        T: rustdds::Keyed + DeserializeOwned + 'static,
        T::K: DeserializeOwned,
    {
        Ok(Subscription::new(
            &self.participant,
            &self.topics,
            type_name,
            self.routes(),
            config,
        )?
        .with_arrivals(self.arrivals.clone().map(Arrivals::new)))
    }

    /// Stops the task and waits for it; disposes the consumer's route.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some(route) = self.route.take() {
            route.dispose().await;
        }
    }
}

impl Drop for Selector {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The task's side.
struct Driver {
    shared: Arc<Shared>,
    events: broadcast::Sender<SelectionEvent>,
    routes: watch::Sender<Route>,
    recorder: Option<Arc<dyn Recorder>>,
    route: Option<Arc<RoutePublisher>>,
    breaker_events: broadcast::Sender<BreakerEvent>,
}

/// What the engine's topics bring: a registry input, nothing (a disposed
/// instance says nothing a release or a clearing does not), or what could
/// not be read, and on which topic.
type ReconfigItem = Result<Option<RegistryInput>, (&'static str, rustdds::dds::ReadError)>;

/// Turns a sample of one of the engine's topics into a [`ReconfigItem`].
fn reconfig_item<T>(
    topic: &'static str,
    input: fn(T) -> RegistryInput,
) -> impl FnMut(rustdds::dds::ReadResult<rustdds::with_key::DataSample<T>>) -> ReconfigItem
where
    T: rustdds::Keyed,
{
    move |read| match read {
        Ok(sample) => Ok(match sample.into_value() {
            Sample::Value(wire) => Some(input(wire)),
            Sample::Dispose(_) => None,
        }),
        Err(error) => Err((topic, error)),
    }
}

/// How many sample arrivals may wait for the selector task.
const ARRIVAL_QUEUE: usize = 8192;

/// At most this many arrivals are taken as one input: a batch is one step
/// of the core (and of a recording), not one per sample.
const ARRIVAL_BATCH: usize = 1024;

impl Driver {
    async fn run<A, H, B, F, I>(
        self,
        (mut adverts, (mut heartbeats, mut bundles, v1), mut on_behalf, mut reconfig): (
            A,
            (H, Option<B>, bool),
            F,
            I,
        ),
        mut arrivals: Option<tokio::sync::mpsc::Receiver<SampleArrival>>,
        mut stopped: watch::Receiver<bool>,
    ) where
        A: futures::Stream<
                Item = rustdds::dds::ReadResult<rustdds::with_key::DataSample<crate::AdvertWire>>,
            > + Unpin,
        H: futures::Stream<
                Item = rustdds::dds::ReadResult<
                    rustdds::with_key::DataSample<crate::HeartbeatWire>,
                >,
            > + Unpin,
        B: futures::Stream<
                Item = rustdds::dds::ReadResult<
                    rustdds::with_key::DataSample<crate::HeartbeatBundleWire>,
                >,
            > + Unpin,
        F: futures::Stream<
                Item = rustdds::dds::ReadResult<
                    rustdds::with_key::DataSample<crate::FailedOnBehalfWire>,
                >,
            > + Unpin,
        I: futures::Stream<Item = ReconfigItem> + Unpin,
    {
        loop {
            let deadline = lock(&self.shared.follower).next_deadline(&self.shared.registry);
            let sleep = async {
                match deadline {
                    Some(at) => {
                        tokio::time::sleep_until(tokio::time::Instant::from_std(instant_of(at)))
                            .await
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                advert = adverts.next() => match advert {
                    Some(Ok(sample)) => {
                        // The advert writer, so that a late dispose from an
                        // earlier incarnation's writer cannot remove the
                        // entry a newer one published (registry, *Disposal*).
                        let sender = sample.sample_info().writer_guid().to_bytes();
                        let input = match sample.into_value() {
                            Sample::Value(wire) => RegistryInput::AdvertFrom { wire, sender },
                            Sample::Dispose(key) => RegistryInput::DisposedBy {
                                key: AdvertKey::new(key.producer, key.topic),
                                sender,
                            },
                        };
                        self.apply(input);
                    }
                    Some(Err(error)) => self.malformed(ADVERT_TOPIC, error),
                    None => return,
                },
                beat = heartbeats.next() => match beat {
                    Some(Ok(sample)) => {
                        // Its writer: a heartbeat speaks only for adverts of
                        // its own participant (registry, *Whose heartbeat*).
                        let sender = sample.sample_info().writer_guid().to_bytes();
                        // A disposed heartbeat instance says nothing the
                        // advert's disposal or the lease does not.
                        if let Sample::Value(mut wire) = sample.into_value() {
                            if v1 {
                                // As a build before revision 5 reads it.
                                wire.topic.clear();
                            }
                            self.apply(RegistryInput::HeartbeatFrom { wire, sender });
                        }
                    }
                    Some(Err(error)) => self.malformed(HEARTBEAT_TOPIC, error),
                    None => return,
                },
                bundle = next_of(&mut bundles) => match bundle {
                    Some(Ok(sample)) => {
                        // The bundle's writer is every entry's sender.
                        let sender = sample.sample_info().writer_guid().to_bytes();
                        if let Sample::Value(bundle) = sample.into_value() {
                            self.bundle(&bundle, sender);
                        }
                    }
                    Some(Err(error)) => self.malformed(HEARTBEAT_BUNDLE_TOPIC, error),
                    None => bundles = None,
                },
                said = on_behalf.next() => match said {
                    Some(Ok(sample)) => {
                        // Who sent it is what the registry checks against
                        // the producer's advert.
                        let sender = sample.sample_info().writer_guid().to_bytes();
                        if let Sample::Value(wire) = sample.into_value() {
                            self.apply(RegistryInput::FailedOnBehalf { wire, sender });
                        }
                    }
                    Some(Err(error)) => self.malformed(FAILED_ON_BEHALF_TOPIC, error),
                    None => return,
                },
                said = reconfig.next() => match said {
                    Some(Ok(Some(input))) => self.apply(input),
                    Some(Ok(None)) => {}
                    Some(Err((topic, error))) => self.malformed(topic, error),
                    None => return,
                },
                first = async {
                    match &mut arrivals {
                        Some(rx) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                } => match first {
                    Some(first) => {
                        let mut batch = vec![first];
                        if let Some(rx) = &mut arrivals {
                            while batch.len() < ARRIVAL_BATCH {
                                match rx.try_recv() {
                                    Ok(a) => batch.push(a),
                                    Err(_) => break,
                                }
                            }
                        }
                        self.samples(batch);
                    }
                    // Every subscription is gone: nothing more to judge.
                    None => arrivals = None,
                },
                () = sleep => {
                    let at = now();
                    if let Some(late) = deadline.map(|d| at.saturating_since(d)) {
                        if late > std::time::Duration::from_millis(20) {
                            // A starved runtime delays failovers: say so.
                            tracing::warn!(?late, "selector timer fired late");
                        }
                    }
                    self.tick(at);
                }
                _ = stopped.changed() => return,
            }
        }
    }

    /// Each entry of a bundle as the single heartbeat it stands for, so
    /// it is checked exactly as one (wire v2).
    fn bundle(&self, bundle: &crate::HeartbeatBundleWire, sender: [u8; 16]) {
        match bundle.heartbeats() {
            Ok(beats) => {
                for wire in beats {
                    self.apply(RegistryInput::HeartbeatFrom { wire, sender });
                }
            }
            Err(error) => {
                self.shared.malformed.fetch_add(1, Ordering::Relaxed);
                self.apply(RegistryInput::Malformed {
                    source: format!("a sample on `{HEARTBEAT_BUNDLE_TOPIC}`"),
                    error: error.to_string(),
                });
            }
        }
    }

    fn malformed(&self, topic: &str, error: rustdds::dds::ReadError) {
        self.shared.malformed.fetch_add(1, Ordering::Relaxed);
        // The registry counts and logs it with the other rejections.
        self.apply(RegistryInput::Malformed {
            source: format!("a sample on `{topic}`"),
            error: error.to_string(),
        });
    }

    fn apply(&self, input: RegistryInput) {
        let at = now();
        // Cloned only when recording: the registry takes the input.
        let recorded = self.recorder.as_ref().map(|_| RecordedInput::from(&input));
        let changes = self.shared.registry.apply(input, at);
        let fired = lock(&self.shared.follower).on_changes(&self.shared.registry, &changes, at);
        self.publish_and_record(at, recorded, changes, fired);
    }

    fn samples(&self, arrivals: Vec<SampleArrival>) {
        let at = now();
        let fired = lock(&self.shared.follower).on_samples(&self.shared.registry, &arrivals, at);
        let input = self
            .recorder
            .as_ref()
            .map(|_| RecordedInput::Samples { arrivals });
        self.publish_and_record(at, input, Vec::new(), fired);
    }

    fn tick(&self, at: Timestamp) {
        let (changes, fired) = lock(&self.shared.follower).tick(&self.shared.registry, at);
        self.publish_and_record(at, Some(RecordedInput::Tick), changes, fired);
    }

    /// Publishes first, records after: the recorder never delays a route.
    fn publish_and_record(
        &self,
        at: Timestamp,
        input: Option<RecordedInput>,
        changes: Vec<crate::RegistryChange>,
        fired: Vec<SelectionEvent>,
    ) {
        let (Some(recorder), Some(input)) = (&self.recorder, input) else {
            self.publish(fired);
            return;
        };
        let events = fired.clone();
        let breakers = self.publish(fired);
        recorder.step(RecordedStep {
            at,
            input,
            changes,
            events,
            breakers,
        });
    }

    /// Publishes the route, then what the selection decided, then what
    /// the circuit breakers did; returns the latter (for the recorder).
    fn publish(&self, fired: Vec<SelectionEvent>) -> Vec<BreakerEvent> {
        let (route, breakers) = {
            let mut follower = lock(&self.shared.follower);
            (follower.route(), follower.take_breaker_events())
        };
        // The route first: a subscriber must follow the new producer by the
        // time anyone reacts to the event.
        self.routes.send_if_modified(|current| {
            let changed = *current != route;
            *current = route;
            changed
        });
        for event in fired {
            tracing::info!(%event, "selection changed");
            // After the route moved: the report never delays a failover.
            if let Some(route) = &self.route {
                route.switched(&event);
            }
            // No receiver is fine: nobody listens yet.
            let _ = self.events.send(event);
        }
        for event in &breakers {
            let _ = self.breaker_events.send(event.clone());
        }
        breakers
    }
}
