//! The packing family: `archive`. Planning expands the inputs and reads every one of them
//! ([`inputs`]: names, kinds, modes, owners, sizes, content hashes — the manifest — and its
//! digest), and reads the manifest the archive at `dest` records ([`format`]). A node's
//! `before` is the archive found ([`Existing`]); its `after` the archive wanted ([`Packed`]).
//! The archive is re-made when its format, its recorded digest (the inputs changed), or its
//! mode or owner differ; the diff lists the entries that changed, one line each.
//!
//! Why a recorded manifest and not a rebuild to compare: a plan then costs one read of the
//! inputs and of the archive's first header (its last bytes for a zip), never a compression;
//! and the plan can say which input changed. Archives are still built deterministically
//! (sorted entries, the inputs' own modes, owner ids and times, no gzip time stamp).
//!
//! `execute` checks `dest` is the archive the plan saw and the inputs are the ones it read
//! (stale otherwise), then writes the archive to an unnamed file in `dest`'s directory
//! (opened without following any link), hashing each input again as it is packed, and links
//! it in atomically.

pub mod format;
pub mod inputs;

use std::fs;
use std::os::unix::fs::MetadataExt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Action;
use super::archive::ArchiveTask;
use super::contract::{
    Description, Detail, Family, NodeStates, NodeView, PlanContext, Ran, Recompiled, Recorded,
    Thing,
};
use super::fs_state::sha256_hex;
use crate::error::ResourceError;
use crate::host::users::{self, Db};
use crate::model::values::Principal;
use crate::model::{ApplySpec, ApplyTask, Spanned};
use crate::printable::escape;
pub use format::Format;
use inputs::Input;

/// The archive at `dest` as the plan found it: `before`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Existing {
    pub dest: String,
    pub exists: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The archive's format, by its first bytes (none: not an archive driftless reads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    /// The digest of the inputs the archive was made from, as it records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_sha256: Option<String>,
    /// The inputs it was made from, when it records them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<Input>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
}

/// The archive wanted: `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Packed {
    pub dest: String,
    pub format: Format,
    /// The paths and globs, as the task gives them.
    pub path: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_path: Vec<String>,
    /// Patterns that matched nothing (as Ansible's `missing`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    pub inputs_sha256: String,
    pub inputs: Vec<Input>,
    /// A task of the run manages an input: the archive is made from the inputs as that task
    /// leaves them, not refused as stale when they changed since the plan.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inputs_managed: bool,
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub uid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub gid: u32,
}

impl Packed {
    fn mode_bits(&self) -> u32 {
        u32::from_str_radix(&self.mode, 8).unwrap_or(0o644)
    }
}

fn archive_task(task: &ApplyTask) -> Result<&ArchiveTask, String> {
    match &task.spec {
        ApplySpec::Archive(t) => Ok(t),
        _ => Err("not an archive task".to_owned()),
    }
}

/// The archive at `dest` now. A symbolic link or anything but a regular file there is an
/// error: the archive replaces only a file it can see.
fn observe(dest: &str) -> Result<Existing, String> {
    let mut existing = Existing {
        dest: dest.to_owned(),
        exists: false,
        sha256: None,
        size: None,
        format: None,
        inputs_sha256: None,
        inputs: None,
        mode: None,
        uid: None,
        gid: None,
    };
    let metadata = match fs::symlink_metadata(dest) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(existing),
        Err(e) => return Err(format!("cannot read {dest}: {e}")),
    };
    if !metadata.is_file() {
        return Err(format!(
            "{dest} exists and is not a regular file (a link, directory or special file); \
             the archive replaces only a file"
        ));
    }
    let read = |e: std::io::Error| format!("cannot read {dest}: {e}");
    let mut file = inputs::open_no_follow(std::path::Path::new(dest)).map_err(read)?;
    let hashed = crate::fsutil::hash_file(&mut file, 0).map_err(read)?;
    std::io::Seek::rewind(&mut file).map_err(read)?;
    let (format, record) = format::read_record(&mut file).map_err(read)?;
    existing.exists = true;
    existing.sha256 = Some(hashed.sha256_hex());
    existing.size = Some(hashed.size);
    existing.format = format;
    if let Some(record) = record {
        existing.inputs_sha256 = Some(record.inputs_sha256);
        existing.inputs = record.inputs;
    }
    existing.mode = Some(format!("{:04o}", metadata.mode() & 0o7777));
    existing.uid = Some(metadata.uid());
    existing.gid = Some(metadata.gid());
    Ok(existing)
}

