//! `user` nodes: the account observed (passwd entry, primary and supplementary groups by
//! name, shadow hash), planned as the fields that change, shown, checked and changed with
//! `useradd`, `usermod`, `chpasswd` and `userdel`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{action, decode, fingerprint, is_fingerprint, record, shown, tool};
use crate::apply::contract::{
    Description, Detail, NodeStates, NodeView, PlanContext, Recompiled, Thing,
};
use crate::apply::user::UserTask;
use crate::apply::{Action, ApplySpec, SENSITIVE};
use crate::error::ResourceError;
use crate::host::users::{self as host, Db};
use crate::model::apply::State;

/// Where the password hashes are.
const SHADOW: &str = "/etc/shadow";
/// `useradd`'s defaults for a new user's home and shell.
const USERADD_DEFAULTS: &str = "/etc/default/useradd";

/// A user as a node records it: its name, whether it exists, and the fields the node changes
/// (on create, all it sets; on delete, what the account was).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserState {
    /// The login name.
    pub user: String,
    /// Whether the account exists.
    pub exists: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// The primary group, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_group: Option<String>,
    /// Supplementary groups, sorted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// The GECOS field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// `(sensitive)` in `after` when the node sets the password; never anything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Created as a system account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<bool>,
    /// On create: whether the home directory is made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_home: Option<bool>,
    /// On delete: whether the home directory and mail spool go too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove: Option<bool>,
}

impl UserState {
    fn named(user: &str, exists: bool) -> Self {
        UserState {
            user: user.to_owned(),
            exists,
            ..UserState::default()
        }
    }

    /// `true` at the password, the one sensitive leaf; `false` when there is none.
    fn sensitivity(&self) -> Value {
        if self.password.is_some() {
            json!({ "password": true })
        } else {
            Value::Bool(false)
        }
    }
}

/// The password hashes of the shadow file, read at most once per plan.
#[derive(Default)]
pub struct Shadow(Option<Result<HashMap<String, String>, String>>);

impl Shadow {
    fn hash(&mut self, user: &str) -> Result<Option<String>, String> {
        let hashes = self.0.get_or_insert_with(|| {
            host::shadow_hashes(std::path::Path::new(SHADOW))
                .map_err(|e| format!("cannot read {SHADOW} to compare the password: {e}"))
        });
        match hashes {
            Ok(hashes) => Ok(hashes.get(user).cloned()),
            Err(why) => Err(why.clone()),
        }
    }
}

/// An account as it is: its passwd entry, its groups by name.
struct Seen {
    uid: u32,
    primary_group: String,
    groups: Vec<String>,
    home: String,
    shell: String,
    comment: String,
}

fn observe(user: &str) -> Result<Option<Seen>, String> {
    let Some(account) =
        host::account(user).map_err(|e| format!("cannot look up user `{user}`: {e}"))?
    else {
        return Ok(None);
    };
    let gids = host::supplementary_gids(user, account.gid)
        .map_err(|e| format!("cannot list the groups of user `{user}`: {e}"))?;
    let groups: BTreeSet<String> = gids.into_iter().map(|g| host::name(Db::Group, g)).collect();
    Ok(Some(Seen {
        uid: account.uid,
        primary_group: host::name(Db::Group, account.gid),
        groups: groups.into_iter().collect(),
        home: account.home,
        shell: account.shell,
        comment: account.gecos,
    }))
}

/// The fingerprint of an account: every field observed, groups by name (a group's new id
/// does not change its members), and a digest of the password hash when it is read.
fn fingerprint_of(user: &str, seen: Option<&Seen>, hash: Option<&str>) -> String {
    let Some(seen) = seen else {
        return fingerprint(&["user", user, "absent"]);
    };
    let uid = seen.uid.to_string();
    let groups = seen.groups.join(",");
    let hash = hash.map(|h| super::super::fs_state::sha256_hex(h.as_bytes()));
    fingerprint(&[
        "user",
        user,
        &uid,
        &seen.primary_group,
        &groups,
        &seen.home,
        &seen.shell,
        &seen.comment,
        hash.as_deref().unwrap_or("-"),
    ])
}

/// The node's `route`: the databases its account was read from. The shadow file is read (and
/// its hash covered by the fingerprint) only for a task that sets a password.
const READ_WITHOUT_SHADOW: &str = "passwd, group";
const READ_WITH_SHADOW: &str = "passwd, group, shadow";

