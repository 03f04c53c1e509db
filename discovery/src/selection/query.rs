//! [`SelectionQuery`]: a compiled query plus what switching needs to read
//! from its text (the first `PREFER` key of each clause, for the margin).

use vigil_diag::State;
use vigil_qos::{Candidate, CompiledQuery, Direction, Operand, QosPolicies, Query, Value};

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
        SelectionQuery {
            compiled: query.compile(),
            margin_keys,
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
