//! `vigil monitor --http ADDR:PORT`: one self-contained page, updated live
//! by server-sent events: every producer per topic with its health, the
//! diagnostic tree of a selected producer with its failing paths and
//! explanation, each consumer's chain and active producer, and a timeline
//! of health changes and switches with their causes (issue 11).
//!
//! # Layout
//!
//! - `server`: the HTTP server (page, `/state`, `/events`) and the hub
//!   that pushes each new state to the open streams.
//! - `snapshot`: the state as JSON, the explanations, the timeline entries.
//! - `page.html`: the page, embedded.
//!
//! The registry's changes reach the view through the core's recorder hook
//! ([`Feed`], in front of any flight recorder or metrics), the consumers'
//! routes through the [`RouteBoard`]; each wakes the loop of
//! [`Live::run`], which publishes a new state at most every
//! [`MIN_GAP`] (and every second, for the ages).

mod server;
mod snapshot;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use clap::Args;
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::Notify;
use vigil_discovery::clock::now;
use vigil_discovery::{RecordedSession, RecordedStep, Recorder, RouteBoard, Selector};

use super::dds_args::unix_seconds;
use super::InputError;
use server::LiveServer;

/// Publishes at most this often: a burst of changes (a host going down
/// with its producers) becomes one state, and the page stays responsive
/// with a thousand producers.
const MIN_GAP: Duration = Duration::from_millis(25);

/// The live view flag.
#[derive(Clone, Debug, Args)]
pub(crate) struct LiveArgs {
    /// Serve a live web page of the domain at this address (e.g.
    /// 127.0.0.1:8080): producers and their health, a producer's diagnostic
    /// tree, consumers' routes, a timeline of switches and their causes.
    #[arg(long, value_name = "ADDR:PORT", conflicts_with = "once")]
    http: Option<SocketAddr>,
}

impl LiveArgs {
    /// Starts the server, if asked for, with its recorder in front of
    /// `inner` (the flight recorder or the metrics).
    pub(crate) fn start(&self, inner: Option<Arc<dyn Recorder>>) -> anyhow::Result<Option<Live>> {
        let Some(addr) = self.http else {
            return Ok(None);
        };
        let server =
            LiveServer::start(addr).map_err(|e| InputError(format!("--http {addr}: {e}")))?;
        eprintln!("live view on http://{}/", server.addr());
        Ok(Some(Live {
            server,
            feed: Arc::new(Feed {
                inner,
                timeline: Mutex::new(VecDeque::new()),
                changed: Notify::new(),
            }),
        }))
    }
}

/// A running live view.
#[derive(Debug)]
pub(crate) struct Live {
    server: LiveServer,
    feed: Arc<Feed>,
}

impl Live {
    /// The recorder to give the core: it feeds the view and passes every
    /// step on.
    pub(crate) fn recorder(&self) -> Arc<dyn Recorder> {
        Arc::clone(&self.feed) as Arc<dyn Recorder>
    }

    /// Publishes the state at every change until dropped (never returns).
    pub(crate) async fn run(&self, selector: &Selector, routes: &RouteBoard) {
        let mut updates = routes.updates();
        let mut open = true;
        let mut switches_seen = BTreeMap::new();
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = self.feed.changed.notified() => {}
                update = updates.recv(), if open => match update {
                    Ok(update) => {
                        if let Some(entry) = snapshot::route_entry(&update, &mut switches_seen) {
                            snapshot::push(&mut lock(&self.feed.timeline), entry);
                        }
                    }
                    // The routes stay whole; only timeline entries are lost.
                    Err(RecvError::Lagged(n)) => tracing::warn!(n, "live view missed route updates"),
                    Err(RecvError::Closed) => open = false,
                },
                _ = ticker.tick() => {}
            }
            tokio::time::sleep_until(last + MIN_GAP).await;
            last = tokio::time::Instant::now();
            let state = {
                let timeline = lock(&self.feed.timeline);
                snapshot::snapshot(
                    &selector.registry().snapshot(),
                    &routes.routes(),
                    &timeline,
                    now(),
                    unix_seconds(),
                )
            };
            self.server.hub().publish(state.to_string());
        }
    }
}

/// A poisoned lock only means a panic elsewhere; the timeline is plain
/// data.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The core's recorder while the view runs: timeline entries of the
/// registry's changes and a wake-up, then the step goes on to `inner`.
/// Never blocks the core: a short lock and a notification.
struct Feed {
    inner: Option<Arc<dyn Recorder>>,
    timeline: Mutex<VecDeque<Value>>,
    changed: Notify,
}

impl fmt::Debug for Feed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Feed")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl Recorder for Feed {
    fn session(&self, session: RecordedSession) {
        if let Some(inner) = &self.inner {
            inner.session(session);
        }
    }

    fn step(&self, step: RecordedStep) {
        if !step.changes.is_empty() || !step.events.is_empty() {
            let t = unix_seconds();
            let mut timeline = lock(&self.timeline);
            for change in &step.changes {
                if let Some(entry) = snapshot::registry_entry(change, t) {
                    snapshot::push(&mut timeline, entry);
                }
            }
            drop(timeline);
            self.changed.notify_one();
        }
        if let Some(inner) = &self.inner {
            inner.step(step);
        }
    }
}
