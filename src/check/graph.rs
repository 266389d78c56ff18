//! Rules across tasks: unique ids, references that resolve, no dependency cycles, no two
//! tasks claiming one thing.

use std::collections::{HashMap, HashSet};

use petgraph::Direction;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use super::Declared;
use crate::apply::{Claim, Hold, SENSITIVE, Thing};
use crate::diagnostics::{Diagnostic, SourceMap, Span, did_you_mean};
use crate::model::{ApplyTask, FactsTask, TaskIndex};

fn place(sources: &SourceMap, span: Span) -> String {
    let (line, column) = sources.line_col(span.file, span.start);
    format!("{}:{line}:{column}", sources.path(span.file))
}

/// One task's id for the uniqueness check.
pub struct IdUse<'a> {
    pub id: &'a String,
    pub span: Span,
    /// Derived from the type and primary key, not written.
    pub derived: bool,
}

pub fn check_unique_ids<'a>(
    ids: impl Iterator<Item = IdUse<'a>>,
    section: &str,
    sources: &SourceMap,
    found: &mut Vec<Diagnostic>,
) {
    let mut seen: HashMap<&String, Span> = HashMap::new();
    for IdUse { id, span, derived } in ids {
        let Some(first) = seen.get(id) else {
            seen.insert(id, span);
            continue;
        };
        let diagnostic = Diagnostic::error(format!("duplicate id `{id}` in `{section}`")).at(span);
        found.push(if derived {
            // Nobody wrote this id: say where it comes from, or the message is a riddle.
            diagnostic
                .label(format!("this task's default id, the same as the task at {}", place(sources, *first)))
                .help(if section == "apply" {
                    "a task without an `id` is named `<type>:<path>` (a line edit adds its `regexp` or `line`, a block edit its marker); give each of these tasks an `id`"
                } else {
                    "a collector without an `id` is named by its type; give each of these collectors an `id`"
                })
        } else {
            diagnostic.label("used again here").help(format!(
                "first used at {}; give one of the tasks another `id`",
                place(sources, *first)
            ))
        });
    }
}

/// Ids (with those of the asserts), references, cycles and path conflicts of the `apply`
/// tasks.
pub fn check_apply_graph(
    tasks: &[ApplyTask],
    assert_ids: &[(String, Span)],
    declared: &Declared,
    sources: &SourceMap,
    found: &mut Vec<Diagnostic>,
) {
    // Two tasks on one path are one finding, not also a duplicate default id.
    let conflicting = check_claims(tasks, sources, found);
    check_needs(tasks, found);
    let mut ids: Vec<IdUse> = tasks
        .iter()
        .enumerate()
        .filter(|(i, t)| !(conflicting.contains(i) && t.meta.id_span == t.meta.span))
        .map(|(_, t)| IdUse {
            id: &t.meta.id,
            span: t.meta.id_span,
            derived: t.meta.id_span == t.meta.span,
        })
        .chain(assert_ids.iter().map(|(id, span)| IdUse {
            id,
            span: *span,
            derived: false,
        }))
        .collect();
    // In the order written, so "first used" is the first in the files.
    ids.sort_by_key(|u| (u.span.file, u.span.start));
    check_unique_ids(ids.into_iter(), "apply", sources, found);
    let index = TaskIndex::new(tasks.iter().map(|t| &t.meta));
    let declared_ids: HashSet<&str> = declared.ids.iter().map(String::as_str).collect();
    // Edges run in execution order; each remembers the reference that made it.
    let mut graph: DiGraph<usize, Reference> = DiGraph::new();
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
                        found.push(unknown_reference(keyword, reference, declared));
                    }
                    continue;
                }
                for &target in targets {
                    // depends_on: the target runs first; notify: the handler runs after.
                    let (from, to) = if keyword == "depends_on" {
                        (target, i)
                    } else {
                        (i, target)
                    };
                    let edge = Reference {
                        keyword,
                        span: reference.span,
                    };
                    graph.add_edge(nodes[from], nodes[to], edge);
                }
            }
        }
    }
    // A task left out for its other errors still names the tasks it needs: a wrong name is
    // reported in the same run.
    for (keyword, reference) in &declared.references_of_failed {
        if index.resolve(&reference.value).is_empty()
            && !declared_ids.contains(reference.value.as_str())
        {
            found.push(unknown_reference(keyword, reference, declared));
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
        let steps: Vec<(String, Span)> = path
            .windows(2)
            .filter_map(|pair| {
                let edge = graph.find_edge(pair[1], pair[0])?;
                let (task, other) = (
                    &tasks[graph[pair[0]]].meta.id,
                    &tasks[graph[pair[1]]].meta.id,
                );
                let reference = &graph[edge];
                let step = if reference.keyword == "depends_on" {
                    format!("`{task}` depends on `{other}`")
                } else {
                    format!("`{other}` notifies `{task}`")
                };
                Some((step, reference.span))
            })
            .collect();
        let Some((_, first_span)) = steps.first() else {
            continue;
        };
        let names: Vec<&str> = steps.iter().map(|(s, _)| s.as_str()).collect();
        found.push(
            Diagnostic::error(format!("dependency cycle: {}", names.join(", ")))
                .at(*first_span)
                .help("a task cannot (even indirectly) depend on or notify itself; remove one of the `depends_on`/`notify` entries"),
        );
    }
}

