//! The bridge config file (YAML), read with every problem and its line.
//!
//! ```yaml
//! zenoh:
//!   mode: peer                      # peer | client
//!   listen: [tcp/127.0.0.1:7447]
//!   connect: []
//!   multicast_scouting: false
//!   key_prefix: vigil
//! dds:                              # optional: the proxies' liveness contract
//!   heartbeat: 20ms                 # (`heartbeat_ms: 20` is still read, with a warning)
//!   lease: 100ms
//! topics:
//!   - topic: imu
//!     type: vigil::demo::Sample_v1
//!     keyed: true                   # keyed by producer id (a leading string)
//!     forward: both                 # both | dds_to_zenoh | zenoh_to_dds
//!     stale_after: 500ms            # a silent Zenoh producer is UNKNOWN(stale)
//!     reliability: reliable         # reliable | best_effort (the DDS readers)
//! follow:                           # optional: followed streams
//!   - key: imu_best                 # <prefix>/followed/imu_best (+ switches/imu_best)
//!     query: imu WHERE health.state = OK PREFER accuracy ASC
//!     hold_off: 200ms               # the switching policy of a DDS consumer
//!     wait_to_restore: 1s
//!     hot_standby: false
//! ```

use std::fmt;
use std::time::Duration;

use vigil_diag::config::{shorten, Document, Named, Node, ProblemKind};
use vigil_discovery::SwitchPolicy;
use vigil_qos::Query;

use super::error::{ConfigError, ConfigProblem};

/// How the bridge joins Zenoh.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ZenohMode {
    /// A peer: talks to the peers it connects to or that connect to it.
    #[default]
    Peer,
    /// A client of a router (or of one peer): needs `connect`.
    Client,
}

impl ZenohMode {
    fn as_str(self) -> &'static str {
        match self {
            ZenohMode::Peer => "peer",
            ZenohMode::Client => "client",
        }
    }
}

impl fmt::Display for ZenohMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which way a topic's data is forwarded. Adverts, health and liveliness
/// always go both ways for the topics that forward data that way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Forward {
    /// DDS producers to Zenoh and Zenoh producers to DDS.
    #[default]
    Both,
    /// DDS producers' samples to Zenoh only.
    DdsToZenoh,
    /// Zenoh producers to DDS only.
    ZenohToDds,
}

impl Named for ZenohMode {
    const WHAT: &'static str = "mode";
    const NAMES: &'static [(&'static str, Self)] =
        &[("peer", ZenohMode::Peer), ("client", ZenohMode::Client)];
}

impl Named for Forward {
    const WHAT: &'static str = "direction";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("both", Forward::Both),
        ("dds_to_zenoh", Forward::DdsToZenoh),
        ("zenoh_to_dds", Forward::ZenohToDds),
    ];
}

impl Named for Reliability {
    const WHAT: &'static str = "reliability";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("reliable", Reliability::Reliable),
        ("best_effort", Reliability::BestEffort),
    ];
}

impl Forward {
    /// Whether DDS samples go to Zenoh.
    pub fn to_zenoh(self) -> bool {
        matches!(self, Forward::Both | Forward::DdsToZenoh)
    }

    /// Whether Zenoh producers are advertised and their samples written on
    /// DDS.
    pub fn to_dds(self) -> bool {
        matches!(self, Forward::Both | Forward::ZenohToDds)
    }
}

impl fmt::Display for Forward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Forward::Both => "both",
            Forward::DdsToZenoh => "dds_to_zenoh",
            Forward::ZenohToDds => "zenoh_to_dds",
        })
    }
}

/// The reliability the bridge's DDS readers of a topic request (DDS 1.4
/// §2.2.3.14, RELIABILITY). The reader is the *requested* side: a
/// `reliable` reader matches reliable writers only, a `best_effort` one
/// matches both (and gets a reliable writer's samples without
/// retransmissions). The bridge's own writers (the Zenoh producers on DDS)
/// are always reliable, which every reader matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reliability {
    /// Only reliable writers match (vigil's data writers are).
    #[default]
    Reliable,
    /// Every writer matches: for best-effort sensor streams.
    BestEffort,
}

impl fmt::Display for Reliability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reliability::Reliable => "reliable",
            Reliability::BestEffort => "best_effort",
        })
    }
}