/// A principal of the task as a name and id; unset, what is there, else the running user's.
fn principal(
    given: Option<&Spanned<Principal>>,
    db: Db,
    existing: Option<u32>,
    current: u32,
) -> Result<(Option<String>, u32), String> {
    match given.map(|p| &p.value) {
        Some(Principal::Id(id)) => Ok((None, *id)),
        Some(Principal::Name(name)) => Ok((Some(name.clone()), users::resolve(db, name)?)),
        None => Ok((None, existing.unwrap_or(current))),
    }
}

/// Whether a task of the run manages one of the inputs or something below one.
fn inputs_managed(task: &ArchiveTask, managed: &std::collections::HashSet<Thing>) -> bool {
    let roots: Vec<String> = task
        .patterns()
        .iter()
        .map(|p| {
            // A glob's literal directory: what is below it may be an input.
            let literal: Vec<&str> = p
                .value
                .split('/')
                .take_while(|part| !inputs::is_glob(part))
                .collect();
            literal.join("/")
        })
        .collect();
    managed.iter().filter_map(Thing::as_path).any(|path| {
        roots
            .iter()
            .any(|root| path == root || path.starts_with(&format!("{root}/")))
    })
}

fn wanted(task: &ArchiveTask, existing: &Existing, cx: &PlanContext<'_>) -> Result<Packed, String> {
    let patterns: Vec<String> = task.patterns().into_iter().map(|p| p.value).collect();
    let excluded: Vec<String> = task.excluded().into_iter().map(|p| p.value).collect();
    let found = inputs::collect(&patterns, &excluded, &task.dest.value)?;
    if found.manifest.is_empty() {
        return Err(format!(
            "nothing to archive: no path matches {}",
            patterns.join(", ")
        ));
    }
    let (uid, gid) = users::current();
    let (owner, uid) = principal(task.owner.as_ref(), Db::User, existing.uid, uid)?;
    let (group, gid) = principal(task.group.as_ref(), Db::Group, existing.gid, gid)?;
    let mode = match (&task.mode, &existing.mode) {
        (Some(mode), _) => format!("{:04o}", mode.value.0),
        (None, Some(mode)) => mode.clone(),
        (None, None) => "0644".to_owned(),
    };
    Ok(Packed {
        dest: task.dest.value.clone(),
        format: task.format,
        path: patterns,
        exclude_path: excluded,
        missing: found.unmatched,
        inputs_sha256: inputs::digest(&found.manifest),
        inputs: found.manifest,
        inputs_managed: inputs_managed(task, cx.managed),
        mode,
        owner,
        uid,
        group,
        gid,
    })
}

/// Whether the archive must be written again, and why.
fn remake_reason(existing: &Existing, packed: &Packed) -> Option<String> {
    if !existing.exists {
        return Some("new".to_owned());
    }
    if existing.format != Some(packed.format) {
        return Some(format!(
            "its format is {}, not {}",
            existing.format.map_or("unknown", Format::as_str),
            packed.format.as_str()
        ));
    }
    match &existing.inputs_sha256 {
        None => Some("it records no inputs (not made by driftless)".to_owned()),
        Some(digest) if *digest != packed.inputs_sha256 => Some("its inputs changed".to_owned()),
        Some(_) => {
            let attributes = (existing.mode.as_deref(), existing.uid, existing.gid);
            (attributes
                != (
                    Some(packed.mode.as_str()),
                    Some(packed.uid),
                    Some(packed.gid),
                ))
                .then(|| "its mode or owner differ".to_owned())
        }
    }
}

fn action_of(existing: &Existing, packed: &Packed) -> Action {
    match remake_reason(existing, packed) {
        None => Action::NoOp,
        Some(_) if !existing.exists => Action::Create,
        Some(_) => Action::Update,
    }
}

/// The fingerprint: the archive found and the inputs read.
fn fingerprint(existing: &Existing, inputs_sha256: &str) -> String {
    let mut bytes = serde_json::to_vec(existing).unwrap_or_default();
    bytes.extend_from_slice(inputs_sha256.as_bytes());
    sha256_hex(&bytes)
}

