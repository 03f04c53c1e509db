//! Followed streams in the shell: started from the config and from
//! `<prefix>/follow` queries, fed every sample of their topics, their
//! deliveries and switch events put on Zenoh, and the declared ones
//! stopped once nobody subscribes.

use std::sync::Arc;
use std::time::Instant;

use vigil_discovery::clock::unix_now_ns;
use vigil_discovery::Delivered;
use zenoh::bytes::Encoding;
use zenoh::query::Query;

use super::{BridgeEvent, Shell};
use crate::zenoh::advert_json::Origin;
use crate::zenoh::config::{FollowRoute, MAX_FOLLOWED};
use crate::zenoh::follow::{
    declared_name, switch_json, DeclaredBy, FollowInput, Followed, FollowedSample, UNFOLLOWED_AFTER,
};

impl<F: FnMut(BridgeEvent)> Shell<F> {
    /// Starts a followed stream; its id, or why not.
    pub(super) async fn start_followed(
        &mut self,
        route: FollowRoute,
        declared_by: DeclaredBy,
    ) -> Result<u64, String> {
        if self.followed.len() >= MAX_FOLLOWED {
            return Err(format!(
                "this bridge follows {MAX_FOLLOWED} streams already"
            ));
        }
        let session = &self.session;
        let declare = |key: String| async move {
            session
                .declare_publisher(key.clone())
                .await
                .map_err(|e| format!("declaring a publisher on `{key}`: {e}"))
        };
        let data = declare(self.keys.followed(&route.key)).await?;
        let switches = declare(self.keys.switches(&route.key)).await?;
        let id = self.next_followed;
        self.next_followed += 1;
        let followed = Followed::start(
            &self.participant,
            route,
            declared_by,
            (id, self.follow_inputs.clone()),
            (data, switches),
        )?;
        let event = BridgeEvent::Following {
            key: self.keys.followed(&followed.route.key),
            switches: self.keys.switches(&followed.route.key),
            query: followed.route.query.clone(),
            declared_by: declared_by.as_str().to_owned(),
        };
        self.followed.insert(id, followed);
        self.emit(event);
        Ok(id)
    }

    /// Stops the declared streams nobody has subscribed to for
    /// [`UNFOLLOWED_AFTER`].
    pub(super) async fn retire_unfollowed(&mut self) {
        let now = Instant::now();
        let mut retired = Vec::new();
        for (id, followed) in &mut self.followed {
            if followed.declared_by != DeclaredBy::Zenoh {
                continue;
            }
            let matching = match followed.data.matching_status().await {
                Ok(status) => status.matching(),
                // Unknown: keep it.
                Err(_) => true,
            };
            if matching {
                followed.unmatched_since = None;
            } else {
                let since = *followed.unmatched_since.get_or_insert(now);
                if now.duration_since(since) >= UNFOLLOWED_AFTER {
                    retired.push(*id);
                }
            }
        }
        for id in retired {
            let Some(followed) = self.followed.remove(&id) else {
                continue;
            };
            let key = self.keys.followed(&followed.route.key);
            let query = followed.route.query.clone();
            followed.stop().await;
            self.emit(BridgeEvent::Unfollowed {
                key,
                query,
                cause: format!("no subscriber for {} s", UNFOLLOWED_AFTER.as_secs_f64()),
            });
        }
    }

    /// A switch event or a route change of stream `id`.
    pub(super) async fn follow_input(&mut self, input: FollowInput) {
        match input {
            FollowInput::Route(id, route) => {
                let Some(followed) = self.followed.get_mut(&id) else {
                    return;
                };
                let mut out = Vec::new();
                followed.filter.on_route(route, &mut out);
                self.put_followed(id, out).await;
            }
            FollowInput::Switch(id, event) => {
                let Some(followed) = self.followed.get(&id) else {
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
                let put = followed
                    .switches
                    .put(body.to_string())
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
        let ids: Vec<u64> = self
            .followed
            .iter()
            .filter(|(_, f)| f.reads(topic))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let Some(followed) = self.followed.get_mut(&id) else {
                continue;
            };
            let sample = FollowedSample {
                payload: payload.to_vec(),
                type_name: Arc::clone(&type_name),
            };
            let mut out = Vec::new();
            followed.filter.accept(guid, Some(at), sample, &mut out);
            self.put_followed(id, out).await;
        }
    }

    async fn put_followed(&mut self, id: u64, out: Vec<Delivered<FollowedSample>>) {
        let Some(followed) = self.followed.get(&id).filter(|_| !out.is_empty()) else {
            return;
        };
        for delivered in out {
            let encoding = Encoding::APPLICATION_CDR.with_schema(&*delivered.value.type_name);
            // The producer rides along, so an application can tell a
            // switch without decoding the sample.
            let put = followed
                .data
                .put(delivered.value.payload)
                .encoding(encoding)
                .attachment(delivered.producer.as_bytes().to_vec())
                .await;
            match put {
                Ok(()) => self.stats.samples_followed += 1,
                Err(error) => {
                    self.stats.samples_dropped += 1;
                    tracing::debug!(%error, key = %followed.data.key_expr(), "followed sample not put on zenoh");
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
        let answer = self.declare_followed(text.trim()).await;
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
    async fn declare_followed(&mut self, text: &str) -> Result<serde_json::Value, String> {
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
            .find(|(_, f)| f.route.query == normalized)
            .map(|(id, _)| *id);
        let (id, shared) = match existing {
            Some(id) => (id, true),
            None => {
                let name = declared_name(&normalized);
                let route = FollowRoute::new(name, &parsed);
                (self.start_followed(route, DeclaredBy::Zenoh).await?, false)
            }
        };
        let Some(followed) = self.followed.get_mut(&id) else {
            return Err("the stream stopped".to_owned());
        };
        // The asking application subscribes after the reply: give it the
        // whole grace from now.
        followed.unmatched_since = None;
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
