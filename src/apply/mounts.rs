//! The mount family: a mount point's line in `fstab` — planned, checked and written by the
//! file family ([`super::files`]), so the write is atomic, links are not followed and the diff
//! is the file's —, what is mounted there (`/proc/self/mountinfo`, through
//! [`crate::host::mountinfo`]) changed with `mount` and `umount`, and the mount point
//! directory, made when a `mounted` task finds it missing and no task manages it (as
//! Ansible's module makes it).
//!
//! A node's `before` and `after` are [`MountState`]s. Its fingerprint covers the file, what is
//! mounted (when the task manages the live mount) and the directory: `execute` refuses the
//! node when any of them changed since the plan.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Action;
use super::contract::{
    Change, Description, Detail, Family, NodeStates, NodeView, PlanContext, Ran, Recompiled,
    Recorded, Thing,
};
use super::file_backed::{self, FilePart};
use super::files::{self, FILES};
use super::fs_state::{self, EntryKind, FsState, Observed, Place, sha256_hex};
use super::mount::{MountTask, MountWanted};
use crate::apply::ApplySpec;
use crate::error::ResourceError;
use crate::fsutil::walk::Walked;
use crate::host::mountinfo::{self, MountInfo};
use crate::model::ApplyTask;
use crate::printable::escape;
use crate::process::{self, Invocation};

/// A mount node's `before` or `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountState {
    /// The `fstab` file: observed in `before`, wanted in `after`.
    pub fstab: FsState,
    /// `before`: what is mounted at the path, as the mount table says (`null`: nothing).
    /// `after`: what is wanted there, as the task writes it (`null`: nothing; with
    /// `present`, what `before` says: left as it is).
    pub mounted: Option<Mounted>,
    /// The mount point.
    pub path: String,
    /// The mount point directory when the node makes it (`null` otherwise): observed in
    /// `before` (absent), wanted in `after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<FsState>,
    /// The digest of the way to the directory when observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_route: Option<String>,
    /// The task's `state` (`after` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<MountWanted>,
    /// What `execute` does to the live mount (`after` only; `null`: nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<Step>,
}

/// A mounted file system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mounted {
    pub source: String,
    pub fstype: String,
    /// The per-mount options (the mount table's), or the options wanted.
    pub options: String,
    /// The file system's own options, as the mount table shows them (`before` only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub super_options: String,
}

impl Mounted {
    fn of(info: &MountInfo) -> Mounted {
        Mounted {
            source: info.source.clone(),
            fstype: info.fstype.clone(),
            options: info.options.clone(),
            super_options: info.super_options.clone(),
        }
    }

    fn read_only(&self) -> bool {
        self.options.split(',').any(|o| o == "ro")
    }

    fn is_bind(&self) -> bool {
        self.options.split(',').any(|o| o == "bind" || o == "rbind")
    }
}

/// What `execute` does to the live mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// `mount -t FSTYPE -o OPTS SRC PATH`.
    Mount,
    /// `umount PATH`.
    Unmount,
    /// `mount -o remount,OPTS PATH`: the `fstab` line changed, or read-only/read-write differs.
    Remount,
    /// Another file system is mounted there: `umount PATH`, then mount.
    Replace,
}

/// The family's one instance.
pub struct Mounts;

pub static MOUNTS: Mounts = Mounts;

fn decode(recorded: &Recorded, which: &str) -> Result<MountState, String> {
    recorded.decode(which, "a mount's")
}

fn decode_node(node: &NodeView<'_>) -> Result<(MountState, MountState), String> {
    Ok((decode(node.before, "before")?, decode(node.after, "after")?))
}

fn directory_changes(before: &MountState, after: &MountState) -> bool {
    match (&before.directory, &after.directory) {
        (Some(before), Some(after)) => files::action(before, after).changes(),
        _ => false,
    }
}

/// The file's action when it changes, else an update of the mount or the directory.
fn action(before: &MountState, after: &MountState) -> Action {
    match files::action(&before.fstab, &after.fstab) {
        Action::NoOp if after.step.is_some() || directory_changes(before, after) => Action::Update,
        // The file is edited, never removed: a removed line is an update.
        Action::Delete => Action::Update,
        file => file,
    }
}

