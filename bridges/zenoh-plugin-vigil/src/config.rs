//! The plugin's config: the router's `plugins/vigil` value, read by the
//! bridge's own reader ([`BridgeConfig::parse`], vigil's one config
//! reader): the same keys as a `vigil bridge zenoh` file, plus what that
//! command takes as flags (`domain`, `interface`).
//!
//! The router hands the plugin its section as JSON (it read JSON5 or
//! YAML); the section is written out again as indented JSON, which is
//! YAML, and read as a bridge file would be, so every problem names its
//! key (`topics[0].type`) and a line of that JSON. What only the router
//! sets (`zenoh/mode`, `listen`, `connect`, scouting: the plugin runs in
//! the router's session) is refused with where it belongs, not ignored
//! ([`BridgeConfig::parse_in_router`]).

use std::net::IpAddr;

use serde_json::{Map, Value};
use vigil_bridges::zenoh::{BridgeConfig, ConfigError, ConfigProblem};
use vigil_diag::config::ProblemKind;
use vigil_discovery::DdsConfig;

/// How problems name the section.
pub(crate) const SOURCE: &str = "zenohd config plugins/vigil (as JSON)";

/// The keys zenohd's plugin loader adds or reads itself (`__path__`,
/// `__required__`, `__config__`): not the plugin's.
fn is_loader_key(key: &str) -> bool {
    key.starts_with("__") && key.ends_with("__")
}

/// A checked plugin config.
#[derive(Debug)]
pub(crate) struct PluginConfig {
    /// The bridge's config, as `vigil bridge zenoh --config` reads it.
    pub(crate) bridge: BridgeConfig,
    /// The DDS side: `domain`, `interface` and the `dds` liveness keys.
    pub(crate) dds: DdsConfig,
    /// The section as the plugin read it (loader keys removed), for the
    /// admin space.
    pub(crate) value: Value,
}

