//! DDS QoS policies and requested-vs-offered (RxO) compatibility.
//!
//! Follows DDS 1.4 §2.2.3 ("Supported QoS", the RxO column): a writer
//! *offers* a QoS, a reader *requests* one, and they match only when, for
//! every RxO policy, the offered value is at least as good as the requested
//! one. The relation is **not symmetric**: every function here names which
//! side is the offered one.
//!
//! Ordered policies are `Ord` enums declared from weakest to strongest, so
//! each rule reads `offered >= requested`.
//!
//! A policy left out (`None`) takes the DDS 1.4 default for the role: a
//! DataWriter offers RELIABLE reliability, a DataReader requests
//! BEST_EFFORT; both default to VOLATILE durability, an infinite deadline,
//! AUTOMATIC liveliness with an infinite lease, SHARED ownership and
//! BY_RECEPTION_TIMESTAMP destination order.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::unit::Dimension;
use crate::value::Quantity;

/// A QoS name or duration that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("invalid {policy} `{input}`: expected {expected}")]
pub struct QosParseError {
    /// The policy being read (`reliability`, `deadline`, ...).
    pub policy: &'static str,
    /// The text given.
    pub input: String,
    /// What would have been accepted.
    pub expected: &'static str,
}

macro_rules! ordered_policy {
    (
        $(#[$doc:meta])* $name:ident, $policy:literal, $expected:literal,
        { $( $(#[$vdoc:meta])* $variant:ident = $text:literal / $dds:literal ),+ $(,)? }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( $(#[$vdoc])* $variant, )+
        }

        impl $name {
            /// Every value, weakest first.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The snake_case name used in JSON and queries.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// The DDS specification's name (`RELIABLE`, `TRANSIENT_LOCAL`, ...).
            pub fn dds_name(self) -> &'static str {
                match self { $($name::$variant => $dds,)+ }
            }
        }

        impl FromStr for $name {
            type Err = QosParseError;

            /// Accepts the snake_case or DDS name, case-insensitively.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(s) || v.dds_name().eq_ignore_ascii_case(s))
                    .ok_or_else(|| QosParseError { policy: $policy, input: s.to_owned(), expected: $expected })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.dds_name())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

ordered_policy!(
    /// RELIABILITY kind, weakest first.
    Reliability, "reliability", "best_effort or reliable",
    {
        /// Samples may be lost.
        BestEffort = "best_effort" / "BEST_EFFORT",
        /// Lost samples are repaired.
        Reliable = "reliable" / "RELIABLE",
    }
);

ordered_policy!(
    /// DURABILITY kind, weakest first.
    Durability, "durability", "volatile, transient_local, transient or persistent",
    {
        /// No samples for late joiners.
        Volatile = "volatile" / "VOLATILE",
        /// The writer keeps samples for late joiners.
        TransientLocal = "transient_local" / "TRANSIENT_LOCAL",
        /// A service keeps samples beyond the writer.
        Transient = "transient" / "TRANSIENT",
        /// Samples survive on permanent storage.
        Persistent = "persistent" / "PERSISTENT",
    }
);

ordered_policy!(
    /// LIVELINESS kind, least strict first.
    LivelinessKind, "liveliness kind", "automatic, manual_by_participant or manual_by_topic",
    {
        /// The middleware asserts liveliness.
        Automatic = "automatic" / "AUTOMATIC",
        /// The application asserts it for the participant.
        ManualByParticipant = "manual_by_participant" / "MANUAL_BY_PARTICIPANT",
        /// The application asserts it per writer.
        ManualByTopic = "manual_by_topic" / "MANUAL_BY_TOPIC",
    }
);

ordered_policy!(
    /// OWNERSHIP kind (not ordered by the spec: must be equal).
    Ownership, "ownership", "shared or exclusive",
    {
        /// Every writer's samples are delivered.
        Shared = "shared" / "SHARED",
        /// Only the strongest live writer's samples are delivered.
        Exclusive = "exclusive" / "EXCLUSIVE",
    }
);

ordered_policy!(
    /// DESTINATION_ORDER kind, weakest first.
    DestinationOrder, "destination order", "by_reception_timestamp or by_source_timestamp",
    {
        /// Samples are ordered as received.
        ByReceptionTimestamp = "by_reception_timestamp" / "BY_RECEPTION_TIMESTAMP",
        /// Samples are ordered by the writer's timestamp.
        BySourceTimestamp = "by_source_timestamp" / "BY_SOURCE_TIMESTAMP",
    }
);

/// A DDS duration: finite or infinite (`DURATION_INFINITE`), ordered with
/// infinite greatest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Period {
    /// A finite duration.
    Finite(Duration),
    /// No limit.
    #[default]
    Infinite,
}

impl Period {
    /// Seconds as f64; infinite for [`Period::Infinite`].
    pub fn as_secs_f64(self) -> f64 {
        match self {
            Period::Finite(d) => d.as_secs_f64(),
            Period::Infinite => f64::INFINITY,
        }
    }

    /// A period from a time quantity; fails for other dimensions or
    /// negative values.
    pub fn from_quantity(q: &Quantity, policy: &'static str) -> Result<Period, QosParseError> {
        let err = || QosParseError {
            policy,
            input: q.to_string(),
            expected: "a non-negative time such as `10ms`, or `infinite`",
        };
        if q.dimension() != Dimension::Time {
            return Err(err());
        }
        Duration::try_from_secs_f64(q.base())
            .map(Period::Finite)
            .map_err(|_| err())
    }

    fn parse(text: &str, policy: &'static str) -> Result<Period, QosParseError> {
        if text.eq_ignore_ascii_case("infinite") {
            return Ok(Period::Infinite);
        }
        let q = Quantity::parse(text).map_err(|_| QosParseError {
            policy,
            input: text.to_owned(),
            expected: "a non-negative time such as `10ms`, or `infinite`",
        })?;
        Period::from_quantity(&q, policy)
    }
}

impl FromStr for Period {
    type Err = QosParseError;

    /// `10ms`, `1.5s`, `infinite`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Period::parse(s, "duration")
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Infinite => f.write_str("infinite"),
            Period::Finite(d) => {
                let nanos = d.as_nanos();
                let (div, unit) = [
                    (1_000_000_000, "s"),
                    (1_000_000, "ms"),
                    (1_000, "us"),
                    (1, "ns"),
                ]
                .into_iter()
                .find(|(div, _)| nanos % div == 0)
                .unwrap_or((1, "ns"));
                write!(f, "{}{unit}", nanos / div)
            }
        }
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// LIVELINESS: kind and lease duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Liveliness {
    /// Who asserts liveliness.
    pub kind: LivelinessKind,
    /// How long without an assertion before the writer is not alive.
    #[serde(default)]
    pub lease: Period,
}

// Written out: the macro that declares the policy enums derives no
// `Default`, since reliability's default depends on the role.
#[allow(clippy::derivable_impls)]
impl Default for LivelinessKind {
    fn default() -> Self {
        LivelinessKind::Automatic
    }
}

/// Which side of a match a set of policies describes; decides the defaults
/// for policies left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A DataWriter's offered QoS.
    Offered,
    /// A DataReader's requested QoS.
    Requested,
}

/// The RxO policies of one side, each optional (a missing one takes the
/// DDS default for the [`Role`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QosPolicies {
    /// RELIABILITY kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reliability: Option<Reliability>,
    /// DURABILITY kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub durability: Option<Durability>,
    /// DEADLINE period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Period>,
    /// LIVELINESS kind and lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveliness: Option<Liveliness>,
    /// OWNERSHIP kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ownership: Option<Ownership>,
    /// DESTINATION_ORDER kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_order: Option<DestinationOrder>,
}

