//! Bounded work for any input (issue 8, item 6, the runtime parts): `-j` is capped, the
//! textfile collector reads in linear time within size and series limits and never blocks on a
//! file, and a command collector kills every process its program started — those that left its
//! process group or session included — and bounds its output. Each runs the real binary.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{World, driftless_command};
use crate::facts_support;

/// The result of one `driftless` run that was given at most a deadline.
struct Bounded {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs `driftless ARGS` and kills it if it is still running after `deadline`.
fn run_bounded(args: &[&str], deadline: Duration) -> Bounded {
    let mut command = Command::new(facts_support::driftless());
    command.args(args);
    run_command_bounded(&mut command, deadline)
}

/// Runs `command` and kills it if it is still running after `deadline`.
fn run_command_bounded(command: &mut Command, deadline: Duration) -> Bounded {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start driftless");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Bounded {
        code,
        took: started.elapsed(),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// One scrape of the collectors in `config` (`driftless -c CONFIG facts --format prometheus`).
fn collect_once(config: &Path, deadline: Duration) -> Bounded {
    run_bounded(
        &[
            "-c",
            config.to_str().expect("utf-8 path"),
            "facts",
            "--format",
            "prometheus",
        ],
        deadline,
    )
}

// ---------------------------------------------------------------------------------------
// -j

/// `driftless -c CONFIG -e root=ROOT ARGS…` in the world, killed after 20 s (a thread per
/// job of 100000 would take minutes).
fn run_in_world_bounded(world: &World, args: &[&str]) -> Bounded {
    let mut command = driftless_command(world.temp.path());
    command
        .arg("-c")
        .arg(&world.config)
        .arg("-e")
        .arg(format!("root={}", world.root.display()))
        .args(args);
    run_command_bounded(&mut command, Duration::from_secs(20))
}

#[test]
fn jobs_beyond_the_limit_are_refused_and_nothing_changes() {
    let world = World::new(
        "apply:\n  - {id: f, type: file, path: \"{{ root }}/f\", content: \"one\\n\"}\n",
    );
    let (plan, _) = world.plan();
    let plan = plan.to_str().expect("utf-8 path");
    for args in [
        &["execute", plan, "-j", "100000"][..],
        &["apply", "-j", "100000"][..],
    ] {
        let run = run_in_world_bounded(&world, args);
        assert!(
            run.code.is_some_and(|code| code != 0),
            "{args:?}: {:?}\n{}",
            run.code,
            run.stderr
        );
        assert!(
            run.stderr.contains("100000 is not in 1..=256"),
            "{args:?}: the error names the limit:\n{}",
            run.stderr
        );
    }
    assert!(!world.path("f").exists(), "nothing is written");
    let at_limit = run_in_world_bounded(&world, &["apply", "-j", "256"]);
    assert_eq!(at_limit.code, Some(0), "{}", at_limit.stderr);
    assert!(world.path("f").exists());
}

// ---------------------------------------------------------------------------------------
// textfile collector

fn textfile_config(dir: &Path) -> tempfile::TempDir {
    facts_support::config_dir(&format!(
        "facts:\n  - type: textfile\n    directory: \"{}\"\n",
        dir.display()
    ))
}

#[test]
fn a_textfile_of_40000_series_is_read_in_linear_time() {
    let files = tempfile::tempdir().expect("tempdir");
    let mut text = String::from("# TYPE big gauge\n");
    for i in 0..40_000 {
        text.push_str(&format!("big{{id=\"{i}\",shard=\"{}\"}} {i}\n", i % 7));
    }
    std::fs::write(files.path().join("big.prom"), text).expect("write");
    let config = textfile_config(files.path());
    // Quadratic duplicate checks took minutes here; linear parsing takes under a second.
    let run = collect_once(config.path(), Duration::from_secs(30));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.took < Duration::from_secs(5), "took {:?}", run.took);
    let samples = facts_support::samples(&run.stdout);
    assert_eq!(samples.iter().filter(|s| s.name == "big").count(), 40_000);
    assert!(run.stdout.contains("node_textfile_scrape_error 0"));
}

#[test]
fn textfiles_over_the_size_limit_or_not_regular_are_skipped_naming_the_limit() {
    let files = tempfile::tempdir().expect("tempdir");
    std::fs::write(files.path().join("good.prom"), "good_metric 1\n").expect("write");
    // 17 MiB of comments: valid text, over the 16 MiB limit.
    let line = format!("# {}\n", "x".repeat(1021));
    std::fs::write(files.path().join("huge.prom"), line.repeat(17 * 1024)).expect("write");
    // A FIFO that nobody writes: opening it for reading would wait forever.
    let fifo = files.path().join("fifo.prom");
    let status = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(status.success());
    let config = textfile_config(files.path());
    let run = collect_once(config.path(), Duration::from_secs(20));
    assert_eq!(run.code, Some(0), "blocked or failed:\n{}", run.stderr);
    assert!(run.stdout.contains("good_metric 1"), "{}", run.stdout);
    assert!(run.stdout.contains("node_textfile_scrape_error 1"));
    assert!(
        run.stderr.contains("huge.prom") && run.stderr.contains("larger than 16 MiB"),
        "the error names the size limit:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("fifo.prom") && run.stderr.contains("not a regular file"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------
// command collector

/// A `sleep` duration no other process on the host has in its argv: `1000.<pid><nanos>`.
fn unique_sleep() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("1000.{}{nanos}", std::process::id())
}

/// The processes whose argv contains `marker`; they are killed, so that a failing test
/// leaves nothing behind.
fn reap_processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(pid) = name.parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let argv = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if argv.split(' ').any(|arg| arg == marker) {
            found.push(format!("{pid}: {argv}"));
            // SAFETY: kill(2) on a process this test started (its argv has the marker).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    found
}

fn command_config(id: &str, script: &str, timeout: &str) -> tempfile::TempDir {
    facts_support::config_dir(&format!(
        "facts:\n  - id: {id}\n    type: command\n    command: [sh, -c, {script:?}]\n    \
         timeout: {timeout}\n"
    ))
}

#[test]
fn a_command_timeout_kills_processes_that_left_its_session() {
    let (own_session, orphaned) = (unique_sleep(), unique_sleep() + "1");
    // One child in a new session, one in a new session whose parent exits (reparented).
    let script = format!("setsid sleep {own_session} & (setsid sleep {orphaned} &); sleep 30");
    let config = command_config("escape", &script, "1s");
    let run = collect_once(config.path(), Duration::from_secs(20));
    let left = [
        reap_processes_with(&own_session),
        reap_processes_with(&orphaned),
    ]
    .concat();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.took < Duration::from_secs(5), "took {:?}", run.took);
    assert!(run.stderr.contains("timed out after 1s"), "{}", run.stderr);
    assert!(left.is_empty(), "still running after the timeout: {left:?}");
}

#[test]
fn a_command_that_exits_leaves_nothing_running() {
    let marker = unique_sleep();
    // The background sleep holds stdout open: its output ends only when it is killed.
    let script = format!("setsid sleep {marker} & echo 7");
    let config = command_config("leftover", &script, "5s");
    let run = collect_once(config.path(), Duration::from_secs(20));
    let left = reap_processes_with(&marker);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout
            .contains("driftless_command_value{collector=\"leftover\",key=\"\"} 7"),
        "the value is read at once:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(run.took < Duration::from_secs(4), "took {:?}", run.took);
    assert!(
        left.is_empty(),
        "still running after the command exited: {left:?}"
    );
}

#[test]
fn a_command_output_over_the_limit_is_an_error_naming_it_at_once() {
    let marker = unique_sleep();
    let script = format!("yes | head -c 2000000; sleep {marker}");
    let config = command_config("chatty", &script, "20s");
    let run = collect_once(config.path(), Duration::from_secs(30));
    let left = reap_processes_with(&marker);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("wrote more than 1 MiB, the limit of a command collector's output"),
        "{}",
        run.stderr
    );
    assert!(run.took < Duration::from_secs(5), "took {:?}", run.took);
    assert!(left.is_empty(), "still running: {left:?}");
}
