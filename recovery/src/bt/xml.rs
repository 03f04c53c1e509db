//! BehaviorTree.CPP v4 XML into a [`BehaviorTree`]: the documented subset
//! only, every problem with its line.
//!
//! The subset: `<root BTCPP_format="4" main_tree_to_execute="ID">` holding
//! `<BehaviorTree ID="...">` elements (and a `<TreeNodesModel>`, which
//! Groot2 writes to describe custom nodes and which is skipped); in a tree,
//! the control nodes, decorators and vigil leaves listed in the module docs
//! of [`crate::bt`], and `<SubTree ID="..."/>`. Nodes may also be written
//! in the explicit form `<Action ID="Restart" .../>` (likewise `Condition`,
//! `Control`, `Decorator`). Any other element or attribute (scripting
//! pre/post conditions such as `_skipIf`, ports remapping, `<include>`) is
//! an error naming it and its line: a tree that would mean something else
//! in BehaviorTree.CPP is refused, never half-run.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use roxmltree::{Document, Node as XmlNode, ParsingOptions};
use vigil_diag::config::{did_you_mean, one_of, parse_duration};
use vigil_diag::{is_valid_label, Path, State, Trend};
use vigil_qos::Query;

use super::node::{Action, BehaviorTree, Condition, Kind, LogLevel, Node, StateTest};

/// Elements nested deeper than this are refused (a bound on recursion for
/// hostile files; real trees are a few levels deep).
const MAX_DEPTH: usize = 64;
/// The main tree may not expand (subtrees inlined) to more nodes than this.
const MAX_NODES: usize = 10_000;
/// XML nodes (elements, text, comments) a file may hold.
const MAX_XML_NODES: u32 = 200_000;

/// One problem of a behaviour tree file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct XmlProblem {
    /// 1-based line.
    pub line: u32,
    /// The element it is about (`Sequence`, `root`), or `file`.
    pub element: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for XmlProblem {
    /// `LINE: <element>: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.element == "file" {
            write!(f, "{}: {}", self.line, self.message)
        } else {
            write!(f, "{}: <{}>: {}", self.line, self.element, self.message)
        }
    }
}

/// A behaviour tree file that cannot be used: every problem, in line order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct XmlError {
    /// At least one.
    pub problems: Vec<XmlProblem>,
}

impl XmlError {
    /// One `FILE:LINE: <element>: message` line per problem.
    pub fn render(&self, file: &str) -> String {
        let lines: Vec<String> = self
            .problems
            .iter()
            .map(|p| format!("{file}:{p}"))
            .collect();
        lines.join("\n")
    }
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            p.fmt(f)?;
        }
        Ok(())
    }
}

const CONTROLS: &[&str] = &[
    "Sequence",
    "ReactiveSequence",
    "Fallback",
    "ReactiveFallback",
    "Parallel",
    "IfThenElse",
];
const DECORATORS: &[&str] = &[
    "Inverter",
    "ForceSuccess",
    "ForceFailure",
    "Repeat",
    "RetryUntilSuccessful",
    "Timeout",
    "Delay",
    "KeepRunningUntilFailure",
    "SubTree",
];
const CONDITIONS: &[&str] = &["Health", "Trend", "Available", "InMode"];
const ACTIONS: &[&str] = &[
    "Restart", "Stop", "Isolate", "Release", "SetMode", "Run", "Wait", "Log",
];
/// Every node element of the subset, for did-you-mean.
const ALL: &[&str] = &[
    "Sequence",
    "ReactiveSequence",
    "Fallback",
    "ReactiveFallback",
    "Parallel",
    "IfThenElse",
    "Inverter",
    "ForceSuccess",
    "ForceFailure",
    "Repeat",
    "RetryUntilSuccessful",
    "Timeout",
    "Delay",
    "KeepRunningUntilFailure",
    "SubTree",
    "Health",
    "Trend",
    "Available",
    "InMode",
    "Restart",
    "Stop",
    "Isolate",
    "Release",
    "SetMode",
    "Run",
    "Wait",
    "Log",
];
/// The explicit forms, whose `ID` names the node.
const GENERIC: &[&str] = &["Action", "Condition", "Control", "Decorator"];

