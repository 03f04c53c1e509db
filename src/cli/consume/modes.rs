//! `vigil consume --query-in MODE=QUERY`: one query per mode, the mode
//! read from `vigil_mode` (what `vigil recover` publishes, transient-local,
//! so a consumer that starts later learns the mode at once).
//!
//! When the mode changes to one with another query, the consumer in use
//! is shut down and one with the new query starts: a mode change is a
//! reconfiguration, not a failover (the new consumer settles on the best
//! producer for its query before its first selection). Every change is a
//! line: `{"event":"query","mode":M,"query":Q,"cause":...}`. With several
//! engines on the domain, the latest mode heard from any of them holds.

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use rustdds::with_key::Sample;
use serde_json::json;
use tokio::sync::watch;
use vigil::{Consumer, Transport};
use vigil_discovery::SyntheticSample;
use vigil_qos::Query;

use super::super::dds_args::{unix_seconds, Format};
use super::super::InputError;
use super::{follow, ConsumerEvent, Summary};

/// Parses `--query-in` values.
pub(super) fn parse(values: &[String]) -> Result<Vec<(String, Query)>, InputError> {
    let mut out: Vec<(String, Query)> = Vec::new();
    for value in values {
        let Some((mode, text)) = value.split_once('=') else {
            return Err(InputError(format!(
                "--query-in {value:?}: expected MODE=QUERY"
            )));
        };
        let mode = mode.trim();
        if !vigil_diag::is_valid_label(mode) {
            return Err(InputError(format!(
                "--query-in {value:?}: the mode `{mode}` is not a mode name (letters, digits, `_`)"
            )));
        }
        if out.iter().any(|(m, _)| m == mode) {
            return Err(InputError(format!(
                "--query-in: mode `{mode}` is given twice"
            )));
        }
        let query = Query::parse(text.trim())
            .map_err(|e| InputError(format!("--query-in {mode}=...: {e}")))?;
        out.push((mode.to_owned(), query));
    }
    Ok(out)
}

/// The mode heard last, with its cause, kept up to date by a task.
pub(super) fn watch(
    transport: &Transport,
) -> anyhow::Result<watch::Receiver<Option<(String, String)>>> {
    let participant = transport
        .participant()
        .ok_or_else(|| InputError("--query-in needs the DDS transport".to_owned()))?;
    let mut samples = vigil_discovery::mode_reader(participant)?.async_sample_stream();
    let (tx, rx) = watch::channel(None);
    tokio::spawn(async move {
        while let Some(sample) = samples.next().await {
            let wire = match sample.map(|s| s.into_value()) {
                Ok(Sample::Value(wire)) => wire,
                // An engine that left: its last mode is no news.
                Ok(Sample::Dispose(_)) => continue,
                Err(error) => {
                    tracing::warn!(%error, "a sample on vigil_mode that does not decode");
                    continue;
                }
            };
            if let Err(error) = wire.validate() {
                tracing::warn!(%error, "mode refused");
                continue;
            }
            // The engine repeats its mode: only a change is news.
            tx.send_if_modified(|held| {
                if held.as_ref().is_some_and(|(mode, _)| *mode == wire.mode) {
                    return false;
                }
                *held = Some((wire.mode, wire.cause));
                true
            });
            if tx.is_closed() {
                return;
            }
        }
    });
    Ok(rx)
}

/// What to follow in which mode.
pub(super) struct Plan {
    pub(super) plain: Query,
    pub(super) per_mode: Vec<(String, Query)>,
    pub(super) format: Format,
}

impl Plan {
    fn query_for(&self, mode: Option<&str>) -> &Query {
        mode.and_then(|m| self.per_mode.iter().find(|(name, _)| name == m))
            .map_or(&self.plain, |(_, q)| q)
    }

    fn say(&self, mode: Option<&str>, query: &Query, cause: &str) {
        match self.format {
            Format::Json => println!(
                "{}",
                json!({"t": unix_seconds(), "event": "query", "mode": mode,
                       "query": query.to_string(), "cause": cause})
            ),
            Format::Text => println!(
                "query for mode {}: {query} ({cause})",
                mode.unwrap_or("(none)")
            ),
        }
    }

    /// Follows the query of the mode now, starting a consumer with another
    /// query at each change of mode that changes it, until `stop`.
    pub(super) async fn follow<S>(
        &self,
        consumer: &mut Consumer<SyntheticSample>,
        modes: &mut watch::Receiver<Option<(String, String)>>,
        start: S,
        stats_every: Duration,
        stop: impl Future<Output = ()>,
        mut sink: impl FnMut(ConsumerEvent),
    ) -> anyhow::Result<Summary>
    where
        S: Fn(&Query) -> Result<Consumer<SyntheticSample>, vigil::Error>,
    {
        tokio::pin!(stop);
        let mut total = Summary::default();
        let mut query = self.plain.clone();
        self.say(None, &query, "start");
        loop {
            let wanted = {
                let mode = modes.borrow_and_update();
                let mode = mode.as_ref();
                let wanted = self.query_for(mode.map(|(m, _)| m.as_str())).clone();
                if wanted != query {
                    let (name, cause) = mode.map_or((None, ""), |(m, c)| (Some(m.as_str()), c));
                    self.say(name, &wanted, cause);
                }
                wanted
            };
            if wanted != query {
                query = wanted;
                let fresh = start(&query)?;
                std::mem::replace(consumer, fresh).shutdown().await;
            }
            let mut stopped = false;
            let changed = async {
                tokio::select! {
                    () = &mut stop => stopped = true,
                    result = modes.changed() => {
                        if result.is_err() {
                            // The mode reader ended: stay on this query.
                            std::future::pending::<()>().await;
                        }
                    }
                }
            };
            let summary = follow(consumer, stats_every, changed, &mut sink).await;
            add(&mut total, &summary);
            if stopped {
                return Ok(total);
            }
        }
    }
}

fn add(total: &mut Summary, s: &Summary) {
    total.switches += s.switches;
    total.samples_lost += s.samples_lost;
    total.flaps_suppressed += s.flaps_suppressed;
    total.samples += s.samples;
    total.replayed += s.replayed;
    total.rejected += s.rejected;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_in_values_are_checked() {
        let ok = parse(&["degraded_nav=imu WHERE health.state = OK".to_owned()]).unwrap();
        assert_eq!(ok[0].0, "degraded_nav");
        for bad in ["no_equals", "bad mode=imu", "m=imu WHERE ("] {
            let e = parse(&[bad.to_owned()]).unwrap_err().to_string();
            assert!(e.contains("--query-in"), "{e}");
        }
        let twice = parse(&["m=imu".to_owned(), "m=gps".to_owned()]).unwrap_err();
        assert!(twice.to_string().contains("twice"), "{twice}");
    }
}
