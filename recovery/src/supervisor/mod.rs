//! The supervisor as a pure state machine: processes' exits, readiness
//! and watchdog pings go in with the time they happened, [`Action`]s come
//! out. It never reads a clock or touches a process, so every decision is
//! replayable and tested without processes.
//!
//! # How a group works (Erlang/OTP)
//!
//! A failure of a member (a child's exit, or a nested group giving up) is
//! one restart of its group. If the group already restarted `intensity`
//! times within the last `period` (a sliding window), it gives up instead:
//! it stops every member in reverse start order, says [`Action::Escalated`]
//! and fails as one member of its parent; the top level giving up is
//! [`Action::GiveUp`]. Otherwise the strategy picks the members to restart,
//! those still up are stopped one at a time in reverse start order
//! (SIGTERM, then SIGKILL after the child's `shutdown`), and after the
//! backoff delay they are started again in start order, each waiting for the
//! previous one's `READY=1` when it has `ready: notify`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::time::Duration;

use vigil_diag::Timestamp;

use crate::backoff::Jitter;
use crate::spec::{Backoff, ChildSpec, GroupSpec, MemberSpec, Ready, Restart, Strategy};

#[cfg(test)]
mod tests;

/// A child of a [`Supervisor`], by position in [`Supervisor::children`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChildId(usize);

impl ChildId {
    /// The position in start order (depth first).
    pub fn index(self) -> usize {
        self.0
    }
}

/// A group of a [`Supervisor`]; the top level is index 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId(usize);

impl GroupId {
    /// The top level.
    pub const TOP: GroupId = GroupId(0);

    /// The position (depth first, the top level first).
    pub fn index(self) -> usize {
        self.0
    }
}

/// A child or a nested group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemberId {
    /// A process.
    Child(ChildId),
    /// A nested group.
    Group(GroupId),
}

/// How a child process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
    /// It could not be started at all (no such program, ...).
    SpawnFailed(String),
}

impl Exit {
    /// Code 0: the only exit after which a `transient` child stays down.
    pub fn is_normal(&self) -> bool {
        matches!(self, Exit::Code(0))
    }
}

impl fmt::Display for Exit {
    /// `code 1`, `signal 9`, `spawn failed: ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "code {code}"),
            Exit::Signal(signal) => write!(f, "signal {signal}"),
            Exit::SpawnFailed(why) => write!(f, "spawn failed: {why}"),
        }
    }
}

/// Why a child counts as hung.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hang {
    /// No `WATCHDOG=1` within its `watchdog` interval.
    Watchdog(Duration),
    /// No `READY=1` within its `ready_timeout`.
    NotReady(Duration),
}

impl fmt::Display for Hang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hang::Watchdog(d) => write!(f, "no WATCHDOG=1 within {d:?}"),
            Hang::NotReady(d) => write!(f, "no READY=1 within {d:?}"),
        }
    }
}

/// What the supervisor decided. The first three are commands for the
/// process shell; the rest report decisions (to print, publish, count).
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Spawn the child. Report [`Supervisor::on_exit`] with
    /// [`Exit::SpawnFailed`] if that fails.
    Start(ChildId),
    /// Ask the child to stop (SIGTERM to its process group). A
    /// [`Action::Kill`] follows after its `shutdown` unless it exits first.
    Terminate(ChildId),
    /// SIGKILL the child's process group.
    Kill(ChildId),
    /// The child is gone: say FAILED for every producer it advertised.
    PublishFailed {
        /// Who exited.
        child: ChildId,
        /// Its `produces`, never empty.
        producers: Vec<String>,
        /// Why, for people (`child imu_a exited with signal 9, 2 restarts
        /// in 10s`).
        reason: String,
    },
    /// The member will be started again after `delay`.
    Restarting {
        /// Who.
        member: MemberId,
        /// Consecutive restarts since it last ran healthy, this one included.
        attempt: u32,
        /// The backoff delay.
        delay: Duration,
    },
    /// The child missed its watchdog or readiness deadline; it is killed
    /// and its exit counts as a failure.
    Hung(ChildId, Hang),
    /// A child the supervisor stopped has exited.
    Stopped(ChildId),
    /// The group exceeded its intensity and stopped all its members; its
    /// parent now handles it as a failed member.
    Escalated(GroupId),
    /// The top level exceeded its intensity: every child is stopped, the
    /// supervisor is done (`vigil supervise` exits 3).
    GiveUp,
    /// [`Supervisor::shutdown`] finished: every child is stopped.
    Done,
}

