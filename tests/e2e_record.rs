//! Issue 11, end to end: a real run is recorded (`vigil produce` processes
//! and `vigil consume --record`), then `vigil replay` feeds the recorded
//! inputs through a fresh core and gets every decision again, the switches
//! with their causes included. Private DDS domains 100-101.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{selected, terminate, vigil, vigil_json, Proc, PATIENCE};

const QUERY: &str = "imu WHERE health.state = OK PREFER accuracy ASC";

fn replay_json(file: &std::path::Path) -> (i32, Vec<Value>, String) {
    vigil_json([
        std::ffi::OsStr::new("replay"),
        "--format".as_ref(),
        "json".as_ref(),
        file.as_os_str(),
    ])
}

#[test]
fn a_recorded_run_replays_with_the_same_switches() {
    let domain = 100;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("run.mcap");
    let file_arg = file.to_str().expect("utf-8 path");
    let mut a = Proc::producer(domain, "imu_a", &["accuracy=0.001"], &[]);
    let _b = Proc::producer(domain, "imu_b", &["accuracy=0.002"], &[]);
    let mut c = Proc::consumer(
        domain,
        QUERY,
        &["--record", file_arg, "--wait-to-restore-ms", "300"],
    );
    c.wait_for(PATIENCE, |v| selected(v, "imu_a"));
    a.send("set imu_a.health FAILED");
    c.wait_for(PATIENCE, |v| selected(v, "imu_b"));
    std::thread::sleep(Duration::from_millis(300));
    a.send("set imu_a.health OK");
    c.wait_for(PATIENCE, |v| selected(v, "imu_a"));
    a.kill9();
    c.wait_for(PATIENCE, |v| selected(v, "imu_b"));
    terminate(&c);
    assert_eq!(c.wait_exit(PATIENCE), Some(true), "{}", c.stderr());
    assert!(c.stderr().contains("0 dropped"), "{}", c.stderr());

    let (code, lines, stderr) = replay_json(&file);
    assert_eq!(code, 0, "{stderr}\n{lines:?}");
    let switches: Vec<(String, String)> = lines
        .iter()
        .filter(|l| l["decision"] == "selection")
        .map(|l| {
            (
                l["event"]["active"]["key"]["producer"]
                    .as_str()
                    .unwrap_or("(none)")
                    .to_owned(),
                l["event"]["cause"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let producers: Vec<&str> = switches.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        producers,
        ["imu_a", "imu_b", "imu_a", "imu_b"],
        "{switches:?}"
    );
    assert!(switches[1].1.contains("FAILED"), "{switches:?}");
    assert!(switches[2].1.contains("restore"), "{switches:?}");
    assert!(switches[3].1.contains("unreachable"), "{switches:?}");
    let summary = lines.last().expect("a summary line");
    assert!(
        summary["summary"]["decisions"].as_u64() > Some(4),
        "{summary}"
    );
    assert_eq!(summary["summary"]["divergence"], Value::Null, "{summary}");

    // What if the consumer had preferred the coarser producer: the same
    // inputs, other switches, and exit 0 (a question, not a check).
    let out = vigil()
        .args(["replay", "--format", "json", "--query"])
        .arg("imu WHERE health.state = OK PREFER accuracy DESC")
        .arg(&file)
        .output()
        .expect("vigil replay runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let first: Value = serde_json::from_str(stdout.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let would = &first["difference"]["replayed"][0]["active"]["key"]["producer"];
    assert_eq!(would, "imu_b", "{stdout}");
}

#[test]
fn a_tampered_or_truncated_recording_is_reported() {
    let domain = 101;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("run.mcap");
    let file_arg = file.to_str().expect("utf-8 path");
    let _a = Proc::producer(domain, "imu_a", &["accuracy=0.001"], &[]);
    let mut c = Proc::consumer(domain, QUERY, &["--record", file_arg]);
    c.wait_for(PATIENCE, |v| selected(v, "imu_a"));
    // Some heartbeats after the selection.
    std::thread::sleep(Duration::from_millis(500));
    terminate(&c);
    assert_eq!(c.wait_exit(PATIENCE), Some(true), "{}", c.stderr());
    let bytes = std::fs::read(&file).expect("the recording");

    // Cut in half: replayed up to the damage, exit 2, and it says so.
    let cut = dir.path().join("cut.mcap");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let (code, _, stderr) = replay_json(&cut);
    assert_eq!(code, 2, "{stderr}");
    assert!(!stderr.is_empty());

    // Not a recording at all.
    let junk = dir.path().join("junk.mcap");
    std::fs::write(&junk, b"not an mcap file").expect("write");
    let (code, _, stderr) = replay_json(&junk);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("junk.mcap"), "{stderr}");
}
