//! `vigil recover`: the live reconfiguration engine. Behaviour trees and
//! mode rules over the live registry, acting through the supervisor this
//! process runs, isolating producers and publishing the mode on DDS.
//!
//! - The diagnostic tree of the config (`tree:`) is the engine's view of
//!   the domain: each of its status leaves takes the state the domain's
//!   adverts report for that path (`feed`), so an advert's change is a
//!   health change of the tree, and the behaviour tree ticks on it.
//! - With `supervise:`, this process is also the supervisor of those
//!   children (as `vigil supervise` would be, FAILED on their behalf
//!   included): `<Restart>` and `<Stop>` reach it over a channel, and
//!   succeed when the supervisor reports the child started again, or
//!   stopped. One process, so a restart needs no IPC and no second
//!   supervisor id in the children's adverts.
//! - `<Isolate>`/`<Release>` and every mode change are published on the
//!   `vigil_isolation` and `vigil_mode` topics (transient-local): every
//!   consumer's registry holds an isolated producer FAILED, and
//!   `vigil consume --query-in MODE=QUERY` follows the mode.
//! - The mode acts while it holds: its `isolate:` list is isolated, and
//!   with `allow:` so is every producer on the domain it does not list;
//!   the supervised children its `children:` leaves out are stopped
//!   (`mode_child` lines, `do: stop`) and started again by a mode that
//!   runs them (`do: start`). Its `capabilities:` are published on
//!   `vigil_capability_overrides` (transient-local, keyed by producer):
//!   every consumer matches and ranks that producer on the overridden
//!   values while the mode holds (`capabilities` lines; a mode without
//!   them clears them, `cleared: true`).
//!
//! `--record FILE.mcap` and `--metrics ADDR:PORT` work as on `vigil
//! monitor`: what the engine's registry was fed (adverts, heartbeats,
//! FAILED on behalf, isolations) and what it changed, to MCAP, and the
//! registry's Prometheus metrics. The engine's own records are its JSON
//! lines.
//!
//! JSON lines: the dry run's `tick`, `action`, `halt`, `mode` (with `at`,
//! seconds since the engine started, and `t`, Unix seconds), `done` (an
//! action's outcome: `id`, `action`, `ok`), `ready` (the first tick),
//! `isolated`/`released`, `mode_child` (`mode`, `child`, `do`),
//! `capabilities` (`mode`, `producer`, `values`, `cleared`), and
//! the supervisor's own lines as `vigil supervise` prints them.

mod config;
mod feed;
mod live;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use vigil_discovery::{
    supervisor_id_text, OnBehalfPublisher, ReconfigPublisher, Selector, SelectorConfig,
    VigilParticipant, SUPERVISOR_ID_ENV,
};
use vigil_recovery::{run_commanded, Outcome, ShellConfig, ShellEvent, Supervisor};

use super::dds_args::{init_logging, millis, runtime, terminated, unix_seconds, ConfigRunArgs};
use super::metrics_args::MetricsArgs;
use super::record_args::{self, RecordArgs};
use super::supervise::{describe, print_event, speak_for_the_dead};
use super::trust_args::KeyArgs;
use live::{Live, News};

/// The exit code when the supervisor's top level gave up.
const EXIT_GAVE_UP: u8 = 3;

/// Run behaviour trees and mode rules over the live registry: restart or
/// stop supervised children, isolate producers, switch and publish modes.
#[derive(Debug, Args)]
pub(crate) struct RecoverArgs {
    #[command(flatten)]
    run: ConfigRunArgs,
    #[command(flatten)]
    record: RecordArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
    /// Signs the FAILED-on-behalf words of the supervisor this process
    /// runs (as `vigil supervise --key` does): consumers under a trust
    /// policy believe them only from a key allowed to speak for the
    /// producers.
    #[command(flatten)]
    key: KeyArgs,
    /// How long to wait, at most, for every status leaf of the tree to be
    /// reported in a known state before the first tick (children starting,
    /// adverts arriving), in milliseconds; the first tick comes as soon as
    /// they all are.
    #[arg(long = "settle-ms", default_value = "10000", value_parser = millis)]
    settle: Duration,
}

