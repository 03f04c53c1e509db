//! Reading an aggregator parameter file into [`Analyzers`], every problem
//! reported with its line.

use std::collections::HashMap;
use std::time::Duration;

use vigil_diag::config::{shorten, Document, Node};
use vigil_diag::{Path, Tree};

use super::{
    compile, sanitize_label, Analyzer, Analyzers, Entry, ImportError, ImportProblem,
    ImportProblemKind, Mapping, MappingKind,
};

const GENERIC: &str = "GenericAnalyzer";
const GROUP: &str = "AnalyzerGroup";
const GENERIC_KEYS: &[&str] = &[
    "type",
    "path",
    "startswith",
    "contains",
    "name",
    "expected",
    "regex",
    "remove_prefix",
    "find_and_remove_prefix",
    "num_items",
    "timeout",
    "discard_stale",
];
const GROUP_KEYS: &[&str] = &["type", "path", "analyzers"];
/// The aggregator's default item timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a node hangs: its parent's ROS path and vigil path.
#[derive(Clone)]
struct Parent {
    ros: String,
    path: Option<Path>,
}

struct Reader<'s> {
    source: &'s str,
    problems: Vec<ImportProblem>,
    nodes: Vec<Entry>,
    index: HashMap<Path, usize>,
    analyzers: Vec<Analyzer>,
    pub_rate: Option<f64>,
}

pub(super) fn read(text: &str, source: &str) -> Result<Analyzers, ImportError> {
    let mut r = Reader {
        source,
        problems: Vec::new(),
        nodes: Vec::new(),
        index: HashMap::new(),
        analyzers: Vec::new(),
        pub_rate: None,
    };
    let doc = Document::parse(text, source);
    if let Some(root) = doc.root("a parameter file") {
        r.document(&root);
    }
    // What the reader found itself: syntax, document count, duplicate keys.
    for p in doc.into_problems() {
        let kind = match p.kind {
            vigil_diag::config::ProblemKind::Syntax(why) => ImportProblemKind::Syntax(why),
            other => ImportProblemKind::Shape(other.to_string()),
        };
        r.push_at(p.line, &p.key, kind);
    }
    if r.problems.is_empty() && r.nodes.is_empty() {
        let why = "no analyzers: expected `NODE: { ros__parameters: { NAME: { type: diagnostic_aggregator/GenericAnalyzer, path: ..., ... } } }`";
        r.push_at(1, "file", ImportProblemKind::Shape(why.into()));
    }
    let by_path = r
        .analyzers
        .iter()
        .enumerate()
        .map(|(i, a)| (a.path.clone(), i))
        .collect();
    let analyzers = Analyzers {
        source: source.to_owned(),
        nodes: r.nodes,
        analyzers: r.analyzers,
        by_path,
        pub_rate: r.pub_rate,
    };
    let mut problems = r.problems;
    if problems.is_empty() {
        if let Err(error) = Tree::build(&analyzers.tree_spec()) {
            for p in error.problems {
                let line = p.origin.as_ref().map_or(1, |o| o.line);
                let kind = ImportProblemKind::Tree(format!("{}: {}", p.path, p.kind));
                problems.push(problem(source, line, "tree", kind));
            }
        }
    }
    if problems.is_empty() {
        Ok(analyzers)
    } else {
        problems.sort_by_key(|p| p.line);
        Err(ImportError { problems })
    }
}

fn problem(file: &str, line: u32, key: &str, kind: ImportProblemKind) -> ImportProblem {
    ImportProblem {
        file: file.to_owned(),
        line,
        key: shorten(key).into_owned(),
        kind,
    }
}

fn wrong(key: &str, expected: &'static str, node: &Node<'_>) -> ImportProblemKind {
    ImportProblemKind::WrongType {
        key: shorten(key).into_owned(),
        expected,
        found: node.describe(),
    }
}

