//! `vigil demo`: three IMU producers (child `vigil produce` processes), one
//! consumer in this process, and a timeline of faults on a private domain:
//! degrade the active producer, SIGKILL another, recover the first, make it
//! flap. Prints who is active, why, the measured reroute time and the
//! samples lost.
//!
//! The producers are real OS processes, so a SIGKILL is a real crash; they
//! get `--exit-on-eof` and are killed on drop, so none outlives the demo,
//! even when it fails or is killed itself.
//!
//! `--supervised` runs another timeline (`supervised`): the same SIGKILL
//! to an unsupervised producer and to one run by `vigil supervise`.

mod supervised;

use std::net::IpAddr;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use serde::Serialize;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use vigil::{Consumer, ConsumerView, Transport};
use vigil_discovery::{
    DdsConfig, SelectionExplanation, SwitchPolicy, SyntheticSample, SYNTHETIC_TYPE,
};
use vigil_qos::Query;

use super::consume::{follow, synthetic_period, ConsumerEvent, Summary};
use super::dds_args::{init_logging, millis, runtime, terminated, unix_seconds, Format};
use super::InputError;

/// Run the failover demo on a private domain: no setup, under a minute.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Output format: JSON prints one summary object at the end.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// DDS domain id. Default: one derived from the process id, so
    /// concurrent demos do not hear each other.
    #[arg(long)]
    domain: Option<u16>,
    /// IP address of the only interface DDS may use. Default: loopback.
    #[arg(long)]
    interface: Option<IpAddr>,
    /// Samples per second of each producer.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// Turn the consumer's hot standby off, to see what a failover costs
    /// without it.
    #[arg(long)]
    no_hot_standby: bool,
    /// The producers' lease in milliseconds: how long after its last
    /// heartbeat a SIGKILLed producer is noticed. Longer tolerates a busy
    /// machine better.
    #[arg(long = "lease-ms", default_value = "100", value_parser = millis)]
    lease: Duration,
    /// Run one producer under `vigil supervise` and SIGKILL it beside an
    /// unsupervised one: its supervisor says FAILED at once (no lease to
    /// wait for), restarts it, and the consumer returns to it.
    #[arg(long)]
    supervised: bool,
}

/// The producers: same topic, different qualities.
const PRODUCERS: [(&str, &[&str]); 3] = [
    (
        "imu_a",
        &["accuracy=0.001", "latency_p99=0.4ms", "rate=500Hz"],
    ),
    (
        "imu_b",
        &["accuracy=0.002", "latency_p99=0.6ms", "rate=500Hz"],
    ),
    (
        "imu_c",
        &["accuracy=0.005", "latency_p99=0.3ms", "rate=500Hz"],
    ),
];

const QUERY: &str = "imu WHERE health.state = OK AND latency_p99 < 1ms PREFER accuracy ASC";

const HOLD_OFF: Duration = Duration::from_millis(200);
const WAIT_TO_RESTORE: Duration = Duration::from_secs(1);

pub(crate) fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    if !(args.rate.is_finite() && args.rate > 0.0 && args.rate <= 5_000.0) {
        return Err(InputError(format!(
            "--rate {} must be above 0 and at most 5000",
            args.rate
        ))
        .into());
    }
    // 100-199: clear of domain 0 and of the test suite's 40-60.
    let domain = args
        .domain
        .unwrap_or_else(|| 100 + (std::process::id() % 100) as u16);
    let mut config =
        DdsConfig::new(domain).with_liveness(DdsConfig::DEFAULT_HEARTBEAT_PERIOD, args.lease);
    if let Some(interface) = args.interface {
        config = config.with_interface(interface);
    }
    config.validate().map_err(|e| InputError(e.to_string()))?;
    runtime()?.block_on(async move {
        let interrupted = terminated();
        if args.supervised {
            supervised::demo(&args, config, interrupted).await
        } else {
            demo(&args, config, interrupted).await
        }
    })
}

/// One producer child.
struct Producer {
    id: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Producer {
    async fn send(&mut self, line: &str) -> anyhow::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .with_context(|| format!("{} has exited", self.id))?;
        stdin.write_all(format!("{line}\n").as_bytes()).await?;
        stdin.flush().await?;
        Ok(())
    }
}

/// What happened, in order, for the timeline.
enum Entry {
    /// Something the script did: later switches are measured from it.
    Action {
        t: f64,
        unix: f64,
        text: String,
    },
    /// Something another process did (the supervisor): shown, not a
    /// trigger.
    Note {
        t: f64,
        text: String,
    },
    Consumer(ConsumerEvent),
}

/// A switch in the summary.
#[derive(Debug, Serialize)]
struct Switch {
    /// Seconds since the demo started.
    t: f64,
    from: Option<String>,
    to: Option<String>,
    cause: String,
    /// From the action that triggered it to the first sample of the new
    /// producer.
    reroute_ms: Option<f64>,
    trigger: String,
    lost: u64,
}

