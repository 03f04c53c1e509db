//! The consumer role: samples from whichever producer is best now, with
//! every switch, what it cost, and the chain on demand.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use vigil_diag::Timestamp;
use vigil_discovery::inproc::{InProcConsumer, InProcConsumerConfig, Incoming};
use vigil_discovery::{
    ActiveProducer, AdvertKey, ConsumerIdentity, Delivered, Recorder, SelectionEvent,
    SelectionExplanation, Selector, SelectorConfig, StandbyConfig, Subscription,
    SubscriptionConfig, SwitchCause, SwitchPolicy,
};
use vigil_qos::Query;

use crate::{Error, Sample, Transport};

/// How a [`Consumer`] is declared: built by [`Consumer::builder`], started
/// by [`ConsumerBuilder::start`].
///
/// ```
/// use std::time::Duration;
/// use vigil::{Consumer, SyntheticSample, Transport};
/// use vigil_discovery::inproc::InProcess;
/// use vigil_discovery::SwitchPolicy;
///
/// let sim = Transport::from(InProcess::new(Default::default()));
/// let consumer = Consumer::<SyntheticSample>::builder("imu WHERE health.state = OK")
///     .policy(SwitchPolicy { hold_off: Duration::from_millis(50), ..SwitchPolicy::default() })
///     .hot_standby(true)
///     .start(&sim)
///     .unwrap();
/// assert!(consumer.active().is_none()); // nobody advertises `imu` yet
/// // A query that does not parse says where.
/// let bad = Consumer::<SyntheticSample>::builder("imu WHERE").start(&sim);
/// assert!(matches!(bad, Err(vigil::Error::Query(_))));
/// ```
#[derive(Debug)]
pub struct ConsumerBuilder<T> {
    query: String,
    type_name: String,
    policy: SwitchPolicy,
    standby: StandbyConfig,
    settle: Option<Duration>,
    period_of: Option<fn(&T) -> Option<Duration>>,
    recorder: Option<Arc<dyn Recorder>>,
    trust: Option<vigil_discovery::TrustPolicy>,
    id: Option<String>,
}

impl<T: Sample> ConsumerBuilder<T> {
    /// The consumer's id on the domain, under which it publishes its route
    /// (query, active producer, every switch and its cause) on
    /// [`CONSUMER_ROUTE_TOPIC`](vigil_discovery::CONSUMER_ROUTE_TOPIC), so
    /// monitors see it. Default: `<host>:<pid>` for the process's first
    /// consumer, `<host>:<pid>#2`, `#3`... for the next ones. On DDS only:
    /// an in-process consumer publishes nothing.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The DDS type name of the samples (default: the Rust type's path,
    /// as [`ProducerBuilder::type_name`](crate::ProducerBuilder::type_name)).
    pub fn type_name(mut self, type_name: impl Into<String>) -> Self {
        self.type_name = type_name.into();
        self
    }