/// A node as written, before subtrees are expanded.
struct Def {
    kind: Kind,
    /// For `SubTree`: the tree it names.
    subtree: Option<String>,
    children: Vec<Def>,
    line: u32,
    element: String,
    name: Option<String>,
}

struct Reader<'a, 'i> {
    doc: &'a Document<'i>,
    problems: Vec<XmlProblem>,
    /// Every `<SubTree ID>` read, with its line, to check they exist.
    refs: Vec<(String, u32)>,
}

/// Reads a behaviour tree file. `Err` holds every problem found, in line
/// order.
pub fn load_bt_str(text: &str) -> Result<BehaviorTree, XmlError> {
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_XML_NODES,
        ..ParsingOptions::default()
    };
    let doc = match Document::parse_with_options(text, options) {
        Ok(doc) => doc,
        Err(e) => {
            return Err(XmlError {
                problems: vec![XmlProblem {
                    line: e.pos().row.max(1),
                    element: "file".into(),
                    message: format!("not XML: {e}"),
                }],
            })
        }
    };
    let mut r = Reader {
        doc: &doc,
        problems: Vec::new(),
        refs: Vec::new(),
    };
    let tree = r.file();
    let mut problems = r.problems;
    match tree {
        Some(tree) if problems.is_empty() => Ok(tree),
        _ => {
            if problems.is_empty() {
                problems.push(XmlProblem {
                    line: 1,
                    element: "file".into(),
                    message: "the file could not be read".into(),
                });
            }
            problems.sort_by_key(|p| p.line);
            Err(XmlError { problems })
        }
    }
}

/// The attributes of one element, read by name; those nobody asked for are
/// reported by [`Attrs::finish`].
struct Attrs<'a> {
    element: String,
    line: u32,
    given: Vec<(&'a str, &'a str, bool)>,
    asked: Vec<&'static str>,
}

impl<'a> Attrs<'a> {
    fn get(&mut self, key: &'static str) -> Option<&'a str> {
        if !self.asked.contains(&key) {
            self.asked.push(key);
        }
        let entry = self.given.iter_mut().find(|(k, _, _)| *k == key)?;
        entry.2 = true;
        Some(entry.1)
    }
}

impl<'a, 'i> Reader<'a, 'i> {
    fn line(&self, node: XmlNode<'_, '_>) -> u32 {
        self.doc.text_pos_at(node.range().start).row
    }

    fn problem(&mut self, line: u32, element: &str, message: impl Into<String>) {
        self.problems.push(XmlProblem {
            line,
            element: element.to_owned(),
            message: message.into(),
        });
    }

    fn attrs(&mut self, node: XmlNode<'a, 'i>, element: &str) -> Attrs<'a> {
        Attrs {
            element: element.to_owned(),
            line: self.line(node),
            given: node
                .attributes()
                .map(|a| (a.name(), a.value(), false))
                .collect(),
            asked: Vec::new(),
        }
    }

    fn finish(&mut self, attrs: Attrs<'_>) {
        for (key, _, taken) in &attrs.given {
            if *taken {
                continue;
            }
            let hint = did_you_mean(key, &attrs.asked)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            let expected = if attrs.asked.is_empty() {
                "none".to_owned()
            } else {
                one_of(&attrs.asked)
            };
            let why = if key.starts_with('_') {
                " (scripting and port remapping are outside vigil's subset)"
            } else {
                ""
            };
            self.problem(
                attrs.line,
                &attrs.element,
                format!("unknown attribute `{key}`{why}{hint}; expected {expected}"),
            );
        }
    }

