use std::time::Duration;

use vigil_diag::{load_tree_str, Observation, Path, State, Timestamp, Tree};

use super::*;

const FILE: &str = "\
target: nominal
hold: 5s
modes:
  nominal:
    allow: [imu_a, imu_b]
    children: [imu_a, imu_b]
  degraded_nav:
    isolate: [imu_a]
    capabilities: { imu_b: { rate_hz: 50Hz } }
  safe:
    children: []
rules:
  - when: v.imu_a is FAILED for 2s
    mode: degraded_nav
    priority: 10
  - when: v.* is UNKNOWN
    mode: safe
    priority: 20
";

fn s(secs: f64) -> Timestamp {
    Timestamp::from_secs_f64(secs).unwrap()
}

fn tree() -> Tree {
    let spec = load_tree_str(
        "nodes:\n  v.imu_a: { check: status }\n  v.imu_b: { check: status }\n",
        "t.yaml",
    )
    .unwrap();
    let mut tree = Tree::build(&spec).unwrap();
    set(&mut tree, "v.imu_a", State::Ok, s(0.0));
    set(&mut tree, "v.imu_b", State::Ok, s(0.0));
    tree
}

fn set(tree: &mut Tree, path: &str, state: State, at: Timestamp) {
    let reason = (state == State::Unknown).then_some(vigil_diag::UnknownReason::Stale);
    tree.observe(
        &Path::parse(path).unwrap(),
        Observation::Status { state, reason },
        at,
    )
    .unwrap();
}

fn engine() -> ModeEngine {
    ModeEngine::new(load_modes_str(FILE, "modes.yaml").unwrap().0)
}

#[test]
fn the_file_reads() {
    let (modes, warnings) = load_modes_str(FILE, "modes.yaml").unwrap();
    assert!(warnings.is_empty());
    assert_eq!(modes.target, "nominal");
    assert_eq!(modes.hold, Duration::from_secs(5));
    assert_eq!(modes.modes.len(), 3);
    let degraded = modes.mode("degraded_nav").unwrap();
    assert_eq!(degraded.isolate, ["imu_a"]);
    assert_eq!(degraded.allow, None);
    assert_eq!(degraded.capabilities[0].0, "imu_b");
    assert_eq!(modes.mode("safe").unwrap().children, Some(vec![]));
    assert_eq!(modes.rules[0].held_for, Duration::from_secs(2));
    assert_eq!(modes.rules[0].state, State::Failed);
    assert_eq!(modes.rules[0].line, 13);
    assert_eq!(modes.rules[1].held_for, Duration::ZERO);
}

#[test]
fn a_rule_that_holds_long_enough_switches_and_the_hold_time_returns() {
    let mut tree = tree();
    let mut e = engine();
    assert_eq!(e.current(), "nominal");
    assert_eq!(e.update(s(0.0), &tree), None);
    set(&mut tree, "v.imu_a", State::Failed, s(1.0));
    assert_eq!(e.update(s(1.0), &tree), None, "not for 2 s yet");
    assert_eq!(e.next_deadline(), Some(s(3.0)));
    let change = e.update(s(3.0), &tree).unwrap();
    assert_eq!(
        (change.from.as_str(), change.to.as_str()),
        ("nominal", "degraded_nav")
    );
    assert_eq!(change.cause.to_string(), "rule 0: v.imu_a is FAILED for 2s");
    // Fixed at 5 s: the mode holds for 5 s more...
    set(&mut tree, "v.imu_a", State::Ok, s(5.0));
    assert_eq!(e.update(s(5.0), &tree), None);
    assert_eq!(e.next_deadline(), Some(s(10.0)));
    // ... and a relapse within the hold time does not flap it.
    set(&mut tree, "v.imu_a", State::Failed, s(7.0));
    assert_eq!(e.update(s(7.0), &tree), None);
    set(&mut tree, "v.imu_a", State::Ok, s(8.0));
    assert_eq!(e.update(s(8.0), &tree), None);
    assert_eq!(e.update(s(12.9), &tree), None);
    let back = e.update(s(13.0), &tree).unwrap();
    assert_eq!(back.to, "nominal");
    assert_eq!(back.cause, Cause::NoRuleHolds);
    assert_eq!(e.next_deadline(), None);
}