/// The entries that changed, one line each, as a unified diff of the recorded manifest and
/// the inputs now.
fn diff(existing: &Existing, packed: &Packed, action: Action) -> Option<String> {
    if action == Action::NoOp {
        return None;
    }
    let listing =
        |inputs: &[Input]| -> String { inputs.iter().map(|i| format!("{}\n", i.line())).collect() };
    let old = existing.inputs.as_deref().map(listing).unwrap_or_default();
    let new = listing(&packed.inputs);
    if old == new {
        return None;
    }
    Some(
        similar::TextDiff::from_lines(&old, &new)
            .unified_diff()
            .header(
                &format!("{} (recorded inputs)", packed.dest),
                &format!("{} (inputs now)", packed.dest),
            )
            .to_string(),
    )
}

fn plan_one(task: &ApplyTask, cx: &PlanContext<'_>) -> Result<NodeStates, String> {
    let task = archive_task(task)?;
    let existing = observe(&task.dest.value)?;
    let packed = wanted(task, &existing, cx)?;
    let action = action_of(&existing, &packed);
    Ok(NodeStates {
        action,
        fingerprint: fingerprint(&existing, &packed.inputs_sha256),
        diff: diff(&existing, &packed, action),
        before: Recorded::Json(json!(existing)),
        after: Recorded::Json(json!(packed)),
        before_sensitive: Value::Bool(false),
        after_sensitive: Value::Bool(false),
        route: String::new(),
        chained: false,
    })
}

fn decode(node: &NodeView<'_>) -> Result<(Existing, Packed), String> {
    let before = node
        .before
        .decode("before", "an archive found")
        .map_err(|e| format!("{}: {e}", node.address))?;
    let after = node
        .after
        .decode("after", "an archive wanted")
        .map_err(|e| format!("{}: {e}", node.address))?;
    Ok((before, after))
}

/// The archive and the inputs again: the plan's, or why not. Inputs a task of the run
/// manages may have changed (that task ran first); the archive is then made from them as
/// they are. Returns the inputs found now.
fn check_precondition(node: &NodeView<'_>) -> Result<(Packed, inputs::Found), String> {
    let (before, after) = decode(node)?;
    let now = observe(&after.dest).map_err(|e| format!("{}: {e}", node.address))?;
    if now != before {
        return Err(format!(
            "{}: {} changed since the plan",
            node.address, after.dest
        ));
    }
    let found = inputs::collect(&after.path, &after.exclude_path, &after.dest)
        .map_err(|e| format!("{}: {e}", node.address))?;
    if inputs::digest(&found.manifest) != after.inputs_sha256 && !after.inputs_managed {
        return Err(format!(
            "{}: the inputs of {} changed since the plan",
            node.address, after.dest
        ));
    }
    Ok((after, found))
}

fn run(node: &NodeView<'_>) -> Result<Ran, ResourceError> {
    let (after, found) = check_precondition(node)?;
    let digest = inputs::digest(&found.manifest);
    let dest = std::path::Path::new(&after.dest);
    let (Some(parent), Some(name)) = (dest.parent(), dest.file_name()) else {
        return Err(format!("{}: {} has no directory", node.address, after.dest).into());
    };
    let io = |what: &str, e: std::io::Error| {
        ResourceError::io(
            format_args!("{}: cannot {what} {}", node.address, after.dest),
            &e,
        )
    };
    let dir = crate::fsutil::walk::open_directory_without_links(parent)
        .map_err(|e| io("open the directory of", e))?;
    let name = crate::fsutil::at::cstring(std::os::unix::ffi::OsStrExt::as_bytes(name))
        .map_err(|e| io("name", e))?;
    crate::fsutil::at::write_with_at(
        std::os::fd::AsFd::as_fd(&dir),
        &name,
        after.mode_bits(),
        (Some(after.uid), Some(after.gid)),
        &mut |file| format::write(file, after.format, &found.manifest, &found.sources, &digest),
    )
    .map_err(|e| io("write", e))?;
    Ok(Ran::CHANGED)
}

pub struct Packing;

pub static PACKING: Packing = Packing;

