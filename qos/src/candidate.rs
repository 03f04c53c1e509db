//! What matching sees of a producer: the [`Candidate`] trait, and
//! [`AdvertView`], a plain owned implementation of it.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use vigil_diag::{Path, State, Trend};

use crate::capability::{Capabilities, Key};
use crate::dds_qos::QosPolicies;
use crate::value::Value;

/// A producer as a query sees it.
///
/// Evaluation of one candidate never looks at another, so a registry can
/// re-evaluate only the candidate that changed and re-rank incrementally.
/// Implementations should answer every method in constant or logarithmic
/// time without allocating: the matcher calls them once per condition per
/// candidate.
pub trait Candidate {
    /// The producer's unique id; the last tie-break of ranking.
    fn producer(&self) -> &str;
    /// The topic it publishes (DDS or ROS 2 name).
    fn topic(&self) -> &str;
    /// The value of one capability (already degraded by its health, if it
    /// uses degradation rules); `None` when it does not offer it.
    fn capability(&self, key: &Key) -> Option<&Value>;
    /// Its overall health state.
    fn health_state(&self) -> State;
    /// Confidence in that state, in `[0, 1]`.
    fn health_confidence(&self) -> f64;
    /// Which way its health is moving.
    fn health_trend(&self) -> Trend;
    /// The state of one node of its diagnostic tree, by absolute path;
    /// `None` when it does not report that node.
    fn node_state(&self, path: &Path) -> Option<State>;
    /// The DDS QoS its writer offers.
    fn offered_qos(&self) -> &QosPolicies;
    /// The root of its diagnostic subtree, if it has one.
    fn diagnostic_root(&self) -> Option<&Path>;
}

impl<T: Candidate + ?Sized> Candidate for &T {
    fn producer(&self) -> &str {
        (**self).producer()
    }
    fn topic(&self) -> &str {
        (**self).topic()
    }
    fn capability(&self, key: &Key) -> Option<&Value> {
        (**self).capability(key)
    }
    fn health_state(&self) -> State {
        (**self).health_state()
    }
    fn health_confidence(&self) -> f64 {
        (**self).health_confidence()
    }
    fn health_trend(&self) -> Trend {
        (**self).health_trend()
    }
    fn node_state(&self, path: &Path) -> Option<State> {
        (**self).node_state(path)
    }
    fn offered_qos(&self) -> &QosPolicies {
        (**self).offered_qos()
    }
    fn diagnostic_root(&self) -> Option<&Path> {
        (**self).diagnostic_root()
    }
}

/// The health part of an [`AdvertView`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthView {
    /// Overall state.
    pub state: State,
    /// Confidence in `[0, 1]`.
    #[serde(deserialize_with = "confidence")]
    pub confidence: f64,
    /// Trend; `stable` when left out.
    #[serde(default)]
    pub trend: Trend,
    /// States of nodes of the producer's diagnostic tree, by absolute path.
    #[serde(default)]
    pub nodes: NodeStates,
}

impl Default for HealthView {
    /// No health reported: UNKNOWN with confidence 0, never OK.
    fn default() -> HealthView {
        HealthView {
            state: State::Unknown,
            confidence: 0.0,
            trend: Trend::Stable,
            nodes: NodeStates::default(),
        }
    }
}

fn confidence<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(deserializer)?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(serde::de::Error::custom(format_args!(
            "confidence {value} is outside [0, 1]"
        )))
    }
}

/// The states of some nodes of a producer's diagnostic tree, by absolute
/// path. Adverts carry a handful, so they are kept in a vector sorted by
/// path and found by comparing lengths before bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeStates {
    entries: Vec<(Path, State)>,
}

impl NodeStates {
    /// No nodes.
    pub fn new() -> NodeStates {
        NodeStates::default()
    }

    /// Sets the state of `path`, returning the previous one.
    pub fn insert(&mut self, path: Path, state: State) -> Option<State> {
        match self.entries.binary_search_by(|(p, _)| p.cmp(&path)) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, state)),
            Err(i) => {
                self.entries.insert(i, (path, state));
                None
            }
        }
    }

    /// The state of `path`, if reported.
    #[inline]
    pub fn get(&self, path: &Path) -> Option<State> {
        if self.entries.len() > 16 {
            let i = self.entries.binary_search_by(|(p, _)| p.cmp(path)).ok()?;
            return Some(self.entries[i].1);
        }
        self.entries
            .iter()
            .find(|(p, _)| crate::str_eq(p.as_str(), path.as_str()))
            .map(|(_, s)| *s)
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no node is reported.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The nodes in path order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Path, State)> {
        self.entries.iter().map(|(p, s)| (p, *s))
    }
}

impl FromIterator<(Path, State)> for NodeStates {
    fn from_iter<I: IntoIterator<Item = (Path, State)>>(iter: I) -> NodeStates {
        let mut nodes = NodeStates::new();
        for (p, s) in iter {
            nodes.insert(p, s);
        }
        nodes
    }
}

