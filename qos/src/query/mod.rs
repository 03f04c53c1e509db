//! The constraint query language: parse, print, compile, rank.

use std::cmp::Ordering;
use std::str::FromStr;

mod ast;
mod columnar;
mod error;
mod eval;
mod lexer;
mod parser;
mod reason;
mod typing;

pub use ast::{Clause, CmpOp, Direction, Expr, Literal, Operand, Order, QosField, Query};
pub use error::ParseError;
pub use reason::{Reason, Rejection};

use crate::candidate::Candidate;
use crate::dds_qos::{self, QosPolicies};
use crate::table::MatchTable;
use eval::{Access, Node, SortAtom, Tri};

impl Query {
    /// Parses and type-checks a query.
    pub fn parse(text: &str) -> Result<Query, ParseError> {
        parser::parse(text)
    }

    /// Compiles the query for evaluation over many candidates.
    pub fn compile(&self) -> CompiledQuery {
        CompiledQuery {
            clauses: self.clauses.iter().map(CompiledClause::new).collect(),
            requested: None,
        }
    }
}

impl FromStr for Query {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Query::parse(s)
    }
}

#[derive(Clone, Debug)]
struct CompiledClause {
    topic: Box<str>,
    /// The same topic in the other naming (ROS 2 `/imu` ↔ DDS `rt/imu`).
    alias: Option<Box<str>>,
    filter: Option<Node>,
    prefer: Box<[(Access, bool)]>,
}

impl CompiledClause {
    fn new(clause: &Clause) -> CompiledClause {
        let topic = clause.topic.as_str();
        let alias = if topic.starts_with('/') {
            Some(format!("rt{topic}").into())
        } else {
            topic
                .strip_prefix("rt/")
                .map(|rest| format!("/{rest}").into())
        };
        CompiledClause {
            topic: topic.into(),
            alias,
            filter: clause.filter.as_ref().map(Node::compile),
            prefer: clause
                .prefer
                .iter()
                .map(|o| (Access::new(&o.operand), o.direction == Direction::Desc))
                .collect(),
        }
    }

    #[inline]
    fn topic_matches(&self, topic: &str) -> bool {
        crate::str_eq(&self.topic, topic)
            || self
                .alias
                .as_deref()
                .is_some_and(|a| crate::str_eq(a, topic))
    }
}

/// A query compiled for evaluation. Evaluating one candidate does not
/// allocate and does not look at other candidates, so a registry can keep
/// each candidate's verdict and re-rank incrementally when one changes.
#[derive(Clone, Debug)]
pub struct CompiledQuery {
    clauses: Vec<CompiledClause>,
    requested: Option<QosPolicies>,
}

/// One entry of a ranking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ranked {
    /// Index of the candidate in the slice given to [`CompiledQuery::rank`].
    pub index: usize,
    /// The clause it satisfies (0 for the first, 1 for the first `ELSE`...).
    pub clause: usize,
}

/// The result of ranking candidates: the fallback chain (every candidate
/// that satisfies some clause; clause 0's first, each clause's in
/// preference order) and the rest.
#[derive(Clone, Debug, Default)]
pub struct Ranking {
    chain: Vec<Ranked>,
    rejected: Vec<usize>,
    // Scratch buffers kept between calls of `rank_into`.
    atoms: Vec<SortAtom>,
    order: Vec<u32>,
    sorted: Vec<Ranked>,
    keys: Vec<u128>,
    selection: Vec<u32>,
    assigned: Vec<bool>,
    beyond_limit: usize,
}

impl PartialEq for Ranking {
    fn eq(&self, other: &Ranking) -> bool {
        self.chain == other.chain && self.rejected == other.rejected
    }
}

impl Eq for Ranking {}

impl Ranking {
    /// The chain, best first; its head is the selected producer.
    pub fn chain(&self) -> &[Ranked] {
        &self.chain
    }

    /// The head of the chain.
    pub fn selected(&self) -> Option<Ranked> {
        self.chain.first().copied()
    }

