//! Followed streams: one Zenoh key whose samples always come from the best
//! producer for a vigil query now, DDS and Zenoh producers alike, switching
//! as a DDS consumer of that query would (the Zenoh twin of the ROS 2
//! agent's relay).
//!
//! Each stream is a [`Selector`] on the bridge's DDS participant (which
//! hears the DDS producers' adverts and, through the proxies, the Zenoh
//! producers') and a [`Filter`] that passes the selected writer's samples
//! only: the same selection, policy and hot-standby replay as a DDS
//! consumer, not a second implementation. The shell feeds the filter every
//! sample of the query's topics with the writer it came from (a Zenoh
//! producer's is its proxy's writer, which its advert on DDS names) and
//! puts what the filter delivers on the stream's key.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use vigil_discovery::{
    DdsError, Filter, Route, SelectionEvent, Selector, SelectorConfig, StandbyConfig,
    VigilParticipant,
};
use vigil_qos::Query;
use zenoh::pubsub::Publisher;

use super::advert_json::Origin;
use super::config::FollowRoute;

/// How long a new stream collects adverts before its first selection, as
/// `vigil consume` does by default: transient-local adverts arrive one by
/// one, and selecting at once would take the first heard and switch again
/// after wait-to-restore when the best one arrives.
pub(crate) const FIRST_SELECTION_AFTER: Duration = Duration::from_millis(500);

/// A stream a Zenoh application declared is stopped once nothing has
/// subscribed to its key for this long (its applications left, or never
/// subscribed after asking), so declarations cannot fill the bridge's
/// [`MAX_FOLLOWED`](super::config::MAX_FOLLOWED) streams for good. Streams
/// of the config stay.
pub(crate) const UNFOLLOWED_AFTER: Duration = Duration::from_secs(5);

/// Who declared a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeclaredBy {
    /// The bridge's config file (`follow:`).
    Config,
    /// A Zenoh application, through `<prefix>/follow`.
    Zenoh,
}

impl DeclaredBy {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DeclaredBy::Config => "config",
            DeclaredBy::Zenoh => "zenoh",
        }
    }
}

/// One sample on its way to a followed key.
#[derive(Clone, Debug)]
pub(crate) struct FollowedSample {
    /// Encapsulated CDR, as on the producer's own data key.
    pub(crate) payload: Vec<u8>,
    /// The DDS type name (the encoding's schema).
    pub(crate) type_name: Arc<str>,
}

/// What a stream's watcher hands the bridge's task.
#[derive(Debug)]
pub(crate) enum FollowInput {
    /// The selection switched (or found nothing).
    Switch(u64, Box<SelectionEvent>),
    /// The data route changed: the filter must follow it.
    Route(u64, Route),
}

/// One followed stream.
pub(crate) struct Followed {
    /// What it follows: its name under `followed/` and `switches/`, its
    /// query and policy.
    pub(crate) route: FollowRoute,
    /// The data topics its query names.
    pub(crate) topics: Vec<String>,
    pub(crate) selector: Selector,
    pub(crate) filter: Filter<FollowedSample>,
    pub(crate) declared_by: DeclaredBy,
    /// Puts on `<prefix>/followed/<name>`; also says whether anyone
    /// subscribes.
    pub(crate) data: Publisher<'static>,
    /// Puts on `<prefix>/switches/<name>`.
    pub(crate) switches: Publisher<'static>,
    /// Since when no subscriber matched the data key (`None`: one does).
    pub(crate) unmatched_since: Option<Instant>,
    /// Forwards the selector's events and routes to the bridge's task.
    watcher: JoinHandle<()>,
}

