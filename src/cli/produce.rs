//! `vigil produce`: a synthetic producer that publishes samples at a rate,
//! advertises itself, and takes diagnostic commands on stdin.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use vigil::{Producer, Transport};
use vigil_diag::{load_tree_str, Observation, Path, State, Tree, TreeSpec};
use vigil_discovery::clock::unix_now_ns;
use vigil_discovery::{SyntheticSample, SYNTHETIC_TYPE};
use vigil_qos::{Capabilities, Degradation, Value};

use super::dds_args::{
    guid_hex, init_logging, millis, runtime, stdin_lines, terminated, unix_seconds,
};
use super::dds_args::{DdsArgs, Format};
use super::trust_args::KeyArgs;
use super::InputError;

/// Publish synthetic samples ({producer, seq, source timestamp}) on a topic
/// and advertise them. Reads commands on stdin, one per line:
/// `set PATH STATE`, `value PATH X`, `cap KEY=VALUE`, `gaps MS` (pause MS after
/// each sample, 0 to stop: samples late against the rate), `quit`.
#[derive(Debug, Args)]
pub(crate) struct ProduceArgs {
    #[command(flatten)]
    dds: DdsArgs,
    /// The data topic.
    #[arg(long)]
    topic: String,
    /// The producer id, unique in the domain.
    #[arg(long)]
    id: String,
    /// A capability, KEY=VALUE: `accuracy=0.001`, `latency_p99=0.5ms`,
    /// `rate_hz=1000Hz`, `frame=imu_link`. Repeatable.
    #[arg(long = "cap", value_name = "KEY=VALUE")]
    caps: Vec<String>,
    /// Diagnostic tree file (YAML). Default: one status leaf `<ID>.health`,
    /// reported OK at start.
    #[arg(long)]
    tree: Option<PathBuf>,
    /// The tree node whose health is advertised. Default: the tree's only
    /// root.
    #[arg(long)]
    root: Option<String>,
    /// Degradation rules, a JSON array of
    /// {"when": PATH, "state": STATE, "key": KEY, "action": {"multiply": 2}}.
    #[arg(long)]
    degrade: Option<PathBuf>,
    /// Samples per second.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Heartbeat period in milliseconds.
    #[arg(long = "heartbeat-ms", default_value = "10", value_parser = millis)]
    heartbeat: Duration,
    /// Lease in milliseconds: consumers hold this producer unreachable
    /// after this long without a heartbeat.
    #[arg(long = "lease-ms", default_value = "100", value_parser = millis)]
    lease: Duration,
    /// Exit when stdin closes: a parent holding the pipe (`vigil demo`, a
    /// test) takes its producers with it even when it is killed.
    #[arg(long)]
    exit_on_eof: bool,
    #[command(flatten)]
    key: KeyArgs,
    /// Output format of the event lines on stdout.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// What the flags say, checked before touching DDS.
struct Plan {
    capabilities: Capabilities,
    /// `None`: the library's default tree, one status leaf `<id>.health`
    /// reported OK at start.
    tree: Option<TreeSpec>,
    degradation: Degradation,
    period: Duration,
    key: Option<vigil_discovery::KeyPair>,
}

pub(crate) fn run(args: ProduceArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let plan = plan(&args)?;
    let config = args.dds.config()?.with_liveness(args.heartbeat, args.lease);
    config.validate().map_err(|e| InputError(e.to_string()))?;
    runtime()?.block_on(produce(args, plan, config))
}

fn plan(args: &ProduceArgs) -> Result<Plan, InputError> {
    if !(args.rate.is_finite() && args.rate > 0.0 && args.rate <= 100_000.0) {
        return Err(InputError(format!(
            "--rate {} must be above 0 and at most 100000",
            args.rate
        )));
    }
    let mut capabilities = Capabilities::new();
    let mut problems = Vec::new();
    for cap in &args.caps {
        if let Err(e) = parse_cap(cap).and_then(|(k, v)| {
            capabilities
                .insert(&k, v)
                .map(|_| ())
                .map_err(|e| format!("--cap {cap}: {e}"))
        }) {
            problems.push(e);
        }
    }
    if !problems.is_empty() {
        return Err(InputError(problems.join("\n")));
    }
    let tree = match &args.tree {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| InputError(format!("{}: {e}", file.display())))?;
            let spec = load_tree_str(&text, &file.display().to_string())
                .map_err(|e| InputError(e.to_string()))?;
            Tree::build(&spec).map_err(|e| InputError(e.to_string()))?;
            Some(spec)
        }
        None => {
            Path::parse(&format!("{}.health", args.id)).map_err(|e| {
                InputError(format!(
                    "--id {}: the default tree needs an id that is a tree label ({e}); \
                     give a --tree",
                    args.id
                ))
            })?;
            None
        }
    };
    if let Some(text) = &args.root {
        Path::parse(text).map_err(|e| InputError(format!("--root {text}: {e}")))?;
    }
    let degradation = match &args.degrade {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| InputError(format!("{}: {e}", file.display())))?;
            serde_json::from_str(&text)
                .map_err(|e| InputError(format!("{}: {e}", file.display())))?
        }
        None => Degradation::default(),
    };
    Ok(Plan {
        capabilities,
        tree,
        degradation,
        period: Duration::from_secs_f64(1.0 / args.rate),
        key: args.key.load()?,
    })
}

