//! The switching rules of the `selection` module doc, applied to the
//! current members at the selection's current time.

use vigil_diag::{State, Timestamp, Trend};

use super::chain::{Cand, Slot};
use super::policy::{ActiveProducer, SelectionEvent, SwitchCause, EVENT_CHAIN_MAX};
use super::query::tier;
use super::Selection;
use crate::registry::Registry;

/// What the rules say.
enum Verdict {
    Stay,
    /// Follow this member (or none) from now on.
    Switch(Option<Slot>, SwitchCause),
}

/// The earliest of the times at which a rule may decide differently.
#[derive(Default)]
struct Wake(Option<Timestamp>);

impl Wake {
    fn at(&mut self, t: Timestamp) {
        self.0 = Some(self.0.map_or(t, |w| w.min(t)));
    }
}

impl Selection {
    /// Applies the rules; returns the event when the active producer
    /// changed. Also refreshes the standby and the next deadline.
    pub(super) fn decide(&mut self, registry: &Registry) -> Option<SelectionEvent> {
        let now = self.now;
        let mut wake = Wake::default();
        let verdict = self.verdict(registry, now, &mut wake);
        let cause = match verdict {
            Verdict::Switch(target, cause) => {
                self.switch_to(target);
                Some(cause)
            }
            Verdict::Stay => self.endpoint_changed(),
        };
        self.standby = self.pick_standby(now);
        if let Some(at) = self.guard.as_ref().and_then(|g| g.next_deadline()) {
            wake.at(at);
        }
        self.deadline = wake.0;
        let cause = cause?;
        self.stats.switches += 1;
        Some(SelectionEvent {
            at: now,
            previous: self.previous.take(),
            active: self.active.clone(),
            chain: self
                .members
                .chain
                .iter()
                .take(EVENT_CHAIN_MAX)
                .map(|&s| self.members.get(s).key.clone())
                .collect(),
            chain_len: self.members.chain.len(),
            cause,
            standby: self.standby.clone(),
        })
    }

    fn verdict(&mut self, registry: &Registry, now: Timestamp, wake: &mut Wake) -> Verdict {
        let Some(active) = self.active.clone() else {
            self.hold_off = None;
            let cause = if self.ever_selected {
                SwitchCause::Available
            } else {
                SwitchCause::Initial
            };
            return match self.pick_best(now) {
                Some(s) => Verdict::Switch(Some(s), cause),
                None => Verdict::Stay,
            };
        };
        let Some(slot) = self.members.slot_hinted(self.active_slot, &active.key) else {
            return self.forced(None, SwitchCause::ActiveRemoved, now);
        };
        let m = self.members.get(slot);
        if !m.view.reachable {
            return self.forced(Some(slot), SwitchCause::ActiveUnreachable, now);
        }
        let state = m.view.health.state;
        if matches!(state, State::Failed | State::Unknown) {
            return self.forced(Some(slot), SwitchCause::ActiveFailed { state }, now);
        }
        // Ejected (open, or half-open while followed as the last resort):
        // left for a closed candidate as soon as one qualifies.
        if let Some(guard) = self.guard.as_ref().filter(|g| g.ejected(&active.key)) {
            let ejections = guard.breakers().ejections(&active.key);
            return self.forced(Some(slot), SwitchCause::Ejected { ejections }, now);
        }
        let lost_clause = m.clause.is_none_or(|c| c > active.clause);
        if lost_clause {
            if m.degraded()
                && self
                    .as_ok_clause(registry, slot)
                    .is_some_and(|c| c <= active.clause)
            {
                return self.hold_off_mode(slot, now, wake);
            }
            let reason = self.violation(registry, slot, active.clause);
            return self.forced(Some(slot), SwitchCause::ConstraintViolated { reason }, now);
        }
        if let (Some(a), Some(c)) = (self.active.as_mut(), m.clause) {
            a.clause = c;
        }
        if state == State::Degraded {
            return self.hold_off_mode(slot, now, wake);
        }
        self.hold_off = None;
        self.revertive_scan(slot, now, wake)
    }

    /// Rule 1: leave `active` (if still a member) for the best candidate.
    fn forced(&mut self, active: Option<Slot>, cause: SwitchCause, now: Timestamp) -> Verdict {
        self.hold_off = None;
        match self.pick_best(now) {
            // It is still the best there is, in a later clause.
            Some(best) if Some(best) == active => {
                if let (Some(a), Some(c)) = (self.active.as_mut(), self.members.get(best).clause) {
                    a.clause = c;
                }
                Verdict::Stay
            }
            target => Verdict::Switch(target, cause),
        }
    }

