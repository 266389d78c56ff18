//! Running external programs — package managers, `useradd`, `systemctl`, a `command` task's
//! program — the one way driftless does: an argument vector, never through a shell (a shell
//! runs only when a `shell` task names it as the program); a cleared locale; a deadline after
//! which the program's whole process group is killed — or, for a program run under the
//! [`supervisor`], every process it started, wherever it went; output read to a bound, the rest
//! counted and dropped.

pub mod supervisor;

use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::error::ResourceError;

/// The `PATH` every program runs with (and where programs are looked for).
pub const SEARCH_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Whether `program` is a file in one of the [`SEARCH_PATH`] directories: what a program run
/// by name would find.
pub fn installed(program: &str) -> bool {
    SEARCH_PATH
        .split(':')
        .any(|dir| std::path::Path::new(dir).join(program).is_file())
}

/// How much of each of stdout and stderr is kept.
pub const OUTPUT_LIMIT: usize = 1 << 20;

/// How much of each of stdout and stderr a run report keeps of a program's output.
pub const REPORT_OUTPUT_LIMIT: usize = 64 << 10;

/// One program to run.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub argv: Vec<OsString>,
    /// Set on top of a minimal environment (`PATH`, `LC_ALL=C`): nothing else is inherited.
    pub env: Vec<(OsString, OsString)>,
    pub stdin: Option<Vec<u8>>,
    pub chdir: Option<PathBuf>,
    /// Run as this uid and gid, with [`Invocation::groups`] as supplementary groups.
    pub user: Option<(u32, u32)>,
    /// The supplementary groups of [`Invocation::user`] (none when empty).
    pub groups: Vec<u32>,
    pub timeout: Duration,
    /// Run under the [`supervisor`] (driftless's own executable, so only in the driftless
    /// binary): at the program's end or deadline every process it started is killed, those
    /// that left its process group or session included.
    pub supervised: bool,
    /// The file-mode creation mask the program starts with (the inherited one when `None`).
    pub umask: Option<u32>,
}

