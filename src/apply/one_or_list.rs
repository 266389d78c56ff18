//! A field that takes one string or a list of them (`path: /srv/a` or `path: [/srv/a, …]`),
//! as Ansible's list options do.

use schemars::JsonSchema;
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::model::Spanned;

/// One string, or a list of strings, as written.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum OneOrList {
    One(String),
    List(Vec<Spanned<String>>),
}

impl OneOrList {
    /// Every item, each at its own place (a single string at the field's, `whole`).
    pub fn items(whole: &Spanned<OneOrList>) -> Vec<Spanned<String>> {
        match &whole.value {
            OneOrList::One(text) => vec![Spanned {
                value: text.clone(),
                span: whole.span,
                sensitive: whole.sensitive,
            }],
            OneOrList::List(items) => items.clone(),
        }
    }
}

impl JsonSchema for OneOrList {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OneOrList".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A string, or a list of strings.",
            "anyOf": [
                { "type": "string" },
                { "type": "array", "items": { "type": "string" } }
            ]
        })
    }
}

impl<'de> Deserialize<'de> for OneOrList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrListVisitor;

        impl<'de> Visitor<'de> for OneOrListVisitor {
            type Value = OneOrList;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a list of strings")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<OneOrList, E> {
                Ok(OneOrList::One(text.to_owned()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrList, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<String>>()? {
                    items.push(item);
                }
                Ok(OneOrList::List(items))
            }
        }

        deserializer.deserialize_any(OneOrListVisitor)
    }
}
