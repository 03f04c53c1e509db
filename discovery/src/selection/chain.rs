//! The candidates a selection knows and its fallback chain, kept sorted
//! incrementally.
//!
//! Every registry entry is a [`Member`] in a slab; the chain is a vector of
//! slab indices sorted by (clause, health tier, the query's `compare`,
//! topic). When one entry changes, only it is evaluated, found by binary
//! search at its old place and rotated to its new one: O(log n) comparisons
//! and a move of the entries between the two places, never a re-query.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use vigil_diag::{Path, State, Timestamp, Trend};
use vigil_qos::{Candidate, Key, QosPolicies, Value};

use super::flap::Flap;
use super::query::{SelectionQuery, SortKey};
use crate::advert::AdvertKey;
use crate::registry::{EntryView, Registry};

/// A slab index.
pub(crate) type Slot = u32;

/// One known registry entry.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    pub(crate) key: AdvertKey,
    pub(crate) view: EntryView,
    /// The first clause it satisfies.
    pub(crate) clause: Option<usize>,
    /// In the chain: satisfies a clause, reachable, OK or DEGRADED.
    pub(crate) in_chain: bool,
    /// When it last changed health state, reachability or chain membership:
    /// wait-to-restore counts from here.
    pub(crate) stable_since: Timestamp,
    /// It recovered (got healthier, came back, re-entered the chain) or was
    /// active before: a switch to it is a restore.
    pub(crate) recovered: bool,
    pub(crate) flap: Flap,
}

impl Member {
    /// Whether a consumer may be routed to it at all: vigil never routes
    /// to a FAILED, UNKNOWN or unreachable producer, whatever the query.
    pub(crate) fn selectable(&self) -> bool {
        self.view.reachable && matches!(self.view.health.state, State::Ok | State::Degraded)
    }

    /// Whether it, or a node it reports, is DEGRADED.
    pub(crate) fn degraded(&self) -> bool {
        self.view.health.state == State::Degraded
            || self
                .view
                .advert
                .health
                .nodes
                .values()
                .any(|s| *s == State::Degraded)
    }
}

/// Shared-component states the query read, by path (`None`: nobody
/// reports the path).
pub(crate) type SharedCache = BTreeMap<Path, Option<State>>;

/// How a candidate reads a node its own advert does not report.
#[derive(Clone, Copy)]
pub(crate) struct Shared<'a> {
    pub(crate) cache: &'a RefCell<SharedCache>,
    /// `None`: read the cache only (ordering, explanations of cached state).
    pub(crate) registry: Option<&'a Registry>,
    pub(crate) quorum: usize,
}

impl<'a> Shared<'a> {
    pub(crate) fn new(
        cache: &'a RefCell<SharedCache>,
        registry: Option<&'a Registry>,
        quorum: usize,
    ) -> Shared<'a> {
        Shared {
            cache,
            registry,
            quorum,
        }
    }

    fn lookup(&self, path: &Path) -> Option<State> {
        if let Some(state) = self.cache.borrow().get(path) {
            return *state;
        }
        let registry = self.registry?;
        let state =
            (registry.reporters(path) > 0).then(|| registry.shared_state(path, self.quorum).state);
        self.cache.borrow_mut().insert(path.clone(), state);
        state
    }
}

/// A member as the query sees it: its own node reports first, then the
/// shared vote; optionally with every DEGRADED read as OK, to tell a merely
/// degraded producer from one that broke a hard constraint.
pub(crate) struct Cand<'a> {
    pub(crate) view: &'a EntryView,
    pub(crate) shared: Shared<'a>,
    pub(crate) degraded_as_ok: bool,
}

impl Cand<'_> {
    fn lift(&self, state: State) -> State {
        if self.degraded_as_ok && state == State::Degraded {
            State::Ok
        } else {
            state
        }
    }
}

