//! Running a command node: what the plan says to run (values read from a secret taken from the
//! config again, the rest checked against it), its deferred guards evaluated, a script's
//! content (the plan's) copied where its user can run it, the program run under the
//! supervisor, and its result judged by `failed_when` and `changed_when`.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::super::contract::{NodeView, Ran, Recompiled, SENSITIVE};
use super::guards;
use super::state::CommandRun;
use super::{build, conditions, decode_guards};
use crate::error::ResourceError;
use crate::process::{self, Invocation, Output};

pub fn run(node: &NodeView<'_>, config: Option<&Recompiled<'_>>) -> Result<Ran, ResourceError> {
    let address = node.address;
    let sensitive = node.is_sensitive();
    let planned = CommandRun::decode(node.after, address)?;
    let run = if sensitive {
        resolve_sensitive(node, &planned, config)?
    } else {
        planned
    };
    let guards = decode_guards(node)?;
    if let Some(why) =
        guards::deferred_skip(&guards, Some(&run)).map_err(|e| format!("{address}: {e}"))?
    {
        tracing::info!("{address}: skipped: {why}");
        return Ok(Ran::UNCHANGED);
    }
    let script = run
        .script
        .as_ref()
        .map(|s| ScriptCopy::make(s, &run))
        .transpose()
        .map_err(|e| format!("{address}: {e}"))?;
    let mut argv = run.argv.clone();
    if let (Some(script), Some(copy)) = (&run.script, &script)
        && let Some(slot) = argv.get_mut(script.position)
    {
        *slot = copy.file.to_string_lossy().into_owned();
    }
    let mut invocation = Invocation::new(&argv).timeout(run.timeout()?);
    invocation.supervised = true;
    invocation.chdir = run.chdir.as_ref().map(Into::into);
    invocation.stdin = run.stdin.as_ref().map(|s| s.as_bytes().to_vec());
    if let Some(user) = &run.user {
        super::run_as(&mut invocation, user).map_err(|e| format!("{address}: {e}"))?;
    }
    invocation
        .env
        .extend(run.env.iter().map(|(k, v)| (k.into(), v.into())));
    let finished = process::run(&invocation)?;
    drop(script);
    let output = redacted(finished.output(), sensitive);
    if finished.timed_out {
        return Err(ResourceError::transient(format!(
            "{address}: did not finish within {}: it and every process it started were killed",
            run.timeout
        ))
        .with_output(output));
    }
    let (stdout, stderr) = (finished.stdout_text(), finished.stderr_text());
    let judged = |field: &str, condition: &str| {
        conditions::holds(condition, finished.rc, &stdout, &stderr)
            .map_err(|e| format!("{address}: `{field}`: {e}"))
    };
    if judged("failed_when", &run.failed_when)? {
        let said = if sensitive {
            SENSITIVE.to_owned()
        } else {
            finished.complaint()
        };
        return Err(ResourceError::permanent(format!(
            "{address}: failed (exit {}, failed when {}): {said}",
            finished.rc, run.failed_when
        ))
        .with_output(output));
    }
    Ok(Ran {
        changed: judged("changed_when", &run.changed_when)?,
        output: Some(output),
        registered: None,
        message: None,
    })
}

/// The output as the report keeps it: hidden when the node is sensitive (a program given a
/// secret may print it).
fn redacted(output: Output, sensitive: bool) -> Output {
    if !sensitive {
        return output;
    }
    Output {
        stdout: SENSITIVE.to_owned(),
        stderr: SENSITIVE.to_owned(),
        ..output
    }
}

/// A sensitive node's run, from the config compiled again: the plan holds `(sensitive)`. The
/// rest must be what the plan says.
fn resolve_sensitive(
    node: &NodeView<'_>,
    planned: &CommandRun,
    config: Option<&Recompiled<'_>>,
) -> Result<CommandRun, String> {
    let address = node.address;
    let source = config.ok_or_else(|| {
        format!("{address}: has sensitive values, but no config to render them from")
    })?;
    let task = source
        .tasks
        .get(address)
        .ok_or_else(|| format!("{address}: no longer in the config; make a new plan"))?;
    let built = build(task, source.config_dir).map_err(|e| format!("{address}: {e}"))?;
    if built.redacted().0 != *planned {
        return Err(format!(
            "{address}: the config renders differently than when the plan was made; make a new plan"
        ));
    }
    Ok(built.run)
}

/// A `script` task's content, copied where its user can run it: a private directory, removed
/// when dropped.
struct ScriptCopy {
    dir: PathBuf,
    file: PathBuf,
}

impl ScriptCopy {
    fn make(script: &super::state::Script, run: &CommandRun) -> Result<ScriptCopy, String> {
        let content = script.content.as_bytes();
        let unique = format!(
            "driftless-script-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        );
        let dir = std::env::temp_dir().join(unique);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        let copy = ScriptCopy {
            file: dir.join(
                Path::new(&script.src)
                    .file_name()
                    .unwrap_or_else(|| "script".as_ref()),
            ),
            dir,
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o700)
            .open(&copy.file)
            .map_err(|e| format!("cannot write {}: {e}", copy.file.display()))?;
        file.write_all(content)
            .and_then(|()| file.sync_all())
            .map_err(|e| format!("cannot write {}: {e}", copy.file.display()))?;
        drop(file);
        if let Some(user) = &run.user {
            let login = crate::host::login::of(user)
                .ok()
                .flatten()
                .ok_or_else(|| format!("no user `{user}` on this host"))?;
            for path in [&copy.dir, &copy.file] {
                std::os::unix::fs::chown(path, Some(login.uid), Some(login.gid))
                    .map_err(|e| format!("cannot give {} to {user}: {e}", path.display()))?;
            }
        }
        Ok(copy)
    }
}

impl Drop for ScriptCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
