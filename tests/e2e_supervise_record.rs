//! Issue 11: `vigil supervise --record FILE.mcap` writes the supervisor's
//! events to the recording (`vigil replay` lists them), and `--metrics`
//! counts them by kind. Private DDS domains 154-155.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{free_port, http_get, terminate, vigil, Proc, PATIENCE};

const CRASH_LOOP: &str = "
name: node
intensity: 3
period: 10s
backoff: { initial: 50ms, max: 1s, jitter: 0 }
children:
  - { id: steady, command: [sleep, '60'] }
  - { id: crasher, command: [sh, -c, 'sleep 0.1; exit 7'], produces: [imu_a] }
";

fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn a_supervisors_events_are_recorded_and_listed_by_replay() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("sup.yaml");
    std::fs::write(&config, CRASH_LOOP).expect("config");
    let recording = dir.path().join("sup.mcap");
    let out = vigil()
        .args(["supervise", "--config"])
        .arg(&config)
        .args(["--domain", "154", "--format", "json", "--record"])
        .arg(&recording)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let printed = json_lines(&out.stdout);

    let replay = vigil()
        .arg("replay")
        .arg(&recording)
        .args(["--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(replay.status.code(), Some(0), "{replay:?}");
    let mut lines = json_lines(&replay.stdout);
    let summary = lines.pop().expect("a summary line");
    assert_eq!(
        summary["summary"]["supervisor_events"],
        printed.len() as u64,
        "{summary}"
    );
    // The same events, in the same order, as the supervisor printed them.
    let recorded: Vec<Value> = lines
        .iter()
        .map(|l| {
            assert_eq!(l["decision"], "supervisor", "{l}");
            l["event"].clone()
        })
        .collect();
    let without_t: Vec<Value> = printed
        .into_iter()
        .map(|mut v| {
            v.as_object_mut().map(|o| o.remove("t"));
            v
        })
        .collect();
    assert_eq!(recorded, without_t);
    assert_eq!(
        recorded
            .iter()
            .filter(|v| v["event"] == "exited" && v["child"] == "crasher")
            .count(),
        4
    );
    assert_eq!(
        recorded.last().map(|v| &v["event"]),
        Some(&"gave_up".into())
    );

    // No core in it: a "what if" has nothing to replay, and says so.
    let what_if = vigil()
        .arg("replay")
        .arg(&recording)
        .args(["--query", "imu"])
        .output()
        .expect("runs");
    assert_eq!(what_if.status.code(), Some(2), "{what_if:?}");
    assert!(String::from_utf8_lossy(&what_if.stderr).contains("supervisor's recording"));
}

#[test]
fn a_supervisors_events_are_counted_by_kind() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("sup.yaml");
    // Never gives up: it runs until the test stops it.
    std::fs::write(
        &config,
        CRASH_LOOP.replace("intensity: 3", "intensity: 1000"),
    )
    .expect("config");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let path = config.display().to_string();
    let mut sup = Proc::spawn(
        "supervise",
        &[
            "supervise",
            "--config",
            &path,
            "--domain",
            "155",
            "--format",
            "json",
            "--metrics",
            &addr,
        ],
    );
    for _ in 0..2 {
        sup.wait_for(PATIENCE, |v| {
            v["event"] == "exited" && v["child"] == "crasher"
        });
    }
    let deadline = Instant::now() + PATIENCE;
    let exited = loop {
        let text = http_get(port, "/metrics").unwrap_or_default();
        let exited = text
            .lines()
            .find_map(|l| l.strip_prefix("vigil_supervisor_events_total{event=\"exited\"} "))
            .and_then(|n| n.trim().parse::<u64>().ok());
        if let (Some(n), true) = (exited, text.contains("event=\"started\"")) {
            if n >= 2 {
                break n;
            }
        }
        assert!(Instant::now() < deadline, "no exited count in\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exited >= 2);
    terminate(&sup);
    assert_eq!(sup.wait_exit(PATIENCE), Some(true));
}
