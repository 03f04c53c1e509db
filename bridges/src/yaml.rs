//! A thin view over saphyr's marked YAML, as vigil-diag reads tree files:
//! every node knows its line, and scalars are resolved only when a field
//! asks for a number or a boolean (`path: 1.10` stays that text).

use std::borrow::Cow;

use saphyr::{MarkedYaml, Scalar, ScanError, YamlData, YamlLoader};
use saphyr_parser::Parser;

/// Loads every document of `text`, or the scanner's first error.
pub(crate) fn load(text: &str) -> Result<Vec<MarkedYaml<'_>>, ScanError> {
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
pub(crate) fn line(node: &MarkedYaml<'_>) -> u32 {
    u32::try_from(node.span.start.line())
        .unwrap_or(u32::MAX)
        .max(1)
}

fn untagged<'n, 'a>(node: &'n MarkedYaml<'a>) -> &'n MarkedYaml<'a> {
    match &node.data {
        YamlData::Tagged(_, inner) => untagged(inner),
        _ => node,
    }
}

/// The entries of a mapping, in document order; `None` if `node` is not one.
pub(crate) fn entries<'n, 'a>(
    node: &'n MarkedYaml<'a>,
) -> Option<impl Iterator<Item = (&'n MarkedYaml<'a>, &'n MarkedYaml<'a>)>> {
    match &untagged(node).data {
        YamlData::Mapping(map) => Some(map.iter()),
        _ => None,
    }
}

/// The items of a sequence; `None` if `node` is not one.
pub(crate) fn items<'n, 'a>(node: &'n MarkedYaml<'a>) -> Option<&'n [MarkedYaml<'a>]> {
    match &untagged(node).data {
        YamlData::Sequence(items) => Some(items),
        _ => None,
    }
}

/// The text of a scalar as written (without quotes); `None` otherwise.
pub(crate) fn raw<'n>(node: &'n MarkedYaml<'_>) -> Option<&'n str> {
    match &untagged(node).data {
        YamlData::Representation(text, _, _) => Some(text),
        YamlData::Value(Scalar::String(text)) => Some(text),
        _ => None,
    }
}

fn resolved<'a>(node: &MarkedYaml<'a>) -> Option<Scalar<'a>> {
    match &untagged(node).data {
        YamlData::Representation(text, style, tag) => {
            Scalar::parse_from_cow_and_metadata(text.clone(), *style, tag.as_ref())
        }
        YamlData::Value(scalar) => Some(scalar.clone()),
        _ => None,
    }
}

/// A finite number (integer or float).
pub(crate) fn number(node: &MarkedYaml<'_>) -> Option<f64> {
    match resolved(node)? {
        Scalar::Integer(i) => Some(i as f64),
        Scalar::FloatingPoint(f) if f.is_finite() => Some(f.into_inner()),
        _ => None,
    }
}

/// A non-negative integer.
pub(crate) fn unsigned(node: &MarkedYaml<'_>) -> Option<u64> {
    match resolved(node)? {
        Scalar::Integer(i) => u64::try_from(i).ok(),
        _ => None,
    }
}

/// A boolean.
pub(crate) fn boolean(node: &MarkedYaml<'_>) -> Option<bool> {
    match resolved(node)? {
        Scalar::Boolean(b) => Some(b),
        _ => None,
    }
}

/// What `node` is, for "expected X, found Y" messages.
pub(crate) fn describe(node: &MarkedYaml<'_>) -> Cow<'static, str> {
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

/// Long user text clipped for messages.
pub(crate) fn shorten(text: &str) -> Cow<'_, str> {
    const MAX: usize = 60;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]).into(),
        None => text.into(),
    }
}
