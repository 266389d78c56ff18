//! Lowering: the checked `apply` tasks into the plan DAG.
//!
//! Edges are explicit (`depends_on`, `notify`) or implicit: a path after the task managing its
//! nearest managed ancestor directory, a link after the task managing its target, and tasks
//! editing one file (lines, blocks) one after another in the order written. Every edge keeps
//! its reason, so plan.json says why a node waits.

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

use crate::apply;
use crate::model::{ApplyTask, TaskIndex};

/// Why one node waits for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    DependsOn,
    Notify,
    ParentDirectory,
    LinkTarget,
    SameFile,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::DependsOn => "depends_on",
            Reason::Notify => "notify",
            Reason::ParentDirectory => "parent directory",
            Reason::LinkTarget => "link target",
            Reason::SameFile => "same file",
        }
    }
}

/// The DAG: nodes are indexes into the task list, in execution order.
pub struct Lowered {
    /// Task indexes in a deterministic topological order (ties broken by declaration order).
    pub order: Vec<usize>,
    /// Per task: the tasks it waits for, with why.
    pub depends_on: Vec<BTreeSet<(usize, Reason)>>,
    /// Per task: the tasks it notifies.
    pub notifies: Vec<BTreeSet<usize>>,
    /// Per task: the earlier task editing the same file, whose result it starts from.
    pub chained_after: Vec<Option<usize>>,
}

/// `.` and `..` resolved lexically: enough to match a path with the task managing it (a
/// relative link target such as `../sites-available/shop` included).
fn normalize(path: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for component in Path::new(path).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Builds the DAG. Fails with the cycle's path when implicit edges close a cycle (explicit
/// cycles were already refused by `check`).
pub fn lower(tasks: &[ApplyTask]) -> Result<Lowered, String> {
    let n = tasks.len();
    let by_id = TaskIndex::new(tasks.iter().map(|t| &t.meta));
    let mut by_path: HashMap<PathBuf, Vec<usize>> = HashMap::new();
    for (i, task) in tasks.iter().enumerate() {
        by_path
            .entry(normalize(&task.spec.path().value))
            .or_default()
            .push(i);
    }
    let mut depends_on = vec![BTreeSet::new(); n];
    let mut notifies = vec![BTreeSet::new(); n];
    let mut chained_after = vec![None; n];
    for (i, task) in tasks.iter().enumerate() {
        for reference in &task.meta.depends_on {
            for &target in by_id.resolve(&reference.value) {
                depends_on[i].insert((target, Reason::DependsOn));
            }
        }
        for reference in &task.meta.notify {
            for &handler in by_id.resolve(&reference.value) {
                notifies[i].insert(handler);
                depends_on[handler].insert((i, Reason::Notify));
            }
        }
        let own = normalize(&task.spec.path().value);
        // Editors of one file: each starts from the previous one's result.
        if let Some(previous) = by_path[&own].iter().copied().take_while(|&j| j != i).last() {
            depends_on[i].insert((previous, Reason::SameFile));
            chained_after[i] = Some(previous);
        }
        for required in apply::requires(&task.spec) {
            let required = normalize(&required);
            let is_parent = own.parent() == Some(required.as_path());
            let reason = if is_parent {
                Reason::ParentDirectory
            } else {
                Reason::LinkTarget
            };
            // The nearest managed ancestor for a parent; the exact path for a link target.
            let mut candidate = Some(required.as_path());
            while let Some(path) = candidate {
                if let Some(managers) = by_path.get(path) {
                    for &m in managers.iter().filter(|&&m| m != i) {
                        depends_on[i].insert((m, reason));
                    }
                    break;
                }
                candidate = if is_parent { path.parent() } else { None };
            }
        }
    }
    refuse_handlers_in_chains(tasks, &depends_on, &chained_after)?;
    let order = order(n, &depends_on, tasks)?;
    Ok(Lowered {
        order,
        depends_on,
        notifies,
        chained_after,
    })
}

/// A handler may not run, so an edit of the same file planned after it would start from a
/// state that may never exist: a handler must have its file to itself.
fn refuse_handlers_in_chains(
    tasks: &[ApplyTask],
    depends_on: &[BTreeSet<(usize, Reason)>],
    chained_after: &[Option<usize>],
) -> Result<(), String> {
    for (i, deps) in depends_on.iter().enumerate() {
        let handler = deps.iter().any(|(_, r)| *r == Reason::Notify);
        // Only handlers pay for the search of a follower.
        if handler && (chained_after[i].is_some() || chained_after.contains(&Some(i))) {
            return Err(format!(
                "`{}` is a handler (it runs only when notified) and edits {} with other tasks; \
                 a handler must be the only task editing its file",
                tasks[i].meta.id,
                tasks[i].spec.path().value
            ));
        }
    }
    Ok(())
}

/// Kahn's algorithm, always taking the earliest-declared ready task: deterministic, and as
/// close to the written order as the edges allow. Tasks left over sit on a cycle.
fn order(
    n: usize,
    depends_on: &[BTreeSet<(usize, Reason)>],
    tasks: &[ApplyTask],
) -> Result<Vec<usize>, String> {
    let mut remaining: Vec<usize> = depends_on
        .iter()
        .map(|d| d.iter().map(|(t, _)| *t).collect::<BTreeSet<_>>().len())
        .collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, deps) in depends_on.iter().enumerate() {
        for t in deps.iter().map(|(t, _)| *t).collect::<BTreeSet<_>>() {
            dependents[t].push(i);
        }
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| remaining[i] == 0).collect();
    let mut out = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        out.push(i);
        for &d in &dependents[i] {
            remaining[d] -= 1;
            if remaining[d] == 0 {
                ready.insert(d);
            }
        }
    }
    if out.len() < n {
        let stuck = (0..n).find(|i| !out.contains(i)).unwrap_or(0);
        return Err(format!(
            "the implicit dependencies (parent directories, link targets, files edited by several \
             tasks) form a cycle through `{}`; remove a `depends_on` that points the other way",
            tasks[stuck].meta.id
        ));
    }
    Ok(out)
}
