//! `vigil demo --supervised`: the same kill twice, once to a producer
//! nobody supervises (the consumer notices when its lease expires) and
//! once to a producer run by `vigil supervise` (its supervisor says FAILED
//! on its behalf at once, restarts it, and the consumer returns to it
//! through its own advert and wait-to-restore).
//!
//! The supervisor is a real `vigil supervise` process with a config
//! written to a private directory; its JSON events are shown in the
//! timeline.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};
use vigil::ConsumerView;
use vigil_discovery::{DdsConfig, SyntheticSample};

use super::{
    spawn_producer, start_consumer, stop_producers, until, wait_ready, DemoArgs, Entry, Format,
    Report, QUERY,
};
use crate::cli::dds_args::unix_seconds;

/// Unsupervised, the best: killed first, noticed by its lease.
const PLAIN: (&str, &[&str]) = (
    "imu_plain",
    &["accuracy=0.001", "latency_p99=0.4ms", "rate=500Hz"],
);
/// Supervised, the second best: killed next, FAILED by its supervisor.
const SUPERVISED: (&str, &[&str]) = (
    "imu_sup",
    &["accuracy=0.002", "latency_p99=0.6ms", "rate=500Hz"],
);
/// The last resort while the supervised one restarts.
const SPARE: (&str, &[&str]) = (
    "imu_spare",
    &["accuracy=0.005", "latency_p99=0.3ms", "rate=500Hz"],
);
/// The supervisor's child id of [`SUPERVISED`].
const CHILD: &str = "imu_sup_proc";
/// The supervisor's first restart delay.
const BACKOFF: &str = "300ms";

/// The supervised child as the supervisor's events tell it.
#[derive(Clone, Debug, Default)]
struct ChildNews {
    /// The pid of its current incarnation.
    pid: Option<u32>,
    /// Its current incarnation said `ready`.
    ready: bool,
}