fn manages_live(after: &MountState) -> bool {
    after.state.is_some_and(MountWanted::manages_live)
}

fn directory_fingerprint(before: &MountState) -> Option<String> {
    let directory = before.directory.as_ref()?;
    let route = before.directory_route.as_deref().unwrap_or_default();
    Some(fs_state::fingerprint(directory, route, true))
}

/// Of the file, what is mounted (when the task manages it) and the directory.
fn fingerprint(before: &MountState, after: &MountState, route: &str) -> String {
    let file = fs_state::fingerprint(&before.fstab, route, true);
    let live = manages_live(after).then_some(&before.mounted);
    sha256_hex(
        json!([file, live, directory_fingerprint(before)])
            .to_string()
            .as_bytes(),
    )
}

/// What is mounted at `path` now.
fn mounted_now(path: &str) -> Result<Option<Mounted>, String> {
    mountinfo::mounted_at(path)
        .map(|info| info.as_ref().map(Mounted::of))
        .map_err(|e| format!("cannot read the mount table: {e}"))
}

/// A device named by `UUID=`, `LABEL=`, `PARTUUID=` or `PARTLABEL=` as its `/dev/disk` link,
/// and any `/dev` path with its links followed; other sources as they are.
fn resolve_source(source: &str) -> String {
    let by = [
        ("UUID=", "by-uuid"),
        ("LABEL=", "by-label"),
        ("PARTUUID=", "by-partuuid"),
        ("PARTLABEL=", "by-partlabel"),
    ];
    let path = by
        .iter()
        .find_map(|(tag, dir)| {
            let id = source.strip_prefix(tag)?;
            Some(format!("/dev/disk/{dir}/{}", id.trim_matches('"')))
        })
        .unwrap_or_else(|| source.to_owned());
    if path.starts_with("/dev/")
        && let Ok(canonical) = std::fs::canonicalize(&path)
    {
        return canonical.to_string_lossy().into_owned();
    }
    path
}

/// Whether the file system mounted is the one wanted: the same source (the same device
/// however named) and type (`auto` matches any). A bind mount's source and type are those of
/// the file system it comes from: not compared.
fn same_file_system(wanted: &Mounted, mounted: &Mounted) -> bool {
    if wanted.is_bind() {
        return true;
    }
    let source = wanted.source == mounted.source
        || resolve_source(&wanted.source) == resolve_source(&mounted.source);
    let fstype = wanted.fstype == "auto" || wanted.fstype == mounted.fstype;
    source && fstype
}

/// What the live mount needs, from what is mounted and what the task wants.
fn step_of(
    state: MountWanted,
    now: Option<&Mounted>,
    wanted: Option<&Mounted>,
    line_changes: bool,
) -> Option<Step> {
    match (state, now, wanted) {
        (MountWanted::Present, _, _) => None,
        (MountWanted::Mounted, None, _) => Some(Step::Mount),
        (MountWanted::Mounted, Some(now), Some(wanted)) => {
            if !same_file_system(wanted, now) {
                Some(Step::Replace)
            } else if line_changes || wanted.read_only() != now.read_only() {
                Some(Step::Remount)
            } else {
                None
            }
        }
        (_, Some(_), _) => Some(Step::Unmount),
        (_, None, _) => None,
    }
}

/// The mount point directory a `mounted` task makes: when it is missing and no task of the
/// plan manages it (that task runs first, and the mount after it). A link there is refused
/// (mount would follow it); something else than a directory, unless for a bind mount of a
/// file.
fn plan_directory(
    task: &MountTask,
    walked: &Walked,
    cx: &PlanContext<'_>,
) -> Result<Option<(FsState, FsState, String)>, String> {
    let path = &task.path.value;
    if task.state != MountWanted::Mounted || cx.managed.contains(&Thing::path(path)) {
        return Ok(None);
    }
    let observed = fs_state::observe(path, false, None, walked)
        .map_err(|e| format!("cannot read {path}: {e}"))?;
    match observed.state.state {
        EntryKind::Directory => Ok(None),
        EntryKind::Link => Err(format!(
            "{path} is a symbolic link; name the directory it points to as the mount point"
        )),
        EntryKind::Absent => {
            let mut want = FsState::absent(path);
            want.state = EntryKind::Directory;
            want.parents = true;
            want.set_mode(0o755);
            let (uid, gid) = crate::host::users::current();
            want.set_owner(uid);
            want.set_group(gid);
            Ok(Some((observed.state, want, observed.route.digest())))
        }
        _ if task.is_bind() => Ok(None),
        other => Err(format!(
            "{path} exists and is not a directory (it is a {}); a file system is mounted on a \
             directory",
            format!("{other:?}").to_lowercase()
        )),
    }
}

