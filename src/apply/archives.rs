//! The archive family: `unarchive`. Planning reads the whole archive (every entry checked:
//! none may leave `dest`, [`read`]) and what is at each entry's path below `dest` ([`tree`],
//! no link followed), and lists what will be created or replaced: a re-run after the
//! extraction is a no-op. A node's `before` is what was found ([`Survey`]: the archive's hash,
//! `creates`, each entry's path as it is); its `after` the [`Extraction`]: where from, where
//! to, and each change.
//!
//! `execute` surveys again: anything different from the plan (the archive, a file below
//! `dest`, a link made on the way) is a stale plan — except an archive on the host that a task
//! of this run writes first (a download): its entries are then checked and listed again
//! before anything is written. Every file is written atomically, below directories opened one
//! by one without following links.

mod read;
mod tree;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Action;
use super::contract::{
    Description, Detail, Family, NodeStates, NodeView, PlanContext, Ran, Recompiled, Recorded,
    Thing,
};
use super::fs_state::sha256_hex;
use super::unarchive::UnarchiveTask;
use crate::error::ResourceError;
use crate::host::users::{self, Db};
use crate::model::values::Principal;
use crate::model::{ApplySpec, ApplyTask, Spanned};
use crate::printable::escape;
use read::{Entry, Kind, Naming};
use tree::{Dest, Found};

/// What is there, as plan.json records it in `before`: the fingerprint is its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Survey {
    /// The archive's SHA-256; none when it is not there yet (a task of the run writes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_sha256: Option<String>,
    /// Whether `creates` exists (absent without `creates`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creates_exists: Option<bool>,
    pub dest_exists: bool,
    /// How `dest` was reached from `/`.
    pub dest_route: String,
    /// What is at the path of each entry the archive has, where something is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub found: Vec<Found>,
}

/// One entry created or replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// Below `dest`.
    pub path: String,
    /// `create` or `replace`.
    pub action: String,
    /// `file`, `directory`, `link` or `hardlink` (a copy of an earlier file of the archive).
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// A link's target; a hard link's source, below `dest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Which entry of the archive (counting those kept, from 0): the one written.
    pub entry: usize,
}

/// What an `unarchive` node does, as plan.json records it in `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extraction {
    /// As the task names it.
    pub src: String,
    /// The archive's path on the host.
    pub archive: String,
    /// A task of the config writes the archive (it is on the host): a new archive written by
    /// it during the run is extracted as it is then, its entries checked again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub archive_managed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    pub dest: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub strip_components: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creates: Option<String>,
    /// Files' mode given by the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// Entries already as the archive has them.
    pub unchanged: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Extraction {
    fn decode(recorded: &Recorded, address: &str) -> Result<Extraction, String> {
        let json = recorded
            .as_json()
            .ok_or_else(|| format!("{address}: `after` is not an extraction"))?;
        Extraction::deserialize(json).map_err(|e| format!("{address}: unreadable `after`: {e}"))
    }

    fn owner_ids(&self) -> Result<(Option<u32>, Option<u32>), String> {
        let id = |db, name: &Option<String>, id: Option<u32>| match (name, id) {
            (_, Some(id)) => Ok(Some(id)),
            (Some(name), None) => users::resolve(db, name).map(Some),
            (None, None) => Ok(None),
        };
        Ok((
            id(Db::User, &self.owner, self.uid)?,
            id(Db::Group, &self.group, self.gid)?,
        ))
    }
}

fn survey_of(recorded: &Recorded, address: &str) -> Result<Survey, String> {
    let json = recorded
        .as_json()
        .ok_or_else(|| format!("{address}: `before` is not a survey"))?;
    Survey::deserialize(json).map_err(|e| format!("{address}: unreadable `before`: {e}"))
}

fn fingerprint(survey: &Survey) -> String {
    sha256_hex(&serde_json::to_vec(survey).unwrap_or_default())
}

fn unarchive(task: &ApplyTask) -> Result<&UnarchiveTask, String> {
    match &task.spec {
        ApplySpec::Unarchive(t) => Ok(t),
        _ => Err("not an unarchive task".to_owned()),
    }
}

