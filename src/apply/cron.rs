//! `cron`: a named entry — a job, or an environment variable — in a file of `/etc/cron.d`
//! (`cron_file`, with the user column) or in a user's crontab, with Ansible's fields. The
//! entry is the line after its marker, `# driftless: <name>` (Ansible's `#Ansible: <name>`).
//! In a cron.d file the task is a member of the file family (an edit of the part its name
//! marks); a crontab is read and written through `crontab` by the cron family
//! ([`super::crons`]).

use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contract::{CheckContext, Claim, Hold, Reason, Requirement, Resource, Thing};
use super::field_rules::absolute;
use super::files::{self, FileType, WantContext, Wanted, refuse_symlink};
use super::fs_state::{EntryKind, FsState, Observed};
use super::lineinfile::{Lines, current_lines, edited_file};
use crate::diagnostics::Diagnostic;
use crate::model::apply::{Attributes, State};
use crate::model::values::{Mode, Principal};
use crate::model::{RenderedContent, Spanned};

/// The directory of `cron_file`s given by name.
pub const CRON_D: &str = "/etc/cron.d";

/// The marker line before an entry, with the entry's name after it.
pub const MARKER: &str = "# driftless: ";

/// A cron job or environment variable, by name.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CronTask {
    /// The entry's name: what finds it again (the marker line `# driftless: <name>` above
    /// it). With `env: true`, the variable's name.
    pub name: Spanned<String>,
    /// Minutes (0-59): `*`, a number, a range `a-b`, a list `a,b`, a step `*/5`. Default `*`.
    pub minute: Option<Spanned<CronField>>,
    /// Hours (0-23). Default `*`.
    pub hour: Option<Spanned<CronField>>,
    /// Days of the month (1-31). Default `*`.
    pub day: Option<Spanned<CronField>>,
    /// Months (1-12 or `jan`-`dec`). Default `*`.
    pub month: Option<Spanned<CronField>>,
    /// Days of the week (0-7, 0 and 7 are Sunday, or `sun`-`sat`). Default `*`.
    pub weekday: Option<Spanned<CronField>>,
    /// Instead of the five time fields: `reboot`, `yearly`, `annually`, `monthly`, `weekly`,
    /// `daily` or `hourly`.
    pub special_time: Option<Spanned<SpecialTime>>,
    /// The command (required with `state: present`); with `env: true`, the variable's value.
    pub job: Option<Spanned<String>>,
    /// Whose job: the crontab changed (`crontab -u`), or the user column of a `cron_file`.
    /// Default `root`.
    pub user: Option<Spanned<String>>,
    /// A file of `/etc/cron.d` (a name of letters, digits, `_` and `-`, as cron reads them)
    /// or an absolute path, instead of the user's crontab.
    pub cron_file: Option<Spanned<String>>,
    /// The entry is an environment variable (`name=job`), not a job; put at the top.
    #[serde(default)]
    pub env: bool,
    #[serde(default)]
    pub state: State,
    /// The job is written commented out.
    #[serde(default)]
    pub disabled: bool,
    /// The cron.d path, made once from `cron_file`.
    #[serde(skip)]
    #[schemars(skip)]
    path: OnceLock<Option<Spanned<String>>>,
}

/// A time field: a number or a cron expression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct CronField(#[schemars(with = "FieldSchema")] pub String);

/// A string or an integer, for the schema.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum FieldSchema {
    Text(String),
    Number(u32),
}

