//! Selection: which producer a consumer follows, and when it switches.
//!
//! A [`Selection`] follows a query over a [`Registry`]. Feed it every
//! [`RegistryChange`] the registry returns ([`Selection::on_changes`]) and
//! call [`Selection::tick`] at [`Selection::next_deadline`]; it returns a
//! [`SelectionEvent`] whenever the active producer changes. It never reads
//! a clock: the same inputs at the same times give the same events.
//!
//! # The chain
//!
//! Every advert that satisfies a clause, is reachable, and is OK or
//! DEGRADED is in the fallback chain ([`Selection::chain`]), ordered by
//! clause (an `ELSE` clause only after every earlier one), then health (OK
//! before DEGRADED: a degraded producer is a reason to switch), then the
//! query's own ranking (`PREFER` keys, confidence, producer id), then
//! topic. FAILED, UNKNOWN and unreachable producers are never routed to,
//! whatever the query says. The active producer is usually the chain's
//! head, but not always: the rules below keep it during a hold-off, a
//! wait-to-restore, or for good when non-revertive.
//!
//! # Switching rules (ITU-T G.8031 terms)
//!
//! 1. **Immediate** when the active producer is removed, unreachable,
//!    FAILED or UNKNOWN, or stops satisfying a hard constraint of its
//!    clause: switch to the best candidate (the chain's head that is not
//!    flap-suppressed; a suppressed one only as the last resort), or to
//!    none.
//! 2. **Hold-off** before leaving a *merely degraded* active producer: one
//!    that is DEGRADED (overall or on a node it reports) and would still
//!    satisfy its clause if every DEGRADED read as OK. So
//!    `health.state = OK` does not make DEGRADED a hard violation: it gets
//!    the hold-off too. The hold-off starts when the active producer is
//!    degraded and something better exists; if it recovers before
//!    `hold_off` the selection stays. When it expires the selection moves
//!    to a non-suppressed candidate ranked above it, or, if it no longer
//!    satisfies any clause as it is, to the best candidate or to none.
//! 3. **Wait-to-restore** (revertive): a healthy active producer is left
//!    for a challenger ranked above it only once the challenger has been
//!    eligible, with no health change, for `wait_to_restore`. This covers
//!    a recovered producer ([`SwitchCause::Restored`]), a return to an
//!    earlier clause, and a better newcomer
//!    ([`SwitchCause::BetterCandidate`]). Non-revertive: a healthy active
//!    producer is never left for a challenger; only rules 1 and 2 move it.
//!    With no active producer the best candidate is taken at once.
//! 4. **Margin**: with `margin > 0` a challenger in the same clause and
//!    health tier must beat the active producer's first `PREFER` value by
//!    `margin × |active value|` (ASC: smaller by, DESC: larger by). A
//!    better clause or OK over DEGRADED needs no margin. When the first
//!    key is not a number for both, only a missing value on the active's
//!    side counts as beaten. `margin = 0`: any strictly better rank.
//! 5. **Flap damping** (RFC 2439): each change of a producer's effective
//!    health state adds a penalty ([`SwitchPolicy::flap`]); while
//!    suppressed it cannot become active by rules 2 and 3, and by rule 1
//!    only when nothing else qualifies. Each time it is passed over for a
//!    switch it would have won counts once per suppression episode in
//!    [`SelectionStats::flaps_suppressed`].
//!
//! # Model check
//!
//! `switching.pml`, beside this file, models rules 1-3 and flap damping in
//! Promela; `discovery/tests/switching_model.rs` has spin prove that a
//! FAILED producer is never followed while an OK one qualifies, that a
//! flap-suppressed producer is switched to at most once per suppression
//! and only as the last resort, and that once health stops changing the
//! selection settles on a qualifying producer and stops switching. The
//! test also holds the model's constants to [`SwitchPolicy::default`].
//! The model has the circuit breakers too (below): spin proves that an
//! ejected producer is never followed while a closed one qualifies, that
//! never more than the maximum share is ejected, and that half-open always
//! ends.
//!
//! # Circuit breakers
//!
//! With [`SwitchPolicy::breaker`], each consumer→producer link has a
//! breaker ([`Breakers`]) fed by the producer's health changes and by the
//! sample arrivals the shell reports ([`Selection::on_samples`]). An
//! ejected (open or half-open) producer is left at once
//! ([`SwitchCause::Ejected`]) for a closed candidate and not selected
//! while one qualifies (rule 1 takes it only as the last resort); a
//! half-open one is the preferred standby, so its probe samples are
//! buffered, not delivered; a link that closes again has recovered, and
//! wait-to-restore counts from then.
//!
//! # Shared components
//!
//! A `health('path')` condition reads the candidate's own report of that
//! node; when its advert does not report the path, it reads
//! [`Registry::shared_state`] for it (the vote of every advert, unreachable ones as UNKNOWN,
//! reporting it, with [`Selection::with_quorum`], default 1). When nobody
//! reports the path the condition is UNKNOWN, as qos evaluation has it.
//! A change in such a vote re-evaluates every candidate (rare: it happens
//! only when a shared component's reported state changes).

