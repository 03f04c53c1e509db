//! The I/O shell of the bridge: one Zenoh session and one DDS participant,
//! one task. Zenoh callbacks only queue what they receive; the task applies
//! it to the pure parts ([`ZenohProducers`], [`Exported`], the best-producer
//! ranking) and does what they say, so every routing decision is made in
//! one place, in order.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{select_all, Stream, StreamExt};
use rustdds::with_key::Sample as DdsSample;
use tokio::sync::mpsc;
use vigil_discovery::{
    data_qos, now, AdvertKey, EntryView, Selector, SelectorConfig, VigilParticipant,
};
use zenoh::bytes::Encoding;
use zenoh::key_expr::KeyExpr;
use zenoh::liveliness::LivelinessToken;
use zenoh::query::Query;
use zenoh::sample::{Locality, Sample, SampleKind};
use zenoh::Session;

use super::advert_json::{AdvertJson, Origin};
use super::best;
use super::config::{BridgeConfig, TopicRoute};
use super::error::BridgeError;
use super::event::{BridgeEvent, BridgeStats, ProducerState};
use super::export::{Export, Exported};
use super::keys::{KeySpace, Space};
use super::producers::{Action, DownCause, ZenohProducers};
use super::proxy::{reader_topic, Proxy};
use crate::raw::{RawKeyedReader, RawKeyedSample, RawReader, RawSample};

/// How often the DDS registry is compared with what Zenoh was told. A DDS
/// producer's death is seen by the registry after its lease (100 ms by
/// default); this adds at most one period to that.
const EXPORT_PERIOD: Duration = Duration::from_millis(10);

