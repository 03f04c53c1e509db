//! The engine with outcomes reported by its shell (the live engine's
//! core): actions wait for their outcome, a halted one's late outcome is
//! ignored, and the same inputs at the same times make the same records.

use proptest::prelude::*;
use vigil_diag::{load_tree_str, Observation, Path, State, Timestamp, Tree};

use super::*;
use crate::bt::{load_bt_str, Status};

const TREE: &str = "nodes:\n  v.imu_a.driver: { check: status }\n";

/// Restart, wait for its outcome, then isolate if still failing.
const BT: &str = r#"<root BTCPP_format="4" main_tree_to_execute="M">
  <BehaviorTree ID="M">
    <ReactiveFallback>
      <Health path="v.imu_a" at_least="DEGRADED"/>
      <Sequence>
        <Restart child="imu_a_driver"/>
        <Wait duration="1s"/>
        <Isolate producer="imu_a" reason="still failing"/>
      </Sequence>
    </ReactiveFallback>
  </BehaviorTree>
</root>"#;

fn engine() -> Engine {
    let spec = load_tree_str(TREE, "t.yaml").unwrap();
    let tree = Tree::build(&spec).unwrap();
    Engine::new(
        tree,
        Some(load_bt_str(BT).unwrap()),
        None,
        Outcomes::Reported,
    )
}

fn s(n: f64) -> Timestamp {
    Timestamp::from_secs_f64(n).unwrap()
}

fn leaf(state: State) -> Vec<(Path, Observation)> {
    vec![(
        Path::parse("v.imu_a.driver").unwrap(),
        Observation::Status {
            state,
            reason: None,
        },
    )]
}

fn always(_: &vigil_qos::Query) -> bool {
    true
}

/// The started and halted actions, by name and id.
fn calls(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Action { id, action, .. } => Some(format!("start {} {}", action.name(), id.0)),
            Record::Halt { id, action, .. } => Some(format!("halt {} {}", action.name(), id.0)),
            _ => None,
        })
        .collect()
}

#[test]
fn an_action_waits_for_its_reported_outcome() {
    let mut e = engine();
    e.apply(leaf(State::Ok), s(0.0), &always).unwrap();
    e.apply(leaf(State::Failed), s(1.0), &always).unwrap();
    assert_eq!(calls(&e.take_records()), ["start Restart 0"]);
    // Time passes: nothing more until the supervisor says.
    e.run_until(s(30.0), &always).unwrap();
    assert!(calls(&e.take_records()).is_empty());
    e.complete(ActionId(0), true, s(31.0), &always).unwrap();
    assert_eq!(calls(&e.take_records()), ["start Wait 1"]);
    // The engine finishes a Wait itself, then the next action starts.
    e.run_until(s(32.0), &always).unwrap();
    assert_eq!(calls(&e.take_records()), ["start Isolate 2"]);
    // A failed outcome fails the sequence, and the tree with it.
    e.complete(ActionId(2), false, s(32.5), &always).unwrap();
    let records = e.take_records();
    assert!(
        matches!(
            records.first(),
            Some(Record::Tick {
                status: Status::Failure,
                ..
            })
        ),
        "{records:?}"
    );
}

#[test]
fn a_halted_action_is_halted_once_and_its_late_outcome_ignored() {
    let mut e = engine();
    e.apply(leaf(State::Failed), s(0.0), &always).unwrap();
    assert_eq!(calls(&e.take_records()), ["start Restart 0"]);
    // It recovers while the restart runs: the reactive node halts it.
    e.apply(leaf(State::Ok), s(0.5), &always).unwrap();
    assert_eq!(calls(&e.take_records()), ["halt Restart 0"]);
    e.complete(ActionId(0), true, s(0.6), &always).unwrap();
    assert!(calls(&e.take_records()).is_empty());
}

#[derive(Clone, Debug)]
enum Input {
    Leaf(f64, State),
    /// The oldest running action finishes.
    Done(f64, bool),
    Time(f64),
}

fn input() -> impl Strategy<Value = Input> {
    let state = prop_oneof![
        Just(State::Ok),
        Just(State::Degraded),
        Just(State::Failed),
        Just(State::Unknown)
    ];
    prop_oneof![
        (0.0..2.0f64, state).prop_map(|(d, s)| Input::Leaf(d, s)),
        (0.0..2.0f64, any::<bool>()).prop_map(|(d, ok)| Input::Done(d, ok)),
        (0.0..2.0f64).prop_map(Input::Time),
    ]
}

/// Plays `inputs` on a fresh engine; outcomes go to the oldest action
/// started and not yet finished or halted.
fn play(inputs: &[Input]) -> Vec<Record> {
    let mut e = engine();
    let mut now = 0.0;
    let mut running: Vec<ActionId> = Vec::new();
    let mut out = Vec::new();
    for input in inputs {
        match input {
            Input::Leaf(d, state) => {
                now += d;
                e.apply(leaf(*state), s(now), &always).unwrap();
            }
            Input::Done(d, ok) => {
                now += d;
                if !running.is_empty() {
                    let id = running.remove(0);
                    e.complete(id, *ok, s(now), &always).unwrap();
                }
            }
            Input::Time(d) => {
                now += d;
                e.run_until(s(now), &always).unwrap();
            }
        }
        for r in e.take_records() {
            match &r {
                Record::Action { id, action, .. } if !matches!(action, Action::Wait { .. }) => {
                    running.push(*id)
                }
                Record::Halt { id, .. } => running.retain(|x| x != id),
                _ => {}
            }
            out.push(r);
        }
    }
    out
}

proptest! {
    /// Issue 10: a recorded run replays to the same ticks and actions.
    #[test]
    fn the_same_inputs_make_the_same_records(inputs in prop::collection::vec(input(), 1..40)) {
        prop_assert_eq!(play(&inputs), play(&inputs));
    }

    /// No action is halted that was not started, and none twice.
    #[test]
    fn halts_follow_starts(inputs in prop::collection::vec(input(), 1..40)) {
        let mut started = std::collections::BTreeSet::new();
        let mut halted = std::collections::BTreeSet::new();
        for r in play(&inputs) {
            match r {
                Record::Action { id, .. } => prop_assert!(started.insert(id)),
                Record::Halt { id, .. } => {
                    prop_assert!(started.contains(&id));
                    prop_assert!(halted.insert(id));
                }
                _ => {}
            }
        }
    }
}
