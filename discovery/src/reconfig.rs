//! What the reconfiguration engine (`vigil recover`) tells every vigil
//! process on the domain: which producers are isolated, and the current
//! mode. Both travel on their own vigil topics, reliable and
//! transient-local, so a consumer that starts later learns them at once.
//!
//! - **Isolation** ([`ISOLATION_TOPIC`], keyed by producer): an isolated
//!   producer is FAILED for every consumer, whatever it advertises, across
//!   its restarts, until a release for it is heard. The registry applies it
//!   ([`crate::RegistryInput::Isolation`]).
//! - **Mode** ([`MODE_TOPIC`], keyed by the engine's name): the mode the
//!   engine chose, the one before, and why; consumers carrying one query
//!   per mode (`vigil consume --query-in MODE=QUERY`) follow it.
//! - **Capability overrides** ([`CAPABILITY_OVERRIDE_TOPIC`], keyed by
//!   producer, since wire revision 5): while a mode holds, some of a
//!   producer's capabilities are not what it advertises (a driver shedding
//!   load runs at half its rate; an IMU without aiding is less accurate).
//!   Every consumer's registry matches and ranks the producer on the
//!   overridden values, across its restarts, until the override is
//!   cleared (an empty set). The producer's own advert is untouched.
//!
//! Decoding checks what it received like the advert's does: lengths
//! bounded, control characters refused, the version known.

use serde::{Deserialize, Serialize};

use vigil_qos::Capabilities;

use crate::advert::MAX_NAME_LEN;
use crate::wire::WIRE_VERSION;

/// The DDS topic of isolations.
pub const ISOLATION_TOPIC: &str = "vigil_isolation";
/// The DDS type name of [`IsolationWire`].
pub const ISOLATION_TYPE: &str = "vigil::wire::Isolation_v1";
/// The DDS topic of the current mode.
pub const MODE_TOPIC: &str = "vigil_mode";
/// The DDS type name of [`ModeWire`].
pub const MODE_TYPE: &str = "vigil::wire::Mode_v1";

/// The DDS topic of capability overrides.
pub const CAPABILITY_OVERRIDE_TOPIC: &str = "vigil_capability_overrides";
/// The DDS type name of [`CapabilityOverrideWire`].
pub const CAPABILITY_OVERRIDE_TYPE: &str = "vigil::wire::CapabilityOverride_v1";

/// Longest reason or cause accepted, in bytes.
pub const MAX_TEXT_LEN: usize = 1024;

/// One producer isolated or released (the instance key is the producer).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsolationWire {
    /// [`WIRE_VERSION`] of the writer.
    pub version: u16,
    /// The producer id.
    pub producer: String,
    /// True: isolated; false: released.
    pub isolated: bool,
    /// Why, for people.
    pub reason: String,
    /// Who said so (the engine's name).
    pub by: String,
    /// When, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
}

/// The current mode of one engine (the instance key is `engine`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeWire {
    /// [`WIRE_VERSION`] of the writer.
    pub version: u16,
    /// The engine's name.
    pub engine: String,
    /// The mode now.
    pub mode: String,
    /// The mode before (empty at the start).
    pub from: String,
    /// Why it changed.
    pub cause: String,
    /// When, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
}

/// The capabilities of one producer that hold instead of its advertised
/// ones while a mode holds (the instance key is the producer).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilityOverrideWire {
    /// [`WIRE_VERSION`] of the writer.
    pub version: u16,
    /// The producer id.
    pub producer: String,
    /// The overriding values in vigil-qos's versioned CDR encoding (as an
    /// advert's capabilities); an empty set clears the override.
    pub capabilities: Vec<u8>,
    /// The mode that asks for them (for people, and the knowledge base).
    pub mode: String,
    /// Who said so (the engine's name).
    pub by: String,
    /// When, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
}

