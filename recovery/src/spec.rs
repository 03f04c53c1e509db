//! What a supervisor is told to run, as plain data: groups of children with
//! an OTP strategy, restart intensity and backoff. Built by the config
//! reader or in code; [`crate::Supervisor::new`] takes it as is.

use std::time::Duration;

/// Which siblings are restarted with a child that died (Erlang/OTP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Only the dead child.
    OneForOne,
    /// Every child of the group: stopped in reverse start order, started
    /// again in start order.
    OneForAll,
    /// The dead child and every child started after it.
    RestForOne,
}

impl Strategy {
    /// The names the config file uses.
    pub const NAMES: &'static [&'static str] = &["one_for_one", "one_for_all", "rest_for_one"];

    /// Parses `one_for_one`, `one_for_all`, `rest_for_one`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "one_for_one" => Some(Strategy::OneForOne),
            "one_for_all" => Some(Strategy::OneForAll),
            "rest_for_one" => Some(Strategy::RestForOne),
            _ => None,
        }
    }
}

/// When a child that exited is started again (Erlang/OTP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Restart {
    /// Always.
    Permanent,
    /// Only after an abnormal exit (any exit but code 0).
    Transient,
    /// Never; a sibling's one_for_all or rest_for_one restart stops it and
    /// leaves it stopped.
    Temporary,
}

impl Restart {
    /// The names the config file uses.
    pub const NAMES: &'static [&'static str] = &["permanent", "transient", "temporary"];

    /// Parses `permanent`, `transient`, `temporary`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "permanent" => Some(Restart::Permanent),
            "transient" => Some(Restart::Transient),
            "temporary" => Some(Restart::Temporary),
            _ => None,
        }
    }
}

/// When a started child counts as up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Ready {
    /// As soon as it is spawned.
    #[default]
    Started,
    /// When it sends `READY=1` on its notify socket (systemd `Type=notify`).
    /// The next child of the group is started only then.
    Notify,
}

/// How long to wait before a restart (Akka's `restartWithBackoff`).
///
/// The n-th consecutive restart of a child waits
/// `min(max, initial * multiplier^(n-1))`, then scaled by a jitter factor
/// drawn uniformly from `[1 - jitter, 1 + jitter]` and bounded by `max`
/// again. The count starts afresh once the child has run healthy (up and, if
/// it has a watchdog, pinging) for `reset_after`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// Delay before the first restart.
    pub initial: Duration,
    /// Upper bound of any delay, jitter included.
    pub max: Duration,
    /// Growth per consecutive restart; at least 1.
    pub multiplier: f64,
    /// Relative spread in `[0, 1]`; 0 for none.
    pub jitter: f64,
    /// Healthy run time after which the next restart waits `initial` again.
    pub reset_after: Duration,
}

impl Default for Backoff {
    /// 100 ms (systemd's `RestartSec`) doubling up to 5 s, 10 % jitter,
    /// reset after 10 s healthy.
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
            multiplier: 2.0,
            jitter: 0.1,
            reset_after: Duration::from_secs(10),
        }
    }
}

/// One supervised process.
#[derive(Clone, Debug, PartialEq)]
pub struct ChildSpec {
    /// Unique among every child and group of the supervisor.
    pub id: String,
    /// Program and arguments; never empty.
    pub command: Vec<String>,
    /// When it is restarted.
    pub restart: Restart,
    /// The vigil producer ids it advertises: the supervisor says FAILED for
    /// them the moment it exits.
    pub produces: Vec<String>,
    /// How long a stop waits after SIGTERM before SIGKILL.
    pub shutdown: Duration,
    /// Longest gap between `WATCHDOG=1` pings before the child counts as
    /// hung (killed and restarted); `None` for no watchdog.
    pub watchdog: Option<Duration>,
    /// When it counts as up.
    pub ready: Ready,
    /// How long `ready: notify` waits for `READY=1` before the child counts
    /// as hung (systemd's `TimeoutStartSec`).
    pub ready_timeout: Duration,
}

impl ChildSpec {
    /// A permanent child with a 2 s shutdown, no watchdog, up when spawned.
    pub fn new(id: impl Into<String>, command: Vec<String>) -> Self {
        ChildSpec {
            id: id.into(),
            command,
            restart: Restart::Permanent,
            produces: Vec::new(),
            shutdown: Duration::from_secs(2),
            watchdog: None,
            ready: Ready::Started,
            ready_timeout: Duration::from_secs(90),
        }
    }
}

/// A member of a group: a process or a nested group.
#[derive(Clone, Debug, PartialEq)]
pub enum MemberSpec {
    /// A process.
    Child(ChildSpec),
    /// A nested supervisor: when it gives up it stops its children and
    /// fails as one member of its parent.
    Group(GroupSpec),
}

/// A supervisor (the top level) or a nested group.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupSpec {
    /// Unique among every child and group; the top level's name is the
    /// supervisor's.
    pub name: String,
    /// Which siblings restart together.
    pub strategy: Strategy,
    /// Restarts allowed within `period`; one more and the group gives up.
    pub intensity: u32,
    /// The sliding window of `intensity`; longer than zero.
    pub period: Duration,
    /// Delays before restarts of this group's members.
    pub backoff: Backoff,
    /// Members in start order.
    pub members: Vec<MemberSpec>,
}

impl GroupSpec {
    /// A group with OTP's defaults: one_for_one, 1 restart in 5 s.
    pub fn new(name: impl Into<String>, members: Vec<MemberSpec>) -> Self {
        GroupSpec {
            name: name.into(),
            strategy: Strategy::OneForOne,
            intensity: 1,
            period: Duration::from_secs(5),
            backoff: Backoff::default(),
            members,
        }
    }

    /// Every child, depth first in start order.
    pub fn children(&self) -> Vec<&ChildSpec> {
        let mut out = Vec::new();
        fn walk<'a>(group: &'a GroupSpec, out: &mut Vec<&'a ChildSpec>) {
            for member in &group.members {
                match member {
                    MemberSpec::Child(child) => out.push(child),
                    MemberSpec::Group(inner) => walk(inner, out),
                }
            }
        }
        walk(self, &mut out);
        out
    }
}
