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

use std::collections::HashMap;
use std::time::Duration;

use vigil_diag::config::{Document, Hertz, Map, Node, Problem, ProblemKind};
use vigil_qos::{Capabilities, Query, Value};

use super::super::ingest::Analyzers;
use super::super::naming::{topic_to_dds, type_to_dds};
use crate::config_file::unreadable;
pub use crate::config_file::{ConfigError, ConfigProblem};

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
    /// What the file should change but the agent can live with, each with
    /// its line; logged when the file is loaded.
    pub warnings: Vec<ConfigProblem>,
    /// Signs every proxy's advert and heartbeats (issue 13): the agent
    /// speaks for the nodes it advertises, so a trust policy lists its key
    /// under `speaks_for`. Not in the file: `vigil agent --key`.
    pub key: Option<vigil_discovery::KeyPair>,
    /// The trust policy the relays' selections apply to what they hear.
    /// Not in the file: `vigil agent --trust`.
    pub trust: Option<vigil_discovery::TrustPolicy>,
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

impl AgentConfig {
    /// Reads a config file's text; `source` names it in problems.
    pub fn from_yaml(text: &str, source: &str) -> Result<AgentConfig, ConfigError> {
        let doc = Document::parse(text, source);
        let mut lines = HashMap::new();
        let config = doc
            .root("an agent config with `topics`")
            .and_then(|root| top(&root, &mut lines));
        if let Some(config) = config.as_ref().filter(|_| !doc.has_errors()) {
            for (key, message) in cross_check(config) {
                let line = lines.get(&key).copied().unwrap_or(1);
                doc.push(line, &key, ProblemKind::Invalid(message));
            }
        }
        let (mut config, warnings) = doc.finish(config)?;
        config.warnings = warnings;
        Ok(config)
    }

    /// Reads a config file and the analyzers file it names (relative to
    /// the config's directory), every problem of both with its file and
    /// line; the warnings are logged.
    pub fn load(path: &std::path::Path) -> Result<AgentConfig, ConfigError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| unreadable(&source, 1, "file", &e))?;
        let mut config = AgentConfig::from_yaml(&text, &source)?;
        crate::config_file::log_warnings(&config.warnings);
        let Some(file) = config.analyzers_file.clone() else {
            return Ok(config);
        };
        let analyzers_path = path
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join(&file);
        let (line, key) = (config.analyzers_line, "diagnostics.analyzers");
        let text = std::fs::read_to_string(&analyzers_path)
            .map_err(|e| unreadable(&source, line, key, &e))?;
        let analyzers = Analyzers::from_yaml(&text, &analyzers_path.display().to_string())
            .map_err(|error| {
                let problems = error.problems.iter().map(|p| {
                    Problem::new(
                        &p.file,
                        p.line,
                        &p.key,
                        ProblemKind::Invalid(p.kind.to_string()),
                    )
                });
                ConfigError::new(problems.collect())
            })?;
        config.analyzers = Some(analyzers);
        Ok(config)
    }
}

/// Lines of the keys the cross-checks speak of (`topics[0].relay.query`).
type Lines = HashMap<String, u32>;

fn top(root: &Node<'_>, lines: &mut Lines) -> Option<AgentConfig> {
    let mut map = root.map()?;
    let mut config = AgentConfig {
        source: root.document().file().to_owned(),
        diagnostics_topic: "rt/diagnostics".to_owned(),
        diagnostics_timeout: Duration::from_secs(5),
        publish_rate: Some(1.0),
        identify_within: map
            .optional("identify_within")
            .unwrap_or(Duration::from_secs(1)),
        analyzers_file: None,
        analyzers: None,
        analyzers_line: 1,
        topics: Vec::new(),
        warnings: Vec::new(),
        key: None,
        trust: None,
    };
    if let Some(node) = map.value("diagnostics") {
        diagnostics(&node, &mut config, lines);
    }
    let example = "topics: [{ topic: /imu/data, type: sensor_msgs/msg/Imu }]";
    if let Some(node) = map.required_node("topics", Some(example)) {
        let items = node.items().unwrap_or_default();
        if items.is_empty() {
            node.invalid("no topics: the agent needs at least one ROS 2 topic to watch");
        }
        config.topics = items.iter().filter_map(|item| topic(item, lines)).collect();
    }
    map.finish();
    Some(config)
}

