//! Per-node filtering of state changes: debounce, flap damping, latching, trend.
//!
//! A [`Filter`] turns the raw state a node computes into the state it
//! reports, in three stages applied in this order:
//!
//! 1. **Debounce** ([`Debounce`]) decides the *debounced* state.
//! 2. **Flap damping** ([`FlapDamping`], RFC 2439) may hold it.
//! 3. **Latch** keeps FAILED until [`Filter::reset`].
//!
//! The first call to [`Filter::apply`] reports the raw state as it is: there
//! is no history to debounce against.
//!
//! # Debounce
//!
//! The four states are ordered `OK < DEGRADED < UNKNOWN < FAILED`, which
//! makes three *boundaries*: "worse than OK", "worse than DEGRADED" and
//! "worse than UNKNOWN". Each boundary is debounced on its own as a yes/no
//! signal ("is raw worse than this?"); a boundary that is *tripped* says the
//! node is reported worse than it. The debounced state is the state just
//! past the highest tripped boundary (OK when none is). With two states in
//! play this is exactly the classic single-signal debounce; with more it
//! lets a node that goes FAILED → DEGRADED report DEGRADED once the "worse
//! than DEGRADED" boundary clears, even while "worse than OK" stays tripped.
//!
//! - **No debounce**: a boundary is tripped exactly while raw is worse than
//!   it; the debounced state is the raw state.
//! - **`Counter { trip, limit }`** (ArduPilot's leaky counter): each apply,
//!   a boundary's counter goes up by one when raw is worse than the boundary
//!   ("bad" for it) and down by one otherwise, kept within `0..=limit`. The
//!   boundary trips when its counter reaches `trip` and clears only when it
//!   drains back to 0. So a degradation is reported after `trip` bad
//!   applies (at once for `trip = 1`), and an improvement after up to
//!   `limit` good ones. The counter counts *calls to apply*, not time: call
//!   `apply` once per evaluation (every observation of a leaf, every
//!   re-evaluation of an inner node, every timer the tree fires for it);
//!   [`Filter::next_change`] never schedules counter progress. A `trip` of 0
//!   is taken as 1 and a `limit` below `trip` as `trip` (the tree builder
//!   rejects both, see [`validate_filter`]).
//! - **`Hold(d)`**: a boundary trips the moment raw is worse than it, and
//!   clears once raw has stayed at or better than it for `d`. Degradations
//!   are immediate; an improvement is reported when the better state has
//!   held for `d` (equivalently: the debounced state is the worst raw state
//!   of the last `d`).
//!
//! Right after the first apply, boundaries below the raw state count as
//! freshly tripped (a counter at `trip`; a hold that starts once raw gets
//! better), the others as clear.
//!
//! # Flap damping
//!
//! Every apply whose raw state differs from the previous one adds
//! `penalty`; the penalty halves every `half_life`. When it rises above
//! `suppress` the node is *suppressed*: it reports the worst state seen
//! since suppression began (the state reported just before, and every raw
//! and debounced state since), with trend `intermittent`, so it only ever
//! gets worse while suppressed. Once the penalty decays below `reuse` the node is released
//! and reports its debounced state again. As in RFC 2439 the penalty is
//! capped, at `reuse × 2⁴` (or `suppress + penalty` if that is higher), so a
//! node is released at most about four half-lives after it stops flapping
//! (RFC 2439's default max-suppress-time is four half-lives).
//!
//! # Latch
//!
//! With `latch`, once FAILED is reported it stays FAILED until
//! [`Filter::reset`], which clears the latch, the debounce memory (the next
//! apply reports the raw state as a first apply would) and the flap stage's
//! worst-seen state; the flap penalty itself is kept, it records real
//! flapping.
//!
//! # Trend
//!
//! In order of precedence: `intermittent` while suppressed; `recovering`
//! while the debounce holds back an improvement (the debounced state is
//! worse than raw, and no latch holds the node); `degrading` or
//! `recovering` for [`TREND_WINDOW`] after the reported state last got
//! worse or better; `stable` otherwise. A degradation still being counted
//! by a `Counter` debounce is not reported, so neither is its trend.
//!
//! # Time
//!
//! Time is monotonic per filter: a `now` earlier than the last apply is
//! taken as the last apply's time.