/// Why a received isolation, mode or override was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[error("{what}: {field}: {problem}")]
pub struct ReconfigError {
    /// Which message (`isolation of imu_a`).
    pub what: String,
    /// Which field.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

fn text(
    what: &str,
    field: &'static str,
    value: &str,
    max: usize,
    required: bool,
) -> Result<(), ReconfigError> {
    let problem = if required && value.is_empty() {
        "empty".to_owned()
    } else if value.len() > max {
        format!("{} bytes, at most {max}", value.len())
    } else if value.chars().any(char::is_control) {
        "holds a control character".to_owned()
    } else {
        return Ok(());
    };
    Err(ReconfigError {
        what: what.to_owned(),
        field,
        problem,
    })
}

fn clip(s: &str) -> String {
    s.chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn version(what: &str, version: u16) -> Result<(), ReconfigError> {
    if version == 0 || version > WIRE_VERSION {
        return Err(ReconfigError {
            what: what.to_owned(),
            field: "version",
            problem: format!("{version}, this build reads 1 to {WIRE_VERSION}"),
        });
    }
    Ok(())
}

impl IsolationWire {
    /// Checks every field of a received isolation.
    pub fn validate(&self) -> Result<(), ReconfigError> {
        let what = format!("isolation of {}", clip(&self.producer));
        version(&what, self.version)?;
        text(&what, "producer", &self.producer, MAX_NAME_LEN, true)?;
        text(&what, "reason", &self.reason, MAX_TEXT_LEN, false)?;
        text(&what, "by", &self.by, MAX_NAME_LEN, false)
    }
}

impl ModeWire {
    /// Checks every field of a received mode.
    pub fn validate(&self) -> Result<(), ReconfigError> {
        let what = format!("mode of {}", clip(&self.engine));
        version(&what, self.version)?;
        text(&what, "engine", &self.engine, MAX_NAME_LEN, true)?;
        text(&what, "mode", &self.mode, MAX_NAME_LEN, true)?;
        text(&what, "from", &self.from, MAX_NAME_LEN, false)?;
        text(&what, "cause", &self.cause, MAX_TEXT_LEN, false)
    }
}

impl CapabilityOverrideWire {
    /// Checks every field of a received override and decodes its values.
    pub fn validate(&self) -> Result<Capabilities, ReconfigError> {
        let what = format!("capability override of {}", clip(&self.producer));
        version(&what, self.version)?;
        text(&what, "producer", &self.producer, MAX_NAME_LEN, true)?;
        text(&what, "mode", &self.mode, MAX_NAME_LEN, false)?;
        text(&what, "by", &self.by, MAX_NAME_LEN, false)?;
        Capabilities::decode_cdr(&self.capabilities).map_err(|e| ReconfigError {
            what,
            field: "capabilities",
            problem: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn isolation(producer: &str, reason: &str) -> IsolationWire {
        IsolationWire {
            version: WIRE_VERSION,
            producer: producer.into(),
            isolated: true,
            reason: reason.into(),
            by: "recover".into(),
            timestamp_ns: 1,
        }
    }

    #[test]
    fn bad_fields_are_named() {
        assert!(isolation("imu_a", "still failing").validate().is_ok());
        let e = isolation("", "x").validate().unwrap_err();
        assert_eq!(e.field, "producer");
        let e = isolation("imu_a", "a\u{7}b").validate().unwrap_err();
        assert_eq!(e.field, "reason");
        assert!(e.to_string().contains("control character"), "{e}");
        let mut late = isolation("imu_a", "");
        late.version = WIRE_VERSION + 1;
        assert_eq!(late.validate().unwrap_err().field, "version");
        let mode = ModeWire {
            version: WIRE_VERSION,
            engine: "recover".into(),
            mode: "x".repeat(MAX_NAME_LEN + 1),
            from: String::new(),
            cause: String::new(),
            timestamp_ns: 0,
        };
        assert_eq!(mode.validate().unwrap_err().field, "mode");
    }

    #[test]
    fn an_override_decodes_its_values_or_names_the_field() {
        let mut values = Capabilities::new();
        values
            .insert(
                "accuracy",
                vigil_qos::Value::parse_capability("0.5").unwrap(),
            )
            .unwrap();
        let mut wire = CapabilityOverrideWire {
            version: WIRE_VERSION,
            producer: "imu_c".into(),
            capabilities: values.encode_cdr(),
            mode: "degraded_nav".into(),
            by: "recover".into(),
            timestamp_ns: 1,
        };
        assert_eq!(wire.validate().unwrap(), values);
        wire.capabilities.truncate(3);
        let e = wire.validate().unwrap_err();
        assert_eq!(e.field, "capabilities");
        assert!(
            e.to_string().starts_with("capability override of imu_c"),
            "{e}"
        );
        wire.capabilities = Capabilities::new().encode_cdr();
        wire.producer = String::new();
        assert_eq!(wire.validate().unwrap_err().field, "producer");
    }
}
