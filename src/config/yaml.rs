//! YAML (1.2 core schema) into [`Node`]s, from saphyr-parser's spanned event stream.
//!
//! The event stream is used instead of serde-saphyr's typed deserialization because later
//! stages need a generic tree with a span on every value, not a fixed Rust type.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YamlSpan, Tag};

use super::limits::{self, MAX_ALIAS_BYTES, MAX_ALIAS_VALUES, MAX_DEPTH};
use super::node::{Key, Node, Value};
use crate::diagnostics::{Diagnostic, FileId, Span};

/// Parses one YAML document. An empty file is `Null`. A second document in the stream is an
/// error: one file holds one config document.
pub fn parse(text: &str, file: FileId, format: &str) -> Result<Node, Vec<Diagnostic>> {
    let offsets = CharOffsets::new(text);
    let mut builder = Builder {
        text,
        file,
        offsets: &offsets,
        referenced: referenced_anchors(text),
        anchors: HashMap::new(),
        copied: Copied::default(),
        stack: Vec::new(),
        root: None,
        documents: 0,
        diagnostics: Vec::new(),
    };
    for event in Parser::new_from_str(text) {
        match event {
            Ok((event, span)) => builder.event(event, span, format),
            Err(e) => {
                let at = Span::char_at(file, text, offsets.byte(e.marker().index()));
                builder.diagnostics.push(syntax_error(e.info(), format, at));
                break;
            }
        }
        if !builder.diagnostics.is_empty() {
            break;
        }
    }
    if builder.diagnostics.is_empty() {
        Ok(builder
            .root
            .unwrap_or_else(|| Node::new(Value::Null, Span::new(file, 0, 0))))
    } else {
        Err(builder.diagnostics)
    }
}

fn syntax_error(info: &str, format: &str, at: Span) -> Diagnostic {
    // saphyr's own nesting limit (flow collections) is above ours: the text is too deep.
    if info == "recursion limit exceeded" {
        return limits::too_deep(at);
    }
    let mut message = info.to_owned();
    if let Some(first) = message.get(..1) {
        message = first.to_uppercase() + &message[1..];
    }
    let help = syntax_help(&message, format);
    Diagnostic::error(format!("{format} syntax error: {message}"))
        .at(at)
        .maybe_help(help)
}

/// The anchors some alias uses: only those are kept for copying. A first pass over the events
/// (skipped when the text has no `*` at all) so that an anchor no alias uses costs nothing.
fn referenced_anchors(text: &str) -> HashSet<usize> {
    if !text.contains('*') {
        return HashSet::new();
    }
    Parser::new_from_str(text)
        .map_while(Result::ok)
        .filter_map(|(event, _)| match event {
            Event::Alias(anchor) => Some(anchor),
            _ => None,
        })
        .collect()
}

/// What saphyr's terse messages usually mean. Its messages for a line indented wrong speak of
/// block collections and keys.
fn syntax_help(message: &str, format: &str) -> Option<String> {
    let indentation = [
        "block collection",
        "block mapping",
        "expected key",
        "mapping values are not allowed",
    ];
    if message.contains("unknown anchor") {
        Some("an alias `*name` needs an anchor `&name` earlier in the same file".to_owned())
    } else if format == "YAML" && indentation.iter().any(|m| message.contains(m)) {
        Some(
            "check this line's indentation: the fields of one task (one mapping) start in the \
             same column"
                .to_owned(),
        )
    } else {
        None
    }
}

/// saphyr reports positions in characters; spans are in bytes.
struct CharOffsets {
    /// Byte offset of each character, only built for non-ASCII text.
    bytes: Option<Vec<usize>>,
    len: usize,
}

