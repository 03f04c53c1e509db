//! End-to-end failover harness (work in progress).

fn main() {}