/// Runs the supervised timeline; like the plain demo, `interrupted`
/// stops everything cleanly with exit 0.
pub(super) async fn demo(
    args: &DemoArgs,
    config: DdsConfig,
    interrupted: impl std::future::Future<Output = ()>,
) -> anyhow::Result<std::process::ExitCode> {
    tokio::pin!(interrupted);
    let started = Instant::now();
    let since = move || started.elapsed().as_secs_f64();
    let exe = std::env::current_exe().context("finding the vigil executable")?;
    let text = args.format == Format::Text;
    let hot_standby = !args.no_hot_standby;
    if text {
        println!(
            "vigil demo --supervised: domain {}, `imu` at {} Hz, lease {} ms",
            config.domain,
            args.rate,
            config.lease.as_millis()
        );
        println!(
            "{} runs alone; {} runs under `vigil supervise` (restart after {BACKOFF}); {} is the spare",
            PLAIN.0, SUPERVISED.0, SPARE.0
        );
        println!("consumer query: {QUERY}\n");
    }

    let dir = tempdir()?;
    let sup_config = dir.join("supervisor.yaml");
    std::fs::write(&sup_config, supervisor_yaml(&exe, args, &config))
        .with_context(|| format!("writing {}", sup_config.display()))?;
    let mut supervisor = Command::new(&exe)
        .args(["supervise", "--config"])
        .arg(&sup_config)
        .args(["--domain", &config.domain.to_string()])
        .args(["--interface", &config.interface.to_string()])
        .args(["--format", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        // A SIGKILL of the supervisor takes its children along
        // (parent-death signal), so none outlives the demo.
        .kill_on_drop(true)
        .spawn()
        .context("starting vigil supervise")?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Entry>();
    let (news_tx, mut news) = watch::channel(ChildNews::default());
    let stdout = supervisor.stdout.take().context("supervisor stdout")?;
    tokio::spawn(read_supervisor(stdout, news_tx, tx.clone(), since));

    let mut producers = vec![
        spawn_producer(&exe, PLAIN.0, PLAIN.1, args, &config)?,
        spawn_producer(&exe, SPARE.0, SPARE.1, args, &config)?,
    ];
    let ready = async {
        for p in &mut producers {
            wait_ready(p).await?;
        }
        let supervised = news.wait_for(|n| n.ready);
        tokio::time::timeout(Duration::from_secs(20), supervised)
            .await
            .map_err(|_| anyhow::anyhow!("{} not ready after 20 s", SUPERVISED.0))?
            .map_err(|_| anyhow::anyhow!("vigil supervise exited"))?;
        anyhow::Ok(())
    };
    let ready = tokio::select! {
        ready = ready => Some(ready),
        () = &mut interrupted => None,
    };
    let Some(ready) = ready else {
        stop(supervisor, producers).await;
        eprintln!("interrupted; producers stopped");
        return Ok(std::process::ExitCode::SUCCESS);
    };
    if let Err(e) = ready {
        stop(supervisor, producers).await;
        return Err(e);
    }

    let (view, stop_tx, consumer) = start_consumer(config, hot_standby, tx.clone())?;
    let mut report = Report::new(text);
    let script_result = {
        let script = script(&mut producers, &news, &view, tx, since);
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
    stop(supervisor, producers).await;
    while let Ok(entry) = rx.try_recv() {
        report.record(entry, since());
    }
    let _ = std::fs::remove_dir_all(&dir);
    let Some(script_result) = script_result else {
        eprintln!("interrupted; producers stopped");
        return Ok(std::process::ExitCode::SUCCESS);
    };
    script_result?;
    report.finish(&summary, since(), hot_standby, explanation.as_ref());
    Ok(std::process::ExitCode::SUCCESS)
}

/// A private directory for the supervisor's config.
fn tempdir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("vigil-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// The supervisor's config: one child, the supervised producer.
fn supervisor_yaml(exe: &std::path::Path, args: &DemoArgs, config: &DdsConfig) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let mut command = vec![
        quote(&exe.display().to_string()),
        "produce".into(),
        "--topic".into(),
        "imu".into(),
        "--id".into(),
        SUPERVISED.0.into(),
        "--format".into(),
        "json".into(),
        "--domain".into(),
        quote(&config.domain.to_string()),
        "--interface".into(),
        quote(&config.interface.to_string()),
        "--rate".into(),
        quote(&args.rate.to_string()),
        "--lease-ms".into(),
        quote(&config.lease.as_millis().to_string()),
    ];
    for cap in SUPERVISED.1 {
        command.push("--cap".into());
        command.push(quote(cap));
    }
    format!(
        "name: demo\nstrategy: one_for_one\nintensity: 5\nperiod: 10s\n\
         backoff: {{ initial: {BACKOFF}, max: 2s }}\nchildren:\n  - id: {CHILD}\n    \
         command: [{}]\n    produces: [{}]\n    shutdown: 1s\n",
        command.join(", "),
        SUPERVISED.0
    )
}

/// Reads the supervisor's JSON lines (and its child's, which share its
/// stdout): tracks the child's pid and readiness and shows the
/// supervisor's decisions in the timeline.
async fn read_supervisor(
    stdout: tokio::process::ChildStdout,
    news: watch::Sender<ChildNews>,
    tx: mpsc::UnboundedSender<Entry>,
    since: impl Fn() -> f64,
) {
    let mut lines = BufReader::new(stdout).lines();
    let mut starts = 0u32;
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let child = v["child"].as_str().unwrap_or_default();
        let note = match v["event"].as_str().unwrap_or_default() {
            // The child's own line (it shares the supervisor's stdout).
            "ready" if v["producer"] == SUPERVISED.0 => {
                news.send_modify(|n| n.ready = true);
                None
            }
            "started" => {
                let pid = v["pid"].as_u64().and_then(|p| u32::try_from(p).ok());
                news.send_modify(|n| {
                    n.pid = pid;
                    n.ready = false;
                });
                starts += 1;
                Some(format!(
                    "supervisor: started {child}{} (pid {})",
                    if starts > 1 { " again" } else { "" },
                    v["pid"]
                ))
            }
            "exited" => Some(match (v["signal"].as_i64(), v["code"].as_i64()) {
                (Some(signal), _) => format!("supervisor: {child} exited on signal {signal}"),
                (_, Some(code)) => format!("supervisor: {child} exited with code {code}"),
                _ => format!("supervisor: {child} exited"),
            }),
            "failed" => Some(format!(
                "supervisor: says FAILED for {} on its behalf ({})",
                v["producers"]
                    .as_array()
                    .map(|p| p
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default(),
                v["reason"].as_str().unwrap_or_default()
            )),
            "restarting" => Some(format!(
                "supervisor: restarting {child} in {} ms",
                v["in_ms"]
            )),
            _ => None,
        };
        if let Some(text) = note {
            let _ = tx.send(Entry::Note { t: since(), text });
        }
    }
}

/// The timeline: kill the unsupervised producer, then the supervised one,
/// then wait for the latter to come back.
async fn script(
    producers: &mut [super::Producer],
    news: &watch::Receiver<ChildNews>,
    view: &ConsumerView<SyntheticSample>,
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
    if !until(view, Duration::from_secs(15), |a| a == Some(PLAIN.0)).await {
        bail!("the consumer did not select {} within 15 s", PLAIN.0);
    }
    pause(1500).await;

    // 1. Unsupervised: nobody speaks for it, its lease has to run out.
    act(format!(
        "SIGKILL {} (unsupervised: noticed when its lease expires)",
        PLAIN.0
    ));
    let plain = producers
        .iter_mut()
        .find(|p| p.id == PLAIN.0)
        .context("the plain producer")?;
    plain.child.start_kill()?;
    plain.stdin = None;
    until(view, Duration::from_secs(5), |a| a != Some(PLAIN.0)).await;
    pause(1500).await;
    if !until(view, Duration::from_secs(5), |a| a == Some(SUPERVISED.0)).await {
        bail!("the consumer did not move to {}", SUPERVISED.0);
    }

    // 2. Supervised: the supervisor sees the exit and says FAILED at once.
    let pid = news.borrow().pid.context("the supervised child's pid")?;
    act(format!(
        "SIGKILL {} (supervised: its supervisor says FAILED on its behalf)",
        SUPERVISED.0
    ));
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).with_context(|| format!("SIGKILL {pid}"))?;
    until(view, Duration::from_secs(5), |a| a != Some(SUPERVISED.0)).await;

    // 3. Restarted, it re-enters through its own advert and the
    //    consumer's wait-to-restore.
    if !until(view, Duration::from_secs(20), |a| a == Some(SUPERVISED.0)).await {
        bail!("{} did not come back within 20 s", SUPERVISED.0);
    }
    pause(1000).await;
    act("end".to_owned());
    Ok(())
}

/// Stops the supervisor (SIGTERM: its child stopped in order) and the
/// plain producers.
async fn stop(mut supervisor: Child, producers: Vec<super::Producer>) {
    if let Some(pid) = supervisor.id() {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
    }
    if tokio::time::timeout(Duration::from_secs(5), supervisor.wait())
        .await
        .is_err()
    {
        let _ = supervisor.start_kill();
        let _ = supervisor.wait().await;
    }
    stop_producers(producers).await;
}
