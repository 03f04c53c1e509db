//! The query AST and its `Display`, which prints a query that parses back to
//! the same AST (normalized: upper-case keywords, `ASC` left out, only the
//! parentheses precedence needs).

use std::fmt;

use vigil_diag::{Path, Pattern, State, Trend};

use crate::capability::Key;
use crate::dds_qos::{DestinationOrder, Durability, LivelinessKind, Ownership, Reliability};
use crate::value::Quantity;

/// A parsed constraint query: one clause, then its `ELSE` fallbacks.
///
/// ```
/// use vigil_qos::Query;
///
/// let query = Query::parse("imu WHERE health.state = OK AND latency_p99 < 1ms ELSE gps_imu PREFER accuracy ASC").unwrap();
/// assert_eq!(query.clauses().len(), 2);
/// // Display prints a query that parses back to the same one.
/// assert_eq!(Query::parse(&query.to_string()).unwrap(), query);
/// // Errors point at the column.
/// let error = Query::parse("imu WHERE latency_p99 < 1parsec").unwrap_err();
/// assert!(error.to_string().contains("parsec"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub(crate) clauses: Vec<Clause>,
}

impl Query {
    /// The clauses, first choice first; never empty.
    pub fn clauses(&self) -> &[Clause] {
        &self.clauses
    }
}

/// `topic [WHERE expr] [PREFER order, ...]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Clause {
    pub(crate) topic: String,
    pub(crate) filter: Option<Expr>,
    pub(crate) prefer: Vec<Order>,
}

impl Clause {
    /// The topic, as written (DDS or ROS 2 name).
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The `WHERE` condition, if any.
    pub fn filter(&self) -> Option<&Expr> {
        self.filter.as_ref()
    }

    /// The `PREFER` keys, most significant first.
    pub fn prefer(&self) -> &[Order] {
        &self.prefer
    }
}

/// One `PREFER` key.
#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    /// What to sort by.
    pub operand: Operand,
    /// Which way.
    pub direction: Direction,
}

