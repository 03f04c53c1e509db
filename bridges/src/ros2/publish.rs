//! The tree as the aggregator publishes it: `/diagnostics_agg` (every node
//! as a `DiagnosticStatus`) and `/diagnostics_toplevel_state`, and when to
//! publish them.

use std::time::Duration;

use vigil_diag::{Health, Path, State, Timestamp, Transition, Tree, UnknownReason};

use super::msgs::{DiagnosticArray, DiagnosticStatus, Header, KeyValue, Time};

/// The aggregator-style name of a path: `vehicle.sensors.imu` →
/// `/vehicle/sensors/imu`.
pub fn ros_name(path: &Path) -> String {
    let mut name = String::with_capacity(path.as_str().len() + 1);
    for label in path.labels() {
        name.push('/');
        name.push_str(label);
    }
    name
}

/// Every visible node of `tree` as a `DiagnosticStatus`, in path order.
///
/// Level from the state (OK=0, DEGRADED→WARN=1, FAILED→ERROR=2,
/// UNKNOWN→STALE=3); the message is the health as text (`DEGRADED,
/// confidence 0.50, degrading`); the values carry `state`, `reason` (when
/// UNKNOWN), `confidence`, `trend` and `since` (seconds on the tree's
/// clock) for tools that read them.
pub fn aggregated_array(tree: &Tree, stamp: Time) -> DiagnosticArray {
    let status = tree
        .nodes()
        .map(|(path, health)| status_of(ros_name(&path), health))
        .collect();
    DiagnosticArray {
        header: Header {
            stamp,
            frame_id: String::new(),
        },
        status,
    }
}

/// The whole tree in one status, named `toplevel_state` as the
/// aggregator names it: the worst of the top-level nodes in vigil's order
/// (OK < DEGRADED < UNKNOWN < FAILED), so one stale item makes it STALE,
/// not ERROR (diagnostics #297, #658). A tree without nodes is STALE.
pub fn toplevel_state(tree: &Tree) -> DiagnosticStatus {
    let worst = tree
        .roots()
        .filter_map(|root| tree.health(root).map(|h| (root, h)))
        .max_by_key(|(_, h)| h.state);
    match worst {
        Some((root, health)) => {
            let mut status = status_of("toplevel_state".to_owned(), health);
            status.values.push(KeyValue {
                key: "worst".into(),
                value: ros_name(root),
            });
            status
        }
        None => DiagnosticStatus {
            level: State::Unknown.ros_level(),
            name: "toplevel_state".into(),
            message: format!("{} ({}): empty tree", State::Unknown, UnknownReason::NoData),
            ..DiagnosticStatus::default()
        },
    }
}

fn status_of(name: String, health: &Health) -> DiagnosticStatus {
    let mut values = vec![KeyValue {
        key: "state".into(),
        value: health.state.as_str().into(),
    }];
    if let Some(reason) = health.reason {
        values.push(KeyValue {
            key: "reason".into(),
            value: reason.as_str().into(),
        });
    }
    values.extend([
        KeyValue {
            key: "confidence".into(),
            value: format!("{:.2}", health.confidence),
        },
        KeyValue {
            key: "trend".into(),
            value: health.trend.as_str().into(),
        },
        KeyValue {
            key: "since".into(),
            value: format!("{:.3}", health.since.as_secs_f64()),
        },
    ]);
    DiagnosticStatus {
        level: health.state.ros_level(),
        name,
        message: health.to_string(),
        hardware_id: String::new(),
        values,
    }
}

/// When to publish the aggregated tree: at once on a degradation (the
/// `critical` behaviour of the aggregator, diagnostics PRs #317/#324),
/// otherwise every `1 / pub_rate` seconds. Pure: the caller passes the
/// transitions of each update and the time.
#[derive(Clone, Debug)]
pub struct PublishPolicy {
    period: Duration,
    last: Option<Timestamp>,
}

impl Default for PublishPolicy {
    /// 1 Hz, the aggregator's default `pub_rate`.
    fn default() -> Self {
        PublishPolicy {
            period: Duration::from_secs(1),
            last: None,
        }
    }
}

impl PublishPolicy {
    /// A policy publishing at `pub_rate` Hz; `None` for a rate that is not
    /// a positive finite number, or so small the period overflows.
    pub fn new(pub_rate: f64) -> Option<Self> {
        if !pub_rate.is_finite() || pub_rate <= 0.0 {
            return None;
        }
        let period = Duration::try_from_secs_f64(1.0 / pub_rate).ok()?;
        Some(PublishPolicy { period, last: None })
    }

    /// True when the caller should publish now, having seen `transitions`
    /// since the last call: always the first time, at once when a node got
    /// worse (its new state ranks above the old), otherwise once the
    /// period has passed since the last publication. Answering true counts
    /// as publishing: the period restarts at `now`.
    pub fn due(&mut self, transitions: &[Transition], now: Timestamp) -> bool {
        let degraded = transitions.iter().any(|t| t.new > t.old);
        let due = match self.last {
            None => true,
            Some(last) => degraded || now.saturating_since(last) >= self.period,
        };
        if due {
            self.last = Some(now);
        }
        due
    }

    /// When the next periodic publication is due (for an event loop's
    /// timer); `None` before the first.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.last.map(|last| last + self.period)
    }
}

#[cfg(test)]
#[path = "publish_tests.rs"]
mod tests;