fn diagnostics(node: &Node<'_>, config: &mut AgentConfig, lines: &mut Lines) {
    let Some(mut map) = node.map() else { return };
    if let Some(value) = map.value("topic") {
        lines.insert(value.key().to_owned(), value.line());
        if let Some((_, dds)) = ros_topic(&value) {
            config.diagnostics_topic = dds;
        }
    }
    if let Some(timeout) = map.optional("timeout") {
        config.diagnostics_timeout = timeout;
    }
    if let Some(Hertz(hz)) = map.optional("publish_rate") {
        config.publish_rate = (hz > 0.0).then_some(hz);
    }
    if let Some(value) = map.value("analyzers") {
        config.analyzers_file = value.get();
        config.analyzers_line = value.line();
    }
    map.finish();
}

/// A ROS 2 topic name, as written and as its DDS name.
fn ros_topic(node: &Node<'_>) -> Option<(String, String)> {
    let text: String = node.get()?;
    topic_to_dds(&text)
        .map(|dds| (text, dds))
        .map_err(|e| node.invalid(e.to_string()))
        .ok()
}

fn topic(node: &Node<'_>, lines: &mut Lines) -> Option<TopicConfig> {
    let before = node.document().error_count();
    let mut map = node.map()?.describe_as(format!("`{}`", node.key()));
    let topic = map.required_node("topic", Some("topic: /imu/data"));
    if let Some(value) = &topic {
        lines.insert(value.key().to_owned(), value.line());
    }
    let topic = topic.and_then(|n| ros_topic(&n));
    let ros_type = map
        .required_node("type", Some("type: sensor_msgs/msg/Imu"))
        .and_then(|node| {
            let text: String = node.get()?;
            type_to_dds(&text)
                .map(|dds| (text, dds))
                .map_err(|e| node.invalid(e.to_string()))
                .ok()
        });
    let reliable = map
        .value("reliability")
        .is_none_or(|node| match node.text() {
            Some("reliable") => true,
            Some("best_effort") => false,
            _ => {
                node.wrong_type("reliable or best_effort");
                true
            }
        });
    let stale_after = map
        .value("stale_after")
        .map_or(Some(Duration::from_millis(500)), |v| {
            let d: Duration = v.get()?;
            if d.is_zero() {
                v.invalid("must be more than 0");
            }
            Some(d)
        });
    let min_rate = map.optional::<Hertz>("min_rate").map(|Hertz(hz)| hz);
    let capabilities = map
        .value("capabilities")
        .map(|n| capabilities(&n))
        .unwrap_or_default();
    let producers = map
        .value("producers")
        .map(|n| producers(&n))
        .unwrap_or_default();
    let relay_node = map.value("relay");
    map.finish();
    let ((ros_topic, dds_topic), (ros_type, dds_type)) = (topic?, ros_type?);
    let relay = relay_node.and_then(|n| relay(&n, &dds_topic, lines));
    let topic = TopicConfig {
        ros_topic,
        dds_topic,
        ros_type,
        dds_type,
        reliable,
        stale_after: stale_after?,
        min_rate,
        capabilities,
        producers,
        relay,
    };
    (node.document().error_count() == before).then_some(topic)
}

fn capabilities(node: &Node<'_>) -> Capabilities {
    let mut capabilities = Capabilities::new();
    let Some(mut map) = node.map() else {
        return capabilities;
    };
    for (key, value) in map.rest() {
        let (Some(name), Some(text)) = (key.text(), value.text().filter(|_| !value.is_map()))
        else {
            node.invalid("capabilities are `name: value` with a plain value (100Hz, 0.01, text)");
            continue;
        };
        let inserted = Value::parse_capability(text)
            .map_err(|e| e.to_string())
            .and_then(|v| capabilities.insert(name, v).map_err(|e| e.to_string()));
        if let Err(message) = inserted {
            value.invalid(message);
        }
    }
    capabilities
}