pub fn plan(
    task: &UserTask,
    shadow: &Mutex<Shadow>,
    cx: &PlanContext<'_>,
) -> Result<NodeStates, String> {
    let name = &task.name.value;
    let seen = observe(name)?;
    let hash = match (&task.password, &seen) {
        (Some(_), Some(_)) => Some(
            shadow
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .hash(name)?,
        ),
        _ => None,
    };
    let route = if hash.is_some() {
        READ_WITH_SHADOW
    } else {
        READ_WITHOUT_SHADOW
    };
    // An account without a shadow entry has no hash: no password matches it.
    let hash = hash.flatten();
    let fingerprint = fingerprint_of(name, seen.as_ref(), hash.as_deref());
    let (before, after) = match (task.state, &seen) {
        (State::Absent, None) => (UserState::named(name, false), UserState::named(name, false)),
        (State::Absent, Some(seen)) => (
            whole(name, seen),
            UserState {
                remove: task.remove.as_ref().map(|r| r.value).filter(|&r| r),
                ..UserState::named(name, false)
            },
        ),
        (State::Present, None) => {
            refuse_unknown_groups(task, cx)?;
            (UserState::named(name, false), created(task)?)
        }
        (State::Present, Some(seen)) => {
            refuse_unknown_groups(task, cx)?;
            changed(task, seen, hash.as_deref())
        }
    };
    let changes = before != after;
    Ok(NodeStates {
        action: action(before.exists, after.exists, changes),
        before_sensitive: before.sensitivity(),
        after_sensitive: after.sensitivity(),
        before: record(&before),
        after: record(&after),
        fingerprint,
        route: route.to_owned(),
        diff: None,
        chained: false,
    })
}

/// A group the user is put in must exist, or be one a task of the plan manages.
fn refuse_unknown_groups(task: &UserTask, cx: &PlanContext<'_>) -> Result<(), String> {
    let named = task.group.iter().chain(task.groups.iter().flatten());
    for group in named {
        let thing = Thing::Group(group.value.clone());
        if cx.managed.contains(&thing) {
            continue;
        }
        if let Err(missing) = host::resolve(Db::Group, &group.value) {
            return Err(format!(
                "{missing}; create it first, or add a `group` task for it"
            ));
        }
    }
    Ok(())
}

/// A deleted account as it was.
fn whole(name: &str, seen: &Seen) -> UserState {
    UserState {
        uid: Some(seen.uid),
        primary_group: Some(seen.primary_group.clone()),
        groups: (!seen.groups.is_empty()).then(|| seen.groups.clone()),
        home: Some(seen.home.clone()),
        shell: Some(seen.shell.clone()),
        comment: (!seen.comment.is_empty()).then(|| seen.comment.clone()),
        ..UserState::named(name, true)
    }
}

fn wanted_groups(task: &UserTask) -> Option<Vec<String>> {
    let groups: BTreeSet<String> = task
        .groups
        .as_ref()?
        .iter()
        .map(|g| g.value.clone())
        .collect();
    Some(groups.into_iter().collect())
}

/// A new account: everything `useradd` will be told, defaults made explicit so that the plan
/// says what the account will be (only an unset uid is left to `useradd`).
fn created(task: &UserTask) -> Result<UserState, String> {
    let name = &task.name.value;
    let defaults = UseraddDefaults::read()?;
    Ok(UserState {
        uid: task.uid.as_ref().and_then(|u| u32::try_from(u.value).ok()),
        primary_group: Some(task.group.as_ref().map_or(name, |g| &g.value).clone()),
        groups: wanted_groups(task).filter(|g| !g.is_empty()),
        home: Some(
            task.home
                .as_ref()
                .map_or_else(|| format!("{}/{name}", defaults.home), |h| h.value.clone()),
        ),
        shell: Some(
            task.shell
                .as_ref()
                .map_or_else(|| defaults.shell.clone(), |s| s.value.clone()),
        ),
        comment: task.comment.as_ref().map(|c| c.value.clone()),
        password: task.password.as_ref().map(|_| SENSITIVE.to_owned()),
        system: task.system.then_some(true),
        create_home: Some(task.create_home),
        ..UserState::named(name, true)
    })
}

