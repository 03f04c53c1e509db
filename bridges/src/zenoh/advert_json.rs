//! Adverts as JSON on Zenoh: the schema, built from a registry entry on
//! the way out and checked field by field on the way in.
//!
//! ```json
//! {"version": 1, "producer": "imu_a", "topic": "imu",
//!  "type_name": "vigil::demo::Sample_v1", "origin": "zenoh",
//!  "capabilities": {"accuracy": 0.001, "rate": "100Hz", "frame": "imu_link"},
//!  "health": {"state": "OK", "confidence": 1.0, "trend": "stable"},
//!  "sequence": 3}
//! ```
//!
//! Required on the way in: `version` (1), `producer`, `topic`, `type_name`,
//! `origin` (`zenoh` for a producer living on Zenoh; `dds` marks what a
//! bridge exported and is never imported back) and `health.state`
//! (`OK`, `DEGRADED`, `FAILED`, `UNKNOWN`). Optional: `capabilities`
//! (values as vigil writes them: plain numbers, `"100Hz"`, `"0.5ms"`,
//! strings, booleans), `health.confidence` (0 to 1, default 1),
//! `health.reason` (for UNKNOWN: `no_data`, `stale`, `conflicting`,
//! `unreachable`; default `no_data`), `health.trend` (default `stable`),
//! `sequence`, `timestamp_ns` (when the producer made it, nanoseconds since
//! the Unix epoch: required when signed, see `signed_json`), `signature`
//! (the last member; see `signed_json`). What a bridge adds on the way out
//! (`reachable`, `diagnostic_root`, `writer_guid`, `data`) is accepted and
//! not used.
//! Any other field is a mistake and refused, so a misspelt `capabilites`
//! does not silently advertise nothing.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value as Json};
use vigil_diag::{State, Trend, UnknownReason};
use vigil_discovery::{EntryView, MAX_NAME_LEN};
use vigil_qos::{Capabilities, Value};

/// The version of this schema.
pub const ADVERT_JSON_VERSION: u16 = 1;

/// Largest advert payload read, in bytes: an advert is a few hundred bytes;
/// anything this big is a mistake or an attack, not an advert.
pub const MAX_ADVERT_BYTES: usize = 64 * 1024;

/// Where a producer lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// On DDS, exported by a bridge.
    Dds,
    /// On Zenoh.
    Zenoh,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Dds => "dds",
            Origin::Zenoh => "zenoh",
        })
    }
}

/// A health summary in an advert.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HealthJson {
    /// Overall state.
    pub state: State,
    /// Confidence in `[0, 1]`.
    pub confidence: f64,
    /// Why, when UNKNOWN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<UnknownReason>,
    /// Which way it is moving.
    pub trend: Trend,
}

/// One advert as JSON (see the module doc).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AdvertJson {
    /// [`ADVERT_JSON_VERSION`].
    pub version: u16,
    /// Producer id.
    pub producer: String,
    /// Topic (the DDS name).
    pub topic: String,
    /// DDS type name of the data.
    pub type_name: String,
    /// Where the producer lives.
    pub origin: Origin,
    /// What it offers.
    pub capabilities: Capabilities,
    /// Its health (for an exported DDS producer: as the registry sees it
    /// now, lease and heartbeats included).
    pub health: HealthJson,
    /// Exported: whether its lease holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reachable: Option<bool>,
    /// The producer's advert sequence number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// When it was made, nanoseconds since the Unix epoch: what tells a
    /// signed advert sent again from a fresh one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp_ns: Option<u64>,
    /// Whether the received JSON had a `signature` member (wherever it
    /// was: `signed_json` reads it only as the last member). Not printed:
    /// a signature is appended to the printed text.
    #[serde(skip)]
    pub signature_member: bool,
    /// Exported: the root of its diagnostic tree.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostic_root: Option<String>,
    /// Exported: its DDS writer GUID, 32 hex digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writer_guid: Option<String>,
    /// The key its samples are on, when they reach Zenoh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// One bad field of a received advert.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldIssue {
    /// The field (`health.state`, `capabilities.rate`), or `payload`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// A received advert that cannot be used: every bad field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct AdvertJsonError {
    /// The problems, at least one.
    pub issues: Vec<FieldIssue>,
}

