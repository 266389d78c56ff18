//! Data-driven plan snapshots: each directory of `tests/plan-fixtures/` is a config dir whose
//! paths live under `{{ root }}` (a temp dir, passed with `-e root=…`); its hidden `.setup`
//! directory, when there is one, is copied into the root first (files that exist before the
//! plan). The plan.json is an insta snapshot in `snapshots/plan__<case>.snap`, with what differs
//! between machines and runs redacted: time, host, config location and digest, Git, the temp
//! root, fingerprints, owners, the tool version and the plan digest (Git fields are dropped).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common;
use serde_json::Value;

/// Copies `.setup` into `root` with fixed modes, so the snapshot does not depend on the umask
/// of the checkout.
fn copy_setup(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read .setup") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        let file_type = entry.file_type().expect("file type");
        if file_type.is_dir() {
            std::fs::create_dir(&target).expect("mkdir");
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
            copy_setup(&entry.path(), &target);
        } else if file_type.is_symlink() {
            let link = std::fs::read_link(entry.path()).expect("readlink");
            std::os::unix::fs::symlink(link, &target).expect("symlink");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644))
                .expect("chmod");
        }
    }
}

/// Replaces every value that differs between machines or runs.
fn redact(value: &mut Value, root: &str) {
    match value {
        Value::Object(map) => {
            // Present only when the checkout is a Git work tree.
            map.remove("git_commit");
            map.remove("git_dirty");
            for (key, v) in map.iter_mut() {
                let fixed = match key.as_str() {
                    "created_at" | "host" | "dir" | "fingerprint" | "route" | "tool_version" => {
                        true
                    }
                    "digest" | "uid" | "gid" | "owner" | "group" => !v.is_object(),
                    _ => false,
                };
                if fixed {
                    *v = Value::from(format!("[{key}]"));
                } else {
                    redact(v, root);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact(v, root)),
        Value::String(s) if s.contains(root) => *s = s.replace(root, "[root]"),
        _ => {}
    }
}

fn plan_case(case: &Path) -> String {
    let temp = tempfile::tempdir().expect("temp dir");
    let base = temp.path().canonicalize().expect("canonical");
    let root = base.join("root");
    std::fs::create_dir(&root).expect("mkdir root");
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let setup = case.join(".setup");
    if setup.is_dir() {
        copy_setup(&setup, &root);
    }
    let before = snapshot_tree(&root);
    let output = common::driftless_command(&base)
        .arg("-c")
        .arg(case)
        .arg("--env-file")
        .arg(base.join("no-env"))
        .arg("-e")
        .arg(format!("root={}", root.display()))
        .arg("plan")
        .output()
        .expect("run driftless plan");
    assert!(
        output.status.success(),
        "plan of {} failed:\n{}",
        case.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(before, snapshot_tree(&root), "plan changed the tree");
    // What `plan` writes, `show` and `execute` read back: every check of a plan's coherence
    // holds for a real one.
    let text = String::from_utf8_lossy(&output.stdout);
    if let Err(e) = driftless::plan::json::from_json(&text) {
        panic!("the plan of {} is not read back: {e}", case.display());
    }
    let mut plan: Value = serde_json::from_slice(&output.stdout).expect("plan is JSON");
    redact(&mut plan, &root.to_string_lossy());
    let mut text = serde_json::to_string_pretty(&plan).expect("json");
    text.push('\n');
    text
}

/// Names, kinds and contents: enough to see that planning wrote nothing.
fn snapshot_tree(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            let what = if meta.is_dir() {
                stack.push(path.clone());
                format!("dir {:o}", meta.permissions().mode())
            } else if meta.file_type().is_symlink() {
                format!("link {:?}", std::fs::read_link(&path).expect("readlink"))
            } else {
                format!("file {:?}", std::fs::read(&path).expect("read"))
            };
            out.push((path.to_string_lossy().into_owned(), what));
        }
    }
    out.sort();
    out
}

#[test]
fn plan_fixtures() {
    common::snapshot_each_case("plan-fixtures", "plan", 8, plan_case);
}
