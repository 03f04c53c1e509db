//! Table tests from PostgreSQL's ltree suite and docs, and properties.

use super::*;
use proptest::prelude::*;

fn p(s: &str) -> Path {
    Path::parse(s).unwrap()
}

fn q(s: &str) -> Pattern {
    Pattern::parse(s).unwrap()
}

/// The `~` cases of PostgreSQL's `contrib/ltree/sql/ltree.sql`
/// regression suite (PostgreSQL 13+ semantics).
#[test]
fn postgres_regression_matches() {
    let abcde = [
        ("a.b.c.d.e", true),
        ("A.b.c.d.e", false),
        ("A@.b.c.d.e", true),
        ("a.*.e", true),
        ("a.*{3}.e", true),
        ("a.*{2}.e", false),
        ("a.*{4}.e", false),
        ("a.*{,4}.e", true),
        ("a.*{2,}.e", true),
        ("a.*{2,4}.e", true),
        ("a.*{2,3}.e", true),
        ("a.*{2,3}", false),
        ("a.*{2,4}", true),
        ("a.*{2,5}", true),
        ("*{2,3}.e", false),
        ("*{2,4}.e", true),
        ("*{2,5}.e", true),
        ("*.e", true),
        ("*.e.*", true),
        ("*.d.*", true),
        ("*.a.*.d.*", true),
        ("*.!d.*", true),
        ("*.!d", true),
        ("!d.*", true),
        ("!a.*", false),
        ("*.!e", false),
        ("*.!e.*", true),
        ("a.*.!e", false),
        ("a.*.!d", true),
        ("a.*.!d.*", true),
        ("a.*.!f.*", true),
        ("*.a.*.!f.*", true),
        ("*.a.*.!d.*", true),
        ("*.a.!d.*", true),
        ("*.a.!d", false),
        ("a.!d.*", true),
        ("*.!b.*", true),
        ("*.!b.c.*", false),
        ("*.!b.*.c.*", true),
        ("!b.*.c.*", true),
        ("!b.b.*", true),
        ("!b.*.e", true),
        ("!b.!c.*.e", true),
        ("!b.*.!c.*.e", true),
        ("*{2}.!b.*.!c.*.e", true),
        ("*{1}.!b.*.!c.*.e", false),
        ("*{1}.!b.*{1}.!c.*.e", false),
        ("a.!b.*{1}.!c.*.e", false),
        ("!b.*{1}.!c.*.e", false),
        ("*.!b.*{1}.!c.*.e", false),
        ("*.!b.*.!c.*.e", true),
        ("!b.!c.*", true),
        ("!b.*.!c.*", true),
        ("*{2}.!b.*.!c.*", true),
        ("*{1}.!b.*.!c.*", false),
        ("*{1}.!b.*{1}.!c.*", false),
        ("a.!b.*{1}.!c.*", false),
        ("!b.*{1}.!c.*", false),
        ("*.!b.*{1}.!c.*", true),
        ("*.!b.*.!c.*", true),
        ("a.*{2}.*{2}", true),
        ("a.*{1}.*{2}.e", true),
        ("a.*{1}.*{4}", false),
        ("a.*{5}.*", false),
        // PostgreSQL 13: quantifiers on non-star items.
        ("a{,}", false),
        ("a{1,}.*", true),
        ("a{,}.!a{,}", true),
        ("a{,2}.!a{1,}", true),
        ("!x{,}", true),
        ("!c{,}", false),
        ("!c{0,3}.!a{2,}", true),
        ("!c{0,3}.!d{2,}.*", true),
    ];
    for (pattern, expected) in abcde {
        assert_eq!(
            q(pattern).matches(&p("a.b.c.d.e")),
            expected,
            "a.b.c.d.e ~ {pattern}"
        );
    }
    let others = [
        ("aa.b.c.d.e", "A@.b.c.d.e", false),
        ("aa.b.c.d.e", "A*.b.c.d.e", false),
        ("aa.b.c.d.e", "A*@.b.c.d.e", true),
        ("aa.b.c.d.e", "A*@|g.b.c.d.e", true),
        ("g.b.c.d.e", "A*@|g.b.c.d.e", true),
        ("5.0.1.0", "5.!0.!0.0", false),
        ("a.b", "!a.!a", false),
        ("a.b.c.d.a", "a{,}.!a{,}", false),
        ("a.b.c.d.a", "a{,2}.!a{1,}", false),
        ("QWER_TY", "q%@*", true),
        ("QWER_TY", "q%@*%@*", true),
        ("QWER_TY", "Q_t%@*", true),
        ("QWER_GY", "q_t%@*", false),
    ];
    for (path, pattern, expected) in others {
        assert_eq!(q(pattern).matches(&p(path)), expected, "{path} ~ {pattern}");
    }
}

