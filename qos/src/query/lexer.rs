//! Turns query text into tokens with byte spans.

use std::ops::Range;

use super::ast::{is_word_char, is_word_start, CmpOp};
use super::error::ParseError;
use crate::unit::{number_len, unit_len, Unit};
use crate::value::Quantity;

/// The longest query accepted, in bytes: queries are typed by people, and
/// the limit bounds parser recursion and work on hostile input.
pub(crate) const MAX_QUERY_LEN: usize = 64 * 1024;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// A bare word: keyword, topic, key or operand name (text in the span).
    Word,
    /// A number with its optional unit.
    Number(Quantity),
    /// A single-quoted string, unescaped.
    Str(String),
    LParen,
    RParen,
    Comma,
    Cmp(CmpOp),
    Tilde,
    Eof,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) span: Range<usize>,
}

const UNITS_EXPECTED: &str = "a unit: ns, us, µs, ms, s, min, h, Hz, kHz, MHz, GHz, B, KB, KiB, MB, MiB, GB, GiB, mm, cm, m, km, rad, deg or %";

pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    if src.len() > MAX_QUERY_LEN {
        return Err(ParseError::new(
            src,
            MAX_QUERY_LEN..src.len(),
            format!("query is {} bytes long", src.len()),
            Some(format!("at most {MAX_QUERY_LEN} bytes")),
        ));
    }
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(c) = src[i..].chars().next() {
        let start = i;
        let rest = &src[i..];
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        let signed_number = matches!(c, '-' | '+') && number_len(rest).is_some();
        let tok = if c.is_ascii_digit() || c == '.' && number_len(rest).is_some() || signed_number {
            let len = number_len(rest).unwrap_or(0);
            let value: f64 = rest[..len].parse().map_err(|_| {
                ParseError::new(
                    src,
                    start..start + len,
                    format!("`{}` is not a number", &rest[..len]),
                    None,
                )
            })?;
            i += len;
            let ulen = unit_len(&src[i..]);
            let unit = if ulen == 0 {
                None
            } else {
                let symbol = &src[i..i + ulen];
                let unit = Unit::parse(symbol).ok_or_else(|| {
                    let hint = Unit::suggest(symbol)
                        .map_or_else(String::new, |u| format!(" (did you mean `{u}`?)"));
                    ParseError::new(
                        src,
                        i..i + ulen,
                        format!("unknown unit `{symbol}`{hint}"),
                        Some(UNITS_EXPECTED.into()),
                    )
                })?;
                i += ulen;
                Some(unit)
            };
            let q = Quantity::new(value, unit).map_err(|_| {
                ParseError::new(
                    src,
                    start..i,
                    format!("number `{}` is too large", &src[start..i]),
                    None,
                )
            })?;
            Tok::Number(q)
        } else if is_word_start(c) {
            i += rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
            Tok::Word
        } else if c == '\'' {
            let mut text = String::new();
            let mut j = i + 1;
            loop {
                let Some(off) = src[j..].find('\'') else {
                    return Err(ParseError::new(
                        src,
                        start..start + 1,
                        "unterminated string",
                        Some("a closing `'` (write `''` for a quote inside a string)".into()),
                    ));
                };
                text.push_str(&src[j..j + off]);
                j += off + 1;
                if src[j..].starts_with('\'') {
                    text.push('\'');
                    j += 1;
                } else {
                    break;
                }
            }
            i = j;
            Tok::Str(text)
        } else {
            let two = rest.get(..2);
            let (tok, len) = match (c, two) {
                (_, Some("<=")) => (Tok::Cmp(CmpOp::Le), 2),
                (_, Some(">=")) => (Tok::Cmp(CmpOp::Ge), 2),
                (_, Some("!=")) | (_, Some("<>")) => (Tok::Cmp(CmpOp::Ne), 2),
                ('=', _) => (Tok::Cmp(CmpOp::Eq), 1),
                ('<', _) => (Tok::Cmp(CmpOp::Lt), 1),
                ('>', _) => (Tok::Cmp(CmpOp::Gt), 1),
                ('(', _) => (Tok::LParen, 1),
                (')', _) => (Tok::RParen, 1),
                (',', _) => (Tok::Comma, 1),
                ('~', _) => (Tok::Tilde, 1),
                _ => {
                    let hint = if c == '"' {
                        " (strings use single quotes)"
                    } else {
                        ""
                    };
                    return Err(ParseError::new(
                        src,
                        start..start + c.len_utf8(),
                        format!("unexpected character `{c}`{hint}"),
                        None,
                    ));
                }
            };
            i += len;
            tok
        };
        tokens.push(Token {
            tok,
            span: start..i,
        });
    }
    tokens.push(Token {
        tok: Tok::Eof,
        span: src.len()..src.len(),
    });
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        tokenize(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn words_numbers_strings_operators() {
        assert_eq!(
            toks("/imu/data WHERE rate>=100Hz AND x <> 'it''s' ~(-5,.5)"),
            vec![
                Tok::Word,
                Tok::Word,
                Tok::Word,
                Tok::Cmp(CmpOp::Ge),
                Tok::Number(Quantity::parse("100Hz").unwrap()),
                Tok::Word,
                Tok::Word,
                Tok::Cmp(CmpOp::Ne),
                Tok::Str("it's".into()),
                Tok::Tilde,
                Tok::LParen,
                Tok::Number(Quantity::parse("-5").unwrap()),
                Tok::Comma,
                Tok::Number(Quantity::parse("0.5").unwrap()),
                Tok::RParen,
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn errors_point_at_the_token() {
        let e = tokenize("x < 5hz").unwrap_err();
        assert_eq!((e.column(), e.span()), (6, 5..7));
        assert!(e.message().contains("did you mean `Hz`"));
        let e = tokenize("x = 'abc").unwrap_err();
        assert_eq!(e.column(), 5);
        let e = tokenize("x = \"a\"").unwrap_err();
        assert!(e.message().contains("single quotes"));
        let e = tokenize("x = 1e999").unwrap_err();
        assert!(e.message().contains("too large"));
    }
}
