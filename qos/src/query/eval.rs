//! The compiled form of a query: a tree of conditions over pre-resolved
//! accessors and constants, evaluated per candidate with three-valued
//! (Kleene) logic and without allocating.
//!
//! A comparison whose operand is missing is UNKNOWN, not false, so
//! `NOT latency_p99 < 1ms` does not select a producer that has no
//! `latency_p99`; a candidate is selected only when its condition is TRUE.

use std::cmp::Ordering;

use vigil_diag::{Path, Pattern, State};

use super::ast::{CmpOp, Expr, Literal, Operand, QosField};
use super::reason::Reason;
use crate::candidate::Candidate;
use crate::capability::Key;
use crate::unit::Dimension;
use crate::value::{compare_base, Value};

/// Three-valued truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tri {
    False,
    Unknown,
    True,
}

/// Which enumeration an ordinal belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    State,
    Trend,
    Reliability,
    Durability,
    Liveliness,
    Ownership,
    DestinationOrder,
}

/// A value during evaluation, borrowed from the candidate or the query.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Scalar<'a> {
    Num(f64, Dimension),
    Text(&'a str),
    Bool(bool),
    Ord(Kind, u8),
    Missing,
}

impl Scalar<'_> {
    fn of_value(value: &Value) -> Scalar<'_> {
        match value {
            Value::Number(q) => Scalar::Num(q.base(), q.dimension()),
            Value::Text(s) => Scalar::Text(s),
            Value::Bool(b) => Scalar::Bool(*b),
            Value::State(s) => Scalar::Ord(Kind::State, *s as u8),
        }
    }

    fn of_literal(lit: &Literal) -> Scalar<'_> {
        match lit {
            Literal::Number(q) => Scalar::Num(q.base(), q.dimension()),
            Literal::Text(s) => Scalar::Text(s),
            Literal::Bool(b) => Scalar::Bool(*b),
            Literal::State(s) => Scalar::Ord(Kind::State, *s as u8),
            Literal::Trend(t) => Scalar::Ord(Kind::Trend, *t as u8),
            Literal::Reliability(v) => Scalar::Ord(Kind::Reliability, *v as u8),
            Literal::Durability(v) => Scalar::Ord(Kind::Durability, *v as u8),
            Literal::Liveliness(v) => Scalar::Ord(Kind::Liveliness, *v as u8),
            Literal::Ownership(v) => Scalar::Ord(Kind::Ownership, *v as u8),
            Literal::DestinationOrder(v) => Scalar::Ord(Kind::DestinationOrder, *v as u8),
        }
    }

    /// `None` when the two cannot be compared (missing, or different kinds).
    fn compare(&self, other: &Scalar<'_>) -> Option<Ordering> {
        match (self, other) {
            (Scalar::Num(a, da), Scalar::Num(b, db)) if da == db => Some(compare_base(*a, *b)),
            (Scalar::Text(a), Scalar::Text(b)) => Some(a.cmp(b)),
            (Scalar::Bool(a), Scalar::Bool(b)) => Some(a.cmp(b)),
            (Scalar::Ord(ka, a), Scalar::Ord(kb, b)) if ka == kb => Some(a.cmp(b)),
            _ => None,
        }
    }
}

/// A constant, converted to its evaluation form once, at compile time.
#[derive(Clone, Debug)]
pub(crate) enum Konst {
    Num(f64, Dimension),
    Text(Box<str>),
    Bool(bool),
    Ord(Kind, u8),
}

impl Konst {
    fn new(lit: &Literal) -> Konst {
        match Scalar::of_literal(lit) {
            Scalar::Num(x, d) => Konst::Num(x, d),
            Scalar::Text(t) => Konst::Text(t.into()),
            Scalar::Bool(b) => Konst::Bool(b),
            Scalar::Ord(k, r) => Konst::Ord(k, r),
            Scalar::Missing => Konst::Bool(false),
        }
    }

    #[inline]
    fn scalar(&self) -> Scalar<'_> {
        match self {
            Konst::Num(x, d) => Scalar::Num(*x, *d),
            Konst::Text(t) => Scalar::Text(t),
            Konst::Bool(b) => Scalar::Bool(*b),
            Konst::Ord(k, r) => Scalar::Ord(*k, *r),
        }
    }
}