/// What a child is doing, for status and health.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildStatus {
    /// Not started yet, or stopped and not (yet) restarted.
    Down,
    /// Spawned, waiting for `READY=1`.
    Starting,
    /// Up.
    Running,
    /// Being stopped.
    Stopping,
    /// Exited and never to be restarted (temporary, transient after code 0).
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChildState {
    Down,
    Done,
    Starting {
        since: Timestamp,
    },
    Running {
        ping: Timestamp,
    },
    Stopping {
        kill_at: Timestamp,
        killed: bool,
        hung: Option<Hang>,
    },
}

#[derive(Debug)]
struct ChildRt {
    spec: ChildSpec,
    group: usize,
    pos: usize,
    state: ChildState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MemberRef {
    Child(usize),
    Group(usize),
}

#[derive(Debug)]
struct MemberRt {
    what: MemberRef,
    /// Consecutive restarts since it last ran healthy for `reset_after`.
    attempt: u32,
    /// When it last became ready; `None` while down or starting.
    healthy_since: Option<Timestamp>,
}

#[derive(Debug)]
struct Plan {
    /// Members to stop (in reverse order) before anything starts.
    stop: BTreeSet<usize>,
    /// Members to start (in order), each not before its time.
    start: BTreeMap<usize, Timestamp>,
    /// Every member of `stop` and `start` is down: starting may begin.
    stopped: bool,
    /// Each start waits for the one before it (its time, its `READY=1`):
    /// a group's first start and every restart but one_for_one's.
    ordered: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Then {
    /// The parent stopped this group as part of its own plan.
    Parent,
    /// It gave up: escalate.
    GiveUp,
    /// The supervisor is shutting down.
    Shutdown,
}

#[derive(Debug)]
enum Phase {
    Down,
    Up(Option<Plan>),
    Stopping(Then),
}

#[derive(Debug)]
struct GroupRt {
    name: String,
    strategy: Strategy,
    intensity: u32,
    period: Duration,
    backoff: Backoff,
    members: Vec<MemberRt>,
    parent: Option<(usize, usize)>,
    /// Times of the restarts within the last `period`.
    window: VecDeque<Timestamp>,
    phase: Phase,
}

/// A supervision tree of processes, as a state machine (see the module
/// docs). Feed it what happened with the time it happened; do what the
/// returned [`Action`]s say; call [`Supervisor::on_timer`] at
/// [`Supervisor::next_deadline`].
///
/// ```
/// use vigil_diag::Timestamp;
/// use vigil_recovery::{load_config_str, Action, Exit, Supervisor};
///
/// let spec = load_config_str(
///     "strategy: one_for_one\nintensity: 3\nperiod: 10s\nbackoff: { initial: 100ms, max: 5s }\n\
///      children:\n  - id: imu_a\n    command: [vigil, produce, --id, imu_a]\n    produces: [imu_a]\n",
/// )
/// .unwrap();
/// let mut supervisor = Supervisor::new(spec);
/// let at = Timestamp::from_nanos(1_000_000_000);
/// let imu_a = supervisor.child_id("imu_a").unwrap();
/// assert_eq!(supervisor.start(at), vec![Action::Start(imu_a)]);
/// // SIGKILL: its producer is FAILED at once, and it comes back after the
/// // backoff.
/// let actions = supervisor.on_exit(imu_a, Exit::Signal(9), at);
/// assert!(actions.iter().any(|a| matches!(a, Action::PublishFailed { producers, .. } if producers == &["imu_a"])));
/// assert!(actions.iter().any(|a| matches!(a, Action::Restarting { attempt: 1, .. })));
/// ```
#[derive(Debug)]
pub struct Supervisor {
    children: Vec<ChildRt>,
    groups: Vec<GroupRt>,
    jitter: Jitter,
}

impl Supervisor {
    /// A supervisor for `spec` (checked by the config reader: unique ids,
    /// non-empty commands), with jitter seed 0.
    pub fn new(spec: GroupSpec) -> Self {
        let mut sup = Supervisor {
            children: Vec::new(),
            groups: Vec::new(),
            jitter: Jitter::new(0),
        };
        sup.add_group(spec, None);
        sup
    }

