//! Evaluation: one node at a time, incremental propagation up through every
//! parent, timers, full re-evaluation, and the transitions they produce.

use std::cmp::Reverse;

use super::{Kind, NodeId, Transition, Tree, NEVER};
use crate::health::{State, UnknownReason};
use crate::rule::{aggregate, Aggregate, ChildHealth};
use crate::time::Timestamp;

/// How one evaluation changed a node.
struct Outcome {
    /// State, reason or confidence changed: the parents must be re-evaluated.
    climb: bool,
    /// The reported state changed from this one.
    old_state: Option<State>,
}

impl Tree {
    /// Evaluates `seeds` and every node whose deadline is at or before `now`,
    /// then climbs from whatever changed. Allocates nothing unless a state
    /// changes (or a scratch buffer grows for the first time).
    pub(super) fn update(&mut self, now: Timestamp, seeds: &[NodeId]) -> Vec<Transition> {
        self.begin();
        self.collect_due(now);
        for &id in seeds {
            self.enqueue(id);
        }
        while let Some(Reverse((_, id))) = self.scratch.queue.pop() {
            let outcome = self.evaluate_node(id, now);
            if let Some(old) = outcome.old_state {
                self.scratch.changed.push((id, old));
            }
            if outcome.climb {
                for i in self.nodes[id as usize].parents.range() {
                    let parent = self.parent_ids[i];
                    self.enqueue(parent);
                }
            }
        }
        self.transitions(now)
    }

    /// Evaluates every node, children first, and returns the state changes.
    pub(super) fn full_update(&mut self, now: Timestamp) -> Vec<Transition> {
        // Deadlines are recomputed for every node below.
        self.timers.clear();
        for node in &mut self.nodes {
            node.scheduled = NEVER;
        }
        let order = std::mem::take(&mut self.order);
        for &id in &order {
            if let Some(old) = self.evaluate_node(id, now).old_state {
                self.scratch.changed.push((id, old));
            }
        }
        self.order = order;
        self.transitions(now)
    }

    /// The state of a freshly built tree: raw evaluation at the origin of
    /// time, filters untouched (nothing has been observed, so there is
    /// nothing to debounce or latch).
    pub(super) fn initial_evaluation(&mut self) {
        let now = Timestamp::ZERO;
        let order = std::mem::take(&mut self.order);
        for &id in &order {
            let raw = self.raw(id, now);
            let node = &mut self.nodes[id as usize];
            node.raw = raw.state;
            node.health.state = raw.state;
            node.health.reason =
                reported_reason(raw.state, raw.state, raw.reason, node.last_unknown);
            node.health.confidence = raw.confidence;
            if let Kind::Leaf(Some(check)) = &node.kind {
                let deadline = check.next_change(now).unwrap_or(NEVER);
                self.schedule(id, deadline);
            }
        }
        self.order = order;
    }

    /// Starts an update: a new epoch makes every node unqueued at once.
    fn begin(&mut self) {
        self.scratch.queue.clear();
        self.scratch.changed.clear();
        self.scratch.epoch = self.scratch.epoch.wrapping_add(1);
        if self.scratch.epoch == 0 {
            // Wrapped after 2^32 updates: old marks could collide, clear them.
            for node in &mut self.nodes {
                node.mark = 0;
            }
            self.scratch.epoch = 1;
        }
    }

    pub(super) fn enqueue(&mut self, id: NodeId) {
        let node = &mut self.nodes[id as usize];
        if node.mark != self.scratch.epoch {
            node.mark = self.scratch.epoch;
            self.scratch.queue.push(Reverse((node.height, id)));
        }
    }

    /// The raw (unfiltered) health of a node from its inputs.
    pub(super) fn raw(&mut self, id: NodeId, now: Timestamp) -> Aggregate {
        let node = &self.nodes[id as usize];
        match node.kind {
            Kind::Leaf(_) => {
                let verdict = self.verdict(id, now);
                let confidence = if verdict.state == State::Unknown {
                    0.0
                } else {
                    1.0
                };
                Aggregate {
                    state: verdict.state,
                    reason: verdict.reason,
                    confidence,
                }
            }
            Kind::Mount(target) => {
                let h = &self.nodes[target as usize].health;
                Aggregate {
                    state: h.state,
                    reason: h.reason,
                    confidence: h.confidence,
                }
            }
            Kind::Inner(rule) => {
                if node.children.len == 0 {
                    // An empty subtree is UNKNOWN, never OK.
                    return Aggregate {
                        state: State::Unknown,
                        reason: Some(UnknownReason::NoData),
                        confidence: 0.0,
                    };
                }
                let mut kids = std::mem::take(&mut self.scratch.kids);
                self.child_healths(id, &mut kids);
                let result = aggregate(rule, &kids);
                self.scratch.kids = kids;
                result
            }
        }
    }

    /// The reported health of `id`'s children, as the rules see them.
    pub(super) fn child_healths(&self, id: NodeId, out: &mut Vec<ChildHealth>) {
        out.clear();
        out.extend(self.children(id).iter().map(|&child| {
            let c = &self.nodes[child as usize];
            ChildHealth {
                state: c.health.state,
                reason: c.health.reason,
                confidence: c.health.confidence,
                criticality: c.criticality,
            }
        }));
    }