/// A named owner or group: its id when the host has it, else pending (a task of the run makes
/// it; looked up when the node runs).
fn principal(
    given: Option<&Spanned<Principal>>,
    db: Db,
    managed: &HashSet<Thing>,
) -> Result<(Option<String>, Option<u32>), String> {
    match given.map(|p| &p.value) {
        None => Ok((None, None)),
        Some(Principal::Id(id)) => Ok((Some(users::name(db, *id)), Some(*id))),
        Some(Principal::Name(name)) => match users::resolve(db, name) {
            Ok(id) => Ok((Some(name.clone()), Some(id))),
            Err(missing) => {
                let thing = match db {
                    Db::User => Thing::User(name.clone()),
                    Db::Group => Thing::Group(name.clone()),
                };
                if managed.contains(&thing) {
                    Ok((Some(name.clone()), None))
                } else {
                    Err(format!(
                        "{missing}; create it first, or add a `{}` task for it",
                        thing.noun()
                    ))
                }
            }
        },
    }
}

/// The extraction a task asks for, before the archive and `dest` are looked at.
fn requested(task: &UnarchiveTask, cx: &PlanContext<'_>) -> Result<Extraction, String> {
    let archive = if task.remote_src {
        task.src.value.clone()
    } else {
        let path = cx.config_dir.resolve_asset(&task.src.value)?;
        path.to_str()
            .ok_or_else(|| format!("the path of {} is not UTF-8", task.src.value))?
            .to_owned()
    };
    let (owner, uid) = principal(task.owner.as_ref(), Db::User, cx.managed)?;
    let (group, gid) = principal(task.group.as_ref(), Db::Group, cx.managed)?;
    Ok(Extraction {
        src: task.src.value.clone(),
        archive_managed: task.remote_src && cx.managed.contains(&Thing::path(&task.src.value)),
        archive,
        format: None,
        sha256: None,
        dest: task.dest.value.clone(),
        strip_components: task.strip_components,
        exclude: task.exclude.iter().map(|p| p.value.clone()).collect(),
        creates: task.creates.as_ref().map(|c| c.value.clone()),
        mode: task.mode.as_ref().map(|m| format!("{:04o}", m.value.0)),
        owner,
        uid,
        group,
        gid,
        changes: Vec::new(),
        unchanged: 0,
    })
}

/// The archive opened: its hash and format (it is read again for its entries).
fn open_archive(path: &str) -> Result<Option<(File, String, read::Format)>, String> {
    let mut file = match crate::fsutil::open_regular_file(std::path::Path::new(path)) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read the archive {path}: {e}")),
    };
    let hashed = crate::fsutil::hash_file(&mut file, 0)
        .map_err(|e| format!("cannot read the archive {path}: {e}"))?;
    use std::io::Seek;
    file.rewind()
        .map_err(|e| format!("cannot read the archive {path}: {e}"))?;
    let format = read::detect(&mut file).map_err(|e| format!("{path}: {e}"))?;
    Ok(Some((file, hashed.sha256_hex(), format)))
}

