//! Aggregation rules: the implementation of the semantics documented on
//! [`Rule`](crate::Rule), which is where users read them.

use crate::health::{State, UnknownReason};
use crate::spec::{Criticality, Rule};

/// One child's reported health, as a rule sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ChildHealth {
    pub(crate) state: State,
    pub(crate) reason: Option<UnknownReason>,
    pub(crate) confidence: f64,
    pub(crate) criticality: Criticality,
}

/// What a rule makes of its children (before the node's own filter).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Aggregate {
    pub(crate) state: State,
    /// Set exactly when `state` is UNKNOWN.
    pub(crate) reason: Option<UnknownReason>,
    pub(crate) confidence: f64,
}

/// Combines `children` by `rule`, as documented on this module.
/// Allocation-free and linear in the number of children.
pub(crate) fn aggregate(rule: Rule, children: &[ChildHealth]) -> Aggregate {
    if children.is_empty() {
        return Aggregate {
            state: State::Unknown,
            reason: Some(UnknownReason::NoData),
            confidence: 0.0,
        };
    }
    let tally = Tally::of(rule, children);
    let (state, reason) = match rule {
        Rule::Worst => {
            let worst = tally.worst();
            (
                worst,
                tally.unknown_reason.filter(|_| worst == State::Unknown),
            )
        }
        Rule::Vote { k } => match vote(clamp_k(k, children.len()), &tally) {
            Vote::Decided(state) => (state, None),
            Vote::Undecided { conflicting: true } => {
                (State::Unknown, Some(UnknownReason::Conflicting))
            }
            Vote::Undecided { conflicting: false } => (State::Unknown, tally.unknown_reason),
        },
        Rule::Any => {
            let best = tally.best();
            (
                best,
                tally.unknown_reason.filter(|_| best == State::Unknown),
            )
        }
    };
    Aggregate {
        state,
        // A rule never reports UNKNOWN without a reason.
        reason: (state == State::Unknown).then(|| reason.unwrap_or(UnknownReason::NoData)),
        confidence: tally.confidence_sum / children.len() as f64,
    }
}

/// The indices (ascending) of the children that made `result` what it is,
/// per the "decisive" column of each rule's table on this module; for
/// `worst`, the children whose capped state equals the result. Clears `out`
/// first. `result` must be `aggregate(rule, children)`.
pub(crate) fn decisive(
    rule: Rule,
    children: &[ChildHealth],
    result: &Aggregate,
    out: &mut Vec<usize>,
) {
    out.clear();
    if children.is_empty() {
        return;
    }
    let tally = Tally::of(rule, children);
    let pick = |want: &dyn Fn(State) -> bool, out: &mut Vec<usize>| {
        out.extend(
            children
                .iter()
                .enumerate()
                .filter(|(_, c)| want(counted(rule, c)))
                .map(|(i, _)| i),
        );
    };
    match (rule, result.state) {
        (Rule::Worst, target) => pick(&|s| s == target, out),
        (Rule::Vote { .. }, State::Ok) | (Rule::Any, State::Ok) => pick(&|s| s == State::Ok, out),
        (Rule::Vote { .. }, State::Degraded) => pick(&|s| s != State::Ok, out),
        (Rule::Vote { .. }, State::Failed) => pick(&|s| s == State::Failed, out),
        (Rule::Vote { .. }, State::Unknown) if tally.known_disagree() => pick(&|_| true, out),
        (Rule::Vote { .. }, State::Unknown) => pick(&|s| s == State::Unknown, out),
        (Rule::Any, _) => pick(&|_| true, out),
    }
}