/// Where a value comes from.
#[derive(Clone, Debug)]
pub(crate) enum Access {
    Const(Konst),
    Key(Key),
    HealthState,
    HealthConfidence,
    HealthTrend,
    HealthOf(Path),
    Qos(QosField),
    Path,
}

impl Access {
    pub(crate) fn new(operand: &Operand) -> Access {
        match operand {
            Operand::Key(k) => Access::Key(k.clone()),
            Operand::Literal(l) => Access::Const(Konst::new(l)),
            Operand::HealthState => Access::HealthState,
            Operand::HealthConfidence => Access::HealthConfidence,
            Operand::HealthTrend => Access::HealthTrend,
            Operand::HealthOf(p) => Access::HealthOf(p.clone()),
            Operand::Qos(f) => Access::Qos(*f),
            Operand::Path => Access::Path,
        }
    }

    /// Rough cost of one read, to evaluate cheap conditions first.
    fn cost(&self) -> u32 {
        match self {
            Access::Const(_)
            | Access::HealthState
            | Access::HealthConfidence
            | Access::HealthTrend => 1,
            Access::Qos(_) => 2,
            Access::Key(k) if k.well_known().is_some() => 3,
            Access::Key(_) | Access::Path => 6,
            Access::HealthOf(_) => 10,
        }
    }

    #[inline]
    pub(crate) fn read<'a, C: Candidate + ?Sized>(&'a self, c: &'a C) -> Scalar<'a> {
        match self {
            Access::Const(k) => k.scalar(),
            Access::Key(k) => c.capability(k).map_or(Scalar::Missing, Scalar::of_value),
            Access::HealthState => Scalar::Ord(Kind::State, c.health_state() as u8),
            Access::HealthConfidence => Scalar::Num(c.health_confidence(), Dimension::Ratio),
            Access::HealthTrend => Scalar::Ord(Kind::Trend, c.health_trend() as u8),
            Access::HealthOf(p) => c
                .node_state(p)
                .map_or(Scalar::Missing, |s| Scalar::Ord(Kind::State, s as u8)),
            Access::Qos(field) => {
                let q = c.offered_qos();
                match field {
                    QosField::Reliability => Scalar::Ord(
                        Kind::Reliability,
                        q.reliability_for(crate::dds_qos::Role::Offered) as u8,
                    ),
                    QosField::Durability => {
                        Scalar::Ord(Kind::Durability, q.durability_or_default() as u8)
                    }
                    QosField::Deadline => {
                        Scalar::Num(q.deadline_or_default().as_secs_f64(), Dimension::Time)
                    }
                    QosField::Liveliness => {
                        Scalar::Ord(Kind::Liveliness, q.liveliness_or_default().kind as u8)
                    }
                    QosField::LivelinessLease => Scalar::Num(
                        q.liveliness_or_default().lease.as_secs_f64(),
                        Dimension::Time,
                    ),
                    QosField::Ownership => {
                        Scalar::Ord(Kind::Ownership, q.ownership_or_default() as u8)
                    }
                    QosField::DestinationOrder => Scalar::Ord(
                        Kind::DestinationOrder,
                        q.destination_order_or_default() as u8,
                    ),
                }
            }
            Access::Path => c
                .diagnostic_root()
                .map_or(Scalar::Missing, |p| Scalar::Text(p.as_str())),
        }
    }

    /// The value as text, for rejection reasons.
    pub(crate) fn describe<C: Candidate + ?Sized>(&self, c: &C) -> Option<String> {
        Some(match self {
            Access::Const(_) => String::new(),
            Access::Key(k) => c.capability(k)?.to_string(),
            Access::HealthState => c.health_state().to_string(),
            Access::HealthConfidence => c.health_confidence().to_string(),
            Access::HealthTrend => c.health_trend().to_string(),
            Access::HealthOf(p) => c.node_state(p)?.to_string(),
            Access::Qos(field) => {
                let q = c.offered_qos();
                match field {
                    QosField::Reliability => {
                        q.reliability_for(crate::dds_qos::Role::Offered).to_string()
                    }
                    QosField::Durability => q.durability_or_default().to_string(),
                    QosField::Deadline => q.deadline_or_default().to_string(),
                    QosField::Liveliness => q.liveliness_or_default().kind.to_string(),
                    QosField::LivelinessLease => q.liveliness_or_default().lease.to_string(),
                    QosField::Ownership => q.ownership_or_default().to_string(),
                    QosField::DestinationOrder => q.destination_order_or_default().to_string(),
                }
            }
            Access::Path => c.diagnostic_root()?.to_string(),
        })
    }

