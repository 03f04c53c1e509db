//! `vigil tree` end to end: the CLI contract of issue 2, run on the built
//! binary with the shipped examples and files made here (nothing outside
//! this repository).

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn example(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "examples", name]
        .iter()
        .collect();
    path.display().to_string()
}

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .output()
        .expect("the vigil binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn eval_json(extra: &[&str]) -> Value {
    let (tree, events) = (
        example("vehicle.tree.yaml"),
        example("vehicle.events.jsonl"),
    );
    let mut args = vec![
        "tree", "eval", &tree, "--events", &events, "--format", "json",
    ];
    args.extend_from_slice(extra);
    let output = vigil(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).expect("eval --format json prints one JSON object")
}

fn temp_file(name: &str, text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write the temp file");
    (dir, path.display().to_string())
}

#[test]
fn check_summarizes_a_valid_file() {
    let output = vigil(&["tree", "check", &example("vehicle.tree.yaml")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("11 leaves") && text.contains("3 mounts"),
        "{text}"
    );

    let output = vigil(&[
        "tree",
        "check",
        &example("vehicle.tree.yaml"),
        "--format",
        "json",
    ]);
    let summary: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["valid"], true);
    assert_eq!(summary["leaves"], 11);
    assert_eq!(summary["mounts"], 3);
    assert!(summary["nodes"].as_u64().unwrap() > 11);
}

#[test]
fn check_lists_every_problem_with_its_line() {
    let file = example("broken.tree.yaml");
    let output = vigil(&["tree", "check", &file]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    for (line, path, words) in [
        (4, "vehicle.sensors.imu", "vote"),
        (5, "vehicle.sensors.imu.a", "missing unit"),
        (6, "vehicle.sensors.imu.b", "did you mean `check`"),
        (7, "vehicle.sensors.imu.c", "criticality `hgih`"),
        (9, "vehicle.propulsion.engine1.power", "power.bus_b"),
        (13, "comms.link.relay", "mount cycle"),
    ] {
        let prefix = format!("{file}:{line}: {path}: ");
        let found = text.lines().find(|l| l.starts_with(&prefix));
        assert!(
            found.is_some_and(|l| l.contains(words)),
            "no `{prefix}... {words}` in:\n{text}"
        );
    }
    assert!(text.contains("6 problems"), "{text}");

    let output = vigil(&["tree", "check", &file, "--format", "json"]);
    assert_eq!(output.status.code(), Some(2));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["problems"].as_array().map(Vec::len), Some(6));
}

