//! `vigil agent` with real Cyclone DDS processes playing unmodified ROS 2
//! nodes: two IMU drivers publishing `rt/imu/data` and `rt/diagnostics`,
//! and a plain Cyclone subscriber of the relay's `rt/imu/data/best`.
//!
//! Domains 52 and 53. Every wait is on an event with a generous limit; what
//! is asserted is behaviour (who is relayed, which samples arrive, why the
//! relay switched), never speed. The figures measured are printed.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Proc, CYCLONE_LOOPBACK, PATIENCE};

/// The agent config of these tests: two known nodes, imu_a more accurate.
fn config(dir: &tempfile::TempDir) -> PathBuf {
    let path = dir.path().join("agent.yaml");
    // The agent also aggregates every status as diagnostic_aggregator would.
    let analyzers = "\
analyzers:
  ros__parameters:
    path: Robot
    imus:
      type: diagnostic_aggregator/GenericAnalyzer
      path: IMUs
      startswith: [ 'imu' ]
      expected: [ 'imu_a: IMU driver', 'imu_b: IMU driver' ]
";
    std::fs::write(dir.path().join("analyzers.yaml"), analyzers).expect("write the analyzers");
    let text = "\
diagnostics:
  timeout: 5s
  publish_rate: 2Hz
  analyzers: analyzers.yaml
identify_within: 3s
topics:
  - topic: /imu/data
    type: sensor_msgs/msg/Imu
    stale_after: 600ms
    capabilities: { accuracy: 0.05 }
    producers:
      - node: imu_a
        capabilities: { accuracy: 0.01 }
      - node: imu_b
        capabilities: { accuracy: 0.02 }
    relay:
      topic: /imu/data/best
      query: WHERE health.state = OK AND rate >= 20Hz PREFER accuracy ASC
";
    std::fs::write(&path, text).expect("write the agent config");
    path
}

fn env() -> [(&'static str, &'static str); 1] {
    [("CYCLONEDDS_URI", CYCLONE_LOOPBACK)]
}

fn node(domain: u16, name: &str) -> Proc {
    let domain = domain.to_string();
    let args = ["--domain", &domain, "--node", name, "--rate", "50"];
    let mut p = Proc::python_peer(name, "cyclone_ros_node.py", &args, &env());
    p.wait_for(PATIENCE, |v| v["event"] == "ready");
    p
}

fn reader(domain: u16, topic: &str, kind: &str) -> Proc {
    let domain = domain.to_string();
    let args = ["--domain", &domain, "--topic", topic, "--kind", kind];
    let mut p = Proc::python_peer("reader", "cyclone_reader.py", &args, &env());
    p.wait_for(PATIENCE, |v| v["event"] == "ready");
    p
}

fn agent(domain: u16, config: &std::path::Path) -> Proc {
    let domain = domain.to_string();
    let config = config.to_string_lossy().into_owned();
    let args = [
        "agent", "--config", &config, "--domain", &domain, "--format", "json",
    ];
    let mut p = Proc::spawn("agent", &args);
    p.wait_for(PATIENCE, |v| v["event"] == "ready");
    p
}

fn proxy_up(v: &Value, producer: &str) -> bool {
    v["event"] == "proxy" && v["state"] == "up" && v["producer"] == producer
}

fn health(v: &Value, producer: &str, state: &str) -> bool {
    v["event"] == "health" && v["producer"] == producer && v["state"] == state
}

fn relay_selected(v: &Value, producer: &str) -> bool {
    v["event"] == "selected" && v["relay"] == "/imu/data/best" && v["producer"] == producer
}

