//! `vigil query`: check constraint queries and rank adverts with them.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path as FsPath, PathBuf};
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use serde::Serialize;
use vigil_qos::{AdvertView, Candidate, CompiledQuery, ParseError, QosPolicies, Query, Ranking};

use super::{InputError, EXIT_INPUT};

/// `vigil query` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum QueryCommand {
    /// Parse and type-check a query; print it normalized (exit 0), or the
    /// error with a caret under the offending token (exit 2).
    Check {
        /// The query, e.g. "imu WHERE latency_p99 < 1ms PREFER rate DESC".
        query: String,
    },
    /// Rank the adverts of a JSON file with a query: the selected producer,
    /// the fallback chain, and why each other producer was rejected.
    Eval {
        /// The query.
        query: String,
        /// A JSON array of adverts:
        /// [{"producer": "imu_a", "topic": "imu", "capabilities": {"rate": "200Hz"},
        /// "health": {"state": "OK", "confidence": 0.97, "nodes": {"vehicle.power": "OK"}},
        /// "qos": {"reliability": "reliable"}, "path": "vehicle.sensors.imu"}]
        #[arg(long)]
        adverts: PathBuf,
        /// The consumer's requested DDS QoS, as JSON (e.g.
        /// '{"reliability": "reliable", "deadline": "10ms"}'): producers whose
        /// offered QoS is incompatible (DDS 1.4 §2.2.3) are rejected.
        #[arg(long, value_name = "JSON")]
        requested_qos: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// How results are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Text for people.
    #[default]
    Text,
    /// One JSON object.
    Json,
}

pub(crate) fn run(command: QueryCommand) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match command {
        QueryCommand::Check { query } => match Query::parse(&query) {
            Ok(q) => {
                writeln!(out, "{q}")?;
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => Ok(query_error(&e)),
        },
        QueryCommand::Eval {
            query,
            adverts,
            requested_qos,
            format,
        } => {
            let q = match Query::parse(&query) {
                Ok(q) => q,
                Err(e) => return Ok(query_error(&e)),
            };
            let mut compiled = q.compile();
            if let Some(json) = requested_qos {
                let requested: QosPolicies = serde_json::from_str(&json)
                    .map_err(|e| InputError(format!("--requested-qos: {e}")))?;
                compiled = compiled.with_requested_qos(requested);
            }
            let adverts = read_adverts(&adverts)?;
            let ranking = compiled.rank(&adverts);
            let report = Report::new(&q, &compiled, &adverts, &ranking);
            match format {
                Format::Json => {
                    serde_json::to_writer_pretty(&mut out, &report.json())?;
                    writeln!(out)?;
                }
                Format::Text => out.write_all(report.text().as_bytes())?,
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints the caret display and returns the input-error exit code.
fn query_error(e: &ParseError) -> ExitCode {
    eprintln!("{}", e.render());
    ExitCode::from(EXIT_INPUT)
}

/// Reads and validates an adverts file; every problem names the entry
/// (index and, when known, producer) and the field.
fn read_adverts(file: &FsPath) -> anyhow::Result<Vec<AdvertView>> {
    let name = file.display();
    let text = std::fs::read_to_string(file)
        .map_err(|e| InputError(format!("cannot read {name}: {e}")))?;
    let raw: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| InputError(format!("{name}: invalid JSON: {e}")))?;
    let serde_json::Value::Array(entries) = raw else {
        return Err(InputError(format!("{name}: expected a JSON array of adverts")).into());
    };
    let mut adverts = Vec::with_capacity(entries.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, entry) in entries.into_iter().enumerate() {
        let producer = entry
            .get("producer")
            .and_then(|p| p.as_str())
            .map(str::to_owned);
        let at = match &producer {
            Some(p) => format!("{name}: adverts[{index}] (producer `{p}`)"),
            None => format!("{name}: adverts[{index}]"),
        };
        let advert: AdvertView = serde_path_to_error::deserialize(entry).map_err(|e| {
            let field = e.path().to_string();
            if field == "." {
                InputError(format!("{at}: {}", e.inner()))
            } else {
                InputError(format!("{at}, field `{field}`: {}", e.inner()))
            }
        })?;
        if let Some(first) = seen.insert(advert.producer.clone(), index) {
            return Err(InputError(format!(
                "{at}, field `producer`: duplicate producer id (also adverts[{first}])"
            ))
            .into());
        }
        adverts.push(advert);
    }
    Ok(adverts)
}

/// What `eval` prints, in either format.
struct Report<'a> {
    query: &'a Query,
    compiled: &'a CompiledQuery,
    adverts: &'a [AdvertView],
    ranking: &'a Ranking,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    selected: Option<&'a str>,
    clause: Option<usize>,
    chain: Vec<&'a str>,
    rejected: Vec<JsonRejected<'a>>,
}

#[derive(Serialize)]
struct JsonRejected<'a> {
    producer: &'a str,
    reasons: Vec<String>,
}

impl<'a> Report<'a> {
    fn new(
        query: &'a Query,
        compiled: &'a CompiledQuery,
        adverts: &'a [AdvertView],
        ranking: &'a Ranking,
    ) -> Report<'a> {
        Report {
            query,
            compiled,
            adverts,
            ranking,
        }
    }

    /// Reasons, prefixed with their clause when the query has several.
    fn reasons(&self, advert: &AdvertView) -> Vec<String> {
        let several = self.query.clauses().len() > 1;
        self.compiled
            .explain(advert)
            .iter()
            .map(|r| match r.clause {
                Some(k) if several => {
                    format!("clause {k} ({}): {r}", self.query.clauses()[k].topic())
                }
                _ => r.to_string(),
            })
            .collect()
    }

    fn json(&self) -> JsonReport<'a> {
        let selected = self.ranking.selected();
        JsonReport {
            selected: selected.map(|s| self.adverts[s.index].producer()),
            clause: selected.map(|s| s.clause),
            chain: self
                .ranking
                .chain()
                .iter()
                .map(|r| self.adverts[r.index].producer())
                .collect(),
            rejected: self
                .ranking
                .rejected()
                .iter()
                .map(|&i| {
                    let a = &self.adverts[i];
                    JsonRejected {
                        producer: a.producer(),
                        reasons: self.reasons(a),
                    }
                })
                .collect(),
        }
    }

    fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "query: {}", self.query);
        match self.ranking.selected() {
            Some(sel) => {
                let a = &self.adverts[sel.index];
                let _ = writeln!(
                    s,
                    "selected: {} (clause {}, topic {})",
                    a.producer(),
                    sel.clause,
                    self.query.clauses()[sel.clause].topic()
                );
            }
            None => {
                let _ = writeln!(s, "selected: none");
            }
        }
        let _ = writeln!(s, "chain ({}):", self.ranking.chain().len());
        for (rank, r) in self.ranking.chain().iter().enumerate() {
            let a = &self.adverts[r.index];
            let _ = writeln!(
                s,
                "  {}. {}  clause {}  {} confidence {}  {}",
                rank + 1,
                a.producer(),
                r.clause,
                a.health_state(),
                a.health_confidence(),
                a.capabilities
            );
        }
        let _ = writeln!(s, "rejected ({}):", self.ranking.rejected().len());
        for &i in self.ranking.rejected() {
            let a = &self.adverts[i];
            let _ = writeln!(s, "  {}:", a.producer());
            for reason in self.reasons(a) {
                let _ = writeln!(s, "    - {reason}");
            }
        }
        s
    }
}