    /// Rule 2: the active member is merely degraded.
    fn hold_off_mode(&mut self, slot: Slot, now: Timestamp, wake: &mut Wake) -> Verdict {
        let still_qualifies = self.members.get(slot).in_chain;
        let challenger = if still_qualifies {
            self.healthier_above(slot, now)
        } else {
            self.pick_best(now)
        };
        if still_qualifies && challenger.is_none() {
            // Nothing better to go to: keep it, no hold-off running.
            self.hold_off = None;
            return Verdict::Stay;
        }
        let m = self.members.get(slot);
        if self.policy.predictive && m.view.health.trend == Trend::Degrading && challenger.is_some()
        {
            // Getting worse, not a blip: leave before FAILED.
            self.hold_off = None;
            let state = m.view.health.state;
            return Verdict::Switch(challenger, SwitchCause::Degrading { state });
        }
        let until = *self.hold_off.get_or_insert(now + self.policy.hold_off);
        if now < until {
            wake.at(until);
            return Verdict::Stay;
        }
        Verdict::Switch(
            challenger,
            SwitchCause::HoldOffExpired {
                state: State::Degraded,
            },
        )
    }

    /// Rule 3 and 4: a healthy active member and the challengers above it.
    fn revertive_scan(&mut self, slot: Slot, now: Timestamp, wake: &mut Wake) -> Verdict {
        if !self.policy.revertive {
            return Verdict::Stay;
        }
        let shared = self.shared_lookup(None);
        let Some(pos) = self.members.position(&self.query, shared, slot) else {
            return Verdict::Stay;
        };
        let own = self.rank_tier(slot);
        for i in 0..pos {
            let c = self.members.chain[i];
            if self.ejected(c) {
                // Its breaker's timers wake the selection when it closes.
                continue;
            }
            if !self.beats_by_margin(c, slot) {
                if self.rank_tier(c) == own {
                    // Same clause and tier: sorted by the first PREFER key,
                    // so nobody closer to the active one beats the margin
                    // either. Keeps the scan short with 10 000 candidates.
                    break;
                }
                continue;
            }
            let cm = self.members.get(c);
            let ready = cm.stable_since + self.policy.wait_to_restore;
            if cm.flap.suppressed_at(now) {
                let release = cm.flap.release_at();
                if now >= ready {
                    // It would win now: passed over, counted; look again
                    // when it is released.
                    self.count_suppressed(c);
                    wake.at(release);
                } else {
                    // Wake when it would win, to count it then.
                    wake.at(ready);
                }
                continue;
            }
            if now < ready {
                wake.at(ready);
                continue;
            }
            let cause = if cm.recovered {
                SwitchCause::Restored
            } else {
                SwitchCause::BetterCandidate
            };
            return Verdict::Switch(Some(c), cause);
        }
        Verdict::Stay
    }

    /// (clause, health tier): the part of the chain order that needs no
    /// margin.
    fn rank_tier(&self, slot: Slot) -> (usize, u8) {
        let m = self.members.get(slot);
        (m.clause.unwrap_or(usize::MAX), tier(m.view.health.state))
    }