/// Surveys the archive and `dest` for `wanted` (whose changes it fills): what is there, and
/// what will be created or replaced. `dest_managed`: a task of the plan makes `dest`.
fn survey(
    wanted: &mut Extraction,
    dest_managed: bool,
    archive_pending: bool,
) -> Result<Survey, String> {
    let creates_exists = wanted
        .creates
        .as_ref()
        .map(|c| std::fs::symlink_metadata(c).is_ok());
    let dest = tree::open_dest(&wanted.dest)?;
    let dest_route = match &dest {
        Some(d) => d.route.clone(),
        None => crate::fsutil::walk::locate(std::path::Path::new(&wanted.dest), false)
            .map(|l| l.route().digest())
            .map_err(|e| format!("cannot read {}: {e}", wanted.dest))?,
    };
    let mut survey = Survey {
        archive_sha256: None,
        creates_exists,
        dest_exists: dest.is_some(),
        dest_route,
        found: Vec::new(),
    };
    wanted.changes.clear();
    wanted.unchanged = 0;
    if creates_exists == Some(true) {
        return Ok(survey);
    }
    if dest.is_none() && !dest_managed {
        return Err(format!(
            "{} does not exist, and no task of the config makes it",
            wanted.dest
        ));
    }
    let opened = if archive_pending {
        None
    } else {
        open_archive(&wanted.archive)?
    };
    let Some((file, sha, format)) = opened else {
        if wanted.archive_managed {
            // Written by a task of this run: its entries are listed when the node runs.
            return Ok(survey);
        }
        return Err(format!(
            "no archive at {}, and no task of the config makes it",
            wanted.archive
        ));
    };
    survey.archive_sha256 = Some(sha.clone());
    wanted.sha256 = Some(sha);
    wanted.format = Some(format.as_str().to_owned());
    let naming = Naming {
        strip_components: wanted.strip_components,
        exclude: &wanted.exclude,
    };
    let mut planned: Vec<Change> = Vec::new();
    let mut files: HashMap<String, (String, u64)> = HashMap::new();
    let mut ordinal = 0usize;
    let file_mode = wanted.mode.clone();
    let owners = (wanted.uid, wanted.gid);
    let dest_path = wanted.dest.clone();
    read::entries(
        file,
        format,
        &naming,
        &mut |entry: &Entry, content: &mut dyn Read| {
            let index = ordinal;
            ordinal += 1;
            let mut change = Change {
                path: entry.path.clone(),
                action: String::new(),
                kind: String::new(),
                size: None,
                sha256: None,
                target: None,
                mode: None,
                entry: index,
            };
            match &entry.kind {
                Kind::File => {
                    let hashed =
                        crate::fsutil::copy_hashed(content, &mut std::io::sink(), u64::MAX)
                            .map_err(|e| format!("unreadable archive: {e}"))?;
                    let (sha, size) = (hashed.sha256_hex(), hashed.size);
                    files.insert(entry.path.clone(), (sha.clone(), size));
                    change.kind = "file".to_owned();
                    change.sha256 = Some(sha);
                    change.size = Some(size);
                    change.mode = Some(file_mode.clone().unwrap_or(format!("{:04o}", entry.mode)));
                }
                Kind::HardLink(source) => {
                    let (sha, size) = files.get(source).cloned().unwrap_or_default();
                    files.insert(entry.path.clone(), (sha.clone(), size));
                    change.kind = "hardlink".to_owned();
                    change.sha256 = Some(sha);
                    change.size = Some(size);
                    change.target = Some(source.clone());
                    change.mode = Some(file_mode.clone().unwrap_or(format!("{:04o}", entry.mode)));
                }
                Kind::Directory => {
                    change.kind = "directory".to_owned();
                    change.mode = Some(format!("{:04o}", entry.mode));
                }
                Kind::Symlink(target) => {
                    change.kind = "link".to_owned();
                    change.target = Some(target.clone());
                }
            }
            // A later entry of the same path replaces an earlier one.
            planned.retain(|c| c.path != change.path);
            planned.push(change);
            Ok(())
        },
    )?;
    // What is there now for each path; the archive's own links are never gone through, and
    // neither is any other (refused by `look`).
    let mut found = Vec::new();
    for change in &mut planned {
        let there = match &dest {
            Some(dest) => tree::look(dest, &dest_path, &change.path)?,
            None => None,
        };
        let same = match &there {
            None => {
                change.action = "create".to_owned();
                false
            }
            Some(there) => {
                let same = judge(change, there, owners, &dest_path)?;
                change.action = "replace".to_owned();
                same
            }
        };
        if let Some(there) = there {
            found.push(there);
        }
        if same {
            change.action.clear();
        }
    }
    wanted.unchanged = planned.iter().filter(|c| c.action.is_empty()).count();
    planned.retain(|c| !c.action.is_empty());
    planned.sort_by_key(|c| c.entry);
    wanted.changes = planned;
    survey.found = found;
    Ok(survey)
}

/// Whether what is there is already what the entry makes; an entry that would replace a
/// directory with something else, or the reverse, is refused.
fn judge(
    change: &Change,
    there: &Found,
    (uid, gid): (Option<u32>, Option<u32>),
    dest: &str,
) -> Result<bool, String> {
    let owned = uid.is_none_or(|u| u == there.uid) && gid.is_none_or(|g| g == there.gid);
    match (change.kind.as_str(), there.kind.as_str()) {
        ("directory", "directory") => Ok(owned),
        ("directory", _) => Err(format!(
            "{dest}/{} exists and is not a directory; remove it first",
            change.path
        )),
        (_, "directory") | (_, "other") => Err(format!(
            "{dest}/{} exists and is a {}; remove it first",
            change.path,
            if there.kind == "other" {
                "special file"
            } else {
                "directory"
            }
        )),
        ("link", "link") => Ok(change.target == there.target && owned),
        ("link", _) => Ok(false),
        (_, "file") => Ok(change.sha256 == there.sha256
            && change.mode.as_deref() == Some(there.mode.as_str())
            && owned),
        _ => Ok(false),
    }
}