    /// Jitter drawn from `seed`: the same seed replays the same delays.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.jitter = Jitter::new(seed);
        self
    }

    fn add_group(&mut self, spec: GroupSpec, parent: Option<(usize, usize)>) -> usize {
        let index = self.groups.len();
        self.groups.push(GroupRt {
            name: spec.name,
            strategy: spec.strategy,
            intensity: spec.intensity,
            period: spec.period,
            backoff: spec.backoff,
            members: Vec::new(),
            parent,
            window: VecDeque::new(),
            phase: Phase::Down,
        });
        for (pos, member) in spec.members.into_iter().enumerate() {
            let what = match member {
                MemberSpec::Child(child) => {
                    self.children.push(ChildRt {
                        spec: child,
                        group: index,
                        pos,
                        state: ChildState::Down,
                    });
                    MemberRef::Child(self.children.len() - 1)
                }
                MemberSpec::Group(group) => {
                    MemberRef::Group(self.add_group(group, Some((index, pos))))
                }
            };
            self.groups[index].members.push(MemberRt {
                what,
                attempt: 0,
                healthy_since: None,
            });
        }
        index
    }

    /// Every child, in start order (depth first).
    pub fn children(&self) -> impl Iterator<Item = (ChildId, &ChildSpec)> + '_ {
        self.children
            .iter()
            .enumerate()
            .map(|(i, c)| (ChildId(i), &c.spec))
    }

    /// The child's spec.
    pub fn child(&self, id: ChildId) -> &ChildSpec {
        &self.children[id.0].spec
    }

    /// The child named `name`.
    pub fn child_id(&self, name: &str) -> Option<ChildId> {
        self.children
            .iter()
            .position(|c| c.spec.id == name)
            .map(ChildId)
    }

    /// The group's name (the top level's is the supervisor's).
    pub fn group_name(&self, id: GroupId) -> &str {
        &self.groups[id.0].name
    }

    /// How many groups there are, the top level included.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// The group that holds `id`; `None` for the top level.
    pub fn parent_group(&self, id: GroupId) -> Option<GroupId> {
        self.groups[id.0].parent.map(|(g, _)| GroupId(g))
    }

    /// The restart window of the group: at most `intensity` restarts
    /// within `period`.
    pub fn restart_window(&self, id: GroupId) -> (u32, Duration) {
        let g = &self.groups[id.0];
        (g.intensity, g.period)
    }

    /// The group a child belongs to.
    pub fn group_of(&self, id: ChildId) -> GroupId {
        GroupId(self.children[id.0].group)
    }

    /// The member's name: a child's id or a group's name.
    pub fn member_name(&self, member: MemberId) -> &str {
        match member {
            MemberId::Child(c) => &self.child(c).id,
            MemberId::Group(g) => self.group_name(g),
        }
    }

