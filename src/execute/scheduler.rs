//! The plan's DAG on a rayon pool: each finished node releases the dependents whose last
//! dependency it was. Handlers learn they were notified before they start, since every
//! notifier is one of their dependencies. A node holding exclusive locks takes them (in one
//! global order, so no two nodes wait on each other) before it runs and releases them after.
//! A node of a family that batches takes with it, once its locks are held, every other node
//! of its family that is ready too: they run as one batch (one package transaction).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use super::{NodeOutcome, Status};
use crate::apply::Reason;
use crate::plan::dag::Dag;
use crate::plan::{Plan, PlanNode};

/// Why a node a stopped run did not start is skipped.
pub const INTERRUPTED: &str = "not run: interrupted (SIGTERM or SIGINT)";

/// What the scheduler runs nodes with.
pub trait Work: Sync {
    /// Runs one node (`notified`: a handler some changed task notified).
    fn run(&self, node: &PlanNode, notified: bool) -> NodeOutcome;

    /// The batch a node runs in (its family), if it runs batched: nodes with the same group that are
    /// ready together run in one [`Work::run_batch`].
    fn batch_group(&self, node: &PlanNode, notified: bool) -> Option<std::any::TypeId>;

    /// Runs nodes of one batch group together: one outcome per node, in the order given.
    fn run_batch(&self, nodes: &[&PlanNode]) -> Vec<NodeOutcome>;

    /// Told of every node as it ends, run or skipped (on the worker that ended it).
    fn finished(&self, node: &PlanNode, outcome: &NodeOutcome);
}

struct State<'p, W> {
    nodes: &'p [PlanNode],
    dag: Dag,
    remaining: Vec<AtomicUsize>,
    notified: Vec<AtomicBool>,
    /// Set by whoever runs the node: its own task, or a batch that took it along.
    taken: Vec<AtomicBool>,
    outcomes: Vec<OnceLock<NodeOutcome>>,
    /// Each node's index by address, for the registered results a `when` reads.
    positions: HashMap<&'p str, usize>,
    /// One mutex per lock name any node holds.
    locks: HashMap<&'p str, Mutex<()>>,
    work: W,
}

pub fn run<W: Work>(plan: &Plan, jobs: usize, work: W) -> Result<Vec<NodeOutcome>, String> {
    let nodes = &plan.nodes;
    let dag = Dag::of_nodes(nodes);
    let state = State {
        nodes,
        remaining: (0..nodes.len())
            .map(|i| AtomicUsize::new(dag.dependency_nodes(i).len()))
            .collect(),
        dag,
        notified: nodes.iter().map(|_| AtomicBool::new(false)).collect(),
        taken: nodes.iter().map(|_| AtomicBool::new(false)).collect(),
        outcomes: nodes.iter().map(|_| OnceLock::new()).collect(),
        positions: (nodes.iter().enumerate())
            .map(|(i, n)| (n.address.as_str(), i))
            .collect(),
        locks: nodes
            .iter()
            .flat_map(|n| &n.locks)
            .map(|l| (l.as_str(), Mutex::new(())))
            .collect(),
        work,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| format!("cannot start {jobs} worker threads: {e}"))?;
    let roots: Vec<usize> = (0..nodes.len())
        .filter(|&i| state.dag.dependency_nodes(i).is_empty())
        .collect();
    pool.scope_fifo(|scope| {
        for &i in &roots {
            spawn(scope, &state, i);
        }
    });
    Ok(state
        .outcomes
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            o.into_inner().unwrap_or_else(|| {
                NodeOutcome::blocked(
                    &nodes[i],
                    "not reached (a dependency never finished)".to_owned(),
                )
            })
        })
        .collect())
}

fn spawn<'s, 'p: 's, W: Work>(scope: &rayon::ScopeFifo<'s>, state: &'s State<'p, W>, i: usize) {
    // FIFO: with one worker, nodes run in plan order.
    scope.spawn_fifo(move |scope| {
        // A batch started by another node took this one along, and finishes it.
        if state.taken[i].load(Ordering::Acquire) {
            return;
        }
        match why_not_run(state, i) {
            Some(_) if state.taken[i].swap(true, Ordering::AcqRel) => {}
            Some(why) => finish(scope, state, i, NodeOutcome::blocked(&state.nodes[i], why)),
            None => match condition_not_met(state, i) {
                Some(_) if state.taken[i].swap(true, Ordering::AcqRel) => {}
                Some(outcome) => finish(scope, state, i, outcome),
                None => run_holding_locks(scope, state, i),
            },
        }
    });
}

