//! Capability vectors, constraint queries and DDS QoS compatibility.
//!
//! Not built yet: this crate holds its contract only until its issue is taken.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