/// How long a Zenoh producer may stay silent on its data key before its
/// DDS advert says UNKNOWN (stale), when the config does not say.
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_millis(500);

/// The `zenoh` section.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ZenohSettings {
    /// Peer or client.
    pub mode: ZenohMode,
    /// Endpoints to listen on (`tcp/127.0.0.1:7447`).
    pub listen: Vec<String>,
    /// Endpoints to connect to.
    pub connect: Vec<String>,
    /// Whether to find peers by UDP multicast (off by default: loopback
    /// has no multicast here, and a bridge should join what it is told).
    pub multicast_scouting: bool,
    /// The first chunks of every key (default `vigil`).
    pub key_prefix: String,
}

/// The optional `dds` section: the liveness contract the bridge offers for
/// the Zenoh producers it advertises on DDS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DdsSettings {
    /// Heartbeat period; `None`: vigil's default (10 ms).
    pub heartbeat: Option<Duration>,
    /// Lease; `None`: vigil's default (100 ms).
    pub lease: Option<Duration>,
}

/// One bridged topic.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicRoute {
    /// The DDS topic name (`imu`, `rt/imu/data`).
    pub topic: String,
    /// The DDS type name; Zenoh adverts must name the same.
    pub type_name: String,
    /// Whether the DDS topic is keyed (by a leading producer id string, as
    /// vigil's own types are).
    pub keyed: bool,
    /// Which way data goes.
    pub forward: Forward,
    /// How long a Zenoh producer of this topic may send no sample before
    /// its advert on DDS says UNKNOWN (stale), so DDS consumers move on
    /// ([`DEFAULT_STALE_AFTER`] by default).
    pub stale_after: Duration,
    /// What the bridge's DDS readers of this topic request (reliable by
    /// default).
    pub reliability: Reliability,
}

/// A checked bridge config.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BridgeConfig {
    /// Where it was read from (for messages).
    pub source: String,
    /// The Zenoh side.
    pub zenoh: ZenohSettings,
    /// The DDS side's liveness contract.
    pub dds: DdsSettings,
    /// The bridged topics, in file order.
    pub topics: Vec<TopicRoute>,
    /// The followed streams declared in the file, in file order (Zenoh
    /// applications may declare more at run time).
    pub follow: Vec<FollowRoute>,
    /// What the file should change but the bridge can live with (a
    /// deprecated key), each with its line; logged when the file is loaded.
    pub warnings: Vec<ConfigProblem>,
}

/// One followed stream: a key whose samples always come from the best
/// producer for a vigil query, switching as a DDS consumer of that query
/// would.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FollowRoute {
    /// The name under `<prefix>/followed/` (and `<prefix>/switches/`):
    /// one or more `/`-separated chunks of plain characters.
    pub key: String,
    /// The vigil query, normalized (it parses to the same query).
    pub query: String,
    /// How long a merely DEGRADED active producer is kept
    /// ([`SwitchPolicy::hold_off`]).
    pub hold_off: Duration,
    /// How long a challenger must stay eligible before a revertive switch
    /// ([`SwitchPolicy::wait_to_restore`]).
    pub wait_to_restore: Duration,
    /// Keep the standby's recent samples and replay the ones the new
    /// producer did not cover at a switch.
    pub hot_standby: bool,
}

impl FollowRoute {
    /// A followed stream with a DDS consumer's default policy (hold-off
    /// 200 ms, wait-to-restore 1 s, flap damping, no hot standby).
    pub fn new(key: impl Into<String>, query: &Query) -> FollowRoute {
        let policy = SwitchPolicy::default();
        FollowRoute {
            key: key.into(),
            query: query.to_string(),
            hold_off: policy.hold_off,
            wait_to_restore: policy.wait_to_restore,
            hot_standby: false,
        }
    }

    /// The switching policy: a DDS consumer's, with this stream's hold-off
    /// and wait-to-restore.
    pub fn policy(&self) -> SwitchPolicy {
        SwitchPolicy {
            hold_off: self.hold_off,
            wait_to_restore: self.wait_to_restore,
            ..SwitchPolicy::default()
        }
    }
}

/// At most this many followed streams, from the file and from Zenoh
/// applications together: each is a selector with its own DDS readers.
pub const MAX_FOLLOWED: usize = 64;