    /// The switching policy: hold-off, wait-to-restore, revertive, margin,
    /// flap damping.
    pub fn policy(mut self, policy: SwitchPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Circuit breakers per producer link (issue 14): a producer whose
    /// samples come late or with gaps against its advertised `rate_hz`
    /// (else its offered deadline), or whose health flaps, is ejected,
    /// then probed half-open as the hot standby. Sets the policy's
    /// `breaker`: call it after [`ConsumerBuilder::policy`].
    pub fn breakers(mut self, breakers: vigil_discovery::BreakerPolicy) -> Self {
        self.policy.breaker = Some(breakers);
        self
    }

    /// Predictive switching (issue 14): leave a producer whose health is
    /// degrading at once for a healthier one, without waiting out the
    /// hold-off. Sets the policy's `predictive`: call it after
    /// [`ConsumerBuilder::policy`].
    pub fn predictive(mut self, on: bool) -> Self {
        self.policy.predictive = on;
        self
    }

    /// Keep the next candidate's stream open and replay what a failover
    /// would lose: no sample lost when the active producer dies.
    pub fn hot_standby(mut self, on: bool) -> Self {
        self.standby.hot_standby = on;
        self
    }

    /// How far back the hot-standby buffer reaches (default 1 s; it must
    /// cover the lease).
    pub fn standby_window(mut self, window: Duration) -> Self {
        self.standby.window = window;
        self
    }

    /// How long to collect adverts before the first selection, so the
    /// consumer starts on the best producer rather than the first heard.
    /// Default: 500 ms on DDS; none in process, where the producers
    /// already advertising arrive whole at the start (producers advertised
    /// after the consumer arrive one by one: give a settle time then).
    pub fn settle(mut self, settle: Duration) -> Self {
        self.settle = Some(settle);
        self
    }

    /// How to read the stream's sample period off a sample, when the
    /// samples say it: what a switch's [`Resumed::lost`] is counted in.
    /// Without it the period is measured on the stream, which needs a few
    /// samples of the producer left.
    pub fn sample_period(mut self, period_of: fn(&T) -> Option<Duration>) -> Self {
        self.period_of = Some(period_of);
        self
    }

    /// Hands every input of the consumer's core and every decision to
    /// `recorder` (a [`FlightRecorder`](crate::record::FlightRecorder)),
    /// on DDS and in process alike (a recorded in-process consumer makes
    /// its first selection when the clock next moves, see
    /// [`InProcess::follow`](vigil_discovery::inproc::InProcess::follow)).
    pub fn recorder(mut self, recorder: Arc<dyn Recorder>) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// Applies a trust policy to the adverts and heartbeats it hears
    /// (issue 13); reload it through
    /// `consumer.selector().registry().policy_slot()`. Default: mode off.
    /// On DDS only for now.
    pub fn trust(mut self, policy: vigil_discovery::TrustPolicy) -> Self {
        self.trust = Some(policy);
        self
    }

    /// Parses the query and starts following it. On DDS, call it inside a
    /// tokio runtime, and on a [`Transport`] of its own if this process
    /// also produces the query's topics: rustdds does not match a reader
    /// with a writer of the same participant, so the consumer would see
    /// nothing of them.
    pub fn start(self, transport: &Transport) -> Result<Consumer<T>, Error> {
        let query = Query::parse(&self.query)?;
        let inner = match transport {
            Transport::Dds(participant) => {
                let identity = identity(self.id);
                identity.validate().map_err(|e| {
                    Error::Dds(vigil_discovery::DdsError::Config {
                        reason: format!("consumer id: {e}"),
                    })
                })?;
                let selector = Selector::start(
                    participant,
                    &query,
                    SelectorConfig::default()
                        .with_policy(self.policy)
                        .with_settle(self.settle.unwrap_or(DDS_SETTLE))
                        .with_recorder(self.recorder)
                        .with_trust(self.trust)
                        .with_identity(Some(identity)),
                )?;
                let subscription = selector.subscribe::<T>(
                    &self.type_name,
                    SubscriptionConfig::default()
                        .with_hot_standby(self.standby.hot_standby)
                        .with_standby_window(self.standby.window),
                )?;
                let events = selector.events();
                Inner::Dds(Box::new(DdsInner {
                    selector: Arc::new(selector),
                    subscription,
                    events,
                    held: None,
                    ready: VecDeque::new(),
                }))
            }
            Transport::InProcess(net) => {
                let mut config = InProcConsumerConfig::default().with_policy(self.policy);
                config.standby = self.standby;
                config.settle = self.settle.unwrap_or_default();
                config.recorder = self.recorder;
                Inner::InProcess(Arc::new(net.follow::<T>(&query, &self.type_name, config)))
            }
        };
        Ok(Consumer {
            inner,
            transport: transport.clone(),
            tally: Tally::default(),
            period_of: self.period_of,
            pending: VecDeque::new(),
        })
    }
}

/// Who a consumer says it is: `id`, or `<host>:<pid>` with `#N` from the
/// process's second consumer on (two consumers must not share a route).
fn identity(id: Option<String>) -> ConsumerIdentity {
    static STARTED: AtomicU32 = AtomicU32::new(0);
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        // Not silent: the id says the host was unknown.
        .unwrap_or_else(|| "unknown-host".to_owned());
    let pid = std::process::id();
    let id = id.unwrap_or_else(|| match STARTED.fetch_add(1, Ordering::Relaxed) {
        0 => format!("{host}:{pid}"),
        n => format!("{host}:{pid}#{}", n + 1),
    });
    ConsumerIdentity::new(Some(id), host, pid)
}

/// On DDS the adverts of running producers arrive one by one within a few
/// hundred milliseconds (transient-local).
const DDS_SETTLE: Duration = Duration::from_millis(500);

/// How long a first sample waits for the selection event of its switch.
/// The selector sends the event right after moving the route, so this only
/// bounds the wait should the event have been lost to a lagging channel.
const SWITCH_EVENT_GRACE: Duration = Duration::from_millis(200);

/// What a [`Consumer`] receives, in order: a switch, then the cost of the
/// switch with the first sample it brings, then samples.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event<T> {
    /// The active producer changed (decided now; its samples follow).
    Switched(Switch),
    /// The first sample of a producer after another one: what the switch
    /// cost. Comes right before that sample.
    Resumed(Resumed),
    /// A sample of the active producer.
    Sample(Delivered<T>),
}

