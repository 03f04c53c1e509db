//! The executor: ticks a loaded tree with the time as an argument, and asks
//! its [`Environment`] to start and halt actions.
//!
//! Semantics follow BehaviorTree.CPP v4 node by node (`src/controls/*.cpp`,
//! `src/decorators/*.cpp`), with two deliberate differences, both about
//! actions, which here are always asynchronous:
//!
//! - **Halts before starts.** Within one tick, every halt reaches the
//!   environment before any start. BehaviorTree.CPP halts a reactive
//!   node's previously running child only after the next child has been
//!   ticked, so both run at once for a moment (BehaviorTree.CPP #1031,
//!   #573/#586). Here an action's first tick only *requests* its start; the
//!   requests are sent when the traversal is over, after the halts it
//!   caused, and a request halted in the same tick is dropped unsent.
//! - **No busy loop.** A `Repeat`/`RetryUntilSuccessful` with `-1` (no
//!   limit) whose child finishes within the tick it started in (conditions
//!   only) yields RUNNING after one cycle instead of looping forever; it
//!   goes on at the next tick. With a finite count it loops within the tick
//!   as BehaviorTree.CPP does.
//!
//! `Timeout` and `Delay` keep deadlines in the tree's own time, reported by
//! [`Executor::next_deadline`]: a driver ticks at each health change, each
//! action outcome, and each deadline, and a recorded run replays to the
//! same ticks.

use std::collections::BTreeMap;
use std::sync::Arc;

use vigil_diag::{Health, Path, Timestamp};
use vigil_qos::Query;

use super::node::{Action, BehaviorTree, Condition, Kind, Status};
use super::xml::threshold;

/// Names one started action, unique within an [`Executor`], in start order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionId(pub u64);

/// What the executor reads and what carries out its actions: the dry run,
/// the tests and the live engine each plug in their own.
pub trait Environment {
    /// The health of a node of the diagnostic tree (`None`: no such node,
    /// and the condition fails).
    fn health(&self, path: &Path) -> Option<&Health>;
    /// Whether some producer satisfies `query` now.
    fn available(&self, query: &Query) -> bool;
    /// The current mode, if modes are in use.
    fn mode(&self) -> Option<&str>;
    /// Starts an action; its outcome comes back through
    /// [`Executor::complete`].
    fn start(&mut self, id: ActionId, action: &Action, now: Timestamp);
    /// Stops a running action; no outcome is expected after this.
    fn halt(&mut self, id: ActionId, action: &Action, now: Timestamp);
}

/// The run-time state of one node.
#[derive(Clone, Debug, Default)]
struct St {
    status: Option<Status>,
    /// The child being run (Sequence, Fallback, IfThenElse).
    idx: usize,
    /// Cycles or attempts so far (Repeat, RetryUntilSuccessful).
    count: i32,
    /// When a Timeout fires or a Delay ends.
    deadline: Option<Timestamp>,
    /// A Delay's wait is over.
    elapsed: bool,
    /// The running action of an action leaf.
    action: Option<ActionId>,
    /// Its outcome, once the environment gave it.
    outcome: Option<bool>,
    /// Parallel: each child's result so far.
    done: Vec<Option<bool>>,
    successes: usize,
    failures: usize,
}

impl St {
    fn status(&self) -> Status {
        self.status.unwrap_or(Status::Idle)
    }
}

/// Runs one [`BehaviorTree`]. Deterministic: the same ticks, outcomes and
/// health give the same starts and halts, in the same order.
#[derive(Debug)]
pub struct Executor {
    tree: Arc<BehaviorTree>,
    st: Vec<St>,
    next_id: u64,
    /// Starts requested in the current tick, sent when it ends.
    pending: Vec<(ActionId, usize)>,
    /// Started and not yet finished or halted: id → node.
    running: BTreeMap<ActionId, usize>,
    now: Timestamp,
}

impl Executor {
    /// An executor with every node idle.
    pub fn new(tree: BehaviorTree) -> Executor {
        let n = tree.nodes.len();
        Executor {
            tree: Arc::new(tree),
            st: vec![St::default(); n],
            next_id: 0,
            pending: Vec::new(),
            running: BTreeMap::new(),
            now: Timestamp::ZERO,
        }
    }

