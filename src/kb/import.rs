//! `vigil kb import FILE.mcap`: a flight recording (`vigil consume|monitor
//! --record`) into the knowledge base.
//!
//! The recorded inputs go through a fresh core ([`Replayer`]), exactly as
//! `vigil replay` does, and each step through the same [`Converter`] as
//! `sync`: an imported run and a synced one give the same rows. The
//! consumer's selection events become its routes.

use std::path::Path;

use tokio_postgres::Client;
use vigil_diag::Timestamp;
use vigil_discovery::{RecordedStep, Replayer};

use super::rows::Converter;
use super::writer::write_rows;
use super::KbError;
use crate::record::{read_run, ReplayError};

/// What an import wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ImportOutcome {
    /// Recorded inputs read.
    pub steps: u64,
    /// Rows written.
    pub rows: u64,
    /// Of those, routes (selection events).
    pub routes: u64,
    /// Where the file is damaged or has a hole: imported up to there.
    pub damage: Option<String>,
}

/// Why a file cannot be imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// Not a recording this vigil reads.
    #[error(transparent)]
    Recording(#[from] ReplayError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] KbError),
}

/// Rows per transaction.
const BATCH: usize = 5_000;

/// Imports the recording at `path`; its routes are those of `consumer`.
pub async fn import(
    client: &mut Client,
    path: &Path,
    consumer: &str,
) -> Result<ImportOutcome, ImportError> {
    let run = read_run(path)?;
    let mut replayer = Replayer::new(&run.session).map_err(|e| ReplayError::Format {
        path: path.to_owned(),
        reason: format!("the recorded query does not parse: {e}"),
    })?;
    let source = format!(
        "import:{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    );
    let mut converter = Converter::new(source, Some(consumer.to_owned()));
    let mut outcome = ImportOutcome {
        damage: run.damage.clone(),
        ..ImportOutcome::default()
    };
    let mut rows = Vec::new();
    for (at_ns, wall_ns, input) in run.steps {
        let at = Timestamp::from_nanos(at_ns);
        let (changes, events) = replayer.step(at, &input);
        let step = RecordedStep {
            at,
            input,
            changes,
            events,
            breakers: replayer.take_breaker_events(),
        };
        outcome.steps += 1;
        rows.extend(converter.step(wall_ns, &step));
        if rows.len() >= BATCH {
            outcome.rows += rows.len() as u64;
            outcome.routes += count_routes(&rows);
            write_rows(client, &rows).await?;
            rows.clear();
        }
    }
    outcome.rows += rows.len() as u64;
    outcome.routes += count_routes(&rows);
    write_rows(client, &rows).await?;
    Ok(outcome)
}

fn count_routes(rows: &[super::Row]) -> u64 {
    rows.iter()
        .filter(|r| matches!(r, super::Row::Route(_)))
        .count() as u64
}