/// A change of the active producer: who, from whom, why.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Switch {
    /// When it was decided, on the transport's core clock.
    pub at: Timestamp,
    /// The producer left.
    pub previous: Option<AdvertKey>,
    /// The producer followed now; `None` when nothing qualifies.
    pub active: Option<AdvertKey>,
    /// Why.
    pub cause: SwitchCause,
    /// The head of the fallback chain after the switch, best first.
    pub chain: Vec<AdvertKey>,
    /// The next candidate, kept warm in hot-standby mode.
    pub standby: Option<AdvertKey>,
}

impl From<SelectionEvent> for Switch {
    fn from(event: SelectionEvent) -> Switch {
        let key = |a: ActiveProducer| a.key;
        Switch {
            at: event.at,
            previous: event.previous,
            active: event.active.map(key),
            cause: event.cause,
            chain: event.chain,
            standby: event.standby.map(key),
        }
    }
}

impl fmt::Display for Switch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name =
            |k: &Option<AdvertKey>| k.as_ref().map_or("(none)".to_owned(), |k| k.to_string());
        write!(
            f,
            "{} -> {}: {}",
            name(&self.previous),
            name(&self.active),
            self.cause
        )
    }
}

/// What a switch cost, known at the first sample of the new producer.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Resumed {
    /// The producer the sample comes from.
    pub producer: Arc<str>,
    /// From the switch decision to this sample (`None` for the very first
    /// sample, or when the switch event was missed).
    pub after: Option<Duration>,
    /// Samples the switch skipped: the time between the previous
    /// producer's last sample and this one, in sample periods (measured
    /// on the stream), minus one. Exactly 0 when a hot standby replayed
    /// the whole gap.
    pub lost: u64,
    /// This sample is a hot-standby replay that covered the whole switch.
    pub gapless: bool,
}

/// Counters of a [`Consumer`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerStats {
    /// Switches since the start.
    pub switches: u64,
    /// Flapping producers passed over.
    pub flaps_suppressed: u64,
    /// Samples delivered (replays included).
    pub delivered: u64,
    /// Hot-standby samples replayed at switches.
    pub replayed: u64,
    /// Samples lost across switches (see [`Resumed::lost`]).
    pub lost: u64,
    /// Inputs the registry rejected (malformed adverts and heartbeats).
    pub rejected: u64,
    /// Samples on the vigil topics that did not even deserialize.
    pub malformed: u64,
}

/// A consumer of one constraint query: samples from the best producer now,
/// rerouted down the fallback chain when it degrades or dies.
///
/// ```no_run
/// # async fn run() -> Result<(), vigil::Error> {
/// use vigil::{Consumer, Event, SyntheticSample, Transport};
/// use vigil_discovery::DdsConfig;
///
/// let dds = Transport::dds(DdsConfig::new(7))?;
/// let mut imu = Consumer::<SyntheticSample>::builder(
///     "imu WHERE health.state = OK AND latency_p99 < 1ms PREFER accuracy ASC",
/// )
/// .hot_standby(true)
/// .start(&dds)?;
/// while let Some(event) = imu.next().await {
///     match event {
///         Event::Switched(switch) => println!("{switch}"),
///         Event::Resumed(cost) => println!("{} lost after the switch", cost.lost),
///         Event::Sample(sample) => println!("{} from {}", sample.value.seq, sample.producer),
///         _ => {}
///     }
/// }
/// # Ok(()) }
/// ```
pub struct Consumer<T: Sample> {
    inner: Inner<T>,
    transport: Transport,
    tally: Tally,
    period_of: Option<fn(&T) -> Option<Duration>>,
    pending: VecDeque<Event<T>>,
}

enum Inner<T: Sample> {
    Dds(Box<DdsInner<T>>),
    InProcess(Arc<InProcConsumer<T>>),
}

