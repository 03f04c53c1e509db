//! Circuit breakers per consumer→producer link (issue 14), after Envoy's
//! outlier detection (REFERENCES.md): a producer whose samples arrive
//! with gaps or late against its advertised period, or whose health
//! flaps, is ejected for a base time that grows with each ejection, then
//! probed half-open, never more than a maximum share at once.
//!
//! Plain data: every input carries its time, and [`Breakers::tick`] runs
//! the timers. It never reads a clock.
//!
//! # Rules
//!
//! 1. **Errors.** A sample that comes more than `late_factor` periods
//!    after the previous one (a gap, or a late sample), and a change of the
//!    producer's health, are errors. `max_errors` errors within `interval`
//!    eject the link.
//! 2. **Ejection** lasts `base_ejection × n` for the n-th ejection of the
//!    link, at most `max_ejection` (Envoy: base time × times ejected). The
//!    count starts again after the link stays closed for `max_ejection`.
//! 3. **Maximum share.** An ejection that would leave more than
//!    `max_ejected_share` of the links ejected (always allowing one) is
//!    refused and counted: below the share, the selection serves from the
//!    best remaining producer; above it, ejecting more would only leave
//!    worse ones.
//! 4. **Half-open** follows the ejection: the link is probed (the selection
//!    keeps it as the hot standby, so its samples are buffered, not
//!    delivered: a probe costs no data). `probe_samples` on-time samples
//!    close it; one error, or the end of `probe_window` without enough
//!    samples, ejects it again. Half-open always ends by itself within
//!    `probe_window`, whether or not samples come: no stuck half-open
//!    (Resilience4j #935, #2289).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vigil_diag::Timestamp;

use crate::advert::AdvertKey;

/// How breakers judge a link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BreakerPolicy {
    /// A sample later than this many periods after the previous one is an
    /// error (a gap: samples lost, or late against the advertised rate).
    pub late_factor: f64,
    /// Errors within `interval` that eject (Envoy: 5 consecutive errors).
    pub max_errors: usize,
    /// The window errors are counted in (Envoy: a 10 s sweep).
    pub interval: Duration,
    /// The first ejection's length (Envoy: 30 s; shorter here: a consumer
    /// with few producers cannot spare one for long).
    pub base_ejection: Duration,
    /// The longest ejection.
    pub max_ejection: Duration,
    /// The largest share of links ejected at once (one is always allowed).
    pub max_ejected_share: f64,
    /// On-time samples that close a half-open link.
    pub probe_samples: u32,
    /// How long half-open lasts at most.
    pub probe_window: Duration,
}

impl Default for BreakerPolicy {
    /// Late at 3 periods; 5 errors in 10 s eject for 5 s × n, at most
    /// 300 s; at most half of the links ejected; 10 on-time samples within
    /// 1 s close a half-open link.
    fn default() -> Self {
        BreakerPolicy {
            late_factor: 3.0,
            max_errors: 5,
            interval: Duration::from_secs(10),
            base_ejection: Duration::from_secs(5),
            max_ejection: Duration::from_secs(300),
            max_ejected_share: 0.5,
            probe_samples: 10,
            probe_window: Duration::from_secs(1),
        }
    }
}

/// Where a link's breaker is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BreakerState {
    /// Samples flow; errors are counted.
    Closed,
    /// Ejected until the given time.
    Open {
        /// When it goes half-open.
        until: Timestamp,
    },
    /// Probed since the given time, with so many on-time samples.
    HalfOpen {
        /// When the probe began.
        since: Timestamp,
        /// On-time samples so far.
        good: u32,
    },
}

/// What a breaker input changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "breaker", rename_all = "snake_case")]
pub enum BreakerEvent {
    /// The link was ejected (the n-th time) until `until`.
    Ejected {
        /// Which link.
        key: AdvertKey,
        /// How many times it has been ejected.
        ejections: u32,
        /// Until when.
        until: Timestamp,
    },
    /// An ejection was refused by the maximum share.
    EjectionRefused {
        /// Which link.
        key: AdvertKey,
    },
    /// The ejection ended: the link is probed.
    HalfOpen {
        /// Which link.
        key: AdvertKey,
    },
    /// The probe succeeded: the link is closed again.
    Closed {
        /// Which link.
        key: AdvertKey,
    },
}