/// A planned file node of a mount task, with the live mount and the directory added.
fn combine(
    task: &ApplyTask,
    file: NodeStates,
    walked: &Walked,
    cx: &PlanContext<'_>,
) -> Result<NodeStates, String> {
    let ApplySpec::Mount(mount) = &task.spec else {
        return Err(format!("`{}` is not a mount task", task.spec.type_name()));
    };
    let (Recorded::File(fstab_before), Recorded::File(fstab_after)) = (file.before, file.after)
    else {
        return Err("the file family planned no file state".to_owned());
    };
    let path = Thing::path(&mount.path.value).name().to_owned();
    let now = mounted_now(&path)?;
    let wanted = match mount.state {
        MountWanted::Mounted => Some(Mounted {
            source: mount.source().to_owned(),
            fstype: mount.filesystem().to_owned(),
            options: mount.options().to_owned(),
            super_options: String::new(),
        }),
        MountWanted::Present => now.clone(),
        MountWanted::Unmounted | MountWanted::Absent => None,
    };
    let line_changes = files::action(&fstab_before, &fstab_after).changes();
    let step = step_of(mount.state, now.as_ref(), wanted.as_ref(), line_changes);
    let (dir_before, dir_after, dir_route) = match plan_directory(mount, walked, cx)? {
        Some((before, after, route)) => (Some(before), Some(after), Some(route)),
        None => (None, None, None),
    };
    let before = MountState {
        fstab: fstab_before,
        mounted: now,
        path: path.clone(),
        directory: dir_before,
        directory_route: dir_route.clone(),
        state: None,
        step: None,
    };
    let after = MountState {
        fstab: fstab_after,
        mounted: wanted,
        path,
        directory: dir_after,
        directory_route: dir_route,
        state: Some(mount.state),
        step,
    };
    Ok(NodeStates {
        action: action(&before, &after),
        fingerprint: fingerprint(&before, &after, &file.route),
        before: Recorded::Json(serde_json::to_value(&before).map_err(|e| e.to_string())?),
        after: Recorded::Json(serde_json::to_value(&after).map_err(|e| e.to_string())?),
        before_sensitive: Value::Bool(false),
        after_sensitive: Value::Bool(false),
        route: file.route,
        diff: file.diff,
        chained: file.chained,
    })
}

/// What is mounted now, compared with what the plan saw (when the task manages it).
fn live_stale(before: &MountState, after: &MountState) -> Result<(), String> {
    if !manages_live(after) {
        return Ok(());
    }
    let now = mounted_now(&before.path)?;
    if now != before.mounted {
        return Err(format!(
            "what is mounted at {} changed since the plan ({} → {})",
            escape(&before.path),
            show_mounted(before.mounted.as_ref()),
            show_mounted(now.as_ref())
        ));
    }
    Ok(())
}

/// The directory as it is now, compared with the plan's, with the place it was seen.
fn check_directory(
    node: &NodeView<'_>,
    before: &MountState,
) -> Result<Option<(Observed, Place)>, String> {
    let (Some(directory), Some(planned)) = (&before.directory, directory_fingerprint(before))
    else {
        return Ok(None);
    };
    let (now, place) = fs_state::observe_in_place(&directory.path, false, None)
        .map_err(|e| format!("{}: cannot read {}: {e}", node.address, directory.path))?;
    if fs_state::check_fingerprint(&planned, &now, true).is_err() {
        return Err(format!(
            "{}: {} changed since the plan ({})",
            node.address,
            directory.path,
            fs_state::describe_change(directory, &now.state)
        ));
    }
    Ok(Some((now, place)))
}