impl BridgeConfig {
    /// Why `query` cannot be followed through this bridge, if it cannot:
    /// every topic it names must be bridged both ways, so that its DDS
    /// producers' samples reach the bridge and its Zenoh producers are
    /// candidates on DDS.
    pub fn follow_problem(&self, query: &Query) -> Option<String> {
        let missing: Vec<&str> = query
            .clauses()
            .iter()
            .map(|c| c.topic())
            .filter(|t| self.route(t).is_none_or(|r| r.forward != Forward::Both))
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "topic(s) {} not bridged with `forward: both`: a followed query may name only those",
                missing
                    .iter()
                    .map(|t| format!("`{}`", shorten(t)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }

    /// Reads a config file's text; `source` names it in messages. Every
    /// problem is reported, with its line.
    pub fn parse(text: &str, source: &str) -> Result<BridgeConfig, ConfigError> {
        let doc = Document::parse(text, source);
        let config = doc
            .root("a bridge config (`zenoh:` and `topics:`)")
            .and_then(|root| file(&root));
        let (mut config, warnings) = doc.finish(config)?;
        config.warnings = warnings;
        Ok(config)
    }

    /// Reads a config file; its warnings are logged.
    pub fn load(path: &std::path::Path) -> Result<BridgeConfig, ConfigError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| crate::config_file::unreadable(&source, 1, "file", &e))?;
        let config = BridgeConfig::parse(&text, &source)?;
        crate::config_file::log_warnings(&config.warnings);
        Ok(config)
    }

    /// The route of a topic, if it is bridged.
    pub fn route(&self, topic: &str) -> Option<&TopicRoute> {
        self.topics.iter().find(|t| t.topic == topic)
    }

    /// One line: mode, endpoints, prefix and topics.
    pub fn summary(&self) -> String {
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join(", ")
            }
        };
        let topics: Vec<String> = self
            .topics
            .iter()
            .map(|t| format!("{} ({})", t.topic, t.forward))
            .collect();
        format!(
            "{}: zenoh {} listen [{}] connect [{}], key prefix `{}`, {} topic(s): {}",
            self.source,
            self.zenoh.mode,
            list(&self.zenoh.listen),
            list(&self.zenoh.connect),
            self.zenoh.key_prefix,
            self.topics.len(),
            topics.join(", ")
        )
    }

    /// The Zenoh session config: mode, endpoints, scouting. Everything else
    /// keeps Zenoh's defaults.
    pub(crate) fn zenoh_config(&self) -> Result<zenoh::Config, String> {
        let mut config = zenoh::Config::default();
        let json = |v: serde_json::Value| v.to_string();
        let settings = [
            ("mode", json(self.zenoh.mode.as_str().into())),
            ("listen/endpoints", json(self.zenoh.listen.clone().into())),
            ("connect/endpoints", json(self.zenoh.connect.clone().into())),
            (
                "scouting/multicast/enabled",
                json(self.zenoh.multicast_scouting.into()),
            ),
        ];
        for (key, value) in settings {
            config
                .insert_json5(key, &value)
                .map_err(|e| format!("{key} = {value}: {e}"))?;
        }
        Ok(config)
    }
}

/// A silence threshold beyond this is a typo, not a choice.
const MAX_STALE_AFTER: Duration = Duration::from_secs(3600);
/// vigil's advert checks refuse longer names.
const MAX_NAME_LEN: usize = vigil_discovery::MAX_NAME_LEN;

fn file(root: &Node<'_>) -> Option<BridgeConfig> {
    let mut top = root.map()?;
    let zenoh = top
        .required_node("zenoh", Some("zenoh: { listen: [tcp/127.0.0.1:7447] }"))
        .and_then(|n| zenoh(&n));
    let dds = top
        .value("dds")
        .map_or(Some(DdsSettings::default()), |n| dds(&n));
    let topics = top
        .required_node("topics", Some("topics: [{ topic: imu, type: T }]"))
        .and_then(|n| topics(&n));
    let follow = top.value("follow").map_or(Some(Vec::new()), |n| follow(&n));
    top.finish();
    let mut config = BridgeConfig {
        source: root.document().file().to_owned(),
        zenoh: zenoh?,
        dds: dds?,
        topics: topics?,
        follow: Vec::new(),
        warnings: Vec::new(),
    };
    // Checked against the topics once they are known.
    let follow = follow?;
    let node = top_follow_items(root);
    let mut ok = true;
    for (route, item) in follow.iter().zip(node.iter()) {
        if let Ok(query) = Query::parse(&route.query) {
            if let Some(why) = config.follow_problem(&query) {
                match item.field("query") {
                    Some(node) => node.invalid(why),
                    None => item.invalid(why),
                }
                ok = false;
            }
        }
    }
    config.follow = follow;
    ok.then_some(config)
}

