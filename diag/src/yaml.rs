//! Superseded by [`config`](crate::config), which every reader in vigil-diag
//! and vigil-bridges now uses; kept only until vigil-recovery's supervisor
//! file moves onto it, then removed, since it hands out saphyr's types.
//!
//! A thin view over saphyr's marked YAML: every node knows its line, and
//! scalars are resolved only when a field asks for a number, a boolean or
//! raw text. A tag (`!foo`) is looked through everywhere.
//!
//! Scalars are loaded unresolved (`early_parse(false)`) because keys are
//! paths: `engine.1.10` must stay that text, not become a float, and an
//! error message must show what the user wrote.

use std::borrow::Cow;

use saphyr::{MarkedYaml, Scalar, ScanError, YamlData, YamlLoader};
use saphyr_parser::Parser;

/// Loads every document of `text`, or the scanner's first error.
pub fn load(text: &str) -> Result<Vec<MarkedYaml<'_>>, ScanError> {
    let mut parser = Parser::new_from_str(text);
    let mut loader: YamlLoader<'_, MarkedYaml<'_>> = YamlLoader::default();
    loader.early_parse(false);
    parser.load(&mut loader, true)?;
    if let Some(error) = loader.error() {
        return Err(error.clone());
    }
    Ok(loader.into_documents())
}

/// The 1-based line where `node` starts.
pub fn line(node: &MarkedYaml<'_>) -> u32 {
    u32::try_from(node.span.start.line())
        .unwrap_or(u32::MAX)
        .max(1)
}

/// The node itself, looking through a tag such as `!foo { ... }`.
fn untagged<'n, 'a>(node: &'n MarkedYaml<'a>) -> &'n MarkedYaml<'a> {
    match &node.data {
        YamlData::Tagged(_, inner) => untagged(inner),
        _ => node,
    }
}

/// The entries of a mapping, in document order; `None` if `node` is not one.
pub fn entries<'n, 'a>(
    node: &'n MarkedYaml<'a>,
) -> Option<impl Iterator<Item = (&'n MarkedYaml<'a>, &'n MarkedYaml<'a>)>> {
    match &untagged(node).data {
        YamlData::Mapping(map) => Some(map.iter()),
        _ => None,
    }
}

/// The items of a sequence; `None` if `node` is not one.
pub fn items<'n, 'a>(node: &'n MarkedYaml<'a>) -> Option<&'n [MarkedYaml<'a>]> {
    match &untagged(node).data {
        YamlData::Sequence(items) => Some(items),
        _ => None,
    }
}

/// The text of a scalar exactly as written (without quotes); `None` if
/// `node` is not a scalar.
pub fn raw<'n>(node: &'n MarkedYaml<'_>) -> Option<&'n str> {
    match &untagged(node).data {
        YamlData::Representation(text, _, _) => Some(text),
        YamlData::Value(Scalar::String(text)) => Some(text),
        _ => None,
    }
}

/// The scalar resolved by the YAML 1.2 core schema.
fn resolved<'a>(node: &MarkedYaml<'a>) -> Option<Scalar<'a>> {
    match &untagged(node).data {
        YamlData::Representation(text, style, tag) => {
            Scalar::parse_from_cow_and_metadata(text.clone(), *style, tag.as_ref())
        }
        YamlData::Value(scalar) => Some(scalar.clone()),
        _ => None,
    }
}

/// True for `~`, `null`, an empty value.
pub fn is_null(node: &MarkedYaml<'_>) -> bool {
    matches!(resolved(node), Some(Scalar::Null))
}

/// A finite number (integer or float).
pub fn number(node: &MarkedYaml<'_>) -> Option<f64> {
    match resolved(node)? {
        Scalar::Integer(i) => Some(i as f64),
        Scalar::FloatingPoint(f) if f.is_finite() => Some(f.into_inner()),
        _ => None,
    }
}

/// A non-negative integer.
pub fn unsigned(node: &MarkedYaml<'_>) -> Option<u64> {
    match resolved(node)? {
        Scalar::Integer(i) => u64::try_from(i).ok(),
        _ => None,
    }
}

/// A boolean.
pub fn boolean(node: &MarkedYaml<'_>) -> Option<bool> {
    match resolved(node)? {
        Scalar::Boolean(b) => Some(b),
        _ => None,
    }
}

/// What `node` is, for "expected X, found Y" messages.
pub fn describe(node: &MarkedYaml<'_>) -> Cow<'static, str> {
    match &untagged(node).data {
        YamlData::Mapping(_) => "a mapping".into(),
        YamlData::Sequence(_) => "a sequence".into(),
        YamlData::Alias(_) => "an alias".into(),
        YamlData::BadValue => "an unreadable value".into(),
        _ => match resolved(node) {
            Some(Scalar::Null) => "nothing".into(),
            Some(Scalar::Boolean(b)) => format!("`{b}`").into(),
            Some(Scalar::Integer(i)) => format!("the number {i}").into(),
            Some(Scalar::FloatingPoint(f)) => format!("the number {f}").into(),
            Some(Scalar::String(s)) => format!("`{}`", shorten(&s)).into(),
            None => "an unreadable value".into(),
        },
    }
}

pub use crate::config::{did_you_mean, shorten};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_text() {
        let docs = load("1.10: x\n\"a.b\": y\n").unwrap();
        let keys: Vec<_> = entries(&docs[0])
            .unwrap()
            .map(|(k, _)| raw(k).unwrap())
            .collect();
        assert_eq!(keys, ["1.10", "a.b"]);
    }
}
