//! `vigil ros import-aggregator` end to end (issue 5, CLI contract): the
//! real ROS 2 analyzer files import to tree files that `vigil tree check`
//! accepts, and a bad file exits 2 listing every problem with its line.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn repo_file(parts: &[&str]) -> String {
    let mut path = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    path.extend(parts);
    path.display().to_string()
}

fn ros_data(name: &str) -> String {
    repo_file(&["bridges", "tests", "data", name])
}

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .output()
        .expect("the vigil binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Imports `file`, writes the printed tree file and checks it with
/// `vigil tree check`.
fn import_then_check(file: &str) -> String {
    let output = vigil(&["ros", "import-aggregator", file]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let tree = text(&output.stdout);
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("imported.tree.yaml");
    std::fs::write(&path, &tree).expect("write the tree file");
    let check = vigil(&["tree", "check", &path.display().to_string()]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}\n{tree}",
        text(&check.stderr)
    );
    tree
}

#[test]
fn pr2_analyzers_import_to_a_valid_tree() {
    let tree = import_then_check(&ros_data("pr2_analyzers.yaml"));
    for line in [
        "  sensors.forearm_cam_left: {}",
        "  # /Sensors/Forearm Cam (Left) (analyzer, line 29): find_and_remove_prefix: ['l_forearm_cam']; timeout: 5s; num_items: 4 (not enforced)",
        "  power_system.ibps_0: { check: { status: { stale_after: 3140ms } } }",
    ] {
        assert!(tree.lines().any(|l| l == line), "no line {line:?} in\n{tree}");
    }
}

#[test]
fn example_analyzers_import_under_their_base_path() {
    let tree = import_then_check(&ros_data("example_analyzers.yaml"));
    assert!(
        tree.contains("\n  aggregation.topology.left: {}\n"),
        "{tree}"
    );
}

#[test]
fn json_gives_the_tree_leaves_and_mappings() {
    let file = ros_data("pr2_analyzers.yaml");
    let output = vigil(&["ros", "import-aggregator", &file, "--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let value: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(value["leaves"], 4);
    let plain = vigil(&["ros", "import-aggregator", &file]);
    assert_eq!(value["tree"].as_str(), Some(text(&plain.stdout).as_str()));
    let mappings = value["mappings"].as_array().expect("mappings");
    assert!(mappings
        .iter()
        .any(|m| m["ros_path"] == "/Sensors/Base Hokuyo"
            && m["path"] == "sensors.base_hokuyo"
            && m["kind"] == "analyzer"));
}

#[test]
fn a_bad_file_exits_2_with_every_problem_and_its_line() {
    let file = repo_file(&["examples", "ros_bad_analyzers.yaml"]);
    let output = vigil(&["ros", "import-aggregator", &file]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let err = text(&output.stderr);
    assert!(err.contains("3 problems"), "{err}");
    for needle in [
        ":8: analyzers.ros__parameters.motors: unknown analyzer type `diagnostic_aggregator/GenericAnalyser`",
        ":11: analyzers.ros__parameters.sensors: missing `path`",
        ":17: analyzers.ros__parameters.cameras.regex: bad regex `cam(era`",
    ] {
        assert!(err.contains(needle), "no {needle:?} in\n{err}");
    }
    let json = vigil(&["ros", "import-aggregator", &file, "--format", "json"]);
    assert_eq!(json.status.code(), Some(2));
    let value: Value = serde_json::from_slice(&json.stdout).expect("one JSON object");
    let lines: Vec<u64> = value["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p["line"].as_u64())
        .collect();
    assert_eq!(lines, [8, 11, 17]);
}

#[test]
fn an_unreadable_file_is_an_input_error() {
    let output = vigil(&["ros", "import-aggregator", "/nonexistent/analyzers.yaml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("cannot read"));
}
