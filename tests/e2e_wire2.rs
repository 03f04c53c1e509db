//! Issue 14, wire v2 during an upgrade, with separate OS processes: v1
//! builds (`--wire-version 1`: single heartbeats, no bundle reader) and
//! v2 builds on one domain. A v1 consumer keeps every v2 producer alive
//! (v2 writers send it single heartbeats while it is there), a v2 consumer
//! keeps reading a v1 producer, failures reach both, and once the v1
//! consumer leaves the v2 consumer follows bundles alone. Domain 190.

mod support;

use std::time::Duration;

use support::{selected, terminate, Proc, PATIENCE};

const QUERY: &str = "imu WHERE health.state = OK PREFER accuracy ASC";
const V1: &[&str] = &["--wire-version", "1"];

/// No switch away from the current producer for `quiet`: its heartbeats
/// keep arriving (the test lease is 300 ms; this is many leases).
fn stays(c: &mut Proc, quiet: Duration) {
    let mark = c.mark();
    if let Some(v) = c.try_wait_for(quiet, |v| v["event"] == "selected") {
        panic!(
            "{}: switched while nothing changed (lost heartbeats?): {v}\nseen since: {:?}",
            "consumer",
            c.mark() - mark
        );
    }
}

#[test]
fn v1_and_v2_processes_coexist_during_an_upgrade() {
    let domain = 190;
    let mut new = Proc::producer(domain, "imu_new", &["accuracy=0.001"], &[]);
    let _old = Proc::producer(domain, "imu_old", &["accuracy=0.002"], V1);
    let mut c1 = Proc::consumer(domain, QUERY, V1);
    let mut c2 = Proc::consumer(domain, QUERY, &[]);
    for c in [&mut c1, &mut c2] {
        c.wait_for(PATIENCE, |v| selected(v, "imu_new"));
        c.wait_for(PATIENCE, |v| {
            v["event"] == "first_sample" && v["producer"] == "imu_new"
        });
    }
    // The v1 consumer reads no bundles: only the single heartbeats the v2
    // producer sends because it is there keep imu_new alive for it.
    stays(&mut c1, Duration::from_secs(3));
    stays(&mut c2, Duration::from_millis(100));

    // A failure reaches both; the v2 consumer then lives on the v1
    // producer's single heartbeats.
    new.send("set imu_new.health FAILED");
    for c in [&mut c1, &mut c2] {
        let switch = c.wait_for(PATIENCE, |v| selected(v, "imu_old"));
        let cause = switch["cause"].as_str().unwrap_or_default();
        assert!(cause.contains("FAILED"), "cause: {switch}");
    }
    stays(&mut c2, Duration::from_secs(2));

    // The v1 consumer leaves: imu_new goes back to bundles, which the v2
    // consumer follows when imu_new recovers.
    terminate(&c1);
    assert_eq!(c1.wait_exit(PATIENCE), Some(true), "{}", c1.stderr());
    new.send("set imu_new.health OK");
    c2.wait_for(PATIENCE, |v| selected(v, "imu_new"));
    stays(&mut c2, Duration::from_secs(3));
}
