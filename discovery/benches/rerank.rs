//! Re-ranking a consumer's chain after one of 10 000 adverts changes
//! (DESIGN.md target: ≤ 5 µs median, incremental, never a full re-query).
//!
//! Each iteration republishes one random advert with a new `accuracy` (the
//! first `PREFER` key, so it moves in the chain) and times only
//! `Selection::on_changes` (evaluation of the changed advert, its move in
//! the chain, the switching rules). The registry update is not timed.
//! `full_rank_10000` ranks the same adverts from scratch, for scale.
//!
//! `cargo bench -p vigil-discovery --bench rerank` also prints the median
//! and p99 of 100 000 single timed changes.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use vigil_diag::{State, Timestamp, Trend};
use vigil_discovery::{
    Advert, AdvertKey, EntryView, HealthSummary, Registry, RegistryConfig, RegistryInput,
    Selection, SwitchPolicy,
};
use vigil_qos::{Capabilities, QosPolicies, Quantity, Query};

const N: usize = 10_000;
const QUERY: &str = "imu WHERE health.state <= DEGRADED AND latency_p99 < 1ms \
    AND health.confidence > 0.5 PREFER accuracy, rate DESC";

/// A deterministic pseudo-random sequence (xorshift), so runs compare.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn quantity(text: &str) -> Quantity {
    Quantity::parse(text).expect("bench quantity")
}

fn advert(i: usize, rng: &mut Rng) -> Advert {
    let mut capabilities = Capabilities::new();
    let latency = format!("{}us", 100 + rng.below(850));
    capabilities
        .insert("latency_p99", quantity(&latency))
        .expect("latency");
    capabilities
        .insert("rate", quantity(&format!("{}Hz", 100 + rng.below(900))))
        .expect("rate");
    capabilities
        .insert(
            "accuracy",
            quantity(&format!("0.{:06}", 1 + rng.below(999_999))),
        )
        .expect("accuracy");
    let mut guid = [0u8; 16];
    guid[..8].copy_from_slice(&(i as u64).to_le_bytes());
    Advert {
        key: AdvertKey::new(format!("imu_{i:05}"), "imu"),
        type_name: "sensor_msgs::msg::dds_::Imu_".into(),
        writer_guid: guid,
        capabilities,
        qos: QosPolicies::default(),
        diagnostic_root: None,
        health: HealthSummary {
            state: if i.is_multiple_of(10) {
                State::Degraded
            } else {
                State::Ok
            },
            reason: None,
            confidence: 0.9,
            trend: Trend::Stable,
            nodes: BTreeMap::new(),
        },
        heartbeat_period: Duration::from_millis(20),
        lease: Duration::from_secs(3_600),
        sequence: 1,
        timestamp_ns: 0,
        supervisor: None,
    }
}

struct World {
    registry: Registry,
    selection: Selection,
    adverts: Vec<Advert>,
    rng: Rng,
    now: Timestamp,
}

impl World {
    fn new() -> World {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let registry = Registry::new(RegistryConfig::default());
        let adverts: Vec<Advert> = (0..N).map(|i| advert(i, &mut rng)).collect();
        for a in &adverts {
            registry.apply(RegistryInput::Advert(a.to_wire()), Timestamp::ZERO);
        }
        let query = Query::parse(QUERY).expect("bench query");
        let mut selection = Selection::new(&query, SwitchPolicy::default());
        selection.on_changes(&registry, &[], Timestamp::ZERO);
        assert_eq!(selection.chain().len(), N);
        World {
            registry,
            selection,
            adverts,
            rng,
            now: Timestamp::ZERO,
        }
    }

    /// Republishes one advert with a new accuracy; times only the re-rank.
    /// Also says whether it switched the active producer.
    fn one_change(&mut self) -> (Duration, bool) {
        let i = self.rng.below(N as u64) as usize;
        let accuracy = quantity(&format!("0.{:06}", 1 + self.rng.below(999_999)));
        let a = &mut self.adverts[i];
        a.sequence += 1;
        a.capabilities
            .insert("accuracy", accuracy)
            .expect("accuracy");
        let wire = a.to_wire();
        // Time moves on, so wait-to-restore passes and switches do happen.
        self.now = self.now + Duration::from_millis(1);
        let changes = self.registry.apply(RegistryInput::Advert(wire), self.now);
        let start = Instant::now();
        let event = self
            .selection
            .on_changes(&self.registry, &changes, self.now);
        let elapsed = start.elapsed();
        let switched = event.is_some();
        black_box(event);
        (elapsed, switched)
    }
}

fn rerank(c: &mut Criterion) {
    let mut world = World::new();
    c.bench_function("rerank_one_of_10000", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| world.one_change().0).sum())
    });

    let query = Query::parse(QUERY).expect("bench query").compile();
    let views: Vec<EntryView> = world.registry.snapshot();
    c.bench_function("full_rank_10000", |b| {
        b.iter(|| black_box(query.rank(&views)))
    });

    let (mut quiet, mut switching): (Vec<_>, Vec<_>) = (0..100_000)
        .map(|_| world.one_change())
        .partition(|(_, s)| !*s);
    quiet.sort_unstable();
    switching.sort_unstable();
    let mut all: Vec<Duration> = quiet.iter().chain(&switching).map(|(d, _)| *d).collect();
    all.sort_unstable();
    let pick = |v: &[Duration], q: f64| {
        v.get(((v.len().max(1) - 1) as f64 * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    println!(
        "rerank_one_of_10000, 100 000 single changes: median {:?}, p99 {:?}; \
         {} of them switched the active producer (median {:?}, event included)",
        pick(&all, 0.5),
        pick(&all, 0.99),
        switching.len(),
        pick(&switching.iter().map(|(d, _)| *d).collect::<Vec<_>>(), 0.5),
    );
}

criterion_group!(benches, rerank);
criterion_main!(benches);
