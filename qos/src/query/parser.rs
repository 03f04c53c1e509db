//! Recursive descent, one function per precedence level
//! (`query` → `clause` → `or` → `and` → `not` → `primary` → `operand`),
//! with the static type checks that need source positions (dimensions,
//! names of health trends and QoS kinds) done as each comparison is built.

use std::ops::Range;

use vigil_diag::{Path, Pattern, State};

use super::ast::{
    is_keyword, Clause, CmpOp, Direction, Expr, Literal, Operand, Order, QosField, Query,
};
use super::error::ParseError;
use super::lexer::{tokenize, Tok, Token};
use super::typing::{coerce, Ty};
use crate::capability::Key;

/// Deepest nesting of parentheses and `NOT`.
const MAX_DEPTH: usize = 64;
/// Most conditions and operators in one query; keeps every recursive walk
/// of the tree shallow.
const MAX_NODES: usize = 1024;

type Result<T> = std::result::Result<T, ParseError>;

pub(crate) fn parse(src: &str) -> Result<Query> {
    let tokens = tokenize(src)?;
    let mut p = Parser {
        src,
        tokens,
        pos: 0,
        depth: 0,
        nodes: 0,
    };
    p.query()
}

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    nodes: usize,
}

const EXPECT_OPERAND: &str =
    "a capability key, a literal, health.state, health.confidence, health.trend, \
     health('path'), qos.reliability, qos.durability, qos.deadline, qos.liveliness or path";
