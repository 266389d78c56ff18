//! `driftless logs` end to end on the real binary: numbered lines go in, and every number must
//! come out — once, after rotations by rename and by copytruncate during continuous writing,
//! and across a reload by SIGHUP; at least once, with at most a batch of duplicates per kill,
//! across twenty SIGKILLs while a million lines are written.

use std::time::Duration;

use crate::logs_support::{
    LogsWorld, append_lines, check_every_number, numbered, numbers_in, send_signal,
    signal_and_wait, wait_for,
};

fn text_pipeline(paths: &str, batch: u64) -> String {
    format!(
        "logs:\n  - id: app\n    source: {{ type: file, paths: [{paths}], start_at: beginning }}\n    outputs:\n      - type: file\n        path: \"{{out}}/app.out\"\n        encoding: text\n        batch: {{ max_events: {batch}, timeout: 100ms }}\n"
    )
}

fn distinct(numbers: &[u64]) -> u64 {
    numbers
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len() as u64
}

fn output_numbers(world: &LogsWorld) -> Vec<u64> {
    numbers_in(&std::fs::read_to_string(world.output("app.out")).unwrap_or_default())
}

#[test]
fn once_parses_filters_and_delivers_every_line_then_goes_on_from_its_checkpoint() {
    let world = LogsWorld::new(
        "logs:\n  - id: app\n    source: { type: file, paths: [\"{in}/*.log\"], start_at: beginning }\n    parser: { type: json }\n    filters:\n      - { type: exclude, field: level, pattern: \"^debug$\" }\n    outputs:\n      - { type: file, path: \"{out}/app.out\" }\n",
    );
    let write = |range: std::ops::Range<u64>| {
        let mut text = String::new();
        for n in range {
            let level = if n % 4 == 0 { "debug" } else { "info" };
            text.push_str(&format!(
                "{{\"msg\":\"seq={n:07}\",\"level\":\"{level}\"}}\n"
            ));
        }
        let path = world.input("app.log");
        let mut old = std::fs::read(&path).unwrap_or_default();
        old.extend_from_slice(text.as_bytes());
        std::fs::write(&path, old).expect("write log");
    };
    write(0..1000);
    let run = world.once();
    assert!(
        run.stderr
            .contains("logs.app: 1000 lines read, 750 records sent"),
        "{}",
        run.all()
    );
    let out = std::fs::read_to_string(world.output("app.out")).expect("output");
    let first: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON record per line"))
        .collect();
    assert_eq!(first.len(), 750);
    assert_eq!(first[0]["level"], "info");
    assert_eq!(first[0]["msg"], "seq=0000001");
    assert!(first.iter().all(|r| r["level"] == "info"));

    // The next run reads only what was added since.
    write(1000..1100);
    let run = world.once();
    assert!(
        run.stderr
            .contains("logs.app: 100 lines read, 75 records sent"),
        "{}",
        run.all()
    );
    let all = numbers_in(&std::fs::read_to_string(world.output("app.out")).expect("output"));
    let expected: Vec<u64> = (0..1100).filter(|n| n % 4 != 0).collect();
    assert_eq!(all, expected);
    // And a run with nothing new sends nothing.
    let run = world.once();
    assert!(
        run.stderr.contains("logs.app: 0 lines read"),
        "{}",
        run.all()
    );
}