#[test]
fn a_missing_file_is_an_input_error_naming_it() {
    let output = vigil(&["tree", "check", "no/such/tree.yaml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no/such/tree.yaml"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn eval_json_covers_every_node_with_the_contract_keys() {
    let result = eval_json(&[]);
    assert_eq!(result["at"], 1.4, "the default is the last event's time");
    let nodes = result["nodes"].as_object().unwrap();
    for (path, node) in nodes {
        let keys: Vec<&str> = node
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            ["cause", "confidence", "reason", "state", "trend"],
            "{path}"
        );
        let confidence = node["confidence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&confidence), "{path}: {confidence}");
        assert!(["OK", "DEGRADED", "FAILED", "UNKNOWN"].contains(&node["state"].as_str().unwrap()));
    }
    // Mounted subtrees appear under each mount path.
    for mount in [
        "vehicle.propulsion.engine1.power",
        "vehicle.propulsion.engine2.power",
        "vehicle.avionics.power",
    ] {
        assert_eq!(nodes[&format!("{mount}.voltage")]["state"], "OK", "{mount}");
    }
    // IMU a's heartbeat stopped at t = 0: stale, not OK.
    let imu_a = &nodes["vehicle.sensors.imu.a"];
    assert_eq!(
        (imu_a["state"].as_str(), imu_a["reason"].as_str()),
        (Some("UNKNOWN"), Some("stale"))
    );
    // The failed cabin light is low criticality: its parent is only DEGRADED.
    assert_eq!(nodes["vehicle.cabin.light"]["state"], "FAILED");
    assert_eq!(nodes["vehicle.cabin"]["state"], "DEGRADED");
    assert_eq!(nodes["vehicle.cabin"]["reason"], Value::Null);
    // The igniter fault is latched although it later reported OK.
    assert_eq!(
        nodes["vehicle.propulsion.engine1.igniter"]["state"],
        "FAILED"
    );
    assert_eq!(nodes["vehicle"]["state"], "FAILED");
    let cause = nodes["vehicle"]["cause"].as_array().unwrap();
    assert!(
        cause.contains(&Value::from("vehicle.propulsion.engine1.igniter")),
        "{cause:?}"
    );
}

#[test]
fn eval_at_an_earlier_time_sees_the_bus_sag_everywhere_it_is_mounted() {
    let result = eval_json(&["--at", "0.75"]);
    assert_eq!(result["at"], 0.75);
    let nodes = &result["nodes"];
    for mount in ["vehicle.propulsion.engine1.power", "vehicle.avionics.power"] {
        assert_eq!(
            nodes[format!("{mount}.voltage")]["state"],
            "DEGRADED",
            "{mount}"
        );
        assert_eq!(nodes[mount]["state"], "DEGRADED", "{mount}");
    }
    // Events after --at are not applied: the igniter has not failed yet.
    assert_eq!(nodes["vehicle.propulsion.engine1.igniter"]["state"], "OK");
}

#[test]
fn eval_text_is_an_indented_tree() {
    let (tree, events) = (
        example("vehicle.tree.yaml"),
        example("vehicle.events.jsonl"),
    );
    let output = vigil(&["tree", "eval", &tree, "--events", &events]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let line = |start: &str| {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line("vehicle ").contains("FAILED"), "{text}");
    assert!(line("      a ").contains("UNKNOWN (stale)"), "{text}");
    assert!(line("    power -> power.bus_a").contains("OK"), "{text}");
}

#[test]
fn a_bad_event_line_is_named() {
    let events = "\
{\"t\": 0.0, \"path\": \"vehicle.sensors.imu.c\", \"status\": \"OK\"}
# a comment
{\"t\": 0.1, \"path\": \"vehicle.sensors.imu.c\", \"status\": \"BROKEN\"}
{\"t\": 0.2, \"path\": \"vehicle.sensors.imu.c\"}
";
    let (_dir, file) = temp_file("events.jsonl", events);
    let output = vigil(&[
        "tree",
        "eval",
        &example("vehicle.tree.yaml"),
        "--events",
        &file,
    ]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(text.contains(&format!("{file}:3: bad `status`")), "{text}");
    assert!(
        text.contains(&format!("{file}:4: missing the observation")),
        "{text}"
    );
}

#[test]
fn an_event_on_an_unknown_path_is_named() {
    let events = "\
{\"t\": 0.0, \"path\": \"vehicle.sensors.imu.c\", \"status\": \"OK\"}
{\"t\": 0.1, \"path\": \"vehicle.sensors.lidar\", \"value\": 1}
";
    let (_dir, file) = temp_file("events.jsonl", events);
    let output = vigil(&[
        "tree",
        "eval",
        &example("vehicle.tree.yaml"),
        "--events",
        &file,
    ]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(
        text.contains(&format!("{file}:2:")) && text.contains("vehicle.sensors.lidar"),
        "{text}"
    );
}

#[test]
fn explain_names_the_leaf_and_the_impact() {
    let (tree, events) = (
        example("vehicle.tree.yaml"),
        example("vehicle.events.jsonl"),
    );
    let output = vigil(&[
        "tree",
        "explain",
        &tree,
        "--events",
        &events,
        "--path",
        "vehicle.propulsion",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("vehicle.propulsion.engine1.igniter"),
        "{text}"
    );
    assert!(text.contains("latched"), "{text}");
    assert!(
        text.contains("Impact") && text.contains("  vehicle\n"),
        "{text}"
    );

    let output = vigil(&[
        "tree",
        "explain",
        &tree,
        "--events",
        &events,
        "--path",
        "power.bus_a.voltage",
        "--at",
        "0.75",
        "--format",
        "json",
    ]);
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["state"], "DEGRADED");
    let impact = report["impact"].as_array().unwrap();
    assert!(
        impact.contains(&Value::from("vehicle.avionics.power")),
        "{impact:?}"
    );
    assert!(
        impact.contains(&Value::from("vehicle.propulsion.engine2.power.voltage")),
        "{impact:?}"
    );
}

#[test]
fn bad_flags_and_paths_are_input_errors() {
    let (tree, events) = (
        example("vehicle.tree.yaml"),
        example("vehicle.events.jsonl"),
    );
    let output = vigil(&["tree", "eval", &tree, "--events", &events, "--at", "-1"]);
    assert_eq!(output.status.code(), Some(2));
    let output = vigil(&[
        "tree",
        "explain",
        &tree,
        "--events",
        &events,
        "--path",
        "vehicle.nope",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("vehicle.nope"));
    let output = vigil(&[
        "tree", "explain", &tree, "--events", &events, "--path", "a..b",
    ]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_tree_written_here_evaluates_without_the_examples() {
    let tree = "\
nodes:
  rover.drive: { rule: any }
  rover.drive.left: { check: { rate: { min_hz: 5, window: 1s } } }
  rover.drive.right: { check: { range: { ok: [0, 10] } } }
";
    let (_dir, tree_file) = temp_file("rover.tree.yaml", tree);
    let (_dir2, events_file) = temp_file(
        "rover.jsonl",
        "{\"t\": 0.5, \"path\": \"rover.drive.right\", \"value\": 42}\n",
    );
    let output = vigil(&[
        "tree",
        "eval",
        &tree_file,
        "--events",
        &events_file,
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let result: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(result["nodes"]["rover.drive.right"]["state"], "FAILED");
    // `any`: the silent left side might be fine, so the drive is UNKNOWN,
    // neither OK nor FAILED.
    assert_eq!(result["nodes"]["rover.drive.left"]["reason"], "no_data");
    assert_eq!(
        result["nodes"]["rover.drive"]["state"], "UNKNOWN",
        "{result:#}"
    );
}
