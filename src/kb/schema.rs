//! The schema, as versioned migrations applied on connection.
//!
//! `vigil_kb_schema` holds the versions applied. A connecting vigil
//! applies the ones it has and the database lacks, in one transaction
//! under an advisory lock (two `sync`s starting together do not race); a
//! database at a version this build does not know is refused: an older
//! vigil must not write rows a newer schema may read differently.

use tokio_postgres::Client;

use super::KbError;

/// The migrations, in order: index 0 is version 1.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r"
CREATE EXTENSION IF NOT EXISTS ltree;

-- Tree definitions per producer, versioned: a new version whenever the
-- set of node paths it advertises changes.
CREATE TABLE trees (
    producer   text        NOT NULL,
    version    integer     NOT NULL,
    valid_from timestamptz NOT NULL,
    root       ltree,
    digest     text        NOT NULL,
    PRIMARY KEY (producer, version)
);

CREATE TABLE nodes (
    producer text    NOT NULL,
    version  integer NOT NULL,
    path     ltree   NOT NULL,
    PRIMARY KEY (producer, version, path),
    FOREIGN KEY (producer, version) REFERENCES trees ON DELETE CASCADE
);
CREATE INDEX nodes_path_gist ON nodes USING gist (path);

-- Transitions and periodic keyframes, never every tick.
CREATE TABLE health_samples (
    t          timestamptz      NOT NULL,
    producer   text             NOT NULL,
    path       ltree            NOT NULL,
    state      text             NOT NULL
               CHECK (state IN ('OK', 'DEGRADED', 'FAILED', 'UNKNOWN')),
    reason     text,
    confidence double precision,
    keyframe   boolean          NOT NULL DEFAULT false
);
CREATE INDEX health_samples_path_gist ON health_samples USING gist (path);
CREATE INDEX health_samples_t ON health_samples (t);
CREATE INDEX health_samples_node_t ON health_samples (producer, path, t);

-- The flight recorder's decisions: registry changes, selections, and the
-- recovery engine's actions (source names who saw them).
CREATE TABLE events (
    id       bigserial   PRIMARY KEY,
    t        timestamptz NOT NULL,
    source   text        NOT NULL,
    kind     text        NOT NULL,
    consumer text,
    producer text,
    topic    text,
    body     jsonb       NOT NULL
);
CREATE INDEX events_t ON events (t);
CREATE INDEX events_producer_t ON events (producer, t);

-- Which producer each consumer follows, from when, and why. Filled from
-- selection events today; the route topic of `vigil consume --id` writes
-- here too (source 'route_topic').
CREATE TABLE routes (
    t        timestamptz NOT NULL,
    consumer text        NOT NULL,
    topic    text,
    producer text,
    previous text,
    cause    text        NOT NULL,
    chain    jsonb       NOT NULL,
    source   text        NOT NULL
);
CREATE INDEX routes_consumer_t ON routes (consumer, t);

CREATE TABLE adverts (
    t               timestamptz NOT NULL,
    producer        text        NOT NULL,
    topic           text        NOT NULL,
    type_name       text        NOT NULL,
    sequence        bigint      NOT NULL,
    writer_guid     text        NOT NULL,
    capabilities    jsonb       NOT NULL,
    state           text        NOT NULL,
    diagnostic_root ltree
);
CREATE INDEX adverts_producer_t ON adverts (producer, t);
CREATE INDEX adverts_capabilities ON adverts USING gin (capabilities);
",
];

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// A lock id only vigil's migrations take ("vigilkb" in ASCII).
const MIGRATION_LOCK: i64 = 0x0076_6967_696c_6b62;

/// Brings the database to [`SCHEMA_VERSION`]; returns the version it
/// found. Refuses a newer one with [`KbError::SchemaNewer`].
pub async fn migrate(client: &mut Client) -> Result<i32, KbError> {
    let tx = client.transaction().await.map_err(KbError::query)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(KbError::query)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS vigil_kb_schema (
             version    integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await
    .map_err(KbError::query)?;
    let found: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM vigil_kb_schema", &[])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(KbError::query)?;
    if found > SCHEMA_VERSION {
        return Err(KbError::SchemaNewer {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as i32 + 1;
        tx.batch_execute(sql)
            .await
            .map_err(|e| KbError::Migration {
                version,
                error: e.to_string(),
            })?;
        tx.execute(
            "INSERT INTO vigil_kb_schema (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(KbError::query)?;
    }
    tx.commit().await.map_err(KbError::query)?;
    Ok(found)
}
