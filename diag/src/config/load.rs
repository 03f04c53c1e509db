//! YAML text into an arena of spanned values, built from saphyr-parser's
//! events rather than saphyr's loader, for two reasons: a mapping keeps
//! every entry (saphyr's stops the whole load at a duplicated key, so one
//! repeated key hid every other problem), and an alias points at its
//! anchor's value instead of copying it, so a billion laughs costs nothing
//! to load. Walking such a document is bounded by [`MAX_EXPANDED`].
//!
//! Scalars are kept unresolved: keys are paths (`engine.1.10` must stay that
//! text, not become a float) and messages show what the user wrote.

use std::borrow::Cow;

use saphyr::Scalar;
use saphyr_parser::{Event, Parser, ScalarStyle, Span, SpannedEventReceiver, Tag};

/// A document whose aliases expand to more nodes than this is refused:
/// config files are small, and a reader walks what aliases expand to.
pub(super) const MAX_EXPANDED: u64 = 100_000;

/// One value; children are indexes into the arena.
#[derive(Debug)]
pub(super) enum Data {
    Scalar {
        text: String,
        style: ScalarStyle,
        tag: Option<Tag>,
    },
    Sequence(Vec<usize>),
    Mapping(Vec<(usize, usize)>),
    /// An alias to an anchor never defined (the parser refuses most).
    Unresolved,
}

#[derive(Debug)]
pub(super) struct Value {
    pub(super) line: u32,
    pub(super) data: Data,
}

/// Every document's root, and the arena they index.
#[derive(Debug, Default)]
pub(super) struct Loaded {
    pub(super) values: Vec<Value>,
    pub(super) documents: Vec<usize>,
}

/// A syntax error: its line and what the scanner said.
pub(super) struct SyntaxError {
    pub(super) line: u32,
    pub(super) message: String,
}

#[derive(Default)]
struct Builder {
    loaded: Loaded,
    /// Open collections: their index, and for a mapping a key waiting for
    /// its value.
    stack: Vec<(usize, Option<usize>)>,
    /// Anchor id to value index.
    anchors: Vec<(usize, usize)>,
}

fn line_of(span: &Span) -> u32 {
    u32::try_from(span.start.line()).unwrap_or(u32::MAX).max(1)
}

impl Builder {
    fn push(&mut self, value: Value, anchor: usize) -> usize {
        let id = self.loaded.values.len();
        self.loaded.values.push(value);
        if anchor > 0 {
            self.anchors.push((anchor, id));
        }
        id
    }

    /// Attaches a finished value to the open collection, or makes it a root.
    fn attach(&mut self, id: usize) {
        let Some((parent, pending)) = self.stack.last_mut() else {
            self.loaded.documents.push(id);
            return;
        };
        match &mut self.loaded.values[*parent].data {
            Data::Sequence(items) => items.push(id),
            Data::Mapping(entries) => match pending.take() {
                None => *pending = Some(id),
                Some(key) => entries.push((key, id)),
            },
            _ => {}
        }
    }

    fn open(&mut self, data: Data, anchor: usize, span: &Span) {
        let id = self.push(
            Value {
                line: line_of(span),
                data,
            },
            anchor,
        );
        self.stack.push((id, None));
    }

    fn close(&mut self) {
        if let Some((id, _)) = self.stack.pop() {
            self.attach(id);
        }
    }
}

impl<'input> SpannedEventReceiver<'input> for Builder {
    fn on_event(&mut self, event: Event<'input>, span: Span) {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let value = Value {
                    line: line_of(&span),
                    data: Data::Scalar {
                        text: text.into_owned(),
                        style,
                        tag: tag.map(Cow::into_owned),
                    },
                };
                let id = self.push(value, anchor);
                self.attach(id);
            }
            Event::SequenceStart(anchor, _) => self.open(Data::Sequence(Vec::new()), anchor, &span),
            Event::MappingStart(anchor, _) => self.open(Data::Mapping(Vec::new()), anchor, &span),
            Event::SequenceEnd | Event::MappingEnd => self.close(),
            Event::Alias(anchor) => {
                let target = self
                    .anchors
                    .iter()
                    .rev()
                    .find(|(a, _)| *a == anchor)
                    .map(|(_, id)| *id);
                let id = match target {
                    Some(id) => id,
                    None => self.push(
                        Value {
                            line: line_of(&span),
                            data: Data::Unresolved,
                        },
                        0,
                    ),
                };
                self.attach(id);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd => {}
        }
    }
}

/// Loads every document of `text`, or the first syntax error.
pub(super) fn load(text: &str) -> Result<Loaded, SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(error) = parser.load(&mut builder, true) {
        return Err(SyntaxError {
            line: u32::try_from(error.marker().line())
                .unwrap_or(u32::MAX)
                .max(1),
            message: format!("{} (column {})", error.info(), error.marker().col() + 1),
        });
    }
    let loaded = builder.loaded;
    let mut sizes = vec![None; loaded.values.len()];
    for &root in &loaded.documents {
        if expanded(&loaded, root, &mut sizes) > MAX_EXPANDED {
            return Err(SyntaxError {
                line: loaded.values[root].line,
                message: format!(
                    "its aliases expand to more than {MAX_EXPANDED} values; write the values out"
                ),
            });
        }
    }
    Ok(loaded)
}

/// How many values `id` stands for once aliases are expanded, saturating.
/// Children always have smaller indexes than an alias to them, so the
/// recursion ends; memoized, it is linear in the arena.
fn expanded(loaded: &Loaded, id: usize, sizes: &mut Vec<Option<u64>>) -> u64 {
    if let Some(size) = sizes[id] {
        return size;
    }
    // Marks the value while it is being counted: an alias inside its own
    // anchor (which the parser refuses anyway) counts as one.
    sizes[id] = Some(1);
    let children: Vec<usize> = match &loaded.values[id].data {
        Data::Sequence(items) => items.clone(),
        Data::Mapping(entries) => entries.iter().flat_map(|(k, v)| [*k, *v]).collect(),
        _ => Vec::new(),
    };
    let size = children.iter().fold(1u64, |sum, &child| {
        sum.saturating_add(expanded(loaded, child, sizes))
    });
    sizes[id] = Some(size);
    size
}

/// A scalar resolved by the YAML 1.2 core schema.
pub(super) fn resolve<'t>(
    text: &'t str,
    style: ScalarStyle,
    tag: Option<&Tag>,
) -> Option<Scalar<'t>> {
    let tag = tag.map(|t| Cow::Owned(t.clone()));
    Scalar::parse_from_cow_and_metadata(Cow::Borrowed(text), style, tag.as_ref())
}
