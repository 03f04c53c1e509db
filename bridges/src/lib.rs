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
//! - `ros2::naming`: ROS 2 topic, service and type names ↔ DDS names, with
//!   the ROS 2 name rules ([`topic_to_dds`], [`type_to_dds`], [`NameError`]).
//! - `ros2::msgs`: `diagnostic_msgs` wire types, CDR-compatible with ROS 2
//!   ([`DiagnosticArray`], [`encode`], [`decode`]).
//! - `ros2::ingest`: diagnostic_aggregator analyzer files as vigil trees, and
//!   routing of incoming statuses to tree leaves ([`Analyzers`]).
//! - `ros2::publish`: the tree as `/diagnostics_agg` and
//!   `/diagnostics_toplevel_state`, and when to publish ([`PublishPolicy`]).
//! - `ros2::discovery_info`: rmw's `ros_discovery_info`, which node owns
//!   which writer ([`decode_discovery_info`]).
//! - `ros2::agent`: `vigil agent` ([`Agent`], [`AgentConfig`]): proxy
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
mod ros2;
#[cfg(feature = "zenoh")]
pub mod zenoh;

pub use raw::{
    KeyError, RawCdr2Le, RawCdrLe, RawDecoder, RawEncoding, RawKeyedSample, RawReader, RawSample,
    RawWriteError, RawWriter,
};

pub use ros2::agent::{
    Agent, AgentConfig, AgentEvent, ConfigError, ConfigProblem, ProducerConfig, RelayConfig,
    TopicConfig,
};
pub use ros2::discovery_info::{
    decode as decode_discovery_info, DiscoveryInfoError, NodeEntities, ParticipantEntities,
    DISCOVERY_INFO_TOPIC, DISCOVERY_INFO_TYPE,
};
pub use ros2::ingest::{
    sanitize_label, Analyzers, ImportError, ImportProblem, ImportProblemKind, Mapping, MappingKind,
    RouteError,
};
pub use ros2::msgs::{
    decode, decode_status, encode, level, DiagnosticArray, DiagnosticStatus, Header, KeyValue,
    Time, WireError, DIAGNOSTICS_AGG_TOPIC, DIAGNOSTICS_TOPIC, DIAGNOSTICS_TOPLEVEL_TOPIC,
    DIAGNOSTIC_ARRAY_TYPE, DIAGNOSTIC_STATUS_TYPE,
};
pub use ros2::naming::{
    resolve_name, service_from_dds, service_to_dds, service_type_to_dds, topic_from_dds,
    topic_to_dds, type_from_dds, type_to_dds, validate_fully_qualified, validate_name, NameError,
    NameErrorKind, ServiceRole, TypeNameError, MAX_NAME_LEN, REPLY_PREFIX, REQUEST_PREFIX,
    TOPIC_PREFIX,
};
pub use ros2::publish::{aggregated_array, ros_name, toplevel_state, PublishPolicy};