    /// The element children of `node`; non-blank text is a problem.
    fn elements(&mut self, node: XmlNode<'a, 'i>, element: &str) -> Vec<XmlNode<'a, 'i>> {
        let mut out = Vec::new();
        for child in node.children() {
            if child.is_element() {
                out.push(child);
            } else if child.is_text() && child.text().is_some_and(|t| !t.trim().is_empty()) {
                let line = self.line(child);
                self.problem(line, element, "text is not allowed here");
            }
        }
        out
    }

    fn file(&mut self) -> Option<BehaviorTree> {
        let root = self.doc.root_element();
        let name = root.tag_name().name();
        let line = self.line(root);
        if name != "root" {
            self.problem(
                line,
                name,
                "the top element must be <root BTCPP_format=\"4\">",
            );
            return None;
        }
        let mut attrs = self.attrs(root, "root");
        match attrs.get("BTCPP_format") {
            Some("4") => {}
            Some(other) => self.problem(
                line,
                "root",
                format!("BTCPP_format=\"{other}\" is not supported: vigil reads version 4"),
            ),
            None => self.problem(line, "root", "needs BTCPP_format=\"4\""),
        }
        let main = attrs.get("main_tree_to_execute").map(str::to_owned);
        self.finish(attrs);

        let mut trees: Vec<(String, u32, Option<Def>)> = Vec::new();
        for child in self.elements(root, "root") {
            let line = self.line(child);
            match child.tag_name().name() {
                "BehaviorTree" => {
                    let mut attrs = self.attrs(child, "BehaviorTree");
                    let id = attrs.get("ID").map(str::to_owned);
                    self.finish(attrs);
                    let Some(id) = id.filter(|id| !id.trim().is_empty()) else {
                        self.problem(line, "BehaviorTree", "needs an `ID`");
                        continue;
                    };
                    if let Some((_, first, _)) = trees.iter().find(|(t, _, _)| *t == id) {
                        let first = *first;
                        self.problem(
                            line,
                            "BehaviorTree",
                            format!("ID `{id}` is given twice (first on line {first})"),
                        );
                        continue;
                    }
                    let body = match self.elements(child, "BehaviorTree").as_slice() {
                        [one] => self.def(*one, 1),
                        [] => {
                            self.problem(line, "BehaviorTree", format!("`{id}` has no root node"));
                            None
                        }
                        [_, second, ..] => {
                            let at = self.line(*second);
                            self.problem(
                                at,
                                "BehaviorTree",
                                format!("`{id}` has more than one root node"),
                            );
                            None
                        }
                    };
                    trees.push((id, line, body));
                }
                // Groot2's description of custom nodes: not behaviour.
                "TreeNodesModel" => {}
                other => {
                    let hint = match other {
                        "include" => " (included files are outside vigil's subset: put every tree in one file)",
                        _ => "",
                    };
                    self.problem(
                        line,
                        other,
                        format!("not allowed in <root>{hint}; expected <BehaviorTree> or <TreeNodesModel>"),
                    );
                }
            }
        }
        if trees.is_empty() {
            self.problem(line, "root", "holds no <BehaviorTree>");
            return None;
        }
        let ids: Vec<String> = trees.iter().map(|(id, _, _)| id.clone()).collect();
        // Every SubTree must name a tree of the file.
        let refs = std::mem::take(&mut self.refs);
        for (id, line) in refs {
            if !ids.contains(&id) {
                self.problem(
                    line,
                    "SubTree",
                    format!("no <BehaviorTree ID=\"{id}\"> in this file"),
                );
            }
        }
        let main = match main {
            Some(main) if ids.contains(&main) => main,
            Some(main) => {
                self.problem(
                    line,
                    "root",
                    format!(
                        "main_tree_to_execute=\"{main}\" names no tree; the file has {}",
                        one_of(&ids.iter().map(String::as_str).collect::<Vec<_>>())
                    ),
                );
                return None;
            }
            None if ids.len() == 1 => ids[0].clone(),
            None => {
                self.problem(
                    line,
                    "root",
                    "several trees: say which runs with main_tree_to_execute",
                );
                return None;
            }
        };
        if !self.problems.is_empty() {
            return None;
        }
        let defs: HashMap<&str, &Def> = trees
            .iter()
            .filter_map(|(id, _, def)| Some((id.as_str(), def.as_ref()?)))
            .collect();
        let root_def = *defs.get(main.as_str())?;
        let mut nodes = Vec::new();
        let mut stack = vec![main.clone()];
        self.expand(root_def, &defs, &mut stack, &mut nodes, 1)?;
        Some(BehaviorTree { main, ids, nodes })
    }

