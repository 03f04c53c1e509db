//! One reader for every YAML file vigil reads (tree files, the agent's and
//! the Zenoh bridge's configs, aggregator analyzer files, supervisor files),
//! so their problems look the same and each one names its line.
//!
//! A [`Document`] holds the file's values with their lines and collects
//! [`Problem`]s as it is read; nothing stops at the first one. Values are
//! read through [`Node`]s and mappings through [`Map`]s:
//!
//! ```
//! use std::time::Duration;
//! use vigil_diag::config::Document;
//!
//! let doc = Document::parse("timeout: 2s\nretries: 3\ncolor: red\n", "app.yaml");
//! if let Some(mut top) = doc.root("an app config").and_then(|n| n.map()) {
//!     let timeout: Option<Duration> = top.required("timeout");
//!     let retries: u32 = top.optional("retries").unwrap_or(1);
//!     let colour: Option<String> = top.optional("colour");
//!     top.finish(); // `color` is unknown: did you mean `colour`?
//!     assert_eq!((timeout, retries, colour), (Some(Duration::from_secs(2)), 3, None));
//! }
//! let problems = doc.into_problems();
//! assert_eq!(
//!     problems[0].to_string(),
//!     "app.yaml:3: file: unknown key `color`; did you mean `colour`?; expected timeout, retries or colour"
//! );
//! ```
//!
//! The shapes of messages: `unknown key `k`; did you mean `x`?; expected
//! ...`, `` `k` must be ..., found ...``, `... needs `k``, `` `k` is given
//! twice (first on line N)``, and, as a warning that does not fail a load,
//! `` `old_ms` is deprecated; write `new: 20ms` ``.
//!
//! Durations and rates are written with their unit (`20ms`, `50Hz`): a bare
//! number is refused, since `timeout: 100` could be seconds or
//! milliseconds. [`Map::optional_or_deprecated`] keeps reading a file's
//! older unit-less key with a warning.
//!
//! # Layout
//!
//! - `load`: the text into spanned values (duplicates kept, aliases shared).
//! - `value`: [`FromYaml`] for numbers, text, durations, rates ([`Hertz`]) and
//!   names ([`Named`]).
//! - `suggest`: did-you-mean.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use thiserror::Error;

mod load;
mod suggest;
mod value;

#[cfg(test)]
mod tests;

use load::{Data, Loaded};
pub use suggest::{did_you_mean, shorten};
pub use value::{parse_duration, FromYaml, Hertz, Named};

// The loader's and the resolver's saphyr types stay inside this module:
// readers see only [`Node`] and [`Map`].

/// Whether a problem fails a load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth fixing, but the file is used (a deprecated key).
    Warning,
    /// The file cannot be used.
    Error,
}