/// The reader's samples as (t, node, seq), in arrival order.
fn samples(lines: &[Value]) -> Vec<(f64, String, u64)> {
    lines
        .iter()
        .filter(|v| v["event"] == "sample")
        .map(|v| {
            (
                v["t"].as_f64().unwrap_or(f64::NAN),
                v["node"].as_str().unwrap_or("").to_owned(),
                v["seq"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// Samples of `node` are consecutive (no sample of it lost while it was
/// relayed).
fn assert_contiguous(samples: &[(f64, String, u64)], node: &str) {
    let seqs: Vec<u64> = samples
        .iter()
        .filter(|(_, n, _)| n == node)
        .map(|(_, _, s)| *s)
        .collect();
    for pair in seqs.windows(2) {
        assert_eq!(
            pair[1],
            pair[0] + 1,
            "{node}: sample {} followed by {} on the relay",
            pair[0],
            pair[1]
        );
    }
}

#[test]
fn an_error_status_reroutes_the_relay_with_no_gap_beyond_the_reroute() {
    let domain = 52;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(&dir);
    let mut imu_a = node(domain, "imu_a");
    let _imu_b = node(domain, "imu_b");
    let mut best = reader(domain, "rt/imu/data/best", "imu");
    let mut agent = agent(domain, &config);

    // Both writers become candidates, named by their diagnostics.
    agent.wait_seen(PATIENCE, |v| proxy_up(v, "imu_a"));
    agent.wait_seen(PATIENCE, |v| proxy_up(v, "imu_b"));
    let ok = agent.wait_seen(PATIENCE, |v| health(v, "imu_a", "OK"));
    // The node's DiagnosticStatus is a leaf of the proxy's tree.
    let cause = ok["cause"].as_str().unwrap_or("");
    assert!(
        cause.contains("imu_a.diagnostics.imu_a_imu_driver"),
        "the tree ingests the node's status: {cause}"
    );
    agent.wait_seen(PATIENCE, |v| relay_selected(v, "imu_a"));
    best.wait_for(PATIENCE, |v| v["event"] == "sample" && v["node"] == "imu_a");
    // From here on the relay carries imu_a only (whatever it carried
    // before, if imu_a was heard second).
    let from = best.mark();
    // A while on imu_a, so its stream on the relay can be checked.
    std::thread::sleep(Duration::from_secs(1));

    let error_sent = support::unix_now();
    let mark = agent.mark();
    imu_a.send("level 2 gyro saturated");
    let failed = agent.wait_since(mark, PATIENCE, |v| health(v, "imu_a", "FAILED"));
    assert!(
        failed["cause"]
            .as_str()
            .unwrap_or("")
            .contains("imu_a_imu_driver: FAILED"),
        "the ERROR status is the cause: {failed}"
    );
    let switch = agent.wait_since(mark, PATIENCE, |v| relay_selected(v, "imu_b"));
    assert_eq!(switch["previous"], "imu_a", "{switch}");
    assert!(
        switch["cause"].as_str().unwrap_or("").contains("FAILED"),
        "{switch}"
    );
    let reroute = support::t(&switch) - error_sent;
    best.wait_for(PATIENCE, |v| v["event"] == "sample" && v["node"] == "imu_b");
    // Another while on imu_b.
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        best.try_wait_for(Duration::from_millis(100), |_| false);
    }

    let got = samples(&best.seen[from..]);
    let last_a = got
        .iter()
        .rposition(|(_, n, _)| n == "imu_a")
        .expect("imu_a relayed");
    let first_b = got
        .iter()
        .position(|(_, n, _)| n == "imu_b")
        .expect("imu_b relayed");
    assert!(
        last_a < first_b,
        "after the switch only imu_b is relayed: {:?}",
        &got[first_b.saturating_sub(3)..(last_a + 3).min(got.len())]
    );
    assert_contiguous(&got, "imu_a");
    assert_contiguous(&got, "imu_b");
    let gap = got[first_b].0 - got[last_a].0;
    eprintln!(
        "reroute: ERROR sent -> relay switched {:.1} ms; relay gap {:.1} ms (50 Hz: 20 ms period)",
        reroute * 1000.0,
        gap * 1000.0
    );
    // No gap beyond the reroute: the relay is silent for at most the time
    // from the ERROR to the switch, plus a sample period and scheduling.
    assert!(
        gap <= reroute + 0.5,
        "relay gap {gap:.3} s, reroute {reroute:.3} s"
    );
}

#[test]
fn a_silent_writer_goes_stale_and_the_trees_are_published_as_diagnostics_agg() {
    let domain = 53;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(&dir);
    let mut imu_a = node(domain, "imu_a");
    let _imu_b = node(domain, "imu_b");
    let mut agg = reader(domain, "rt/diagnostics_agg", "diagnostics");
    let mut agent = agent(domain, &config);

    agent.wait_seen(PATIENCE, |v| relay_selected(v, "imu_a"));
    // The aggregated view on ROS 2's topic, with the aggregator's names.
    // The analyzers' tree (as diagnostic_aggregator names it, lower case),
    // and every node of every proxy, the nodes' own statuses among them.
    let names = [
        "/robot",
        "/robot/imus/imu_a_imu_driver",
        "/robot/imus/imu_b_imu_driver",
        "/imu_a",
        "/imu_a/diagnostics/imu_a_imu_driver",
        "/imu_a/stream/fresh",
        "/imu_b",
        "/imu_b/diagnostics/imu_b_imu_driver",
        "/imu_b/stream/fresh",
    ];
    let array = agg.wait_for(PATIENCE, |v| {
        v["event"] == "array"
            && v["statuses"].as_array().is_some_and(|s| {
                names
                    .iter()
                    .all(|name| s.iter().any(|s| s["name"] == *name && s["level"] == 0))
            })
    });
    eprintln!("/diagnostics_agg: {array}");

    let mark = agent.mark();
    imu_a.send("pause-imu");
    let stale = agent.wait_since(mark, PATIENCE, |v| health(v, "imu_a", "UNKNOWN"));
    assert_eq!(stale["reason"], "stale", "{stale}");
    let switch = agent.wait_since(mark, PATIENCE, |v| relay_selected(v, "imu_b"));
    assert_eq!(switch["previous"], "imu_a", "{switch}");
    // The degradation reaches the aggregated view.
    agg.wait_for(PATIENCE, |v| {
        v["event"] == "array"
            && v["statuses"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|s| s["name"] == "/imu_a/stream/fresh" && s["level"] == 3)
            })
    });

    // Back: imu_a is better, and the relay returns after wait-to-restore.
    let mark = agent.mark();
    imu_a.send("resume-imu");
    agent.wait_since(mark, PATIENCE, |v| health(v, "imu_a", "OK"));
    let back = agent.wait_since(mark, PATIENCE, |v| relay_selected(v, "imu_a"));
    assert!(
        back["cause"]
            .as_str()
            .unwrap_or("")
            .contains("wait-to-restore"),
        "{back}"
    );
}

#[test]
fn nodes_sharing_one_participant_are_told_apart_by_ros_discovery_info() {
    let domain = 60;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(&dir);
    let domain_text = domain.to_string();
    // A component container: imu_a and imu_b in one process, one DDS
    // participant, and diagnostics that name no hardware apart.
    let args = [
        "--domain",
        &domain_text,
        "--nodes",
        "imu_a,imu_b",
        "--rate",
        "50",
    ];
    let mut container = Proc::python_peer("container", "cyclone_container.py", &args, &env());
    let ready = container.wait_for(PATIENCE, |v| v["event"] == "ready");
    let mut best = reader(domain, "rt/imu/data/best", "imu");
    let mut agent = agent(domain, &config);

    for node in ["imu_a", "imu_b"] {
        let up = agent.wait_seen(PATIENCE, |v| proxy_up(v, node));
        assert_eq!(up["cause"], "named by ros_discovery_info", "{up}");
        assert_eq!(
            up["writer"], ready["nodes"][node]["imu_writer"],
            "{node} is its own writer: {up}"
        );
    }
    agent.wait_seen(PATIENCE, |v| relay_selected(v, "imu_a"));
    best.wait_for(PATIENCE, |v| v["event"] == "sample" && v["node"] == "imu_a");

    // Each node's status reaches its own proxy only.
    let mark = agent.mark();
    container.send("level imu_a 2");
    agent.wait_since(mark, PATIENCE, |v| health(v, "imu_a", "FAILED"));
    agent.wait_since(mark, PATIENCE, |v| relay_selected(v, "imu_b"));
    best.wait_for(PATIENCE, |v| v["event"] == "sample" && v["node"] == "imu_b");
    assert!(
        !agent.seen[mark..]
            .iter()
            .any(|v| health(v, "imu_b", "FAILED")),
        "imu_b stays OK: {:?}",
        &agent.seen[mark..]
    );
}

/// Issue 11: `vigil agent --record FILE.mcap --metrics ADDR:PORT`: the
/// relay's routing core is recorded (and replays exactly) and counted.
#[test]
fn the_relays_routing_is_recorded_and_counted() {
    let domain = 156;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(&dir);
    let recording = dir.path().join("agent.mcap");
    let port = support::free_port();
    let _imu_a = node(domain, "imu_a");
    let _imu_b = node(domain, "imu_b");
    let d = domain.to_string();
    let (c, r, m) = (
        config.to_string_lossy().into_owned(),
        recording.to_string_lossy().into_owned(),
        format!("127.0.0.1:{port}"),
    );
    let args = [
        "agent",
        "--config",
        &c,
        "--domain",
        &d,
        "--format",
        "json",
        "--record",
        &r,
        "--metrics",
        &m,
    ];
    let mut agent = Proc::spawn("agent", &args);
    agent.wait_seen(PATIENCE, |v| relay_selected(v, "imu_a"));

    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = support::http_get(port, "/metrics").unwrap_or_default();
        let imu_a_ok = text.lines().any(|l| {
            l.starts_with("vigil_producer_health{producer=\"imu_a\"") && l.ends_with(" 0")
        });
        if text.contains("vigil_switches_total{cause=\"initial\"} 1") && imu_a_ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "metrics never showed the relay:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    support::terminate(&agent);
    assert_eq!(agent.wait_exit(PATIENCE), Some(true), "{}", agent.stderr());
    let summary = support::replay_summary(&recording);
    assert!(
        summary["summary"]["selections"].as_u64() >= Some(1),
        "{summary}"
    );
}

/// Issue 13: the agent speaks for the nodes it advertises. With `--key`
/// its proxies' adverts and heartbeats are signed, and its relay, under a
/// trust policy in `enforce` that lets the agent's key speak for `imu_*`,
/// accepts them and relays the best; nothing is refused.
#[test]
fn a_signing_agent_is_believed_for_the_nodes_it_speaks_for() {
    let domain = 125;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(&dir);
    let prefix = dir.path().join("agent");
    let out = support::vigil()
        .args(["keygen", "--out", &prefix.to_string_lossy()])
        .output()
        .expect("vigil keygen runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trust = dir.path().join("trust.yaml");
    std::fs::write(
        &trust,
        "mode: enforce\nkeys:\n  - name: agent\n    public: agent.pub\n    speaks_for: [\"imu_*\"]\n",
    )
    .expect("write the trust file");
    let _imu_a = node(domain, "imu_a");
    let _imu_b = node(domain, "imu_b");
    let d = domain.to_string();
    let (c, k, t) = (
        config.to_string_lossy().into_owned(),
        dir.path().join("agent.key").to_string_lossy().into_owned(),
        trust.to_string_lossy().into_owned(),
    );
    let args = [
        "agent", "--config", &c, "--domain", &d, "--format", "json", "--key", &k, "--trust", &t,
    ];
    let mut agent = Proc::spawn("agent", &args);
    agent.wait_seen(PATIENCE, |v| relay_selected(v, "imu_a"));
    assert!(!agent.stderr().contains("refused"), "{}", agent.stderr());
    support::terminate(&agent);
    assert_eq!(agent.wait_exit(PATIENCE), Some(true), "{}", agent.stderr());
}