impl Candidate for Cand<'_> {
    fn producer(&self) -> &str {
        self.view.producer()
    }
    fn topic(&self) -> &str {
        self.view.topic()
    }
    fn capability(&self, key: &Key) -> Option<&Value> {
        self.view.capability(key)
    }
    fn health_state(&self) -> State {
        self.lift(self.view.health_state())
    }
    fn health_confidence(&self) -> f64 {
        self.view.health_confidence()
    }
    fn health_trend(&self) -> Trend {
        self.view.health_trend()
    }
    fn node_state(&self, path: &Path) -> Option<State> {
        let state = match self.view.node_state(path) {
            Some(state) => Some(state),
            None => self.shared.lookup(path),
        };
        state.map(|s| self.lift(s))
    }
    fn offered_qos(&self) -> &QosPolicies {
        self.view.offered_qos()
    }
    fn diagnostic_root(&self) -> Option<&Path> {
        self.view.diagnostic_root()
    }
}

/// What the chain order reads of a member, cached densely by slot so a
/// binary search over 10 000 members touches one small array, not the
/// adverts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RankKey {
    pub(crate) clause: usize,
    pub(crate) tier: u8,
    pub(crate) sort: SortKey,
    pub(crate) confidence: f64,
}

impl RankKey {
    const NONE: RankKey = RankKey {
        clause: usize::MAX,
        tier: u8::MAX,
        sort: SortKey::NONE,
        confidence: 0.0,
    };
}

/// The slab of members and the sorted chain.
#[derive(Debug, Default)]
pub(crate) struct Members {
    slots: Vec<Option<Member>>,
    /// By slot.
    keys: Vec<RankKey>,
    /// By slot: [`SelectionQuery::prefix`] of the key, what most
    /// comparisons need, in 16 bytes.
    prefixes: Vec<(u64, u64)>,
    free: Vec<Slot>,
    index: HashMap<AdvertKey, Slot>,
    /// Slots of the members in the chain, best first.
    pub(crate) chain: Vec<Slot>,
}

impl Members {
    pub(crate) fn slot(&self, key: &AdvertKey) -> Option<Slot> {
        self.index.get(key).copied()
    }

    /// `hint` if it still holds `key`, else the index lookup: saves hashing
    /// the key of the active member on every decision.
    pub(crate) fn slot_hinted(&self, hint: Option<Slot>, key: &AdvertKey) -> Option<Slot> {
        match hint.and_then(|s| self.slots.get(s as usize)) {
            Some(Some(m)) if m.key == *key => hint,
            _ => self.slot(key),
        }
    }

    pub(crate) fn get(&self, slot: Slot) -> &Member {
        // Slots handed out are always occupied: freed ones leave the index
        // and the chain in the same step.
        match self.slots.get(slot as usize) {
            Some(Some(m)) => m,
            _ => unreachable!("slot {slot} is not occupied"),
        }
    }

    pub(crate) fn get_mut(&mut self, slot: Slot) -> &mut Member {
        match self.slots.get_mut(slot as usize) {
            Some(Some(m)) => m,
            _ => unreachable!("slot {slot} is not occupied"),
        }
    }

