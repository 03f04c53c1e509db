//! Temporary stand-ins for `rule` and `filter` while
//! those modules are being written; removed once they land.

use crate::health::{State, Trend, UnknownReason};
use crate::spec::{Criticality, FilterSpec, Rule};
use crate::time::Timestamp;

#[derive(Clone, Copy, Debug)]
pub(crate) struct ChildHealth {
    pub(crate) state: State,
    pub(crate) reason: Option<UnknownReason>,
    pub(crate) confidence: f64,
    pub(crate) criticality: Criticality,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Aggregate {
    pub(crate) state: State,
    pub(crate) reason: Option<UnknownReason>,
    pub(crate) confidence: f64,
}

fn effective(c: &ChildHealth) -> State {
    if c.criticality == Criticality::Low && c.state == State::Failed {
        State::Degraded
    } else {
        c.state
    }
}

pub(crate) fn aggregate(rule: Rule, children: &[ChildHealth]) -> Aggregate {
    let confidence = if children.is_empty() {
        0.0
    } else {
        children.iter().map(|c| c.confidence).sum::<f64>() / children.len() as f64
    };
    let state = match rule {
        Rule::Worst => children.iter().map(effective).max().unwrap_or(State::Unknown),
        Rule::Any => children.iter().map(|c| c.state).min().unwrap_or(State::Unknown),
        Rule::Vote { k } => {
            let ok = children.iter().filter(|c| c.state == State::Ok).count();
            let failed = children.iter().filter(|c| c.state == State::Failed).count();
            if ok >= k {
                State::Ok
            } else if failed > children.len() - k {
                State::Failed
            } else {
                State::Unknown
            }
        }
    };
    let reason = (state == State::Unknown).then_some(UnknownReason::NoData);
    Aggregate { state, reason, confidence }
}

pub(crate) fn decisive(_rule: Rule, children: &[ChildHealth], result: &Aggregate, out: &mut Vec<usize>) {
    out.clear();
    out.extend((0..children.len()).filter(|&i| children[i].state == result.state));
}

pub(crate) fn validate_rule(rule: Rule, child_count: usize) -> Option<String> {
    match rule {
        Rule::Vote { k } if k == 0 || k > child_count => Some(format!("vote: {k} needs 1..={child_count}")),
        _ => None,
    }
}

#[derive(Debug)]
pub(crate) struct Filter {
    latch: bool,
    latched: bool,
}

pub(crate) struct Filtered {
    pub(crate) state: State,
    pub(crate) trend: Trend,
}

impl Filter {
    pub(crate) fn new(spec: &FilterSpec) -> Filter {
        Filter { latch: spec.latch, latched: false }
    }
    pub(crate) fn apply(&mut self, raw: State, _now: Timestamp) -> Filtered {
        if self.latch && raw == State::Failed {
            self.latched = true;
        }
        let state = if self.latched { State::Failed } else { raw };
        Filtered { state, trend: Trend::Stable }
    }
    pub(crate) fn next_change(&self, _now: Timestamp) -> Option<Timestamp> {
        None
    }
    pub(crate) fn reset(&mut self, _now: Timestamp) -> bool {
        std::mem::replace(&mut self.latched, false)
    }
    pub(crate) fn is_latched(&self) -> bool {
        self.latched
    }
}