    /// What the child is doing.
    pub fn status(&self, id: ChildId) -> ChildStatus {
        match self.children[id.0].state {
            ChildState::Down => ChildStatus::Down,
            ChildState::Done => ChildStatus::Done,
            ChildState::Starting { .. } => ChildStatus::Starting,
            ChildState::Running { .. } => ChildStatus::Running,
            ChildState::Stopping { .. } => ChildStatus::Stopping,
        }
    }

    /// Restarts of the group within its window as of `at`.
    pub fn recent_restarts(&self, group: GroupId, at: Timestamp) -> usize {
        let g = &self.groups[group.0];
        g.window
            .iter()
            .filter(|t| at.saturating_since(**t) < g.period)
            .count()
    }

    /// True once everything is stopped after [`Action::GiveUp`] or
    /// [`Action::Done`].
    pub fn is_down(&self) -> bool {
        matches!(self.groups[0].phase, Phase::Down)
    }

    /// Starts every child in order.
    pub fn start(&mut self, at: Timestamp) -> Vec<Action> {
        let mut out = Vec::new();
        if matches!(self.groups[0].phase, Phase::Down) {
            self.start_group(0, at, &mut out);
        }
        out
    }

    /// Stops every child in reverse start order; [`Action::Done`] once all
    /// have exited.
    pub fn shutdown(&mut self, at: Timestamp) -> Vec<Action> {
        let mut out = Vec::new();
        match self.groups[0].phase {
            Phase::Down => out.push(Action::Done),
            Phase::Stopping(_) => self.groups[0].phase = Phase::Stopping(Then::Shutdown),
            Phase::Up(_) => {
                self.groups[0].phase = Phase::Stopping(Then::Shutdown);
                self.advance(0, at, &mut out);
            }
        }
        out
    }

    /// The child's process ended as `exit`.
    pub fn on_exit(&mut self, id: ChildId, exit: Exit, at: Timestamp) -> Vec<Action> {
        let mut out = Vec::new();
        let (group, pos) = (self.children[id.0].group, self.children[id.0].pos);
        let state = self.children[id.0].state;
        let hung = match state {
            ChildState::Down | ChildState::Done => return out,
            ChildState::Stopping { hung, .. } => hung,
            ChildState::Starting { .. } | ChildState::Running { .. } => None,
        };
        // `healthy_since` stays until the failure is judged: the backoff
        // reset reads it.
        self.children[id.0].state = ChildState::Down;
        let name = &self.children[id.0].spec.id;
        let what = match hung {
            Some(hang) => format!("child {name} hung: {hang}"),
            None if matches!(state, ChildState::Stopping { .. }) => {
                format!("child {name} stopped by its supervisor ({exit})")
            }
            None => format!("child {name} exited with {exit}"),
        };
        // The restarts its group already made within the window: "the third
        // crash in ten seconds" is what an operator needs to know first.
        let reason = match self.recent_restarts(GroupId(group), at) {
            0 => what,
            n => {
                let period = self.groups[group].period;
                let restarts = if n == 1 { "restart" } else { "restarts" };
                format!("{what}, {n} {restarts} in {period:?}")
            }
        };
        let producers = self.children[id.0].spec.produces.clone();
        if !producers.is_empty() {
            out.push(Action::PublishFailed {
                child: id,
                producers,
                reason,
            });
        }
        if matches!(state, ChildState::Stopping { hung: None, .. }) {
            out.push(Action::Stopped(id));
            self.advance(group, at, &mut out);
        } else {
            let normal = hung.is_none() && exit.is_normal();
            self.member_failed(group, pos, normal, at, &mut out);
        }
        out
    }

    /// The child sent `READY=1`.
    pub fn on_ready(&mut self, id: ChildId, at: Timestamp) -> Vec<Action> {
        let mut out = Vec::new();
        if let ChildState::Starting { .. } = self.children[id.0].state {
            self.children[id.0].state = ChildState::Running { ping: at };
            let (group, pos) = (self.children[id.0].group, self.children[id.0].pos);
            self.groups[group].members[pos].healthy_since = Some(at);
            self.advance(group, at, &mut out);
        }
        out
    }

