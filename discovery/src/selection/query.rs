//! [`SelectionQuery`]: a compiled query plus what switching needs to read
//! from its text (the first `PREFER` key of each clause, for the margin).

use std::cmp::Ordering;

use vigil_diag::{Path, State};
use vigil_qos::{
    Candidate, CompiledQuery, Direction, Key, Operand, QosField, QosPolicies, Query, Role, Value,
};

/// How many `PREFER` values a member caches for sorting.
const CACHED: usize = 3;

/// One cached `PREFER` value. Mirrors vigil-qos's ranking
/// ([`CompiledQuery::compare`]): numbers in base units, booleans and
/// enumerations by ordinal, numbers before ordinals, missing values last
/// whatever the direction. Text is not cached (it would need a copy): a
/// clause sorting on text compares through the query itself.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Atom {
    Num(f64),
    Rank(u8),
    Missing,
}

impl Atom {
    fn cmp(self, other: Atom, descending: bool) -> Ordering {
        let o = match (self, other) {
            (Atom::Missing, Atom::Missing) => return Ordering::Equal,
            (Atom::Missing, _) => return Ordering::Greater,
            (_, Atom::Missing) => return Ordering::Less,
            (Atom::Num(a), Atom::Num(b)) => a.total_cmp(&b),
            (Atom::Rank(a), Atom::Rank(b)) => a.cmp(&b),
            (Atom::Num(_), Atom::Rank(_)) => Ordering::Less,
            (Atom::Rank(_), Atom::Num(_)) => Ordering::Greater,
        };
        if descending {
            o.reverse()
        } else {
            o
        }
    }
}

/// A member's cached `PREFER` values in its clause.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SortKey {
    atoms: [Atom; CACHED],
    /// How many leading values are cached.
    cached: u8,
    /// Whether those are all the clause's keys.
    complete: bool,
}

impl SortKey {
    pub(crate) const NONE: SortKey = SortKey {
        atoms: [Atom::Missing; CACHED],
        cached: 0,
        complete: false,
    };
}

/// `x`'s bits as an unsigned integer in `f64::total_cmp` order.
fn ordered_bits(x: f64) -> u64 {
    let i = x.to_bits() as i64;
    let i = i ^ ((((i >> 63) as u64) >> 1) as i64);
    (i as u64) ^ (1 << 63)
}

/// What a `PREFER` key reads.
#[derive(Clone, Debug)]
enum Read {
    Key(Key),
    HealthState,
    HealthConfidence,
    HealthTrend,
    HealthOf(Path),
    Qos(QosField),
    Constant,
    /// Text (`path`) or an operand this version does not mirror.
    Uncached,
}

impl Read {
    fn new(operand: &Operand) -> Read {
        match operand {
            Operand::Key(k) => Read::Key(k.clone()),
            Operand::Literal(_) => Read::Constant,
            Operand::HealthState => Read::HealthState,
            Operand::HealthConfidence => Read::HealthConfidence,
            Operand::HealthTrend => Read::HealthTrend,
            Operand::HealthOf(p) => Read::HealthOf(p.clone()),
            Operand::Qos(f) => Read::Qos(*f),
            _ => Read::Uncached,
        }
    }