fn action_of(survey: &Survey, after: &Extraction) -> Action {
    if survey.creates_exists == Some(true) {
        Action::NoOp
    } else if survey.archive_sha256.is_none() {
        // The archive is written by a task of this run: listed when the node runs.
        Action::Run
    } else if after.changes.is_empty() {
        Action::NoOp
    } else if after.unchanged == 0 && after.changes.iter().all(|c| c.action == "create") {
        Action::Create
    } else {
        Action::Update
    }
}

/// Whether a download of this run replaces the archive first: its entries are then listed
/// when the node runs. (Another task writing the archive makes the node stale instead, when
/// it changes it.)
fn archive_pending(all: &[ApplyTask], wanted: &Extraction) -> Result<bool, String> {
    if !wanted.archive_managed {
        return Ok(false);
    }
    let archive = Thing::path(&wanted.archive);
    let download = all.iter().find_map(|t| match &t.spec {
        ApplySpec::GetUrl(g) if Thing::path(&g.dest.value) == archive && !t.meta.noop => Some(g),
        _ => None,
    });
    let Some(download) = download else {
        return Ok(false);
    };
    let there = match crate::fsutil::open_regular_file(std::path::Path::new(&wanted.archive)) {
        Ok(mut file) => Some(
            crate::fsutil::hash_file(&mut file, 0)
                .map_err(|e| format!("cannot read the archive {}: {e}", wanted.archive))?
                .sha256_hex(),
        ),
        Err(_) => None,
    };
    super::downloads::replaces(download, there.as_deref())
}

fn plan_one(
    all: &[ApplyTask],
    task: &ApplyTask,
    cx: &PlanContext<'_>,
) -> Result<NodeStates, String> {
    let task = unarchive(task)?;
    let mut wanted = requested(task, cx)?;
    let dest_managed = cx.managed.contains(&Thing::path(&wanted.dest));
    let pending = archive_pending(all, &wanted)?;
    let survey = survey(&mut wanted, dest_managed, pending)?;
    Ok(NodeStates {
        action: action_of(&survey, &wanted),
        fingerprint: fingerprint(&survey),
        before: Recorded::Json(json!(survey)),
        after: Recorded::Json(json!(wanted)),
        before_sensitive: Value::Bool(false),
        after_sensitive: Value::Bool(false),
        route: survey.dest_route.clone(),
        diff: None,
        chained: false,
    })
}

/// The survey made again now, and the extraction it leads to; refused when it is not the
/// plan's, but for an archive a task of the run wrote since.
fn check_precondition(node: &NodeView<'_>) -> Result<(Survey, Extraction), String> {
    let planned = Extraction::decode(node.after, node.address)?;
    let before = survey_of(node.before, node.address)?;
    let mut now = planned.clone();
    now.sha256 = None;
    now.format = None;
    // A `dest` missing when planned was to be made by a task: it must be there by now, or
    // the survey says so.
    let survey = survey(&mut now, !before.dest_exists, false)
        .map_err(|e| format!("{}: {e}", node.address))?;
    let rewritten = planned.archive_managed && survey.archive_sha256 != before.archive_sha256;
    let compared = made_since(&before, &survey, &planned.dest)
        .map_err(|why| format!("{}: {why}", node.address))?;
    if rewritten {
        return Ok((survey, now));
    }
    if fingerprint(&compared) != node.fingerprint {
        return Err(format!(
            "{}: {} changed since the plan ({})",
            node.address,
            planned.dest,
            what_changed(&before, &survey)
        ));
    }
    // The same archive and the same entries on the host make the same changes: a plan whose
    // list says otherwise (edited and sealed again) would show one thing and do another.
    if now != planned {
        return Err(format!(
            "{}: the plan's list of changes is not what the archive makes; make a new plan",
            node.address
        ));
    }
    Ok((survey, now))
}

