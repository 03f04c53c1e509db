//! ROS 2 over plain DDS: names, `diagnostic_msgs`, the aggregator import
//! and the aggregated output. Pure: the agent that moves these over DDS
//! sits on top.

pub(crate) mod agent;
mod cdr;
pub(crate) mod discovery_info;
pub(crate) mod ingest;
pub(crate) mod msgs;
pub(crate) mod naming;
pub(crate) mod publish;