struct DdsInner<T: Sample> {
    /// Shared with the [`ConsumerView`]s.
    selector: Arc<Selector>,
    subscription: Subscription<T>,
    events: broadcast::Receiver<SelectionEvent>,
    /// A first sample of a producer whose switch event has not arrived
    /// yet, and how long it may wait for it.
    held: Option<(Delivered<T>, tokio::time::Instant)>,
    /// Read and ordered, not yet through the tally.
    ready: VecDeque<Incoming<T>>,
}

impl<T: Sample> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("transport", &self.transport)
            .field("active", &self.active())
            .finish_non_exhaustive()
    }
}

impl<T: Sample> Consumer<T> {
    /// Declares a consumer of `query` (parsed at
    /// [`ConsumerBuilder::start`]).
    pub fn builder(query: impl Into<String>) -> ConsumerBuilder<T> {
        ConsumerBuilder {
            query: query.into(),
            type_name: std::any::type_name::<T>().to_owned(),
            policy: SwitchPolicy::default(),
            standby: StandbyConfig::default(),
            settle: None,
            period_of: None,
            recorder: None,
            trust: None,
            id: None,
        }
    }

    /// The next event, waiting for one; `None` when the consumer can
    /// receive nothing more (its topics or selector are gone).
    /// Cancel-safe: use it in `tokio::select!`. In process, something must
    /// move the network's clock meanwhile.
    pub async fn next(&mut self) -> Option<Event<T>> {
        let (tally, pending, transport) = (&mut self.tally, &mut self.pending, &self.transport);
        loop {
            if let Some(event) = pending.pop_front() {
                return Some(event);
            }
            let item = match &mut self.inner {
                Inner::InProcess(consumer) => consumer.recv().await,
                Inner::Dds(dds) => match dds.ready.pop_front() {
                    Some(item) => item,
                    None => {
                        dds.step(tally).await?;
                        continue;
                    }
                },
            };
            match item {
                Incoming::Selected(event) => tally.switched(*event, pending),
                Incoming::Sample(sample) => {
                    let period = self.period_of.and_then(|of| of(&sample.value));
                    let arrived = arrival(transport, &sample);
                    tally.sample(sample, period, arrived, pending)
                }
            }
        }
    }

    /// The next event if one is ready now, without waiting: what a
    /// simulation on the in-process transport calls after moving the
    /// clock.
    pub fn try_next(&mut self) -> Option<Event<T>> {
        self.next().now_or_never().flatten()
    }

    /// The producer followed now.
    pub fn active(&self) -> Option<AdvertKey> {
        self.view().active()
    }

    /// The whole fallback chain, best first.
    pub fn chain(&self) -> Vec<AdvertKey> {
        self.view().chain()
    }

    /// Why the active producer was chosen and why each other one was not.
    pub fn explain(&self) -> Option<SelectionExplanation> {
        self.view().explain()
    }

    /// A handle on the selection that other tasks can hold while this
    /// one receives: who is active, the chain, the explanation.
    pub fn view(&self) -> ConsumerView<T> {
        let inner = match &self.inner {
            Inner::Dds(dds) => ViewInner::Dds(Arc::clone(&dds.selector)),
            Inner::InProcess(consumer) => ViewInner::InProcess(Arc::clone(consumer)),
        };
        ConsumerView { inner }
    }

    /// The counters.
    pub fn stats(&self) -> ConsumerStats {
        let (selection, registry, data, malformed) = match &self.inner {
            Inner::Dds(dds) => {
                let s = dds.selector.stats();
                (
                    s.selection,
                    s.registry,
                    dds.subscription.stats(),
                    s.malformed,
                )
            }
            Inner::InProcess(consumer) => {
                let s = consumer.stats();
                (s.selection, s.registry, s.data, 0)
            }
        };
        ConsumerStats {
            switches: selection.switches,
            flaps_suppressed: selection.flaps_suppressed,
            delivered: data.delivered,
            replayed: data.replayed,
            lost: self.tally.lost,
            rejected: registry.rejected,
            malformed,
        }
    }

    /// The DDS selector, for what the facade does not expose (the live
    /// registry, say); `None` in process.
    pub fn selector(&self) -> Option<&Selector> {
        match &self.inner {
            Inner::Dds(dds) => Some(&dds.selector),
            Inner::InProcess(_) => None,
        }
    }

