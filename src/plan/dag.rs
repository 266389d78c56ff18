//! The DAG of a plan — built once by the lowering from the tasks, and again by the scheduler
//! from a plan read back — with each edge's reason. An edge `a → b` says `b` waits for `a`.

use std::collections::{BTreeSet, HashMap};

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use super::PlanNode;
use crate::apply::Reason;

pub struct Dag {
    graph: DiGraph<(), Reason, u32>,
}

impl Dag {
    /// `n` nodes, no edges.
    pub fn new(n: usize) -> Self {
        let mut graph = DiGraph::with_capacity(n, n);
        for _ in 0..n {
            graph.add_node(());
        }
        Dag { graph }
    }

    /// The DAG of a plan's nodes, from their `depends_on` (addresses that name no node of the
    /// plan are left out: a plan read back was verified first).
    pub fn of_nodes(nodes: &[PlanNode]) -> Self {
        let index: HashMap<&str, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.address.as_str(), i))
            .collect();
        let mut dag = Dag::new(nodes.len());
        for (i, node) in nodes.iter().enumerate() {
            for dependency in &node.depends_on {
                if let Some(&d) = index.get(dependency.address.as_str()) {
                    let reason = Reason::parse(&dependency.reason).unwrap_or(Reason::DependsOn);
                    dag.add_edge(d, i, reason);
                }
            }
        }
        dag
    }

    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// `after` waits for `before`, for `reason` (once per pair and reason).
    pub fn add_edge(&mut self, before: usize, after: usize, reason: Reason) {
        let (b, a) = (NodeIndex::new(before), NodeIndex::new(after));
        let known = self
            .graph
            .edges_connecting(b, a)
            .any(|e| *e.weight() == reason);
        if !known {
            self.graph.add_edge(b, a, reason);
        }
    }

    /// What `i` waits for, with why, in node order.
    pub fn dependencies(&self, i: usize) -> BTreeSet<(usize, Reason)> {
        use petgraph::visit::EdgeRef;
        self.graph
            .edges_directed(NodeIndex::new(i), Direction::Incoming)
            .map(|e| (e.source().index(), *e.weight()))
            .collect()
    }

    /// The nodes `i` waits for, each once, in node order.
    pub fn dependency_nodes(&self, i: usize) -> Vec<usize> {
        self.neighbours(i, Direction::Incoming)
    }

    /// The nodes waiting for `i`, each once, in node order.
    pub fn dependents(&self, i: usize) -> Vec<usize> {
        self.neighbours(i, Direction::Outgoing)
    }

    /// Whether `after` waits for `before` for `reason`.
    pub fn has_edge(&self, before: usize, after: usize, reason: Reason) -> bool {
        self.graph
            .edges_connecting(NodeIndex::new(before), NodeIndex::new(after))
            .any(|e| *e.weight() == reason)
    }

    fn neighbours(&self, i: usize, direction: Direction) -> Vec<usize> {
        let found: BTreeSet<usize> = self
            .graph
            .neighbors_directed(NodeIndex::new(i), direction)
            .map(NodeIndex::index)
            .collect();
        found.into_iter().collect()
    }

    /// Kahn's algorithm, always taking the lowest-numbered ready node: deterministic, and as
    /// close to the declared order as the edges allow. `Err` names a node on a cycle.
    pub fn order(&self) -> Result<Vec<usize>, usize> {
        let n = self.len();
        let mut remaining: Vec<usize> = (0..n).map(|i| self.dependency_nodes(i).len()).collect();
        let mut ready: BTreeSet<usize> = (0..n).filter(|&i| remaining[i] == 0).collect();
        let mut out = Vec::with_capacity(n);
        while let Some(i) = ready.pop_first() {
            out.push(i);
            for d in self.dependents(i) {
                remaining[d] -= 1;
                if remaining[d] == 0 {
                    ready.insert(d);
                }
            }
        }
        if out.len() < n {
            let placed: BTreeSet<usize> = out.iter().copied().collect();
            return Err((0..n).find(|i| !placed.contains(i)).unwrap_or(0));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_keeps_the_declared_order_where_edges_allow() {
        let mut dag = Dag::new(4);
        dag.add_edge(3, 0, Reason::DependsOn);
        dag.add_edge(3, 0, Reason::DependsOn);
        assert_eq!(dag.order(), Ok(vec![1, 2, 3, 0]));
        assert_eq!(dag.dependencies(0).len(), 1);
    }

    #[test]
    fn a_cycle_names_a_node_on_it() {
        let mut dag = Dag::new(3);
        dag.add_edge(1, 2, Reason::ParentDirectory);
        dag.add_edge(2, 1, Reason::LinkTarget);
        assert_eq!(dag.order(), Err(1));
    }
}