pub(crate) fn run(args: RecoverArgs) -> anyhow::Result<ExitCode> {
    let settle = args.settle;
    let key = args.key.load()?;
    let (record, metrics) = (args.record, args.metrics);
    let args = args.run;
    let loaded = config::load(&args.config)?;
    if args.check {
        println!("{}", summary(&args.config.display().to_string(), &loaded));
        return Ok(ExitCode::SUCCESS);
    }
    let dds = args.dds.config()?;
    init_logging();
    let format = args.format;
    let participant = VigilParticipant::new(dds).context("cannot join the DDS domain")?;
    let recorder = record.start()?;
    let observers = metrics.start(recorder.clone())?;
    runtime()?.block_on(async move {
        let voice = ReconfigPublisher::new(&participant, &loaded.name)
            .context("cannot create the isolation and mode writers")?;
        let wake = Arc::new(tokio::sync::Notify::new());
        let selector = Selector::registry_only(
            &participant,
            SelectorConfig::default().with_recorder(Some(Arc::new(live::Waker {
                wake: wake.clone(),
                next: observers.recorder.clone(),
            }))),
        )?;
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        {
            let stop_tx = stop_tx.clone();
            tokio::spawn(async move {
                terminated().await;
                let _ = stop_tx.send(true);
            });
        }
        let (news_tx, news) = tokio::sync::mpsc::unbounded_channel();
        let (commands_tx, commands) = tokio::sync::mpsc::unbounded_channel();
        let mut children = HashMap::new();
        let sup = loaded.supervise.clone().map(|spec| {
            let seed = (unix_seconds() * 1e6) as u64;
            let sup = Supervisor::new(spec).with_seed(seed);
            for (id, child) in sup.children() {
                children.insert(child.id.clone(), id);
            }
            sup
        });
        let live = Live::new(loaded, voice, format, commands_tx, children, settle);
        let engine = live.run(&selector, wake, news, stop.clone());
        let outcome = match sup {
            None => {
                engine.await;
                Outcome::Stopped
            }
            Some(sup) => {
                let voice = OnBehalfPublisher::new(&participant)
                    .context("cannot create the FAILED writer")?
                    .signing(key);
                let mut shell = ShellConfig::new();
                shell.guardian = crate::cli::supervise::guardian_command();
                shell.env.push((
                    SUPERVISOR_ID_ENV.to_owned(),
                    supervisor_id_text(&voice.supervisor_id()),
                ));
                let mut stopped = stop.clone();
                let shutdown = async move {
                    let _ = stopped.wait_for(|s| *s).await;
                };
                let supervisor = async move {
                    let outcome =
                        run_commanded(sup, shell, shutdown, Some(commands), |sup, event| {
                            speak_for_the_dead(&voice, sup, &event);
                            if let Some((value, text)) = describe(sup, &event) {
                                print_event(format, value, text);
                            }
                            if let Some(news) = News::of(sup, &event) {
                                let _ = news_tx.send(news);
                            }
                        })
                        .await;
                    // The engine has nothing left to act on.
                    let _ = stop_tx.send(true);
                    outcome
                };
                let (outcome, ()) = tokio::join!(supervisor, engine);
                outcome.context("cannot run the supervisor")?
            }
        };
        selector.shutdown().await;
        record_args::finish(recorder);
        drop(observers);
        Ok(match outcome {
            Outcome::Stopped => ExitCode::SUCCESS,
            Outcome::GaveUp => ExitCode::from(EXIT_GAVE_UP),
        })
    })
}

fn summary(file: &str, loaded: &config::Loaded) -> String {
    let mut parts = vec![format!(
        "{} status leaves fed from adverts",
        loaded.leaves.len()
    )];
    if let Some(bt) = &loaded.bt {
        parts.push(format!("behaviour tree `{}`", bt.main_tree()));
    }
    if let Some(modes) = &loaded.modes {
        parts.push(format!(
            "{} modes, {} rules, target `{}`",
            modes.modes.len(),
            modes.rules.len(),
            modes.target
        ));
    }
    if let Some(spec) = &loaded.supervise {
        parts.push(format!("{} supervised children", spec.children().len()));
    }
    format!("{file}: ok: engine `{}`: {}", loaded.name, parts.join(", "))
}

/// Keeps `ShellEvent` in the signature of [`News::of`] readable.
type Event<'a> = ShellEvent<'a>;
