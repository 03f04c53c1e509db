//! DDS → Zenoh: every advert of the DDS registry as JSON, again whenever
//! its health changes, a liveliness token while its lease holds, and the
//! samples of the bridged topics as encapsulated CDR.

use futures::stream::{select_all, StreamExt};
use rustdds::policy::Reliability as DdsReliability;
use rustdds::with_key::Sample as DdsSample;
use rustdds::{QosPolicies, QosPolicyBuilder};
use vigil_discovery::{data_qos, AdvertKey, EntryView, VigilParticipant};
use zenoh::bytes::Encoding;
use zenoh::key_expr::KeyExpr;

use super::{BridgeError, BridgeEvent, DdsStream, OutRoute, ProducerState, Shell};
use crate::raw::{RawKeyedReader, RawKeyedSample, RawReader, RawSample};
use crate::zenoh::config::{BridgeConfig, Reliability, TopicRoute};
use crate::zenoh::export::Export;
use crate::zenoh::keys::Space;
use crate::zenoh::proxy::reader_topic;

/// The QoS of a route's raw reader: vigil's data QoS with the route's
/// reliability (a reliable reader never matches a best-effort writer).
fn reader_qos(route: &TopicRoute) -> QosPolicies {
    match route.reliability {
        Reliability::Reliable => data_qos(),
        Reliability::BestEffort => data_qos().modify_by(
            &QosPolicyBuilder::new()
                .reliability(DdsReliability::BestEffort)
                .build(),
        ),
    }
}

/// One raw reader per topic whose DDS samples go to Zenoh, merged.
pub(super) fn dds_readers(
    participant: &VigilParticipant,
    config: &BridgeConfig,
) -> Result<futures::stream::SelectAll<DdsStream>, BridgeError> {
    let mut streams: Vec<DdsStream> = Vec::new();
    for (index, route) in config.topics.iter().enumerate() {
        if !route.forward.to_zenoh() {
            continue;
        }
        let topic = reader_topic(participant, route)?;
        let create = |e| vigil_discovery::DdsError::create("raw reader", &route.topic, e);
        if route.keyed {
            let reader = participant
                .subscriber()
                .create_datareader::<RawKeyedSample, RawKeyedReader>(
                    &topic,
                    Some(reader_qos(route)),
                )
                .map_err(create)?;
            streams.push(Box::pin(reader.async_sample_stream().filter_map(
                move |r| {
                    let item = match r {
                        Err(_) => Some(Err(())),
                        Ok(sample) => {
                            let guid = sample.sample_info().writer_guid().to_bytes();
                            match sample.into_value() {
                                DdsSample::Value(v) => Some(Ok((index, guid, v.sample))),
                                // A producer leaving: no data to forward.
                                DdsSample::Dispose(_) => None,
                            }
                        }
                    };
                    std::future::ready(item)
                },
            )));
        } else {
            let reader = participant
                .subscriber()
                .create_datareader_no_key::<RawSample, RawReader>(&topic, Some(reader_qos(route)))
                .map_err(create)?;
            streams.push(Box::pin(reader.async_sample_stream().map(move |r| {
                let sample = r.map_err(|_| ())?;
                let guid = sample.sample_info().writer_guid().to_bytes();
                Ok((index, guid, sample.into_value()))
            })));
        }
    }
    Ok(select_all(streams))
}

impl<F: FnMut(BridgeEvent)> Shell<F> {
    pub(super) async fn export(&mut self) {
        let snapshot = self.selector.registry().snapshot();
        let writers = &self.bridge_writers;
        let exports = self
            .exported
            .diff(&snapshot, |v| writers.contains(&v.advert.writer_guid));
        for export in exports {
            match export {
                Export::Put(view) => self.put_advert(&view).await,
                Export::Up(key) => self.declare_token(key).await,
                Export::Down(key, gone) => {
                    if let Some(token) = self.tokens.remove(&key) {
                        let _ = token.undeclare().await;
                    }
                    self.emit(BridgeEvent::DdsProducer {
                        producer: key.producer,
                        topic: key.topic,
                        state: ProducerState::Down,
                        cause: gone.to_string(),
                    });
                }
                Export::Delete(key) => {
                    self.out_routes.retain(|_, r| r.key != key);
                    let advert = self.keys.key(Space::Adverts, &key.topic, &key.producer);
                    if let Err(error) = self.session.delete(advert).await {
                        tracing::warn!(%error, producer = %key.producer, "advert not deleted on zenoh");
                    }
                }
            }
        }
    }