/// The items of `follow:`, for messages.
fn top_follow_items<'d>(root: &Node<'d>) -> Vec<Node<'d>> {
    root.field("follow")
        .and_then(|n| n.items())
        .unwrap_or_default()
}

fn follow(node: &Node<'_>) -> Option<Vec<FollowRoute>> {
    let items = node.items()?;
    if items.len() > MAX_FOLLOWED {
        node.invalid(format!(
            "{} followed streams; at most {MAX_FOLLOWED}",
            items.len()
        ));
        return None;
    }
    let mut first_line: Vec<(&str, u32)> = Vec::new();
    let mut out = Vec::new();
    for item in &items {
        if let Some(text) = item.field("key").and_then(|n| n.text()) {
            match first_line.iter().find(|(k, _)| *k == text) {
                Some((_, first)) => {
                    item.named(&format!("{}.key", item.key()), false)
                        .invalid(format!(
                            "key `{}` is already followed at line {first}",
                            shorten(text)
                        ))
                }
                None => first_line.push((text, item.line())),
            }
        }
        out.push(follow_entry(item));
    }
    out.into_iter().collect()
}

fn follow_entry(item: &Node<'_>) -> Option<FollowRoute> {
    let mut map = item
        .map()?
        .describe_as("a followed stream (`key:` and `query:`)");
    let key = map
        .required_node("key", Some("key: imu_best"))
        .and_then(|v| {
            let text = v.get::<String>()?;
            match prefix_problem(&text) {
                Ok(()) => Some(text),
                Err(why) => {
                    v.invalid(why);
                    None
                }
            }
        });
    let query = map
        .required_node("query", Some("query: imu WHERE health.state = OK"))
        .and_then(|v| {
            let text = v.get::<String>()?;
            match Query::parse(&text) {
                Ok(query) => Some(query),
                Err(e) => {
                    v.invalid(format!("`{}`: {e}", shorten(&text)));
                    None
                }
            }
        });
    let policy = SwitchPolicy::default();
    let mut duration = |key: &'static str, default: Duration| match map.value(key) {
        None => Some(default),
        Some(v) => v.get().and_then(|d: Duration| {
            let ok = d <= MAX_STALE_AFTER;
            if !ok {
                let text = shorten(v.text().unwrap_or_default()).into_owned();
                v.invalid(format!("`{text}`: expected at most 1h"));
            }
            ok.then_some(d)
        }),
    };
    let hold_off = duration("hold_off", policy.hold_off);
    let wait_to_restore = duration("wait_to_restore", policy.wait_to_restore);
    let hot_standby = map.optional("hot_standby").unwrap_or(false);
    map.finish();
    let mut route = FollowRoute::new(key?, &query?);
    route.hold_off = hold_off?;
    route.wait_to_restore = wait_to_restore?;
    route.hot_standby = hot_standby;
    Some(route)
}

fn zenoh(node: &Node<'_>) -> Option<ZenohSettings> {
    let mut map = node.map()?;
    let mode = map.optional("mode").unwrap_or_default();
    let listen = map
        .value("listen")
        .map_or(Some(Vec::new()), |n| endpoints(&n));
    let connect = map
        .value("connect")
        .map_or(Some(Vec::new()), |n| endpoints(&n));
    let multicast_scouting = map.optional("multicast_scouting").unwrap_or(false);
    let key_prefix = match map.value("key_prefix") {
        None => Some("vigil".to_owned()),
        Some(value) => value
            .get::<String>()
            .and_then(|text| match prefix_problem(&text) {
                Ok(()) => Some(text),
                Err(why) => {
                    value.invalid(why);
                    None
                }
            }),
    };
    map.finish();
    let (listen, connect) = (listen?, connect?);
    if mode == ZenohMode::Client && connect.is_empty() {
        let why = "a client must connect to a router or peer: give at least one endpoint";
        node.named("zenoh.connect", false).invalid(why);
    }
    if mode == ZenohMode::Peer && listen.is_empty() && connect.is_empty() && !multicast_scouting {
        node.invalid(
            "with no `listen`, no `connect` and multicast scouting off, the bridge would reach nobody",
        );
    }
    Some(ZenohSettings {
        mode,
        listen,
        connect,
        multicast_scouting,
        key_prefix: key_prefix?,
    })
}

