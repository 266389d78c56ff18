//! `timezone`: the host's time zone, as Ansible's `timezone` module sets it on Debian: the
//! `/etc/localtime` link to the zone's file under `/usr/share/zoneinfo`, and the zone's name
//! in `/etc/timezone`. `/etc/timezone` is a member of the file family (the task owns it); the
//! family of the type, here, adds the link, observed, fingerprinted and changed with the file
//! family's machinery ([`fs_state`]) so that it is never written through a link the plan did
//! not see.
//!
//! Those two files are the whole of the setting: glibc reads `/etc/localtime` (and notices
//! when it changes), and systemd-timedated (`timedatectl set-timezone`) does no more than
//! make the same link (and, on Debian, write the same file). So driftless writes them itself
//! on every host, systemd or not, and keeps the atomic writes and stale checks.

use std::io::Read;
use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Action;
use super::contract::{
    Change, CheckContext, Claim, Description, Detail, Family, Hold, NodeStates, NodeView,
    PlanContext, Ran, Recompiled, Recorded, Requirement, Resource, Thing,
};
use super::file_backed::{self, FilePart};
use super::files::{self, FILES, FileType, WantContext, Wanted};
use super::fs_state::{self, EntryKind, FsState, Observed, sha256_hex};
use crate::apply::ApplySpec;
use crate::diagnostics::Diagnostic;
use crate::error::ResourceError;
use crate::fsutil::walk::Walked;
use crate::model::apply::Attributes;
use crate::model::values::{Mode, Principal};
use crate::model::{ApplyTask, RenderedContent, Spanned};
use crate::printable::escape;

/// The zone's name, read by Debian's tools.
pub const TIMEZONE_FILE: &str = "/etc/timezone";
/// The link to the zone's file, read by the C library.
pub const LOCALTIME: &str = "/etc/localtime";
/// Where the zones are.
pub const ZONEINFO: &str = "/usr/share/zoneinfo";

/// The host's time zone.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimezoneTask {
    /// The zone, as named under `/usr/share/zoneinfo`: `Europe/Berlin`, `Etc/UTC`, `UTC`.
    pub name: Spanned<String>,
    /// `/etc/timezone`, spanned at the name, made once.
    #[serde(skip)]
    #[schemars(skip)]
    path: OnceLock<Spanned<String>>,
}

impl Attributes for TimezoneTask {
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

impl Resource for TimezoneTask {
    /// The host's time zone (one task per host), and the two files it writes whole.
    fn claims(&self) -> Vec<Claim> {
        let claim = |thing, written: &str| Claim {
            thing,
            hold: Hold::Owns,
            span: self.name.span,
            written: written.to_owned(),
            sensitive: false,
        };
        vec![
            Claim {
                sensitive: self.name.sensitive,
                ..claim(Thing::Timezone, &self.name.value)
            },
            claim(Thing::path(TIMEZONE_FILE), TIMEZONE_FILE),
            claim(Thing::path(LOCALTIME), LOCALTIME),
        ]
    }

    fn requires(&self) -> Vec<Requirement> {
        files::requires(TIMEZONE_FILE, None)
    }

    /// `timezone`: there is one per host.
    fn default_id(&self) -> String {
        "timezone".to_owned()
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        if let Some(why) = malformed_zone(&self.name.value) {
            found.push(
                Diagnostic::error(format!("timezone `name` {why}"))
                    .at(self.name.span)
                    .help(
                        "name a zone as `timedatectl list-timezones` lists it, relative to \
                         /usr/share/zoneinfo, e.g. `Europe/Berlin` or `Etc/UTC`",
                    ),
            );
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    fn family() -> &'static dyn Family {
        &TIMEZONES
    }

    fn file_type(&self) -> Option<&dyn FileType> {
        Some(self)
    }
}

/// Why a name cannot be a zone's (whether the zone exists is for the plan), if it cannot:
/// words of letters, digits, `_`, `-`, `+` and `.` separated by single slashes, relative,
/// without `.` or `..`.
fn malformed_zone(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".to_owned());
    }
    if name.starts_with('/') {
        return Some("is an absolute path".to_owned());
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '.' | '/');
    if let Some(c) = name.chars().find(|c| !allowed(*c)) {
        return Some(format!("has `{}` in it", c.escape_default()));
    }
    if name
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Some("has an empty part, `.` or `..`".to_owned());
    }
    None
}

/// The zone a link target names (what follows `zoneinfo/`), if it names one.
fn zone_of(target: &str) -> Option<&str> {
    let (_, zone) = target.split_once("zoneinfo/")?;
    (malformed_zone(zone).is_none()).then_some(zone)
}

