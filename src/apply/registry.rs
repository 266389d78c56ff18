//! The registry's machinery: [`task_types!`] turns the list of types in `apply/mod.rs` (one
//! line per type) into [`ApplySpec`](super::ApplySpec) and its dispatch to each type's
//! [`Resource`](super::Resource).

/// Generates [`ApplySpec`] (what `check` deserializes a task into, by its `type`, and what the
/// JSON Schema in `grammar/` describes) and its dispatch to each type's [`Resource`].
macro_rules! task_types {
    ($($(#[$attr:meta])* $variant:ident($task:ty) = $name:literal,)*) => {
        /// The task types, selected by the `type` field.
        #[derive(Debug, Clone, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
        #[schemars(tag = "type")]
        pub enum ApplySpec {
            $($(#[$attr])* #[serde(rename = $name)] $variant($task),)*
        }

        impl ApplySpec {
            /// Every name [`ApplySpec::type_name`] gives.
            pub const TYPE_NAMES: &'static [&'static str] = &[$($(#[$attr])* $name,)*];

            pub fn type_name(&self) -> &'static str {
                match self {
                    $($(#[$attr])* ApplySpec::$variant(_) => $name,)*
                }
            }

            /// What the task manages (and the exclusive locks its node holds).
            pub fn claims(&self) -> Vec<$crate::apply::Claim> {
                match self {
                    $($(#[$attr])* ApplySpec::$variant(t) => $crate::apply::Resource::claims(t),)*
                }
            }

            /// What other tasks must have made first, when a task of the config claims it.
            pub fn requires(&self) -> Vec<$crate::apply::Requirement> {
                match self {
                    $($(#[$attr])* ApplySpec::$variant(t) => $crate::apply::Resource::requires(t),)*
                }
            }

            /// Things some task of the config must claim.
            pub fn needs(&self) -> Vec<$crate::apply::contract::Needed> {
                match self {
                    $($(#[$attr])* ApplySpec::$variant(t) => $crate::apply::Resource::needs(t),)*
                }
            }

            /// What the task reads when the config is planned.
            pub fn observes(&self) -> Vec<$crate::apply::Claim> {
                match self {
                    $($(#[$attr])* ApplySpec::$variant(t) => $crate::apply::Resource::observes(t),)*
                }
            }

            /// The id of a task that gives none.
            pub fn default_id(&self) -> String {
                match self {
                    $($(#[$attr])* ApplySpec::$variant(t) => $crate::apply::Resource::default_id(t),)*
                }
            }

            /// The rules of the task's fields beyond their types.
            pub fn check(
                &self,
                cx: &$crate::apply::contract::CheckContext<'_>,
                found: &mut Vec<$crate::diagnostics::Diagnostic>,
            ) {
                match self {
                    $($(#[$attr])* ApplySpec::$variant(t) => $crate::apply::Resource::check(t, cx, found),)*
                }
            }

            /// Whether content the task writes comes from a secret.
            pub fn carries_secret(&self, rendered: Option<&$crate::model::RenderedContent>) -> bool {
                match self {
                    $($(#[$attr])* ApplySpec::$variant(t) => $crate::apply::Resource::carries_secret(t, rendered),)*
                }
            }

            /// The family that plans and runs the task's node.
            pub fn family(&self) -> &'static dyn $crate::apply::Family {
                match self {
                    $($(#[$attr])* ApplySpec::$variant(_) => <$task as $crate::apply::Resource>::family(),)*
                }
            }

            /// The task as a member of the file family, if it is one.
            pub fn file_type(&self) -> Option<&dyn $crate::apply::files::FileType> {
                match self {
                    $($(#[$attr])* ApplySpec::$variant(t) => $crate::apply::Resource::file_type(t),)*
                }
            }
        }

        /// The fields of a task type that may hold a secret; `None` for a name that is no type.
        pub fn secret_fields_of(type_name: &str) -> Option<&'static [&'static str]> {
            match type_name {
                $($(#[$attr])* $name => Some(<$task as $crate::apply::Resource>::SECRET_FIELDS),)*
                _ => None,
            }
        }

        /// The fields a registered result of the type has besides `changed` and `skipped`;
        /// none for a name that is no type.
        pub fn result_fields_of(type_name: &str) -> &'static [&'static str] {
            match type_name {
                $($(#[$attr])* $name => <$task as $crate::apply::Resource>::RESULT_FIELDS,)*
                _ => &[],
            }
        }

        /// Whether a task type has a field of this name (read from its schema, once per type
        /// and field): a type's own `name` field takes `name:` before the task keyword does.
        pub fn type_has_field(type_name: &str, field: &str) -> bool {
            match type_name {
                $($(#[$attr])* $name => $crate::apply::registry::has_property::<$task>($name, field),)*
                _ => false,
            }
        }

        /// The family of a node's type, as plan.json names it.
        pub fn family_of(type_name: &str) -> Option<&'static dyn $crate::apply::Family> {
            match type_name {
                $($(#[$attr])* $name => Some(<$task as $crate::apply::Resource>::family()),)*
                _ => None,
            }
        }
    };
}
pub(crate) use task_types;

/// Whether the schema of task struct `T` (type `type_name`) has the property `field`; cached,
/// since every task asks.
pub fn has_property<T: schemars::JsonSchema>(type_name: &'static str, field: &str) -> bool {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<(&'static str, String), bool>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    *cache
        .entry((type_name, field.to_owned()))
        .or_insert_with(|| {
            let schema = schemars::SchemaGenerator::default().into_root_schema_for::<T>();
            schema
                .get("properties")
                .and_then(|p| p.as_object())
                .is_some_and(|p| p.contains_key(field))
        })
}
