//! ROS 2 over plain DDS: names, `diagnostic_msgs`, the aggregator import
//! and the aggregated output, and `vigil agent` on top of them, which
//! moves them over DDS for unmodified ROS 2 nodes. One flat namespace:
//! `vigil_bridges::ros2::{Agent, DiagnosticArray, topic_to_dds, ...}`.

pub(crate) mod agent;
mod cdr;
pub(crate) mod discovery_info;
pub(crate) mod ingest;
pub(crate) mod msgs;
pub(crate) mod naming;
pub(crate) mod publish;

pub use self::agent::{
    Agent, AgentConfig, AgentEvent, ConfigError, ConfigProblem, ProducerConfig, RelayConfig,
    TopicConfig,
};
pub use self::discovery_info::{
    decode as decode_discovery_info, DiscoveryInfoError, NodeEntities, ParticipantEntities,
    DISCOVERY_INFO_TOPIC, DISCOVERY_INFO_TYPE,
};
pub use self::ingest::{
    sanitize_label, Analyzers, ImportError, ImportProblem, ImportProblemKind, Mapping, MappingKind,
    RouteError,
};
pub use self::msgs::{
    decode, decode_status, encode, level, DiagnosticArray, DiagnosticStatus, Header, KeyValue,
    Time, WireError, DIAGNOSTICS_AGG_TOPIC, DIAGNOSTICS_TOPIC, DIAGNOSTICS_TOPLEVEL_TOPIC,
    DIAGNOSTIC_ARRAY_TYPE, DIAGNOSTIC_STATUS_TYPE,
};
pub use self::naming::{
    resolve_name, service_from_dds, service_to_dds, service_type_to_dds, topic_from_dds,
    topic_to_dds, type_from_dds, type_to_dds, validate_fully_qualified, validate_name, NameError,
    NameErrorKind, ServiceRole, TypeNameError, MAX_NAME_LEN, REPLY_PREFIX, REQUEST_PREFIX,
    TOPIC_PREFIX,
};
pub use self::publish::{aggregated_array, ros_name, toplevel_state, PublishPolicy};