use std::time::Duration;

use crate::damping::FlapPenalty;
use crate::health::{State, Trend};
use crate::spec::{Debounce, FilterSpec, FlapDamping};
use crate::time::Timestamp;

/// How long after a change of the reported state the trend says
/// `degrading` or `recovering`.
pub(crate) const TREND_WINDOW: Duration = Duration::from_secs(10);

/// The filter of one node.
///
/// Small when the node has no filter spec (the common case in a tree of
/// 100 000 nodes): debounce, flap and latch state live behind one box that
/// only configured nodes allocate.
#[derive(Clone, Debug)]
pub(crate) struct Filter {
    /// The raw state of the last apply; `None` before the first.
    last_raw: Option<State>,
    /// The state last reported.
    reported: State,
    /// Which way the reported state last changed, if it ever did.
    change: Option<Direction>,
    /// When the reported state last changed (meaningful with `change`).
    change_at: Timestamp,
    /// The last apply; time never goes back before it.
    last: Timestamp,
    stages: Option<Box<Stages>>,
}

/// What a filter reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Filtered {
    pub(crate) state: State,
    pub(crate) trend: Trend,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Worse,
    Better,
}

#[derive(Clone, Debug)]
struct Stages {
    debounce: Option<Debouncer>,
    flap: Option<Flap>,
    latch: bool,
    latched: bool,
}

/// Per-boundary debounce memory; index `b` is the boundary "worse than
/// the state of rank `b`".
#[derive(Clone, Debug)]
enum Debouncer {
    Counter {
        trip: u32,
        limit: u32,
        count: [u32; 3],
        tripped: [bool; 3],
    },
    Hold {
        hold: Duration,
        /// When each boundary may clear; `None` while raw is worse than it.
        clears_at: [Option<Timestamp>; 3],
    },
}

#[derive(Clone, Debug)]
struct Flap {
    spec: FlapDamping,
    penalty: FlapPenalty,
    /// Worst state seen since suppression began.
    worst: State,
}

fn rank(state: State) -> usize {
    match state {
        State::Ok => 0,
        State::Degraded => 1,
        State::Unknown => 2,
        State::Failed => 3,
    }
}

/// The state past the highest tripped boundary.
fn past(highest_tripped: Option<usize>) -> State {
    highest_tripped.map_or(State::Ok, |b| State::ALL[(b + 1).min(3)])
}

impl Debouncer {
    fn new(spec: &Debounce) -> Debouncer {
        match *spec {
            Debounce::Counter { trip, limit } => Debouncer::Counter {
                trip: trip.max(1),
                limit: limit.max(trip).max(1),
                count: [0; 3],
                tripped: [false; 3],
            },
            Debounce::Hold(hold) => Debouncer::Hold {
                hold,
                clears_at: [None; 3],
            },
        }
    }

    /// Forgets history: boundaries below `raw` freshly tripped, the others
    /// clear.
    fn start(&mut self, raw: State, now: Timestamp) {
        match self {
            Debouncer::Counter {
                trip,
                count,
                tripped,
                ..
            } => {
                for b in 0..3 {
                    tripped[b] = rank(raw) > b;
                    count[b] = if tripped[b] { *trip } else { 0 };
                }
            }
            Debouncer::Hold { clears_at, .. } => {
                // A boundary raw is worse than clears a full hold after raw
                // gets better (see `update`).
                for (b, at) in clears_at.iter_mut().enumerate() {
                    *at = (rank(raw) <= b).then_some(now);
                }
            }
        }
    }