/// The zone's file: a regular file starting with the TZif magic.
fn zone_file(zone: &str) -> Result<String, String> {
    let path = format!("{ZONEINFO}/{zone}");
    let missing = || {
        format!(
            "there is no time zone {} here ({path} is not a zone file)",
            escape(zone)
        )
    };
    let file = std::fs::File::open(&path).map_err(|_| missing())?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(missing());
    }
    let mut magic = [0u8; 4];
    file.take(4).read_exact(&mut magic).map_err(|_| missing())?;
    if &magic != b"TZif" {
        return Err(missing());
    }
    Ok(path)
}

impl FileType for TimezoneTask {
    fn path(&self) -> &Spanned<String> {
        self.path.get_or_init(|| Spanned {
            value: TIMEZONE_FILE.to_owned(),
            span: self.name.span,
            sensitive: false,
        })
    }

    fn attributes(&self) -> Option<&dyn Attributes> {
        Some(self)
    }

    fn want(&self, _: &WantContext<'_>, observed: &Observed) -> Result<Wanted, String> {
        file_backed::one_name_file(TIMEZONE_FILE, &self.name.value, observed, self)
    }
}

/// A timezone node's `before` or `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimezoneState {
    /// `/etc/timezone`: observed in `before`, wanted in `after`.
    pub file: FsState,
    /// `/etc/localtime`: observed in `before`, wanted in `after` (a link to the zone's file).
    pub localtime: FsState,
    /// The digest of the way to `/etc/localtime` when observed.
    pub localtime_route: String,
    /// The zone: the one `/etc/localtime` names in `before` (`null` when it names none), the
    /// one wanted in `after`.
    pub zone: Option<String>,
}

/// The family's one instance.
pub struct Timezones;

pub static TIMEZONES: Timezones = Timezones;

fn decode(recorded: &Recorded, which: &str) -> Result<TimezoneState, String> {
    recorded.decode(which, "a timezone's")
}

fn decode_node(node: &NodeView<'_>) -> Result<(TimezoneState, TimezoneState), String> {
    Ok((decode(node.before, "before")?, decode(node.after, "after")?))
}

fn link_action(before: &TimezoneState, after: &TimezoneState) -> Action {
    files::action(&before.localtime, &after.localtime)
}

/// The link's action when it changes, else the file's.
fn action(before: &TimezoneState, after: &TimezoneState) -> Action {
    match (
        link_action(before, after),
        files::action(&before.file, &after.file),
    ) {
        (Action::NoOp, file) => file,
        (Action::Create, Action::Create) => Action::Create,
        _ => Action::Update,
    }
}

fn link_fingerprint(before: &TimezoneState) -> String {
    fs_state::fingerprint(&before.localtime, &before.localtime_route, true)
}

/// Of both files as observed.
fn fingerprint(before: &TimezoneState, route: &str) -> String {
    let file = fs_state::fingerprint(&before.file, route, true);
    sha256_hex(
        json!([file, link_fingerprint(before)])
            .to_string()
            .as_bytes(),
    )
}

/// `/etc/localtime` as wanted: a link to the zone's file — the one there kept when it already
/// names the zone (`../usr/share/zoneinfo/…`, as systemd makes it) —, replacing a copy of a
/// zone file (a regular file) if that is what is there.
fn want_localtime(observed: &FsState, zone: &str, zone_path: &str) -> Result<FsState, String> {
    let mut want = FsState::absent(LOCALTIME);
    want.state = EntryKind::Link;
    match (observed.state, observed.target.as_deref()) {
        (EntryKind::Link, Some(target)) if zone_of(target) == Some(zone) => {
            want.target = Some(target.to_owned());
        }
        (EntryKind::Absent | EntryKind::Link, _) => want.target = Some(zone_path.to_owned()),
        (EntryKind::File, _) => {
            want.target = Some(zone_path.to_owned());
            want.force = true;
        }
        (other, _) => {
            return Err(format!(
                "{LOCALTIME} exists and is not a link or a file (it is a {}); remove it first",
                format!("{other:?}").to_lowercase()
            ));
        }
    }
    Ok(want)
}

