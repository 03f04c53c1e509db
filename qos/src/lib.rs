//! Capability vectors, constraint queries and DDS QoS compatibility: how a
//! producer says what it offers, how a consumer says what it needs, and
//! which producers satisfy it, best first.
//!
//! A pure library: no I/O, no clock, no threads.
//!
//! ```
//! use vigil_qos::{AdvertView, Query, Quantity};
//!
//! let query = Query::parse(
//!     "imu WHERE health.state <= DEGRADED AND latency_p99 < 1ms PREFER rate DESC",
//! )?;
//! let mut a = AdvertView::new("imu_a", "imu");
//! a.capabilities.insert("latency_p99", Quantity::parse("0.4ms")?)?;
//! a.capabilities.insert("rate", Quantity::parse("200Hz")?)?;
//! a.health.state = vigil_diag::State::Ok;
//! let b = AdvertView::new("imu_b", "imu"); // no latency: rejected
//! let adverts = [a, b];
//! let compiled = query.compile();
//! let ranking = compiled.rank(&adverts);
//! assert_eq!(ranking.selected().map(|r| r.index), Some(0));
//! let why = compiled.explain(&adverts[1]);
//! assert!(why.iter().any(|r| r.to_string() == "missing capability latency_p99"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layout
//!
//! - `unit`: [`Unit`]s and the [`Dimension`]s they measure.
//! - `value`: [`Quantity`] (a number with a unit) and [`Value`] (quantity,
//!   string, boolean or health state).
//! - `capability`: [`Capabilities`], the ordered key → value map a producer
//!   offers, its [`WellKnown`] keys, and its versioned CDR encoding.
//! - `degrade`: [`Degradation`] rules that worsen capabilities when health
//!   degrades.
//! - `dds_qos`: DDS QoS policies and requested-vs-offered compatibility
//!   ([`incompatibilities`]).
//! - `candidate`: the [`Candidate`] trait matching reads, and [`AdvertView`].
//! - `query`: the language ([`Query`], its AST and [`ParseError`]), the
//!   [`CompiledQuery`] evaluator, [`Ranking`] and [`Rejection`] reasons.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

mod candidate;
mod capability;
mod dds_qos;
mod degrade;
mod query;
mod unit;
mod value;

pub use candidate::{AdvertView, Candidate, HealthView};
pub use capability::{Capabilities, CapabilityError, DecodeError, Key, WellKnown, MAX_KEY_LEN};
pub use dds_qos::{
    incompatibilities, is_compatible, DestinationOrder, Durability, Incompatibility, Liveliness,
    LivelinessKind, Ownership, Period, QosParseError, QosPolicies, Reliability, Role,
};
pub use degrade::{Adjust, Degradation, DegradeError, DegradeRule, RuleProblem};
pub use query::{
    Clause, CmpOp, CompiledQuery, Direction, Expr, Literal, Operand, Order, ParseError, QosField,
    Query, Ranked, Ranking, Reason, Rejection,
};
pub use unit::{Dimension, Unit};
pub use value::{DimensionMismatch, Quantity, Value, ValueError};
