//! `copy`: a file from the config dir (or from the host with `remote_src`), or inline content.

use super::{
    Context, EntryKind, Observed, Wanted, attributes, config_file, refuse_non_file, refuse_symlink,
    regular_file,
};
use crate::model::apply::CopyTask;

pub fn want(task: &CopyTask, context: &Context<'_>, observed: &Observed) -> Result<Wanted, String> {
    let path = &task.dest.value;
    refuse_symlink(observed, path)?;
    refuse_non_file(observed, path)?;
    let (content, sensitive) = match (&task.content, &task.src) {
        (Some(content), _) => (content.value.as_bytes().to_vec(), content.sensitive),
        (None, Some(src)) if task.remote_src => (
            crate::fsutil::read_regular_file(std::path::Path::new(&src.value))
                .map_err(|e| format!("cannot read {}: {e}", src.value))?,
            false,
        ),
        (None, Some(src)) => (config_file(context, &src.value)?, false),
        (None, None) => return Err(format!("copy to {path} has neither `src` nor `content`")),
    };
    // `force: false` only creates the file; an existing one keeps its content.
    let keep = !task.force && observed.state.state == EntryKind::File;
    let mut state = regular_file(path, (!keep).then_some(content.as_slice()), observed);
    attributes(&mut state, &observed.state, task, 0o644)?;
    Ok(Wanted {
        state,
        sensitive: sensitive && !keep,
    })
}
