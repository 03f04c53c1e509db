//! Tree evaluation benchmarks: full evaluation and single-leaf updates of
//! generated trees of about 1 000, 10 000 and 100 000 nodes with mounts and
//! votes, plus memory per node (measured with a counting allocator).
//!
//! Run: `cargo bench -p vigil-diag --bench tree -- --warm-up-time 1 --measurement-time 3`

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use vigil_diag::{
    CheckSpec, NodeBody, NodeSpec, Observation, Path, Rule, State, Timestamp, Tree, TreeSpec,
};

/// Counts live heap bytes and allocation calls, to report memory per node
/// and to show that an update without a transition does not allocate.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static CALLS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only
// counts on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        CALLS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        CALLS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn p(text: &str) -> Path {
    Path::parse(text).expect("generated paths are valid")
}

fn leaf(path: String, check: CheckSpec) -> NodeSpec {
    node(path, NodeBody::Leaf(check))
}

fn node(path: String, body: NodeBody) -> NodeSpec {
    NodeSpec::new(p(&path), body)
}

fn threshold() -> CheckSpec {
    CheckSpec::Threshold {
        degraded_above: Some(60.0),
        failed_above: Some(80.0),
        degraded_below: None,
        failed_below: None,
        stale_after: Some(Duration::from_secs(3600)),
    }
}

fn range() -> CheckSpec {
    CheckSpec::Range {
        ok: (26.0, 30.0),
        degraded: Some((24.0, 32.0)),
        stale_after: None,
    }
}

fn status() -> CheckSpec {
    CheckSpec::Status { stale_after: None }
}

/// Units per shared power bus (each bus is mounted this many times).
const UNITS_PER_BUS: usize = 50;

/// A generated tree and the inputs that make every leaf OK.
struct Generated {
    spec: TreeSpec,
    inputs: Vec<(Path, Observation)>,
    /// A voted IMU channel: flipping it changes only the leaf.
    voted_leaf: Path,
    /// A power bus voltage, mounted under `UNITS_PER_BUS` units.
    shared_leaf: Path,
}

/// About `target` stored nodes: units of 9 nodes (an IMU voted 2 of 3, a
/// power bus mount, temperature, heartbeat, pump) under a 10-ary hierarchy
/// of implied groups; one shared bus (8 nodes, with a nested comms mount)
/// per 50 units, one comms link (4 nodes) per 4 buses.
fn generate(target: usize) -> Generated {
    let units = (target as f64 / 10.4).round().max(1.0) as usize;
    let buses = units.div_ceil(UNITS_PER_BUS).max(2);
    let links = buses.div_ceil(4);
    let digits = (units - 1).to_string().len();
    let (mut nodes, mut shared, mut inputs) = (Vec::new(), Vec::new(), Vec::new());
    let ok = |path: &str, obs| (p(path), obs);
    for l in 0..links {
        for s in ["carrier", "crc", "latency"] {
            let path = format!("comms.link_{l}.{s}");
            inputs.push(ok(
                &path,
                Observation::Status {
                    state: State::Ok,
                    reason: None,
                },
            ));
            shared.push(leaf(path, status()));
        }
    }
    for b in 0..buses {
        let bus = format!("power.bus_{b}");
        for (label, check, value) in [
            ("voltage", range(), 28.0),
            ("current", threshold(), 10.0),
            ("temp", threshold(), 40.0),
            ("cell_1", range(), 28.0),
            ("cell_2", range(), 28.0),
            ("cell_3", range(), 28.0),
        ] {
            let path = format!("{bus}.{label}");
            inputs.push(ok(&path, Observation::Value(value)));
            shared.push(leaf(path, check));
        }
        shared.push(node(
            format!("{bus}.link"),
            NodeBody::Mount(p(&format!("comms.link_{}", b % links))),
        ));
    }
    let mut voted_leaf = None;
    for u in 0..units {
        let labels: String = format!("{u:0digits$}")
            .chars()
            .map(|d| format!(".x{d}"))
            .collect();
        let unit = format!("vehicle{labels}");
        nodes.push(node(
            format!("{unit}.imu"),
            NodeBody::Inner(Rule::Vote { k: 2 }),
        ));
        for ch in ["a", "b", "c"] {
            let path = format!("{unit}.imu.{ch}");
            inputs.push(ok(&path, Observation::Value(50.0)));
            voted_leaf.get_or_insert_with(|| p(&path));
            nodes.push(leaf(path, threshold()));
        }
        let bus = format!("power.bus_{}", u / UNITS_PER_BUS);
        nodes.push(node(format!("{unit}.power"), NodeBody::Mount(p(&bus))));
        nodes.push(leaf(format!("{unit}.temp"), threshold()));
        inputs.push(ok(&format!("{unit}.temp"), Observation::Value(40.0)));
        nodes.push(leaf(
            format!("{unit}.hb"),
            CheckSpec::Heartbeat {
                timeout: Duration::from_secs(3600),
            },
        ));
        inputs.push(ok(&format!("{unit}.hb"), Observation::Heartbeat));
        nodes.push(leaf(format!("{unit}.pump"), status()));
        inputs.push(ok(
            &format!("{unit}.pump"),
            Observation::Status {
                state: State::Ok,
                reason: None,
            },
        ));
    }
    Generated {
        spec: TreeSpec { nodes, shared },
        inputs,
        voted_leaf: voted_leaf.unwrap_or_else(|| p("vehicle")),
        shared_leaf: p("power.bus_0.voltage"),
    }
}