/// One problem of a file: where and what.
///
/// Displays as `FILE:LINE: KEY: message`, as compilers print them.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{file}:{line}: {key}: {kind}")]
#[non_exhaustive]
pub struct Problem {
    /// The file, as named to [`Document::parse`].
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// Where in the file: a key path (`topics[0].relay`), or `file`.
    pub key: String,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl Problem {
    /// A problem built by hand (one a reader finds outside the YAML, such
    /// as an unreadable file).
    pub fn new(file: &str, line: u32, key: &str, kind: ProblemKind) -> Problem {
        Problem {
            file: file.to_owned(),
            line,
            key: shorten(key).into_owned(),
            kind,
        }
    }

    /// Whether it fails the load.
    pub fn severity(&self) -> Severity {
        self.kind.severity()
    }
}

/// What is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The text is not YAML.
    #[error("not valid YAML: {0}")]
    Syntax(String),
    /// The file holds no document, or more than one.
    #[error("{0}")]
    Document(String),
    /// A key the format does not have.
    #[error("unknown key `{key}`{}; expected {expected}", suggest(.suggestion))]
    UnknownKey {
        /// The key as written.
        key: String,
        /// The keys allowed there.
        expected: String,
        /// The allowed key it most resembles.
        suggestion: Option<&'static str>,
    },
    /// A name (a rule, a mode, a check kind) the format does not have.
    #[error("unknown {what} `{name}`{}; expected {expected}", suggest(.suggestion))]
    UnknownName {
        /// What kind of name.
        what: String,
        /// The name as written.
        name: String,
        /// The names allowed.
        expected: String,
        /// The allowed name it most resembles.
        suggestion: Option<&'static str>,
    },
    /// A value of the wrong shape.
    #[error("`{key}` must be {expected}, found {found}")]
    WrongType {
        /// The key whose value is wrong.
        key: String,
        /// What it must be.
        expected: String,
        /// What it is.
        found: String,
    },
    /// A required key is absent.
    #[error("{what} needs `{key}`{}", .example.as_ref().map(|e| format!(", e.g. `{e}`")).unwrap_or_default())]
    Missing {
        /// What lacks it (`a topic`).
        what: String,
        /// The missing key.
        key: String,
        /// How to write it.
        example: Option<String>,
    },
    /// The same key twice in one mapping.
    #[error("`{key}` is given twice (first on line {first})")]
    Duplicate {
        /// The key.
        key: String,
        /// The line of the first one, which is the one read.
        first: u32,
    },
    /// A key kept for old files: read, with a warning.
    #[error("`{key}` is deprecated; write {instead}")]
    Deprecated {
        /// The old key.
        key: String,
        /// What to write instead (`` `heartbeat: 20ms` ``).
        instead: String,
    },
    /// A scalar of the right shape that does not read (`100 parsecs`).
    #[error("`{key}: {text}`: {why}")]
    BadValue {
        /// The key.
        key: String,
        /// The value as written.
        text: String,
        /// What is wrong.
        why: String,
    },
    /// Anything else: a value that makes no sense, keys that cannot go
    /// together.
    #[error("{0}")]
    Invalid(String),
}

impl ProblemKind {
    /// Whether it fails the load.
    pub fn severity(&self) -> Severity {
        match self {
            ProblemKind::Deprecated { .. } => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

fn suggest(suggestion: &Option<&'static str>) -> String {
    suggestion
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}

/// A file that cannot be used: every problem found (warnings too), in line
/// order, at least one of them an error.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub struct Error {
    /// The problems.
    pub problems: Vec<Problem>,
}

impl Error {
    /// An error of these problems.
    pub fn new(problems: Vec<Problem>) -> Error {
        Error { problems }
    }
}

impl fmt::Display for Error {
    /// One problem per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            problem.fmt(f)?;
        }
        Ok(())
    }
}

