//! vigil: diagnostic-aware service discovery for DDS/pub-sub systems. A
//! [`Producer`] publishes samples with a health derived from its diagnostic
//! tree; a [`Consumer`] gets samples from whichever producer satisfies its
//! constraint query best now, and is rerouted down a fallback chain, without
//! flapping, when that one degrades or dies.
//!
//! Both roles run over DDS (rustdds; ROS 2 nodes take part through plain
//! DDS) or over the in-process transport of
//! [`vigil_discovery::inproc`], where the caller moves the clock and a
//! scenario of many producers runs deterministically in milliseconds.
//!
//! ```
//! use std::time::Duration;
//! use vigil::{Consumer, Event, Producer, SyntheticSample, Transport};
//! use vigil_diag::State;
//! use vigil_discovery::inproc::InProcess;
//!
//! # fn main() -> Result<(), vigil::Error> {
//! let net = InProcess::new(Default::default());
//! let sim = Transport::from(net.clone());
//! let fine = Producer::<SyntheticSample>::builder("imu", "imu_a")
//!     .capability("accuracy", "0.001")
//!     .start(&sim)?;
//! let coarse = Producer::<SyntheticSample>::builder("imu", "imu_b")
//!     .capability("accuracy", "0.01")
//!     .start(&sim)?;
//! let mut consumer =
//!     Consumer::<SyntheticSample>::builder("imu WHERE health.state = OK PREFER accuracy ASC")
//!         .start(&sim)?;
//! net.advance(Duration::from_millis(10));
//! assert_eq!(consumer.active().unwrap().producer, "imu_a");
//!
//! fine.set("imu_a.health", State::Failed)?; // consumers leave it at once
//! net.advance(Duration::from_millis(10));
//! assert_eq!(consumer.active().unwrap().producer, "imu_b");
//! let switches = std::iter::from_fn(|| consumer.try_next())
//!     .filter(|e| matches!(e, Event::Switched(_)))
//!     .count();
//! assert_eq!(switches, 2); // the initial selection, then the failover
//! # drop(coarse);
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - `producer`: [`Producer`] and its [`ProducerBuilder`].
//! - `consumer`: [`Consumer`], its [`ConsumerBuilder`], and what it
//!   receives: [`Event`] ([`Switch`], [`Resumed`], samples).
//! - `transport`: [`Transport`], DDS or in process.
//! - `error`: [`Error`].
//! - [`metrics`]: Prometheus counters of a consumer's core and the HTTP
//!   server of `GET /metrics`.
//! - [`record`]: the flight recorder (every input and decision of a
//!   consumer's core to MCAP) and the exact replay of its files.
//! - `kb` (feature `kb`): the knowledge base in PostgreSQL + ltree: tree
//!   versions, health history, routing events (`vigil kb`).
//! - The workspace crates, re-exported: [`diag`] (the diagnostic tree),
//!   [`qos`] (capabilities, queries, DDS QoS), [`discovery`] (adverts,
//!   registry, selection, the DDS and in-process shells), [`bridges`]
//!   (ROS 2 and Zenoh).
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
// Denied, not only warned: every public item is documented (issue 15).
#![deny(missing_docs)]

mod consumer;
mod error;
#[cfg(feature = "kb")]
pub mod kb;
pub mod latency;
pub mod metrics;
mod producer;
pub mod record;
mod transport;

pub use consumer::{
    Consumer, ConsumerBuilder, ConsumerStats, ConsumerView, Event, Resumed, Switch,
};
pub use error::Error;
pub use producer::{Producer, ProducerBuilder};
pub use transport::Transport;

pub use vigil_bridges as bridges;
pub use vigil_diag as diag;
pub use vigil_discovery as discovery;
pub use vigil_qos as qos;

/// A DDS instance key (rustdds's): what a sample type implements to be
/// published; `type K = ();` for a keyless type such as a ROS 2 message.
pub use rustdds::Keyed;
/// Delivered samples: the value, its producer, its source timestamp, and
/// whether a hot standby replayed it.
pub use vigil_discovery::Delivered;
/// The synthetic sample of `vigil produce` and the demo.
pub use vigil_discovery::SyntheticSample;

/// What a sample type needs to travel through vigil: serde for CDR, a DDS
/// key, and `Clone + Send + Sync` for the in-process transport. Implemented
/// for every such type.
pub trait Sample:
    Keyed<K: serde::Serialize + serde::de::DeserializeOwned>
    + serde::Serialize
    + serde::de::DeserializeOwned
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<T> Sample for T where
    T: Keyed<K: serde::Serialize + serde::de::DeserializeOwned>
        + serde::Serialize
        + serde::de::DeserializeOwned
        + Clone
        + Send
        + Sync
        + 'static
{
}
