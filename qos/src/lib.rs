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
//! - `table`: [`MatchTable`], candidates stored by column for fast matching.
//! - `query`: the language ([`Query`], its AST and [`ParseError`]), the
//!   [`CompiledQuery`] evaluator, [`Ranking`] and [`Rejection`] reasons.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
// Denied, not only warned: every public item is documented (issue 15).
#![deny(missing_docs)]

mod candidate;
mod capability;
mod dds_qos;
mod degrade;
mod query;
mod table;
mod unit;
mod value;

pub use candidate::{AdvertView, Candidate, HealthView, NodeStates};
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
pub use table::{MatchTable, Row};
pub use unit::{Dimension, Unit};
pub use value::{DimensionMismatch, Quantity, Value, ValueError};

/// String equality for the short strings of matching (topics, paths):
/// lengths first, then eight bytes at a time, without a `memcmp` call.
#[inline]
pub(crate) fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut chunks_a = a.chunks_exact(8);
    let mut chunks_b = b.chunks_exact(8);
    let word = |c: &[u8]| u64::from_ne_bytes(<[u8; 8]>::try_from(c).unwrap_or_default());
    for (x, y) in (&mut chunks_a).zip(&mut chunks_b) {
        if word(x) != word(y) {
            return false;
        }
    }
    chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .all(|(x, y)| x == y)
}