#[test]
fn once_refuses_an_unknown_pipeline_id_naming_those_there_are() {
    let world = LogsWorld::new(&text_pipeline("\"{in}/app.log\"", 100));
    let run = world.run(&["logs", "--once", "--id", "nope"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("no log pipeline `nope`; the config has: app"),
        "{}",
        run.all()
    );
}

/// Writes `total` lines into `app.log`, about 12,500 a second, rotating it every `every`
/// lines with `rotate(k)`.
fn write_rotating(
    world: &LogsWorld,
    total: u64,
    every: u64,
    rotate: impl Fn(&std::path::Path, u64),
) {
    let path = world.input("app.log");
    let mut n = 0;
    let mut rotation = 0;
    while n < total {
        let end = (n + every).min(total);
        // In slices, with pauses: a program logging, not one write; each file lives about
        // half a second before it is rotated (a tailer that never saw a file before it was
        // rotated away cannot know it existed).
        let mut at = n;
        while at < end {
            let slice_end = (at + 250).min(end);
            append_lines(&path, at..slice_end);
            at = slice_end;
            std::thread::sleep(Duration::from_millis(20));
        }
        n = end;
        if n < total {
            rotation += 1;
            rotate(&path, rotation);
        }
    }
}

#[test]
fn rotation_by_rename_during_continuous_writing_loses_no_line() {
    let world = LogsWorld::new(&text_pipeline("\"{in}/app.log\"", 500));
    let mut child = world.spawn();
    let total = 60_000;
    write_rotating(&world, total, 7_000, |path, k| {
        // logrotate's default: the file is renamed, the program opens a new one.
        std::fs::rename(path, path.with_extension(format!("log.{k}"))).expect("rotate");
    });
    wait_for(Duration::from_secs(60), "every line in the output", || {
        distinct(&output_numbers(&world)) >= total
    });
    let status = signal_and_wait(&mut child, libc::SIGTERM);
    assert!(status.success(), "driftless logs ended with {status}");
    let duplicates = check_every_number(&output_numbers(&world), total);
    assert_eq!(duplicates, 0, "a clean run duplicates nothing");
}

#[test]
fn rotation_by_copytruncate_during_continuous_writing_loses_no_line() {
    // The glob matches the copies: a copy holds the lines of the file it was copied from
    // that were not read yet, and has its fingerprint.
    let world = LogsWorld::new(&text_pipeline("\"{in}/app.log*\"", 500));
    let mut child = world.spawn();
    let total = 60_000;
    write_rotating(&world, total, 7_000, |path, k| {
        // logrotate's copytruncate: older copies move up, the file is copied, then
        // truncated in place (the program keeps writing to it).
        for older in (1..k).rev() {
            let from = path.with_extension(format!("log.{older}"));
            let _ = std::fs::rename(&from, path.with_extension(format!("log.{}", older + 1)));
        }
        std::fs::copy(path, path.with_extension("log.1")).expect("copy");
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(0))
            .expect("truncate");
    });
    wait_for(Duration::from_secs(60), "every line in the output", || {
        distinct(&output_numbers(&world)) >= total
    });
    let status = signal_and_wait(&mut child, libc::SIGTERM);
    assert!(status.success(), "driftless logs ended with {status}");
    check_every_number(&output_numbers(&world), total);
}

/// A small deterministic generator (xorshift): the moments of the kills, reproducible from
/// the seed the test prints.
struct Moments(u64);

impl Moments {
    fn next_millis(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + self.0 % (high - low)
    }
}

