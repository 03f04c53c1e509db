//! The questions the knowledge base answers: the history of the nodes a
//! pattern matches, why a consumer followed the producer it did, and a
//! producer's tree as it was.
//!
//! Times print as RFC 3339 in UTC, formatted by the server (the one clock
//! and calendar every reader of the database shares).

use std::time::SystemTime;

use serde::Serialize;
use serde_json::Value;
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

use super::{KbError, LtreeFilter};

/// `col` as RFC 3339 UTC text, microseconds.
fn iso(col: &str) -> String {
    format!("to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
}

/// A time given on the command line: `now`, anything PostgreSQL reads as
/// a `timestamptz` (`2026-12-03 12:00:00+00`, `2026-12-03T12:00:00Z`), or
/// `-INTERVAL` for that long ago (`-1 hour`, `-90s`).
pub async fn resolve_time(client: &Client, flag: &str, text: &str) -> Result<SystemTime, KbError> {
    let (sql, value) = match text.strip_prefix('-') {
        Some(ago) => ("SELECT now() - $1::text::interval", ago),
        None => ("SELECT $1::text::timestamptz", text),
    };
    client
        .query_one(sql, &[&value])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(|e| KbError::Input {
            flag: flag.to_owned(),
            value: text.to_owned(),
            error: super::pg_message(&e),
        })
}

/// What [`history`] selects.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HistoryFilter {
    /// Which nodes.
    pub pattern: LtreeFilter,
    /// Only periods in this state.
    pub state: Option<String>,
    /// Periods that end after this.
    pub since: Option<SystemTime>,
    /// Periods that begin at or before this.
    pub until: Option<SystemTime>,
    /// At most this many rows.
    pub limit: i64,
}

impl HistoryFilter {
    /// All of `pattern`'s history, at most 10 000 periods.
    pub fn new(pattern: LtreeFilter) -> HistoryFilter {
        HistoryFilter {
            pattern,
            state: None,
            since: None,
            until: None,
            limit: 10_000,
        }
    }
}

/// One period during which a node kept one state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryRow {
    /// When the state began (the first sample that said it).
    pub from: String,
    /// When the next state began; `None`: the latest known.
    pub until: Option<String>,
    /// The producer whose tree holds the node.
    pub producer: String,
    /// The node.
    pub path: String,
    /// Its state.
    pub state: String,
    /// Why UNKNOWN.
    pub reason: Option<String>,
    /// The producer's confidence (root nodes).
    pub confidence: Option<f64>,
}

