//! The spanned value tree every config format is parsed into.
//!
//! Later stages never see YAML, TOML or JSON: only [`Node`]s, each with the [`Span`] of the text
//! it came from, so a diagnostic at any stage can point at the exact field.

use crate::diagnostics::Span;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
    /// Set by the template stage when rendering this string read a secret.
    pub sensitive: bool,
    /// Set by the template stage when this string was rendered from a template; lets the
    /// type-check read `"{{ n }}"` rendered to `"3"` as the number 3.
    pub templated: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key: always a string (YAML's other scalar keys are converted), with its place.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub span: Span,
}

impl Node {
    pub fn new(value: Value, span: Span) -> Self {
        Node {
            value,
            span,
            sensitive: false,
            templated: false,
        }
    }

    /// What kind of value this is, for messages ("expected a list, found a string").
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The entry `name` of a mapping node.
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(_, v)| v)
    }

    /// The key of entry `name` of a mapping node.
    pub fn key(&self, name: &str) -> Option<&Key> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(k, _)| k)
    }

    /// Whether any value in this subtree is sensitive.
    pub fn any_sensitive(&self) -> bool {
        self.sensitive
            || match &self.value {
                Value::Seq(items) => items.iter().any(Node::any_sensitive),
                Value::Map(entries) => entries.iter().any(|(_, v)| v.any_sensitive()),
                _ => false,
            }
    }
}
