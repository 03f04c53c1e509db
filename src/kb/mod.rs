//! The knowledge base: tree definitions, health history and routing
//! events in PostgreSQL with the `ltree` extension (issue 12).
//!
//! # Layout
//!
//! - `schema`: the versioned migrations, applied on connection
//!   ([`migrate`]); a newer schema is refused.
//! - `rows`: the rows, and the pure [`Converter`] from the core's steps
//!   (the flight recorder's [`RecordedStep`](vigil_discovery::RecordedStep))
//!   to rows: health transitions plus periodic keyframes, tree versions.
//! - `writer`: [`KbRecorder`], the [`Recorder`](vigil_discovery::Recorder)
//!   `vigil kb sync` hands the selector, a bounded queue that keeps the
//!   newest rows, and [`run_writer`], the batched writer that reconnects
//!   with backoff.
//! - `lquery`: [`LtreeFilter`], a vigil-diag [`Pattern`](vigil_diag::Pattern)
//!   as an ltree condition the GiST index serves.
//! - `read`: the questions: [`history`], [`why`], [`tree_at`].
//! - `import`: [`import`], a `--record`ed MCAP file into the database.

use std::fmt;

use tokio_postgres::{Client, Config, NoTls};

mod import;
mod lquery;
mod read;
mod rows;
mod schema;
mod writer;

pub use import::{import, ImportError, ImportOutcome};
pub use lquery::LtreeFilter;
pub use read::{
    history, resolve_time, tree_at, why, HistoryFilter, HistoryRow, RouteAt, TreeAt, TreeNode, Why,
};
pub use rows::{
    mode_event, route_row, AdvertRow, Converter, EventRow, HealthRow, RouteRow, Row, TreeRow,
};
pub use schema::{migrate, SCHEMA_VERSION};
pub use writer::{run_writer, write_rows, KbQueue, KbRecorder, WriterConfig, WriterStats};

/// Why the knowledge base cannot do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KbError {
    /// `--db` is not a PostgreSQL connection string or URL.
    #[error("--db: not a PostgreSQL URL ({0})")]
    BadUrl(String),
    /// The server could not be reached or refused us.
    #[error("cannot reach the database at {at}: {error}")]
    Unreachable {
        /// host:port/dbname (never the password).
        at: String,
        /// Why.
        error: String,
    },
    /// The database holds a schema this build does not know.
    #[error(
        "the database's knowledge-base schema is version {found}, newer than this vigil's \
         {supported}: upgrade vigil (nothing was written)"
    )]
    SchemaNewer {
        /// The version found.
        found: i32,
        /// The newest this build knows.
        supported: i32,
    },
    /// A migration failed (rolled back).
    #[error("schema migration to version {version} failed: {error}")]
    Migration {
        /// Which.
        version: i32,
        /// Why.
        error: String,
    },
    /// A statement failed.
    #[error("database: {0}")]
    Query(String),
    /// A flag's value the database could not read (a time, a state).
    #[error("{flag} `{value}`: {error}")]
    Input {
        /// Which flag.
        flag: String,
        /// Its value.
        value: String,
        /// What the database said.
        error: String,
    },
}

impl KbError {
    /// A failed statement, with the server's own message when it sent one.
    pub(crate) fn query(error: tokio_postgres::Error) -> KbError {
        KbError::Query(pg_message(&error))
    }

    /// True for errors the user fixes (exit 2): the URL, an unreachable
    /// database, a newer schema, a bad flag.
    pub fn is_input(&self) -> bool {
        !matches!(self, KbError::Query(_) | KbError::Migration { .. })
    }
}

/// The server's message (and detail) when it sent one, else the client's.
pub(crate) fn pg_message(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_owned(),
        },
        None => match std::error::Error::source(error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        },
    }
}

/// A parsed `--db`: where it points, without the password.
#[derive(Clone)]
pub struct DbUrl {
    config: Config,
    at: String,
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DbUrl").field(&self.at).finish()
    }
}

impl DbUrl {
    /// Parses a `postgres://user@host:port/db` URL or a `host=... port=...`
    /// string.
    pub fn parse(text: &str) -> Result<DbUrl, KbError> {
        let mut config: Config = text
            .parse()
            .map_err(|e: tokio_postgres::Error| KbError::BadUrl(pg_message(&e)))?;
        // A server that does not answer must not hang a command.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(5));
        }
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let db = config
            .get_dbname()
            .or(config.get_user())
            .unwrap_or("postgres");
        let at = format!("{host}:{port}/{db}");
        Ok(DbUrl { config, at })
    }

    /// host:port/dbname, for messages.
    pub fn at(&self) -> &str {
        &self.at
    }

    /// Connects (the connection's I/O runs as a tokio task) and brings the
    /// schema up to date.
    pub async fn connect(&self) -> Result<Client, KbError> {
        let (mut client, connection) =
            self.config
                .connect(NoTls)
                .await
                .map_err(|e| KbError::Unreachable {
                    at: self.at.clone(),
                    error: pg_message(&e),
                })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %pg_message(&e), "knowledge-base connection closed");
            }
        });
        migrate(&mut client).await?;
        Ok(client)
    }
}
