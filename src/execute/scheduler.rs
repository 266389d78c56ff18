//! The DAG on a rayon pool: each finished node releases the dependents whose last dependency
//! it was. Handlers learn they were notified before they start, since every notifier is one of
//! their dependencies.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::{NodeOutcome, Status};
use crate::plan::{Plan, PlanNode};

struct State<'p, F> {
    nodes: &'p [PlanNode],
    dependencies: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
    notifies: Vec<Vec<usize>>,
    remaining: Vec<AtomicUsize>,
    notified: Vec<AtomicBool>,
    outcomes: Vec<OnceLock<NodeOutcome>>,
    work: F,
}

pub fn run<F>(plan: &Plan, jobs: usize, work: F) -> Result<Vec<NodeOutcome>, String>
where
    F: Fn(&PlanNode, bool) -> NodeOutcome + Sync,
{
    let nodes = &plan.nodes;
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.address.as_str(), i))
        .collect();
    let resolve = |addresses: &mut dyn Iterator<Item = &String>| -> Vec<usize> {
        let mut found: Vec<usize> = addresses
            .filter_map(|a| index.get(a.as_str()).copied())
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    };
    let dependencies: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| resolve(&mut n.depends_on.iter().map(|d| &d.address)))
        .collect();
    let mut dependents = vec![Vec::new(); nodes.len()];
    for (i, deps) in dependencies.iter().enumerate() {
        for &d in deps {
            dependents[d].push(i);
        }
    }
    let state = State {
        nodes,
        remaining: dependencies
            .iter()
            .map(|d| AtomicUsize::new(d.len()))
            .collect(),
        notifies: nodes
            .iter()
            .map(|n| resolve(&mut n.notifies.iter()))
            .collect(),
        dependencies,
        dependents,
        notified: nodes.iter().map(|_| AtomicBool::new(false)).collect(),
        outcomes: nodes.iter().map(|_| OnceLock::new()).collect(),
        work,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| format!("cannot start {jobs} worker threads: {e}"))?;
    let roots: Vec<usize> = (0..nodes.len())
        .filter(|&i| state.dependencies[i].is_empty())
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
        let failed_dependency = state.dependencies[i]
            .iter()
            .find(|&&d| state.outcomes[d].get().is_some_and(|o| o.blocks));
        let outcome = match failed_dependency {
            Some(&d) => NodeOutcome::blocked(
                &state.nodes[i].address,
                format!("dependency {} did not succeed", state.nodes[d].address),
            ),
            None => (state.work)(&state.nodes[i], state.notified[i].load(Ordering::Acquire)),
        };
        if outcome.status == Status::Changed {
            for &h in &state.notifies[i] {
                state.notified[h].store(true, Ordering::Release);
            }
        }
        let _ = state.outcomes[i].set(outcome);
        for &d in &state.dependents[i] {
            if state.remaining[d].fetch_sub(1, Ordering::AcqRel) == 1 {
                spawn(scope, state, d);
            }
        }
    });
}