impl BreakerEvent {
    /// The link it is about.
    pub fn key(&self) -> &AdvertKey {
        match self {
            BreakerEvent::Ejected { key, .. }
            | BreakerEvent::EjectionRefused { key }
            | BreakerEvent::HalfOpen { key }
            | BreakerEvent::Closed { key } => key,
        }
    }

    /// A stable snake_case label of its kind (a metric label, the
    /// `breaker` field of its JSON).
    pub fn label(&self) -> &'static str {
        match self {
            BreakerEvent::Ejected { .. } => "ejected",
            BreakerEvent::EjectionRefused { .. } => "ejection_refused",
            BreakerEvent::HalfOpen { .. } => "half_open",
            BreakerEvent::Closed { .. } => "closed",
        }
    }
}

impl std::fmt::Display for BreakerEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BreakerEvent::Ejected {
                key,
                ejections,
                until,
            } => write!(
                f,
                "{key} ejected by its circuit breaker (ejection {ejections}) until {until}"
            ),
            BreakerEvent::EjectionRefused { key } => {
                write!(f, "{key} not ejected: the maximum ejected share is reached")
            }
            BreakerEvent::HalfOpen { key } => {
                write!(f, "{key} half-open: probed as the hot standby")
            }
            BreakerEvent::Closed { key } => write!(f, "{key} closed: on time again"),
        }
    }
}

/// One link's breaker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Link {
    state: BreakerState,
    /// Error times within the interval, oldest first.
    errors: VecDeque<Timestamp>,
    last_sample: Option<Timestamp>,
    ejections: u32,
    /// When it was last closed: the ejection count starts again after a
    /// long enough calm.
    closed_since: Timestamp,
}

impl Link {
    fn new(now: Timestamp) -> Link {
        Link {
            state: BreakerState::Closed,
            errors: VecDeque::new(),
            last_sample: None,
            ejections: 0,
            closed_since: now,
        }
    }
}

/// [`Breakers`] as plain data: a list, since JSON map keys are strings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct BreakersSnapshot {
    links: Vec<(AdvertKey, Link)>,
    refused: u64,
}

/// The breakers of one consumer's links, keyed by producer advert.
#[derive(Clone, Debug, Default)]
pub struct Breakers {
    policy: BreakerPolicy,
    links: BTreeMap<AdvertKey, Link>,
    refused: u64,
}

impl Breakers {
    /// No links yet.
    pub fn new(policy: BreakerPolicy) -> Breakers {
        Breakers {
            policy,
            links: BTreeMap::new(),
            refused: 0,
        }
    }

    /// Starts judging a link (a producer that became a candidate).
    pub fn add(&mut self, key: AdvertKey, now: Timestamp) {
        self.links.entry(key).or_insert_with(|| Link::new(now));
    }

    /// Stops judging a link (the producer is gone).
    pub fn remove(&mut self, key: &AdvertKey) {
        self.links.remove(key);
    }

    /// The policy.
    pub fn policy(&self) -> &BreakerPolicy {
        &self.policy
    }

    /// Its state as plain data (links by key, the refused count).
    pub(crate) fn save(&self) -> BreakersSnapshot {
        BreakersSnapshot {
            links: self
                .links
                .iter()
                .map(|(k, l)| (k.clone(), l.clone()))
                .collect(),
            refused: self.refused,
        }
    }

    /// Puts back the links and count [`Breakers::save`] gave.
    pub(crate) fn restore(&mut self, snapshot: &BreakersSnapshot) {
        self.links = snapshot.links.iter().cloned().collect();
        self.refused = snapshot.refused;
    }

    /// The state of a link.
    pub fn state(&self, key: &AdvertKey) -> Option<BreakerState> {
        self.links.get(key).map(|l| l.state)
    }

    /// How many times the link was ejected (since its count last started
    /// again).
    pub fn ejections(&self, key: &AdvertKey) -> u32 {
        self.links.get(key).map_or(0, |l| l.ejections)
    }