/// The survey as the plan would have seen it when `dest` (and directories above it) were
/// missing then and made since — by a task of this run, say: the route now must lead on from
/// the planned one through new directories only, each of them trusted (made by this run, or
/// the running user's and writable by no one else).
fn made_since(before: &Survey, now: &Survey, dest: &str) -> Result<Survey, String> {
    let mut compared = now.clone();
    if before.dest_exists || !now.dest_exists {
        return Ok(compared);
    }
    let location = crate::fsutil::walk::locate(std::path::Path::new(dest), false)
        .map_err(|e| format!("cannot read {dest}: {e}"))?;
    let candidates = location.route().candidates();
    let Some(matched) = candidates.iter().find(|c| c.digest == before.dest_route) else {
        return Ok(compared);
    };
    if let Some(why) = matched.untrusted() {
        return Err(why);
    }
    compared.dest_exists = false;
    compared.dest_route = before.dest_route.clone();
    Ok(compared)
}

fn what_changed(before: &Survey, now: &Survey) -> String {
    if before.archive_sha256 != now.archive_sha256 {
        "the archive is another file".to_owned()
    } else if before.creates_exists != now.creates_exists {
        "`creates` appeared or went".to_owned()
    } else if before.dest_route != now.dest_route || before.dest_exists != now.dest_exists {
        "the way to it changed".to_owned()
    } else {
        let changed: std::collections::BTreeSet<&str> = now
            .found
            .iter()
            .filter(|f| !before.found.contains(f))
            .chain(before.found.iter().filter(|f| !now.found.contains(f)))
            .map(|f| f.path.as_str())
            .collect();
        let changed: Vec<&str> = changed.into_iter().collect();
        format!("entries changed: {}", changed.join(", "))
    }
}

fn run(node: &NodeView<'_>) -> Result<Ran, ResourceError> {
    let address = node.address;
    let (survey, extraction) = check_precondition(node)?;
    if action_of(&survey, &extraction) == Action::NoOp {
        return Ok(Ran {
            changed: false,
            output: None,
            message: None,
        });
    }
    let owner = extraction
        .owner_ids()
        .map_err(|e| format!("{address}: {e}"))?;
    let dest = tree::open_dest(&extraction.dest)
        .map_err(|e| format!("{address}: {e}"))?
        .ok_or_else(|| format!("{address}: {} does not exist", extraction.dest))?;
    let Some((file, sha, format)) = open_archive(&extraction.archive)? else {
        return Err(format!("{address}: no archive at {}", extraction.archive).into());
    };
    if extraction.sha256.as_deref() != Some(sha.as_str()) {
        return Err(format!("{address}: the archive changed while being extracted").into());
    }
    let changes: HashMap<usize, &Change> =
        extraction.changes.iter().map(|c| (c.entry, c)).collect();
    let naming = Naming {
        strip_components: extraction.strip_components,
        exclude: &extraction.exclude,
    };
    let mut ordinal = 0usize;
    let mut failure: Option<ResourceError> = None;
    let outcome = read::entries(file, format, &naming, &mut |entry, content| {
        let index = ordinal;
        ordinal += 1;
        let Some(change) = changes.get(&index) else {
            return Ok(());
        };
        extract(&dest, &extraction.dest, entry, change, content, owner).map_err(|e| {
            let message = e.message.clone();
            failure = Some(e);
            message
        })
    });
    match (outcome, failure) {
        (_, Some(failure)) => Err(ResourceError {
            message: format!("{address}: {}", failure.message),
            ..failure
        }),
        (Err(e), None) => Err(format!("{address}: {e}").into()),
        (Ok(()), None) => Ok(Ran::CHANGED),
    }
}

