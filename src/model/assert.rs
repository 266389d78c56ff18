//! `type: assert` in `apply`: conditions on the host's facts and the vars that must hold for
//! the config to apply at all (Ansible's `assert`). The template stage evaluates each
//! condition like a `when`; the check stage turns a false one into an error, so `check`,
//! `plan` and `apply` stop before anything is planned or changed. An assert is never a plan
//! node.

use schemars::JsonSchema;
use serde::Deserialize;

use super::spanned::Spanned;

/// The task type name.
pub const ASSERT: &str = "assert";

/// The assert type, `type`-tagged like the other apply types.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(tag = "type")]
pub enum AssertSpec {
    Assert(AssertTask),
}

/// Conditions that must all be true on this host.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssertTask {
    /// A condition, or a list of them, written like `when`: an expression without braces,
    /// e.g. `facts.os.family == "debian"`. Every one must be true.
    #[schemars(with = "ConditionOrList")]
    pub that: Vec<Spanned<bool>>,
    /// The message when a condition is false (templated; say what the host needs).
    pub fail_msg: Option<Spanned<String>>,
}

/// `that` as written: one condition or a list (the template stage reads it, so the Rust type
/// of the field is what it becomes).
struct ConditionOrList;

impl JsonSchema for ConditionOrList {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ConditionOrList".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                { "type": ["string", "boolean"] },
                { "type": "array", "items": { "type": ["string", "boolean"] }, "minItems": 1 }
            ]
        })
    }
}
