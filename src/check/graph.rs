//! Rules across tasks: unique ids, references that resolve, no dependency cycles, no two
//! tasks fighting over one path.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use super::Declared;
use crate::diagnostics::{Diagnostic, SourceMap, Span, did_you_mean};
use crate::model::ApplyTask;
use crate::model::apply::{ApplySpec, DEFAULT_BLOCK_MARKER};

fn place(sources: &SourceMap, span: Span) -> String {
    let (line, column) = sources.line_col(span.file, span.start);
    format!("{}:{line}:{column}", sources.path(span.file))
}

pub fn check_unique_ids<'a>(
    ids: impl Iterator<Item = (&'a String, Span)>,
    section: &str,
    sources: &SourceMap,
    found: &mut Vec<Diagnostic>,
) {
    let mut seen: HashMap<&String, Span> = HashMap::new();
    for (id, span) in ids {
        if let Some(first) = seen.get(id) {
            found.push(
                Diagnostic::error(format!("duplicate id `{id}` in `{section}`"))
                    .at(span)
                    .label("used again here")
                    .help(format!(
                        "first used at {}; give one of the tasks another `id`",
                        place(sources, *first)
                    )),
            );
        } else {
            seen.insert(id, span);
        }
    }
}

/// Ids, references, cycles and path conflicts of the `apply` tasks.
pub fn check_apply_graph(
    tasks: &[ApplyTask],
    declared: &Declared,
    sources: &SourceMap,
    found: &mut Vec<Diagnostic>,
) {
    check_unique_ids(
        tasks.iter().map(|t| (&t.meta.id, t.meta.id_span)),
        "apply",
        sources,
        found,
    );
    check_paths(tasks, sources, found);
    let index = TaskIndex::new(tasks);
    let declared_ids: HashSet<&str> = declared.ids.iter().map(String::as_str).collect();
    let mut graph: DiGraph<usize, ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..tasks.len()).map(|i| graph.add_node(i)).collect();
    for (i, task) in tasks.iter().enumerate() {
        let references = [
            ("depends_on", &task.meta.depends_on),
            ("notify", &task.meta.notify),
        ];
        for (keyword, refs) in references {
            for reference in refs {
                let targets = index.resolve(&reference.value);
                if targets.is_empty() {
                    if !declared_ids.contains(reference.value.as_str()) {
                        let help =
                            did_you_mean(&reference.value, declared.ids.iter().map(String::as_str))
                                .unwrap_or_else(|| {
                                    "refer to the `id` of a task in `apply`".to_owned()
                                });
                        found.push(
                            Diagnostic::error(format!(
                                "`{keyword}` names an unknown task `{}`",
                                reference.value
                            ))
                            .at(reference.span)
                            .help(help),
                        );
                    }
                    continue;
                }
                for target in targets {
                    // depends_on: the target runs first; notify: the handler runs after.
                    let (from, to) = if keyword == "depends_on" {
                        (target, i)
                    } else {
                        (i, target)
                    };
                    graph.add_edge(nodes[from], nodes[to], ());
                }
            }
        }
    }
    for component in tarjan_scc(&graph) {
        let cyclic = component.len() > 1
            || component
                .first()
                .is_some_and(|&n| graph.find_edge(n, n).is_some());
        if !cyclic {
            continue;
        }
        let path = cycle_path(&graph, &component);
        let names: Vec<&str> = path
            .iter()
            .map(|&n| tasks[graph[n]].meta.id.as_str())
            .collect();
        let first = &tasks[graph[path[0]]];
        found.push(
            Diagnostic::error(format!("dependency cycle: {}", names.join(" → ")))
                .at(first.meta.id_span)
                .help("a task cannot (even indirectly) depend on or notify itself; remove one of the `depends_on`/`notify` entries"),
        );
    }
}