/// Why a rule cannot hold for a node with `child_count` children, if it
/// cannot; the tree builder adds the node's path and origin.
pub(crate) fn validate_rule(rule: Rule, child_count: usize) -> Option<String> {
    match rule {
        Rule::Vote { k: 0 } => Some(
            "vote.k must be at least 1: a vote of 0 would be OK with every child FAILED".to_owned(),
        ),
        Rule::Vote { k } if k > child_count => Some(format!(
            "vote.k is {k} but the node has {child_count} {}: it could never be OK",
            if child_count == 1 {
                "child"
            } else {
                "children"
            }
        )),
        _ => None,
    }
}

/// The state a child counts as under `rule`: criticality caps it for
/// `worst` only.
fn counted(rule: Rule, child: &ChildHealth) -> State {
    match (rule, child.criticality, child.state) {
        (Rule::Worst, Criticality::Low, State::Unknown | State::Failed) => State::Degraded,
        (_, _, state) => state,
    }
}

/// Order of preference between UNKNOWN reasons; higher is more telling.
fn reason_rank(reason: UnknownReason) -> u8 {
    match reason {
        UnknownReason::NoData => 0,
        UnknownReason::Conflicting => 1,
        UnknownReason::Stale => 2,
        UnknownReason::Unreachable => 3,
    }
}

fn clamp_k(k: usize, n: usize) -> usize {
    k.clamp(1, n.max(1))
}

/// One pass over the children.
#[derive(Debug)]
struct Tally {
    /// Children counted as each state, indexed by [`index`].
    counts: [usize; 4],
    /// The most telling reason among the children counted as UNKNOWN.
    unknown_reason: Option<UnknownReason>,
    confidence_sum: f64,
}

fn index(state: State) -> usize {
    match state {
        State::Ok => 0,
        State::Degraded => 1,
        State::Unknown => 2,
        State::Failed => 3,
    }
}

impl Tally {
    fn of(rule: Rule, children: &[ChildHealth]) -> Tally {
        let mut tally = Tally {
            counts: [0; 4],
            unknown_reason: None,
            confidence_sum: 0.0,
        };
        for child in children {
            let state = counted(rule, child);
            tally.counts[index(state)] += 1;
            if state == State::Unknown {
                let reason = child.reason.unwrap_or(UnknownReason::NoData);
                if tally
                    .unknown_reason
                    .is_none_or(|r| reason_rank(reason) > reason_rank(r))
                {
                    tally.unknown_reason = Some(reason);
                }
            }
            let confidence = if child.confidence.is_nan() {
                0.0
            } else {
                child.confidence.clamp(0.0, 1.0)
            };
            tally.confidence_sum += confidence;
        }
        tally
    }

    fn count(&self, state: State) -> usize {
        self.counts[index(state)]
    }

    fn worst(&self) -> State {
        State::ALL
            .into_iter()
            .rev()
            .find(|&s| self.count(s) > 0)
            .unwrap_or(State::Unknown)
    }

    fn best(&self) -> State {
        State::ALL
            .into_iter()
            .find(|&s| self.count(s) > 0)
            .unwrap_or(State::Unknown)
    }

    /// The children that are not UNKNOWN are not all in one state.
    fn known_disagree(&self) -> bool {
        [State::Ok, State::Degraded, State::Failed]
            .into_iter()
            .filter(|&s| self.count(s) > 0)
            .count()
            > 1
    }
}

#[derive(Debug, PartialEq)]
enum Vote {
    Decided(State),
    Undecided { conflicting: bool },
}