fn show_mounted(mounted: Option<&Mounted>) -> String {
    match mounted {
        None => "nothing mounted".to_owned(),
        Some(m) => format!(
            "{} ({}, {})",
            escape(&m.source),
            escape(&m.fstype),
            escape(&m.options)
        ),
    }
}

fn mount_argv(wanted: &Mounted, path: &str) -> Vec<String> {
    let mut argv = vec!["mount".to_owned()];
    if wanted.fstype != "auto" {
        argv.extend(["-t".to_owned(), wanted.fstype.clone()]);
    }
    argv.extend([
        "-o".to_owned(),
        wanted.options.clone(),
        wanted.source.clone(),
        path.to_owned(),
    ]);
    argv
}

/// The commands of a step.
fn commands(step: Step, after: &MountState) -> Result<Vec<Vec<String>>, String> {
    let path = after.path.clone();
    let umount = vec!["umount".to_owned(), path.clone()];
    let wanted = || {
        after
            .mounted
            .as_ref()
            .ok_or_else(|| format!("its `after` says to {step:?} but wants nothing mounted"))
    };
    Ok(match step {
        Step::Unmount => vec![umount],
        Step::Mount => vec![mount_argv(wanted()?, &path)],
        Step::Replace => vec![umount, mount_argv(wanted()?, &path)],
        Step::Remount => vec![vec![
            "mount".to_owned(),
            "-o".to_owned(),
            format!("remount,{}", wanted()?.options),
            path,
        ]],
    })
}

/// After the step: what is mounted is what the plan wanted.
fn confirm(after: &MountState) -> Result<(), ResourceError> {
    let now = mounted_now(&after.path)?;
    let wrong = match (&after.mounted, &now) {
        (None, Some(_)) => Some("is still mounted (another file system was under it?)"),
        (Some(_), None) => Some("is not mounted after mounting it"),
        (Some(wanted), Some(now)) if !same_file_system(wanted, now) => {
            Some("has another file system mounted than the one wanted")
        }
        (Some(wanted), Some(now)) if wanted.read_only() != now.read_only() => {
            Some("is not mounted read-only or read-write as wanted")
        }
        _ => None,
    };
    match wrong {
        Some(why) => Err(ResourceError::permanent(format!(
            "{} {why} (the mount table says {})",
            escape(&after.path),
            show_mounted(now.as_ref())
        ))),
        None => Ok(()),
    }
}

fn step_text(step: Option<Step>, before: &MountState, after: &MountState) -> String {
    let path = escape(&after.path);
    let wanted = show_mounted(after.mounted.as_ref());
    let now = show_mounted(before.mounted.as_ref());
    match step {
        Some(Step::Mount) => format!("mount {wanted} on {path}"),
        Some(Step::Unmount) => format!("unmount {path} ({now})"),
        Some(Step::Remount) => format!(
            "remount {path} with {} (mounted: {now})",
            escape(
                after
                    .mounted
                    .as_ref()
                    .map(|m| m.options.as_str())
                    .unwrap_or_default()
            )
        ),
        Some(Step::Replace) => format!("unmount {now} from {path}, then mount {wanted}"),
        None if !manages_live(after) => format!("live mount left as it is ({now})"),
        None => format!("live mount unchanged ({now})"),
    }
}

/// Whether the step says what the states say.
fn step_follows(before: &MountState, after: &MountState) -> bool {
    let (was, will) = (before.mounted.is_some(), after.mounted.is_some());
    match (after.step, after.state) {
        (_, None) => false,
        (Some(Step::Mount), Some(MountWanted::Mounted)) => !was && will,
        (Some(Step::Unmount), Some(MountWanted::Unmounted | MountWanted::Absent)) => was && !will,
        (Some(Step::Remount | Step::Replace), Some(MountWanted::Mounted)) => was && will,
        (None, Some(MountWanted::Present)) => before.mounted == after.mounted,
        (None, Some(MountWanted::Mounted)) => was && will,
        (None, Some(MountWanted::Unmounted | MountWanted::Absent)) => !was && !will,
        _ => false,
    }
}

