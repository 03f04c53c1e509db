//! Flags and plumbing shared by the commands that talk DDS (`produce`,
//! `consume`, `monitor`, `demo`, `agent`, `bridge zenoh`).
//!
//! # Stopping
//!
//! Every long-running command stops on SIGTERM or SIGINT (Ctrl-C) the same
//! way: it withdraws what it advertised and exits with status 0, because a
//! stop asked for by a process manager or a user is the normal end of a
//! service, not a failure (the shell's 130/143 would make systemd and
//! supervisors log every stop as an error). [`terminated`] is that signal;
//! [`stdin_lines`] reads stdin on a thread the runtime never waits for, so
//! a stdin held open (a pipe, a FIFO, a terminal) cannot hold the exit up
//! (issue 18).

use std::future::Future;
use std::io::BufRead;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, ValueEnum};
use tokio::sync::mpsc;
use vigil_discovery::DdsConfig;

use super::InputError;

/// Where DDS traffic goes.
#[derive(Clone, Debug, Args)]
pub(crate) struct DdsArgs {
    /// DDS domain id (0-232). Processes talk only within one domain.
    #[arg(long, default_value_t = 0)]
    pub(crate) domain: u16,
    /// IP address of the only network interface DDS may use. Default:
    /// loopback (127.0.0.1), so nothing leaves this machine.
    #[arg(long)]
    pub(crate) interface: Option<IpAddr>,
    /// Hold the CPUs' wake-up latency under this bound while running (Linux
    /// PM QoS, /dev/cpu_dma_latency; root): a sleeping core is the slowest
    /// part of a reroute on an idle machine. 0: CPUs never sleep deeper
    /// than polling. Costs power.
    #[arg(long, value_name = "US")]
    pub(crate) cpu_latency_us: Option<u64>,
    /// The wire version to speak: 2 bundles one process's heartbeats into
    /// one sample per period (and sends single ones while a version-1
    /// reader is on the domain); 1 behaves as a build before it, to try an
    /// upgrade.
    #[arg(long, value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u16).range(1..=2))]
    pub(crate) wire_version: u16,
}

/// The process's CPU latency request, held until it exits.
static CPU_LATENCY: std::sync::OnceLock<vigil::latency::CpuLatency> = std::sync::OnceLock::new();

impl DdsArgs {
    /// The configuration, checked; takes the CPU latency request if asked.
    pub(crate) fn config(&self) -> Result<DdsConfig, InputError> {
        if let Some(us) = self.cpu_latency_us {
            if CPU_LATENCY.get().is_none() {
                let held = vigil::latency::CpuLatency::hold(std::time::Duration::from_micros(us))
                    .map_err(|e| InputError(format!("--cpu-latency-us: {e}")))?;
                let _ = CPU_LATENCY.set(held);
            }
        }
        let mut config = DdsConfig::new(self.domain).with_wire_version(self.wire_version);
        if let Some(interface) = self.interface {
            config = config.with_interface(interface);
        }
        config.validate().map_err(|e| InputError(e.to_string()))?;
        Ok(config)
    }
}

/// The flags of a long-running command driven by a config file
/// (`vigil agent`, `vigil bridge zenoh`).
#[derive(Debug, Args)]
pub(crate) struct ConfigRunArgs {
    /// The config file (commented examples under examples/).
    #[arg(long)]
    pub(crate) config: std::path::PathBuf,
    #[command(flatten)]
    pub(crate) dds: DdsArgs,
    /// Output format: with `json`, one JSON line per event (`selected`
    /// and producer up/down lines are the routing decisions).
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: Format,
    /// Only check the config: print a one-line summary and exit 0, or
    /// every problem with its line and exit 2.
    #[arg(long)]
    pub(crate) check: bool,
}

/// How results are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Text for people.
    #[default]
    Text,
    /// JSON: one object per line.
    Json,
}

/// The runtime of a DDS command. Two workers: rustdds runs its own threads,
/// and the machines vigil targets have few cores.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Warnings (rejected adverts, failed writes) to stderr; `RUST_LOG`
/// overrides the level. rustdds's own log is off by default: on loopback it
/// warns about multicast and locators it does not need, many times a second.
pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rustdds=off"));
    // Already set (tests, the demo running in-process): keep that one.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Seconds since the Unix epoch, for the `t` field of JSON lines.
pub(crate) fn unix_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Parses a duration in milliseconds given as a flag.
pub(crate) fn millis(text: &str) -> Result<Duration, String> {
    let ms: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of milliseconds"))?;
    if !ms.is_finite() || ms < 0.0 {
        return Err(format!(
            "`{text}` must be a non-negative number of milliseconds"
        ));
    }
    Ok(Duration::from_secs_f64(ms / 1000.0))
}

/// Parses a duration in seconds given as a flag.
pub(crate) fn seconds(text: &str) -> Result<Duration, String> {
    let s: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !s.is_finite() || s < 0.0 {
        return Err(format!("`{text}` must be a non-negative number of seconds"));
    }
    Ok(Duration::from_secs_f64(s))
}

/// Resolves when SIGINT or SIGTERM arrives, so commands leave cleanly
/// (adverts disposed) instead of being cut off.
///
/// The handlers are installed when this is called, not when the future is
/// first polled: a command calls it before printing its `ready` line, so a
/// signal sent right after that line is never lost to the default action.
/// Must be called inside the runtime.
pub(crate) fn terminated() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                // No signal driver: Ctrl-C is still worth waiting for.
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The lines of stdin, in order; the channel closes at end of input or on
/// a read error.
///
/// A plain thread reads, never joined: `tokio::io::stdin` reads on the
/// runtime's blocking pool, and a runtime waits for that pool when it shuts
/// down, so a stdin held open by a terminal, a FIFO or a parent (which
/// never reaches end of input) kept a stopped command alive forever
/// (issue 18). This thread dies with the process instead.
pub(crate) fn stdin_lines() -> mpsc::Receiver<String> {
    // A few lines of slack: commands are typed or scripted, never a flood.
    let (tx, rx) = mpsc::channel(64);
    let spawned = std::thread::Builder::new()
        .name("stdin".to_owned())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                // The command has stopped reading: nothing more to do.
                if tx.blocking_send(line).is_err() {
                    break;
                }
            }
        });
    if let Err(e) = spawned {
        // The sender is gone with the closure: reads as end of input.
        tracing::warn!("cannot read stdin: {e}");
    }
    rx
}

/// A writer GUID as 32 hex digits.
pub(crate) fn guid_hex(guid: &[u8; 16]) -> String {
    guid.iter().map(|b| format!("{b:02x}")).collect()
}
