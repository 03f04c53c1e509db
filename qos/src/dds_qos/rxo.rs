//! Requested-vs-offered (RxO) compatibility, DDS 1.4 §2.2.3: `offered` is
//! always the writer's QoS, `requested` the reader's.

use std::fmt;

use super::{
    DestinationOrder, Durability, LivelinessKind, Ownership, Period, QosPolicies, Reliability, Role,
};

/// One reason an offered QoS does not satisfy a requested one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Incompatibility {
    /// Offered reliability is weaker than requested.
    Reliability {
        /// Offered (writer).
        offered: Reliability,
        /// Requested (reader).
        requested: Reliability,
    },
    /// Offered durability is weaker than requested.
    Durability {
        /// Offered (writer).
        offered: Durability,
        /// Requested (reader).
        requested: Durability,
    },
    /// Offered deadline period is longer than requested.
    Deadline {
        /// Offered (writer).
        offered: Period,
        /// Requested (reader).
        requested: Period,
    },
    /// Offered liveliness kind is less strict than requested.
    LivelinessKind {
        /// Offered (writer).
        offered: LivelinessKind,
        /// Requested (reader).
        requested: LivelinessKind,
    },
    /// Offered lease duration is longer than requested.
    LivelinessLease {
        /// Offered (writer).
        offered: Period,
        /// Requested (reader).
        requested: Period,
    },
    /// Ownership kinds differ.
    Ownership {
        /// Offered (writer).
        offered: Ownership,
        /// Requested (reader).
        requested: Ownership,
    },
    /// Offered destination order is weaker than requested.
    DestinationOrder {
        /// Offered (writer).
        offered: DestinationOrder,
        /// Requested (reader).
        requested: DestinationOrder,
    },
}

impl fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Incompatibility::Reliability { offered, requested } => {
                write!(
                    f,
                    "QoS reliability: offered {offered} is weaker than requested {requested}"
                )
            }
            Incompatibility::Durability { offered, requested } => {
                write!(
                    f,
                    "QoS durability: offered {offered} is weaker than requested {requested}"
                )
            }
            Incompatibility::Deadline { offered, requested } => {
                write!(
                    f,
                    "QoS deadline: offered period {offered} is longer than requested {requested}"
                )
            }
            Incompatibility::LivelinessKind { offered, requested } => {
                write!(f, "QoS liveliness: offered kind {offered} is less strict than requested {requested}")
            }
            Incompatibility::LivelinessLease { offered, requested } => {
                write!(
                    f,
                    "QoS liveliness: offered lease {offered} is longer than requested {requested}"
                )
            }
            Incompatibility::Ownership { offered, requested } => {
                write!(
                    f,
                    "QoS ownership: offered {offered} differs from requested {requested}"
                )
            }
            Incompatibility::DestinationOrder { offered, requested } => {
                write!(
                    f,
                    "QoS destination order: offered {offered} is weaker than requested {requested}"
                )
            }
        }
    }
}

/// Every reason the `offered` (writer) QoS fails the `requested` (reader)
/// QoS, per DDS 1.4 §2.2.3; empty when they are compatible. Not symmetric:
/// swapping the arguments answers a different question.
///
/// Rules: reliability, durability and destination order offered ≥
/// requested; deadline offered period ≤ requested; liveliness offered kind
/// ≥ requested (AUTOMATIC < MANUAL_BY_PARTICIPANT < MANUAL_BY_TOPIC) and
/// offered lease ≤ requested; ownership kinds equal.
pub fn incompatibilities(offered: &QosPolicies, requested: &QosPolicies) -> Vec<Incompatibility> {
    let mut out = Vec::new();
    check(offered, requested, |i| {
        out.push(i);
        true
    });
    out
}

/// True when `offered` (writer) satisfies `requested` (reader); the same
/// rules as [`incompatibilities`], without allocating.
pub fn is_compatible(offered: &QosPolicies, requested: &QosPolicies) -> bool {
    check(offered, requested, |_| false)
}

