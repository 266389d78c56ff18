//! `file`: a regular file with content given inline, rendered from a template file, or copied
//! from the config dir — or its absence.

use super::{
    Context, Observed, Wanted, attributes, config_file, refuse_non_file, refuse_symlink,
    regular_file,
};
use crate::apply::FsState;
use crate::model::RenderedContent;
use crate::model::apply::{FileTask, State};

pub fn want(
    task: &FileTask,
    rendered: Option<&RenderedContent>,
    context: &Context<'_>,
    observed: &Observed,
) -> Result<Wanted, String> {
    let path = &task.path.value;
    if !task.follow {
        refuse_symlink(observed, path)?;
    }
    // A `file` task never removes or replaces a directory, even an empty one.
    refuse_non_file(observed, path)?;
    if task.state == State::Absent {
        return Ok(Wanted {
            state: FsState::absent(path),
            sensitive: false,
        });
    }
    let (content, sensitive) = match (&task.content, rendered, &task.source) {
        (Some(content), _, _) => (Some(content.value.as_bytes().to_vec()), content.sensitive),
        (None, Some(rendered), _) => (Some(rendered.text.as_bytes().to_vec()), rendered.sensitive),
        (None, None, Some(source)) => (Some(config_file(context, &source.value)?), false),
        (None, None, None) => (None, false),
    };
    let mut state = regular_file(path, content.as_deref(), observed);
    attributes(&mut state, &observed.state, task, 0o644)?;
    Ok(Wanted { state, sensitive })
}
