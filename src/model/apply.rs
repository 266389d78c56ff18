//! `apply:` tasks of the file family, with Ansible's field names and meanings.
//!
//! Every struct here is both the type-check's target and the source of the JSON Schema in
//! `grammar/`; doc comments become the schema's descriptions.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::meta::TaskMeta;
use super::spanned::Spanned;
use super::values::{Mode, Principal};

/// One `apply:` task after type-checking.
#[derive(Debug, Clone)]
pub struct ApplyTask {
    pub meta: TaskMeta,
    pub spec: ApplySpec,
    /// The rendered template file, for `template` tasks and `file` tasks with `template`.
    pub rendered: Option<super::RenderedContent>,
}

/// The task types, selected by the `type` field.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(tag = "type")]
pub enum ApplySpec {
    File(FileTask),
    Directory(DirectoryTask),
    Link(LinkTask),
    Copy(CopyTask),
    Template(TemplateTask),
    LineInFile(LineInFileTask),
    BlockInFile(BlockInFileTask),
}

/// The marker line `blockinfile` uses when the task sets none.
pub const DEFAULT_BLOCK_MARKER: &str = "# {mark} DRIFTLESS MANAGED BLOCK";

impl ApplySpec {
    /// Every name [`ApplySpec::type_name`] gives.
    pub const TYPE_NAMES: [&'static str; 7] = [
        "file",
        "directory",
        "link",
        "copy",
        "template",
        "lineinfile",
        "blockinfile",
    ];

    pub fn type_name(&self) -> &'static str {
        match self {
            ApplySpec::File(_) => "file",
            ApplySpec::Directory(_) => "directory",
            ApplySpec::Link(_) => "link",
            ApplySpec::Copy(_) => "copy",
            ApplySpec::Template(_) => "template",
            ApplySpec::LineInFile(_) => "lineinfile",
            ApplySpec::BlockInFile(_) => "blockinfile",
        }
    }

    /// The path this task manages: its primary key and its default id (`file:/etc/motd`).
    pub fn path(&self) -> &Spanned<String> {
        match self {
            ApplySpec::File(t) => &t.path,
            ApplySpec::Directory(t) => &t.path,
            ApplySpec::Link(t) => &t.path,
            ApplySpec::Copy(t) => &t.dest,
            ApplySpec::Template(t) => &t.dest,
            ApplySpec::LineInFile(t) => &t.path,
            ApplySpec::BlockInFile(t) => &t.path,
        }
    }

    /// The id of a task that gives none: `<type>:<path>`. A line or block edit, which may
    /// share its file with others, adds what tells it apart: its `regexp` (else its `line`),
    /// or its marker when it is not the default — never a value read from a secret, since
    /// addresses are shown everywhere.
    pub fn default_id(&self) -> String {
        let base = format!("{}:{}", self.type_name(), self.path().value);
        let visible = |v: &Option<Spanned<String>>| v.clone().filter(|v| !v.sensitive);
        let distinct = match self {
            ApplySpec::LineInFile(t) => visible(&t.regexp).or_else(|| visible(&t.line)),
            ApplySpec::BlockInFile(t) => {
                visible(&t.marker).filter(|m| m.value != DEFAULT_BLOCK_MARKER)
            }
            _ => None,
        };
        match distinct {
            Some(key) => format!("{base}:{}", key.value),
            None => base,
        }
    }

    /// Whether the task owns the whole path. Line and block edits share a file with each
    /// other; a task that owns the path shares it with nothing.
    pub fn owns_path(&self) -> bool {
        !matches!(self, ApplySpec::LineInFile(_) | ApplySpec::BlockInFile(_))
    }
}

/// Mode, owner and group as a task type gives them: what the file family sets on what it
/// manages.
pub trait Attributes {
    fn mode(&self) -> Option<&Spanned<Mode>>;
    fn owner(&self) -> Option<&Spanned<Principal>>;
    fn group(&self) -> Option<&Spanned<Principal>>;
}

macro_rules! attributes {
    ($($task:ty),*) => {
        $(
            impl Attributes for $task {
                fn mode(&self) -> Option<&Spanned<Mode>> {
                    self.mode.as_ref()
                }
                fn owner(&self) -> Option<&Spanned<Principal>> {
                    self.owner.as_ref()
                }
                fn group(&self) -> Option<&Spanned<Principal>> {
                    self.group.as_ref()
                }
            }
        )*
    };
}

attributes!(
    FileTask,
    DirectoryTask,
    CopyTask,
    TemplateTask,
    LineInFileTask,
    BlockInFileTask
);

/// A link has no mode of its own on Linux.
impl Attributes for LinkTask {
    fn mode(&self) -> Option<&Spanned<Mode>> {
        None
    }
    fn owner(&self) -> Option<&Spanned<Principal>> {
        self.owner.as_ref()
    }
    fn group(&self) -> Option<&Spanned<Principal>> {
        self.group.as_ref()
    }
}

/// `present` (the default) or `absent`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    #[default]
    Present,
    Absent,
}

