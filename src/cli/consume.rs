//! `vigil consume`: follow a constraint query, receive the synthetic
//! samples of the active producer, and report every switch and what it
//! cost.
//!
//! The loop here is also the demo's consumer ([`follow`]), so the numbers
//! `vigil demo` prints are the ones `vigil consume` measures.

use std::collections::BTreeMap;
use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde::Serialize;
use serde_json::json;
use vigil::{Consumer, Event, Switch, Transport};
use vigil_diag::FlapDamping;
use vigil_discovery::{AdvertKey, ConsumerIdentity, SwitchPolicy, SyntheticSample, SYNTHETIC_TYPE};
use vigil_qos::Query;

use super::dds_args::{init_logging, millis, runtime, seconds, terminated, unix_seconds};
use super::dds_args::{DdsArgs, Format};
use super::metrics_args::MetricsArgs;
use super::record_args::{self, RecordArgs};
use super::trust_args::{report_refusals, TrustArgs};
use super::InputError;

mod breaker_args;
mod modes;

/// Follow the best producer for a constraint query and print one JSON line
/// per selection change and one per second with samples received per
/// producer and gaps seen.
#[derive(Debug, Args)]
pub(crate) struct ConsumeArgs {
    #[command(flatten)]
    dds: DdsArgs,
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    record: RecordArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
    #[command(flatten)]
    trust: TrustArgs,
    /// The constraint query, e.g.
    /// `imu WHERE health.state = OK PREFER accuracy ASC`.
    #[arg(long)]
    query: String,
    /// A query for one mode, MODE=QUERY (repeatable): while the mode
    /// published on `vigil_mode` (by `vigil recover`) is MODE, the consumer
    /// follows QUERY; in any other mode, `--query`.
    #[arg(long = "query-in", value_name = "MODE=QUERY")]
    query_in: Vec<String>,
    /// The consumer's id on the domain, under which its route (query,
    /// active producer, every switch and its cause) is published for
    /// monitors (default: `<host>:<pid>`).
    #[arg(long)]
    id: Option<String>,
    /// Keep the standby producer's samples and replay the ones the failed
    /// producer did not cover: no sample lost across a failover.
    #[arg(long)]
    hot_standby: bool,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long, value_parser = seconds)]
    duration: Option<Duration>,
    /// How long to collect adverts before the first selection, in
    /// milliseconds, so the consumer starts on the best producer rather
    /// than the first one heard.
    #[arg(long = "settle-ms", default_value = "500", value_parser = millis)]
    settle: Duration,
    /// How often to print the sample counts, in milliseconds.
    #[arg(long = "stats-ms", default_value = "1000", value_parser = millis)]
    stats_every: Duration,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// The switching policy flags.
#[derive(Clone, Debug, Args)]
pub(crate) struct PolicyArgs {
    /// How long a merely DEGRADED active producer is kept before switching,
    /// in milliseconds.
    #[arg(long = "hold-off-ms", default_value = "200", value_parser = millis)]
    pub(crate) hold_off: Duration,
    /// How long a recovered better producer must stay good before the
    /// consumer returns to it, in milliseconds.
    #[arg(long = "wait-to-restore-ms", default_value = "1000", value_parser = millis)]
    pub(crate) wait_to_restore: Duration,
    /// Never return to a recovered producer on its own.
    #[arg(long)]
    pub(crate) non_revertive: bool,
    /// How much better (relative, 0.1 = 10 %) a challenger's first PREFER
    /// value must be.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) margin: f64,
    #[command(flatten)]
    pub(crate) breaker: breaker_args::BreakerArgs,
    /// Predictive switching: leave a producer whose health is degrading
    /// (got worse within the trend window) at once for a healthier one,
    /// without waiting out the hold-off.
    #[arg(long)]
    pub(crate) predictive: bool,
}

impl PolicyArgs {
    pub(crate) fn policy(&self) -> Result<SwitchPolicy, InputError> {
        if !(self.margin.is_finite() && self.margin >= 0.0) {
            return Err(InputError(format!(
                "--margin {} must be a non-negative number",
                self.margin
            )));
        }
        Ok(SwitchPolicy {
            hold_off: self.hold_off,
            wait_to_restore: self.wait_to_restore,
            revertive: !self.non_revertive,
            margin: self.margin,
            flap: FlapDamping::default(),
            breaker: self.breaker.policy()?,
            predictive: self.predictive,
        })
    }
}

