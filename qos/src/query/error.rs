//! Query parse errors: where, what, what was expected, and a caret display.

use std::fmt;
use std::ops::Range;

use thiserror::Error;

/// A query that does not parse or does not type-check, with the position
/// of the offending token.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("query error at {line}:{column}: {message}{}", expected_suffix(.expected))]
pub struct ParseError {
    query: String,
    span: Range<usize>,
    line: usize,
    column: usize,
    message: String,
    expected: Option<String>,
}

fn expected_suffix(expected: &Option<String>) -> String {
    expected
        .as_ref()
        .map_or_else(String::new, |e| format!("; expected {e}"))
}

impl ParseError {
    pub(crate) fn new(
        query: &str,
        span: Range<usize>,
        message: impl Into<String>,
        expected: Option<String>,
    ) -> ParseError {
        // Clamp to the text and to character boundaries so rendering never
        // slices inside a character.
        let mut start = span.start.min(query.len());
        while !query.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = span.end.clamp(start, query.len());
        while !query.is_char_boundary(end) {
            end += 1;
        }
        let before = &query[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = query[line_start..start].chars().count() + 1;
        ParseError {
            query: query.to_owned(),
            span: start..end,
            line,
            column,
            message: message.into(),
            expected,
        }
    }

    /// The query text.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// Byte range of the offending token in [`ParseError::query`].
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// 1-based line.
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column, in characters.
    pub fn column(&self) -> usize {
        self.column
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What would have been accepted there, if the parser knows.
    pub fn expected(&self) -> Option<&str> {
        self.expected.as_deref()
    }

    /// The caret display:
    ///
    /// ```text
    /// error at 1:21: dimension mismatch: `latency` is a time but `5Hz` is a frequency
    ///  1 | imu WHERE latency < 5Hz
    ///    |                     ^^^ expected a time
    /// ```
    pub fn render(&self) -> String {
        Render(self).to_string()
    }
}

struct Render<'a>(&'a ParseError);

impl fmt::Display for Render<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        writeln!(f, "error at {}:{}: {}", e.line, e.column, e.message)?;
        let line_start = e.query[..e.span.start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = e.query[line_start..]
            .find('\n')
            .map_or(e.query.len(), |i| line_start + i);
        let text = &e.query[line_start..line_end];
        let number = e.line.to_string();
        let gutter = " ".repeat(number.len());
        writeln!(f, " {number} | {text}")?;
        // Keep tabs so the caret lines up under tab-indented queries.
        let pad: String = e.query[line_start..e.span.start]
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let width = e.query[e.span.start..e.span.end.min(line_end).max(e.span.start)]
            .chars()
            .count()
            .max(1);
        write!(f, " {gutter} | {pad}{}", "^".repeat(width))?;
        if let Some(expected) = &e.expected {
            write!(f, " expected {expected}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let q = "imu\nWHERE µ < x";
        let at = q.find('<').unwrap();
        let e = ParseError::new(q, at..at + 1, "bad", Some("something".into()));
        assert_eq!((e.line(), e.column()), (2, 9));
        assert_eq!(
            e.render(),
            "error at 2:9: bad\n 2 | WHERE µ < x\n   |         ^ expected something"
        );
        assert_eq!(e.to_string(), "query error at 2:9: bad; expected something");
    }

    #[test]
    fn end_of_input_gets_one_caret() {
        let e = ParseError::new("imu WHERE", 9..9, "unexpected end of query", None);
        assert_eq!(
            e.render(),
            "error at 1:10: unexpected end of query\n 1 | imu WHERE\n   |          ^"
        );
    }
}