    /// The tree it runs.
    pub fn tree(&self) -> &BehaviorTree {
        &self.tree
    }

    /// Ticks the main tree once at `now` and returns the root's status.
    /// A root that finishes is reset, so the next tick starts it afresh.
    pub fn tick<E: Environment + ?Sized>(&mut self, now: Timestamp, env: &mut E) -> Status {
        self.now = now;
        let tree = Arc::clone(&self.tree);
        let status = self.tick_node(&tree, 0, env);
        if status.is_completed() {
            self.halt_node(&tree, 0, env);
        }
        self.flush(&tree, env);
        status
    }

    /// Halts every running node (each running action is halted once).
    pub fn halt<E: Environment + ?Sized>(&mut self, now: Timestamp, env: &mut E) {
        self.now = now;
        let tree = Arc::clone(&self.tree);
        self.halt_node(&tree, 0, env);
        self.pending.clear();
    }

    /// Gives the outcome of a started action; the next tick sees it.
    /// Returns false (and changes nothing) for an action that is not
    /// running: halted, finished, or never started.
    pub fn complete(&mut self, id: ActionId, success: bool) -> bool {
        let Some(&node) = self.running.get(&id) else {
            return false;
        };
        let st = &mut self.st[node];
        if st.action != Some(id) || st.outcome.is_some() {
            return false;
        }
        st.outcome = Some(success);
        true
    }