    /// Inlines `def` (and the subtrees it names) into `nodes`; `stack` holds
    /// the trees being expanded, to refuse recursion.
    fn expand(
        &mut self,
        def: &Def,
        defs: &HashMap<&str, &Def>,
        stack: &mut Vec<String>,
        nodes: &mut Vec<Node>,
        depth: usize,
    ) -> Option<usize> {
        if nodes.len() >= MAX_NODES || depth > MAX_DEPTH {
            self.problem(
                def.line,
                &def.element,
                format!(
                    "the main tree is too large with its subtrees expanded (at most {MAX_NODES} nodes, {MAX_DEPTH} deep)"
                ),
            );
            return None;
        }
        let at = nodes.len();
        nodes.push(Node {
            kind: def.kind.clone(),
            children: Vec::new(),
            line: def.line,
            element: def.element.clone(),
            name: def.name.clone(),
        });
        let mut children = Vec::new();
        if let Some(id) = &def.subtree {
            if stack.contains(id) {
                let chain = format!("{} -> {id}", stack.join(" -> "));
                self.problem(
                    def.line,
                    "SubTree",
                    format!("`{id}` includes itself ({chain})"),
                );
                return None;
            }
            let body = *defs.get(id.as_str())?;
            stack.push(id.clone());
            children.push(self.expand(body, defs, stack, nodes, depth + 1)?);
            stack.pop();
        } else {
            for child in &def.children {
                children.push(self.expand(child, defs, stack, nodes, depth + 1)?);
            }
        }
        nodes[at].children = children;
        Some(at)
    }