pub(crate) fn run(args: ConsumeArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let query = Query::parse(&args.query).map_err(|e| InputError(format!("--query: {e}")))?;
    let per_mode = modes::parse(&args.query_in)?;
    let policy = args.policy.policy()?;
    if let Some(id) = &args.id {
        ConsumerIdentity::new(Some(id.clone()), "", 0)
            .validate()
            .map_err(|e| InputError(format!("--id {id:?}: {e}")))?;
    }
    let config = args.dds.config()?;
    let recorder = args.record.start()?;
    let observers = args.metrics.start(recorder.clone())?;
    let trust = args.trust.load()?;
    runtime()?.block_on(async move {
        let transport = Transport::dds(config).context("joining DDS")?;
        let start = |query: &Query| {
            let mut builder = Consumer::<SyntheticSample>::builder(query.to_string())
                .type_name(SYNTHETIC_TYPE)
                .policy(policy.clone())
                .hot_standby(args.hot_standby)
                .settle(args.settle)
                .sample_period(synthetic_period);
            if let Some(id) = &args.id {
                builder = builder.id(id.clone());
            }
            if let Some(observer) = &observers.recorder {
                builder = builder.recorder(observer.clone());
            }
            if let Some(trust) = &trust {
                builder = builder.trust(trust.clone());
            }
            let consumer = builder.start(&transport)?;
            // Each consumer (a mode change starts a new one) has its own
            // registry: its policy is reloaded and its refusals reported
            // until it is dropped.
            if let Some(selector) = consumer.selector() {
                args.trust.watch(selector.registry().policy_slot());
                report_refusals(selector.registry().refusal_feed(), args.format);
                if policy.breaker.is_some() {
                    breaker_args::report_breakers(selector.breaker_events(), args.format);
                }
            }
            Ok(consumer)
        };
        let mut consumer = start(&query)?;
        // Installed now, before the first line is printed.
        let terminated = terminated();
        let stop = async {
            match args.duration {
                Some(d) => {
                    tokio::select! {
                        () = tokio::time::sleep(d) => {}
                        () = terminated => {}
                    }
                }
                None => terminated.await,
            }
        };
        let format = args.format;
        let metrics = observers.metrics.clone();
        let mut lost_before = 0;
        let sink = |event| {
            if let Some(metrics) = &metrics {
                match &event {
                    ConsumerEvent::FirstSample {
                        after_switch_ms: Some(ms),
                        ..
                    } => metrics.observe_reroute(Duration::from_secs_f64(ms.max(0.0) / 1e3)),
                    ConsumerEvent::Stats { samples, lost, .. } => {
                        metrics
                            .add_samples(samples.values().sum(), lost.saturating_sub(lost_before));
                        lost_before = *lost;
                    }
                    _ => {}
                }
            }
            print_event(format, &event)
        };
        let summary = if per_mode.is_empty() {
            follow(&mut consumer, args.stats_every, stop, sink).await
        } else {
            let plan = modes::Plan {
                plain: query.clone(),
                per_mode,
                format,
            };
            let mut modes = modes::watch(&transport)?;
            plan.follow(
                &mut consumer,
                &mut modes,
                start,
                args.stats_every,
                stop,
                sink,
            )
            .await?
        };
        match format {
            Format::Json => println!(
                "{}",
                json!({"t": unix_seconds(), "event": "summary", "summary": summary})
            ),
            Format::Text => println!(
                "summary: {} switch(es), {} sample(s) lost, {} flap(s) suppressed",
                summary.switches, summary.samples_lost, summary.flaps_suppressed
            ),
        }
        consumer.shutdown().await;
        record_args::finish(recorder);
        Ok(ExitCode::SUCCESS)
    })
}

