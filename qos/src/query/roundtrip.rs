//! Round trip property: `Display` → parse → the same AST, over well-typed
//! random queries.

use proptest::prelude::*;
use vigil_diag::{Path, State, Trend};

use super::*;
use crate::capability::Key;
use crate::dds_qos::{Durability, LivelinessKind, Reliability};
use crate::value::Quantity;

fn key() -> impl Strategy<Value = Key> {
    prop_oneof![
        Just("rate"),
        Just("latency_p99"),
        Just("accuracy"),
        Just("frame"),
        Just("mode"),
        Just("x_1"),
        Just("_k")
    ]
    .prop_map(|k| Key::new(k).unwrap())
}

fn unit() -> impl Strategy<Value = Option<crate::unit::Unit>> {
    prop_oneof![
        Just(None),
        proptest::sample::select(crate::unit::Unit::all().collect::<Vec<_>>()).prop_map(Some)
    ]
}

fn number() -> impl Strategy<Value = Quantity> {
    (
        prop_oneof![
            any::<i32>().prop_map(f64::from),
            -1e12f64..1e12,
            Just(0.1),
            Just(1e-9)
        ],
        unit(),
    )
        .prop_map(|(v, u)| Quantity::new(v, u).unwrap())
}

fn text() -> impl Strategy<Value = String> {
    "[a-z' _µ.]{0,8}"
}

fn state() -> impl Strategy<Value = State> {
    proptest::sample::select(State::ALL.to_vec())
}

/// Well-typed comparisons, as the parser builds them.
fn condition() -> impl Strategy<Value = Expr> {
    let op = proptest::sample::select(vec![
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ]);
    let eq = proptest::sample::select(vec![CmpOp::Eq, CmpOp::Ne]);
    let custom =
        prop_oneof![Just("mode"), Just("x_1")].prop_map(|k| Operand::Key(Key::new(k).unwrap()));
    prop_oneof![
        (custom.clone(), op.clone(), number()).prop_map(|(l, op, q)| Expr::Compare {
            left: l,
            op,
            right: Operand::Literal(Literal::Number(q))
        }),
        (custom.clone(), op.clone(), text()).prop_map(|(l, op, t)| Expr::Compare {
            left: l,
            op,
            right: Operand::Literal(Literal::Text(t))
        }),
        (custom, eq.clone(), any::<bool>()).prop_map(|(l, op, b)| Expr::Compare {
            left: l,
            op,
            right: Operand::Literal(Literal::Bool(b))
        }),
        (op.clone(), 0.0f64..1e6).prop_map(|(op, v)| Expr::Compare {
            left: Operand::Key(Key::new("latency_p99").unwrap()),
            op,
            right: Operand::Literal(Literal::Number(
                Quantity::new(v, Some(crate::unit::Unit::Millisecond)).unwrap()
            )),
        }),
        (op.clone(), state()).prop_map(|(op, s)| Expr::Compare {
            left: Operand::HealthState,
            op,
            right: Operand::Literal(Literal::State(s))
        }),
        (op.clone(), state(), "[a-z]{1,3}(\\.[a-z0-9_]{1,3}){0,2}").prop_map(|(op, s, p)| {
            Expr::Compare {
                left: Operand::Literal(Literal::State(s)),
                op,
                right: Operand::HealthOf(Path::parse(&p).unwrap()),
            }
        }),
        (
            eq.clone(),
            proptest::sample::select(vec![
                Trend::Stable,
                Trend::Degrading,
                Trend::Recovering,
                Trend::Intermittent
            ])
        )
            .prop_map(|(op, t)| Expr::Compare {
                left: Operand::HealthTrend,
                op,
                right: Operand::Literal(Literal::Trend(t))
            }),
        (
            op.clone(),
            proptest::sample::select(Reliability::ALL.to_vec())
        )
            .prop_map(|(op, r)| Expr::Compare {
                left: Operand::Qos(QosField::Reliability),
                op,
                right: Operand::Literal(Literal::Reliability(r))
            }),
        proptest::collection::vec(proptest::sample::select(Durability::ALL.to_vec()), 1..3)
            .prop_map(|ds| Expr::In {
                operand: Operand::Qos(QosField::Durability),
                list: ds.into_iter().map(Literal::Durability).collect()
            }),
        (op, proptest::sample::select(LivelinessKind::ALL.to_vec())).prop_map(|(op, k)| {
            Expr::Compare {
                left: Operand::Qos(QosField::Liveliness),
                op,
                right: Operand::Literal(Literal::Liveliness(k)),
            }
        }),
        proptest::collection::vec(text(), 1..4).prop_map(|ts| Expr::In {
            operand: Operand::Key(Key::new("frame").unwrap()),
            list: ts.into_iter().map(Literal::Text).collect()
        }),
        key().prop_map(Expr::Exists),
        proptest::sample::select(vec!["vehicle.*.imu", "*.power.*{1,2}", "a|b.!c"])
            .prop_map(|p| Expr::PathMatch(vigil_diag::Pattern::parse(p).unwrap())),
        (0.0f64..1.0).prop_map(|v| Expr::Compare {
            left: Operand::HealthConfidence,
            op: CmpOp::Gt,
            right: Operand::Literal(Literal::Number(Quantity::new(v, None).unwrap())),
        }),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    condition().prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Expr::Not(Box::new(a))),
        ]
    })
}

fn topic() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_]{0,5}",
        "/[a-z]{1,3}(/[a-z]{1,3}){0,2}",
        "[a-z ']{1,6}",
        Just("where".to_owned())
    ]
    .prop_filter("non-empty", |t| !t.is_empty())
}

fn order() -> impl Strategy<Value = Order> {
    let operand = prop_oneof![
        key().prop_map(Operand::Key),
        Just(Operand::HealthConfidence),
        Just(Operand::HealthState),
        Just(Operand::Qos(QosField::Deadline)),
        Just(Operand::Path),
    ];
    (operand, any::<bool>()).prop_map(|(operand, desc)| Order {
        operand,
        direction: if desc {
            Direction::Desc
        } else {
            Direction::Asc
        },
    })
}

fn query() -> impl Strategy<Value = Query> {
    let clause = (
        topic(),
        proptest::option::of(expr()),
        proptest::collection::vec(order(), 0..3),
    )
        .prop_map(|(topic, filter, prefer)| Clause {
            topic,
            filter,
            prefer,
        });
    proptest::collection::vec(clause, 1..4).prop_map(|clauses| Query { clauses })
}

proptest! {
    #[test]
    fn display_round_trips(q in query()) {
        let text = q.to_string();
        let back = Query::parse(&text).map_err(|e| TestCaseError::fail(e.render()))?;
        prop_assert_eq!(&back, &q, "{}", text);
        prop_assert_eq!(back.to_string(), text);
    }

    #[test]
    fn parse_never_panics(text in "[a-zA-Z0-9_ .'()<>=!~,%µ/-]{0,60}") {
        if let Ok(q) = Query::parse(&text) {
            prop_assert_eq!(Query::parse(&q.to_string()).ok(), Some(q));
        }
    }
}