#[test]
fn a_flap_shorter_than_the_rule_duration_changes_nothing() {
    let mut tree = tree();
    let mut e = engine();
    set(&mut tree, "v.imu_a", State::Failed, s(1.0));
    e.update(s(1.0), &tree);
    set(&mut tree, "v.imu_a", State::Ok, s(2.0));
    assert_eq!(e.update(s(2.0), &tree), None);
    assert_eq!(e.update(s(3.0), &tree), None);
    assert_eq!(e.next_deadline(), None);
}

#[test]
fn the_highest_priority_wins() {
    let mut tree = tree();
    let mut e = engine();
    set(&mut tree, "v.imu_a", State::Failed, s(0.0));
    e.update(s(0.0), &tree);
    assert_eq!(e.update(s(2.0), &tree).unwrap().to, "degraded_nav");
    // The pattern rule (priority 20) beats it at once.
    set(&mut tree, "v.imu_b", State::Unknown, s(3.0));
    let change = e.update(s(3.0), &tree).unwrap();
    assert_eq!(change.to, "safe");
    assert_eq!(change.cause.to_string(), "rule 1: v.* is UNKNOWN");
    // When it goes, the lower rule (still active) takes over after the hold.
    set(&mut tree, "v.imu_b", State::Ok, s(4.0));
    assert_eq!(e.update(s(4.0), &tree), None);
    assert_eq!(e.update(s(9.0), &tree).unwrap().to, "degraded_nav");
}

#[test]
fn a_tree_sets_the_base_mode() {
    let mut tree = tree();
    let mut e = engine();
    let change = e.set_mode("degraded_nav", s(1.0), "tree Main").unwrap();
    assert_eq!(change.cause.to_string(), "set by tree Main");
    assert_eq!(e.update(s(2.0), &tree), None, "no rule: the base holds");
    assert_eq!(e.set_mode("nope", s(2.0), "tree Main"), None);
    // A rule overrides it, and the system returns to it afterwards.
    set(&mut tree, "v.imu_b", State::Unknown, s(3.0));
    assert_eq!(e.update(s(3.0), &tree).unwrap().to, "safe");
    assert_eq!(e.set_mode("nominal", s(4.0), "tree Main"), None);
    set(&mut tree, "v.imu_b", State::Ok, s(5.0));
    e.update(s(5.0), &tree);
    assert_eq!(e.update(s(10.0), &tree).unwrap().to, "nominal");
}

#[test]
fn every_problem_with_its_line() {
    let text = "\
target: nominl
hold: 5
modes:
  nominal:
    alow: [a]
  degraded:
    allow: [a]
    isolate: [a]
rules:
  - when: v.imu_a is BROKEN
    mode: degraded
  - when: v.imu_a FAILED
    mode: elsewhere
    priorty: 3
";
    let problems: Vec<String> = load_modes_str(text, "m.yaml")
        .unwrap_err()
        .problems
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        problems,
        [
            "m.yaml:1: target: no mode `nominl`; the file has nominal or degraded",
            "m.yaml:2: hold: `hold: 5`: missing unit: a duration needs one of ns, us, µs, ms, s, min or h (e.g. `100ms`)",
            "m.yaml:5: modes.nominal: unknown key `alow`; did you mean `allow`?; expected allow, isolate, children or capabilities",
            "m.yaml:7: modes.degraded: mode `degraded` both allows and isolates `a`",
            "m.yaml:10: rules[0].when: `when: v.imu_a is BROKEN`: state `BROKEN`: expected OK, DEGRADED, UNKNOWN or FAILED",
            "m.yaml:12: rules[1].when: `when: v.imu_a FAILED`: expected `<lquery> is <STATE> [for <duration>]`, e.g. `vehicle.*.imu is FAILED for 2s`",
            "m.yaml:13: rules[1].mode: no mode `elsewhere`; the file has nominal or degraded",
            "m.yaml:14: rules[1]: unknown key `priorty`; did you mean `priority`?; expected when, mode or priority",
        ]
    );
}
