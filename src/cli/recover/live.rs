//! The live loop: registry changes, supervisor news, action outcomes and
//! the engine's deadlines in; the engine's records out, carried out and
//! printed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::Instant;
use vigil_diag::{Path, State, Timestamp, UnknownReason};
use vigil_discovery::{
    EntryView, ReconfigPublisher, RecordedSession, RecordedStep, Recorder, Selector,
};
use vigil_qos::{Capabilities, Query};
use vigil_recovery::bt::{Action, ActionId, Condition, Engine, Leaf, Outcomes, Record};
use vigil_recovery::modes::{ModeChange, ModeSpec};
use vigil_recovery::{Action as SupAction, ChildId, Command, Exit, Supervisor};

use super::super::bt::{record_json, record_text};
use super::super::dds_args::{unix_seconds, Format};
use super::config::Loaded;
use super::feed::{changes, leaf_states};
use super::Event;

/// How long a `<Restart>` or `<Stop>` may wait for the supervisor's word
/// before it fails (a child already down never reports a stop).
const SUPERVISOR_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the current mode is published again.
const MODE_REPEAT: Duration = Duration::from_secs(1);

/// Wakes the engine after every registry step (the selector's recorder
/// hook runs in its task, right after the registry changed), and passes
/// the step on to `--record`/`--metrics` when they are on.
#[derive(Debug)]
pub(super) struct Waker {
    pub(super) wake: Arc<Notify>,
    pub(super) next: Option<Arc<dyn Recorder>>,
}

impl Recorder for Waker {
    fn session(&self, session: RecordedSession) {
        if let Some(next) = &self.next {
            next.session(session);
        }
    }
    fn step(&self, step: RecordedStep) {
        if let Some(next) = &self.next {
            next.step(step);
        }
        self.wake.notify_one();
    }
}

/// A finished action and whether it succeeded.
type Outcome = (ActionId, bool);

/// What the supervisor said that an action waits for.
#[derive(Debug)]
pub(super) enum News {
    Started(String),
    Stopped(String),
    SpawnFailed(String),
    GaveUp,
}

impl News {
    pub(super) fn of(sup: &Supervisor, event: &Event<'_>) -> Option<News> {
        let name = |c: ChildId| sup.child(c).id.clone();
        Some(match event {
            Event::Started { child, .. } => News::Started(name(*child)),
            Event::Exited {
                child,
                exit: Exit::SpawnFailed(_),
                ..
            } => News::SpawnFailed(name(*child)),
            Event::Decision(SupAction::Stopped(child)) => News::Stopped(name(*child)),
            Event::Decision(SupAction::GiveUp | SupAction::Escalated(_)) => News::GaveUp,
            _ => return None,
        })
    }
}

/// An action carried out by this shell, waiting for its outcome.
#[derive(Debug)]
enum Pending {
    Restart { child: String, until: Instant },
    Stop { child: String, until: Instant },
    Run(tokio::task::JoinHandle<()>),
}

/// The engine and what it acts through.
pub(super) struct Live {
    engine: Engine,
    name: String,
    leaves: Vec<Path>,
    held: BTreeMap<Path, (State, Option<UnknownReason>)>,
    voice: ReconfigPublisher,
    format: Format,
    commands: mpsc::UnboundedSender<Command>,
    children: HashMap<String, ChildId>,
    pending: BTreeMap<ActionId, Pending>,
    /// Producers isolated by `<Isolate>` (a mode change releases only its
    /// own).
    isolated_by_tree: BTreeSet<String>,
    /// Producers isolated because the mode says so (`isolate:`, or not
    /// in its `allow:`).
    isolated_by_mode: BTreeSet<String>,
    /// Supervised children stopped because the mode's `children:` leaves
    /// them out.
    stopped_by_mode: BTreeSet<String>,
    /// Capabilities overridden because the mode says so, per producer.
    overridden_by_mode: BTreeMap<String, Capabilities>,
    /// Whether the behaviour tree reads the registry itself (`<Available>`):
    /// then every registry change ticks it.
    reads_registry: bool,
    settle: Duration,
    /// The mode published last, with where it came from and why.
    last_mode: Option<(String, String, String)>,
    origin: Instant,
    /// Outcomes of `<Run>` commands, from their tasks.
    outcomes: (
        mpsc::UnboundedSender<Outcome>,
        mpsc::UnboundedReceiver<Outcome>,
    ),
}

