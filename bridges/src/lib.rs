//! Bridges from vigil to ROS 2 (naming, `diagnostic_msgs`, an agent for
//! unmodified nodes, over plain DDS) and to Zenoh networks (feature `zenoh`).
//!
//! Not built yet: this crate holds its contract only until its issue is taken.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