/// What the consumer loop reports.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum ConsumerEvent {
    /// The active producer changed.
    Selected {
        /// Unix seconds.
        t: f64,
        /// The producer left.
        previous: Option<String>,
        /// The producer followed now (`None`: nothing qualifies).
        producer: Option<String>,
        /// Its topic.
        topic: Option<String>,
        /// The fallback chain, best first.
        chain: Vec<String>,
        /// The standby (hot standby keeps its samples).
        standby: Option<String>,
        /// Why.
        cause: String,
    },
    /// The first sample delivered from a producer after a switch.
    FirstSample {
        /// Unix seconds.
        t: f64,
        /// From whom.
        producer: String,
        /// Since the switch was decided, in milliseconds.
        after_switch_ms: Option<f64>,
        /// Samples the switch skipped: the time between the last sample of
        /// the previous producer and this one, in sample periods, minus one.
        lost: u64,
        /// It was replayed from a hot-standby buffer that covered the whole
        /// switch (`lost` is then exactly 0).
        replayed: bool,
    },
    /// Counts since the last `stats` line.
    Stats {
        /// Unix seconds.
        t: f64,
        /// Samples received per producer.
        samples: BTreeMap<String, u64>,
        /// Samples missing from each producer's sequence.
        gaps: BTreeMap<String, u64>,
        /// Samples lost since the start (switches and gaps).
        lost: u64,
        /// The producer followed.
        active: Option<String>,
        /// Inputs the registry rejected since the start (malformed
        /// included).
        rejected: u64,
        /// Samples on the vigil topics that did not deserialize.
        malformed: u64,
        /// Switches since the start.
        switches: u64,
        /// Flapping producers passed over since the start.
        flaps_suppressed: u64,
    },
}

/// Totals of a run.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub(crate) struct Summary {
    pub(crate) switches: u64,
    pub(crate) samples_lost: u64,
    pub(crate) flaps_suppressed: u64,
    pub(crate) samples: u64,
    pub(crate) replayed: u64,
    pub(crate) rejected: u64,
}

/// The period a synthetic sample carries: a switch's losses are counted
/// in it exactly, even right after the first sample.
pub(crate) fn synthetic_period(sample: &SyntheticSample) -> Option<Duration> {
    (sample.period_ns > 0).then(|| Duration::from_nanos(sample.period_ns))
}