/// The fields of an existing account the task changes: (before, after).
fn changed(task: &UserTask, seen: &Seen, hash: Option<&str>) -> (UserState, UserState) {
    let name = &task.name.value;
    let mut before = UserState::named(name, true);
    let mut after = UserState::named(name, true);
    fn field<T: Clone + PartialEq>(
        wanted: Option<T>,
        seen: &T,
        before: &mut Option<T>,
        after: &mut Option<T>,
    ) {
        if let Some(wanted) = wanted.filter(|w| w != seen) {
            *before = Some(seen.clone());
            *after = Some(wanted);
        }
    }
    let uid = task.uid.as_ref().and_then(|u| u32::try_from(u.value).ok());
    field(uid, &seen.uid, &mut before.uid, &mut after.uid);
    let group = task.group.as_ref().map(|g| g.value.clone());
    field(
        group,
        &seen.primary_group,
        &mut before.primary_group,
        &mut after.primary_group,
    );
    let groups = wanted_groups(task).map(|wanted| {
        if task.append {
            let all: BTreeSet<String> = seen.groups.iter().cloned().chain(wanted).collect();
            all.into_iter().collect()
        } else {
            wanted
        }
    });
    field(groups, &seen.groups, &mut before.groups, &mut after.groups);
    let home = task.home.as_ref().map(|h| h.value.clone());
    field(home, &seen.home, &mut before.home, &mut after.home);
    let shell = task.shell.as_ref().map(|s| s.value.clone());
    field(shell, &seen.shell, &mut before.shell, &mut after.shell);
    let comment = task.comment.as_ref().map(|c| c.value.clone());
    field(
        comment,
        &seen.comment,
        &mut before.comment,
        &mut after.comment,
    );
    // Only `after` names the password, when the node sets it: what it was is not shown, not
    // even as `(sensitive)`, so that the two states differ by it.
    if task
        .password
        .as_ref()
        .is_some_and(|p| Some(p.value.as_str()) != hash)
    {
        after.password = Some(SENSITIVE.to_owned());
    }
    (before, after)
}

/// `HOME` and `SHELL` of /etc/default/useradd, with `useradd`'s own defaults.
struct UseraddDefaults {
    home: String,
    shell: String,
}

impl UseraddDefaults {
    fn read() -> Result<Self, String> {
        let text = match std::fs::read_to_string(USERADD_DEFAULTS) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(format!("cannot read {USERADD_DEFAULTS}: {e}")),
        };
        let value = |key: &str| {
            // The last setting wins, as for useradd.
            text.lines()
                .rev()
                .filter_map(|line| line.trim().strip_prefix(key)?.strip_prefix('='))
                .map(|v| v.trim().to_owned())
                .find(|v| v.starts_with('/'))
        };
        Ok(UseraddDefaults {
            home: value("HOME").unwrap_or_else(|| "/home".to_owned()),
            shell: value("SHELL").unwrap_or_else(|| "/bin/sh".to_owned()),
        })
    }
}

pub fn verify(node: &NodeView<'_>) -> Result<(), String> {
    let before: UserState = decode(node.before, "before")?;
    let after: UserState = decode(node.after, "after")?;
    if before.user != after.user {
        return Err("`before` and `after` name different users".to_owned());
    }
    let expected = action(before.exists, after.exists, before != after);
    if node.action != expected {
        return Err(format!(
            "its states make it `{}`, not `{}`",
            expected.as_str(),
            node.action.as_str()
        ));
    }
    for (state, mask, which) in [
        (&before, node.before_sensitive, "before"),
        (&after, node.after_sensitive, "after"),
    ] {
        if state.password.as_ref().is_some_and(|p| p != SENSITIVE) {
            return Err(format!("`{which}` shows a password"));
        }
        if *mask != state.sensitivity() {
            return Err(format!("`{which}_sensitive` does not mark its password"));
        }
    }
    if before.password.is_some() {
        return Err("`before` never names a password".to_owned());
    }
    let without_password = |state: &UserState| UserState {
        password: None,
        ..state.clone()
    };
    if node.action == Action::Update
        && field_names(&without_password(&before)) != field_names(&without_password(&after))
    {
        return Err("an update names the same fields in `before` and `after`".to_owned());
    }
    if !is_fingerprint(node.fingerprint) || node.diff.is_some() {
        return Err("a user node has a fingerprint and no diff".to_owned());
    }
    if ![READ_WITH_SHADOW, READ_WITHOUT_SHADOW].contains(&node.route) {
        return Err(format!(
            "a user node's route is `{READ_WITHOUT_SHADOW}` or `{READ_WITH_SHADOW}`"
        ));
    }
    Ok(())
}