impl Followed {
    /// Starts following `route.query` on `participant`; the watcher reports
    /// as stream `id` on `inputs` and puts with `data` and `switches`. Must
    /// run inside a tokio runtime.
    pub(crate) fn start(
        participant: &VigilParticipant,
        route: FollowRoute,
        declared_by: DeclaredBy,
        (id, inputs): (u64, mpsc::UnboundedSender<FollowInput>),
        (data, switches): (Publisher<'static>, Publisher<'static>),
    ) -> Result<Followed, String> {
        let query = Query::parse(&route.query).map_err(|e| format!("`{}`: {e}", route.query))?;
        let config = SelectorConfig::default()
            .with_policy(route.policy())
            .with_settle(FIRST_SELECTION_AFTER);
        let selector =
            Selector::start(participant, &query, config).map_err(|e: DdsError| e.to_string())?;
        let mut standby = StandbyConfig::default();
        standby.hot_standby = route.hot_standby;
        let watcher = tokio::spawn(watch_selector(
            id,
            selector.events(),
            selector.routes(),
            inputs,
        ));
        Ok(Followed {
            topics: selector.topics().to_vec(),
            route,
            selector,
            filter: Filter::new(standby),
            declared_by,
            data,
            switches,
            unmatched_since: None,
            watcher,
        })
    }

    /// Whether samples of `topic` may reach this stream.
    pub(crate) fn reads(&self, topic: &str) -> bool {
        self.topics.iter().any(|t| t == topic)
    }

    /// The producer followed now.
    pub(crate) fn producer(&self) -> Option<String> {
        self.filter
            .route()
            .active
            .as_ref()
            .map(|a| a.producer.clone())
    }

    /// Stops the selector and the watcher, and undeclares the publishers.
    pub(crate) async fn stop(self) {
        self.watcher.abort();
        self.selector.shutdown().await;
        let _ = self.data.undeclare().await;
        let _ = self.switches.undeclare().await;
    }
}

/// Forwards a selector's switch events and route changes, in the order the
/// selector made them, until either side closes.
async fn watch_selector(
    id: u64,
    mut events: broadcast::Receiver<SelectionEvent>,
    mut routes: watch::Receiver<Route>,
    inputs: mpsc::UnboundedSender<FollowInput>,
) {
    use broadcast::error::RecvError;
    loop {
        let input = tokio::select! {
            event = events.recv() => match event {
                Ok(event) => FollowInput::Switch(id, Box::new(event)),
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "followed stream: switch events not reported");
                    continue;
                }
                Err(RecvError::Closed) => return,
            },
            changed = routes.changed() => {
                if changed.is_err() {
                    return;
                }
                FollowInput::Route(id, routes.borrow_and_update().clone())
            }
        };
        if inputs.send(input).is_err() {
            return;
        }
    }
}

/// The name of a stream a Zenoh application declared: the same for the
/// same normalized query, so applications asking alike share one stream,
/// and a plain chunk whatever the query holds (FNV-1a, 64 bits).
pub(crate) fn declared_name(query: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in query.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("q{hash:016x}")
}

/// The JSON of a switch event on `<prefix>/switches/<name>`; `origin` says
/// where a producer lives.
pub(crate) fn switch_json(
    event: &SelectionEvent,
    data_key: &str,
    query: &str,
    origin: impl Fn(&[u8; 16]) -> Origin,
) -> serde_json::Value {
    let active = event.active.as_ref();
    json!({
        "key": data_key,
        "query": query,
        "producer": active.map(|a| a.key.producer.as_str()),
        "topic": active.map(|a| a.key.topic.as_str()),
        "origin": active.map(|a| origin(&a.writer_guid)),
        "previous": event.previous.as_ref().map(|k| k.producer.as_str()),
        "cause": event.cause.to_string(),
        "chain": event.chain.iter().map(|k| k.producer.as_str()).collect::<Vec<_>>(),
        "standby": event.standby.as_ref().map(|s| s.key.producer.as_str()),
        "unix_ns": vigil_discovery::clock::unix_now_ns(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_names_are_stable_plain_chunks() {
        let a = declared_name("imu WHERE health.state = OK");
        assert_eq!(a, declared_name("imu WHERE health.state = OK"));
        assert_ne!(a, declared_name("imu"));
        assert_eq!(a.len(), 17);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
    }
}