impl CharOffsets {
    fn new(text: &str) -> Self {
        let bytes = (!text.is_ascii()).then(|| text.char_indices().map(|(i, _)| i).collect());
        CharOffsets {
            bytes,
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.bytes {
            None => char_index.min(self.len),
            Some(table) => table.get(char_index).copied().unwrap_or(self.len),
        }
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        span: Span,
        anchor: usize,
    },
    Map {
        entries: Entries,
        pending_key: Option<Node>,
        span: Span,
        anchor: usize,
    },
}

/// What copies of anchored nodes have cost so far, or what one node would cost to copy.
#[derive(Default, Clone, Copy)]
struct Copied {
    values: usize,
    /// Bytes of strings and keys.
    bytes: usize,
}

/// A node kept for its aliases, with what one copy of it costs.
struct Anchored {
    node: Node,
    cost: Copied,
    /// Levels of lists and mappings in it (0 for a scalar).
    height: usize,
}

impl Anchored {
    fn new(node: Node) -> Self {
        let (cost, height) = measure(&node);
        Anchored { node, cost, height }
    }
}

/// A node's copy cost and height. Recursion is bounded: nodes are built at most
/// [`MAX_DEPTH`] deep.
fn measure(node: &Node) -> (Copied, usize) {
    let (own_bytes, children): (usize, Vec<&Node>) = match &node.value {
        Value::Str(s) => (s.len(), Vec::new()),
        Value::Seq(items) => (0, items.iter().collect()),
        Value::Map(entries) => (
            entries.iter().map(|(k, _)| k.name.len()).sum(),
            entries.iter().map(|(_, v)| v).collect(),
        ),
        _ => (0, Vec::new()),
    };
    let is_collection = matches!(node.value, Value::Seq(_) | Value::Map(_));
    let mut cost = Copied {
        values: 1,
        bytes: own_bytes,
    };
    let mut height = usize::from(is_collection);
    for child in children {
        let (c, h) = measure(child);
        cost.values += c.values;
        cost.bytes += c.bytes;
        height = height.max(h + 1);
    }
    (cost, height)
}

struct Builder<'a> {
    text: &'a str,
    file: FileId,
    offsets: &'a CharOffsets,
    /// Anchors some alias uses (only those are kept).
    referenced: HashSet<usize>,
    anchors: HashMap<usize, Anchored>,
    /// Charged against [`MAX_ALIAS_VALUES`] and [`MAX_ALIAS_BYTES`].
    copied: Copied,
    stack: Vec<Frame>,
    root: Option<Node>,
    documents: usize,
    diagnostics: Vec<Diagnostic>,
}

impl Builder<'_> {
    fn span(&self, span: YamlSpan) -> Span {
        Span::new(
            self.file,
            self.offsets.byte(span.start.index()),
            self.offsets.byte(span.end.index()),
        )
    }

    fn event(&mut self, event: Event<'_>, span: YamlSpan, format: &str) {
        let at = self.span(span);
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    self.diagnostics.push(
                        Diagnostic::error(format!("a second {format} document in one file"))
                            .at(at)
                            .help("put each document in a file of its own"),
                    );
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let node = Node::new(resolve_scalar(text, style, tag.as_deref()), at);
                self.finish(node, anchor);
            }
            Event::Alias(anchor) => self.alias(anchor, at),
            Event::SequenceStart(anchor, _) => self.open(
                Frame::Seq {
                    items: Vec::new(),
                    span: at,
                    anchor,
                },
                at,
            ),
            Event::MappingStart(anchor, _) => self.open(
                Frame::Map {
                    entries: Entries::default(),
                    pending_key: None,
                    span: at,
                    anchor,
                },
                at,
            ),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(frame) = self.stack.pop() {
                    let (node, anchor) = match frame {
                        Frame::Seq {
                            items,
                            span,
                            anchor,
                        } => {
                            let span =
                                self.collection_span(span, items.first().map(|n| n.span), at);
                            (Node::new(Value::Seq(items), span), anchor)
                        }
                        Frame::Map {
                            entries,
                            span,
                            anchor,
                            ..
                        } => {
                            let span = self.collection_span(span, entries.first_key_span(), at);
                            (Node::new(Value::Map(entries.into_vec()), span), anchor)
                        }
                    };
                    self.finish(node, anchor);
                }
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
    }

    /// Starts a list or mapping, unless it would nest deeper than [`MAX_DEPTH`].
    fn open(&mut self, frame: Frame, at: Span) {
        if self.stack.len() >= MAX_DEPTH {
            self.diagnostics.push(limits::too_deep(self.caret(at)));
        } else {
            self.stack.push(frame);
        }
    }

    /// A copy of an anchored node, within the nesting limit and the alias budget.
    fn alias(&mut self, anchor: usize, at: Span) {
        let Some(anchored) = self.anchors.get(&anchor) else {
            self.diagnostics
                .push(Diagnostic::error("alias to an unknown anchor").at(at));
            return;
        };
        if self.stack.len() + anchored.height > MAX_DEPTH {
            self.diagnostics.push(limits::too_deep(at));
            return;
        }
        if !self.charge(anchored.cost) {
            self.diagnostics.push(limits::too_many_alias_copies(
                at,
                "this alias goes over the limit",
            ));
            return;
        }
        // Copied only once it is paid for.
        if let Some(anchored) = self.anchors.get(&anchor) {
            let node = anchored.node.clone();
            self.finish(node, 0);
        }
    }

    /// Adds a copy's cost to the file's alias budget; false when that goes over it.
    fn charge(&mut self, cost: Copied) -> bool {
        self.copied.values += cost.values;
        self.copied.bytes += cost.bytes;
        self.copied.values <= MAX_ALIAS_VALUES && self.copied.bytes <= MAX_ALIAS_BYTES
    }

    /// A visible caret for a span that may be empty (block collections start nowhere).
    fn caret(&self, at: Span) -> Span {
        if at.start == at.end {
            Span::char_at(self.file, self.text, at.start as usize)
        } else {
            at
        }
    }

    /// A collection's span from its start, first entry and end event: a flow collection on one
    /// line (`[a, b]`, `{ k: v }`) is underlined whole, any other by its start.
    fn collection_span(&self, start: Span, first: Option<Span>, end: Span) -> Span {
        let span = block_span(start, first);
        let flow = start.start != start.end;
        let whole = self.text.get(span.start as usize..end.end as usize);
        let span = match whole {
            Some(text) if flow && !text.contains('\n') => Span {
                end: end.end,
                ..span
            },
            _ => span,
        };
        // `block_span` may widen an empty start by one byte: keep it on a character.
        Span::on_chars(self.file, self.text, span.start as usize, span.end as usize)
    }

    /// A complete node: record its anchor and hand it to the enclosing collection.
    fn finish(&mut self, node: Node, anchor: usize) {
        // The copy kept for aliases is charged like the copies they make.
        if anchor != 0 && self.referenced.contains(&anchor) {
            let anchored = Anchored::new(node.clone());
            if !self.charge(anchored.cost) {
                self.diagnostics.push(limits::too_many_alias_copies(
                    self.caret(anchored.node.span),
                    "keeping this anchored value for its aliases goes over the limit",
                ));
                return;
            }
            self.anchors.insert(anchor, anchored);
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => {
                    let key = Key {
                        name: key_name(&key),
                        span: key.span,
                    };
                    if key.name == "<<" {
                        entries.merge(node);
                    } else if let Err(key) = entries.insert(key, node) {
                        self.diagnostics.push(
                            Diagnostic::error(format!("duplicate key `{}`", key.name))
                                .at(key.span)
                                .label("defined again here")
                                .help("each key may appear once in a mapping; remove one of them"),
                        );
                    }
                }
            },
        }
    }
}

