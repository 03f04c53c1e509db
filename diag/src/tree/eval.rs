//! Evaluation: one node at a time, incremental propagation up through every
//! parent, timers, full re-evaluation, and the transitions they produce.

use std::cmp::Reverse;

use super::shim::{aggregate, Aggregate, ChildHealth};
use super::{Kind, NodeId, Transition, Tree, NEVER};
use crate::health::{State, UnknownReason};
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
            node.health.reason = reported_reason(raw.state, raw.state, raw.reason, node.last_unknown);
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

    fn enqueue(&mut self, id: NodeId) {
        let node = &mut self.nodes[id as usize];
        if node.mark != self.scratch.epoch {
            node.mark = self.scratch.epoch;
            self.scratch.queue.push(Reverse((node.height, id)));
        }
    }

    /// Queues the nodes whose deadline has passed. Deadlines they set while
    /// being evaluated wait for the next update even when already due, so a
    /// check that keeps answering "now" cannot stall `tick`.
    fn collect_due(&mut self, now: Timestamp) {
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let node = &mut self.nodes[id as usize];
            if node.scheduled != at {
                continue; // superseded by an earlier entry for this node
            }
            node.scheduled = NEVER;
            if node.deadline <= now {
                self.enqueue(id);
            } else {
                // The deadline moved later since this entry was pushed.
                let deadline = node.deadline;
                self.schedule(id, deadline);
            }
        }
    }

    /// Records a node's next change and makes sure a timer fires no later.
    /// At most one live entry per node; a later deadline reuses the earlier
    /// entry, which reschedules when it fires.
    fn schedule(&mut self, id: NodeId, deadline: Timestamp) {
        let node = &mut self.nodes[id as usize];
        node.deadline = deadline;
        if deadline != NEVER && deadline < node.scheduled {
            node.scheduled = deadline;
            self.timers.push(Reverse((deadline, id)));
        }
    }

    /// The raw (unfiltered) health of a node from its inputs.
    pub(super) fn raw(&mut self, id: NodeId, now: Timestamp) -> Aggregate {
        let node = &self.nodes[id as usize];
        match node.kind {
            Kind::Leaf(_) => {
                let verdict = self.verdict(id, now);
                let confidence = if verdict.state == State::Unknown { 0.0 } else { 1.0 };
                Aggregate { state: verdict.state, reason: verdict.reason, confidence }
            }
            Kind::Mount(target) => {
                let h = &self.nodes[target as usize].health;
                Aggregate { state: h.state, reason: h.reason, confidence: h.confidence }
            }
            Kind::Inner(rule) => {
                if node.children.len == 0 {
                    // An empty subtree is UNKNOWN, never OK.
                    return Aggregate { state: State::Unknown, reason: Some(UnknownReason::NoData), confidence: 0.0 };
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
        let climb = health.state != filtered.state || health.reason != reason || health.confidence != raw.confidence;
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
        let mut out = Vec::new();
        for &(id, old) in &changed {
            let health = &self.nodes[id as usize].health;
            for path in self.transition_paths(id) {
                let cause = self.causes_of(id, &path);
                out.push(Transition { path, old, new: health.state, health: health.clone(), cause, at: now });
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
