//! The producer role: publish samples of the application's type and keep
//! the advert's health in step with a diagnostic tree.

use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;

use rustdds::{CDRSerializerAdapter, TopicKind};
use vigil_diag::{
    load_tree_str, CheckSpec, Explanation, Health, NodeBody, NodeSpec, Observation, Path, State,
    Tree, TreeSpec,
};
use vigil_discovery::clock::dds_timestamp;
use vigil_discovery::inproc::InProcAdvertiser;
use vigil_discovery::{
    data_qos, guid_of, supervisor_from_env, AdvertWire, Advertiser, AdvertiserConfig, CdrWriter,
    DdsError,
};
use vigil_qos::{Capabilities, Degradation, Value};

use crate::{Error, Sample, Transport};

/// How a [`Producer`] is declared: built by [`Producer::builder`], started
/// by [`ProducerBuilder::start`].
///
/// ```
/// use vigil::{Producer, SyntheticSample, Transport};
/// use vigil_discovery::inproc::InProcess;
///
/// let sim = Transport::from(InProcess::new(Default::default()));
/// let imu = Producer::<SyntheticSample>::builder("imu", "imu_a")
///     .capability("latency_p99", "0.5ms")
///     .capability("rate_hz", "1kHz")
///     .start(&sim)
///     .unwrap();
/// assert_eq!(imu.advert().key.producer, "imu_a");
/// // A capability without a known unit is refused at the start, not later.
/// let bad = Producer::<SyntheticSample>::builder("imu", "imu_b")
///     .capability("latency_p99", "0.5 parsec")
///     .start(&sim);
/// assert!(matches!(bad, Err(vigil::Error::Capability { .. })));
/// ```
pub struct ProducerBuilder<T> {
    topic: String,
    id: String,
    type_name: String,
    capabilities: Vec<(String, Result<Value, String>)>,
    tree: Option<TreeSource>,
    root: Option<String>,
    degradation: Degradation,
    keyless: bool,
    /// `None`: read from the environment at the start (`vigil supervise`
    /// puts its id there); `Some`: as set by
    /// [`ProducerBuilder::supervisor`].
    supervisor: Option<Option<[u8; 12]>>,
    key: Option<vigil_discovery::KeyPair>,
    _sample: PhantomData<fn(T)>,
}

enum TreeSource {
    File(PathBuf),
    Spec(TreeSpec),
}

impl<T> fmt::Debug for ProducerBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProducerBuilder")
            .field("topic", &self.topic)
            .field("id", &self.id)
            .field("type_name", &self.type_name)
            .finish_non_exhaustive()
    }
}

impl<T: Sample> ProducerBuilder<T> {
    /// The DDS type name of the samples (default: the Rust type's path,
    /// `std::any::type_name`). ROS 2 types are named
    /// `pkg::msg::dds_::Type_`.
    pub fn type_name(mut self, type_name: impl Into<String>) -> Self {
        self.type_name = type_name.into();
        self
    }

    /// A capability, with its unit: `("latency_p99", "0.5ms")`,
    /// `("rate_hz", "100Hz")`, `("frame", "\"imu_link\"")` or a bare
    /// word. Checked at [`ProducerBuilder::start`].
    pub fn capability(mut self, key: impl Into<String>, value: &str) -> Self {
        let parsed = Value::parse_capability(value.trim()).map_err(|e| e.to_string());
        self.capabilities.push((key.into(), parsed));
        self
    }

