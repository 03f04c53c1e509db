//! Bridges from vigil to ROS 2 (naming, `diagnostic_msgs`, an agent for
//! unmodified nodes, over plain DDS) and to Zenoh networks (feature `zenoh`).
//!
//! The pure parts (names, wire types, the aggregator import, the agent's
//! config and proxy model) take no clock and open no socket; the agent's
//! runner and the Zenoh bridge are the shells that do.
//!
//! # Layout
//!
//! - `raw`: type-agnostic DDS samples ([`RawSample`]): a relay forwards
//!   samples of types it has never seen, encoding and all.
//! - [`ros2`]: everything ROS 2, one flat namespace; inside it:
//! - `ros2::naming`: ROS 2 topic, service and type names ↔ DDS names, with
//!   the ROS 2 name rules ([`ros2::topic_to_dds`], [`ros2::type_to_dds`], [`ros2::NameError`]).
//! - `ros2::msgs`: `diagnostic_msgs` wire types, CDR-compatible with ROS 2
//!   ([`ros2::DiagnosticArray`], [`ros2::encode`], [`ros2::decode`]).
//! - `ros2::ingest`: diagnostic_aggregator analyzer files as vigil trees, and
//!   routing of incoming statuses to tree leaves ([`ros2::Analyzers`]).
//! - `ros2::publish`: the tree as `/diagnostics_agg` and
//!   `/diagnostics_toplevel_state`, and when to publish ([`ros2::PublishPolicy`]).
//! - `ros2::discovery_info`: rmw's `ros_discovery_info`, which node owns
//!   which writer ([`ros2::decode_discovery_info`]).
//! - `ros2::agent`: `vigil agent` ([`ros2::Agent`], [`ros2::AgentConfig`]): proxy
//!   adverts for the writers of unmodified ROS 2 nodes (measured rate,
//!   staleness, their `/diagnostics`) and a raw relay of the best one.
//! - `zenoh` (feature `zenoh`): `vigil bridge zenoh`, adverts, liveliness,
//!   registry and data between a DDS domain and a Zenoh network.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
// Denied, not only warned: every public item is documented (issue 15).
#![deny(missing_docs)]

mod config_file;
mod raw;
pub mod ros2;
#[cfg(feature = "zenoh")]
pub mod zenoh;

pub use raw::{
    KeyError, RawCdr2Le, RawCdrLe, RawDecoder, RawEncoding, RawKeyedSample, RawReader, RawSample,
    RawWriteError, RawWriter,
};
