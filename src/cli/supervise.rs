//! `vigil supervise`: start a node's processes from a config file, restart
//! them by OTP strategies, stop them in reverse order.
//!
//! The config is read first, every problem printed as `FILE:LINE: KEY:
//! message` with exit 2 (`--check` stops there, exit 0 when it reads). Then
//! the supervisor runs until SIGINT or SIGTERM (every child stopped, exit 0)
//! or until its top level gives up (every child stopped, exit 3). With
//! `--format json` each event is one JSON line with `t` and `event`:
//! `started`, `exited`, `restarting`, `hung`, `escalated`, `stopped`, plus
//! `status`, `failed` (FAILED said for a dead child's producers), `gave_up`,
//! `dying` (the kernel's early word of a child's death, before `exited`:
//! Linux, as root; see vigil_recovery's shell).
//! `--record FILE.mcap` writes the same events to the recording's
//! `/vigil/supervisor` channel; `--metrics` counts them by kind.
//!
//! The supervisor joins the domain and gives each child its participant's
//! GUID prefix in `VIGIL_SUPERVISOR_ID`: the child's producers name it in
//! their adverts, and when the child dies the supervisor publishes on
//! `vigil_failed_on_behalf` that they FAILED, which consumers accept from
//! that participant only, and switch without waiting for the lease.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use vigil_diag::Timestamp;
use vigil_discovery::{supervisor_id_text, OnBehalfPublisher, VigilParticipant, SUPERVISOR_ID_ENV};
use vigil_discovery::{SyntheticSample, SYNTHETIC_TYPE};
use vigil_recovery::supervision::SupervisionHealth;
use vigil_recovery::{
    load_config, Action, Exit, GroupId, GroupSpec, MemberId, MemberSpec, Outcome, ShellConfig,
    ShellEvent, Supervisor,
};

use vigil::{Producer, Transport};

use super::dds_args::{init_logging, runtime, terminated, unix_seconds, ConfigRunArgs, Format};
use super::metrics_args::MetricsArgs;
use super::record_args::{self, RecordArgs};
use super::trust_args::KeyArgs;
use super::InputError;

/// The exit code when the top level gave up (after stopping every child).
const EXIT_GAVE_UP: u8 = 3;

/// The topic on which the supervisor advertises the health of the
/// supervision (`<supervisor>.<group>.<child>`), producer id = its name.
pub(crate) const SUPERVISION_TOPIC: &str = "vigil_supervision";

/// How often the supervision tree is re-evaluated without an event (a
/// restart leaving its window turns DEGRADED back to OK).
const HEALTH_TICK: Duration = Duration::from_secs(1);

/// Start the processes of a config file and keep them running: restart by
/// strategy (one_for_one, one_for_all, rest_for_one) with backoff, escalate
/// past the restart intensity, stop in reverse order on SIGTERM/SIGINT.
/// Exits 3 when the top level gives up.
#[derive(Debug, Args)]
pub(crate) struct SuperviseArgs {
    #[command(flatten)]
    run: ConfigRunArgs,
    #[command(flatten)]
    record: RecordArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
    /// Signs the FAILED-on-behalf words and the supervision tree's advert
    /// (issue 13): consumers under a trust policy believe a dead child's
    /// FAILED only from a key allowed to speak for its producers.
    #[command(flatten)]
    key: KeyArgs,
}

