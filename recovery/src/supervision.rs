//! The health of the supervision itself, as a diagnostic tree:
//! `<supervisor>.<group>.<child>`, one status leaf per child.
//!
//! | child                                                  | leaf      |
//! | ------------------------------------------------------ | --------- |
//! | running (or starting) with no restart in its window    | OK        |
//! | exited and being restarted, or up again after restarts | DEGRADED  |
//! |   within its group's window (intermittent)             |           |
//! | its group (or one above it) gave up                    | FAILED    |
//! | done for good (temporary, transient after code 0)      | OK        |
//! | not started yet                                        | UNKNOWN   |
//!
//! Groups are inner nodes with the worst-of rule, so `vigil monitor` and
//! consumers see at a glance which part of a node's processes is in
//! trouble, and [`SupervisionHealth::child`] says why in words ("child
//! imu_a exited with signal 9, 3 restarts in 10s"). Like the supervisor,
//! this reads time only as an argument.

use vigil_diag::{CheckSpec, NodeBody, NodeSpec, Path, PathError, State, Timestamp, TreeSpec};

use crate::supervisor::{Action, ChildId, ChildStatus, Exit, GroupId, Supervisor};

/// One child's leaf: where, what state, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct ChildHealth {
    /// `<supervisor>.<group>...<child>`.
    pub path: Path,
    /// The leaf's state.
    pub state: State,
    /// Why, for people.
    pub why: String,
}

/// Follows a [`Supervisor`]'s events and says each child's health.
#[derive(Debug)]
pub struct SupervisionHealth {
    /// Each child's leaf path (by [`ChildId::index`]).
    paths: Vec<Path>,
    /// The last exit of each child (by [`ChildId::index`]) and when.
    last_exit: Vec<Option<(Exit, Timestamp)>>,
    /// Groups (by [`GroupId::index`]) that gave up and were not started
    /// again since.
    gave_up: Vec<bool>,
}

impl SupervisionHealth {
    /// Nothing seen yet: every child UNKNOWN until it starts. Fails only
    /// when a name is not a path label, which the config reader already
    /// refuses.
    pub fn new(sup: &Supervisor) -> Result<SupervisionHealth, PathError> {
        let paths = sup
            .children()
            .map(|(id, _)| child_path(sup, id))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SupervisionHealth {
            last_exit: vec![None; paths.len()],
            paths,
            gave_up: vec![false; sup.group_count()],
        })
    }

    /// The supervision tree: a status leaf per child, groups as worst-of
    /// inner nodes (implied by the paths).
    pub fn tree_spec(&self) -> TreeSpec {
        TreeSpec {
            nodes: self
                .paths
                .iter()
                .map(|path| {
                    NodeSpec::new(
                        path.clone(),
                        NodeBody::Leaf(CheckSpec::Status { stale_after: None }),
                    )
                })
                .collect(),
            shared: Vec::new(),
        }
    }

    /// A child's process ended.
    pub fn on_exit(&mut self, child: ChildId, exit: &Exit, at: Timestamp) {
        if let Some(slot) = self.last_exit.get_mut(child.index()) {
            *slot = Some((exit.clone(), at));
        }
    }

    /// A decision of the supervisor: a group that escalates gave up; a
    /// child that starts means every group above it is up again.
    pub fn on_action(&mut self, sup: &Supervisor, action: &Action) {
        match action {
            Action::Escalated(group) => self.set_gave_up(*group, true),
            Action::GiveUp => self.set_gave_up(GroupId::TOP, true),
            Action::Start(child) => {
                let mut group = Some(sup.group_of(*child));
                while let Some(g) = group {
                    self.set_gave_up(g, false);
                    group = sup.parent_group(g);
                }
            }
            _ => {}
        }
    }

    fn set_gave_up(&mut self, group: GroupId, value: bool) {
        if let Some(flag) = self.gave_up.get_mut(group.index()) {
            *flag = value;
        }
    }

    /// The group that gave up above `child`, outermost first.
    fn gave_up_above(&self, sup: &Supervisor, child: ChildId) -> Option<GroupId> {
        let mut found = None;
        let mut group = Some(sup.group_of(child));
        while let Some(g) = group {
            if self.gave_up.get(g.index()).copied().unwrap_or(false) {
                found = Some(g);
            }
            group = sup.parent_group(g);
        }
        found
    }

    /// The child's leaf as of `at`.
    pub fn child(&self, sup: &Supervisor, child: ChildId, at: Timestamp) -> ChildHealth {
        let path = self.paths[child.index()].clone();
        let name = &sup.child(child).id;
        let last = self.last_exit.get(child.index()).and_then(Option::as_ref);
        // The restarts that count against the child: its own group's, or,
        // once a group that gave up was restarted with a fresh window, the
        // first group above it that restarted since the child's last exit.
        let (restarts, period) = {
            let mut group = Some(sup.group_of(child));
            let mut found = None;
            while let Some(g) = group {
                let (_, period) = sup.restart_window(g);
                let n = sup.recent_restarts(g, at);
                let recent = last.is_some_and(|(_, t)| at.saturating_since(*t) < period);
                found.get_or_insert((n, period));
                if n > 0 && recent {
                    found = Some((n, period));
                    break;
                }
                group = sup.parent_group(g);
            }
            found.unwrap_or((0, std::time::Duration::ZERO))
        };
        let exited = |(exit, _): &(Exit, Timestamp)| format!("child {name} exited with {exit}");
        let in_window = |n: usize| {
            let s = if n == 1 { "" } else { "s" };
            format!("{n} restart{s} in {period:?}")
        };
        let (state, why) = match (sup.status(child), self.gave_up_above(sup, child)) {
            (ChildStatus::Starting | ChildStatus::Running, _) => match last {
                Some(last) if restarts > 0 && at.saturating_since(last.1) < period => (
                    State::Degraded,
                    format!("intermittent: {}, {}", exited(last), in_window(restarts)),
                ),
                _ => (State::Ok, format!("child {name} running")),
            },
            (ChildStatus::Done, _) => (
                State::Ok,
                match last {
                    Some(last) => format!("{}: done", exited(last)),
                    None => format!("child {name} done"),
                },
            ),
            (ChildStatus::Down | ChildStatus::Stopping, Some(g)) => {
                let (intensity, period) = sup.restart_window(g);
                let last = last.map(|l| format!(": {}", exited(l))).unwrap_or_default();
                (
                    State::Failed,
                    format!(
                        "group {} gave up after more than {intensity} restarts in {period:?}{last}",
                        sup.group_name(g)
                    ),
                )
            }
            (ChildStatus::Down | ChildStatus::Stopping, None) => match last {
                Some(last) => (
                    State::Degraded,
                    format!("{}, restarting, {}", exited(last), in_window(restarts)),
                ),
                None => (State::Unknown, format!("child {name} not started")),
            },
        };
        ChildHealth { path, state, why }
    }

    /// Every child's leaf as of `at`, in start order.
    pub fn children(&self, sup: &Supervisor, at: Timestamp) -> Vec<ChildHealth> {
        sup.children()
            .map(|(id, _)| self.child(sup, id, at))
            .collect()
    }
}

/// `<supervisor>.<group>...<child>`.
pub fn child_path(sup: &Supervisor, child: ChildId) -> Result<Path, PathError> {
    let mut labels = vec![sup.child(child).id.as_str()];
    let mut group = Some(sup.group_of(child));
    while let Some(g) = group {
        labels.push(sup.group_name(g));
        group = sup.parent_group(g);
    }
    labels.reverse();
    Path::parse(&labels.join("."))
}

#[cfg(test)]
mod tests;