const EXPECT_CONDITION: &str =
    "a condition: `operand op operand`, `operand IN (...)`, EXISTS key, \
     path ~ 'lquery', NOT or `(`";

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // `tokenize` always ends with Eof and `bump` never passes it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if token.tok != Tok::Eof {
            self.pos += 1;
        }
        token
    }

    fn text(&self, span: &Range<usize>) -> &str {
        &self.src[span.clone()]
    }

    /// True (and consumed) when the next token is the keyword `kw`.
    fn eat_keyword(&mut self, kw: &str) -> bool {
        let t = self.peek();
        if t.tok == Tok::Word && self.text(&t.span).eq_ignore_ascii_case(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn is_keyword_next(&self, kw: &str) -> bool {
        let t = self.peek();
        t.tok == Tok::Word && self.text(&t.span).eq_ignore_ascii_case(kw)
    }

    fn describe(&self, t: &Token) -> String {
        match &t.tok {
            Tok::Eof => "end of query".into(),
            Tok::Str(_) => format!("string {}", self.text(&t.span)),
            Tok::Word if is_keyword(self.text(&t.span)) => {
                format!("keyword {}", self.text(&t.span).to_uppercase())
            }
            _ => format!("`{}`", self.text(&t.span)),
        }
    }

    fn unexpected(&self, t: &Token, expected: &str) -> ParseError {
        ParseError::new(
            self.src,
            t.span.clone(),
            format!("unexpected {}", self.describe(t)),
            Some(expected.into()),
        )
    }

    fn error(&self, span: Range<usize>, message: String, expected: Option<String>) -> ParseError {
        ParseError::new(self.src, span, message, expected)
    }

    fn count_node(&mut self, span: &Range<usize>) -> Result<()> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(self.error(
                span.clone(),
                format!("query has more than {MAX_NODES} conditions and operators"),
                None,
            ));
        }
        Ok(())
    }

    fn query(&mut self) -> Result<Query> {
        let mut clauses = vec![self.clause()?];
        loop {
            if self.eat_keyword("ELSE") {
                clauses.push(self.clause()?);
                continue;
            }
            let t = self.peek().clone();
            if t.tok == Tok::Eof {
                return Ok(Query { clauses });
            }
            let last = clauses.last();
            let expected = match last {
                Some(c) if !c.prefer.is_empty() => "`,`, ELSE or end of query",
                Some(c) if c.filter.is_some() => "AND, OR, PREFER, ELSE or end of query",
                _ => "WHERE, PREFER, ELSE or end of query",
            };
            return Err(self.unexpected(&t, expected));
        }
    }

    fn clause(&mut self) -> Result<Clause> {
        let topic = self.topic()?;
        let filter = if self.eat_keyword("WHERE") {
            Some(self.or()?)
        } else {
            None
        };
        let mut prefer = Vec::new();
        if self.eat_keyword("PREFER") {
            loop {
                prefer.push(self.order()?);
                if self.peek().tok == Tok::Comma {
                    self.pos += 1;
                } else {
                    break;
                }
            }
        }
        Ok(Clause {
            topic,
            filter,
            prefer,
        })
    }

    fn topic(&mut self) -> Result<String> {
        const EXPECTED: &str =
            "a topic: a bare name such as imu, /imu/data, sensors.imu, or a 'quoted' name";
        let t = self.bump();
        match &t.tok {
            Tok::Word if !is_keyword(self.text(&t.span)) => Ok(self.text(&t.span).to_owned()),
            Tok::Str(s) if !s.is_empty() => Ok(s.clone()),
            Tok::Str(_) => Err(self.error(
                t.span.clone(),
                "empty topic name".into(),
                Some(EXPECTED.into()),
            )),
            _ => Err(self.unexpected(&t, EXPECTED)),
        }
    }

    fn order(&mut self) -> Result<Order> {
        let (operand, span) = self.operand()?;
        if matches!(operand, Operand::Literal(_)) {
            return Err(self.error(
                span,
                "PREFER needs something that differs between producers, not a constant".into(),
                Some(EXPECT_OPERAND.replace("a literal, ", "")),
            ));
        }
        let direction = if self.eat_keyword("DESC") {
            Direction::Desc
        } else {
            self.eat_keyword("ASC");
            Direction::Asc
        };
        Ok(Order { operand, direction })
    }

    fn or(&mut self) -> Result<Expr> {
        let mut left = self.and()?;
        while self.is_keyword_next("OR") {
            let span = self.bump().span;
            self.count_node(&span)?;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr> {
        let mut left = self.not()?;
        while self.is_keyword_next("AND") {
            let span = self.bump().span;
            self.count_node(&span)?;
            let right = self.not()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr> {
        if self.is_keyword_next("NOT") {
            let span = self.bump().span;
            self.count_node(&span)?;
            let inner = self.nested(&span, Self::not)?;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn nested(&mut self, span: &Range<usize>, f: fn(&mut Self) -> Result<Expr>) -> Result<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(
                span.clone(),
                format!("conditions nested more than {MAX_DEPTH} deep"),
                None,
            ));
        }
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn primary(&mut self) -> Result<Expr> {
        let t = self.peek().clone();
        self.count_node(&t.span)?;
        if t.tok == Tok::LParen {
            self.pos += 1;
            let inner = self.nested(&t.span, Self::or)?;
            let close = self.bump();
            if close.tok != Tok::RParen {
                let expected = "`)`, AND or OR";
                return Err(self.unexpected(&close, expected));
            }
            return Ok(inner);
        }
        if self.eat_keyword("EXISTS") {
            let k = self.bump();
            let word = self.text(&k.span).to_owned();
            if k.tok != Tok::Word || is_keyword(&word) {
                return Err(self.unexpected(&k, "a capability key"));
            }
            let key = Key::new(&word).map_err(|e| {
                self.error(
                    k.span.clone(),
                    e.to_string(),
                    Some("a capability key".into()),
                )
            })?;
            return Ok(Expr::Exists(key));
        }
        if matches!(
            t.tok,
            Tok::Eof | Tok::RParen | Tok::Comma | Tok::Cmp(_) | Tok::Tilde
        ) || t.tok == Tok::Word && is_keyword(self.text(&t.span)) && !self.is_literal_keyword(&t)
        {
            return Err(self.unexpected(&t, EXPECT_CONDITION));
        }
        self.condition()
    }

    fn is_literal_keyword(&self, t: &Token) -> bool {
        let w = self.text(&t.span);
        ["TRUE", "FALSE", "OK", "DEGRADED", "FAILED", "UNKNOWN"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(w))
    }

    fn condition(&mut self) -> Result<Expr> {
        let (left, _) = self.operand()?;
        let t = self.peek().clone();
        match t.tok {
            Tok::Cmp(op) => {
                self.pos += 1;
                let (right, right_span) = self.operand()?;
                self.compare(left, op, right, right_span, &t.span)
            }
            Tok::Tilde => {
                self.pos += 1;
                if left != Operand::Path {
                    return Err(self.error(
                        t.span.clone(),
                        format!("`~` matches the producer's diagnostic path, not {left}"),
                        Some("`path ~ 'lquery'`".into()),
                    ));
                }
                let p = self.bump();
                let Tok::Str(text) = &p.tok else {
                    return Err(
                        self.unexpected(&p, "a quoted lquery pattern such as 'vehicle.*.imu'")
                    );
                };
                let pattern = Pattern::parse(text).map_err(|e| {
                    self.error(
                        p.span.clone(),
                        format!("invalid lquery pattern: {e}"),
                        Some("an lquery pattern such as 'vehicle.*.imu'".into()),
                    )
                })?;
                Ok(Expr::PathMatch(pattern))
            }
            Tok::Word if self.is_keyword_next("IN") => {
                self.pos += 1;
                self.in_list(left)
            }
            Tok::Word if self.is_keyword_next("NOT") => {
                // `x NOT IN (...)` is `NOT x IN (...)`.
                self.pos += 1;
                if !self.eat_keyword("IN") {
                    let n = self.peek().clone();
                    return Err(self.unexpected(&n, "IN after NOT"));
                }
                Ok(Expr::Not(Box::new(self.in_list(left)?)))
            }
            _ => Err(self.unexpected(&t, "a comparison (=, !=, <, <=, >, >=), IN or ~")),
        }
    }

    fn compare(
        &self,
        left: Operand,
        op: CmpOp,
        right: Operand,
        right_span: Range<usize>,
        op_span: &Range<usize>,
    ) -> Result<Expr> {
        let (lt, rt) = (Ty::of(&left), Ty::of(&right));
        let left = self.coerce_operand(left, rt, op_span)?;
        let right = self.coerce_operand(right, lt, &right_span)?;
        let (lt, rt) = (Ty::of(&left), Ty::of(&right));
        if !lt.compatible(rt) {
            return Err(self.mismatch(&left, lt, &right, rt, right_span));
        }
        if op.is_ordering() && (!lt.ordered() || !rt.ordered()) {
            let ty = if lt.ordered() { rt } else { lt };
            return Err(self.error(
                op_span.clone(),
                format!("`{}` does not apply to {}", op.as_str(), ty.describe()),
                Some("= or !=".into()),
            ));
        }
        Ok(Expr::Compare { left, op, right })
    }

    fn mismatch(
        &self,
        left: &Operand,
        lt: Ty,
        right: &Operand,
        rt: Ty,
        span: Range<usize>,
    ) -> ParseError {
        let what = if matches!((lt, rt), (Ty::Num(_), Ty::Num(_))) {
            "dimension mismatch"
        } else {
            "type mismatch"
        };
        self.error(
            span,
            format!(
                "{what}: `{left}` is {} but `{right}` is {}",
                lt.describe(),
                rt.describe()
            ),
            Some(lt.describe()),
        )
    }

    /// A quoted string compared with a typed operand becomes that type.
    fn coerce_operand(&self, operand: Operand, other: Ty, span: &Range<usize>) -> Result<Operand> {
        let Operand::Literal(Literal::Text(text)) = &operand else {
            return Ok(operand);
        };
        match coerce(text, other) {
            None => Ok(operand),
            Some(Ok(lit)) => Ok(Operand::Literal(lit)),
            Some(Err(())) => Err(self.error(
                span.clone(),
                format!("'{text}' is not {}", other.describe()),
                Some(other.describe()),
            )),
        }
    }

    fn in_list(&mut self, operand: Operand) -> Result<Expr> {
        let open = self.bump();
        if open.tok != Tok::LParen {
            return Err(self.unexpected(&open, "`(` and a list of literals"));
        }
        let ty = Ty::of(&operand);
        let mut list = Vec::new();
        loop {
            let (item, span) = self.operand()?;
            if !matches!(item, Operand::Literal(_)) {
                return Err(self.error(
                    span,
                    format!("IN lists literals, not {item}"),
                    Some("a literal".into()),
                ));
            }
            let item = self.coerce_operand(item, ty, &span)?;
            let it = Ty::of(&item);
            if !ty.compatible(it) {
                return Err(self.mismatch(&operand, ty, &item, it, span));
            }
            if let Operand::Literal(lit) = item {
                list.push(lit);
            }
            let t = self.bump();
            match t.tok {
                Tok::Comma => continue,
                Tok::RParen => break,
                _ => return Err(self.unexpected(&t, "`,` or `)`")),
            }
        }
        Ok(Expr::In { operand, list })
    }

    fn operand(&mut self) -> Result<(Operand, Range<usize>)> {
        let t = self.bump();
        let span = t.span.clone();
        let operand = match &t.tok {
            Tok::Number(q) => Operand::Literal(Literal::Number(*q)),
            Tok::Str(s) => Operand::Literal(Literal::Text(s.clone())),
            Tok::Word => {
                let word = self.text(&span).to_owned();
                let lower = word.to_ascii_lowercase();
                match lower.as_str() {
                    "true" => Operand::Literal(Literal::Bool(true)),
                    "false" => Operand::Literal(Literal::Bool(false)),
                    "ok" => Operand::Literal(Literal::State(State::Ok)),
                    "degraded" => Operand::Literal(Literal::State(State::Degraded)),
                    "unknown" => Operand::Literal(Literal::State(State::Unknown)),
                    "failed" => Operand::Literal(Literal::State(State::Failed)),
                    _ if is_keyword(&word) => return Err(self.unexpected(&t, EXPECT_OPERAND)),
                    "health.state" => Operand::HealthState,
                    "health.confidence" => Operand::HealthConfidence,
                    "health.trend" => Operand::HealthTrend,
                    "path" => Operand::Path,
                    "health" => return self.health_of(span),
                    _ => {
                        if let Some(field) = lower.strip_prefix("qos.") {
                            let field = QosField::NAMES
                                .iter()
                                .find(|(_, n)| *n == field)
                                .map(|(f, _)| *f);
                            match field {
                                Some(f) => Operand::Qos(f),
                                None => {
                                    let names: Vec<String> = QosField::NAMES
                                        .iter()
                                        .map(|(_, n)| format!("qos.{n}"))
                                        .collect();
                                    return Err(self.error(
                                        span,
                                        format!("unknown QoS field `{word}`"),
                                        Some(names.join(", ")),
                                    ));
                                }
                            }
                        } else if lower.starts_with("health.") {
                            return Err(self.error(
                                span,
                                format!("unknown health field `{word}`"),
                                Some("health.state, health.confidence, health.trend or health('path')".into()),
                            ));
                        } else {
                            let key = Key::new(&word).map_err(|e| {
                                self.error(span.clone(), e.to_string(), Some(EXPECT_OPERAND.into()))
                            })?;
                            Operand::Key(key)
                        }
                    }
                }
            }
            _ => return Err(self.unexpected(&t, EXPECT_OPERAND)),
        };
        Ok((operand, span))
    }

    /// `health('sub.path')`, after the word `health`.
    fn health_of(&mut self, start: Range<usize>) -> Result<(Operand, Range<usize>)> {
        let open = self.bump();
        if open.tok != Tok::LParen {
            return Err(self.unexpected(
                &open,
                "`(` and a quoted path, as in health('vehicle.sensors')",
            ));
        }
        let p = self.bump();
        let Tok::Str(text) = &p.tok else {
            return Err(self.unexpected(&p, "a quoted path such as 'vehicle.sensors'"));
        };
        let path = Path::parse(text).map_err(|e| {
            self.error(
                p.span.clone(),
                e.to_string(),
                Some("a dotted path of [A-Za-z0-9_] labels".into()),
            )
        })?;
        let close = self.bump();
        if close.tok != Tok::RParen {
            return Err(self.unexpected(&close, "`)`"));
        }
        Ok((Operand::HealthOf(path), start.start..close.span.end))
    }
}
