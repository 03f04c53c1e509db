//! The constraint query language: parse, print, compile, rank.

use std::cmp::Ordering;
use std::str::FromStr;

mod ast;
mod error;
mod eval;
mod lexer;
mod parser;
mod reason;

pub use ast::{Clause, CmpOp, Direction, Expr, Literal, Operand, Order, QosField, Query};
pub use error::ParseError;
pub use reason::{Reason, Rejection};

use crate::candidate::Candidate;
use crate::dds_qos::{self, QosPolicies};
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
        *self.topic == *topic || self.alias.as_deref() == Some(topic)
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ranking {
    chain: Vec<Ranked>,
    rejected: Vec<usize>,
}

impl Ranking {
    /// The chain, best first; its head is the selected producer.
    pub fn chain(&self) -> &[Ranked] {
        &self.chain
    }

    /// The head of the chain.
    pub fn selected(&self) -> Option<Ranked> {
        self.chain.first().copied()
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
                let o = SortAtom::of(access.read(a)).cmp(&SortAtom::of(access.read(b)), *desc);
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
        b.health_confidence()
            .total_cmp(&a.health_confidence())
            .then_with(|| a.producer().cmp(b.producer()))
    }

    /// Ranks `candidates` (see [`Ranking`]).
    pub fn rank<C: Candidate>(&self, candidates: &[C]) -> Ranking {
        let mut ranking = Ranking::default();
        self.rank_into(candidates, &mut ranking);
        ranking
    }

    /// [`CompiledQuery::rank`] reusing `out`'s buffers.
    pub fn rank_into<C: Candidate>(&self, candidates: &[C], out: &mut Ranking) {
        out.chain.clear();
        out.rejected.clear();
        for (index, c) in candidates.iter().enumerate() {
            match self.first_clause(c) {
                Some(clause) => out.chain.push(Ranked { index, clause }),
                None => out.rejected.push(index),
            }
        }
        // Read every sort key once, then sort on the copies.
        let stride = self
            .clauses
            .iter()
            .map(|c| c.prefer.len())
            .max()
            .unwrap_or(0);
        let mut atoms: Vec<SortAtom<'_>> = Vec::with_capacity(out.chain.len() * stride);
        for r in &out.chain {
            let c = &candidates[r.index];
            let prefer = &self.clauses[r.clause].prefer;
            atoms.extend(prefer.iter().map(|(a, _)| SortAtom::of(a.read(c))));
            atoms.extend(std::iter::repeat_n(
                SortAtom::Missing,
                stride - prefer.len(),
            ));
        }
        let mut order: Vec<(u32, Ranked)> = out
            .chain
            .iter()
            .enumerate()
            .map(|(i, r)| (i as u32, *r))
            .collect();
        order.sort_unstable_by(|(ia, a), (ib, b)| {
            a.clause.cmp(&b.clause).then_with(|| {
                let prefer = &self.clauses[a.clause].prefer;
                let (ka, kb) = (*ia as usize * stride, *ib as usize * stride);
                for (j, (_, desc)) in prefer.iter().enumerate() {
                    let o = atoms[ka + j].cmp(&atoms[kb + j], *desc);
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                let (ca, cb) = (&candidates[a.index], &candidates[b.index]);
                cb.health_confidence()
                    .total_cmp(&ca.health_confidence())
                    .then_with(|| ca.producer().cmp(cb.producer()))
                    .then(a.index.cmp(&b.index))
            })
        });
        out.chain.clear();
        out.chain.extend(order.into_iter().map(|(_, r)| r));
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

#[cfg(test)]
mod tests;
