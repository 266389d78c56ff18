//! A serde `Deserializer` over [`Node`]s: the type-check proper.
//!
//! The model's types derive `Deserialize`; this deserializer feeds them nodes and turns every
//! serde error into a diagnostic at the node that caused it. Three things serde alone would not
//! do: unknown fields are all reported (with a suggestion) instead of the first, a `type` field
//! selects the variant of a model enum, and values rendered from a secret never appear in an
//! error message.

use std::cell::{Cell, RefCell};
use std::fmt::{self, Display};

use serde::de::{
    self, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, Unexpected,
    VariantAccess, Visitor,
};

use crate::config::{Key, Node, Value};
use crate::diagnostics::{Diagnostic, Span, did_you_mean, one_of};
use crate::model::values::HELP;
use crate::model::{FIELD_SENSITIVE, FIELD_SPAN, FIELD_VALUE, MAGIC};

/// State shared by one task's type-check.
pub struct DeContext<'a> {
    /// What the top-level map is, for messages: "a `file` task".
    pub what: String,
    /// Names also valid at the top level, offered as suggestions (the task keywords).
    pub keywords: &'a [&'a str],
    /// Top-level keys left out (they failed before, or belong to another part of the task).
    pub skip: RefCell<Vec<String>>,
    /// Findings that do not stop the check (unknown fields), recorded on the first pass only.
    pub soft: RefCell<Vec<Diagnostic>>,
    /// `type` values the check stage handles before deserializing (`assert`), offered with
    /// the enum's own when a `type` is unknown.
    pub other_types: &'a [&'a str],
    first_pass: Cell<bool>,
}

impl<'a> DeContext<'a> {
    pub fn new(what: String, keywords: &'a [&'a str], skip: Vec<String>) -> Self {
        DeContext {
            what,
            keywords,
            skip: RefCell::new(skip),
            soft: RefCell::new(Vec::new()),
            other_types: &[],
            first_pass: Cell::new(true),
        }
    }

    pub fn with_other_types(self, other_types: &'a [&'a str]) -> Self {
        DeContext {
            other_types,
            ..self
        }
    }
}

