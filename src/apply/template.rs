//! `template`: a file rendered from a template file of the config dir (rendered by the
//! template stage, so undefined variables are found by `check`).

use super::{
    EntryKind, Observed, Wanted, attributes, refuse_non_file, refuse_symlink, regular_file,
};
use crate::model::RenderedContent;
use crate::model::apply::TemplateTask;

pub fn want(
    task: &TemplateTask,
    rendered: Option<&RenderedContent>,
    observed: &Observed,
) -> Result<Wanted, String> {
    let path = &task.dest.value;
    refuse_symlink(observed, path)?;
    refuse_non_file(observed, path)?;
    let rendered =
        rendered.ok_or_else(|| format!("template {} was not rendered", task.src.value))?;
    let keep = !task.force && observed.state.state == EntryKind::File;
    let content = (!keep).then_some(rendered.text.as_bytes());
    let mut state = regular_file(path, content, observed);
    attributes(&mut state, &observed.state, task, 0o644)?;
    Ok(Wanted {
        state,
        sensitive: rendered.sensitive && !keep,
    })
}
