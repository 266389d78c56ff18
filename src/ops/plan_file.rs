//! Reading a reviewed plan file.

use std::path::Path;

use crate::plan::{Plan, json};

/// The plan in the file at `path`: read, its format and digest checked ([`json::from_json`]).
pub fn read_plan(path: &Path) -> Result<Plan, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the plan {}: {e}", path.display()))?;
    json::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
}
