//! The I/O shell of the bridge: one Zenoh session and one DDS participant,
//! one task. Zenoh callbacks only queue what they receive; the task applies
//! it to the pure parts ([`ZenohProducers`], [`Exported`], the best-producer
//! ranking) and does what they say, so every routing decision is made in
//! one place, in order.
//!
//! # Layout
//!
//! - this file: [`run`], the declarations, the task's state and loop.
//! - `to_zenoh`: DDS → Zenoh: the registry's adverts, health and tokens,
//!   and the DDS samples.
//! - `to_dds`: Zenoh → DDS: Zenoh producers advertised through proxies,
//!   and their samples.
//! - `queries`: the `registry`, `best` and `adverts` queryables.
//! - `followed`: the followed streams: started, fed, put on Zenoh.
//!
//! # Bounds
//!
//! What remote peers send cannot grow the bridge without bound: Zenoh
//! callbacks hand it over through bounded queues (a full queue drops and
//! counts, warned about at most every [`WARN_EVERY`]), the Zenoh
//! producers it tracks are bounded ([`ZenohProducers`]), and the writer
//! GUIDs of proxies are forgotten once their adverts have left the
//! registry.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{Stream, StreamExt};
use tokio::sync::mpsc;
use vigil_discovery::clock::now;
use vigil_discovery::{AdvertKey, EntryView, Recorder, Selector, SelectorConfig, VigilParticipant};
use zenoh::key_expr::KeyExpr;
use zenoh::liveliness::LivelinessToken;
use zenoh::query::Query;
use zenoh::sample::{Locality, Sample};
use zenoh::Session;

use super::advert_json::{AdvertJson, Origin};
use super::config::BridgeConfig;
use super::error::BridgeError;
use super::event::{BridgeEvent, BridgeStats, ProducerState};
use super::export::Exported;
use super::follow::{DeclaredBy, FollowInput, Followed};
use super::keys::{KeySpace, Space};
use super::producers::{DownCause, ZenohProducers};
use super::proxy::Proxy;
use crate::raw::{hex, RawSample};
use to_zenoh::dds_readers;

mod followed;
mod queries;
mod to_dds;
mod to_zenoh;
mod trust;

pub use trust::BridgeTrust;

/// How often the DDS registry is compared with what Zenoh was told. A DDS
/// producer's death is seen by the registry after its lease (100 ms by
/// default); this adds at most one period to that.
const EXPORT_PERIOD: Duration = Duration::from_millis(10);

/// Samples from Zenoh waiting for the task. A burst beyond this is dropped
/// and counted rather than queued without bound: old samples are worth
/// less than a responsive bridge.
const DATA_QUEUE: usize = 4096;

/// Adverts, liveliness changes and queries from Zenoh waiting for the
/// task. Far more than a healthy network sends between two turns of the
/// loop; beyond it a peer is flooding the bridge, and what it sends is
/// dropped and counted (a token change lost this way leaves its producer
/// as it was until the next change).
const INPUT_QUEUE: usize = 4096;

/// How often adverts without a token expire, retired proxy GUIDs are
/// forgotten and full queues are reported.
const HOUSEKEEPING: Duration = Duration::from_secs(1);

/// At most one warning about full queues this often.
const WARN_EVERY: Duration = Duration::from_secs(5);

/// What Zenoh callbacks hand to the task.
enum Input {
    /// A put or delete on an advert key, or a reply to an advert query.
    Advert(Sample),
    /// A liveliness token appeared or vanished.
    Alive(Sample),
    /// A query on `<prefix>/registry`.
    Registry(Query),
    /// A query on `<prefix>/best/<topic>`.
    Best(Query),
    /// A query on `<prefix>/adverts/**` (late joiners).
    Adverts(Query),
    /// A query on `<prefix>/follow`: a followed stream declared.
    Follow(Query),
}

/// What full queues made the Zenoh callbacks drop.
#[derive(Debug, Default)]
struct Dropped {
    data: AtomicU64,
    inputs: AtomicU64,
}

/// The callbacks' side of the input queue: never blocks, counts drops.
#[derive(Clone)]
struct Inputs {
    tx: mpsc::Sender<Input>,
    dropped: Arc<Dropped>,
}