impl Invocation {
    pub fn new<S: AsRef<OsStr>>(argv: impl IntoIterator<Item = S>) -> Self {
        Invocation {
            argv: argv.into_iter().map(|a| a.as_ref().to_owned()).collect(),
            env: Vec::new(),
            stdin: None,
            chdir: None,
            user: None,
            groups: Vec::new(),
            timeout: Duration::from_secs(600),
            supervised: false,
            umask: None,
        }
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The program as messages name it.
    pub fn program(&self) -> String {
        self.argv
            .first()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// How a program ended, and what it printed (each stream to [`OUTPUT_LIMIT`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The exit code; `128 + n` when killed by signal `n` (as a shell says).
    pub rc: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Bytes dropped past the limit, per stream.
    pub dropped: (u64, u64),
    pub timed_out: bool,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.rc == 0 && !self.timed_out
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// What a run report keeps: each stream to [`REPORT_OUTPUT_LIMIT`] bytes.
    pub fn output(&self) -> Output {
        let (stdout, cut_out) = report_text(&self.stdout);
        let (stderr, cut_err) = report_text(&self.stderr);
        Output {
            rc: self.rc,
            stdout,
            stderr,
            truncated: cut_out || cut_err || self.dropped != (0, 0),
            timed_out: self.timed_out,
        }
    }

    /// What a failure message quotes: the last lines of stderr, else of stdout.
    pub fn complaint(&self) -> String {
        let text = if self.stderr.iter().any(|b| !b.is_ascii_whitespace()) {
            &self.stderr
        } else {
            &self.stdout
        };
        let text = String::from_utf8_lossy(text);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = &lines[lines.len().saturating_sub(5)..];
        crate::printable::escape(&tail.join("; ")).into_owned()
    }
}

/// A program's output as a run report keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Output {
    pub rc: i32,
    pub stdout: String,
    pub stderr: String,
    /// Some output was cut: past [`REPORT_OUTPUT_LIMIT`] per stream in the report, or past
    /// [`OUTPUT_LIMIT`] when it was read.
    pub truncated: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub timed_out: bool,
}

/// Up to [`REPORT_OUTPUT_LIMIT`] bytes of a stream as text (cut at a character), and whether
/// some was cut.
fn report_text(bytes: &[u8]) -> (String, bool) {
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    if text.len() <= REPORT_OUTPUT_LIMIT {
        return (text, false);
    }
    let mut end = REPORT_OUTPUT_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    (text, true)
}

/// Runs the program to its end or its deadline. Fails only when it cannot be started (a
/// missing program is permanent); a non-zero exit is a [`Finished`] for the caller to judge.
/// Under the supervisor, a program that cannot be started is a [`Finished`] with exit code
/// 127 and the reason on stderr, as a shell reports it.
pub fn run(invocation: &Invocation) -> Result<Finished, ResourceError> {
    if invocation.argv.is_empty() {
        return Err(ResourceError::permanent("no program to run"));
    }
    let mut command = if invocation.supervised {
        let options = supervisor::Options {
            keep_stderr: true,
            user: invocation.user.map(|(uid, gid)| supervisor::Credentials {
                uid,
                gid,
                groups: invocation.groups.clone(),
            }),
        };
        supervisor::command(&invocation.argv, &options)
    } else {
        let mut command = Command::new(&invocation.argv[0]);
        command.args(&invocation.argv[1..]);
        if let Some((uid, gid)) = invocation.user {
            let user = supervisor::Credentials {
                uid,
                gid,
                groups: invocation.groups.clone(),
            };
            // SAFETY: the closure runs in the forked child before exec and only makes
            // async-signal-safe calls on memory allocated before the fork.
            unsafe {
                command.pre_exec(move || supervisor::drop_to(&user));
            }
        }
        command
    };
    if let Some(mask) = invocation.umask {
        // SAFETY: umask(2) is async-signal-safe and touches no memory; it runs in the forked
        // child before exec (the supervisor's child inherits it).
        unsafe {
            command.pre_exec(move || {
                libc::umask(mask as libc::mode_t);
                Ok(())
            });
        }
    }
    command
        .env_clear()
        .env("PATH", SEARCH_PATH)
        .env("LC_ALL", "C")
        .envs(invocation.env.iter().map(|(k, v)| (k, v)))
        .stdin(if invocation.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: the deadline kills what it started too.
        .process_group(0);
    if let Some(dir) = &invocation.chdir {
        command.current_dir(dir);
    }
    let name = invocation.program();
    let mut child = command.spawn().map_err(|e| {
        ResourceError::io(
            format_args!("cannot run {}", crate::printable::escape(&name)),
            &e,
        )
    })?;
    let pid = child.id() as libc::pid_t;
    let stdin = child.stdin.take();
    let input = invocation.stdin.clone();
    let feeder = std::thread::spawn(move || {
        if let (Some(mut pipe), Some(bytes)) = (stdin, input) {
            // A program that does not read its input closes the pipe: not an error of ours.
            let _ = pipe.write_all(&bytes);
        }
    });
    let stdout = child
        .stdout
        .take()
        .map(|s| std::thread::spawn(move || bounded(s)));
    let stderr = child
        .stderr
        .take()
        .map(|s| std::thread::spawn(move || bounded(s)));
    let (done, waited) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let status = child.wait();
        let _ = done.send(());
        status
    });
    let timed_out = waited.recv_timeout(invocation.timeout).is_err();
    if timed_out {
        let patience = supervisor::KILL_PATIENCE + Duration::from_secs(1);
        // The supervisor kills the program's processes and exits; the process group the
        // child leads is killed if it does not (or when there is no supervisor).
        // SAFETY: kill(2) on our own child, not yet reaped (the waiter has not returned).
        if !invocation.supervised
            || unsafe { libc::kill(pid, libc::SIGTERM) } != 0
            || waited.recv_timeout(patience).is_err()
        {
            // SAFETY: kill(2) on the process group the child leads; no memory is involved.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    }
    let status = waiter
        .join()
        .map_err(|_| ResourceError::permanent(format!("waiting for {name} failed")))?
        .map_err(|e| ResourceError::io(format_args!("waiting for {name}"), &e))?;
    let _ = feeder.join();
    let collect = |reader: Option<Reader>| {
        reader
            .and_then(|r| r.join().ok())
            .and_then(Result::ok)
            .unwrap_or_default()
    };
    let (stdout, dropped_out) = collect(stdout);
    let (stderr, dropped_err) = collect(stderr);
    let rc = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Ok(Finished {
        rc,
        stdout,
        stderr,
        dropped: (dropped_out, dropped_err),
        timed_out,
    })
}

/// Runs the program and wants it to succeed: its stdout, or an error quoting what it said.
pub fn output(invocation: &Invocation) -> Result<String, ResourceError> {
    let finished = run(invocation)?;
    if finished.timed_out {
        return Err(ResourceError::transient(format!(
            "{} did not finish within {} s",
            invocation.program(),
            invocation.timeout.as_secs()
        )));
    }
    if finished.rc != 0 {
        return Err(ResourceError::permanent(format!(
            "{} failed (exit {}): {}",
            invocation.program(),
            finished.rc,
            finished.complaint()
        )));
    }
    Ok(finished.stdout_text())
}

/// A thread reading one output stream: what it kept and how many bytes it dropped.
type Reader = std::thread::JoinHandle<io::Result<(Vec<u8>, u64)>>;

/// Reads a stream to its end, keeping the first [`OUTPUT_LIMIT`] bytes.
fn bounded(mut stream: impl Read) -> io::Result<(Vec<u8>, u64)> {
    let mut kept = Vec::new();
    let mut dropped = 0u64;
    let mut buf = [0u8; 8192];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok((kept, dropped)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let room = OUTPUT_LIMIT.saturating_sub(kept.len()).min(n);
        kept.extend_from_slice(&buf[..room]);
        dropped += (n - room) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_reach_the_program_as_written_never_through_a_shell() {
        let done = run(&Invocation::new(["printf", "%s|", "a b", "$(id)", ";rm"])).unwrap();
        assert_eq!(done.stdout_text(), "a b|$(id)|;rm|");
        assert!(done.success());
    }

    #[test]
    fn a_program_past_its_deadline_is_killed_with_its_children() {
        let started = std::time::Instant::now();
        let done = run(&Invocation::new(["sh", "-c", "sleep 30 & sleep 30"])
            .timeout(Duration::from_millis(200)))
        .unwrap();
        assert!(done.timed_out);
        assert!(!done.success());
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn output_past_the_limit_is_counted_and_dropped() {
        let script = format!("head -c {} /dev/zero", OUTPUT_LIMIT + 10);
        let done = run(&Invocation::new(["sh", "-c", &script])).unwrap();
        assert_eq!(done.stdout.len(), OUTPUT_LIMIT);
        assert_eq!(done.dropped.0, 10);
    }

    #[test]
    fn a_failure_quotes_the_last_lines_of_stderr() {
        let err = output(&Invocation::new([
            "sh",
            "-c",
            "echo one >&2; echo two >&2; exit 3",
        ]))
        .unwrap_err();
        assert_eq!(err.message, "sh failed (exit 3): one; two");
    }

    #[test]
    fn a_missing_program_is_a_permanent_error() {
        let err = run(&Invocation::new(["/nonexistent/program"])).unwrap_err();
        assert!(!err.is_transient());
        assert!(
            err.message.starts_with("cannot run /nonexistent/program"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_report_keeps_64_kib_of_each_stream_cut_at_a_character() {
        // 'é' is two bytes: the limit falls inside one.
        let text = format!("a{}", "é".repeat(REPORT_OUTPUT_LIMIT));
        let finished = Finished {
            rc: 0,
            stdout: text.into_bytes(),
            stderr: b"short".to_vec(),
            dropped: (0, 0),
            timed_out: false,
        };
        let output = finished.output();
        assert_eq!(output.stdout.len(), REPORT_OUTPUT_LIMIT - 1);
        assert!(output.truncated);
        assert_eq!(output.stderr, "short");
        let whole = Finished {
            stdout: b"all of it".to_vec(),
            ..finished.clone()
        };
        assert!(!whole.output().truncated);
        let dropped_when_read = Finished {
            stdout: Vec::new(),
            dropped: (10, 0),
            ..finished
        };
        assert!(dropped_when_read.output().truncated);
    }

    #[test]
    fn a_program_runs_as_the_user_and_groups_given() {
        // The tests run as root (as the sandbox tests need): a program may be given any ids.
        let mut invocation = Invocation::new(["id"]);
        invocation.user = Some((65534, 65534));
        invocation.groups = vec![65534, 4];
        let ids = output(&invocation).unwrap();
        assert!(ids.starts_with("uid=65534"), "{ids}");
        assert!(ids.contains("groups=65534"), "{ids}");
        assert!(ids.contains(",4("), "{ids}");
    }

    #[test]
    fn input_is_given_on_stdin_and_the_environment_is_minimal() {
        let mut invocation = Invocation::new(["sh", "-c", "cat; echo \"$HOME|$X\""]).env("X", "1");
        invocation.stdin = Some(b"in\n".to_vec());
        assert_eq!(output(&invocation).unwrap(), "in\n|1\n");
    }
}
