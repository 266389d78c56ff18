//! Which parts of a value came from a secret, carried into the templates that read it.
//!
//! A value rendered once and read again by later templates (a `loop` item) would lose its
//! sensitivity if it went back into the context as a plain value: `content: "{{ item.pw }}"`
//! reads no secret itself. So such a value enters the context with its [`Taint`], and a
//! template that reads a tainted part of it marks its own render sensitive, exactly as reading
//! `secrets.NAME` does. Parts that did not come from a secret stay public: `item.name` next to
//! `item.pw` can still go into a path.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use minijinja::Value;
use minijinja::value::{Enumerator, Object, ObjectRepr};

use super::scope::SecretsView;
use crate::config::{Node, Value as NodeValue};

/// The sensitive parts of a value, in the value's shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Taint {
    /// Nothing in it came from a secret.
    Clean,
    /// All of it came from a secret (or cannot be told apart).
    Secret,
    /// A mapping with some sensitive entries.
    Map(BTreeMap<String, Taint>),
    /// A list with some sensitive items.
    Seq(Vec<Taint>),
}

impl Taint {
    /// The taint of a rendered config value: its sensitive leaves.
    pub fn of(node: &Node) -> Taint {
        if node.sensitive {
            return Taint::Secret;
        }
        if !node.any_sensitive() {
            return Taint::Clean;
        }
        match &node.value {
            NodeValue::Seq(items) => Taint::Seq(items.iter().map(Taint::of).collect()),
            NodeValue::Map(entries) => Taint::Map(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), Taint::of(v)))
                    .collect(),
            ),
            _ => Taint::Clean,
        }
    }

    /// The taint of the part of a container at `key` (a mapping key or a list index).
    fn child(&self, key: &Value) -> Taint {
        match self {
            Taint::Clean => Taint::Clean,
            Taint::Secret => Taint::Secret,
            Taint::Map(entries) => key
                .as_str()
                .and_then(|k| entries.get(k))
                .cloned()
                .unwrap_or(Taint::Clean),
            Taint::Seq(items) => key
                .as_usize()
                .and_then(|i| items.get(i))
                .cloned()
                .unwrap_or(Taint::Clean),
        }
    }
}

/// `value` as a template reads it: a sensitive value marks the render that reads it; a
/// container with sensitive parts is wrapped so that reading one of those parts does.
pub fn expose(value: Value, taint: &Taint, secrets: &Arc<SecretsView>) -> Value {
    match taint {
        Taint::Clean => value,
        Taint::Secret => {
            secrets.mark_touched();
            value
        }
        Taint::Map(_) | Taint::Seq(_) => Value::from_object(Tracked {
            value,
            taint: taint.clone(),
            secrets: secrets.clone(),
        }),
    }
}

/// A mapping or list with sensitive parts, as the template context holds it.
struct Tracked {
    value: Value,
    taint: Taint,
    secrets: Arc<SecretsView>,
}

impl fmt::Debug for Tracked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Debug output may reach an error message: the values are never printed.
        f.write_str("(value with sensitive parts)")
    }
}

impl Object for Tracked {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.taint {
            Taint::Seq(_) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let part = self
            .value
            .get_item(key)
            .ok()
            .filter(|v| !v.is_undefined())?;
        Some(expose(part, &self.taint.child(key), &self.secrets))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.taint {
            Taint::Seq(_) => Enumerator::Seq(self.value.len().unwrap_or(0)),
            _ => match self.value.try_iter() {
                Ok(keys) => Enumerator::Values(keys.collect()),
                Err(_) => Enumerator::Empty,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Key;
    use crate::diagnostics::{FileId, Span};
    use crate::secrets::Secrets;

    fn leaf(text: &str, sensitive: bool) -> Node {
        Node {
            sensitive,
            ..Node::new(NodeValue::Str(text.to_owned()), Span::new(FileId(0), 0, 0))
        }
    }

    fn map(entries: Vec<(&str, Node)>) -> Node {
        let entries = entries
            .into_iter()
            .map(|(k, v)| {
                let key = Key {
                    name: k.to_owned(),
                    span: Span::new(FileId(0), 0, 0),
                };
                (key, v)
            })
            .collect();
        Node::new(NodeValue::Map(entries), Span::new(FileId(0), 0, 0))
    }

    fn render(template: &str, item: &Node) -> (String, bool) {
        let secrets = SecretsView::new(Arc::new(Secrets::new(Vec::new())));
        let value = expose(
            super::super::node_to_value(item),
            &Taint::of(item),
            &secrets,
        );
        let env = minijinja::Environment::new();
        let out = env
            .render_str(template, minijinja::context! { item => value })
            .expect("renders");
        (out, secrets.take_touched())
    }

    #[test]
    fn reading_a_secret_part_of_an_item_is_sensitive_and_a_public_part_is_not() {
        let item = map(vec![
            ("name", leaf("alice", false)),
            ("pw", leaf("s3cr3t", true)),
        ]);
        assert_eq!(render("{{ item.pw }}", &item), ("s3cr3t".to_owned(), true));
        assert_eq!(
            render("{{ item.name }}", &item),
            ("alice".to_owned(), false)
        );
    }

    #[test]
    fn a_whole_item_with_a_secret_part_is_sensitive_however_it_is_read() {
        let item = map(vec![
            ("name", leaf("alice", false)),
            ("pw", leaf("s3cr3t", true)),
        ]);
        for template in [
            "{{ item }}",
            "{% for k, v in item|items %}{{ v }}{% endfor %}",
            "{{ item|dictsort|last|last }}",
            "{{ item.pw|upper }}",
            "{% set x = item.pw %}{{ x }}",
        ] {
            let (out, sensitive) = render(template, &item);
            assert!(
                sensitive,
                "{template} gave {out} without marking it sensitive"
            );
        }
    }
}
