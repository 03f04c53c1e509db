//! Node semantics (status tables after BehaviorTree.CPP v4's documented
//! behaviour and its `tests/gtest_*.cpp`), halting order, XML problems, and
//! property tests: replays are identical, and no reactive node ever runs
//! actions under two of its children at once.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use proptest::prelude::*;
use vigil_diag::{Health, Path, State, Timestamp};
use vigil_qos::Query;

use super::*;

/// What the executor asked for, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Call {
    Start(ActionId, String),
    Halt(ActionId, String),
    /// The test finished it (not a call of the executor's).
    Done(ActionId),
}

#[derive(Default)]
struct TestEnv {
    health: HashMap<Path, Health>,
    available: bool,
    mode: Option<String>,
    calls: Vec<Call>,
}

impl TestEnv {
    fn set(&mut self, path: &str, state: State) {
        let mut h = Health::no_data(Timestamp::ZERO);
        h.state = state;
        h.reason = None;
        self.health.insert(Path::parse(path).unwrap(), h);
    }

    fn started(&self) -> Vec<String> {
        self.calls
            .iter()
            .filter_map(|c| match c {
                Call::Start(_, who) => Some(who.clone()),
                _ => None,
            })
            .collect()
    }

    fn halted(&self) -> Vec<String> {
        self.calls
            .iter()
            .filter_map(|c| match c {
                Call::Halt(_, who) => Some(who.clone()),
                _ => None,
            })
            .collect()
    }

