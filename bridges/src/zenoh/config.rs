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
//!   heartbeat_ms: 20
//!   lease_ms: 100
//! topics:
//!   - topic: imu
//!     type: vigil::demo::Sample_v1
//!     keyed: true                   # keyed by producer id (a leading string)
//!     forward: both                 # both | dds_to_zenoh | zenoh_to_dds
//!     stale_after: 500ms            # a silent Zenoh producer is UNKNOWN(stale)
//!     reliability: reliable         # reliable | best_effort (the DDS readers)
//! ```

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use saphyr::MarkedYaml;

use super::error::{ConfigError, ConfigProblem};
use crate::yaml;

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

impl Forward {
    const NAMES: &'static str = "`both`, `dds_to_zenoh` or `zenoh_to_dds`";

    /// Whether DDS samples go to Zenoh.
    pub fn to_zenoh(self) -> bool {
        matches!(self, Forward::Both | Forward::DdsToZenoh)
    }

    /// Whether Zenoh producers are advertised and their samples written on
    /// DDS.
    pub fn to_dds(self) -> bool {
        matches!(self, Forward::Both | Forward::ZenohToDds)
    }

    fn parse(text: &str) -> Option<Forward> {
        match text {
            "both" => Some(Forward::Both),
            "dds_to_zenoh" => Some(Forward::DdsToZenoh),
            "zenoh_to_dds" => Some(Forward::ZenohToDds),
            _ => None,
        }
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

impl Reliability {
    const NAMES: &'static str = "`reliable` or `best_effort`";

    fn parse(text: &str) -> Option<Reliability> {
        match text {
            "reliable" => Some(Reliability::Reliable),
            "best_effort" => Some(Reliability::BestEffort),
            _ => None,
        }
    }
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
    /// Heartbeat period; `None`: vigil's default (20 ms).
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
}

impl BridgeConfig {
    /// Reads a config file's text; `source` names it in messages. Every
    /// problem is reported, with its line.
    pub fn parse(text: &str, source: &str) -> Result<BridgeConfig, ConfigError> {
        let mut reader = Reader {
            source,
            problems: Vec::new(),
        };
        let config = reader.file(text);
        match config {
            Some(config) if reader.problems.is_empty() => Ok(config),
            _ => {
                let mut problems = reader.problems;
                problems.sort_by_key(|p| p.line);
                Err(ConfigError { problems })
            }
        }
    }

    /// Reads a config file.
    pub fn load(path: &std::path::Path) -> Result<BridgeConfig, ConfigError> {
        let source = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => BridgeConfig::parse(&text, &source),
            Err(e) => Err(ConfigError {
                problems: vec![ConfigProblem {
                    file: source,
                    line: 1,
                    key: "file".to_owned(),
                    message: format!("cannot read it: {e}"),
                }],
            }),
        }
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

const TOP_KEYS: &[&str] = &["zenoh", "dds", "topics"];
const ZENOH_KEYS: &[&str] = &[
    "mode",
    "listen",
    "connect",
    "multicast_scouting",
    "key_prefix",
];
const DDS_KEYS: &[&str] = &["heartbeat_ms", "lease_ms"];
const TOPIC_KEYS: &[&str] = &[
    "topic",
    "type",
    "keyed",
    "forward",
    "stale_after",
    "reliability",
];
/// A silence threshold beyond this is a typo, not a choice.
const MAX_STALE_AFTER: Duration = Duration::from_secs(3600);
/// vigil's advert checks refuse longer names.
const MAX_NAME_LEN: usize = vigil_discovery::MAX_NAME_LEN;

struct Reader<'s> {
    source: &'s str,
    problems: Vec<ConfigProblem>,
}

fn known(keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Reader<'_> {
    fn push_at(&mut self, line: u32, key: &str, message: impl Into<String>) {
        self.problems.push(ConfigProblem {
            file: self.source.to_owned(),
            line,
            key: yaml::shorten(key).into_owned(),
            message: message.into(),
        });
    }

    fn push(&mut self, node: &MarkedYaml<'_>, key: &str, message: impl Into<String>) {
        self.push_at(yaml::line(node), key, message);
    }

    fn wrong(&mut self, node: &MarkedYaml<'_>, key: &str, expected: &str) {
        let found = yaml::describe(node);
        self.push(node, key, format!("expected {expected}, found {found}"));
    }

    /// The entries of a mapping by name; unknown and repeated keys are
    /// reported.
    fn mapping<'n, 'a>(
        &mut self,
        node: &'n MarkedYaml<'a>,
        at: &str,
        keys: &[&str],
    ) -> Option<HashMap<&'n str, (&'n MarkedYaml<'a>, &'n MarkedYaml<'a>)>> {
        let Some(entries) = yaml::entries(node) else {
            self.wrong(node, at, "a mapping");
            return None;
        };
        let mut out = HashMap::new();
        for (key, value) in entries {
            let Some(name) = yaml::raw(key) else {
                self.wrong(key, at, "a plain key");
                continue;
            };
            let here = join(at, name);
            if !keys.contains(&name) {
                self.push(key, &here, format!("unknown key; expected {}", known(keys)));
            } else if out.insert(name, (key, value)).is_some() {
                self.push(key, &here, "given twice");
            }
        }
        Some(out)
    }

    fn file(&mut self, text: &str) -> Option<BridgeConfig> {
        let documents = match yaml::load(text) {
            Ok(documents) => documents,
            Err(error) => {
                let line = u32::try_from(error.marker().line()).unwrap_or(u32::MAX);
                let message = format!("{} (column {})", error.info(), error.marker().col() + 1);
                self.push_at(line.max(1), "file", message);
                return None;
            }
        };
        let [document] = documents.as_slice() else {
            let line = documents.get(1).map_or(1, yaml::line);
            let why = if documents.is_empty() {
                "the file is empty: expected `zenoh:` and `topics:`"
            } else {
                "a bridge config holds one YAML document"
            };
            self.push_at(line, "file", why);
            return None;
        };
        let top = self.mapping(document, "", TOP_KEYS)?;
        let zenoh = match top.get("zenoh") {
            Some((_, node)) => self.zenoh(node),
            None => {
                self.push(
                    document,
                    "zenoh",
                    "missing: say where the bridge joins Zenoh",
                );
                None
            }
        };
        let dds = match top.get("dds") {
            Some((_, node)) => self.dds(node),
            None => Some(DdsSettings::default()),
        };
        let topics = match top.get("topics") {
            Some((_, node)) => self.topics(node),
            None => {
                self.push(document, "topics", "missing: list the topics to bridge");
                None
            }
        };
        Some(BridgeConfig {
            source: self.source.to_owned(),
            zenoh: zenoh?,
            dds: dds?,
            topics: topics?,
        })
    }

    fn zenoh(&mut self, node: &MarkedYaml<'_>) -> Option<ZenohSettings> {
        let map = self.mapping(node, "zenoh", ZENOH_KEYS)?;
        let mut ok = true;
        let mode = match map.get("mode") {
            None => ZenohMode::Peer,
            Some((_, value)) => match yaml::raw(value) {
                Some("peer") => ZenohMode::Peer,
                Some("client") => ZenohMode::Client,
                _ => {
                    self.wrong(value, "zenoh.mode", "`peer` or `client`");
                    ok = false;
                    ZenohMode::Peer
                }
            },
        };
        let mut endpoints = |name: &str| match map.get(name) {
            None => Some(Vec::new()),
            Some((_, value)) => self.endpoints(value, &format!("zenoh.{name}")),
        };
        let listen = endpoints("listen");
        let connect = endpoints("connect");
        let multicast_scouting = match map.get("multicast_scouting") {
            None => false,
            Some((_, value)) => yaml::boolean(value).unwrap_or_else(|| {
                self.wrong(value, "zenoh.multicast_scouting", "true or false");
                ok = false;
                false
            }),
        };
        let key_prefix = match map.get("key_prefix") {
            None => "vigil".to_owned(),
            Some((_, value)) => match yaml::raw(value).map(prefix_problem) {
                Some(Ok(prefix)) => prefix.to_owned(),
                Some(Err(why)) => {
                    self.push(value, "zenoh.key_prefix", why);
                    ok = false;
                    String::new()
                }
                None => {
                    self.wrong(
                        value,
                        "zenoh.key_prefix",
                        "a key expression such as `vigil`",
                    );
                    ok = false;
                    String::new()
                }
            },
        };
        let (listen, connect) = (listen?, connect?);
        if mode == ZenohMode::Client && connect.is_empty() {
            self.push(
                node,
                "zenoh.connect",
                "a client must connect to a router or peer: give at least one endpoint",
            );
            ok = false;
        }
        if mode == ZenohMode::Peer && listen.is_empty() && connect.is_empty() && !multicast_scouting
        {
            self.push(
                node,
                "zenoh",
                "with no `listen`, no `connect` and multicast scouting off, the bridge would reach nobody",
            );
            ok = false;
        }
        ok.then_some(ZenohSettings {
            mode,
            listen,
            connect,
            multicast_scouting,
            key_prefix,
        })
    }

    fn endpoints(&mut self, node: &MarkedYaml<'_>, at: &str) -> Option<Vec<String>> {
        let Some(items) = yaml::items(node) else {
            self.wrong(node, at, "a list of endpoints such as [tcp/127.0.0.1:7447]");
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let here = format!("{at}[{i}]");
            match yaml::raw(item).map(|text| endpoint_problem(text).map(|()| text)) {
                Some(Ok(text)) => out.push(text.to_owned()),
                Some(Err(why)) => {
                    self.push(item, &here, why);
                    ok = false;
                }
                None => {
                    self.wrong(item, &here, "an endpoint such as `tcp/127.0.0.1:7447`");
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    fn dds(&mut self, node: &MarkedYaml<'_>) -> Option<DdsSettings> {
        let map = self.mapping(node, "dds", DDS_KEYS)?;
        let mut ok = true;
        let mut millis = |name: &str| {
            let (_, value) = map.get(name)?;
            match yaml::number(value) {
                Some(ms) if ms > 0.0 && ms <= 3_600_000.0 => {
                    Some(Duration::from_secs_f64(ms / 1000.0))
                }
                _ => {
                    self.wrong(
                        value,
                        &format!("dds.{name}"),
                        "a positive number of milliseconds",
                    );
                    ok = false;
                    None
                }
            }
        };
        let heartbeat = millis("heartbeat_ms");
        let lease = millis("lease_ms");
        let effective_heartbeat =
            heartbeat.unwrap_or(vigil_discovery::DdsConfig::DEFAULT_HEARTBEAT_PERIOD);
        let effective_lease = lease.unwrap_or(vigil_discovery::DdsConfig::DEFAULT_LEASE);
        if ok && effective_lease <= effective_heartbeat {
            self.push(
                node,
                "dds.lease_ms",
                format!(
                    "the lease ({} ms) must be longer than the heartbeat period ({} ms)",
                    effective_lease.as_secs_f64() * 1000.0,
                    effective_heartbeat.as_secs_f64() * 1000.0
                ),
            );
            ok = false;
        }
        ok.then_some(DdsSettings { heartbeat, lease })
    }

    fn topics(&mut self, node: &MarkedYaml<'_>) -> Option<Vec<TopicRoute>> {
        let Some(items) = yaml::items(node) else {
            self.wrong(node, "topics", "a list of `{ topic: ..., type: ... }`");
            return None;
        };
        if items.is_empty() {
            self.push(node, "topics", "empty: list at least one topic to bridge");
            return None;
        }
        let mut out: Vec<TopicRoute> = Vec::new();
        let mut first_line: HashMap<String, u32> = HashMap::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let at = format!("topics[{i}]");
            // Duplicates are found by name even when an entry has other
            // problems, so both are reported at once.
            let named = yaml::entries(item)
                .and_then(|mut e| e.find(|(k, _)| yaml::raw(k) == Some("topic")))
                .and_then(|(_, v)| yaml::raw(v));
            if let Some(name) = named {
                if let Some(line) = first_line.get(name) {
                    let why = format!(
                        "topic `{}` is already bridged at line {line}",
                        yaml::shorten(name)
                    );
                    self.push(item, &format!("{at}.topic"), why);
                    ok = false;
                } else {
                    first_line.insert(name.to_owned(), yaml::line(item));
                }
            }
            match self.topic(item, &at) {
                Some(route) => out.push(route),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn topic(&mut self, node: &MarkedYaml<'_>, at: &str) -> Option<TopicRoute> {
        let map = self.mapping(node, at, TOPIC_KEYS)?;
        let mut ok = true;
        let mut name = |key: &str, what: &str| match map.get(key) {
            None => {
                self.push(node, &format!("{at}.{key}"), format!("missing: {what}"));
                None
            }
            Some((_, value)) => match yaml::raw(value) {
                Some(text) => match name_problem(text) {
                    None => Some(text.to_owned()),
                    Some(why) => {
                        self.push(value, &format!("{at}.{key}"), why);
                        None
                    }
                },
                None => {
                    self.wrong(value, &format!("{at}.{key}"), what);
                    None
                }
            },
        };
        let topic = name("topic", "the DDS topic name");
        let type_name = name("type", "the DDS type name");
        let keyed = match map.get("keyed") {
            None => true,
            Some((_, value)) => yaml::boolean(value).unwrap_or_else(|| {
                self.wrong(value, &format!("{at}.keyed"), "true or false");
                ok = false;
                true
            }),
        };
        let forward = match map.get("forward") {
            None => Forward::Both,
            Some((_, value)) => match yaml::raw(value).and_then(Forward::parse) {
                Some(forward) => forward,
                None => {
                    self.wrong(value, &format!("{at}.forward"), Forward::NAMES);
                    ok = false;
                    Forward::Both
                }
            },
        };
        let stale_after = match map.get("stale_after") {
            None => DEFAULT_STALE_AFTER,
            Some((_, value)) => match yaml::raw(value).map(duration) {
                Some(Ok(d)) => d,
                Some(Err(why)) => {
                    self.push(value, &format!("{at}.stale_after"), why);
                    ok = false;
                    DEFAULT_STALE_AFTER
                }
                None => {
                    self.wrong(
                        value,
                        &format!("{at}.stale_after"),
                        "a duration such as `500ms`",
                    );
                    ok = false;
                    DEFAULT_STALE_AFTER
                }
            },
        };
        let reliability = match map.get("reliability") {
            None => Reliability::Reliable,
            Some((_, value)) => match yaml::raw(value).and_then(Reliability::parse) {
                Some(reliability) => reliability,
                None => {
                    self.wrong(value, &format!("{at}.reliability"), Reliability::NAMES);
                    ok = false;
                    Reliability::Reliable
                }
            },
        };
        let (topic, type_name) = (topic?, type_name?);
        ok.then_some(TopicRoute {
            topic,
            type_name,
            keyed,
            forward,
            stale_after,
            reliability,
        })
    }
}

fn join(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_owned()
    } else {
        format!("{at}.{name}")
    }
}

/// A duration written with its unit (`500ms`, `2s`), as vigil's other
/// config files write them; positive and at most an hour.
fn duration(text: &str) -> Result<Duration, String> {
    let shown = yaml::shorten(text);
    match crate::config_file::duration(text) {
        Ok(d) if !d.is_zero() && d <= MAX_STALE_AFTER => Ok(d),
        Ok(_) => Err(format!("`{shown}`: expected more than 0 and at most 1h")),
        Err(message) => Err(format!("`{shown}`: {message}")),
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
fn prefix_problem(text: &str) -> Result<&str, String> {
    let reserved = ['*', '$', '?', '#', '@', '%'];
    if text.is_empty() {
        Err("must not be empty".to_owned())
    } else if text.split('/').any(str::is_empty) {
        Err(format!(
            "`{}`: no leading, trailing or doubled `/`",
            yaml::shorten(text)
        ))
    } else if text.contains(reserved) || text.chars().any(char::is_whitespace) {
        Err(format!(
            "`{}`: no wildcards, spaces or `*`, `$`, `?`, `#`, `@`, `%`",
            yaml::shorten(text)
        ))
    } else {
        Ok(text)
    }
}

/// Checks an endpoint: `tcp/HOST:PORT` (this build has Zenoh's TCP
/// transport only).
fn endpoint_problem(text: &str) -> Result<(), String> {
    let shown = yaml::shorten(text);
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
  heartbeat_ms: 50
  lease_ms: 300
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
  colour: blue
dds:
  heartbeat_ms: 100
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
            "bridge.yaml:2: zenoh.mode: expected `peer` or `client`, found `router`",
            "bridge.yaml:3: zenoh.listen[0]: `udp/127.0.0.1:7447`: only `tcp/` endpoints",
            "bridge.yaml:3: zenoh.listen[1]: `tcp/127.0.0.1`: expected `tcp/HOST:PORT`",
            "bridge.yaml:4: zenoh.key_prefix: `vigil/**`: no wildcards",
            "bridge.yaml:5: zenoh.colour: unknown key; expected `mode`",
            "bridge.yaml:7: dds.lease_ms: the lease (50 ms) must be longer than the heartbeat period (100 ms)",
            "bridge.yaml:12: topics[0].forward: expected `both`, `dds_to_zenoh` or `zenoh_to_dds`, found `sideways`",
            "bridge.yaml:13: topics[1].topic: topic `imu` is already bridged at line 10",
            "bridge.yaml:15: topics[2].topic: missing: the DDS topic name",
            "bridge.yaml:16: topics[2].keyed: expected true or false, found `maybe`",
            "bridge.yaml:19: topics[3].stale_after: `10Hz`: expected a time, such as 250ms or 1s",
            "bridge.yaml:20: topics[3].reliability: expected `reliable` or `best_effort`, found `sometimes`",
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
            found.iter().any(|p| p.contains("topics: missing")),
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
