//! `mount`: a file system's line in `fstab` and whether it is mounted, with the fields of
//! Ansible's `mount` module. The `fstab` line is a member of the file family (an edit of the
//! line keyed by the mount point, so other lines and comments are kept and several mounts
//! share the file in order); the family of the type ([`super::mounts`]) adds the live mount
//! table and the mount point directory.

use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Hold, Reason, Requirement, Resource, Thing};
use super::field_rules::absolute;
use super::files::{self, FileType, WantContext, Wanted, refuse_non_file, refuse_symlink};
use super::fs_state::{EntryKind, FsState, Observed};
use super::lineinfile::{current_lines, edited_file};
use crate::diagnostics::Diagnostic;
use crate::host::mounts::unescape_mount_field;
use crate::model::apply::Attributes;
use crate::model::values::{Mode, Principal};
use crate::model::{RenderedContent, Spanned};

/// The file a `mount` task edits when it names none.
pub const DEFAULT_FSTAB: &str = "/etc/fstab";

/// A file system: its line in `fstab`, and whether it is mounted.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MountTask {
    /// The mount point, absolute: `/srv/data`.
    pub path: Spanned<String>,
    /// What is mounted (required with `mounted` and `present`): a device (`/dev/sdb1`),
    /// `UUID=…`, `LABEL=…`, `server:/export`, a directory for a bind mount, or a name
    /// (`tmpfs`).
    pub src: Option<Spanned<String>>,
    /// The file system type (required with `mounted` and `present`): `ext4`, `xfs`, `nfs`,
    /// `tmpfs`, `none` for a bind mount, `auto`.
    pub fstype: Option<Spanned<String>>,
    /// Mount options, comma-separated, as `fstab` writes them (default `defaults`).
    pub opts: Option<Spanned<String>>,
    /// `fstab`'s fifth field, for `dump` (default 0).
    #[serde(default)]
    pub dump: u8,
    /// `fstab`'s sixth field: the order `fsck` checks file systems in at boot (default 0: not
    /// checked).
    #[serde(default)]
    pub passno: u8,
    /// `mounted`: the line in `fstab` and the file system mounted (the mount point made if
    /// missing; remounted when the line changes); `unmounted`: not mounted, `fstab` left as it
    /// is; `present`: the line in `fstab` only, the live mount left as it is; `absent`: no
    /// line for the mount point in `fstab`, and not mounted.
    pub state: MountWanted,
    /// The `fstab` file (absolute). Default `/etc/fstab`.
    pub fstab: Option<Spanned<String>>,
    /// The path the task edits, made once from `fstab`.
    #[serde(skip)]
    #[schemars(skip)]
    fstab_path: OnceLock<Spanned<String>>,
}

/// What a `mount` task wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MountWanted {
    Mounted,
    Unmounted,
    Present,
    Absent,
}

impl MountWanted {
    /// Whether the task wants the line in `fstab`.
    pub fn in_fstab(self) -> bool {
        matches!(self, MountWanted::Mounted | MountWanted::Present)
    }

    /// Whether the task manages the live mount.
    pub fn manages_live(self) -> bool {
        self != MountWanted::Present
    }
}

impl MountTask {
    /// The options, `defaults` when none are given.
    pub fn options(&self) -> &str {
        self.opts.as_ref().map_or("defaults", |o| o.value.as_str())
    }

    fn field(field: &Option<Spanned<String>>) -> &str {
        field.as_ref().map_or("", |f| f.value.as_str())
    }

    pub fn source(&self) -> &str {
        MountTask::field(&self.src)
    }

    pub fn filesystem(&self) -> &str {
        MountTask::field(&self.fstype)
    }

    /// The task's `fstab` line, as its six fields.
    pub fn fstab_fields(&self) -> [String; 6] {
        [
            self.source().to_owned(),
            self.path.value.clone(),
            self.filesystem().to_owned(),
            self.options().to_owned(),
            self.dump.to_string(),
            self.passno.to_string(),
        ]
    }

    /// Whether it is a bind mount: its source is a directory, not a file system, so what
    /// the mount table says of it is not compared with `src` and `fstype`.
    pub fn is_bind(&self) -> bool {
        self.options()
            .split(',')
            .any(|o| o == "bind" || o == "rbind")
    }
}

impl Attributes for MountTask {
    fn mode(&self) -> Option<&Spanned<Mode>> {
        None
    }
    fn owner(&self) -> Option<&Spanned<Principal>> {
        None
    }
    fn group(&self) -> Option<&Spanned<Principal>> {
        None
    }
}

