//! End-to-end harness of followed streams on Zenoh (issue 16): `kill -9`
//! of the active DDS producer -> the first sample on the followed Zenoh
//! key from the next one, as a Python Zenoh application receives it;
//! through the standalone `vigil bridge zenoh` and through the zenohd
//! plugin. Prints medians and p99; BENCHMARKS.md records the figures.
//!
//! `cargo test --features zenoh --bench zenoh_follow -- --bench` (a debug
//! build, as the tests'; needs `scripts/peers`, `scripts/zenohd` and the
//! plugin: `cargo build --workspace --all-features`).
//!
//! Each cycle starts a better producer (accuracy 0.001) beside a standby
//! (0.003), waits until the stream has reverted to it (wait-to-restore
//! 200 ms) and its samples flow, then kills it: both producers at 200 Hz,
//! a 100 ms lease (vigil's default), so the figure is the lease plus the
//! bridge's work. Clocks: the JSON lines' (one host).

// The e2e tests' harness (it allows its own dead code).
#[path = "../tests/support/mod.rs"]
mod support;
#[path = "../tests/support/zenohd.rs"]
mod zenohd;

use std::time::Duration;

use serde_json::Value;
use support::{report, t, unix_now, Proc, PATIENCE};
use zenohd::{client, plugin, router_config, wait_running, Router};

const CYCLES: usize = 20;
const QUERY: &str = "imu WHERE health.state = OK PREFER accuracy ASC";
const KEY: &str = "vigil/followed/imu_best";
const LEASE_MS: &str = "100";

fn main() {
    // `cargo test --all-targets` runs bench targets without `--bench`; this
    // harness takes minutes of real processes, so it only says how to run.
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "zenoh_follow harness: run it with `cargo test --features zenoh --bench zenoh_follow -- --bench`"
        );
        return;
    }
    let mut standalone = standalone(165, 21410);
    report(
        "standalone `vigil bridge zenoh`: kill -9 of the active DDS producer (lease 100 ms, 200 Hz) -> first sample on the followed key from the next one",
        &mut standalone,
    );
    let mut plugin = in_zenohd(166, 21411);
    report(
        "zenohd plugin: kill -9 of the active DDS producer (lease 100 ms, 200 Hz) -> first sample on the followed key from the next one",
        &mut plugin,
    );
}

/// The bridge's keys for the cycles: `imu` both ways, one followed stream.
fn bridge_keys(yaml: bool) -> String {
    if yaml {
        format!(
            "topics:\n  - topic: imu\n    type: vigil::demo::Sample_v1\n    keyed: true\n    forward: both\n\
             follow:\n  - key: imu_best\n    query: {QUERY}\n    wait_to_restore: 200ms\n"
        )
    } else {
        format!(
            r#"topics: [{{ topic: "imu", type: "vigil::demo::Sample_v1", keyed: true, forward: "both" }}],
      follow: [{{ key: "imu_best", query: "{QUERY}", wait_to_restore: "200ms" }}],"#
        )
    }
}

fn standalone(domain: u16, port: u16) -> Vec<f64> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = dir.path().join("bridge.yaml");
    let text = format!(
        "zenoh:\n  mode: peer\n  listen: [tcp/127.0.0.1:{port}]\n  multicast_scouting: false\n{}",
        bridge_keys(true)
    );
    std::fs::write(&config, text).expect("write the bridge config");
    let config = config.to_string_lossy().into_owned();
    let domain_arg = domain.to_string();
    let args = [
        "bridge",
        "zenoh",
        "--config",
        &config,
        "--domain",
        &domain_arg,
        "--format",
        "json",
    ];
    let mut bridge = Proc::spawn("bridge", &args);
    bridge.wait_for(PATIENCE, |v| v["event"] == "ready");
    let app = client("app", port);
    cycles(domain, app)
}

fn in_zenohd(domain: u16, port: u16) -> Vec<f64> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let section = format!("domain: {domain},\n      {}", bridge_keys(false));
    let config = router_config(dir.path(), port, &plugin(), &section);
    let router = Router::start(&config, dir.path().join("zenohd.log"));
    let mut app = client("app", port);
    wait_running(&mut app, &router);
    cycles(domain, app)
}

/// A `vigil produce` at 200 Hz with the harness's lease.
fn producer(domain: u16, id: &str, accuracy: &str) -> Proc {
    let domain = domain.to_string();
    let cap = format!("accuracy={accuracy}");
    let args = [
        "produce",
        "--domain",
        &domain,
        "--topic",
        "imu",
        "--id",
        id,
        "--rate",
        "200",
        "--lease-ms",
        LEASE_MS,
        "--cap",
        &cap,
        "--format",
        "json",
        "--exit-on-eof",
    ];
    let mut p = Proc::spawn(id, &args);
    p.wait_for(PATIENCE, |v| v["event"] == "ready");
    p
}

fn from<'a>(producer: &'a str) -> impl Fn(&Value) -> bool + 'a {
    move |v| v["event"] == "from" && v["key"] == KEY && v["producer"] == producer
}

fn cycles(domain: u16, mut app: Proc) -> Vec<f64> {
    let _standby = producer(domain, "standby", "0.003");
    app.send(&format!("declare {QUERY}"));
    app.wait_seen(PATIENCE, from("standby"));
    let mut out = Vec::new();
    for i in 0..CYCLES {
        let id = format!("active{i}");
        let mark = app.mark();
        let mut active = producer(domain, &id, "0.001");
        app.wait_since(mark, PATIENCE, from(&id));
        // Its samples flowing, the standby's stream open.
        std::thread::sleep(Duration::from_millis(300));
        let mark = app.mark();
        let killed_at = unix_now();
        active.kill9();
        let next = app.wait_since(mark, PATIENCE, from("standby"));
        out.push((t(&next) - killed_at) * 1000.0);
    }
    out
}