/// Sort direction of a `PREFER` key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Direction {
    /// Smallest first (the default).
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// A condition.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Expr {
    /// `a OR b`
    Or(Box<Expr>, Box<Expr>),
    /// `a AND b`
    And(Box<Expr>, Box<Expr>),
    /// `NOT a`
    Not(Box<Expr>),
    /// `left op right`
    Compare {
        /// Left side.
        left: Operand,
        /// Operator.
        op: CmpOp,
        /// Right side.
        right: Operand,
    },
    /// `operand IN (literal, ...)`
    In {
        /// What is tested.
        operand: Operand,
        /// The accepted values.
        list: Vec<Literal>,
    },
    /// `EXISTS key`
    Exists(Key),
    /// `path ~ 'lquery'`: the producer's diagnostic root matches.
    PathMatch(Pattern),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=` (also written `<>`)
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// The operator with its operands swapped (`<` becomes `>`).
    pub fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            other => other,
        }
    }

    /// True for `<`, `<=`, `>`, `>=`.
    pub fn is_ordering(self) -> bool {
        !matches!(self, CmpOp::Eq | CmpOp::Ne)
    }

    /// Whether `ordering` (left compared with right) satisfies the operator.
    pub fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CmpOp::Eq => ordering == Equal,
            CmpOp::Ne => ordering != Equal,
            CmpOp::Lt => ordering == Less,
            CmpOp::Le => ordering != Greater,
            CmpOp::Gt => ordering == Greater,
            CmpOp::Ge => ordering != Less,
        }
    }
}

/// Something that has a value for a candidate.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Operand {
    /// A capability.
    Key(Key),
    /// A constant.
    Literal(Literal),
    /// `health.state`
    HealthState,
    /// `health.confidence`
    HealthConfidence,
    /// `health.trend`
    HealthTrend,
    /// `health('sub.path')`: the state of a node of the producer's tree.
    HealthOf(Path),
    /// `qos.<policy>`: a policy the producer offers.
    Qos(QosField),
    /// `path`: the producer's diagnostic root path.
    Path,
}

/// The offered QoS policies a query can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QosField {
    /// `qos.reliability`
    Reliability,
    /// `qos.durability`
    Durability,
    /// `qos.deadline` (a time; infinite when not set)
    Deadline,
    /// `qos.liveliness` (the kind)
    Liveliness,
    /// `qos.liveliness_lease` (a time; infinite when not set)
    LivelinessLease,
    /// `qos.ownership`
    Ownership,
    /// `qos.destination_order`
    DestinationOrder,
}

impl QosField {
    /// Every field with its name after `qos.`.
    pub(crate) const NAMES: [(QosField, &'static str); 7] = [
        (QosField::Reliability, "reliability"),
        (QosField::Durability, "durability"),
        (QosField::Deadline, "deadline"),
        (QosField::Liveliness, "liveliness"),
        (QosField::LivelinessLease, "liveliness_lease"),
        (QosField::Ownership, "ownership"),
        (QosField::DestinationOrder, "destination_order"),
    ];

    /// The name after `qos.`.
    pub fn name(self) -> &'static str {
        QosField::NAMES
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("", |(_, n)| n)
    }
}

/// A constant in a query. Quoted strings compared with a health trend or a
/// QoS policy are read as that type when the query is parsed.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Literal {
    /// `100Hz`, `0.5`, `-3ms`
    Number(Quantity),
    /// `'imu_link'`
    Text(String),
    /// `true`, `false`
    Bool(bool),
    /// `OK`, `DEGRADED`, `UNKNOWN`, `FAILED`
    State(State),
    /// `'degrading'` compared with `health.trend`
    Trend(Trend),
    /// `'reliable'` compared with `qos.reliability`
    Reliability(Reliability),
    /// `'transient_local'` compared with `qos.durability`
    Durability(Durability),
    /// `'manual_by_topic'` compared with `qos.liveliness`
    Liveliness(LivelinessKind),
    /// `'exclusive'` compared with `qos.ownership`
    Ownership(Ownership),
    /// `'by_source_timestamp'` compared with `qos.destination_order`
    DestinationOrder(DestinationOrder),
}

/// The reserved words (case-insensitive).
pub(crate) const KEYWORDS: [&str; 16] = [
    "WHERE", "PREFER", "ELSE", "AND", "OR", "NOT", "IN", "EXISTS", "ASC", "DESC", "TRUE", "FALSE",
    "OK", "DEGRADED", "FAILED", "UNKNOWN",
];

pub(crate) fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// True for characters that may start a bare word (topic, key, operand).
pub(crate) fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '/'
}

/// True for characters that may continue a bare word.
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '/' | '.')
}

/// Writes `text` as a single-quoted string, doubling inner quotes.
pub(crate) fn write_quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str("'")?;
    for part in text.split_inclusive('\'') {
        f.write_str(part)?;
        if part.ends_with('\'') {
            f.write_str("'")?;
        }
    }
    f.write_str("'")
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, clause) in self.clauses.iter().enumerate() {
            if i > 0 {
                f.write_str(" ELSE ")?;
            }
            clause.fmt(f)?;
        }
        Ok(())
    }
}

impl fmt::Display for Clause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.topic.chars();
        let bare = chars.next().is_some_and(is_word_start)
            && chars.all(is_word_char)
            && !is_keyword(&self.topic);
        if bare {
            f.write_str(&self.topic)?;
        } else {
            write_quoted(f, &self.topic)?;
        }
        if let Some(filter) = &self.filter {
            write!(f, " WHERE {filter}")?;
        }
        for (i, order) in self.prefer.iter().enumerate() {
            f.write_str(if i == 0 { " PREFER " } else { ", " })?;
            order.operand.fmt(f)?;
            if order.direction == Direction::Desc {
                f.write_str(" DESC")?;
            }
        }
        Ok(())
    }
}

impl Expr {
    /// Binding strength: OR 1, AND 2, NOT 3, conditions 4.
    fn precedence(&self) -> u8 {
        match self {
            Expr::Or(..) => 1,
            Expr::And(..) => 2,
            Expr::Not(_) => 3,
            _ => 4,
        }
    }
}

fn fmt_child(f: &mut fmt::Formatter<'_>, child: &Expr, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({child})")
    } else {
        fmt::Display::fmt(child, f)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.precedence();
        match self {
            Expr::Or(a, b) | Expr::And(a, b) => {
                // Left-associative: a right child of equal precedence needs
                // parentheses to come back as the same tree.
                fmt_child(f, a, a.precedence() < p)?;
                f.write_str(if p == 1 { " OR " } else { " AND " })?;
                fmt_child(f, b, b.precedence() <= p)
            }
            Expr::Not(a) => {
                f.write_str("NOT ")?;
                fmt_child(f, a, a.precedence() < p)
            }
            Expr::Compare { left, op, right } => write!(f, "{left} {} {right}", op.as_str()),
            Expr::In { operand, list } => {
                write!(f, "{operand} IN (")?;
                for (i, lit) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    lit.fmt(f)?;
                }
                f.write_str(")")
            }
            Expr::Exists(key) => write!(f, "EXISTS {key}"),
            Expr::PathMatch(pattern) => {
                f.write_str("path ~ ")?;
                write_quoted(f, &pattern.to_string())
            }
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Key(k) => k.fmt(f),
            Operand::Literal(l) => l.fmt(f),
            Operand::HealthState => f.write_str("health.state"),
            Operand::HealthConfidence => f.write_str("health.confidence"),
            Operand::HealthTrend => f.write_str("health.trend"),
            Operand::HealthOf(path) => {
                f.write_str("health(")?;
                write_quoted(f, path.as_str())?;
                f.write_str(")")
            }
            Operand::Qos(field) => write!(f, "qos.{}", field.name()),
            Operand::Path => f.write_str("path"),
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Number(q) => q.fmt(f),
            Literal::Text(s) => write_quoted(f, s),
            Literal::Bool(b) => b.fmt(f),
            Literal::State(s) => s.fmt(f),
            Literal::Trend(t) => write_quoted(f, t.as_str()),
            Literal::Reliability(v) => write_quoted(f, v.as_str()),
            Literal::Durability(v) => write_quoted(f, v.as_str()),
            Literal::Liveliness(v) => write_quoted(f, v.as_str()),
            Literal::Ownership(v) => write_quoted(f, v.as_str()),
            Literal::DestinationOrder(v) => write_quoted(f, v.as_str()),
        }
    }
}