    async fn put_advert(&mut self, view: &EntryView) {
        let key = &view.advert.key;
        let json = self.advert_json(view);
        // The data route follows the advert's writer (a restarted producer
        // has a new GUID).
        self.out_routes.retain(|_, r| r.key != *key);
        if let Some(data) = &json.data {
            match KeyExpr::try_from(data.clone()) {
                Ok(data) => {
                    self.out_routes.insert(
                        view.advert.writer_guid,
                        OutRoute {
                            key: key.clone(),
                            data,
                            type_name: view.advert.type_name.clone(),
                        },
                    );
                }
                Err(error) => tracing::warn!(%error, "data key refused by zenoh"),
            }
        }
        let advert = self.keys.key(Space::Adverts, &key.topic, &key.producer);
        let put = self
            .session
            .put(advert, self.advert_text(&json))
            .encoding(Encoding::APPLICATION_JSON)
            .await;
        if let Err(error) = put {
            tracing::warn!(%error, producer = %key.producer, "advert not put on zenoh");
        }
    }

    async fn declare_token(&mut self, key: AdvertKey) {
        let alive = self.keys.key(Space::Alive, &key.topic, &key.producer);
        match self.session.liveliness().declare_token(alive).await {
            Ok(token) => {
                self.tokens.insert(key.clone(), token);
                self.emit(BridgeEvent::DdsProducer {
                    producer: key.producer,
                    topic: key.topic,
                    state: ProducerState::Up,
                    cause: "advertised on DDS and reachable".to_owned(),
                });
            }
            Err(error) => {
                tracing::warn!(%error, producer = %key.producer, "liveliness token not declared")
            }
        }
    }

    // ---- DDS → Zenoh: data ----

    pub(super) async fn dds_data(&mut self, route: usize, guid: [u8; 16], sample: RawSample) {
        if self.bridge_writers.contains(&guid) {
            // A Zenoh producer's sample the bridge wrote: never echoed
            // (followed streams get it from Zenoh).
            return;
        }
        let encapsulated = sample.to_encapsulated();
        if let Some(topic) = self.config.topics.get(route).map(|r| r.topic.clone()) {
            self.feed_followed(&topic, guid, &encapsulated).await;
        }
        let topic = self.config.topics.get(route).map(|r| r.topic.as_str());
        let Some(out) = self
            .out_routes
            .get(&guid)
            .filter(|o| Some(o.key.topic.as_str()) == topic)
        else {
            // No advert names this writer (yet): vigil routes producers,
            // not anonymous writers.
            self.stats.samples_unadvertised += 1;
            return;
        };
        let encoding = Encoding::APPLICATION_CDR.with_schema(out.type_name.clone());
        let put = self
            .session
            .put(out.data.clone(), encapsulated)
            .encoding(encoding)
            .await;
        match put {
            Ok(()) => self.stats.samples_to_zenoh += 1,
            Err(error) => {
                self.stats.samples_dropped += 1;
                tracing::debug!(%error, "sample not put on zenoh");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zenoh::config::BridgeConfig;

    #[test]
    fn the_readers_request_the_configured_reliability() {
        let text = "zenoh: {listen: [tcp/127.0.0.1:7447]}\ntopics:\n  - {topic: a, type: T}\n  - {topic: b, type: T, reliability: best_effort}\n";
        let config = BridgeConfig::parse(text, "t.yaml").unwrap();
        assert!(matches!(
            reader_qos(&config.topics[0]).reliability(),
            Some(DdsReliability::Reliable { .. })
        ));
        let best_effort = reader_qos(&config.topics[1]);
        assert_eq!(best_effort.reliability(), Some(DdsReliability::BestEffort));
        // Everything else is vigil's data QoS.
        assert_eq!(best_effort.history(), data_qos().history());
    }
}
