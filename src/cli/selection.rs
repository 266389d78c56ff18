//! `--tags` / `--skip-tags` of `check`, `plan` and `apply`.

use super::Globals;
use crate::ops;

#[derive(clap::Args)]
pub struct SelectionArgs {
    /// Plan only the tasks with one of these tags, and those tagged `always` (a comma list;
    /// repeatable). Special: `all`, `tagged`, `untagged`; `never` tasks only when named
    #[arg(long, value_name = "TAGS", value_delimiter = ',')]
    tags: Vec<String>,

    /// Leave out the tasks with one of these tags, `always` ones included (a comma list;
    /// repeatable)
    #[arg(long, value_name = "TAGS", value_delimiter = ',')]
    skip_tags: Vec<String>,
}

impl SelectionArgs {
    /// What the workflows compile, with this selection.
    pub fn inputs(&self, globals: &Globals) -> ops::Inputs {
        let words = |values: &[String]| -> Vec<String> {
            let mut words: Vec<String> = values
                .iter()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .collect();
            words.dedup();
            words
        };
        let mut inputs = globals.inputs();
        inputs.tags = ops::TagSelection {
            tags: words(&self.tags),
            skip_tags: words(&self.skip_tags),
        };
        inputs
    }
}
