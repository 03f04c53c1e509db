//! `vigil recover` end to end over real processes (issue 10): the IMU
//! procedure of examples/imu_recover.yaml. Two `vigil produce` drivers
//! run under the engine's own supervisor; ERROR on the active IMU (imu_a)
//! -> the behaviour tree restarts its driver through the supervisor ->
//! still failing -> imu_a isolated and mode `degraded_nav`, the consumer
//! with `--query-in` moves to the degraded query; fixed -> released after
//! its probation, and back to `nominal` after the hold time. A plain
//! `vigil consume` never selects imu_a while it is isolated, even once
//! imu_a says it is OK again, and returns to it once released.
//!
//! A mode's `allow:` and `children:` act too: a producer the mode does
//! not allow is isolated, a supervised child it leaves out is stopped,
//! and both come back with the mode that has them.
//!
//! A mode's `capabilities:` reach every consumer: the producer is ranked
//! on the overridden values while the mode holds, and on its own after.
//!
//! Domains 140-149, 171 and 200 are this file's.

mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{
    free_port, producers_on, selected, t, terminate, vigil, vigil_json, Proc, PATIENCE,
    TEST_LEASE_MS,
};

const PLAIN: &str = "imu WHERE health.state = OK PREFER accuracy ASC";
const DEGRADED: &str = "imu WHERE health.state = OK PREFER rate_hz DESC";

/// The body of `GET path` on 127.0.0.1:port.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

fn append(file: &Path, line: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .unwrap();
    writeln!(f, "{line}").unwrap();
}

fn recover(domain: u16, faults: &Path, extra: &[&str]) -> Proc {
    recover_with(
        Path::new("examples/imu_recover.yaml"),
        domain,
        faults,
        extra,
    )
}

/// `vigil recover --config CONFIG` (relative to the repository root) over
/// the example's drivers.
fn recover_with(config: &Path, domain: u16, faults: &Path, extra: &[&str]) -> Proc {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut command: Command = vigil();
    command
        .current_dir(root)
        .arg("recover")
        .arg("--config")
        .arg(config)
        .args(["--domain", &domain.to_string(), "--format", "json"])
        // A loaded machine starts the drivers slowly; the first tick comes
        // as soon as both report.
        .args(["--settle-ms", "60000"])
        .args(extra)
        .env("VIGIL", env!("CARGO_BIN_EXE_vigil"))
        .env("VIGIL_DOMAIN", domain.to_string())
        .env("VIGIL_FAULTS", faults)
        .env("VIGIL_EXAMPLES", root.join("examples"))
        .env("VIGIL_LEASE_MS", TEST_LEASE_MS);
    Proc::spawn_command("recover", command)
}

