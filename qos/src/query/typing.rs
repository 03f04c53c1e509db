//! Static types of operands, checked while parsing: dimensions must agree,
//! quoted names become health trends or QoS kinds where compared with one.

use std::str::FromStr;

use vigil_diag::{State, Trend};

use super::ast::{Literal, Operand, QosField};
use crate::capability::WellKnown;
use crate::dds_qos::{DestinationOrder, Durability, LivelinessKind, Ownership, Reliability};
use crate::unit::Dimension;

/// The static type of an operand, for checks at parse time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ty {
    /// A number; `None` when any dimension is accepted.
    Num(Option<Dimension>),
    Text,
    Bool,
    State,
    Trend,
    Reliability,
    Durability,
    Liveliness,
    Ownership,
    DestinationOrder,
    Path,
    /// A capability key that is not well-known: checked per candidate.
    Any,
}

impl Ty {
    pub(super) fn describe(self) -> String {
        match self {
            Ty::Num(Some(d)) => format!("a {d}"),
            Ty::Num(None) => "a number".into(),
            Ty::Text => "a string".into(),
            Ty::Bool => "a boolean".into(),
            Ty::State => "a health state (OK, DEGRADED, UNKNOWN, FAILED)".into(),
            Ty::Trend => "a trend ('stable', 'degrading', 'recovering', 'intermittent')".into(),
            Ty::Reliability => "a reliability ('best_effort', 'reliable')".into(),
            Ty::Durability => {
                "a durability ('volatile', 'transient_local', 'transient', 'persistent')".into()
            }
            Ty::Liveliness => {
                "a liveliness kind ('automatic', 'manual_by_participant', 'manual_by_topic')".into()
            }
            Ty::Ownership => "an ownership kind ('shared', 'exclusive')".into(),
            Ty::DestinationOrder => {
                "a destination order ('by_reception_timestamp', 'by_source_timestamp')".into()
            }
            Ty::Path => "a path".into(),
            Ty::Any => "a value".into(),
        }
    }

    pub(super) fn of(operand: &Operand) -> Ty {
        match operand {
            Operand::Key(key) => match key.well_known() {
                Some(WellKnown::Frame) => Ty::Text,
                Some(w) => Ty::Num(w.dimension()),
                None => Ty::Any,
            },
            Operand::Literal(lit) => match lit {
                Literal::Number(q) => Ty::Num(Some(q.dimension())),
                Literal::Text(_) => Ty::Text,
                Literal::Bool(_) => Ty::Bool,
                Literal::State(_) => Ty::State,
                Literal::Trend(_) => Ty::Trend,
                Literal::Reliability(_) => Ty::Reliability,
                Literal::Durability(_) => Ty::Durability,
                Literal::Liveliness(_) => Ty::Liveliness,
                Literal::Ownership(_) => Ty::Ownership,
                Literal::DestinationOrder(_) => Ty::DestinationOrder,
            },
            Operand::HealthState | Operand::HealthOf(_) => Ty::State,
            Operand::HealthConfidence => Ty::Num(Some(Dimension::Ratio)),
            Operand::HealthTrend => Ty::Trend,
            Operand::Qos(field) => match field {
                QosField::Reliability => Ty::Reliability,
                QosField::Durability => Ty::Durability,
                QosField::Deadline | QosField::LivelinessLease => Ty::Num(Some(Dimension::Time)),
                QosField::Liveliness => Ty::Liveliness,
                QosField::Ownership => Ty::Ownership,
                QosField::DestinationOrder => Ty::DestinationOrder,
            },
            Operand::Path => Ty::Path,
        }
    }

    pub(super) fn compatible(self, other: Ty) -> bool {
        match (self, other) {
            (Ty::Any, _) | (_, Ty::Any) => true,
            (Ty::Num(a), Ty::Num(b)) => a.is_none() || b.is_none() || a == b,
            (Ty::Text | Ty::Path, Ty::Text | Ty::Path) => true,
            (a, b) => a == b,
        }
    }

    pub(super) fn ordered(self) -> bool {
        !matches!(self, Ty::Bool | Ty::Trend | Ty::Ownership | Ty::Path)
    }
}

/// Reads a quoted string as the enum type `ty` wants, if it wants one.
pub(super) fn coerce(text: &str, ty: Ty) -> Option<std::result::Result<Literal, ()>> {
    fn parse<T: FromStr>(text: &str, f: fn(T) -> Literal) -> std::result::Result<Literal, ()> {
        text.parse().map(f).map_err(|_| ())
    }
    Some(match ty {
        Ty::State => parse::<State>(text, Literal::State),
        Ty::Trend => match trend_from_str(text) {
            Some(t) => Ok(Literal::Trend(t)),
            None => Err(()),
        },
        Ty::Reliability => parse::<Reliability>(text, Literal::Reliability),
        Ty::Durability => parse::<Durability>(text, Literal::Durability),
        Ty::Liveliness => parse::<LivelinessKind>(text, Literal::Liveliness),
        Ty::Ownership => parse::<Ownership>(text, Literal::Ownership),
        Ty::DestinationOrder => parse::<DestinationOrder>(text, Literal::DestinationOrder),
        _ => return None,
    })
}

fn trend_from_str(text: &str) -> Option<Trend> {
    [
        Trend::Stable,
        Trend::Degrading,
        Trend::Recovering,
        Trend::Intermittent,
    ]
    .into_iter()
    .find(|t| t.as_str().eq_ignore_ascii_case(text))
}
