//! Why the active producer was chosen and why each other one was not.

use std::fmt;

use serde::Serialize;
use vigil_diag::{State, Timestamp};

use super::breaker::BreakerState;
use super::chain::{Cand, Member, Slot};
use super::policy::ActiveProducer;
use super::Selection;
use crate::advert::AdvertKey;
use crate::registry::Registry;

/// What [`Selection::explain`] says; `Display` as text, `Serialize` as JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SelectionExplanation {
    /// The query, when the selection was built from its text.
    pub query: Option<String>,
    /// The selection's current time.
    pub at: Timestamp,
    /// The producer followed.
    pub active: Option<ActiveProducer>,
    /// Why it is the one followed.
    pub why_active: String,
    /// Every advert on a topic of the query: the chain in order, then the
    /// others by key.
    pub candidates: Vec<CandidateExplanation>,
    /// How many adverts are on topics the query does not name.
    pub other_topics: usize,
}

/// One advert in an explanation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CandidateExplanation {
    /// Which.
    pub key: AdvertKey,
    /// What it is to the selection.
    pub status: CandidateStatus,
    /// 1-based place in the chain.
    pub rank: Option<usize>,
    /// The clause it satisfies.
    pub clause: Option<usize>,
    /// Its effective health state.
    pub state: State,
    /// Why it is not active (empty for the active one).
    pub reasons: Vec<String>,
}

/// What a candidate is to the selection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CandidateStatus {
    /// Followed.
    Active,
    /// Next in line (hot standby).
    Standby,
    /// In the chain.
    Candidate,
    /// Not in the chain.
    Rejected,
}

impl Selection {
    /// Explains the current selection. `registry` supplies the shared
    /// component votes the query's reasons may read.
    pub fn explain(&self, registry: &Registry) -> SelectionExplanation {
        let now = self.now;
        let shared = self.shared_lookup(Some(registry));
        let active_slot = self.active.as_ref().and_then(|a| self.members.slot(&a.key));
        let standby_slot = self
            .standby
            .as_ref()
            .and_then(|a| self.members.slot(&a.key));
        let active_pos = active_slot.and_then(|s| self.members.chain.iter().position(|&c| c == s));
        let mut candidates = Vec::new();
        for (i, &slot) in self.members.chain.iter().enumerate() {
            let m = self.members.get(slot);
            let (status, reasons) = if Some(slot) == active_slot {
                (CandidateStatus::Active, Vec::new())
            } else {
                let status = if Some(slot) == standby_slot {
                    CandidateStatus::Standby
                } else {
                    CandidateStatus::Candidate
                };
                let mut reasons = Vec::new();
                reasons.extend(self.breaker_reason(&m.key));
                reasons.extend(self.why_not_chain(slot, active_pos.is_some_and(|p| i < p), now));
                (status, reasons)
            };
            candidates.push(explained(m, status, Some(i + 1), reasons));
        }
        let mut rest: Vec<(Slot, &Member)> =
            self.members.iter().filter(|(_, m)| !m.in_chain).collect();
        rest.sort_by(|a, b| a.1.key.cmp(&b.1.key));
        let mut other_topics = 0;
        for (slot, m) in rest {
            let mut reasons = Vec::new();
            if !m.view.reachable {
                reasons.push("unreachable: lease expired".to_owned());
            } else if let Some(why) = &m.view.isolated {
                reasons.push(format!(
                    "isolated ({why}): a candidate again only once released"
                ));
            } else if let Some(said) = &m.view.failed_on_behalf {
                reasons.push(format!(
                    "FAILED, said by its supervisor ({said}): a candidate again only with a new advert of its own"
                ));
            } else if matches!(m.view.health.state, State::Failed | State::Unknown) {
                let h = &m.view.health;
                let why = h.reason.map_or_else(String::new, |r| format!(" ({r})"));
                reasons.push(format!("health {}{why}: never routed to", h.state));
            }
            let cand = Cand {
                view: &m.view,
                shared,
                degraded_as_ok: false,
            };
            let rejections = self.query.compiled().explain(&cand);
            if m.clause.is_none() && rejections.iter().all(|r| r.clause.is_none()) {
                other_topics += 1;
                continue;
            }
            reasons.extend(rejections.iter().map(|r| match r.clause {
                Some(k) => format!("clause {k}: {r}"),
                None => r.to_string(),
            }));
            let status = if Some(slot) == active_slot {
                CandidateStatus::Active
            } else {
                CandidateStatus::Rejected
            };
            candidates.push(explained(m, status, None, reasons));
        }
        SelectionExplanation {
            query: self.query.text().map(str::to_owned),
            at: now,
            active: self.active.clone(),
            why_active: self.why_active(active_pos),
            candidates,
            other_topics,
        }
    }