    fn update(&mut self, raw: State, now: Timestamp) {
        match self {
            Debouncer::Counter {
                trip,
                limit,
                count,
                tripped,
            } => {
                for b in 0..3 {
                    count[b] = if rank(raw) > b {
                        count[b].saturating_add(1).min(*limit)
                    } else {
                        count[b].saturating_sub(1)
                    };
                    if count[b] >= *trip {
                        tripped[b] = true;
                    } else if count[b] == 0 {
                        tripped[b] = false;
                    }
                }
            }
            Debouncer::Hold { hold, clears_at } => {
                for (b, at) in clears_at.iter_mut().enumerate() {
                    if rank(raw) > b {
                        *at = None;
                    } else if at.is_none() {
                        *at = Some(now + *hold);
                    }
                }
            }
        }
    }

    /// The highest boundary tripped at `now`.
    fn highest_tripped(&self, now: Timestamp) -> Option<usize> {
        (0..3).rev().find(|&b| match self {
            Debouncer::Counter { tripped, .. } => tripped[b],
            Debouncer::Hold { clears_at, .. } => clears_at[b].is_none_or(|t| t > now),
        })
    }

    fn state(&self, now: Timestamp) -> State {
        past(self.highest_tripped(now))
    }

    /// When the debounced state next changes with raw unchanged: the
    /// highest tripped boundary clears (lower ones clear no earlier, since
    /// raw left them no later). Counters move only when applied.
    fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
        match self {
            Debouncer::Counter { .. } => None,
            Debouncer::Hold { clears_at, .. } => clears_at[self.highest_tripped(now)?],
        }
    }
}

impl Flap {
    fn new(spec: &FlapDamping, now: Timestamp, raw: State) -> Flap {
        Flap {
            spec: spec.clone(),
            penalty: FlapPenalty::new(now),
            worst: raw,
        }
    }

    fn suppressed_at(&self, now: Timestamp) -> bool {
        self.penalty.suppressed_at(now)
    }

    /// Runs one apply through flap damping; returns the state to report.
    fn apply(
        &mut self,
        raw: State,
        changed: bool,
        debounced: State,
        reported: State,
        now: Timestamp,
    ) -> State {
        if changed && self.penalty.record_change(&self.spec, now) {
            self.worst = reported.max(raw);
        }
        if !self.suppressed_at(now) {
            return debounced;
        }
        self.worst = self.worst.max(raw).max(debounced);
        self.worst
    }
}

impl Filter {
    /// A filter doing what `spec` says; a default spec only tracks the trend.
    pub(crate) fn new(spec: &FilterSpec) -> Filter {
        let stages = (spec.debounce.is_some() || spec.flap.is_some() || spec.latch).then(|| {
            Box::new(Stages {
                debounce: spec.debounce.as_ref().map(Debouncer::new),
                // Flap state needs a first time and state; see `apply`.
                flap: spec
                    .flap
                    .as_ref()
                    .map(|f| Flap::new(f, Timestamp::ZERO, State::Unknown)),
                latch: spec.latch,
                latched: false,
            })
        });
        Filter {
            last_raw: None,
            reported: State::Unknown,
            change: None,
            change_at: Timestamp::ZERO,
            last: Timestamp::ZERO,
            stages,
        }
    }

    /// Feeds the raw state computed at `now`; returns what to report.
    pub(crate) fn apply(&mut self, raw: State, now: Timestamp) -> Filtered {
        let now = now.max(self.last);
        self.last = now;
        let Some(last_raw) = self.last_raw.replace(raw) else {
            // First apply: nothing to debounce against.
            if let Some(stages) = &mut self.stages {
                if let Some(d) = &mut stages.debounce {
                    d.start(raw, now);
                }
                if let Some(f) = &mut stages.flap {
                    *f = Flap::new(&f.spec, now, raw);
                }
                stages.latched = stages.latch && raw == State::Failed;
            }
            self.reported = raw;
            return Filtered {
                state: raw,
                trend: Trend::Stable,
            };
        };
        let previous = self.reported;
        let reported = match &mut self.stages {
            None => raw,
            Some(stages) => stages.apply(raw, raw != last_raw, previous, now),
        };
        if reported != previous {
            self.change = Some(if reported > previous {
                Direction::Worse
            } else {
                Direction::Better
            });
            self.change_at = now;
        }
        self.reported = reported;
        Filtered {
            state: reported,
            trend: self.trend(now),
        }
    }