use std::cell::{OnceCell, RefCell};
use std::collections::BTreeMap;

use vigil_diag::{Path, State, Timestamp};

use crate::advert::AdvertKey;
use crate::registry::{Registry, RegistryChange};

mod breaker;
mod chain;
mod decide;
mod explain;
mod flap;
mod guard;
mod policy;
mod query;
mod snapshot;

use chain::{Cand, Member, Members, RankKey, Shared, SharedCache, Slot};
use query::{tier, SortKey};

pub use breaker::{BreakerEvent, BreakerPolicy, BreakerState, Breakers};
pub use explain::{CandidateExplanation, CandidateStatus, SelectionExplanation};
pub use guard::SampleArrival;
pub use policy::{
    ActiveProducer, SelectionEvent, SelectionStats, SwitchCause, SwitchPolicy, EVENT_CHAIN_MAX,
};
pub use query::SelectionQuery;
pub(crate) use snapshot::SelectionSnapshot;

/// What one consumer follows (see the module doc).
#[derive(Debug)]
pub struct Selection {
    query: SelectionQuery,
    policy: SwitchPolicy,
    quorum: usize,
    members: Members,
    shared: RefCell<SharedCache>,
    /// Whether the members were loaded from the registry.
    synced: bool,
    /// Time never goes back before the latest call.
    now: Timestamp,
    active: Option<ActiveProducer>,
    /// Where the active producer's member was last seen (a hint: slots are
    /// reused, so it is checked against the key).
    active_slot: Option<Slot>,
    /// The producer left by the switch being reported.
    previous: Option<AdvertKey>,
    standby: Option<ActiveProducer>,
    /// When the running hold-off expires.
    hold_off: Option<Timestamp>,
    deadline: Option<Timestamp>,
    stats: SelectionStats,
    ever_selected: bool,
    /// `chain()` as keys, built on demand.
    chain_keys: OnceCell<Vec<AdvertKey>>,
    /// The circuit breakers, when the policy has them.
    guard: Option<guard::Guard>,
}

impl Selection {
    /// A selection following `query` (a [`vigil_qos::Query`], preferably,
    /// or a [`vigil_qos::CompiledQuery`]; see [`SelectionQuery`]).
    pub fn new(query: impl Into<SelectionQuery>, policy: SwitchPolicy) -> Selection {
        let guard = policy.breaker.clone().map(guard::Guard::new);
        Selection {
            guard,
            query: query.into(),
            policy,
            quorum: 1,
            members: Members::default(),
            shared: RefCell::new(SharedCache::new()),
            synced: false,
            now: Timestamp::ZERO,
            active: None,
            active_slot: None,
            previous: None,
            standby: None,
            hold_off: None,
            deadline: None,
            stats: SelectionStats::default(),
            ever_selected: false,
            chain_keys: OnceCell::new(),
        }
    }

    /// How many observers a shared component's vote needs.
    pub fn with_quorum(mut self, quorum: usize) -> Selection {
        self.quorum = quorum;
        self
    }

    /// The policy.
    pub fn policy(&self) -> &SwitchPolicy {
        &self.policy
    }

    /// The query.
    pub fn query(&self) -> &SelectionQuery {
        &self.query
    }

    fn shared_lookup<'a>(&'a self, registry: Option<&'a Registry>) -> Shared<'a> {
        Shared {
            cache: &self.shared,
            registry,
            quorum: self.quorum,
        }
    }

    /// Takes in what the registry reported at `now`. The first call (of
    /// this or [`Selection::tick`]) loads every registry entry.
    pub fn on_changes(
        &mut self,
        registry: &Registry,
        changes: &[RegistryChange],
        now: Timestamp,
    ) -> Option<SelectionEvent> {
        self.now = self.now.max(now);
        if !self.synced {
            self.rebuild(registry);
        } else {
            let mut shared_touched = false;
            for (i, change) in changes.iter().enumerate() {
                let Some(key) = change.key() else { continue };
                // Changes come in ones and twos: a quadratic dedup beats
                // allocating a set on this hot path.
                if changes[..i].iter().any(|c| c.key() == Some(key)) {
                    continue;
                }
                shared_touched |= self.refresh(registry, key);
            }
            if shared_touched {
                self.refresh_shared(registry);
            }
        }
        self.decide(registry)
    }

