//! plan.json: writing it with its digest, and reading it back with every check `execute`
//! makes before trusting it.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{FORMAT_VERSION, Plan};
use crate::apply::fs_state::sha256_hex;

mod canonical;

/// Keys a plan's digest leaves out: the digest itself, and when the plan was made.
const UNDIGESTED: &[&str] = &["digest", "created_at"];

/// The digest of a plan document: SHA-256 of its compact JSON without `digest` and
/// `created_at`, keys in sorted order (as `serde_json::Value` keeps them). The JSON is
/// written into the hash as it is made ([`canonical`]), not held.
fn digest<T: Serialize + ?Sized>(document: &T) -> String {
    let mut hasher = HashWriter(Sha256::new());
    match canonical::write(&mut hasher, document, UNDIGESTED) {
        Ok(()) => crate::fsutil::hex(&hasher.0.finalize()),
        Err(_) => digest_of_value(serde_json::to_value(document).unwrap_or(Value::Null)),
    }
}

/// [`digest`] through a `serde_json::Value`: for what [`canonical`] leaves to it.
fn digest_of_value(mut document: Value) -> String {
    if let Some(map) = document.as_object_mut() {
        for key in UNDIGESTED {
            map.remove(*key);
        }
    }
    sha256_hex(&serde_json::to_vec(&document).unwrap_or_default())
}

/// Feeds what is written to a SHA-256.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sets the plan's digest.
pub fn seal(plan: &mut Plan) {
    plan.digest = digest(&*plan);
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
    let document: Value =
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
    if recorded != digest(&document) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A plan with an apply node and a facts node, as `driftless plan` writes them.
    fn plan() -> Plan {
        let mut plan: Plan = serde_json::from_value(serde_json::json!({
            "format_version": FORMAT_VERSION,
            "tool_version": "0.1.0",
            "created_at": "2026-12-06T10:08:25Z",
            "host": {"hostname": "vm", "machine_id": "3d1219c7"},
            "config": {"dir": "/etc/driftless", "git_commit": "b2065254", "git_dirty": false,
                       "digest": "39bbf6c4", "extra_vars": ["root=/srv"]},
            "summary": {"create": 1, "update": 0, "delete": 0, "no_op": 0, "run": 0, "collect": 1},
            "audit": [{"type": "directory", "path": "/var/log/driftless"}],
            "nodes": [
                {"address": "apply.script", "kind": "apply", "type": "file",
                 "source": {"file": "main.yaml", "line": 4, "column": 5},
                 "depends_on": [],
                 "action": "create", "precondition": "observed",
                 "before": {"path": "/srv/script", "state": "absent"},
                 "after": {"content": "#!/bin/sh\necho 12\n", "gid": 0, "group": "root",
                           "mode": "0755", "owner": "root", "path": "/srv/script",
                           "sha256": "103e4000a37bbc79ae6d755c71fa03f513cbe337b3aace36c35ebbb08d142318", "size": 18, "state": "file", "uid": 0},
                 "before_sensitive": false, "after_sensitive": false,
                 "fingerprint": "2cb4fd47", "route": "76e043a6",
                 "diff": "--- /srv/script\n+++ /srv/script\n@@ -0,0 +1,2 @@\n+#!/bin/sh\n+echo 12\n"},
                {"address": "facts.disk", "kind": "facts", "type": "disk",
                 "source": {"file": "main.yaml", "line": 22, "column": 5},
                 "depends_on": [], "action": "collect", "precondition": "none",
                 "before": null,
                 "after": {"interval": "30s",
                           "thresholds": {"used_ratio": {"critical": 0.95, "warn": 0.8}}},
                 "before_sensitive": false, "after_sensitive": false, "fingerprint": ""}
            ],
            "digest": "6be4e330"
        }))
        .unwrap();
        let before = crate::apply::FsState::absent("/srv/script");
        plan.nodes[0].fingerprint = crate::apply::fs_state::fingerprint(&before, "76e043a6", true);
        plan
    }

    #[test]
    fn a_plan_is_digested_without_a_value_and_as_through_one() {
        let plan = plan();
        // The fast path takes a whole plan: nothing in it is left to the slow one.
        assert!(canonical::write(&mut std::io::sink(), &plan, UNDIGESTED).is_ok());
        let through_value = digest_of_value(serde_json::to_value(&plan).unwrap());
        assert_eq!(digest(&plan), through_value);
        // And as `execute` reads it back.
        assert_eq!(digest(&serde_json::to_value(&plan).unwrap()), through_value);
    }

    #[test]
    fn the_digest_leaves_out_when_and_itself_only() {
        let mut plan = plan();
        seal(&mut plan);
        let sealed = plan.digest.clone();
        plan.created_at = "2030-01-01T00:00:00Z".to_owned();
        seal(&mut plan);
        assert_eq!(plan.digest, sealed);
        plan.tool_version = "0.1.1".to_owned();
        seal(&mut plan);
        assert_ne!(plan.digest, sealed);
    }

    #[test]
    fn a_sealed_plan_reads_back() {
        let mut plan = plan();
        let text = to_json(&mut plan);
        let read = from_json(&text).map(|p| p.digest);
        assert_eq!(read, Ok(plan.digest));
    }
}