fn unknown_reference(
    keyword: &str,
    reference: &crate::model::Spanned<String>,
    declared: &Declared,
) -> Diagnostic {
    let help = did_you_mean(&reference.value, declared.ids.iter().map(String::as_str))
        .unwrap_or_else(|| "refer to the `id` of a task in `apply`".to_owned());
    Diagnostic::error(format!(
        "`{keyword}` names an unknown task `{}`",
        reference.value
    ))
    .at(reference.span)
    .help(help)
}

/// A collector's `depends_on` names `apply` tasks (the file it reads, the script it runs):
/// each must exist. Collectors never depend on each other, so they close no cycle.
pub fn check_facts_references(
    collectors: &[FactsTask],
    tasks: &[ApplyTask],
    declared: &Declared,
    found: &mut Vec<Diagnostic>,
) {
    let index = TaskIndex::new(tasks.iter().map(|t| &t.meta));
    let declared_ids: HashSet<&str> = declared.ids.iter().map(String::as_str).collect();
    for reference in collectors.iter().flat_map(|c| &c.meta.depends_on) {
        let known = !index.resolve(&reference.value).is_empty()
            || declared_ids.contains(reference.value.as_str());
        if !known {
            found.push(unknown_reference("depends_on", reference, declared));
        }
    }
}

/// A `depends_on` or `notify` entry, as an edge of the task graph.
struct Reference {
    keyword: &'static str,
    span: Span,
}

