//! The agent's config file (YAML), read with every problem and its line.
//!
//! ```yaml
//! diagnostics:
//!   topic: /diagnostics        # where the nodes publish DiagnosticArray
//!   timeout: 5s                # a status item not repeated for this long is stale
//!   publish_rate: 1Hz          # /diagnostics_agg and /diagnostics_toplevel_state; 0Hz: off
//!   analyzers: analyzers.yaml  # optional: aggregate every status as diagnostic_aggregator would
//! identify_within: 1s          # wait this long for a writer's node to report its name
//! topics:
//!   - topic: /imu/data
//!     type: sensor_msgs/msg/Imu
//!     reliability: reliable    # or best_effort (sensor-data QoS)
//!     stale_after: 250ms       # a writer silent for this long is UNKNOWN(stale)
//!     min_rate: 50Hz           # optional: DEGRADED below
//!     capabilities: { accuracy: 0.05 }
//!     producers:
//!       - node: imu_a
//!         capabilities: { accuracy: 0.01 }
//!     relay:
//!       topic: /imu/data/best
//!       query: WHERE health.state = OK PREFER accuracy ASC
//! ```

use std::time::Duration;

use saphyr::MarkedYaml;
use vigil_qos::{Capabilities, Dimension, Query, Value};

use super::super::ingest::Analyzers;
use super::super::naming::{topic_to_dds, type_to_dds};
pub use crate::config_file::{ConfigError, ConfigProblem};
use crate::yaml;

/// What the agent does, read from its config file.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AgentConfig {
    /// The file it was read from (for messages).
    pub source: String,
    /// The DDS topic of the nodes' `/diagnostics`.
    pub diagnostics_topic: String,
    /// A status item not repeated for this long is UNKNOWN(stale).
    pub diagnostics_timeout: Duration,
    /// `/diagnostics_agg` rate in Hz; `None`: the agent does not publish.
    pub publish_rate: Option<f64>,
    /// How long a newly seen writer waits for its node to name itself in
    /// `/diagnostics` before it is advertised under its GUID.
    pub identify_within: Duration,
    /// A diagnostic_aggregator analyzers file, as written in the config
    /// (relative to the config's directory); [`AgentConfig::load`] reads it.
    pub analyzers_file: Option<String>,
    /// The analyzers: every node's statuses aggregated into their tree,
    /// published on `/diagnostics_agg` next to the proxies'.
    pub analyzers: Option<Analyzers>,
    /// Where `analyzers_file` was written, for problems.
    analyzers_line: u32,
    /// The ROS 2 topics whose writers are advertised.
    pub topics: Vec<TopicConfig>,
}

/// One ROS 2 topic the agent watches.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TopicConfig {
    /// The ROS 2 name (`/imu/data`).
    pub ros_topic: String,
    /// The DDS name (`rt/imu/data`): the adverts' topic.
    pub dds_topic: String,
    /// The ROS 2 type (`sensor_msgs/msg/Imu`).
    pub ros_type: String,
    /// The DDS type (`sensor_msgs::msg::dds_::Imu_`).
    pub dds_type: String,
    /// Reliable (the ROS 2 default) or best effort (sensor-data QoS).
    pub reliable: bool,
    /// A writer silent for this long is UNKNOWN(stale).
    pub stale_after: Duration,
    /// Below this measured rate (Hz) a writer is DEGRADED.
    pub min_rate: Option<f64>,
    /// Capabilities of every writer of the topic.
    pub capabilities: Capabilities,
    /// Per-node capabilities, over the topic's.
    pub producers: Vec<ProducerConfig>,
    /// Where the best writer's samples are relayed.
    pub relay: Option<RelayConfig>,
}

/// A node named in the config.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProducerConfig {
    /// The ROS node name, as its diagnostics give it (`imu_a` in
    /// `imu_a: IMU driver`, or as `hardware_id`).
    pub node: String,
    /// Its capabilities (added to and overriding the topic's).
    pub capabilities: Capabilities,
}