impl Resource for MountTask {
    /// The mount point (one task per mount point, whatever the file), and its line in
    /// `fstab` (other mounts share the file, in the order written).
    fn claims(&self) -> Vec<Claim> {
        let fstab = FileType::path(self);
        vec![
            Claim {
                thing: Thing::MountPoint(Thing::path(&self.path.value).name().to_owned()),
                hold: Hold::Owns,
                span: self.path.span,
                written: self.path.value.clone(),
                sensitive: self.path.sensitive,
            },
            Claim {
                thing: Thing::path(&fstab.value),
                hold: Hold::Edits(Some(self.path.value.clone())),
                span: self.path.span,
                written: fstab.value.clone(),
                sensitive: fstab.sensitive,
            },
        ]
    }

    /// `fstab`'s directory, and the mount point directory (or the nearest of its parents a
    /// task manages).
    fn requires(&self) -> Vec<Requirement> {
        let mut required = files::requires(&FileType::path(self).value, None);
        required.push(Requirement {
            thing: Thing::path(&self.path.value),
            reason: Reason::MountPoint,
            nearest_ancestor: true,
        });
        required
    }

    /// `mount:<path>`.
    fn default_id(&self) -> String {
        format!("mount:{}", self.path.value)
    }

    fn check(&self, cx: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        absolute(&self.path, "path", found);
        if self.path.value.trim_end_matches('/').is_empty() {
            found.push(
                Diagnostic::error("`path` is `/`: driftless does not mount or unmount the root")
                    .at(self.path.span),
            );
        }
        if let Some(fstab) = &self.fstab {
            absolute(fstab, "fstab", found);
        }
        for (name, field) in [
            ("path", Some(&self.path)),
            ("src", self.src.as_ref()),
            ("fstype", self.fstype.as_ref()),
            ("opts", self.opts.as_ref()),
        ] {
            if let Some(field) = field {
                check_fstab_field(name, field, found);
            }
        }
        if self.state.in_fstab() {
            for (name, field) in [("src", &self.src), ("fstype", &self.fstype)] {
                if field.is_none() {
                    found.push(
                        Diagnostic::error(format!(
                            "`{name}` is required with `state: {}`",
                            state_name(self.state)
                        ))
                        .at(cx.task)
                        .help("the fstab line names what is mounted and its file system type"),
                    );
                }
            }
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    fn family() -> &'static dyn super::Family {
        &super::mounts::MOUNTS
    }

    fn file_type(&self) -> Option<&dyn FileType> {
        Some(self)
    }
}

fn state_name(state: MountWanted) -> &'static str {
    match state {
        MountWanted::Mounted => "mounted",
        MountWanted::Unmounted => "unmounted",
        MountWanted::Present => "present",
        MountWanted::Absent => "absent",
    }
}

/// A field of an `fstab` line: one word of printable characters (a space or a tab would
/// split the line, a `#` start a comment), not empty.
fn check_fstab_field(name: &str, field: &Spanned<String>, found: &mut Vec<Diagnostic>) {
    let text = &field.value;
    let bad = |c: &char| c.is_whitespace() || c.is_control() || *c == '#' || *c == '\\';
    let why = match text.chars().find(bad) {
        _ if text.is_empty() => Some("is empty".to_owned()),
        Some(' ') => Some("has a space in it".to_owned()),
        Some('\t') => Some("has a tab in it".to_owned()),
        Some(c) => Some(format!("has `{}` in it", c.escape_default())),
        None => None,
    };
    if let Some(why) = why {
        let shown = if field.sensitive { "(sensitive)" } else { text };
        found.push(
            Diagnostic::error(format!("`{name}` `{}` {why}", shown.escape_default()))
                .at(field.span)
                .help("each field of an fstab line is one word: no spaces, tabs, `#` or `\\`"),
        );
    }
}

impl FileType for MountTask {
    fn path(&self) -> &Spanned<String> {
        self.fstab_path.get_or_init(|| match &self.fstab {
            Some(fstab) => fstab.clone(),
            None => Spanned {
                value: DEFAULT_FSTAB.to_owned(),
                span: self.path.span,
                sensitive: false,
            },
        })
    }

    fn attributes(&self) -> Option<&dyn Attributes> {
        Some(self)
    }

    fn want(&self, _: &WantContext<'_>, observed: &Observed) -> Result<Wanted, String> {
        want(self, observed)
    }
}

/// The fields of an `fstab` line (unescaped), `None` for a blank or comment line.
fn fields_of(line: &str) -> Option<Vec<String>> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    Some(
        trimmed
            .split_whitespace()
            .map(unescape_mount_field)
            .collect(),
    )
}