    /// Whether the selection must not follow this link now (open or being
    /// probed).
    pub fn ejected(&self, key: &AdvertKey) -> bool {
        self.links
            .get(key)
            .is_some_and(|l| l.state != BreakerState::Closed)
    }

    /// Ejections refused by the maximum share so far.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// How many links are ejected (open or half-open) now.
    pub fn ejected_count(&self) -> usize {
        self.links
            .values()
            .filter(|l| l.state != BreakerState::Closed)
            .count()
    }

    /// The most links that may be ejected at once.
    pub fn max_ejected(&self) -> usize {
        let share = self.policy.max_ejected_share.clamp(0.0, 1.0);
        ((self.links.len() as f64 * share).floor() as usize).max(1)
    }

    /// A sample of `key` arrived at `now`; `period` is the producer's
    /// advertised sample period, if it states one.
    pub fn on_sample(
        &mut self,
        key: &AdvertKey,
        period: Option<Duration>,
        now: Timestamp,
    ) -> Option<BreakerEvent> {
        let late_factor = self.policy.late_factor;
        let link = self.links.get_mut(key)?;
        let previous = link.last_sample.replace(now);
        let late = match (previous, period) {
            (Some(prev), Some(p)) if !p.is_zero() => {
                now.saturating_since(prev).as_secs_f64() > p.as_secs_f64() * late_factor
            }
            _ => false,
        };
        if late {
            return self.error(key, now);
        }
        let probe_samples = self.policy.probe_samples;
        let link = self.links.get_mut(key)?;
        if let BreakerState::HalfOpen { since, good } = link.state {
            let good = good + 1;
            if good >= probe_samples {
                link.state = BreakerState::Closed;
                link.closed_since = now;
                link.errors.clear();
                return Some(BreakerEvent::Closed { key: key.clone() });
            }
            link.state = BreakerState::HalfOpen { since, good };
        }
        None
    }

    /// The producer's health changed at `now` (a flap counts as an error).
    pub fn on_health_change(&mut self, key: &AdvertKey, now: Timestamp) -> Option<BreakerEvent> {
        self.error(key, now)
    }

    fn error(&mut self, key: &AdvertKey, now: Timestamp) -> Option<BreakerEvent> {
        let (interval, max_errors) = (self.policy.interval, self.policy.max_errors.max(1));
        let link = self.links.get_mut(key)?;
        match link.state {
            BreakerState::Open { .. } => None,
            // A probe that fails ejects again at once.
            BreakerState::HalfOpen { .. } => self.eject(key, now, true),
            BreakerState::Closed => {
                link.errors.push_back(now);
                while link
                    .errors
                    .front()
                    .is_some_and(|t| now.saturating_since(*t) > interval)
                    || link.errors.len() > max_errors
                {
                    link.errors.pop_front();
                }
                if link.errors.len() >= max_errors {
                    self.eject(key, now, false)
                } else {
                    None
                }
            }
        }
    }

    /// Ejects `key`; a link already ejected (a failed probe) needs no room
    /// under the share.
    fn eject(&mut self, key: &AdvertKey, now: Timestamp, again: bool) -> Option<BreakerEvent> {
        if !again && self.ejected_count() + 1 > self.max_ejected() {
            self.refused += 1;
            if let Some(link) = self.links.get_mut(key) {
                link.errors.clear();
            }
            return Some(BreakerEvent::EjectionRefused { key: key.clone() });
        }
        let (base, max) = (self.policy.base_ejection, self.policy.max_ejection);
        let link = self.links.get_mut(key)?;
        if !again && now.saturating_since(link.closed_since) >= max {
            // Calm for a whole maximum ejection: a fresh start.
            link.ejections = 0;
        }
        link.ejections = link.ejections.saturating_add(1);
        let length = base.saturating_mul(link.ejections).min(max);
        let until = now + length;
        link.state = BreakerState::Open { until };
        link.errors.clear();
        Some(BreakerEvent::Ejected {
            key: key.clone(),
            ejections: link.ejections,
            until,
        })
    }