    /// Why the value is missing, for rejection reasons.
    fn missing_reason(&self) -> Reason {
        match self {
            Access::Key(k) => Reason::MissingCapability {
                key: k.as_str().to_owned(),
            },
            Access::HealthOf(p) => Reason::MissingNode { path: p.clone() },
            _ => Reason::MissingPath,
        }
    }

    fn is_const(&self) -> bool {
        matches!(self, Access::Const(_))
    }
}

/// A compiled condition.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    /// All must hold (AND chains flattened).
    All(Box<[Node]>),
    /// One must hold (OR chains flattened).
    Any(Box<[Node]>),
    Not(Box<Node>, Box<str>),
    Cmp {
        left: Access,
        op: CmpOp,
        right: Access,
        text: Box<str>,
    },
    In {
        access: Access,
        list: Box<[Konst]>,
        text: Box<str>,
    },
    Exists(Key),
    PathMatch(Pattern, Box<str>),
}

impl Node {
    pub(crate) fn compile(expr: &Expr) -> Node {
        match expr {
            Expr::And(..) => {
                let mut parts = Vec::new();
                flatten(expr, true, &mut parts);
                let mut nodes: Vec<Node> = parts.into_iter().map(Node::compile).collect();
                nodes.sort_by_key(Node::cost);
                Node::All(nodes.into())
            }
            Expr::Or(..) => {
                let mut parts = Vec::new();
                flatten(expr, false, &mut parts);
                let mut nodes: Vec<Node> = parts.into_iter().map(Node::compile).collect();
                nodes.sort_by_key(Node::cost);
                Node::Any(nodes.into())
            }
            Expr::Not(inner) => Node::Not(Box::new(Node::compile(inner)), expr.to_string().into()),
            // A constant goes to the right (`5ms > x` is `x < 5ms`), so
            // evaluators need to recognize only one shape.
            Expr::Compare {
                left: left @ Operand::Literal(_),
                op,
                right,
            } if !matches!(right, Operand::Literal(_)) => Node::Cmp {
                left: Access::new(right),
                op: op.flipped(),
                right: Access::new(left),
                text: expr.to_string().into(),
            },
            Expr::Compare { left, op, right } => Node::Cmp {
                left: Access::new(left),
                op: *op,
                right: Access::new(right),
                text: expr.to_string().into(),
            },
            Expr::In { operand, list } => Node::In {
                access: Access::new(operand),
                list: list.iter().map(Konst::new).collect(),
                text: expr.to_string().into(),
            },
            Expr::Exists(k) => Node::Exists(k.clone()),
            Expr::PathMatch(p) => Node::PathMatch(p.clone(), expr.to_string().into()),
        }
    }

    fn cost(&self) -> u32 {
        match self {
            Node::All(n) | Node::Any(n) => n.iter().map(Node::cost).sum(),
            Node::Not(n, _) => n.cost(),
            Node::Cmp { left, right, .. } => left.cost() + right.cost(),
            Node::In { access, list, .. } => access.cost() + list.len() as u32,
            Node::Exists(k) => Access::Key(k.clone()).cost(),
            Node::PathMatch(..) => 20,
        }
    }

