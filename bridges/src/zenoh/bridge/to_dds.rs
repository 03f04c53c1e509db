//! Zenoh → DDS: a Zenoh producer whose advert and liveliness token are
//! both there is advertised on DDS through a [`Proxy`] and its samples are
//! written there; its token's deletion disposes that advert at once.

use vigil_discovery::clock::now;
use vigil_discovery::AdvertKey;
use zenoh::sample::{Locality, Sample, SampleKind};

use super::{hex, BridgeEvent, Input, ProducerState, Shell};
use crate::zenoh::advert_json::{AdvertJson, Origin};
use crate::zenoh::config::TopicRoute;
use crate::zenoh::keys::Space;
use crate::zenoh::producers::{Action, DownCause};
use crate::zenoh::proxy::Proxy;

impl<F: FnMut(BridgeEvent)> Shell<F> {
    fn reject(&mut self, key: &str, error: String) {
        self.stats.adverts_rejected += 1;
        tracing::warn!(key, %error, "zenoh advert rejected; the registry keeps its last good state");
        let rejected = self.stats.adverts_rejected;
        self.emit(BridgeEvent::Rejected {
            key: key.to_owned(),
            error,
            rejected,
        });
    }

    /// The route of a topic whose Zenoh producers are advertised on DDS.
    fn to_dds(&self, topic: &str) -> Option<&TopicRoute> {
        self.config.route(topic).filter(|r| r.forward.to_dds())
    }

    pub(super) async fn zenoh_advert(&mut self, sample: &Sample) {
        let key_text = sample.key_expr().as_str().to_owned();
        let (topic, producer) = match self.keys.parse(Space::Adverts, &key_text) {
            Ok(parts) => parts,
            Err(e) => return self.reject(&key_text, e.to_string()),
        };
        let key = AdvertKey::new(&producer, &topic);
        if sample.kind() == SampleKind::Delete {
            let action = self.zenoh.on_advert_deleted(&key);
            return self.act(key, action);
        }
        let payload = sample.payload().to_bytes();
        let advert = match AdvertJson::parse(&payload) {
            Ok(advert) => advert,
            Err(e) => return self.reject(&key_text, e.to_string()),
        };
        if advert.origin == Origin::Dds {
            // Another bridge's export of a DDS producer: importing it would
            // loop DDS through Zenoh back into DDS.
            tracing::debug!(key = %key_text, "advert of origin dds ignored");
            return;
        }
        if advert.topic != topic || advert.producer != producer {
            let error = format!(
                "the advert is for `{}` on `{}` but was put on the key of `{producer}` on `{topic}`",
                advert.producer, advert.topic
            );
            return self.reject(&key_text, error);
        }
        let Some(route) = self.to_dds(&topic) else {
            tracing::debug!(key = %key_text, "topic not bridged to DDS; advert ignored");
            return;
        };
        if advert.type_name != route.type_name {
            let error = format!(
                "type `{}` but this bridge carries `{}` on topic `{topic}`",
                advert.type_name, route.type_name
            );
            return self.reject(&key_text, error);
        }
        if !self.trusted(&key_text, &payload, &advert) {
            return;
        }
        let action = self.zenoh.on_advert(&key, advert, now());
        self.act(key, action);
    }

    pub(super) async fn zenoh_alive(&mut self, sample: &Sample) {
        let key_text = sample.key_expr().as_str().to_owned();
        let Ok((topic, producer)) = self.keys.parse(Space::Alive, &key_text) else {
            // A token is not data anyone sent us; just not ours to read.
            tracing::debug!(key = %key_text, "liveliness token outside the key space");
            return;
        };
        let key = AdvertKey::new(&producer, &topic);
        if self.tokens.contains_key(&key) || self.to_dds(&topic).is_none() {
            // Our own token for a DDS producer, or a topic not bridged.
            return;
        }
        let action = match sample.kind() {
            SampleKind::Put => self.zenoh.on_alive(&key, now()),
            SampleKind::Delete => self.zenoh.on_dead(&key),
        };
        if self.zenoh.wants_advert(&key) {
            self.fetch_advert(&key).await;
        }
        self.act(key, action);
    }