    fn why_active(&self, active_pos: Option<usize>) -> String {
        let Some(active) = &self.active else {
            return "no producer satisfies the query".to_owned();
        };
        let clause = active.clause;
        if let Some(until) = self.hold_off.filter(|t| *t > self.now) {
            return format!("kept while degraded: hold-off until {until}");
        }
        match active_pos {
            Some(0) => format!("ranked first (clause {clause})"),
            Some(_) if !self.policy.revertive => {
                "kept: non-revertive, a healthy producer is not left for a better one".to_owned()
            }
            Some(_) => "kept: the candidates ranked above it are waiting to restore, flap-suppressed, or not better by the margin".to_owned(),
            None => format!("kept while degraded (clause {clause}): no better candidate"),
        }
    }

    /// What the member's circuit breaker says, when it is not closed.
    fn breaker_reason(&self, key: &AdvertKey) -> Option<String> {
        let breakers = self.breakers()?;
        let n = breakers.ejections(key);
        match breakers.state(key)? {
            BreakerState::Closed => None,
            BreakerState::Open { until } => Some(format!(
                "ejected by its circuit breaker until {until} (ejection {n}): samples late \
                 or missing, or health flapping"
            )),
            BreakerState::HalfOpen { since, good } => Some(format!(
                "circuit breaker half-open since {since}: probed as the hot standby \
                 ({good} on-time samples so far), not selected until it closes"
            )),
        }
    }

    /// Why a chain member other than the active one is not followed.
    fn why_not_chain(&self, slot: Slot, above_active: bool, now: Timestamp) -> Vec<String> {
        let m = self.members.get(slot);
        if !above_active {
            return vec!["ranked below the active producer".to_owned()];
        }
        let mut reasons = Vec::new();
        if let Some(until) = self.hold_off.filter(|t| *t > now) {
            reasons.push(format!("the active producer is in hold-off until {until}"));
        }
        if !self.policy.revertive {
            reasons.push("non-revertive: a healthy active producer is kept".to_owned());
        }
        if m.flap.suppressed_at(now) {
            reasons.push(format!("flap-suppressed until {}", m.flap.release_at()));
        }
        let ready = m.stable_since + self.policy.wait_to_restore;
        if now < ready {
            reasons.push(format!("waiting to restore until {ready}"));
        }
        let active = self.active.as_ref().and_then(|a| self.members.slot(&a.key));
        if active.is_some_and(|a| !self.beats_by_margin(slot, a)) {
            reasons.push(format!(
                "not better than the active producer by the margin ({})",
                self.policy.margin
            ));
        }
        if reasons.is_empty() {
            reasons.push("will be switched to at the next decision".to_owned());
        }
        reasons
    }
}

fn explained(
    m: &Member,
    status: CandidateStatus,
    rank: Option<usize>,
    reasons: Vec<String>,
) -> CandidateExplanation {
    CandidateExplanation {
        key: m.key.clone(),
        status,
        rank,
        clause: m.clause,
        state: m.view.health.state,
        reasons,
    }
}

impl fmt::Display for SelectionExplanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(q) = &self.query {
            writeln!(f, "query: {q}")?;
        }
        match &self.active {
            Some(a) => writeln!(
                f,
                "active: {} (clause {}): {}",
                a.key, a.clause, self.why_active
            )?,
            None => writeln!(f, "active: none: {}", self.why_active)?,
        }
        for c in &self.candidates {
            let rank = c.rank.map_or_else(|| "-".to_owned(), |r| r.to_string());
            let status = match c.status {
                CandidateStatus::Active => "active",
                CandidateStatus::Standby => "standby",
                CandidateStatus::Candidate => "candidate",
                CandidateStatus::Rejected => "rejected",
            };
            write!(f, "{rank:>4}. {} [{}] {status}", c.key, c.state)?;
            if !c.reasons.is_empty() {
                write!(f, ": {}", c.reasons.join("; "))?;
            }
            writeln!(f)?;
        }
        if self.other_topics > 0 {
            writeln!(f, "({} adverts on other topics)", self.other_topics)?;
        }
        Ok(())
    }
}
