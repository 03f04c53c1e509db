//! `heartbeat`: alive while something keeps arriving.

use std::time::Duration;

use super::{is_stale, monotonic, next_stale, Check, ObservationError, Secs, Verdict};
use crate::health::{State, UnknownReason};
use crate::observation::Observation;
use crate::time::Timestamp;

/// OK while the last observation is at most `timeout` old, UNKNOWN(stale)
/// once the silence is longer, UNKNOWN(no_data) before the first one.
///
/// Every observation counts as a sign of life, whatever it carries (a
/// heartbeat, a value, a reported state): the check says the source is
/// talking, not what it says.
#[derive(Clone, Debug)]
pub(crate) struct HeartbeatCheck {
    timeout: Duration,
    /// Why: the only thing the verdict depends on.
    last: Option<Timestamp>,
}

impl HeartbeatCheck {
    pub(crate) fn new(timeout: Duration) -> HeartbeatCheck {
        HeartbeatCheck {
            timeout,
            last: None,
        }
    }
}

impl Check for HeartbeatCheck {
    fn kind(&self) -> &'static str {
        "heartbeat"
    }

    fn observe(
        &mut self,
        _observation: Observation,
        now: Timestamp,
    ) -> Result<(), ObservationError> {
        self.last = Some(monotonic(self.last, now));
        Ok(())
    }

    fn evaluate(&self, now: Timestamp) -> Verdict {
        match self.last {
            None => Verdict::unknown(UnknownReason::NoData),
            Some(last) if is_stale(last, self.timeout, now) => {
                Verdict::unknown(UnknownReason::Stale)
            }
            Some(_) => Verdict::of(State::Ok),
        }
    }

    fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
        next_stale(self.last, Some(self.timeout), now)
    }

    fn describe(&self, now: Timestamp) -> String {
        match self.last {
            None => format!("no heartbeat received (timeout {})", Secs(self.timeout)),
            Some(last) => {
                let silent = Secs(now.saturating_since(last));
                if is_stale(last, self.timeout, now) {
                    format!("no heartbeat for {silent} (timeout {})", Secs(self.timeout))
                } else {
                    format!(
                        "last heartbeat {silent} ago (timeout {})",
                        Secs(self.timeout)
                    )
                }
            }
        }
    }
}
