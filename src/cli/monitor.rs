//! `vigil monitor`: the live registry and every consumer's route, printed
//! periodically.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use vigil_diag::State;
use vigil_discovery::clock::now;
use vigil_discovery::{
    AdvertKey, ConsumerRoute, EntryView, RouteBoard, Selector, SelectorConfig, VigilParticipant,
};

use super::dds_args::{guid_hex, init_logging, millis, runtime, seconds, terminated, unix_seconds};
use super::dds_args::{DdsArgs, Format};
use super::live::LiveArgs;
use super::metrics_args::MetricsArgs;
use super::record_args::{self, RecordArgs};
use super::trust_args::TrustArgs;

/// Show every advert on the domain (topic, capabilities, health
/// state/confidence and age) and every consumer's route (its query, the
/// producer it follows and its last switch with the cause).
#[derive(Debug, Args)]
pub(crate) struct MonitorArgs {
    #[command(flatten)]
    dds: DdsArgs,
    #[command(flatten)]
    record: RecordArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
    #[command(flatten)]
    trust: TrustArgs,
    #[command(flatten)]
    live: LiveArgs,
    /// Print one snapshot after `--settle-ms` and exit.
    #[arg(long)]
    once: bool,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long, value_parser = seconds)]
    duration: Option<Duration>,
    /// How often to print a snapshot, in milliseconds.
    #[arg(long = "interval-ms", default_value = "1000", value_parser = millis)]
    interval: Duration,
    /// With `--once`: how long to listen before the snapshot, in
    /// milliseconds (discovery takes a few hundred).
    #[arg(long = "settle-ms", default_value = "1500", value_parser = millis)]
    settle: Duration,
    /// Output format: JSON prints one object per snapshot, on one line.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub(crate) fn run(args: MonitorArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let config = args.dds.config()?;
    let trust = args.trust.load()?;
    runtime()?.block_on(async move {
        let participant = VigilParticipant::new(config).context("joining DDS")?;
        let recorder = args.record.start()?;
        let observers = args.metrics.start(recorder.clone())?;
        let live = args.live.start(observers.recorder.clone())?;
        let core_recorder = match &live {
            Some(live) => Some(live.recorder()),
            None => observers.recorder.clone(),
        };
        let selector = Selector::registry_only(
            &participant,
            SelectorConfig::default()
                .with_recorder(core_recorder)
                .with_trust(trust),
        )?;
        args.trust.watch(selector.registry().policy_slot());
        let routes = RouteBoard::start(&participant)?;
        let watched = Watched {
            selector: &selector,
            routes: &routes,
        };
        if args.once {
            tokio::select! {
                () = tokio::time::sleep(args.settle) => {}
                () = terminated() => {}
            }
            print_snapshot(&watched, args.format);
            routes.shutdown().await;
            selector.shutdown().await;
            record_args::finish(recorder);
            return Ok(ExitCode::SUCCESS);
        }
        let stop = async {
            match args.duration {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(stop);
        let terminated = terminated();
        tokio::pin!(terminated);
        let mut ticker = tokio::time::interval(args.interval);
        // The first snapshot after one interval: discovery needs the time.
        ticker.tick().await;
        {
            // Scoped: the view borrows the selector, which shuts down below.
            let live_view = async {
                match &live {
                    Some(live) => live.run(&selector, &routes).await,
                    None => std::future::pending().await,
                }
            };
            tokio::pin!(live_view);
            loop {
                tokio::select! {
                    _ = ticker.tick() => print_snapshot(&watched, args.format),
                    () = &mut live_view => {}
                    () = &mut stop => break,
                    () = &mut terminated => break,
                }
            }
        }
        drop(live);
        routes.shutdown().await;
        selector.shutdown().await;
        record_args::finish(recorder);
        Ok(ExitCode::SUCCESS)
    })
}

/// What a snapshot shows: the registry and the consumers' routes.
struct Watched<'a> {
    selector: &'a Selector,
    routes: &'a RouteBoard,
}