    /// How many candidates satisfy a clause but were left out of a chain
    /// ranked with a limit.
    pub fn beyond_limit(&self) -> usize {
        self.beyond_limit
    }

    /// Indices of the candidates that satisfy no clause, in input order;
    /// [`CompiledQuery::explain`] says why.
    pub fn rejected(&self) -> &[usize] {
        &self.rejected
    }
}

impl CompiledQuery {
    /// Also requires every candidate's offered QoS to be compatible with
    /// `requested` (the consumer's reader QoS), per DDS 1.4 §2.2.3.
    pub fn with_requested_qos(mut self, requested: QosPolicies) -> CompiledQuery {
        self.requested = Some(requested);
        self
    }

    /// The number of clauses.
    pub fn clause_count(&self) -> usize {
        self.clauses.len()
    }

    /// Whether `c` satisfies clause `clause` (false for an index out of range).
    #[inline]
    pub fn satisfies<C: Candidate + ?Sized>(&self, clause: usize, c: &C) -> bool {
        let Some(cl) = self.clauses.get(clause) else {
            return false;
        };
        cl.topic_matches(c.topic())
            && self
                .requested
                .as_ref()
                .is_none_or(|r| dds_qos::is_compatible(c.offered_qos(), r))
            && cl.filter.as_ref().is_none_or(|f| f.eval(c) == Tri::True)
    }

    /// The first clause `c` satisfies.
    #[inline]
    pub fn first_clause<C: Candidate + ?Sized>(&self, c: &C) -> Option<usize> {
        (0..self.clauses.len()).find(|&k| self.satisfies(k, c))
    }