fn endpoints(node: &Node<'_>) -> Option<Vec<String>> {
    let read: Vec<Option<String>> = node
        .items()?
        .iter()
        .map(|item| {
            let text = item.text().filter(|_| !item.is_map());
            let Some(text) = text else {
                item.wrong_type("an endpoint such as `tcp/127.0.0.1:7447`");
                return None;
            };
            endpoint_problem(text)
                .map_err(|why| item.invalid(why))
                .ok()?;
            Some(text.to_owned())
        })
        .collect();
    read.into_iter().collect()
}

/// A heartbeat or lease: positive and at most an hour.
fn liveness(value: Option<Duration>, node: &Node<'_>, key: &str) -> Option<Duration> {
    match value {
        Some(d) if d.is_zero() || d > MAX_STALE_AFTER => {
            node.named(key, false)
                .invalid("expected more than 0 and at most 1h");
            None
        }
        other => other,
    }
}

fn dds(node: &Node<'_>) -> Option<DdsSettings> {
    let mut map = node.map()?;
    let before = node.document().error_count();
    let millis = |value: &Node<'_>| {
        value
            .number()
            .filter(|ms| *ms > 0.0 && *ms <= 3_600_000.0)
            .map(|ms| Duration::from_secs_f64(ms / 1000.0))
            .ok_or_else(|| ProblemKind::WrongType {
                key: value.name().to_owned(),
                expected: "a positive number of milliseconds".into(),
                found: value.describe(),
            })
    };
    let written = |d: &Duration| format!("{}ms", d.as_secs_f64() * 1000.0);
    let heartbeat = map.optional_or_deprecated("heartbeat", "heartbeat_ms", millis, written);
    let lease = map.optional_or_deprecated("lease", "lease_ms", millis, written);
    map.finish();
    let heartbeat = liveness(heartbeat, node, "dds.heartbeat");
    let lease = liveness(lease, node, "dds.lease");
    if node.document().error_count() > before {
        return None;
    }
    let effective_heartbeat =
        heartbeat.unwrap_or(vigil_discovery::DdsConfig::DEFAULT_HEARTBEAT_PERIOD);
    let effective_lease = lease.unwrap_or(vigil_discovery::DdsConfig::DEFAULT_LEASE);
    if effective_lease <= effective_heartbeat {
        node.named("dds.lease", false).invalid(format!(
            "the lease ({} ms) must be longer than the heartbeat period ({} ms)",
            effective_lease.as_secs_f64() * 1000.0,
            effective_heartbeat.as_secs_f64() * 1000.0
        ));
        return None;
    }
    Some(DdsSettings { heartbeat, lease })
}

fn topics(node: &Node<'_>) -> Option<Vec<TopicRoute>> {
    let items = node.items()?;
    if items.is_empty() {
        node.invalid("empty: list at least one topic to bridge");
        return None;
    }
    let mut first_line: Vec<(&str, u32)> = Vec::new();
    let mut out = Vec::new();
    for item in &items {
        // Found by name even when an entry has other problems, so both are
        // reported at once.
        let named = item.field("topic").and_then(|n| n.text());
        if let Some(text) = named {
            match first_line.iter().find(|(t, _)| *t == text) {
                Some((_, first)) => {
                    item.named(&format!("{}.topic", item.key()), false)
                        .invalid(format!(
                            "topic `{}` is already bridged at line {first}",
                            shorten(text)
                        ))
                }
                None => first_line.push((text, item.line())),
            }
        }
        out.push(topic(item));
    }
    out.into_iter().collect()
}

