//! Issue 12, end to end: `vigil kb` against a real PostgreSQL server
//! (private, on a temporary directory and a loopback port) and real
//! `vigil produce` / `vigil consume --record` processes over DDS.
//! DDS domains 130-134, PostgreSQL ports 21100-21103.
#![cfg(feature = "kb")]

#[path = "support/pg.rs"]
mod pg;
mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{selected, terminate, vigil, vigil_json, Proc, PATIENCE};

/// `vigil kb ARGS` to completion: exit code, JSON lines, stderr.
fn kb(args: &[&str]) -> (i32, Vec<Value>, String) {
    vigil_json(std::iter::once("kb").chain(args.iter().copied()))
}

/// Runs `vigil kb ARGS` until `ok` holds for its lines, for at most
/// `PATIENCE`; returns those lines, or panics with the last answer.
fn kb_until(args: &[&str], ok: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (code, lines, stderr) = kb(args);
        if code == 0 && ok(&lines) {
            return lines;
        }
        if Instant::now() > deadline {
            panic!("vigil kb {args:?}: exit {code}, never as expected:\n{lines:#?}\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `vigil kb sync` on `domain` into `db`, counters every 200 ms.
fn sync(domain: u16, db: &str, extra: &[&str]) -> Proc {
    let domain = domain.to_string();
    let mut args = vec![
        "kb",
        "sync",
        "--db",
        db,
        "--domain",
        &domain,
        "--format",
        "json",
        "--stats-ms",
        "200",
    ];
    args.extend_from_slice(extra);
    let mut p = Proc::spawn("sync", &args);
    p.wait_for(PATIENCE, |v| v["event"] == "ready");
    p
}

fn periods_of(lines: &[Value], path: &str, state: &str) -> usize {
    lines
        .iter()
        .filter(|l| l["path"] == path && l["state"] == state)
        .count()
}

/// The server's idea of now, RFC 3339 (the time flags take it as is).
fn db_now(server: &pg::PgServer) -> String {
    server.psql(
        "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    )
}

#[test]
fn sync_writes_transitions_trees_and_a_killed_producer() {
    let domain = 130;
    let server = pg::PgServer::start(21100);
    let db = server.url();
    let mut sync = sync(domain, &db, &[]);
    let mut a = Proc::producer(domain, "imu_a", &["accuracy=0.001"], &[]);
    let mut b = Proc::producer(domain, "imu_b", &["accuracy=0.002"], &[]);
    // A consumer that says who it is: sync writes its route from the route
    // topic, so `why` answers for it without a recording.
    let mut nav = Proc::consumer(
        domain,
        "imu WHERE health.state = OK PREFER accuracy ASC",
        &["--id", "nav"],
    );
    nav.wait_for(PATIENCE, |v| {
        v["event"] == "selected" && v["producer"] == "imu_a"
    });

    // Both trees arrive, with their capabilities as jsonb.
    kb_until(
        &[
            "tree",
            "--db",
            &db,
            "--producer",
            "imu_b",
            "--format",
            "json",
        ],
        |l| {
            l.first()
                .is_some_and(|t| t["nodes"].as_array().is_some_and(|n| !n.is_empty()))
        },
    );
    let capabilities = server
        .psql("SELECT capabilities->>'accuracy' FROM adverts WHERE producer = 'imu_a' LIMIT 1");
    assert_eq!(capabilities, "0.001");

    a.send("set imu_a.health FAILED");
    let failed = kb_until(
        &[
            "query", "--db", &db, "imu_a.*", "--state", "FAILED", "--format", "json",
        ],
        |l| periods_of(l, "imu_a.health", "FAILED") == 1,
    );
    let failed_from = failed[0]["from"].as_str().expect("a time").to_owned();
    // The consumer left imu_a for imu_b, and sync wrote why.
    nav.wait_for(PATIENCE, |v| {
        v["event"] == "selected" && v["producer"] == "imu_b"
    });
    let why = kb_until(
        &[
            "why",
            "--db",
            &db,
            "--consumer",
            "nav",
            "--at",
            "now",
            "--format",
            "json",
        ],
        |l| l.first().is_some_and(|w| w["route"]["producer"] == "imu_b"),
    );
    assert_eq!(why[0]["route"]["previous"], "imu_a", "{why:#?}");
    assert!(
        why[0]["route"]["cause"]
            .as_str()
            .is_some_and(|c| c.contains("FAILED")),
        "{why:#?}"
    );
    a.send("set imu_a.health OK");
    let history = kb_until(
        &["query", "--db", &db, "imu_a.health", "--format", "json"],
        |l| l.len() == 3 && l[2]["state"] == "OK" && l[2]["until"].is_null(),
    );
    assert_eq!(history[0]["state"], "OK", "{history:#?}");
    assert_eq!(history[1]["state"], "FAILED", "{history:#?}");
    assert_eq!(history[1]["until"], history[2]["from"], "{history:#?}");

    // The tree as it was while FAILED, and as it is now.
    let (code, then, stderr) = kb(&[
        "tree",
        "--db",
        &db,
        "--producer",
        "imu_a",
        "--at",
        &failed_from,
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let node = |tree: &Value, path: &str| {
        tree["nodes"]
            .as_array()
            .and_then(|n| n.iter().find(|n| n["path"] == path).cloned())
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        node(&then[0], "imu_a.health")["state"],
        "FAILED",
        "{then:#?}"
    );
    let (_, now, _) = kb(&[
        "tree",
        "--db",
        &db,
        "--producer",
        "imu_a",
        "--format",
        "json",
    ]);
    assert_eq!(node(&now[0], "imu_a.health")["state"], "OK", "{now:#?}");

    // SIGKILL: the lease expires, every node of its tree becomes UNKNOWN.
    b.kill9();
    let unknown = kb_until(
        &[
            "query",
            "--db",
            &db,
            "imu_b|imu_b.*",
            "--state",
            "UNKNOWN",
            "--format",
            "json",
        ],
        |l| periods_of(l, "imu_b.health", "UNKNOWN") == 1 && periods_of(l, "imu_b", "UNKNOWN") == 1,
    );
    assert!(
        unknown.iter().all(|l| l["reason"] == "unreachable"),
        "{unknown:#?}"
    );
    let events = server
        .psql("SELECT count(*) FROM events WHERE producer = 'imu_b' AND kind = 'unreachable'");
    assert_eq!(events, "1");
    // A lquery across producers: only imu_b's nodes are UNKNOWN.
    let (_, all_unknown, _) = kb(&[
        "query", "--db", &db, "*", "--state", "UNKNOWN", "--since", "-1 hour", "--format", "json",
    ]);
    assert!(
        all_unknown.iter().all(|l| l["producer"] == "imu_b"),
        "{all_unknown:#?}"
    );

    terminate(&sync);
    assert_eq!(sync.wait_exit(PATIENCE), Some(true), "{}", sync.stderr());
    let last = sync.wait_seen(PATIENCE, |v| v["event"] == "stopped");
    assert_eq!(last["dropped"], 0, "{last}");
    drop(a);
}

#[test]
fn an_imported_recording_answers_why() {
    let domain = 131;
    let server = pg::PgServer::start(21101);
    let db = server.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("nav.mcap");
    let file_arg = file.to_str().expect("utf-8 path");
    let mut a = Proc::producer(domain, "imu_a", &["accuracy=0.001"], &[]);
    let _b = Proc::producer(domain, "imu_b", &["accuracy=0.002"], &[]);
    let mut c = Proc::consumer(
        domain,
        "imu WHERE health.state = OK PREFER accuracy ASC",
        &["--record", file_arg],
    );
    c.wait_for(PATIENCE, |v| selected(v, "imu_a"));
    std::thread::sleep(Duration::from_millis(500));
    let before = db_now(&server);
    std::thread::sleep(Duration::from_millis(500));
    a.send("set imu_a.health FAILED");
    c.wait_for(PATIENCE, |v| selected(v, "imu_b"));
    std::thread::sleep(Duration::from_millis(300));
    terminate(&c);
    assert_eq!(c.wait_exit(PATIENCE), Some(true), "{}", c.stderr());

    let (code, lines, stderr) = kb(&["import", file_arg, "--db", &db, "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(lines[0]["consumer"], "nav", "{lines:?}");
    assert!(
        lines[0]["routes"].as_u64().is_some_and(|r| r >= 2),
        "{lines:?}"
    );

    let (code, why, stderr) = kb(&[
        "why",
        "--db",
        &db,
        "--consumer",
        "nav",
        "--at",
        "now",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let why = &why[0];
    assert_eq!(why["route"]["producer"], "imu_b", "{why:#}");
    assert_eq!(why["route"]["previous"], "imu_a", "{why:#}");
    assert!(
        why["route"]["cause"]
            .as_str()
            .is_some_and(|c| c.contains("FAILED")),
        "{why:#}"
    );
    // The chain of events names imu_a's FAILED node.
    let events = why["events"].as_array().expect("events");
    assert!(
        events
            .iter()
            .any(|e| e["producer"] == "imu_a" && e["state"] == "FAILED"),
        "{why:#}"
    );
    // Before the failure it followed imu_a.
    let (code, earlier, stderr) = kb(&[
        "why",
        "--db",
        &db,
        "--consumer",
        "nav",
        "--at",
        &before,
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(earlier[0]["route"]["producer"], "imu_a", "{earlier:#?}");
    // An unknown consumer: said so, exit 1.
    let (code, _, stderr) = kb(&["why", "--db", &db, "--consumer", "nobody", "--at", "now"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no route of consumer `nobody`"), "{stderr}");
}

#[test]
fn sync_survives_the_database_going_down() {
    let domain = 132;
    let server = pg::PgServer::start(21102);
    let db = server.url();
    let mut sync = sync(domain, &db, &["--queue", "40"]);
    let mut a = Proc::producer(domain, "imu_a", &[], &[]);
    kb_until(
        &[
            "tree",
            "--db",
            &db,
            "--producer",
            "imu_a",
            "--format",
            "json",
        ],
        |l| !l.is_empty(),
    );

    server.pg_stop();
    // Flap while the database is down: more rows than the queue holds.
    for i in 0..60 {
        let state = if i % 2 == 0 { "FAILED" } else { "OK" };
        a.send(&format!("set imu_a.health {state}"));
        std::thread::sleep(Duration::from_millis(30));
    }
    a.send("set imu_a.health DEGRADED");
    let down = sync.wait_for(PATIENCE, |v| {
        v["event"] == "stats" && v["connected"] == false && v["dropped"].as_u64() > Some(0)
    });
    assert!(down["queued"].as_u64().is_some_and(|q| q <= 40), "{down}");
    assert!(sync.running(), "sync must outlive the database");

    server.pg_start();
    let up = sync.wait_for(PATIENCE, |v| {
        v["event"] == "stats"
            && v["connected"] == true
            && v["queued"] == 0
            && v["reconnects"].as_u64() >= Some(1)
    });
    assert!(up["dropped"].as_u64() > Some(0), "{up}");
    // The keyframe after the reconnection restated the latest state.
    kb_until(
        &[
            "tree",
            "--db",
            &db,
            "--producer",
            "imu_a",
            "--format",
            "json",
        ],
        |l| {
            l.first().is_some_and(|t| {
                t["nodes"].as_array().is_some_and(|n| {
                    n.iter()
                        .any(|n| n["path"] == "imu_a.health" && n["state"] == "DEGRADED")
                })
            })
        },
    );
    terminate(&sync);
    assert_eq!(sync.wait_exit(PATIENCE), Some(true), "{}", sync.stderr());
}

#[test]
fn a_newer_schema_or_no_database_exits_2() {
    let server = pg::PgServer::start(21103);
    let db = server.url();
    // The first connection migrates.
    let (code, _, stderr) = kb(&["query", "--db", &db, "a.*"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(server.psql("SELECT max(version) FROM vigil_kb_schema"), "1");
    // VIGIL_DB_URL stands for --db.
    let out = vigil()
        .args(["kb", "query", "a.*"])
        .env("VIGIL_DB_URL", &db)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    server.psql("INSERT INTO vigil_kb_schema (version) VALUES (99)");
    for args in [
        vec!["query", "--db", &db, "a.*"],
        vec!["sync", "--db", &db, "--domain", "133"],
        vec!["tree", "--db", &db, "--producer", "p"],
    ] {
        let (code, _, stderr) = kb(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains("schema is version 99, newer"), "{stderr}");
    }

    server.pg_stop();
    let (code, _, stderr) = kb(&["sync", "--db", &db, "--domain", "134"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot reach the database at 127.0.0.1:21103/postgres"),
        "{stderr}"
    );
    let (code, _, stderr) = kb(&["query", "a.*"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("VIGIL_DB_URL"), "{stderr}");
    let (code, _, stderr) = kb(&["query", "--db", &db, "a..b"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("empty item"), "{stderr}");
}