    /// Re-evaluates one node from its inputs: raw state, filter, health,
    /// next deadline.
    fn evaluate_node(&mut self, id: NodeId, now: Timestamp) -> Outcome {
        let raw = self.raw(id, now);
        let node = &mut self.nodes[id as usize];
        if raw.state == State::Unknown {
            node.last_unknown = raw.reason.unwrap_or(UnknownReason::NoData);
        }
        let filtered = node.filter.apply(raw.state, now);
        let reason = reported_reason(filtered.state, raw.state, raw.reason, node.last_unknown);
        let health = &mut node.health;
        let climb = health.state != filtered.state
            || health.reason != reason
            || health.confidence != raw.confidence;
        let old_state = (health.state != filtered.state).then_some(health.state);
        if old_state.is_some() {
            health.since = now;
        }
        health.state = filtered.state;
        health.reason = reason;
        health.confidence = raw.confidence;
        health.trend = filtered.trend;
        node.raw = raw.state;
        let filter_next = node.filter.next_change(now);
        let check_next = match &node.kind {
            Kind::Leaf(Some(check)) => check.next_change(now),
            _ => None,
        };
        let deadline = match (filter_next, check_next) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(NEVER),
        };
        self.schedule(id, deadline);
        Outcome { climb, old_state }
    }

    /// Clears the filter memory of `id` and every node below it; returns the
    /// nodes that changed, to be re-evaluated.
    pub(super) fn reset_below(&mut self, id: NodeId, now: Timestamp) -> Vec<NodeId> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack = vec![id];
        let mut reset = Vec::new();
        while let Some(id) = stack.pop() {
            if std::mem::replace(&mut seen[id as usize], true) {
                continue;
            }
            if self.nodes[id as usize].filter.reset(now) {
                reset.push(id);
            }
            stack.extend_from_slice(self.children(id));
        }
        reset
    }

    /// Turns the state changes of the last update into transitions, one per
    /// visible path of each changed node, causes included.
    fn transitions(&mut self, now: Timestamp) -> Vec<Transition> {
        if self.scratch.changed.is_empty() {
            return Vec::new();
        }
        let changed = std::mem::take(&mut self.scratch.changed);
        let mut changed_ids: Vec<NodeId> = changed.iter().map(|&(id, _)| id).collect();
        changed_ids.sort_unstable();
        let mut out = Vec::new();
        for &(id, old) in &changed {
            let health = &self.nodes[id as usize].health;
            for path in self.transition_paths(id) {
                let cause = if health.state == State::Ok {
                    self.recovery_causes(id, &path, &changed_ids)
                } else {
                    self.causes_of(id, &path)
                };
                out.push(Transition {
                    path,
                    old,
                    new: health.state,
                    health: health.clone(),
                    cause,
                    at: now,
                });
            }
        }
        self.scratch.changed = changed;
        self.scratch.changed.clear();
        out
    }
}