    /// Capabilities already parsed (added to those of
    /// [`ProducerBuilder::capability`]).
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        for (key, value) in capabilities.iter() {
            self.capabilities.push((key.to_string(), Ok(value.clone())));
        }
        self
    }

    /// The diagnostic tree from a YAML tree file. Default: one status leaf
    /// `<id>.health`, OK at the start, set with [`Producer::set`].
    pub fn tree_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tree = Some(TreeSource::File(path.into()));
        self
    }

    /// The diagnostic tree as built in code.
    pub fn tree(mut self, spec: TreeSpec) -> Self {
        self.tree = Some(TreeSource::Spec(spec));
        self
    }

    /// The tree node whose health is advertised (default: the only root).
    pub fn root(mut self, path: impl Into<String>) -> Self {
        self.root = Some(path.into());
        self
    }

    /// Publish on a keyless DDS topic, as every ROS 2 topic is, so ROS 2
    /// subscribers (rmw_cyclonedds, rmw_fastrtps) match the writer. The
    /// sample's key is then ignored. Default: a keyed topic, as vigil's
    /// own consumers read.
    pub fn keyless(mut self) -> Self {
        self.keyless = true;
        self
    }

    /// The supervisor that may say, on this producer's behalf, that it
    /// FAILED when its process dies: the GUID prefix of the supervisor's
    /// DDS participant; `None`: nobody may. Default: what the environment
    /// says ([`SUPERVISOR_ID_ENV`](vigil_discovery::SUPERVISOR_ID_ENV), set
    /// by `vigil supervise` for its children; unset means none).
    pub fn supervisor(mut self, supervisor: Option<[u8; 12]>) -> Self {
        self.supervisor = Some(supervisor);
        self
    }

    /// Signs the advert and heartbeats with `key` (issue 13: consumers
    /// with a trust policy accept only what an allowed key signed, and a
    /// restart signed by the same key takes over a live producer id at
    /// once). Default: unsigned.
    pub fn key(mut self, key: Option<vigil_discovery::KeyPair>) -> Self {
        self.key = key;
        self
    }

    /// How health worsens the advertised capabilities.
    pub fn degradation(mut self, degradation: Degradation) -> Self {
        self.degradation = degradation;
        self
    }

    /// Checks the declaration, creates the data writer and publishes the
    /// first advert. On DDS, call it inside a tokio runtime (heartbeats
    /// run as a task).
    pub fn start(self, transport: &Transport) -> Result<Producer<T>, Error> {
        let mut capabilities = Capabilities::new();
        for (key, value) in self.capabilities {
            let value = value.map_err(|reason| Error::Capability {
                input: key.clone(),
                reason,
            })?;
            capabilities
                .insert(&key, value)
                .map_err(|e| Error::Capability {
                    input: key.clone(),
                    reason: e.to_string(),
                })?;
        }
        let (spec, default_leaf) = match self.tree {
            Some(TreeSource::File(path)) => {
                let text = std::fs::read_to_string(&path).map_err(|source| Error::TreeFile {
                    path: path.clone(),
                    source,
                })?;
                (load_tree_str(&text, &path.display().to_string())?, None)
            }
            Some(TreeSource::Spec(spec)) => (spec, None),
            None => {
                let leaf = Path::parse(&format!("{}.health", self.id))?;
                (default_tree(&leaf), Some(leaf))
            }
        };
        let mut tree = Tree::build(&spec)?;
        if let Some(leaf) = &default_leaf {
            let ok = Observation::Status {
                state: State::Ok,
                reason: None,
            };
            tree.observe(leaf, ok, transport.now())?;
        }
        let root = self.root.as_deref().map(Path::parse).transpose()?;
        // Only a process on DDS has a supervisor on DDS: a simulation run
        // under `vigil supervise` does not inherit its word.
        let supervisor = match (self.supervisor, transport) {
            (Some(set), _) => set,
            (None, Transport::Dds(_)) => supervisor_from_env()?,
            (None, Transport::InProcess(_)) => None,
        };
        let config = |guid| {
            AdvertiserConfig::new(&self.id, &self.topic, &self.type_name, guid)
                .with_supervisor(supervisor)
                .with_key(self.key.clone())
                .with_capabilities(capabilities)
                .with_tree(tree, root)
                .with_degradation(self.degradation)
        };
        let inner = match transport {
            Transport::Dds(participant) if self.keyless => {
                let topic = participant
                    .dds()
                    .create_topic(
                        self.topic.clone(),
                        self.type_name.clone(),
                        &data_qos(),
                        TopicKind::NoKey,
                    )
                    .map_err(|e| DdsError::create("topic", &self.topic, e))?;
                let writer = participant
                    .publisher()
                    .create_datawriter_no_key_cdr::<T>(&topic, Some(data_qos()))
                    .map_err(|e| DdsError::create("data writer", &self.topic, e))?;
                let advertiser = Advertiser::start(participant, config(guid_of(&writer)))?;
                Inner::DdsKeyless { advertiser, writer }
            }
            Transport::Dds(participant) => {
                let topic = participant.data_topic(&self.topic, &self.type_name)?;
                let writer = participant.data_writer::<T>(&topic, None)?;
                let advertiser = Advertiser::start(participant, config(guid_of(&writer)))?;
                Inner::Dds { advertiser, writer }
            }
            Transport::InProcess(net) => Inner::InProcess(net.advertise(config([0; 16]))?),
        };
        Ok(Producer {
            inner,
            transport: transport.clone(),
            topic: self.topic,
        })
    }
}

