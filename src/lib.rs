//! vigil: diagnostic-aware service discovery for DDS/pub-sub systems.
//!
//! This facade re-exports the workspace crates; the `vigil` binary is the
//! command line over them.
//!
//! # Layout
//!
//! - [`diag`]: the diagnostic knowledge tree.
//! - [`qos`]: capability vectors, constraint queries, DDS QoS compatibility.
//! - [`discovery`]: adverts, registry, matching and fallback chains over DDS.
//! - [`bridges`]: ROS 2 and Zenoh.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

pub use vigil_bridges as bridges;
pub use vigil_diag as diag;
pub use vigil_discovery as discovery;
pub use vigil_qos as qos;