    /// Rule 4: whether chain member `c`, ranked above `a`, beats it by the
    /// margin.
    pub(super) fn beats_by_margin(&self, c: Slot, a: Slot) -> bool {
        let margin = self.policy.margin;
        if margin.is_nan() || margin <= 0.0 {
            return true;
        }
        let (mc, ma) = (self.members.get(c), self.members.get(a));
        let (cc, ca) = (
            mc.clause.unwrap_or(usize::MAX),
            ma.clause.unwrap_or(usize::MAX),
        );
        if cc < ca || tier(mc.view.health.state) < tier(ma.view.health.state) {
            return true;
        }
        if !self.query.has_margin_key(ca) {
            return false;
        }
        match (
            self.query.margin_value(ca, &mc.view),
            self.query.margin_value(ca, &ma.view),
        ) {
            (Some(vc), Some(va)) => {
                let gain = vc - va;
                gain > 0.0 && gain >= margin * va.abs()
            }
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// The best chain member: the first neither flap-suppressed nor
    /// ejected by its circuit breaker; else the first not ejected; else
    /// the head as the last resort.
    pub(super) fn pick_best(&mut self, now: Timestamp) -> Option<Slot> {
        let chain = &self.members.chain;
        let found = chain
            .iter()
            .position(|&s| !self.ejected(s) && !self.members.get(s).flap.suppressed_at(now));
        match found {
            Some(i) => {
                let passed: Vec<Slot> = chain[..i]
                    .iter()
                    .copied()
                    .filter(|&s| !self.ejected(s))
                    .collect();
                for s in passed {
                    self.count_suppressed(s);
                }
                Some(self.members.chain[i])
            }
            None => chain
                .iter()
                .copied()
                .find(|&s| !self.ejected(s))
                .or_else(|| chain.first().copied()),
        }
    }

    /// A non-suppressed member above `slot` in a better clause or health
    /// tier: where a degraded active producer may go.
    fn healthier_above(&mut self, slot: Slot, now: Timestamp) -> Option<Slot> {
        let shared = self.shared_lookup(None);
        let pos = self.members.position(&self.query, shared, slot)?;
        let a = self.members.get(slot);
        let rank = |m: &super::Member| (m.clause.unwrap_or(usize::MAX), tier(m.view.health.state));
        let own = rank(a);
        let mut passed = Vec::new();
        let mut found = None;
        for &c in &self.members.chain[..pos] {
            let m = self.members.get(c);
            if rank(m) >= own {
                // Sorted: every later one ranks in the active's tier too.
                break;
            }
            if self.ejected(c) {
                continue;
            }
            if m.flap.suppressed_at(now) {
                passed.push(c);
                continue;
            }
            found = Some(c);
            break;
        }
        if found.is_some() {
            for s in passed {
                self.count_suppressed(s);
            }
        }
        found
    }

    fn count_suppressed(&mut self, slot: Slot) {
        let flap = &mut self.members.get_mut(slot).flap;
        if !flap.counted {
            flap.counted = true;
            self.stats.flaps_suppressed += 1;
        }
    }

    /// The first clause `slot` would satisfy if every DEGRADED read as OK.
    fn as_ok_clause(&self, registry: &Registry, slot: Slot) -> Option<usize> {
        let cand = Cand {
            view: &self.members.get(slot).view,
            shared: self.shared_lookup(Some(registry)),
            degraded_as_ok: true,
        };
        self.query.compiled().first_clause(&cand)
    }

    /// Why `slot` no longer satisfies `clause`, as the query explains it.
    fn violation(&self, registry: &Registry, slot: Slot, clause: usize) -> String {
        let cand = Cand {
            view: &self.members.get(slot).view,
            shared: self.shared_lookup(Some(registry)),
            degraded_as_ok: false,
        };
        let rejections = self.query.compiled().explain(&cand);
        rejections
            .iter()
            .find(|r| r.clause == Some(clause))
            .or(rejections.first())
            .map_or_else(
                || format!("no longer satisfies clause {clause}"),
                ToString::to_string,
            )
    }

    fn producer(&self, slot: Slot) -> ActiveProducer {
        let m = self.members.get(slot);
        ActiveProducer {
            key: m.key.clone(),
            writer_guid: m.view.advert.writer_guid,
            clause: m.clause.unwrap_or(0),
        }
    }

    fn switch_to(&mut self, target: Option<Slot>) {
        let previous = self.active.take().map(|a| a.key);
        if let Some(s) = previous.as_ref().and_then(|k| self.members.slot(k)) {
            // Coming back to it later is a restore.
            self.members.get_mut(s).recovered = true;
        }
        self.previous = previous;
        self.active = target.map(|s| self.producer(s));
        self.active_slot = target;
        self.ever_selected |= self.active.is_some();
        self.hold_off = None;
    }

    /// The active producer restarted under the same key: follow its new
    /// writer.
    fn endpoint_changed(&mut self) -> Option<SwitchCause> {
        let active = self.active.as_mut()?;
        let slot = self.members.slot_hinted(self.active_slot, &active.key)?;
        let guid = self.members.get(slot).view.advert.writer_guid;
        if guid == active.writer_guid {
            return None;
        }
        active.writer_guid = guid;
        self.previous = Some(active.key.clone());
        Some(SwitchCause::EndpointChanged)
    }

    fn pick_standby(&self, now: Timestamp) -> Option<ActiveProducer> {
        let active = self
            .active
            .as_ref()
            .and_then(|a| self.members.slot_hinted(self.active_slot, &a.key));
        let others = || {
            self.members
                .chain
                .iter()
                .copied()
                .filter(|&s| Some(s) != active)
        };
        // A half-open link is probed as the standby: its samples are
        // buffered, never delivered, so the probe costs no data.
        let probed = self
            .guard
            .as_ref()
            .and_then(|g| others().find(|&s| g.half_open(&self.members.get(s).key)));
        probed
            .or_else(|| {
                others().find(|&s| !self.ejected(s) && !self.members.get(s).flap.suppressed_at(now))
            })
            .or_else(|| others().find(|&s| !self.ejected(s)))
            .or_else(|| others().next())
            .map(|s| self.producer(s))
    }
}