/// A planned file node of a timezone task, with the link added.
fn combine(task: &ApplyTask, file: NodeStates, walked: &Walked) -> Result<NodeStates, String> {
    let ApplySpec::Timezone(timezone) = &task.spec else {
        return Err(format!(
            "`{}` is not a timezone task",
            task.spec.type_name()
        ));
    };
    let (Recorded::File(file_before), Recorded::File(file_after)) = (file.before, file.after)
    else {
        return Err("the file family planned no file state".to_owned());
    };
    let zone = &timezone.name.value;
    let zone_path = zone_file(zone)?;
    let observed = fs_state::observe(LOCALTIME, false, None, walked)
        .map_err(|e| format!("cannot read {LOCALTIME}: {e}"))?;
    let localtime = want_localtime(&observed.state, zone, &zone_path)?;
    let localtime_route = observed.route.digest();
    let before = TimezoneState {
        file: file_before,
        zone: observed
            .state
            .target
            .as_deref()
            .and_then(zone_of)
            .map(str::to_owned),
        localtime: observed.state,
        localtime_route: localtime_route.clone(),
    };
    let after = TimezoneState {
        file: file_after,
        localtime,
        localtime_route,
        zone: Some(zone.clone()),
    };
    Ok(NodeStates {
        action: action(&before, &after),
        fingerprint: fingerprint(&before, &file.route),
        before: Recorded::Json(serde_json::to_value(&before).map_err(|e| e.to_string())?),
        after: Recorded::Json(serde_json::to_value(&after).map_err(|e| e.to_string())?),
        before_sensitive: Value::Bool(false),
        after_sensitive: Value::Bool(false),
        route: file.route,
        diff: file.diff,
        chained: file.chained,
    })
}

/// `/etc/localtime` as it is now, compared with the plan's, with the place it was seen.
fn check_localtime(
    node: &NodeView<'_>,
    before: &TimezoneState,
) -> Result<(Observed, fs_state::Place), String> {
    let (now, place) = fs_state::observe_in_place(LOCALTIME, false, None)
        .map_err(|e| format!("{}: cannot read {LOCALTIME}: {e}", node.address))?;
    if fs_state::check_fingerprint(&link_fingerprint(before), &now, true).is_err() {
        return Err(format!(
            "{}: {LOCALTIME} changed since the plan ({})",
            node.address,
            fs_state::describe_change(&before.localtime, &now.state)
        ));
    }
    Ok((now, place))
}

fn show_zone(zone: &Option<String>) -> String {
    zone.as_deref()
        .map_or_else(|| "(none)".to_owned(), |z| escape(z).into_owned())
}

impl Family for Timezones {
    fn plan(
        &self,
        all: &[ApplyTask],
        tasks: &[usize],
        chained_after: &[Option<usize>],
        link_targets: &dyn Fn(usize) -> Vec<usize>,
        cx: &PlanContext<'_>,
    ) -> Vec<(usize, Result<NodeStates, String>)> {
        let walked = Walked::default();
        FILES
            .plan(all, tasks, chained_after, link_targets, cx)
            .into_iter()
            .map(|(i, planned)| (i, planned.and_then(|file| combine(&all[i], file, &walked))))
            .collect()
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        let (before, after) = decode_node(node)?;
        let zone = after
            .zone
            .as_deref()
            .filter(|zone| malformed_zone(zone).is_none())
            .ok_or("its `after` names no time zone")?;
        let link_names_zone = after.localtime.state == EntryKind::Link
            && after.localtime.target.as_deref().and_then(zone_of) == Some(zone);
        let plain = after.file.path == TIMEZONE_FILE
            && after.localtime.path == LOCALTIME
            && before.localtime.path == LOCALTIME
            && before.localtime_route == after.localtime_route;
        if !link_names_zone || !plain {
            return Err(format!(
                "`after` is not {LOCALTIME} linked to the zone's file and {TIMEZONE_FILE}"
            ));
        }
        if after
            .file
            .content
            .as_deref()
            .is_some_and(|c| c.trim() != zone)
        {
            return Err(format!("the content of {TIMEZONE_FILE} is not the zone"));
        }
        file_backed::verify_public_node(
            node,
            (action(&before, &after), fingerprint(&before, node.route)),
            "a timezone node",
            (&before.file, &after.file),
        )
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        let (before, after) = match decode_node(node) {
            Ok(states) => states,
            Err(why) => return Description::unreadable(why),
        };
        let file = FILES.describe(&FilePart::of(&before.file, &after.file, node.route).view(node));
        let zone = if before.zone == after.zone {
            format!("time zone: {} (unchanged)", show_zone(&after.zone))
        } else {
            format!(
                "time zone: {} → {}",
                show_zone(&before.zone),
                show_zone(&after.zone)
            )
        };
        let target = escape(after.localtime.target.as_deref().unwrap_or_default()).into_owned();
        let link = match (link_action(&before, &after), before.localtime.state) {
            (Action::NoOp, _) => format!("{LOCALTIME} → {target} (unchanged)"),
            (_, EntryKind::File) => {
                format!("replace the file {LOCALTIME} with a link → {target}")
            }
            (_, _) => format!("link {LOCALTIME} → {target}"),
        };
        let mut details = vec![Detail::plain(zone), Detail::plain(link)];
        if files::action(&before.file, &after.file).changes() {
            details.push(Detail::plain(format!("write {TIMEZONE_FILE}")));
        }
        details.extend(file.details);
        Description {
            what: format!("time zone {}", show_zone(&after.zone)),
            details,
            diff_lines: file.diff_lines,
        }
    }

