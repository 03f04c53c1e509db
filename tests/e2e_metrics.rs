//! Issue 11: `vigil consume --metrics ADDR:PORT` scraped by a real
//! Prometheus server (the Debian `prometheus` package, which scripts/test
//! installs) on loopback, answering a PromQL query over its HTTP API.
//! Private DDS domain 102.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{free_port, http_get as get, selected, Proc, PATIENCE};

const QUERY: &str = "imu WHERE health.state = OK PREFER accuracy ASC";

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
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

    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: vigil\n    static_configs:\n      - targets: ['{metrics_addr}']\n"
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
    let _server = Prometheus(server);

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    loop {
        let query = "/api/v1/query?query=vigil_switches_total%7Bcause%3D%22active_failed%22%7D";
        if let Some(body) = get(web_port, query) {
            if let Ok(v) = serde_json::from_str::<Value>(&body) {
                let value = &v["data"]["result"][0]["value"][1];
                if value == "1" {
                    break;
                }
            }
            last = body;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never answered the switch: {last}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}
