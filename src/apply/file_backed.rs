//! What the families built on the file family (sysctl, cron) share: their file edits are
//! planned by the file family, which chains only the edits it is given.

use super::contract::NodeStates;
use crate::model::ApplyTask;

/// The tasks of `tasks` (one family's) that edit a file right after a task of another family:
/// each family plans only its own tasks, so such a chain cannot be planned. An error for each.
pub fn edits_by_other_families(
    all: &[ApplyTask],
    tasks: &[usize],
    chained_after: &[Option<usize>],
) -> Vec<(usize, Result<NodeStates, String>)> {
    let family = |i: usize| all[i].spec.family() as *const dyn super::Family;
    tasks
        .iter()
        .filter_map(|&i| {
            let previous = chained_after[i]?;
            if std::ptr::addr_eq(family(previous), family(i)) {
                return None;
            }
            let why = format!(
                "its file is also edited by `apply.{}` (a `{}` task); edit a file with tasks of \
                 one kind: `{}` tasks, or `lineinfile`/`blockinfile` tasks",
                all[previous].meta.id,
                all[previous].spec.type_name(),
                all[i].spec.type_name(),
            );
            Some((i, Err(why)))
        })
        .collect()
}