impl QosPolicies {
    /// Reliability, or the DDS default for `role` (writers RELIABLE,
    /// readers BEST_EFFORT).
    pub fn reliability_for(&self, role: Role) -> Reliability {
        self.reliability.unwrap_or(match role {
            Role::Offered => Reliability::Reliable,
            Role::Requested => Reliability::BestEffort,
        })
    }

    /// Durability, default VOLATILE.
    pub fn durability_or_default(&self) -> Durability {
        self.durability.unwrap_or(Durability::Volatile)
    }

    /// Deadline, default infinite.
    pub fn deadline_or_default(&self) -> Period {
        self.deadline.unwrap_or(Period::Infinite)
    }

    /// Liveliness, default AUTOMATIC with an infinite lease.
    pub fn liveliness_or_default(&self) -> Liveliness {
        self.liveliness.unwrap_or_default()
    }

    /// Ownership, default SHARED.
    pub fn ownership_or_default(&self) -> Ownership {
        self.ownership.unwrap_or(Ownership::Shared)
    }

    /// Destination order, default BY_RECEPTION_TIMESTAMP.
    pub fn destination_order_or_default(&self) -> DestinationOrder {
        self.destination_order
            .unwrap_or(DestinationOrder::ByReceptionTimestamp)
    }
}

mod rxo;

pub use rxo::{incompatibilities, is_compatible, Incompatibility};

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Period {
        Period::Finite(Duration::from_millis(n))
    }

    #[test]
    fn json_names_and_durations() {
        let qos: QosPolicies = serde_json::from_str(
            r#"{"reliability": "reliable", "durability": "TRANSIENT_LOCAL", "deadline": "10ms",
                "liveliness": {"kind": "manual_by_topic", "lease": "0.1s"}}"#,
        )
        .unwrap();
        assert_eq!(qos.durability, Some(Durability::TransientLocal));
        assert_eq!(qos.deadline, Some(ms(10)));
        assert_eq!(qos.liveliness.unwrap().lease, ms(100));
        let json = serde_json::to_string(&qos).unwrap();
        assert_eq!(serde_json::from_str::<QosPolicies>(&json).unwrap(), qos);
        let err =
            serde_json::from_str::<QosPolicies>(r#"{"reliability": "sometimes"}"#).unwrap_err();
        assert!(
            err.to_string().contains("invalid reliability `sometimes`"),
            "{err}"
        );
        assert!(serde_json::from_str::<QosPolicies>(r#"{"deadline": "5Hz"}"#).is_err());
        assert!(serde_json::from_str::<QosPolicies>(r#"{"deadline": "-5ms"}"#).is_err());
        assert!(serde_json::from_str::<QosPolicies>(r#"{"reliabilty": "reliable"}"#).is_err());
        assert_eq!("infinite".parse::<Period>(), Ok(Period::Infinite));
        assert_eq!(
            Period::Finite(Duration::from_micros(1500)).to_string(),
            "1500us"
        );
    }
}