/// One status leaf, so [`Producer::set`] works without a tree file.
fn default_tree(leaf: &Path) -> TreeSpec {
    TreeSpec {
        nodes: vec![NodeSpec::new(
            leaf.clone(),
            NodeBody::Leaf(CheckSpec::Status { stale_after: None }),
        )],
        shared: Vec::new(),
    }
}

/// A producer of one topic: its samples, its advert, and the diagnostic
/// tree that decides the advert's health.
///
/// ```no_run
/// # async fn run() -> Result<(), vigil::Error> {
/// use vigil::{Producer, SyntheticSample, Transport};
/// use vigil_diag::State;
/// use vigil_discovery::DdsConfig;
///
/// let dds = Transport::dds(DdsConfig::new(7))?;
/// let imu = Producer::<SyntheticSample>::builder("imu", "imu_a")
///     .capability("accuracy", "0.001")
///     .capability("latency_p99", "0.5ms")
///     .start(&dds)?;
/// let sample = SyntheticSample { producer: "imu_a".into(), seq: 1, source_ts_ns: 0, period_ns: 0 };
/// imu.publish(&sample)?;
/// // Consumers following `imu WHERE health.state = OK` leave it now.
/// imu.set("imu_a.health", State::Failed)?;
/// imu.shutdown().await?;
/// # Ok(()) }
/// ```
pub struct Producer<T: Sample> {
    inner: Inner<T>,
    transport: Transport,
    topic: String,
}

// One per producer, made once and never moved on a hot path: boxing the
// DDS writer would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Inner<T: Sample> {
    Dds {
        advertiser: Advertiser,
        writer: CdrWriter<T>,
    },
    DdsKeyless {
        advertiser: Advertiser,
        writer: rustdds::no_key::DataWriter<T, CDRSerializerAdapter<T>>,
    },
    InProcess(InProcAdvertiser),
}

impl<T: Sample> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("topic", &self.topic)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl<T: Sample> Producer<T> {
    /// Declares a producer `id` (unique in the domain) of `topic`.
    pub fn builder(topic: impl Into<String>, id: impl Into<String>) -> ProducerBuilder<T> {
        ProducerBuilder {
            topic: topic.into(),
            id: id.into(),
            type_name: std::any::type_name::<T>().to_owned(),
            capabilities: Vec::new(),
            tree: None,
            root: None,
            degradation: Degradation::default(),
            keyless: false,
            supervisor: None,
            key: None,
            _sample: PhantomData,
        }
    }

    /// Publishes one sample, stamped with the transport's wall clock (a
    /// hot standby orders samples by it). Never blocks: a sample DDS cannot
    /// admit (a full reliable window) is an error, and the next one may
    /// pass.
    pub fn publish(&self, sample: &T) -> Result<(), Error> {
        self.publish_stamped(sample, self.transport.unix_now_ns())
    }

    /// Publishes one sample with its source timestamp (nanoseconds since
    /// the Unix epoch): when it was taken, if the application knows. In
    /// process the network's clock stamps it.
    pub fn publish_stamped(&self, sample: &T, unix_ns: u64) -> Result<(), Error> {
        match &self.inner {
            Inner::Dds { writer, .. } => {
                let ts = dds_timestamp(unix_ns);
                writer
                    .write(sample.clone(), Some(ts))
                    .map_err(|e| Error::Publish {
                        topic: self.topic.clone(),
                        reason: e.to_string(),
                    })
            }
            Inner::DdsKeyless { writer, .. } => writer
                .write(sample.clone(), Some(dds_timestamp(unix_ns)))
                .map_err(|e| Error::Publish {
                    topic: self.topic.clone(),
                    reason: e.to_string(),
                }),
            Inner::InProcess(advertiser) => {
                advertiser.write(sample.clone());
                Ok(())
            }
        }
    }

    /// Gives an observation to a tree leaf, given as an absolute path or
    /// relative to the diagnostic root. The advert is republished at once
    /// when its health or capabilities changed; returns whether it was.
    pub fn observe(&self, path: &str, observation: Observation) -> Result<bool, Error> {
        let path = self.resolve(path)?;
        Ok(match &self.inner {
            Inner::Dds { advertiser, .. } | Inner::DdsKeyless { advertiser, .. } => {
                advertiser.observe(&path, observation)?
            }
            Inner::InProcess(advertiser) => advertiser.observe(&path, observation)?,
        })
    }

