//! A selection's state as plain data, and back (see
//! [`crate::CoreSnapshot`]).
//!
//! The members, their rank keys and the chain are a function of the
//! registry: restoring loads them from the restored registry as
//! [`Selection::rebuild`] does, then puts back what only history made:
//! each member's stable-since time, recovered mark and flap penalty, and
//! the active and standby producers, the running hold-off and the next
//! deadline.

use serde::{Deserialize, Serialize};
use vigil_diag::Timestamp;

use super::flap::Flap;
use super::{ActiveProducer, Selection, SelectionStats};
use crate::advert::AdvertKey;
use crate::registry::Registry;

/// What history made of one member.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct MemberSnapshot {
    key: AdvertKey,
    stable_since: Timestamp,
    recovered: bool,
    /// The flap penalty's bits (exact through JSON).
    flap_penalty_bits: u64,
    flap_at: Timestamp,
    flap_suppressed: bool,
    flap_release_at: Timestamp,
    flap_counted: bool,
}

/// A selection's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SelectionSnapshot {
    now: Timestamp,
    synced: bool,
    active: Option<ActiveProducer>,
    previous: Option<AdvertKey>,
    standby: Option<ActiveProducer>,
    hold_off: Option<Timestamp>,
    deadline: Option<Timestamp>,
    switches: u64,
    flaps_suppressed: u64,
    ever_selected: bool,
    members: Vec<MemberSnapshot>,
    /// The circuit breakers (absent in snapshots made before they were
    /// wired, issue 14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    breakers: Option<super::guard::GuardSnapshot>,
}

impl Selection {
    /// Its state now.
    pub(crate) fn save(&self) -> SelectionSnapshot {
        let mut members: Vec<MemberSnapshot> = self
            .members
            .iter()
            .map(|(_, m)| {
                let ((penalty, at, suppressed, release_at), counted) = m.flap.parts();
                MemberSnapshot {
                    key: m.key.clone(),
                    stable_since: m.stable_since,
                    recovered: m.recovered,
                    flap_penalty_bits: penalty.to_bits(),
                    flap_at: at,
                    flap_suppressed: suppressed,
                    flap_release_at: release_at,
                    flap_counted: counted,
                }
            })
            .collect();
        members.sort_by(|a, b| a.key.cmp(&b.key));
        SelectionSnapshot {
            now: self.now,
            synced: self.synced,
            active: self.active.clone(),
            previous: self.previous.clone(),
            standby: self.standby.clone(),
            hold_off: self.hold_off,
            deadline: self.deadline,
            switches: self.stats.switches,
            flaps_suppressed: self.stats.flaps_suppressed,
            ever_selected: self.ever_selected,
            members,
            breakers: self.guard.as_ref().map(super::guard::Guard::save),
        }
    }

    /// Puts this fresh selection in the state `snapshot` holds, over
    /// `registry` (restored from the same snapshot). A member the
    /// registry does not hold is an error naming it.
    pub(crate) fn restore(
        &mut self,
        registry: &Registry,
        snapshot: &SelectionSnapshot,
    ) -> Result<(), String> {
        self.now = snapshot.now;
        if snapshot.synced {
            self.rebuild(registry);
            for m in &snapshot.members {
                let slot = self.members.slot(&m.key).ok_or_else(|| {
                    format!(
                        "the snapshot's selection knows {}, its registry does not",
                        m.key
                    )
                })?;
                let member = self.members.get_mut(slot);
                member.stable_since = m.stable_since;
                member.recovered = m.recovered;
                member.flap = Flap::from_parts(
                    (
                        f64::from_bits(m.flap_penalty_bits),
                        m.flap_at,
                        m.flap_suppressed,
                        m.flap_release_at,
                    ),
                    m.flap_counted,
                );
            }
        }
        self.active = snapshot.active.clone();
        self.active_slot = None;
        self.previous = snapshot.previous.clone();
        self.standby = snapshot.standby.clone();
        self.hold_off = snapshot.hold_off;
        self.deadline = snapshot.deadline;
        self.stats = SelectionStats {
            switches: snapshot.switches,
            flaps_suppressed: snapshot.flaps_suppressed,
            ejections: 0,
        };
        if let (Some(guard), Some(saved)) = (&mut self.guard, &snapshot.breakers) {
            guard.restore(saved);
        }
        self.ever_selected = snapshot.ever_selected;
        self.chain_keys.take();
        Ok(())
    }
}
