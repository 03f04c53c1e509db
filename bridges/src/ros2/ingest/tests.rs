use proptest::prelude::*;
use vigil_diag::{is_valid_label, load_tree_str, Observation, State, Tree, UnknownReason};

use super::*;

const PR2: &str = include_str!("../../../tests/data/pr2_analyzers.yaml");
const EXAMPLE: &str = include_str!("../../../tests/data/example_analyzers.yaml");

fn status(name: &str, level: u8) -> DiagnosticStatus {
    DiagnosticStatus {
        level,
        name: name.into(),
        ..DiagnosticStatus::default()
    }
}

fn path(text: &str) -> Path {
    Path::parse(text).unwrap()
}

fn problems(text: &str) -> Vec<String> {
    Analyzers::from_yaml(text, "bad.yaml")
        .unwrap_err()
        .problems
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn sanitizing_is_documented_and_deterministic() {
    let table = [
        ("Forearm Cam (Left)", "forearm_cam_left"),
        ("/imu_node: IMU", "imu_node_imu"),
        ("Power System", "power_system"),
        ("IBPS 0", "ibps_0"),
        ("a__b", "a_b"),
        ("__x__", "x"),
        ("Température", "temp_rature"),
        ("()", "unnamed"),
        ("", "unnamed"),
    ];
    for (ros, label) in table {
        assert_eq!(sanitize_label(ros), label, "{ros}");
    }
}

#[test]
fn pr2_imports_with_groups_analyzers_and_expected_leaves() {
    let analyzers = Analyzers::from_yaml(PR2, "pr2_analyzers.yaml").unwrap();
    let mappings: Vec<(&str, &str, MappingKind)> = analyzers
        .mappings()
        .map(|m| (m.ros_path.as_str(), m.path.as_str(), m.kind))
        .collect();
    use MappingKind::*;
    assert_eq!(
        mappings,
        [
            ("/Motors", "motors", Analyzer),
            ("/Sensors", "sensors", Group),
            ("/Sensors/Base Hokuyo", "sensors.base_hokuyo", Analyzer),
            ("/Sensors/Tilt Hokuyo", "sensors.tilt_hokuyo", Analyzer),
            ("/Sensors/IMU", "sensors.imu", Analyzer),
            (
                "/Sensors/Forearm Cam (Left)",
                "sensors.forearm_cam_left",
                Analyzer
            ),
            (
                "/Sensors/Forearm Cam (Right)",
                "sensors.forearm_cam_right",
                Analyzer
            ),
            ("/Computers", "computers", Analyzer),
            ("/Joints", "joints", Analyzer),
            ("/Power System", "power_system", Analyzer),
            ("/Power System/IBPS 1", "power_system.ibps_1", Expected),
            ("/Power System/IBPS 2", "power_system.ibps_2", Expected),
            ("/Power System/IBPS 3", "power_system.ibps_3", Expected),
            ("/Power System/IBPS 0", "power_system.ibps_0", Expected),
        ]
    );
    assert_eq!(analyzers.leaves(), 4);
    let spec = analyzers.tree_spec();
    let ibps = spec
        .nodes
        .iter()
        .find(|n| n.path == path("power_system.ibps_0"));
    let stale_after = Some(Duration::from_millis(3140));
    assert_eq!(
        ibps.map(|n| &n.body),
        Some(&NodeBody::Leaf(CheckSpec::Status { stale_after }))
    );
    // The printed tree file loads back to the same tree.
    let text = analyzers.tree_file();
    let loaded = load_tree_str(&text, "printed.yaml").unwrap();
    let shape = |s: &TreeSpec| -> Vec<(Path, NodeBody)> {
        s.nodes
            .iter()
            .map(|n| (n.path.clone(), n.body.clone()))
            .collect()
    };
    assert_eq!(shape(&loaded), shape(&spec), "{text}");
}

#[test]
fn example_imports_under_its_base_path() {
    let analyzers = Analyzers::from_yaml(EXAMPLE, "example_analyzers.yaml").unwrap();
    let paths: Vec<&str> = analyzers.mappings().map(|m| m.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "aggregation",
            "aggregation.arms",
            "aggregation.legs",
            "aggregation.sensors",
            "aggregation.motors",
            "aggregation.topology",
            "aggregation.topology.left",
            "aggregation.topology.right",
        ]
    );
    let first = analyzers.mappings().nth(1).unwrap();
    assert_eq!(first.ros_path, "/Aggregation/Arms");
    // A status may match several analyzers, as in the aggregator.
    let routes = analyzers.route(&status("/arms/left/motor", 2)).unwrap();
    let failed = Observation::Status {
        state: State::Failed,
        reason: None,
    };
    assert_eq!(
        routes,
        [
            (path("aggregation.arms.arms_left_motor"), failed),
            (path("aggregation.motors.arms_left_motor"), failed),
            (path("aggregation.topology.left.arms_left_motor"), failed),
        ]
    );
}

