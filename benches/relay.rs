//! End-to-end harness of the agent's relay with real Cyclone DDS nodes
//! (issue 5): how fast `vigil agent` reroutes `/imu/data/best` when the
//! active node reports ERROR, and how long an unmodified subscriber of the
//! relay goes without a sample. Prints medians and p99; BENCHMARKS.md
//! records the figures.
//!
//! `cargo bench --bench relay` (needs the interop peers: `scripts/peers`).
//!
//! Two Cyclone processes play IMU drivers at 200 Hz, a third subscribes to
//! the relay. Each cycle sends `level 2` to the node being relayed and
//! measures, on the JSON lines' clocks (one host): ERROR sent → the agent's
//! `selected` line, and the relay's gap (last sample of the old node →
//! first of the new one at the subscriber). Then the node recovers (`level
//! 0`) and the relay reverts after wait-to-restore.

// The e2e tests' harness (it allows its own dead code).
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use serde_json::Value;
use support::{Proc, CYCLONE_LOOPBACK, PATIENCE};

const DOMAIN: u16 = 91;
const CYCLES: usize = 20;

fn main() {
    // `cargo test --all-targets` runs bench targets without `--bench`; this
    // harness takes a minute of real processes, so it only says how to run.
    if !std::env::args().any(|a| a == "--bench") {
        println!("relay harness: run it with `cargo bench --bench relay`");
        return;
    }
    let dir = std::env::temp_dir().join(format!("vigil-relay-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("agent.yaml");
    std::fs::write(
        &config,
        "identify_within: 3s\n\
         topics:\n  - topic: /imu/data\n    type: sensor_msgs/msg/Imu\n    stale_after: 250ms\n    \
         producers:\n      - { node: imu_a, capabilities: { accuracy: 0.01 } }\n      \
         - { node: imu_b, capabilities: { accuracy: 0.02 } }\n    \
         relay: { topic: /imu/data/best, query: 'WHERE health.state = OK PREFER accuracy ASC' }\n",
    )
    .expect("write config");

    let env = [("CYCLONEDDS_URI", CYCLONE_LOOPBACK)];
    let domain = DOMAIN.to_string();
    let mut nodes: Vec<Proc> = ["imu_a", "imu_b"]
        .iter()
        .map(|name| {
            let args = ["--domain", &domain, "--node", name, "--rate", "200"];
            let mut p = Proc::python_peer(name, "cyclone_ros_node.py", &args, &env);
            p.wait_for(PATIENCE, |v| v["event"] == "ready");
            p
        })
        .collect();
    let reader_args = [
        "--domain",
        &domain,
        "--topic",
        "rt/imu/data/best",
        "--kind",
        "imu",
    ];
    let mut reader = Proc::python_peer("reader", "cyclone_reader.py", &reader_args, &env);
    reader.wait_for(PATIENCE, |v| v["event"] == "ready");
    let config = config.to_string_lossy().into_owned();
    let agent_args = [
        "agent", "--config", &config, "--domain", &domain, "--format", "json",
    ];
    let mut agent = Proc::spawn("agent", &agent_args);
    agent.wait_seen(PATIENCE, |v| selected(v, "imu_a"));
    reader.wait_for(PATIENCE, |v| sample_of(v, "imu_a"));

    let mut reroutes = Vec::new();
    let mut gaps = Vec::new();
    for _ in 0..CYCLES {
        // Let the relay settle on imu_a, then fail it.
        reader.try_wait_for(Duration::from_millis(300), |_| false);
        let reader_mark = reader.mark();
        let mark = agent.mark();
        let sent = support::unix_now();
        nodes[0].send("level 2 gyro saturated");
        let switch = agent.wait_since(mark, PATIENCE, |v| selected(v, "imu_b"));
        reroutes.push(support::t(&switch) - sent);
        reader.wait_for(PATIENCE, |v| sample_of(v, "imu_b"));
        // The first sample of imu_b after the ERROR, and the last of imu_a
        // before it (possibly read before the mark).
        let first_new = reader.seen[reader_mark..]
            .iter()
            .position(|v| sample_of(v, "imu_b"))
            .map(|i| i + reader_mark);
        let last_old = first_new.and_then(|end| {
            reader.seen[..end]
                .iter()
                .rposition(|v| sample_of(v, "imu_a"))
        });
        if let (Some(old), Some(new)) = (last_old, first_new) {
            gaps.push(support::t(&reader.seen[new]) - support::t(&reader.seen[old]));
        }
        // Recover: the relay reverts after wait-to-restore.
        let mark = agent.mark();
        nodes[0].send("level 0");
        agent.wait_since(mark, PATIENCE, |v| selected(v, "imu_a"));
        reader.wait_for(PATIENCE, |v| sample_of(v, "imu_a"));
    }
    println!("relay reroute with Cyclone DDS nodes at 200 Hz, {CYCLES} cycles");
    report("ERROR sent -> relay switched", &mut reroutes);
    report("relay gap at the subscriber (5 ms period)", &mut gaps);
    let _ = std::fs::remove_dir_all(&dir);
}

fn selected(v: &Value, producer: &str) -> bool {
    v["event"] == "selected" && v["producer"] == producer
}

fn sample_of(v: &Value, node: &str) -> bool {
    v["event"] == "sample" && v["node"] == node
}

fn report(what: &str, seconds: &mut [f64]) {
    seconds.sort_by(f64::total_cmp);
    if seconds.is_empty() {
        println!("  {what}: no data");
        return;
    }
    let at = |q: f64| seconds[((seconds.len() - 1) as f64 * q).round() as usize] * 1000.0;
    println!(
        "  {what}: median {:.2} ms, p99 {:.2} ms, max {:.2} ms (n = {})",
        at(0.5),
        at(0.99),
        at(1.0),
        seconds.len()
    );
}