    /// The earliest time after `now` at which `apply` with the same raw
    /// state may return something else: a hold elapsing, a suppressed node
    /// released, a trend window ending. `None` if never. Exact for these
    /// causes: at the returned time the result does change. Counter
    /// debounces progress per apply, not per time, and are not included.
    pub(crate) fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
        let raw = self.last_raw?;
        let now = now.max(self.last);
        let mut next: Option<Timestamp> = None;
        let mut offer = |t: Timestamp| {
            if t > now && next.is_none_or(|n| t < n) {
                next = Some(t);
            }
        };
        let stages = self.stages.as_deref();
        let latched = stages.is_some_and(|s| s.latched);
        let flap = stages.and_then(|s| s.flap.as_ref());
        let debounce = stages.and_then(|s| s.debounce.as_ref());
        let suppressed_at = |t| flap.is_some_and(|f| f.suppressed_at(t));
        let pending_at = |t| !latched && debounce.is_some_and(|d| d.state(t) > raw);
        if let Some(f) = flap.filter(|f| f.suppressed_at(now)) {
            if let Some(release) = f.penalty.release_at() {
                offer(release);
            }
        } else if let (Some(d), false) = (debounce, latched) {
            if let Some(t) = d.next_change(now) {
                offer(t);
            }
        }
        if self.change.is_some() {
            let end = self.change_at + TREND_WINDOW;
            // The window's end shows only if nothing else sets the trend.
            if !suppressed_at(end) && !pending_at(end) {
                offer(end);
            }
        }
        next
    }

    /// Clears a latch (and debounce memory); returns true if something was
    /// latched. The reported state changes at the next `apply`.
    pub(crate) fn reset(&mut self, now: Timestamp) -> bool {
        let now = now.max(self.last);
        let (Some(stages), Some(raw)) = (self.stages.as_deref_mut(), self.last_raw) else {
            return false;
        };
        if let Some(d) = &mut stages.debounce {
            d.start(raw, now);
        }
        if let Some(f) = &mut stages.flap {
            f.worst = raw;
        }
        std::mem::replace(&mut stages.latched, false)
    }

    pub(crate) fn is_latched(&self) -> bool {
        self.stages.as_ref().is_some_and(|s| s.latched)
    }

    fn trend(&self, now: Timestamp) -> Trend {
        let Some(stages) = self.stages.as_deref() else {
            return self.window_trend(now);
        };
        if stages.flap.as_ref().is_some_and(|f| f.suppressed_at(now)) {
            return Trend::Intermittent;
        }
        let pending = match (&stages.debounce, self.last_raw) {
            (Some(d), Some(raw)) => !stages.latched && d.state(now) > raw,
            _ => false,
        };
        if pending {
            return Trend::Recovering;
        }
        self.window_trend(now)
    }

    fn window_trend(&self, now: Timestamp) -> Trend {
        match self.change {
            Some(_) if now >= self.change_at + TREND_WINDOW => Trend::Stable,
            Some(Direction::Worse) => Trend::Degrading,
            Some(Direction::Better) => Trend::Recovering,
            None => Trend::Stable,
        }
    }
}

impl Stages {
    fn apply(&mut self, raw: State, changed: bool, reported: State, now: Timestamp) -> State {
        let debounced = match &mut self.debounce {
            Some(d) => {
                d.update(raw, now);
                d.state(now)
            }
            None => raw,
        };
        let held = match &mut self.flap {
            Some(f) => f.apply(raw, changed, debounced, reported, now),
            None => debounced,
        };
        if self.latch && held == State::Failed {
            self.latched = true;
        }
        if self.latched {
            State::Failed
        } else {
            held
        }
    }
}