    #[inline]
    pub(crate) fn eval<C: Candidate + ?Sized>(&self, c: &C) -> Tri {
        match self {
            Node::All(nodes) => {
                let mut out = Tri::True;
                for n in nodes.iter() {
                    match n.eval(c) {
                        Tri::False => return Tri::False,
                        Tri::Unknown => out = Tri::Unknown,
                        Tri::True => {}
                    }
                }
                out
            }
            Node::Any(nodes) => {
                let mut out = Tri::False;
                for n in nodes.iter() {
                    match n.eval(c) {
                        Tri::True => return Tri::True,
                        Tri::Unknown => out = Tri::Unknown,
                        Tri::False => {}
                    }
                }
                out
            }
            Node::Not(n, _) => match n.eval(c) {
                Tri::True => Tri::False,
                Tri::False => Tri::True,
                Tri::Unknown => Tri::Unknown,
            },
            Node::Cmp {
                left, op, right, ..
            } => match left.read(c).compare(&right.read(c)) {
                Some(o) if op.holds(o) => Tri::True,
                Some(_) => Tri::False,
                None => Tri::Unknown,
            },
            Node::In { access, list, .. } => {
                let value = access.read(c);
                let mut out = Tri::Unknown;
                for lit in list.iter() {
                    match value.compare(&lit.scalar()) {
                        Some(Ordering::Equal) => return Tri::True,
                        Some(_) => out = Tri::False,
                        None => {}
                    }
                }
                out
            }
            Node::Exists(k) => {
                if c.capability(k).is_some() {
                    Tri::True
                } else {
                    Tri::False
                }
            }
            Node::PathMatch(p, _) => match c.diagnostic_root() {
                Some(root) if p.matches(root) => Tri::True,
                Some(_) => Tri::False,
                None => Tri::Unknown,
            },
        }
    }

    /// Pushes why this node is not TRUE for `c` (called only when it is not).
    pub(crate) fn explain<C: Candidate + ?Sized>(&self, c: &C, out: &mut Vec<Reason>) {
        match self {
            Node::All(nodes) | Node::Any(nodes) => {
                for n in nodes.iter() {
                    if n.eval(c) != Tri::True {
                        n.explain(c, out);
                    }
                }
            }
            Node::Not(inner, text) => match inner.eval(c) {
                Tri::Unknown => inner.explain(c, out),
                _ => out.push(Reason::Failed {
                    condition: text.to_string(),
                    actual: String::new(),
                }),
            },
            Node::Cmp {
                left, right, text, ..
            } => {
                let (l, r) = (left.read(c), right.read(c));
                for (access, value) in [(left, l), (right, r)] {
                    if matches!(value, Scalar::Missing) {
                        out.push(access.missing_reason());
                    }
                }
                if matches!(l, Scalar::Missing) || matches!(r, Scalar::Missing) {
                    return;
                }
                let actual = actuals(c, [left, right]);
                if l.compare(&r).is_none() {
                    out.push(Reason::Incomparable {
                        condition: text.to_string(),
                        actual,
                    });
                } else {
                    out.push(Reason::Failed {
                        condition: text.to_string(),
                        actual,
                    });
                }
            }
            Node::In { access, text, .. } => {
                if matches!(access.read(c), Scalar::Missing) {
                    out.push(access.missing_reason());
                } else {
                    out.push(Reason::Failed {
                        condition: text.to_string(),
                        actual: actuals(c, [access]),
                    });
                }
            }
            Node::Exists(k) => out.push(Reason::MissingCapability {
                key: k.as_str().to_owned(),
            }),
            Node::PathMatch(_, text) => match c.diagnostic_root() {
                None => out.push(Reason::MissingPath),
                Some(p) => out.push(Reason::Failed {
                    condition: text.to_string(),
                    actual: format!("path = {p}"),
                }),
            },
        }
    }
}

/// `key = value` for each non-constant access.
fn actuals<C: Candidate + ?Sized, const N: usize>(c: &C, accesses: [&Access; N]) -> String {
    let parts: Vec<String> = accesses
        .iter()
        .filter(|a| !a.is_const())
        .map(|a| {
            let name = match a {
                Access::Key(k) => k.as_str().to_owned(),
                Access::HealthState => "health.state".into(),
                Access::HealthConfidence => "health.confidence".into(),
                Access::HealthTrend => "health.trend".into(),
                Access::HealthOf(p) => format!("health('{p}')"),
                Access::Qos(f) => format!("qos.{}", f.name()),
                Access::Path => "path".into(),
                Access::Const(_) => String::new(),
            };
            format!(
                "{name} = {}",
                a.describe(c).unwrap_or_else(|| "missing".into())
            )
        })
        .collect();
    parts.join(", ")
}