/// Runs the timeline. On `interrupted`, stops the producers cleanly (their
/// adverts withdrawn) and exits 0, as every command does (dds_args).
async fn demo(
    args: &DemoArgs,
    config: DdsConfig,
    interrupted: impl std::future::Future<Output = ()>,
) -> anyhow::Result<ExitCode> {
    tokio::pin!(interrupted);
    let started = Instant::now();
    let since = move || started.elapsed().as_secs_f64();
    let exe = std::env::current_exe().context("finding the vigil executable")?;
    let hot_standby = !args.no_hot_standby;
    let text = args.format == Format::Text;
    if text {
        println!(
            "vigil demo: domain {}, three producers of `imu` at {} Hz, lease {} ms",
            config.domain,
            args.rate,
            config.lease.as_millis()
        );
        println!("consumer query: {QUERY}");
        println!(
            "policy: hold-off {} ms, wait-to-restore {} ms, revertive, hot standby {}\n",
            HOLD_OFF.as_millis(),
            WAIT_TO_RESTORE.as_millis(),
            if hot_standby { "on" } else { "off" }
        );
    }

    // Producers first, so the consumer finds them all when it settles.
    let mut producers = Vec::new();
    for (id, caps) in PRODUCERS {
        producers.push(spawn_producer(&exe, id, caps, args, &config)?);
    }
    let mut stopped = false;
    for p in &mut producers {
        tokio::select! {
            ready = wait_ready(p) => ready?,
            () = &mut interrupted => {
                stopped = true;
                break;
            }
        }
        if text {
            let caps = PRODUCERS
                .iter()
                .find(|(id, _)| *id == p.id)
                .map_or(&[][..], |(_, c)| c);
            println!(
                "  {:>6.2}s  started {} ({})",
                since(),
                p.id,
                caps.join(", ")
            );
        }
    }

    if stopped {
        stop_producers(producers).await;
        eprintln!("interrupted; producers stopped");
        return Ok(ExitCode::SUCCESS);
    }

    let (tx, mut rx) = mpsc::unbounded_channel::<Entry>();
    let (view, stop_tx, consumer) = start_consumer(config, hot_standby, tx.clone())?;
    let mut report = Report::new(text);
    let script_result = {
        let script = script(&mut producers, &view, tx, since);
        tokio::pin!(script);
        loop {
            tokio::select! {
                result = &mut script => break Some(result),
                Some(entry) = rx.recv() => report.record(entry, since()),
                () = &mut interrupted => break None,
            }
        }
    };
    let _ = stop_tx.send(());
    let summary = consumer.await.unwrap_or_default();
    let explanation = view.explain();
    while let Ok(entry) = rx.try_recv() {
        report.record(entry, since());
    }
    stop_producers(producers).await;
    let Some(script_result) = script_result else {
        eprintln!("interrupted; producers stopped");
        return Ok(ExitCode::SUCCESS);
    };
    script_result?;
    report.finish(&summary, since(), hot_standby, explanation.as_ref());
    Ok(ExitCode::SUCCESS)
}

/// The demo's consumer in a task of its own, reporting to `tx`: a view of
/// it for the script, the sender that stops it, and its totals at the end.
/// The plain and the supervised demo both follow with it.
fn start_consumer(
    config: DdsConfig,
    hot_standby: bool,
    tx: mpsc::UnboundedSender<Entry>,
) -> anyhow::Result<(
    ConsumerView<SyntheticSample>,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Summary>,
)> {
    let transport = Transport::dds(config).context("joining DDS")?;
    let query = Query::parse(QUERY).map_err(|e| anyhow::anyhow!("built-in query: {e}"))?;
    let policy = SwitchPolicy {
        hold_off: HOLD_OFF,
        wait_to_restore: WAIT_TO_RESTORE,
        ..SwitchPolicy::default()
    };
    let mut consumer = Consumer::<SyntheticSample>::builder(query.to_string())
        .type_name(SYNTHETIC_TYPE)
        .policy(policy)
        .hot_standby(hot_standby)
        .settle(Duration::from_millis(400))
        .sample_period(synthetic_period)
        .start(&transport)?;
    let view = consumer.view();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let consumer = {
        tokio::spawn(async move {
            let stop = async {
                let _ = stop_rx.await;
            };
            let summary = follow(&mut consumer, Duration::from_secs(1), stop, |e| {
                let _ = tx.send(Entry::Consumer(e));
            })
            .await;
            consumer.shutdown().await;
            summary
        })
    };
    Ok((view, stop_tx, consumer))
}