    /// Runs the timers (hold-off, wait-to-restore, flap release, circuit
    /// breakers) up to `now`.
    pub fn tick(&mut self, registry: &Registry, now: Timestamp) -> Option<SelectionEvent> {
        self.now = self.now.max(now);
        if !self.synced {
            self.rebuild(registry);
        }
        if let Some(guard) = &mut self.guard {
            guard.tick(self.now);
        }
        self.absorb_breakers();
        self.decide(registry)
    }

    /// Takes in data samples the consumer's data path saw (each with its
    /// arrival time, at or before `now`): the circuit breakers judge their
    /// gaps. Without breakers in the policy it does nothing.
    pub fn on_samples(
        &mut self,
        registry: &Registry,
        arrivals: &[SampleArrival],
        now: Timestamp,
    ) -> Option<SelectionEvent> {
        self.guard.as_ref()?;
        self.now = self.now.max(now);
        if !self.synced {
            self.rebuild(registry);
        }
        if let Some(guard) = &mut self.guard {
            guard.samples(arrivals);
        }
        self.absorb_breakers();
        self.decide(registry)
    }

    /// The circuit breakers' transitions since the last call, oldest
    /// first (none without breakers in the policy).
    pub fn take_breaker_events(&mut self) -> Vec<BreakerEvent> {
        self.guard
            .as_mut()
            .map(guard::Guard::take_events)
            .unwrap_or_default()
    }

    /// The circuit breakers, when the policy has them.
    pub fn breakers(&self) -> Option<&Breakers> {
        self.guard.as_ref().map(guard::Guard::breakers)
    }

    /// What a breaker that closed again does to its member: it recovered,
    /// and wait-to-restore counts from now.
    fn absorb_breakers(&mut self) {
        let Some(guard) = &self.guard else { return };
        let closed: Vec<AdvertKey> = guard
            .pending()
            .iter()
            .filter_map(|e| match e {
                BreakerEvent::Closed { key } => Some(key.clone()),
                _ => None,
            })
            .collect();
        for key in closed {
            if let Some(slot) = self.members.slot(&key) {
                let member = self.members.get_mut(slot);
                member.stable_since = self.now;
                member.recovered = true;
            }
        }
    }

    /// Whether the member's circuit breaker is open or half-open.
    fn ejected(&self, slot: Slot) -> bool {
        self.guard
            .as_ref()
            .is_some_and(|g| g.ejected(&self.members.get(slot).key))
    }

