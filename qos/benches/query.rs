//! One compiled query over 1 000, 10 000 and 100 000 adverts (DESIGN.md
//! target: ≤ 100 µs median for 10 000).
//!
//! The adverts are all on the query's topic (the worst case: no topic index
//! narrows them) with varied health, capabilities and diagnostic nodes, so
//! every condition is read, and about 14 % of them satisfy the query and are
//! sorted. Three paths: a [`MatchTable`] (columns, condition-major
//! evaluation) ranking the whole chain or only its best 8, and a plain slice
//! of [`AdvertView`]s through the generic `Candidate` evaluator.
//!
//! Run: `cargo bench -p vigil-qos --bench query -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use vigil_diag::{Path, State};
use vigil_qos::{AdvertView, MatchTable, Quantity, Query, Ranking, Value};

const QUERY: &str = "imu WHERE health.state = OK AND health.confidence > 0.9 \
     AND latency_p99 < 1ms AND health('vehicle.sensors') != FAILED \
     PREFER accuracy ASC, rate DESC";

/// Deterministic adverts: a small LCG, no I/O, no clock.
fn adverts(n: usize) -> Vec<AdvertView> {
    let mut seed: u64 = 0x5eed;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as u32
    };
    let sensors = Path::parse("vehicle.sensors").unwrap();
    let power = Path::parse("vehicle.power").unwrap();
    (0..n)
        .map(|i| {
            let mut a = AdvertView::new(format!("imu_{i:06}"), "imu");
            let caps = &mut a.capabilities;
            caps.insert(
                "rate",
                Quantity::parse(&format!("{}Hz", 50 + next() % 950)).unwrap(),
            )
            .unwrap();
            if next() % 10 != 0 {
                caps.insert(
                    "latency_p99",
                    Quantity::parse(&format!("{}us", 100 + next() % 1900)).unwrap(),
                )
                .unwrap();
            }
            caps.insert(
                "accuracy",
                Value::number(f64::from(next() % 100) / 10_000.0).unwrap(),
            )
            .unwrap();
            caps.insert("frame", Value::Text("imu_link".into()))
                .unwrap();
            a.health.state = match next() % 10 {
                0 => State::Failed,
                1 => State::Degraded,
                2 => State::Unknown,
                _ => State::Ok,
            };
            a.health.confidence = 0.8 + f64::from(next() % 200) / 1000.0;
            let sensor_state = if next() % 20 == 0 {
                State::Failed
            } else {
                State::Ok
            };
            a.health.nodes.insert(sensors.clone(), sensor_state);
            a.health.nodes.insert(power.clone(), State::Ok);
            a
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let compiled = Query::parse(QUERY).unwrap().compile();
    let sizes = [1_000, 10_000, 100_000];
    let data: Vec<(Vec<AdvertView>, MatchTable)> = sizes
        .iter()
        .map(|&n| {
            let adverts = adverts(n);
            let mut table = MatchTable::new();
            for a in &adverts {
                table.insert(a);
            }
            (adverts, table)
        })
        .collect();

    // The registry's path: adverts stored by column, the whole chain ranked.
    let mut group = c.benchmark_group("query_table_full_chain");
    for (n, (_, table)) in sizes.iter().zip(&data) {
        let mut ranking = Ranking::default();
        compiled.rank_table_into(table, &mut ranking);
        eprintln!("{n} adverts: {} in the chain", ranking.chain().len());
        group.throughput(Throughput::Elements(*n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), table, |b, table| {
            b.iter(|| {
                compiled.rank_table_into(black_box(table), &mut ranking);
                black_box(ranking.selected())
            })
        });
    }
    group.finish();

    // The same, keeping the best 8 (active producer and standbys).
    let mut group = c.benchmark_group("query_table_top8");
    for (n, (_, table)) in sizes.iter().zip(&data) {
        let mut ranking = Ranking::default();
        group.throughput(Throughput::Elements(*n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), table, |b, table| {
            b.iter(|| {
                compiled.rank_table_top_into(black_box(table), 8, &mut ranking);
                black_box(ranking.selected())
            })
        });
    }
    group.finish();

    // The generic path: any `Candidate`, here a slice of owned adverts.
    let mut group = c.benchmark_group("query_slice_full_chain");
    for (n, (adverts, _)) in sizes.iter().zip(&data) {
        let mut ranking = Ranking::default();
        group.throughput(Throughput::Elements(*n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), adverts, |b, adverts| {
            b.iter(|| {
                compiled.rank_into(black_box(adverts), &mut ranking);
                black_box(ranking.selected())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