fn spawn_producer(
    exe: &std::path::Path,
    id: &'static str,
    caps: &[&str],
    args: &DemoArgs,
    config: &DdsConfig,
) -> anyhow::Result<Producer> {
    let mut command = Command::new(exe);
    command
        .args([
            "produce",
            "--topic",
            "imu",
            "--id",
            id,
            "--exit-on-eof",
            "--format",
            "json",
        ])
        .args(["--domain", &config.domain.to_string()])
        .args(["--interface", &config.interface.to_string()])
        .args(["--rate", &args.rate.to_string()])
        .args(["--lease-ms", &config.lease.as_millis().to_string()]);
    for cap in caps {
        command.args(["--cap", cap]);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting producer {id}"))?;
    let stdin = child.stdin.take();
    Ok(Producer { id, child, stdin })
}

/// Closes the producers' stdin: with `--exit-on-eof` each withdraws its
/// advert and exits, so consumers see it leave at once. One still running
/// after a second is killed.
async fn stop_producers(mut producers: Vec<Producer>) {
    for p in &mut producers {
        p.stdin = None;
    }
    for p in &mut producers {
        let exited = tokio::time::timeout(Duration::from_secs(1), p.child.wait()).await;
        if exited.is_err() {
            let _ = p.child.start_kill();
            let _ = p.child.wait().await;
        }
    }
}

/// Waits for the producer's `ready` line, then drains its stdout so it
/// never blocks on a full pipe.
async fn wait_ready(p: &mut Producer) -> anyhow::Result<()> {
    let stdout = p.child.stdout.take().context("producer stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await? {
            if line.contains("\"event\":\"ready\"") {
                return Ok::<bool, std::io::Error>(true);
            }
        }
        Ok(false)
    })
    .await;
    match ready {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) | Ok(Err(_)) => bail!("producer {} exited before it was ready", p.id),
        Err(_) => bail!("producer {} not ready after 20 s", p.id),
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(())
}

/// Waits until `pred` holds for the active producer, up to `limit`.
async fn until(
    selector: &ConsumerView<SyntheticSample>,
    limit: Duration,
    pred: impl Fn(Option<&str>) -> bool,
) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let active = selector.active().map(|k| k.producer);
        if pred(active.as_deref()) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The timeline. Conditions are waited for with generous limits, so a slow
/// machine makes the demo longer, not wrong.
async fn script(
    producers: &mut [Producer],
    selector: &ConsumerView<SyntheticSample>,
    tx: mpsc::UnboundedSender<Entry>,
    since: impl Fn() -> f64,
) -> anyhow::Result<()> {
    let act = |text: String| {
        let _ = tx.send(Entry::Action {
            t: since(),
            unix: unix_seconds(),
            text,
        });
    };
    let pause = |d: u64| tokio::time::sleep(Duration::from_millis(d));
    if !until(selector, Duration::from_secs(15), |a| a.is_some()).await {
        bail!("the consumer selected no producer within 15 s");
    }
    pause(1500).await;

    // 1. Degrade the active producer: it is left after the hold-off.
    let first = active_index(producers, selector).context("no active producer")?;
    let first_id = producers[first].id;
    act(format!("{first_id} reports DEGRADED"));
    producers[first]
        .send(&format!("set {first_id}.health DEGRADED"))
        .await?;
    until(selector, Duration::from_secs(5), |a| a != Some(first_id)).await;
    pause(1500).await;

    // 2. SIGKILL another one: the one now active, so the consumer must
    //    notice the silence (lease) and fail over.
    let victim = active_index(producers, selector).context("no active producer")?;
    let victim_id = producers[victim].id;
    act(format!("SIGKILL {victim_id}"));
    producers[victim].child.start_kill()?;
    producers[victim].stdin = None;
    until(selector, Duration::from_secs(5), |a| a != Some(victim_id)).await;
    pause(1500).await;

    // 3. Recover the first: the consumer returns after wait-to-restore.
    act(format!("{first_id} reports OK"));
    producers[first]
        .send(&format!("set {first_id}.health OK"))
        .await?;
    until(selector, Duration::from_secs(5), |a| a == Some(first_id)).await;
    pause(1500).await;

    // 4. Make it flap: the first FAILED moves the consumer away; flap
    //    damping keeps it from coming back while the producer oscillates.
    act(format!(
        "{first_id} flaps FAILED/OK three times, 150 ms apart"
    ));
    for state in ["FAILED", "OK", "FAILED", "OK", "FAILED", "OK"] {
        producers[first]
            .send(&format!("set {first_id}.health {state}"))
            .await?;
        pause(150).await;
    }
    // Past wait-to-restore: a revert would have happened by now.
    pause(2500).await;
    act("end".to_owned());
    Ok(())
}

fn active_index(producers: &[Producer], selector: &ConsumerView<SyntheticSample>) -> Option<usize> {
    let active = selector.active()?.producer;
    producers.iter().position(|p| p.id == active)
}