/// Writes one entry below `dest`: a file atomically (its content checked against the plan's
/// hash on the way), a directory, a link made under a temp name and renamed.
fn extract(
    dest: &Dest,
    dest_path: &str,
    entry: &Entry,
    change: &Change,
    content: &mut dyn Read,
    owner: (Option<u32>, Option<u32>),
) -> Result<(), ResourceError> {
    use crate::fsutil::at;
    use std::os::fd::AsFd;
    let shown = format!("{dest_path}/{}", change.path);
    let (parent, name) = tree::parent_of(dest, dest_path, &change.path, owner)?;
    let dir = parent.as_ref().map_or(dest.dir.as_fd(), |d| d.as_fd());
    let io = |what: &str, e: std::io::Error| {
        ResourceError::io(format_args!("cannot {what} {shown}"), &e)
    };
    let mode = |m: &Option<String>, default: u32| {
        m.as_deref()
            .and_then(|m| u32::from_str_radix(m, 8).ok())
            .unwrap_or(default)
    };
    match &entry.kind {
        Kind::Directory => {
            if at::stat_at(dir, &name)
                .map_err(|e| io("read", e))?
                .is_none()
            {
                let part = change.path.rsplit('/').next().unwrap_or(&change.path);
                tree::make_directory(dir, part, mode(&change.mode, 0o755), owner, &shown)?;
            } else {
                at::set_attributes_at(dir, &name, at::Kind::Directory, owner, None)
                    .map_err(|e| io("set the owner of", e))?;
            }
            Ok(())
        }
        Kind::Symlink(target) => {
            let target = at::cstring(target.as_bytes()).map_err(|e| io("link", e))?;
            at::link_at(dir, &name, at::LinkTo::Symbolic(&target)).map_err(|e| io("link", e))?;
            if owner.0.is_some() || owner.1.is_some() {
                at::chown_link_at(dir, &name, owner.0, owner.1)
                    .map_err(|e| io("set the owner of", e))?;
            }
            Ok(())
        }
        Kind::File => write_checked(dir, &name, change, content, owner, &shown),
        Kind::HardLink(source) => {
            let (source_parent, source_name) =
                tree::parent_of(dest, dest_path, source, (None, None))?;
            let source_dir = source_parent
                .as_ref()
                .map_or(dest.dir.as_fd(), |d| d.as_fd());
            let mut file =
                at::open_regular_at(source_dir, &source_name).map_err(|e| io("copy to", e))?;
            write_checked(dir, &name, change, &mut file, owner, &shown)
        }
    }
}

/// A file written atomically from `content`, which must have the hash the plan lists.
fn write_checked(
    dir: std::os::fd::BorrowedFd<'_>,
    name: &std::ffi::CStr,
    change: &Change,
    content: &mut dyn Read,
    owner: (Option<u32>, Option<u32>),
    shown: &str,
) -> Result<(), ResourceError> {
    let mode = change
        .mode
        .as_deref()
        .and_then(|m| u32::from_str_radix(m, 8).ok())
        .unwrap_or(0o644);
    let mut mismatch = false;
    crate::fsutil::at::write_with_at(dir, name, mode, owner, &mut |file| {
        let copied = crate::fsutil::copy_hashed(content, file, u64::MAX).map_err(|e| match e {
            crate::fsutil::CopyError::Read(e) | crate::fsutil::CopyError::Write(e) => e,
            crate::fsutil::CopyError::TooLarge => std::io::Error::other("too large"),
        })?;
        if change.sha256.as_deref() != Some(copied.sha256_hex().as_str()) {
            mismatch = true;
            return Err(std::io::Error::other("content differs from the plan"));
        }
        Ok(())
    })
    .map_err(|e| {
        if mismatch {
            ResourceError::permanent(format!("{shown}: the archive's content is not the plan's"))
        } else {
            ResourceError::io(format_args!("cannot write {shown}"), &e)
        }
    })
}

pub struct Archives;

pub static ARCHIVES: Archives = Archives;