/// Why node `i`, whose dependencies all finished, must not run: one failed, or the run was
/// asked to stop.
fn why_not_run<W>(state: &State<'_, W>, i: usize) -> Option<String> {
    let dependencies = state.dag.dependency_nodes(i);
    let failed_dependency = dependencies
        .iter()
        .find(|&&d| state.outcomes[d].get().is_some_and(|o| o.blocks));
    match failed_dependency {
        Some(&d) => Some(format!(
            "dependency {} did not succeed",
            state.nodes[d].address
        )),
        // Asked to stop: what runs finishes, nothing more starts.
        None if crate::signals::stop_requested() => Some(INTERRUPTED.to_owned()),
        None => None,
    }
}

/// The outcome of a node whose `when` over registered results does not hold (skipped), or
/// cannot be evaluated (failed); `None` when it runs.
fn condition_not_met<W>(state: &State<'_, W>, i: usize) -> Option<NodeOutcome> {
    let node = &state.nodes[i];
    let condition = node.when.as_ref()?;
    let outcome_of = |address: &str| {
        let &j = state.positions.get(address)?;
        state.outcomes[j].get()
    };
    match super::when::holds(condition, outcome_of) {
        Ok(true) => None,
        Ok(false) => Some(NodeOutcome::condition_false(
            node,
            format!("when: {} is false", condition.expression),
        )),
        Err(why) => Some(NodeOutcome {
            status: Status::Failed(why),
            ..NodeOutcome::blocked(node, String::new())
        }),
    }
}

/// Records node `i`'s outcome, marks the handlers it notified, and starts the dependents whose
/// last dependency it was.
fn finish<'s, 'p: 's, W: Work>(
    scope: &rayon::ScopeFifo<'s>,
    state: &'s State<'p, W>,
    i: usize,
    outcome: NodeOutcome,
) {
    if outcome.status == Status::Changed {
        for h in state.dag.dependents(i) {
            if state.dag.has_edge(i, h, Reason::Notify) {
                state.notified[h].store(true, Ordering::Release);
            }
        }
    }
    state.work.finished(&state.nodes[i], &outcome);
    let _ = state.outcomes[i].set(outcome);
    for d in state.dag.dependents(i) {
        if state.remaining[d].fetch_sub(1, Ordering::AcqRel) == 1 {
            spawn(scope, state, d);
        }
    }
}

/// Runs node `i` with its exclusive locks held, taken in name order — with the other ready
/// nodes of its batch group, when it has one.
fn run_holding_locks<'s, 'p: 's, W: Work>(
    scope: &rayon::ScopeFifo<'s>,
    state: &'s State<'p, W>,
    i: usize,
) {
    let node = &state.nodes[i];
    let names: BTreeSet<&str> = node.locks.iter().map(String::as_str).collect();
    // A poisoned lock only means a node panicked while holding it; the lock itself is free.
    let held: Vec<_> = names
        .iter()
        .filter_map(|name| state.locks.get(name))
        .map(|lock| lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
        .collect();
    // A node is taken once its locks are held, not while it waits for them: a batch formed
    // meanwhile by the holder of the locks takes it along (and this task has nothing to do).
    if state.taken[i].swap(true, Ordering::AcqRel) {
        return;
    }
    let notified = |j: usize| state.notified[j].load(Ordering::Acquire);
    let Some(group) = state.work.batch_group(node, notified(i)) else {
        let outcome = state.work.run(node, notified(i));
        drop(held);
        return finish(scope, state, i, outcome);
    };
    let mut batch = vec![i];
    for j in (0..state.nodes.len()).filter(|&j| j != i) {
        let other = &state.nodes[j];
        let ready = state.remaining[j].load(Ordering::Acquire) == 0;
        let same_locks = other.locks.iter().all(|l| names.contains(l.as_str()));
        // A node with a `when` is judged on its own turn, never taken along.
        if ready
            && other.when.is_none()
            && same_locks
            && state.work.batch_group(other, notified(j)) == Some(group)
            && why_not_run(state, j).is_none()
            && !state.taken[j].swap(true, Ordering::AcqRel)
        {
            batch.push(j);
        }
    }
    let members: Vec<&PlanNode> = batch.iter().map(|&j| &state.nodes[j]).collect();
    let outcomes = state.work.run_batch(&members);
    drop(held);
    for (j, outcome) in batch.into_iter().zip(outcomes) {
        finish(scope, state, j, outcome);
    }
}