/// The prose list `a, b or c`.
pub fn one_of(names: &[&str]) -> String {
    match names {
        [] => "nothing".to_owned(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// A YAML file being read: its values with their lines, and the problems
/// found so far.
#[derive(Debug)]
pub struct Document {
    file: String,
    loaded: Loaded,
    problems: RefCell<Vec<Problem>>,
}

impl Document {
    /// Parses `text`; `file` names it in problems. A syntax error is a
    /// problem (the only one: nothing after it can be trusted).
    pub fn parse(text: &str, file: &str) -> Document {
        let doc = Document {
            file: file.to_owned(),
            loaded: Loaded::default(),
            problems: RefCell::new(Vec::new()),
        };
        match load::load(text) {
            Ok(loaded) => Document { loaded, ..doc },
            Err(error) => {
                doc.push(error.line, "file", ProblemKind::Syntax(error.message));
                doc
            }
        }
    }

    /// The file's name, as given.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The one document of the file (`what` names the format in the
    /// problem when the file is empty or holds several). Its key is
    /// `file`; its entries' keys are their names.
    pub fn root(&self, what: &str) -> Option<Node<'_>> {
        if self.has_errors() {
            return None;
        }
        match self.loaded.documents.as_slice() {
            [root] => Some(Node {
                doc: self,
                id: *root,
                at: Rc::from(""),
                name: Rc::from("the file"),
                flat: false,
            }),
            [] => {
                let why = format!("the file is empty: expected {what}");
                self.push(1, "file", ProblemKind::Document(why));
                None
            }
            [_, second, ..] => {
                let line = self.loaded.values[*second].line;
                let why = format!("{what} holds one YAML document, this is the second");
                self.push(line, "file", ProblemKind::Document(why));
                None
            }
        }
    }

    /// Records a problem at `line`.
    pub fn push(&self, line: u32, key: &str, kind: ProblemKind) {
        let key = if key.is_empty() { "file" } else { key };
        let problem = Problem::new(&self.file, line, key, kind);
        self.problems.borrow_mut().push(problem);
    }

    /// Whether a problem that fails the load was found.
    pub fn has_errors(&self) -> bool {
        self.problems
            .borrow()
            .iter()
            .any(|p| p.severity() == Severity::Error)
    }

    /// How many errors so far (to tell whether a part added any).
    pub fn error_count(&self) -> usize {
        self.problems
            .borrow()
            .iter()
            .filter(|p| p.severity() == Severity::Error)
            .count()
    }

    /// Every problem, in line order (problems on one line in the order
    /// they were found).
    pub fn into_problems(self) -> Vec<Problem> {
        let mut problems = self.problems.into_inner();
        problems.sort_by_key(|p| p.line);
        problems
    }

    /// `Ok(value)` with the warnings when no problem is an error, else every
    /// problem.
    pub fn finish<T>(self, value: Option<T>) -> Result<(T, Vec<Problem>), Error> {
        let failed = self.has_errors();
        let problems = self.into_problems();
        match value {
            Some(value) if !failed => Ok((value, problems)),
            _ if problems.is_empty() => {
                // A reader that gave up without saying why: still a problem.
                let why = "the file could not be read".to_owned();
                let file = String::new();
                Err(Error::new(vec![Problem::new(
                    &file,
                    1,
                    "file",
                    ProblemKind::Invalid(why),
                )]))
            }
            _ => Err(Error::new(problems)),
        }
    }
}

/// One value of a [`Document`], with its line and its key path.
#[derive(Clone, Debug)]
pub struct Node<'d> {
    doc: &'d Document,
    id: usize,
    at: Rc<str>,
    /// The key it is the value of (`timeout`, `listen[0]`).
    name: Rc<str>,
    /// Children keep this node's key path (tree files name every problem
    /// inside a node entry by the node's path).
    flat: bool,
}

impl<'d> Node<'d> {
    /// The document it belongs to.
    pub fn document(&self) -> &'d Document {
        self.doc
    }

    /// 1-based line where it starts.
    pub fn line(&self) -> u32 {
        self.doc.loaded.values[self.id].line
    }

    /// Its key path, as problems name it (`topics[0].relay`; empty at the
    /// root).
    pub fn key(&self) -> &str {
        &self.at
    }

    /// The key it is the value of (`relay`, `listen[0]`), for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The same value named `at` in problems; with `flat`, so are all of
    /// its children.
    pub fn named(&self, at: &str, flat: bool) -> Node<'d> {
        Node {
            at: Rc::from(at),
            flat,
            ..self.clone()
        }
    }

    fn child(&self, id: usize, name: &str) -> Node<'d> {
        let own = if name.starts_with('[') {
            Rc::from(format!("{}{name}", self.name))
        } else {
            Rc::from(name)
        };
        let at = if self.flat {
            self.at.clone()
        } else if self.at.is_empty() {
            Rc::from(name)
        } else if name.starts_with('[') {
            Rc::from(format!("{}{name}", self.at))
        } else {
            Rc::from(format!("{}.{name}", self.at))
        };
        Node {
            doc: self.doc,
            id,
            at,
            name: own,
            flat: self.flat,
        }
    }

    fn data(&self) -> &'d Data {
        &self.doc.loaded.values[self.id].data
    }

    /// Records a problem at this value.
    pub fn problem(&self, kind: ProblemKind) {
        self.doc.push(self.line(), &self.at, kind);
    }

    /// Records an [`ProblemKind::Invalid`] problem at this value.
    pub fn invalid(&self, why: impl Into<String>) {
        self.problem(ProblemKind::Invalid(why.into()));
    }

    /// Records that this value is not `expected`.
    pub fn wrong_type(&self, expected: impl Into<String>) {
        self.problem(ProblemKind::WrongType {
            key: self.name().to_owned(),
            expected: expected.into(),
            found: self.describe(),
        });
    }

    /// The text of a scalar exactly as written (without quotes).
    pub fn text(&self) -> Option<&'d str> {
        match self.data() {
            Data::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// True for `~`, `null`, an empty value.
    pub fn is_null(&self) -> bool {
        matches!(self.resolved(), Some(saphyr::Scalar::Null))
    }

    fn resolved(&self) -> Option<saphyr::Scalar<'d>> {
        match self.data() {
            Data::Scalar { text, style, tag } => load::resolve(text, *style, tag.as_ref()),
            _ => None,
        }
    }

    /// A finite number (integer or float).
    pub fn number(&self) -> Option<f64> {
        match self.resolved()? {
            saphyr::Scalar::Integer(i) => Some(i as f64),
            saphyr::Scalar::FloatingPoint(f) if f.is_finite() => Some(f.into_inner()),
            _ => None,
        }
    }

    /// A non-negative integer.
    pub fn unsigned(&self) -> Option<u64> {
        match self.resolved()? {
            saphyr::Scalar::Integer(i) => u64::try_from(i).ok(),
            _ => None,
        }
    }

    /// A boolean.
    pub fn boolean(&self) -> Option<bool> {
        match self.resolved()? {
            saphyr::Scalar::Boolean(b) => Some(b),
            _ => None,
        }
    }

    /// Whether it is a mapping.
    pub fn is_map(&self) -> bool {
        matches!(self.data(), Data::Mapping(_))
    }

    /// Whether it is a mapping with no entries.
    pub fn is_empty_map(&self) -> bool {
        matches!(self.data(), Data::Mapping(entries) if entries.is_empty())
    }

    /// Whether it is a sequence.
    pub fn is_list(&self) -> bool {
        matches!(self.data(), Data::Sequence(_))
    }

    /// What it is, for "must be X, found Y" messages.
    pub fn describe(&self) -> String {
        match self.data() {
            Data::Mapping(_) => "a mapping".into(),
            Data::Sequence(_) => "a sequence".into(),
            Data::Unresolved => "an alias".into(),
            Data::Scalar { .. } => match self.resolved() {
                Some(saphyr::Scalar::Null) => "nothing".into(),
                Some(saphyr::Scalar::Boolean(b)) => format!("`{b}`"),
                Some(saphyr::Scalar::Integer(i)) => format!("the number {i}"),
                Some(saphyr::Scalar::FloatingPoint(f)) => format!("the number {f}"),
                Some(saphyr::Scalar::String(s)) => format!("`{}`", shorten(&s)),
                None => "an unreadable value".into(),
            },
        }
    }

    /// Reads it as a `T`, recording the problem if it is not one.
    pub fn get<T: FromYaml>(&self) -> Option<T> {
        match T::from_yaml(self) {
            Ok(value) => Some(value),
            Err(kind) => {
                self.problem(kind);
                None
            }
        }
    }

    /// The items of a sequence, each named `key[i]`; records a problem if
    /// it is not one.
    pub fn items(&self) -> Option<Vec<Node<'d>>> {
        match self.data() {
            Data::Sequence(items) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, &id)| self.child(id, &format!("[{i}]")))
                    .collect(),
            ),
            _ => {
                self.wrong_type("a list");
                None
            }
        }
    }

    /// Each item of a sequence read as a `T`, every bad one recorded;
    /// `None` if any is bad.
    pub fn list<T: FromYaml>(&self) -> Option<Vec<T>> {
        let items = self.items()?;
        let read: Vec<Option<T>> = items.iter().map(Node::get).collect();
        read.into_iter().collect()
    }

    /// The value of `key` if this is a mapping that has it; records
    /// nothing (for a look ahead before the mapping is read).
    pub fn field(&self, key: &str) -> Option<Node<'d>> {
        let Data::Mapping(entries) = self.data() else {
            return None;
        };
        let values = &self.doc.loaded.values;
        entries
            .iter()
            .find(|(k, _)| matches!(&values[*k].data, Data::Scalar { text, .. } if text == key))
            .map(|&(_, v)| self.child(v, key))
    }

    /// The entries of a mapping; records a problem if it is not one (null
    /// reads as an empty mapping). Duplicated keys are recorded here.
    pub fn map(&self) -> Option<Map<'d>> {
        let entries: &[(usize, usize)] = match self.data() {
            Data::Mapping(entries) => entries,
            _ if self.is_null() => &[],
            _ => {
                self.wrong_type("a mapping");
                return None;
            }
        };
        let mut out: Vec<Entry<'d>> = Vec::with_capacity(entries.len());
        for &(key_id, value_id) in entries {
            let key = Node {
                id: key_id,
                ..self.clone()
            };
            let Some(name) = key.text() else {
                let found = key.describe();
                key.problem(ProblemKind::WrongType {
                    key: "a key".into(),
                    expected: "plain text".into(),
                    found,
                });
                continue;
            };
            if let Some(first) = out.iter().find(|e| e.name == name) {
                key.problem(ProblemKind::Duplicate {
                    key: shorten(name).into_owned(),
                    first: first.key.line(),
                });
                continue;
            }
            out.push(Entry {
                name,
                value: self.child(value_id, name),
                key,
                taken: false,
            });
        }
        Some(Map {
            node: self.clone(),
            entries: out,
            asked: Vec::new(),
            what: None,
        })
    }
}

