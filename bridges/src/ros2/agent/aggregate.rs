//! The proxies' trees, and the analyzers' tree if the config names an
//! analyzers file, as ROS 2's `/diagnostics_agg` and
//! `/diagnostics_toplevel_state`.

use vigil_diag::Timestamp;
use vigil_discovery::{DdsError, VigilParticipant};

use super::analyzed::AnalyzedTree;
use super::dds::raw_writer;
use super::live::Proxy;
use crate::raw::{RawSample, RawWriter};
use crate::ros2::msgs::{self, DiagnosticArray, DiagnosticStatus, Time};
use crate::ros2::publish::{aggregated_array, toplevel_state, PublishPolicy};

/// The publisher and when it publishes.
pub(super) struct Aggregate {
    policy: PublishPolicy,
    agg: RawWriter,
    toplevel: RawWriter,
    /// The analyzers' tree, fed every status.
    pub(super) analyzed: Option<AnalyzedTree>,
}

impl Aggregate {
    /// Publishes at `rate` Hz (and at once when a proxy got worse);
    /// `None` for no rate.
    pub(super) fn new(
        participant: &VigilParticipant,
        rate: Option<f64>,
        analyzed: Option<AnalyzedTree>,
    ) -> Result<Option<Aggregate>, DdsError> {
        let Some(policy) = rate.and_then(PublishPolicy::new) else {
            return Ok(None);
        };
        Ok(Some(Aggregate {
            policy,
            agg: raw_writer(
                participant,
                "rt/diagnostics_agg",
                msgs::DIAGNOSTIC_ARRAY_TYPE,
            )?,
            toplevel: raw_writer(
                participant,
                "rt/diagnostics_toplevel_state",
                msgs::DIAGNOSTIC_STATUS_TYPE,
            )?,
            analyzed,
        }))
    }

    /// Publishes every proxy's tree if it is time, or if one got worse.
    /// Returns whether it published (the caller then clears `got_worse`).
    pub(super) fn publish(&mut self, proxies: &[&Proxy], at: Timestamp) -> bool {
        if let Some(analyzed) = self.analyzed.as_mut() {
            analyzed.tick(at);
        }
        if proxies.is_empty() && self.analyzed.is_none() {
            return false;
        }
        let worse = proxies.iter().any(|p| p.got_worse)
            || self.analyzed.as_ref().is_some_and(|a| a.got_worse);
        let due = self.policy.due(&[], at);
        if !(worse || due) {
            return false;
        }
        let stamp = Time::from_unix_nanos(vigil_discovery::clock::unix_now_ns());
        let mut array = DiagnosticArray::default();
        let mut top: Option<DiagnosticStatus> = None;
        if let Some(analyzed) = self.analyzed.as_mut() {
            let part = aggregated_array(analyzed.tree(), stamp);
            array.header = part.header;
            array.status.extend(part.status);
            top = Some(toplevel_state(analyzed.tree()));
            analyzed.got_worse = false;
        }
        for proxy in proxies {
            let Some((part, state)) = proxy
                .advertiser
                .with_tree(|tree| (aggregated_array(tree, stamp), toplevel_state(tree)))
            else {
                continue;
            };
            array.header = part.header;
            array.status.extend(part.status);
            if top.as_ref().is_none_or(|t| state.level > t.level) {
                top = Some(state);
            }
        }
        let top = top.map(|t| msgs::encode(&t)).unwrap_or_default();
        for (writer, bytes) in [
            (&mut self.agg, msgs::encode(&array)),
            (&mut self.toplevel, top),
        ] {
            let Some(sample) = RawSample::from_encapsulated(&bytes) else {
                continue;
            };
            if let Err(error) = writer.write(sample) {
                tracing::warn!(%error, "diagnostics not published");
            }
        }
        true
    }
}
