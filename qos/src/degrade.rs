//! Health-dependent degradation: rules such as "when `thermal` is DEGRADED,
//! multiply `latency_p99` by 2" turn a base capability vector and the
//! producer's health into the vector it advertises.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use vigil_diag::{Path, State};

use crate::capability::{Capabilities, CapabilityError, Key};
use crate::value::{Quantity, Value};

/// What a triggered rule does to its capability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Adjust {
    /// Multiply a number by this factor (`2` doubles a latency).
    Multiply(f64),
    /// Add a quantity of the same dimension (`+ 1ms`).
    Add(Quantity),
    /// Replace the value.
    Set(Value),
    /// Withdraw the capability (the producer no longer offers it).
    Remove,
}

/// One rule: when the node `when` is at least as bad as `state`, apply
/// `action` to capability `key`.
///
/// "At least as bad" follows the severity order OK < DEGRADED < UNKNOWN <
/// FAILED: a rule for DEGRADED also fires on UNKNOWN and FAILED, since a part
/// that cannot be seen may be degraded. A node the health does not report is
/// taken as UNKNOWN, never OK.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DegradeRule {
    /// The diagnostic node that triggers the rule (as the caller's lookup
    /// resolves it, usually relative to the producer's root).
    pub when: Path,
    /// The least severe state that triggers it.
    pub state: State,
    /// The capability it changes.
    pub key: String,
    /// What it does.
    pub action: Adjust,
}

impl fmt::Display for DegradeRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "when `{}` is {} or worse, ", self.when, self.state)?;
        match &self.action {
            Adjust::Multiply(x) => write!(f, "multiply `{}` by {x}", self.key),
            Adjust::Add(q) => write!(f, "add {q} to `{}`", self.key),
            Adjust::Set(v) => write!(f, "set `{}` to {v}", self.key),
            Adjust::Remove => write!(f, "remove `{}`", self.key),
        }
    }
}

/// What is wrong with one rule against one base vector.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum RuleProblem {
    /// The rule names a capability the base vector does not have.
    #[error("rule {rule} ({text}): capability `{key}` is not in the base vector")]
    MissingKey {
        /// 0-based rule index.
        rule: usize,
        /// The rule, displayed.
        text: String,
        /// The key.
        key: String,
    },
    /// The rule does arithmetic on a value that is not a number, or of
    /// another dimension.
    #[error("rule {rule} ({text}): cannot apply to `{key}` = {value}: {why}")]
    NotApplicable {
        /// 0-based rule index.
        rule: usize,
        /// The rule, displayed.
        text: String,
        /// The key.
        key: String,
        /// The current value.
        value: String,
        /// Why not.
        why: String,
    },
    /// The resulting value is not valid for the key.
    #[error("rule {rule} ({text}): {source}")]
    Invalid {
        /// 0-based rule index.
        rule: usize,
        /// The rule, displayed.
        text: String,
        /// What is wrong.
        source: CapabilityError,
    },
}

/// Every problem found while applying a rule set.
#[derive(Clone, Debug, PartialEq, Error)]
#[error("{} degradation rule problem(s): {}", problems.len(), join(problems))]
pub struct DegradeError {
    /// One entry per problem, in rule order.
    pub problems: Vec<RuleProblem>,
}