/// The file with the mount point's line: the last line for it kept when its fields are the
/// task's (however spaced), else replaced; earlier ones for it removed (the last one wins at
/// boot); appended when there is none. `absent` removes every line for it; `unmounted` leaves
/// the file as it is.
fn want(task: &MountTask, observed: &Observed) -> Result<Wanted, String> {
    let path = &FileType::path(task).value;
    refuse_symlink(observed, path)?;
    refuse_non_file(observed, path)?;
    let untouched = task.state == MountWanted::Unmounted
        || (task.state == MountWanted::Absent && observed.state.state == EntryKind::Absent);
    if untouched {
        let state = match observed.state.state {
            EntryKind::Absent => FsState::absent(path),
            _ => {
                let mut state = files::regular_file(path, None, observed);
                files::attributes(&mut state, &observed.state, task, 0o644)?;
                state
            }
        };
        return Ok(Wanted {
            state,
            sensitive: false,
        });
    }
    let mount_point = crate::apply::Thing::path(&task.path.value);
    let is_mount_point = |line: &str| {
        fields_of(line).is_some_and(|fields| {
            fields
                .get(1)
                .is_some_and(|p| crate::apply::Thing::path(p) == mount_point)
        })
    };
    let mut lines = current_lines(observed, path, true)?;
    if task.state.in_fstab() {
        let wanted = task.fstab_fields();
        let same = |line: &str| {
            fields_of(line).is_some_and(|mut fields| {
                // Missing dump and passno fields are 0.
                fields.resize(fields.len().max(6), "0".to_owned());
                fields == wanted
            })
        };
        let line = wanted.join(" ");
        match lines.lines.iter().rposition(|l| is_mount_point(l)) {
            Some(at) => {
                if !same(&lines.lines[at]) {
                    lines.lines[at] = line;
                }
                let kept: Vec<String> = lines
                    .lines
                    .iter()
                    .enumerate()
                    .filter(|(i, l)| *i >= at || !is_mount_point(l))
                    .map(|(_, l)| l.clone())
                    .collect();
                lines.lines = kept;
            }
            None => lines.lines.push(line),
        }
    } else {
        lines.lines.retain(|l| !is_mount_point(l));
    }
    edited_file(path, &lines, observed, task, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(state: MountWanted, opts: Option<&str>) -> MountTask {
        let text = |t: &str| Some(Spanned::unplaced(t.to_owned()));
        MountTask {
            path: Spanned::unplaced("/srv/data".to_owned()),
            src: text("/dev/sdb1"),
            fstype: text("ext4"),
            opts: opts.and_then(text),
            dump: 0,
            passno: 2,
            state,
            fstab: None,
            fstab_path: OnceLock::new(),
        }
    }

    fn edit(task: &MountTask, content: &str) -> String {
        let mut state = FsState::absent(DEFAULT_FSTAB);
        state.state = EntryKind::File;
        state.set_mode(0o644);
        let observed = Observed {
            state,
            content: Some(content.as_bytes().to_vec()),
            route: Default::default(),
        };
        let wanted = want(task, &observed).unwrap_or_else(|e| panic!("{e}"));
        wanted.state.content.unwrap_or_else(|| content.to_owned())
    }

    const FSTAB: &str = "# <file system> <mount point> <type> <options> <dump> <pass>\n\
                         UUID=1 / ext4 errors=remount-ro 0 1\n";

    #[test]
    fn the_line_is_appended_replaced_or_kept_and_the_rest_is_kept() {
        let mounted = task(MountWanted::Mounted, None);
        let line = "/dev/sdb1 /srv/data ext4 defaults 0 2\n";
        assert_eq!(edit(&mounted, FSTAB), format!("{FSTAB}{line}"));
        // An earlier line for the mount point is dropped, the last one replaced.
        let old =
            format!("/dev/sdc1 /srv/data/ xfs ro 0 0\n{FSTAB}/dev/sdb1\t/srv/data\text4 ro\n");
        assert_eq!(edit(&mounted, &old), format!("{FSTAB}{line}"));
        // The same fields, spaced otherwise, are the same line.
        let spaced = format!("{FSTAB}/dev/sdb1\t/srv/data   ext4 defaults 0 2\n");
        assert_eq!(edit(&mounted, &spaced), spaced);
    }

    #[test]
    fn absent_removes_the_lines_and_unmounted_leaves_the_file() {
        let with = format!("{FSTAB}/dev/sdb1 /srv/data ext4 defaults 0 2\n");
        assert_eq!(edit(&task(MountWanted::Absent, None), &with), FSTAB);
        assert_eq!(edit(&task(MountWanted::Unmounted, None), &with), with);
    }

    #[test]
    fn bind_mounts_are_told_by_their_options() {
        assert!(task(MountWanted::Mounted, Some("bind,ro")).is_bind());
        assert!(!task(MountWanted::Mounted, Some("ro")).is_bind());
    }
}
