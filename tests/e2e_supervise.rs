//! `vigil supervise` end to end with real processes (issue 9): restarts
//! with backoff, exit 3 when the top gives up, one_for_all and
//! rest_for_one order, a watchdog miss, `ready: notify`, no orphans after
//! SIGTERM or SIGKILL of the supervisor, bad configs with lines; a
//! SIGKILLed child's producer FAILED at once by its supervisor's word (the
//! consumer switches long before the lease), and the same word from anyone
//! else rejected.
//!
//! Domains 80-91 are this file's.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{producers_on, selected, t, terminate, vigil, Proc, PATIENCE};
use vigil_discovery::{DdsConfig, OnBehalfPublisher, VigilParticipant};

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn supervise(name: &str, config: &str, domain: u16) -> Proc {
    Proc::spawn(
        name,
        &[
            "supervise",
            "--config",
            config,
            "--domain",
            &domain.to_string(),
            "--format",
            "json",
        ],
    )
}

fn is(event: &'static str, child: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["event"] == event && v["child"] == child
}

/// The (event, child) pairs of the lines seen, for order assertions.
fn trail(p: &Proc, from: usize) -> Vec<String> {
    p.seen[from..]
        .iter()
        .filter(|v| v["event"] != "failed" && v["event"] != "status")
        .map(|v| {
            format!(
                "{} {}",
                v["event"].as_str().unwrap_or("?"),
                v["child"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Alive and not a zombie.
fn alive(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state follows the parenthesised command name.
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
        Err(_) => false,
    }
}

fn wait_dead(pids: &[u64]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|&p| alive(p)) {
        assert!(Instant::now() < deadline, "orphans left: {pids:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_crash_loop_restarts_with_backoff_then_exits_3_after_stopping_everyone() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "sup.yaml",
        "
name: node
intensity: 3
period: 10s
backoff: { initial: 100ms, max: 1s, jitter: 0 }
children:
  - { id: steady, command: [sleep, '60'] }
  - { id: crasher, command: [sh, -c, 'sleep 0.1; exit 7'], produces: [imu_a] }
",
    );
    let start = Instant::now();
    let out = vigil()
        .args(["supervise", "--config", &config, "--domain", "80"])
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let restarts: Vec<(u64, u64)> = lines
        .iter()
        .filter(|v| v["event"] == "restarting")
        .map(|v| (v["attempt"].as_u64().unwrap(), v["in_ms"].as_u64().unwrap()))
        .collect();
    assert_eq!(restarts, [(1, 100), (2, 200), (3, 400)]);
    let exits = lines
        .iter()
        .filter(|v| v["event"] == "exited" && v["child"] == "crasher")
        .count();
    assert_eq!(exits, 4);
    assert!(lines
        .iter()
        .any(|v| v["event"] == "exited" && v["code"] == 7 && v["signal"].is_null()));
    let failed = lines.iter().find(|v| v["event"] == "failed").unwrap();
    assert_eq!(failed["producers"], serde_json::json!(["imu_a"]));
    assert_eq!(failed["reason"], "child crasher exited with code 7");
    // The steady child is stopped before the supervisor gives up.
    let tail: Vec<_> = lines[lines.len() - 3..]
        .iter()
        .map(|v| v["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tail, ["stopped", "escalated", "gave_up"]);
    let pid = lines.iter().find(|v| is("started", "steady")(v)).unwrap()["pid"]
        .as_u64()
        .unwrap();
    wait_dead(&[pid]);
    // 100 + 200 + 400 ms of backoff and four 100 ms runs.
    assert!(start.elapsed() >= Duration::from_millis(1100));
}

#[test]
fn one_for_all_and_rest_for_one_restart_the_right_children_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("crashed");
    // `b` crashes once, 300 ms after its first start.
    let crash_once = format!(
        "if [ -e {m} ]; then exec sleep 60; fi; touch {m}; sleep 0.3; exit 1",
        m = mark.display()
    );
    for (domain, strategy, expected) in [
        (
            81,
            "one_for_all",
            &[
                "exited b",
                "restarting a",
                "restarting b",
                "restarting c",
                "exited c",
                "stopped c",
                "exited a",
                "stopped a",
                "started a",
                "started b",
                "started c",
            ][..],
        ),
        (
            82,
            "rest_for_one",
            &[
                "exited b",
                "restarting b",
                "restarting c",
                "exited c",
                "stopped c",
                "started b",
                "started c",
            ][..],
        ),
    ] {
        let _ = std::fs::remove_file(&mark);
        let config = write(
            dir.path(),
            &format!("{strategy}.yaml"),
            &format!(
                "
strategy: {strategy}
intensity: 2
backoff: {{ initial: 50ms, jitter: 0 }}
children:
  - {{ id: a, command: [sleep, '60'] }}
  - {{ id: b, command: [sh, -c, '{crash_once}'] }}
  - {{ id: c, command: [sleep, '60'] }}
"
            ),
        );
        let mut sup = supervise(strategy, &config, domain);
        for child in ["a", "b", "c"] {
            sup.wait_for(PATIENCE, is("started", child));
        }
        let from = sup.mark();
        sup.wait_for(PATIENCE, is("exited", "b"));
        // The last start of the restart.
        sup.wait_for(PATIENCE, is("started", "c"));
        assert_eq!(trail(&sup, from), expected, "{strategy}");
        terminate(&sup);
        assert_eq!(sup.wait_exit(PATIENCE), Some(true));
    }
}

const NOTIFIER: &str = r#"
import os, socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
addr = os.environ["NOTIFY_SOCKET"]
time.sleep(0.3)
s.sendto(b"READY=1\nSTATUS=ready", addr)
while True:
    time.sleep(0.05)
    s.sendto(b"WATCHDOG=1", addr)
"#;

#[test]
fn ready_notify_holds_the_next_start_and_a_stopped_child_misses_its_watchdog() {
    let dir = tempfile::tempdir().unwrap();
    let script = write(dir.path(), "notifier.py", NOTIFIER);
    let config = write(
        dir.path(),
        "sup.yaml",
        &format!(
            "
intensity: 3
backoff: {{ initial: 50ms, jitter: 0 }}
children:
  - id: svc
    command: [python3, {script}]
    ready: notify
    watchdog: 300ms
  - {{ id: after, command: [sleep, '60'] }}
"
        ),
    );
    let mut sup = supervise("supervise", &config, 83);
    let started = sup.wait_for(PATIENCE, is("started", "svc"));
    sup.wait_for(PATIENCE, |v| {
        v["event"] == "status" && v["status"] == "ready"
    });
    let after = sup.wait_for(PATIENCE, is("started", "after"));
    assert!(
        support::t(&after) - support::t(&started) >= 0.25,
        "`after` started before READY=1: {started} {after}"
    );
    // A hang: SIGSTOP the pinging child.
    let pid = started["pid"].as_u64().unwrap();
    let stopped_at = Instant::now();
    Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status()
        .unwrap();
    sup.wait_for(PATIENCE, is("hung", "svc"));
    let noticed = stopped_at.elapsed();
    let exited = sup.wait_for(PATIENCE, is("exited", "svc"));
    assert_eq!(exited["signal"], 9);
    sup.wait_for(PATIENCE, is("restarting", "svc"));
    let again = sup.wait_for(PATIENCE, is("started", "svc"));
    assert_ne!(again["pid"], started["pid"]);
    assert!(
        noticed < Duration::from_secs(2),
        "hang noticed after {noticed:?}"
    );
    terminate(&sup);
    assert_eq!(sup.wait_exit(PATIENCE), Some(true));
}

/// Three children, the middle one forking a grandchild (its pid written to
/// `grandchild.pid` in `dir`). A stop reaches the grandchild through the
/// child's process group; a SIGKILLed supervisor's guardian kills it (the
/// parent-death signal reaches direct children only).
fn three_sleepers(dir: &Path) -> String {
    let pid_file = dir.join("grandchild.pid");
    write(
        dir,
        "sup.yaml",
        &format!(
            "
children:
  - {{ id: a, command: [sleep, '60'] }}
  - {{ id: b, command: [sh, -c, 'sleep 60 & echo $! > {}; wait'] }}
  - {{ id: c, command: [sleep, '60'], shutdown: 300ms }}
",
            pid_file.display()
        ),
    )
}

/// The pid the middle child's grandchild wrote.
fn grandchild(dir: &Path) -> u64 {
    let path = dir.join("grandchild.pid");
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(pid) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| text.trim().parse().ok())
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "no grandchild pid in {path:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn no_orphans_after_sigterm_stopping_in_reverse_order() {
    let dir = tempfile::tempdir().unwrap();
    let config = three_sleepers(dir.path());
    let mut sup = supervise("supervise", &config, 84);
    let pids: Vec<u64> = ["a", "b", "c"]
        .into_iter()
        .map(|c| {
            sup.wait_for(PATIENCE, is("started", c))["pid"]
                .as_u64()
                .unwrap()
        })
        .chain([grandchild(dir.path())])
        .collect();
    let from = sup.mark();
    terminate(&sup);
    assert_eq!(sup.wait_exit(PATIENCE), Some(true));
    wait_dead(&pids);
    while sup
        .try_wait_for(Duration::from_millis(200), |_| false)
        .is_some()
    {}
    let stops: Vec<String> = trail(&sup, from)
        .into_iter()
        .filter(|l| l.starts_with("stopped"))
        .collect();
    assert_eq!(stops, ["stopped c", "stopped b", "stopped a"]);
}

#[test]
fn no_orphans_after_the_supervisor_is_sigkilled_not_even_grandchildren() {
    let dir = tempfile::tempdir().unwrap();
    let config = three_sleepers(dir.path());
    let mut sup = supervise("supervise", &config, 85);
    let pids: Vec<u64> = ["a", "b", "c"]
        .into_iter()
        .map(|c| {
            sup.wait_for(PATIENCE, is("started", c))["pid"]
                .as_u64()
                .unwrap()
        })
        .chain([grandchild(dir.path())])
        .collect();
    assert!(pids.iter().all(|&p| alive(p)));
    sup.kill9();
    wait_dead(&pids);
}

#[test]
fn bad_configs_are_errors_with_lines() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "bad.yaml",
        "strategy: one_for_some
period: 0s
children:
  - id: a
    command: []
  - id: a
    command: [x]
",
    );
    let out = vigil()
        .args([
            "supervise",
            "--config",
            &config,
            "--domain",
            "86",
            "--check",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "bad.yaml:1: strategy: unknown value `one_for_some`",
        "bad.yaml:2: period: must be longer than zero",
        "bad.yaml:5: children[0].command: empty command",
        "bad.yaml:6: children[1].id: duplicate name `a` (first on line 4)",
    ] {
        assert!(stderr.contains(expected), "{expected}\nin:\n{stderr}");
    }
    // Without --check the same file is refused before anything starts.
    let out = vigil()
        .args(["supervise", "--config", &config, "--domain", "86"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    // A good file checks with exit 0.
    let good = three_sleepers(dir.path());
    let out = vigil()
        .args(["supervise", "--config", &good, "--domain", "86", "--check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

/// The consumers' query: the supervised imu_a is the better one.
const QUERY: &str = "imu WHERE health.state = OK PREFER accuracy ASC";
/// Far longer than any switch asserted below: a switch within it can only
/// come from the supervisor's word.
const LONG_LEASE_MS: &str = "5000";

/// `vigil supervise` running imu_a (1 kHz, a 5 s lease) as a child that
/// advertises it, and a plain standby imu_b; returns the supervisor, the
/// standby, and the child's pid.
fn supervised_imu_a(dir: &Path, domain: u16) -> (Proc, Proc, u64) {
    let config = write(
        dir,
        "sup.yaml",
        &format!(
            "
name: node
intensity: 5
period: 10s
backoff: {{ initial: 500ms, max: 1s, jitter: 0 }}
children:
  - id: imu_a_proc
    command: [{vigil}, produce, --domain, '{domain}', --topic, imu, --id, imu_a,
              --rate, '1000', --lease-ms, '{LONG_LEASE_MS}', --cap, accuracy=0.001]
    produces: [imu_a]
",
            vigil = env!("CARGO_BIN_EXE_vigil"),
        ),
    );
    let mut sup = supervise("supervisor", &config, domain);
    let started = sup.wait_for(PATIENCE, is("started", "imu_a_proc"));
    let pid = started["pid"].as_u64().unwrap();
    let standby = Proc::producer(domain, "imu_b", &["accuracy=0.002"], &[]);
    (sup, standby, pid)
}

#[test]
fn a_sigkilled_child_is_failed_by_its_supervisor_long_before_the_lease() {
    let domain = 87;
    let dir = tempfile::tempdir().unwrap();
    let (mut sup, _standby, pid) = supervised_imu_a(dir.path(), domain);
    let mut c = Proc::consumer(domain, QUERY, &[]);
    c.wait_for(PATIENCE, |v| selected(v, "imu_a"));
    c.wait_for(PATIENCE, |v| {
        v["event"] == "first_sample" && v["producer"] == "imu_a"
    });

    let killed_at = support::unix_now();
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let failed = sup.wait_for(PATIENCE, |v| v["event"] == "failed");
    assert_eq!(failed["producers"], serde_json::json!(["imu_a"]));
    assert_eq!(failed["reason"], "child imu_a_proc exited with signal 9");
    let switch = c.wait_for(PATIENCE, |v| selected(v, "imu_b"));
    let cause = switch["cause"].as_str().unwrap_or_default();
    assert!(cause.contains("FAILED"), "cause: {cause}\n{switch}");
    let after_ms = (t(&switch) - killed_at) * 1000.0;
    // The lease is 5 s: a fifth of it leaves room for a slow machine and
    // still proves the switch was the supervisor's doing.
    assert!(
        after_ms < 1000.0,
        "switched {after_ms:.1} ms after the kill"
    );
    let first = c.wait_for(PATIENCE, |v| {
        v["event"] == "first_sample" && v["producer"] == "imu_b"
    });
    eprintln!(
        "supervised SIGKILL -> switch {after_ms:.1} ms, -> first sample {:.1} ms (lease {LONG_LEASE_MS} ms)",
        (t(&first) - killed_at) * 1000.0
    );

    // Re-entry only through the restarted child's own advert and the
    // consumer's wait-to-restore.
    sup.wait_for(PATIENCE, is("started", "imu_a_proc"));
    let back = c.wait_for(PATIENCE, |v| selected(v, "imu_a"));
    let cause = back["cause"].as_str().unwrap_or_default();
    assert!(cause.contains("restore"), "cause: {cause}");
    terminate(&sup);
    sup.wait_exit(Duration::from_secs(10));
}

#[test]
fn a_forged_failed_on_behalf_is_rejected_and_the_consumer_stays() {
    let domain = 88;
    let dir = tempfile::tempdir().unwrap();
    let (mut sup, _standby, _pid) = supervised_imu_a(dir.path(), domain);
    let mut c = Proc::consumer(domain, QUERY, &[]);
    c.wait_for(PATIENCE, |v| selected(v, "imu_a"));
    c.wait_for(PATIENCE, |v| {
        v["event"] == "first_sample" && v["producer"] == "imu_a"
    });

    // A participant that is not the supervisor says imu_a FAILED, with
    // the very message a supervisor sends, until the consumer has heard it
    // (discovery of the new writer takes a moment).
    let forger = VigilParticipant::new(DdsConfig::new(domain)).unwrap();
    let voice = OnBehalfPublisher::new(&forger).unwrap();
    let mark = c.mark();
    let deadline = Instant::now() + PATIENCE;
    let rejected = loop {
        voice
            .publish("imu_a_proc", &["imu_a".to_owned()], "exited: signal 9")
            .unwrap();
        if let Some(stats) = c.try_wait_for(Duration::from_millis(300), |v| {
            v["event"] == "stats" && v["rejected"].as_u64().unwrap_or(0) > 0
        }) {
            break stats;
        }
        assert!(
            Instant::now() < deadline,
            "no rejection counted: {:?}",
            c.seen
        );
    };
    assert_eq!(rejected["active"], "imu_a", "{rejected}");
    // Still on imu_a a while later, never having switched.
    std::thread::sleep(Duration::from_millis(500));
    let later = c.wait_for(PATIENCE, |v| v["event"] == "stats");
    assert_eq!(later["active"], "imu_a", "{later}");
    assert!(
        !c.seen[mark..].iter().any(|v| v["event"] == "selected"),
        "switched on a forged word: {:?}",
        &c.seen[mark..]
    );
    terminate(&sup);
    sup.wait_exit(Duration::from_secs(10));
}

#[test]
fn demo_supervised_fails_over_through_the_supervisor_and_leaves_no_producer() {
    let domain = 89;
    let mut demo = Proc::spawn(
        "demo",
        &[
            "demo",
            "--supervised",
            "--format",
            "json",
            "--domain",
            "89",
            "--lease-ms",
            "300",
        ],
    );
    let summary = demo.wait_for(Duration::from_secs(90), |v| v.get("switches").is_some());
    assert_eq!(demo.wait_exit(PATIENCE), Some(true), "{}", demo.stderr());
    let switches = summary["switches"].as_array().cloned().unwrap_or_default();
    let by = |to: &str, cause: &str| {
        switches
            .iter()
            .find(|s| s["to"] == to && s["cause"].as_str().unwrap_or("").contains(cause))
            .unwrap_or_else(|| panic!("no switch to {to} by {cause}: {summary}"))
            .clone()
    };
    // The unsupervised kill waits for the lease; the supervised one does not.
    let lease = by("imu_sup", "unreachable");
    let failed = by("imu_spare", "FAILED");
    let reroute = |s: &Value| s["reroute_ms"].as_f64().unwrap_or(f64::NAN);
    assert!(reroute(&lease) >= 200.0, "{lease}");
    assert!(reroute(&failed) < 200.0, "{failed}");
    // The restarted child came back through wait-to-restore.
    by("imu_sup", "restore");
    let notes = summary["notes"].to_string();
    assert!(notes.contains("says FAILED for imu_sup"), "{notes}");

    let deadline = Instant::now() + Duration::from_secs(10);
    while !producers_on(domain).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(producers_on(domain), Vec::<String>::new());
}

/// The supervision's health is a diagnostic tree the supervisor advertises:
/// a crash-looping child's leaf is DEGRADED, and so is its group; the
/// steady child's leaf stays OK.
#[test]
fn the_supervision_tree_is_advertised() {
    let domain = 90;
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "sup.yaml",
        "
name: node
intensity: 100
period: 10s
backoff: { initial: 300ms, max: 300ms }
children:
  - id: steady
    command: [sleep, '60']
  - group: drivers
    intensity: 100
    period: 10s
    backoff: { initial: 300ms, max: 300ms }
    children:
      - id: flaky
        command: [sh, -c, 'sleep 0.3; exit 3']
",
    );
    let mut sup = supervise("supervise", &config, domain);
    sup.wait_for(PATIENCE, is("exited", "flaky"));
    let mut monitor = Proc::spawn(
        "monitor",
        &[
            "monitor",
            "--domain",
            &domain.to_string(),
            "--format",
            "json",
        ],
    );
    let line = monitor.wait_for(PATIENCE, |v| {
        v["adverts"].as_array().is_some_and(|adverts| {
            adverts.iter().any(|a| {
                a["topic"] == "vigil_supervision"
                    && a["producer"] == "node"
                    && a["nodes"]["node.drivers.flaky"] == "DEGRADED"
            })
        })
    });
    let advert = line["adverts"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["topic"] == "vigil_supervision"))
        .unwrap();
    assert_eq!(advert["nodes"]["node.drivers"], "DEGRADED", "{advert}");
    assert_eq!(advert["nodes"]["node.steady"], "OK", "{advert}");
    assert_eq!(advert["state"], "DEGRADED", "{advert}");
    terminate(&monitor);
    terminate(&sup);
    assert_eq!(sup.wait_exit(PATIENCE), Some(true));
}

/// `vigil tree explain --domain` says why a supervised producer is FAILED:
/// the supervisor's words, and the supervision tree's leaf for the child.
#[test]
fn tree_explain_says_why_a_supervised_producer_failed() {
    let domain = 91;
    let dir = tempfile::tempdir().unwrap();
    // A long backoff keeps the child down while we look.
    let config = write(
        dir.path(),
        "sup.yaml",
        &format!(
            "
name: node
backoff: {{ initial: 30s, max: 30s, jitter: 0 }}
children:
  - id: imu_a_proc
    command: [{vigil}, produce, --domain, '{domain}', --topic, imu, --id, imu_a,
              --rate, '100', --lease-ms, '{LONG_LEASE_MS}']
    produces: [imu_a]
",
            vigil = env!("CARGO_BIN_EXE_vigil"),
        ),
    );
    let mut sup = supervise("supervisor", &config, domain);
    let pid = sup.wait_for(PATIENCE, is("started", "imu_a_proc"))["pid"]
        .as_u64()
        .unwrap();
    // The supervisor's word is volatile: the explaining process must have
    // joined before the child dies.
    let explain = vigil()
        .args([
            "tree",
            "explain",
            "--domain",
            &domain.to_string(),
            "--path",
            "imu_a",
            "--settle-ms",
            "8000",
            "--format",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    sup.wait_for(PATIENCE, |v| v["event"] == "failed");
    let out = explain.wait_with_output().unwrap();
    assert!(out.status.success());
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = &answer["matches"][0];
    assert_eq!(m["producer"], "imu_a", "{answer}");
    // FAILED by the supervisor's word, or UNKNOWN(unreachable) once the
    // lease ran out too on a slow machine; the word stays either way.
    assert!(
        m["state"] == "FAILED" || m["reason"] == "unreachable",
        "{answer}"
    );
    assert_eq!(
        m["failed_on_behalf"], "child imu_a_proc exited with signal 9",
        "{answer}"
    );
    assert_eq!(m["supervisor"]["name"], "node", "{answer}");
    let leaves = m["supervisor"]["not_ok"].as_array().unwrap();
    assert!(
        leaves
            .iter()
            .any(|l| l["path"] == "node.imu_a_proc" && l["state"] == "DEGRADED"),
        "{answer}"
    );
    terminate(&sup);
    assert_eq!(sup.wait_exit(PATIENCE), Some(true));
}