/// One cycle through a strongly connected component, as a closed path (first node repeated
/// at the end), starting at the component's earliest task and walking edges backwards, so a
/// chain of `depends_on` reads in the order it was written.
fn cycle_path(graph: &DiGraph<usize, Reference>, component: &[NodeIndex]) -> Vec<NodeIndex> {
    let members: HashSet<NodeIndex> = component.iter().copied().collect();
    let Some(&start) = component.iter().min_by_key(|&&n| graph[n]) else {
        return Vec::new();
    };
    let mut path = vec![start];
    let mut seen = HashSet::from([start]);
    let mut current = start;
    loop {
        let mut next: Vec<NodeIndex> = graph
            .neighbors_directed(current, Direction::Incoming)
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

/// Two tasks claiming one thing conflict, unless both edit parts of it (lines of one file)
/// and the parts differ; exclusive claims (locks) never conflict. Each conflict is reported at
/// the later claim, naming where the earlier one is. Returns the indices of the tasks found in
/// conflict.
fn check_claims(
    tasks: &[ApplyTask],
    sources: &SourceMap,
    found: &mut Vec<Diagnostic>,
) -> HashSet<usize> {
    let mut conflicting = HashSet::new();
    let mut holders: HashMap<Thing, Vec<(&ApplyTask, Claim)>> = HashMap::new();
    for (i, task) in tasks.iter().enumerate() {
        for claim in task.spec.claims() {
            if claim.hold == Hold::Exclusive {
                continue;
            }
            let earlier = holders.entry(claim.thing.clone()).or_default();
            let conflict = earlier
                .iter()
                .find(|(_, held)| match (&held.hold, &claim.hold) {
                    (Hold::Edits(a), Hold::Edits(b)) => a.is_some() && a == b,
                    _ => true,
                });
            if let Some((first, held)) = conflict {
                found.push(conflict_at(&claim, first, held, task, sources));
                conflicting.insert(i);
                continue;
            }
            earlier.push((task, claim));
        }
    }
    for (i, task) in tasks.iter().enumerate() {
        for observed in task.spec.observes() {
            if let Some((manager, held)) = holders.get(&observed.thing).and_then(|h| h.first()) {
                found.push(observed_managed(&observed, task, manager, held, sources));
                conflicting.insert(i);
            }
        }
    }
    conflicting
}

/// What a task needs (a firewall chain it jumps to) is claimed by some task of the config.
fn check_needs(tasks: &[ApplyTask], found: &mut Vec<Diagnostic>) {
    let claimed: HashSet<Thing> = tasks
        .iter()
        .flat_map(|t| t.spec.claims())
        .filter(|c| c.hold != Hold::Exclusive)
        .map(|c| c.thing)
        .collect();
    for needed in tasks.iter().flat_map(|t| t.spec.needs()) {
        if !claimed.contains(&needed.thing) {
            found.push(
                Diagnostic::error(needed.message)
                    .at(needed.span)
                    .help(needed.help),
            );
        }
    }
}

/// "`stat:/x` reads `/x` when the config is planned, and `file:/x` changes it when the plan
/// runs", at the observing task's field.
fn observed_managed(
    observed: &Claim,
    task: &ApplyTask,
    manager: &ApplyTask,
    held: &Claim,
    sources: &SourceMap,
) -> Diagnostic {
    let name = if observed.sensitive {
        SENSITIVE
    } else {
        observed.written.as_str()
    };
    Diagnostic::error(format!(
        "`{}` reads `{name}` when the config is planned, and `{}` manages it when the plan runs",
        task.meta.id, manager.meta.id
    ))
    .at(observed.span)
    .label("would see the state before the run")
    .help(format!(
        "`{}` at {} manages it, so what is read here may be about to change; decide from what the config makes it (the managing task's fields or vars), or stop managing it there",
        manager.meta.id,
        place(sources, held.span)
    ))
}

/// "two tasks manage `/etc/motd`: `a` and `b`", at the later claim.
fn conflict_at(
    claim: &Claim,
    first: &ApplyTask,
    held: &Claim,
    task: &ApplyTask,
    sources: &SourceMap,
) -> Diagnostic {
    let name = if claim.sensitive {
        SENSITIVE
    } else {
        claim.written.as_str()
    };
    let what = match &claim.thing {
        Thing::Path(_) => format!("`{name}`"),
        other => format!("{} `{name}`", other.noun()),
    };
    Diagnostic::error(format!(
        "two tasks manage {what}: `{}` and `{}`",
        first.meta.id, task.meta.id
    ))
    .at(claim.span)
    .help(format!(
        "`{}` at {} already manages it; keep one task per {}",
        first.meta.id,
        place(sources, held.span),
        claim.thing.noun()
    ))
}

/// One registered name, one task: a `when` reading it must know whose result it is.
pub fn check_unique_registers(
    tasks: &[ApplyTask],
    sources: &SourceMap,
    found: &mut Vec<Diagnostic>,
) {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    // A loop's items share its `register`, which is refused on its own (`check_register`).
    let registering = tasks.iter().filter(|t| t.meta.loop_key.is_none());
    for name in registering.filter_map(|t| t.meta.register.as_ref()) {
        match seen.get(name.value.as_str()) {
            Some(first) => found.push(
                Diagnostic::error(format!("`register: {}` is used by two tasks", name.value))
                    .at(name.span)
                    .label("registered again here")
                    .help(format!(
                        "first registered at {}; give each task's result its own name",
                        place(sources, *first)
                    )),
            ),
            None => {
                seen.insert(&name.value, name.span);
            }
        }
    }
}
