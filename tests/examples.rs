//! Every file under `examples/` is checked by the command that reads it:
//! the good ones pass, the deliberately broken ones fail with exit 2. A new
//! example that no check covers fails the test, so none goes stale.

mod support;

use std::path::Path;

/// What to run on an example (`{file}`: its path, `{query}`: the text of
/// examples/query_imu.txt), and the exit code expected.
fn check(name: &str) -> Option<(Vec<&'static str>, i32)> {
    let check = match name {
        "agent.yaml" => (vec!["agent", "--check", "--config", "{file}"], 0),
        // Without the feature the command says how to get it, exit 2.
        "zenoh-bridge.yaml" => (
            vec!["bridge", "zenoh", "--check", "--config", "{file}"],
            if cfg!(feature = "zenoh") { 0 } else { 2 },
        ),
        "vehicle.tree.yaml" | "imu.tree.yaml" => (vec!["tree", "check", "{file}"], 0),
        "broken.tree.yaml" => (vec!["tree", "check", "{file}"], 2),
        "ros_bad_analyzers.yaml" => (vec!["ros", "import-aggregator", "{file}"], 2),
        "imu_analyzers.yaml" => (vec!["ros", "import-aggregator", "{file}"], 0),
        "query_imu.txt" => (vec!["query", "check", "{query}"], 0),
        "vehicle.events.jsonl" => (
            vec![
                "tree",
                "eval",
                "examples/vehicle.tree.yaml",
                "--events",
                "{file}",
            ],
            0,
        ),
        "adverts.json" => (vec!["query", "eval", "{query}", "--adverts", "{file}"], 0),
        "imu_troubleshoot.bt.xml" => (vec!["bt", "check", "{file}"], 0),
        "imu_pair.tree.yaml"
        | "imu_recover.tree.yaml"
        | "imu_a_driver.tree.yaml"
        | "imu_b_driver.tree.yaml" => (vec!["tree", "check", "{file}"], 0),
        "imu_recover.bt.xml" => (vec!["bt", "check", "{file}"], 0),
        // The live IMU example: the engine's config checks every file it
        // names (the tree, the behaviour tree, the modes, the supervisor's).
        "imu_recover.yaml" | "imu_recover.modes.yaml" | "imu_recover.supervise.yaml" => (
            vec![
                "recover",
                "--check",
                "--config",
                "examples/imu_recover.yaml",
                "--domain",
                "140",
            ],
            0,
        ),
        "imu.modes.yaml" | "imu_fault.events.jsonl" => (
            vec![
                "bt",
                "run",
                "examples/imu_troubleshoot.bt.xml",
                "--tree",
                "examples/imu_pair.tree.yaml",
                "--events",
                "examples/imu_fault.events.jsonl",
                "--modes",
                "examples/imu.modes.yaml",
                "--until",
                "10",
            ],
            0,
        ),
        _ => return None,
    };
    Some(check)
}

#[test]
fn every_example_passes_the_check_of_the_command_that_reads_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut entries: Vec<_> = std::fs::read_dir(root.join("examples"))
        .expect("examples/ exists")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        // The runnable examples are run by tests/examples_run.rs.
        .filter(|name| !name.ends_with(".rs"))
        .collect();
    entries.sort();
    assert!(entries.len() >= 8, "{entries:?}");
    for name in entries {
        let Some((args, expected)) = check(&name) else {
            panic!("examples/{name} is not checked by any command: add it to tests/examples.rs");
        };
        let file = format!("examples/{name}");
        let query = std::fs::read_to_string(root.join("examples/query_imu.txt"))
            .expect("examples/query_imu.txt");
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("{file}", &file).replace("{query}", query.trim()))
            .collect();
        let output = support::vigil()
            .current_dir(root)
            .args(&args)
            .output()
            .expect("run vigil");
        assert_eq!(
            output.status.code(),
            Some(expected),
            "vigil {} {file}\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if expected == 2 && name != "zenoh-bridge.yaml" {
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains(&file),
                "a bad file's problems name it: {stderr}"
            );
        }
    }
}