    /// Stops following (on DDS, waits for the selector's task unless a
    /// [`ConsumerView`] still holds it: then it stops with the last view).
    pub async fn shutdown(self) {
        if let Inner::Dds(dds) = self.inner {
            if let Ok(selector) = Arc::try_unwrap(dds.selector) {
                selector.shutdown().await;
            }
        }
    }
}

/// A handle on a [`Consumer`]'s selection, for other tasks: cheap to
/// clone, read-only. On DDS it shares the consumer's selector, which then
/// runs until the consumer and its last view are gone.
pub struct ConsumerView<T: Sample> {
    inner: ViewInner<T>,
}

enum ViewInner<T: Sample> {
    Dds(Arc<Selector>),
    InProcess(Arc<InProcConsumer<T>>),
}

impl<T: Sample> fmt::Debug for ConsumerView<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsumerView")
            .field("active", &self.active())
            .finish_non_exhaustive()
    }
}

impl<T: Sample> Clone for ConsumerView<T> {
    fn clone(&self) -> Self {
        let inner = match &self.inner {
            ViewInner::Dds(s) => ViewInner::Dds(Arc::clone(s)),
            ViewInner::InProcess(c) => ViewInner::InProcess(Arc::clone(c)),
        };
        ConsumerView { inner }
    }
}

impl<T: Sample> ConsumerView<T> {
    /// The producer followed now.
    pub fn active(&self) -> Option<AdvertKey> {
        match &self.inner {
            ViewInner::Dds(selector) => selector.active(),
            ViewInner::InProcess(consumer) => consumer.active(),
        }
        .map(|a| a.key)
    }

    /// The whole fallback chain, best first.
    pub fn chain(&self) -> Vec<AdvertKey> {
        match &self.inner {
            ViewInner::Dds(selector) => selector.chain(),
            ViewInner::InProcess(consumer) => consumer.chain(),
        }
    }

    /// Why the active producer was chosen and why each other one was not.
    pub fn explain(&self) -> Option<SelectionExplanation> {
        match &self.inner {
            ViewInner::Dds(selector) => selector.explain(),
            ViewInner::InProcess(consumer) => consumer.explain(),
        }
    }
}

impl<T: Sample> DdsInner<T> {
    /// Waits for the next selection event or sample and queues it on
    /// `ready`, in the order the consumer must see them: the selector moves
    /// the route just before it sends the event, so a first sample of the
    /// new producer may arrive a few microseconds before the event of its
    /// switch; it waits for it. Nothing is kept in a local across an
    /// await, so a cancelled call loses nothing. `None`: nothing more will
    /// come.
    async fn step(&mut self, tally: &Tally) -> Option<()> {
        if let Some((sample, deadline)) = &self.held {
            loop {
                let event = match self.events.try_recv() {
                    Ok(event) => Some(event),
                    Err(TryRecvError::Lagged(missed)) => {
                        // The event of this switch may still be queued
                        // behind the gap: keep waiting for it.
                        tracing::warn!(missed, "selection events missed (consumer too slow)");
                        continue;
                    }
                    Err(TryRecvError::Empty) => {
                        match tokio::time::timeout_at(*deadline, self.events.recv()).await {
                            Ok(Ok(event)) => Some(event),
                            Ok(Err(RecvError::Lagged(missed))) => {
                                tracing::warn!(
                                    missed,
                                    "selection events missed (consumer too slow)"
                                );
                                continue;
                            }
                            _ => None,
                        }
                    }
                    Err(TryRecvError::Closed) => None,
                };
                let Some(event) = event else { break };
                let made_active = event
                    .active
                    .as_ref()
                    .is_some_and(|a| *a.key.producer == *sample.producer);
                self.ready.push_back(Incoming::Selected(Box::new(event)));
                if made_active {
                    break;
                }
            }
            let (sample, _) = self.held.take()?;
            self.ready.push_back(Incoming::Sample(sample));
            return Some(());
        }
        tokio::select! {
            biased;
            event = self.events.recv() => match event {
                Ok(event) => self.ready.push_back(Incoming::Selected(Box::new(event))),
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "selection events missed (consumer too slow)");
                }
                Err(RecvError::Closed) => return None,
            },
            sample = self.subscription.recv() => {
                let sample = sample?;
                if tally.announces(&sample.producer) {
                    self.ready.push_back(Incoming::Sample(sample));
                } else {
                    let deadline = tokio::time::Instant::now() + SWITCH_EVENT_GRACE;
                    self.held = Some((sample, deadline));
                }
            }
        }
        Some(())
    }
}

