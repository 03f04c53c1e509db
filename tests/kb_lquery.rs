//! Issue 12: `vigil kb query` hands PostgreSQL the pattern `vigil tree`
//! parses (vigil-diag's [`Pattern`]), translated to ltree's operators
//! ([`LtreeFilter`]: `=`, `<@` or `~`). Property: for random patterns and
//! paths, PostgreSQL's answer equals vigil's own matching. A real server
//! (private, port 21104); no DDS.
#![cfg(feature = "kb")]

#[path = "support/pg.rs"]
mod pg;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use vigil::kb::LtreeFilter;
use vigil_diag::{Path, Pattern};

const PORT: u16 = 21104;

/// Labels chosen so that prefixes, case and `_`-words all matter.
const LABELS: &[&str] = &["a", "b", "ab", "a_b", "b_a", "A", "abc", "x1"];

fn label() -> impl Strategy<Value = String> {
    proptest::sample::select(LABELS).prop_map(str::to_owned)
}

fn quantifier() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just(String::new()),
        1 => (0u32..3).prop_map(|n| format!("{{{n}}}")),
        1 => (0u32..2, 0u32..3).prop_map(|(n, extra)| format!("{{{n},{}}}", n + extra)),
        1 => (0u32..3).prop_map(|n| format!("{{{n},}}")),
        1 => (0u32..3).prop_map(|m| format!("{{,{m}}}")),
    ]
}

fn variant() -> impl Strategy<Value = String> {
    (label(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(l, star, at, pct)| {
        let mut v = l;
        if pct {
            v.push('%');
        }
        if star {
            v.push('*');
        }
        if at {
            v.push('@');
        }
        v
    })
}

fn item() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => quantifier().prop_map(|q| format!("*{q}")),
        5 => (any::<bool>(), proptest::collection::vec(variant(), 1..3), quantifier()).prop_map(
            |(neg, vs, q)| format!("{}{}{q}", if neg { "!" } else { "" }, vs.join("|"))
        ),
        3 => label(),
    ]
}

fn pattern() -> impl Strategy<Value = String> {
    proptest::collection::vec(item(), 1..5).prop_map(|items| items.join("."))
}

fn path() -> impl Strategy<Value = String> {
    proptest::collection::vec(label(), 1..6).prop_map(|labels| labels.join("."))
}

#[test]
fn postgres_matches_what_vigil_matches() {
    let server = pg::PgServer::start(PORT);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let url = vigil::kb::DbUrl::parse(&server.url()).expect("url");
    let client = rt.block_on(url.connect()).expect("connects and migrates");
    let mut runner = TestRunner::new(Config {
        cases: 400,
        ..Config::default()
    });
    let case = (pattern(), proptest::collection::vec(path(), 1..12));
    runner
        .run(&case, |(text, paths)| {
            let Ok(pattern) = Pattern::parse(&text) else {
                return Ok(());
            };
            let filter = LtreeFilter::of(&pattern);
            let sql = format!(
                "SELECT p FROM unnest($1::text[]) AS p WHERE {} ORDER BY p",
                filter.sql("p::ltree", 2)
            );
            let rows = rt
                .block_on(client.query(&sql, &[&paths, &filter.param()]))
                .map_err(|e| {
                    TestCaseError::fail(format!("{text} as {filter:?}: {}", vigil_pg_error(&e)))
                })?;
            let mut by_pg: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            let mut by_vigil: Vec<String> = paths
                .iter()
                .filter(|p| pattern.matches(&Path::parse(p).expect("generated paths are valid")))
                .cloned()
                .collect();
            by_pg.sort();
            by_vigil.sort();
            prop_assert_eq!(
                by_pg,
                by_vigil,
                "pattern `{}` ({:?}) over {:?}",
                text,
                filter,
                paths
            );
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

fn vigil_pg_error(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_else(|| e.to_string())
}