    /// The value as vigil-qos sorts it; `None` when it cannot be cached.
    fn atom<C: Candidate + ?Sized>(&self, c: &C) -> Option<Atom> {
        Some(match self {
            Read::Key(k) => match c.capability(k) {
                None => Atom::Missing,
                Some(Value::Number(q)) => Atom::Num(q.base()),
                Some(Value::Bool(b)) => Atom::Rank(u8::from(*b)),
                Some(Value::State(s)) => Atom::Rank(*s as u8),
                Some(_) => return None,
            },
            Read::HealthState => Atom::Rank(c.health_state() as u8),
            Read::HealthConfidence => Atom::Num(c.health_confidence()),
            Read::HealthTrend => Atom::Rank(c.health_trend() as u8),
            Read::HealthOf(p) => c
                .node_state(p)
                .map_or(Atom::Missing, |s| Atom::Rank(s as u8)),
            Read::Qos(field) => {
                let q = c.offered_qos();
                match field {
                    QosField::Reliability => Atom::Rank(q.reliability_for(Role::Offered) as u8),
                    QosField::Durability => Atom::Rank(q.durability_or_default() as u8),
                    QosField::Deadline => Atom::Num(q.deadline_or_default().as_secs_f64()),
                    QosField::Liveliness => Atom::Rank(q.liveliness_or_default().kind as u8),
                    QosField::LivelinessLease => {
                        Atom::Num(q.liveliness_or_default().lease.as_secs_f64())
                    }
                    QosField::Ownership => Atom::Rank(q.ownership_or_default() as u8),
                    QosField::DestinationOrder => {
                        Atom::Rank(q.destination_order_or_default() as u8)
                    }
                    _ => return None,
                }
            }
            Read::Constant => Atom::Rank(0),
            Read::Uncached => return None,
        })
    }
}

/// What the margin compares: the first `PREFER` key of a clause, when it is
/// a number.
#[derive(Clone, Debug)]
enum MarginKey {
    Capability {
        key: vigil_qos::Key,
        descending: bool,
    },
    Confidence {
        descending: bool,
    },
}

/// The query a [`crate::Selection`] follows.
///
/// Build it from a [`Query`] (`Selection::new(&query, policy)`) so the
/// margin can read the first `PREFER` key. Built from a bare
/// [`CompiledQuery`], which does not expose its keys, a positive
/// [`crate::SwitchPolicy::margin`] cannot be measured: a healthy active
/// producer is then left only for a better clause or a healthier
/// challenger, never for a better `PREFER` value.
#[derive(Clone, Debug)]
pub struct SelectionQuery {
    compiled: CompiledQuery,
    /// Per clause; empty when built from a bare compiled query.
    margin_keys: Vec<Option<MarginKey>>,
    /// Per clause, the `PREFER` keys and whether descending; empty when
    /// built from a bare compiled query (then every comparison goes
    /// through the query).
    orders: Vec<Vec<(Read, bool)>>,
    text: Option<String>,
}

impl SelectionQuery {
    /// From a parsed query.
    pub fn new(query: &Query) -> SelectionQuery {
        let margin_keys = query
            .clauses()
            .iter()
            .map(|clause| {
                let order = clause.prefer().first()?;
                let descending = order.direction == Direction::Desc;
                match &order.operand {
                    Operand::Key(key) => Some(MarginKey::Capability {
                        key: key.clone(),
                        descending,
                    }),
                    Operand::HealthConfidence => Some(MarginKey::Confidence { descending }),
                    _ => None,
                }
            })
            .collect();
        let orders = query
            .clauses()
            .iter()
            .map(|clause| {
                clause
                    .prefer()
                    .iter()
                    .map(|o| (Read::new(&o.operand), o.direction == Direction::Desc))
                    .collect()
            })
            .collect();
        SelectionQuery {
            compiled: query.compile(),
            margin_keys,
            orders,
            text: Some(query.to_string()),
        }
    }

    /// Also requires every candidate's offered QoS to be compatible with
    /// the consumer's reader QoS (DDS 1.4 §2.2.3).
    pub fn with_requested_qos(mut self, requested: QosPolicies) -> SelectionQuery {
        self.compiled = self.compiled.with_requested_qos(requested);
        self
    }

    /// The compiled query.
    pub fn compiled(&self) -> &CompiledQuery {
        &self.compiled
    }

    /// The query text, when built from a [`Query`].
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// `c`'s cached `PREFER` values in `clause`.
    pub(crate) fn sort_key<C: Candidate + ?Sized>(&self, clause: usize, c: &C) -> SortKey {
        let Some(order) = self.orders.get(clause) else {
            return SortKey::NONE;
        };
        let mut key = SortKey::NONE;
        for (read, _) in order.iter().take(CACHED) {
            let Some(atom) = read.atom(c) else { break };
            key.atoms[usize::from(key.cached)] = atom;
            key.cached += 1;
        }
        key.complete = usize::from(key.cached) == order.len();
        key
    }