    /// The actions started and not finished or halted, in start order.
    pub fn running_actions(&self) -> impl Iterator<Item = (ActionId, &Action)> + '_ {
        self.running
            .iter()
            .filter_map(|(id, &node)| match &self.tree.nodes[node].kind {
                Kind::Action(a) => Some((*id, a)),
                _ => None,
            })
    }

    /// The earliest deadline of a running `Timeout` or `Delay`: tick then.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.tree
            .nodes
            .iter()
            .zip(&self.st)
            .filter(|(_, st)| st.status() == Status::Running)
            .filter_map(|(node, st)| match node.kind {
                Kind::Timeout { .. } => st.deadline,
                Kind::Delay { .. } if !st.elapsed => st.deadline,
                _ => None,
            })
            .min()
    }

    /// The status of the node at `index` (depth-first order of the main
    /// tree, the root first), for tests and displays.
    pub fn status_of(&self, index: usize) -> Option<Status> {
        self.st.get(index).map(St::status)
    }

    /// The node that ran the action `id`, while it runs.
    pub fn node_of(&self, id: ActionId) -> Option<usize> {
        self.running.get(&id).copied()
    }

    fn flush<E: Environment + ?Sized>(&mut self, tree: &BehaviorTree, env: &mut E) {
        for (id, node) in std::mem::take(&mut self.pending) {
            if let Kind::Action(action) = &tree.nodes[node].kind {
                env.start(id, action, self.now);
            }
        }
    }

    fn tick_node<E: Environment + ?Sized>(
        &mut self,
        t: &BehaviorTree,
        i: usize,
        env: &mut E,
    ) -> Status {
        let node = &t.nodes[i];
        let ch = node.children.as_slice();
        let status = match &node.kind {
            Kind::Sequence | Kind::Fallback => {
                // Sequence goes on while children succeed, Fallback while
                // they fail; the other result ends it.
                let go_on = if node.kind == Kind::Sequence {
                    Status::Success
                } else {
                    Status::Failure
                };
                loop {
                    let k = self.st[i].idx;
                    if k >= ch.len() {
                        self.reset_children(t, i, env);
                        break go_on;
                    }
                    match self.tick_node(t, ch[k], env) {
                        Status::Running => break Status::Running,
                        s if s == go_on => self.st[i].idx += 1,
                        s => {
                            self.reset_children(t, i, env);
                            break s;
                        }
                    }
                }
            }
            Kind::ReactiveSequence | Kind::ReactiveFallback => {
                let go_on = if node.kind == Kind::ReactiveSequence {
                    Status::Success
                } else {
                    Status::Failure
                };
                let mut result = None;
                for (k, &child) in ch.iter().enumerate() {
                    match self.tick_node(t, child, env) {
                        Status::Running => {
                            for (j, &other) in ch.iter().enumerate() {
                                if j != k {
                                    self.halt_node(t, other, env);
                                }
                            }
                            result = Some(Status::Running);
                            break;
                        }
                        s if s == go_on => {}
                        s => {
                            self.reset_children(t, i, env);
                            result = Some(s);
                            break;
                        }
                    }
                }
                match result {
                    Some(s) => s,
                    None => {
                        self.reset_children(t, i, env);
                        go_on
                    }
                }
            }
            Kind::Parallel { success, failure } => {
                let n = ch.len();
                let need_success = threshold(*success, n).unwrap_or(n);
                let need_failure = threshold(*failure, n).unwrap_or(n);
                if self.st[i].done.len() != n {
                    self.st[i].done = vec![None; n];
                }
                let mut result = Status::Running;
                for (k, &child) in ch.iter().enumerate() {
                    if self.st[i].done[k].is_none() {
                        match self.tick_node(t, child, env) {
                            Status::Success => {
                                self.st[i].done[k] = Some(true);
                                self.st[i].successes += 1;
                            }
                            Status::Failure => {
                                self.st[i].done[k] = Some(false);
                                self.st[i].failures += 1;
                            }
                            _ => {}
                        }
                    }
                    let st = &self.st[i];
                    if st.successes >= need_success {
                        result = Status::Success;
                    } else if n - st.failures < need_success || st.failures >= need_failure {
                        result = Status::Failure;
                    }
                    if result != Status::Running {
                        self.clear(i);
                        self.reset_children(t, i, env);
                        break;
                    }
                }
                result
            }
            Kind::IfThenElse => 'ite: {
                if self.st[i].idx == 0 {
                    match self.tick_node(t, ch[0], env) {
                        Status::Running => break 'ite Status::Running,
                        Status::Success => self.st[i].idx = 1,
                        _ if ch.len() == 3 => self.st[i].idx = 2,
                        _ => {
                            self.reset_children(t, i, env);
                            break 'ite Status::Failure;
                        }
                    }
                }
                let k = self.st[i].idx;
                let s = self.tick_node(t, ch[k], env);
                if s.is_completed() {
                    self.reset_children(t, i, env);
                    self.st[i].idx = 0;
                }
                s
            }
            Kind::Inverter | Kind::ForceSuccess | Kind::ForceFailure => {
                let s = self.tick_node(t, ch[0], env);
                if s.is_completed() {
                    self.halt_node(t, ch[0], env);
                }
                match (&node.kind, s) {
                    (_, Status::Running) => Status::Running,
                    (Kind::ForceSuccess, _) => Status::Success,
                    (Kind::ForceFailure, _) => Status::Failure,
                    (_, Status::Success) => Status::Failure,
                    _ => Status::Success,
                }
            }
            Kind::Repeat { cycles } => self.repeat(t, i, *cycles, Status::Success, env),
            Kind::Retry { attempts } => self.repeat(t, i, *attempts, Status::Failure, env),
            Kind::Timeout { after } => 'timeout: {
                if self.st[i].status() != Status::Running {
                    self.clear(i);
                    if !after.is_zero() {
                        self.st[i].deadline = Some(self.now + *after);
                    }
                }
                if let Some(deadline) = self.st[i].deadline {
                    if self.now >= deadline && self.st[ch[0]].status() == Status::Running {
                        self.halt_node(t, ch[0], env);
                        self.clear(i);
                        break 'timeout Status::Failure;
                    }
                }
                let s = self.tick_node(t, ch[0], env);
                if s.is_completed() {
                    self.clear(i);
                    self.halt_node(t, ch[0], env);
                }
                s
            }
            Kind::Delay { delay } => 'delay: {
                if self.st[i].status() != Status::Running {
                    self.clear(i);
                    self.st[i].deadline = Some(self.now + *delay);
                }
                if !self.st[i].elapsed {
                    match self.st[i].deadline {
                        Some(d) if self.now < d => break 'delay Status::Running,
                        _ => self.st[i].elapsed = true,
                    }
                }
                let s = self.tick_node(t, ch[0], env);
                if s.is_completed() {
                    self.clear(i);
                    self.halt_node(t, ch[0], env);
                }
                s
            }
            Kind::KeepRunningUntilFailure => {
                let s = self.tick_node(t, ch[0], env);
                match s {
                    Status::Failure => {
                        self.halt_node(t, ch[0], env);
                        Status::Failure
                    }
                    Status::Success => {
                        self.halt_node(t, ch[0], env);
                        Status::Running
                    }
                    _ => Status::Running,
                }
            }
            Kind::SubTree => self.tick_node(t, ch[0], env),
            Kind::Condition(c) => {
                if condition(c, env) {
                    Status::Success
                } else {
                    Status::Failure
                }
            }
            Kind::Action(_) => {
                let st = &mut self.st[i];
                match (st.action, st.outcome) {
                    (None, _) => {
                        let id = ActionId(self.next_id);
                        self.next_id += 1;
                        st.action = Some(id);
                        self.pending.push((id, i));
                        self.running.insert(id, i);
                        Status::Running
                    }
                    (Some(_), None) => Status::Running,
                    (Some(id), Some(ok)) => {
                        st.action = None;
                        st.outcome = None;
                        self.running.remove(&id);
                        if ok {
                            Status::Success
                        } else {
                            Status::Failure
                        }
                    }
                }
            }
        };
        self.st[i].status = Some(status);
        status
    }

    /// Repeat (`until` = Failure ends it, Success counts a cycle) and
    /// RetryUntilSuccessful (Success ends it, Failure counts an attempt).
    fn repeat<E: Environment + ?Sized>(
        &mut self,
        t: &BehaviorTree,
        i: usize,
        limit: i32,
        counted: Status,
        env: &mut E,
    ) -> Status {
        let child = t.nodes[i].children[0];
        loop {
            if limit != -1 && self.st[i].count >= limit {
                self.st[i].count = 0;
                return counted;
            }
            let was_running = self.st[child].status() == Status::Running;
            let s = self.tick_node(t, child, env);
            match s {
                Status::Running => return Status::Running,
                s if s == counted => {
                    self.st[i].count = self.st[i].count.saturating_add(1);
                    self.halt_node(t, child, env);
                    if limit == -1 && !was_running {
                        // Finished within this tick: go on at the next one.
                        return Status::Running;
                    }
                }
                s => {
                    self.st[i].count = 0;
                    self.halt_node(t, child, env);
                    return s;
                }
            }
        }
    }

    fn clear(&mut self, i: usize) {
        let status = self.st[i].status;
        self.st[i] = St {
            status,
            ..St::default()
        };
    }

    fn reset_children<E: Environment + ?Sized>(&mut self, t: &BehaviorTree, i: usize, env: &mut E) {
        for &child in &t.nodes[i].children {
            self.halt_node(t, child, env);
        }
    }

    /// Halts a node if it runs (its running descendants first, depth-first,
    /// each action once) and makes it idle.
    fn halt_node<E: Environment + ?Sized>(&mut self, t: &BehaviorTree, i: usize, env: &mut E) {
        let status = self.st[i].status();
        if status == Status::Idle {
            return;
        }
        if status == Status::Running {
            match &t.nodes[i].kind {
                Kind::Action(action) => {
                    if let Some(id) = self.st[i].action {
                        self.running.remove(&id);
                        if let Some(at) = self.pending.iter().position(|(p, _)| *p == id) {
                            // Requested in this tick and not yet sent.
                            self.pending.remove(at);
                        } else if self.st[i].outcome.is_none() {
                            // An action that already finished needs no halt.
                            env.halt(id, action, self.now);
                        }
                    }
                }
                _ => self.reset_children(t, i, env),
            }
        }
        self.st[i] = St::default();
    }
}

fn condition<E: Environment + ?Sized>(c: &Condition, env: &E) -> bool {
    match c {
        Condition::Health { path, test } => env.health(path).is_some_and(|h| test.holds(h.state)),
        Condition::Trend { path, is } => env.health(path).is_some_and(|h| h.trend == *is),
        Condition::Available { query, .. } => env.available(query),
        Condition::InMode { mode } => env.mode() == Some(mode.as_str()),
    }
}
