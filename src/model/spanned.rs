use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use crate::diagnostics::{FileId, Span};

/// A typed value with the place it was written and whether it came from a secret.
///
/// Deserialized through the check stage's node deserializer, which recognises `MAGIC` (the
/// same technique as `serde_spanned`); to schemars and serializers it is just `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
    pub sensitive: bool,
}

pub const MAGIC: &str = "$driftless::private::Spanned";
pub const FIELD_VALUE: &str = "$value";
pub const FIELD_SPAN: &str = "$span";
pub const FIELD_SENSITIVE: &str = "$sensitive";
pub const FIELDS: &[&str] = &[FIELD_SPAN, FIELD_SENSITIVE, FIELD_VALUE];

impl<T> AsRef<T> for Spanned<T> {
    fn as_ref(&self) -> &T {
        &self.value
    }
}

impl<T> Spanned<T> {
    /// A value with no place in a file: a built-in default (never checked, so its span is
    /// never shown), or a unit test's hand-built model.
    pub fn unplaced(value: T) -> Self {
        Spanned {
            value,
            span: Span::new(FileId(0), 0, 0),
            sensitive: false,
        }
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

impl<T: serde::Serialize> serde::Serialize for Spanned<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpannedVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for SpannedVisitor<T> {
            type Value = Spanned<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value with its source position")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Spanned<T>, A::Error> {
                let mut span = None;
                let mut sensitive = false;
                while let Some(key) = map.next_key::<&str>()? {
                    match key {
                        FIELD_SPAN => {
                            let (file, start, end): (u32, u32, u32) = map.next_value()?;
                            span = Some(Span {
                                file: FileId(file),
                                start,
                                end,
                            });
                        }
                        FIELD_SENSITIVE => sensitive = map.next_value()?,
                        FIELD_VALUE => {
                            let value = map.next_value()?;
                            let span = span.ok_or_else(|| de::Error::missing_field(FIELD_SPAN))?;
                            return Ok(Spanned {
                                value,
                                span,
                                sensitive,
                            });
                        }
                        other => return Err(de::Error::unknown_field(other, FIELDS)),
                    }
                }
                Err(de::Error::missing_field(FIELD_VALUE))
            }
        }

        deserializer.deserialize_struct(MAGIC, FIELDS, SpannedVisitor(PhantomData))
    }
}