fn print_snapshot(watched: &Watched<'_>, format: Format) {
    let entries = watched.selector.registry().snapshot();
    let stats = watched.selector.stats();
    let routes = watched.routes.routes();
    let at = now();
    match format {
        Format::Json => {
            let adverts: Vec<serde_json::Value> =
                entries.iter().map(|e| entry_json(e, at)).collect();
            let consumers: Vec<serde_json::Value> = routes.iter().map(route_json).collect();
            let line = json!({
                "t": unix_seconds(),
                "adverts": adverts,
                "consumers": consumers,
                "stats": {
                    "adverts": stats.registry.adverts,
                    "reachable": stats.registry.reachable,
                    "rejected": stats.registry.rejected,
                    "malformed": stats.malformed,
                    "heartbeats": stats.registry.heartbeats,
                    "stale": stats.registry.stale,
                    "refused": stats.registry.refused,
                    "warned": stats.registry.warned,
                    "routes_rejected": watched.routes.rejected(),
                },
            });
            println!("{line}");
        }
        Format::Text => {
            println!(
                "{} advert(s), {} reachable, {} rejected, {} refused",
                stats.registry.adverts,
                stats.registry.reachable,
                stats.registry.rejected,
                stats.registry.refused.total()
            );
            for e in &entries {
                let h = &e.health;
                let mut reason = h.reason.map_or(String::new(), |r| format!(" ({r})"));
                if let Some(why) = &e.failed_on_behalf {
                    reason.push_str(&format!(" (supervisor: {why})"));
                }
                if let Some(overrides) = &e.overrides {
                    reason.push_str(&format!(" (mode overrides {overrides})"));
                }
                let caps: Vec<String> = e
                    .advert
                    .capabilities
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                println!(
                    "  {:<16} {:<12} {:<9}{reason} conf {:.2}  age {:>6.0} ms  [{}]",
                    e.advert.key.producer,
                    e.advert.key.topic,
                    h.state.as_str(),
                    h.confidence,
                    age_ms(e, at),
                    caps.join(", ")
                );
            }
            println!("{} consumer(s)", routes.len());
            for r in &routes {
                println!("  {}", route_text(r));
            }
        }
    }
}

fn key_text(key: Option<&AdvertKey>) -> String {
    key.map_or_else(|| "(none)".to_owned(), ToString::to_string)
}

/// `nav (rover:42) -> imu_b/imu, chain [...]; switch 2 from imu_a/imu: why`.
fn route_text(r: &ConsumerRoute) -> String {
    let chain: Vec<String> = r.chain.iter().map(ToString::to_string).collect();
    let last = r.last_switch.as_ref().map_or(String::new(), |s| {
        format!(
            "; switch {} from {}: {}",
            r.switches,
            key_text(s.previous.as_ref()),
            s.explanation
        )
    });
    format!(
        "{} ({}:{}) -> {}, chain [{}]{last}  query: {}",
        r.identity.id,
        r.identity.host,
        r.identity.pid,
        key_text(r.active.as_ref()),
        chain.join(", "),
        r.query
    )
}

pub(crate) fn route_json(r: &ConsumerRoute) -> serde_json::Value {
    let key = |k: Option<&AdvertKey>| k.map(|k| json!({"producer": k.producer, "topic": k.topic}));
    json!({
        "id": r.identity.id,
        "host": r.identity.host,
        "pid": r.identity.pid,
        "query": r.query,
        "active": key(r.active.as_ref()),
        "standby": key(r.standby.as_ref()),
        "chain": r.chain.iter().map(|k| key(Some(k))).collect::<Vec<_>>(),
        "chain_len": r.chain_len,
        "switches": r.switches,
        "last_switch": r.last_switch.as_ref().map(|s| json!({
            "previous": key(s.previous.as_ref()),
            "cause": s.cause,
            "explanation": s.explanation,
            "t": s.at_ns as f64 / 1e9,
        })),
        "t": r.timestamp_ns as f64 / 1e9,
    })
}

fn age_ms(entry: &EntryView, at: vigil_diag::Timestamp) -> f64 {
    at.saturating_since(entry.last_heard).as_secs_f64() * 1000.0
}

pub(crate) fn entry_json(e: &EntryView, at: vigil_diag::Timestamp) -> serde_json::Value {
    let a = &e.advert;
    let capabilities: serde_json::Map<String, serde_json::Value> = a
        .capabilities
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_string())))
        .collect();
    let nodes: serde_json::Map<String, serde_json::Value> = a
        .health
        .nodes
        .iter()
        .map(|(p, s): (&vigil_diag::Path, &State)| (p.to_string(), json!(s.as_str())))
        .collect();
    json!({
        "producer": a.key.producer,
        "topic": a.key.topic,
        "type_name": a.type_name,
        "writer_guid": guid_hex(&a.writer_guid),
        "capabilities": capabilities,
        "state": e.health.state.as_str(),
        "reason": e.health.reason.map(|r| r.as_str()),
        "confidence": e.health.confidence,
        "trend": e.health.trend.as_str(),
        "reachable": e.reachable,
        "age_ms": age_ms(e, at),
        "sequence": a.sequence,
        "diagnostic_root": a.diagnostic_root.as_ref().map(|p| p.to_string()),
        "nodes": nodes,
        // Why its supervisor said it FAILED, until its next own advert.
        "failed_on_behalf": e.failed_on_behalf.as_deref(),
        // The capabilities a mode overrides (matching reads these first).
        "overrides": e.overrides.as_deref().map(|o| o
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v.to_string())))
            .collect::<serde_json::Map<String, serde_json::Value>>()),
    })
}
