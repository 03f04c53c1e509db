//! Scenario tests of the tree through the YAML loader: the issue's example
//! tree, replayed events, latches, staleness, and build errors with lines.

use vigil_diag::{
    load_tree_str, parse_events, Path, State, Timestamp, Transition, Tree, UnknownReason,
};

const TREE: &str = r#"
nodes:
  vehicle.sensors.imu: { rule: { vote: 2 }, criticality: critical }
  vehicle.sensors.imu.a: { check: { heartbeat: { timeout: 100ms } } }
  vehicle.sensors.imu.b: { check: { threshold: { degraded_above: 60, failed_above: 80 } } }
  vehicle.sensors.imu.c: { check: status }
  vehicle.propulsion.engine1.power: { mount: power.bus_a }
  vehicle.propulsion.engine1.igniter: { check: status, latch: true }
  vehicle.propulsion.engine2.power: { mount: power.bus_a }
  vehicle.cabin.light: { check: status, criticality: low }
shared:
  power.bus_a.voltage: { check: { range: { ok: [26, 30], degraded: [24, 32] } } }
"#;

const EVENTS: &str = r#"
{"t": 0.0, "path": "vehicle.sensors.imu.a", "heartbeat": true}
{"t": 0.0, "path": "vehicle.sensors.imu.b", "value": 21.5}
{"t": 0.0, "path": "vehicle.sensors.imu.c", "status": "OK"}
{"t": 0.0, "path": "vehicle.propulsion.engine1.igniter", "status": "OK"}
{"t": 0.0, "path": "vehicle.cabin.light", "status": "OK"}
{"t": 0.0, "path": "power.bus_a.voltage", "value": 28.1}
{"t": 0.5, "path": "vehicle.sensors.imu.b", "value": 72.0}
{"t": 0.6, "path": "vehicle.cabin.light", "status": "ERROR"}
{"t": 0.7, "path": "vehicle.propulsion.engine2.power.voltage", "value": 25.2}
{"t": 0.8, "path": "vehicle.propulsion.engine1.igniter", "status": 2}
{"t": 1.1, "path": "vehicle.propulsion.engine1.igniter", "status": "OK"}
{"t": 1.2, "path": "power.bus_a.voltage", "value": 27.9}
"#;

fn p(text: &str) -> Path {
    Path::parse(text).unwrap()
}

fn secs(s: f64) -> Timestamp {
    Timestamp::from_secs_f64(s).unwrap()
}

fn state(tree: &Tree, path: &str) -> State {
    tree.health(&p(path))
        .unwrap_or_else(|| panic!("no node {path}"))
        .state
}

fn replayed() -> (Tree, Vec<Transition>) {
    let spec = load_tree_str(TREE, "vehicle.yaml").unwrap();
    let mut tree = Tree::build(&spec).unwrap();
    let mut transitions = Vec::new();
    for event in parse_events(EVENTS).unwrap() {
        let changes = tree
            .observe(&event.path, event.observation, event.at)
            .unwrap();
        transitions.extend(changes);
    }
    (tree, transitions)
}

