//! The resource types — what `apply:` tasks manage — on one contract ([`contract`]), one file
//! per type, listed below (the registry).
//!
//! Every type answers the same questions (compare mgmt's CheckApply, Terraform's provider
//! interface):
//! - **claims**: what it manages, typed ([`Thing`]): two tasks claiming one thing are a check
//!   error, and an exclusive claim is a lock the scheduler never lets two nodes hold at once;
//! - **requires**: the claims it needs other tasks to have made good first (a file: its parent
//!   directory, its owner and group), matched by the lowering into implicit edges;
//! - **observe** and **plan**: read the current state (no side effects), compute the wanted
//!   state, the action, before/after, the diff and the fingerprint — this *is* the dry run;
//! - **apply**: make it so, safe to re-run, "changed" from the plan's diff.
//!
//! The last three are the family's ([`Family`]): types sharing one kind of state are planned
//! and run together. The file family ([`files`]) reduces each of its types to a wanted
//! [`FsState`] and changes the file system in one place, [`fs_state::converge`].

mod archives;
mod authorized_keys;
mod checkouts;
pub mod commands;
pub mod contract;
mod control;
mod downloads;
pub mod field_rules;
mod file_backed;
pub mod files;
mod firewall;
mod firewall_fields;
pub mod fs_state;
mod one_or_list;
mod packing;
mod power;
mod registry;
mod requests;
pub mod services;
mod ssh_keys;
mod sysctls;
mod text;

// The registry: every task type is its file and one line in the list below.
pub mod accounts;
mod archive;
mod authorized_key;
mod blockinfile;
mod command;
mod copy;
mod cron;
mod cron_fields;
mod crons;
mod debug;
mod directory;
mod fail;
mod file;
mod get_url;
mod git;
mod group;
mod hostname;
mod iptables;
pub mod lang_packages;
mod lineinfile;
mod link;
mod mount;
mod mounts;
mod netfilter;
mod npm;
mod package;
pub mod packages;
mod pause;
mod pip;
#[cfg(feature = "test-types")]
mod probe;
mod reboot;
mod replace;
mod script;
mod service;
mod shell;
mod shutdown;
mod stat;
mod sudoers;
mod sysctl;
mod template;
mod timezone;
mod ufw;
mod ufw_rules;
mod unarchive;
mod uri;
mod user;
mod wait_for;
mod waits;

registry::task_types! {
    File(file::FileTask) = "file",
    Directory(directory::DirectoryTask) = "directory",
    Link(link::LinkTask) = "link",
    Copy(copy::CopyTask) = "copy",
    Template(template::TemplateTask) = "template",
    LineInFile(lineinfile::LineInFileTask) = "lineinfile",
    BlockInFile(blockinfile::BlockInFileTask) = "blockinfile",
    Package(package::PackageTask) = "package",
    Service(service::ServiceTask) = "service",
    Command(command::CommandTask) = "command",
    Shell(shell::ShellTask) = "shell",
    Script(script::ScriptTask) = "script",
    User(user::UserTask) = "user",
    Group(group::GroupTask) = "group",
    Sysctl(sysctl::SysctlTask) = "sysctl",
    Cron(cron::CronTask) = "cron",
    AuthorizedKey(authorized_key::AuthorizedKeyTask) = "authorized_key",
    GetUrl(get_url::GetUrlTask) = "get_url",
    Unarchive(unarchive::UnarchiveTask) = "unarchive",
    Git(git::GitTask) = "git",
    Hostname(hostname::HostnameTask) = "hostname",
    Timezone(timezone::TimezoneTask) = "timezone",
    Mount(mount::MountTask) = "mount",
    Pip(pip::PipTask) = "pip",
    Npm(npm::NpmTask) = "npm",
    Iptables(iptables::IptablesTask) = "iptables",
    Ufw(ufw::UfwTask) = "ufw",
    Replace(replace::ReplaceTask) = "replace",
    Sudoers(sudoers::SudoersTask) = "sudoers",
    Archive(archive::ArchiveTask) = "archive",
    Uri(uri::UriTask) = "uri",
    WaitFor(wait_for::WaitForTask) = "wait_for",
    Reboot(reboot::RebootTask) = "reboot",
    Shutdown(shutdown::ShutdownTask) = "shutdown",
    Stat(stat::StatTask) = "stat",
    Debug(debug::DebugTask) = "debug",
    Fail(fail::FailTask) = "fail",
    Pause(pause::PauseTask) = "pause",
    #[cfg(feature = "test-types")]
    Probe(probe::ProbeTask) = "probe",
}

/// Types compiled only for the tests (feature `test-types`): left out of the schema and of the
/// lists of types diagnostics offer, so that a test build says what a shipped one does.
pub const TEST_ONLY_TYPES: &[&str] = &["probe"];

use serde::{Deserialize, Serialize};

pub use contract::{
    Claim, Family, Hold, NodeStates, NodeView, Reason, Recompiled, Requirement, Resource,
    SENSITIVE, Thing,
};
pub use fs_state::{EntryKind, FsState, Observed, Place};

/// What a node will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    Delete,
    Run,
    /// A facts node: run a collector once and report its values and threshold events; changes
    /// nothing on the host.
    Collect,
    /// Runs when executed and changes nothing on the host (format 1.5): a `wait_for`, a `uri`
    /// `GET` sent again for its registered answer or its status. Never run in a dry run.
    Check,
    /// A logs node: runs its pipeline once over what its files hold, forwards the lines and
    /// advances its checkpoints (format 1.6); changes nothing on the host but driftless's own
    /// state.
    Ship,
}

impl Action {
    /// Whether the node changes the host.
    pub fn changes(self) -> bool {
        !matches!(
            self,
            Action::NoOp | Action::Collect | Action::Check | Action::Ship
        )
    }

    /// As plan.json writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::NoOp => "no-op",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Run => "run",
            Action::Collect => "collect",
            Action::Check => "check",
            Action::Ship => "ship",
        }
    }
}