/// The example of PostgreSQL's ltree documentation (F.23.4).
#[test]
fn postgres_docs_example() {
    let table = [
        "Top",
        "Top.Science",
        "Top.Science.Astronomy",
        "Top.Science.Astronomy.Astrophysics",
        "Top.Science.Astronomy.Cosmology",
        "Top.Hobbies",
        "Top.Hobbies.Amateurs_Astronomy",
        "Top.Collections",
        "Top.Collections.Pictures",
        "Top.Collections.Pictures.Astronomy",
        "Top.Collections.Pictures.Astronomy.Stars",
        "Top.Collections.Pictures.Astronomy.Galaxies",
        "Top.Collections.Pictures.Astronomy.Astronauts",
    ];
    let select = |pattern: &str| -> Vec<&str> {
        let pattern = q(pattern);
        table
            .iter()
            .copied()
            .filter(|t| pattern.matches(&p(t)))
            .collect()
    };
    assert_eq!(
        select("*.Astronomy.*"),
        [&table[2..5], &table[9..]].concat()
    );
    assert_eq!(select("*.!pictures@.Astronomy.*"), &table[2..5]);
    let sport = q("Top.*{0,2}.sport*@.!football|tennis{1,}.Russ*|Spain");
    assert!(sport.matches(&p("Top.Hobbies.Sports.Hockey.Russia")));
    assert!(sport.matches(&p("Top.SPORTS.Chess.Go.Spain")));
    assert!(!sport.matches(&p("Top.sport.tennis.Russia")));
    assert!(!sport.matches(&p("Top.a.b.c.sport.Hockey.Russia")));
}

#[test]
fn design_examples() {
    assert!(q("vehicle.*.imu").matches(&p("vehicle.sensors.imu")));
    assert!(q("vehicle.*.imu").matches(&p("vehicle.imu")));
    assert!(!q("vehicle.*.imu").matches(&p("vehicle.sensors.imu.a")));
    assert!(q("*.power.*{1,2}").matches(&p("vehicle.power.bus_a.voltage")));
    assert!(!q("*.power.*{1,2}").matches(&p("vehicle.power")));
    assert!(q("vehicle.sensors.imu|gps").matches(&p("vehicle.sensors.gps")));
    assert!(q("vehicle.propulsion.engine*").matches(&p("vehicle.propulsion.engine3")));
    assert!(q("*.bus_a%").matches(&p("x.bus_a_voltage")));
    assert!(!q("*.bus%").matches(&p("x.busa")));
}

#[test]
fn errors_name_item_and_column() {
    let err = |s: &str| Pattern::parse(s).unwrap_err();
    assert_eq!(err("").kind, PatternErrorKind::Empty);
    let e = err("a..b");
    assert_eq!(
        (e.item, e.column, e.kind),
        (2, 3, PatternErrorKind::EmptyItem)
    );
    let e = err("a.b.");
    assert_eq!((e.item, e.column), (3, 5));
    let e = err("vehicle.imu-a.x");
    assert_eq!((e.item, e.text.as_str(), e.column), (2, "imu-a", 12));
    assert_eq!(e.kind, PatternErrorKind::UnexpectedChar('-'));
    assert!(e.to_string().contains("item 2 `imu-a` at column 12"), "{e}");
    assert_eq!(err("é.a").kind, PatternErrorKind::UnexpectedChar('é'));
    assert_eq!(err("a.é").column, 3);
    assert_eq!(err("*@").kind, PatternErrorKind::StarCombined);
    assert_eq!(err("!*").kind, PatternErrorKind::StarCombined);
    assert_eq!(err("a|*").kind, PatternErrorKind::StarCombined);
    assert_eq!(err("a|").kind, PatternErrorKind::EmptyAlternative);
    assert_eq!(err("!").kind, PatternErrorKind::EmptyAlternative);
    assert_eq!(err("a||b").kind, PatternErrorKind::EmptyAlternative);
    for bad in ["a{", "a{}", "a{x}", "a{1}b", "*{1,2,3}", "*{-1}", "a{1}{2}"] {
        assert_eq!(err(bad).kind, PatternErrorKind::BadQuantifier, "{bad}");
    }
    assert_eq!(
        err("*{4,3}").kind,
        PatternErrorKind::QuantifierReversed { min: 4, max: 3 }
    );
    assert_eq!(
        err("*{,65536}").kind,
        PatternErrorKind::QuantifierTooLarge(65536)
    );
    assert!(Pattern::parse("*{,65535}").is_ok());
    assert!(Pattern::parse("*{99999999999999999999999}").is_err());
}

