//! Printing `vigil tree` results, as text for people or as one JSON object.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path as FsPath;

use serde_json::{json, Map, Value};
use vigil_diag::{
    Explained, Explanation, Health, NodeBody, Path, Rule, Timestamp, Tree, TreeSpec, TreeSummary,
};

use super::{Format, Problem};

pub(super) fn summary(
    out: &mut impl Write,
    source: &str,
    s: &TreeSummary,
    format: Format,
) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            let value = json!({
                "file": source,
                "valid": true,
                "nodes": s.nodes,
                "leaves": s.leaves,
                "mounts": s.mounts,
                "shared_nodes": s.shared_nodes,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        }
        Format::Text => writeln!(
            out,
            "{source}: ok: {} nodes, {} leaves, {} mounts ({} shared nodes)",
            s.nodes, s.leaves, s.mounts, s.shared_nodes
        )?,
    }
    Ok(())
}

pub(super) fn problems_json(
    out: &mut impl Write,
    source: &str,
    problems: &[Problem],
) -> anyhow::Result<()> {
    let list: Vec<Value> = problems
        .iter()
        .map(|p| json!({ "line": p.line, "path": p.path, "message": p.message }))
        .collect();
    let value = json!({ "file": source, "valid": false, "problems": list });
    writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    Ok(())
}

fn health_json(health: &Health) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("state".into(), health.state.as_str().into());
    map.insert("reason".into(), health.reason.map(|r| r.as_str()).into());
    map.insert("confidence".into(), health.confidence.into());
    map.insert("trend".into(), health.trend.as_str().into());
    map
}

fn paths_json(paths: &[Path]) -> Value {
    paths.iter().map(|p| Value::from(p.as_str())).collect()
}

pub(super) fn eval(
    out: &mut impl Write,
    file: &FsPath,
    spec: &TreeSpec,
    tree: &Tree,
    at: Timestamp,
    format: Format,
) -> anyhow::Result<()> {
    if format == Format::Json {
        let mut nodes = Map::new();
        for (path, health) in tree.nodes() {
            let mut node = health_json(health);
            let cause = tree.causes(&path).unwrap_or_default();
            node.insert("cause".into(), paths_json(&cause));
            nodes.insert(path.to_string(), Value::Object(node));
        }
        let value = json!({ "at": at.as_secs_f64(), "nodes": nodes });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }
    // Mount nodes of the tree proper, to show what each one mounts.
    let mounts: HashMap<&Path, &Path> = spec
        .nodes
        .iter()
        .filter_map(|n| match &n.body {
            NodeBody::Mount(target) => Some((&n.path, target)),
            _ => None,
        })
        .collect();
    let rows: Vec<(String, &Health)> = tree
        .nodes()
        .map(|(path, health)| {
            let indent = "  ".repeat(path.depth() - 1);
            let mut name = format!("{indent}{}", path.leaf_label());
            if let Some(target) = mounts.get(&path) {
                name.push_str(&format!(" -> {target}"));
            }
            (name, health)
        })
        .collect();
    let width = rows
        .iter()
        .map(|(name, _)| name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    writeln!(out, "{} at t={at}: {} nodes", file.display(), rows.len())?;
    writeln!(
        out,
        "{:width$}  {:<19}  {:>10}  TREND",
        "NODE", "STATE", "CONFIDENCE"
    )?;
    for (name, health) in rows {
        writeln!(
            out,
            "{name:width$}  {:<19}  {:>10.2}  {}",
            state_text(health),
            health.confidence,
            health.trend
        )?;
    }
    Ok(())
}

fn state_text(health: &Health) -> String {
    match health.reason {
        Some(reason) => format!("{} ({reason})", health.state),
        None => health.state.to_string(),
    }
}

pub(super) fn explain(
    out: &mut impl Write,
    explanation: &Explanation,
    causes: &[Path],
    impact: &[Path],
    at: Timestamp,
    format: Format,
) -> anyhow::Result<()> {
    if format == Format::Json {
        let mut value = health_json(&explanation.health);
        value.insert("at".into(), at.as_secs_f64().into());
        value.insert("path".into(), explanation.path.as_str().into());
        value.insert("cause".into(), paths_json(causes));
        value.insert("chain".into(), chain_json(explanation));
        value.insert("impact".into(), paths_json(impact));
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&Value::Object(value))?
        )?;
        return Ok(());
    }
    let path = &explanation.path;
    writeln!(out, "{path} at t={at}: {}", explanation.health)?;
    writeln!(out)?;
    writeln!(
        out,
        "Why (the causal chain, down to the leaves that decided it):"
    )?;
    for line in explanation.to_string().lines() {
        writeln!(out, "  {line}")?;
    }
    writeln!(out)?;
    let leaves: Vec<&str> = causes.iter().map(Path::as_str).collect();
    writeln!(
        out,
        "Because of: {}",
        if leaves.is_empty() {
            "-".into()
        } else {
            leaves.join(", ")
        }
    )?;
    if impact.is_empty() {
        writeln!(out, "Impact: nothing else depends on {path}.")?;
    } else {
        writeln!(
            out,
            "Impact: a change here can change {} node(s):",
            impact.len()
        )?;
        for p in impact {
            writeln!(out, "  {p}")?;
        }
    }
    Ok(())
}

fn chain_json(e: &Explanation) -> Value {
    let mut node = health_json(&e.health);
    node.insert("path".into(), e.path.as_str().into());
    if let Some(shared) = &e.shared {
        node.insert("shared".into(), shared.as_str().into());
    }
    node.insert("raw".into(), e.raw.as_str().into());
    node.insert("latched".into(), e.latched.into());
    node.insert("decided_by".into(), decided_by(&e.decided_by).into());
    node.insert("causes".into(), e.causes.iter().map(chain_json).collect());
    Value::Object(node)
}

fn decided_by(explained: &Explained) -> String {
    match explained {
        Explained::Rule(Rule::Vote { k }) => format!("rule vote {k}"),
        Explained::Rule(rule) => format!("rule {}", format!("{rule:?}").to_lowercase()),
        Explained::Empty => "no children".into(),
        Explained::Check { kind, detail } => format!("{kind} check: {detail}"),
        Explained::MissingCheck { name } => format!("custom check `{name}` not installed"),
        Explained::Mount { target } => format!("mount of {target}"),
        other => format!("{other:?}"),
    }
}