pub(crate) fn run(args: SuperviseArgs) -> anyhow::Result<ExitCode> {
    let key = args.key.load()?;
    let (record, metrics_args) = (args.record, args.metrics);
    let args = args.run;
    let spec = read_config(&args.config)?;
    if args.check {
        println!("{}", summary(&spec));
        return Ok(ExitCode::SUCCESS);
    }
    let dds = args.dds.config()?;
    init_logging();
    let format = args.format;
    // A seed from the clock: runs differ, and the seed is printed so one
    // can be replayed.
    let seed = (unix_seconds() * 1e6) as u64;
    tracing::debug!(seed, "supervisor jitter seed");
    let sup = Supervisor::new(spec).with_seed(seed);
    // Joined before the first child starts, so that its id is in every
    // child's environment and its writer is matched by the time one dies.
    let participant = VigilParticipant::new(dds).context("cannot join the DDS domain")?;
    let voice = OnBehalfPublisher::new(&participant)
        .context("cannot create the FAILED writer")?
        .signing(key.clone());
    let mut shell = ShellConfig::new();
    shell.guardian = guardian_command();
    shell.tick = Some(HEALTH_TICK);
    shell.env.push((
        SUPERVISOR_ID_ENV.to_owned(),
        supervisor_id_text(&voice.supervisor_id()),
    ));
    let mut health = SupervisionHealth::new(&sup)
        .map_err(|e| InputError(format!("{}: {e}", args.config.display())))?;
    let name = sup.group_name(GroupId::TOP).to_owned();
    let transport = Transport::Dds(participant);
    let recorder = record.start()?;
    // The supervisor has no routing core: its events go to the recording
    // and to the metrics directly.
    let observers = metrics_args.start(None)?;
    let (flight, metrics) = (recorder.clone(), observers.metrics.clone());
    let outcome = runtime()?.block_on(async move {
        let advert = Producer::<SyntheticSample>::builder(SUPERVISION_TOPIC, &name)
            .type_name(SYNTHETIC_TYPE)
            .tree(health.tree_spec())
            .root(&name)
            .key(key)
            .start(&transport)
            .context("cannot advertise the supervision tree")?;
        // The shell's clock starts when `run` does, microseconds from this
        // one; restart windows are seconds.
        let origin = std::time::Instant::now();
        let outcome = vigil_recovery::run(sup, shell, terminated(), move |sup, event| {
            speak_for_the_dead(&voice, sup, &event);
            let at = Timestamp::from_nanos(
                u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX),
            );
            match &event {
                ShellEvent::Exited { child, exit, .. } => health.on_exit(*child, exit, at),
                ShellEvent::Decision(action) => health.on_action(sup, action),
                _ => {}
            }
            if let Some((value, text)) = describe(sup, &event) {
                // Recorded and counted before it is printed: a reader of the
                // output may stop the supervisor at once.
                if let Some(flight) = &flight {
                    flight.supervisor_event(value.clone());
                }
                if let Some(metrics) = &metrics {
                    metrics.supervisor_event(value["event"].as_str().unwrap_or_default());
                }
                print_event(format, value, text);
            }
            for leaf in health.children(sup, at) {
                if let Err(error) = advert.set(leaf.path.as_ref(), leaf.state) {
                    tracing::warn!(path = %leaf.path, %error, "cannot update the supervision tree");
                }
            }
        })
        .await
        .context("cannot run the supervisor");
        drop(transport);
        outcome
    })?;
    record_args::finish(recorder);
    Ok(match outcome {
        Outcome::Stopped => ExitCode::SUCCESS,
        Outcome::GaveUp => ExitCode::from(EXIT_GAVE_UP),
    })
}

/// This binary's `supervise-guardian`, which kills what the children
/// forked if the supervisor is SIGKILLed (vigil_recovery::guardian).
pub(crate) fn guardian_command() -> Option<Vec<std::ffi::OsString>> {
    match std::env::current_exe() {
        Ok(exe) => Some(vec![exe.into_os_string(), "supervise-guardian".into()]),
        Err(error) => {
            tracing::warn!(%error, "cannot find this binary: no guardian, grandchildren may outlive a killed supervisor");
            None
        }
    }
}

