//! Durations as tree files write them: a number and a unit, `100ms`, `2s`,
//! `1.5min`. A bare number is refused: `timeout: 100` could be seconds or
//! milliseconds, and guessing wrong turns a heartbeat check into nonsense.

use std::time::Duration;

/// The units a duration may take, with their length in seconds.
const UNITS: &[(&str, f64)] = &[
    ("ns", 1e-9),
    ("us", 1e-6),
    ("µs", 1e-6), // U+00B5 MICRO SIGN
    ("μs", 1e-6), // U+03BC GREEK SMALL LETTER MU, what many keyboards give
    ("ms", 1e-3),
    ("s", 1.0),
    ("min", 60.0),
    ("h", 3600.0),
];

/// Why a text is not a duration.
pub(super) const HINT: &str =
    "a duration is a number with a unit: ns, us, µs, ms, s, min or h (e.g. `100ms`)";

/// Parses `100ms`, `2 s`, `1.5min`; `Err` says what is wrong.
pub(super) fn parse(text: &str) -> Result<Duration, &'static str> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+'))
        .unwrap_or(text.len());
    let (number, unit) = (&text[..split], text[split..].trim_start());
    if number.is_empty() {
        return Err(if text.starts_with('-') {
            "durations cannot be negative"
        } else {
            HINT
        });
    }
    if unit.is_empty() {
        return Err(
            "missing unit: a duration needs one of ns, us, µs, ms, s, min or h (e.g. `100ms`)",
        );
    }
    let Some((_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err("unknown unit: expected ns, us, µs, ms, s, min or h");
    };
    let value: f64 = number.parse().map_err(|_| HINT)?;
    Duration::try_from_secs_f64(value * scale).map_err(|_| "duration out of range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("2 s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse("250µs"), Ok(Duration::from_micros(250)));
        assert_eq!(parse("250μs"), Ok(Duration::from_micros(250)));
        assert_eq!(parse("1.5min"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn refusals() {
        assert!(parse("100").unwrap_err().contains("missing unit"));
        assert!(parse("100 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse("-1s").unwrap_err().contains("negative"));
        assert!(parse("ms").is_err());
        assert!(parse("1.2.3s").is_err());
        assert!(parse("").is_err());
        assert!(parse("1e400s").is_err());
        assert!(parse("99999999999999999999999h").is_err());
    }
}