fn parse_cap(text: &str) -> Result<(String, Value), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}`: expected KEY=VALUE"))?;
    let value = Value::parse_capability(value.trim()).map_err(|e| format!("`{text}`: {e}"))?;
    Ok((key.trim().to_owned(), value))
}

async fn produce(
    args: ProduceArgs,
    plan: Plan,
    config: vigil_discovery::DdsConfig,
) -> anyhow::Result<ExitCode> {
    let transport = Transport::dds(config).context("joining DDS")?;
    let mut declaration = Producer::<SyntheticSample>::builder(&args.topic, &args.id)
        .type_name(SYNTHETIC_TYPE)
        .capabilities(plan.capabilities)
        .degradation(plan.degradation)
        .key(plan.key);
    if let Some(spec) = plan.tree {
        declaration = declaration.tree(spec);
    }
    if let Some(root) = &args.root {
        declaration = declaration.root(root);
    }
    let producer = Arc::new(declaration.start(&transport).map_err(|e| {
        if e.is_input() {
            anyhow::Error::new(InputError(e.to_string()))
        } else {
            anyhow::Error::new(e)
        }
    })?);
    let guid = producer.writer_guid();
    let out = Out {
        format: args.format,
    };
    // Before `ready`: a signal sent once it is printed is caught.
    let terminated = terminated();
    tokio::pin!(terminated);
    let mut lines = stdin_lines();
    let root = producer.advert().diagnostic_root;
    out.event(
        json!({"event": "ready", "producer": args.id, "topic": args.topic,
               "writer_guid": guid_hex(&guid), "domain": args.dds.domain,
               "rate": args.rate, "diagnostic_root": root}),
        || {
            format!(
                "ready: {} publishing `{}` at {} Hz (writer {}, diagnostic root `{root}`)",
                args.id,
                args.topic,
                args.rate,
                guid_hex(&guid)
            )
        },
    );

    let dropped = Arc::new(AtomicU64::new(0));
    let gap = Arc::new(AtomicU64::new(0));
    let samples = tokio::spawn(publish(
        Arc::clone(&producer),
        args.id.clone(),
        plan.period,
        Arc::clone(&dropped),
        Arc::clone(&gap),
    ));

    // A replaced key file rotates the key in place (issue 13): the writer
    // and every route stay. Weak: the clean stop below needs the producer
    // back whole.
    let rotating = Arc::downgrade(&producer);
    let format = args.format;
    args.key.watch(move |key| {
        let producer = rotating.upgrade().ok_or("the producer has stopped")?;
        let public = key.public();
        producer.set_key(Some(key)).map_err(|e| e.to_string())?;
        Out { format }.event(
            json!({"event": "key_rotated", "public": public.to_string()}),
            || format!("key rotated: signing as {public}"),
        );
        Ok(())
    });

    loop {
        tokio::select! {
            line = lines.recv() => match line {
                Some(line) => {
                    if !command(&producer, &line, &out, &gap) {
                        break;
                    }
                }
                // stdin closed or unreadable.
                None => {
                    if args.exit_on_eof {
                        break;
                    }
                    // Keep producing until a signal.
                    (&mut terminated).await;
                    break;
                }
            },
            () = &mut terminated => break,
        }
    }
    samples.abort();
    // The task holds the other reference: gone once it has stopped.
    let _ = samples.await;
    if let Ok(producer) = Arc::try_unwrap(producer) {
        producer.shutdown().await?;
    }
    let dropped = dropped.load(Ordering::Relaxed);
    if dropped > 0 {
        eprintln!("{}: {dropped} sample(s) not admitted by DDS", args.id);
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes one sample per period. A sample DDS cannot admit (a full reliable
/// window) is counted and skipped: the producer never stalls on DDS. With
/// `gap` (milliseconds, set by the `gaps MS` command) above 0 it pauses
/// that long after each sample: samples late against the advertised rate,
/// what a consumer's circuit breaker ejects.
async fn publish(
    producer: Arc<Producer<SyntheticSample>>,
    id: String,
    period: Duration,
    dropped: Arc<AtomicU64>,
    gap: Arc<AtomicU64>,
) {
    let mut interval = tokio::time::interval(period);
    // After a stall the sequence stays dense; the rate dips instead of
    // bursting samples with the same timestamp.
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let period_ns = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX);
    let mut seq = 0u64;
    loop {
        interval.tick().await;
        seq += 1;
        let ts = unix_now_ns();
        let sample = SyntheticSample {
            producer: id.clone(),
            seq,
            source_ts_ns: ts,
            period_ns,
        };
        if producer.publish_stamped(&sample, ts).is_err() {
            dropped.fetch_add(1, Ordering::Relaxed);
        }
        let pause = gap.load(Ordering::Relaxed);
        if pause > 0 {
            tokio::time::sleep(Duration::from_millis(pause)).await;
            interval.reset();
        }
    }
}

/// Prints event lines.
struct Out {
    format: Format,
}

impl Out {
    fn event(&self, value: serde_json::Value, text: impl FnOnce() -> String) {
        match self.format {
            Format::Json => {
                let mut value = value;
                if let Some(map) = value.as_object_mut() {
                    map.insert("t".to_owned(), json!(unix_seconds()));
                }
                println!("{value}");
            }
            Format::Text => println!("{}", text()),
        }
    }
}

/// Runs one stdin command; false to quit. A bad command is reported on
/// stderr and the producer keeps running.
fn command(producer: &Producer<SyntheticSample>, line: &str, out: &Out, gap: &AtomicU64) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    let observe = |path: &str, observation| {
        producer
            .observe(path, observation)
            .map_err(|e| e.to_string())
    };
    let result = match words.as_slice() {
        [] => return true,
        [first, ..] if first.starts_with('#') => return true,
        ["quit"] | ["exit"] => return false,
        ["set", path, state] => State::parse_with_reason(state)
            .map_err(|e| e.to_string())
            .and_then(|(state, reason)| observe(path, Observation::Status { state, reason })),
        ["value", path, x] => x
            .parse::<f64>()
            .map_err(|_| format!("`{x}` is not a number"))
            .and_then(|x| observe(path, Observation::Value(x))),
        ["gaps", ms] => ms
            .parse::<u64>()
            .map_err(|_| format!("`{ms}` is not a whole number of milliseconds"))
            .map(|ms| {
                gap.store(ms, Ordering::Relaxed);
                false
            }),
        ["cap", assignment] => match assignment.split_once('=') {
            Some((key, value)) => producer
                .set_capability(key.trim(), value)
                .map(|()| true)
                .map_err(|e| e.to_string()),
            None => Err(format!("`{assignment}`: expected KEY=VALUE")),
        },
        _ => Err(format!(
            "unknown command `{line}`; expected `set PATH STATE`, `value PATH X`, \
             `cap KEY=VALUE`, `gaps MS` or `quit`"
        )),
    };
    match result {
        Ok(republished) => {
            let advert = producer.advert();
            let state = State::from_ros_level(advert.health.state).map_or("?", |(s, _)| s.as_str());
            out.event(
                json!({"event": "applied", "command": line.trim(), "republished": republished,
                       "sequence": advert.sequence, "state": state}),
                || format!("{}: advert {} is {state}", line.trim(), advert.sequence),
            );
        }
        Err(error) => eprintln!("error: {error}"),
    }
    true
}