    /// One node element and its children.
    fn def(&mut self, node: XmlNode<'a, 'i>, depth: usize) -> Option<Def> {
        let line = self.line(node);
        let tag = node.tag_name().name();
        if depth > MAX_DEPTH {
            self.problem(line, tag, format!("nested more than {MAX_DEPTH} deep"));
            return None;
        }
        let mut attrs = self.attrs(node, tag);
        let element: String = if GENERIC.contains(&tag) {
            match attrs.get("ID") {
                Some(id) => id.to_owned(),
                None => {
                    self.problem(line, tag, format!("<{tag}> needs an `ID` naming the node"));
                    return None;
                }
            }
        } else {
            tag.to_owned()
        };
        attrs.element = element.clone();
        let name = attrs.get("name").map(str::to_owned);
        let e = element.as_str();
        let children: Vec<XmlNode<'a, 'i>> = self.elements(node, e);
        let count = children.len();
        let before = self.problems.len();
        let mut subtree = None;
        let kind = if CONTROLS.contains(&e) {
            match e {
                "IfThenElse" if !(2..=3).contains(&count) => {
                    self.problem(line, e, format!("needs 2 or 3 children, has {count}"));
                }
                _ if count == 0 => self.problem(line, e, "needs at least one child"),
                _ => {}
            }
            match e {
                "Sequence" => Some(Kind::Sequence),
                "ReactiveSequence" => Some(Kind::ReactiveSequence),
                "Fallback" => Some(Kind::Fallback),
                "ReactiveFallback" => Some(Kind::ReactiveFallback),
                "IfThenElse" => Some(Kind::IfThenElse),
                _ => {
                    let success = self.int(&mut attrs, "success_count", -1);
                    let failure = self.int(&mut attrs, "failure_count", 1);
                    match (success, failure) {
                        (Some(success), Some(failure)) => {
                            for (key, t) in [("success_count", success), ("failure_count", failure)]
                            {
                                let resolved = threshold(t, count);
                                if resolved.is_none_or(|r| r > count || r == 0) {
                                    self.problem(
                                        line,
                                        e,
                                        format!(
                                            "{key}=\"{t}\" cannot be reached with {count} children"
                                        ),
                                    );
                                }
                            }
                            Some(Kind::Parallel { success, failure })
                        }
                        _ => None,
                    }
                }
            }
        } else if DECORATORS.contains(&e) {
            if count != 1 && e != "SubTree" {
                self.problem(
                    line,
                    e,
                    format!("a decorator has exactly one child, this has {count}"),
                );
            }
            match e {
                "Inverter" => Some(Kind::Inverter),
                "ForceSuccess" => Some(Kind::ForceSuccess),
                "ForceFailure" => Some(Kind::ForceFailure),
                "KeepRunningUntilFailure" => Some(Kind::KeepRunningUntilFailure),
                "Repeat" => self
                    .count(&mut attrs, "num_cycles")
                    .map(|cycles| Kind::Repeat { cycles }),
                "RetryUntilSuccessful" => self
                    .count(&mut attrs, "num_attempts")
                    .map(|attempts| Kind::Retry { attempts }),
                "Timeout" => self
                    .millis(&mut attrs, "msec")
                    .map(|after| Kind::Timeout { after }),
                "Delay" => self
                    .millis(&mut attrs, "delay_msec")
                    .map(|delay| Kind::Delay { delay }),
                _ => {
                    if count != 0 {
                        self.problem(
                            line,
                            e,
                            "a <SubTree> has no children: it names a tree by `ID`",
                        );
                    }
                    // The tree's ID is `ID` in the compact form too.
                    let id = if GENERIC.contains(&tag) {
                        Some(element.clone())
                    } else {
                        attrs.get("ID").map(str::to_owned)
                    };
                    match id {
                        Some(id) => {
                            self.refs.push((id.clone(), line));
                            subtree = Some(id);
                            Some(Kind::SubTree)
                        }
                        None => {
                            self.problem(line, e, "needs the `ID` of the tree it runs");
                            None
                        }
                    }
                }
            }
        } else if CONDITIONS.contains(&e) || ACTIONS.contains(&e) {
            if count != 0 {
                self.problem(line, e, "a leaf has no children");
            }
            self.leaf(&mut attrs, e)
        } else {
            let hint = did_you_mean(e, ALL)
                .map(|s| format!("; did you mean <{s}>?"))
                .unwrap_or_default();
            // Its attributes mean nothing to us: one problem, not one each.
            for given in &mut attrs.given {
                given.2 = true;
            }
            self.problem(
                line,
                e,
                format!("not in vigil's subset of BehaviorTree.CPP v4{hint}"),
            );
            None
        };
        self.finish(attrs);
        let defs: Vec<Option<Def>> = if subtree.is_some() {
            Vec::new()
        } else {
            children.iter().map(|c| self.def(*c, depth + 1)).collect()
        };
        let kind = kind?;
        if self.problems.len() > before {
            // Children's problems are recorded; this node is unusable.
            return None;
        }
        let children = defs.into_iter().collect::<Option<Vec<Def>>>()?;
        Some(Def {
            kind,
            subtree,
            children,
            line,
            element,
            name,
        })
    }