/// One cycle through a strongly connected component, as a closed path (first node repeated
/// at the end), starting at the component's earliest task.
fn cycle_path(graph: &DiGraph<usize, ()>, component: &[NodeIndex]) -> Vec<NodeIndex> {
    let members: HashSet<NodeIndex> = component.iter().copied().collect();
    let Some(&start) = component.iter().min_by_key(|&&n| graph[n]) else {
        return Vec::new();
    };
    let mut path = vec![start];
    let mut seen = HashSet::from([start]);
    let mut current = start;
    loop {
        let mut next: Vec<NodeIndex> = graph
            .neighbors(current)
            .filter(|n| members.contains(n))
            .collect();
        next.sort_by_key(|&n| graph[n]);
        if next.contains(&start) {
            path.push(start);
            return path;
        }
        match next.into_iter().find(|n| !seen.contains(n)) {
            Some(n) => {
                seen.insert(n);
                path.push(n);
                current = n;
            }
            // Every member reaches the start; a dead end cannot happen in a component, but a
            // partial path is still a useful message.
            None => return path,
        }
    }
}

/// Resolves references: an exact id, or the id of a loop task meaning all its items.
struct TaskIndex<'a> {
    by_id: HashMap<&'a str, Vec<usize>>,
}

impl<'a> TaskIndex<'a> {
    fn new(tasks: &'a [ApplyTask]) -> Self {
        let mut by_id: HashMap<&'a str, Vec<usize>> = HashMap::new();
        for (i, task) in tasks.iter().enumerate() {
            by_id.entry(task.meta.id.as_str()).or_default().push(i);
            if let Some(key) = &task.meta.loop_key
                && let Some(base) = task.meta.id.strip_suffix(&format!("[{key}]"))
            {
                by_id.entry(base).or_default().push(i);
            }
        }
        TaskIndex { by_id }
    }

    fn resolve(&self, id: &str) -> Vec<usize> {
        self.by_id.get(id).cloned().unwrap_or_default()
    }
}

/// `a//b/./c/` and `a/b/c` are one path.
fn normalize(path: &str) -> PathBuf {
    Path::new(path)
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

/// A task that owns a path shares it with no other task; blocks share a file unless their
/// markers are equal.
fn check_paths(tasks: &[ApplyTask], sources: &SourceMap, found: &mut Vec<Diagnostic>) {
    let mut owners: HashMap<PathBuf, &ApplyTask> = HashMap::new();
    let mut editors: HashMap<PathBuf, &ApplyTask> = HashMap::new();
    let mut blocks: HashMap<(PathBuf, String), &ApplyTask> = HashMap::new();
    for task in tasks {
        let path = task.spec.path();
        let key = normalize(&path.value);
        let conflict = if task.spec.owns_path() {
            owners.get(&key).or_else(|| editors.get(&key)).copied()
        } else {
            owners.get(&key).copied().or_else(|| match &task.spec {
                ApplySpec::BlockInFile(b) => {
                    let marker = b
                        .marker
                        .as_ref()
                        .map_or(DEFAULT_BLOCK_MARKER, |m| m.value.as_str());
                    blocks.get(&(key.clone(), marker.to_owned())).copied()
                }
                _ => None,
            })
        };
        if let Some(first) = conflict {
            let shown = if path.sensitive {
                "(sensitive)"
            } else {
                path.value.as_str()
            };
            found.push(
                Diagnostic::error(format!(
                    "two tasks manage `{shown}`: `{}` and `{}`",
                    first.meta.id, task.meta.id
                ))
                .at(path.span)
                .help(format!(
                    "`{}` at {} already manages it; keep one task per path",
                    first.meta.id,
                    place(sources, first.spec.path().span)
                )),
            );
            continue;
        }
        if task.spec.owns_path() {
            owners.insert(key, task);
        } else {
            if let ApplySpec::BlockInFile(b) = &task.spec {
                let marker = b
                    .marker
                    .as_ref()
                    .map_or(DEFAULT_BLOCK_MARKER, |m| m.value.as_str());
                blocks.insert((key.clone(), marker.to_owned()), task);
            }
            editors.entry(key).or_insert(task);
        }
    }
}