#[test]
fn display_normalizes() {
    for (input, shown) in [
        ("*", "*"),
        ("*{0,}", "*"),
        ("*{2}", "*{2}"),
        ("*{2,2}", "*{2}"),
        ("*{,3}", "*{,3}"),
        ("*{1,}", "*{1,}"),
        ("a{1}", "a"),
        ("a{,}", "a{,}"),
        ("!a|b*@%{2,3}", "!a|b@*%{2,3}"),
        ("q%@*%@*", "q@*%"),
    ] {
        assert_eq!(q(input).to_string(), shown);
    }
}

#[test]
fn literal_patterns() {
    let path = p("vehicle.sensors.imu");
    assert_eq!(Pattern::literal(&path).to_string(), "vehicle.sensors.imu");
    assert_eq!(q("vehicle.sensors.imu").as_literal(), Some(path));
    assert_eq!(q("vehicle.*.imu").as_literal(), None);
    assert_eq!(q("vehicle.imu@").as_literal(), None);
}

#[test]
fn many_stars_stay_cheap() {
    let pattern = q(&format!("{}x", "*.".repeat(200)));
    let small = p(&vec!["a"; 60].join("."));
    let large = p(&vec!["a"; 300].join("."));
    assert!(!pattern.matches(&small));
    assert!(!pattern.matches(&large));
    assert!(pattern.matches(&p(&format!("{}.x", vec!["a"; 299].join(".")))));
}

/// A reference matcher by plain recursion, exponential but obviously
/// right, for small inputs.
fn naive(items: &[Item], labels: &[&str]) -> bool {
    let Some((item, rest)) = items.split_first() else {
        return labels.is_empty();
    };
    let max = item
        .max
        .map_or(labels.len(), |m| (m as usize).min(labels.len()));
    (item.min as usize..=max).any(|k| {
        k <= labels.len()
            && labels[..k].iter().all(|l| kind_matches(&item.kind, l))
            && naive(rest, &labels[k..])
    })
}

fn variant() -> impl Strategy<Value = Variant> {
    ("[abAB_]{1,3}", any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(text, case_insensitive, prefix, words)| Variant {
            text: text.into(),
            case_insensitive,
            prefix,
            words,
        },
    )
}

fn item() -> impl Strategy<Value = Item> {
    let kind = prop_oneof![
        Just(ItemKind::Any),
        (any::<bool>(), prop::collection::vec(variant(), 1..3))
            .prop_map(|(negated, variants)| ItemKind::Labels { negated, variants }),
    ];
    (kind, 0u32..4, prop::option::of(0u32..4)).prop_map(|(kind, a, b)| {
        let (min, max) = match b {
            Some(b) => (a.min(b), Some(a.max(b))),
            None => (a, None),
        };
        Item { kind, min, max }
    })
}

fn pattern() -> impl Strategy<Value = Pattern> {
    prop::collection::vec(item(), 1..6).prop_map(|items| Pattern { items })
}

fn path() -> impl Strategy<Value = Path> {
    prop::collection::vec("[abAB_]{1,3}", 1..7).prop_map(|l| p(&l.join(".")))
}

proptest! {
    #[test]
    fn parse_never_panics(text in "[a-z*!|@%{},.0-9 é]{0,30}") {
        let _ = Pattern::parse(&text);
    }

    #[test]
    fn parse_never_panics_on_any_text(text in ".{0,30}") {
        let _ = Pattern::parse(&text);
    }

    #[test]
    fn display_round_trips(pattern in pattern()) {
        prop_assert_eq!(Pattern::parse(&pattern.to_string()), Ok(pattern));
    }

    #[test]
    fn literal_matches_exactly_its_path(a in path(), b in path()) {
        let pattern = q(a.as_str());
        prop_assert!(pattern.matches(&a));
        prop_assert_eq!(pattern.matches(&b), a == b);
    }

    #[test]
    fn star_matches_everything(a in path()) {
        prop_assert!(q("*").matches(&a));
    }

    #[test]
    fn dp_agrees_with_naive_matcher(pattern in pattern(), path in path()) {
        let labels: Vec<&str> = path.labels().collect();
        let expected = naive(&pattern.items, &labels);
        prop_assert_eq!(pattern.matches(&path), expected);
        prop_assert_eq!(pattern.matches_large(&path), expected);
    }
}