/// When a sample arrived, on the transport's core clock. On DDS that is
/// now, as it is taken; in process the bus delivers at once and stamps the
/// sample with its clock, while the application may take it much later (a
/// simulation drains after moving the clock), so the stamp says it (a
/// replay, stamped before its switch, then counts as arriving with it).
fn arrival<T>(transport: &Transport, sample: &Delivered<T>) -> Timestamp {
    match (transport.in_process(), sample.source_ts_ns) {
        (Some(net), Some(ts)) => {
            Timestamp::from_nanos(ts.saturating_sub(net.config().unix_origin_ns))
        }
        _ => transport.now(),
    }
}

/// The running account of switches and samples.
#[derive(Debug, Default)]
struct Tally {
    /// The switches since the last sample: the producer each made active
    /// and when it was decided. The next sample after any switch is a
    /// boundary, even from the producer of the last sample (a producer
    /// that failed and came back).
    switches: Vec<(Option<String>, Timestamp)>,
    /// The last sample delivered: its producer and source timestamp.
    last: Option<(Arc<str>, u64)>,
    /// The active stream's sample period, an exponential average of the
    /// gaps between its samples within one run of a producer (nanoseconds).
    period_ns: Option<f64>,
    lost: u64,
}

impl Tally {
    /// Whether a sample of `producer` needs no switch event first: a switch
    /// since the last sample made it active, or there was no switch since
    /// and the last sample came from it.
    fn announces(&self, producer: &str) -> bool {
        if self.switches.is_empty() {
            self.last.as_ref().is_some_and(|(p, _)| &**p == producer)
        } else {
            self.switches
                .iter()
                .any(|(active, _)| active.as_deref() == Some(producer))
        }
    }

    fn switched<T>(&mut self, event: SelectionEvent, out: &mut VecDeque<Event<T>>) {
        let active = event.active.as_ref().map(|a| a.key.producer.clone());
        self.switches.push((active, event.at));
        out.push_back(Event::Switched(event.into()));
    }