/// The lines of `p` but its periodic counts, for failure messages.
fn story(p: &Proc) -> String {
    p.seen
        .iter()
        .filter(|v| v["event"] != "stats" && v["event"] != "tick")
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

fn action(name: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["event"] == "action" && v["action"] == name
}

fn mode(to: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["event"] == "mode" && v["to"] == to
}

#[test]
fn imu_error_restart_isolate_degraded_mode_then_release_and_back_to_nominal() {
    let domain = 140;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        dir.path().join("imu_a.faults"),
        dir.path().join("imu_b.faults"),
    );
    append(&a, "set vehicle.sensors.imu_a.driver OK");
    append(&b, "set vehicle.sensors.imu_b.driver OK");
    let record = dir.path().join("recover.mcap");
    let metrics_port = free_port();
    let metrics = format!("127.0.0.1:{metrics_port}");
    let mut engine = recover(
        domain,
        dir.path(),
        &[
            "--record",
            &record.display().to_string(),
            "--metrics",
            &metrics,
        ],
    );
    engine.wait_for(PATIENCE, |v| {
        v["event"] == "ready" && v["mode"] == "nominal"
    });

    let mut plain = Proc::consumer(domain, PLAIN, &[]);
    let degraded_in = format!("degraded_nav={DEGRADED}");
    let mut moded = Proc::consumer(domain, PLAIN, &["--query-in", &degraded_in]);
    plain.wait_for(PATIENCE, |v| selected(v, "imu_a"));
    moded.wait_for(PATIENCE, |v| selected(v, "imu_a"));

    // The fault: the driver replays it after a restart, so it persists.
    append(&a, "set vehicle.sensors.imu_a.driver ERROR");
    engine.wait_for(PATIENCE, |v| {
        action("Restart")(v) && v["args"]["child"] == "imu_a_driver"
    });
    engine.wait_for(PATIENCE, |v| {
        v["event"] == "started" && v["child"] == "imu_a_driver"
    });
    engine.wait_for(PATIENCE, |v| {
        v["event"] == "done" && v["action"] == "Restart" && v["ok"] == true
    });
    // Still failing after the restart: isolated.
    let isolated = engine.wait_for(PATIENCE, |v| {
        v["event"] == "isolated" && v["producer"] == "imu_a"
    });
    engine.wait_seen(PATIENCE, mode("degraded_nav"));
    let mark = engine.mark();
    plain.wait_seen(PATIENCE, |v| selected(v, "imu_b"));
    let query_changed = moded.try_wait_for(2 * PATIENCE, |v| {
        v["event"] == "query" && v["mode"] == "degraded_nav" && v["query"] == DEGRADED
    });
    assert!(
        query_changed.is_some(),
        "no query for degraded_nav\nengine:\n{}\n{}\nconsumer:\n{}\n{}",
        story(&engine),
        engine.stderr(),
        story(&moded),
        moded.stderr()
    );
    moded.wait_for(PATIENCE, |v| selected(v, "imu_b"));

    // The repair: imu_a says OK, and stays isolated through its probation.
    append(&a, "set vehicle.sensors.imu_a.driver OK");
    let probation = engine.wait_since(mark, PATIENCE, |v| {
        action("Wait")(v) && v["args"]["duration"] == "3000ms"
    });
    let released = engine.wait_for(PATIENCE, |v| {
        v["event"] == "released" && v["producer"] == "imu_a"
    });
    assert!(
        t(&released) - t(&probation) >= 2.9,
        "{probation} {released}"
    );
    engine.wait_seen(PATIENCE, |v| {
        mode("nominal")(v) && v["cause"] == "no rule holds"
    });
    // Back to the better producer once released (revertive), and never
    // while isolated: every line up to that selection has been read.
    let back = plain.wait_seen(PATIENCE, |v| selected(v, "imu_a") && t(v) > t(&released));
    let on_a: Vec<&Value> = plain
        .seen
        .iter()
        .filter(|v| selected(v, "imu_a") && t(v) > t(&isolated) && t(v) < t(&released))
        .collect();
    assert!(
        on_a.is_empty(),
        "an isolated producer was selected: {on_a:?}\nengine:\n{}\nconsumer:\n{}",
        story(&engine),
        story(&plain)
    );
    assert!(t(&back) > t(&released));
    // The query as the consumer prints it back (normalized: `ASC` is the
    // default order and not printed).
    moded.wait_for(2 * PATIENCE, |v| {
        v["event"] == "query"
            && v["mode"] == "nominal"
            && v["query"]
                .as_str()
                .is_some_and(|q| q.ends_with("PREFER accuracy"))
    });
    moded.wait_for(PATIENCE, |v| selected(v, "imu_a"));
    // What the engine's registry was fed is counted (`--metrics`) and
    // recorded (`--record`, replayed below). Its own isolations and
    // FAILED-on-behalf are not among them: rustdds does not match a
    // participant's reader with its own writers.
    let text = get(metrics_port, "/metrics").expect("GET /metrics");
    assert!(
        text.contains("vigil_inputs_total{kind=\"advert\"}"),
        "{text}"
    );
    // A clean stop: every child stopped, exit 0, no producer left.
    terminate(&engine);
    assert_eq!(
        engine.wait_exit(PATIENCE),
        Some(true),
        "{}",
        engine.stderr()
    );
    assert!(
        producers_on(domain).is_empty(),
        "{:?}",
        producers_on(domain)
    );
    let replayed = vigil().arg("replay").arg(&record).output().unwrap();
    assert_eq!(replayed.status.code(), Some(0), "{replayed:?}");
}

