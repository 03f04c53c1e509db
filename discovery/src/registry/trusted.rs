//! The registry's trust checks (issue 13): signatures, the policy, replays
//! and the heartbeat chain. See the registry's module doc, *Trust*.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use super::{printable, same_participant, Entry, Registry, RegistryChange};
use crate::advert::AdvertKey;
use crate::trust::{AdvertProof, ChainCheck, HeartbeatAuth, Refusal, TrustMode, TrustPolicy};
use crate::wire::AdvertWire;

/// Most refusals kept for [`RefusalFeed::take`]; older ones are
/// dropped (they are counted all the same).
pub const REFUSALS_KEPT: usize = 256;

/// One refusal, for reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusalNote {
    /// The producer id the input claimed.
    pub producer: String,
    /// Why.
    pub reason: Refusal,
}

/// A registry's latest refusals, shared with whoever reports them.
#[derive(Clone, Debug, Default)]
pub struct RefusalFeed(Arc<Mutex<VecDeque<RefusalNote>>>);

impl RefusalFeed {
    pub(super) fn push(&self, note: RefusalNote) {
        let mut notes = self.lock();
        if notes.len() >= REFUSALS_KEPT {
            notes.pop_front();
        }
        notes.push_back(note);
    }

    /// The refusals since the last call (at most the latest
    /// [`REFUSALS_KEPT`]), oldest first.
    pub fn take(&self) -> Vec<RefusalNote> {
        self.lock().drain(..).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<RefusalNote>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A shared handle on a registry's trust policy: setting it (a reload)
/// changes what the registry checks from its next input on; nothing held
/// is dropped.
#[derive(Clone, Debug, Default)]
pub struct PolicySlot(Arc<Mutex<Arc<TrustPolicy>>>);

impl PolicySlot {
    /// The policy now.
    pub fn get(&self) -> Arc<TrustPolicy> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces it.
    pub fn set(&self, policy: TrustPolicy) {
        tracing::info!(
            mode = policy.mode.as_str(),
            keys = policy.keys.len(),
            "trust policy set"
        );
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(policy);
    }
}

/// What a check decided.
pub(super) enum Verdict {
    /// Go on.
    Pass,
    /// Refused (counted, logged, reported): drop the input.
    Refused,
}

impl Registry {
    /// The policy in force now.
    pub(super) fn policy(&self) -> Arc<TrustPolicy> {
        self.policy.get()
    }

    /// Replaces the trust policy (a reload): held entries and routes stay;
    /// the new policy applies to the next inputs.
    pub fn set_policy(&self, policy: TrustPolicy) {
        self.policy.set(policy);
    }

    /// A handle that sets this registry's policy from elsewhere (a reload
    /// task).
    pub fn policy_slot(&self) -> PolicySlot {
        self.policy.clone()
    }

    /// A handle on the refusals not yet taken: what `vigil consume`
    /// reports.
    pub fn refusal_feed(&self) -> RefusalFeed {
        self.refusals.clone()
    }

    /// Applies the mode to a failed check: under `enforce` refuses it,
    /// under `warn` counts and logs it and lets it pass, under `off`
    /// lets it pass.
    pub(super) fn failed_check(
        &self,
        mode: TrustMode,
        producer: &str,
        topic: &str,
        (reason, error): (Refusal, String),
        changes: &mut Vec<RegistryChange>,
    ) -> Verdict {
        match mode {
            TrustMode::Off => Verdict::Pass,
            TrustMode::Warn => {
                self.warned[reason.index()].fetch_add(1, Ordering::Relaxed);
                tracing::warn!(producer = %printable(producer), topic = %printable(topic),
                    %reason, %error, "trust mode warn: would refuse this input; accepted");
                Verdict::Pass
            }
            TrustMode::Enforce => {
                self.refuse(producer, topic, reason, error, changes);
                Verdict::Refused
            }
        }
    }

    /// The signature and the policy of an advert: `Err` when refused,
    /// else what it proves (`None`: unsigned, or not checked under `off`).
    pub(super) fn check_advert(
        &self,
        policy: &TrustPolicy,
        wire: &AdvertWire,
        changes: &mut Vec<RegistryChange>,
    ) -> Result<Option<AdvertProof>, ()> {
        let (producer, topic) = (&wire.key.producer, &wire.key.topic);
        // Verified whatever the mode: a valid signature is what lets a
        // restarted producer prove it holds the same key (no hijacking).
        let proof = match self.verifier.verify_advert(wire) {
            Ok(proof) => proof,
            Err(failed) => match self.failed_check(policy.mode, producer, topic, failed, changes) {
                Verdict::Refused => return Err(()),
                Verdict::Pass => None,
            },
        };
        if policy.mode != TrustMode::Off {
            let key = proof.as_ref().map(|p| &p.key);
            if let Err(failed) = policy.check(key, producer, Some(topic)) {
                if let Verdict::Refused =
                    self.failed_check(policy.mode, producer, topic, failed, changes)
                {
                    return Err(());
                }
            }
        }
        Ok(proof)
    }

    /// Whether a FAILED-on-behalf word signed by `signer` may speak for
    /// the held `entry` (of `key`) under `policy`: the producer's own key
    /// may, and a key the policy allows for the producer or lets speak for
    /// it. Failures go through the mode like any check.
    pub(super) fn check_on_behalf(
        &self,
        policy: &TrustPolicy,
        entry: &Entry,
        signer: &super::Signer,
        key: &AdvertKey,
        changes: &mut Vec<RegistryChange>,
    ) -> Verdict {
        if policy.mode == TrustMode::Off {
            return Verdict::Pass;
        }
        let failed = match signer {
            Err(failed) => failed.clone(),
            Ok(Some(signer)) if entry.proof.is_some_and(|p| p.key == *signer) => {
                return Verdict::Pass
            }
            Ok(signer) => match policy.check(signer.as_ref(), &key.producer, None) {
                Ok(()) => return Verdict::Pass,
                Err((reason, why)) => (reason, format!("FAILED on behalf: {why}")),
            },
        };
        self.failed_check(policy.mode, &key.producer, &key.topic, failed, changes)
    }

    /// Whether an accepted signed advert `proof` replays something older
    /// than `held` says, from another participant than `held`'s sender.
    pub(super) fn replayed(
        held: &Entry,
        proof: Option<&AdvertProof>,
        sender: Option<[u8; 16]>,
    ) -> bool {
        proof.is_some() && !same_participant(held.sender, sender)
    }

    /// The heartbeat chain of a signed entry: whether this heartbeat speaks
    /// for it. Refusals are counted and reported.
    pub(super) fn check_heartbeat(
        &self,
        mode: TrustMode,
        entry: &mut Entry,
        auth: &Result<Option<HeartbeatAuth>, String>,
        changes: &mut Vec<RegistryChange>,
    ) -> bool {
        if mode == TrustMode::Off {
            return true;
        }
        let producer = entry.advert.key.producer.clone();
        let Some(chain) = entry.chain.as_mut() else {
            // An unsigned entry (accepted under `warn`).
            return true;
        };
        let failed = match auth {
            Ok(None) => (
                Refusal::Unsigned,
                "heartbeat without auth for a signed advert".to_owned(),
            ),
            Err(why) => (Refusal::BadSignature, why.clone()),
            Ok(Some(auth)) if !chain.is_of(auth) => {
                // Another topic's chain of the same producer.
                return false;
            }
            Ok(Some(auth)) => match chain.verify(auth) {
                Ok(()) => return true,
                Err(reason) => (
                    reason,
                    format!("heartbeat {} of its hash chain does not verify", auth.index),
                ),
            },
        };
        matches!(
            self.failed_check(mode, &producer, "", failed, changes),
            Verdict::Pass
        )
    }
}

/// The chain check for a newly accepted advert: kept when the anchor is
/// the one already followed (a changed advert, same chain).
pub(super) fn next_chain(
    held: Option<&ChainCheck>,
    held_proof: Option<&AdvertProof>,
    proof: Option<&AdvertProof>,
) -> Option<ChainCheck> {
    let proof = proof?;
    match (held, held_proof) {
        (Some(chain), Some(old)) if old.anchor == proof.anchor => Some(*chain),
        _ => Some(ChainCheck::new(proof.anchor)),
    }
}
