//! `vigil tree explain --domain N --path P`: why a live producer (or a
//! node of an advertised tree) is in the state it is, from what the domain
//! says now.
//!
//! An advert carries the states of its tree's nodes, not their checks, so
//! the live explanation is the explained node's state, the non-OK nodes
//! under it (the deepest of them are the causes), what a supervisor said
//! on the producer's behalf ("child imu_a exited with signal 9, 3 restarts
//! in 10s") and the non-OK leaves of that supervisor's own tree
//! (`vigil_supervision`, advertised from the same participant that speaks
//! for the producer). For the checks themselves, explain the tree file
//! with its events.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde_json::{json, Value};
use vigil_diag::{Path, State};
use vigil_discovery::{DdsConfig, EntryView, Selector, SelectorConfig, VigilParticipant};

use super::Format;
use crate::cli::dds_args::runtime;
use crate::cli::supervise::SUPERVISION_TOPIC;
use crate::cli::InputError;

/// Joins `domain`, listens for `settle`, explains `path`.
pub(super) fn explain(
    domain: u16,
    settle: Duration,
    path: &Path,
    format: Format,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let config = DdsConfig::new(domain);
    config.validate().map_err(|e| InputError(e.to_string()))?;
    let entries = runtime()?.block_on(async move {
        let participant = VigilParticipant::new(config).context("joining DDS")?;
        let selector = Selector::registry_only(&participant, SelectorConfig::default())?;
        tokio::time::sleep(settle).await;
        let entries = selector.registry().snapshot();
        selector.shutdown().await;
        anyhow::Ok(entries)
    })?;
    let matches: Vec<Value> = entries
        .iter()
        .filter(|e| explains(e, path))
        .map(|e| explanation(e, path, &entries))
        .collect();
    if matches.is_empty() {
        return Err(InputError(format!(
            "no producer and no advertised tree node `{path}` on domain {domain} (listened {settle:?})"
        ))
        .into());
    }
    match format {
        Format::Json => {
            serde_json::to_writer(
                &mut *out,
                &json!({"path": path.to_string(), "domain": domain, "matches": matches}),
            )?;
            writeln!(out)?;
        }
        Format::Text => {
            for m in &matches {
                text(out, m)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The entry is the producer named `path`, or its tree has node `path`.
fn explains(entry: &EntryView, path: &Path) -> bool {
    entry.advert.key.producer == path.as_ref() || entry.advert.health.nodes.contains_key(path)
}

/// Nodes under `root` (itself included) that are not OK, by path.
fn not_ok_under(entry: &EntryView, root: Option<&Path>) -> Vec<Value> {
    entry
        .advert
        .health
        .nodes
        .iter()
        .filter(|(p, s)| **s != State::Ok && root.is_none_or(|r| r.is_ancestor_of(p)))
        .map(|(p, s)| json!({"path": p.to_string(), "state": s.as_str()}))
        .collect()
}

fn explanation(entry: &EntryView, path: &Path, all: &[EntryView]) -> Value {
    let advert = &entry.advert;
    let node = advert.health.nodes.get(path);
    // The producer itself: everything under its diagnostic root.
    let root = if node.is_some() {
        Some(path)
    } else {
        advert.diagnostic_root.as_ref()
    };
    let supervision = advert.supervisor.and_then(|prefix| {
        all.iter().find(|e| {
            e.advert.key.topic == SUPERVISION_TOPIC && e.advert.writer_guid[..12] == prefix
        })
    });
    json!({
        "producer": advert.key.producer,
        "topic": advert.key.topic,
        "state": entry.health.state.as_str(),
        "reason": entry.health.reason.map(|r| r.as_str()),
        "confidence": entry.health.confidence,
        "trend": entry.health.trend.as_str(),
        "reachable": entry.reachable,
        "node": node.map(|s| json!({"path": path.to_string(), "state": s.as_str()})),
        "not_ok": not_ok_under(entry, root),
        "failed_on_behalf": entry.failed_on_behalf.as_deref(),
        "supervisor": supervision.map(|s| json!({
            "name": s.advert.key.producer,
            "state": s.health.state.as_str(),
            "not_ok": not_ok_under(s, None),
        })),
    })
}

fn text(out: &mut impl Write, m: &Value) -> std::io::Result<()> {
    let str_of = |v: &Value| v.as_str().unwrap_or("").to_owned();
    let reason = m["reason"]
        .as_str()
        .map(|r| format!("({r})"))
        .unwrap_or_default();
    writeln!(
        out,
        "{} on {}: {}{reason}, confidence {:.2}, trend {}{}",
        str_of(&m["producer"]),
        str_of(&m["topic"]),
        str_of(&m["state"]),
        m["confidence"].as_f64().unwrap_or(0.0),
        str_of(&m["trend"]),
        if m["reachable"] == true {
            ""
        } else {
            ", unreachable"
        },
    )?;
    if let Some(node) = m["node"].as_object() {
        writeln!(
            out,
            "  node {}: {}",
            str_of(&node["path"]),
            str_of(&node["state"])
        )?;
    }
    if let Some(why) = m["failed_on_behalf"].as_str() {
        writeln!(out, "  FAILED, said its supervisor: {why}")?;
    }
    for n in m["not_ok"].as_array().into_iter().flatten() {
        writeln!(out, "  {} {}", str_of(&n["path"]), str_of(&n["state"]))?;
    }
    if let Some(sup) = m["supervisor"].as_object() {
        writeln!(
            out,
            "  supervised by {} ({})",
            str_of(&sup["name"]),
            str_of(&sup["state"])
        )?;
        for n in sup["not_ok"].as_array().into_iter().flatten() {
            writeln!(out, "    {} {}", str_of(&n["path"]), str_of(&n["state"]))?;
        }
    }
    Ok(())
}