/// The relay of a topic.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RelayConfig {
    /// The ROS 2 name of the stable topic (`/imu/data/best`).
    pub ros_topic: String,
    /// Its DDS name.
    pub dds_topic: String,
    /// Which writer to relay.
    pub query: Query,
}

impl TopicConfig {
    /// The capabilities of a writer identified as `node` (`None`: not
    /// identified).
    pub fn capabilities_of(&self, node: Option<&str>) -> Capabilities {
        let mut capabilities = self.capabilities.clone();
        let own = self
            .producers
            .iter()
            .find(|p| Some(p.node.as_str()) == node);
        if let Some(own) = own {
            for (key, value) in own.capabilities.iter() {
                // Both were validated when read.
                let _ = capabilities.insert_key(key.clone(), value.clone());
            }
        }
        capabilities
    }
}

const TOP_KEYS: &[&str] = &["diagnostics", "identify_within", "topics"];
const DIAGNOSTICS_KEYS: &[&str] = &["topic", "timeout", "publish_rate", "analyzers"];
const TOPIC_KEYS: &[&str] = &[
    "topic",
    "type",
    "reliability",
    "stale_after",
    "min_rate",
    "capabilities",
    "producers",
    "relay",
];
const PRODUCER_KEYS: &[&str] = &["node", "capabilities"];
const RELAY_KEYS: &[&str] = &["topic", "query"];

impl AgentConfig {
    /// Reads a config file's text; `source` names it in problems.
    pub fn from_yaml(text: &str, source: &str) -> Result<AgentConfig, ConfigError> {
        let mut reader = Reader {
            source,
            problems: Vec::new(),
            lines: std::collections::HashMap::new(),
        };
        let mut config = AgentConfig {
            source: source.to_owned(),
            diagnostics_topic: "rt/diagnostics".to_owned(),
            diagnostics_timeout: Duration::from_secs(5),
            publish_rate: Some(1.0),
            identify_within: Duration::from_secs(1),
            analyzers_file: None,
            analyzers: None,
            analyzers_line: 1,
            topics: Vec::new(),
        };
        match yaml::load(text) {
            Ok(documents) => match documents.as_slice() {
                [document] => reader.top(document, &mut config),
                [] => reader.push_at(1, "file", "the file is empty".into()),
                [_, second, ..] => reader.push(second, "file", "one YAML document expected".into()),
            },
            Err(error) => {
                let line = u32::try_from(error.marker().line()).unwrap_or(u32::MAX);
                let message = format!("{} (column {})", error.info(), error.marker().col() + 1);
                reader.push_at(line.max(1), "file", message);
            }
        }
        if reader.problems.is_empty() {
            reader.cross_check(&config);
        }
        if reader.problems.is_empty() {
            Ok(config)
        } else {
            reader.problems.sort_by_key(|p| p.line);
            Err(ConfigError {
                problems: reader.problems,
            })
        }
    }
}

impl AgentConfig {
    /// Reads a config file and the analyzers file it names (relative to
    /// the config's directory), every problem of both with its file and
    /// line.
    pub fn load(path: &std::path::Path) -> Result<AgentConfig, ConfigError> {
        let source = path.display().to_string();
        let unreadable = |file: &str, line: u32, key: &str, e: std::io::Error| ConfigError {
            problems: vec![ConfigProblem {
                file: file.to_owned(),
                line,
                key: key.to_owned(),
                message: format!("cannot read it: {e}"),
            }],
        };
        let text = std::fs::read_to_string(path).map_err(|e| unreadable(&source, 1, "file", e))?;
        let mut config = AgentConfig::from_yaml(&text, &source)?;
        let Some(file) = config.analyzers_file.clone() else {
            return Ok(config);
        };
        let analyzers_path = path
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join(&file);
        let line = config.analyzers_line;
        let key = "diagnostics.analyzers";
        let text = std::fs::read_to_string(&analyzers_path)
            .map_err(|e| unreadable(&source, line, key, e))?;
        let analyzers = Analyzers::from_yaml(&text, &analyzers_path.display().to_string())
            .map_err(|error| ConfigError {
                problems: error
                    .problems
                    .iter()
                    .map(|p| ConfigProblem {
                        file: p.file.clone(),
                        line: p.line,
                        key: p.key.clone(),
                        message: p.kind.to_string(),
                    })
                    .collect(),
            })?;
        config.analyzers = Some(analyzers);
        Ok(config)
    }
}