    /// Runs the timers due at or before `now`: ejections that end become
    /// half-open, probes past their window are judged.
    pub fn tick(&mut self, now: Timestamp) -> Vec<BreakerEvent> {
        let (window, probe_samples) = (self.policy.probe_window, self.policy.probe_samples);
        let mut events = Vec::new();
        let mut failed_probes = Vec::new();
        for (key, link) in &mut self.links {
            match link.state {
                BreakerState::Open { until } if now >= until => {
                    link.state = BreakerState::HalfOpen {
                        since: until,
                        good: 0,
                    };
                    link.last_sample = None;
                    events.push(BreakerEvent::HalfOpen { key: key.clone() });
                    if now >= until + window {
                        failed_probes.push(key.clone());
                    }
                }
                BreakerState::HalfOpen { since, good } if now >= since + window => {
                    if good >= probe_samples {
                        link.state = BreakerState::Closed;
                        link.closed_since = now;
                        events.push(BreakerEvent::Closed { key: key.clone() });
                    } else {
                        failed_probes.push(key.clone());
                    }
                }
                _ => {}
            }
        }
        for key in failed_probes {
            events.extend(self.eject(&key, now, true));
        }
        events
    }

    /// The next time [`Breakers::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let window = self.policy.probe_window;
        self.links
            .values()
            .filter_map(|l| match l.state {
                BreakerState::Open { until } => Some(until),
                BreakerState::HalfOpen { since, .. } => Some(since + window),
                BreakerState::Closed => None,
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(ms: u64) -> Timestamp {
        Timestamp::from_nanos(ms * 1_000_000)
    }

    fn key(p: &str) -> AdvertKey {
        AdvertKey::new(p, "imu")
    }

    const PERIOD: Option<Duration> = Some(Duration::from_millis(10));

    fn breakers(n: usize) -> Breakers {
        let mut b = Breakers::new(BreakerPolicy::default());
        for i in 0..n {
            b.add(key(&format!("p{i}")), t(0));
        }
        b
    }

    /// Five gaps of 100 ms (10 periods) eject p0.
    fn gaps(b: &mut Breakers, k: &AdvertKey, from: u64) -> Vec<BreakerEvent> {
        let mut events = Vec::new();
        for i in 0..=5 {
            events.extend(b.on_sample(k, PERIOD, t(from + i * 100)));
        }
        events
    }

    #[test]
    fn gaps_eject_for_a_base_time_that_grows_with_each_ejection() {
        let mut b = breakers(2);
        let k = key("p0");
        let events = gaps(&mut b, &k, 0);
        assert_eq!(
            events,
            vec![BreakerEvent::Ejected {
                key: k.clone(),
                ejections: 1,
                until: t(500 + 5_000)
            }]
        );
        assert!(b.ejected(&k));
        // Half-open at the end of the ejection; no sample within the probe
        // window: ejected again, for twice as long.
        assert_eq!(
            b.tick(t(5_500)),
            vec![BreakerEvent::HalfOpen { key: k.clone() }]
        );
        let again = b.tick(t(6_500));
        assert_eq!(
            again,
            vec![BreakerEvent::Ejected {
                key: k.clone(),
                ejections: 2,
                until: t(6_500 + 10_000)
            }]
        );
    }

    #[test]
    fn on_time_samples_close_a_half_open_link() {
        let mut b = breakers(2);
        let k = key("p0");
        gaps(&mut b, &k, 0);
        b.tick(t(5_500));
        let mut events = Vec::new();
        for i in 0..10 {
            events.extend(b.on_sample(&k, PERIOD, t(5_500 + i * 10)));
        }
        assert_eq!(events, vec![BreakerEvent::Closed { key: k.clone() }]);
        assert!(!b.ejected(&k));
    }

    #[test]
    fn a_late_sample_while_half_open_ejects_again() {
        let mut b = breakers(2);
        let k = key("p0");
        gaps(&mut b, &k, 0);
        b.tick(t(5_500));
        assert_eq!(b.on_sample(&k, PERIOD, t(5_510)), None);
        let e = b.on_sample(&k, PERIOD, t(5_600));
        assert!(
            matches!(e, Some(BreakerEvent::Ejected { ejections: 2, .. })),
            "{e:?}"
        );
    }

    #[test]
    fn health_flaps_eject() {
        let mut b = breakers(2);
        let k = key("p1");
        let events: Vec<_> = (0..5)
            .filter_map(|i| b.on_health_change(&k, t(i * 100)))
            .collect();
        assert!(
            matches!(events.as_slice(), [BreakerEvent::Ejected { .. }]),
            "{events:?}"
        );
    }

    #[test]
    fn errors_spread_wider_than_the_interval_do_not_eject() {
        let mut b = breakers(2);
        let k = key("p0");
        for i in 0..20 {
            assert_eq!(b.on_health_change(&k, t(i * 3_000)), None);
        }
    }

    #[test]
    fn never_more_than_the_maximum_share_at_once() {
        let mut b = breakers(2);
        gaps(&mut b, &key("p0"), 0);
        let refused = gaps(&mut b, &key("p1"), 0);
        assert_eq!(
            refused,
            vec![BreakerEvent::EjectionRefused { key: key("p1") }]
        );
        assert_eq!(b.refused(), 1);
        assert!(!b.ejected(&key("p1")), "the best remaining keeps serving");
    }

    #[test]
    fn the_ejection_count_starts_again_after_a_long_calm() {
        let mut b = breakers(2);
        let k = key("p0");
        gaps(&mut b, &k, 0);
        b.tick(t(5_500));
        for i in 0..10 {
            b.on_sample(&k, PERIOD, t(5_500 + i * 10));
        }
        let later = 5_600 + 300_000;
        let events = gaps(&mut b, &k, later);
        assert!(
            matches!(
                events.as_slice(),
                [BreakerEvent::Ejected { ejections: 1, .. }]
            ),
            "{events:?}"
        );
    }

    #[derive(Clone, Debug)]
    enum Input {
        Sample(usize, u64),
        Flap(usize, u64),
        Tick(u64),
    }

    fn input() -> impl Strategy<Value = Input> {
        prop_oneof![
            (0..4usize, 1..300u64).prop_map(|(i, dt)| Input::Sample(i, dt)),
            (0..4usize, 1..3_000u64).prop_map(|(i, dt)| Input::Flap(i, dt)),
            (1..20_000u64).prop_map(Input::Tick),
        ]
    }

    proptest! {
        #[test]
        fn breakers_keep_their_invariants(inputs in prop::collection::vec(input(), 1..300)) {
            let policy = BreakerPolicy::default();
            let mut b = breakers(4);
            let keys: Vec<_> = (0..4).map(|i| key(&format!("p{i}"))).collect();
            let mut now = 0u64;
            for input in inputs {
                let events = match input {
                    Input::Sample(i, dt) => {
                        now += dt;
                        b.on_sample(&keys[i], PERIOD, t(now)).into_iter().collect()
                    }
                    Input::Flap(i, dt) => {
                        now += dt;
                        b.on_health_change(&keys[i], t(now)).into_iter().collect()
                    }
                    Input::Tick(dt) => {
                        now += dt;
                        b.tick(t(now))
                    }
                };
                for e in &events {
                    if let BreakerEvent::Ejected { ejections, until, .. } = e {
                        // Base time x n, capped.
                        let length = policy.base_ejection.saturating_mul(*ejections)
                            .min(policy.max_ejection);
                        prop_assert_eq!(*until, t(now) + length);
                    }
                }
                // Never more than the maximum share (two of four).
                prop_assert!(b.ejected_count() <= b.max_ejected());
                // After a tick nothing is overdue: half-open ends by itself
                // within its window, and every ejection ends at its time.
                if matches!(input, Input::Tick(_)) {
                    prop_assert!(b.next_deadline().is_none_or(|d| d > t(now)));
                }
                for k in &keys {
                    if let Some(BreakerState::HalfOpen { since, .. }) = b.state(k) {
                        prop_assert!(since + policy.probe_window > t(now) || !matches!(input, Input::Tick(_)));
                    }
                }
            }
        }
    }
}