impl Family for Archives {
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
            .map(|&i| (i, plan_one(all, &all[i], cx)))
            .collect()
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        let before = survey_of(node.before, node.address)?;
        let after = Extraction::decode(node.after, node.address)?;
        crate::fsutil::check_plain_absolute(&after.dest)?;
        crate::fsutil::check_plain_absolute(&after.archive)?;
        for change in &after.changes {
            let plain = !change.path.is_empty()
                && change
                    .path
                    .split('/')
                    .all(|p| !p.is_empty() && p != "." && p != "..");
            if !plain || !matches!(change.action.as_str(), "create" | "replace") {
                return Err(format!(
                    "the change of `{}` is not one `plan` makes",
                    change.path
                ));
            }
            if change.kind == "link" && change.target.as_deref().is_none_or(|t| t.starts_with('/'))
            {
                return Err(format!("the link `{}` has no relative target", change.path));
            }
        }
        if before.archive_sha256 != after.sha256 {
            return Err("the archive's hash differs between `before` and `after`".to_owned());
        }
        let action = action_of(&before, &after);
        if node.action != action {
            return Err(format!(
                "its action is `{}`, but its `before` and `after` make it `{}`",
                node.action.as_str(),
                action.as_str()
            ));
        }
        if node.fingerprint != fingerprint(&before) || node.route != before.dest_route {
            return Err("its fingerprint is not the one of its `before`".to_owned());
        }
        if *node.after_sensitive != Value::Bool(false)
            || *node.before_sensitive != Value::Bool(false)
            || node.diff.is_some()
        {
            return Err("an extraction has no sensitive values and no diff".to_owned());
        }
        Ok(())
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        let (Ok(after), Ok(before)) = (
            Extraction::decode(node.after, node.address),
            survey_of(node.before, node.address),
        ) else {
            return Description {
                what: String::new(),
                details: Vec::new(),
                diff_lines: Vec::new(),
            };
        };
        let mut details = Vec::new();
        let from = match (&after.format, &after.sha256) {
            (Some(format), Some(sha)) => format!("extract {} ({format}, sha256 {sha})", after.src),
            _ => format!(
                "extract {} as a task of this run leaves it: its entries are checked and listed when the node runs",
                after.src
            ),
        };
        if before.creates_exists == Some(true) {
            details.push(format!(
                "skipped: {} exists",
                after.creates.as_deref().unwrap_or_default()
            ));
        } else {
            details.push(from);
        }
        if after.strip_components > 0 {
            details.push(format!("strip_components {}", after.strip_components));
        }
        if !after.exclude.is_empty() {
            details.push(format!("exclude {}", after.exclude.join(", ")));
        }
        let who = |name: &Option<String>, id: Option<u32>| match (name, id) {
            (Some(n), Some(id)) => Some(format!("{n} ({id})")),
            (Some(n), None) => Some(n.clone()),
            _ => None,
        };
        if let Some(owner) = who(&after.owner, after.uid) {
            details.push(format!("owner {owner}"));
        }
        if let Some(group) = who(&after.group, after.gid) {
            details.push(format!("group {group}"));
        }
        if after.unchanged > 0 {
            details.push(format!(
                "{} entries already as in the archive",
                after.unchanged
            ));
        }
        let diff_lines = after
            .changes
            .iter()
            .map(|c| {
                let mut line = format!("{} {} {}", c.action, c.kind, c.path);
                match (c.kind.as_str(), &c.size, &c.sha256, &c.target) {
                    ("link", _, _, Some(target)) => line.push_str(&format!(" -> {target}")),
                    (_, Some(size), Some(sha), _) => {
                        line.push_str(&format!(" ({size} bytes, sha256 {sha})"))
                    }
                    _ => {}
                }
                if let Some(mode) = &c.mode {
                    line.push_str(&format!(", mode {mode}"));
                }
                escape(&line).into_owned()
            })
            .collect();
        Description {
            what: escape(&after.dest).into_owned(),
            details: details
                .into_iter()
                .map(|d| Detail::plain(escape(&d).into_owned()))
                .collect(),
            diff_lines,
        }
    }

    fn key(&self, _: &Recorded) -> Option<String> {
        None
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
        let Ok(after) = Extraction::decode(node.after, node.address) else {
            return Vec::new();
        };
        // One line per entry created or replaced, as `show` lists them.
        let entries: Vec<Value> = after
            .changes
            .iter()
            .map(|c| Value::from(format!("{} {} {}", c.action, c.kind, c.path)))
            .collect();
        vec![super::contract::Change {
            field: "entries".to_owned(),
            before: Value::Null,
            after: Value::Array(entries),
        }]
    }

    fn finish(&self, nodes: &[(NodeView<'_>, bool)], _: std::time::SystemTime) {
        for (node, changed) in nodes {
            if *changed && let Ok(after) = Extraction::decode(node.after, node.address) {
                let _ = File::open(&after.dest).and_then(|d| d.sync_all());
            }
        }
    }
}