    /// Counts one delivered sample, which arrived at `now`; `period` is what
    /// the sample says of its stream's period, if anything.
    fn sample<T>(
        &mut self,
        sample: Delivered<T>,
        period: Option<Duration>,
        now: Timestamp,
        out: &mut VecDeque<Event<T>>,
    ) {
        let ts = sample.source_ts_ns.unwrap_or(0);
        let gapless = sample.replayed && sample.gapless;
        let same_run = self.switches.is_empty()
            && self
                .last
                .as_ref()
                .is_some_and(|(producer, _)| **producer == *sample.producer);
        if same_run {
            if let Some((_, last_ts)) = &self.last {
                let gap = ts.saturating_sub(*last_ts) as f64;
                if gap > 0.0 {
                    self.period_ns = Some(match self.period_ns {
                        Some(period) => period + (gap - period) / 8.0,
                        None => gap,
                    });
                }
            }
        } else {
            // A switch: what the time between the last sample and this one
            // did not cover, in periods of the stream. Exact when the hot
            // standby says so; otherwise an estimate whose rounding absorbs
            // phase, not scheduling jitter. The gap itself never enters the
            // period's average.
            let said = period.map(|p| p.as_nanos() as f64);
            let lost = match (&self.last, said.or(self.period_ns)) {
                (Some((_, last_ts)), Some(period)) if !gapless && period > 0.0 => {
                    let periods = (ts.saturating_sub(*last_ts) as f64 / period).round();
                    (periods as u64).saturating_sub(1)
                }
                _ => 0,
            };
            self.lost += lost;
            // Measured from the switch that made this producer active,
            // when its event came in; `None` when it was missed.
            let switched_at = self
                .switches
                .iter()
                .rev()
                .find(|(active, _)| active.as_deref() == Some(&*sample.producer))
                .map(|(_, at)| *at);
            out.push_back(Event::Resumed(Resumed {
                producer: Arc::clone(&sample.producer),
                after: switched_at.map(|at| now.saturating_since(at)),
                lost,
                gapless,
            }));
            // The previous stream's period stays the estimate until this
            // one has samples of its own: the candidates of one query
            // usually publish at similar rates.
            self.switches.clear();
        }
        self.last = Some((Arc::clone(&sample.producer), ts));
        out.push_back(Event::Sample(sample));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivered(producer: &str, ts_ms: u64, replayed: bool) -> Delivered<u64> {
        Delivered {
            value: ts_ms,
            producer: Arc::from(producer),
            writer_guid: [0; 16],
            source_ts_ns: Some(ts_ms * 1_000_000),
            replayed,
            gapless: replayed,
        }
    }

    fn resumed(out: &VecDeque<Event<u64>>) -> Vec<Resumed> {
        out.iter()
            .filter_map(|e| match e {
                Event::Resumed(r) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_switch_costs_the_uncovered_periods_and_a_gapless_replay_nothing() {
        let mut tally = Tally::default();
        let mut out = VecDeque::new();
        let now = Timestamp::from_nanos(0);
        for t in 1..=10 {
            tally.sample(delivered("a", t, false), None, now, &mut out);
        }
        // b's first sample 100 ms after a's last: 99 periods uncovered.
        tally.sample(delivered("b", 110, false), None, now, &mut out);
        // Back to a, replayed gaplessly.
        tally.sample(delivered("a", 111, true), None, now, &mut out);
        let costs = resumed(&out);
        assert_eq!(costs.len(), 3, "{costs:?}");
        assert_eq!(costs[0].lost, 0, "the first sample costs nothing");
        assert_eq!(costs[1].lost, 99);
        assert_eq!(costs[2].lost, 0);
        assert!(costs[2].gapless);
        assert_eq!(tally.lost, 99);
    }

    fn switch(to: Option<&str>, at_ms: u64) -> SelectionEvent {
        SelectionEvent {
            at: Timestamp::from_nanos(at_ms * 1_000_000),
            previous: None,
            active: to.map(|p| ActiveProducer {
                key: AdvertKey::new(p, "imu"),
                writer_guid: [0; 16],
                clause: 0,
            }),
            chain: Vec::new(),
            chain_len: 0,
            cause: SwitchCause::Available,
            standby: None,
        }
    }

    #[test]
    fn a_sample_of_the_announced_producer_needs_no_wait() {
        let mut tally = Tally::default();
        let mut out: VecDeque<Event<u64>> = VecDeque::new();
        assert!(!tally.announces("a"));
        tally.switched(switch(Some("a"), 0), &mut out);
        assert!(tally.announces("a"));
        assert!(!tally.announces("b"));
        tally.sample(delivered("a", 1, false), None, Timestamp::ZERO, &mut out);
        assert!(tally.announces("a"), "a run of a needs no event");
        // Once a switch away is known, a's next sample needs the event
        // that brings it back.
        tally.switched(switch(None, 2), &mut out);
        assert!(!tally.announces("a"));
    }

    /// Review finding: a producer that fails and comes back is a switch
    /// too: its outage is counted, and the gap stays out of the period.
    #[test]
    fn a_producer_that_comes_back_costs_its_outage() {
        let mut tally = Tally::default();
        let mut out = VecDeque::new();
        let at = |ms| Timestamp::from_nanos(ms * 1_000_000);
        tally.switched(switch(Some("a"), 0), &mut out);
        for t in 1..=10 {
            tally.sample(delivered("a", t, false), None, at(t), &mut out);
        }
        tally.switched(switch(None, 11), &mut out);
        tally.switched(switch(Some("a"), 5_000), &mut out);
        tally.sample(delivered("a", 5_001, false), None, at(5_002), &mut out);
        let costs = resumed(&out);
        assert_eq!(costs.len(), 2, "{costs:?}");
        assert_eq!(costs[1].lost, 4_990);
        assert_eq!(costs[1].after, Some(Duration::from_millis(2)));
        // The 5 s gap did not enter the period: the next switch still
        // counts in 1 ms periods.
        tally.switched(switch(Some("b"), 5_010), &mut out);
        tally.sample(delivered("b", 5_012, false), None, at(5_012), &mut out);
        assert_eq!(resumed(&out)[2].lost, 10);
    }

    #[test]
    fn after_is_none_when_the_switch_event_was_missed() {
        let mut tally = Tally::default();
        let mut out = VecDeque::new();
        tally.switched(switch(Some("a"), 0), &mut out);
        tally.sample(delivered("a", 1, false), None, Timestamp::ZERO, &mut out);
        // b's first sample with no event for it.
        tally.sample(delivered("b", 2, false), None, Timestamp::ZERO, &mut out);
        assert_eq!(resumed(&out)[1].after, None);
    }
}
