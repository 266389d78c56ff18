//! `driftless logs` end to end on the real binary: numbered lines go in, and every number must
//! come out — once, after rotations by rename and by copytruncate during continuous writing,
//! and across twenty SIGKILLs while a million lines are written.

use std::time::Duration;

use crate::logs_support::{
    LogsWorld, append_lines, check_every_number, numbered, numbers_in, signal_and_wait, wait_for,
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
fn twenty_sigkills_while_a_million_lines_are_written_lose_no_line() {
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
    for _ in 0..KILLS {
        let mut child = world.spawn();
        std::thread::sleep(Duration::from_millis(moments.next_millis(150, 650)));
        signal_and_wait(&mut child, libc::SIGKILL);
    }
    writer.join().expect("writer");
    // What is left is shipped by a last run.
    world.once();
    let duplicates = check_every_number(&output_numbers(&world), TOTAL);
    eprintln!("{duplicates} duplicates after {KILLS} kills");
    // A kill duplicates the batch the output was writing (written, not yet acknowledged) and,
    // when it lands while the checkpoint of the batch before is being written, that batch
    // too: at most two batches per kill (about one, on average).
    assert!(
        duplicates <= KILLS * 2 * BATCH,
        "{duplicates} duplicates: more than two batches ({BATCH} records each) per kill"
    );
}
