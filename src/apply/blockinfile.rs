//! `blockinfile`: lines between two marker lines, inserted, replaced or removed, with
//! Ansible's semantics (an empty block removes the markers too).

use super::lineinfile::{anchor, current_lines, edited_file};
use super::{EntryKind, Observed, Wanted, refuse_symlink};
use crate::model::apply::{BlockInFileTask, DEFAULT_BLOCK_MARKER, State};

pub fn want(task: &BlockInFileTask, observed: &Observed) -> Result<Wanted, String> {
    let path = &task.path.value;
    refuse_symlink(observed, path)?;
    let block = task.block.as_ref().map_or("", |b| b.value.as_str());
    let sensitive = task.block.as_ref().is_some_and(|b| b.sensitive);
    let remove = task.state == State::Absent || block.is_empty();
    if remove && observed.state.state == EntryKind::Absent {
        return Ok(Wanted {
            state: super::FsState::absent(path),
            sensitive,
        });
    }
    let marker = task
        .marker
        .as_ref()
        .map_or(DEFAULT_BLOCK_MARKER, |m| m.value.as_str());
    let begin = marker.replace("{mark}", &task.marker_begin);
    let end = marker.replace("{mark}", &task.marker_end);
    let mut lines = current_lines(observed, path, task.create)?;
    let start = lines.lines.iter().position(|l| *l == begin);
    let stop = start.and_then(|s| {
        lines.lines[s + 1..]
            .iter()
            .position(|l| *l == end)
            .map(|i| s + 1 + i)
    });
    let mut new_block = Vec::new();
    if !remove {
        new_block.push(begin.clone());
        new_block.extend(block.lines().map(str::to_owned));
        new_block.push(end.clone());
    }
    match (start, stop) {
        (Some(s), Some(e)) => {
            lines.lines.splice(s..=e, new_block);
        }
        _ if remove => {}
        _ => {
            let at = lines.insertion_point(&anchor(
                task.insert_after.as_ref().map(|a| a.value.as_str()),
                task.insert_before.as_ref().map(|b| b.value.as_str()),
            )?);
            lines.lines.splice(at..at, new_block);
        }
    }
    edited_file(path, &lines, observed, task, sensitive)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::FsState;
    use crate::model::Spanned;

    fn spanned(s: &str) -> Spanned<String> {
        Spanned::unplaced(s.to_owned())
    }

    fn task(block: &str) -> BlockInFileTask {
        BlockInFileTask {
            path: spanned("/etc/x"),
            block: Some(spanned(block)),
            marker: None,
            marker_begin: "BEGIN".to_owned(),
            marker_end: "END".to_owned(),
            state: State::Present,
            insert_after: None,
            insert_before: None,
            create: true,
            mode: None,
            owner: None,
            group: None,
        }
    }

    fn run(task: &BlockInFileTask, content: &str) -> String {
        let mut state = FsState::absent("/etc/x");
        state.state = EntryKind::File;
        let observed = Observed {
            state,
            content: Some(content.as_bytes().to_vec()),
            route: Default::default(),
        };
        let wanted = want(task, &observed).expect("want");
        wanted.state.content.unwrap_or_else(|| content.to_owned())
    }

    #[test]
    fn block_is_appended_then_replaced_in_place() {
        let once = run(&task("a\nb\n"), "top\n");
        assert_eq!(
            once,
            "top\n# BEGIN DRIFTLESS MANAGED BLOCK\na\nb\n# END DRIFTLESS MANAGED BLOCK\n"
        );
        let twice = run(&task("c\n"), &format!("{once}bottom\n"));
        assert_eq!(
            twice,
            "top\n# BEGIN DRIFTLESS MANAGED BLOCK\nc\n# END DRIFTLESS MANAGED BLOCK\nbottom\n"
        );
        assert_eq!(run(&task("c\n"), &twice), twice);
    }

    #[test]
    fn empty_block_removes_the_markers() {
        let content = "x\n# BEGIN DRIFTLESS MANAGED BLOCK\na\n# END DRIFTLESS MANAGED BLOCK\ny\n";
        assert_eq!(run(&task(""), content), "x\ny\n");
    }
}