impl Serialize for NodeStates {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (p, s) in &self.entries {
            map.serialize_entry(p, s)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for NodeStates {
    /// A map of path → state; a duplicate path is an error.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodesVisitor;

        impl<'de> Visitor<'de> for NodesVisitor {
            type Value = NodeStates;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of node paths to states")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeStates, A::Error> {
                use serde::de::Error;
                let mut nodes = NodeStates::new();
                while let Some(path) = map.next_key::<Path>()? {
                    let state: State = map.next_value()?;
                    if nodes.insert(path.clone(), state).is_some() {
                        return Err(A::Error::custom(format_args!("duplicate node `{path}`")));
                    }
                }
                Ok(nodes)
            }
        }

        deserializer.deserialize_map(NodesVisitor)
    }
}

/// An advert as matching sees it, owned; the JSON shape of
/// `vigil query eval --adverts`:
///
/// ```json
/// {"producer": "imu_a", "topic": "imu",
///  "capabilities": {"rate": "200Hz", "latency_p99": "0.4ms", "accuracy": 0.001},
///  "health": {"state": "OK", "confidence": 0.97,
///             "nodes": {"vehicle.sensors.imu": "OK"}},
///  "qos": {"reliability": "reliable", "deadline": "10ms"},
///  "path": "vehicle.sensors.imu.primary"}
/// ```
///
/// `capabilities`, `health`, `qos` and `path` may be left out: no
/// capabilities, UNKNOWN health with confidence 0, DDS default QoS, no
/// diagnostic root. Unknown fields are errors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvertView {
    /// Unique producer id.
    pub producer: String,
    /// Topic name.
    pub topic: String,
    /// Capability vector.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Health summary.
    #[serde(default)]
    pub health: HealthView,
    /// Offered DDS QoS.
    #[serde(default)]
    pub qos: QosPolicies,
    /// Root of the producer's diagnostic subtree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<Path>,
}

impl AdvertView {
    /// An advert with no capabilities, UNKNOWN health and default QoS.
    pub fn new(producer: impl Into<String>, topic: impl Into<String>) -> AdvertView {
        AdvertView {
            producer: producer.into(),
            topic: topic.into(),
            capabilities: Capabilities::new(),
            health: HealthView::default(),
            qos: QosPolicies::default(),
            path: None,
        }
    }
}

impl Candidate for AdvertView {
    fn producer(&self) -> &str {
        &self.producer
    }
    fn topic(&self) -> &str {
        &self.topic
    }
    #[inline]
    fn capability(&self, key: &Key) -> Option<&Value> {
        self.capabilities.get_key(key)
    }
    fn health_state(&self) -> State {
        self.health.state
    }
    fn health_confidence(&self) -> f64 {
        self.health.confidence
    }
    fn health_trend(&self) -> Trend {
        self.health.trend
    }
    fn node_state(&self, path: &Path) -> Option<State> {
        self.health.nodes.get(path)
    }
    fn offered_qos(&self) -> &QosPolicies {
        &self.qos
    }
    fn diagnostic_root(&self) -> Option<&Path> {
        self.path.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_issue_shape() {
        let advert: AdvertView = serde_json::from_str(
            r#"{"producer": "imu_a", "topic": "imu",
                "capabilities": {"rate": "200Hz", "latency_p99": "0.4ms", "accuracy": 0.001},
                "health": {"state": "OK", "confidence": 0.97,
                           "nodes": {"vehicle.sensors.imu": "OK", "vehicle.power": "DEGRADED"}},
                "qos": {"reliability": "reliable", "durability": "transient_local", "deadline": "10ms"},
                "path": "vehicle.sensors.imu.primary"}"#,
        )
        .unwrap();
        assert_eq!(advert.health_state(), State::Ok);
        assert_eq!(
            advert.node_state(&Path::parse("vehicle.power").unwrap()),
            Some(State::Degraded)
        );
        assert_eq!(advert.node_state(&Path::parse("vehicle").unwrap()), None);
        assert_eq!(advert.capabilities.len(), 3);
    }

    #[test]
    fn missing_health_is_unknown_and_bad_fields_are_errors() {
        let advert: AdvertView =
            serde_json::from_str(r#"{"producer": "p", "topic": "t"}"#).unwrap();
        assert_eq!(advert.health_state(), State::Unknown);
        assert_eq!(advert.health_confidence(), 0.0);
        for bad in [
            r#"{"producer": "p", "topic": "t", "health": {"state": "OK", "confidence": 1.5}}"#,
            r#"{"producer": "p", "topic": "t", "health": {"state": "FINE", "confidence": 1}}"#,
            r#"{"producer": "p", "topic": "t", "path": "a..b"}"#,
            r#"{"producer": "p", "topic": "t", "extra": 1}"#,
            r#"{"topic": "t"}"#,
        ] {
            assert!(serde_json::from_str::<AdvertView>(bad).is_err(), "{bad}");
        }
    }
}