/// The entries of a mapping being built, found by name in constant time so that a mapping of
/// many keys is built in linear time.
#[derive(Default)]
struct Entries {
    /// In order; `None` where a merged entry was overridden.
    slots: Vec<Option<(Key, Node)>>,
    index: HashMap<String, usize>,
    /// Keys that came from a `<<` merge, which an explicit key may override.
    merged: HashSet<String>,
}

impl Entries {
    /// An explicit `key: value`. It overrides a merged entry, wherever it stands; a key already
    /// written explicitly is handed back as a duplicate.
    fn insert(&mut self, key: Key, node: Node) -> Result<(), Key> {
        if let Some(&i) = self.index.get(&key.name) {
            if !self.merged.remove(&key.name) {
                return Err(key);
            }
            self.slots[i] = None;
        }
        self.push(key, node);
        Ok(())
    }

    /// `<<: *defaults` merges the entries of a mapping (or a list of mappings) the map lacks.
    fn merge(&mut self, source: Node) {
        let sources = match source.value {
            Value::Seq(items) => items,
            _ => vec![source],
        };
        for source in sources {
            if let Value::Map(more) = source.value {
                for (key, value) in more {
                    if !self.index.contains_key(&key.name) {
                        self.merged.insert(key.name.clone());
                        self.push(key, value);
                    }
                }
            }
        }
    }

    fn push(&mut self, key: Key, node: Node) {
        self.index.insert(key.name.clone(), self.slots.len());
        self.slots.push(Some((key, node)));
    }

    fn first_key_span(&self) -> Option<Span> {
        self.slots.iter().flatten().next().map(|(k, _)| k.span)
    }

    fn into_vec(self) -> Vec<(Key, Node)> {
        self.slots.into_iter().flatten().collect()
    }
}

/// A collection's span: its start marker, or its first key or item when the start is empty
/// (block collections start where their first entry does).
fn block_span(start: Span, first: Option<Span>) -> Span {
    match first {
        Some(first) if start.start == start.end => first,
        _ => Span {
            end: start.end.max(start.start + 1),
            ..start
        },
    }
}

fn key_name(key: &Node) -> String {
    match &key.value {
        Value::Str(s) => s.clone(),
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Seq(_) | Value::Map(_) => "<complex key>".to_owned(),
    }
}

/// The YAML 1.2 core schema: plain scalars may be null, booleans or numbers; quoted and block
/// scalars are strings; `!!str` and friends force a type.
fn resolve_scalar(text: Cow<'_, str>, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    let forced = tag
        .filter(|t| t.is_yaml_core_schema())
        .map(|t| t.suffix.as_str());
    if forced == Some("str") || (style != ScalarStyle::Plain && forced.is_none()) {
        return Value::Str(text.into_owned());
    }
    let s = text.as_ref();
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(int) = parse_int(s) {
        return Value::Int(int);
    }
    if is_float(s)
        && let Ok(f) = s.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(text.into_owned())
}

fn parse_int(s: &str) -> Option<i64> {
    if let Some(octal) = s.strip_prefix("0o") {
        return i64::from_str_radix(octal, 8).ok();
    }
    if let Some(hex) = s.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_float(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(int)
        && frac.is_none_or(digits)
        && (!int.is_empty() || frac.is_some_and(|f| !f.is_empty()));
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}