/// Calls `found` with each incompatibility until it returns false; true
/// when none was found.
fn check(
    offered: &QosPolicies,
    requested: &QosPolicies,
    mut found: impl FnMut(Incompatibility) -> bool,
) -> bool {
    let mut ok = true;
    let mut report = |i| {
        ok = false;
        found(i)
    };
    let (o, r) = (
        offered.reliability_for(Role::Offered),
        requested.reliability_for(Role::Requested),
    );
    if o < r
        && !report(Incompatibility::Reliability {
            offered: o,
            requested: r,
        })
    {
        return false;
    }
    let (o, r) = (
        offered.durability_or_default(),
        requested.durability_or_default(),
    );
    if o < r
        && !report(Incompatibility::Durability {
            offered: o,
            requested: r,
        })
    {
        return false;
    }
    let (o, r) = (
        offered.deadline_or_default(),
        requested.deadline_or_default(),
    );
    if o > r
        && !report(Incompatibility::Deadline {
            offered: o,
            requested: r,
        })
    {
        return false;
    }
    let (o, r) = (
        offered.liveliness_or_default(),
        requested.liveliness_or_default(),
    );
    if o.kind < r.kind
        && !report(Incompatibility::LivelinessKind {
            offered: o.kind,
            requested: r.kind,
        })
    {
        return false;
    }
    if o.lease > r.lease
        && !report(Incompatibility::LivelinessLease {
            offered: o.lease,
            requested: r.lease,
        })
    {
        return false;
    }
    let (o, r) = (
        offered.ownership_or_default(),
        requested.ownership_or_default(),
    );
    if o != r
        && !report(Incompatibility::Ownership {
            offered: o,
            requested: r,
        })
    {
        return false;
    }
    let (o, r) = (
        offered.destination_order_or_default(),
        requested.destination_order_or_default(),
    );
    if o < r
        && !report(Incompatibility::DestinationOrder {
            offered: o,
            requested: r,
        })
    {
        return false;
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dds_qos::Liveliness;
    use std::time::Duration;

    fn ms(n: u64) -> Period {
        Period::Finite(Duration::from_millis(n))
    }

    /// (offered, requested, expected incompatibilities) for every policy.
    #[test]
    fn rxo_table() {
        use Incompatibility as I;
        let q = QosPolicies::default;
        let rel = |r| QosPolicies {
            reliability: Some(r),
            ..q()
        };
        let dur = |d| QosPolicies {
            durability: Some(d),
            ..q()
        };
        let dl = |p| QosPolicies {
            deadline: Some(p),
            ..q()
        };
        let liv = |kind, lease| QosPolicies {
            liveliness: Some(Liveliness { kind, lease }),
            ..q()
        };
        let own = |o| QosPolicies {
            ownership: Some(o),
            ..q()
        };
        let ord = |o| QosPolicies {
            destination_order: Some(o),
            ..q()
        };
        use DestinationOrder::*;
        use Durability::*;
        use LivelinessKind::*;
        use Reliability::*;
        let table: Vec<(QosPolicies, QosPolicies, Vec<Incompatibility>)> = vec![
            (q(), q(), vec![]),
            (rel(Reliable), rel(Reliable), vec![]),
            (rel(Reliable), rel(BestEffort), vec![]),
            (
                rel(BestEffort),
                rel(Reliable),
                vec![I::Reliability {
                    offered: BestEffort,
                    requested: Reliable,
                }],
            ),
            // Defaults by role: a writer offers RELIABLE by default.
            (q(), rel(Reliable), vec![]),
            (rel(BestEffort), q(), vec![]),
            (dur(TransientLocal), dur(Volatile), vec![]),
            (dur(Persistent), dur(Transient), vec![]),
            (
                dur(Volatile),
                dur(TransientLocal),
                vec![I::Durability {
                    offered: Volatile,
                    requested: TransientLocal,
                }],
            ),
            (
                q(),
                dur(Transient),
                vec![I::Durability {
                    offered: Volatile,
                    requested: Transient,
                }],
            ),
            (dl(ms(10)), dl(ms(20)), vec![]),
            (dl(ms(20)), dl(ms(20)), vec![]),
            (
                dl(ms(30)),
                dl(ms(20)),
                vec![I::Deadline {
                    offered: ms(30),
                    requested: ms(20),
                }],
            ),
            (
                q(),
                dl(ms(20)),
                vec![I::Deadline {
                    offered: Period::Infinite,
                    requested: ms(20),
                }],
            ),
            (dl(ms(5)), q(), vec![]),
            (liv(ManualByTopic, ms(100)), liv(Automatic, ms(100)), vec![]),
            (
                liv(Automatic, ms(100)),
                liv(ManualByParticipant, ms(100)),
                vec![I::LivelinessKind {
                    offered: Automatic,
                    requested: ManualByParticipant,
                }],
            ),
            (
                liv(Automatic, ms(200)),
                liv(Automatic, ms(100)),
                vec![I::LivelinessLease {
                    offered: ms(200),
                    requested: ms(100),
                }],
            ),
            (own(Ownership::Exclusive), own(Ownership::Exclusive), vec![]),
            (
                own(Ownership::Shared),
                own(Ownership::Exclusive),
                vec![I::Ownership {
                    offered: Ownership::Shared,
                    requested: Ownership::Exclusive,
                }],
            ),
            (
                own(Ownership::Exclusive),
                q(),
                vec![I::Ownership {
                    offered: Ownership::Exclusive,
                    requested: Ownership::Shared,
                }],
            ),
            (ord(BySourceTimestamp), ord(ByReceptionTimestamp), vec![]),
            (
                ord(ByReceptionTimestamp),
                ord(BySourceTimestamp),
                vec![I::DestinationOrder {
                    offered: ByReceptionTimestamp,
                    requested: BySourceTimestamp,
                }],
            ),
        ];
        for (offered, requested, expected) in table {
            assert_eq!(is_compatible(&offered, &requested), expected.is_empty());
            assert_eq!(
                incompatibilities(&offered, &requested),
                expected,
                "{offered:?} vs {requested:?}"
            );
        }
    }

    #[test]
    fn reports_every_failure_with_reasons() {
        let offered = QosPolicies {
            reliability: Some(Reliability::BestEffort),
            durability: Some(Durability::Volatile),
            ..QosPolicies::default()
        };
        let requested = QosPolicies {
            reliability: Some(Reliability::Reliable),
            durability: Some(Durability::TransientLocal),
            deadline: Some(ms(10)),
            ..QosPolicies::default()
        };
        let reasons: Vec<String> = incompatibilities(&offered, &requested)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            reasons,
            [
                "QoS reliability: offered BEST_EFFORT is weaker than requested RELIABLE",
                "QoS durability: offered VOLATILE is weaker than requested TRANSIENT_LOCAL",
                "QoS deadline: offered period infinite is longer than requested 10ms",
            ]
        );
    }
}