/// The state periods of every node `filter` matches: transitions, with
/// keyframes that restate a state folded into its period, overlapping
/// `since..=until`, oldest first.
pub async fn history(client: &Client, filter: &HistoryFilter) -> Result<Vec<HistoryRow>, KbError> {
    let sql = format!(
        "WITH m AS (
             SELECT t, producer, path, state, reason, confidence,
                    lag(state) OVER w AS prev_state, lag(reason) OVER w AS prev_reason
             FROM health_samples
             WHERE {cond} AND t <= coalesce($3, 'infinity'::timestamptz)
             WINDOW w AS (PARTITION BY producer, path ORDER BY t)),
         periods AS (
             SELECT t, producer, path, state, reason, confidence,
                    lead(t) OVER (PARTITION BY producer, path ORDER BY t) AS until
             FROM m
             WHERE prev_state IS NULL OR prev_state <> state
                   OR prev_reason IS DISTINCT FROM reason)
         SELECT {from}, {until}, producer, path::text, state, reason, confidence
         FROM periods
         WHERE (until IS NULL OR until > coalesce($2, '-infinity'::timestamptz))
           AND ($4::text IS NULL OR state = $4)
         ORDER BY t, producer, path
         LIMIT $5",
        cond = filter.pattern.sql("path", 1),
        from = iso("t"),
        until = iso("until"),
    );
    let params: [&(dyn ToSql + Sync); 5] = [
        &filter.pattern.param(),
        &filter.since,
        &filter.until,
        &filter.state,
        &filter.limit,
    ];
    let rows = client.query(&sql, &params).await.map_err(KbError::query)?;
    rows.iter()
        .map(|r| {
            Ok(HistoryRow {
                from: r.try_get(0)?,
                until: r.try_get(1)?,
                producer: r.try_get(2)?,
                path: r.try_get(3)?,
                state: r.try_get(4)?,
                reason: r.try_get(5)?,
                confidence: r.try_get(6)?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(KbError::query)
}

/// A consumer's route from some time on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RouteAt {
    /// From when.
    pub t: String,
    /// The producer followed; `None`: none qualified.
    pub producer: Option<String>,
    /// The topic.
    pub topic: Option<String>,
    /// The producer left.
    pub previous: Option<String>,
    /// Why.
    pub cause: String,
    /// The fallback chain after the switch, best first.
    pub chain: Value,
    /// Where the route was learnt (`import:FILE`, `route_topic`).
    pub source: String,
}

/// The answer of [`why`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Why {
    /// The consumer asked about.
    pub consumer: String,
    /// The time asked about.
    pub at: String,
    /// Its route at that time; `None`: no route of it is known by then.
    pub route: Option<RouteAt>,
    /// The switches before, newest first (at most 5).
    pub earlier: Vec<RouteAt>,
    /// What happened to the producers it left and took, between the
    /// switch before and this one: registry events and health
    /// transitions, oldest first.
    pub events: Vec<Value>,
}

/// Which producer `consumer` followed at `at`, and the events that led
/// there.
pub async fn why(client: &Client, consumer: &str, at: SystemTime) -> Result<Why, KbError> {
    let sql = format!(
        "SELECT {t}, producer, topic, previous, cause, chain, source, t
         FROM routes WHERE consumer = $1 AND t <= $2 ORDER BY t DESC LIMIT 6",
        t = iso("t")
    );
    let rows = client
        .query(&sql, &[&consumer, &at])
        .await
        .map_err(KbError::query)?;
    let mut routes = Vec::new();
    let mut times = Vec::new();
    for r in &rows {
        let route = RouteAt {
            t: r.try_get(0).map_err(KbError::query)?,
            producer: r.try_get(1).map_err(KbError::query)?,
            topic: r.try_get(2).map_err(KbError::query)?,
            previous: r.try_get(3).map_err(KbError::query)?,
            cause: r.try_get(4).map_err(KbError::query)?,
            chain: r.try_get(5).map_err(KbError::query)?,
            source: r.try_get(6).map_err(KbError::query)?,
        };
        routes.push(route);
        times.push(r.try_get::<_, SystemTime>(7).map_err(KbError::query)?);
    }
    let at_text: String = client
        .query_one(&format!("SELECT {}", iso("$1::timestamptz")), &[&at])
        .await
        .and_then(|r| r.try_get(0))
        .map_err(KbError::query)?;
    let mut routes = routes.into_iter();
    let route = routes.next();
    let earlier: Vec<RouteAt> = routes.collect();
    let mut events = Vec::new();
    if let Some(route) = &route {
        let to = times[0];
        // From the switch before (or a minute before this one, for the
        // first): what made the selection move.
        let from = times.get(1).copied().unwrap_or_else(|| {
            to.checked_sub(std::time::Duration::from_secs(60))
                .unwrap_or(std::time::UNIX_EPOCH)
        });
        let producers: Vec<String> = route
            .producer
            .iter()
            .chain(route.previous.iter())
            .cloned()
            .collect();
        let sql = format!(
            "SELECT * FROM (
                 SELECT t, {t} AS at, 'event' AS what, kind, producer, NULL::text AS path,
                        NULL::text AS state, NULL::text AS reason, body
                 FROM events
                 WHERE producer = ANY($1) AND t >= $2 AND t <= $3 AND kind <> 'selection'
                 UNION ALL
                 SELECT t, {t}, 'health', 'transition', producer, path::text, state, reason,
                        NULL::jsonb
                 FROM health_samples
                 WHERE producer = ANY($1) AND t >= $2 AND t <= $3 AND NOT keyframe) e
             ORDER BY t LIMIT 100",
            t = iso("t")
        );
        let rows = client
            .query(&sql, &[&producers, &from, &to])
            .await
            .map_err(KbError::query)?;
        for r in &rows {
            let get = |i: usize| r.try_get::<_, Option<String>>(i).ok().flatten();
            let mut event = serde_json::Map::new();
            event.insert("t".into(), get(1).into());
            event.insert("what".into(), get(2).into());
            event.insert("kind".into(), get(3).into());
            event.insert("producer".into(), get(4).into());
            if let Some(path) = get(5) {
                event.insert("path".into(), path.into());
                event.insert("state".into(), get(6).into());
                event.insert("reason".into(), get(7).into());
            }
            if let Ok(Some(body)) = r.try_get::<_, Option<Value>>(8) {
                event.insert("body".into(), body);
            }
            events.push(Value::Object(event));
        }
    }
    Ok(Why {
        consumer: consumer.to_owned(),
        at: at_text,
        route,
        earlier,
        events,
    })
}

/// One node of a tree at a time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TreeNode {
    /// The node.
    pub path: String,
    /// Its state then; `None`: nothing known yet.
    pub state: Option<String>,
    /// Why UNKNOWN.
    pub reason: Option<String>,
    /// When that state was last written (a transition or keyframe).
    pub as_of: Option<String>,
}

/// The answer of [`tree_at`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TreeAt {
    /// The producer.
    pub producer: String,
    /// The tree version in force.
    pub version: i32,
    /// Since when.
    pub valid_from: String,
    /// Its root.
    pub root: Option<String>,
    /// Every node and its state then, by path.
    pub nodes: Vec<TreeNode>,
}

/// `producer`'s tree as it was at `at`; `None` when none was known then.
pub async fn tree_at(
    client: &Client,
    producer: &str,
    at: SystemTime,
) -> Result<Option<TreeAt>, KbError> {
    let sql = format!(
        "SELECT version, {v}, root::text FROM trees
         WHERE producer = $1 AND valid_from <= $2 ORDER BY version DESC LIMIT 1",
        v = iso("valid_from")
    );
    let Some(tree) = client
        .query_opt(&sql, &[&producer, &at])
        .await
        .map_err(KbError::query)?
    else {
        return Ok(None);
    };
    let version: i32 = tree.try_get(0).map_err(KbError::query)?;
    let sql = format!(
        "SELECT n.path::text, s.state, s.reason, {t}
         FROM nodes n
         LEFT JOIN LATERAL (
             SELECT state, reason, t FROM health_samples h
             WHERE h.producer = n.producer AND h.path = n.path AND h.t <= $3
             ORDER BY h.t DESC LIMIT 1) s ON true
         WHERE n.producer = $1 AND n.version = $2
         ORDER BY n.path",
        t = iso("s.t")
    );
    let rows = client
        .query(&sql, &[&producer, &version, &at])
        .await
        .map_err(KbError::query)?;
    let nodes = rows
        .iter()
        .map(|r| {
            Ok(TreeNode {
                path: r.try_get(0)?,
                state: r.try_get(1)?,
                reason: r.try_get(2)?,
                as_of: r.try_get(3)?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(KbError::query)?;
    Ok(Some(TreeAt {
        producer: producer.to_owned(),
        version,
        valid_from: tree.try_get(1).map_err(KbError::query)?,
        root: tree.try_get(2).map_err(KbError::query)?,
        nodes,
    }))
}
