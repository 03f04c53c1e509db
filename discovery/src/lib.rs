//! Diagnostic-aware discovery: producers advertise topics with capabilities
//! and health, consumers are matched to the best producer that is healthy now
//! and rerouted down a fallback chain when it degrades or dies.
//!
//! Not built yet: this crate holds its contract only until its issue is
//! taken (adverts, registry, matching, fallback chains, DDS transport).
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