    /// Restarts one child on request (a behaviour tree's `<Restart>`):
    /// stops it if it runs, then starts it again at once, whatever the
    /// group's strategy (the request names one child, not a failure the
    /// strategy would answer). A requested restart is not a failure: it
    /// neither counts toward the group's intensity nor grows the backoff.
    /// A child that was stopped by [`Supervisor::stop_child`] (or is done)
    /// is started. Nothing happens while its group is stopping or down.
    pub fn restart_child(&mut self, id: ChildId, at: Timestamp) -> Vec<Action> {
        let mut out = Vec::new();
        let (g, pos) = (self.children[id.0].group, self.children[id.0].pos);
        let Phase::Up(plan) = &mut self.groups[g].phase else {
            return out;
        };
        let plan = plan.get_or_insert_with(|| Plan {
            stop: BTreeSet::new(),
            start: BTreeMap::new(),
            stopped: false,
            ordered: false,
        });
        plan.stop.insert(pos);
        plan.start.insert(pos, at);
        plan.stopped = false;
        if self.children[id.0].state == ChildState::Done {
            self.children[id.0].state = ChildState::Down;
        }
        out.push(Action::Restarting {
            member: MemberId::Child(id),
            attempt: self.groups[g].members[pos].attempt,
            delay: Duration::ZERO,
        });
        self.advance(g, at, &mut out);
        out
    }

    /// Stops one child on request (a behaviour tree's `<Stop>`) and keeps
    /// it down: no restart follows its exit, until
    /// [`Supervisor::restart_child`] or a restart of its whole group.
    pub fn stop_child(&mut self, id: ChildId, at: Timestamp) -> Vec<Action> {
        let mut out = Vec::new();
        let (g, pos) = (self.children[id.0].group, self.children[id.0].pos);
        if !matches!(self.groups[g].phase, Phase::Up(_)) {
            return out;
        }
        if let Phase::Up(Some(plan)) = &mut self.groups[g].phase {
            plan.start.remove(&pos);
            plan.stop.remove(&pos);
        }
        self.stop_member(g, pos, at, &mut out);
        self.advance(g, at, &mut out);
        out
    }

    /// The child sent `WATCHDOG=1`.
    pub fn on_watchdog(&mut self, id: ChildId, at: Timestamp) {
        if let ChildState::Running { ping } = &mut self.children[id.0].state {
            *ping = (*ping).max(at);
        }
    }

    /// Time passed: kills after a shutdown timeout, hangs, delayed starts.
    pub fn on_timer(&mut self, at: Timestamp) -> Vec<Action> {
        let mut out = Vec::new();
        for i in 0..self.children.len() {
            let child = &mut self.children[i];
            let hang = match child.state {
                ChildState::Stopping {
                    kill_at,
                    killed: false,
                    hung,
                } if at >= kill_at => {
                    child.state = ChildState::Stopping {
                        kill_at,
                        killed: true,
                        hung,
                    };
                    out.push(Action::Kill(ChildId(i)));
                    None
                }
                ChildState::Running { ping } => child
                    .spec
                    .watchdog
                    .filter(|w| at >= ping + *w)
                    .map(Hang::Watchdog),
                ChildState::Starting { since } if at >= since + child.spec.ready_timeout => {
                    Some(Hang::NotReady(child.spec.ready_timeout))
                }
                _ => None,
            };
            if let Some(hang) = hang {
                self.hang(i, hang, at, &mut out);
            }
        }
        for g in 0..self.groups.len() {
            self.advance(g, at, &mut out);
        }
        out
    }