impl Reader<'_> {
    fn push_at(&mut self, line: u32, key: &str, kind: ImportProblemKind) {
        self.problems.push(problem(self.source, line, key, kind));
    }

    fn push(&mut self, node: &Node<'_>, key: &str, kind: ImportProblemKind) {
        self.push_at(node.line(), key, kind);
    }

    fn document(&mut self, document: &Node<'_>) {
        let Some(top) = entries(document) else {
            let kind = wrong(
                "the file",
                "a mapping `NODE: { ros__parameters: ... }`",
                document,
            );
            self.push(document, "file", kind);
            return;
        };
        let mut found = false;
        for (key, value) in &top {
            let node = key.text().unwrap_or("?").to_owned();
            match value.field("ros__parameters") {
                Some(params) => {
                    found = true;
                    self.parameters(&params, &format!("{node}.ros__parameters"));
                }
                None => {
                    let why = format!("`{}` has no `ros__parameters`: expected a ROS 2 parameter file `NODE: {{ ros__parameters: {{ ... }} }}`", shorten(&node));
                    self.push(key, &node, ImportProblemKind::Shape(why));
                }
            }
        }
        if !found && self.problems.is_empty() {
            let why = "no `ros__parameters`".to_owned();
            self.push(document, "file", ImportProblemKind::Shape(why));
        }
    }

    /// The aggregator node's parameters: the base path, settings, and
    /// analyzers (directly or under `analyzers`).
    fn parameters(&mut self, params: &Node<'_>, at: &str) {
        let Some(entries) = entries(params) else {
            self.push(params, at, wrong("ros__parameters", "a mapping", params));
            return;
        };
        let mut parent = Parent {
            ros: String::new(),
            path: None,
        };
        for (key, value) in &entries {
            let name = key.text().unwrap_or("");
            let here = format!("{at}.{name}");
            match name {
                "path" | "base_path" => {
                    if let Some(base) = self.text(value, &here) {
                        let line = key.line();
                        parent = self.segments(&base, &parent, MappingKind::Base, line, &here);
                    }
                }
                "pub_rate" => match value.number() {
                    Some(rate) if rate > 0.0 => self.pub_rate = Some(rate),
                    _ => self.push(value, &here, wrong(name, "a positive number (Hz)", value)),
                },
                "other_as_errors" | "critical" if value.boolean().is_none() => {
                    self.push(value, &here, wrong(name, "true or false", value));
                }
                "history_depth" if value.unsigned().is_none() => {
                    self.push(value, &here, wrong(name, "a count", value));
                }
                _ => {}
            }
        }
        for (key, value) in &entries {
            let name = key.text().unwrap_or("?");
            let here = format!("{at}.{name}");
            match name {
                "path" | "base_path" | "pub_rate" | "other_as_errors" | "critical"
                | "history_depth" => {}
                "analyzers" if !has_type(value) => self.children(value, &parent, &here),
                _ if value.is_map() => self.analyzer(key, value, &parent, &here),
                _ => {
                    let kind = ImportProblemKind::UnknownKey {
                        key: name.to_owned(),
                        of: "diagnostic_aggregator node",
                        suggestion: None,
                    };
                    self.push(key, &here, kind);
                }
            }
        }
    }

    fn children(&mut self, value: &Node<'_>, parent: &Parent, at: &str) {
        let Some(entries) = entries(value) else {
            self.push(
                value,
                at,
                wrong("analyzers", "a mapping of analyzers", value),
            );
            return;
        };
        for (key, child) in &entries {
            let here = format!("{at}.{}", key.text().unwrap_or("?"));
            if child.is_map() {
                self.analyzer(key, child, parent, &here);
            } else {
                self.push(
                    child,
                    &here,
                    wrong(&here, "an analyzer (a mapping with `type`)", child),
                );
            }
        }
    }

    fn analyzer(&mut self, key: &Node<'_>, value: &Node<'_>, parent: &Parent, at: &str) {
        let fields: Vec<Field<'_>> = entries(value).into_iter().flatten().collect();
        let get = |k: &str| field(&fields, k);
        let kind = match get("type") {
            None => {
                self.push(key, at, ImportProblemKind::Missing("type"));
                None
            }
            Some(t) => {
                match t
                    .text()
                    .map(|s| s.strip_prefix("diagnostic_aggregator/").unwrap_or(s))
                {
                    Some(GENERIC) => Some(GENERIC),
                    Some(GROUP) => Some(GROUP),
                    _ => {
                        let name = t.text().map_or_else(|| t.describe(), str::to_owned);
                        self.push(
                            t,
                            at,
                            ImportProblemKind::UnknownType(shorten(&name).into_owned()),
                        );
                        None
                    }
                }
            }
        };
        let allowed = if kind == Some(GROUP) {
            GROUP_KEYS
        } else {
            GENERIC_KEYS
        };
        if let Some(of) = kind {
            for (f, _) in &fields {
                let name = f.text().unwrap_or("?");
                if !allowed.contains(&name) {
                    let suggestion = vigil_diag::config::did_you_mean(name, allowed);
                    let kind = ImportProblemKind::UnknownKey {
                        key: shorten(name).into_owned(),
                        of,
                        suggestion,
                    };
                    self.push(f, at, kind);
                }
            }
        }
        let line = key.line();
        let path = match get("path") {
            None => {
                self.push(key, at, ImportProblemKind::Missing("path"));
                None
            }
            Some(p) => self.text(p, &format!("{at}.path")),
        };
        match kind {
            Some(GROUP) => {
                let here = path.map(|p| self.segments(&p, parent, MappingKind::Group, line, at));
                let children_parent = here.unwrap_or_else(|| parent.clone());
                match get("analyzers") {
                    Some(children) => {
                        self.children(children, &children_parent, &format!("{at}.analyzers"))
                    }
                    None => self.push(key, at, ImportProblemKind::Missing("analyzers")),
                }
            }
            Some(_) => self.generic(key, &fields, path, parent, at),
            None => {}
        }
    }

    fn generic(
        &mut self,
        key: &Node<'_>,
        fields: &[Field<'_>],
        path: Option<String>,
        parent: &Parent,
        at: &str,
    ) {
        let get = |k: &str| field(fields, k);
        let line = key.line();
        let list = |r: &mut Self, k: &str| -> Vec<String> {
            get(k)
                .map(|v| r.strings(v, &format!("{at}.{k}")))
                .unwrap_or_default()
        };
        let startswith = list(self, "startswith");
        let contains = list(self, "contains");
        let name = list(self, "name");
        let expected = list(self, "expected");
        let patterns = list(self, "regex");
        let remove = list(self, "remove_prefix");
        let find_and_remove = list(self, "find_and_remove_prefix");
        let mut regex = Vec::new();
        for pattern in &patterns {
            match compile(pattern) {
                Ok(r) => regex.push(r),
                Err(why) => {
                    let node = get("regex").unwrap_or(key);
                    let kind = ImportProblemKind::BadRegex {
                        pattern: shorten(pattern).into_owned(),
                        why,
                    };
                    self.push(node, &format!("{at}.regex"), kind);
                }
            }
        }
        let mut note = Vec::new();
        let timeout = match get("timeout") {
            None => Some(DEFAULT_TIMEOUT),
            Some(v) => match v.number() {
                Some(t) if t <= 0.0 => {
                    note.push("timeout <= 0: never stale".to_owned());
                    None
                }
                Some(t) => match Duration::try_from_secs_f64(t) {
                    // A positive timeout below a nanosecond is still a timeout.
                    Ok(d) => {
                        note.push(format!("timeout: {t}s"));
                        Some(d.max(Duration::from_nanos(1)))
                    }
                    Err(_) => {
                        self.push(
                            v,
                            &format!("{at}.timeout"),
                            wrong("timeout", "a number of seconds", v),
                        );
                        None
                    }
                },
                None => {
                    self.push(
                        v,
                        &format!("{at}.timeout"),
                        wrong("timeout", "a number of seconds", v),
                    );
                    None
                }
            },
        };
        if let Some(v) = get("num_items") {
            match v.unsigned() {
                Some(n) => note.push(format!("num_items: {n} (not enforced)")),
                None => self.push(
                    v,
                    &format!("{at}.num_items"),
                    wrong("num_items", "a count", v),
                ),
            }
        }
        if let Some(v) = get("discard_stale") {
            match v.boolean() {
                Some(true) => {
                    note.push("discard_stale: not applied, stale items are UNKNOWN".to_owned())
                }
                Some(false) => {}
                None => self.push(
                    v,
                    &format!("{at}.discard_stale"),
                    wrong("discard_stale", "true or false", v),
                ),
            }
        }
        let rules = [
            ("startswith", &startswith),
            ("contains", &contains),
            ("name", &name),
            ("regex", &patterns),
            ("remove_prefix", &remove),
            ("find_and_remove_prefix", &find_and_remove),
        ];
        let mut matchers: Vec<String> = rules
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}: {}", quoted(v)))
            .collect();
        matchers.extend(note);
        let matches_something = [
            &startswith,
            &contains,
            &name,
            &expected,
            &patterns,
            &find_and_remove,
        ]
        .iter()
        .any(|v| !v.is_empty());
        if !matches_something {
            self.push(key, at, ImportProblemKind::MatchesNothing);
        }
        let Some(path) = path else { return };
        let here = self.segments(&path, parent, MappingKind::Analyzer, line, at);
        let Some(vigil_path) = here.path.clone() else {
            return;
        };
        if let Some(i) = self.index.get(&vigil_path).copied() {
            let note = &mut self.nodes[i].mapping.note;
            if note.is_empty() {
                *note = matchers.join("; ");
            }
        }
        let mut chaff = remove;
        chaff.extend(find_and_remove.iter().cloned());
        let mut starts = startswith;
        starts.extend(find_and_remove);
        let analyzer = Analyzer {
            path: vigil_path.clone(),
            ros_path: here.ros.clone(),
            line,
            startswith: starts,
            contains,
            name,
            expected,
            regex,
            chaff,
            timeout,
        };
        for item in &analyzer.expected {
            let output = analyzer.output_name(item);
            let Ok(path) = vigil_path.child(&sanitize_label(&output)) else {
                continue;
            };
            let mapping = Mapping {
                ros_path: format!("{}/{output}", analyzer.ros_path),
                path,
                kind: MappingKind::Expected,
                note: String::new(),
            };
            self.add(mapping, line, Some(analyzer.timeout), at);
        }
        self.analyzers.push(analyzer);
    }

    /// Adds one node per `/`-separated segment of `ros` under `parent`;
    /// the last gets `kind`, the ones before it are groups.
    fn segments(
        &mut self,
        ros: &str,
        parent: &Parent,
        kind: MappingKind,
        line: u32,
        at: &str,
    ) -> Parent {
        let parts: Vec<&str> = ros.split('/').filter(|s| !s.trim().is_empty()).collect();
        if parts.is_empty() {
            self.push_at(
                line,
                at,
                ImportProblemKind::Shape(format!("`path: {ros}` names nothing")),
            );
            return parent.clone();
        }
        let mut here = parent.clone();
        for (i, part) in parts.iter().enumerate() {
            let label = sanitize_label(part);
            let path = match &here.path {
                Some(p) => p.child(&label),
                None => Path::parse(&label),
            };
            let Ok(path) = path else { return here };
            here = Parent {
                ros: format!("{}/{part}", here.ros),
                path: Some(path.clone()),
            };
            let this_kind = match (i + 1 == parts.len(), kind) {
                (true, k) | (false, k @ MappingKind::Base) => k,
                (false, _) => MappingKind::Group,
            };
            let mapping = Mapping {
                ros_path: here.ros.clone(),
                path,
                kind: this_kind,
                note: String::new(),
            };
            self.add(mapping, line, None, at);
        }
        here
    }

    /// Records a node, or a collision with the node already at its path.
    /// The same ROS path twice (two analyzers sharing a `path`) is one node.
    fn add(&mut self, mapping: Mapping, line: u32, leaf: Option<Option<Duration>>, at: &str) {
        if let Some(&i) = self.index.get(&mapping.path) {
            let other = &self.nodes[i];
            let same = other.mapping.ros_path == mapping.ros_path
                && other.leaf.is_none()
                && leaf.is_none();
            if !same {
                let kind = ImportProblemKind::Collision {
                    ros_path: mapping.ros_path,
                    path: mapping.path.to_string(),
                    other: other.mapping.ros_path.clone(),
                    other_line: other.line,
                };
                self.push_at(line, at, kind);
            }
            return;
        }
        self.index.insert(mapping.path.clone(), self.nodes.len());
        self.nodes.push(Entry {
            mapping,
            line,
            leaf,
        });
    }

    /// A scalar's text (numbers and booleans as written).
    fn text(&mut self, node: &Node<'_>, at: &str) -> Option<String> {
        let text = node.text();
        if text.is_none() {
            self.push(
                node,
                at,
                wrong(at.rsplit('.').next().unwrap_or(at), "text", node),
            );
        }
        text.map(str::to_owned)
    }

    /// One string or a list of strings, as ROS 2 parameters allow.
    fn strings(&mut self, node: &Node<'_>, at: &str) -> Vec<String> {
        if node.is_list() {
            let items = node.items().unwrap_or_default();
            items.iter().filter_map(|i| self.text(i, at)).collect()
        } else {
            self.text(node, at).into_iter().collect()
        }
    }
}

/// A key and its value in a mapping.
type Field<'d> = (Node<'d>, Node<'d>);

/// The entries of a mapping (their names are open: analyzer names),
/// `None` if it is not one.
fn entries<'d>(node: &Node<'d>) -> Option<Vec<Field<'d>>> {
    let mut map = node.is_map().then(|| node.map())??;
    Some(map.rest())
}

fn field<'f, 'd>(fields: &'f [Field<'d>], key: &str) -> Option<&'f Node<'d>> {
    fields
        .iter()
        .find(|(k, _)| k.text() == Some(key))
        .map(|(_, v)| v)
}

fn has_type(node: &Node<'_>) -> bool {
    node.field("type").is_some()
}

fn quoted(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", inner.join(", "))
}