fn field_names(state: &UserState) -> Vec<String> {
    match serde_json::to_value(state) {
        Ok(Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

pub fn describe(node: &NodeView<'_>) -> Result<Description, String> {
    let before: UserState = decode(node.before, "before")?;
    let after: UserState = decode(node.after, "after")?;
    let user = shown(&after.user);
    let mut details = Vec::new();
    let mut line = |text: String| details.push(Detail::plain(text));
    let what = match node.action {
        Action::Create => {
            let uid = after.uid.map_or_else(
                || "uid chosen by useradd".to_owned(),
                |u| format!("uid {u}"),
            );
            let group = after
                .primary_group
                .as_deref()
                .map(shown)
                .unwrap_or_default();
            let shell = after.shell.as_deref().map(shown).unwrap_or_default();
            if let Some(home) = &after.home {
                let made = if after.create_home == Some(true) {
                    "made"
                } else {
                    "not made"
                };
                line(format!("home {} ({made})", shown(home)));
            }
            if after.system == Some(true) {
                line("a system account".to_owned());
            }
            if let Some(comment) = &after.comment {
                line(format!("comment \"{}\"", shown(comment)));
            }
            for group in after.groups.iter().flatten() {
                line(format!("add user {user} to group {}", shown(group)));
            }
            if after.password.is_some() {
                line(format!("set its password {SENSITIVE}"));
            }
            format!("user {user} ({uid}, group {group}, shell {shell})")
        }
        Action::Delete => {
            match (after.remove, &before.home) {
                (Some(true), Some(home)) => line(format!(
                    "remove its home {} and its mail spool",
                    shown(home)
                )),
                (_, Some(home)) => line(format!("keep its home {}", shown(home))),
                _ => {}
            }
            format!("user {user}")
        }
        _ => {
            changes(&before, &after, &user, &mut line);
            format!("user {user}")
        }
    };
    Ok(Description {
        what,
        details,
        diff_lines: Vec::new(),
    })
}

/// One line per field an update changes.
fn changes(before: &UserState, after: &UserState, user: &str, line: &mut impl FnMut(String)) {
    let pairs = [
        (
            "uid",
            before.uid.map(|u| u.to_string()),
            after.uid.map(|u| u.to_string()),
        ),
        (
            "primary group",
            before.primary_group.clone(),
            after.primary_group.clone(),
        ),
        ("home (not moved)", before.home.clone(), after.home.clone()),
        ("shell", before.shell.clone(), after.shell.clone()),
        ("comment", before.comment.clone(), after.comment.clone()),
    ];
    for (field, old, new) in pairs {
        if let (Some(old), Some(new)) = (old, new) {
            line(format!("{field} {} → {}", shown(&old), shown(&new)));
        }
    }
    if let (Some(old), Some(new)) = (&before.groups, &after.groups) {
        for added in new.iter().filter(|g| !old.contains(g)) {
            line(format!("add user {user} to group {}", shown(added)));
        }
        for removed in old.iter().filter(|g| !new.contains(g)) {
            line(format!("remove user {user} from group {}", shown(removed)));
        }
    }
    if after.password.is_some() {
        line(format!("change its password {SENSITIVE}"));
    }
}

/// The account's fingerprint now, read as the plan read it.
pub fn fingerprint_now(node: &NodeView<'_>) -> Result<String, String> {
    let after: UserState = decode(node.after, "after")?;
    let seen = observe(&after.user)?;
    let hash = match &seen {
        Some(_) if node.route == READ_WITH_SHADOW => Shadow::default().hash(&after.user)?,
        _ => None,
    };
    Ok(fingerprint_of(&after.user, seen.as_ref(), hash.as_deref()))
}

pub fn run(node: &NodeView<'_>, config: Option<&Recompiled<'_>>) -> Result<(), ResourceError> {
    let before: UserState = decode(node.before, "before")?;
    let after: UserState = decode(node.after, "after")?;
    let user = after.user.clone();
    let password = match after.password {
        Some(_) => Some(password_from_config(node, config)?),
        None => None,
    };
    match node.action {
        Action::Create => {
            tool(useradd(&after)?, None)?;
            if let (Some(home), Some(true)) = (&after.home, after.create_home) {
                // Its files' tasks (`~/.ssh`, …) come next; the home is this run's.
                crate::fsutil::at::remember_made_by_tool(std::path::Path::new(home));
            }
        }
        Action::Update => {
            let argv = usermod(&before, &after);
            if argv.len() > 2 {
                tool(argv, None)?;
            }
        }
        Action::Delete => {
            let mut argv = vec!["userdel".to_owned()];
            if after.remove == Some(true) {
                argv.push("--remove".to_owned());
            }
            argv.push(user.clone());
            tool(argv, None)?;
        }
        Action::NoOp | Action::Run | Action::Collect | Action::Check | Action::Ship => {
            return Ok(());
        }
    }
    if let Some(hash) = password {
        // `chpasswd -e` takes `name:hash` on stdin: the hash is never on a command line.
        tool(
            vec!["chpasswd".to_owned(), "--encrypted".to_owned()],
            Some(format!("{user}:{hash}\n").into_bytes()),
        )
        .map_err(|e| ResourceError {
            // chpasswd quotes the line it refused: keep only its exit status.
            message: format!(
                "setting the password of user {user} failed ({})",
                first_word(&e.message)
            ),
            retry: e.retry,
            output: None,
        })?;
    }
    Ok(())
}

fn first_word(message: &str) -> &str {
    message.split(':').next().unwrap_or("")
}

/// The hash the config gives now: the plan holds only `(sensitive)`.
fn password_from_config(
    node: &NodeView<'_>,
    config: Option<&Recompiled<'_>>,
) -> Result<String, String> {
    let source = config.ok_or_else(|| {
        format!(
            "{}: sets a password, but there is no config to read it from",
            node.address
        )
    })?;
    let task = source
        .tasks
        .get(node.address)
        .ok_or_else(|| format!("{}: no longer in the config; make a new plan", node.address))?;
    match &task.spec {
        ApplySpec::User(user) => user
            .password
            .as_ref()
            .map(|p| p.value.clone())
            .ok_or_else(|| {
                format!(
                    "{}: the config no longer sets a password; make a new plan",
                    node.address
                )
            }),
        _ => Err(format!(
            "{}: no longer a `user` task in the config; make a new plan",
            node.address
        )),
    }
}

/// `useradd` for a new account; its primary group is made with it (`--user-group`) when it
/// is the group named like the user and does not exist yet.
fn useradd(after: &UserState) -> Result<Vec<String>, String> {
    let mut argv = vec!["useradd".to_owned()];
    if let Some(uid) = after.uid {
        argv.extend(["--uid".to_owned(), uid.to_string()]);
    }
    if let Some(group) = &after.primary_group {
        let exists = host::group_id(group)
            .map_err(|e| format!("cannot look up group `{group}`: {e}"))?
            .is_some();
        if exists {
            argv.extend(["--gid".to_owned(), group.clone()]);
        } else if *group == after.user {
            argv.push("--user-group".to_owned());
        } else {
            return Err(format!("no group `{group}` on this host"));
        }
    }
    if let Some(groups) = &after.groups {
        argv.extend(["--groups".to_owned(), groups.join(",")]);
    }
    for (option, value) in [
        ("--home-dir", &after.home),
        ("--shell", &after.shell),
        ("--comment", &after.comment),
    ] {
        if let Some(value) = value {
            argv.extend([option.to_owned(), value.clone()]);
        }
    }
    if after.system == Some(true) {
        argv.push("--system".to_owned());
    }
    argv.push(
        if after.create_home == Some(true) {
            "--create-home"
        } else {
            "--no-create-home"
        }
        .to_owned(),
    );
    argv.push(after.user.clone());
    Ok(argv)
}

/// `usermod` for the fields an update changes (the program and the name alone when only the
/// password changes). Supplementary groups only added to are appended; otherwise the list is
/// set whole, as the plan says it will be.
fn usermod(before: &UserState, after: &UserState) -> Vec<String> {
    let mut argv = vec!["usermod".to_owned()];
    if let Some(uid) = after.uid {
        argv.extend(["--uid".to_owned(), uid.to_string()]);
    }
    if let Some(group) = &after.primary_group {
        argv.extend(["--gid".to_owned(), group.clone()]);
    }
    if let (Some(old), Some(new)) = (&before.groups, &after.groups) {
        let only_added = old.iter().all(|g| new.contains(g));
        if only_added {
            let added: Vec<&str> = new
                .iter()
                .filter(|g| !old.contains(g))
                .map(String::as_str)
                .collect();
            argv.extend([
                "--append".to_owned(),
                "--groups".to_owned(),
                added.join(","),
            ]);
        } else {
            argv.extend(["--groups".to_owned(), new.join(",")]);
        }
    }
    for (option, value) in [
        ("--home", &after.home),
        ("--shell", &after.shell),
        ("--comment", &after.comment),
    ] {
        if let Some(value) = value {
            argv.extend([option.to_owned(), value.clone()]);
        }
    }
    argv.push(after.user.clone());
    argv
}