fn topic(item: &Node<'_>) -> Option<TopicRoute> {
    let mut map = item.map()?.describe_as("a topic");
    let topic = name(&mut map, "topic", "imu");
    let type_name = name(&mut map, "type", "vigil::demo::Sample_v1");
    let keyed = map.optional("keyed").unwrap_or(true);
    let forward = map.optional("forward").unwrap_or_default();
    let stale_after = match map.value("stale_after") {
        None => Some(DEFAULT_STALE_AFTER),
        Some(v) => v.get().and_then(|d: Duration| {
            let ok = !d.is_zero() && d <= MAX_STALE_AFTER;
            if !ok {
                let text = shorten(v.text().unwrap_or_default()).into_owned();
                v.invalid(format!("`{text}`: expected more than 0 and at most 1h"));
            }
            ok.then_some(d)
        }),
    };
    let reliability = map.optional("reliability").unwrap_or_default();
    map.finish();
    Some(TopicRoute {
        topic: topic?,
        type_name: type_name?,
        keyed,
        forward,
        stale_after: stale_after?,
        reliability,
    })
}

/// A topic or type name.
fn name(map: &mut vigil_diag::config::Map<'_>, key: &'static str, example: &str) -> Option<String> {
    let example = format!("{key}: {example}");
    let value = map.required_node(key, Some(&example))?;
    let text = value.text().filter(|_| !value.is_map() && !value.is_null());
    let Some(text) = text else {
        value.wrong_type("a name");
        return None;
    };
    match name_problem(text) {
        None => Some(text.to_owned()),
        Some(why) => {
            value.invalid(why);
            None
        }
    }
}

/// Why a topic or type name cannot be used, if it cannot.
fn name_problem(text: &str) -> Option<String> {
    if text.trim().is_empty() {
        Some("must not be empty".to_owned())
    } else if text.len() > MAX_NAME_LEN {
        Some(format!("{} bytes long; at most {MAX_NAME_LEN}", text.len()))
    } else if text.chars().any(char::is_control) {
        Some("holds a control character".to_owned())
    } else {
        None
    }
}

/// Checks a key prefix: one or more `/`-separated chunks of characters
/// Zenoh gives no meaning to.
fn prefix_problem(text: &str) -> Result<(), String> {
    let reserved = ['*', '$', '?', '#', '@', '%'];
    if text.is_empty() {
        Err("must not be empty".to_owned())
    } else if text.split('/').any(str::is_empty) {
        Err(format!(
            "`{}`: no leading, trailing or doubled `/`",
            shorten(text)
        ))
    } else if text.contains(reserved) || text.chars().any(char::is_whitespace) {
        Err(format!(
            "`{}`: no wildcards, spaces or `*`, `$`, `?`, `#`, `@`, `%`",
            shorten(text)
        ))
    } else {
        Ok(())
    }
}