fn flatten<'e>(expr: &'e Expr, and: bool, out: &mut Vec<&'e Expr>) {
    match (expr, and) {
        (Expr::And(a, b), true) | (Expr::Or(a, b), false) => {
            flatten(a, and, out);
            flatten(b, and, out);
        }
        _ => out.push(expr),
    }
}

/// The order of `PREFER` values: a total order (sorting panics on anything
/// less). Missing values sort last whatever the direction; values of
/// different kinds (possible only for custom keys) order numbers, then
/// strings, then booleans and enumerations.
pub(crate) fn sort_cmp(a: &Scalar<'_>, b: &Scalar<'_>, descending: bool) -> Ordering {
    let kind = |s: &Scalar<'_>| match s {
        Scalar::Num(..) => 0,
        Scalar::Text(_) => 1,
        Scalar::Bool(_) | Scalar::Ord(..) => 2,
        Scalar::Missing => 3,
    };
    let o = match (a, b) {
        (Scalar::Missing, Scalar::Missing) => return Ordering::Equal,
        (Scalar::Missing, _) => return Ordering::Greater,
        (_, Scalar::Missing) => return Ordering::Less,
        (Scalar::Num(x, _), Scalar::Num(y, _)) => x.total_cmp(y),
        (Scalar::Text(x), Scalar::Text(y)) => x.cmp(y),
        (Scalar::Bool(x), Scalar::Bool(y)) => x.cmp(y),
        (Scalar::Ord(_, x), Scalar::Ord(_, y)) => x.cmp(y),
        (Scalar::Bool(x), Scalar::Ord(_, y)) => u8::from(*x).cmp(y),
        (Scalar::Ord(_, x), Scalar::Bool(y)) => x.cmp(&u8::from(*y)),
        _ => kind(a).cmp(&kind(b)),
    };
    if descending {
        o.reverse()
    } else {
        o
    }
}

/// The bits of `x` as an integer ordered like `f64::total_cmp`.
#[inline]
pub(crate) fn ordered_bits(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// A `PREFER` value copied out of its candidate for sorting; strings are
/// not copied (that would allocate) but read again when two meet.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SortAtom {
    Num(f64),
    Text,
    Rank(u8),
    Missing,
}

impl SortAtom {
    pub(crate) fn of(s: Scalar<'_>) -> SortAtom {
        match s {
            Scalar::Num(x, _) => SortAtom::Num(x),
            Scalar::Text(_) => SortAtom::Text,
            Scalar::Bool(b) => SortAtom::Rank(u8::from(b)),
            Scalar::Ord(_, r) => SortAtom::Rank(r),
            Scalar::Missing => SortAtom::Missing,
        }
    }

    /// An integer whose order is [`sort_cmp`]'s for numbers, booleans,
    /// enumerations and missing values (strings are not encoded: callers
    /// sort those with [`sort_cmp`]).
    #[inline]
    pub(crate) fn encode(&self, descending: bool) -> u128 {
        let (kind, bits) = match self {
            SortAtom::Num(x) => (0u128, ordered_bits(*x)),
            SortAtom::Text => (1, 0),
            SortAtom::Rank(r) => (2, u64::from(*r)),
            SortAtom::Missing => return 3 << 64,
        };
        if descending {
            ((2 - kind) << 64) | u128::from(!bits)
        } else {
            (kind << 64) | u128::from(bits)
        }
    }

    /// [`sort_cmp`] on the copies; `None` when both are strings.
    #[inline]
    pub(crate) fn cmp(&self, other: &SortAtom, descending: bool) -> Option<Ordering> {
        let scalar = |a: &SortAtom| match a {
            SortAtom::Num(x) => Scalar::Num(*x, Dimension::Ratio),
            SortAtom::Text => Scalar::Text(""),
            SortAtom::Rank(r) => Scalar::Ord(Kind::State, *r),
            SortAtom::Missing => Scalar::Missing,
        };
        match (self, other) {
            (SortAtom::Text, SortAtom::Text) => None,
            _ => Some(sort_cmp(&scalar(self), &scalar(other), descending)),
        }
    }
}

/// Health state ordinal round trip, checked here because evaluation relies
/// on `State as u8` following the severity order.
const _: () = assert!(
    (State::Ok as u8) < (State::Degraded as u8) && (State::Unknown as u8) < (State::Failed as u8)
);