    /// The earliest time [`Supervisor::on_timer`] has something to do.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let children = self.children.iter().filter_map(|c| match c.state {
            ChildState::Stopping {
                kill_at,
                killed: false,
                ..
            } => Some(kill_at),
            ChildState::Running { ping } => c.spec.watchdog.map(|w| ping + w),
            ChildState::Starting { since } => Some(since + c.spec.ready_timeout),
            _ => None,
        });
        let starts = self.groups.iter().filter_map(|g| match &g.phase {
            Phase::Up(Some(plan)) if plan.stopped => {
                let mut next: Option<Timestamp> = None;
                for (&pos, &time) in &plan.start {
                    if self.member_up(g, pos) {
                        if !self.member_ready(g, pos) && plan.ordered {
                            break;
                        }
                        continue;
                    }
                    next = Some(next.map_or(time, |n| n.min(time)));
                    if plan.ordered {
                        break;
                    }
                }
                next
            }
            _ => None,
        });
        children.chain(starts).min()
    }

    fn hang(&mut self, i: usize, hang: Hang, at: Timestamp, out: &mut Vec<Action>) {
        self.children[i].state = ChildState::Stopping {
            kill_at: at,
            killed: true,
            hung: Some(hang),
        };
        out.push(Action::Hung(ChildId(i), hang));
        out.push(Action::Kill(ChildId(i)));
    }

    fn member_up(&self, g: &GroupRt, pos: usize) -> bool {
        match g.members[pos].what {
            MemberRef::Child(c) => {
                !matches!(self.children[c].state, ChildState::Down | ChildState::Done)
            }
            MemberRef::Group(inner) => !matches!(self.groups[inner].phase, Phase::Down),
        }
    }

    fn member_stopping(&self, g: &GroupRt, pos: usize) -> bool {
        match g.members[pos].what {
            MemberRef::Child(c) => matches!(self.children[c].state, ChildState::Stopping { .. }),
            MemberRef::Group(inner) => matches!(self.groups[inner].phase, Phase::Stopping(_)),
        }
    }

    fn member_ready(&self, g: &GroupRt, pos: usize) -> bool {
        match g.members[pos].what {
            MemberRef::Child(c) => matches!(self.children[c].state, ChildState::Running { .. }),
            MemberRef::Group(inner) => matches!(self.groups[inner].phase, Phase::Up(None)),
        }
    }

    fn member_id(&self, g: usize, pos: usize) -> MemberId {
        match self.groups[g].members[pos].what {
            MemberRef::Child(c) => MemberId::Child(ChildId(c)),
            MemberRef::Group(inner) => MemberId::Group(GroupId(inner)),
        }
    }

    fn restart_kind(&self, g: usize, pos: usize) -> Restart {
        match self.groups[g].members[pos].what {
            MemberRef::Child(c) => self.children[c].spec.restart,
            // A nested supervisor is permanent, as in OTP.
            MemberRef::Group(_) => Restart::Permanent,
        }
    }

    /// Starts a group afresh (a nested group restarted by its parent comes
    /// back with an empty window, as an OTP supervisor does).
    fn start_group(&mut self, g: usize, at: Timestamp, out: &mut Vec<Action>) {
        let group = &mut self.groups[g];
        group.window.clear();
        for member in &mut group.members {
            member.attempt = 0;
        }
        let start = (0..group.members.len()).map(|pos| (pos, at)).collect();
        group.phase = Phase::Up(Some(Plan {
            stop: BTreeSet::new(),
            start,
            stopped: true,
            ordered: true,
        }));
        self.advance(g, at, out);
    }

    fn start_member(&mut self, g: usize, pos: usize, at: Timestamp, out: &mut Vec<Action>) {
        match self.groups[g].members[pos].what {
            MemberRef::Child(c) => {
                let child = &mut self.children[c];
                child.state = match child.spec.ready {
                    Ready::Started => ChildState::Running { ping: at },
                    Ready::Notify => ChildState::Starting { since: at },
                };
                if child.spec.ready == Ready::Started {
                    self.groups[g].members[pos].healthy_since = Some(at);
                }
                out.push(Action::Start(ChildId(c)));
            }
            MemberRef::Group(inner) => self.start_group(inner, at, out),
        }
    }

    fn stop_member(&mut self, g: usize, pos: usize, at: Timestamp, out: &mut Vec<Action>) {
        self.groups[g].members[pos].healthy_since = None;
        match self.groups[g].members[pos].what {
            MemberRef::Child(c) => {
                let child = &mut self.children[c];
                if matches!(
                    child.state,
                    ChildState::Starting { .. } | ChildState::Running { .. }
                ) {
                    // `shutdown: 0s` is OTP's brutal_kill.
                    let brutal = child.spec.shutdown.is_zero();
                    child.state = ChildState::Stopping {
                        kill_at: at + child.spec.shutdown,
                        killed: brutal,
                        hung: None,
                    };
                    out.push(if brutal {
                        Action::Kill(ChildId(c))
                    } else {
                        Action::Terminate(ChildId(c))
                    });
                }
            }
            MemberRef::Group(inner) => {
                if let Phase::Up(_) = self.groups[inner].phase {
                    self.groups[inner].phase = Phase::Stopping(Then::Parent);
                    self.advance(inner, at, out);
                }
            }
        }
    }

    /// A member went down on its own (`normal`: exit code 0).
    fn member_failed(
        &mut self,
        g: usize,
        pos: usize,
        normal: bool,
        at: Timestamp,
        out: &mut Vec<Action>,
    ) {
        if !matches!(self.groups[g].phase, Phase::Up(_)) {
            // Going down anyway: one less to stop.
            self.advance(g, at, out);
            return;
        }
        let restart = match self.restart_kind(g, pos) {
            Restart::Permanent => true,
            Restart::Transient => !normal,
            Restart::Temporary => false,
        };
        if !restart {
            self.groups[g].members[pos].healthy_since = None;
            if let MemberRef::Child(c) = self.groups[g].members[pos].what {
                self.children[c].state = ChildState::Done;
            }
            if let Phase::Up(Some(plan)) = &mut self.groups[g].phase {
                plan.start.remove(&pos);
            }
            self.advance(g, at, out);
            return;
        }
        let group = &mut self.groups[g];
        while group
            .window
            .front()
            .is_some_and(|t| at.saturating_since(*t) >= group.period)
        {
            group.window.pop_front();
        }
        if group.window.len() >= group.intensity as usize {
            group.members[pos].healthy_since = None;
            group.phase = Phase::Stopping(Then::GiveUp);
            self.advance(g, at, out);
            return;
        }
        group.window.push_back(at);

        let n = group.members.len();
        let affected: Vec<usize> = match group.strategy {
            Strategy::OneForOne => vec![pos],
            Strategy::OneForAll => (0..n).collect(),
            Strategy::RestForOne => (pos..n).collect(),
        };
        // Siblings are stopped; only the non-temporary ones come back.
        let restart: Vec<usize> = affected
            .iter()
            .copied()
            .filter(|&p| p == pos || self.restart_kind(g, p) != Restart::Temporary)
            .collect();
        // Members a plan in progress already started stay up.
        let started: Vec<usize> = match &self.groups[g].phase {
            Phase::Up(Some(plan)) if plan.stopped => plan
                .start
                .keys()
                .copied()
                .filter(|&p| self.member_up(&self.groups[g], p))
                .collect(),
            _ => Vec::new(),
        };

        let group = &mut self.groups[g];
        let reset_after = group.backoff.reset_after;
        for &p in &restart {
            let member = &mut group.members[p];
            if member
                .healthy_since
                .is_some_and(|since| at.saturating_since(since) >= reset_after)
            {
                member.attempt = 0;
            }
            member.attempt = member.attempt.saturating_add(1);
        }
        group.members[pos].healthy_since = None;
        let delay = group
            .backoff
            .delay(group.members[pos].attempt, self.jitter.next_signed());
        let attempts: Vec<(usize, u32)> = restart
            .iter()
            .map(|&p| (p, group.members[p].attempt))
            .collect();
        let ordered = group.strategy != Strategy::OneForOne;
        let Phase::Up(plan) = &mut group.phase else {
            return;
        };
        let plan = plan.get_or_insert_with(|| Plan {
            stop: BTreeSet::new(),
            start: BTreeMap::new(),
            stopped: false,
            ordered,
        });
        plan.ordered |= ordered;
        for p in started {
            plan.start.remove(&p);
        }
        plan.stop.extend(affected);
        plan.stopped = false;
        let start_at = at + delay;
        for &p in &restart {
            let time = plan.start.entry(p).or_insert(start_at);
            *time = (*time).max(start_at);
        }
        for (p, attempt) in attempts {
            out.push(Action::Restarting {
                member: self.member_id(g, p),
                attempt,
                delay,
            });
        }
        self.advance(g, at, out);
    }

    /// Moves the group's stop/start work on as far as it can go now.
    fn advance(&mut self, g: usize, at: Timestamp, out: &mut Vec<Action>) {
        loop {
            let group = &self.groups[g];
            match &group.phase {
                Phase::Down | Phase::Up(None) => return,
                Phase::Stopping(then) => {
                    let then = *then;
                    let n = group.members.len();
                    if (0..n).any(|p| self.member_stopping(group, p)) {
                        return;
                    }
                    if let Some(p) = (0..n).rev().find(|&p| self.member_up(group, p)) {
                        self.stop_member(g, p, at, out);
                        continue;
                    }
                    self.groups[g].phase = Phase::Down;
                    self.finish(g, then, at, out);
                    return;
                }
                Phase::Up(Some(plan)) => {
                    if !plan.stopped {
                        let affected = plan.stop.iter().chain(plan.start.keys());
                        if affected.clone().any(|&p| self.member_stopping(group, p)) {
                            return;
                        }
                        let up = affected
                            .copied()
                            .filter(|&p| self.member_up(group, p))
                            .max();
                        if let Some(p) = up {
                            self.stop_member(g, p, at, out);
                            continue;
                        }
                        if let Phase::Up(Some(plan)) = &mut self.groups[g].phase {
                            plan.stop.clear();
                            plan.stopped = true;
                        }
                        continue;
                    }
                    let ordered = plan.ordered;
                    let mut next = None;
                    let mut waiting = false;
                    for (&p, &time) in &plan.start {
                        if self.member_up(group, p) {
                            if !self.member_ready(group, p) {
                                waiting = true;
                                if ordered {
                                    break;
                                }
                            }
                            continue;
                        }
                        if time <= at {
                            next = Some(p);
                            break;
                        }
                        waiting = true;
                        if ordered {
                            break;
                        }
                    }
                    match next {
                        Some(p) => self.start_member(g, p, at, out),
                        None if waiting => return,
                        None => {
                            self.groups[g].phase = Phase::Up(None);
                            if let Some((parent, pos)) = self.groups[g].parent {
                                self.groups[parent].members[pos].healthy_since = Some(at);
                                self.advance(parent, at, out);
                            }
                            return;
                        }
                    }
                }
            }
        }
    }

    fn finish(&mut self, g: usize, then: Then, at: Timestamp, out: &mut Vec<Action>) {
        let parent = self.groups[g].parent;
        match then {
            Then::Parent => {
                if let Some((parent, _)) = parent {
                    self.advance(parent, at, out);
                }
            }
            Then::GiveUp => {
                out.push(Action::Escalated(GroupId(g)));
                match parent {
                    Some((parent, pos)) => {
                        self.groups[parent].members[pos].healthy_since = None;
                        self.member_failed(parent, pos, false, at, out);
                    }
                    None => out.push(Action::GiveUp),
                }
            }
            Then::Shutdown => out.push(Action::Done),
        }
    }
}