impl fmt::Display for AdvertJsonError {
    /// `field: message; field: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.issues.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", issue.field, issue.message)?;
        }
        Ok(())
    }
}

const FIELDS: &[&str] = &[
    "version",
    "producer",
    "topic",
    "type_name",
    "origin",
    "capabilities",
    "health",
    "reachable",
    "sequence",
    "timestamp_ns",
    "signature",
    "diagnostic_root",
    "writer_guid",
    "data",
];
const HEALTH_FIELDS: &[&str] = &["state", "confidence", "reason", "trend"];

/// Collects the issues of one advert.
struct Issues(Vec<FieldIssue>);

impl Issues {
    fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldIssue {
            field: field.to_owned(),
            message: message.into(),
        });
    }
}

/// What a JSON value is, for "expected X, found Y".
fn kind(v: &Json) -> String {
    match v {
        Json::Null => "null".to_owned(),
        Json::Bool(b) => format!("`{b}`"),
        Json::Number(n) => format!("the number {n}"),
        Json::String(s) => format!("the string `{}`", vigil_diag::config::shorten(s)),
        Json::Array(_) => "a list".to_owned(),
        Json::Object(_) => "an object".to_owned(),
    }
}

impl AdvertJson {
    /// The advert of a registry entry, exported from DDS. `data` is the
    /// Zenoh key of its samples when they are forwarded.
    pub(crate) fn from_entry(view: &EntryView, origin: Origin, data: Option<String>) -> AdvertJson {
        let advert = &view.advert;
        AdvertJson {
            version: ADVERT_JSON_VERSION,
            producer: advert.key.producer.clone(),
            topic: advert.key.topic.clone(),
            type_name: advert.type_name.clone(),
            origin,
            capabilities: advert.capabilities.clone(),
            health: HealthJson {
                state: view.health.state,
                // f32 on the wire: print what was sent, not its f64 noise.
                confidence: (view.health.confidence * 1e6).round() / 1e6,
                reason: view.health.reason,
                trend: view.health.trend,
            },
            reachable: Some(view.reachable),
            sequence: Some(advert.sequence),
            timestamp_ns: Some(vigil_discovery::clock::unix_now_ns()),
            signature_member: false,
            diagnostic_root: advert
                .diagnostic_root
                .as_ref()
                .map(|p| p.as_str().to_owned()),
            writer_guid: Some(
                advert
                    .writer_guid
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
            ),
            data,
        }
    }

