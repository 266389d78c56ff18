//! Lowering: the checked `apply` tasks into the plan DAG.
//!
//! Edges are explicit (`depends_on`, `notify`) or implicit, from the resource contract: each
//! claim a task requires is matched to the tasks claiming that thing (a file after the task
//! managing its nearest managed parent directory, after the tasks managing its owner and
//! group; a link after the task managing its target), and tasks editing parts of one thing
//! (lines, blocks of a file) run one after another in the order written. Every edge keeps its
//! reason, so plan.json says why a node waits.

use std::collections::{HashMap, HashSet};

use super::dag::Dag;
use crate::apply::{Claim, Hold, Reason, Thing};
use crate::model::{ApplyTask, TaskIndex};

/// The DAG, and what the tasks' claims say about running them.
pub struct Lowered {
    pub dag: Dag,
    /// Task indexes in a deterministic topological order (ties broken by declaration order).
    pub order: Vec<usize>,
    /// Per task: the earlier task editing the same thing, whose result it starts from.
    pub chained_after: Vec<Option<usize>>,
    /// Per task: the locks its node holds exclusively while it runs.
    pub locks: Vec<Vec<String>>,
    /// Everything a task owns or edits.
    pub managed: HashSet<Thing>,
}

impl Lowered {
    /// The tasks `i` waits for as for its link's target, in execution order.
    pub fn link_targets(&self, i: usize) -> Vec<usize> {
        self.order
            .iter()
            .copied()
            .filter(|&m| self.dag.has_edge(m, i, Reason::LinkTarget))
            .collect()
    }
}

/// Builds the DAG. Fails with the cycle's path when implicit edges close a cycle (explicit
/// cycles were already refused by `check`).
pub fn lower(tasks: &[ApplyTask]) -> Result<Lowered, String> {
    let n = tasks.len();
    let by_id = TaskIndex::new(tasks.iter().map(|t| &t.meta));
    let claims: Vec<Vec<Claim>> = tasks.iter().map(|t| t.spec.claims()).collect();
    // Who holds each thing (exclusive locks aside), in the order written.
    let mut holders: HashMap<&Thing, Vec<usize>> = HashMap::new();
    for (i, task_claims) in claims.iter().enumerate() {
        for claim in task_claims.iter().filter(|c| c.hold != Hold::Exclusive) {
            holders.entry(&claim.thing).or_default().push(i);
        }
    }
    let mut dag = Dag::new(n);
    // A `when` that reads a registered result waits for the task registering it.
    let registers: HashMap<&str, usize> = (tasks.iter().enumerate())
        .filter_map(|(i, t)| Some((t.meta.register.as_ref()?.value.as_str(), i)))
        .collect();
    for (i, task) in tasks.iter().enumerate() {
        for name in task.meta.when_at_execute.iter().flat_map(|w| &w.reads) {
            if let Some(&source) = registers.get(name.as_str()) {
                dag.add_edge(source, i, Reason::Register);
            }
        }
    }
    let mut chained_after = vec![None; n];
    let mut locks = vec![Vec::new(); n];
    for (i, task) in tasks.iter().enumerate() {
        for reference in &task.meta.depends_on {
            for &target in by_id.resolve(&reference.value) {
                dag.add_edge(target, i, Reason::DependsOn);
            }
        }
        for reference in &task.meta.notify {
            for &handler in by_id.resolve(&reference.value) {
                dag.add_edge(i, handler, Reason::Notify);
            }
        }
        for claim in &claims[i] {
            match claim.hold {
                Hold::Exclusive => locks[i].push(claim.thing.to_string()),
                // Editors of one thing: each starts from the previous one's result.
                Hold::Edits(_) => {
                    let earlier = holders[&claim.thing]
                        .iter()
                        .copied()
                        .take_while(|&j| j != i);
                    if let Some(previous) = earlier.last() {
                        dag.add_edge(previous, i, Reason::SameFile);
                        chained_after[i] = Some(previous);
                    }
                }
                // `check` refused a second task claiming what one owns.
                Hold::Owns => {}
            }
        }
        for required in task.spec.requires() {
            // The nearest thing some task claims: a parent directory's closest managed
            // ancestor; only the thing itself for the rest.
            let managers = required
                .candidates()
                .into_iter()
                .find_map(|thing| holders.get(&thing));
            for &m in managers.into_iter().flatten().filter(|&&m| m != i) {
                dag.add_edge(m, i, required.reason);
            }
        }
    }
    // A reboot ends the run: it waits for every other task (and for the reboots written
    // before it), so a failed task leaves the host up, as Ansible's handlers do.
    let ends_run: Vec<bool> = tasks.iter().map(|t| t.spec.family().ends_run()).collect();
    for i in (0..n).filter(|&i| ends_run[i]) {
        for j in (0..n).filter(|&j| j != i && (!ends_run[j] || j < i)) {
            dag.add_edge(j, i, Reason::EndOfRun);
        }
    }
    refuse_handlers_in_chains(tasks, &dag, &claims, &chained_after)?;
    let order = dag.order().map_err(|stuck| {
        format!(
            "the implicit dependencies (parent directories, link targets, owners, files edited \
             by several tasks) form a cycle through `{}`; remove a `depends_on` that points the \
             other way",
            tasks[stuck].meta.id
        )
    })?;
    let managed = holders.into_keys().cloned().collect();
    Ok(Lowered {
        dag,
        order,
        chained_after,
        locks,
        managed,
    })
}

/// A handler may not run, so an edit of the same file planned after it would start from a
/// state that may never exist: a handler must have its file to itself.
fn refuse_handlers_in_chains(
    tasks: &[ApplyTask],
    dag: &Dag,
    claims: &[Vec<Claim>],
    chained_after: &[Option<usize>],
) -> Result<(), String> {
    for i in 0..tasks.len() {
        let handler = dag
            .dependencies(i)
            .iter()
            .any(|(_, r)| *r == Reason::Notify);
        // Only handlers pay for the search of a follower.
        if handler && (chained_after[i].is_some() || chained_after.contains(&Some(i))) {
            let edited = claims[i]
                .iter()
                .find(|c| c.hold != Hold::Exclusive)
                .map_or("", |c| c.thing.name());
            return Err(format!(
                "`{}` is a handler (it runs only when notified) and edits {edited} with other \
                 tasks; a handler must be the only task editing its file",
                tasks[i].meta.id
            ));
        }
    }
    Ok(())
}
