//! Every runnable example under `examples/` (`cargo run --example NAME`)
//! runs to completion and does what its doc says; the ROS 2 one is read by
//! a real Cyclone DDS subscriber (plain ROS 2 on the wire). `cargo test`
//! builds the examples beside the tests. Domains 61 to 64, one per test.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

use support::{Proc, CYCLONE_LOOPBACK, PATIENCE};

/// The example's binary under `target/<profile>/examples/`, next to this
/// test's own (`target/<profile>/deps/`): `NAME` when it was built with
/// `cargo build --examples`, else the newest `NAME-<hash>` that `cargo test`
/// (which builds every example) left there.
fn example(name: &str) -> Command {
    let exe = std::env::current_exe().expect("the test's path");
    let examples = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/")
        .join("examples");
    let plain = examples.join(name);
    let path = if plain.is_file() {
        plain
    } else {
        newest_hashed(&examples, name).unwrap_or_else(|| {
            panic!(
                "example {name} is not built in {}: run `cargo test` (which builds the examples) or `cargo build --examples`",
                examples.display()
            )
        })
    };
    let mut command = Command::new(path);
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// `NAME-<hash>` executables (no extension), newest first.
fn newest_hashed(dir: &std::path::Path, name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let prefix = format!("{name}-");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            file.strip_prefix(&prefix)
                .is_some_and(|hash| hash.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            let runnable = meta.is_file() && meta.permissions().mode() & 0o111 != 0;
            runnable.then(|| (meta.modified().ok(), e.path()))
        })
        .max_by_key(|(modified, _)| *modified)
        .map(|(_, path)| path)
}

fn run(name: &str, args: &[&str]) -> String {
    let Output {
        status,
        stdout,
        stderr,
    } = example(name).args(args).output().expect("run the example");
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    assert!(
        status.success(),
        "{name} {args:?}: {status}\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&stderr)
    );
    stdout
}

#[test]
fn producer_health_follows_its_tree() {
    let out = run("producer", &["61"]);
    let states: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split("advert says ").nth(1))
        .collect();
    assert_eq!(
        states,
        ["Some(Ok)", "Some(Degraded)", "Some(Failed)"],
        "{out}"
    );
    assert!(out.contains("imu.temperature: FAILED"), "{out}");
}

#[test]
fn consumer_falls_back_to_the_else_topic() {
    let out = run("consumer", &["62"]);
    assert!(out.contains("fell back: true"), "{out}");
    assert!(out.contains("-> gps_imu_a/gps_imu"), "{out}");
}

#[test]
fn simulation_is_deterministic() {
    // The last line carries the wall time; everything else is simulated.
    let strip = |out: String| {
        let mut lines: Vec<String> = out.lines().map(str::to_owned).collect();
        let last = lines.pop().unwrap_or_default();
        (lines, last.split(';').next().unwrap_or_default().to_owned())
    };
    let first = strip(run("simulation", &[]));
    assert_eq!(
        first.1, "5 switches, 12400 samples delivered, 0 lost, 1 flaps suppressed",
        "{first:?}"
    );
    assert!(
        first.0.iter().any(|l| l.contains("lease expired")),
        "{first:?}"
    );
    assert_eq!(strip(run("simulation", &[])), first);
}

#[test]
fn ros2_producer_is_read_by_a_cyclone_dds_subscriber() {
    let domain = "64";
    let env = [("CYCLONEDDS_URI", CYCLONE_LOOPBACK)];
    let args = [
        "--domain",
        domain,
        "--topic",
        "rt/imu/data",
        "--kind",
        "imu",
    ];
    let mut reader = Proc::python_peer("reader", "cyclone_reader.py", &args, &env);
    reader.wait_for(PATIENCE, |v| v["event"] == "ready");
    let mut producer = example("ros2_producer");
    producer.args([domain, "20"]);
    let mut producer = Proc::spawn_command("ros2_producer", producer);
    let sample = reader.wait_for(PATIENCE, |v| {
        v["event"] == "sample" && v["node"] == "imu_ros" && v["seq"].as_u64() > Some(5)
    });
    // The header stamp the example wrote is the reception time, give or
    // take a scheduling delay.
    let lag = sample["t"].as_f64().unwrap_or(0.0) - sample["stamp"].as_f64().unwrap_or(0.0);
    assert!(lag.abs() < 5.0, "{sample}");
    producer.kill9();
}
