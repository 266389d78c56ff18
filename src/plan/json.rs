//! plan.json: writing it with its digest, and reading it back with every check `execute`
//! makes before trusting it.

use serde_json::Value;

use super::{FORMAT_VERSION, Plan};
use crate::apply::fs_state::sha256_hex;

/// The digest of a plan document: SHA-256 of its compact JSON without `digest` and
/// `created_at` (keys in sorted order, as `serde_json::Value` keeps them). Those two keys are
/// taken out of `document` and put back, so a large plan is not copied.
fn digest_of(document: &mut Value) -> String {
    let Some(map) = document.as_object_mut() else {
        return sha256_hex(&serde_json::to_vec(document).unwrap_or_default());
    };
    let digest = map.remove("digest");
    let created_at = map.remove("created_at");
    let hash = sha256_hex(&serde_json::to_vec(map).unwrap_or_default());
    for (key, value) in [("digest", digest), ("created_at", created_at)] {
        if let Some(value) = value {
            map.insert(key.to_owned(), value);
        }
    }
    hash
}

/// Sets the plan's digest.
pub fn seal(plan: &mut Plan) {
    plan.digest = String::new();
    let mut value = serde_json::to_value(&*plan).unwrap_or(Value::Null);
    plan.digest = digest_of(&mut value);
}

/// The plan as pretty JSON with its digest set, ending in a newline.
pub fn to_json(plan: &mut Plan) -> String {
    seal(plan);
    let mut text = serde_json::to_string_pretty(&*plan).unwrap_or_default();
    text.push('\n');
    text
}

/// Parses and verifies a plan document: a format this version reads, an unedited body, and
/// nodes that hold together (`verify`), so that what `show` prints is what `execute` does.
/// Unknown fields (from a newer minor format) are ignored, but they count in the digest.
pub fn from_json(text: &str) -> Result<Plan, String> {
    let mut document: Value =
        serde_json::from_str(text).map_err(|e| format!("not a plan: invalid JSON: {e}"))?;
    let version = document
        .get("format_version")
        .and_then(Value::as_str)
        .ok_or("not a plan: no `format_version`")?;
    let major = |v: &str| v.split('.').next().unwrap_or_default().to_owned();
    if major(version) != major(FORMAT_VERSION) {
        return Err(format!(
            "plan format {version} is not supported: this driftless reads format {}.x; \
             make the plan with this version of driftless",
            major(FORMAT_VERSION)
        ));
    }
    let recorded = document
        .get("digest")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if recorded != digest_of(&mut document) {
        return Err(
            "the plan's digest does not match its content: it was edited after `driftless plan` \
             made it; make a new plan instead of editing one"
                .to_owned(),
        );
    }
    let plan: Plan = serde_json::from_value(document).map_err(|e| format!("not a plan: {e}"))?;
    let contradictions = super::verify::contradictions(&plan);
    if !contradictions.is_empty() {
        return Err(format!(
            "the plan contradicts itself, so it was changed after `driftless plan` made it: {}; \
             make a new plan instead of editing one",
            contradictions.join("; ")
        ));
    }
    Ok(plan)
}