/// A regular file: its content (inline, from a template file, or copied from the config dir),
/// mode and ownership; or its absence.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileTask {
    /// Absolute path of the file.
    pub path: Spanned<String>,
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub state: State,
    /// The file's content, inline.
    pub content: Option<Spanned<String>>,
    /// A template file, relative to the config dir, rendered into the content.
    pub template: Option<Spanned<String>>,
    /// A file of the config dir copied as the content.
    pub source: Option<Spanned<String>>,
    /// When `path` is a symlink, manage the file it points to instead of refusing.
    #[serde(default)]
    pub follow: bool,
    pub mode: Option<Spanned<Mode>>,
    pub owner: Option<Spanned<Principal>>,
    pub group: Option<Spanned<Principal>>,
}

/// A directory, created with its parents; or its removal.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectoryTask {
    /// Absolute path of the directory.
    pub path: Spanned<String>,
    #[serde(default)]
    pub state: State,
    /// Create missing parent directories (default true).
    #[serde(default = "yes")]
    pub parents: bool,
    /// With `state: absent`, remove the directory even when it is not empty.
    #[serde(default)]
    pub recurse: bool,
    pub mode: Option<Spanned<Mode>>,
    pub owner: Option<Spanned<Principal>>,
    pub group: Option<Spanned<Principal>>,
}

/// Symbolic (default) or hard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    #[default]
    Symbolic,
    Hard,
}

/// A symbolic or hard link at `path` pointing at `src`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkTask {
    /// Absolute path of the link.
    pub path: Spanned<String>,
    /// What the link points at (required unless `state: absent`).
    pub src: Option<Spanned<String>>,
    /// `symbolic` (default) or `hard`.
    #[serde(default)]
    pub kind: LinkKind,
    #[serde(default)]
    pub state: State,
    /// Replace an existing file at `path` that is not the wanted link.
    #[serde(default)]
    pub force: bool,
    pub owner: Option<Spanned<Principal>>,
    pub group: Option<Spanned<Principal>>,
}

/// A file copied from the config dir (or from the host with `remote_src`), or given inline.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyTask {
    /// A file of the config dir (or of the host with `remote_src: true`).
    pub src: Option<Spanned<String>>,
    /// The content, inline, instead of `src`.
    pub content: Option<Spanned<String>>,
    /// Absolute destination path.
    pub dest: Spanned<String>,
    /// `src` is a path on the host, not in the config dir.
    #[serde(default)]
    pub remote_src: bool,
    /// Replace a destination whose content differs (default true); false only creates it.
    #[serde(default = "yes")]
    pub force: bool,
    pub mode: Option<Spanned<Mode>>,
    pub owner: Option<Spanned<Principal>>,
    pub group: Option<Spanned<Principal>>,
}

/// A file rendered from a template file of the config dir.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateTask {
    /// The template file, relative to the config dir (e.g. `templates/motd.j2`).
    pub src: Spanned<String>,
    /// Absolute destination path.
    pub dest: Spanned<String>,
    /// Replace a destination whose content differs (default true); false only creates it.
    #[serde(default = "yes")]
    pub force: bool,
    pub mode: Option<Spanned<Mode>>,
    pub owner: Option<Spanned<Principal>>,
    pub group: Option<Spanned<Principal>>,
}

/// One line of a file: present (replacing the last line `regexp` matches) or absent.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LineInFileTask {
    /// Absolute path of the file.
    pub path: Spanned<String>,
    /// The line (required with `state: present`).
    pub line: Option<Spanned<String>>,
    /// A regular expression: with `present` the last matching line is replaced, with `absent`
    /// every matching line is removed.
    pub regexp: Option<Spanned<String>>,
    #[serde(default)]
    pub state: State,
    /// Insert after the last line matching this regular expression, or `EOF` (default).
    pub insert_after: Option<Spanned<String>>,
    /// Insert before the last line matching this regular expression, or `BOF`.
    pub insert_before: Option<Spanned<String>>,
    /// Create the file when it does not exist (default false: the task fails instead).
    #[serde(default)]
    pub create: bool,
    pub mode: Option<Spanned<Mode>>,
    pub owner: Option<Spanned<Principal>>,
    pub group: Option<Spanned<Principal>>,
}

/// A block of lines between two marker lines: inserted, updated or removed.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockInFileTask {
    /// Absolute path of the file.
    pub path: Spanned<String>,
    /// The lines between the markers; empty or unset removes the block and its markers, as
    /// in Ansible.
    pub block: Option<Spanned<String>>,
    /// The marker line; `{mark}` becomes `marker_begin` or `marker_end`. Default
    /// `# {mark} DRIFTLESS MANAGED BLOCK`.
    pub marker: Option<Spanned<String>>,
    #[serde(default = "default_begin")]
    pub marker_begin: String,
    #[serde(default = "default_end")]
    pub marker_end: String,
    #[serde(default)]
    pub state: State,
    /// Insert after the last line matching this regular expression, or `EOF` (default).
    pub insert_after: Option<Spanned<String>>,
    /// Insert before the last line matching this regular expression, or `BOF`.
    pub insert_before: Option<Spanned<String>>,
    /// Create the file when it does not exist.
    #[serde(default)]
    pub create: bool,
    pub mode: Option<Spanned<Mode>>,
    pub owner: Option<Spanned<Principal>>,
    pub group: Option<Spanned<Principal>>,
}

fn yes() -> bool {
    true
}

fn default_begin() -> String {
    "BEGIN".to_owned()
}

fn default_end() -> String {
    "END".to_owned()
}
