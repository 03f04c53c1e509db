//! Issue 11, consumers are visible: each `vigil consume` publishes who it
//! is, its query, its active producer and every switch with its cause on
//! `vigil_consumer_routes`, and `vigil monitor` shows them, including a
//! monitor that joins later (transient-local). Private DDS domain 150.

mod support;

use serde_json::Value;
use support::{selected, terminate, Proc, PATIENCE};

const QUERY: &str = "imu WHERE health.state = OK PREFER accuracy ASC";

/// The route of consumer `id` in a monitor's JSON snapshot.
fn route<'a>(snapshot: &'a Value, id: &str) -> Option<&'a Value> {
    snapshot["consumers"]
        .as_array()?
        .iter()
        .find(|c| c["id"] == id)
}

fn follows(snapshot: &Value, id: &str, producer: &str) -> bool {
    route(snapshot, id).is_some_and(|r| r["active"]["producer"] == producer)
}

fn monitor(domain: &str, extra: &[&str]) -> Proc {
    let mut args = vec!["monitor", "--domain", domain, "--format", "json"];
    args.extend_from_slice(extra);
    Proc::spawn("monitor", &args)
}

#[test]
fn monitor_shows_each_consumers_route_and_switch_cause() {
    let domain = 150;
    let d = domain.to_string();
    let mut a = Proc::producer(domain, "imu_a", &["accuracy=0.001"], &[]);
    let _b = Proc::producer(domain, "imu_b", &["accuracy=0.002"], &[]);
    let mut m = monitor(&d, &["--interval-ms", "250"]);
    let mut nav = Proc::consumer(domain, QUERY, &["--id", "nav"]);
    // No --id: it is `<host>:<pid>`.
    let mut anon = Proc::consumer(domain, "imu", &[]);
    nav.wait_for(PATIENCE, |v| selected(v, "imu_a"));
    anon.wait_for(PATIENCE, |v| v["event"] == "selected");

    let seen = m.wait_for(PATIENCE, |v| follows(v, "nav", "imu_a"));
    let r = route(&seen, "nav").expect("nav's route");
    assert_eq!(r["pid"], nav.pid(), "{r}");
    // As it prints back (ASC is the default).
    assert_eq!(
        r["query"], "imu WHERE health.state = OK PREFER accuracy",
        "{r}"
    );
    assert_eq!(r["last_switch"]["cause"], "initial", "{r}");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    let anon_id = format!("{}:{}", host.trim(), anon.pid());
    m.wait_seen(PATIENCE, |v| route(v, &anon_id).is_some());

    a.kill9();
    nav.wait_for(PATIENCE, |v| selected(v, "imu_b"));
    let seen = m.wait_for(PATIENCE, |v| follows(v, "nav", "imu_b"));
    let r = route(&seen, "nav").expect("nav's route");
    let last = &r["last_switch"];
    assert_eq!(last["cause"], "active_unreachable", "{r}");
    assert_eq!(last["previous"]["producer"], "imu_a", "{r}");
    assert!(
        last["explanation"]
            .as_str()
            .is_some_and(|e| e.contains("unreachable")),
        "{r}"
    );
    assert_eq!(r["switches"], 2, "{r}");

    // A monitor started now still gets the route (transient-local).
    let mut late = monitor(&d, &["--once", "--settle-ms", "2000"]);
    let snapshot = late.wait_for(PATIENCE, |v| v["consumers"].is_array());
    assert!(follows(&snapshot, "nav", "imu_b"), "{snapshot}");

    // A clean stop disposes the route: the monitor drops the consumer.
    terminate(&nav);
    nav.wait_exit(PATIENCE);
    m.wait_for(PATIENCE, |v| {
        v["consumers"].is_array() && route(v, "nav").is_none()
    });
}

#[test]
fn an_unreadable_id_is_refused_before_joining() {
    let out = support::vigil()
        .args(["consume", "--domain", "151", "--query", "imu", "--id", ""])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--id") && stderr.contains("empty"),
        "{stderr}"
    );
}
