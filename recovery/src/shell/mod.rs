//! The process shell: runs a [`Supervisor`]'s actions on real processes
//! with tokio and feeds it what the OS says, with the time it said it.
//!
//! - Each child runs in its own process group (a stop reaches whatever it
//!   forked) and dies with the supervisor (`pdeathsig`); what it forked
//!   dies with the supervisor too when a [`guardian`] runs beside it.
//! - An exit is known when it happens: tokio's `Child::wait` is woken by
//!   SIGCHLD, nothing polls.
//! - Each child gets its own notify socket (`$NOTIFY_SOCKET`), so a
//!   datagram's sender is known without credentials passing.
//! - The environment tells a child who supervises it
//!   ([`ENV_SUPERVISOR`], [`ENV_CHILD`]).

pub mod guardian;
mod notify;
mod pdeathsig;

use std::collections::HashMap;
use std::ffi::OsString;
use std::future::Future;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::net::UnixDatagram;
use tokio::sync::mpsc;
use tokio::time::Instant;
use vigil_diag::Timestamp;

use crate::supervisor::{Action, ChildId, Exit, Supervisor};

pub use notify::Notice;

/// The environment variable naming a child's supervisor.
pub const ENV_SUPERVISOR: &str = "VIGIL_SUPERVISOR";
/// The environment variable naming the child itself (its `id`).
pub const ENV_CHILD: &str = "VIGIL_SUPERVISOR_CHILD";

/// What the shell saw or decided, in the order it happened.
#[derive(Debug)]
pub enum Event<'a> {
    /// A child was spawned.
    Started {
        /// Who.
        child: ChildId,
        /// Its pid (also its process group id).
        pid: u32,
    },
    /// A child ended (or could not be spawned: `pid` 0).
    Exited {
        /// Who.
        child: ChildId,
        /// Its pid.
        pid: u32,
        /// How.
        exit: &'a Exit,
    },
    /// A child sent `STATUS=...`.
    Status {
        /// Who.
        child: ChildId,
        /// What it said.
        text: &'a str,
    },
    /// A decision of the core (restarting, hung, escalated, stopped,
    /// publish FAILED, give up, done); commands are carried out as well.
    Decision(&'a Action),
    /// [`ShellConfig::tick`] passed: for what changes with time alone (a
    /// restart leaving its window).
    Tick,
}

/// How [`run`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The shutdown future fired and every child was stopped.
    Stopped,
    /// The top level gave up; every child was stopped.
    GaveUp,
}

/// Where the shell keeps its notify sockets and what it tells children.
#[derive(Clone, Debug)]
pub struct ShellConfig {
    /// A private directory for the per-child notify sockets; created if
    /// missing, removed by [`run`] when it ends.
    pub socket_dir: PathBuf,
    /// Extra environment for every child.
    pub env: Vec<(String, String)>,
    /// The command that starts a [`guardian`] (a program that calls
    /// [`guardian::serve`] on its stdin), so that what children forked dies
    /// with a SIGKILLed supervisor too; `None`: only the direct children
    /// do (their parent-death signal).
    pub guardian: Option<Vec<OsString>>,
    /// Send [`Event::Tick`] this often; `None`: never.
    pub tick: Option<Duration>,
}

impl ShellConfig {
    /// Sockets under the system temp dir, in a directory named after this
    /// process.
    pub fn new() -> Self {
        ShellConfig {
            socket_dir: std::env::temp_dir()
                .join(format!("vigil-supervise-{}", std::process::id())),
            env: Vec::new(),
            guardian: None,
            tick: None,
        }
    }
}

impl Default for ShellConfig {
    fn default() -> Self {
        ShellConfig::new()
    }
}

enum Input {
    Exited(ChildId, u32, Exit),
    Notice(ChildId, Notice),
}

/// A request to the running supervisor from outside its core (a behaviour
/// tree's `<Restart>` and `<Stop>`, through [`run_commanded`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// [`Supervisor::restart_child`].
    Restart(ChildId),
    /// [`Supervisor::stop_child`].
    Stop(ChildId),
}