/// `vigil recover` named `name` over the example's tree and supervised
/// IMU drivers (both reporting OK), with `modes` as its modes file, in
/// `dir`; waited for until it is ready in `nominal`.
fn engine_with_modes(domain: u16, dir: &Path, name: &str, modes: &str) -> Proc {
    append(
        &dir.join("imu_a.faults"),
        "set vehicle.sensors.imu_a.driver OK",
    );
    append(
        &dir.join("imu_b.faults"),
        "set vehicle.sensors.imu_b.driver OK",
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::write(dir.join("modes.yaml"), modes).unwrap();
    let config = dir.join("recover.yaml");
    std::fs::write(
        &config,
        format!(
            "name: {name}\ntree: {}\nmodes: modes.yaml\nsupervise: {}\n",
            root.join("examples/imu_recover.tree.yaml").display(),
            root.join("examples/imu_recover.supervise.yaml").display()
        ),
    )
    .unwrap();
    let mut engine = recover_with(&config, domain, dir, &[]);
    engine.wait_for(PATIENCE, |v| {
        v["event"] == "ready" && v["mode"] == "nominal"
    });
    engine
}

/// Issue 10: a mode's `allow:` isolates every producer on the domain it
/// does not list, and its `children:` stops the supervised children it
/// leaves out; the next mode releases and starts them again. nominal
/// allows imu_a and imu_b (not the more accurate imu_c, a producer the
/// engine does not supervise); degraded_nav allows imu_b and imu_c and
/// runs imu_b's driver only.
#[test]
fn a_modes_allow_and_children_act() {
    let domain = 171;
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("imu_a.faults");
    let mut engine = engine_with_modes(
        domain,
        dir.path(),
        "modes_act",
        "target: nominal\nhold: 2s\nmodes:\n  nominal:\n    allow: [imu_a, imu_b]\n  \
         degraded_nav:\n    allow: [imu_b, imu_c]\n    children: [imu_b_driver]\nrules:\n  \
         - when: vehicle.sensors.imu_a is FAILED for 1s\n    mode: degraded_nav\n    priority: 10\n",
    );
    let _c = Proc::producer(domain, "imu_c", &["accuracy=0.0001"], &[]);
    let isolated_c = |v: &Value| v["event"] == "isolated" && v["producer"] == "imu_c";
    let first = engine.wait_for(PATIENCE, isolated_c);
    assert_eq!(first["reason"], "mode nominal", "{first}");
    let mut plain = Proc::consumer(domain, PLAIN, &[]);
    plain.wait_for(PATIENCE, |v| selected(v, "imu_a"));

    append(&a, "set vehicle.sensors.imu_a.driver ERROR");
    engine.wait_for(PATIENCE, mode("degraded_nav"));
    let stopped = engine.wait_for(PATIENCE, |v| {
        v["event"] == "mode_child" && v["child"] == "imu_a_driver"
    });
    assert_eq!(stopped["do"], "stop", "{stopped}");
    // The repair, while the driver is down: it reads it when started.
    append(&a, "set vehicle.sensors.imu_a.driver OK");
    engine.wait_seen(PATIENCE, |v| {
        v["event"] == "released" && v["producer"] == "imu_c"
    });
    plain.wait_for(PATIENCE, |v| selected(v, "imu_c"));
    // imu_a is stopped, so no longer FAILED: the rule lets go, and after
    // the hold nominal starts its driver again and isolates imu_c.
    let back = engine.wait_for(PATIENCE, mode("nominal"));
    let started = engine.wait_for(PATIENCE, |v| {
        v["event"] == "mode_child" && v["child"] == "imu_a_driver"
    });
    assert_eq!(started["do"], "start", "{started}");
    engine.wait_seen(PATIENCE, |v| isolated_c(v) && t(v) >= t(&back));
    plain.wait_for(PATIENCE, |v| selected(v, "imu_a"));
    // imu_b's driver ran throughout.
    let b_stopped: Vec<&Value> = engine
        .seen
        .iter()
        .filter(|v| v["event"] == "mode_child" && v["child"] == "imu_b_driver")
        .collect();
    assert!(b_stopped.is_empty(), "{b_stopped:?}\n{}", story(&engine));
    terminate(&engine);
    assert_eq!(
        engine.wait_exit(PATIENCE),
        Some(true),
        "{}",
        engine.stderr()
    );
}

/// Issue 10: a mode's capability overrides reach every consumer, a late
/// one too (transient-local), and end with the mode. nominal overrides
/// nothing; degraded_nav says imu_c (the most accurate, not supervised)
/// is only accurate to 0.1 without aiding, so the consumers rank imu_b
/// (0.01) first while imu_a is FAILED; back in nominal, imu_c again.
#[test]
fn a_modes_capability_overrides_reach_every_consumer() {
    let domain = 200;
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("imu_a.faults");
    let mut engine = engine_with_modes(
        domain,
        dir.path(),
        "overrides",
        "target: nominal\nhold: 2s\nmodes:\n  nominal: {}\n  degraded_nav:\n    \
         capabilities: { imu_c: { accuracy: 0.1 } }\nrules:\n  \
         - when: vehicle.sensors.imu_a is FAILED for 1s\n    mode: degraded_nav\n    priority: 10\n",
    );
    let _c = Proc::producer(domain, "imu_c", &["accuracy=0.0001"], &[]);
    let mut plain = Proc::consumer(domain, PLAIN, &[]);
    plain.wait_for(PATIENCE, |v| selected(v, "imu_c"));

    append(&a, "set vehicle.sensors.imu_a.driver ERROR");
    engine.wait_for(PATIENCE, mode("degraded_nav"));
    let said = engine.wait_for(PATIENCE, |v| v["event"] == "capabilities");
    assert_eq!(said["producer"], "imu_c", "{said}");
    assert_eq!(said["cleared"], false, "{said}");
    assert!(
        said["values"]
            .as_str()
            .unwrap_or_default()
            .contains("accuracy=0.1"),
        "{said}"
    );
    plain.wait_for(PATIENCE, |v| selected(v, "imu_b"));
    // A consumer that starts now learns the override with the adverts.
    let mut late = Proc::consumer(domain, PLAIN, &[]);
    let first = late.wait_for(PATIENCE, |v| v["event"] == "selected");
    assert_eq!(first["producer"], "imu_b", "{first}\n{}", story(&engine));
    // A monitor shows it beside the advertised value.
    let domain_text = domain.to_string();
    let (code, shown, stderr) = vigil_json([
        "monitor",
        "--domain",
        &domain_text,
        "--once",
        "--settle-ms",
        "3000",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let c = shown
        .iter()
        .flat_map(|v| v["adverts"].as_array().cloned().unwrap_or_default())
        .find(|p| p["producer"] == "imu_c")
        .unwrap_or_else(|| panic!("imu_c not seen: {shown:?}"));
    assert_eq!(c["overrides"]["accuracy"], "0.1", "{c}");
    assert_eq!(c["capabilities"]["accuracy"], "0.0001", "{c}");

    append(&a, "set vehicle.sensors.imu_a.driver OK");
    engine.wait_for(PATIENCE, mode("nominal"));
    let cleared = engine.wait_for(PATIENCE, |v| v["event"] == "capabilities");
    assert_eq!(cleared["producer"], "imu_c", "{cleared}");
    assert_eq!(cleared["cleared"], true, "{cleared}");
    plain.wait_for(PATIENCE, |v| selected(v, "imu_c"));
    late.wait_for(PATIENCE, |v| selected(v, "imu_c"));
    terminate(&engine);
    assert_eq!(
        engine.wait_exit(PATIENCE),
        Some(true),
        "{}",
        engine.stderr()
    );
}

/// SIGKILL of the engine leaves no driver behind (the parent-death signal
/// reaches the `sh`, `tail --pid` follows it, and the producer sees EOF).
#[test]
fn no_orphans_after_the_engine_is_killed() {
    let domain = 142;
    let dir = tempfile::tempdir().unwrap();
    append(
        &dir.path().join("imu_a.faults"),
        "set vehicle.sensors.imu_a.driver OK",
    );
    append(
        &dir.path().join("imu_b.faults"),
        "set vehicle.sensors.imu_b.driver OK",
    );
    let mut engine = recover(domain, dir.path(), &[]);
    engine.wait_for(PATIENCE, |v| v["event"] == "ready");
    assert_eq!(producers_on(domain).len(), 2, "{:?}", producers_on(domain));
    engine.kill9();
    let deadline = std::time::Instant::now() + PATIENCE;
    while !producers_on(domain).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "orphans: {:?}",
            producers_on(domain)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn check_reports_every_problem_with_its_line_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        std::fs::write(dir.path().join(name), text).unwrap();
    };
    write("tree.yaml", "nodes:\n  v.imu_a.driver: { check: status }\n");
    write(
        "bt.xml",
        r#"<root BTCPP_format="4" main_tree_to_execute="M">
  <BehaviorTree ID="M">
    <Sequence>
      <Health path="v.imu_a" is="FAILED"/>
      <Restart child="nobody"/>
    </Sequence>
  </BehaviorTree>
</root>
"#,
    );
    write(
        "sup.yaml",
        "children:\n  - { id: imu_a_driver, command: [sleep, '60'] }\n",
    );
    write(
        "bad.yaml",
        "tree: tree.yaml\nbt: bt.xml\nsupervize: sup.yaml\n",
    );
    let out = vigil()
        .current_dir(dir.path())
        .args([
            "recover", "--check", "--config", "bad.yaml", "--domain", "141",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.yaml:3"), "{stderr}");
    assert!(stderr.contains("supervise"), "did-you-mean: {stderr}");

    write(
        "good.yaml",
        "tree: tree.yaml\nbt: bt.xml\nsupervise: sup.yaml\n",
    );
    let out = vigil()
        .current_dir(dir.path())
        .args([
            "recover",
            "--check",
            "--config",
            "good.yaml",
            "--domain",
            "141",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bt.xml:5") && stderr.contains("no child `nobody`"),
        "{stderr}"
    );

    write(
        "bt.xml",
        &std::fs::read_to_string(dir.path().join("bt.xml"))
            .unwrap()
            .replace("nobody", "imu_a_driver"),
    );
    let out = vigil()
        .current_dir(dir.path())
        .args([
            "recover",
            "--check",
            "--config",
            "good.yaml",
            "--domain",
            "141",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
}
