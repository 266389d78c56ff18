//! `stat` (Ansible's `ansible.builtin.stat`): what a path is — whether it exists, its kind,
//! mode, owner, size, times, a checksum of a regular file's content — `register`ed for the
//! tasks after it to read in `when` and templates (`st.stat.exists`, `st.stat.mode`).
//!
//! The result is known when the config is planned: the template stage observes the path when
//! it renders the task (`template::task::stat_result`), so what reads it is decided at plan
//! time and shown in the plan. The plan records the observation as a read-only `no-op` node
//! whose fingerprint is the observation's: `execute` refuses the plan as stale when the path
//! changed since. A stat of a path another task of the config manages would report the state
//! before that task runs, so it is a check error naming both ([`Resource::observes`]).

use std::path::Path;
use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::contract::{
    CheckContext, Claim, Description, Detail, Family, Hold, NodeStates, NodeView, PlanContext, Ran,
    Recompiled, Recorded, Requirement, Resource, Thing,
};
use super::field_rules::absolute;
use super::fs_state::sha256_hex;
use super::{Action, ApplySpec};
use crate::diagnostics::Diagnostic;
use crate::error::ResourceError;
use crate::host::path_stat::{self, ALGORITHMS, DEFAULT_ALGORITHM, Look, PathStat};
use crate::model::{ApplyTask, RenderedContent, Spanned};
use crate::printable::escape;

/// What a path is, observed when planning.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatTask {
    /// The absolute path to look at.
    pub path: Spanned<String>,
    /// Report what a symbolic link points to instead of the link (default false).
    #[serde(default)]
    pub follow: bool,
    /// Digest a regular file's content into `stat.checksum` (default true).
    pub get_checksum: Option<bool>,
    /// The digest: `sha1` (default, as Ansible's), `sha224`, `sha256`, `sha384`, `sha512` or
    /// `md5`.
    pub checksum_algorithm: Option<Spanned<String>>,
    /// What the template stage saw when it rendered the task (what later tasks read), set
    /// by `check`: the plan records it rather than a second look, which could differ.
    #[serde(skip)]
    #[schemars(skip)]
    observed: OnceLock<PathStat>,
}

impl StatTask {
    /// Keeps what the template stage observed, for the plan to record.
    pub fn rendered_with(&self, observed: PathStat) {
        // Set once, by `check`, right after the task is made.
        let _ = self.observed.set(observed);
    }

    /// The algorithm of the checksum asked for, if one is.
    fn checksum(&self) -> Option<&str> {
        self.get_checksum.unwrap_or(true).then(|| {
            self.checksum_algorithm
                .as_ref()
                .map_or(DEFAULT_ALGORITHM, |a| a.value.as_str())
        })
    }

    fn look(&self) -> Look<'_> {
        Look {
            follow: self.follow,
            checksum: self.checksum(),
        }
    }
}

impl Resource for StatTask {
    const RESULT_FIELDS: &'static [&'static str] = &["stat"];

    fn claims(&self) -> Vec<Claim> {
        Vec::new()
    }

    fn observes(&self) -> Vec<Claim> {
        vec![Claim {
            thing: Thing::path(&self.path.value),
            written: self.path.value.clone(),
            hold: Hold::Owns,
            span: self.path.span,
            sensitive: self.path.sensitive,
        }]
    }

    fn requires(&self) -> Vec<Requirement> {
        Vec::new()
    }

    fn default_id(&self) -> String {
        format!("stat:{}", self.path.value)
    }

    fn check(&self, _: &CheckContext<'_>, found: &mut Vec<Diagnostic>) {
        absolute(&self.path, "path", found);
        if let Some(algorithm) = self
            .checksum_algorithm
            .as_ref()
            .filter(|a| !ALGORITHMS.contains(&a.value.as_str()))
        {
            found.push(
                Diagnostic::error(format!("`{}` is not a checksum algorithm", algorithm.value))
                    .at(algorithm.span)
                    .help(format!("use one of {}", ALGORITHMS.join(", "))),
            );
        }
    }

    fn carries_secret(&self, _: Option<&RenderedContent>) -> bool {
        false
    }

    fn family() -> &'static dyn Family {
        &STATS
    }
}

/// A stat node's `before` and `after` (the same: it changes nothing): how it looked, and what
/// it saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Observation {
    path: String,
    follow: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum_algorithm: Option<String>,
    stat: PathStat,
}

impl Observation {
    fn decode(recorded: &Recorded) -> Result<Observation, String> {
        recorded.decode("before", "a stat's")
    }

    fn look(&self) -> Look<'_> {
        Look {
            follow: self.follow,
            checksum: self.checksum_algorithm.as_deref(),
        }
    }

    /// The same look, made now.
    fn again(&self) -> Result<PathStat, String> {
        path_stat::stat(Path::new(&self.path), self.look())
            .map_err(|e| format!("cannot stat {}: {e}", self.path))
    }

    fn fingerprint(&self) -> String {
        sha256_hex(json!(self).to_string().as_bytes())
    }
}

struct Stats;

static STATS: Stats = Stats;

