//! The plan's DAG on a rayon pool: each finished node releases the dependents whose last
//! dependency it was. Handlers learn they were notified before they start, since every
//! notifier is one of their dependencies. A node holding exclusive locks takes them (in one
//! global order, so no two nodes wait on each other) before it runs and releases them after.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use super::{NodeOutcome, Status};
use crate::apply::Reason;
use crate::plan::dag::Dag;
use crate::plan::{Plan, PlanNode};

/// Why a node a stopped run did not start is skipped.
pub const INTERRUPTED: &str = "not run: interrupted (SIGTERM or SIGINT)";

struct State<'p, F> {
    nodes: &'p [PlanNode],
    dag: Dag,
    remaining: Vec<AtomicUsize>,
    notified: Vec<AtomicBool>,
    outcomes: Vec<OnceLock<NodeOutcome>>,
    /// One mutex per lock name any node holds.
    locks: HashMap<&'p str, Mutex<()>>,
    work: F,
}

pub fn run<F>(plan: &Plan, jobs: usize, work: F) -> Result<Vec<NodeOutcome>, String>
where
    F: Fn(&PlanNode, bool) -> NodeOutcome + Sync,
{
    let nodes = &plan.nodes;
    let dag = Dag::of_nodes(nodes);
    let state = State {
        nodes,
        remaining: (0..nodes.len())
            .map(|i| AtomicUsize::new(dag.dependency_nodes(i).len()))
            .collect(),
        dag,
        notified: nodes.iter().map(|_| AtomicBool::new(false)).collect(),
        outcomes: nodes.iter().map(|_| OnceLock::new()).collect(),
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
                    &nodes[i].address,
                    "not reached (a dependency never finished)".to_owned(),
                )
            })
        })
        .collect())
}

fn spawn<'s, 'p: 's, F>(scope: &rayon::ScopeFifo<'s>, state: &'s State<'p, F>, i: usize)
where
    F: Fn(&PlanNode, bool) -> NodeOutcome + Sync,
{
    // FIFO: with one worker, nodes run in plan order.
    scope.spawn_fifo(move |scope| {
        let dependencies = state.dag.dependency_nodes(i);
        let failed_dependency = dependencies
            .iter()
            .find(|&&d| state.outcomes[d].get().is_some_and(|o| o.blocks));
        let outcome = match failed_dependency {
            Some(&d) => NodeOutcome::blocked(
                &state.nodes[i].address,
                format!("dependency {} did not succeed", state.nodes[d].address),
            ),
            // Asked to stop: what runs finishes, nothing more starts.
            None if crate::signals::stop_requested() => {
                NodeOutcome::blocked(&state.nodes[i].address, INTERRUPTED.to_owned())
            }
            None => run_holding_locks(state, i),
        };
        if outcome.status == Status::Changed {
            for h in state.dag.dependents(i) {
                if state.dag.has_edge(i, h, Reason::Notify) {
                    state.notified[h].store(true, Ordering::Release);
                }
            }
        }
        let _ = state.outcomes[i].set(outcome);
        for d in state.dag.dependents(i) {
            if state.remaining[d].fetch_sub(1, Ordering::AcqRel) == 1 {
                spawn(scope, state, d);
            }
        }
    });
}

/// Runs node `i` with its exclusive locks held, taken in name order.
fn run_holding_locks<F>(state: &State<'_, F>, i: usize) -> NodeOutcome
where
    F: Fn(&PlanNode, bool) -> NodeOutcome + Sync,
{
    let node = &state.nodes[i];
    let names: BTreeSet<&str> = node.locks.iter().map(String::as_str).collect();
    // A poisoned lock only means a node panicked while holding it; the lock itself is free.
    let _held: Vec<_> = names
        .into_iter()
        .filter_map(|name| state.locks.get(name))
        .map(|lock| lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
        .collect();
    (state.work)(node, state.notified[i].load(Ordering::Acquire))
}