    /// The id of the last start of `who`.
    fn id(&self, who: &str) -> ActionId {
        self.calls
            .iter()
            .rev()
            .find_map(|c| match c {
                Call::Start(id, w) if w == who => Some(*id),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{who} never started: {:?}", self.calls))
    }
}

/// Names an action by its first argument (`Restart child="x"` is `x`).
fn who(action: &Action) -> String {
    action.args()[0].1.clone()
}

impl Environment for TestEnv {
    fn health(&self, path: &Path) -> Option<&Health> {
        self.health.get(path)
    }
    fn available(&self, _query: &Query) -> bool {
        self.available
    }
    fn mode(&self) -> Option<&str> {
        self.mode.as_deref()
    }
    fn start(&mut self, id: ActionId, action: &Action, _now: Timestamp) {
        self.calls.push(Call::Start(id, who(action)));
    }
    fn halt(&mut self, id: ActionId, action: &Action, _now: Timestamp) {
        self.calls.push(Call::Halt(id, who(action)));
    }
}

fn xml(body: &str) -> String {
    format!("<root BTCPP_format=\"4\" main_tree_to_execute=\"Main\">\n<BehaviorTree ID=\"Main\">\n{body}\n</BehaviorTree>\n</root>\n")
}

fn exec(body: &str) -> Executor {
    Executor::new(load_bt_str(&xml(body)).unwrap_or_else(|e| panic!("{e}")))
}

fn ms(n: u64) -> Timestamp {
    Timestamp::from_nanos(n * 1_000_000)
}

const T0: Timestamp = Timestamp::ZERO;

fn act(x: &str) -> String {
    format!("<Restart child=\"{x}\"/>")
}

/// `a` is OK or FAILED.
fn env_a(ok: bool) -> TestEnv {
    let mut env = TestEnv::default();
    env.set("a", if ok { State::Ok } else { State::Failed });
    env
}

const A_OK: &str = "<Health path=\"a\" is=\"OK\"/>";

use Status::{Failure, Running, Success};

#[test]
fn condition_tables() {
    // (condition, state of `a`, expected)
    let table = [
        ("<Health path=\"a\" is=\"FAILED\"/>", State::Failed, Success),
        (
            "<Health path=\"a\" is=\"FAILED\"/>",
            State::Unknown,
            Failure,
        ),
        (
            "<Health path=\"a\" at_least=\"DEGRADED\"/>",
            State::Ok,
            Success,
        ),
        (
            "<Health path=\"a\" at_least=\"DEGRADED\"/>",
            State::Degraded,
            Success,
        ),
        (
            "<Health path=\"a\" at_least=\"DEGRADED\"/>",
            State::Unknown,
            Failure,
        ),
        (
            "<Health path=\"a\" at_most=\"DEGRADED\"/>",
            State::Ok,
            Failure,
        ),
        (
            "<Health path=\"a\" at_most=\"DEGRADED\"/>",
            State::Failed,
            Success,
        ),
        (
            "<Health path=\"nope\" at_most=\"OK\"/>",
            State::Failed,
            Failure,
        ),
        ("<Trend path=\"a\" is=\"stable\"/>", State::Ok, Success),
        ("<Trend path=\"a\" is=\"degrading\"/>", State::Ok, Failure),
        ("<InMode mode=\"nominal\"/>", State::Ok, Success),
        ("<InMode mode=\"degraded_nav\"/>", State::Ok, Failure),
        (
            "<Available query=\"imu WHERE health.state = OK\"/>",
            State::Ok,
            Success,
        ),
        (
            "<Inverter><Health path=\"a\" is=\"OK\"/></Inverter>",
            State::Ok,
            Failure,
        ),
        (
            "<Inverter><Health path=\"a\" is=\"OK\"/></Inverter>",
            State::Failed,
            Success,
        ),
        (
            "<ForceSuccess><Health path=\"a\" is=\"OK\"/></ForceSuccess>",
            State::Failed,
            Success,
        ),
        (
            "<ForceFailure><Health path=\"a\" is=\"OK\"/></ForceFailure>",
            State::Ok,
            Failure,
        ),
    ];
    for (body, state, expected) in table {
        let mut env = TestEnv::default();
        env.set("a", state);
        env.mode = Some("nominal".into());
        env.available = true;
        let mut e = exec(body);
        assert_eq!(e.tick(T0, &mut env), expected, "{body} with a={state}");
        // A condition never runs.
        assert!(env.calls.is_empty());
    }
}

#[test]
fn control_tables_over_conditions() {
    // Two conditions on `a` (OK) and `b`; (control, a, b, expected).
    let table = [
        ("Sequence", true, true, Success),
        ("Sequence", true, false, Failure),
        ("Sequence", false, true, Failure),
        ("Fallback", false, false, Failure),
        ("Fallback", false, true, Success),
        ("Fallback", true, false, Success),
        ("ReactiveSequence", true, false, Failure),
        ("ReactiveFallback", false, true, Success),
        ("Parallel", true, true, Success),
        ("Parallel", true, false, Failure),
    ];
    for (control, a, b, expected) in table {
        let mut env = TestEnv::default();
        env.set("a", if a { State::Ok } else { State::Failed });
        env.set("b", if b { State::Ok } else { State::Failed });
        let body = format!(
            "<{control}><Health path=\"a\" is=\"OK\"/><Health path=\"b\" is=\"OK\"/></{control}>"
        );
        assert_eq!(
            exec(&body).tick(T0, &mut env),
            expected,
            "{control} {a} {b}"
        );
    }
}

#[test]
fn sequence_remembers_its_position_reactive_sequence_does_not() {
    // Sequence: a condition that turns false is not ticked again while the
    // action after it runs.
    let body = format!("<Sequence>{A_OK}{}</Sequence>", act("x"));
    let mut e = exec(&body);
    let mut env = env_a(true);
    assert_eq!(e.tick(T0, &mut env), Running);
    env.set("a", State::Failed);
    assert_eq!(e.tick(ms(1), &mut env), Running);
    assert!(env.halted().is_empty());

    // ReactiveSequence: it is, and the action is halted.
    let body = format!("<ReactiveSequence>{A_OK}{}</ReactiveSequence>", act("x"));
    let mut e = exec(&body);
    let mut env = env_a(true);
    assert_eq!(e.tick(T0, &mut env), Running);
    env.set("a", State::Failed);
    assert_eq!(e.tick(ms(1), &mut env), Failure);
    assert_eq!(env.halted(), ["x"]);
    assert_eq!(e.running_actions().count(), 0);
}

#[test]
fn sequence_of_actions() {
    let body = format!("<Sequence>{}{}</Sequence>", act("x"), act("y"));
    let mut e = exec(&body);
    let mut env = TestEnv::default();
    assert_eq!(e.tick(T0, &mut env), Running);
    assert_eq!(env.started(), ["x"]);
    assert_eq!(
        e.tick(ms(1), &mut env),
        Running,
        "no outcome yet: nothing new"
    );
    assert_eq!(env.started(), ["x"]);
    assert!(e.complete(env.id("x"), true));
    assert_eq!(e.tick(ms(2), &mut env), Running);
    assert_eq!(env.started(), ["x", "y"]);
    assert!(e.complete(env.id("y"), false));
    assert_eq!(e.tick(ms(3), &mut env), Failure);
    // Finished: the next tick starts over.
    assert_eq!(e.tick(ms(4), &mut env), Running);
    assert_eq!(env.started(), ["x", "y", "x"]);
}

#[test]
fn fallback_of_actions() {
    let body = format!("<Fallback>{}{}</Fallback>", act("x"), act("y"));
    let mut e = exec(&body);
    let mut env = TestEnv::default();
    e.tick(T0, &mut env);
    e.complete(env.id("x"), false);
    assert_eq!(e.tick(ms(1), &mut env), Running);
    e.complete(env.id("y"), true);
    assert_eq!(e.tick(ms(2), &mut env), Success);
    assert_eq!(env.started(), ["x", "y"]);
    // A stale outcome is refused.
    assert!(!e.complete(env.id("y"), true));
}

#[test]
fn reactive_fallback_halts_the_action_when_the_condition_holds() {
    let body = format!("<ReactiveFallback>{A_OK}{}</ReactiveFallback>", act("x"));
    let mut e = exec(&body);
    let mut env = env_a(false);
    assert_eq!(e.tick(T0, &mut env), Running);
    env.set("a", State::Ok);
    assert_eq!(e.tick(ms(1), &mut env), Success);
    assert_eq!(
        env.calls,
        [
            Call::Start(ActionId(0), "x".into()),
            Call::Halt(ActionId(0), "x".into())
        ]
    );
}

/// BehaviorTree.CPP #1031: the running child of a reactive node is halted
/// only after the next one started. Here the halt comes first.
#[test]
fn halted_before_the_sibling_starts() {
    let body = format!(
        "<ReactiveFallback><ReactiveSequence><Health path=\"a\" is=\"FAILED\"/>{}</ReactiveSequence>{}</ReactiveFallback>",
        act("restart"),
        act("idle_work")
    );
    let mut e = exec(&body);
    let mut env = env_a(true);
    assert_eq!(e.tick(T0, &mut env), Running);
    assert_eq!(env.started(), ["idle_work"]);
    env.set("a", State::Failed);
    assert_eq!(e.tick(ms(1), &mut env), Running);
    assert_eq!(
        env.calls[1..],
        [
            Call::Halt(ActionId(0), "idle_work".into()),
            Call::Start(ActionId(1), "restart".into())
        ]
    );
}

/// An action whose start was requested and halted in the same tick never
/// reaches the environment.
#[test]
fn a_start_halted_in_its_own_tick_is_never_sent() {
    // Parallel with failure_count=1: x starts, then the condition fails and
    // the Parallel halts x within the same tick.
    let body = format!(
        "<Parallel success_count=\"2\" failure_count=\"1\">{}{A_OK}</Parallel>",
        act("x")
    );
    let mut e = exec(&body);
    let mut env = env_a(false);
    assert_eq!(e.tick(T0, &mut env), Failure);
    assert!(env.calls.is_empty(), "{:?}", env.calls);
}

#[test]
fn parallel_thresholds() {
    // Default: all must succeed, one failure fails.
    let body = format!("<Parallel>{}{}</Parallel>", act("x"), act("y"));
    let mut e = exec(&body);
    let mut env = TestEnv::default();
    assert_eq!(e.tick(T0, &mut env), Running);
    assert_eq!(env.started(), ["x", "y"]);
    e.complete(env.id("x"), true);
    assert_eq!(e.tick(ms(1), &mut env), Running);
    e.complete(env.id("y"), true);
    assert_eq!(e.tick(ms(2), &mut env), Success);

    // success_count=1: the first success wins and halts the other.
    let body = format!(
        "<Parallel success_count=\"1\">{}{}</Parallel>",
        act("x"),
        act("y")
    );
    let mut e = exec(&body);
    let mut env = TestEnv::default();
    e.tick(T0, &mut env);
    e.complete(env.id("y"), true);
    assert_eq!(e.tick(ms(1), &mut env), Success);
    assert_eq!(env.halted(), ["x"]);

    // success_count=2 of 3, failure_count=3: two failures make success
    // impossible, which fails at once.
    let body = format!(
        "<Parallel success_count=\"2\" failure_count=\"3\">{}{}{}</Parallel>",
        act("x"),
        act("y"),
        act("z")
    );
    let mut e = exec(&body);
    let mut env = TestEnv::default();
    e.tick(T0, &mut env);
    e.complete(env.id("x"), false);
    assert_eq!(e.tick(ms(1), &mut env), Running);
    e.complete(env.id("y"), false);
    assert_eq!(e.tick(ms(2), &mut env), Failure);
    assert_eq!(env.halted(), ["z"]);
}

#[test]
fn if_then_else() {
    for (a, three, expected_start, expected) in [
        (true, true, Some("then"), Running),
        (false, true, Some("else"), Running),
        (false, false, None, Failure),
    ] {
        let els = if three { act("else") } else { String::new() };
        let body = format!("<IfThenElse>{A_OK}{}{els}</IfThenElse>", act("then"));
        let mut e = exec(&body);
        let mut env = env_a(a);
        assert_eq!(e.tick(T0, &mut env), expected);
        assert_eq!(
            env.started(),
            expected_start.into_iter().collect::<Vec<_>>()
        );
        if let Some(who) = expected_start {
            // The branch's result is the node's; the condition is not
            // re-evaluated while it runs.
            env.set("a", if a { State::Failed } else { State::Ok });
            e.complete(env.id(who), true);
            assert_eq!(e.tick(ms(1), &mut env), Success);
        }
    }
}

#[test]
fn decorators_over_actions() {
    // (decorator, outcome, expected)
    let table = [
        ("Inverter", true, Failure),
        ("Inverter", false, Success),
        ("ForceSuccess", false, Success),
        ("ForceFailure", true, Failure),
        ("KeepRunningUntilFailure", true, Running),
        ("KeepRunningUntilFailure", false, Failure),
    ];
    for (decorator, outcome, expected) in table {
        let mut e = exec(&format!("<{decorator}>{}</{decorator}>", act("x")));
        let mut env = TestEnv::default();
        assert_eq!(e.tick(T0, &mut env), Running, "{decorator}");
        e.complete(env.id("x"), outcome);
        assert_eq!(e.tick(ms(1), &mut env), expected, "{decorator} {outcome}");
    }
    // KeepRunningUntilFailure starts its child again after a success.
    let mut e = exec(&format!(
        "<KeepRunningUntilFailure>{}</KeepRunningUntilFailure>",
        act("x")
    ));
    let mut env = TestEnv::default();
    e.tick(T0, &mut env);
    e.complete(env.id("x"), true);
    e.tick(ms(1), &mut env);
    assert_eq!(e.tick(ms(2), &mut env), Running);
    assert_eq!(env.started(), ["x", "x"]);
}

#[test]
fn repeat_and_retry() {
    // Repeat 3 over an action: three runs, then success.
    let mut e = exec(&format!("<Repeat num_cycles=\"3\">{}</Repeat>", act("x")));
    let mut env = TestEnv::default();
    let mut status = e.tick(T0, &mut env);
    for i in 1..=3 {
        assert_eq!(status, Running);
        e.complete(env.id("x"), true);
        status = e.tick(ms(i), &mut env);
    }
    assert_eq!(status, Success);
    assert_eq!(env.started().len(), 3);

    // Repeat stops at the first failure.
    let mut e = exec(&format!("<Repeat num_cycles=\"3\">{}</Repeat>", act("x")));
    let mut env = TestEnv::default();
    e.tick(T0, &mut env);
    e.complete(env.id("x"), false);
    assert_eq!(e.tick(ms(1), &mut env), Failure);

    // Repeat over a condition loops within the tick (finite count).
    let mut env = env_a(true);
    assert_eq!(
        exec(&format!("<Repeat num_cycles=\"5\">{A_OK}</Repeat>")).tick(T0, &mut env),
        Success
    );
    // ... and yields with no limit instead of looping forever.
    let mut e = exec(&format!("<Repeat num_cycles=\"-1\">{A_OK}</Repeat>"));
    assert_eq!(e.tick(T0, &mut env), Running);
    assert_eq!(e.tick(ms(1), &mut env), Running);

    // Retry 3: three failed attempts fail; a success ends it.
    let mut e = exec(&format!(
        "<RetryUntilSuccessful num_attempts=\"3\">{}</RetryUntilSuccessful>",
        act("x")
    ));
    let mut env = TestEnv::default();
    let mut status = e.tick(T0, &mut env);
    for i in 1..=3 {
        assert_eq!(status, Running);
        e.complete(env.id("x"), false);
        status = e.tick(ms(i), &mut env);
    }
    assert_eq!(status, Failure);
    assert_eq!(env.started().len(), 3);
    let mut e = exec(&format!(
        "<RetryUntilSuccessful num_attempts=\"3\">{}</RetryUntilSuccessful>",
        act("x")
    ));
    let mut env = TestEnv::default();
    e.tick(T0, &mut env);
    e.complete(env.id("x"), false);
    e.tick(ms(1), &mut env);
    e.complete(env.id("x"), true);
    assert_eq!(e.tick(ms(2), &mut env), Success);
    assert_eq!(env.started().len(), 2);
}

#[test]
fn timeout_halts_its_child_and_fails() {
    let mut e = exec(&format!("<Timeout msec=\"100\">{}</Timeout>", act("x")));
    let mut env = TestEnv::default();
    assert_eq!(e.tick(T0, &mut env), Running);
    assert_eq!(e.next_deadline(), Some(ms(100)));
    assert_eq!(e.tick(ms(99), &mut env), Running);
    assert_eq!(e.tick(ms(100), &mut env), Failure);
    assert_eq!(env.halted(), ["x"]);
    assert_eq!(e.next_deadline(), None);

    // In time: the child's result.
    let mut e = exec(&format!("<Timeout msec=\"100\">{}</Timeout>", act("x")));
    let mut env = TestEnv::default();
    e.tick(T0, &mut env);
    e.complete(env.id("x"), true);
    assert_eq!(e.tick(ms(50), &mut env), Success);
    assert_eq!(e.next_deadline(), None);
}

#[test]
fn delay_starts_its_child_late() {
    let mut e = exec(&format!("<Delay delay_msec=\"50\">{}</Delay>", act("x")));
    let mut env = TestEnv::default();
    assert_eq!(e.tick(T0, &mut env), Running);
    assert!(env.calls.is_empty());
    assert_eq!(e.next_deadline(), Some(ms(50)));
    assert_eq!(e.tick(ms(50), &mut env), Running);
    assert_eq!(env.started(), ["x"]);
    assert_eq!(e.next_deadline(), None);
    e.complete(env.id("x"), true);
    assert_eq!(e.tick(ms(60), &mut env), Success);
}

#[test]
fn subtrees_expand() {
    let text = r#"<root BTCPP_format="4" main_tree_to_execute="Main">
  <BehaviorTree ID="Main">
    <Sequence><SubTree ID="Fix"/><SubTree ID="Fix"/></Sequence>
  </BehaviorTree>
  <BehaviorTree ID="Fix"><Restart child="x"/></BehaviorTree>
</root>"#;
    let tree = load_bt_str(text).unwrap();
    assert_eq!(tree.main_tree(), "Main");
    assert_eq!(tree.tree_ids(), ["Main", "Fix"]);
    assert_eq!(tree.leaves().count(), 2);
    let mut e = Executor::new(tree);
    let mut env = TestEnv::default();
    e.tick(T0, &mut env);
    e.complete(env.id("x"), true);
    e.tick(ms(1), &mut env);
    e.complete(env.id("x"), true);
    assert_eq!(e.tick(ms(2), &mut env), Success);
    assert_eq!(env.started(), ["x", "x"]);
}

#[test]
fn halt_stops_every_running_action_once() {
    let body = format!(
        "<Parallel>{}<Sequence>{}</Sequence></Parallel>",
        act("x"),
        act("y")
    );
    let mut e = exec(&body);
    let mut env = TestEnv::default();
    e.tick(T0, &mut env);
    e.halt(ms(1), &mut env);
    assert_eq!(env.halted(), ["x", "y"]);
    e.halt(ms(2), &mut env);
    assert_eq!(env.halted().len(), 2, "halt is idempotent");
}

#[test]
fn actions_and_their_arguments() {
    let body = r#"<Sequence>
  <Stop child="a"/><Isolate producer="imu_a" reason="driver dead"/><Release producer="imu_a"/>
  <SetMode mode="degraded_nav"/><Run command="true" timeout="2s"/><Wait duration="1.5s"/>
  <Log level="warn" message="hi"/></Sequence>"#;
    let tree = load_bt_str(&xml(body)).unwrap();
    let shown: Vec<String> = tree
        .leaves()
        .map(|(_, l)| match l {
            Leaf::Action(a) => a.to_string(),
            Leaf::Condition(c) => format!("{c:?}"),
        })
        .collect();
    assert_eq!(
        shown,
        [
            "Stop child=\"a\"",
            "Isolate producer=\"imu_a\" reason=\"driver dead\"",
            "Release producer=\"imu_a\"",
            "SetMode mode=\"degraded_nav\"",
            "Run command=\"true\" timeout=\"2000ms\"",
            "Wait duration=\"1500ms\"",
            "Log level=\"warn\" message=\"hi\"",
        ]
    );
    let lines: Vec<u32> = tree.leaves().map(|(line, _)| line).collect();
    assert_eq!(lines, [4, 4, 4, 5, 5, 5, 6]);
}

#[test]
fn explicit_forms_and_groot_models_are_read() {
    let text = r#"<?xml version="1.0"?>
<root BTCPP_format="4">
  <BehaviorTree ID="Main">
    <Control ID="Sequence" name="steps">
      <Condition ID="Health" path="a" is="OK"/>
      <Action ID="Restart" child="x"/>
    </Control>
  </BehaviorTree>
  <TreeNodesModel><Action ID="Restart"><input_port name="child"/></Action></TreeNodesModel>
</root>"#;
    let tree = load_bt_str(text).unwrap();
    assert_eq!(tree.len(), 3);
}

fn problems(text: &str) -> Vec<String> {
    load_bt_str(text)
        .unwrap_err()
        .problems
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn every_problem_with_its_line() {
    let text = r#"<root BTCPP_format="4">
  <BehaviorTree ID="Main">
    <Sequence>
      <Sequense/>
      <Health path="a" is="BROKEN"/>
      <Restart child="x" _skipIf="true"/>
      <WhileDoElse/>
      <Timeout msec="soon"><Wait duration="100"/></Timeout>
      <IfThenElse><Health path="a" is="OK"/></IfThenElse>
      <Parallel success_count="3"><Wait duration="1s"/><Wait duration="1s"/></Parallel>
      <SubTree ID="Missing"/>
    </Sequence>
  </BehaviorTree>
  <include path="other.xml"/>
</root>"#;
    let found = problems(text);
    let expected = [
        "4: <Sequense>: not in vigil's subset of BehaviorTree.CPP v4; did you mean <Sequence>?",
        "5: <Health>: is=\"BROKEN\": expected OK, DEGRADED, UNKNOWN or FAILED",
        "6: <Restart>: unknown attribute `_skipIf` (scripting and port remapping are outside vigil's subset); expected name or child",
        "7: <WhileDoElse>: not in vigil's subset of BehaviorTree.CPP v4",
        "8: <Timeout>: msec=\"soon\": expected milliseconds, a whole number >= 0",
        "8: <Wait>: duration=\"100\": missing unit: a duration needs one of ns, us, µs, ms, s, min or h (e.g. `100ms`)",
        "9: <IfThenElse>: needs 2 or 3 children, has 1",
        "10: <Parallel>: success_count=\"3\" cannot be reached with 2 children",
        "11: <SubTree>: no <BehaviorTree ID=\"Missing\"> in this file",
        "14: <include>: not allowed in <root> (included files are outside vigil's subset: put every tree in one file); expected <BehaviorTree> or <TreeNodesModel>",
    ];
    assert_eq!(found, expected);
}

#[test]
fn file_level_problems() {
    assert_eq!(
        problems("<root>\n<BehaviorTree ID=\"A\"><Wait duration=\"1s\"/></BehaviorTree>\n</root>"),
        ["1: <root>: needs BTCPP_format=\"4\""]
    );
    assert_eq!(
        problems("<root BTCPP_format=\"3\"><BehaviorTree ID=\"A\"><Wait duration=\"1s\"/></BehaviorTree></root>"),
        ["1: <root>: BTCPP_format=\"3\" is not supported: vigil reads version 4"]
    );
    let found = problems(
        "<root BTCPP_format=\"4\">\n<BehaviorTree ID=\"A\">\n<Sequence>\n</BehaviorTree>\n</root>",
    );
    assert_eq!(found.len(), 1);
    assert!(found[0].starts_with("4: not XML:"), "{found:?}");
    let recursive = r#"<root BTCPP_format="4" main_tree_to_execute="A">
<BehaviorTree ID="A"><SubTree ID="B"/></BehaviorTree>
<BehaviorTree ID="B"><SubTree ID="A"/></BehaviorTree>
</root>"#;
    assert_eq!(
        problems(recursive),
        ["3: <SubTree>: `A` includes itself (A -> B -> A)"]
    );
    let two = "<root BTCPP_format=\"4\">\n<BehaviorTree ID=\"A\"><Wait duration=\"1s\"/></BehaviorTree>\n<BehaviorTree ID=\"B\"><Wait duration=\"1s\"/></BehaviorTree>\n</root>";
    assert_eq!(
        problems(two),
        ["1: <root>: several trees: say which runs with main_tree_to_execute"]
    );
    assert!(problems("<!DOCTYPE x [<!ENTITY a \"b\">]><root/>")[0].contains("not XML"));
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let body = "<Inverter>".repeat(500) + A_OK + &"</Inverter>".repeat(500);
    let found = problems(&xml(&body));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("nested more than 64 deep"));
}

// ---- property tests -------------------------------------------------------

/// A random tree over two health paths (`a`, `b`) and numbered actions.
fn arb_tree() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        (
            prop::sample::select(vec!["a", "b"]),
            prop::sample::select(vec!["OK", "FAILED"])
        )
            .prop_map(|(p, s)| format!("<Health path=\"{p}\" is=\"{s}\"/>")),
        (0u8..6).prop_map(|n| format!("<Restart child=\"c{n}\"/>")),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            (
                prop::sample::select(vec![
                    "Sequence",
                    "ReactiveSequence",
                    "Fallback",
                    "ReactiveFallback"
                ]),
                prop::collection::vec(inner.clone(), 1..4)
            )
                .prop_map(|(c, kids)| format!("<{c}>{}</{c}>", kids.concat())),
            (
                prop::collection::vec(inner.clone(), 1..4),
                1usize..4,
                1usize..4
            )
                .prop_map(|(kids, s, f)| {
                    let n = kids.len();
                    format!(
                        "<Parallel success_count=\"{}\" failure_count=\"{}\">{}</Parallel>",
                        s.min(n),
                        f.min(n),
                        kids.concat()
                    )
                }),
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|kids| format!("<IfThenElse>{}</IfThenElse>", kids.concat())),
            (
                prop::sample::select(vec![
                    "<Inverter>",
                    "<ForceSuccess>",
                    "<ForceFailure>",
                    "<Repeat num_cycles=\"2\">",
                    "<RetryUntilSuccessful num_attempts=\"2\">",
                    "<Timeout msec=\"30\">",
                    "<Delay delay_msec=\"20\">",
                    "<KeepRunningUntilFailure>",
                ]),
                inner
            )
                .prop_map(|(open, kid)| {
                    let name = open[1..].split([' ', '>']).next().unwrap_or_default();
                    format!("{open}{kid}</{name}>")
                }),
        ]
    })
}