struct Reader<'s> {
    source: &'s str,
    problems: Vec<ConfigProblem>,
    /// Lines of the keys the cross-checks speak of (`topics[0].relay.query`).
    lines: std::collections::HashMap<String, u32>,
}

impl Reader<'_> {
    fn push_at(&mut self, line: u32, key: &str, message: String) {
        self.problems.push(ConfigProblem {
            file: self.source.to_owned(),
            line,
            key: yaml::shorten(key).into_owned(),
            message,
        });
    }

    fn push(&mut self, node: &MarkedYaml<'_>, key: &str, message: String) {
        self.push_at(yaml::line(node), key, message);
    }

    /// Remembers where `key` is, for the cross-checks.
    fn note(&mut self, key: &str, node: &MarkedYaml<'_>) {
        self.lines.insert(key.to_owned(), yaml::line(node));
    }

    /// A problem found by a cross-check, at the line of `key`.
    fn push_key(&mut self, key: &str, message: String) {
        let line = self.lines.get(key).copied().unwrap_or(1);
        self.push_at(line, key, message);
    }

    /// The entries of a mapping, each key checked against `known`.
    fn mapping<'n, 'a>(
        &mut self,
        node: &'n MarkedYaml<'a>,
        key: &str,
        known: &[&str],
    ) -> Vec<(&'n str, &'n MarkedYaml<'a>)> {
        let Some(entries) = yaml::entries(node) else {
            let found = yaml::describe(node);
            self.push(node, key, format!("expected a mapping, found {found}"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            match yaml::raw(k) {
                Some(name) if known.contains(&name) => out.push((name, v)),
                Some(name) => {
                    let message = format!("unknown key (expected one of: {})", known.join(", "));
                    self.push(k, &format!("{key}.{name}"), message);
                }
                None => self.push(k, key, "keys must be plain strings".into()),
            }
        }
        out
    }

    fn text(&mut self, node: &MarkedYaml<'_>, key: &str) -> Option<String> {
        match yaml::raw(node) {
            Some(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
            _ => {
                let found = yaml::describe(node);
                self.push(node, key, format!("expected text, found {found}"));
                None
            }
        }
    }

    /// A quantity of `dimension`, such as `250ms` or `50Hz`, in base units
    /// (seconds, hertz); must not be negative.
    fn quantity(&mut self, node: &MarkedYaml<'_>, key: &str, dimension: Dimension) -> Option<f64> {
        let text = self.text(node, key)?;
        match crate::config_file::quantity(&text, dimension) {
            Ok(value) => Some(value),
            Err(message) => {
                self.push(node, key, format!("`{text}`: {message}"));
                None
            }
        }
    }

    fn duration(&mut self, node: &MarkedYaml<'_>, key: &str) -> Option<Duration> {
        let text = self.text(node, key)?;
        match crate::config_file::duration(&text) {
            Ok(d) => Some(d),
            Err(message) => {
                self.push(node, key, format!("`{text}`: {message}"));
                None
            }
        }
    }

    fn top(&mut self, document: &MarkedYaml<'_>, config: &mut AgentConfig) {
        let entries = self.mapping(document, "file", TOP_KEYS);
        let mut saw_topics = false;
        for (key, value) in entries {
            match key {
                "diagnostics" => self.diagnostics(value, config),
                "identify_within" => {
                    if let Some(d) = self.duration(value, key) {
                        config.identify_within = d;
                    }
                }
                _ => {
                    saw_topics = true;
                    self.topics(value, config);
                }
            }
        }
        if !saw_topics {
            let why = "no `topics`: the agent needs at least one ROS 2 topic to watch";
            self.push(document, "topics", why.into());
        }
    }

    fn diagnostics(&mut self, node: &MarkedYaml<'_>, config: &mut AgentConfig) {
        for (key, value) in self.mapping(node, "diagnostics", DIAGNOSTICS_KEYS) {
            let full = format!("diagnostics.{key}");
            match key {
                "topic" => {
                    self.note(&full, value);
                    if let Some(dds) = self.ros_topic(value, &full) {
                        config.diagnostics_topic = dds;
                    }
                }
                "analyzers" => {
                    config.analyzers_file = self.text(value, &full);
                    config.analyzers_line = yaml::line(value);
                }
                "timeout" => {
                    if let Some(d) = self.duration(value, &full) {
                        config.diagnostics_timeout = d;
                    }
                }
                _ => {
                    if let Some(hz) = self.quantity(value, &full, Dimension::Frequency) {
                        config.publish_rate = (hz > 0.0).then_some(hz);
                    }
                }
            }
        }
    }

    /// A ROS 2 topic name, returned as its DDS name.
    fn ros_topic(&mut self, node: &MarkedYaml<'_>, key: &str) -> Option<String> {
        let text = self.text(node, key)?;
        match topic_to_dds(&text) {
            Ok(dds) => Some(dds),
            Err(e) => {
                self.push(node, key, e.to_string());
                None
            }
        }
    }

    fn topics(&mut self, node: &MarkedYaml<'_>, config: &mut AgentConfig) {
        let Some(items) = yaml::items(node) else {
            let found = yaml::describe(node);
            self.push(
                node,
                "topics",
                format!("expected a list of topics, found {found}"),
            );
            return;
        };
        for (i, item) in items.iter().enumerate() {
            if let Some(topic) = self.topic(item, &format!("topics[{i}]")) {
                config.topics.push(topic);
            }
        }
    }

    fn topic(&mut self, node: &MarkedYaml<'_>, at: &str) -> Option<TopicConfig> {
        let entries = self.mapping(node, at, TOPIC_KEYS);
        let before = self.problems.len();
        let (mut ros_topic, mut ros_type) = (None, None);
        let mut topic = TopicConfig {
            ros_topic: String::new(),
            dds_topic: String::new(),
            ros_type: String::new(),
            dds_type: String::new(),
            reliable: true,
            stale_after: Duration::from_millis(500),
            min_rate: None,
            capabilities: Capabilities::new(),
            producers: Vec::new(),
            relay: None,
        };
        let mut relay_node = None;
        for (key, value) in entries {
            let full = format!("{at}.{key}");
            match key {
                "topic" => {
                    self.note(&full, value);
                    ros_topic = self
                        .ros_topic(value, &full)
                        .map(|dds| (yaml::raw(value).unwrap_or("").trim().to_owned(), dds));
                }
                "type" => ros_type = self.ros_type(value, &full),
                "reliability" => match yaml::raw(value) {
                    Some("reliable") => topic.reliable = true,
                    Some("best_effort") => topic.reliable = false,
                    _ => {
                        let found = yaml::describe(value);
                        let message = format!("expected reliable or best_effort, found {found}");
                        self.push(value, &full, message);
                    }
                },
                "stale_after" => {
                    if let Some(d) = self.duration(value, &full) {
                        if d.is_zero() {
                            self.push(value, &full, "must be more than 0".into());
                        }
                        topic.stale_after = d;
                    }
                }
                "min_rate" => topic.min_rate = self.quantity(value, &full, Dimension::Frequency),
                "capabilities" => topic.capabilities = self.capabilities(value, &full),
                "producers" => topic.producers = self.producers(value, &full),
                _ => relay_node = Some(value),
            }
        }
        match (ros_topic, ros_type) {
            (Some((ros, dds)), Some((ros_t, dds_t))) => {
                topic.ros_topic = ros;
                topic.dds_topic = dds;
                topic.ros_type = ros_t;
                topic.dds_type = dds_t;
            }
            (topic_seen, type_seen) => {
                if topic_seen.is_none() && self.problems.len() == before {
                    self.push(
                        node,
                        at,
                        "`topic` is required (a ROS 2 name like /imu/data)".into(),
                    );
                }
                if type_seen.is_none() && self.problems.len() == before {
                    let why = "`type` is required (a ROS 2 type like sensor_msgs/msg/Imu)";
                    self.push(node, at, why.into());
                }
            }
        }
        if let Some(value) = relay_node {
            topic.relay = self.relay(value, &format!("{at}.relay"), &topic.dds_topic);
        }
        (self.problems.len() == before).then_some(topic)
    }

    fn ros_type(&mut self, node: &MarkedYaml<'_>, key: &str) -> Option<(String, String)> {
        let text = self.text(node, key)?;
        match type_to_dds(&text) {
            Ok(dds) => Some((text, dds)),
            Err(e) => {
                self.push(node, key, e.to_string());
                None
            }
        }
    }

    fn capabilities(&mut self, node: &MarkedYaml<'_>, key: &str) -> Capabilities {
        let mut capabilities = Capabilities::new();
        let Some(entries) = yaml::entries(node) else {
            let found = yaml::describe(node);
            self.push(
                node,
                key,
                format!("expected a mapping of capabilities, found {found}"),
            );
            return capabilities;
        };
        for (k, v) in entries {
            let (Some(name), Some(text)) = (yaml::raw(k), yaml::raw(v)) else {
                let why = "capabilities are `name: value` with a plain value (100Hz, 0.01, text)";
                self.push(k, key, why.into());
                continue;
            };
            let full = format!("{key}.{name}");
            let inserted = Value::parse_capability(text)
                .map_err(|e| e.to_string())
                .and_then(|value| capabilities.insert(name, value).map_err(|e| e.to_string()));
            if let Err(message) = inserted {
                self.push(v, &full, message);
            }
        }
        capabilities
    }

    fn producers(&mut self, node: &MarkedYaml<'_>, key: &str) -> Vec<ProducerConfig> {
        let Some(items) = yaml::items(node) else {
            let found = yaml::describe(node);
            self.push(
                node,
                key,
                format!("expected a list of producers, found {found}"),
            );
            return Vec::new();
        };
        let mut out: Vec<ProducerConfig> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let at = format!("{key}[{i}]");
            let mut producer = ProducerConfig {
                node: String::new(),
                capabilities: Capabilities::new(),
            };
            for (k, v) in self.mapping(item, &at, PRODUCER_KEYS) {
                let full = format!("{at}.{k}");
                if k == "node" {
                    producer.node = self.text(v, &full).unwrap_or_default();
                } else {
                    producer.capabilities = self.capabilities(v, &full);
                }
            }
            if producer.node.is_empty() {
                self.push(item, &at, "`node` is required (the ROS node name)".into());
            } else if out.iter().any(|p| p.node == producer.node) {
                self.push(
                    item,
                    &at,
                    format!("node `{}` is listed twice", producer.node),
                );
            } else {
                out.push(producer);
            }
        }
        out
    }

    fn relay(&mut self, node: &MarkedYaml<'_>, at: &str, dds_topic: &str) -> Option<RelayConfig> {
        let (mut topic, mut query) = (None, None);
        for (key, value) in self.mapping(node, at, RELAY_KEYS) {
            let full = format!("{at}.{key}");
            self.note(&full, value);
            if key == "topic" {
                topic = self
                    .ros_topic(value, &full)
                    .map(|dds| (yaml::raw(value).unwrap_or("").trim().to_owned(), dds));
            } else if let Some(text) = self.text(value, &full) {
                query = self.query(value, &full, &text, dds_topic);
            }
        }
        match (topic, query) {
            (Some((ros_topic, dds_topic)), Some(query)) => Some(RelayConfig {
                ros_topic,
                dds_topic,
                query,
            }),
            (None, _) => {
                self.push(
                    node,
                    at,
                    "`topic` is required (the stable ROS 2 topic)".into(),
                );
                None
            }
            (_, None) => {
                self.push(
                    node,
                    at,
                    "`query` is required (which writer to relay)".into(),
                );
                None
            }
        }
    }

    /// A relay query. `WHERE ...` or `PREFER ...` alone applies to the
    /// topic's own DDS name.
    fn query(
        &mut self,
        node: &MarkedYaml<'_>,
        key: &str,
        text: &str,
        dds_topic: &str,
    ) -> Option<Query> {
        let first = text.split_whitespace().next().unwrap_or("");
        let full = if ["WHERE", "PREFER"].contains(&first.to_ascii_uppercase().as_str()) {
            format!("'{dds_topic}' {text}")
        } else {
            text.to_owned()
        };
        match Query::parse(&full) {
            Ok(query) => Some(query),
            Err(e) => {
                self.push(node, key, format!("`{full}`: {e}"));
                None
            }
        }
    }

    /// What no single entry shows: duplicate topics, relays that read or
    /// write a watched topic, relay clauses naming unwatched topics, a
    /// diagnostics topic that is the agent's own output.
    fn cross_check(&mut self, config: &AgentConfig) {
        let outputs = ["rt/diagnostics_agg", "rt/diagnostics_toplevel_state"];
        if outputs.contains(&config.diagnostics_topic.as_str()) {
            let message = "the agent publishes this topic: it would read its own output".to_owned();
            self.push_key("diagnostics.topic", message);
        }
        for (i, topic) in config.topics.iter().enumerate() {
            let at = format!("topics[{i}]");
            if config.topics[..i]
                .iter()
                .any(|t| t.dds_topic == topic.dds_topic)
            {
                let message = format!("topic `{}` is listed twice", topic.ros_topic);
                self.push_key(&format!("{at}.topic"), message);
            }
            if topic.dds_topic == config.diagnostics_topic
                || outputs.contains(&topic.dds_topic.as_str())
            {
                let message = format!(
                    "`{}` carries diagnostics, not data to advertise",
                    topic.ros_topic
                );
                self.push_key(&format!("{at}.topic"), message);
            }
            let Some(relay) = &topic.relay else { continue };
            if config.topics.iter().any(|t| t.dds_topic == relay.dds_topic)
                || relay.dds_topic == config.diagnostics_topic
                || outputs.contains(&relay.dds_topic.as_str())
            {
                let message = format!(
                    "the relay topic `{}` is also read or written by the agent: the relay would read its own output",
                    relay.ros_topic
                );
                self.push_key(&format!("{at}.relay.topic"), message);
            }
            for clause in relay.query.clauses() {
                let named = clause.topic();
                match config.topics.iter().find(|t| t.dds_topic == named) {
                    Some(t) if t.dds_type == topic.dds_type => {}
                    Some(t) => {
                        let message = format!(
                            "the query names `{named}` of type {}, but the relay carries {}",
                            t.ros_type, topic.ros_type
                        );
                        self.push_key(&format!("{at}.relay.query"), message);
                    }
                    None => {
                        let message = format!(
                            "the query names `{named}`, which is not a watched topic (DDS names of the \
                             topics: {})",
                            config
                                .topics
                                .iter()
                                .map(|t| t.dds_topic.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                        self.push_key(&format!("{at}.relay.query"), message);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
diagnostics:
  timeout: 2s
  publish_rate: 2Hz
identify_within: 500ms
topics:
  - topic: /imu/data
    type: sensor_msgs/msg/Imu
    stale_after: 250ms
    min_rate: 50Hz
    capabilities: { accuracy: 0.05, frame: imu_link }
    producers:
      - node: imu_a
        capabilities: { accuracy: 0.01 }
    relay:
      topic: /imu/data/best
      query: WHERE health.state = OK PREFER accuracy ASC
";

    #[test]
    fn a_good_file_reads_with_ros_names_turned_into_dds_names() {
        let config = AgentConfig::from_yaml(GOOD, "agent.yaml").expect("valid");
        assert_eq!(config.diagnostics_topic, "rt/diagnostics");
        assert_eq!(config.diagnostics_timeout, Duration::from_secs(2));
        assert_eq!(config.publish_rate, Some(2.0));
        assert_eq!(config.identify_within, Duration::from_millis(500));
        let topic = &config.topics[0];
        assert_eq!(topic.dds_topic, "rt/imu/data");
        assert_eq!(topic.dds_type, "sensor_msgs::msg::dds_::Imu_");
        assert_eq!(topic.stale_after, Duration::from_millis(250));
        assert_eq!(topic.min_rate, Some(50.0));
        let relay = topic.relay.as_ref().expect("relay");
        assert_eq!(relay.dds_topic, "rt/imu/data/best");
        assert_eq!(relay.query.clauses()[0].topic(), "rt/imu/data");
        let a = topic.capabilities_of(Some("imu_a"));
        assert_eq!(a.get("accuracy"), Some(&Value::number(0.01).unwrap()));
        assert_eq!(a.get("frame"), Some(&Value::Text("imu_link".into())));
        let other = topic.capabilities_of(None);
        assert_eq!(other.get("accuracy"), Some(&Value::number(0.05).unwrap()));
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let bad = "\
identify_within: 5Hz
topics:
  - topic: imu data
    type: Imu
    stale_after: fast
    colour: blue
    capabilities: { rate: 200Hzz }
";
        let error = AgentConfig::from_yaml(bad, "bad.yaml").expect_err("invalid");
        let lines: Vec<String> = error.problems.iter().map(|p| p.to_string()).collect();
        let text = lines.join("\n");
        assert!(
            text.contains("bad.yaml:1: identify_within: `5Hz`"),
            "{text}"
        );
        assert!(text.contains("bad.yaml:3: topics[0].topic"), "{text}");
        assert!(text.contains("bad.yaml:4: topics[0].type"), "{text}");
        assert!(text.contains("bad.yaml:5: topics[0].stale_after"), "{text}");
        assert!(
            text.contains("bad.yaml:6: topics[0].colour: unknown key"),
            "{text}"
        );
        assert!(
            text.contains("bad.yaml:7: topics[0].capabilities.rate"),
            "{text}"
        );
    }

    #[test]
    fn a_relay_must_not_read_its_own_output_nor_name_unwatched_topics() {
        let bad = "\
topics:
  - topic: /imu/data
    type: sensor_msgs/msg/Imu
    relay: { topic: /imu/data, query: 'rt/gps WHERE rate > 1Hz' }
";
        let error = AgentConfig::from_yaml(bad, "f").expect_err("invalid");
        let text = error.to_string();
        assert!(
            text.contains("f:4: topics[0].relay.topic: the relay topic"),
            "{text}"
        );
        assert!(
            text.contains("f:4: topics[0].relay.query: the query names `rt/gps`"),
            "{text}"
        );
        let own = "diagnostics: { topic: /diagnostics_agg }\ntopics:\n  - { topic: /imu, type: a/msg/B }\n";
        let text = AgentConfig::from_yaml(own, "g")
            .expect_err("invalid")
            .to_string();
        assert!(
            text.contains("g:1: diagnostics.topic: the agent publishes this topic"),
            "{text}"
        );
    }

    #[test]
    fn syntax_errors_and_empty_files_are_problems_not_panics() {
        for text in [
            "",
            "topics: [",
            "- a\n- b",
            "topics: 3",
            "---\na: 1\n---\nb: 2",
        ] {
            let error = AgentConfig::from_yaml(text, "f").expect_err(text);
            assert!(!error.problems.is_empty());
        }
    }
}