    /// Every member, in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Slot, &Member)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, m)| Some((i as Slot, m.as_ref()?)))
    }

    /// Sets a member's cached rank key (after evaluating it).
    pub(crate) fn set_key(&mut self, slot: Slot, key: RankKey, prefix: (u64, u64)) {
        if let (Some(k), Some(p)) = (
            self.keys.get_mut(slot as usize),
            self.prefixes.get_mut(slot as usize),
        ) {
            *k = key;
            *p = prefix;
        }
    }

    /// Chain order of two members (both must have a clause): clause, health
    /// tier, the query's ranking (cached `PREFER` values, confidence,
    /// producer id), topic.
    pub(crate) fn cmp(&self, q: &SelectionQuery, shared: Shared<'_>, a: Slot, b: Slot) -> Ordering {
        let (pa, pb) = (self.prefixes[a as usize], self.prefixes[b as usize]);
        if pa != pb {
            return pa.cmp(&pb);
        }
        let (ka, kb) = (&self.keys[a as usize], &self.keys[b as usize]);
        ka.clause
            .cmp(&kb.clause)
            .then(ka.tier.cmp(&kb.tier))
            .then_with(|| match q.compare_cached(ka.clause, &ka.sort, &kb.sort) {
                Some(Ordering::Equal) => kb
                    .confidence
                    .total_cmp(&ka.confidence)
                    .then_with(|| self.get(a).key.producer.cmp(&self.get(b).key.producer)),
                Some(o) => o,
                None => {
                    let wrap = |view| Cand {
                        view,
                        shared,
                        degraded_as_ok: false,
                    };
                    let (ma, mb) = (self.get(a), self.get(b));
                    q.compiled()
                        .compare(ka.clause, &wrap(&ma.view), &wrap(&mb.view))
                }
            })
            .then_with(|| self.get(a).key.topic.cmp(&self.get(b).key.topic))
    }

    /// The position of `slot` in the chain (it must be in it).
    pub(crate) fn position(
        &self,
        q: &SelectionQuery,
        shared: Shared<'_>,
        slot: Slot,
    ) -> Option<usize> {
        let p = self
            .chain
            .partition_point(|&s| self.cmp(q, shared, s, slot) == Ordering::Less);
        if self.chain.get(p) == Some(&slot) {
            return Some(p);
        }
        // Cannot happen while the chain is sorted; stay correct if it does.
        self.chain.iter().position(|&s| s == slot)
    }

    /// Adds a member (not yet in the chain).
    pub(crate) fn insert(&mut self, member: Member) -> Slot {
        let key = member.key.clone();
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(member);
                self.keys[slot as usize] = RankKey::NONE;
                self.prefixes[slot as usize] = (u64::MAX, 0);
                slot
            }
            None => {
                self.slots.push(Some(member));
                self.keys.push(RankKey::NONE);
                self.prefixes.push((u64::MAX, 0));
                (self.slots.len() - 1) as Slot
            }
        };
        self.index.insert(key, slot);
        slot
    }

    /// Removes a member (already out of the chain).
    pub(crate) fn remove(&mut self, slot: Slot) -> Option<Member> {
        let member = self.slots.get_mut(slot as usize)?.take()?;
        self.index.remove(&member.key);
        self.free.push(slot);
        Some(member)
    }

    /// Puts `slot`, whose data just changed, at its place: `old` is where
    /// it was in the chain (found before the change), `None` if it was not
    /// in it. Takes it out if it no longer belongs.
    pub(crate) fn reposition(
        &mut self,
        q: &SelectionQuery,
        shared: Shared<'_>,
        slot: Slot,
        old: Option<usize>,
    ) {
        let belongs = self.get(slot).in_chain;
        let less = |members: &Members, s: Slot| members.cmp(q, shared, s, slot) == Ordering::Less;
        match (old, belongs) {
            (None, false) => {}
            (Some(p), false) => {
                self.chain.remove(p);
            }
            (None, true) => {
                let p = self.chain.partition_point(|&s| less(self, s));
                self.chain.insert(p, slot);
            }
            (Some(p), true) => {
                if p > 0 && !less(self, self.chain[p - 1]) {
                    // Moves towards the head: rotate the stretch it passes.
                    let ins = self.chain[..p].partition_point(|&s| less(self, s));
                    self.chain[ins..=p].rotate_right(1);
                } else if p + 1 < self.chain.len() && less(self, self.chain[p + 1]) {
                    let end = p + 1 + self.chain[p + 1..].partition_point(|&s| less(self, s));
                    self.chain[p..end].rotate_left(1);
                }
            }
        }
    }

    /// Sorts the whole chain (after a bulk load or a full re-evaluation).
    pub(crate) fn sort(&mut self, q: &SelectionQuery, shared: Shared<'_>) {
        let mut chain = std::mem::take(&mut self.chain);
        chain.clear();
        chain.extend(self.iter().filter(|(_, m)| m.in_chain).map(|(s, _)| s));
        chain.sort_by(|&a, &b| self.cmp(q, shared, a, b));
        self.chain = chain;
    }
}