    /// The JSON text.
    pub fn to_json(&self) -> String {
        // Serializing plain fields and vigil-qos values cannot fail.
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Reads a received advert, reporting every bad field.
    pub fn parse(payload: &[u8]) -> Result<AdvertJson, AdvertJsonError> {
        let mut issues = Issues(Vec::new());
        let fail = |issues: Issues| Err(AdvertJsonError { issues: issues.0 });
        if payload.len() > MAX_ADVERT_BYTES {
            issues.push(
                "payload",
                format!(
                    "{} bytes; an advert is at most {MAX_ADVERT_BYTES}",
                    payload.len()
                ),
            );
            return fail(issues);
        }
        let json: Json = match serde_json::from_slice(payload) {
            Ok(json) => json,
            Err(e) => {
                issues.push("payload", format!("not JSON: {e}"));
                return fail(issues);
            }
        };
        let Json::Object(map) = json else {
            issues.push(
                "payload",
                format!("expected a JSON object, found {}", kind(&json)),
            );
            return fail(issues);
        };
        for key in map.keys() {
            if !FIELDS.contains(&key.as_str()) {
                issues.push(
                    key,
                    format!("unknown field; expected one of {}", FIELDS.join(", ")),
                );
            }
        }
        let version = match map.get("version") {
            None => {
                issues.push("version", "missing");
                None
            }
            Some(v) => match v.as_u64() {
                Some(n) if n == u64::from(ADVERT_JSON_VERSION) => Some(ADVERT_JSON_VERSION),
                Some(n) => {
                    issues.push(
                        "version",
                        format!("version {n} is not understood here (this bridge reads {ADVERT_JSON_VERSION})"),
                    );
                    None
                }
                None => {
                    issues.push("version", format!("expected 1, found {}", kind(v)));
                    None
                }
            },
        };
        let producer = name(&map, "producer", &mut issues);
        let topic = name(&map, "topic", &mut issues);
        let type_name = name(&map, "type_name", &mut issues);
        let origin = match map.get("origin") {
            None => {
                issues.push("origin", "missing: `zenoh` for a producer on Zenoh");
                None
            }
            Some(Json::String(s)) if s == "zenoh" => Some(Origin::Zenoh),
            Some(Json::String(s)) if s == "dds" => Some(Origin::Dds),
            Some(v) => {
                issues.push(
                    "origin",
                    format!("expected `zenoh` or `dds`, found {}", kind(v)),
                );
                None
            }
        };
        let capabilities = capabilities(map.get("capabilities"), &mut issues);
        let health = health(map.get("health"), &mut issues);
        let reachable = optional(
            &map,
            "reachable",
            Json::as_bool,
            "true or false",
            &mut issues,
        );
        let sequence = optional(
            &map,
            "sequence",
            Json::as_u64,
            "a non-negative integer",
            &mut issues,
        );
        let timestamp_ns = optional(
            &map,
            "timestamp_ns",
            Json::as_u64,
            "a non-negative integer",
            &mut issues,
        );
        let text = |v: &Json| v.as_str().map(str::to_owned);
        let signature_member = optional(&map, "signature", text, "a string", &mut issues).is_some();
        let diagnostic_root = optional(&map, "diagnostic_root", text, "a string", &mut issues);
        let writer_guid = optional(&map, "writer_guid", text, "a string", &mut issues);
        let data = optional(&map, "data", text, "a string", &mut issues);
        match (
            version,
            producer,
            topic,
            type_name,
            origin,
            capabilities,
            health,
        ) {
            (
                Some(version),
                Some(producer),
                Some(topic),
                Some(type_name),
                Some(origin),
                Some(capabilities),
                Some(health),
            ) if issues.0.is_empty() => Ok(AdvertJson {
                version,
                producer,
                topic,
                type_name,
                origin,
                capabilities,
                health,
                reachable,
                sequence,
                timestamp_ns,
                signature_member,
                diagnostic_root,
                writer_guid,
                data,
            }),
            _ => fail(issues),
        }
    }
}

/// A required name: a non-empty string vigil's adverts accept.
fn name(map: &Map<String, Json>, field: &str, issues: &mut Issues) -> Option<String> {
    let Some(v) = map.get(field) else {
        issues.push(field, "missing");
        return None;
    };
    let Some(text) = v.as_str() else {
        issues.push(field, format!("expected a string, found {}", kind(v)));
        return None;
    };
    if text.is_empty() {
        issues.push(field, "must not be empty");
    } else if text.len() > MAX_NAME_LEN {
        issues.push(
            field,
            format!("{} bytes long; at most {MAX_NAME_LEN}", text.len()),
        );
    } else if text.chars().any(char::is_control) {
        issues.push(field, "holds a control character");
    } else {
        return Some(text.to_owned());
    }
    None
}

/// An optional field; present with the wrong type is an issue.
fn optional<T>(
    map: &Map<String, Json>,
    field: &str,
    read: impl Fn(&Json) -> Option<T>,
    expected: &str,
    issues: &mut Issues,
) -> Option<T> {
    let v = map.get(field)?;
    let value = read(v);
    if value.is_none() {
        issues.push(field, format!("expected {expected}, found {}", kind(v)));
    }
    value
}

fn capabilities(v: Option<&Json>, issues: &mut Issues) -> Option<Capabilities> {
    let mut caps = Capabilities::new();
    let Some(v) = v else {
        return Some(caps);
    };
    let Json::Object(map) = v else {
        issues.push(
            "capabilities",
            format!("expected an object of capabilities, found {}", kind(v)),
        );
        return None;
    };
    let before = issues.0.len();
    for (key, value) in map {
        let field = format!("capabilities.{key}");
        // vigil-qos reads numbers, booleans and strings like `"100Hz"`.
        match serde_json::from_value::<Value>(value.clone()) {
            Ok(value) => {
                if let Err(e) = caps.insert(key, value) {
                    issues.push(&field, e.to_string());
                }
            }
            Err(e) => issues.push(&field, e.to_string()),
        }
    }
    (issues.0.len() == before).then_some(caps)
}

fn health(v: Option<&Json>, issues: &mut Issues) -> Option<HealthJson> {
    let Some(v) = v else {
        issues.push("health", "missing: at least {\"state\": \"OK\"}");
        return None;
    };
    let Json::Object(map) = v else {
        issues.push("health", format!("expected an object, found {}", kind(v)));
        return None;
    };
    let before = issues.0.len();
    for key in map.keys() {
        if !HEALTH_FIELDS.contains(&key.as_str()) {
            issues.push(
                &format!("health.{key}"),
                format!(
                    "unknown field; expected one of {}",
                    HEALTH_FIELDS.join(", ")
                ),
            );
        }
    }
    let state = match map.get("state") {
        None => {
            issues.push("health.state", "missing");
            None
        }
        Some(Json::String(s)) => match s.as_str() {
            "OK" => Some(State::Ok),
            "DEGRADED" => Some(State::Degraded),
            "FAILED" => Some(State::Failed),
            "UNKNOWN" => Some(State::Unknown),
            _ => {
                issues.push(
                    "health.state",
                    format!(
                        "expected OK, DEGRADED, FAILED or UNKNOWN, found {}",
                        kind(&map["state"])
                    ),
                );
                None
            }
        },
        Some(other) => {
            issues.push(
                "health.state",
                format!(
                    "expected OK, DEGRADED, FAILED or UNKNOWN, found {}",
                    kind(other)
                ),
            );
            None
        }
    };
    let confidence = match map.get("confidence") {
        None => 1.0,
        Some(v) => match v.as_f64() {
            Some(c) if (0.0..=1.0).contains(&c) => c,
            _ => {
                issues.push(
                    "health.confidence",
                    format!("expected a number from 0 to 1, found {}", kind(v)),
                );
                1.0
            }
        },
    };
    let reason = match (state, map.get("reason")) {
        (_, None) | (_, Some(Json::Null)) => {
            (state == Some(State::Unknown)).then_some(UnknownReason::NoData)
        }
        (Some(State::Unknown), Some(v)) => match v.as_str() {
            Some("no_data") => Some(UnknownReason::NoData),
            Some("stale") => Some(UnknownReason::Stale),
            Some("conflicting") => Some(UnknownReason::Conflicting),
            Some("unreachable") => Some(UnknownReason::Unreachable),
            _ => {
                issues.push(
                    "health.reason",
                    format!(
                        "expected no_data, stale, conflicting or unreachable, found {}",
                        kind(v)
                    ),
                );
                None
            }
        },
        (Some(state), Some(_)) => {
            issues.push(
                "health.reason",
                format!("only an UNKNOWN state has a reason, not {state}"),
            );
            None
        }
        (None, Some(_)) => None,
    };
    let trend = match map.get("trend") {
        None => Trend::Stable,
        Some(v) => match v.as_str() {
            Some("stable") => Trend::Stable,
            Some("degrading") => Trend::Degrading,
            Some("recovering") => Trend::Recovering,
            Some("intermittent") => Trend::Intermittent,
            _ => {
                issues.push(
                    "health.trend",
                    format!(
                        "expected stable, degrading, recovering or intermittent, found {}",
                        kind(v)
                    ),
                );
                Trend::Stable
            }
        },
    };
    let state = state?;
    (issues.0.len() == before).then_some(HealthJson {
        state,
        confidence,
        reason,
        trend,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zenoh_advert() -> &'static str {
        r#"{"version": 1, "producer": "zenoh_imu", "topic": "imu",
            "type_name": "vigil::demo::Sample_v1", "origin": "zenoh",
            "capabilities": {"accuracy": 0.0005, "rate": "100Hz", "frame": "imu_link"},
            "health": {"state": "DEGRADED", "confidence": 0.8}}"#
    }

    #[test]
    fn reads_a_zenoh_advert_with_defaults_for_the_optional_fields() {
        let advert = AdvertJson::parse(zenoh_advert().as_bytes()).unwrap();
        assert_eq!(advert.producer, "zenoh_imu");
        assert_eq!(advert.origin, Origin::Zenoh);
        assert_eq!(advert.health.state, State::Degraded);
        assert_eq!(advert.health.trend, Trend::Stable);
        assert_eq!(advert.health.reason, None);
        assert_eq!(
            advert.capabilities.get("rate").map(|v| v.to_string()),
            Some("100Hz".to_owned())
        );
        assert_eq!(advert.capabilities.len(), 3);
    }

    #[test]
    fn what_it_writes_it_reads_back() {
        let advert = AdvertJson::parse(zenoh_advert().as_bytes()).unwrap();
        let mut exported = advert.clone();
        exported.origin = Origin::Dds;
        exported.reachable = Some(false);
        exported.sequence = Some(7);
        exported.writer_guid = Some("00".repeat(16));
        exported.data = Some("vigil/data/imu/zenoh_imu".to_owned());
        exported.health = HealthJson {
            state: State::Unknown,
            confidence: 0.0,
            reason: Some(UnknownReason::Unreachable),
            trend: Trend::Degrading,
        };
        for a in [advert, exported] {
            let json = a.to_json();
            assert_eq!(AdvertJson::parse(json.as_bytes()), Ok(a), "{json}");
        }
    }

    #[test]
    fn every_bad_field_is_reported() {
        let bad = r#"{"version": 2, "producer": "", "topic": 5, "origin": "mars",
            "capabilites": {}, "capabilities": {"rate": "100Hzz", "bad key": 1},
            "health": {"state": "FINE", "confidence": 2, "colour": "red"},
            "sequence": -1}"#;
        let error = AdvertJson::parse(bad.as_bytes()).unwrap_err();
        let fields: Vec<&str> = error.issues.iter().map(|i| i.field.as_str()).collect();
        for field in [
            "capabilites",
            "version",
            "producer",
            "topic",
            "type_name",
            "origin",
            "capabilities.rate",
            "capabilities.bad key",
            "health.colour",
            "health.state",
            "health.confidence",
            "sequence",
        ] {
            assert!(fields.contains(&field), "{field} not in {error}");
        }
        let text = error.to_string();
        assert!(
            text.contains("version: version 2 is not understood"),
            "{text}"
        );
    }