    fn required(&mut self, attrs: &mut Attrs<'a>, key: &'static str) -> Option<&'a str> {
        let value = attrs.get(key);
        if value.is_none() {
            let (line, e) = (attrs.line, attrs.element.clone());
            self.problem(line, &e, format!("needs `{key}`"));
        }
        value
    }

    fn bad(&mut self, attrs: &Attrs<'_>, key: &str, value: &str, why: impl fmt::Display) {
        let (line, e) = (attrs.line, attrs.element.clone());
        self.problem(line, &e, format!("{key}=\"{value}\": {why}"));
    }

    fn int(&mut self, attrs: &mut Attrs<'a>, key: &'static str, default: i32) -> Option<i32> {
        let Some(text) = attrs.get(key) else {
            return Some(default);
        };
        match text.trim().parse::<i32>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.bad(attrs, key, text, "expected a whole number");
                None
            }
        }
    }

    /// A repeat or retry count: a positive number, or -1 for no limit.
    fn count(&mut self, attrs: &mut Attrs<'a>, key: &'static str) -> Option<i32> {
        let text = self.required(attrs, key)?;
        match text.trim().parse::<i32>() {
            Ok(n) if n == -1 || n >= 0 => Some(n),
            _ => {
                self.bad(
                    attrs,
                    key,
                    text,
                    "expected a count >= 0, or -1 for no limit",
                );
                None
            }
        }
    }

    /// Milliseconds, as BehaviorTree.CPP's `msec` and `delay_msec` ports.
    fn millis(&mut self, attrs: &mut Attrs<'a>, key: &'static str) -> Option<Duration> {
        let text = self.required(attrs, key)?;
        match text.trim().parse::<u32>() {
            Ok(ms) => Some(Duration::from_millis(u64::from(ms))),
            Err(_) => {
                self.bad(
                    attrs,
                    key,
                    text,
                    "expected milliseconds, a whole number >= 0",
                );
                None
            }
        }
    }

    fn duration(&mut self, attrs: &mut Attrs<'a>, key: &'static str) -> Option<Duration> {
        let text = attrs.get(key)?;
        match parse_duration(text) {
            Ok(d) => Some(d),
            Err(why) => {
                self.bad(attrs, key, text, why);
                None
            }
        }
    }

    fn path(&mut self, attrs: &mut Attrs<'a>) -> Option<Path> {
        let text = self.required(attrs, "path")?;
        match Path::parse(text) {
            Ok(p) => Some(p),
            Err(e) => {
                self.bad(attrs, "path", text, e);
                None
            }
        }
    }

    /// A supervisor child, producer or mode name: a label.
    fn label(&mut self, attrs: &mut Attrs<'a>, key: &'static str) -> Option<String> {
        let text = self.required(attrs, key)?;
        if is_valid_label(text) {
            Some(text.to_owned())
        } else {
            self.bad(
                attrs,
                key,
                text,
                "expected a name of letters, digits and `_`",
            );
            None
        }
    }

    fn text(&mut self, attrs: &mut Attrs<'a>, key: &'static str) -> Option<String> {
        let text = self.required(attrs, key)?;
        if text.trim().is_empty() {
            self.bad(attrs, key, text, "must not be empty");
            return None;
        }
        Some(text.to_owned())
    }

    fn state(&mut self, attrs: &Attrs<'_>, key: &str, text: &str) -> Option<State> {
        match text.trim() {
            "OK" => Some(State::Ok),
            "DEGRADED" => Some(State::Degraded),
            "UNKNOWN" => Some(State::Unknown),
            "FAILED" => Some(State::Failed),
            _ => {
                self.bad(attrs, key, text, "expected OK, DEGRADED, UNKNOWN or FAILED");
                None
            }
        }
    }

    fn leaf(&mut self, attrs: &mut Attrs<'a>, e: &str) -> Option<Kind> {
        let condition = |c| Some(Kind::Condition(c));
        let action = |a| Some(Kind::Action(a));
        match e {
            "Health" => {
                let path = self.path(attrs);
                let given: Vec<(&'static str, &'a str)> = ["is", "at_least", "at_most"]
                    .into_iter()
                    .filter_map(|k| Some((k, attrs.get(k)?)))
                    .collect();
                let test = match given.as_slice() {
                    [(key, text)] => {
                        let state = self.state(attrs, key, text)?;
                        Some(match *key {
                            "is" => StateTest::Is(state),
                            "at_least" => StateTest::AtLeast(state),
                            _ => StateTest::AtMost(state),
                        })
                    }
                    [] => {
                        let (line, e) = (attrs.line, attrs.element.clone());
                        self.problem(line, &e, "needs one of `is`, `at_least` or `at_most`");
                        None
                    }
                    _ => {
                        let (line, e) = (attrs.line, attrs.element.clone());
                        self.problem(line, &e, "give only one of `is`, `at_least` or `at_most`");
                        None
                    }
                };
                condition(Condition::Health {
                    path: path?,
                    test: test?,
                })
            }
            "Trend" => {
                let path = self.path(attrs);
                let text = self.required(attrs, "is")?;
                let is = match text.trim() {
                    "stable" => Trend::Stable,
                    "degrading" => Trend::Degrading,
                    "recovering" => Trend::Recovering,
                    "intermittent" => Trend::Intermittent,
                    _ => {
                        self.bad(
                            attrs,
                            "is",
                            text,
                            "expected stable, degrading, recovering or intermittent",
                        );
                        return None;
                    }
                };
                condition(Condition::Trend { path: path?, is })
            }
            "Available" => {
                let text = self.required(attrs, "query")?;
                match Query::parse(text) {
                    Ok(query) => condition(Condition::Available {
                        query: Box::new(query),
                        text: text.to_owned(),
                    }),
                    Err(err) => {
                        self.bad(attrs, "query", text, err);
                        None
                    }
                }
            }
            "InMode" => {
                let mode = self.label(attrs, "mode")?;
                condition(Condition::InMode { mode })
            }
            "Restart" | "Stop" => {
                let child = self.label(attrs, "child")?;
                action(if e == "Restart" {
                    Action::Restart { child }
                } else {
                    Action::Stop { child }
                })
            }
            "Isolate" => {
                let producer = self.label(attrs, "producer");
                let reason = attrs.get("reason").unwrap_or_default().to_owned();
                action(Action::Isolate {
                    producer: producer?,
                    reason,
                })
            }
            "Release" => {
                let producer = self.label(attrs, "producer")?;
                action(Action::Release { producer })
            }
            "SetMode" => {
                let mode = self.label(attrs, "mode")?;
                action(Action::SetMode { mode })
            }
            "Run" => {
                let command = self.text(attrs, "command");
                let before = self.problems.len();
                let timeout = self.duration(attrs, "timeout");
                if self.problems.len() > before {
                    return None;
                }
                action(Action::Run {
                    command: command?,
                    timeout,
                })
            }
            "Wait" => {
                let text = self.required(attrs, "duration")?;
                match parse_duration(text) {
                    Ok(duration) => action(Action::Wait { duration }),
                    Err(why) => {
                        self.bad(attrs, "duration", text, why);
                        None
                    }
                }
            }
            _ => {
                let text = self.required(attrs, "level");
                let message = self.text(attrs, "message");
                let level = match text {
                    Some(t) => match LogLevel::NAMES.iter().find(|(n, _)| *n == t.trim()) {
                        Some((_, level)) => Some(*level),
                        None => {
                            self.bad(attrs, "level", t, "expected debug, info, warn or error");
                            None
                        }
                    },
                    None => None,
                };
                action(Action::Log {
                    level: level?,
                    message: message?,
                })
            }
        }
    }
}

/// A Parallel threshold resolved against the number of children (negative
/// counts from the end: -1 is all of them), as BehaviorTree.CPP does.
pub(crate) fn threshold(t: i32, children: usize) -> Option<usize> {
    if t < 0 {
        let n = i64::try_from(children).ok()? + i64::from(t) + 1;
        usize::try_from(n.max(0)).ok()
    } else {
        usize::try_from(t).ok()
    }
}
