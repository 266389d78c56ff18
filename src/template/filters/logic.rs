//! `bool`, `ternary` and `mandatory`: Ansible's filters for truth and required values.

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

/// Ansible's `bool`: a boolean as is; `yes`, `on`, `1`, `true` (any case) and the number 1 are
/// true; everything else false.
pub fn to_bool(value: &Value) -> bool {
    match value.kind() {
        ValueKind::Bool => value.is_true(),
        ValueKind::Number => value.as_i64() == Some(1) || value.to_string() == "1.0",
        ValueKind::String => matches!(
            value
                .as_str()
                .unwrap_or_default()
                .trim()
                .to_lowercase()
                .as_str(),
            "yes" | "on" | "1" | "true"
        ),
        _ => false,
    }
}

/// `cond | ternary(if_true, if_false, if_none)`: `if_none` when the value is none and it is
/// given.
pub fn ternary(value: &Value, if_true: Value, if_false: Value, if_none: Option<Value>) -> Value {
    match if_none {
        Some(none) if value.is_none() => none,
        _ if value.is_true() => if_true,
        _ => if_false,
    }
}

/// `value | mandatory(msg)`: the value, or an error naming it as undefined.
pub fn mandatory(value: &Value, msg: Option<String>) -> Result<Value, Error> {
    if !value.is_undefined() {
        return Ok(value.clone());
    }
    Err(Error::new(
        ErrorKind::UndefinedError,
        msg.unwrap_or_else(|| "a mandatory value is undefined".to_owned()),
    ))
}