    #[test]
    fn not_json_not_an_object_and_oversized_payloads_are_refused() {
        for (payload, why) in [
            (b"\x00\xffgarbage".to_vec(), "not JSON"),
            (b"[1, 2]".to_vec(), "expected a JSON object, found a list"),
            (vec![b' '; MAX_ADVERT_BYTES + 1], "an advert is at most"),
        ] {
            let error = AdvertJson::parse(&payload).unwrap_err();
            assert_eq!(error.issues[0].field, "payload");
            assert!(error.to_string().contains(why), "{error}");
        }
    }

    #[test]
    fn a_reason_belongs_to_unknown_only() {
        let advert = |health: &str| {
            format!(
                r#"{{"version": 1, "producer": "p", "topic": "t", "type_name": "T",
                    "origin": "zenoh", "health": {health}}}"#
            )
        };
        let unknown = AdvertJson::parse(advert(r#"{"state": "UNKNOWN"}"#).as_bytes()).unwrap();
        assert_eq!(unknown.health.reason, Some(UnknownReason::NoData));
        let stale =
            AdvertJson::parse(advert(r#"{"state": "UNKNOWN", "reason": "stale"}"#).as_bytes());
        assert_eq!(stale.unwrap().health.reason, Some(UnknownReason::Stale));
        let error = AdvertJson::parse(advert(r#"{"state": "OK", "reason": "stale"}"#).as_bytes())
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("only an UNKNOWN state has a reason"),
            "{error}"
        );
    }
}