fn join(problems: &[RuleProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// An ordered list of rules, applied in order (two rules on one key
/// compose: ×2 then ×1.5 is ×3).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Degradation {
    rules: Vec<DegradeRule>,
}

impl Degradation {
    /// A rule set.
    pub fn new(rules: Vec<DegradeRule>) -> Degradation {
        Degradation { rules }
    }

    /// The rules.
    pub fn rules(&self) -> &[DegradeRule] {
        &self.rules
    }

    /// The advertised vector: `base` with every triggered rule applied.
    /// `state_of` gives a node's state, `None` when unknown.
    ///
    /// Every rule is checked against `base` whether it fires or not, so a
    /// rule naming a missing key or a string is reported while all is OK,
    /// not first during an incident. All problems are reported together.
    pub fn apply(
        &self,
        base: &Capabilities,
        state_of: impl Fn(&Path) -> Option<State>,
    ) -> Result<Capabilities, DegradeError> {
        let mut out = base.clone();
        let mut problems = Vec::new();
        for (rule, r) in self.rules.iter().enumerate() {
            let text = || r.to_string();
            if let Err(source) = Key::new(&r.key) {
                problems.push(RuleProblem::Invalid {
                    rule,
                    text: text(),
                    source,
                });
                continue;
            }
            let Some(current) = out.get(&r.key).cloned() else {
                problems.push(RuleProblem::MissingKey {
                    rule,
                    text: text(),
                    key: r.key.clone(),
                });
                continue;
            };
            let not_applicable = |why: String| RuleProblem::NotApplicable {
                rule,
                text: text(),
                key: r.key.clone(),
                value: current.to_string(),
                why,
            };
            let adjusted = match (&r.action, &current) {
                (Adjust::Multiply(x), Value::Number(q)) => match q.scaled(*x) {
                    Ok(q) => Some(Value::Number(q)),
                    Err(e) => {
                        problems.push(not_applicable(e.to_string()));
                        continue;
                    }
                },
                (Adjust::Add(add), Value::Number(q)) => match q.compare(add) {
                    Ok(_) => {
                        // Convert the addend into the value's unit.
                        let factor = q.unit().map_or(1.0, |u| u.factor());
                        match Quantity::new(q.value() + add.base() / factor, q.unit()) {
                            Ok(q) => Some(Value::Number(q)),
                            Err(e) => {
                                problems.push(not_applicable(e.to_string()));
                                continue;
                            }
                        }
                    }
                    Err(e) => {
                        problems.push(not_applicable(e.to_string()));
                        continue;
                    }
                },
                (Adjust::Multiply(_) | Adjust::Add(_), other) => {
                    problems.push(not_applicable(format!(
                        "it is a {}, not a number",
                        other.kind()
                    )));
                    continue;
                }
                (Adjust::Set(v), _) => Some(v.clone()),
                (Adjust::Remove, _) => None,
            };
            let fires = state_of(&r.when).unwrap_or(State::Unknown) >= r.state;
            if !fires {
                continue;
            }
            match adjusted {
                Some(value) => {
                    if let Err(source) = out.insert(&r.key, value) {
                        problems.push(RuleProblem::Invalid {
                            rule,
                            text: text(),
                            source,
                        });
                    }
                }
                None => {
                    out.remove(&r.key);
                }
            }
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(DegradeError { problems })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> Path {
        Path::parse(s).unwrap()
    }

    fn base() -> Capabilities {
        let mut c = Capabilities::new();
        c.insert("latency_p99", Quantity::parse("0.5ms").unwrap())
            .unwrap();
        c.insert("rate", Quantity::parse("100Hz").unwrap()).unwrap();
        c.insert("frame", Value::Text("imu".into())).unwrap();
        c
    }

    fn thermal_doubles_latency() -> DegradeRule {
        DegradeRule {
            when: path("thermal"),
            state: State::Degraded,
            key: "latency_p99".into(),
            action: Adjust::Multiply(2.0),
        }
    }

    #[test]
    fn fires_at_or_above_its_state() {
        let rules = Degradation::new(vec![thermal_doubles_latency()]);
        let at = |s: State| rules.apply(&base(), |_| Some(s)).unwrap();
        assert_eq!(at(State::Ok), base());
        let doubled = Value::Number(Quantity::parse("1ms").unwrap());
        for s in [State::Degraded, State::Unknown, State::Failed] {
            assert_eq!(at(s).get("latency_p99"), Some(&doubled), "{s}");
        }
        // A node nobody reports is UNKNOWN, which is worse than DEGRADED.
        assert_eq!(
            rules.apply(&base(), |_| None).unwrap().get("latency_p99"),
            Some(&doubled)
        );
    }

    #[test]
    fn rules_compose_in_order() {
        let rules = Degradation::new(vec![
            thermal_doubles_latency(),
            DegradeRule {
                when: path("thermal"),
                state: State::Degraded,
                key: "latency_p99".into(),
                action: Adjust::Add(Quantity::parse("500us").unwrap()),
            },
            DegradeRule {
                when: path("power"),
                state: State::Failed,
                key: "rate".into(),
                action: Adjust::Remove,
            },
        ]);
        let out = rules.apply(&base(), |p| {
            Some(if p.as_str() == "power" {
                State::Failed
            } else {
                State::Degraded
            })
        });
        let out = out.unwrap();
        assert_eq!(
            out.get("latency_p99"),
            Some(&Value::Number(Quantity::parse("1.5ms").unwrap()))
        );
        assert_eq!(out.get("rate"), None);
    }

    #[test]
    fn reports_every_bad_rule_even_when_healthy() {
        let rules = Degradation::new(vec![
            DegradeRule {
                key: "jitter".into(),
                ..thermal_doubles_latency()
            },
            DegradeRule {
                key: "frame".into(),
                ..thermal_doubles_latency()
            },
            DegradeRule {
                action: Adjust::Add(Quantity::parse("1Hz").unwrap()),
                ..thermal_doubles_latency()
            },
        ]);
        let err = rules.apply(&base(), |_| Some(State::Ok)).unwrap_err();
        assert_eq!(err.problems.len(), 3);
        let text = err.to_string();
        assert!(
            text.contains("capability `jitter` is not in the base vector"),
            "{text}"
        );
        assert!(text.contains("it is a string, not a number"), "{text}");
        assert!(
            text.contains("dimension mismatch: time compared with frequency"),
            "{text}"
        );
    }

    #[test]
    fn reads_rules_from_json() {
        let rules: Degradation = serde_json::from_str(
            r#"[{"when": "thermal", "state": "DEGRADED", "key": "latency_p99", "action": {"multiply": 2}}]"#,
        )
        .unwrap();
        assert_eq!(rules.rules(), [thermal_doubles_latency()]);
        assert_eq!(
            rules.rules()[0].to_string(),
            "when `thermal` is DEGRADED or worse, multiply `latency_p99` by 2"
        );
    }
}