#[test]
fn twenty_sigkills_while_a_million_lines_are_written_lose_no_line_and_duplicate_at_most_a_batch_each()
 {
    const TOTAL: u64 = 1_000_000;
    const BATCH: u64 = 2_000;
    const KILLS: u64 = 20;
    let world = LogsWorld::new(&text_pipeline("\"{in}/app.log\"", BATCH));
    let path = world.input("app.log");
    std::fs::write(&path, "").expect("create the log");
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .expect("open");
            // 1000 lines per write, 1000 writes spread over about ten seconds.
            for chunk in 0..TOTAL / 1000 {
                let text: String = (chunk * 1000..(chunk + 1) * 1000).map(numbered).collect();
                file.write_all(text.as_bytes()).expect("append");
                std::thread::sleep(Duration::from_millis(8));
            }
        })
    };
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    eprintln!("kill moments seed: {seed}");
    let mut moments = Moments(seed);
    // Where the output ended at each kill: what a run wrote is the output after the end of
    // the run before.
    let mut ends = Vec::new();
    for _ in 0..KILLS {
        let mut child = world.spawn();
        std::thread::sleep(Duration::from_millis(moments.next_millis(150, 650)));
        signal_and_wait(&mut child, libc::SIGKILL);
        ends.push(std::fs::metadata(world.output("app.out")).map_or(0, |m| m.len()) as usize);
    }
    writer.join().expect("writer");
    // What is left is shipped by a last run.
    world.once();
    let text = std::fs::read_to_string(world.output("app.out")).expect("the output");
    let duplicates = check_every_number(&numbers_in(&text), TOTAL);
    // The duplicates of a kill are what the next run sends again: the numbers in its part of
    // the output that an earlier run wrote. The checkpoint is written at each batch the
    // output acknowledges, before the next batch is sent, so at a kill at most one batch —
    // the one being written, or the one whose checkpoint was being written — is in the output
    // and not in the checkpoint.
    let mut seen = std::collections::BTreeSet::new();
    let mut start = 0;
    let mut per_kill = Vec::new();
    for (run, &end) in ends.iter().chain([&text.len()]).enumerate() {
        let part = numbers_in(text.get(start..end).expect("the part of one run"));
        if run > 0 {
            per_kill.push(part.iter().filter(|n| seen.contains(*n)).count() as u64);
        }
        seen.extend(part);
        start = end;
    }
    eprintln!("{duplicates} duplicates after {KILLS} kills, per kill: {per_kill:?}");
    assert_eq!(per_kill.iter().sum::<u64>(), duplicates);
    assert!(
        per_kill.iter().all(|&d| d <= BATCH),
        "more than one batch ({BATCH} records) duplicated by a kill: {per_kill:?}"
    );
}

#[test]
fn sighup_starts_a_new_pipeline_leaves_the_old_one_where_it_is_and_a_broken_config_changes_nothing()
{
    let app = text_pipeline("\"{in}/app.log\"", 100);
    let web = "  - id: web\n    source: { type: file, paths: [\"{in}/web.log\"], start_at: beginning }\n    outputs:\n      - type: file\n        path: \"{out}/web.out\"\n        encoding: text\n        batch: { max_events: 100, timeout: 100ms }\n";
    let world = LogsWorld::new(&app);
    append_lines(&world.input("app.log"), 0..500);
    append_lines(&world.input("web.log"), 1000..1300);
    let mut child = world.spawn();
    wait_for(Duration::from_secs(30), "the app pipeline's lines", || {
        distinct(&output_numbers(&world)) >= 500
    });
    let web_numbers =
        || numbers_in(&std::fs::read_to_string(world.output("web.out")).unwrap_or_default());
    assert!(web_numbers().is_empty(), "web is not in the config yet");

    world.set_config(&format!("{app}{web}"));
    send_signal(&child, libc::SIGHUP);
    wait_for(Duration::from_secs(30), "the new pipeline's lines", || {
        web_numbers().len() >= 300
    });
    append_lines(&world.input("app.log"), 500..600);
    wait_for(Duration::from_secs(30), "the app pipeline going on", || {
        distinct(&output_numbers(&world)) >= 600
    });

    // A config that fails check: both pipelines go on as they were.
    world.set_config(&format!(
        "{app}{web}    parser: {{ type: no-such-parser }}\n"
    ));
    send_signal(&child, libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(500));
    append_lines(&world.input("app.log"), 600..700);
    append_lines(&world.input("web.log"), 1300..1400);
    wait_for(
        Duration::from_secs(30),
        "both pipelines after the broken config",
        || distinct(&output_numbers(&world)) >= 700 && web_numbers().len() >= 400,
    );
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "still running"
    );

    let status = signal_and_wait(&mut child, libc::SIGTERM);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("read stderr");
    assert!(
        status.success(),
        "driftless logs ended with {status}: {stderr}"
    );
    assert!(
        stderr.contains("keep running as they were") && stderr.contains("no-such-parser"),
        "the broken config's diagnostic on stderr: {stderr}"
    );
    // The reload left the app pipeline's tail where it was: nothing delivered again.
    assert_eq!(check_every_number(&output_numbers(&world), 700), 0);
    let mut web = web_numbers();
    web.sort_unstable();
    assert_eq!(
        web,
        (1000..1400).collect::<Vec<u64>>(),
        "web: each line once"
    );
}
