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
use tokio::sync::broadcast::error::RecvError;
use vigil_diag::FlapDamping;
use vigil_discovery::{
    now, SelectionEvent, Selector, SelectorConfig, Subscription, SubscriptionConfig, SwitchPolicy,
    SyntheticSample, VigilParticipant, SYNTHETIC_TYPE,
};
use vigil_qos::Query;

use super::dds_args::{init_logging, millis, runtime, seconds, terminated, unix_seconds};
use super::dds_args::{DdsArgs, Format};
use super::InputError;

/// Follow the best producer for a constraint query and print one JSON line
/// per selection change and one per second with samples received per
/// producer and gaps seen.
#[derive(Debug, Args)]
pub(crate) struct ConsumeArgs {
    #[command(flatten)]
    dds: DdsArgs,
    #[command(flatten)]
    policy: PolicyArgs,
    /// The constraint query, e.g.
    /// `imu WHERE health.state = OK PREFER accuracy ASC`.
    #[arg(long)]
    query: String,
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
        })
    }
}

pub(crate) fn run(args: ConsumeArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let query = Query::parse(&args.query).map_err(|e| InputError(format!("--query: {e}")))?;
    let policy = args.policy.policy()?;
    let config = args.dds.config()?;
    runtime()?.block_on(async move {
        let participant = VigilParticipant::new(config).context("joining DDS")?;
        let selector = Selector::start(
            &participant,
            &query,
            SelectorConfig::default()
                .with_policy(policy)
                .with_settle(args.settle),
        )?;
        let mut subscription = selector.subscribe::<SyntheticSample>(
            SYNTHETIC_TYPE,
            SubscriptionConfig::default().with_hot_standby(args.hot_standby),
        )?;
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
        let summary = follow(
            &selector,
            &mut subscription,
            args.stats_every,
            stop,
            |event| print_event(format, &event),
        )
        .await;
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
        selector.shutdown().await;
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
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Summary {
    pub(crate) switches: u64,
    pub(crate) samples_lost: u64,
    pub(crate) flaps_suppressed: u64,
    pub(crate) samples: u64,
    pub(crate) replayed: u64,
    pub(crate) rejected: u64,
}

/// Receives until `stop`, reporting every event to `sink`. Returns the
/// totals.
pub(crate) async fn follow(
    selector: &Selector,
    subscription: &mut Subscription<SyntheticSample>,
    stats_every: Duration,
    stop: impl Future<Output = ()>,
    mut sink: impl FnMut(ConsumerEvent),
) -> Summary {
    let mut events = selector.events();
    let mut ticker = tokio::time::interval(stats_every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    tokio::pin!(stop);
    let mut tally = Tally::default();
    loop {
        tokio::select! {
            // Events first: the selector moves the route before it sends
            // the event, so the new producer's first sample may already be
            // waiting; it must be counted after the switch it follows.
            biased;
            event = events.recv() => match event {
                Ok(event) => sink(selected(&mut tally, &event)),
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "selection events missed (consumer too slow)");
                }
                Err(RecvError::Closed) => break,
            },
            delivered = subscription.recv() => match delivered {
                Some(d) => {
                    if tally.is_switch(&d.value) {
                        // The selector moves the route just before it sends
                        // the event, so the event of this switch may be a
                        // few microseconds behind its first sample: wait for
                        // it, so the switch is always reported first.
                        report_switch(&mut events, &d.value.producer, &mut tally, &mut sink).await;
                    }
                    if let Some(first) = tally.sample(&d.value, d.replayed && d.gapless) {
                        sink(first);
                    }
                }
                None => break,
            },
            _ = ticker.tick() => sink(tally.stats(selector)),
            () = &mut stop => break,
        }
    }
    let stats = selector.stats();
    Summary {
        switches: stats.selection.switches,
        samples_lost: tally.lost,
        flaps_suppressed: stats.selection.flaps_suppressed,
        samples: tally.total,
        replayed: subscription.stats().replayed,
        rejected: stats.registry.rejected,
    }
}

/// How long a first sample waits for the selection event of its switch.
/// The selector sends the event right after moving the route, so this only
/// bounds the wait should the event have been lost to a lagging channel.
const SWITCH_EVENT_GRACE: Duration = Duration::from_millis(200);

/// Reports every queued selection event, waiting (at most
/// [`SWITCH_EVENT_GRACE`]) for the one that made `producer` active.
async fn report_switch(
    events: &mut tokio::sync::broadcast::Receiver<SelectionEvent>,
    producer: &str,
    tally: &mut Tally,
    sink: &mut impl FnMut(ConsumerEvent),
) {
    if tally.announced.as_deref() == Some(producer) {
        // The main loop already reported the event of this switch.
        return;
    }
    let deadline = tokio::time::Instant::now() + SWITCH_EVENT_GRACE;
    loop {
        let event = match events.try_recv() {
            Ok(event) => event,
            Err(_) => match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Ok(event)) => event,
                _ => return,
            },
        };
        sink(selected(tally, &event));
        let made_active = event
            .active
            .as_ref()
            .is_some_and(|a| a.key.producer == producer);
        if made_active {
            // Later events (if any) are drained by the main loop.
            return;
        }
    }
}