#[test]
fn routing_follows_the_generic_analyzer_rules() {
    let analyzers = Analyzers::from_yaml(PR2, "pr2_analyzers.yaml").unwrap();
    let route = |name: &str, level: u8| analyzers.route(&status(name, level)).unwrap();
    let table: &[(&str, u8, &str, State, Option<UnknownReason>)] = &[
        (
            "EtherCAT Master",
            0,
            "motors.ethercat_master",
            State::Ok,
            None,
        ),
        (
            "base_hokuyo_node: Connection",
            1,
            "sensors.base_hokuyo.connection",
            State::Degraded,
            None,
        ),
        (
            "imu_node: IMU",
            3,
            "sensors.imu.imu",
            State::Unknown,
            Some(UnknownReason::Stale),
        ),
        ("c1 HD Temp", 2, "computers.c1_hd_temp", State::Failed, None),
        ("IBPS 1", 0, "power_system.ibps_1", State::Ok, None),
    ];
    for &(name, level, want, state, reason) in table {
        let got = route(name, level);
        assert_eq!(
            got,
            [(path(want), Observation::Status { state, reason })],
            "{name}"
        );
    }
    assert!(route("Nobody Matches", 0).is_empty());
    assert_eq!(
        analyzers.route(&status("EtherCAT", 7)),
        Err(RouteError::BadLevel {
            name: "EtherCAT".into(),
            level: 7
        })
    );
}

#[test]
fn expected_items_never_seen_stay_unknown_and_new_items_extend_the_tree() {
    let analyzers = Analyzers::from_yaml(PR2, "pr2_analyzers.yaml").unwrap();
    let mut spec = analyzers.tree_spec();
    let routes = analyzers.route(&status("EtherCAT Master", 0)).unwrap();
    let (leaf, observation) = routes[0].clone();
    assert!(analyzers.extend(&mut spec, &leaf));
    assert!(!analyzers.extend(&mut spec, &leaf), "once");
    assert!(!analyzers.extend(&mut spec, &path("nowhere.x")));
    let mut tree = Tree::build(&spec).unwrap();
    let t = vigil_diag::Timestamp::from_nanos(1);
    tree.observe(&leaf, observation, t).unwrap();
    assert_eq!(tree.health(&path("motors")).unwrap().state, State::Ok);
    let ibps = tree.health(&path("power_system.ibps_0")).unwrap();
    assert_eq!(
        (ibps.state, ibps.reason),
        (State::Unknown, Some(UnknownReason::NoData))
    );
    // An analyzer nobody reported to is UNKNOWN, never OK.
    assert_eq!(tree.health(&path("joints")).unwrap().state, State::Unknown);
}

#[test]
fn a_bad_file_reports_every_problem_with_its_line() {
    let text = "\
analyzers:
  ros__parameters:
    motors:
      type: diagnostic_aggregator/GenericAnalyser
      path: Motors
    sensors:
      type: diagnostic_aggregator/GenericAnalyzer
      startswith: [ 'imu' ]
    cams:
      type: diagnostic_aggregator/GenericAnalyzer
      path: Cams
      regex: [ 'cam(' ]
      timout: 5.0
    empty:
      type: diagnostic_aggregator/GenericAnalyzer
      path: Empty
";
    let got = problems(text);
    assert_eq!(got.len(), 5, "{got:#?}");
    assert!(got[0].starts_with("bad.yaml:4: analyzers.ros__parameters.motors: unknown analyzer type `diagnostic_aggregator/GenericAnalyser`"), "{}", got[0]);
    assert!(
        got[1].starts_with("bad.yaml:6: analyzers.ros__parameters.sensors: missing `path`"),
        "{}",
        got[1]
    );
    assert!(
        got[2].starts_with("bad.yaml:12: analyzers.ros__parameters.cams.regex: bad regex `cam(`"),
        "{}",
        got[2]
    );
    assert!(
        got[3].contains("13:") && got[3].contains("did you mean `timeout`?"),
        "{}",
        got[3]
    );
    assert!(
        got[4].starts_with("bad.yaml:14:") && got[4].contains("matches nothing"),
        "{}",
        got[4]
    );
}