impl Family for Mounts {
    fn plan(
        &self,
        all: &[ApplyTask],
        tasks: &[usize],
        chained_after: &[Option<usize>],
        link_targets: &dyn Fn(usize) -> Vec<usize>,
        cx: &PlanContext<'_>,
    ) -> Vec<(usize, Result<NodeStates, String>)> {
        let others = super::file_backed::edits_by_other_families(all, tasks, chained_after);
        if !others.is_empty() {
            return others;
        }
        let walked = Walked::default();
        FILES
            .plan(all, tasks, chained_after, link_targets, cx)
            .into_iter()
            .map(|(i, planned)| {
                (
                    i,
                    planned.and_then(|file| combine(&all[i], file, &walked, cx)),
                )
            })
            .collect()
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        let (before, after) = decode_node(node)?;
        let plain = |path: &str| crate::fsutil::check_plain_absolute(path).is_ok();
        let same_directory = match (&before.directory, &after.directory) {
            (Some(b), Some(a)) => {
                b.path == after.path && a.path == after.path && a.state == EntryKind::Directory
            }
            (None, None) => true,
            _ => false,
        };
        if before.path != after.path
            || !plain(&after.path)
            || before.directory_route != after.directory_route
            || !same_directory
            || before.state.is_some()
            || before.step.is_some()
        {
            return Err("`before` and `after` are not of one mount point".to_owned());
        }
        if !step_follows(&before, &after) {
            return Err("its `step` does not follow from its states".to_owned());
        }
        file_backed::verify_public_node(
            node,
            (
                action(&before, &after),
                fingerprint(&before, &after, node.route),
            ),
            "a mount node",
            (&before.fstab, &after.fstab),
        )
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        let (before, after) = match decode_node(node) {
            Ok(states) => states,
            Err(why) => return Description::unreadable(why),
        };
        let file =
            FILES.describe(&FilePart::of(&before.fstab, &after.fstab, node.route).view(node));
        let mut details = Vec::new();
        if let Some(directory) = after
            .directory
            .as_ref()
            .filter(|_| directory_changes(&before, &after))
        {
            details.push(Detail::plain(format!(
                "create mount point directory {} (0755, owner {})",
                escape(&directory.path),
                escape(directory.owner.as_deref().unwrap_or_default())
            )));
        }
        details.push(Detail::plain(step_text(after.step, &before, &after)));
        let line = match files::action(&before.fstab, &after.fstab) {
            Action::NoOp => format!("fstab line in {} unchanged", escape(&after.fstab.path)),
            _ => format!("fstab line in {}", escape(&after.fstab.path)),
        };
        details.push(Detail::plain(line));
        details.extend(file.details);
        Description {
            what: format!("mount {}", escape(&after.path)),
            details,
            diff_lines: file.diff_lines,
        }
    }

    fn key(&self, after: &Recorded) -> Option<String> {
        decode(after, "after").ok().map(|state| state.fstab.path)
    }

    fn shows_content(&self, _: &NodeView<'_>) -> bool {
        false
    }

    fn stale(&self, node: &NodeView<'_>) -> Option<String> {
        let (before, after) = match decode_node(node) {
            Ok(states) => states,
            Err(why) => return Some(format!("{}: {why}", node.address)),
        };
        if let Err(why) = live_stale(&before, &after) {
            return Some(format!("{}: {why}", node.address));
        }
        if let Err(why) = check_directory(node, &before) {
            return Some(why);
        }
        FILES.stale(&FilePart::of(&before.fstab, &after.fstab, node.route).view(node))
    }