    /// The ranking order of two candidates that both satisfy `clause`:
    /// `PREFER` keys in order (missing values last), then health confidence
    /// (higher first), then producer id. For incremental re-ranking.
    pub fn compare<C: Candidate + ?Sized>(&self, clause: usize, a: &C, b: &C) -> Ordering {
        if let Some(cl) = self.clauses.get(clause) {
            for (access, desc) in cl.prefer.iter() {
                let o = eval::sort_cmp(&access.read(a), &access.read(b), *desc);
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
        tie_break(a, b)
    }

    /// Ranks `candidates` (see [`Ranking`]); indices are positions in the
    /// slice.
    pub fn rank<C: Candidate>(&self, candidates: &[C]) -> Ranking {
        let mut ranking = Ranking::default();
        self.rank_into(candidates, &mut ranking);
        ranking
    }

    /// [`CompiledQuery::rank`] reusing `out`'s buffers.
    pub fn rank_into<C: Candidate>(&self, candidates: &[C], out: &mut Ranking) {
        self.rank_with(candidates.len(), |i| candidates.get(i), out);
    }

    /// Ranks the live rows of `table`; indices are slots.
    pub fn rank_table(&self, table: &MatchTable) -> Ranking {
        let mut ranking = Ranking::default();
        self.rank_table_into(table, &mut ranking);
        ranking
    }

    /// [`CompiledQuery::rank_table`] reusing `out`'s buffers. Evaluates
    /// condition by condition over the table's columns, which is several
    /// times faster than candidate by candidate; same result as
    /// [`CompiledQuery::rank`] over the same adverts.
    pub fn rank_table_into(&self, table: &MatchTable, out: &mut Ranking) {
        columnar::assign(self, table, true, out);
        self.sort_table_chain(table, usize::MAX, out);
    }

    /// [`CompiledQuery::rank_table_into`] keeping only the best `limit`
    /// entries of the chain, in order (a consumer's active producer and its
    /// standbys); the others that satisfy a clause are counted in
    /// [`Ranking::beyond_limit`]. Selecting the best few is linear, so this
    /// is cheaper than ranking everything when many candidates qualify.
    /// It does not list the rejected candidates ([`Ranking::rejected`] is
    /// empty): that is a pass over every slot, which a consumer's hot path
    /// does not need; [`CompiledQuery::explain`] still says why any row was
    /// not chosen.
    pub fn rank_table_top_into(&self, table: &MatchTable, limit: usize, out: &mut Ranking) {
        columnar::assign(self, table, false, out);
        self.sort_table_chain(table, limit, out);
    }

    /// [`CompiledQuery::sort_chain`] for a table's rows, reading the sort
    /// keys from its columns.
    fn sort_table_chain(&self, table: &MatchTable, limit: usize, out: &mut Ranking) {
        let stride = self.prefer_stride();
        columnar::fill_atoms(self, table, stride, out);
        self.sort_atoms(|i| table.row(i), stride, limit, out);
    }

    /// The most `PREFER` keys of any clause: the atoms kept per chain entry.
    fn prefer_stride(&self) -> usize {
        self.clauses
            .iter()
            .map(|c| c.prefer.len())
            .max()
            .unwrap_or(0)
    }

    fn rank_with<C: Candidate>(
        &self,
        n: usize,
        get: impl Fn(usize) -> Option<C>,
        out: &mut Ranking,
    ) {
        out.chain.clear();
        out.rejected.clear();
        for index in 0..n {
            let Some(c) = get(index) else { continue };
            match self.first_clause(&c) {
                Some(clause) => out.chain.push(Ranked { index, clause }),
                None => out.rejected.push(index),
            }
        }
        self.sort_chain(get, usize::MAX, out);
    }

    /// Sorts `out.chain` by clause, then preference (see [`CompiledQuery::compare`]).
    fn sort_chain<C: Candidate>(
        &self,
        get: impl Fn(usize) -> Option<C>,
        limit: usize,
        out: &mut Ranking,
    ) {
        // Read every sort key once, then sort on the copies.
        let stride = self.prefer_stride();
        out.atoms.clear();
        out.atoms.reserve(out.chain.len() * stride);
        for r in &out.chain {
            let Some(c) = get(r.index) else { continue };
            let prefer = &self.clauses[r.clause].prefer;
            out.atoms
                .extend(prefer.iter().map(|(a, _)| SortAtom::of(a.read(&c))));
            out.atoms.extend(std::iter::repeat_n(
                SortAtom::Missing,
                stride - prefer.len(),
            ));
        }
        self.sort_atoms(get, stride, limit, out);
    }

    /// Sorts `out.chain` once `out.atoms` holds `stride` sort keys per entry.
    fn sort_atoms<C: Candidate>(
        &self,
        get: impl Fn(usize) -> Option<C>,
        stride: usize,
        limit: usize,
        out: &mut Ranking,
    ) {
        out.order.clear();
        out.order.extend(0..out.chain.len() as u32);
        if !out.atoms.iter().any(|a| matches!(a, SortAtom::Text)) {
            self.sort_encoded(&get, stride, limit, out);
        } else {
            self.sort_general(&get, stride, limit, out);
        }
        out.beyond_limit = out.chain.len() - out.order.len();
        out.sorted.clear();
        out.sorted
            .extend(out.order.iter().map(|&i| out.chain[i as usize]));
        std::mem::swap(&mut out.chain, &mut out.sorted);
    }

    /// Sorts `out.order` with keys encoded as integers: the clause, each
    /// `PREFER` value (direction applied, missing last), then confidence
    /// descending, compared as slices; the producer id only on a full tie.
    fn sort_encoded<C: Candidate>(
        &self,
        get: &impl Fn(usize) -> Option<C>,
        stride: usize,
        limit: usize,
        out: &mut Ranking,
    ) {
        let width = stride + 2;
        out.keys.clear();
        out.keys.reserve(out.chain.len() * width);
        for (i, r) in out.chain.iter().enumerate() {
            out.keys.push(r.clause as u128);
            let prefer = &self.clauses[r.clause].prefer;
            for j in 0..stride {
                let desc = prefer.get(j).is_some_and(|(_, d)| *d);
                out.keys.push(out.atoms[i * stride + j].encode(desc));
            }
            let confidence = get(r.index).map_or(0.0, |c| c.health_confidence());
            out.keys.push(u128::from(!eval::ordered_bits(confidence)));
        }
        let (chain, keys) = (&out.chain, &out.keys);
        sort_prefix(&mut out.order, limit, |&ia, &ib| {
            let (ka, kb) = (ia as usize * width, ib as usize * width);
            keys[ka..ka + width]
                .cmp(&keys[kb..kb + width])
                .then_with(|| {
                    let (a, b) = (chain[ia as usize], chain[ib as usize]);
                    match (get(a.index), get(b.index)) {
                        (Some(ca), Some(cb)) => ca.producer().cmp(cb.producer()),
                        _ => Ordering::Equal,
                    }
                    .then(a.index.cmp(&b.index))
                })
        });
    }

    /// Sorts `out.order` reading string keys from the candidates.
    fn sort_general<C: Candidate>(
        &self,
        get: &impl Fn(usize) -> Option<C>,
        stride: usize,
        limit: usize,
        out: &mut Ranking,
    ) {
        let (chain, atoms) = (&out.chain, &out.atoms);
        sort_prefix(&mut out.order, limit, |&ia, &ib| {
            let (a, b) = (chain[ia as usize], chain[ib as usize]);
            a.clause.cmp(&b.clause).then_with(|| {
                let (ca, cb) = (get(a.index), get(b.index));
                let prefer = &self.clauses[a.clause].prefer;
                let (ka, kb) = (ia as usize * stride, ib as usize * stride);
                for (j, (access, desc)) in prefer.iter().enumerate() {
                    let o = atoms[ka + j].cmp(&atoms[kb + j], *desc).unwrap_or_else(|| {
                        match (&ca, &cb) {
                            (Some(ca), Some(cb)) => {
                                eval::sort_cmp(&access.read(ca), &access.read(cb), *desc)
                            }
                            _ => Ordering::Equal,
                        }
                    });
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                match (&ca, &cb) {
                    (Some(ca), Some(cb)) => tie_break(ca, cb),
                    _ => Ordering::Equal,
                }
                .then(a.index.cmp(&b.index))
            })
        });
    }

    /// Why `c` satisfies no clause: for each clause on its topic, the
    /// conditions that are not true, with the values read. Empty when `c`
    /// satisfies a clause.
    pub fn explain<C: Candidate + ?Sized>(&self, c: &C) -> Vec<Rejection> {
        if self.first_clause(c).is_some() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut reasons = Vec::new();
        for (k, cl) in self.clauses.iter().enumerate() {
            if !cl.topic_matches(c.topic()) {
                continue;
            }
            reasons.clear();
            if let Some(r) = &self.requested {
                reasons.extend(
                    dds_qos::incompatibilities(c.offered_qos(), r)
                        .into_iter()
                        .map(Reason::Qos),
                );
            }
            if let Some(f) = &cl.filter {
                if f.eval(c) != Tri::True {
                    f.explain(c, &mut reasons);
                }
            }
            out.extend(reasons.drain(..).map(|reason| Rejection {
                clause: Some(k),
                reason,
            }));
        }
        if out.is_empty() {
            out.push(Rejection {
                clause: None,
                reason: Reason::Topic {
                    topic: c.topic().to_owned(),
                },
            });
        }
        out
    }
}

/// Sorts the `limit` smallest elements of `order` to its front and drops
/// the rest: a selection in linear time, then a sort of the prefix only.
fn sort_prefix(order: &mut Vec<u32>, limit: usize, mut cmp: impl FnMut(&u32, &u32) -> Ordering) {
    if limit == 0 {
        order.clear();
        return;
    }
    if limit < order.len() {
        order.select_nth_unstable_by(limit - 1, &mut cmp);
        order.truncate(limit);
    }
    order.sort_unstable_by(cmp);
}

/// Higher confidence first, then producer id.
fn tie_break<C: Candidate + ?Sized>(a: &C, b: &C) -> Ordering {
    b.health_confidence()
        .total_cmp(&a.health_confidence())
        .then_with(|| a.producer().cmp(b.producer()))
}

#[cfg(test)]
mod roundtrip;
#[cfg(test)]
mod tests;
