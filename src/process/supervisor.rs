//! The supervisor of a program whose every process must end with it — a command collector's,
//! a `command`/`shell`/`script` task's: driftless itself, run as
//! `driftless __supervise-command [OPTIONS] -- PROGRAM ARGS…` between driftless and the
//! program, so that every process the program starts can be found and killed.
//!
//! A process group is not enough: a child that calls `setsid` leaves it, and one whose parent
//! exits is reparented away from the tree. The supervisor is a child subreaper
//! (`PR_SET_CHILD_SUBREAPER`), so every descendant of the program that loses its parent
//! becomes the supervisor's child, whatever its session or group: all of them stay below it.
//! When the program exits, when driftless asks (SIGTERM, at a timeout) or when driftless dies
//! (the parent-death signal), the supervisor kills its whole subtree and exits with the
//! program's status (128 + N when a signal N ended it, as a shell reports).
//!
//! The program gets the supervisor's stdin, stdout, working directory and environment; its
//! stderr is dropped unless [`Options::keep_stderr`]; it runs as [`Options::user`] when set
//! (the supervisor stays root, so it can kill whatever the program starts, and the user need
//! not be able to read driftless's executable).
//!
//! A separate process, not driftless's own: a subreaper must reap every orphan it inherits, and
//! in driftless that would race with the `wait` of every other child it runs.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::host::process;

/// The first argument that makes driftless a supervisor instead of the CLI.
pub const SUPERVISE_ARG: &str = "__supervise-command";

/// The exit code of a supervisor that could not start the program (it prints why on stderr).
pub const CANNOT_START: u8 = 127;

/// How long killing the subtree may take before the supervisor gives up (a process stuck in
/// uninterruptible sleep cannot die until its I/O ends).
pub const KILL_PATIENCE: Duration = Duration::from_secs(5);

/// How the supervisor runs the program.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// The program's stderr goes to the supervisor's (else to /dev/null).
    pub keep_stderr: bool,
    /// Run the program as this user.
    pub user: Option<Credentials>,
}

/// Who a program runs as: its uid, primary gid and supplementary groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

const KEEP_STDERR: &str = "--keep-stderr";
const USER: &str = "--user=";

impl Options {
    /// The options as the supervisor's arguments, up to and with the `--` before the program.
    fn to_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.keep_stderr {
            args.push(KEEP_STDERR.to_owned());
        }
        if let Some(user) = &self.user {
            let groups: Vec<String> = user.groups.iter().map(u32::to_string).collect();
            args.push(format!(
                "{USER}{}:{}:{}",
                user.uid,
                user.gid,
                groups.join(",")
            ));
        }
        args.push("--".to_owned());
        args
    }

    /// The options from the supervisor's arguments, and the program's argv after `--`.
    fn parse(args: &[OsString]) -> Result<(Options, &[OsString]), String> {
        let mut options = Options::default();
        for (i, arg) in args.iter().enumerate() {
            let arg = arg.to_str().ok_or("an option is not UTF-8")?;
            if arg == "--" {
                return Ok((options, &args[i + 1..]));
            } else if arg == KEEP_STDERR {
                options.keep_stderr = true;
            } else if let Some(user) = arg.strip_prefix(USER) {
                options.user = Some(parse_credentials(user).ok_or("bad `--user=`")?);
            } else {
                return Err(format!("unknown option `{arg}`"));
            }
        }
        Err("no `--` before the program".to_owned())
    }
}

fn parse_credentials(text: &str) -> Option<Credentials> {
    let mut parts = text.splitn(3, ':');
    let uid = parts.next()?.parse().ok()?;
    let gid = parts.next()?.parse().ok()?;
    let groups = match parts.next()? {
        "" => Vec::new(),
        list => list
            .split(',')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?,
    };
    Some(Credentials { uid, gid, groups })
}

/// When driftless was started as a supervisor (`argv[1]` is [`SUPERVISE_ARG`]), runs the
/// program named by the remaining arguments and returns the exit code; otherwise `None`.
pub fn run_if_requested() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != SUPERVISE_ARG {
        return None;
    }
    let args: Vec<OsString> = args.collect();
    Some(match Options::parse(&args) {
        Ok((options, argv)) => supervise(&options, argv),
        Err(why) => {
            eprintln!("{SUPERVISE_ARG}: {why}");
            ExitCode::from(CANNOT_START)
        }
    })
}