impl<'de> Deserialize<'de> for CronField {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = CronField;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number or a cron time expression")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<CronField, E> {
                Ok(CronField(v.to_owned()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<CronField, E> {
                Ok(CronField(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<CronField, E> {
                Ok(CronField(v.to_string()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// cron's `@` schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SpecialTime {
    Reboot,
    Yearly,
    Annually,
    Monthly,
    Weekly,
    Daily,
    Hourly,
}

impl SpecialTime {
    fn word(self) -> &'static str {
        match self {
            SpecialTime::Reboot => "reboot",
            SpecialTime::Yearly => "yearly",
            SpecialTime::Annually => "annually",
            SpecialTime::Monthly => "monthly",
            SpecialTime::Weekly => "weekly",
            SpecialTime::Daily => "daily",
            SpecialTime::Hourly => "hourly",
        }
    }
}

impl CronTask {
    /// Whose crontab, or the user column.
    pub fn user(&self) -> &str {
        self.user.as_ref().map_or("root", |u| u.value.as_str())
    }

    /// The cron.d file, when the entry is in one.
    pub fn cron_path(&self) -> Option<&Spanned<String>> {
        self.path
            .get_or_init(|| {
                self.cron_file.as_ref().map(|file| {
                    let mut path = file.clone();
                    if !file.value.starts_with('/') {
                        path.value = format!("{CRON_D}/{}", file.value);
                    }
                    path
                })
            })
            .as_ref()
    }

    /// The entry's line (without the marker).
    fn line(&self) -> String {
        let job = self.job.as_ref().map_or("", |j| j.value.as_str());
        if self.env {
            return format!("{}={job}", self.name.value);
        }
        let when = match &self.special_time {
            Some(special) => format!("@{}", special.value.word()),
            None => [
                &self.minute,
                &self.hour,
                &self.day,
                &self.month,
                &self.weekday,
            ]
            .iter()
            .map(|f| f.as_ref().map_or("*", |f| f.value.0.as_str()))
            .collect::<Vec<_>>()
            .join(" "),
        };
        let user = match self.cron_file {
            Some(_) => format!(" {}", self.user()),
            None => String::new(),
        };
        let disabled = if self.disabled { "#" } else { "" };
        format!("{disabled}{when}{user} {job}")
    }

    /// The lines with this entry made (or removed): the marker and the line after it.
    pub fn edit(&self, lines: &mut Lines) {
        let marker = format!("{MARKER}{}", self.name.value);
        let at = lines.lines.iter().position(|l| *l == marker);
        let end = at.map(|at| (at + 2).min(lines.lines.len()));
        let entry = match self.state {
            State::Present => vec![marker, self.line()],
            State::Absent => Vec::new(),
        };
        match (at, end) {
            (Some(at), Some(end)) => {
                lines.lines.splice(at..end, entry);
            }
            _ if self.env => {
                lines.lines.splice(0..0, entry);
            }
            _ => lines.lines.extend(entry),
        }
    }
}

impl Attributes for CronTask {
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

impl Resource for CronTask {
    const SECRET_FIELDS: &'static [&'static str] = &["job"];

    /// The entry's part of its file or crontab: other entries share it, in the order written;
    /// two tasks of one name in one file conflict.
    fn claims(&self) -> Vec<Claim> {
        let part = Hold::Edits(Some(self.name.value.clone()));
        let (thing, written, sensitive) = match self.cron_path() {
            Some(path) => (Thing::path(&path.value), path.value.clone(), path.sensitive),
            None => (
                Thing::Crontab(self.user().to_owned()),
                self.user().to_owned(),
                self.user.as_ref().is_some_and(|u| u.sensitive),
            ),
        };
        vec![Claim {
            thing,
            hold: part,
            span: self.name.span,
            written,
            sensitive: sensitive || self.name.sensitive,
        }]
    }

    /// Its user's task (the job runs as that user) and, for a cron.d file, the directory's.
    fn requires(&self) -> Vec<Requirement> {
        let mut required = match self.cron_path() {
            Some(path) => files::requires(&path.value, None),
            None => Vec::new(),
        };
        required.push(Requirement::exact(
            Thing::User(self.user().to_owned()),
            Reason::RunAs,
        ));
        required
    }

    /// `cron:<name>`, with the file or the user: `cron:backup:nightly`.
    fn default_id(&self) -> String {
        let place = self
            .cron_file
            .as_ref()
            .map_or(self.user(), |f| f.value.as_str());
        format!("cron:{place}:{}", self.name.value)
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        super::cron_fields::check(self, found);
        if let Some(file) = &self.cron_file
            && file.value.starts_with('/')
        {
            absolute(file, "cron_file", found);
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        self.job.as_ref().is_some_and(|j| j.sensitive)
    }

    fn family() -> &'static dyn super::Family {
        &super::crons::CRONS
    }

    /// A member of the file family when the entry is in a cron.d file.
    fn file_type(&self) -> Option<&dyn FileType> {
        self.cron_path().map(|_| self as &dyn FileType)
    }
}

impl FileType for CronTask {
    fn path(&self) -> &Spanned<String> {
        // Only reached through `file_type`, which is `None` without a path.
        self.cron_path().unwrap_or(&self.name)
    }

    fn attributes(&self) -> Option<&dyn Attributes> {
        Some(self)
    }

    fn want(&self, _: &WantContext<'_>, observed: &Observed) -> Result<Wanted, String> {
        let path = &FileType::path(self).value;
        refuse_symlink(observed, path)?;
        let sensitive = self.carries_secret(None);
        if self.state == State::Absent && observed.state.state == EntryKind::Absent {
            return Ok(Wanted {
                state: FsState::absent(path),
                sensitive,
            });
        }
        let mut lines = current_lines(observed, path, true)?;
        self.edit(&mut lines);
        edited_file(path, &lines, observed, self, sensitive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn task(name: &str, job: &str) -> CronTask {
        CronTask {
            name: Spanned::unplaced(name.to_owned()),
            minute: Some(Spanned::unplaced(CronField("*/5".to_owned()))),
            hour: None,
            day: None,
            month: None,
            weekday: None,
            special_time: None,
            job: Some(Spanned::unplaced(job.to_owned())),
            user: None,
            cron_file: None,
            env: false,
            state: State::Present,
            disabled: false,
            path: OnceLock::new(),
        }
    }

    fn edited(task: &CronTask, text: &str) -> String {
        let mut lines = Lines::parse(text.as_bytes(), "x").unwrap_or_else(|e| panic!("{e}"));
        task.edit(&mut lines);
        String::from_utf8(lines.render()).unwrap_or_default()
    }

    #[test]
    fn an_entry_is_appended_then_replaced_under_its_marker() {
        let once = edited(&task("a", "true"), "MAILTO=x\n");
        assert_eq!(once, "MAILTO=x\n# driftless: a\n*/5 * * * * true\n");
        let mut changed = task("a", "false");
        changed.special_time = Some(Spanned::unplaced(SpecialTime::Daily));
        changed.disabled = true;
        assert_eq!(
            edited(&changed, &format!("{once}# other\n")),
            "MAILTO=x\n# driftless: a\n#@daily false\n# other\n"
        );
    }

    #[test]
    fn a_cron_file_entry_has_the_user_column_and_env_goes_on_top() {
        let mut job = task("a", "true");
        job.cron_file = Some(Spanned::unplaced("backup".to_owned()));
        job.user = Some(Spanned::unplaced("deploy".to_owned()));
        assert_eq!(
            edited(&job, ""),
            "# driftless: a\n*/5 * * * * deploy true\n"
        );
        let mut env = task("PATH", "/usr/bin:/bin");
        env.env = true;
        assert_eq!(
            edited(&env, "# driftless: a\n* * * * * true\n"),
            "# driftless: PATH\nPATH=/usr/bin:/bin\n# driftless: a\n* * * * * true\n"
        );
    }

    #[test]
    fn absent_removes_the_marker_and_its_line() {
        let mut gone = task("a", "true");
        gone.state = State::Absent;
        assert_eq!(
            edited(&gone, "x\n# driftless: a\n* * * * * true\ny\n"),
            "x\ny\n"
        );
    }
}
