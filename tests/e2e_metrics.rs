//! Issue 11: `vigil consume --metrics ADDR:PORT` scraped by a real
//! Prometheus server (the Debian `prometheus` package, which scripts/test
//! installs) on loopback, answering a PromQL query over its HTTP API.
//! Private DDS domains 102 and 170.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{free_port, http_get as get, selected, Proc, CYCLONE_LOOPBACK, PATIENCE};

const QUERY: &str = "imu WHERE health.state = OK PREFER accuracy ASC";

/// A Prometheus server, killed when dropped.
struct Prometheus {
    child: Child,
    web_port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn prometheus_scrapes_the_switches_by_cause() {
    let domain = 102;
    let metrics_port = free_port();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let mut a = Proc::producer(domain, "imu_a", &["accuracy=0.001"], &[]);
    let _b = Proc::producer(domain, "imu_b", &["accuracy=0.002"], &[]);
    let mut c = Proc::consumer(domain, QUERY, &["--metrics", &metrics_addr]);
    c.wait_for(PATIENCE, |v| selected(v, "imu_a"));
    a.send("set imu_a.health FAILED");
    c.wait_for(PATIENCE, |v| selected(v, "imu_b"));

    // Our own endpoint first: OpenMetrics text with the counters.
    let text = get(metrics_port, "/metrics").expect("GET /metrics");
    assert!(
        text.contains("vigil_switches_total{cause=\"active_failed\"} 1"),
        "{text}"
    );
    // Per-producer health (ROS 2 levels: 2 is FAILED), a bounded label set.
    assert!(
        text.contains("vigil_producer_health{producer=\"imu_a\",topic=\"imu\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("vigil_producer_health{producer=\"imu_b\",topic=\"imu\"} 0"),
        "{text}"
    );

    let server = Prometheus::scraping(&metrics_addr);
    server.wait_for("vigil_switches_total{cause=\"active_failed\"}", |value| {
        value == 1.0
    });
}

/// The agent's relay counters (issue 11), scraped by the same real
/// Prometheus: two Cyclone DDS processes play unmodified ROS 2 IMU
/// drivers, `vigil agent --metrics` relays the better one and moves to
/// the other when it reports ERROR; a `vigil monitor` shows the relay's
/// route as it shows a `vigil consume`'s. Private DDS domain 170.
#[test]
fn prometheus_scrapes_the_agents_relay_counters() {
    let domain = 170;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("agent.yaml");
    std::fs::write(
        &config,
        "\
identify_within: 3s
topics:
  - topic: /imu/data
    type: sensor_msgs/msg/Imu
    stale_after: 600ms
    producers:
      - node: imu_a
        capabilities: { accuracy: 0.01 }
      - node: imu_b
        capabilities: { accuracy: 0.02 }
    relay:
      topic: /imu/data/best
      query: WHERE health.state = OK PREFER accuracy ASC
",
    )
    .expect("write the agent config");
    let node = |name: &str| {
        let d = domain.to_string();
        let args = ["--domain", &d, "--node", name, "--rate", "50"];
        let env = [("CYCLONEDDS_URI", CYCLONE_LOOPBACK)];
        let mut p = Proc::python_peer(name, "cyclone_ros_node.py", &args, &env);
        p.wait_for(PATIENCE, |v| v["event"] == "ready");
        p
    };
    let mut imu_a = node("imu_a");
    let _imu_b = node("imu_b");
    let metrics_port = 21510;
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let d = domain.to_string();
    let config_arg = config.to_string_lossy().into_owned();
    let mut agent = Proc::spawn(
        "agent",
        &[
            "agent",
            "--config",
            &config_arg,
            "--domain",
            &d,
            "--format",
            "json",
            "--metrics",
            &metrics_addr,
        ],
    );
    let relayed = |v: &Value, producer: &str| {
        v["event"] == "selected" && v["relay"] == "/imu/data/best" && v["producer"] == producer
    };
    agent.wait_seen(PATIENCE, |v| relayed(v, "imu_a"));
    // A stats line after the selection: samples were relayed.
    agent.wait_seen(PATIENCE, |v| {
        v["event"] == "stats" && v["relayed"]["imu_a"].as_u64().unwrap_or(0) > 0
    });
    // The relay is a consumer like `vigil consume`: a monitor shows its
    // route as `<host>:<pid>:<relay topic>`.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    let relay_id = format!("{}:{}:/imu/data/best", host.trim(), agent.pid());
    let mut monitor = Proc::spawn(
        "monitor",
        &[
            "monitor",
            "--domain",
            &d,
            "--format",
            "json",
            "--interval-ms",
            "250",
        ],
    );
    let route_follows = |v: &Value, producer: &str| {
        v["consumers"].as_array().is_some_and(|routes| {
            routes
                .iter()
                .any(|r| r["id"] == relay_id.as_str() && r["active"]["producer"] == producer)
        })
    };
    monitor.wait_for(PATIENCE, |v| route_follows(v, "imu_a"));
    imu_a.send("level 2 gyro saturated");
    agent.wait_seen(PATIENCE, |v| relayed(v, "imu_b"));
    monitor.wait_for(PATIENCE, |v| route_follows(v, "imu_b"));

    let text = get(metrics_port, "/metrics").expect("GET /metrics");
    for line in [
        "vigil_agent_proxies 2",
        "vigil_relay_active{relay=\"/imu/data/best\"} 1",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    let server = Prometheus::scraping(&metrics_addr);
    server.wait_for(
        "vigil_relay_switches_total{relay=\"/imu/data/best\"}",
        |value| value >= 2.0,
    );
    server.wait_for("vigil_relay_samples_total", |value| value > 0.0);
    // The relay's routing core is counted as a consumer's is.
    server.wait_for("sum(vigil_switches_total)", |value| value >= 2.0);
}

impl Prometheus {
    /// A Prometheus server scraping `target` every second, with its data
    /// in a directory of its own.
    fn scraping(target: &str) -> Prometheus {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: vigil\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("config");
        let web_port = free_port();
        let server = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{web_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the Debian `prometheus` package (scripts/test installs it)");
        Prometheus {
            child: server,
            web_port,
            _dir: dir,
        }
    }

    /// Waits until the PromQL `query` answers a value `ok` accepts.
    fn wait_for(&self, query: &str, ok: impl Fn(f64) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let path = format!("/api/v1/query?query={}", encode(query));
        let mut last = String::new();
        loop {
            if let Some(body) = get(self.web_port, &path) {
                if let Ok(v) = serde_json::from_str::<Value>(&body) {
                    let value = v["data"]["result"][0]["value"][1]
                        .as_str()
                        .and_then(|s| s.parse::<f64>().ok());
                    if value.is_some_and(&ok) {
                        return;
                    }
                }
                last = body;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus never answered {query} as expected: {last}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// Percent-encodes a PromQL query for a URL.
fn encode(query: &str) -> String {
    query
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