/// Runs `sup` until it gives up or `shutdown` fires and every child is
/// stopped; `on_event` sees everything as it happens.
///
/// Spawns children from the calling task's thread: run it on a thread that
/// lives as long as the supervisor (see `pdeathsig`).
pub async fn run<F>(
    sup: Supervisor,
    config: ShellConfig,
    shutdown: impl Future<Output = ()>,
    on_event: F,
) -> std::io::Result<Outcome>
where
    F: FnMut(&Supervisor, Event<'_>),
{
    run_commanded(sup, config, shutdown, None, on_event).await
}

/// [`run`], also taking [`Command`]s from `commands` (a closed channel is
/// ignored: the supervisor goes on).
pub async fn run_commanded<F>(
    mut sup: Supervisor,
    config: ShellConfig,
    shutdown: impl Future<Output = ()>,
    mut commands: Option<mpsc::UnboundedReceiver<Command>>,
    mut on_event: F,
) -> std::io::Result<Outcome>
where
    F: FnMut(&Supervisor, Event<'_>),
{
    std::fs::create_dir_all(&config.socket_dir)?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut sockets = HashMap::new();
    let mut listeners = Vec::new();
    for (id, spec) in sup.children() {
        let path = socket_path(&config.socket_dir, &spec.id);
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path)?;
        let tx = tx.clone();
        listeners.push(tokio::spawn(listen(id, socket, tx)));
        sockets.insert(id, path);
    }
    let guardian = match &config.guardian {
        Some(command) => Some(guardian::Guardian::start(command)?),
        None => None,
    };
    let mut shell = Shell {
        guardian,
        origin: Instant::now(),
        pids: HashMap::new(),
        tx,
        sockets,
        env: config.env.clone(),
        name: sup.group_name(crate::GroupId::TOP).to_owned(),
    };

    let mut pending = sup.start(shell.now());
    let mut outcome = None;
    tokio::pin!(shutdown);
    let mut shutting_down = false;
    let mut ticks = config.tick.map(|period| {
        let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks
    });
    loop {
        // Carry out every action; spawn failures come back as exits.
        while !pending.is_empty() {
            for action in std::mem::take(&mut pending) {
                match &action {
                    Action::Start(child) => {
                        if let Err(exit) = shell.spawn(&sup, *child, &mut on_event) {
                            let at = shell.now();
                            on_event(
                                &sup,
                                Event::Exited {
                                    child: *child,
                                    pid: 0,
                                    exit: &exit,
                                },
                            );
                            pending.extend(sup.on_exit(*child, exit, at));
                        }
                    }
                    Action::Terminate(child) => shell.signal(*child, Signal::SIGTERM),
                    Action::Kill(child) => shell.signal(*child, Signal::SIGKILL),
                    Action::GiveUp => outcome = Some(Outcome::GaveUp),
                    Action::Done => outcome = outcome.or(Some(Outcome::Stopped)),
                    _ => {}
                }
                on_event(&sup, Event::Decision(&action));
            }
        }
        if let Some(outcome) = outcome {
            for listener in listeners {
                listener.abort();
            }
            let _ = std::fs::remove_dir_all(&config.socket_dir);
            return Ok(outcome);
        }
        let deadline = sup
            .next_deadline()
            .map(|d| shell.origin + Duration::from_nanos(d.as_nanos()));
        tokio::select! {
            input = rx.recv() => match input {
                Some(Input::Exited(child, pid, exit)) => {
                    let at = shell.now();
                    if shell.pids.get(&child) == Some(&pid) {
                        // Whatever it forked goes with it (systemd's
                        // KillMode=control-group).
                        shell.signal(child, Signal::SIGKILL);
                        shell.pids.remove(&child);
                        if let Some(guardian) = shell.guardian.as_mut() {
                            guardian.unregister(pid);
                        }
                    }
                    on_event(&sup, Event::Exited { child, pid, exit: &exit });
                    pending = sup.on_exit(child, exit, at);
                }
                Some(Input::Notice(child, notice)) => {
                    let at = shell.now();
                    if let Some(text) = &notice.status {
                        on_event(&sup, Event::Status { child, text });
                    }
                    if notice.watchdog {
                        sup.on_watchdog(child, at);
                    }
                    if notice.ready {
                        pending = sup.on_ready(child, at);
                    }
                }
                // The shell holds a sender: never closed.
                None => {}
            },
            command = next_command(&mut commands) => match command {
                Some(Command::Restart(child)) => pending = sup.restart_child(child, shell.now()),
                Some(Command::Stop(child)) => pending = sup.stop_child(child, shell.now()),
                // The sender is gone: nobody will ask again.
                None => commands = None,
            },
            _ = sleep_until(deadline) => {
                pending = sup.on_timer(shell.now());
            }
            _ = next_tick(&mut ticks) => on_event(&sup, Event::Tick),
            _ = &mut shutdown, if !shutting_down => {
                shutting_down = true;
                pending = sup.shutdown(shell.now());
            }
        }
    }
}

async fn next_command(commands: &mut Option<mpsc::UnboundedReceiver<Command>>) -> Option<Command> {
    match commands {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn next_tick(ticks: &mut Option<tokio::time::Interval>) {
    match ticks {
        Some(ticks) => {
            ticks.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn listen(child: ChildId, socket: UnixDatagram, tx: mpsc::UnboundedSender<Input>) {
    let mut buf = vec![0u8; 4096];
    while let Ok(n) = socket.recv(&mut buf).await {
        if tx
            .send(Input::Notice(child, Notice::parse(&buf[..n])))
            .is_err()
        {
            return;
        }
    }
}

struct Shell {
    /// Kills what the children forked if this process is SIGKILLed.
    guardian: Option<guardian::Guardian>,
    origin: Instant,
    /// Live children: pid, which is also the process group id.
    pids: HashMap<ChildId, u32>,
    tx: mpsc::UnboundedSender<Input>,
    sockets: HashMap<ChildId, PathBuf>,
    env: Vec<(String, String)>,
    name: String,
}

impl Shell {
    fn now(&self) -> Timestamp {
        let nanos = self.origin.elapsed().as_nanos();
        Timestamp::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    fn spawn<F>(&mut self, sup: &Supervisor, id: ChildId, on_event: &mut F) -> Result<(), Exit>
    where
        F: FnMut(&Supervisor, Event<'_>),
    {
        let spec = sup.child(id);
        let Some((program, args)) = spec.command.split_first() else {
            return Err(Exit::SpawnFailed("empty command".into()));
        };
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .process_group(0)
            .env(ENV_SUPERVISOR, &self.name)
            .env(ENV_CHILD, &spec.id)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(path) = self.sockets.get(&id) {
            command.env("NOTIFY_SOCKET", path);
            if let Some(watchdog) = spec.watchdog {
                // sd_watchdog_enabled(3) reads this.
                command.env("WATCHDOG_USEC", watchdog.as_micros().to_string());
            }
        }
        pdeathsig::die_with_parent(&mut command);
        let mut child = command
            .spawn()
            .map_err(|e| Exit::SpawnFailed(format!("{program}: {e}")))?;
        let Some(pid) = child.id() else {
            return Err(Exit::SpawnFailed(format!("{program}: exited at once")));
        };
        self.pids.insert(id, pid);
        if let Some(guardian) = self.guardian.as_mut() {
            guardian.register(pid);
        }
        on_event(sup, Event::Started { child: id, pid });
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let exit = match child.wait().await {
                Ok(status) => match (status.code(), status.signal()) {
                    (Some(code), _) => Exit::Code(code),
                    (None, Some(signal)) => Exit::Signal(signal),
                    (None, None) => Exit::Code(-1),
                },
                Err(e) => Exit::SpawnFailed(format!("wait failed: {e}")),
            };
            let _ = tx.send(Input::Exited(id, pid, exit));
        });
        Ok(())
    }

    /// Signals the child's whole process group.
    fn signal(&self, id: ChildId, signal: Signal) {
        if let Some(&pid) = self.pids.get(&id) {
            if let Ok(pid) = i32::try_from(pid) {
                if let Err(e) = killpg(Pid::from_raw(pid), signal) {
                    tracing::debug!(pid, %signal, error = %e, "signal to a child's group failed");
                }
            }
        }
    }
}

/// The path a child's notify socket has under `dir`.
fn socket_path(dir: &Path, child_id: &str) -> PathBuf {
    dir.join(format!("{child_id}.sock"))
}
