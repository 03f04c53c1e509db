//! Consumers' routes on DDS: a consumer's [`Selector`](super::Selector)
//! publishes its own ([`RoutePublisher`]), a monitor keeps everyone's
//! ([`RouteBoard`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::StreamExt;
use rustdds::with_key::Sample;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use super::participant::CdrWriter;
use super::sample::unix_now_ns;
use super::{DdsError, VigilParticipant};
use crate::route::{ConsumerIdentity, ConsumerRoute};
use crate::selection::SelectionEvent;
use crate::wire::{ConsumerRouteWire, CONSUMER_ROUTE_TOPIC};

/// A poisoned lock only means a panic elsewhere; the routes are plain data.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One consumer's route on [`CONSUMER_ROUTE_TOPIC`]: written when it
/// starts and at every switch, disposed when it stops.
pub(crate) struct RoutePublisher {
    writer: CdrWriter<ConsumerRouteWire>,
    route: Mutex<ConsumerRoute>,
}

impl RoutePublisher {
    /// Publishes the starting route of `identity` following `query`.
    pub(crate) fn start(
        participant: &VigilParticipant,
        identity: ConsumerIdentity,
        query: String,
    ) -> Result<RoutePublisher, DdsError> {
        identity.validate().map_err(|e| DdsError::Config {
            reason: format!("consumer id: {e}"),
        })?;
        let publisher = RoutePublisher {
            writer: participant.consumer_route_writer()?,
            route: Mutex::new(ConsumerRoute::starting(identity, query, unix_now_ns())),
        };
        let wire = lock(&publisher.route).to_wire();
        publisher
            .writer
            .write(wire, None)
            .map_err(|e| DdsError::write(CONSUMER_ROUTE_TOPIC, e))?;
        Ok(publisher)
    }

    /// Publishes the route after `event`. A failed write is logged, never
    /// returned: the route of the data matters more than its report.
    pub(crate) fn switched(&self, event: &SelectionEvent) {
        let wire = {
            let mut route = lock(&self.route);
            route.switched(event, unix_now_ns());
            route.to_wire()
        };
        if let Err(error) = self.writer.write(wire, None) {
            tracing::warn!(%error, "consumer route not published");
        }
    }

    /// Disposes the route so monitors drop the consumer at once, waiting up
    /// to 200 ms for readers to acknowledge.
    pub(crate) async fn dispose(&self) {
        let key = lock(&self.route).identity.id.clone();
        if let Err(error) = self.writer.dispose(&key, None) {
            tracing::warn!(%error, "consumer route not disposed");
            return;
        }
        let wait = self.writer.async_wait_for_acknowledgments();
        let _ = tokio::time::timeout(std::time::Duration::from_millis(200), wait).await;
    }
}

impl fmt::Debug for RoutePublisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoutePublisher")
            .field("route", &*lock(&self.route))
            .finish_non_exhaustive()
    }
}

/// What a [`RouteBoard`] heard.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteUpdate {
    /// A consumer started or switched: its route now.
    Route(Box<ConsumerRoute>),
    /// A consumer stopped cleanly (disposed its route): its id.
    Gone(String),
}

/// Every consumer's current route on the domain, kept by a tokio task
/// reading [`CONSUMER_ROUTE_TOPIC`] (what `vigil monitor` shows).
///
/// A consumer that stops cleanly disappears at once; one that is killed
/// stays until DDS forgets its participant (rustdds: about 50 s).
pub struct RouteBoard {
    shared: Arc<BoardShared>,
    updates: broadcast::Sender<RouteUpdate>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct BoardShared {
    routes: Mutex<BTreeMap<String, ConsumerRoute>>,
    rejected: AtomicU64,
}

impl fmt::Debug for RouteBoard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteBoard")
            .field("routes", &lock(&self.shared.routes).len())
            .finish_non_exhaustive()
    }
}

impl RouteBoard {
    /// Starts reading the routes. Must be called inside a tokio runtime.
    pub fn start(participant: &VigilParticipant) -> Result<RouteBoard, DdsError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| DdsError::Config {
            reason: "RouteBoard::start needs a tokio runtime".to_owned(),
        })?;
        let samples = participant.consumer_route_reader()?.async_sample_stream();
        let shared = Arc::new(BoardShared::default());
        let (updates, _) = broadcast::channel(256);
        let (stop, stopped) = watch::channel(false);
        let task = runtime.spawn(read_routes(
            Arc::clone(&shared),
            updates.clone(),
            samples,
            stopped,
        ));
        Ok(RouteBoard {
            shared,
            updates,
            stop,
            task: Some(task),
        })
    }

    /// The current routes, by consumer id.
    pub fn routes(&self) -> Vec<ConsumerRoute> {
        lock(&self.shared.routes).values().cloned().collect()
    }

    /// Every update from now on (a slow receiver misses some; the routes
    /// stay whole).
    pub fn updates(&self) -> broadcast::Receiver<RouteUpdate> {
        self.updates.subscribe()
    }

    /// Route samples refused as malformed or invalid since the start.
    pub fn rejected(&self) -> u64 {
        self.shared.rejected.load(Ordering::Relaxed)
    }

    /// Stops the task and waits for it.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RouteBoard {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn read_routes<S>(
    shared: Arc<BoardShared>,
    updates: broadcast::Sender<RouteUpdate>,
    mut samples: S,
    mut stopped: watch::Receiver<bool>,
) where
    S: futures::Stream<
            Item = rustdds::dds::ReadResult<rustdds::with_key::DataSample<ConsumerRouteWire>>,
        > + Unpin,
{
    loop {
        let sample = tokio::select! {
            sample = samples.next() => sample,
            _ = stopped.changed() => return,
        };
        let update = match sample {
            None => return,
            Some(Err(error)) => {
                shared.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, topic = CONSUMER_ROUTE_TOPIC, "malformed sample");
                continue;
            }
            Some(Ok(sample)) => match sample.into_value() {
                Sample::Dispose(id) => {
                    lock(&shared.routes).remove(&id);
                    RouteUpdate::Gone(id)
                }
                Sample::Value(wire) => match ConsumerRoute::from_wire(&wire) {
                    Ok(route) => {
                        let mut routes = lock(&shared.routes);
                        // A late joiner gets each consumer's recent switches
                        // in order; a restarted consumer (same id, new
                        // writer) starts its count again but is newer.
                        let newer = routes
                            .get(&route.identity.id)
                            .is_none_or(|held| held.timestamp_ns <= route.timestamp_ns);
                        if newer {
                            routes.insert(route.identity.id.clone(), route.clone());
                        }
                        RouteUpdate::Route(Box::new(route))
                    }
                    Err(error) => {
                        shared.rejected.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%error, "consumer route rejected");
                        continue;
                    }
                },
            },
        };
        // No receiver is fine.
        let _ = updates.send(update);
    }
}