    fn key(&self, after: &Recorded) -> Option<String> {
        decode(after, "after").ok().map(|state| state.file.path)
    }

    fn shows_content(&self, _: &NodeView<'_>) -> bool {
        false
    }

    fn stale(&self, node: &NodeView<'_>) -> Option<String> {
        let (before, after) = match decode_node(node) {
            Ok(states) => states,
            Err(why) => return Some(format!("{}: {why}", node.address)),
        };
        if let Err(why) = check_localtime(node, &before) {
            return Some(why);
        }
        FILES.stale(&FilePart::of(&before.file, &after.file, node.route).view(node))
    }

    fn run(
        &self,
        node: &NodeView<'_>,
        config: Option<&Recompiled<'_>>,
    ) -> Result<Ran, ResourceError> {
        let (before, after) = decode_node(node)?;
        let (now, place) = check_localtime(node, &before)?;
        let part = FilePart::of(&before.file, &after.file, node.route);
        // Both preconditions are checked before either file changes.
        if let Some(why) = FILES.stale(&part.view(node)) {
            return Err(ResourceError::permanent(why));
        }
        let zone = after.zone.as_deref().unwrap_or_default();
        zone_file(zone).map_err(|why| format!("{}: {why}", node.address))?;
        if part.action.changes() {
            FILES.run(&part.view(node), config)?;
        }
        if files::action(&now.state, &after.localtime).changes() {
            fs_state::converge(&now.state, &after.localtime, &place)?;
            // The file family syncs the directories of the nodes it finishes: /etc, written
            // here too, is synced now.
            crate::fsutil::sync_parent(std::path::Path::new(LOCALTIME))
                .map_err(|e| ResourceError::io(format_args!("cannot sync /etc"), &e))?;
        }
        Ok(Ran::CHANGED)
    }

    fn finish(&self, nodes: &[(NodeView<'_>, bool)], run_started: std::time::SystemTime) {
        super::file_backed::finish_file_parts(nodes, run_started, |node| {
            let (before, after) = decode_node(node).ok()?;
            Some((before.file, after.file))
        });
    }

    fn changes(&self, node: &NodeView<'_>) -> Vec<Change> {
        let Ok((before, after)) = decode_node(node) else {
            return Vec::new();
        };
        let mut changes = Vec::new();
        if before.zone != after.zone {
            changes.push(Change {
                field: "zone".to_owned(),
                before: json!(before.zone),
                after: json!(after.zone),
            });
        }
        if link_action(&before, &after).changes() {
            changes.push(Change {
                field: "localtime".to_owned(),
                before: json!(before.localtime.target),
                after: json!(after.localtime.target),
            });
        }
        let part = FilePart::of(&before.file, &after.file, node.route);
        let file = part.view(node);
        if file.action.changes() {
            changes.push(Change {
                field: "file".to_owned(),
                before: json!(before.file.state),
                after: json!(after.file.state),
            });
            changes.extend(FILES.changes(&file));
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names_are_relative_plain_paths() {
        for good in [
            "Europe/Berlin",
            "UTC",
            "Etc/GMT+1",
            "America/Port-au-Prince",
        ] {
            assert_eq!(malformed_zone(good), None, "{good}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../../etc/passwd",
            "Europe/../../x",
            "Europe//Berlin",
            "Europe/Berlin; rm -rf /",
            "Europe/./Berlin",
        ] {
            assert!(malformed_zone(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn a_link_names_the_zone_after_zoneinfo() {
        assert_eq!(
            zone_of("/usr/share/zoneinfo/Europe/Berlin"),
            Some("Europe/Berlin")
        );
        assert_eq!(zone_of("../usr/share/zoneinfo/Etc/UTC"), Some("Etc/UTC"));
        assert_eq!(zone_of("/etc/other"), None);
    }
}