/// Checks an endpoint: `tcp/HOST:PORT` (this build has Zenoh's TCP
/// transport only).
fn endpoint_problem(text: &str) -> Result<(), String> {
    let shown = shorten(text);
    let endpoint: zenoh::config::EndPoint = text
        .parse()
        .map_err(|e| format!("`{shown}` is not a Zenoh endpoint: {e}"))?;
    let protocol = endpoint.protocol();
    if protocol.as_str() != "tcp" {
        return Err(format!(
            "`{shown}`: only `tcp/` endpoints: this vigil is built with Zenoh's TCP transport only"
        ));
    }
    let address = endpoint.address();
    let port = address
        .as_str()
        .rsplit_once(':')
        .and_then(|(host, port)| (!host.is_empty()).then_some(port))
        .and_then(|port| port.parse::<u16>().ok());
    if port.is_none() {
        return Err(format!("`{shown}`: expected `tcp/HOST:PORT`"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
zenoh:
  mode: peer
  listen: [tcp/127.0.0.1:7447]
  connect: []
  multicast_scouting: false
  key_prefix: site/vigil
dds:
  heartbeat: 50ms
  lease: 300ms
topics:
  - topic: imu
    type: vigil::demo::Sample_v1
  - topic: rt/gps/fix
    type: sensor_msgs::msg::dds_::NavSatFix_
    keyed: false
    forward: dds_to_zenoh
    stale_after: 2s
    reliability: best_effort
";

    fn problems(text: &str) -> Vec<String> {
        match BridgeConfig::parse(text, "bridge.yaml") {
            Ok(config) => panic!("accepted: {config:?}"),
            Err(e) => e.problems.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn reads_a_full_config_with_defaults_where_omitted() {
        let config = BridgeConfig::parse(GOOD, "bridge.yaml").unwrap();
        assert_eq!(config.zenoh.mode, ZenohMode::Peer);
        assert_eq!(config.zenoh.listen, ["tcp/127.0.0.1:7447"]);
        assert!(config.zenoh.connect.is_empty());
        assert_eq!(config.zenoh.key_prefix, "site/vigil");
        assert_eq!(config.dds.lease, Some(Duration::from_millis(300)));
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        assert_eq!(config.topics.len(), 2);
        assert!(config.topics[0].keyed);
        assert_eq!(config.topics[0].forward, Forward::Both);
        assert!(!config.topics[1].keyed);
        assert_eq!(config.topics[0].stale_after, DEFAULT_STALE_AFTER);
        assert_eq!(config.topics[0].reliability, Reliability::Reliable);
        assert_eq!(config.topics[1].stale_after, Duration::from_secs(2));
        assert_eq!(config.topics[1].reliability, Reliability::BestEffort);
        assert!(config.topics[1].forward.to_zenoh() && !config.topics[1].forward.to_dds());
        assert_eq!(config.route("rt/gps/fix"), Some(&config.topics[1]));
        let summary = config.summary();
        assert!(summary.contains("listen [tcp/127.0.0.1:7447]"), "{summary}");
        assert!(summary.contains("imu (both)"), "{summary}");
        assert!(config.zenoh_config().is_ok());
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let text = "\
zenoh:
  mode: router
  listen: [udp/127.0.0.1:7447, tcp/127.0.0.1]
  key_prefix: vigil/**
  conect: blue
dds:
  heartbeat: 100ms
  lease_ms: 50
topics:
  - topic: imu
    type: vigil::demo::Sample_v1
    forward: sideways
  - topic: imu
    type: vigil::demo::Sample_v1
  - type: X
    keyed: maybe
  - topic: gps
    type: X
    stale_after: 10Hz
    reliability: sometimes
  - topic: odom
    type: X
    stale_after: 0ms
  - topic: lidar
    type: X
    stale_after: soon
";
        let found = problems(text);
        let expect = [
            "bridge.yaml:2: zenoh.mode: unknown mode `router`; expected peer or client",
            "bridge.yaml:3: zenoh.listen[0]: `udp/127.0.0.1:7447`: only `tcp/` endpoints",
            "bridge.yaml:3: zenoh.listen[1]: `tcp/127.0.0.1`: expected `tcp/HOST:PORT`",
            "bridge.yaml:4: zenoh.key_prefix: `vigil/**`: no wildcards",
            "bridge.yaml:5: zenoh: unknown key `conect`; did you mean `connect`?; expected mode, listen, connect, multicast_scouting or key_prefix",
            "bridge.yaml:7: dds.lease: the lease (50 ms) must be longer than the heartbeat period (100 ms)",
            "bridge.yaml:8: dds.lease_ms: `lease_ms` is deprecated; write `lease: 50ms`",
            "bridge.yaml:12: topics[0].forward: unknown direction `sideways`; expected both, dds_to_zenoh or zenoh_to_dds",
            "bridge.yaml:13: topics[1].topic: topic `imu` is already bridged at line 10",
            "bridge.yaml:15: topics[2]: a topic needs `topic`, e.g. `topic: imu`",
            "bridge.yaml:16: topics[2].keyed: `keyed` must be `true` or `false`, found `maybe`",
            "bridge.yaml:19: topics[3].stale_after: `stale_after: 10Hz`: unknown unit",
            "bridge.yaml:20: topics[3].reliability: unknown reliability `sometimes`; expected reliable or best_effort",
            "bridge.yaml:23: topics[4].stale_after: `0ms`: expected more than 0",
            "bridge.yaml:26: topics[5].stale_after: ",
        ];
        for e in expect {
            assert!(
                found.iter().any(|f| f.starts_with(e)),
                "missing `{e}` in\n{}",
                found.join("\n")
            );
        }
        let mut lines: Vec<&String> = found.iter().collect();
        lines.sort_by_key(|p| p.split(':').nth(1).and_then(|l| l.parse::<u32>().ok()));
        assert_eq!(lines, found.iter().collect::<Vec<_>>(), "in line order");
    }

    #[test]
    fn followed_streams_read_with_defaults_and_every_problem() {
        let text = format!(
            "{GOOD}follow:\n  - key: imu/best\n    query: imu  WHERE health.state = OK\n    hot_standby: true\n    hold_off: 50ms\n  - key: imu_any\n    query: imu\n"
        );
        let config = BridgeConfig::parse(&text, "bridge.yaml").unwrap();
        assert_eq!(config.follow.len(), 2);
        let first = &config.follow[0];
        assert_eq!(first.key, "imu/best");
        assert_eq!(first.query, "imu WHERE health.state = OK");
        assert!(first.hot_standby);
        assert_eq!(first.policy().hold_off, Duration::from_millis(50));
        assert_eq!(
            first.wait_to_restore,
            SwitchPolicy::default().wait_to_restore
        );
        assert!(!config.follow[1].hot_standby);

        let bad = format!(
            "{GOOD}follow:\n  - key: a*\n    query: imu\n  - key: b\n    query: imu WHERE\n  - key: c\n    query: rt/gps/fix\n  - key: c\n    query: imu\n    hold_of: 1s\n  - query: imu\n"
        );
        let found = problems(&bad);
        let expect = [
            "bridge.yaml:20: follow[0].key: `a*`: no wildcards",
            "bridge.yaml:23: follow[1].query: `imu WHERE`: ",
            "bridge.yaml:26: follow[3].key: key `c` is already followed at line 24",
            "bridge.yaml:28: follow[3]: unknown key `hold_of`; did you mean `hold_off`?",
            "bridge.yaml:29: follow[4]: a followed stream (`key:` and `query:`) needs `key`",
        ];
        for e in expect {
            assert!(
                found.iter().any(|f| f.starts_with(e)),
                "missing `{e}` in\n{}",
                found.join("\n")
            );
        }
        // Checked against the topics once the rest reads.
        let unbridged = format!("{GOOD}follow:\n  - key: gps\n    query: rt/gps/fix ELSE imu\n");
        assert_eq!(
            problems(&unbridged),
            ["bridge.yaml:21: follow[0].query: topic(s) `rt/gps/fix` not bridged with `forward: both`: a followed query may name only those"]
        );
    }

    #[test]
    fn old_millisecond_keys_read_with_a_warning() {
        let text = GOOD.replace("heartbeat: 50ms", "heartbeat_ms: 50");
        let config = BridgeConfig::parse(&text, "bridge.yaml").unwrap();
        assert_eq!(config.dds.heartbeat, Some(Duration::from_millis(50)));
        let warnings: Vec<String> = config.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            warnings,
            ["bridge.yaml:8: dds.heartbeat_ms: `heartbeat_ms` is deprecated; write `heartbeat: 50ms`"]
        );
        let both =
            problems(&GOOD.replace("heartbeat: 50ms", "heartbeat: 50ms\n  heartbeat_ms: 50"));
        assert!(both[0].contains("give only `heartbeat`"), "{both:?}");
        let duplicate = problems(&GOOD.replace("lease: 300ms", "lease: 300ms\n  lease: 200ms"));
        assert_eq!(
            duplicate,
            ["bridge.yaml:10: dds: `lease` is given twice (first on line 9)"]
        );
    }

    #[test]
    fn missing_sections_and_unreachable_setups_are_refused() {
        assert!(problems("")[0].contains("the file is empty"));
        let syntax = problems("a: [");
        assert!(
            syntax[0].starts_with("bridge.yaml:") && syntax[0].contains(": file: "),
            "{syntax:?}"
        );
        let found = problems("zenoh: {mode: client}\n");
        assert!(
            found.iter().any(|p| p.contains("a client must connect")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("file: the file needs `topics`")),
            "{found:?}"
        );
        let found = problems("zenoh: {listen: []}\ntopics: []\n");
        assert!(
            found.iter().any(|p| p.contains("would reach nobody")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|p| p.contains("topics: empty")),
            "{found:?}"
        );
        let found =
            problems("zenoh: {listen: [tcp/127.0.0.1:1]}\ntopics: [{topic: '', type: T}]\n");
        assert!(
            found
                .iter()
                .any(|p| p.contains("topics[0].topic: must not be empty")),
            "{found:?}"
        );
    }
}