/// The decision table of `vote: k` (module docs), `k` in `1..=n`.
fn vote(k: usize, tally: &Tally) -> Vote {
    let ok = tally.count(State::Ok);
    let not_failed = ok + tally.count(State::Degraded);
    let could_be_ok = not_failed + tally.count(State::Unknown);
    if ok >= k {
        Vote::Decided(State::Ok)
    } else if not_failed >= k {
        Vote::Decided(State::Degraded)
    } else if could_be_ok < k {
        Vote::Decided(State::Failed)
    } else {
        Vote::Undecided {
            conflicting: tally.known_disagree(),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    use State::{Degraded as D, Failed as F, Ok as O, Unknown as U};

    fn child(state: State) -> ChildHealth {
        with(state, Criticality::Standard)
    }

    fn with(state: State, criticality: Criticality) -> ChildHealth {
        ChildHealth {
            state,
            reason: (state == U).then_some(UnknownReason::NoData),
            confidence: if state == U { 0.0 } else { 1.0 },
            criticality,
        }
    }

    fn unknown(reason: UnknownReason) -> ChildHealth {
        ChildHealth {
            reason: Some(reason),
            ..child(U)
        }
    }

    fn states(rule: Rule, children: &[State]) -> (State, Option<UnknownReason>) {
        let kids: Vec<_> = children.iter().map(|&s| child(s)).collect();
        let a = aggregate(rule, &kids);
        (a.state, a.reason)
    }

    fn decisive_of(rule: Rule, kids: &[ChildHealth]) -> Vec<usize> {
        let mut out = vec![99];
        decisive(rule, kids, &aggregate(rule, kids), &mut out);
        out
    }

    const RULES: [Rule; 4] = [
        Rule::Worst,
        Rule::Any,
        Rule::Vote { k: 1 },
        Rule::Vote { k: 2 },
    ];

    #[test]
    fn no_children_is_unknown_no_data() {
        for rule in RULES {
            let a = aggregate(rule, &[]);
            assert_eq!(
                (a.state, a.reason, a.confidence),
                (U, Some(UnknownReason::NoData), 0.0)
            );
            assert!(decisive_of(rule, &[]).is_empty());
        }
    }

    #[test]
    fn worst_takes_the_worst_and_low_caps_at_degraded() {
        assert_eq!(states(Rule::Worst, &[O, D, O]), (D, None));
        assert_eq!(
            states(Rule::Worst, &[O, U, D]),
            (U, Some(UnknownReason::NoData))
        );
        assert_eq!(states(Rule::Worst, &[U, F]), (F, None));
        for capped in [F, U] {
            let kids = [child(O), with(capped, Criticality::Low)];
            assert_eq!(aggregate(Rule::Worst, &kids).state, D, "low {capped}");
            assert_eq!(decisive_of(Rule::Worst, &kids), [1]);
        }
        for criticality in [
            Criticality::Standard,
            Criticality::Essential,
            Criticality::Critical,
        ] {
            assert_eq!(
                aggregate(Rule::Worst, &[child(O), with(F, criticality)]).state,
                F
            );
        }
        assert_eq!(
            decisive_of(Rule::Worst, &[child(F), child(O), child(F)]),
            [0, 2]
        );
        assert_eq!(decisive_of(Rule::Worst, &[child(O), child(O)]), [0, 1]);
    }

    #[test]
    fn unknown_reason_is_the_most_telling() {
        let kids = [
            unknown(UnknownReason::NoData),
            unknown(UnknownReason::Stale),
            unknown(UnknownReason::Conflicting),
        ];
        assert_eq!(
            aggregate(Rule::Worst, &kids).reason,
            Some(UnknownReason::Stale)
        );
        let lost = [kids[0], unknown(UnknownReason::Unreachable), kids[1]];
        assert_eq!(
            aggregate(Rule::Any, &lost).reason,
            Some(UnknownReason::Unreachable)
        );
        let bare = ChildHealth {
            reason: None,
            ..child(U)
        };
        assert_eq!(
            aggregate(Rule::Worst, &[bare]).reason,
            Some(UnknownReason::NoData)
        );
    }

    #[test]
    fn vote_decision_table() {
        let two = Rule::Vote { k: 2 };
        let conflicting = Some(UnknownReason::Conflicting);
        type Row = (
            &'static [State],
            (State, Option<UnknownReason>),
            &'static [usize],
        );
        let table: [Row; 11] = [
            (&[O, O, F], (O, None), &[0, 1]),
            (&[O, O, U], (O, None), &[0, 1]),
            (&[O, D, F], (D, None), &[1, 2]),
            (&[D, D, D], (D, None), &[0, 1, 2]),
            // At best OK, at worst DEGRADED.
            (&[O, D, U], (D, None), &[1, 2]),
            (&[O, U, U], (U, Some(UnknownReason::NoData)), &[1, 2]),
            (&[O, F, F], (F, None), &[1, 2]),
            (&[F, U, F], (F, None), &[0, 2]),
            (&[O, F, U], (U, conflicting), &[0, 1, 2]),
            (&[F, U, U], (U, Some(UnknownReason::NoData)), &[1, 2]),
            (&[U, U, U], (U, Some(UnknownReason::NoData)), &[0, 1, 2]),
        ];
        for (children, want, why) in table {
            assert_eq!(states(two, children), want, "{children:?}");
            let kids: Vec<_> = children.iter().map(|&s| child(s)).collect();
            assert_eq!(decisive_of(two, &kids), why, "{children:?}");
        }
        // 3 of 4: the UNKNOWN child could only make it OK or leave it DEGRADED.
        assert_eq!(states(Rule::Vote { k: 3 }, &[D, O, D, U]), (D, None));
        // Two UNKNOWN children could make it OK or FAILED.
        assert_eq!(states(Rule::Vote { k: 3 }, &[D, O, U, U]), (U, conflicting));
        assert_eq!(states(Rule::Vote { k: 3 }, &[D, F, U, U]), (U, conflicting));
        // Criticality does not cap a voter.
        let low = [
            with(F, Criticality::Low),
            with(F, Criticality::Low),
            child(O),
        ];
        assert_eq!(aggregate(two, &low).state, F);
    }

    #[test]
    fn vote_clamps_an_invalid_k() {
        assert_eq!(states(Rule::Vote { k: 0 }, &[F, F]), (F, None));
        assert_eq!(states(Rule::Vote { k: 5 }, &[O, O]), (O, None));
        assert_eq!(states(Rule::Vote { k: 5 }, &[O, D]), (D, None));
    }

    #[test]
    fn any_is_ok_with_one_ok_path_and_never_ok_otherwise() {
        assert_eq!(states(Rule::Any, &[F, O, U]), (O, None));
        assert_eq!(states(Rule::Any, &[F, D, U]), (D, None));
        assert_eq!(states(Rule::Any, &[F, U]), (U, Some(UnknownReason::NoData)));
        assert_eq!(states(Rule::Any, &[F, F]), (F, None));
        let kids = [child(F), child(O), child(O)];
        assert_eq!(decisive_of(Rule::Any, &kids), [1, 2]);
        assert_eq!(decisive_of(Rule::Any, &[child(F), child(D)]), [0, 1]);
    }

    #[test]
    fn confidence_is_the_mean() {
        let kids = [
            child(O),
            child(U),
            ChildHealth {
                confidence: 0.5,
                ..child(O)
            },
        ];
        assert!((aggregate(Rule::Worst, &kids).confidence - 0.5).abs() < 1e-12);
        let odd = [
            ChildHealth {
                confidence: f64::NAN,
                ..child(O)
            },
            ChildHealth {
                confidence: 7.0,
                ..child(O)
            },
        ];
        assert_eq!(aggregate(Rule::Any, &odd).confidence, 0.5);
    }

    #[test]
    fn validation() {
        assert!(validate_rule(Rule::Vote { k: 0 }, 3)
            .unwrap()
            .contains("vote.k must be at least 1"));
        let message = validate_rule(Rule::Vote { k: 3 }, 2).unwrap();
        assert!(
            message.contains("vote.k is 3 but the node has 2 children"),
            "{message}"
        );
        assert_eq!(validate_rule(Rule::Vote { k: 2 }, 2), None);
        assert_eq!(validate_rule(Rule::Worst, 0), None);
        assert_eq!(validate_rule(Rule::Any, 0), None);
    }

    fn any_state() -> impl Strategy<Value = State> {
        prop::sample::select(State::ALL.to_vec())
    }

    fn any_child() -> impl Strategy<Value = ChildHealth> {
        let reasons = prop::sample::select(vec![
            UnknownReason::NoData,
            UnknownReason::Stale,
            UnknownReason::Conflicting,
            UnknownReason::Unreachable,
        ]);
        let criticality = prop::sample::select(vec![
            Criticality::Low,
            Criticality::Standard,
            Criticality::Essential,
            Criticality::Critical,
        ]);
        (any_state(), reasons, 0.0f64..=1.0, criticality).prop_map(
            |(state, reason, confidence, criticality)| ChildHealth {
                state,
                reason: (state == U).then_some(reason),
                confidence: if state == U { 0.0 } else { confidence },
                criticality,
            },
        )
    }

    fn any_rule(n: usize) -> impl Strategy<Value = Rule> {
        prop_oneof![
            Just(Rule::Worst),
            Just(Rule::Any),
            (1..=n.max(1)).prop_map(|k| Rule::Vote { k })
        ]
    }

    fn rule_and_children() -> impl Strategy<Value = (Rule, Vec<ChildHealth>)> {
        prop::collection::vec(any_child(), 1..8)
            .prop_flat_map(|kids| (any_rule(kids.len()), Just(kids)))
    }

    proptest! {
        #[test]
        fn worsening_a_child_never_improves_the_result(
            (rule, kids) in rule_and_children(),
            pick in any::<prop::sample::Index>(),
            worse in any_state(),
        ) {
            let i = pick.index(kids.len());
            let worse = worse.max(kids[i].state);
            let before = aggregate(rule, &kids);
            let mut worsened = kids.clone();
            worsened[i].state = worse;
            worsened[i].reason = (worse == U).then_some(UnknownReason::Stale);
            let after = aggregate(rule, &worsened);
            prop_assert!(after.state >= before.state, "{:?}: {:?} -> {:?}", rule, before.state, after.state);
        }

        #[test]
        fn order_of_children_does_not_matter((rule, kids) in rule_and_children(), seed in any::<u64>()) {
            let mut shuffled = kids.clone();
            // A deterministic shuffle driven by the seed.
            let mut s = seed;
            for i in (1..shuffled.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (s >> 33) as usize % (i + 1));
            }
            let (a, b) = (aggregate(rule, &kids), aggregate(rule, &shuffled));
            prop_assert_eq!((a.state, a.reason), (b.state, b.reason));
            prop_assert!((a.confidence - b.confidence).abs() < 1e-9);
        }

        #[test]
        fn unknown_never_makes_ok((rule, kids) in rule_and_children()) {
            let a = aggregate(rule, &kids);
            prop_assert_eq!(a.reason.is_some(), a.state == U);
            prop_assert!((0.0..=1.0).contains(&a.confidence));
            prop_assert_eq!(a.confidence == 1.0, kids.iter().all(|c| c.confidence == 1.0));
            let ok = kids.iter().filter(|c| c.state == O).count();
            if a.state == O {
                let needed = match rule { Rule::Worst => kids.len(), Rule::Any => 1, Rule::Vote { k } => k };
                prop_assert!(ok >= needed, "OK needs {} OK children, got {}", needed, ok);
            }
            let all_unknown: Vec<_> = kids.iter().map(|c| ChildHealth { state: U, reason: Some(UnknownReason::Stale), ..*c }).collect();
            prop_assert_ne!(aggregate(rule, &all_unknown).state, O);
            let mut out = Vec::new();
            decisive(rule, &kids, &a, &mut out);
            prop_assert!(!out.is_empty());
            prop_assert!(out.windows(2).all(|w| w[0] < w[1]) && out.iter().all(|&i| i < kids.len()));
        }
    }
}