    /// Compares two members of `clause` on their cached `PREFER` values;
    /// `None` when the cache cannot decide and the query must
    /// ([`CompiledQuery::compare`] agrees with every decided answer).
    pub(crate) fn compare_cached(
        &self,
        clause: usize,
        a: &SortKey,
        b: &SortKey,
    ) -> Option<Ordering> {
        let order = self.orders.get(clause)?;
        let n = usize::from(a.cached.min(b.cached));
        for (j, (_, descending)) in order.iter().enumerate().take(n) {
            let o = a.atoms[j].cmp(b.atoms[j], *descending);
            if o != Ordering::Equal {
                return Some(o);
            }
        }
        (a.complete && b.complete).then_some(Ordering::Equal)
    }

    /// An order-preserving integer pair for (clause, health tier, first
    /// `PREFER` value, or confidence when the clause has no `PREFER`): two
    /// members with different prefixes are ordered by them alone, equal
    /// ones by the full comparison. Lets a binary search over 10 000
    /// members read one small dense array.
    pub(crate) fn prefix(
        &self,
        clause: usize,
        tier: u8,
        key: &SortKey,
        confidence: f64,
    ) -> (u64, u64) {
        let hi = (clause.min(u32::MAX as usize) as u64) << 16 | u64::from(tier) << 8;
        let order = self.orders.get(clause);
        let (kind, value) = match order.map(|o| (o.first(), key.cached)) {
            // No PREFER: the query ranks by confidence, higher first.
            Some((None, _)) => (0, !ordered_bits(confidence)),
            Some((Some((_, descending)), cached)) if cached > 0 => {
                let flip = |v: u64| if *descending { !v } else { v };
                match key.atoms[0] {
                    Atom::Num(x) => (u64::from(*descending), flip(ordered_bits(x))),
                    Atom::Rank(r) => (u64::from(!*descending), flip(u64::from(r))),
                    Atom::Missing => (2, 0),
                }
            }
            _ => (0, 0),
        };
        (hi | kind, value)
    }

    /// Whether the margin can be measured in `clause`.
    pub(crate) fn has_margin_key(&self, clause: usize) -> bool {
        matches!(self.margin_keys.get(clause), Some(Some(_)))
    }

    /// The first `PREFER` value of `c` in `clause`, as a number in base
    /// units, oriented so that larger is better; `None` when missing or not
    /// a number.
    pub(crate) fn margin_value<C: Candidate + ?Sized>(&self, clause: usize, c: &C) -> Option<f64> {
        let (value, descending) = match self.margin_keys.get(clause)?.as_ref()? {
            MarginKey::Capability { key, descending } => match c.capability(key)? {
                Value::Number(q) => (q.base(), *descending),
                _ => return None,
            },
            MarginKey::Confidence { descending } => (c.health_confidence(), *descending),
        };
        value
            .is_finite()
            .then_some(if descending { value } else { -value })
    }
}

impl From<&Query> for SelectionQuery {
    fn from(query: &Query) -> Self {
        SelectionQuery::new(query)
    }
}

impl From<Query> for SelectionQuery {
    fn from(query: Query) -> Self {
        SelectionQuery::new(&query)
    }
}

impl From<CompiledQuery> for SelectionQuery {
    /// Without the query text: see the type doc about the margin.
    fn from(compiled: CompiledQuery) -> Self {
        SelectionQuery {
            compiled,
            margin_keys: Vec::new(),
            orders: Vec::new(),
            text: None,
        }
    }
}

/// The ranking tier of a health state inside a clause: a healthy producer
/// before a degraded one, whatever the `PREFER` keys say (G.8031: a signal
/// degrade is a reason to switch).
pub(crate) fn tier(state: State) -> u8 {
    match state {
        State::Ok => 0,
        State::Degraded => 1,
        State::Unknown => 2,
        State::Failed => 3,
    }
}