fn selected(tally: &mut Tally, event: &SelectionEvent) -> ConsumerEvent {
    tally.switched_at = Some(event.at);
    tally.announced = event.active.as_ref().map(|a| a.key.producer.clone());
    ConsumerEvent::Selected {
        t: unix_seconds(),
        previous: event.previous.as_ref().map(|k| k.producer.clone()),
        producer: event.active.as_ref().map(|a| a.key.producer.clone()),
        topic: event.active.as_ref().map(|a| a.key.topic.clone()),
        chain: event.chain.iter().map(|k| k.producer.clone()).collect(),
        standby: event.standby.as_ref().map(|a| a.key.producer.clone()),
        cause: event.cause.to_string(),
    }
}

/// Running counts of the consumer loop.
#[derive(Default)]
struct Tally {
    samples: BTreeMap<String, u64>,
    gaps: BTreeMap<String, u64>,
    /// Last sequence number delivered per producer, while it stays active.
    last_seq: BTreeMap<String, u64>,
    /// The last delivered sample: producer and source timestamp.
    last: Option<(String, u64)>,
    switched_at: Option<vigil_diag::Timestamp>,
    /// The producer the last reported selection event made active.
    announced: Option<String>,
    lost: u64,
    total: u64,
}

impl Tally {
    /// Whether `s` comes from another producer than the last sample.
    fn is_switch(&self, s: &SyntheticSample) -> bool {
        self.last.as_ref().is_none_or(|(p, _)| *p != s.producer)
    }

    /// Counts one delivered sample; returns a `first_sample` event when it
    /// is the first of a producer after another one. `gapless`: it was
    /// replayed by a hot standby whose buffer covered the whole switch.
    fn sample(&mut self, s: &SyntheticSample, gapless: bool) -> Option<ConsumerEvent> {
        self.total += 1;
        *self.samples.entry(s.producer.clone()).or_default() += 1;
        let mut first = None;
        match &self.last {
            Some((producer, last_ts)) if *producer != s.producer => {
                // A switch: what the time between the two producers' samples
                // did not cover, in the new producer's periods. Exact when
                // the hot standby says so; otherwise an estimate (its
                // rounding absorbs phase, not scheduling jitter).
                let gap = s.source_ts_ns.saturating_sub(*last_ts);
                let lost = if gapless || s.period_ns == 0 {
                    0
                } else {
                    let periods = (gap as f64 / s.period_ns as f64).round() as u64;
                    periods.saturating_sub(1)
                };
                self.lost += lost;
                // Its sequence restarts being tracked from here.
                self.last_seq.remove(&s.producer);
                let after_switch_ms = self
                    .switched_at
                    .map(|at| now().saturating_since(at).as_secs_f64() * 1000.0);
                first = Some(ConsumerEvent::FirstSample {
                    t: unix_seconds(),
                    producer: s.producer.clone(),
                    after_switch_ms,
                    lost,
                    replayed: gapless,
                });
            }
            None => {
                first = Some(ConsumerEvent::FirstSample {
                    t: unix_seconds(),
                    producer: s.producer.clone(),
                    after_switch_ms: None,
                    lost: 0,
                    replayed: gapless,
                });
            }
            _ => {}
        }
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
        self.last = Some((s.producer.clone(), s.source_ts_ns));
        first
    }

    fn stats(&mut self, selector: &Selector) -> ConsumerEvent {
        let stats = selector.stats();
        ConsumerEvent::Stats {
            t: unix_seconds(),
            samples: std::mem::take(&mut self.samples),
            gaps: std::mem::take(&mut self.gaps),
            lost: self.lost,
            active: selector.active().map(|a| a.key.producer),
            rejected: stats.registry.rejected,
            malformed: stats.malformed,
            switches: stats.selection.switches,
            flaps_suppressed: stats.selection.flaps_suppressed,
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

    fn s(producer: &str, seq: u64, ts_ms: u64) -> SyntheticSample {
        SyntheticSample {
            producer: producer.to_owned(),
            seq,
            source_ts_ns: ts_ms * 1_000_000,
            period_ns: 1_000_000,
        }
    }

    #[test]
    fn counts_sequence_gaps_and_switch_losses() {
        let mut t = Tally::default();
        assert!(t.sample(&s("a", 1, 1), false).is_some());
        assert!(t.sample(&s("a", 2, 2), false).is_none());
        t.sample(&s("a", 5, 5), false);
        assert_eq!(t.lost, 2);
        // b's first sample 100 ms after a's last: 99 periods uncovered.
        match t.sample(&s("b", 900, 105), false) {
            Some(ConsumerEvent::FirstSample { lost, .. }) => assert_eq!(lost, 99),
            other => panic!("{other:?}"),
        }
        assert_eq!(t.lost, 101);
        // Back-to-back replay after a switch: nothing lost.
        match t.sample(&s("a", 200, 106), true) {
            Some(ConsumerEvent::FirstSample { lost, .. }) => assert_eq!(lost, 0),
            other => panic!("{other:?}"),
        }
    }
}