/// `vigil supervise-guardian`: serve the guardian protocol on stdin.
pub(crate) fn guardian() -> anyhow::Result<ExitCode> {
    init_logging();
    let killed = vigil_recovery::guardian::serve(std::io::stdin().lock());
    if killed > 0 {
        tracing::warn!(
            groups = killed,
            "the supervisor died: killed what its children left"
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn read_config(path: &std::path::Path) -> anyhow::Result<GroupSpec> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError(format!("cannot read {file}: {e}")))?;
    load_config(&text, &file).map_err(|e| InputError(e.to_string()).into())
}

fn summary(spec: &GroupSpec) -> String {
    fn walk(group: &GroupSpec, depth: usize, out: &mut Vec<String>) {
        let pad = "  ".repeat(depth);
        out.push(format!(
            "{pad}{} ({:?}, {} restarts in {:?})",
            group.name, group.strategy, group.intensity, group.period
        ));
        for member in &group.members {
            match member {
                MemberSpec::Child(c) => {
                    out.push(format!("{pad}  {}: {}", c.id, c.command.join(" ")))
                }
                MemberSpec::Group(g) => walk(g, depth + 1, out),
            }
        }
    }
    let mut lines = vec![format!("ok: {} children", spec.children().len())];
    walk(spec, 0, &mut lines);
    lines.join("\n")
}

/// Publishes the core's "FAILED on behalf of" (a child died or hung) at
/// once, before the event is printed.
pub(crate) fn speak_for_the_dead(
    voice: &OnBehalfPublisher,
    sup: &Supervisor,
    event: &ShellEvent<'_>,
) {
    let ShellEvent::Decision(Action::PublishFailed {
        child,
        producers,
        reason,
    }) = event
    else {
        return;
    };
    if producers.is_empty() {
        return;
    }
    let name = sup.child(*child).id.as_str();
    if let Err(error) = voice.publish(name, producers, reason) {
        // The consumers' leases still cover the death.
        tracing::warn!(child = name, %error, "cannot say FAILED on the child's behalf");
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// What an event says: its JSON line (without `t`) and its text; `None`
/// for the events nobody is told of.
pub(crate) fn describe(
    sup: &Supervisor,
    event: &ShellEvent<'_>,
) -> Option<(serde_json::Value, String)> {
    let name = |c| sup.child(c).id.as_str();
    Some(match event {
        ShellEvent::Started { child, pid } => (
            json!({"event": "started", "child": name(*child), "pid": pid}),
            format!("started {} (pid {pid})", name(*child)),
        ),
        ShellEvent::Dying { child, pid, exit } => {
            let (code, signal) = code_and_signal(exit);
            (
                json!({"event": "dying", "child": name(*child), "pid": pid,
                    "code": code, "signal": signal}),
                format!("dying {} (pid {pid}): {exit}", name(*child)),
            )
        }
        ShellEvent::Exited { child, pid, exit } => {
            let (code, signal) = code_and_signal(exit);
            let mut value = json!({"event": "exited", "child": name(*child), "pid": pid,
                "code": code, "signal": signal});
            if let Exit::SpawnFailed(why) = exit {
                value["error"] = json!(why);
            }
            (
                value,
                format!("exited {} (pid {pid}): {exit}", name(*child)),
            )
        }
        ShellEvent::Tick => return None,
        ShellEvent::Status { child, text } => (
            json!({"event": "status", "child": name(*child), "status": text}),
            format!("status {}: {text}", name(*child)),
        ),
        ShellEvent::Decision(action) => match action {
            Action::Restarting {
                member,
                attempt,
                delay,
            } => {
                let who = sup.member_name(*member);
                let mut value = json!({"event": "restarting", "child": who,
                    "attempt": attempt, "in_ms": ms(*delay)});
                if let MemberId::Group(_) = member {
                    value["group"] = json!(who);
                }
                (
                    value,
                    format!("restarting {who} in {delay:?} (attempt {attempt})"),
                )
            }
            Action::Hung(child, hang) => (
                json!({"event": "hung", "child": name(*child), "reason": hang.to_string()}),
                format!("hung {}: {hang}", name(*child)),
            ),
            Action::Escalated(group) => (
                json!({"event": "escalated", "group": sup.group_name(*group)}),
                format!(
                    "escalated {}: too many restarts, all its children stopped",
                    sup.group_name(*group)
                ),
            ),
            Action::Stopped(child) => (
                json!({"event": "stopped", "child": name(*child)}),
                format!("stopped {}", name(*child)),
            ),
            Action::PublishFailed {
                child,
                producers,
                reason,
            } => (
                json!({"event": "failed", "child": name(*child), "producers": producers,
                    "reason": reason}),
                format!(
                    "FAILED {} for {}: {reason}",
                    producers.join(", "),
                    name(*child)
                ),
            ),
            Action::GiveUp => (
                json!({"event": "gave_up"}),
                "gave up: every child stopped".to_owned(),
            ),
            _ => return None,
        },
    })
}

/// An exit's `code` and `signal` as the JSON lines give them.
fn code_and_signal(exit: &Exit) -> (Option<i32>, Option<i32>) {
    match exit {
        Exit::Code(c) => (Some(*c), None),
        Exit::Signal(s) => (None, Some(*s)),
        Exit::SpawnFailed(_) => (None, None),
    }
}

pub(crate) fn print_event(format: Format, value: serde_json::Value, text: String) {
    match format {
        Format::Json => {
            let mut value = value;
            value["t"] = json!(unix_seconds());
            println!("{value}");
        }
        Format::Text => println!("{text}"),
    }
}