/// Deserializes `node` into `T`, reporting as many errors as it can: after an error in a
/// top-level field, that field is left out and the rest is checked again.
pub fn deserialize<T: de::DeserializeOwned>(
    node: &Node,
    cx: &DeContext<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<T> {
    let mut failed = false;
    let max_attempts = node.as_map().map_or(1, |m| m.len() + 1);
    for _ in 0..max_attempts {
        let result = T::deserialize(NodeDe {
            node,
            cx,
            depth: 0,
            skip_type: false,
        });
        cx.first_pass.set(false);
        match result {
            Ok(value) => {
                diagnostics.append(&mut cx.soft.borrow_mut());
                return (!failed).then_some(value);
            }
            Err(error) => {
                failed = true;
                let skipped = cx
                    .skip
                    .borrow()
                    .iter()
                    .any(|k| Some(k.as_str()) == error.missing_field);
                let top_key = error.top_key.clone();
                if !skipped {
                    diagnostics.push(error.in_context(cx).into_diagnostic());
                }
                match top_key {
                    Some(key) if !cx.skip.borrow().iter().any(|k| **k == *key) => {
                        cx.skip.borrow_mut().push(key.into_string())
                    }
                    _ => break,
                }
            }
        }
    }
    diagnostics.append(&mut cx.soft.borrow_mut());
    None
}

#[derive(Debug)]
pub struct DeError {
    message: String,
    /// The message without the offending value, for sensitive nodes.
    redacted: Option<String>,
    help: Option<String>,
    span: Option<Span>,
    missing_field: Option<&'static str>,
    /// A boxed str keeps the error small: every deserializer call returns it.
    top_key: Option<Box<str>>,
}

impl DeError {
    fn new(message: String) -> Self {
        DeError {
            message,
            redacted: None,
            help: None,
            span: None,
            missing_field: None,
            top_key: None,
        }
    }

    fn help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// Places the error at `node` unless a deeper node already placed it.
    fn at(mut self, node: &Node) -> Self {
        if self.span.is_none() {
            self.span = Some(node.span);
            if node.any_sensitive() {
                self.message = self
                    .redacted
                    .take()
                    .unwrap_or_else(|| "invalid value (sensitive)".to_owned());
                self.help = None;
            }
        }
        self
    }

    /// A field missing from the task itself names the task: "missing field `path` in a `file`
    /// task" (a deeper one is clear from its place).
    fn in_context(mut self, cx: &DeContext<'_>) -> Self {
        if self.missing_field.is_some() && self.top_key.is_none() {
            self.message = format!("{} in {}", self.message, cx.what);
        }
        self
    }

    fn into_diagnostic(self) -> Diagnostic {
        let mut diagnostic = Diagnostic::error(self.message).maybe_help(self.help);
        if let Some(span) = self.span {
            diagnostic = diagnostic.at(span);
        }
        diagnostic
    }
}

impl Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

/// How a value that was not what a field expects reads in a message.
fn found(unexp: &Unexpected<'_>, with_value: bool) -> String {
    match (unexp, with_value) {
        (Unexpected::Str(s), true) => format!("the string \"{s}\""),
        (Unexpected::Signed(i), true) => format!("the integer {i}"),
        (Unexpected::Unsigned(u), true) => format!("the integer {u}"),
        (Unexpected::Float(x), true) => format!("the number {x}"),
        (Unexpected::Bool(b), _) => format!("the boolean {b}"),
        (Unexpected::Str(_), false) => "a string".to_owned(),
        (Unexpected::Signed(_) | Unexpected::Unsigned(_), false) => "an integer".to_owned(),
        (Unexpected::Float(_), false) => "a number".to_owned(),
        (Unexpected::Unit, _) => "null".to_owned(),
        (Unexpected::Seq, _) => "a list".to_owned(),
        (Unexpected::Map, _) => "a mapping".to_owned(),
        (other, _) => other.to_string(),
    }
}

/// serde's names for what a type expects, in the words of a config file.
fn expected(exp: &dyn de::Expected) -> String {
    match exp.to_string().as_str() {
        "a sequence" => "a list".to_owned(),
        "a map" => "a mapping".to_owned(),
        other => other.to_owned(),
    }
}

/// How to write the value the field wanted, for the usual mix-ups.
fn type_help(unexp: &Unexpected<'_>, exp: &str) -> Option<String> {
    let help = match (unexp, exp) {
        (
            Unexpected::Signed(_)
            | Unexpected::Unsigned(_)
            | Unexpected::Float(_)
            | Unexpected::Bool(_),
            "a string",
        ) => "quote the value to make it a string".to_owned(),
        (Unexpected::Str(_), "a boolean") => "write `true` or `false`, without quotes".to_owned(),
        (Unexpected::Str(s), "a list") => format!("write a list, even of one item: [\"{s}\"]"),
        (Unexpected::Seq, "a string") => {
            "this field takes one value; for several, use one task per value or `loop:`".to_owned()
        }
        _ => return None,
    };
    Some(help)
}

impl de::Error for DeError {
    fn custom<T: Display>(msg: T) -> Self {
        let text = msg.to_string();
        match text.split_once(HELP) {
            Some((message, help)) => {
                DeError::new(message.to_owned()).help(Some(help.trim().to_owned()))
            }
            None => DeError::new(text),
        }
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let exp = expected(exp);
        let mut error = DeError::new(format!("expected {exp}, found {}", found(&unexp, true)));
        error.redacted = Some(format!("expected {exp}, found {}", found(&unexp, false)));
        error.help = type_help(&unexp, &exp);
        error
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let exp = expected(exp);
        let mut error = DeError::new(format!(
            "invalid value {}, expected {exp}",
            found(&unexp, true)
        ));
        error.redacted = Some(format!("invalid value, expected {exp}"));
        error
    }

    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        DeError::new(format!("expected {exp}, found {len} items"))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let mut error = DeError::new(format!(
            "unknown value `{variant}`, expected {}",
            one_of(expected.iter().copied())
        ))
        .help(did_you_mean(variant, expected.iter().copied()));
        error.redacted = Some(format!(
            "unknown value, expected {}",
            one_of(expected.iter().copied())
        ));
        error
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DeError::new(format!("unknown field `{field}`"))
            .help(did_you_mean(field, expected.iter().copied()))
    }

    fn missing_field(field: &'static str) -> Self {
        let mut error = DeError::new(format!("missing field `{field}`"))
            .help(Some(format!("add `{field}: …`")));
        error.missing_field = Some(field);
        error
    }
}