/// Collects and prints the timeline.
struct Report {
    text: bool,
    /// The last action (Unix seconds, text): what a following switch is
    /// measured from.
    trigger: Option<(f64, String)>,
    switches: Vec<Switch>,
    /// A switch waiting for its first sample: index in `switches`.
    pending: Option<usize>,
    actions: Vec<serde_json::Value>,
    notes: Vec<serde_json::Value>,
    samples: u64,
}

impl Report {
    fn new(text: bool) -> Report {
        Report {
            text,
            trigger: Some((unix_seconds(), "start".to_owned())),
            switches: Vec::new(),
            pending: None,
            actions: Vec::new(),
            notes: Vec::new(),
            samples: 0,
        }
    }

    fn record(&mut self, entry: Entry, now: f64) {
        match entry {
            Entry::Action { t, unix, text } => {
                if self.text && text != "end" {
                    println!("  {t:>6.2}s  >> {text}");
                }
                self.actions.push(json!({"t": round3(t), "action": text}));
                self.trigger = Some((unix, text));
            }
            Entry::Note { t, text } => {
                if self.text {
                    println!("  {t:>6.2}s     {text}");
                }
                self.notes.push(json!({"t": round3(t), "note": text}));
            }
            Entry::Consumer(ConsumerEvent::Selected {
                previous,
                producer,
                cause,
                ..
            }) => {
                let trigger = self.trigger.clone().unwrap_or_default();
                self.switches.push(Switch {
                    t: round3(now),
                    from: previous,
                    to: producer,
                    cause,
                    reroute_ms: None,
                    trigger: trigger.1,
                    lost: 0,
                });
                self.pending = Some(self.switches.len() - 1);
            }
            Entry::Consumer(ConsumerEvent::FirstSample {
                t: received,
                producer,
                lost,
                replayed,
                ..
            }) => {
                let Some(i) = self.pending else { return };
                if self.switches[i].to.as_deref() != Some(producer.as_str()) {
                    return;
                }
                self.pending = None;
                let trigger_t = self.trigger.as_ref().map_or(received, |(t, _)| *t);
                let reroute = (received - trigger_t) * 1000.0;
                let s = &mut self.switches[i];
                s.reroute_ms = Some((reroute * 10.0).round() / 10.0);
                s.lost = lost;
                if self.text && s.from.is_none() && s.trigger == "start" {
                    println!(
                        "  {:>6.2}s  selected {producer}: {} (first sample {:.0} ms after start)",
                        s.t, s.cause, reroute
                    );
                } else if self.text {
                    println!(
                        "  {:>6.2}s  {} -> {}: {}\n           reroute {:.1} ms after `{}`, {} sample(s) lost{}",
                        s.t,
                        s.from.as_deref().unwrap_or("(none)"),
                        producer,
                        s.cause,
                        reroute,
                        s.trigger,
                        lost,
                        if replayed { " (hot standby replayed the gap)" } else { "" }
                    );
                }
            }
            Entry::Consumer(ConsumerEvent::Stats { samples, .. }) => {
                self.samples += samples.values().sum::<u64>();
            }
        }
    }

    fn finish(
        &self,
        summary: &Summary,
        elapsed: f64,
        hot_standby: bool,
        explanation: Option<&SelectionExplanation>,
    ) {
        if self.text {
            if let Some(e) = explanation {
                // What `Selector::explain` says at the end: why this one, and
                // why not the others (the flapping one is suppressed).
                println!("\nat the end: {}", e.why_active);
                for c in &e.candidates {
                    let why = if c.reasons.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", c.reasons.join("; "))
                    };
                    println!("  {:<8} {:?} ({}){why}", c.key.producer, c.status, c.state);
                }
            }
            for s in self.switches.iter().filter(|s| s.reroute_ms.is_none()) {
                println!(
                    "  {:>6.2}s  {} -> {}: {} (no sample from it before the end)",
                    s.t,
                    s.from.as_deref().unwrap_or("(none)"),
                    s.to.as_deref().unwrap_or("(none)"),
                    s.cause
                );
            }
            println!(
                "\nsummary: {} switch(es), {} sample(s) lost{}, {} flap(s) suppressed, \
                 {} sample(s) received, {:.1} s",
                summary.switches,
                summary.samples_lost,
                if hot_standby { " with hot standby" } else { "" },
                summary.flaps_suppressed,
                summary.samples,
                elapsed
            );
        } else {
            let out = json!({
                "switches": self.switches,
                "samples_lost": summary.samples_lost,
                "flaps_suppressed": summary.flaps_suppressed,
                "samples": summary.samples,
                "replayed": summary.replayed,
                "hot_standby": hot_standby,
                "actions": self.actions,
                "notes": self.notes,
                "explanation": explanation,
                "elapsed_s": round3(elapsed),
            });
            println!("{out}");
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