    /// Sets a status leaf's state (see [`Producer::observe`]).
    pub fn set(&self, path: &str, state: State) -> Result<bool, Error> {
        self.observe(
            path,
            Observation::Status {
                state,
                reason: None,
            },
        )
    }

    /// Sets (or replaces) a capability and republishes: `("latency_p99",
    /// "2ms")`.
    pub fn set_capability(&self, key: &str, value: &str) -> Result<(), Error> {
        let value = Value::parse_capability(value.trim()).map_err(|e| Error::Capability {
            input: format!("{key}={value}"),
            reason: e.to_string(),
        })?;
        match &self.inner {
            Inner::Dds { advertiser, .. } | Inner::DdsKeyless { advertiser, .. } => {
                advertiser.set_capability(key, value)?
            }
            Inner::InProcess(advertiser) => advertiser.set_capability(key, value)?,
        }
        Ok(())
    }

    /// Signs from now on with `key` (`None`: unsigned) and republishes at
    /// once: a key rotation without a restart, so the data writer and
    /// every consumer's route stay and no sample is lost. Allow the new
    /// key in the consumers' trust policy first; drop the old one after.
    pub fn set_key(&self, key: Option<vigil_discovery::KeyPair>) -> Result<(), Error> {
        match &self.inner {
            Inner::Dds { advertiser, .. } | Inner::DdsKeyless { advertiser, .. } => {
                advertiser.set_key(key)?
            }
            Inner::InProcess(advertiser) => advertiser.set_key(key)?,
        }
        Ok(())
    }

    /// The health of a tree node (absolute or relative to the root).
    pub fn health(&self, path: &str) -> Option<Health> {
        let path = self.resolve(path).ok()?;
        match &self.inner {
            Inner::Dds { advertiser, .. } | Inner::DdsKeyless { advertiser, .. } => {
                advertiser.health(&path)
            }
            Inner::InProcess(advertiser) => advertiser.health(&path),
        }
    }

    /// Why a tree node is what it is: the causal chain of leaves.
    pub fn explain(&self, path: &str) -> Option<Explanation> {
        let path = self.resolve(path).ok()?;
        let now = self.transport.now();
        let explain = |tree: &Tree| tree.explain(&path, now);
        match &self.inner {
            Inner::Dds { advertiser, .. } | Inner::DdsKeyless { advertiser, .. } => {
                advertiser.with_tree(explain).flatten()
            }
            Inner::InProcess(advertiser) => advertiser.with_tree(explain).flatten(),
        }
    }

    /// The advert as last built (what consumers see).
    pub fn advert(&self) -> AdvertWire {
        match &self.inner {
            Inner::Dds { advertiser, .. } | Inner::DdsKeyless { advertiser, .. } => {
                advertiser.advert()
            }
            Inner::InProcess(advertiser) => advertiser.advert(),
        }
    }

    /// The data writer's GUID: what consumers follow.
    pub fn writer_guid(&self) -> [u8; 16] {
        match &self.inner {
            Inner::Dds { writer, .. } => guid_of(writer),
            Inner::DdsKeyless { writer, .. } => guid_of(writer),
            Inner::InProcess(advertiser) => advertiser.writer_guid(),
        }
    }

    /// Leaves cleanly: the advert is withdrawn, so consumers switch away at
    /// once instead of after the lease. (Dropping a producer stops its
    /// heartbeats only, as a crash would.)
    pub async fn shutdown(self) -> Result<(), Error> {
        match self.inner {
            Inner::Dds { advertiser, .. } | Inner::DdsKeyless { advertiser, .. } => {
                advertiser.shutdown().await?
            }
            Inner::InProcess(advertiser) => advertiser.shutdown(),
        }
        Ok(())
    }

    /// An absolute path, or one relative to the diagnostic root when the
    /// tree has no node at the absolute one.
    fn resolve(&self, text: &str) -> Result<Path, Error> {
        let path = Path::parse(text)?;
        let root = self.advert().diagnostic_root;
        if self.node_exists(&path) || root.is_empty() {
            return Ok(path);
        }
        match Path::parse(&root) {
            Ok(root) if self.node_exists(&root.join(&path)) => Ok(root.join(&path)),
            _ => Ok(path),
        }
    }

    fn node_exists(&self, path: &Path) -> bool {
        match &self.inner {
            Inner::Dds { advertiser, .. } | Inner::DdsKeyless { advertiser, .. } => {
                advertiser.health(path).is_some()
            }
            Inner::InProcess(advertiser) => advertiser.health(path).is_some(),
        }
    }
}