impl Live {
    pub(super) fn new(
        loaded: Loaded,
        voice: ReconfigPublisher,
        format: Format,
        commands: mpsc::UnboundedSender<Command>,
        children: HashMap<String, ChildId>,
        settle: Duration,
    ) -> Live {
        let reads_registry = loaded.bt.as_ref().is_some_and(|bt| {
            bt.leaves()
                .any(|(_, leaf)| matches!(leaf, Leaf::Condition(Condition::Available { .. })))
        });
        Live {
            engine: Engine::new(loaded.tree, loaded.bt, loaded.modes, Outcomes::Reported),
            name: loaded.name,
            leaves: loaded.leaves,
            held: BTreeMap::new(),
            voice,
            format,
            commands,
            children,
            pending: BTreeMap::new(),
            isolated_by_tree: BTreeSet::new(),
            isolated_by_mode: BTreeSet::new(),
            stopped_by_mode: BTreeSet::new(),
            overridden_by_mode: BTreeMap::new(),
            reads_registry,
            settle,
            last_mode: None,
            origin: Instant::now(),
            outcomes: mpsc::unbounded_channel(),
        }
    }

    fn now(&self) -> Timestamp {
        Timestamp::from_nanos(u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    fn instant(&self, at: Timestamp) -> Instant {
        self.origin + Duration::from_nanos(at.as_nanos())
    }

    /// Runs until `stop` says so.
    pub(super) async fn run(
        mut self,
        selector: &Selector,
        wake: Arc<Notify>,
        mut news: mpsc::UnboundedReceiver<News>,
        mut stop: watch::Receiver<bool>,
    ) {
        self.origin = Instant::now();
        // Settle: children start and adverts arrive; ticking on leaves that
        // nobody reported yet would restart what is only starting.
        let settle_until = self.origin + self.settle;
        loop {
            let entries = selector.registry().snapshot();
            let states = leaf_states(&self.leaves, &entries);
            // A producer's first advert may precede its first report.
            if states.values().all(|(state, _)| *state != State::Unknown) {
                break;
            }
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep_until(settle_until) => break,
                _ = stop.wait_for(|s| *s) => return,
            }
        }
        let mode = self.engine.mode().map(str::to_owned);
        if let Some(mode) = &mode {
            self.publish_mode(mode, "", "start");
            self.enforce_mode(selector);
        }
        self.print(
            json!({"event": "ready", "engine": self.name, "mode": mode, "at": 0.0}),
            format!(
                "ready: engine {} in mode {}",
                self.name,
                mode.as_deref().unwrap_or("-")
            ),
        );
        self.feed(selector, true);
        // The mode is said again now and then: keep-last 1, so a consumer
        // whose reader missed a change (a lost sample, a slow match) learns
        // the mode now within a period.
        let mut repeat = tokio::time::interval(MODE_REPEAT);
        repeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        repeat.tick().await;
        loop {
            let deadline = [
                self.engine.next_deadline().map(|d| self.instant(d)),
                self.pending
                    .values()
                    .filter_map(|p| match p {
                        Pending::Restart { until, .. } | Pending::Stop { until, .. } => {
                            Some(*until)
                        }
                        Pending::Run(_) => None,
                    })
                    .min(),
            ]
            .into_iter()
            .flatten()
            .min();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = wake.notified() => self.feed(selector, false),
                said = news.recv() => match said {
                    Some(said) => self.news(selector, said),
                    None => news = mpsc::unbounded_channel().1,
                },
                done = self.outcomes.1.recv() => {
                    if let Some((id, ok)) = done {
                        self.complete(selector, id, ok);
                    }
                }
                () = sleep => self.timers(selector),
                _ = repeat.tick() => self.repeat_mode(),
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        for (_, pending) in std::mem::take(&mut self.pending) {
            if let Pending::Run(task) = pending {
                task.abort();
            }
        }
    }

    /// The registry changed: feed the leaves that changed, tick.
    fn feed(&mut self, selector: &Selector, first: bool) {
        // A producer new on the domain may be one the mode does not allow.
        self.enforce_mode(selector);
        let entries = selector.registry().snapshot();
        let batch = changes(leaf_states(&self.leaves, &entries), &mut self.held);
        if batch.is_empty() && !first && !self.reads_registry {
            return;
        }
        let now = self.now();
        let available = available_in(&entries);
        let result = if batch.is_empty() && !first {
            self.engine.poke(now, &available)
        } else {
            self.engine.apply(batch, now, &available)
        };
        if let Err(error) = result {
            tracing::error!(%error, "the engine refused an input");
        }
        self.drain(selector);
    }

    fn timers(&mut self, selector: &Selector) {
        let late: Vec<ActionId> = self
            .pending
            .iter()
            .filter(|(_, p)| match p {
                Pending::Restart { until, .. } | Pending::Stop { until, .. } => {
                    *until <= Instant::now()
                }
                Pending::Run(_) => false,
            })
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            tracing::warn!(id = id.0, "no word from the supervisor: the action failed");
            self.complete(selector, id, false);
        }
        let now = self.now();
        let entries = selector.registry().snapshot();
        if let Err(error) = self.engine.run_until(now, &available_in(&entries)) {
            tracing::error!(%error, "the engine stopped at a deadline");
        }
        self.drain(selector);
    }

    fn news(&mut self, selector: &Selector, said: News) {
        let done: Vec<(ActionId, bool)> = self
            .pending
            .iter()
            .filter_map(|(id, p)| match (p, &said) {
                (Pending::Restart { child, .. }, News::Started(c)) if child == c => {
                    Some((*id, true))
                }
                (Pending::Restart { child, .. }, News::SpawnFailed(c)) if child == c => {
                    Some((*id, false))
                }
                (Pending::Stop { child, .. }, News::Stopped(c)) if child == c => Some((*id, true)),
                (Pending::Restart { .. } | Pending::Stop { .. }, News::GaveUp) => {
                    Some((*id, false))
                }
                _ => None,
            })
            .collect();
        for (id, ok) in done {
            self.complete(selector, id, ok);
        }
    }

    /// An action's outcome, given to the engine at once.
    fn complete(&mut self, selector: &Selector, id: ActionId, ok: bool) {
        let Some(pending) = self.pending.remove(&id) else {
            return;
        };
        let what = match &pending {
            Pending::Restart { .. } => "Restart",
            Pending::Stop { .. } => "Stop",
            Pending::Run(_) => "Run",
        };
        self.complete_with(selector, id, what, ok);
    }

    /// Prints the outcome and gives it to the engine.
    fn complete_with(&mut self, selector: &Selector, id: ActionId, what: &str, ok: bool) {
        self.done(id, what, ok);
        let now = self.now();
        let entries = selector.registry().snapshot();
        if let Err(error) = self.engine.complete(id, ok, now, &available_in(&entries)) {
            tracing::error!(%error, "the engine refused an outcome");
        }
        self.drain(selector);
    }

    fn done(&self, id: ActionId, action: &str, ok: bool) {
        let at = self.now().as_secs_f64();
        self.print(
            json!({"event": "done", "at": at, "id": id.0, "action": action, "ok": ok}),
            format!(
                "{at:>9.3}  done    {action} ({}): {}",
                id.0,
                if ok { "ok" } else { "failed" }
            ),
        );
    }

    /// Prints and carries out every record, and whatever they cause.
    fn drain(&mut self, selector: &Selector) {
        loop {
            let records = self.engine.take_records();
            if records.is_empty() {
                return;
            }
            for record in records {
                self.print_record(&record);
                match record {
                    Record::Action { id, action, .. } => self.act(selector, id, action),
                    Record::Halt { id, .. } => {
                        if let Some(Pending::Run(task)) = self.pending.remove(&id) {
                            task.abort();
                        } else {
                            // A restart or stop asked for cannot be taken
                            // back; its outcome is no longer awaited.
                            self.pending.remove(&id);
                        }
                    }
                    Record::Mode(change) => self.mode_changed(selector, &change),
                    _ => {}
                }
            }
        }
    }

    fn act(&mut self, selector: &Selector, id: ActionId, action: Action) {
        let until = Instant::now() + SUPERVISOR_TIMEOUT;
        let name = action.name();
        match action {
            Action::Restart { child } | Action::Stop { child } => {
                let restart = name == "Restart";
                let Some(&child_id) = self.children.get(&child) else {
                    // Checked at load: the supervisor runs every child named.
                    tracing::error!(%child, "no such supervised child");
                    self.complete_with(selector, id, name, false);
                    return;
                };
                let (command, pending) = if restart {
                    (
                        Command::Restart(child_id),
                        Pending::Restart { child, until },
                    )
                } else {
                    (Command::Stop(child_id), Pending::Stop { child, until })
                };
                self.pending.insert(id, pending);
                if self.commands.send(command).is_err() {
                    self.complete(selector, id, false);
                }
            }
            Action::Isolate { producer, reason } => {
                self.isolated_by_tree.insert(producer.clone());
                let ok = self.isolate(&producer, Some(&reason));
                self.complete_with(selector, id, "Isolate", ok);
            }
            Action::Release { producer } => {
                self.isolated_by_tree.remove(&producer);
                // The mode's isolation outlives the tree's release.
                let ok = self.isolated_by_mode.contains(&producer) || self.isolate(&producer, None);
                self.complete_with(selector, id, "Release", ok);
            }
            Action::Run { command, timeout } => {
                let tx = self.outcomes.0.clone();
                let task = tokio::spawn(async move {
                    let ok = run_command(&command, timeout).await;
                    let _ = tx.send((id, ok));
                });
                self.pending.insert(id, Pending::Run(task));
            }
            Action::Log { level, message } => {
                use vigil_recovery::bt::LogLevel;
                match level {
                    LogLevel::Error => tracing::error!(engine = %self.name, "{message}"),
                    LogLevel::Warn => tracing::warn!(engine = %self.name, "{message}"),
                    LogLevel::Info => tracing::info!(engine = %self.name, "{message}"),
                    _ => tracing::debug!(engine = %self.name, "{message}"),
                }
            }
            // SetMode and Wait: the engine finishes them itself.
            _ => {}
        }
    }

    /// Publishes an isolation (`Some` reason) or a release. The engine's
    /// own registry does not hear it (rustdds does not match a
    /// participant's reader with its own writer): its `<Available>` and
    /// leaf feed read what the producers say, which is what the tree
    /// needs to see them recover.
    fn isolate(&self, producer: &str, reason: Option<&str>) -> bool {
        match self.voice.isolation(producer, reason) {
            Ok(()) => {
                let at = self.now().as_secs_f64();
                self.print(
                    json!({"event": if reason.is_some() { "isolated" } else { "released" },
                           "at": at, "producer": producer, "reason": reason}),
                    format!(
                        "{at:>9.3}  {}  {producer}{}",
                        if reason.is_some() {
                            "isolate"
                        } else {
                            "release"
                        },
                        reason.map_or(String::new(), |r| format!(": {r}"))
                    ),
                );
                true
            }
            Err(error) => {
                tracing::error!(%producer, %error, "cannot publish the isolation");
                false
            }
        }
    }

    /// Publishes the mode, then makes it hold (see `enforce_mode`).
    fn mode_changed(&mut self, selector: &Selector, change: &ModeChange) {
        self.publish_mode(&change.to, &change.from, &change.cause.to_string());
        self.enforce_mode(selector);
    }

    /// Makes the current mode hold: isolates the producers it isolates
    /// (`isolate:`, and with `allow:` every producer on the domain it does
    /// not list), releases those the previous mode isolated (unless a
    /// behaviour tree did), stops the supervised children its `children:`
    /// leaves out and starts again those a previous mode stopped.
    fn enforce_mode(&mut self, selector: &Selector) {
        let Some(spec) = self
            .engine
            .mode()
            .and_then(|mode| self.engine.modes()?.mode(mode))
            .cloned()
        else {
            return;
        };
        let mode = spec.name.clone();
        let mut isolate: BTreeSet<String> = spec.isolate.iter().cloned().collect();
        if let Some(allow) = &spec.allow {
            isolate.extend(
                selector
                    .registry()
                    .snapshot()
                    .into_iter()
                    .map(|e| e.advert.key.producer.clone())
                    .filter(|p| !allow.contains(p)),
            );
        }
        let reason = format!("mode {mode}");
        for producer in isolate.difference(&self.isolated_by_mode.clone()) {
            self.isolate(producer, Some(&reason));
        }
        for producer in self.isolated_by_mode.difference(&isolate) {
            if !self.isolated_by_tree.contains(producer) {
                self.isolate(producer, None);
            }
        }
        self.isolated_by_mode = isolate;
        self.override_capabilities(&spec);

        let mut children: Vec<(String, ChildId)> = self
            .children
            .iter()
            .map(|(name, id)| (name.clone(), *id))
            .collect();
        children.sort_by(|a, b| a.0.cmp(&b.0));
        for (child, id) in children {
            let runs = spec.children.as_ref().is_none_or(|c| c.contains(&child));
            let stopped = self.stopped_by_mode.contains(&child);
            let (command, verb, stops) = match (runs, stopped) {
                (false, false) => (Command::Stop(id), "stop", true),
                (true, true) => (Command::Restart(id), "start", false),
                _ => continue,
            };
            if self.commands.send(command).is_err() {
                tracing::error!(%child, "the supervisor is gone: mode {mode} not applied to it");
                continue;
            }
            if stops {
                self.stopped_by_mode.insert(child.clone());
            } else {
                self.stopped_by_mode.remove(&child);
            }
            let at = self.now().as_secs_f64();
            self.print(
                json!({"event": "mode_child", "at": at, "mode": mode, "child": child, "do": verb}),
                format!("{at:>9.3}  {verb:<7} {child}: mode {mode}"),
            );
        }
    }

    /// Publishes the capability overrides of the mode `spec` where they
    /// differ from the ones in force, and clears those it no longer has.
    /// Every consumer's registry ranks the producers on them; this
    /// engine's own does not hear them (as with isolations).
    fn override_capabilities(&mut self, spec: &ModeSpec) {
        let mut wanted: BTreeMap<String, Capabilities> = BTreeMap::new();
        for (producer, key, value) in &spec.capabilities {
            let values = wanted.entry(producer.clone()).or_default();
            if let Err(error) = values.insert(key, value.clone()) {
                // The modes file's reader checked the keys: not expected.
                tracing::error!(mode = %spec.name, %producer, %key, %error, "capability override not applied");
            }
        }
        let cleared: Vec<(String, Capabilities)> = self
            .overridden_by_mode
            .keys()
            .filter(|p| !wanted.contains_key(*p))
            .map(|p| (p.clone(), Capabilities::new()))
            .collect();
        let changed: Vec<(String, Capabilities)> = wanted
            .iter()
            .filter(|(p, v)| self.overridden_by_mode.get(*p) != Some(*v))
            .map(|(p, v)| (p.clone(), v.clone()))
            .collect();
        for (producer, values) in cleared.into_iter().chain(changed) {
            if let Err(error) = self.voice.capabilities(&producer, &values, &spec.name) {
                tracing::error!(%producer, %error, "cannot publish the capability override");
                continue;
            }
            let at = self.now().as_secs_f64();
            let text = values.to_string();
            self.print(
                json!({"event": "capabilities", "at": at, "mode": spec.name,
                       "producer": producer, "values": text,
                       "cleared": values.is_empty()}),
                if values.is_empty() {
                    format!(
                        "{at:>9.3}  restore {producer}'s capabilities: mode {}",
                        spec.name
                    )
                } else {
                    format!("{at:>9.3}  override {producer}: {text}: mode {}", spec.name)
                },
            );
            if values.is_empty() {
                self.overridden_by_mode.remove(&producer);
            } else {
                self.overridden_by_mode.insert(producer, values);
            }
        }
    }

    fn repeat_mode(&mut self) {
        if let Some((mode, from, cause)) = self.last_mode.clone() {
            self.publish_mode(&mode, &from, &cause);
        }
    }

    fn publish_mode(&mut self, mode: &str, from: &str, cause: &str) {
        self.last_mode = Some((mode.to_owned(), from.to_owned(), cause.to_owned()));
        if let Err(error) = self.voice.mode(mode, from, cause) {
            tracing::error!(%mode, %error, "cannot publish the mode");
        }
    }

    fn print_record(&self, record: &Record) {
        let (Some(mut value), Some(text)) = (record_json(record), record_text(record)) else {
            return;
        };
        value["t"] = json!(unix_seconds());
        self.print(value, text);
    }

    fn print(&self, mut value: serde_json::Value, text: String) {
        match self.format {
            Format::Json => {
                if value.get("t").is_none() {
                    value["t"] = json!(unix_seconds());
                }
                println!("{value}");
            }
            Format::Text => println!("{text}"),
        }
    }
}

/// `<Available query>` over the registry: some reachable producer, OK or
/// DEGRADED (isolated ones are FAILED), satisfies some clause.
fn available_in(entries: &[EntryView]) -> impl Fn(&Query) -> bool + '_ {
    move |query: &Query| {
        let compiled = query.compile();
        entries.iter().any(|e| {
            e.reachable
                && matches!(e.health.state, State::Ok | State::Degraded)
                && compiled.first_clause(e).is_some()
        })
    }
}

/// `sh -c COMMAND`, true on exit 0 within the timeout.
async fn run_command(command: &str, timeout: Option<Duration>) -> bool {
    let mut child = match tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(error) => {
            tracing::error!(%command, %error, "cannot run the command");
            return false;
        }
    };
    let waited = match timeout {
        Some(t) => match tokio::time::timeout(t, child.wait()).await {
            Ok(waited) => waited,
            Err(_) => {
                tracing::warn!(%command, ?t, "the command outlived its timeout");
                return false;
            }
        },
        None => child.wait().await,
    };
    waited.is_ok_and(|status| status.success())
}
