//! Followed streams in the shell: started from the config and from
//! `<prefix>/follow` queries, fed every sample of their topics, and their
//! deliveries and switch events put on Zenoh.

use std::sync::Arc;

use vigil_discovery::clock::unix_now_ns;
use vigil_discovery::Delivered;
use zenoh::bytes::Encoding;
use zenoh::query::Query;

use super::{BridgeEvent, Shell};
use crate::zenoh::advert_json::Origin;
use crate::zenoh::config::{FollowRoute, MAX_FOLLOWED};
use crate::zenoh::follow::{
    declared_name, switch_json, DeclaredBy, FollowInput, Followed, FollowedSample,
};

impl<F: FnMut(BridgeEvent)> Shell<F> {
    /// Starts a followed stream; its index, or why not.
    pub(super) fn start_followed(
        &mut self,
        route: FollowRoute,
        declared_by: DeclaredBy,
    ) -> Result<usize, String> {
        if self.followed.len() >= MAX_FOLLOWED {
            return Err(format!(
                "this bridge follows {MAX_FOLLOWED} streams already"
            ));
        }
        let index = self.followed.len();
        let followed = Followed::start(
            &self.participant,
            route,
            declared_by,
            index,
            self.follow_inputs.clone(),
        )?;
        let event = BridgeEvent::Following {
            key: self.keys.followed(&followed.route.key),
            switches: self.keys.switches(&followed.route.key),
            query: followed.route.query.clone(),
            declared_by: declared_by.as_str().to_owned(),
        };
        self.followed.push(followed);
        self.emit(event);
        Ok(index)
    }

    /// A switch event or a route change of stream `index`.
    pub(super) async fn follow_input(&mut self, input: FollowInput) {
        match input {
            FollowInput::Route(index, route) => {
                let Some(followed) = self.followed.get_mut(index) else {
                    return;
                };
                let mut out = Vec::new();
                followed.filter.on_route(route, &mut out);
                self.put_followed(index, out).await;
            }
            FollowInput::Switch(index, event) => {
                let Some(followed) = self.followed.get(index) else {
                    return;
                };
                let data = self.keys.followed(&followed.route.key);
                let writers = &self.bridge_writers;
                let origin = |guid: &[u8; 16]| {
                    if writers.contains(guid) {
                        Origin::Zenoh
                    } else {
                        Origin::Dds
                    }
                };
                let body = switch_json(&event, &data, &followed.route.query, origin);
                let switches = self.keys.switches(&followed.route.key);
                let put = self
                    .session
                    .put(switches, body.to_string())
                    .encoding(Encoding::APPLICATION_JSON)
                    .await;
                if let Err(error) = put {
                    tracing::warn!(%error, key = %data, "switch event not put on zenoh");
                }
                let active = event.active.as_ref();
                let switched = BridgeEvent::Switched {
                    key: data,
                    producer: active.map(|a| a.key.producer.clone()),
                    origin: active.map(|a| origin(&a.writer_guid)),
                    previous: event.previous.as_ref().map(|k| k.producer.clone()),
                    cause: event.cause.to_string(),
                };
                self.emit(switched);
            }
        }
    }

    /// Offers a sample of `topic` from writer `guid` to every stream that
    /// reads the topic, and puts what they deliver.
    pub(super) async fn feed_followed(&mut self, topic: &str, guid: [u8; 16], payload: &[u8]) {
        if self.followed.is_empty() {
            return;
        }
        let Some(type_name) = self.config.route(topic).map(|r| r.type_name.as_str()) else {
            return;
        };
        let type_name: Arc<str> = Arc::from(type_name);
        // Reception time as the filter's clock: samples of every producer
        // reach the bridge, so it orders them all alike.
        let at = unix_now_ns();
        for index in 0..self.followed.len() {
            let followed = &mut self.followed[index];
            if !followed.reads(topic) {
                continue;
            }
            let sample = FollowedSample {
                payload: payload.to_vec(),
                type_name: Arc::clone(&type_name),
            };
            let mut out = Vec::new();
            followed.filter.accept(guid, Some(at), sample, &mut out);
            self.put_followed(index, out).await;
        }
    }

    async fn put_followed(&mut self, index: usize, out: Vec<Delivered<FollowedSample>>) {
        if out.is_empty() {
            return;
        }
        let key = self.keys.followed(&self.followed[index].route.key);
        for delivered in out {
            let encoding = Encoding::APPLICATION_CDR.with_schema(&*delivered.value.type_name);
            // The producer rides along, so an application can tell a
            // switch without decoding the sample.
            let put = self
                .session
                .put(&key, delivered.value.payload)
                .encoding(encoding)
                .attachment(delivered.producer.as_bytes().to_vec())
                .await;
            match put {
                Ok(()) => self.stats.samples_followed += 1,
                Err(error) => {
                    self.stats.samples_dropped += 1;
                    tracing::debug!(%error, %key, "followed sample not put on zenoh");
                }
            }
        }
    }

    /// A Zenoh application declares a followed stream: the query in the
    /// `query` parameter (or the payload). The same normalized query gets
    /// the same stream.
    pub(super) async fn answer_follow(&mut self, query: Query) {
        self.stats.queries += 1;
        let text = query
            .parameters()
            .get("query")
            .map(str::to_owned)
            .or_else(|| {
                query
                    .payload()
                    .and_then(|p| p.try_to_string().ok().map(|s| s.into_owned()))
            })
            .unwrap_or_default();
        let answer = self.declare_followed(text.trim());
        let key = self.keys.follow();
        let reply = match answer {
            Ok(body) => {
                query
                    .reply(key, body.to_string())
                    .encoding(Encoding::APPLICATION_JSON)
                    .await
            }
            Err(error) => {
                self.emit(BridgeEvent::Rejected {
                    key: format!("{key}?query={text}"),
                    error: error.clone(),
                    rejected: self.stats.adverts_rejected,
                });
                query
                    .reply_err(serde_json::json!({ "error": error }).to_string())
                    .encoding(Encoding::APPLICATION_JSON)
                    .await
            }
        };
        if let Err(error) = reply {
            tracing::warn!(%error, "follow reply not sent");
        }
    }

    /// The stream for `text` (started if new): its keys as JSON.
    fn declare_followed(&mut self, text: &str) -> Result<serde_json::Value, String> {
        if text.is_empty() {
            return Err("no query: ask `<prefix>/follow?query=<vigil query>`".to_owned());
        }
        let parsed = vigil_qos::Query::parse(text).map_err(|e| format!("query `{text}`: {e}"))?;
        if let Some(why) = self.config.follow_problem(&parsed) {
            return Err(why);
        }
        let normalized = parsed.to_string();
        let existing = self
            .followed
            .iter()
            .position(|f| f.route.query == normalized);
        let (index, shared) = match existing {
            Some(index) => (index, true),
            None => {
                let name = declared_name(&normalized);
                let route = FollowRoute::new(name, &parsed);
                (self.start_followed(route, DeclaredBy::Zenoh)?, false)
            }
        };
        let followed = &self.followed[index];
        Ok(serde_json::json!({
            "key": self.keys.followed(&followed.route.key),
            "switches": self.keys.switches(&followed.route.key),
            "query": followed.route.query,
            "declared_by": followed.declared_by.as_str(),
            "shared": shared,
            "producer": followed.producer(),
        }))
    }
}
