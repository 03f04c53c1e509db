//! Property tests of incremental evaluation (issue 2, item 8).
//!
//! 1. After every observation or tick, the incrementally updated tree's
//!    health (state, reason, confidence) of every node equals a full
//!    evaluation of a tree freshly built from the same spec and given the
//!    same inputs. The trees have no filters: debounce, flap damping and
//!    latches make the reported state depend on the history of evaluations,
//!    so "the same inputs" would not determine it. `since` and `trend` are
//!    history by definition and not compared.
//! 2. Worsening one leaf through OK → DEGRADED → UNKNOWN → FAILED (status
//!    observations) never improves any node, by the total order
//!    OK < DEGRADED < UNKNOWN < FAILED. Trees without debounce.

mod support;

use proptest::prelude::*;
use support::{at, generate, observation, shape, steps, Checks, Step};
use vigil_diag::{Observation, Path, State, Timestamp, Tree, UnknownReason};

type Snapshot = Vec<(Path, State, Option<UnknownReason>, f64)>;

/// Every visible node, then every shared path (mounted or not).
fn snapshot(tree: &Tree, shared: &[Path]) -> Snapshot {
    let visible = tree
        .nodes()
        .map(|(path, h)| (path, h.state, h.reason, h.confidence));
    let shared = shared.iter().filter_map(|path| {
        let h = tree.health(path)?;
        Some((path.clone(), h.state, h.reason, h.confidence))
    });
    visible.chain(shared).collect()
}

fn build(spec: &vigil_diag::TreeSpec) -> Tree {
    Tree::build(spec).unwrap_or_else(|e| panic!("generated spec should build:\n{e}"))
}

proptest! {
    // 256 cases by default; PROPTEST_CASES=N for a longer run.
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn incremental_equals_full_evaluation(shape in shape(), steps in steps(30)) {
        let generated = generate(&shape, Checks::All);
        prop_assume!(!generated.leaves.is_empty());
        let mut tree = build(&generated.spec);
        let mut accepted: Vec<(Path, Observation, Timestamp)> = Vec::new();
        let mut now = 0u64;
        for step in &steps {
            let mut refused = false;
            match *step {
                Step::Observe { leaf, what, value, dt_ms } => {
                    now += u64::from(dt_ms);
                    let path = generated.leaves[leaf % generated.leaves.len()].clone();
                    let obs = observation(what, value);
                    let before = snapshot(&tree, &generated.shared);
                    match tree.observe(&path, obs, at(now)) {
                        Ok(_) => accepted.push((path, obs, at(now))),
                        // Refused: the check is untouched, but what was due
                        // at `now` has not been aged either.
                        Err(_) => {
                            prop_assert_eq!(&snapshot(&tree, &generated.shared), &before);
                            refused = true;
                        }
                    }
                }
                Step::Tick { dt_ms } => {
                    now += u64::from(dt_ms);
                    tree.tick(at(now));
                }
            }
            let mut fresh = build(&generated.spec);
            for (path, obs, t) in &accepted {
                prop_assert!(fresh.observe(path, *obs, *t).is_ok());
            }
            fresh.reevaluate_all(at(now));
            if refused {
                // A refused observation does not age the tree either.
                tree.tick(at(now));
            }
            prop_assert_eq!(snapshot(&tree, &generated.shared), snapshot(&fresh, &generated.shared));
        }
    }

    #[test]
    fn worsening_a_leaf_never_improves_any_node(
        shape in shape(),
        initial in prop::collection::vec(0usize..4, 64),
        pick in any::<usize>(),
    ) {
        let generated = generate(&shape, Checks::StatusOnly);
        prop_assume!(!generated.leaves.is_empty());
        let mut tree = build(&generated.spec);
        let leaves = &generated.leaves;
        for (i, leaf) in leaves.iter().enumerate() {
            let state = State::ALL[initial[i % initial.len()]];
            let reason = (state == State::Unknown).then_some(UnknownReason::Stale);
            tree.observe(leaf, Observation::Status { state, reason }, at(1)).unwrap();
        }
        let leaf = &leaves[pick % leaves.len()];
        let start = tree.health(leaf).map(|h| h.state).unwrap_or(State::Ok);
        for (step, &state) in State::ALL.iter().enumerate().filter(|(_, s)| **s >= start) {
            let before = snapshot(&tree, &generated.shared);
            let reason = (state == State::Unknown).then_some(UnknownReason::Stale);
            tree.observe(leaf, Observation::Status { state, reason }, at(2 + step as u64)).unwrap();
            let after = snapshot(&tree, &generated.shared);
            prop_assert_eq!(before.len(), after.len());
            for (b, a) in before.iter().zip(&after) {
                prop_assert!(a.1 >= b.1, "{} improved from {} to {} when {} became {}", a.0, b.1, a.1, leaf, state);
            }
        }
    }
}
