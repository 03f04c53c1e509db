//! Temporary stand-in for `filter` while it is being written; removed once
//! it lands.

use crate::health::{State, Trend};
use crate::spec::FilterSpec;
use crate::time::Timestamp;

#[derive(Debug)]
pub(crate) struct Filter {
    latch: bool,
    latched: bool,
}

pub(crate) struct Filtered {
    pub(crate) state: State,
    pub(crate) trend: Trend,
}

impl Filter {
    pub(crate) fn new(spec: &FilterSpec) -> Filter {
        Filter { latch: spec.latch, latched: false }
    }
    pub(crate) fn apply(&mut self, raw: State, _now: Timestamp) -> Filtered {
        if self.latch && raw == State::Failed {
            self.latched = true;
        }
        let state = if self.latched { State::Failed } else { raw };
        Filtered { state, trend: Trend::Stable }
    }
    pub(crate) fn next_change(&self, _now: Timestamp) -> Option<Timestamp> {
        None
    }
    pub(crate) fn reset(&mut self, _now: Timestamp) -> bool {
        std::mem::replace(&mut self.latched, false)
    }
    pub(crate) fn is_latched(&self) -> bool {
        self.latched
    }
}