/// Samples from Zenoh waiting for the task. A burst beyond this is dropped
/// and counted rather than queued without bound: old samples are worth
/// less than a responsive bridge.
const DATA_QUEUE: usize = 4096;

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
    let zenoh_config = config
        .zenoh_config()
        .map_err(|e| BridgeError::zenoh("configuring the session", e))?;
    let session = zenoh::open(zenoh_config)
        .await
        .map_err(|e| BridgeError::zenoh("opening the session", e))?;
    let keys = KeySpace::new(&config.zenoh.key_prefix);
    let selector = Selector::registry_only(&participant, SelectorConfig::default())?;
    // rustdds does not deliver a participant's own samples to its own
    // readers: proxies on the registry's participant would be invisible to
    // the bridge's registry (and so to `registry` and `best` queries).
    // On a participant of their own they reach it over DDS, like they
    // reach every consumer.
    let proxies = VigilParticipant::new(participant.config().clone())?;
    let (inputs, mut input_rx) = mpsc::unbounded_channel();
    let (data_tx, mut data_rx) = mpsc::channel::<Sample>(DATA_QUEUE);
    let overflow = Arc::new(AtomicU64::new(0));
    let data = (data_tx, Arc::clone(&overflow));
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
        stats: BridgeStats::default(),
        overflow,
        sink,
    };
    shell.ready();
    let mut export = tokio::time::interval(EXPORT_PERIOD);
    export.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = export.tick() => shell.export().await,
            Some(input) = input_rx.recv() => shell.input(input).await,
            Some(sample) = data_rx.recv() => shell.zenoh_data(&sample),
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
    inputs: &mpsc::UnboundedSender<Input>,
    (data, overflow): (mpsc::Sender<Sample>, Arc<AtomicU64>),
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
            .callback(move |s| {
                let _ = tx.send(Input::Advert(s));
            })
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
            .callback(move |s| {
                let _ = tx.send(Input::Alive(s));
            })
            .await
            .map_err(|e| declare_error(&alive, e))?,
    );
    // Data only of the topics that go to DDS, not everything on Zenoh.
    for route in config.topics.iter().filter(|r| r.forward.to_dds()) {
        let data = data.clone();
        let overflow = Arc::clone(&overflow);
        let key = keys.topic(Space::Data, &route.topic);
        subscribers.push(
            session
                .declare_subscriber(key.clone())
                .allowed_origin(Locality::Remote)
                .callback(move |s| {
                    if data.try_send(s).is_err() {
                        overflow.fetch_add(1, Ordering::Relaxed);
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
                .callback(move |q| {
                    let _ = tx.send(wrap(q));
                })
                .await
                .map_err(|e| declare_error(&key, e))
        }
    };
    queryables.push(queryable(keys.registry(), Input::Registry).await?);
    queryables.push(queryable(keys.all_best(), Input::Best).await?);
    queryables.push(queryable(keys.all(Space::Adverts), Input::Adverts).await?);
    Ok(Declared {
        _subscribers: subscribers,
        _queryables: queryables,
    })
}

/// One raw reader per topic whose DDS samples go to Zenoh, merged.
fn dds_readers(
    participant: &VigilParticipant,
    config: &BridgeConfig,
) -> Result<futures::stream::SelectAll<DdsStream>, BridgeError> {
    let mut streams: Vec<DdsStream> = Vec::new();
    for (index, route) in config.topics.iter().enumerate() {
        if !route.forward.to_zenoh() {
            continue;
        }
        let topic = reader_topic(participant, route)?;
        let create = |e| vigil_discovery::DdsError::create("raw reader", &route.topic, e);
        if route.keyed {
            let reader = participant
                .subscriber()
                .create_datareader::<RawKeyedSample, RawKeyedReader>(&topic, Some(data_qos()))
                .map_err(create)?;
            streams.push(Box::pin(reader.async_sample_stream().filter_map(
                move |r| {
                    let item = match r {
                        Err(_) => Some(Err(())),
                        Ok(sample) => {
                            let guid = sample.sample_info().writer_guid().to_bytes();
                            match sample.into_value() {
                                DdsSample::Value(v) => Some(Ok((index, guid, v.sample))),
                                // A producer leaving: no data to forward.
                                DdsSample::Dispose(_) => None,
                            }
                        }
                    };
                    std::future::ready(item)
                },
            )));
        } else {
            let reader = participant
                .subscriber()
                .create_datareader_no_key::<RawSample, RawReader>(&topic, Some(data_qos()))
                .map_err(create)?;
            streams.push(Box::pin(reader.async_sample_stream().map(move |r| {
                let sample = r.map_err(|_| ())?;
                let guid = sample.sample_info().writer_guid().to_bytes();
                Ok((index, guid, sample.into_value()))
            })));
        }
    }
    Ok(select_all(streams))
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
    inputs: mpsc::UnboundedSender<Input>,
    exported: Exported,
    /// The tokens held for DDS producers.
    tokens: HashMap<AdvertKey, LivelinessToken>,
    /// DDS writer GUID → where its samples go.
    out_routes: HashMap<[u8; 16], OutRoute>,
    zenoh: ZenohProducers,
    proxies: HashMap<AdvertKey, Proxy>,
    /// Every writer GUID the bridge ever created for a Zenoh producer. A
    /// proxy's advert outlives the proxy in the registry for a moment (its
    /// disposal is on its way), so a retired GUID must stay known or that
    /// advert would be exported back to Zenoh as a DDS producer.
    bridge_writers: HashSet<[u8; 16]>,
    stats: BridgeStats,
    /// Zenoh samples dropped by a full queue (counted in the callback).
    overflow: Arc<AtomicU64>,
    sink: F,
}

fn hex(guid: &[u8; 16]) -> String {
    guid.iter().map(|b| format!("{b:02x}")).collect()
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

    // ---- DDS → Zenoh: adverts, health and liveliness ----

    async fn export(&mut self) {
        let snapshot = self.selector.registry().snapshot();
        let writers = &self.bridge_writers;
        let exports = self
            .exported
            .diff(&snapshot, |v| writers.contains(&v.advert.writer_guid));
        for export in exports {
            match export {
                Export::Put(view) => self.put_advert(&view).await,
                Export::Up(key) => self.declare_token(key).await,
                Export::Down(key, gone) => {
                    if let Some(token) = self.tokens.remove(&key) {
                        let _ = token.undeclare().await;
                    }
                    self.emit(BridgeEvent::DdsProducer {
                        producer: key.producer,
                        topic: key.topic,
                        state: ProducerState::Down,
                        cause: gone.to_string(),
                    });
                }
                Export::Delete(key) => {
                    self.out_routes.retain(|_, r| r.key != key);
                    let advert = self.keys.key(Space::Adverts, &key.topic, &key.producer);
                    if let Err(error) = self.session.delete(advert).await {
                        tracing::warn!(%error, producer = %key.producer, "advert not deleted on zenoh");
                    }
                }
            }
        }
    }

    async fn put_advert(&mut self, view: &EntryView) {
        let key = &view.advert.key;
        let json = self.advert_json(view);
        // The data route follows the advert's writer (a restarted producer
        // has a new GUID).
        self.out_routes.retain(|_, r| r.key != *key);
        if let Some(data) = &json.data {
            match KeyExpr::try_from(data.clone()) {
                Ok(data) => {
                    self.out_routes.insert(
                        view.advert.writer_guid,
                        OutRoute {
                            key: key.clone(),
                            data,
                            type_name: view.advert.type_name.clone(),
                        },
                    );
                }
                Err(error) => tracing::warn!(%error, "data key refused by zenoh"),
            }
        }
        let advert = self.keys.key(Space::Adverts, &key.topic, &key.producer);
        let put = self
            .session
            .put(advert, json.to_json())
            .encoding(Encoding::APPLICATION_JSON)
            .await;
        if let Err(error) = put {
            tracing::warn!(%error, producer = %key.producer, "advert not put on zenoh");
        }
    }

    async fn declare_token(&mut self, key: AdvertKey) {
        let alive = self.keys.key(Space::Alive, &key.topic, &key.producer);
        match self.session.liveliness().declare_token(alive).await {
            Ok(token) => {
                self.tokens.insert(key.clone(), token);
                self.emit(BridgeEvent::DdsProducer {
                    producer: key.producer,
                    topic: key.topic,
                    state: ProducerState::Up,
                    cause: "advertised on DDS and reachable".to_owned(),
                });
            }
            Err(error) => {
                tracing::warn!(%error, producer = %key.producer, "liveliness token not declared")
            }
        }
    }

    // ---- DDS → Zenoh: data ----

    async fn dds_data(&mut self, route: usize, guid: [u8; 16], sample: RawSample) {
        if self.bridge_writers.contains(&guid) {
            // A Zenoh producer's sample the bridge wrote: never echoed.
            return;
        }
        let topic = self.config.topics.get(route).map(|r| r.topic.as_str());
        let Some(out) = self
            .out_routes
            .get(&guid)
            .filter(|o| Some(o.key.topic.as_str()) == topic)
        else {
            // No advert names this writer (yet): vigil routes producers,
            // not anonymous writers.
            self.stats.samples_dropped += 1;
            return;
        };
        let encoding = Encoding::APPLICATION_CDR.with_schema(out.type_name.clone());
        let put = self
            .session
            .put(out.data.clone(), sample.to_encapsulated())
            .encoding(encoding)
            .await;
        match put {
            Ok(()) => self.stats.samples_to_zenoh += 1,
            Err(error) => {
                self.stats.samples_dropped += 1;
                tracing::debug!(%error, "sample not put on zenoh");
            }
        }
    }

    // ---- Zenoh → DDS ----

    async fn input(&mut self, input: Input) {
        match input {
            Input::Advert(sample) => self.zenoh_advert(&sample).await,
            Input::Alive(sample) => self.zenoh_alive(&sample).await,
            Input::Registry(query) => self.answer_registry(query).await,
            Input::Best(query) => self.answer_best(query).await,
            Input::Adverts(query) => self.answer_adverts(query).await,
        }
    }

    fn reject(&mut self, key: &str, error: String) {
        self.stats.adverts_rejected += 1;
        tracing::warn!(key, %error, "zenoh advert rejected; the registry keeps its last good state");
        let rejected = self.stats.adverts_rejected;
        self.emit(BridgeEvent::Rejected {
            key: key.to_owned(),
            error,
            rejected,
        });
    }

    /// The route of a topic whose Zenoh producers are advertised on DDS.
    fn to_dds(&self, topic: &str) -> Option<&TopicRoute> {
        self.config.route(topic).filter(|r| r.forward.to_dds())
    }

    async fn zenoh_advert(&mut self, sample: &Sample) {
        let key_text = sample.key_expr().as_str().to_owned();
        let (topic, producer) = match self.keys.parse(Space::Adverts, &key_text) {
            Ok(parts) => parts,
            Err(e) => return self.reject(&key_text, e.to_string()),
        };
        let key = AdvertKey::new(&producer, &topic);
        if sample.kind() == SampleKind::Delete {
            let action = self.zenoh.on_advert_deleted(&key);
            return self.act(key, action).await;
        }
        let advert = match AdvertJson::parse(&sample.payload().to_bytes()) {
            Ok(advert) => advert,
            Err(e) => return self.reject(&key_text, e.to_string()),
        };
        if advert.origin == Origin::Dds {
            // Another bridge's export of a DDS producer: importing it would
            // loop DDS through Zenoh back into DDS.
            tracing::debug!(key = %key_text, "advert of origin dds ignored");
            return;
        }
        if advert.topic != topic || advert.producer != producer {
            let error = format!(
                "the advert is for `{}` on `{}` but was put on the key of `{producer}` on `{topic}`",
                advert.producer, advert.topic
            );
            return self.reject(&key_text, error);
        }
        let Some(route) = self.to_dds(&topic) else {
            tracing::debug!(key = %key_text, "topic not bridged to DDS; advert ignored");
            return;
        };
        if advert.type_name != route.type_name {
            let error = format!(
                "type `{}` but this bridge carries `{}` on topic `{topic}`",
                advert.type_name, route.type_name
            );
            return self.reject(&key_text, error);
        }
        let action = self.zenoh.on_advert(&key, advert);
        self.act(key, action).await;
    }

    async fn zenoh_alive(&mut self, sample: &Sample) {
        let key_text = sample.key_expr().as_str().to_owned();
        let Ok((topic, producer)) = self.keys.parse(Space::Alive, &key_text) else {
            // A token is not data anyone sent us; just not ours to read.
            tracing::debug!(key = %key_text, "liveliness token outside the key space");
            return;
        };
        let key = AdvertKey::new(&producer, &topic);
        if self.tokens.contains_key(&key) || self.to_dds(&topic).is_none() {
            // Our own token for a DDS producer, or a topic not bridged.
            return;
        }
        let action = match sample.kind() {
            SampleKind::Put => self.zenoh.on_alive(&key),
            SampleKind::Delete => self.zenoh.on_dead(&key),
        };
        if self.zenoh.wants_advert(&key) {
            self.fetch_advert(&key).await;
        }
        self.act(key, action).await;
    }

    /// Asks Zenoh for an advert put before the bridge joined (the producer
    /// answers queries on its advert key).
    async fn fetch_advert(&mut self, key: &AdvertKey) {
        let advert = self.keys.key(Space::Adverts, &key.topic, &key.producer);
        let tx = self.inputs.clone();
        let get = self
            .session
            .get(advert)
            .allowed_destination(Locality::Remote)
            .callback(move |reply| {
                if let Ok(sample) = reply.into_result() {
                    let _ = tx.send(Input::Advert(sample));
                }
            })
            .await;
        if let Err(error) = get {
            tracing::warn!(%error, producer = %key.producer, "advert query not sent");
        }
    }

    async fn act(&mut self, key: AdvertKey, action: Option<Action>) {
        match action {
            None => {}
            Some(Action::Up(advert)) => {
                self.proxy_up(key, &advert, "advert and liveliness token present")
            }
            Some(Action::Update(advert)) => self.proxy_update(key, &advert).await,
            Some(Action::Down(cause)) => self.proxy_down(key, cause),
        }
    }

    fn proxy_up(&mut self, key: AdvertKey, advert: &AdvertJson, cause: &str) {
        let Some(route) = self.to_dds(&key.topic).cloned() else {
            return;
        };
        match Proxy::start(&self.proxy_participant, &route, advert) {
            Ok(proxy) => {
                let guid = proxy.guid();
                self.bridge_writers.insert(guid);
                self.proxies.insert(key.clone(), proxy);
                self.emit(BridgeEvent::ZenohProducer {
                    producer: key.producer,
                    topic: key.topic,
                    state: ProducerState::Up,
                    cause: cause.to_owned(),
                    writer_guid: Some(hex(&guid)),
                });
            }
            Err(error) => {
                let advert_key = self.keys.key(Space::Adverts, &key.topic, &key.producer);
                self.reject(&advert_key, format!("cannot advertise it on DDS: {error}"));
            }
        }
    }

    async fn proxy_update(&mut self, key: AdvertKey, advert: &AdvertJson) {
        let followed = match self.proxies.get_mut(&key) {
            Some(proxy) => proxy.update(advert),
            // Its start failed: try again with the new advert.
            None => return self.proxy_up(key, advert, "advert corrected"),
        };
        match followed {
            Ok(true) => self.emit(BridgeEvent::ZenohProducer {
                producer: key.producer,
                topic: key.topic,
                state: ProducerState::Updated,
                cause: format!(
                    "health {}, capabilities {}",
                    advert.health.state, advert.capabilities
                ),
                writer_guid: None,
            }),
            Ok(false) => {
                // A removed capability: advertise it afresh.
                if let Some(old) = self.proxies.remove(&key) {
                    old.shutdown().await;
                }
                self.proxy_up(key, advert, "advert changed (capability removed)");
            }
            Err(error) => {
                let advert_key = self.keys.key(Space::Adverts, &key.topic, &key.producer);
                self.reject(&advert_key, format!("cannot update it on DDS: {error}"));
            }
        }
    }

    fn proxy_down(&mut self, key: AdvertKey, cause: DownCause) {
        let Some(proxy) = self.proxies.remove(&key) else {
            return;
        };
        // Disposing waits up to 200 ms for acknowledgements: off the task,
        // so the next decision is not held up by this one.
        tokio::spawn(proxy.shutdown());
        self.emit(BridgeEvent::ZenohProducer {
            producer: key.producer,
            topic: key.topic,
            state: ProducerState::Down,
            cause: cause.to_string(),
            writer_guid: None,
        });
    }

    fn zenoh_data(&mut self, sample: &Sample) {
        let key_text = sample.key_expr().as_str();
        let proxy = self
            .keys
            .parse(Space::Data, key_text)
            .ok()
            .and_then(|(topic, producer)| self.proxies.get(&AdvertKey::new(producer, topic)));
        let Some(proxy) = proxy else {
            // A producer that is not up (no advert or no token): its data
            // has no advert on DDS to be selected by.
            self.stats.samples_dropped += 1;
            return;
        };
        match proxy.write(&sample.payload().to_bytes()) {
            Ok(()) => self.stats.samples_to_dds += 1,
            Err(failure) => {
                self.stats.samples_dropped += 1;
                tracing::debug!(key = key_text, %failure, "zenoh sample not written on DDS");
            }
        }
    }

    // ---- Queries ----

    async fn answer_registry(&mut self, query: Query) {
        self.stats.queries += 1;
        let adverts: Vec<AdvertJson> = self
            .selector
            .registry()
            .snapshot()
            .iter()
            .map(|v| self.advert_json(v))
            .collect();
        let body = serde_json::json!({
            "key_prefix": self.keys.prefix(),
            "bridge": self.session.zid().to_string(),
            "adverts": adverts,
        });
        let reply = query
            .reply(self.keys.registry(), body.to_string())
            .encoding(Encoding::APPLICATION_JSON)
            .await;
        if let Err(error) = reply {
            tracing::warn!(%error, "registry reply not sent");
        }
    }

    async fn answer_best(&mut self, query: Query) {
        self.stats.queries += 1;
        let key_text = query.key_expr().as_str().to_owned();
        let text = query
            .parameters()
            .get("query")
            .map(str::to_owned)
            .or_else(|| {
                query
                    .payload()
                    .and_then(|p| p.try_to_string().ok().map(|s| s.into_owned()))
            });
        let parsed = self
            .keys
            .parse_best(&key_text)
            .map_err(|e| e.to_string())
            .and_then(|topic| Ok((topic.clone(), best::parse_query(&topic, text.as_deref())?)));
        let (topic, parsed) = match parsed {
            Ok(ok) => ok,
            Err(error) => {
                let body = serde_json::json!({ "error": error });
                let _ = query
                    .reply_err(body.to_string())
                    .encoding(Encoding::APPLICATION_JSON)
                    .await;
                let topic = self.keys.parse_best(&key_text).unwrap_or_default();
                self.emit(BridgeEvent::Best {
                    topic,
                    query: text.unwrap_or_default(),
                    producer: None,
                    origin: None,
                    data: None,
                    error: Some(error),
                });
                return;
            }
        };
        let registry = self.selector.registry();
        let answer = best::answer(registry, &topic, &parsed, now(), |v| self.describe(v));
        let body = serde_json::to_string(&answer).unwrap_or_default();
        let reply = query
            .reply(self.keys.best(&topic), body)
            .encoding(Encoding::APPLICATION_JSON)
            .await;
        if let Err(error) = reply {
            tracing::warn!(%error, "best reply not sent");
        }
        self.emit(BridgeEvent::Best {
            topic,
            query: answer.query,
            producer: answer.producer,
            origin: answer.origin,
            data: answer.data,
            error: None,
        });
    }

    /// Late joiners asking for adverts get those of the DDS producers
    /// (Zenoh producers answer for themselves).
    async fn answer_adverts(&mut self, query: Query) {
        self.stats.queries += 1;
        let asked = query.key_expr().clone();
        for view in self.selector.registry().snapshot() {
            if self.bridge_writers.contains(&view.advert.writer_guid) {
                continue;
            }
            let key = &view.advert.key;
            let Ok(advert) =
                KeyExpr::try_from(self.keys.key(Space::Adverts, &key.topic, &key.producer))
            else {
                continue;
            };
            if !asked.intersects(&advert) {
                continue;
            }
            let reply = query
                .reply(advert, self.advert_json(&view).to_json())
                .encoding(Encoding::APPLICATION_JSON)
                .await;
            if let Err(error) = reply {
                tracing::warn!(%error, "advert reply not sent");
            }
        }
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
        self.stats.samples_dropped += self.overflow.swap(0, Ordering::Relaxed);
        let stats = self.stats;
        self.emit(BridgeEvent::Stopped { stats });
        self.selector.shutdown().await;
        if let Err(error) = self.session.close().await {
            tracing::warn!(%error, "zenoh session not closed cleanly");
        }
        stats
    }
}
