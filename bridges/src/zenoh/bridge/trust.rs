//! The bridge under a trust policy (issue 13): a Zenoh producer's advert
//! is checked as the registry checks a DDS one (its signature, the policy,
//! replays) before a proxy advertises it on DDS, and what the bridge says
//! for others (its proxies' DDS adverts, the adverts it exports to Zenoh)
//! is signed with its own key, one the consumers' policy lets speak for
//! those producers (`speaks_for`).

use std::collections::HashMap;

use vigil_discovery::{AdvertKey, KeyPair, PolicySlot, Refusal, TrustMode, TrustPolicy, Verifier};

use super::{BridgeEvent, Shell};
use crate::zenoh::advert_json::AdvertJson;
use crate::zenoh::signed_json::{open_signed, sign_json, ZENOH_ADVERT_DOMAIN};

/// Most producers whose newest signed advert is remembered; past it the
/// memory starts again (only keys the policy lists get this far, but a
/// listed key may sign for many ids).
const SEEN_MAX: usize = 16 * 1024;

/// The bridge's key and trust policy.
#[derive(Clone, Debug, Default)]
pub struct BridgeTrust {
    /// Signs the proxies' DDS adverts and the adverts exported to Zenoh;
    /// `None`: unsigned.
    pub key: Option<KeyPair>,
    /// The policy applied to the DDS adverts the bridge's registry hears
    /// and to the Zenoh adverts it imports; reload it with
    /// [`PolicySlot::set`]. Default: mode off.
    pub policy: PolicySlot,
}

impl BridgeTrust {
    /// Signing with `key`, under the policy `slot` holds.
    pub fn new(key: Option<KeyPair>, policy: PolicySlot) -> BridgeTrust {
        BridgeTrust { key, policy }
    }
}

/// What the bridge keeps to check Zenoh adverts.
#[derive(Debug, Default)]
pub(super) struct Checks {
    verifier: Verifier,
    /// The newest `timestamp_ns` of a signed advert accepted per producer.
    seen: HashMap<AdvertKey, u64>,
}

impl<F: FnMut(BridgeEvent)> Shell<F> {
    /// The JSON text of an advert the bridge puts on Zenoh: signed with
    /// its key when it has one.
    pub(super) fn advert_text(&self, advert: &AdvertJson) -> String {
        let json = advert.to_json();
        match &self.trust.key {
            Some(key) => sign_json(&json, key),
            None => json,
        }
    }

    /// Whether the Zenoh advert `advert`, received as `payload` on
    /// `key_text`, may be imported under the policy: always under `off`;
    /// under `warn` too, what `enforce` would refuse being counted and
    /// logged; under `enforce` only when it passes, a refusal being
    /// counted, logged and reported ([`BridgeEvent::Refused`]). Nothing
    /// changes on DDS for a refused advert: a producer already proxied
    /// keeps its last good advert.
    pub(super) fn trusted(&mut self, key_text: &str, payload: &[u8], advert: &AdvertJson) -> bool {
        let policy = self.trust.policy.get();
        if policy.mode == TrustMode::Off {
            return true;
        }
        let Err((reason, error)) = self.check(&policy, payload, advert) else {
            return true;
        };
        let (producer, topic) = (&advert.producer, &advert.topic);
        if policy.mode == TrustMode::Warn {
            self.stats.adverts_warned.count(reason);
            tracing::warn!(key = key_text, %reason, %error,
                "trust mode warn: would refuse this Zenoh advert; accepted");
            return true;
        }
        self.stats.adverts_refused.count(reason);
        tracing::warn!(key = key_text, %reason, %error, "Zenoh advert refused");
        let event = BridgeEvent::Refused {
            key: key_text.to_owned(),
            producer: producer.clone(),
            topic: topic.clone(),
            reason: reason.as_str().to_owned(),
            error,
            refused: self.stats.adverts_refused.total(),
        };
        self.emit(event);
        false
    }

    fn check(
        &mut self,
        policy: &TrustPolicy,
        payload: &[u8],
        advert: &AdvertJson,
    ) -> Result<(), (Refusal, String)> {
        let bad = |why: String| (Refusal::BadSignature, why);
        let Some(signed) = open_signed(payload).map_err(bad)? else {
            if advert.signature_member {
                return Err(bad("`signature` must be the last member, written as \
                     ,\"signature\":\"<128 base64 characters>\"}"
                    .to_owned()));
            }
            return policy.check(None, &advert.producer, Some(&advert.topic));
        };
        let checks = &mut self.checks;
        checks.verifier.verify_detached(
            &signed.key,
            ZENOH_ADVERT_DOMAIN,
            &signed.message,
            &signed.signature,
        )?;
        policy.check(Some(&signed.key), &advert.producer, Some(&advert.topic))?;
        let Some(timestamp) = advert.timestamp_ns else {
            return Err(bad(
                "a signed advert must carry `timestamp_ns`: without it, one sent again \
                 cannot be told from a fresh one"
                    .to_owned(),
            ));
        };
        let key = AdvertKey::new(&advert.producer, &advert.topic);
        let newest = checks.seen.get(&key).copied().unwrap_or(0);
        if timestamp < newest {
            return Err((
                Refusal::Replayed,
                format!(
                    "signed at {timestamp} ns, older than the advert of {newest} ns already accepted"
                ),
            ));
        }
        if checks.seen.len() >= SEEN_MAX && !checks.seen.contains_key(&key) {
            checks.seen.clear();
        }
        checks.seen.insert(key, timestamp);
        Ok(())
    }
}