struct NodeDe<'a, 'c> {
    node: &'a Node,
    cx: &'a DeContext<'c>,
    /// Mapping nesting below the task: 0 is the task's own fields.
    depth: u32,
    /// This mapping's `type` selected an enum variant: it is not one of the variant's fields.
    skip_type: bool,
}

impl<'a, 'c> NodeDe<'a, 'c> {
    fn child(&self, node: &'a Node) -> Self {
        NodeDe {
            node,
            cx: self.cx,
            depth: self.depth + 1,
            skip_type: false,
        }
    }

    fn without_type(self) -> Self {
        NodeDe {
            skip_type: true,
            ..self
        }
    }

    /// Whether `key` is left out of this mapping.
    fn skips(&self, key: &Key, skip: &[String]) -> bool {
        (self.skip_type && key.name == "type") || (self.depth == 0 && skip.contains(&key.name))
    }

    /// A string rendered from a template stands for the scalar it spells: `"{{ n }}"` → 3.
    fn templated_str(&self) -> Option<&'a str> {
        match &self.node.value {
            Value::Str(s) if self.node.templated => Some(s.trim()),
            _ => None,
        }
    }

    fn visit_map_of<V: Visitor<'a>>(
        self,
        entries: &'a [(Key, Node)],
        fields: Option<&'static [&'static str]>,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let skip = self.cx.skip.borrow().clone();
        let known =
            |k: &Key| !self.skips(k, &skip) && fields.is_none_or(|f| f.contains(&k.name.as_str()));
        if let Some(fields) = fields {
            self.report_unknown(entries, fields, &skip);
        }
        let entries: Vec<&'a (Key, Node)> = entries.iter().filter(|(k, _)| known(k)).collect();
        visitor.visit_map(MapDe {
            entries: entries.into_iter(),
            value: None,
            de: self,
        })
    }

    /// The fields a mapping takes, for an unknown one that resembles none of them.
    fn fields_help(&self, fields: &[&str], keywords: &[&str]) -> String {
        match (fields.is_empty(), keywords.is_empty()) {
            (false, _) => format!("the fields here are {}", one_of(fields.iter().copied())),
            (true, false) => format!(
                "{} has no fields of its own, only {}",
                self.cx.what,
                one_of(keywords.iter().copied())
            ),
            (true, true) => "this takes no fields".to_owned(),
        }
    }

    fn report_unknown(&self, entries: &[(Key, Node)], fields: &[&str], skip: &[String]) {
        if !self.cx.first_pass.get() {
            return;
        }
        for (key, _) in entries {
            if fields.contains(&key.name.as_str()) || self.skips(key, skip) {
                continue;
            }
            let keywords = if self.depth == 0 {
                self.cx.keywords
            } else {
                &[]
            };
            let candidates = fields.iter().chain(keywords).copied();
            let place = if self.depth == 0 {
                format!(" in {}", self.cx.what)
            } else {
                String::new()
            };
            let help = did_you_mean(&key.name, candidates.clone())
                .unwrap_or_else(|| self.fields_help(fields, keywords));
            self.cx.soft.borrow_mut().push(
                Diagnostic::error(format!("unknown field `{}`{place}", key.name))
                    .at(key.span)
                    .help(help),
            );
        }
    }
}

macro_rules! forward_to_any {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
                self.deserialize_any(visitor)
            }
        )*
    };
}

macro_rules! templated_number {
    ($($method:ident => $ty:ty, $visit:ident;)*) => {
        $(
            fn $method<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
                let node = self.node;
                match self.templated_str().and_then(|s| s.parse::<$ty>().ok()) {
                    Some(n) => visitor.$visit(n).map_err(|e: DeError| e.at(node)),
                    None => self.deserialize_any(visitor),
                }
            }
        )*
    };
}