#[derive(Clone, Debug)]
enum Input {
    /// Path `a` or `b` becomes OK or FAILED.
    Health(bool, bool),
    /// The n-th running action (mod their count) finishes.
    Complete(usize, bool),
    /// Time passes (ms).
    Advance(u64),
}

fn arb_inputs() -> impl Strategy<Value = Vec<Input>> {
    prop::collection::vec(
        prop_oneof![
            (any::<bool>(), any::<bool>()).prop_map(|(p, s)| Input::Health(p, s)),
            (0usize..8, any::<bool>()).prop_map(|(n, ok)| Input::Complete(n, ok)),
            (1u64..40).prop_map(Input::Advance),
        ],
        0..40,
    )
}

/// Runs the inputs; returns every call with its tick time and the node of
/// each started action, and every tick's status.
#[allow(clippy::type_complexity)]
fn run(
    tree: &BehaviorTree,
    inputs: &[Input],
) -> (
    Vec<(Timestamp, Call)>,
    BTreeMap<ActionId, usize>,
    Vec<Status>,
) {
    let mut e = Executor::new(tree.clone());
    let mut env = TestEnv::default();
    env.set("a", State::Ok);
    env.set("b", State::Ok);
    let mut now = T0;
    let log = Vec::new();
    let nodes = BTreeMap::new();
    let statuses = Vec::new();
    #[allow(clippy::type_complexity)]
    fn tick(
        e: &mut Executor,
        env: &mut TestEnv,
        now: Timestamp,
        out: &mut (
            Vec<(Timestamp, Call)>,
            BTreeMap<ActionId, usize>,
            Vec<Status>,
        ),
    ) {
        let before = env.calls.len();
        out.2.push(e.tick(now, env));
        for call in &env.calls[before..] {
            if let Call::Start(id, _) = call {
                out.1
                    .insert(*id, e.node_of(*id).expect("a started action runs"));
            }
            out.0.push((now, call.clone()));
        }
    }
    let mut out = (log, nodes, statuses);
    tick(&mut e, &mut env, now, &mut out);
    for input in inputs {
        match input {
            Input::Health(p, ok) => {
                let state = if *ok { State::Ok } else { State::Failed };
                env.set(if *p { "a" } else { "b" }, state);
            }
            Input::Complete(n, ok) => {
                let running: Vec<ActionId> = e.running_actions().map(|(id, _)| id).collect();
                if !running.is_empty() {
                    let id = running[n % running.len()];
                    assert!(e.complete(id, *ok));
                    out.0.push((now, Call::Done(id)));
                }
            }
            Input::Advance(by) => {
                let to = now + Duration::from_millis(*by);
                while let Some(d) = e.next_deadline().filter(|d| *d <= to) {
                    now = now.max(d);
                    tick(&mut e, &mut env, now, &mut out);
                }
                now = to;
            }
        }
        tick(&mut e, &mut env, now, &mut out);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A recorded run replays to the same ticks and the same calls.
    #[test]
    fn replays_are_identical(body in arb_tree(), inputs in arb_inputs()) {
        let tree = load_bt_str(&xml(&body)).unwrap();
        let first = run(&tree, &inputs);
        let second = run(&tree, &inputs);
        prop_assert_eq!(first.0, second.0);
        prop_assert_eq!(first.2, second.2);
    }

    /// At every moment the environment sees, each reactive node has running
    /// actions under at most one of its children; each action is started
    /// once and halted at most once.
    #[test]
    fn reactive_nodes_never_run_two_children(body in arb_tree(), inputs in arb_inputs()) {
        let tree = load_bt_str(&xml(&body)).unwrap();
        let (log, nodes, _) = run(&tree, &inputs);
        // For each node, the child of each reactive ancestor it is under.
        let mut parent = vec![usize::MAX; tree.nodes.len()];
        for (i, n) in tree.nodes.iter().enumerate() {
            for &c in &n.children {
                parent[c] = i;
            }
        }
        let reactive = |i: usize| matches!(
            tree.nodes[i].kind,
            super::node::Kind::ReactiveSequence | super::node::Kind::ReactiveFallback
        );
        let branches = |mut i: usize| {
            let mut out = Vec::new();
            while parent[i] != usize::MAX {
                if reactive(parent[i]) {
                    out.push((parent[i], i));
                }
                i = parent[i];
            }
            out
        };
        let mut running: BTreeMap<ActionId, usize> = BTreeMap::new();
        for (_, call) in &log {
            match call {
                Call::Start(id, _) => {
                    prop_assert!(running.insert(*id, nodes[id]).is_none());
                    let mut under: BTreeMap<usize, usize> = BTreeMap::new();
                    for &node in running.values() {
                        for (r, child) in branches(node) {
                            if let Some(other) = under.insert(r, child) {
                                prop_assert_eq!(other, child, "reactive node {} runs two children: {:?}", r, log);
                            }
                        }
                    }
                }
                Call::Halt(id, _) | Call::Done(id) => {
                    prop_assert!(running.remove(id).is_some(), "halted twice or never started");
                }
            }
        }
    }
}