#[test]
fn the_issue_example_replays_to_the_expected_states() {
    let (mut tree, transitions) = replayed();
    // IMU a's last heartbeat was at 0 s (timeout 100 ms): the next update,
    // at 0.5 s, ages it to stale before taking its own input.
    let silent: Vec<&Transition> = transitions
        .iter()
        .filter(|t| t.path.as_str() == "vehicle.sensors.imu.a")
        .collect();
    assert_eq!(silent.len(), 2, "{silent:?}"); // no data -> OK -> stale
    assert_eq!((silent[1].new, silent[1].at), (State::Unknown, secs(0.5)));
    assert_eq!(silent[1].health.reason, Some(UnknownReason::Stale));
    // With a stale and b running hot (DEGRADED), the 2-of-3 vote cannot be
    // OK any more: it is DEGRADED.
    assert_eq!(state(&tree, "vehicle.sensors.imu.b"), State::Degraded);
    assert_eq!(state(&tree, "vehicle.sensors.imu"), State::Degraded);
    // A failed low-criticality light only degrades the cabin.
    assert_eq!(state(&tree, "vehicle.cabin.light"), State::Failed);
    assert_eq!(state(&tree, "vehicle.cabin"), State::Degraded);
    // The bus recovered, seen under both mounts.
    assert_eq!(
        state(&tree, "vehicle.propulsion.engine1.power.voltage"),
        State::Ok
    );
    assert_eq!(state(&tree, "vehicle.propulsion.engine2.power"), State::Ok);
    // The igniter reported OK again but stays latched FAILED.
    assert_eq!(
        state(&tree, "vehicle.propulsion.engine1.igniter"),
        State::Failed
    );
    assert_eq!(state(&tree, "vehicle"), State::Failed);
    assert_eq!(
        tree.causes(&p("vehicle")).unwrap(),
        [p("vehicle.propulsion.engine1.igniter")]
    );
    let text = tree
        .explain(&p("vehicle.propulsion"), secs(1.2))
        .unwrap()
        .to_string();
    assert!(text.contains("latched until reset"), "{text}");

    // Nothing left to age: no timer fires.
    assert_eq!(tree.tick(secs(1.3)), []);

    // Resetting engine1 clears the latch; the IMU and the cabin keep the
    // vehicle DEGRADED.
    let cleared = tree
        .reset(&p("vehicle.propulsion.engine1"), secs(1.4))
        .unwrap();
    let paths: Vec<&str> = cleared.iter().map(|t| t.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "vehicle.propulsion.engine1.igniter",
            "vehicle.propulsion.engine1",
            "vehicle.propulsion",
            "vehicle"
        ]
    );
    assert_eq!(state(&tree, "vehicle"), State::Degraded);
    assert_eq!(
        tree.causes(&p("vehicle")).unwrap(),
        [
            p("vehicle.cabin.light"),
            p("vehicle.sensors.imu.a"),
            p("vehicle.sensors.imu.b")
        ]
    );
}

#[test]
fn impact_and_nodes_cover_every_mount() {
    let (tree, _) = replayed();
    let impact = tree.impact(&p("power.bus_a.voltage")).unwrap();
    for path in [
        "vehicle",
        "vehicle.propulsion",
        "vehicle.propulsion.engine1",
        "vehicle.propulsion.engine1.power",
        "vehicle.propulsion.engine1.power.voltage",
        "vehicle.propulsion.engine2.power.voltage",
    ] {
        assert!(impact.contains(&p(path)), "{path} missing from {impact:?}");
    }
    let visible: Vec<String> = tree.nodes().map(|(path, _)| path.to_string()).collect();
    assert_eq!(visible.len(), tree.summary().nodes);
    assert!(visible.contains(&"vehicle.propulsion.engine2.power.voltage".to_owned()));
}

#[test]
fn a_bad_file_reports_every_build_problem_with_its_line() {
    let text = "nodes:
  vehicle.imu: { rule: { vote: 3 } }
  vehicle.imu.a: { check: status }
  vehicle.power: { mount: power.bus_a }
  vehicle.comms: { mount: comms.nowhere }
shared:
  power.bus_a.link: { mount: comms.link }
  comms.link.backup: { mount: power.bus_a }
";
    let spec = load_tree_str(text, "bad.yaml").unwrap();
    let err = Tree::build(&spec).unwrap_err();
    let lines: Vec<String> = err.to_string().lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        lines[0].starts_with("bad.yaml:2: vehicle.imu: invalid rule: vote.k is 3"),
        "{err}"
    );
    assert_eq!(
        lines[1],
        "bad.yaml:5: vehicle.comms: mount target `comms.nowhere` is not a shared path"
    );
    assert!(
        lines[2].starts_with(
            "bad.yaml:8: comms.link.backup: mount cycle: comms.link -> power.bus_a -> comms.link"
        ),
        "{err}"
    );
}