impl Family for Stats {
    fn plan(
        &self,
        all: &[ApplyTask],
        tasks: &[usize],
        _: &[Option<usize>],
        _: &dyn Fn(usize) -> Vec<usize>,
        _: &PlanContext<'_>,
    ) -> Vec<(usize, Result<NodeStates, String>)> {
        tasks
            .iter()
            .map(|&i| {
                let ApplySpec::Stat(task) = &all[i].spec else {
                    return (i, Err("not a stat".to_owned()));
                };
                let observed = match task.observed.get() {
                    Some(seen) => Ok(seen.clone()),
                    None => path_stat::stat(Path::new(&task.path.value), task.look())
                        .map_err(|e| format!("cannot stat {}: {e}", task.path.value)),
                };
                let states = observed.map(|stat| {
                    let observation = Observation {
                        path: task.path.value.clone(),
                        follow: task.follow,
                        checksum_algorithm: task.checksum().map(str::to_owned),
                        stat,
                    };
                    NodeStates {
                        action: Action::NoOp,
                        fingerprint: observation.fingerprint(),
                        before: Recorded::Json(json!(observation)),
                        after: Recorded::Json(json!(observation)),
                        before_sensitive: Value::Bool(false),
                        after_sensitive: Value::Bool(false),
                        route: String::new(),
                        diff: None,
                        chained: false,
                    }
                });
                (i, states)
            })
            .collect()
    }

    fn verify(&self, node: &NodeView<'_>) -> Result<(), String> {
        let observation = Observation::decode(node.before)?;
        if node.action != Action::NoOp {
            return Err("a stat's action is `no-op`: it only looks".to_owned());
        }
        if node.after != node.before {
            return Err("a stat's `after` is its `before`: it changes nothing".to_owned());
        }
        if node.fingerprint != observation.fingerprint() {
            return Err("its fingerprint is not the one of its `before`".to_owned());
        }
        if *node.before_sensitive != Value::Bool(false)
            || *node.after_sensitive != Value::Bool(false)
            || node.diff.is_some()
        {
            return Err("a stat has no sensitive values and no diff".to_owned());
        }
        Ok(())
    }

    fn describe(&self, node: &NodeView<'_>) -> Description {
        let observation = match Observation::decode(node.before) {
            Ok(observation) => observation,
            Err(why) => return Description::unreadable(why),
        };
        let details = match &observation.stat.found {
            None => vec![Detail::plain("does not exist".to_owned())],
            Some(found) => {
                let kind = match () {
                    _ if found.isreg => "regular file",
                    _ if found.isdir => "directory",
                    _ if found.islnk => "symbolic link",
                    _ if found.isfifo => "FIFO",
                    _ if found.issock => "socket",
                    _ if found.isblk => "block device",
                    _ => "character device",
                };
                let mut details = vec![Detail::plain(format!(
                    "{kind}, mode {}, owner {}:{}, {} bytes",
                    found.mode,
                    escape(&found.pw_name),
                    escape(&found.gr_name),
                    found.size
                ))];
                if let Some(target) = &found.lnk_target {
                    details.push(Detail::plain(format!("points to {}", escape(target))));
                }
                if let (Some(sum), Some(algorithm)) =
                    (&found.checksum, &observation.checksum_algorithm)
                {
                    details.push(Detail::plain(format!("{algorithm} {sum}")));
                }
                details
            }
        };
        Description {
            what: format!("stat {}", escape(&observation.path)),
            details,
            diff_lines: Vec::new(),
        }
    }

    fn key(&self, _: &Recorded) -> Option<String> {
        None
    }

    fn shows_content(&self, _: &NodeView<'_>) -> bool {
        false
    }

    fn shows_no_op(&self) -> bool {
        true
    }

    fn stale(&self, node: &NodeView<'_>) -> Option<String> {
        let observation = match Observation::decode(node.before) {
            Ok(observation) => observation,
            Err(why) => return Some(format!("{}: {why}", node.address)),
        };
        match observation.again() {
            Ok(now) if now == observation.stat => None,
            Ok(now) => Some(format!(
                "{}: {} changed since the plan ({}), and what the plan decided from it may no longer hold",
                node.address,
                escape(&observation.path),
                what_changed(&observation.stat, &now)
            )),
            Err(why) => Some(format!("{}: {why}", node.address)),
        }
    }

    fn run(&self, _: &NodeView<'_>, _: Option<&Recompiled<'_>>) -> Result<Ran, ResourceError> {
        // A no-op node never reaches its family: `execute` checked it against the host
        // before the run, which is all a stat does.
        Ok(Ran::UNCHANGED)
    }

    fn finish(&self, _: &[(NodeView<'_>, bool)], _: std::time::SystemTime) {}
}

/// The first fields that differ, for the stale message: `exists`, `mtime`, `checksum` …
fn what_changed(before: &PathStat, now: &PathStat) -> String {
    let (Value::Object(before), Value::Object(now)) = (json!(before), json!(now)) else {
        return "it differs".to_owned();
    };
    let mut fields: Vec<&str> = before
        .iter()
        .filter(|(k, v)| now.get(*k) != Some(*v))
        .map(|(k, _)| k.as_str())
        .chain(
            now.keys()
                .filter(|k| !before.contains_key(*k))
                .map(String::as_str),
        )
        .collect();
    fields.sort();
    fields.dedup();
    format!("{} differ", fields.join(", "))
}