#[derive(Debug)]
struct Entry<'d> {
    name: &'d str,
    key: Node<'d>,
    value: Node<'d>,
    taken: bool,
}

/// The entries of a mapping, read by key. Every key asked for is a known
/// key; [`Map::finish`] reports the entries nobody asked for as unknown,
/// with a suggestion among the known ones.
#[derive(Debug)]
pub struct Map<'d> {
    node: Node<'d>,
    entries: Vec<Entry<'d>>,
    asked: Vec<&'static str>,
    what: Option<String>,
}

impl<'d> Map<'d> {
    /// The mapping itself.
    pub fn node(&self) -> &Node<'d> {
        &self.node
    }

    /// Names what the mapping is, for "X needs `key`" (default: its key
    /// path).
    pub fn describe_as(mut self, what: impl Into<String>) -> Self {
        self.what = Some(what.into());
        self
    }

    /// Declares keys known without reading them.
    pub fn allow(&mut self, keys: &[&'static str]) {
        for key in keys {
            self.value(key);
        }
    }

    /// The value of `key`, if given (which makes `key` a known key).
    pub fn value(&mut self, key: &'static str) -> Option<Node<'d>> {
        if !self.asked.contains(&key) {
            self.asked.push(key);
        }
        let entry = self.entries.iter_mut().find(|e| e.name == key)?;
        entry.taken = true;
        Some(entry.value.clone())
    }

    /// The key and value of `key`, if given.
    pub fn entry(&mut self, key: &'static str) -> Option<(Node<'d>, Node<'d>)> {
        let value = self.value(key)?;
        let entry = self.entries.iter().find(|e| e.name == key)?;
        Some((entry.key.clone(), value))
    }

    /// Whether `key` is given (without reading it).
    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|e| e.name == key)
    }

    /// The value of `key` as a `T`; `None` (and a problem) if it is absent
    /// or not a `T`.
    pub fn required<T: FromYaml>(&mut self, key: &'static str) -> Option<T> {
        self.required_node(key, None)?.get()
    }

    /// The value of `key`, recording a problem (with `example`) if absent.
    pub fn required_node(&mut self, key: &'static str, example: Option<&str>) -> Option<Node<'d>> {
        let found = self.value(key);
        if found.is_none() {
            self.missing(key, example);
        }
        found
    }

    /// Records that `key` is missing.
    pub fn missing(&self, key: &str, example: Option<&str>) {
        let what = match &self.what {
            Some(what) => what.clone(),
            None if self.node.key().is_empty() => "the file".to_owned(),
            None => format!("`{}`", self.node.key()),
        };
        self.node.problem(ProblemKind::Missing {
            what,
            key: key.to_owned(),
            example: example.map(str::to_owned),
        });
    }

    /// The value of `key` as a `T` if given; `None` if absent or not a `T`
    /// (recorded).
    pub fn optional<T: FromYaml>(&mut self, key: &'static str) -> Option<T> {
        self.value(key)?.get()
    }

    /// `key` as a `T`, or else the deprecated `old` key read by `convert`
    /// (its value node to a `T`, or why not) with a warning that says to
    /// write `key: <rewrite of the T>` instead. Both given is a problem.
    pub fn optional_or_deprecated<T: FromYaml>(
        &mut self,
        key: &'static str,
        old: &'static str,
        convert: impl FnOnce(&Node<'d>) -> Result<T, ProblemKind>,
        rewrite: impl FnOnce(&T) -> String,
    ) -> Option<T> {
        let new = self.value(key);
        // The old key is known but never suggested.
        let legacy = self.entries.iter_mut().find(|e| e.name == old).map(|e| {
            e.taken = true;
            (e.key.clone(), e.value.clone())
        });
        match (new, legacy) {
            (Some(new), None) => new.get(),
            (None, None) => None,
            (Some(_), Some((old_key, _))) => {
                old_key.invalid(format!(
                    "`{old}` and `{key}` say the same; give only `{key}`"
                ));
                None
            }
            (None, Some((old_key, value))) => {
                let read = match convert(&value) {
                    Ok(read) => read,
                    Err(kind) => {
                        value.problem(kind);
                        return None;
                    }
                };
                let key_at = value.key().to_owned();
                self.node.doc.push(
                    old_key.line(),
                    &key_at,
                    ProblemKind::Deprecated {
                        key: old.to_owned(),
                        instead: format!("`{key}: {}`", rewrite(&read)),
                    },
                );
                Some(read)
            }
        }
    }

    /// The entries nobody asked for, in file order, without reporting them
    /// (for formats whose other keys are open, such as analyzer names).
    pub fn rest(&mut self) -> Vec<(Node<'d>, Node<'d>)> {
        self.entries
            .iter_mut()
            .filter(|e| !e.taken)
            .map(|e| {
                e.taken = true;
                (e.key.clone(), e.value.clone())
            })
            .collect()
    }

    /// Reports every entry nobody asked for as an unknown key.
    pub fn finish(self) {
        self.finish_expecting(None);
    }

    /// [`Map::finish`] with the expected keys worded by hand.
    pub fn finish_expecting(self, expected: Option<&str>) {
        let expected = expected.map_or_else(|| one_of(&self.asked), str::to_owned);
        for entry in self.entries.iter().filter(|e| !e.taken) {
            let kind = ProblemKind::UnknownKey {
                key: shorten(entry.name).into_owned(),
                expected: expected.clone(),
                suggestion: did_you_mean(entry.name, &self.asked),
            };
            self.node.doc.push(entry.key.line(), self.node.key(), kind);
        }
    }
}