fn t(ms: u64) -> Timestamp {
    Timestamp::from_nanos(ms * 1_000_000)
}

/// Builds a tree with every leaf OK; prints its size and memory.
fn ready(target: usize) -> (Tree, Generated) {
    let generated = generate(target);
    let before = LIVE.load(Ordering::Relaxed);
    let mut tree = Tree::build(&generated.spec).expect("generated spec is valid");
    let built = LIVE.load(Ordering::Relaxed) - before;
    for (path, obs) in &generated.inputs {
        tree.observe(path, *obs, t(0))
            .expect("generated input is accepted");
    }
    let fed = LIVE.load(Ordering::Relaxed) - before;
    let s = tree.summary();
    assert_eq!(tree.health(&p("vehicle")).map(|h| h.state), Some(State::Ok));
    println!(
        "tree ~{target}: {} stored nodes ({} leaves, {} mounts), {} visible; \
         {} bytes after build = {:.0} B/node; {} bytes with every check fed = {:.0} B/node",
        s.evaluated,
        s.leaves,
        s.mounts,
        s.nodes,
        built,
        built as f64 / s.evaluated as f64,
        fed,
        fed as f64 / s.evaluated as f64,
    );
    (tree, generated)
}

/// Heap allocation calls made by `f`.
fn allocations(f: impl FnOnce()) -> usize {
    let before = CALLS.load(Ordering::Relaxed);
    f();
    CALLS.load(Ordering::Relaxed) - before
}

fn benches(c: &mut Criterion) {
    for target in [1_000usize, 10_000, 100_000] {
        let (mut tree, generated) = ready(target);
        let leaf = generated.voted_leaf.clone();
        let shared = generated.shared_leaf.clone();
        let now = t(1);

        // Warm the scratch buffers, then show the no-transition path is
        // allocation-free.
        tree.observe(&leaf, Observation::Value(51.0), now)
            .expect("accepted");
        let quiet = allocations(|| {
            let out = tree
                .observe(&leaf, Observation::Value(52.0), now)
                .expect("accepted");
            assert!(out.is_empty());
        });
        let flip = allocations(|| {
            let out = tree
                .observe(&leaf, Observation::Value(70.0), now)
                .expect("accepted");
            assert_eq!(out.len(), 1, "only the voted leaf changes");
        });
        tree.observe(&leaf, Observation::Value(50.0), now)
            .expect("accepted");
        println!(
            "tree ~{target}: allocations per update: {quiet} without a transition, {flip} with one"
        );
        for value in [25.0, 28.0] {
            let out = tree
                .observe(&shared, Observation::Value(value), now)
                .expect("accepted");
            let causes: usize = out.iter().map(|t| t.cause.len()).sum();
            println!(
                "tree ~{target}: shared leaf to {value}: {} transitions, {causes} cause paths",
                out.len()
            );
        }

        let mut group = c.benchmark_group("tree");
        group.bench_function(BenchmarkId::new("reevaluate_all", target), |b| {
            b.iter(|| black_box(tree.reevaluate_all(now)))
        });
        // OK <-> DEGRADED on one IMU channel; the 2-of-3 vote holds, so one
        // transition (the leaf's) per iteration.
        let mut high = false;
        group.bench_function(BenchmarkId::new("leaf_update", target), |b| {
            b.iter(|| {
                high = !high;
                let value = if high { 70.0 } else { 50.0 };
                black_box(
                    tree.observe(&leaf, Observation::Value(value), now)
                        .expect("accepted"),
                )
            })
        });
        // The same leaf within its OK band: re-evaluated, nothing climbs.
        group.bench_function(BenchmarkId::new("leaf_update_no_transition", target), |b| {
            b.iter(|| {
                high = !high;
                let value = if high { 51.0 } else { 50.0 };
                black_box(
                    tree.observe(&leaf, Observation::Value(value), now)
                        .expect("accepted"),
                )
            })
        });
        // OK <-> DEGRADED on a bus voltage mounted under 50 units: every
        // mount path and every ancestor up to the root transitions.
        group.bench_function(BenchmarkId::new("shared_leaf_update", target), |b| {
            b.iter(|| {
                high = !high;
                let value = if high { 25.0 } else { 28.0 };
                black_box(
                    tree.observe(&shared, Observation::Value(value), now)
                        .expect("accepted"),
                )
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = tree;
    config = Criterion::default();
    targets = benches
}
criterion_main!(tree);