fn producers(node: &Node<'_>) -> Vec<ProducerConfig> {
    let mut out: Vec<ProducerConfig> = Vec::new();
    for item in node.items().unwrap_or_default() {
        let Some(mut map) = item.map() else { continue };
        let name: Option<String> = map.required("node");
        let capabilities = map
            .value("capabilities")
            .map(|n| capabilities(&n))
            .unwrap_or_default();
        map.finish();
        let Some(name) = name else { continue };
        if out.iter().any(|p| p.node == name) {
            item.invalid(format!("node `{name}` is listed twice"));
        } else {
            out.push(ProducerConfig {
                node: name,
                capabilities,
            });
        }
    }
    out
}

fn relay(node: &Node<'_>, dds_topic: &str, lines: &mut Lines) -> Option<RelayConfig> {
    let mut map: Map<'_> = node.map()?;
    let topic = map.required_node("topic", Some("topic: /imu/data/best"));
    let query = map.required_node("query", Some("query: WHERE health.state = OK"));
    map.finish();
    for value in topic.iter().chain(query.iter()) {
        lines.insert(value.key().to_owned(), value.line());
    }
    let (ros_topic, dds_topic_out) = ros_topic(&topic?)?;
    let query = query?;
    let text: String = query.get()?;
    // `WHERE ...` or `PREFER ...` alone applies to the topic's own DDS name.
    let first = text.split_whitespace().next().unwrap_or("");
    let full = if ["WHERE", "PREFER"].contains(&first.to_ascii_uppercase().as_str()) {
        format!("'{dds_topic}' {text}")
    } else {
        text
    };
    let query = Query::parse(&full)
        .map_err(|e| query.invalid(format!("`{full}`: {e}")))
        .ok()?;
    Some(RelayConfig {
        ros_topic,
        dds_topic: dds_topic_out,
        query,
    })
}

/// What no single entry shows: duplicate topics, relays that read or
/// write a watched topic, relay clauses naming unwatched topics, a
/// diagnostics topic that is the agent's own output. Each problem is a key
/// and a message.
fn cross_check(config: &AgentConfig) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut push = |key: String, message: String| problems.push((key, message));
    let outputs = ["rt/diagnostics_agg", "rt/diagnostics_toplevel_state"];
    if outputs.contains(&config.diagnostics_topic.as_str()) {
        let message = "the agent publishes this topic: it would read its own output".to_owned();
        push("diagnostics.topic".to_owned(), message);
    }
    for (i, topic) in config.topics.iter().enumerate() {
        let at = format!("topics[{i}]");
        if config.topics[..i]
            .iter()
            .any(|t| t.dds_topic == topic.dds_topic)
        {
            let message = format!("topic `{}` is listed twice", topic.ros_topic);
            push(format!("{at}.topic"), message);
        }
        if topic.dds_topic == config.diagnostics_topic
            || outputs.contains(&topic.dds_topic.as_str())
        {
            let message = format!(
                "`{}` carries diagnostics, not data to advertise",
                topic.ros_topic
            );
            push(format!("{at}.topic"), message);
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
            push(format!("{at}.relay.topic"), message);
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
                    push(format!("{at}.relay.query"), message);
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
                    push(format!("{at}.relay.query"), message);
                }
            }
        }
    }
    problems
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
            text.contains("bad.yaml:1: identify_within: `identify_within: 5Hz`"),
            "{text}"
        );
        assert!(text.contains("bad.yaml:3: topics[0].topic"), "{text}");
        assert!(text.contains("bad.yaml:4: topics[0].type"), "{text}");
        assert!(text.contains("bad.yaml:5: topics[0].stale_after"), "{text}");
        assert!(
            text.contains("bad.yaml:6: topics[0]: unknown key `colour`"),
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