    /// The next time [`Selection::tick`] may change something.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.deadline
    }

    /// When the running hold-off expires, if one runs (the active producer
    /// is merely degraded and something better exists).
    pub fn hold_off_until(&self) -> Option<Timestamp> {
        self.hold_off
    }

    /// The producer to follow.
    pub fn active(&self) -> Option<&ActiveProducer> {
        self.active.as_ref()
    }

    /// The next candidate, for hot standby.
    pub fn standby(&self) -> Option<&ActiveProducer> {
        self.standby.as_ref()
    }

    /// The fallback chain, best first (see the module doc).
    pub fn chain(&self) -> &[AdvertKey] {
        self.chain_keys.get_or_init(|| {
            self.members
                .chain
                .iter()
                .map(|&s| self.members.get(s).key.clone())
                .collect()
        })
    }

    /// The counters.
    pub fn stats(&self) -> SelectionStats {
        SelectionStats {
            ejections: self.guard.as_ref().map_or(0, guard::Guard::ejections),
            ..self.stats
        }
    }

    /// Forgets every candidate and loads them again from `registry`: for a
    /// caller that could not pass every change.
    pub fn rebuild(&mut self, registry: &Registry) {
        self.synced = true;
        self.members = Members::default();
        self.shared.borrow_mut().clear();
        for view in registry.snapshot() {
            if let Some(guard) = &mut self.guard {
                guard.track(&view, self.now);
            }
            let member = Member {
                key: view.advert.key.clone(),
                view,
                clause: None,
                in_chain: false,
                stable_since: self.now,
                recovered: false,
                flap: Default::default(),
            };
            let slot = self.members.insert(member);
            self.evaluate(registry, slot);
        }
        let shared = Shared::new(&self.shared, Some(registry), self.quorum);
        self.members.sort(&self.query, shared);
        self.chain_keys.take();
    }

    /// Evaluates one member's clause, chain membership and rank key.
    fn evaluate(&mut self, registry: &Registry, slot: Slot) {
        let shared = Shared::new(&self.shared, Some(registry), self.quorum);
        let member = self.members.get(slot);
        let cand = Cand {
            view: &member.view,
            shared,
            degraded_as_ok: false,
        };
        let clause = self.query.compiled().first_clause(&cand);
        let in_chain = clause.is_some() && member.selectable();
        let key = RankKey {
            clause: clause.unwrap_or(usize::MAX),
            tier: tier(member.view.health.state),
            sort: clause.map_or(SortKey::NONE, |k| self.query.sort_key(k, &cand)),
            confidence: member.view.health.confidence,
        };
        let prefix = self
            .query
            .prefix(key.clause, key.tier, &key.sort, key.confidence);
        let member = self.members.get_mut(slot);
        member.clause = clause;
        member.in_chain = in_chain;
        self.members.set_key(slot, key, prefix);
    }

    /// Takes in one entry's new state. Returns whether it reports (or
    /// reported) a shared path the query reads.
    fn refresh(&mut self, registry: &Registry, key: &AdvertKey) -> bool {
        let view = registry.get(key);
        let now = self.now;
        let slot = self.members.slot(key);
        let touched = {
            let cache = self.shared.borrow();
            let reports =
                |nodes: &BTreeMap<Path, State>| cache.keys().any(|p| nodes.contains_key(p));
            view.as_ref()
                .is_some_and(|v| reports(&v.advert.health.nodes))
                || slot.is_some_and(|s| reports(&self.members.get(s).view.advert.health.nodes))
        };
        let old = slot.and_then(|s| {
            let shared = self.shared_lookup(None);
            let in_chain = self.members.get(s).in_chain;
            in_chain
                .then(|| self.members.position(&self.query, shared, s))
                .flatten()
        });
        self.chain_keys.take();
        match (slot, view) {
            (None, None) => {}
            (Some(s), None) => {
                if let Some(guard) = &mut self.guard {
                    guard.forget(key);
                }
                if let Some(p) = old {
                    self.members.chain.remove(p);
                }
                self.members.remove(s);
            }
            (None, Some(view)) => {
                if let Some(guard) = &mut self.guard {
                    guard.track(&view, now);
                }
                let slot = self.members.insert(Member {
                    key: key.clone(),
                    view,
                    clause: None,
                    in_chain: false,
                    stable_since: now,
                    recovered: false,
                    flap: Default::default(),
                });
                self.evaluate(registry, slot);
                let shared = Shared::new(&self.shared, None, self.quorum);
                self.members.reposition(&self.query, shared, slot, None);
            }
            (Some(s), Some(view)) => {
                let flap_spec = self.policy.flap.clone();
                let member = self.members.get_mut(s);
                let (old_state, new_state) = (member.view.health.state, view.health.state);
                if let Some(guard) = &mut self.guard {
                    guard.track(&view, now);
                    if old_state != new_state {
                        guard.health_changed(key, now);
                    }
                }
                if old_state != new_state {
                    member.flap.record_change(&flap_spec, now);
                    member.stable_since = now;
                    // The derived order of State is severity.
                    member.recovered |= new_state < old_state;
                }
                if member.view.reachable != view.reachable {
                    member.stable_since = now;
                    member.recovered |= view.reachable;
                }
                member.view = view;
                let was_in_chain = member.in_chain;
                self.evaluate(registry, s);
                let member = self.members.get_mut(s);
                if member.in_chain && !was_in_chain {
                    member.stable_since = now;
                    member.recovered = true;
                }
                let shared = Shared::new(&self.shared, None, self.quorum);
                self.members.reposition(&self.query, shared, s, old);
            }
        }
        self.absorb_breakers();
        touched
    }

    /// Recomputes the shared states the query read; when one changed,
    /// re-evaluates every member.
    fn refresh_shared(&mut self, registry: &Registry) {
        let paths: Vec<_> = self.shared.borrow().keys().cloned().collect();
        let mut changed = false;
        for path in paths {
            let state = (registry.reporters(&path) > 0)
                .then(|| registry.shared_state(&path, self.quorum).state);
            let mut cache = self.shared.borrow_mut();
            if cache.get(&path) != Some(&state) {
                cache.insert(path, state);
                changed = true;
            }
        }
        if !changed {
            return;
        }
        let slots: Vec<Slot> = self.members.iter().map(|(s, _)| s).collect();
        let now = self.now;
        for slot in slots {
            let was_in_chain = self.members.get(slot).in_chain;
            self.evaluate(registry, slot);
            let member = self.members.get_mut(slot);
            if member.in_chain != was_in_chain {
                member.stable_since = now;
                member.recovered |= member.in_chain;
            }
        }
        let shared = Shared::new(&self.shared, None, self.quorum);
        self.members.sort(&self.query, shared);
        self.chain_keys.take();
    }
}
