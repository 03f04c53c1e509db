//! The queryables: the whole registry, the best producer for a query, and
//! the DDS producers' adverts for late joiners.

use vigil_discovery::clock::now;
use zenoh::bytes::Encoding;
use zenoh::key_expr::KeyExpr;
use zenoh::query::Query;

use super::{BridgeEvent, Shell};
use crate::zenoh::advert_json::AdvertJson;
use crate::zenoh::best;
use crate::zenoh::keys::Space;

impl<F: FnMut(BridgeEvent)> Shell<F> {
    pub(super) async fn answer_registry(&mut self, query: Query) {
        self.stats.queries += 1;
        let adverts: Vec<AdvertJson> = self
            .selector
            .registry()
            .snapshot()
            .iter()
            .map(|v| self.advert_json(v))
            .collect();
        let body = serde_json::json!({
            "key_prefix": self.keys.prefix(),
            "bridge": self.session.zid().to_string(),
            "adverts": adverts,
        });
        let reply = query
            .reply(self.keys.registry(), body.to_string())
            .encoding(Encoding::APPLICATION_JSON)
            .await;
        if let Err(error) = reply {
            tracing::warn!(%error, "registry reply not sent");
        }
    }

    pub(super) async fn answer_best(&mut self, query: Query) {
        self.stats.queries += 1;
        let key_text = query.key_expr().as_str().to_owned();
        let text = query
            .parameters()
            .get("query")
            .map(str::to_owned)
            .or_else(|| {
                query
                    .payload()
                    .and_then(|p| p.try_to_string().ok().map(|s| s.into_owned()))
            });
        let parsed = self
            .keys
            .parse_best(&key_text)
            .map_err(|e| e.to_string())
            .and_then(|topic| Ok((topic.clone(), best::parse_query(&topic, text.as_deref())?)));
        let (topic, parsed) = match parsed {
            Ok(ok) => ok,
            Err(error) => {
                let body = serde_json::json!({ "error": error });
                let _ = query
                    .reply_err(body.to_string())
                    .encoding(Encoding::APPLICATION_JSON)
                    .await;
                let topic = self.keys.parse_best(&key_text).unwrap_or_default();
                self.emit(BridgeEvent::Best {
                    topic,
                    query: text.unwrap_or_default(),
                    producer: None,
                    origin: None,
                    data: None,
                    error: Some(error),
                });
                return;
            }
        };
        let registry = self.selector.registry();
        let answer = best::answer(registry, &topic, &parsed, now(), |v| self.describe(v));
        let body = serde_json::to_string(&answer).unwrap_or_default();
        let reply = query
            .reply(self.keys.best(&topic), body)
            .encoding(Encoding::APPLICATION_JSON)
            .await;
        if let Err(error) = reply {
            tracing::warn!(%error, "best reply not sent");
        }
        self.emit(BridgeEvent::Best {
            topic,
            query: answer.query,
            producer: answer.producer,
            origin: answer.origin,
            data: answer.data,
            error: None,
        });
    }

    /// Late joiners asking for adverts get those of the DDS producers
    /// (Zenoh producers answer for themselves).
    pub(super) async fn answer_adverts(&mut self, query: Query) {
        self.stats.queries += 1;
        let asked = query.key_expr().clone();
        for view in self.selector.registry().snapshot() {
            if self.bridge_writers.contains(&view.advert.writer_guid) {
                continue;
            }
            let key = &view.advert.key;
            let Ok(advert) =
                KeyExpr::try_from(self.keys.key(Space::Adverts, &key.topic, &key.producer))
            else {
                continue;
            };
            if !asked.intersects(&advert) {
                continue;
            }
            let reply = query
                .reply(advert, self.advert_text(&self.advert_json(&view)))
                .encoding(Encoding::APPLICATION_JSON)
                .await;
            if let Err(error) = reply {
                tracing::warn!(%error, "advert reply not sent");
            }
        }
    }
}
