//! "The best producer of T satisfying Q": vigil's own selection run once
//! over the bridge's registry, so a Zenoh client gets the answer a DDS
//! consumer starting now would get (same query language, same ranking,
//! same health rules: FAILED, UNKNOWN and unreachable producers are never
//! chosen).

use serde::Serialize;
use vigil_diag::Timestamp;
use vigil_discovery::{EntryView, Registry, Selection, SelectionQuery, SwitchPolicy};
use vigil_qos::Query;

use super::advert_json::{AdvertJson, Origin};

/// One producer of a chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Ranked {
    pub(crate) producer: String,
    pub(crate) topic: String,
}

/// The answer to one best-producer query.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct BestAnswer {
    /// The topic asked about.
    pub(crate) topic: String,
    /// The query, normalized.
    pub(crate) query: String,
    /// The best producer; `None` when none qualifies.
    pub(crate) producer: Option<String>,
    /// Where it lives.
    pub(crate) origin: Option<Origin>,
    /// The Zenoh key of its samples, when they are on Zenoh.
    pub(crate) data: Option<String>,
    /// Its advert.
    pub(crate) advert: Option<AdvertJson>,
    /// Every qualifying producer, best first.
    pub(crate) chain: Vec<Ranked>,
    /// Why it is the one (or why there is none).
    pub(crate) why: String,
}

/// Reads the query of a request on `<prefix>/best/<topic>`: its text, or
/// `<topic>` alone (every healthy producer, ranked by confidence) when none
/// was given. The first clause must be about `topic`; `ELSE` clauses may
/// name others.
pub(crate) fn parse_query(topic: &str, text: Option<&str>) -> Result<Query, String> {
    let text = match text.map(str::trim) {
        Some(text) if !text.is_empty() => text,
        _ => topic,
    };
    let query = Query::parse(text).map_err(|e| format!("query `{text}`: {e}"))?;
    let first = query.clauses().first().map(|c| c.topic()).unwrap_or("");
    if first != topic {
        return Err(format!(
            "the query is about topic `{first}` but was asked on topic `{topic}`"
        ));
    }
    Ok(query)
}

/// Ranks the registry for `query` at `now`. `describe` says where an
/// entry's producer lives and the Zenoh key of its samples, if any.
pub(crate) fn answer(
    registry: &Registry,
    topic: &str,
    query: &Query,
    now: Timestamp,
    describe: impl Fn(&EntryView) -> (Origin, Option<String>),
) -> BestAnswer {
    let mut selection = Selection::new(SelectionQuery::new(query), SwitchPolicy::default());
    // With nothing active yet the selection takes the best candidate at
    // once: no hold-off or wait-to-restore applies to a first choice.
    selection.tick(registry, now);
    let why = selection.explain(registry).why_active;
    let chain = selection
        .chain()
        .iter()
        .map(|k| Ranked {
            producer: k.producer.clone(),
            topic: k.topic.clone(),
        })
        .collect();
    let active = selection.active().and_then(|a| registry.get(&a.key));
    let (producer, origin, data, advert) = match active {
        Some(view) => {
            let (origin, data) = describe(&view);
            let advert = AdvertJson::from_entry(&view, origin, data.clone());
            (
                Some(view.advert.key.producer.clone()),
                Some(origin),
                data,
                Some(advert),
            )
        }
        None => (None, None, None, None),
    };
    BestAnswer {
        topic: topic.to_owned(),
        query: query.to_string(),
        producer,
        origin,
        data,
        advert,
        chain,
        why,
    }
}

#[cfg(test)]
mod tests {
    use vigil_discovery::{AdvertWire, RegistryConfig, RegistryInput};
    use vigil_qos::{Capabilities, Value};

    use super::*;
    use crate::zenoh::testkit;

    fn wire(producer: &str, accuracy: f64, state: u8) -> AdvertWire {
        let mut caps = Capabilities::new();
        caps.insert("accuracy", Value::number(accuracy).unwrap())
            .unwrap();
        AdvertWire {
            capabilities: caps.encode_cdr(),
            ..testkit::wire(producer, 1, state)
        }
    }

    fn registry() -> Registry {
        let registry = Registry::new(RegistryConfig::default());
        let at = Timestamp::from_nanos(1);
        registry.apply(RegistryInput::Advert(wire("a", 0.002, 0)), at);
        registry.apply(RegistryInput::Advert(wire("bb", 0.001, 0)), at);
        registry.apply(RegistryInput::Advert(wire("ccc", 0.0005, 2)), at);
        registry
    }

    #[test]
    fn picks_the_best_healthy_producer_with_its_data_key() {
        let registry = registry();
        let query = parse_query(
            "imu",
            Some("imu WHERE health.state = OK PREFER accuracy ASC"),
        )
        .unwrap();
        let answer = answer(&registry, "imu", &query, Timestamp::from_nanos(2), |v| {
            (
                Origin::Dds,
                Some(format!("vigil/data/imu/{}", v.advert.key.producer)),
            )
        });
        assert_eq!(answer.producer.as_deref(), Some("bb"));
        assert_eq!(answer.data.as_deref(), Some("vigil/data/imu/bb"));
        assert_eq!(answer.origin, Some(Origin::Dds));
        let chain: Vec<&str> = answer.chain.iter().map(|r| r.producer.as_str()).collect();
        assert_eq!(chain, ["bb", "a"], "the FAILED one is never in the chain");
        assert_eq!(answer.advert.map(|a| a.producer), Some("bb".to_owned()));
    }

    #[test]
    fn no_qualifying_producer_is_an_answer_not_an_error() {
        let registry = registry();
        let query = parse_query("imu", Some("imu WHERE accuracy < 0.0001")).unwrap();
        let answer = answer(&registry, "imu", &query, Timestamp::from_nanos(2), |_| {
            (Origin::Dds, None)
        });
        assert_eq!(answer.producer, None);
        assert!(answer.chain.is_empty());
        assert!(!answer.why.is_empty());
    }

    #[test]
    fn the_query_must_parse_and_be_about_the_topic_asked() {
        assert!(parse_query("imu", None).is_ok());
        assert!(parse_query("imu", Some("  ")).is_ok());
        let error = parse_query("imu", Some("gps WHERE rate > 1Hz")).unwrap_err();
        assert!(error.contains("about topic `gps`"), "{error}");
        let error = parse_query("imu", Some("imu WHERE")).unwrap_err();
        assert!(error.contains("query `imu WHERE`"), "{error}");
        assert!(parse_query("imu", Some("imu WHERE rate > 1Hz ELSE gps")).is_ok());
    }
}
