//! The selection's chain, kept incrementally with cached sort keys, orders
//! candidates exactly as vigil-qos's own ranking does.

mod core_support;

use core_support::{advert, t, Sim};
use proptest::prelude::*;
use vigil_discovery::{AdvertKey, SwitchPolicy};
use vigil_qos::{Query, Value};

const QUERIES: [&str; 4] = [
    "imu",
    "imu PREFER acc DESC, flag",
    "imu PREFER acc, flag DESC, label, qos.deadline, health.confidence DESC",
    "imu PREFER label DESC, acc",
];

#[derive(Clone, Debug)]
struct Spec {
    acc: Option<Result<u8, bool>>,
    flag: Option<bool>,
    label: Option<u8>,
    confidence: u8,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        proptest::option::of(prop_oneof![
            (0..4u8).prop_map(Ok),
            any::<bool>().prop_map(Err)
        ]),
        proptest::option::of(any::<bool>()),
        proptest::option::of(0..3u8),
        0..3u8,
    )
        .prop_map(|(acc, flag, label, confidence)| Spec {
            acc,
            flag,
            label,
            confidence,
        })
}

fn sim(query: &str, specs: &[Spec], updates: &[(usize, Spec)]) -> Sim {
    let mut sim = Sim::new(query, SwitchPolicy::default());
    let make = |i: usize, s: &Spec| {
        let mut a = advert(&format!("p{i}"), "imu", &[]);
        match s.acc {
            Some(Ok(n)) => a
                .capabilities
                .insert("acc", Value::number(f64::from(n)).expect("number")),
            Some(Err(b)) => a.capabilities.insert("acc", Value::Bool(b)),
            None => Ok(None),
        }
        .expect("acc");
        if let Some(f) = s.flag {
            a.capabilities.insert("flag", Value::Bool(f)).expect("flag");
        }
        if let Some(l) = s.label {
            a.capabilities
                .insert("label", Value::Text(format!("l{l}")))
                .expect("label");
        }
        a.health.confidence = f64::from(s.confidence) / 2.0;
        a
    };
    for (i, s) in specs.iter().enumerate() {
        sim.publish(make(i, s));
    }
    for (i, s) in updates {
        let i = i % specs.len();
        sim.publish(make(i, s));
    }
    sim
}

proptest! {
    #[test]
    fn chain_order_is_the_query_ranking(
        q in 0..QUERIES.len(),
        specs in proptest::collection::vec(spec(), 1..25),
        updates in proptest::collection::vec((0..25usize, spec()), 0..25),
    ) {
        let sim = sim(QUERIES[q], &specs, &updates);
        let views = sim.registry.snapshot();
        let ranking = Query::parse(QUERIES[q]).expect("query").compile().rank(&views);
        let expected: Vec<AdvertKey> =
            ranking.chain().iter().map(|r| views[r.index].advert.key.clone()).collect();
        prop_assert_eq!(sim.selection.chain(), expected.as_slice());
        let _ = t(0);
    }
}