    fn run(
        &self,
        node: &NodeView<'_>,
        config: Option<&Recompiled<'_>>,
    ) -> Result<Ran, ResourceError> {
        let (before, after) = decode_node(node)?;
        live_stale(&before, &after).map_err(|why| format!("{}: {why}", node.address))?;
        let directory = check_directory(node, &before)?;
        let part = FilePart::of(&before.fstab, &after.fstab, node.route);
        // Every precondition is checked before anything changes.
        if let Some(why) = FILES.stale(&part.view(node)) {
            return Err(ResourceError::permanent(why));
        }
        let steps = match after.step {
            Some(step) => {
                commands(step, &after).map_err(|why| format!("{}: {why}", node.address))?
            }
            None => Vec::new(),
        };
        if part.action.changes() {
            FILES.run(&part.view(node), config)?;
        }
        if let (Some((now, place)), Some(want)) = (directory, &after.directory)
            && files::action(&now.state, want).changes()
        {
            fs_state::converge(&now.state, want, &place)?;
        }
        for argv in &steps {
            process::output(&Invocation::new(argv))?;
        }
        if after.step.is_some() {
            confirm(&after)?;
        }
        Ok(Ran::CHANGED)
    }

    fn finish(&self, nodes: &[(NodeView<'_>, bool)], run_started: std::time::SystemTime) {
        super::file_backed::finish_file_parts(nodes, run_started, |node| {
            let (before, after) = decode_node(node).ok()?;
            Some((before.fstab, after.fstab))
        });
    }

    fn changes(&self, node: &NodeView<'_>) -> Vec<Change> {
        let Ok((before, after)) = decode_node(node) else {
            return Vec::new();
        };
        let mut changes = Vec::new();
        if after.step.is_some() {
            changes.push(Change {
                field: "mounted".to_owned(),
                before: json!(before.mounted),
                after: json!(after.mounted),
            });
        }
        if directory_changes(&before, &after) {
            changes.push(Change {
                field: "directory".to_owned(),
                before: json!(before.directory.as_ref().map(|d| d.state)),
                after: json!(after.directory.as_ref().map(|d| d.state)),
            });
        }
        let part = FilePart::of(&before.fstab, &after.fstab, node.route);
        let file = part.view(node);
        if file.action.changes() {
            changes.push(Change {
                field: "fstab".to_owned(),
                before: json!(before.fstab.state),
                after: json!(after.fstab.state),
            });
            changes.extend(FILES.changes(&file));
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mounted(source: &str, fstype: &str, options: &str) -> Mounted {
        Mounted {
            source: source.to_owned(),
            fstype: fstype.to_owned(),
            options: options.to_owned(),
            super_options: String::new(),
        }
    }

    #[test]
    fn the_step_follows_from_what_is_mounted_and_wanted() {
        let tmpfs = mounted("tmpfs", "tmpfs", "rw,relatime");
        let want = mounted("tmpfs", "tmpfs", "size=1m");
        let ro = mounted("tmpfs", "tmpfs", "ro,size=1m");
        let other = mounted("/dev/sdb1", "ext4", "defaults");
        let m = MountWanted::Mounted;
        assert_eq!(step_of(m, None, Some(&want), false), Some(Step::Mount));
        assert_eq!(step_of(m, Some(&tmpfs), Some(&want), false), None);
        assert_eq!(
            step_of(m, Some(&tmpfs), Some(&want), true),
            Some(Step::Remount)
        );
        assert_eq!(
            step_of(m, Some(&tmpfs), Some(&ro), false),
            Some(Step::Remount)
        );
        assert_eq!(
            step_of(m, Some(&tmpfs), Some(&other), false),
            Some(Step::Replace)
        );
        for gone in [MountWanted::Unmounted, MountWanted::Absent] {
            assert_eq!(step_of(gone, Some(&tmpfs), None, true), Some(Step::Unmount));
            assert_eq!(step_of(gone, None, None, true), None);
        }
        assert_eq!(
            step_of(MountWanted::Present, None, None, true),
            None,
            "present leaves the live mount"
        );
    }

    #[test]
    fn bind_mounts_and_auto_match_any_file_system() {
        let mounted_there = mounted("/dev/sda1", "ext4", "rw");
        assert!(same_file_system(
            &mounted("/srv/src", "none", "bind"),
            &mounted_there
        ));
        assert!(same_file_system(
            &mounted("/dev/sda1", "auto", "defaults"),
            &mounted_there
        ));
        assert!(!same_file_system(
            &mounted("/dev/sdb1", "auto", "defaults"),
            &mounted_there
        ));
    }
}