/// The reason to report: set exactly when the reported state is UNKNOWN; the
/// raw reason when the filter passes the raw state through, otherwise the
/// reason the node was last UNKNOWN for.
fn reported_reason(
    reported: State,
    raw: State,
    raw_reason: Option<UnknownReason>,
    last_unknown: UnknownReason,
) -> Option<UnknownReason> {
    match (reported, raw) {
        (State::Unknown, State::Unknown) => Some(raw_reason.unwrap_or(UnknownReason::NoData)),
        (State::Unknown, _) => Some(last_unknown),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::super::UpdateError;
    use super::*;
    use crate::observation::Observation;
    use crate::path::Path;
    use crate::spec::{CheckSpec, NodeBody, TreeSpec};

    #[test]
    fn only_state_changes_are_transitions() {
        let mut tree = one("v.s", status());
        assert_eq!(
            tree.observe(&p("v.s"), said(State::Degraded), ms(1))
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            tree.observe(&p("v.s"), said(State::Degraded), ms(2))
                .unwrap(),
            []
        );
        assert_eq!(tree.health(&p("v.s")).unwrap().since, ms(1));
    }

    #[test]
    fn latch_holds_failed_until_reset() {
        let mut spec = TreeSpec {
            nodes: vec![node("v.s", status(), 1), node("v.t", status(), 2)],
            shared: vec![],
        };
        spec.nodes[0].filter.latch = true;
        let mut tree = built(&spec);
        tree.observe(&p("v.t"), said(State::Ok), ms(0)).unwrap();
        tree.observe(&p("v.s"), said(State::Failed), ms(1)).unwrap();
        assert_eq!(tree.observe(&p("v.s"), said(State::Ok), ms(2)).unwrap(), []);
        assert_eq!(tree.health(&p("v.s")).unwrap().state, State::Failed);
        let e = tree.explain(&p("v.s"), ms(2)).unwrap();
        assert!(e.latched && e.raw == State::Ok, "{e:?}");
        assert!(e.to_string().contains("latched until reset"), "{e}");

        // Resetting an unrelated branch changes nothing.
        assert_eq!(tree.reset(&p("v.t"), ms(3)).unwrap(), []);
        let cleared = tree.reset(&p("v"), ms(4)).unwrap();
        assert_eq!(
            summary(&cleared),
            [
                ("v.s".into(), State::Failed, State::Ok),
                ("v".into(), State::Failed, State::Ok)
            ]
        );
        assert!(matches!(
            tree.reset(&p("w"), ms(5)),
            Err(UpdateError::UnknownPath { .. })
        ));
    }

    #[test]
    fn a_refused_observation_changes_nothing() {
        let threshold = CheckSpec::Threshold {
            degraded_above: Some(60.0),
            failed_above: Some(80.0),
            degraded_below: None,
            failed_below: None,
            stale_after: None,
        };
        let mut tree = one("v.temp", NodeBody::Leaf(threshold));
        tree.observe(&p("v.temp"), Observation::Value(72.0), ms(1))
            .unwrap();
        let before = tree.health(&p("v.temp")).cloned();
        let err = tree
            .observe(&p("v.temp"), Observation::Value(f64::NAN), ms(2))
            .unwrap_err();
        assert!(
            matches!(&err, UpdateError::Refused { path, .. } if path.as_str() == "v.temp"),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with("`v.temp`: threshold check cannot take"),
            "{err}"
        );
        assert_eq!(tree.health(&p("v.temp")).cloned(), before);
        assert_eq!(before.map(|h| h.state), Some(State::Degraded));
    }

    #[test]
    fn custom_leaves_take_installed_checks_and_only_they_do() {
        let spec = TreeSpec {
            nodes: vec![node("v.user", custom("mine"), 1), node("v.s", status(), 2)],
            shared: vec![],
        };
        let mut tree = built(&spec);
        let err = tree
            .observe(&p("v.user"), said(State::Ok), ms(1))
            .unwrap_err();
        assert_eq!(
            err,
            UpdateError::NoCheck {
                path: p("v.user"),
                name: "mine".into()
            }
        );
        let err = tree
            .install_check(&p("v.s"), Box::new(Scripted::new()))
            .unwrap_err();
        assert_eq!(
            err,
            UpdateError::NotCustom {
                path: p("v.s"),
                kind: "status"
            }
        );
        tree.install_check(&p("v.user"), Box::new(Scripted::new()))
            .unwrap();
        let up = tree
            .observe(&p("v.user"), said(State::Failed), ms(2))
            .unwrap();
        assert_eq!(up[0].new, State::Failed);
    }

    #[test]
    fn transitions_come_bottom_up_each_node_once() {
        // `top` is reached from `x` twice (directly and via `mid`): it must
        // be evaluated once, after `mid`, with no intermediate glitch.
        let spec = TreeSpec {
            nodes: vec![
                node("top.mid", mount("unit"), 1),
                node("top.direct", mount("unit.x"), 2),
            ],
            shared: vec![node("unit.x", status(), 3)],
        };
        let mut tree = built(&spec);
        let up = tree
            .observe(&p("unit.x"), said(State::Failed), ms(1))
            .unwrap();
        assert_eq!(
            up.iter().map(|t| t.path.as_str()).collect::<Vec<_>>(),
            ["top.mid.x", "top.direct", "top.mid", "top"]
        );
        assert_eq!(up[3].cause, [p("top.direct"), p("top.mid.x")]);
    }

    #[test]
    fn a_confidence_change_climbs_even_when_the_state_holds() {
        let spec = TreeSpec {
            nodes: vec![
                node("r.a.x", status(), 1),
                node("r.a.y", status(), 2),
                node("r.b", status(), 3),
            ],
            shared: vec![],
        };
        let mut tree = built(&spec);
        tree.observe(&p("r.a.x"), said(State::Failed), ms(1))
            .unwrap();
        tree.observe(&p("r.b"), said(State::Ok), ms(1)).unwrap();
        assert_eq!(tree.health(&p("r")).unwrap().confidence, 0.75);
        // `r.a` stays FAILED, but now every leaf under it is determinate.
        tree.observe(&p("r.a.y"), said(State::Ok), ms(2)).unwrap();
        assert_eq!(tree.health(&p("r.a")).unwrap().state, State::Failed);
        assert_eq!(tree.health(&p("r")).unwrap().confidence, 1.0);
    }

    #[test]
    fn reevaluate_all_agrees_with_incremental_updates() {
        let mut tree = built(&vehicle());
        tree.observe(&p("power.bus_a.voltage"), said(State::Degraded), ms(1))
            .unwrap();
        tree.observe(&p("vehicle.sensors.imu.a"), said(State::Ok), ms(2))
            .unwrap();
        let before: Vec<(Path, State)> = tree.nodes().map(|(p, h)| (p, h.state)).collect();
        assert_eq!(tree.reevaluate_all(ms(3)), []);
        let after: Vec<(Path, State)> = tree.nodes().map(|(p, h)| (p, h.state)).collect();
        assert_eq!(before, after);
    }
}