impl Inputs {
    fn send(&self, input: Input) {
        if self.tx.try_send(input).is_err() {
            self.dropped.inputs.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A DDS sample to forward: the route's index, the writer GUID, the bytes;
/// `Err` for a sample rustdds could not read.
type DdsItem = Result<(usize, [u8; 16], RawSample), ()>;
type DdsStream = Pin<Box<dyn Stream<Item = DdsItem> + Send>>;

/// Runs the bridge until `shutdown` resolves, reporting every routing
/// decision to `sink`. Must run inside a multi-threaded tokio runtime
/// (Zenoh's and the advertisers' tasks).
///
/// Returns the run's counters after a clean stop: the proxied producers'
/// adverts disposed, the tokens withdrawn, the exported adverts deleted.
pub async fn run(
    config: BridgeConfig,
    participant: VigilParticipant,
    shutdown: impl Future<Output = ()>,
    sink: impl FnMut(BridgeEvent),
) -> Result<BridgeStats, BridgeError> {
    run_recorded(
        config,
        participant,
        None,
        BridgeTrust::default(),
        shutdown,
        sink,
    )
    .await
}

/// [`run`], handing the bridge's registry core (every advert, heartbeat
/// and lease it sees, from DDS and from Zenoh through its proxies) to
/// `recorder` (the flight recorder, the metrics). The selectors of
/// followed streams are not recorded. `trust` signs what the bridge says
/// for others and checks what it hears ([`BridgeTrust`]).
pub async fn run_recorded(
    config: BridgeConfig,
    participant: VigilParticipant,
    recorder: Option<Arc<dyn Recorder>>,
    trust: BridgeTrust,
    shutdown: impl Future<Output = ()>,
    sink: impl FnMut(BridgeEvent),
) -> Result<BridgeStats, BridgeError> {
    let zenoh_config = config
        .zenoh_config()
        .map_err(|e| BridgeError::zenoh("configuring the session", e))?;
    let session = zenoh::open(zenoh_config)
        .await
        .map_err(|e| BridgeError::zenoh("opening the session", e))?;
    run_in_session(
        config,
        session,
        participant,
        recorder,
        trust,
        shutdown,
        sink,
    )
    .await
}

/// [`run_recorded`] on a Zenoh session the caller opened (a zenohd
/// plugin's, on the router's runtime): the config's `zenoh` endpoints,
/// mode and scouting are not used, its key prefix is. The session is
/// closed when the bridge stops.
pub async fn run_in_session(
    config: BridgeConfig,
    session: Session,
    participant: VigilParticipant,
    recorder: Option<Arc<dyn Recorder>>,
    trust: BridgeTrust,
    shutdown: impl Future<Output = ()>,
    sink: impl FnMut(BridgeEvent),
) -> Result<BridgeStats, BridgeError> {
    let keys = KeySpace::new(&config.zenoh.key_prefix);
    let selector = Selector::registry_only(
        &participant,
        SelectorConfig::default()
            .with_recorder(recorder)
            .with_policy_slot(trust.policy.clone()),
    )?;
    // rustdds does not deliver a participant's own samples to its own
    // readers: proxies on the registry's participant would be invisible to
    // the bridge's registry (and so to `registry` and `best` queries).
    // On a participant of their own they reach it over DDS, like they
    // reach every consumer.
    let proxies = VigilParticipant::new(participant.config().clone())?;
    let dropped = Arc::new(Dropped::default());
    let (input_tx, mut input_rx) = mpsc::channel(INPUT_QUEUE);
    let inputs = Inputs {
        tx: input_tx,
        dropped: Arc::clone(&dropped),
    };
    let (data_tx, mut data_rx) = mpsc::channel::<Sample>(DATA_QUEUE);
    let (retired, mut retired_rx) = mpsc::unbounded_channel();
    // Unbounded, but fed only by the bridge's own selectors (at most
    // MAX_FOLLOWED), one item per routing decision.
    let (follow_inputs, mut follow_rx) = mpsc::unbounded_channel();
    let data = (data_tx, Arc::clone(&dropped));
    let declared = declare(&session, &keys, &config, &inputs, data).await?;
    let mut dds = dds_readers(&participant, &config)?;

    let mut shell = Shell {
        keys,
        config,
        participant,
        proxy_participant: proxies,
        session,
        selector,
        inputs,
        exported: Exported::default(),
        tokens: HashMap::new(),
        out_routes: HashMap::new(),
        zenoh: ZenohProducers::default(),
        proxies: HashMap::new(),
        bridge_writers: HashSet::new(),
        retired,
        retiring: HashSet::new(),
        stats: BridgeStats::default(),
        stats_reported: BridgeStats::default(),
        dropped,
        warned: None,
        followed: BTreeMap::new(),
        next_followed: 0,
        follow_inputs,
        trust,
        checks: trust::Checks::default(),
        sink,
    };
    shell.ready();
    for route in shell.config.follow.clone() {
        let key = route.key.clone();
        if let Err(reason) = shell.start_followed(route, DeclaredBy::Config).await {
            let what = format!("starting the followed stream `{key}`");
            return Err(BridgeError::Follow { what, reason });
        }
    }
    let mut export = tokio::time::interval(EXPORT_PERIOD);
    export.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
    housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = export.tick() => shell.export().await,
            _ = housekeeping.tick() => {
                shell.housekeeping();
                shell.retire_unfollowed().await;
            }
            Some((guid, key)) = retired_rx.recv() => {
                shell.retiring.insert(guid);
                shell.emit(BridgeEvent::Retired {
                    producer: key.producer,
                    topic: key.topic,
                    writer_guid: hex(&guid),
                });
            }
            Some(input) = input_rx.recv() => shell.input(input).await,
            Some(input) = follow_rx.recv() => shell.follow_input(input).await,
            Some(sample) = data_rx.recv() => shell.zenoh_data(&sample).await,
            Some(item) = dds.next() => match item {
                Ok((route, guid, sample)) => shell.dds_data(route, guid, sample).await,
                Err(()) => shell.stats.samples_dropped += 1,
            },
        }
    }
    drop(declared);
    Ok(shell.stop().await)
}

/// The Zenoh entities the bridge declares; dropping them undeclares.
struct Declared {
    _subscribers: Vec<zenoh::pubsub::Subscriber<()>>,
    _queryables: Vec<zenoh::query::Queryable<()>>,
}

async fn declare(
    session: &Session,
    keys: &KeySpace,
    config: &BridgeConfig,
    inputs: &Inputs,
    (data, dropped): (mpsc::Sender<Sample>, Arc<Dropped>),
) -> Result<Declared, BridgeError> {
    let declare_error =
        |what: &str, e: zenoh::Error| BridgeError::zenoh(format!("declaring {what}"), e);
    let mut subscribers = Vec::new();
    let mut queryables = Vec::new();

    // Remote only: the bridge's own exported adverts are not news to it.
    let tx = inputs.clone();
    let adverts = keys.all(Space::Adverts);
    subscribers.push(
        session
            .declare_subscriber(adverts.clone())
            .allowed_origin(Locality::Remote)
            .callback(move |s| tx.send(Input::Advert(s)))
            .await
            .map_err(|e| declare_error(&adverts, e))?,
    );
    // With history: a bridge started after a producer still sees its token.
    let tx = inputs.clone();
    let alive = keys.all(Space::Alive);
    subscribers.push(
        session
            .liveliness()
            .declare_subscriber(alive.clone())
            .history(true)
            .callback(move |s| tx.send(Input::Alive(s)))
            .await
            .map_err(|e| declare_error(&alive, e))?,
    );
    // Data only of the topics that go to DDS, not everything on Zenoh.
    for route in config.topics.iter().filter(|r| r.forward.to_dds()) {
        let data = data.clone();
        let dropped = Arc::clone(&dropped);
        let key = keys.topic(Space::Data, &route.topic);
        subscribers.push(
            session
                .declare_subscriber(key.clone())
                .allowed_origin(Locality::Remote)
                .callback(move |s| {
                    if data.try_send(s).is_err() {
                        dropped.data.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .await
                .map_err(|e| declare_error(&key, e))?,
        );
    }
    let queryable = |key: String, wrap: fn(Query) -> Input| {
        let tx = inputs.clone();
        async move {
            session
                .declare_queryable(key.clone())
                .callback(move |q| tx.send(wrap(q)))
                .await
                .map_err(|e| declare_error(&key, e))
        }
    };
    queryables.push(queryable(keys.registry(), Input::Registry).await?);
    queryables.push(queryable(keys.all_best(), Input::Best).await?);
    queryables.push(queryable(keys.all(Space::Adverts), Input::Adverts).await?);
    queryables.push(queryable(keys.follow(), Input::Follow).await?);
    Ok(Declared {
        _subscribers: subscribers,
        _queryables: queryables,
    })
}

/// Where one DDS writer's samples go on Zenoh.
struct OutRoute {
    key: AdvertKey,
    data: KeyExpr<'static>,
    type_name: String,
}

struct Shell<F> {
    keys: KeySpace,
    config: BridgeConfig,
    /// Joins the registry and reads the DDS data forwarded to Zenoh.
    participant: VigilParticipant,
    /// Writes and advertises the Zenoh producers (see [`run`]).
    proxy_participant: VigilParticipant,
    session: Session,
    /// The DDS registry, kept by a registry-only selector.
    selector: Selector,
    /// For replies to the bridge's own advert queries.
    inputs: Inputs,
    exported: Exported,
    /// The tokens held for DDS producers.
    tokens: HashMap<AdvertKey, LivelinessToken>,
    /// DDS writer GUID → where its samples go.
    out_routes: HashMap<[u8; 16], OutRoute>,
    zenoh: ZenohProducers,
    proxies: HashMap<AdvertKey, Proxy>,
    /// The writer GUIDs of the bridge's proxies, live and retiring. A
    /// proxy's advert outlives the proxy in the registry for a moment (its
    /// disposal is on its way), so a retired GUID stays known until that
    /// advert has left the registry, or it would be exported back to Zenoh
    /// as a DDS producer's.
    bridge_writers: HashSet<[u8; 16]>,
    /// Where a retired proxy's shutdown reports its GUID once its advert is
    /// disposed.
    retired: mpsc::UnboundedSender<([u8; 16], AdvertKey)>,
    /// GUIDs of proxies shut down, forgotten once the registry holds no
    /// advert naming them.
    retiring: HashSet<[u8; 16]>,
    stats: BridgeStats,
    /// The counters last emitted as [`BridgeEvent::Stats`].
    stats_reported: BridgeStats,
    /// What full queues dropped (counted in the callbacks).
    dropped: Arc<Dropped>,
    /// When full queues were last warned about, and the counts then.
    warned: Option<(Instant, u64, u64)>,
    /// The followed streams by id (how their selectors' reports find
    /// them), in the order they were declared.
    followed: BTreeMap<u64, Followed>,
    /// The id of the next stream.
    next_followed: u64,
    /// Where the followed streams' selectors report.
    follow_inputs: mpsc::UnboundedSender<FollowInput>,
    /// The bridge's key and policy.
    trust: BridgeTrust,
    /// What checking Zenoh adverts keeps.
    checks: trust::Checks,
    sink: F,
}

impl<F: FnMut(BridgeEvent)> Shell<F> {
    fn emit(&mut self, event: BridgeEvent) {
        (self.sink)(event);
    }

    fn ready(&mut self) {
        let event = BridgeEvent::Ready {
            listen: self.config.zenoh.listen.clone(),
            connect: self.config.zenoh.connect.clone(),
            domain: self.participant.config().domain,
            key_prefix: self.keys.prefix().to_owned(),
            topics: self.config.topics.iter().map(|t| t.topic.clone()).collect(),
            zid: self.session.zid().to_string(),
        };
        self.emit(event);
    }

    /// Where a registry entry lives and where its samples are on Zenoh.
    fn describe(&self, view: &EntryView) -> (Origin, Option<String>) {
        let key = &view.advert.key;
        let data = self.keys.key(Space::Data, &key.topic, &key.producer);
        if self.bridge_writers.contains(&view.advert.writer_guid) {
            // A Zenoh producer: its samples are on Zenoh already.
            (Origin::Zenoh, Some(data))
        } else {
            let forwarded = self
                .config
                .route(&key.topic)
                .is_some_and(|r| r.forward.to_zenoh());
            (Origin::Dds, forwarded.then_some(data))
        }
    }

    fn advert_json(&self, view: &EntryView) -> AdvertJson {
        let (origin, data) = self.describe(view);
        AdvertJson::from_entry(view, origin, data)
    }

    async fn input(&mut self, input: Input) {
        match input {
            Input::Advert(sample) => self.zenoh_advert(&sample).await,
            Input::Alive(sample) => self.zenoh_alive(&sample).await,
            Input::Registry(query) => self.answer_registry(query).await,
            Input::Best(query) => self.answer_best(query).await,
            Input::Adverts(query) => self.answer_adverts(query).await,
            Input::Follow(query) => self.answer_follow(query).await,
        }
    }

    // ---- Housekeeping ----

    pub(super) fn housekeeping(&mut self) {
        let expired = self.zenoh.expire(now());
        if expired > 0 {
            tracing::debug!(
                expired,
                "zenoh adverts without a liveliness token forgotten"
            );
        }
        self.forget_retired();
        self.warn_dropped();
        let stats = self.stats_so_far();
        if stats != self.stats_reported {
            self.stats_reported = stats;
            self.emit(BridgeEvent::Stats { stats });
        }
    }

    /// The counters as [`Shell::stop`] will report them, without taking
    /// the queues' drop counts.
    fn stats_so_far(&self) -> BridgeStats {
        let mut stats = self.stats;
        stats.samples_dropped += self.dropped.data.load(Ordering::Relaxed);
        stats.inputs_dropped += self.dropped.inputs.load(Ordering::Relaxed);
        stats.adverts_evicted = self.zenoh.evicted();
        stats.producers_refused = self.zenoh.refused();
        stats
    }

    /// Forgets the GUIDs of retired proxies whose adverts have left the
    /// registry.
    fn forget_retired(&mut self) {
        if self.retiring.is_empty() {
            return;
        }
        let named: HashSet<[u8; 16]> = self
            .selector
            .registry()
            .snapshot()
            .iter()
            .map(|v| v.advert.writer_guid)
            .collect();
        let writers = &mut self.bridge_writers;
        self.retiring.retain(|guid| {
            let gone = !named.contains(guid);
            if gone {
                writers.remove(guid);
            }
            !gone
        });
    }

    /// One warning at most every [`WARN_EVERY`] while full queues drop.
    fn warn_dropped(&mut self) {
        let data = self.dropped.data.load(Ordering::Relaxed);
        let inputs = self.dropped.inputs.load(Ordering::Relaxed);
        let (data_before, inputs_before) = self.warned.map_or((0, 0), |(_, d, i)| (d, i));
        let recent = self
            .warned
            .is_some_and(|(at, _, _)| at.elapsed() < WARN_EVERY);
        if (data, inputs) == (data_before, inputs_before) || recent {
            return;
        }
        tracing::warn!(
            samples = data - data_before,
            inputs = inputs - inputs_before,
            "zenoh queues full: samples and adverts/tokens/queries dropped since the last warning"
        );
        self.warned = Some((Instant::now(), data, inputs));
    }

    /// Shuts a proxy down off the task (disposing waits up to 200 ms for
    /// acknowledgements, and the next decision must not wait for it), then
    /// reports its GUID retired.
    pub(super) fn retire(&self, key: AdvertKey, proxy: Proxy) {
        let retired = self.retired.clone();
        let guid = proxy.guid();
        tokio::spawn(async move {
            proxy.shutdown().await;
            let _ = retired.send((guid, key));
        });
    }

    // ---- Stop ----

    async fn stop(mut self) -> BridgeStats {
        let proxies: Vec<(AdvertKey, Proxy)> = self.proxies.drain().collect();
        let mut stopping = Vec::new();
        for (key, proxy) in proxies {
            stopping.push(proxy.shutdown());
            self.emit(BridgeEvent::ZenohProducer {
                producer: key.producer,
                topic: key.topic,
                state: ProducerState::Down,
                cause: DownCause::BridgeStopping.to_string(),
                writer_guid: None,
            });
        }
        futures::future::join_all(stopping).await;
        for (_, token) in self.tokens.drain() {
            let _ = token.undeclare().await;
        }
        let exported: Vec<AdvertKey> = self.exported.keys().cloned().collect();
        for key in exported {
            let advert = self.keys.key(Space::Adverts, &key.topic, &key.producer);
            let _ = self.session.delete(advert).await;
        }
        self.stats.samples_dropped += self.dropped.data.swap(0, Ordering::Relaxed);
        self.stats.inputs_dropped += self.dropped.inputs.swap(0, Ordering::Relaxed);
        self.stats.adverts_evicted = self.zenoh.evicted();
        self.stats.producers_refused = self.zenoh.refused();
        for (_, followed) in std::mem::take(&mut self.followed) {
            followed.stop().await;
        }
        let stats = self.stats;
        self.emit(BridgeEvent::Stopped { stats });
        self.selector.shutdown().await;
        if let Err(error) = self.session.close().await {
            tracing::warn!(%error, "zenoh session not closed cleanly");
        }
        stats
    }
}