/// Every problem with a filter spec, each naming its field
/// (`debounce.trip`, `flap.reuse`, ...). Empty when valid.
pub(crate) fn validate_filter(spec: &FilterSpec) -> Vec<String> {
    let mut problems = Vec::new();
    match spec.debounce {
        Some(Debounce::Counter { trip: 0, .. }) => {
            problems.push("debounce.trip must be at least 1".to_owned())
        }
        Some(Debounce::Counter { trip, limit }) if limit < trip => problems.push(format!(
            "debounce.limit ({limit}) must be at least debounce.trip ({trip})"
        )),
        Some(Debounce::Hold(hold)) if hold.is_zero() => problems
            .push("debounce.hold must be longer than zero (omit debounce for none)".to_owned()),
        _ => {}
    }
    if let Some(f) = &spec.flap {
        let positive = |v: f64| v.is_finite() && v > 0.0;
        for (name, value) in [
            ("penalty", f.penalty),
            ("suppress", f.suppress),
            ("reuse", f.reuse),
        ] {
            if !positive(value) {
                problems.push(format!(
                    "flap.{name} must be a positive finite number, not {value}"
                ));
            }
        }
        if f.half_life.is_zero() {
            problems.push("flap.half_life must be longer than zero".to_owned());
        }
        if positive(f.suppress) && positive(f.reuse) && f.reuse >= f.suppress {
            problems.push(format!(
                "flap.reuse ({}) must be below flap.suppress ({}): a released node would be suppressed again at once",
                f.reuse, f.suppress
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use State::{Degraded as D, Failed as F, Ok as O, Unknown as U};
    use Trend::{Degrading, Intermittent, Recovering, Stable};

    fn ms(n: u64) -> Timestamp {
        Timestamp::from_nanos(n * 1_000_000)
    }

    fn spec(debounce: Option<Debounce>, flap: Option<FlapDamping>, latch: bool) -> FilterSpec {
        FilterSpec {
            debounce,
            flap,
            latch,
        }
    }

    fn debounced(debounce: Debounce) -> Filter {
        Filter::new(&spec(Some(debounce), None, false))
    }

    fn out(state: State, trend: Trend) -> Filtered {
        Filtered { state, trend }
    }

    /// Applies `(time ms, raw)` steps and returns the last result.
    fn run(filter: &mut Filter, steps: &[(u64, State)]) -> Filtered {
        steps
            .iter()
            .fold(out(U, Stable), |_, &(t, raw)| filter.apply(raw, ms(t)))
    }

    #[test]
    fn no_spec_passes_through_and_tracks_the_trend() {
        let mut f = Filter::new(&FilterSpec::default());
        assert_eq!(f.next_change(ms(0)), None);
        assert_eq!(f.apply(O, ms(0)), out(O, Stable));
        assert_eq!(f.apply(F, ms(1000)), out(F, Degrading));
        assert_eq!(f.next_change(ms(1000)), Some(ms(11_000)));
        assert_eq!(f.apply(F, ms(10_999)), out(F, Degrading));
        assert_eq!(f.apply(F, ms(11_000)), out(F, Stable));
        assert_eq!(f.next_change(ms(11_000)), None);
        assert_eq!(f.apply(D, ms(12_000)), out(D, Recovering));
        assert!(!f.reset(ms(12_000)) && !f.is_latched());
        assert!(std::mem::size_of::<Filter>() <= 32);
    }

    #[test]
    fn counter_trips_after_n_bad_and_clears_only_when_drained() {
        let mut f = debounced(Debounce::Counter { trip: 3, limit: 5 });
        f.apply(O, ms(0));
        // Bad, good, bad, good: the counter never reaches 3.
        for (i, raw) in [F, O, F, O, F, F].into_iter().enumerate() {
            assert_eq!(f.apply(raw, ms(i as u64)).state, O, "step {i}");
        }
        assert_eq!(f.apply(F, ms(10)), out(F, Degrading));
        for t in 11..20 {
            f.apply(F, ms(t)); // the counter stays at its limit, 5
        }
        for t in 20..24 {
            assert_eq!(f.apply(O, ms(t)), out(F, Recovering), "draining at {t}");
        }
        // Counters never schedule, and the pending recovery outlasts the
        // trend window.
        assert_eq!(f.next_change(ms(24)), None);
        assert_eq!(f.apply(O, ms(24)), out(O, Recovering));
    }

    #[test]
    fn counter_clears_each_boundary_on_its_own() {
        let mut f = debounced(Debounce::Counter { trip: 1, limit: 2 });
        let steps = [(0, O), (1, F), (2, F)];
        assert_eq!(run(&mut f, &steps).state, F, "trip 1: at once");
        assert_eq!(f.apply(D, ms(3)).state, F);
        assert_eq!(f.apply(D, ms(4)).state, D, "worse-than-DEGRADED drained");
        assert_eq!(f.apply(D, ms(5)).state, D);
    }

    #[test]
    fn hold_delays_improvements_step_by_step() {
        let mut f = debounced(Debounce::Hold(Duration::from_secs(1)));
        f.apply(O, ms(0));
        assert_eq!(
            f.apply(F, ms(1000)),
            out(F, Degrading),
            "degradations at once"
        );
        assert_eq!(f.apply(O, ms(2000)), out(F, Recovering));
        assert_eq!(f.next_change(ms(2000)), Some(ms(3000)));
        assert_eq!(f.apply(O, ms(2999)), out(F, Recovering));
        assert_eq!(f.apply(O, ms(3000)), out(O, Recovering));
        f.apply(F, ms(4000));
        f.apply(D, ms(4500));
        f.apply(O, ms(5000));
        assert_eq!(f.next_change(ms(5000)), Some(ms(5500)));
        assert_eq!(f.apply(O, ms(5500)).state, D);
        assert_eq!(f.apply(O, ms(6000)).state, O);
        // A relapse restarts the hold.
        f.apply(D, ms(7000));
        f.apply(O, ms(7500));
        assert_eq!(f.apply(O, ms(8400)).state, D);
        assert_eq!(f.apply(O, ms(8500)).state, O);
    }

    #[test]
    fn flapping_is_suppressed_until_the_penalty_decays() {
        let mut f = Filter::new(&spec(None, Some(FlapDamping::default()), false));
        let steps = [(0, O), (100, F), (200, O)];
        assert_eq!(run(&mut f, &steps), out(O, Recovering));
        // The third change takes the penalty above 2.5.
        assert_eq!(f.apply(D, ms(300)), out(D, Intermittent));
        assert_eq!(
            f.apply(O, ms(400)),
            out(D, Intermittent),
            "never better while suppressed"
        );
        assert_eq!(f.apply(F, ms(500)), out(F, Intermittent));
        assert_eq!(f.apply(O, ms(600)), out(F, Intermittent));
        let release = f.next_change(ms(600)).unwrap();
        // Six changes in 0.5 s: penalty ≈ 5.8, released log2(5.8 / 0.75) × 5 s
        // ≈ 14.75 s later.
        assert!(release > ms(15_300) && release < ms(15_400), "{release}");
        let before = Timestamp::from_nanos(release.as_nanos() - 1);
        assert_eq!(f.clone().apply(O, before), out(F, Intermittent));
        assert_eq!(f.apply(O, release), out(O, Recovering));
    }

    #[test]
    fn suppression_holds_the_reported_state_it_started_from() {
        let hold = Some(Debounce::Hold(Duration::from_secs(60)));
        let mut f = Filter::new(&spec(hold, Some(FlapDamping::default()), false));
        let steps = [(0, F), (10, O), (20, F), (30, O)];
        assert_eq!(run(&mut f, &steps), out(F, Intermittent));
    }

    #[test]
    fn latch_keeps_failed_until_reset() {
        let mut f = Filter::new(&spec(None, None, true));
        f.apply(O, ms(0));
        assert_eq!(f.apply(F, ms(1)).state, F);
        assert!(f.is_latched());
        assert_eq!(
            f.apply(O, ms(2)),
            out(F, Degrading),
            "no recovery shown while latched"
        );
        assert!(f.reset(ms(3)));
        assert!(!f.is_latched());
        assert_eq!(f.apply(O, ms(4)), out(O, Recovering));
        assert!(!f.reset(ms(5)));
        // A first apply of FAILED latches too.
        let mut g = Filter::new(&spec(None, None, true));
        g.apply(F, ms(0));
        assert_eq!(g.apply(O, ms(1)).state, F);
    }

    #[test]
    fn reset_clears_debounce_memory() {
        let counter = Some(Debounce::Counter { trip: 1, limit: 10 });
        let mut f = Filter::new(&spec(counter, None, true));
        run(&mut f, &[(0, O), (1, F), (2, F), (3, O)]);
        assert!(f.reset(ms(4)));
        assert_eq!(f.apply(O, ms(5)).state, O, "no counter left to drain");
    }

    #[test]
    fn time_never_runs_backwards() {
        let mut f = Filter::new(&FilterSpec::default());
        f.apply(O, ms(5000));
        assert_eq!(f.apply(F, ms(1000)), out(F, Degrading));
        assert_eq!(f.next_change(ms(0)), Some(ms(15_000)));
    }

    #[test]
    fn validation_names_each_field() {
        let bad = spec(
            Some(Debounce::Counter { trip: 3, limit: 2 }),
            Some(FlapDamping {
                penalty: f64::NAN,
                half_life: Duration::ZERO,
                suppress: 1.0,
                reuse: 2.0,
            }),
            false,
        );
        let problems = validate_filter(&bad);
        let wanted = [
            "debounce.limit (2)",
            "flap.penalty",
            "flap.half_life",
            "flap.reuse (2)",
        ];
        assert_eq!(problems.len(), wanted.len(), "{problems:?}");
        for (p, w) in problems.iter().zip(wanted) {
            assert!(p.contains(w), "{p:?} should name {w:?}");
        }
        let zero = spec(Some(Debounce::Counter { trip: 0, limit: 0 }), None, false);
        assert!(validate_filter(&zero)[0].contains("debounce.trip"));
        assert!(
            validate_filter(&spec(Some(Debounce::Hold(Duration::ZERO)), None, false))[0]
                .contains("debounce.hold")
        );
        assert!(validate_filter(&spec(None, Some(FlapDamping::default()), true)).is_empty());
    }

    fn state() -> impl Strategy<Value = State> {
        prop::sample::select(State::ALL.to_vec())
    }

    /// Time gaps in ms (often zero or small, so flapping happens) and raw states.
    fn steps() -> impl Strategy<Value = Vec<(u64, State)>> {
        prop::collection::vec(
            (prop_oneof![Just(0u64), 0u64..300, 0u64..20_000], state()),
            1..40,
        )
    }

    fn debounce(counter: bool) -> impl Strategy<Value = Option<Debounce>> {
        let hold = (0u64..3000).prop_map(|n| Some(Debounce::Hold(Duration::from_millis(n))));
        if counter {
            (1u32..4, 0u32..4)
                .prop_map(|(trip, extra)| {
                    Some(Debounce::Counter {
                        trip,
                        limit: trip + extra,
                    })
                })
                .boxed()
        } else {
            prop_oneof![Just(None), hold].boxed()
        }
    }

    fn flap() -> impl Strategy<Value = Option<FlapDamping>> {
        prop_oneof![
            Just(None),
            Just(Some(FlapDamping::default())),
            (0.5f64..2.0, 10u64..5000).prop_map(|(penalty, half)| Some(FlapDamping {
                penalty,
                half_life: Duration::from_millis(half),
                suppress: 2.0,
                reuse: 0.5,
            })),
        ]
    }

    fn any_spec(counter: bool) -> impl Strategy<Value = FilterSpec> {
        (debounce(counter), flap(), any::<bool>()).prop_map(|(d, f, l)| spec(d, f, l))
    }

    /// Runs the steps, calling `check(raw, result)` after each.
    fn replay(spec: &FilterSpec, steps: &[(u64, State)], mut check: impl FnMut(State, Filtered)) {
        let mut f = Filter::new(spec);
        let mut now = Timestamp::ZERO;
        for &(gap, raw) in steps {
            now = now + Duration::from_millis(gap);
            let result = f.apply(raw, now);
            check(raw, result);
        }
    }

    proptest! {
        #[test]
        fn without_a_spec_output_is_raw(steps in steps()) {
            replay(&FilterSpec::default(), &steps, |raw, result| assert_eq!(result.state, raw));
        }

        #[test]
        fn a_latch_holds_failed_until_reset(spec in prop_oneof![any_spec(false), any_spec(true)], steps in steps(), resets in prop::collection::vec(any::<bool>(), 40)) {
            let spec = FilterSpec { latch: true, ..spec };
            let mut f = Filter::new(&spec);
            let (mut now, mut failed) = (Timestamp::ZERO, false);
            for (i, &(gap, raw)) in steps.iter().enumerate() {
                now = now + Duration::from_millis(gap);
                if resets[i] && i % 5 == 0 {
                    prop_assert_eq!(f.reset(now), failed);
                    failed = false;
                }
                let result = f.apply(raw, now);
                prop_assert!(!failed || result.state == F, "latched yet {:?}", result);
                failed |= result.state == F;
                prop_assert_eq!(f.is_latched(), failed);
            }
        }

        #[test]
        fn improvements_are_delayed_never_invented(spec in any_spec(false), limit in prop::option::of(1u32..4), hold in 0u64..3000, steps in steps()) {
            // Hold, or a counter that trips at once: degradations are not delayed.
            let debounce = match limit {
                Some(limit) => Debounce::Counter { trip: 1, limit },
                None => Debounce::Hold(Duration::from_millis(hold)),
            };
            let spec = FilterSpec { debounce: Some(debounce), ..spec };
            replay(&spec, &steps, |raw, result| assert!(result.state >= raw, "{result:?} better than raw {raw:?}"));
        }

        #[test]
        fn a_counter_never_invents_a_degradation(spec in any_spec(true), steps in steps()) {
            let mut worst = O;
            replay(&spec, &steps, |raw, result| {
                worst = worst.max(raw);
                assert!(result.state <= worst);
            });
        }

        #[test]
        fn suppressed_never_gets_better(spec in prop_oneof![any_spec(false), any_spec(true)], steps in steps()) {
            let mut last: Option<Filtered> = None;
            replay(&spec, &steps, |_, result| {
                if let Some(prev) = last.filter(|p| p.trend == Intermittent && result.trend == Intermittent) {
                    assert!(result.state >= prev.state, "{prev:?} -> {result:?}");
                }
                last = Some(result);
            });
        }

        /// Same raw: the result holds strictly before `next_change` and
        /// changes at it (counter debounces progress per apply, so excluded).
        #[test]
        fn next_change_is_exact(spec in any_spec(false), steps in steps(), probes in prop::collection::vec(0u64..40_000, 4)) {
            let mut f = Filter::new(&spec);
            let mut now = Timestamp::ZERO;
            let mut here = out(U, Stable);
            for &(gap, raw) in &steps {
                now = now + Duration::from_millis(gap);
                here = f.apply(raw, now);
            }
            let raw = steps[steps.len() - 1].1;
            let next = f.next_change(now);
            for probe in probes {
                let t = now + Duration::from_millis(probe);
                if next.is_none_or(|n| t < n) {
                    prop_assert_eq!(f.clone().apply(raw, t), here, "at {} (next {:?})", t, next);
                }
            }
            if let Some(n) = next {
                prop_assert!(n > now);
                prop_assert_ne!(f.clone().apply(raw, n), here, "nothing changed at {}", n);
                prop_assert_eq!(f.clone().apply(raw, Timestamp::from_nanos(n.as_nanos() - 1)), here);
            }
        }
    }
}