#[test]
fn collisions_shapes_and_syntax_are_reported() {
    let collide = "\
a:
  ros__parameters:
    x: { type: diagnostic_aggregator/GenericAnalyzer, path: 'Cam (Left)', contains: [a] }
    y: { type: diagnostic_aggregator/GenericAnalyzer, path: 'cam left', contains: [b] }
";
    let got = problems(collide);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].contains("`/cam left` maps to `cam_left`, as does `/Cam (Left)` (line 3)"),
        "{}",
        got[0]
    );
    for (text, needle) in [
        ("", "the file is empty"),
        ("[1, 2]", "must be a mapping"),
        ("a: { b: 1 }", "no `ros__parameters`"),
        ("a: [", "not valid YAML"),
        ("a:\n  ros__parameters:\n    x: 3\n", "unknown parameter `x`"),
        ("a:\n  ros__parameters:\n    x: { path: X }\n", "missing `type`"),
        ("a:\n  ros__parameters:\n    g: { type: diagnostic_aggregator/AnalyzerGroup, path: G }\n", "missing `analyzers`"),
    ] {
        let got = problems(text);
        assert!(got.iter().any(|p| p.contains(needle)), "{text:?}: {got:?}");
    }
}

proptest! {
    #[test]
    fn sanitized_labels_are_valid_and_stable(name in "\\PC{0,30}") {
        let label = sanitize_label(&name);
        prop_assert!(is_valid_label(&label), "{label}");
        prop_assert_eq!(sanitize_label(&label), label);
    }

    #[test]
    fn the_importer_never_panics(text in "[a-z_:{}\\[\\]' ,\\n/()0-9.-]{0,200}") {
        match Analyzers::from_yaml(&text, "p.yaml") {
            Ok(analyzers) => {
                let printed = analyzers.tree_file();
                prop_assert!(load_tree_str(&printed, "printed.yaml").is_ok(), "{printed}");
            }
            Err(error) => prop_assert!(error.problems.iter().all(|p| p.line >= 1)),
        }
    }

}

/// Well-formed files import unless two names sanitize alike (then the only
/// problems are collisions), and most of them do import: a generator whose
/// every case were refused would test nothing (issue 15).
#[test]
fn well_formed_files_import_and_print_loadable_trees() {
    use proptest::test_runner::{Config, TestRunner};
    let strategy = (
        prop::collection::vec("[A-Za-z ()/:_-]{1,12}", 1..6),
        prop::option::of(-1.0f64..10.0),
    );
    let mut runner = TestRunner::new(Config {
        cases: 256,
        ..Config::default()
    });
    let (accepted, total) = (std::cell::Cell::new(0u32), std::cell::Cell::new(0u32));
    runner
        .run(&strategy, |(names, timeout)| {
            let mut text = String::from("agg:\n  ros__parameters:\n");
            for (i, name) in names.iter().enumerate() {
                text.push_str(&format!("    a{i}:\n      type: diagnostic_aggregator/GenericAnalyzer\n      path: 'P{i} {name}'\n      expected: [ '{name}' ]\n"));
                if let Some(t) = timeout {
                    text.push_str(&format!("      timeout: {t}\n"));
                }
            }
            total.set(total.get() + 1);
            match Analyzers::from_yaml(&text, "p.yaml") {
                Ok(analyzers) => {
                    accepted.set(accepted.get() + 1);
                    let printed = analyzers.tree_file();
                    let spec = load_tree_str(&printed, "printed.yaml").unwrap();
                    prop_assert!(Tree::build(&spec).is_ok());
                }
                Err(error) => {
                    for p in &error.problems {
                        prop_assert!(
                            matches!(p.kind, ImportProblemKind::Collision { .. }),
                            "{p}\n{text}"
                        );
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    assert!(
        accepted.get() * 2 >= total.get(),
        "only {} of {} well-formed files imported",
        accepted.get(),
        total.get()
    );
}