/// Reads the router's `plugins/vigil` value; every problem is reported.
pub(crate) fn parse(value: &Value) -> Result<PluginConfig, ConfigError> {
    let problem =
        |key: &str, why: String| ConfigProblem::new(SOURCE, 1, key, ProblemKind::Invalid(why));
    let Some(section) = value.as_object() else {
        return Err(ConfigError::new(vec![problem(
            "plugins/vigil",
            format!("expected an object (the bridge's keys), found `{value}`"),
        )]));
    };
    let mut problems = Vec::new();
    let mut rest: Map<String, Value> = section
        .iter()
        .filter(|(k, _)| !is_loader_key(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let shown = Value::Object(rest.clone());
    let domain = match rest.remove("domain") {
        None => {
            problems.push(problem(
                "domain",
                "missing: the DDS domain id (`domain: 0`; `vigil bridge zenoh` takes it as --domain)".to_owned(),
            ));
            None
        }
        Some(v) => match v.as_u64().and_then(|d| u16::try_from(d).ok()) {
            Some(d) => Some(d),
            None => {
                problems.push(problem(
                    "domain",
                    format!("`{v}`: expected a DDS domain id (0-232)"),
                ));
                None
            }
        },
    };
    let interface = match rest.remove("interface") {
        None => None,
        Some(v) => match v.as_str().and_then(|s| s.parse::<IpAddr>().ok()) {
            Some(ip) => Some(ip),
            None => {
                problems.push(problem(
                    "interface",
                    format!("`{v}`: expected an IP address"),
                ));
                None
            }
        },
    };
    // Indented so that a problem's line points at one key.
    let text = serde_json::to_string_pretty(&Value::Object(rest)).unwrap_or_default();
    let bridge = match BridgeConfig::parse_in_router(&text, SOURCE) {
        Ok(bridge) => Some(bridge),
        Err(e) => {
            problems.extend(e.problems);
            None
        }
    };
    let (Some(bridge), Some(domain), true) = (bridge, domain, problems.is_empty()) else {
        return Err(ConfigError::new(problems));
    };
    let mut dds = DdsConfig::new(domain);
    if let Some(ip) = interface {
        dds = dds.with_interface(ip);
    }
    let heartbeat = bridge.dds.heartbeat.unwrap_or(dds.heartbeat_period);
    let lease = bridge.dds.lease.unwrap_or(dds.lease);
    let dds = dds.with_liveness(heartbeat, lease);
    if let Err(e) = dds.validate() {
        return Err(ConfigError::new(vec![problem("dds", e.to_string())]));
    }
    Ok(PluginConfig {
        bridge,
        dds,
        value: shown,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn section() -> Value {
        json!({
            "__path__": ["/x/libzenoh_plugin_vigil.so"],
            "__required__": true,
            "domain": 160,
            "zenoh": { "key_prefix": "fleet" },
            "dds": { "lease": "300ms" },
            "topics": [{ "topic": "imu", "type": "vigil::demo::Sample_v1", "keyed": true }],
            "follow": [{ "key": "imu_best", "query": "imu WHERE health.state = OK" }],
        })
    }

    #[test]
    fn the_bridge_keys_are_read_as_a_bridge_file_would_be() {
        let config = parse(&section()).expect("a good section");
        assert_eq!(config.bridge.zenoh.key_prefix, "fleet");
        assert_eq!(config.bridge.follow[0].key, "imu_best");
        assert_eq!(config.dds.domain, 160);
        assert_eq!(config.dds.lease, std::time::Duration::from_millis(300));
        assert!(config.value.get("__path__").is_none(), "{}", config.value);
    }

    #[test]
    fn every_problem_is_named_with_its_key() {
        let mut bad = section();
        bad["domain"] = json!("one");
        bad["zenoh"]["listen"] = json!(["tcp/127.0.0.1:7447"]);
        if let Some(topic) = bad["topics"][0].as_object_mut() {
            let name = topic.remove("type").unwrap_or_default();
            topic.insert("typ".to_owned(), name);
        }
        let error = parse(&bad).expect_err("four problems");
        let text: Vec<String> = error.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(error.problems.len(), 4, "{text:#?}");
        let has = |what: &[&str]| text.iter().any(|t| what.iter().all(|w| t.contains(w)));
        assert!(has(&["a topic needs `type`"]), "{text:#?}");
        assert!(
            has(&["domain", "\"one\"", "expected a DDS domain id"]),
            "{text:#?}"
        );
        assert!(has(&["zenoh.listen", "`listen/endpoints`"]), "{text:#?}");
        // The bridge reader's did-you-mean, through the conversion.
        assert!(
            has(&["unknown key `typ`", "did you mean `type`"]),
            "{text:#?}"
        );
        assert!(text.iter().all(|t| t.starts_with(SOURCE)), "{text:#?}");
    }

    #[test]
    fn a_section_that_is_not_an_object_is_refused() {
        let error = parse(&json!("vigil")).expect_err("not an object");
        assert!(error.problems[0].to_string().contains("expected an object"));
    }

    /// Any JSON value the router hands over (its config is outside input)
    /// is read without a panic: accepted, or refused with problems that
    /// each name the section and a line.
    mod property {
        use proptest::prelude::*;

        use super::*;

        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                "[a-z_:\\[\\]{} .0-9]{0,12}".prop_map(Value::from),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                let keys = prop_oneof![
                    Just("domain".to_owned()),
                    Just("zenoh".to_owned()),
                    Just("key_prefix".to_owned()),
                    Just("listen".to_owned()),
                    Just("topics".to_owned()),
                    Just("topic".to_owned()),
                    Just("type".to_owned()),
                    Just("follow".to_owned()),
                    Just("query".to_owned()),
                    Just("__path__".to_owned()),
                    "[a-z]{1,6}",
                ];
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                    prop::collection::btree_map(keys, inner, 0..5)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #[test]
            fn any_section_is_read_or_refused_with_its_problems(value in json()) {
                if let Err(error) = parse(&value) {
                    prop_assert!(!error.problems.is_empty());
                    for problem in &error.problems {
                        prop_assert!(problem.line >= 1, "{}", problem);
                        prop_assert!(problem.to_string().starts_with(SOURCE), "{}", problem);
                    }
                }
            }
        }
    }
}