    /// Asks Zenoh for an advert put before the bridge joined (the producer
    /// answers queries on its advert key).
    async fn fetch_advert(&mut self, key: &AdvertKey) {
        let advert = self.keys.key(Space::Adverts, &key.topic, &key.producer);
        let tx = self.inputs.clone();
        let get = self
            .session
            .get(advert)
            .allowed_destination(Locality::Remote)
            .callback(move |reply| {
                if let Ok(sample) = reply.into_result() {
                    tx.send(Input::Advert(sample));
                }
            })
            .await;
        if let Err(error) = get {
            tracing::warn!(%error, producer = %key.producer, "advert query not sent");
        }
    }

    fn act(&mut self, key: AdvertKey, action: Option<Action>) {
        match action {
            None => {}
            Some(Action::Up(advert)) => {
                self.proxy_up(key, &advert, "advert and liveliness token present")
            }
            Some(Action::Update(advert)) => self.proxy_update(key, &advert),
            Some(Action::Down(cause)) => self.proxy_down(key, cause),
        }
    }

    fn proxy_up(&mut self, key: AdvertKey, advert: &AdvertJson, cause: &str) {
        let Some(route) = self.to_dds(&key.topic).cloned() else {
            return;
        };
        match Proxy::start(
            &self.proxy_participant,
            &route,
            advert,
            self.trust.key.clone(),
        ) {
            Ok(proxy) => {
                let guid = proxy.guid();
                self.bridge_writers.insert(guid);
                self.proxies.insert(key.clone(), proxy);
                self.emit(BridgeEvent::ZenohProducer {
                    producer: key.producer,
                    topic: key.topic,
                    state: ProducerState::Up,
                    cause: cause.to_owned(),
                    writer_guid: Some(hex(&guid)),
                });
            }
            Err(error) => {
                let advert_key = self.keys.key(Space::Adverts, &key.topic, &key.producer);
                self.reject(&advert_key, format!("cannot advertise it on DDS: {error}"));
            }
        }
    }

    fn proxy_update(&mut self, key: AdvertKey, advert: &AdvertJson) {
        let followed = match self.proxies.get_mut(&key) {
            Some(proxy) => proxy.update(advert),
            // Its start failed: try again with the new advert.
            None => return self.proxy_up(key, advert, "advert corrected"),
        };
        match followed {
            Ok(true) => self.emit(BridgeEvent::ZenohProducer {
                producer: key.producer,
                topic: key.topic,
                state: ProducerState::Updated,
                cause: format!(
                    "health {}, capabilities {}",
                    advert.health.state, advert.capabilities
                ),
                writer_guid: None,
            }),
            Ok(false) => {
                // A removed capability: advertise it afresh. The old
                // advert's dispose may arrive after the new one: the
                // registry ignores it, as it comes from the old advert
                // writer.
                if let Some(old) = self.proxies.remove(&key) {
                    self.retire(key.clone(), old);
                }
                self.proxy_up(key, advert, "advert changed (capability removed)");
            }
            Err(error) => {
                let advert_key = self.keys.key(Space::Adverts, &key.topic, &key.producer);
                self.reject(&advert_key, format!("cannot update it on DDS: {error}"));
            }
        }
    }

    fn proxy_down(&mut self, key: AdvertKey, cause: DownCause) {
        let Some(proxy) = self.proxies.remove(&key) else {
            return;
        };
        self.retire(key.clone(), proxy);
        self.emit(BridgeEvent::ZenohProducer {
            producer: key.producer,
            topic: key.topic,
            state: ProducerState::Down,
            cause: cause.to_string(),
            writer_guid: None,
        });
    }

    pub(super) async fn zenoh_data(&mut self, sample: &Sample) {
        let key_text = sample.key_expr().as_str();
        let parsed = self.keys.parse(Space::Data, key_text).ok();
        let proxy = parsed
            .as_ref()
            .and_then(|(topic, producer)| self.proxies.get_mut(&AdvertKey::new(producer, topic)));
        let Some(proxy) = proxy else {
            // A producer that is not up (no advert or no token): its data
            // has no advert on DDS to be selected by.
            self.stats.samples_unadvertised += 1;
            return;
        };
        let payload = sample.payload().to_bytes();
        let guid = proxy.guid();
        match proxy.write(&payload) {
            Ok(()) => self.stats.samples_to_dds += 1,
            Err(failure) => {
                self.stats.samples_dropped += 1;
                tracing::debug!(key = key_text, %failure, "zenoh sample not written on DDS");
            }
        }
        // The proxy's writer is the one its advert on DDS names, so the one
        // a selection of this producer routes.
        if let Some((topic, _)) = parsed {
            self.feed_followed(&topic, guid, &payload).await;
        }
    }
}