impl<'a> de::Deserializer<'a> for NodeDe<'a, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.node;
        let result = match &node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_str(s),
            Value::Seq(items) => visitor.visit_seq(SeqDe {
                items: items.iter(),
                de: &self,
            }),
            Value::Map(entries) => self.visit_map_of(entries, None, visitor),
        };
        result.map_err(|e| e.at(node))
    }

    fn deserialize_bool<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.node;
        // minijinja renders booleans the Python way, `True` and `False`.
        match self.templated_str() {
            Some("true" | "True") => visitor.visit_bool(true).map_err(|e: DeError| e.at(node)),
            Some("false" | "False") => visitor.visit_bool(false).map_err(|e: DeError| e.at(node)),
            _ => self.deserialize_any(visitor),
        }
    }

    templated_number! {
        deserialize_i8 => i64, visit_i64;
        deserialize_i16 => i64, visit_i64;
        deserialize_i32 => i64, visit_i64;
        deserialize_i64 => i64, visit_i64;
        deserialize_u8 => u64, visit_u64;
        deserialize_u16 => u64, visit_u64;
        deserialize_u32 => u64, visit_u64;
        deserialize_u64 => u64, visit_u64;
        deserialize_f32 => f64, visit_f64;
        deserialize_f64 => f64, visit_f64;
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let node = self.node;
        if name == MAGIC {
            return visitor.visit_map(SpannedDe {
                node,
                de: Some(self),
                step: 0,
            });
        }
        match &node.value {
            Value::Map(entries) => self.visit_map_of(entries, Some(fields), visitor),
            _ => Err(
                DeError::new(format!("expected a mapping, found {}", node.kind())).help(Some(
                    format!("the fields here are {}", one_of(fields.iter().copied())),
                )),
            ),
        }
        .map_err(|e| e.at(node))
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let node = self.node;
        let all_types = || {
            let offered = |v: &&&str| !crate::apply::TEST_ONLY_TYPES.contains(*v);
            variants
                .iter()
                .filter(offered)
                .chain(self.cx.other_types)
                .copied()
        };
        let choices = || one_of(all_types());
        match &node.value {
            Value::Str(s) if variants.contains(&s.as_str()) => visitor
                .visit_enum(NamedVariant(s.as_str()))
                .map_err(|e| e.at(node)),
            Value::Str(s) => Err(<DeError as de::Error>::unknown_variant(s, variants).at(node)),
            Value::Map(_) => {
                let Some(type_node) = node.get("type") else {
                    return Err(DeError::new("missing field `type`".to_owned())
                        .help(Some(format!("set `type:` to {}", choices())))
                        .at(node));
                };
                match type_node.as_str() {
                    Some(t) if variants.contains(&t) => visitor
                        .visit_enum(TypedVariant { name: t, de: self })
                        .map_err(|e| e.at(node)),
                    Some(t) => {
                        let help = did_you_mean(t, all_types())
                            .unwrap_or_else(|| format!("the types here are {}", choices()));
                        Err(DeError::new(format!("unknown type `{t}`"))
                            .help(Some(help))
                            .at(type_node))
                    }
                    None => Err(DeError::new(format!(
                        "`type` must be a string, found {}",
                        type_node.kind()
                    ))
                    .help(Some(format!("set `type:` to {}", choices())))
                    .at(type_node)),
                }
            }
            _ => {
                Err(DeError::new(format!("expected {}, found {}", choices(), node.kind())).at(node))
            }
        }
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    forward_to_any! {
        deserialize_char deserialize_str deserialize_string deserialize_bytes
        deserialize_byte_buf deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_i128 deserialize_u128
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple<V: Visitor<'a>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }
}

struct SeqDe<'a, 'b, 'c> {
    items: std::slice::Iter<'a, Node>,
    de: &'b NodeDe<'a, 'c>,
}

impl<'a> SeqAccess<'a> for SeqDe<'a, '_, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'a>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(item) => seed.deserialize(self.de.child(item)).map(Some),
            None => Ok(None),
        }
    }
}

struct MapDe<'a, 'c> {
    entries: std::vec::IntoIter<&'a (Key, Node)>,
    value: Option<&'a (Key, Node)>,
    de: NodeDe<'a, 'c>,
}