impl Family for Packing {
    fn plan(
        &self,
        all: &[ApplyTask],
        tasks: &[usize],
        _: &[Option<usize>],
        _: &dyn Fn(usize) -> Vec<usize>,
        cx: &PlanContext<'_>,
    ) -> Vec<(usize, Result<NodeStates, String>)> {
        use rayon::prelude::*;
        tasks
            .par_iter()
            .map(|&i| (i, plan_one(&all[i], cx)))
            .collect()
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        let (before, after) = decode(node)?;
        crate::fsutil::check_plain_absolute(&after.dest)?;
        if before.dest != after.dest {
            return Err("`before` and `after` name different archives".to_owned());
        }
        if inputs::digest(&after.inputs) != after.inputs_sha256 {
            return Err("`inputs_sha256` is not the digest of `inputs`".to_owned());
        }
        let action = action_of(&before, &after);
        if node.action != action {
            return Err(format!(
                "its action is `{}`, but its `before` and `after` make it `{}`",
                node.action.as_str(),
                action.as_str()
            ));
        }
        if node.fingerprint != fingerprint(&before, &after.inputs_sha256) {
            return Err("its fingerprint is not the one of its `before`".to_owned());
        }
        if node.diff.map(str::to_owned) != diff(&before, &after, action) {
            return Err("its diff is not the one of its `before` and `after`".to_owned());
        }
        if *node.after_sensitive != Value::Bool(false)
            || *node.before_sensitive != Value::Bool(false)
        {
            return Err("an archive has no sensitive values".to_owned());
        }
        Ok(())
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        let (before, after) = match decode(node) {
            Ok(states) => states,
            Err(why) => return Description::unreadable(why),
        };
        let mut details = vec![format!(
            "{} archive of {} ({} entries, inputs sha256 {})",
            after.format.as_str(),
            after.path.join(", "),
            after.inputs.len(),
            after.inputs_sha256
        )];
        if let Some(why) = remake_reason(&before, &after) {
            details.push(format!("made again: {why}"));
        }
        if !after.exclude_path.is_empty() {
            details.push(format!("exclude {}", after.exclude_path.join(", ")));
        }
        if !after.missing.is_empty() {
            details.push(format!("matched nothing: {}", after.missing.join(", ")));
        }
        details.push(format!(
            "mode {}, owner {}, group {}",
            after.mode,
            after
                .owner
                .as_ref()
                .map_or(after.uid.to_string(), |n| format!("{n} ({})", after.uid)),
            after
                .group
                .as_ref()
                .map_or(after.gid.to_string(), |n| format!("{n} ({})", after.gid)),
        ));
        if after.inputs_managed {
            details.push(
                "inputs are managed by tasks of this run: made from them as those tasks leave them"
                    .to_owned(),
            );
        }
        Description {
            what: escape(&after.dest).into_owned(),
            details: details
                .into_iter()
                .map(|d| Detail::plain(escape(&d).into_owned()))
                .collect(),
            // Entry names are the host's: printed escaped.
            diff_lines: node
                .diff
                .map(|d| d.lines().map(|l| escape(l).into_owned()).collect())
                .unwrap_or_default(),
        }
    }

    fn key(&self, after: &Recorded) -> Option<String> {
        after
            .decode::<Packed>("after", "an archive wanted")
            .ok()
            .map(|p| p.dest)
    }

    fn shows_content(&self, _: &NodeView<'_>) -> bool {
        false
    }

    fn stale(&self, node: &NodeView<'_>) -> Option<String> {
        check_precondition(node).err()
    }

    fn run(&self, node: &NodeView<'_>, _: Option<&Recompiled<'_>>) -> Result<Ran, ResourceError> {
        run(node)
    }

    fn changes(&self, node: &NodeView<'_>) -> Vec<super::contract::Change> {
        // The entries are the diff's; the digest, format and attributes say the rest.
        let Ok((before, after)) = decode(node) else {
            return Vec::new();
        };
        let change = |field: &str, before: Value, after: Value| super::contract::Change {
            field: field.to_owned(),
            before,
            after,
        };
        let mut changes = Vec::new();
        if before.inputs_sha256.as_deref() != Some(after.inputs_sha256.as_str()) {
            changes.push(change(
                "inputs_sha256",
                json!(before.inputs_sha256),
                json!(after.inputs_sha256),
            ));
        }
        if before.format != Some(after.format) {
            changes.push(change("format", json!(before.format), json!(after.format)));
        }
        if before.mode.as_deref() != Some(after.mode.as_str()) {
            changes.push(change("mode", json!(before.mode), json!(after.mode)));
        }
        changes
    }

    fn finish(&self, nodes: &[(NodeView<'_>, bool)], _: std::time::SystemTime) {
        for (node, changed) in nodes {
            if *changed && let Ok((_, after)) = decode(node) {
                let _ = crate::fsutil::sync_parent(std::path::Path::new(&after.dest));
            }
        }
    }
}
