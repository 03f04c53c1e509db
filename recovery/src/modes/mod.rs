//! Modes and the rules that switch them: which producers are allowed or
//! isolated, which capability overrides hold and which supervisor children
//! run, chosen from the health of the diagnostic tree.
//!
//! A rule `when: <lquery> is <STATE> [for <duration>]` holds while some
//! node matching the pattern is in that state; once it has held for its
//! duration it is *active* and asks for its mode. The active rule of the
//! highest priority wins (ties: the first in the file). A rule that stops
//! holding stays active for the file's `hold` time, so a flapping node
//! does not flap the mode; when no rule is active the system returns to
//! its base mode: the file's `target`, or the mode a behaviour tree last
//! set with `<SetMode>`.
//!
//! Pure: time is an argument, every change is returned with its cause.
//!
//! # Layout
//!
//! - `file`: the YAML file into [`Modes`] ([`load_modes_str`]).
//! - this module: the specs and the [`ModeEngine`].

use std::fmt;
use std::time::Duration;

use vigil_diag::{Pattern, State, Timestamp, Tree};
use vigil_qos::Value;

mod file;

#[cfg(test)]
mod tests;

pub use file::load_modes_str;

/// One named mode.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ModeSpec {
    /// Its name.
    pub name: String,
    /// The producers consumers may select; `None`: any not isolated.
    pub allow: Option<Vec<String>>,
    /// Producers no consumer may select in this mode.
    pub isolate: Vec<String>,
    /// Capability overrides: producer, key, value.
    pub capabilities: Vec<(String, String, Value)>,
    /// The supervisor children that run; `None`: all of them.
    pub children: Option<Vec<String>>,
    /// Where it was written.
    pub line: u32,
}

/// One mode rule.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Rule {
    /// The nodes it watches.
    pub pattern: Pattern,
    /// The state that makes it hold.
    pub state: State,
    /// How long it must hold before it is active.
    pub held_for: Duration,
    /// The mode it asks for.
    pub mode: String,
    /// Higher wins.
    pub priority: i64,
    /// The `when` text as written, for causes.
    pub when: String,
    /// Where it was written.
    pub line: u32,
}

/// A modes file.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Modes {
    /// The mode the system starts in and returns to.
    pub target: String,
    /// How long a rule stays active after it stops holding.
    pub hold: Duration,
    /// The modes, in file order.
    pub modes: Vec<ModeSpec>,
    /// The rules, in file order.
    pub rules: Vec<Rule>,
}

impl Modes {
    /// The mode named `name`.
    pub fn mode(&self, name: &str) -> Option<&ModeSpec> {
        self.modes.iter().find(|m| m.name == name)
    }
}

/// Why the mode changed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// A rule became the active rule of the highest priority.
    Rule {
        /// Its index in the file.
        index: usize,
        /// Its `when`.
        when: String,
    },
    /// No rule is active any more: back to the base mode.
    NoRuleHolds,
    /// A behaviour tree set it.
    Set {
        /// Who (`tree Main`).
        by: String,
    },
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Rule { index, when } => write!(f, "rule {index}: {when}"),
            Cause::NoRuleHolds => f.write_str("no rule holds"),
            Cause::Set { by } => write!(f, "set by {by}"),
        }
    }
}

/// One change of mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModeChange {
    /// When.
    pub at: Timestamp,
    /// The mode before.
    pub from: String,
    /// The mode now.
    pub to: String,
    /// Why.
    pub cause: Cause,
}

#[derive(Clone, Debug, Default)]
struct RuleState {
    /// Holding continuously since.
    since: Option<Timestamp>,
    /// Stopped holding at, while still active.
    released: Option<Timestamp>,
    active: bool,
}

/// Chooses the mode from the rules and the tree's health.
#[derive(Clone, Debug)]
pub struct ModeEngine {
    modes: Modes,
    base: String,
    current: String,
    rules: Vec<RuleState>,
}

impl ModeEngine {
    /// Starts in the target mode.
    pub fn new(modes: Modes) -> ModeEngine {
        let target = modes.target.clone();
        ModeEngine {
            rules: vec![RuleState::default(); modes.rules.len()],
            base: target.clone(),
            current: target,
            modes,
        }
    }

    /// The current mode.
    pub fn current(&self) -> &str {
        &self.current
    }

    /// The modes file.
    pub fn modes(&self) -> &Modes {
        &self.modes
    }

    /// Re-evaluates every rule against `tree` at `now`.
    pub fn update(&mut self, now: Timestamp, tree: &Tree) -> Option<ModeChange> {
        for (rule, st) in self.modes.rules.iter().zip(&mut self.rules) {
            if holds(rule, tree) {
                st.released = None;
                let since = *st.since.get_or_insert(now);
                if now >= since + rule.held_for {
                    st.active = true;
                }
            } else {
                st.since = None;
                if st.active {
                    let released = *st.released.get_or_insert(now);
                    if now >= released + self.modes.hold {
                        st.active = false;
                        st.released = None;
                    }
                }
            }
        }
        self.settle(now, Cause::NoRuleHolds)
    }

    /// A behaviour tree's `<SetMode>`: the new base mode, which holds when
    /// no rule is active. `None` if nothing changes now (an active rule
    /// keeps its mode) or the mode does not exist.
    pub fn set_mode(&mut self, mode: &str, now: Timestamp, by: &str) -> Option<ModeChange> {
        self.modes.mode(mode)?;
        self.base = mode.to_owned();
        self.settle(now, Cause::Set { by: by.to_owned() })
    }

    /// The earliest time a rule may become active or expire without a
    /// health change: update then.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.modes
            .rules
            .iter()
            .zip(&self.rules)
            .filter_map(|(rule, st)| match (st.since, st.released) {
                (Some(since), _) if !st.active => Some(since + rule.held_for),
                (_, Some(released)) => Some(released + self.modes.hold),
                _ => None,
            })
            .min()
    }

    fn settle(&mut self, now: Timestamp, otherwise: Cause) -> Option<ModeChange> {
        let winner = self
            .modes
            .rules
            .iter()
            .zip(&self.rules)
            .enumerate()
            .filter(|(_, (_, st))| st.active)
            // max_by_key keeps the last of equals: reverse the index.
            .max_by_key(|(i, (rule, _))| (rule.priority, std::cmp::Reverse(*i)));
        let (to, cause) = match winner {
            Some((index, (rule, _))) => (
                rule.mode.clone(),
                Cause::Rule {
                    index,
                    when: rule.when.clone(),
                },
            ),
            None => (self.base.clone(), otherwise),
        };
        if to == self.current {
            return None;
        }
        let from = std::mem::replace(&mut self.current, to.clone());
        Some(ModeChange {
            at: now,
            from,
            to,
            cause,
        })
    }
}

fn holds(rule: &Rule, tree: &Tree) -> bool {
    match rule.pattern.as_literal() {
        Some(path) => tree.health(&path).is_some_and(|h| h.state == rule.state),
        None => tree
            .nodes()
            .any(|(path, h)| h.state == rule.state && rule.pattern.matches(&path)),
    }
}