/// Receives until `stop`, reporting every event to `sink`. Returns the
/// totals.
pub(crate) async fn follow(
    consumer: &mut Consumer<SyntheticSample>,
    stats_every: Duration,
    stop: impl Future<Output = ()>,
    mut sink: impl FnMut(ConsumerEvent),
) -> Summary {
    let mut ticker = tokio::time::interval(stats_every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    tokio::pin!(stop);
    let mut tally = Tally::default();
    loop {
        tokio::select! {
            // A stop or a stats line is never starved by a fast stream.
            biased;
            () = &mut stop => break,
            _ = ticker.tick() => sink(tally.stats(consumer)),
            event = consumer.next() => match event {
                Some(Event::Switched(switch)) => sink(selected(&switch)),
                Some(Event::Resumed(cost)) => sink(tally.resumed(
                    &cost.producer,
                    cost.after,
                    cost.lost,
                    cost.gapless,
                )),
                Some(Event::Sample(sample)) => tally.sample(&sample.value),
                Some(_) => {}
                None => break,
            },
        }
    }
    let stats = consumer.stats();
    Summary {
        switches: stats.switches,
        samples_lost: tally.lost,
        flaps_suppressed: stats.flaps_suppressed,
        samples: tally.total,
        replayed: stats.replayed,
        rejected: stats.rejected,
    }
}

fn selected(switch: &Switch) -> ConsumerEvent {
    let name = |k: &Option<AdvertKey>| k.as_ref().map(|k| k.producer.clone());
    ConsumerEvent::Selected {
        t: unix_seconds(),
        previous: name(&switch.previous),
        producer: name(&switch.active),
        topic: switch.active.as_ref().map(|k| k.topic.clone()),
        chain: switch.chain.iter().map(|k| k.producer.clone()).collect(),
        standby: name(&switch.standby),
        cause: switch.cause.to_string(),
    }
}

/// Running counts of the consumer loop: per producer, and the sequence
/// gaps the synthetic samples reveal beside what switches cost.
#[derive(Default)]
struct Tally {
    samples: BTreeMap<String, u64>,
    gaps: BTreeMap<String, u64>,
    /// Last sequence number delivered per producer, while it stays active.
    last_seq: BTreeMap<String, u64>,
    lost: u64,
    total: u64,
}

impl Tally {
    /// A switch's first sample: what it cost, as the facade measured it.
    fn resumed(
        &mut self,
        producer: &str,
        after: Option<Duration>,
        lost: u64,
        gapless: bool,
    ) -> ConsumerEvent {
        self.lost += lost;
        // Its sequence restarts being tracked from here.
        self.last_seq.remove(producer);
        ConsumerEvent::FirstSample {
            t: unix_seconds(),
            producer: producer.to_owned(),
            after_switch_ms: after.map(|d| d.as_secs_f64() * 1000.0),
            lost,
            replayed: gapless,
        }
    }

    /// Counts one delivered sample and the sequence numbers it skipped.
    fn sample(&mut self, s: &SyntheticSample) {
        self.total += 1;
        *self.samples.entry(s.producer.clone()).or_default() += 1;
        if let Some(last) = self.last_seq.get(&s.producer) {
            if s.seq > last + 1 {
                let missing = s.seq - last - 1;
                *self.gaps.entry(s.producer.clone()).or_default() += missing;
                self.lost += missing;
            }
        }
        if self
            .last_seq
            .get(&s.producer)
            .is_none_or(|last| s.seq > *last)
        {
            self.last_seq.insert(s.producer.clone(), s.seq);
        }
    }

    fn stats(&mut self, consumer: &Consumer<SyntheticSample>) -> ConsumerEvent {
        let stats = consumer.stats();
        ConsumerEvent::Stats {
            t: unix_seconds(),
            samples: std::mem::take(&mut self.samples),
            gaps: std::mem::take(&mut self.gaps),
            lost: self.lost,
            active: consumer.active().map(|k| k.producer),
            rejected: stats.rejected,
            malformed: stats.malformed,
            switches: stats.switches,
            flaps_suppressed: stats.flaps_suppressed,
        }
    }
}

fn print_event(format: Format, event: &ConsumerEvent) {
    match format {
        Format::Json => match serde_json::to_string(event) {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!("error: cannot print an event: {e}"),
        },
        Format::Text => match event {
            ConsumerEvent::Selected {
                previous,
                producer,
                chain,
                cause,
                ..
            } => println!(
                "selected {} (was {}): {cause}; chain [{}]",
                producer.as_deref().unwrap_or("(none)"),
                previous.as_deref().unwrap_or("(none)"),
                chain.join(", ")
            ),
            ConsumerEvent::FirstSample {
                producer,
                after_switch_ms,
                lost,
                replayed,
                ..
            } => println!(
                "first sample from {producer}{}: {lost} lost{}",
                after_switch_ms.map_or(String::new(), |ms| format!(" {ms:.1} ms after the switch")),
                if *replayed {
                    " (replayed from hot standby)"
                } else {
                    ""
                }
            ),
            ConsumerEvent::Stats {
                samples,
                gaps,
                lost,
                rejected,
                ..
            } => {
                let per: Vec<String> = samples.iter().map(|(p, n)| format!("{p}={n}")).collect();
                let gaps: u64 = gaps.values().sum();
                println!(
                    "samples [{}], gaps {gaps}, lost {lost} total, {rejected} rejected",
                    per.join(" ")
                );
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(producer: &str, seq: u64) -> SyntheticSample {
        SyntheticSample {
            producer: producer.to_owned(),
            seq,
            source_ts_ns: seq * 1_000_000,
            period_ns: 1_000_000,
        }
    }

    #[test]
    fn counts_sequence_gaps_beside_switch_losses() {
        let mut t = Tally::default();
        t.sample(&s("a", 1));
        t.sample(&s("a", 2));
        t.sample(&s("a", 5));
        assert_eq!(t.lost, 2);
        assert_eq!(t.gaps["a"], 2);
        // A switch's loss is the facade's figure; a's sequence restarts
        // being tracked when a comes back.
        t.resumed("a", None, 7, false);
        t.sample(&s("a", 100));
        assert_eq!(t.lost, 9);
    }
}