impl<'a> MapAccess<'a> for MapDe<'a, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(entry);
        let key: &'a str = &entry.0.name;
        seed.deserialize(de::value::BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((key, value)) = self.value.take() else {
            return Err(DeError::new("a value without its key".to_owned()));
        };
        seed.deserialize(self.de.child(value)).map_err(|mut e| {
            if self.de.depth == 0 && e.top_key.is_none() {
                e.top_key = Some(key.name.as_str().into());
            }
            e
        })
    }
}

/// Feeds a [`crate::model::Spanned`] its span, sensitivity and value.
struct SpannedDe<'a, 'c> {
    node: &'a Node,
    de: Option<NodeDe<'a, 'c>>,
    step: u8,
}

impl<'a> MapAccess<'a> for SpannedDe<'a, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let key = match self.step {
            0 => FIELD_SPAN,
            1 => FIELD_SENSITIVE,
            2 => FIELD_VALUE,
            _ => return Ok(None),
        };
        seed.deserialize(de::value::BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        self.step += 1;
        match self.step {
            1 => {
                let span = self.node.span;
                let parts = [span.file.0, span.start, span.end];
                seed.deserialize(de::value::SeqDeserializer::new(parts.into_iter()))
            }
            2 => seed.deserialize(self.node.any_sensitive().into_deserializer()),
            _ => match self.de.take() {
                Some(de) => seed.deserialize(de),
                None => Err(DeError::new("a spanned value read twice".to_owned())),
            },
        }
    }
}

/// A variant named by a plain string (`parser: json`): a variant with fields takes them all
/// at their defaults, as the mapping `{ type: json }` would.
struct NamedVariant<'a>(&'a str);

type NoFields<'a> = de::value::MapDeserializer<'a, std::iter::Empty<(&'a str, &'a str)>, DeError>;

impl<'a> EnumAccess<'a> for NamedVariant<'a> {
    type Error = DeError;
    type Variant = NamedVariant<'a>;

    fn variant_seed<V: DeserializeSeed<'a>>(self, seed: V) -> Result<(V::Value, Self), DeError> {
        let variant = seed.deserialize(de::value::BorrowedStrDeserializer::new(self.0))?;
        Ok((variant, self))
    }
}

impl<'a> VariantAccess<'a> for NamedVariant<'a> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'a>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(NoFields::new(std::iter::empty()))
    }

    fn tuple_variant<V: Visitor<'a>>(self, _len: usize, _visitor: V) -> Result<V::Value, DeError> {
        Err(DeError::new(format!(
            "`{}` must be written as a mapping with `type: {}`",
            self.0, self.0
        )))
    }

    fn struct_variant<V: Visitor<'a>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_map(NoFields::new(std::iter::empty()))
    }
}

/// A mapping whose `type` field names the variant; its other fields are the variant's.
struct TypedVariant<'a, 'c> {
    name: &'a str,
    de: NodeDe<'a, 'c>,
}

impl<'a, 'c> EnumAccess<'a> for TypedVariant<'a, 'c> {
    type Error = DeError;
    type Variant = TypedVariant<'a, 'c>;

    fn variant_seed<V: DeserializeSeed<'a>>(self, seed: V) -> Result<(V::Value, Self), DeError> {
        let variant = seed.deserialize(de::value::BorrowedStrDeserializer::new(self.name))?;
        Ok((variant, self))
    }
}

impl<'a> VariantAccess<'a> for TypedVariant<'a, '_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        let extra = self
            .de
            .node
            .as_map()
            .and_then(|entries| entries.iter().find(|(k, _)| k.name != "type"));
        match extra {
            Some((key, _)) => Err(DeError::new(format!(
                "unknown field `{}`: `{}` takes no fields",
                key.name, self.name
            ))
            .at(&Node::new(Value::Null, key.span))),
            None => Ok(()),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'a>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self.de.without_type())
    }

    fn tuple_variant<V: Visitor<'a>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_any(self.de.without_type(), visitor)
    }

    fn struct_variant<V: Visitor<'a>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_struct(self.de.without_type(), "", fields, visitor)
    }
}