/// The command that runs `argv` under a supervisor: driftless's own executable, which must
/// be the running binary (a library user's own executable would not know the argument).
pub fn command<S: AsRef<std::ffi::OsStr>>(argv: &[S], options: &Options) -> Command {
    let mut command = Command::new("/proc/self/exe");
    command
        .arg(SUPERVISE_ARG)
        .args(options.to_args())
        .args(argv);
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe calls (prctl, getppid).
    unsafe {
        command.pre_exec(move || {
            // If driftless dies, the supervisor is told to clean up.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // driftless died before the line above: nobody would send the signal.
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    command
}

fn supervise(options: &Options, argv: &[OsString]) -> ExitCode {
    let Some((program, args)) = argv.split_first() else {
        eprintln!("{SUPERVISE_ARG} needs a program to run");
        return ExitCode::from(CANNOT_START);
    };
    // Stop requests and child exits are taken from the queue by sigtimedwait below, so none
    // is lost between two checks. The program gets an empty mask (std resets it at spawn).
    let signals = signal_set(&[libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGCHLD]);
    // SAFETY: signals is an initialised sigset_t; blocking signals has no memory effects.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &signals, std::ptr::null_mut()) };
    // SAFETY: prctl with integer arguments only changes this process's attributes.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) } != 0 {
        eprintln!(
            "cannot run {}: cannot become a child subreaper: {}",
            program.to_string_lossy(),
            std::io::Error::last_os_error()
        );
        return ExitCode::from(CANNOT_START);
    }
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(if options.keep_stderr {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .process_group(0);
    if let Some(user) = options.user.clone() {
        // SAFETY: the closure runs in the forked child before exec and only makes
        // async-signal-safe calls (setgroups, setgid, setuid) on memory allocated before the
        // fork. std's own `uid`/`gid` cannot set supplementary groups.
        unsafe {
            command.pre_exec(move || drop_to(&user));
        }
    }
    let child = command.spawn();
    let child = match child {
        Ok(child) => child,
        Err(e) => {
            eprintln!("cannot run {}: {e}", program.to_string_lossy());
            return ExitCode::from(CANNOT_START);
        }
    };
    // The pipes must close when the program's processes are gone, not when this one is.
    release_stdio(options.keep_stderr);
    let status = wait_for(child.id() as libc::pid_t, &signals);
    kill_subtree();
    match status {
        Some(status) => ExitCode::from(exit_code(status)),
        // Stopped on request: the caller reports the timeout, not this code.
        None => ExitCode::from(128 + libc::SIGKILL as u8),
    }
}

/// Reaps children until `pid` exits (its wait status) or a stop signal arrives (`None`).
fn wait_for(pid: libc::pid_t, signals: &libc::sigset_t) -> Option<i32> {
    loop {
        loop {
            let mut status = 0;
            // SAFETY: waitpid writes the status of a child of this process into `status`.
            let reaped = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if reaped == pid {
                return Some(status);
            }
            if reaped <= 0 {
                break;
            }
        }
        let timeout = libc::timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        // SAFETY: signals and timeout are valid; the siginfo pointer may be null.
        let signal = unsafe { libc::sigtimedwait(signals, std::ptr::null_mut(), &timeout) };
        if matches!(signal, libc::SIGTERM | libc::SIGINT | libc::SIGHUP) {
            return None;
        }
    }
}

/// Kills every descendant of this process and reaps them, until none is left.
fn kill_subtree() {
    let me = std::process::id() as libc::pid_t;
    let give_up = Instant::now() + KILL_PATIENCE;
    loop {
        // Killed processes cannot fork; a child forked before its parent died is reparented
        // here and found by the next pass.
        for pid in descendants(me) {
            // SAFETY: kill(2) on a process found below this one a moment ago.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        loop {
            let mut status = 0;
            // SAFETY: waitpid writes the status of a child of this process into `status`.
            let reaped = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if reaped > 0 {
                continue;
            }
            if reaped < 0 {
                // ECHILD: no child left, and so no descendant (orphans come here).
                return;
            }
            break;
        }
        if Instant::now() >= give_up {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every process whose chain of parents leads to `root`, from `/proc/*/stat`.
fn descendants(root: libc::pid_t) -> Vec<libc::pid_t> {
    let mut children: HashMap<libc::pid_t, Vec<libc::pid_t>> = HashMap::new();
    let Ok(pids) = process::pids() else {
        return Vec::new();
    };
    let mut buf = String::new();
    for pid in pids {
        if let Some(ppid) = parent_of(pid, &mut buf) {
            children.entry(ppid).or_default().push(pid as libc::pid_t);
        }
    }
    let mut found = Vec::new();
    let mut next = vec![root];
    while let Some(pid) = next.pop() {
        if let Some(kids) = children.remove(&pid) {
            found.extend_from_slice(&kids);
            next.extend(kids);
        }
    }
    found
}

/// The parent pid from `/proc/PID/stat`; `buf` is scratch space.
fn parent_of(pid: u32, buf: &mut String) -> Option<libc::pid_t> {
    process::read_stat(pid, buf).ok()?;
    libc::pid_t::try_from(process::parse_stat(buf)?.ppid).ok()
}

/// Becomes `user` (in the program's child, before exec): groups first, while still root.
pub(super) fn drop_to(user: &Credentials) -> std::io::Result<()> {
    let check = |rc: libc::c_int| {
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    // SAFETY: groups points to user.groups.len() gids; the ids are plain integers.
    unsafe {
        check(libc::setgroups(user.groups.len(), user.groups.as_ptr()))?;
        check(libc::setgid(user.gid))?;
        check(libc::setuid(user.uid))
    }
}

/// Points this process's stdin and stdout (and stderr, when the program shares it) at
/// /dev/null, so only the program holds the pipes: the reader sees their end when the
/// program's processes are gone.
fn release_stdio(stderr_too: bool) {
    use std::os::fd::AsRawFd;
    let Ok(null) = std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
    else {
        return;
    };
    let mut fds = vec![libc::STDIN_FILENO, libc::STDOUT_FILENO];
    if stderr_too {
        fds.push(libc::STDERR_FILENO);
    }
    for fd in fds {
        // SAFETY: dup2 onto a standard descriptor of a valid one; std's stdio handles are not
        // used after this (the supervisor prints nothing once the program runs).
        unsafe { libc::dup2(null.as_raw_fd(), fd) };
    }
}

/// A wait status as an exit code: the program's own, or 128 + N for signal N.
fn exit_code(status: i32) -> u8 {
    let status = std::process::ExitStatus::from_raw(status);
    match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(signal)) => (128 + signal) as u8,
        (None, None) => 255,
    }
}

fn signal_set(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set before sigaddset uses it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &signal in signals {
            libc::sigaddset(&mut set, signal);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_pids_are_read_past_odd_command_names() {
        let me = std::process::id() as libc::pid_t;
        // SAFETY: getppid has no preconditions.
        let parent = unsafe { libc::getppid() };
        assert_eq!(parent_of(me as u32, &mut String::new()), Some(parent));
        assert!(descendants(parent).contains(&me));
    }

    #[test]
    fn options_go_through_the_command_line_and_back() {
        let options = Options {
            keep_stderr: true,
            user: Some(Credentials {
                uid: 65534,
                gid: 65534,
                groups: vec![4, 27],
            }),
        };
        let mut args: Vec<OsString> = options.to_args().into_iter().map(Into::into).collect();
        args.extend(["--".into(), "-x".into()]);
        let (parsed, argv) = Options::parse(&args).unwrap();
        assert_eq!(parsed, options);
        // A program named `--` or `-x` is the program's, after the first `--`.
        assert_eq!(argv, &[OsString::from("--"), OsString::from("-x")]);
        let none = Options::default().to_args();
        assert_eq!(none, ["--"]);
        assert!(Options::parse(&[OsString::from("prog")]).is_err());
    }

    #[test]
    fn wait_statuses_become_shell_exit_codes() {
        assert_eq!(exit_code(3 << 8), 3);
        assert_eq!(exit_code(libc::SIGKILL), 128 + 9);
    }
}
