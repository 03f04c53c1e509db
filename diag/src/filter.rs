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
mod tests;
