//! The `file` log source through the library API, on temp dirs: lines carry sequence
//! numbers and the tests check which arrive — through rotation by rename and by
//! copytruncate during continuous writing, restarts from checkpoints, a reused inode, a
//! renamed file, a 10 MB line, binary garbage, encodings and multiline stack traces.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use driftless::logs::{FileLogSource, SourceLine};
use driftless::model::Spanned;
use driftless::model::logs::{
    FileEncoding, FileLogSource as Config, Multiline, MultilineMode, StartAt,
};
use proptest::prelude::*;

fn config(paths: &[String]) -> Config {
    Config {
        paths: Spanned::unplaced(paths.to_vec()),
        exclude: None,
        start_at: StartAt::Beginning,
        encoding: FileEncoding::Utf8,
        max_line_bytes: None,
        partial_timeout: None,
        multiline: None,
    }
}

fn glob(dir: &Path, pattern: &str) -> String {
    format!("{}/{pattern}", dir.display())
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for append");
    f.write_all(bytes).expect("append");
}

fn messages(lines: &[SourceLine]) -> Vec<String> {
    lines.iter().map(|l| l.event.message.clone()).collect()
}

/// Reads (acknowledging everything) until nothing is left.
fn read_all(source: &mut FileLogSource) -> Vec<SourceLine> {
    let mut all = Vec::new();
    loop {
        let lines = source.read(1000).expect("read");
        if lines.is_empty() {
            return all;
        }
        for line in &lines {
            source.acknowledge(&line.ack);
        }
        all.extend(lines);
    }
}

/// Lines numbered `from..to`, as the writers write them.
fn numbered(seq: u64) -> String {
    format!("{seq:09} the quick brown fox jumps over the lazy dog\n")
}

/// Reads continuously until every number below `count` arrived (or the time is up), as a
/// pipeline does: read, acknowledge, wait.
fn collect_sequence(source: &mut FileLogSource, count: u64, limit: Duration) -> BTreeSet<u64> {
    let start = Instant::now();
    let mut seen = BTreeSet::new();
    while (seen.len() as u64) < count && start.elapsed() < limit {
        let lines = source.read(5000).expect("read");
        if lines.is_empty() {
            source.wait(Duration::from_millis(50));
            continue;
        }
        for line in &lines {
            let number = line.event.message.split(' ').next().unwrap_or("");
            let seq: u64 = number
                .parse()
                .unwrap_or_else(|_| panic!("bad line {line:?}"));
            seen.insert(seq);
            source.acknowledge(&line.ack);
        }
    }
    seen
}

/// A busy program's pace, 50 lines a millisecond: a rotated file stays at its path for
/// 140 ms, long enough to be found (a file renamed out of the globs before any look at the
/// directory is not, by any tailer that finds files by globs).
fn pace(seq: u64) {
    if seq % 50 == 49 {
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn missing(seen: &BTreeSet<u64>, count: u64) -> Vec<u64> {
    (0..count).filter(|n| !seen.contains(n)).take(10).collect()
}

#[test]
fn rotation_by_rename_during_writing_loses_no_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("app.log");
    File::create(&log).expect("create");
    let mut source = FileLogSource::open(
        &config(&[glob(dir.path(), "*.log")]),
        &dir.path().join("state"),
    )
    .expect("open");
    const COUNT: u64 = 30_000;
    let writer_log = log.clone();
    let writer = std::thread::spawn(move || {
        let name = |n: u32| writer_log.with_extension(format!("log.{n}"));
        let mut out = OpenOptions::new()
            .append(true)
            .open(&writer_log)
            .expect("open");
        for seq in 0..COUNT {
            out.write_all(numbered(seq).as_bytes()).expect("write");
            pace(seq);
            match seq % 7_000 {
                // logrotate: the older generations move up (the oldest is deleted) and the
                // log becomes .1; the program writes on into the renamed file ...
                6_990 => {
                    let _ = std::fs::remove_file(name(2));
                    let _ = std::fs::rename(name(1), name(2));
                    std::fs::rename(&writer_log, name(1)).expect("rotate");
                }
                // ... until it reopens its log.
                6_999 => {
                    out = OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&writer_log)
                        .expect("reopen");
                }
                _ => {}
            }
        }
    });
    let seen = collect_sequence(&mut source, COUNT, Duration::from_secs(30));
    writer.join().expect("writer");
    assert_eq!(missing(&seen, COUNT), Vec::<u64>::new(), "lines lost");
}

#[test]
fn copytruncate_during_writing_loses_no_line_when_the_copies_are_tailed_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("app.log");
    File::create(&log).expect("create");
    // `app.log*`: the copies logrotate makes are tailed as well, so the lines the source had
    // not read from app.log when it was truncated are read from the copy.
    let mut source = FileLogSource::open(
        &config(&[glob(dir.path(), "app.log*")]),
        &dir.path().join("state"),
    )
    .expect("open");
    const COUNT: u64 = 30_000;
    let writer_log = log.clone();
    let writer = std::thread::spawn(move || {
        let name = |n: u32| writer_log.with_extension(format!("log.{n}"));
        // O_APPEND, as logrotate's copytruncate requires: after the truncation, writes go
        // to the new end of the file, not to the old offset.
        let mut out = OpenOptions::new()
            .append(true)
            .open(&writer_log)
            .expect("open");
        for seq in 0..COUNT {
            out.write_all(numbered(seq).as_bytes()).expect("write");
            pace(seq);
            if seq % 7_000 == 6_999 {
                let _ = std::fs::rename(name(1), name(2));
                std::fs::copy(&writer_log, name(1)).expect("copy");
                OpenOptions::new()
                    .write(true)
                    .open(&writer_log)
                    .and_then(|f| f.set_len(0))
                    .expect("truncate");
            }
        }
    });
    let seen = collect_sequence(&mut source, COUNT, Duration::from_secs(30));
    writer.join().expect("writer");
    assert_eq!(missing(&seen, COUNT), Vec::<u64>::new(), "lines lost");
}

#[test]
fn copytruncate_of_a_file_read_to_its_end_loses_nothing_of_the_new_content() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("app.log");
    for seq in 0..100 {
        append(&log, numbered(seq).as_bytes());
    }
    let mut source = FileLogSource::open(
        &config(&[glob(dir.path(), "*.log")]),
        &dir.path().join("state"),
    )
    .expect("open");
    assert_eq!(read_all(&mut source).len(), 100);
    std::fs::copy(&log, dir.path().join("app.log.1")).expect("copy");
    OpenOptions::new()
        .write(true)
        .open(&log)
        .and_then(|f| f.set_len(0))
        .expect("truncate");
    // More than was read before: only the changed first bytes tell the truncation.
    for seq in 100..300 {
        append(&log, numbered(seq).as_bytes());
    }
    source.wait(Duration::ZERO);
    let lines = messages(&read_all(&mut source));
    assert_eq!(lines.len(), 200);
    assert_eq!(lines[0], numbered(100).trim_end());
}

#[test]
fn a_restart_resumes_after_the_last_acknowledged_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("app.log");
    for seq in 0..1000 {
        append(&log, numbered(seq).as_bytes());
    }
    let state = dir.path().join("state");
    let cfg = config(&[glob(dir.path(), "*.log")]);
    let mut source = FileLogSource::open(&cfg, &state).expect("open");
    let lines = source.read(500).expect("read");
    assert_eq!(lines.len(), 500);
    // Delivered up to line 300 only; the rest was read but not acknowledged.
    source.acknowledge(&lines[299].ack);
    source.checkpoint().expect("checkpoint");
    let observed = driftless::logs::file_log_source::observe(&cfg, &state);
    assert_eq!(observed.len(), 1);
    assert_eq!(observed[0].position, 300 * numbered(0).len() as u64);
    drop(source);
    let mut again = FileLogSource::open(&cfg, &state).expect("reopen");
    let rest = messages(&read_all(&mut again));
    assert_eq!(rest.len(), 700);
    assert_eq!(rest[0], numbered(300).trim_end());
}

/// Deletes `path` and creates a file with `bytes` there on the inode the old one had: new
/// files are made (and kept, so that each takes another free inode) until one gets it.
fn recreate_on_same_inode(path: &Path, bytes: &[u8]) {
    let old = std::fs::metadata(path).expect("stat").ino();
    std::fs::remove_file(path).expect("delete");
    // In the same directory: ext4 gives a new file a free inode near its directory's.
    let spare = |n: usize| path.with_extension(format!("spare{n}"));
    for attempt in 0..1000 {
        std::fs::write(spare(attempt), bytes).expect("create");
        if std::fs::metadata(spare(attempt)).expect("stat").ino() == old {
            std::fs::rename(spare(attempt), path).expect("rename");
            for n in 0..attempt {
                std::fs::remove_file(spare(n)).expect("clean up");
            }
            return;
        }
    }
    panic!(
        "the filesystem of {} never reused the inode",
        path.display()
    );
}

#[test]
fn a_new_file_on_a_reused_inode_is_read_from_its_start() {
    for old_size in [20usize, 1000] {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("app.log");
        append(&log, &"o".repeat(old_size - 1).into_bytes());
        append(&log, b"\n");
        let state = dir.path().join("state");
        // `end`: a file the checkpoints do not know would be skipped, so reading the new
        // file from its start shows it was recognised as the new file at a known path.
        let mut cfg = config(&[glob(dir.path(), "*.log")]);
        cfg.start_at = StartAt::End;
        let mut source = FileLogSource::open(&cfg, &state).expect("open");
        source.read(10).expect("read");
        source.checkpoint().expect("checkpoint");
        drop(source);
        recreate_on_same_inode(&log, b"new first line\nsecond\n");
        let mut source = FileLogSource::open(&cfg, &state).expect("reopen");
        assert_eq!(
            messages(&read_all(&mut source)),
            ["new first line", "second"],
            "old file of {old_size} bytes"
        );
    }
}

#[test]
fn a_renamed_file_with_a_checkpoint_is_not_read_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("app.log");
    for seq in 0..50 {
        append(&log, numbered(seq).as_bytes());
    }
    let state = dir.path().join("state");
    let cfg = config(&[glob(dir.path(), "app.log*")]);
    let mut source = FileLogSource::open(&cfg, &state).expect("open");
    assert_eq!(read_all(&mut source).len(), 50);
    source.checkpoint().expect("checkpoint");
    drop(source);
    // Rotated while driftless was stopped: the old file was renamed, one more line was
    // written to it, and a new log was started.
    std::fs::rename(&log, dir.path().join("app.log.1")).expect("rename");
    append(&dir.path().join("app.log.1"), numbered(50).as_bytes());
    append(&log, numbered(51).as_bytes());
    let mut source = FileLogSource::open(&cfg, &state).expect("reopen");
    let mut lines = messages(&read_all(&mut source));
    lines.sort();
    assert_eq!(lines, [numbered(50).trim_end(), numbered(51).trim_end()]);
}

/// The process's peak resident memory in bytes (nextest runs each test in its own process).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM")
        * 1024
}

#[test]
fn a_10_mb_line_is_cut_and_counted_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("app.log");
    {
        let mut f = File::create(&log).expect("create");
        f.write_all(b"before\n").expect("write");
        let block = vec![b'x'; 64 * 1024];
        for _ in 0..160 {
            f.write_all(&block).expect("write");
        }
        f.write_all(b"\nafter\n").expect("write");
    }
    let mut source = FileLogSource::open(
        &config(&[glob(dir.path(), "*.log")]),
        &dir.path().join("state"),
    )
    .expect("open");
    // Measured from here: the first call into the library also pages in its code.
    let before = peak_rss();
    let lines = read_all(&mut source);
    let grown = peak_rss().saturating_sub(before);
    let lengths: Vec<usize> = lines.iter().map(|l| l.event.message.len()).collect();
    assert_eq!(lengths, [6, 1 << 20, 5]);
    assert_eq!(source.stats().lines_truncated, 1);
    assert_eq!(
        source.stats().bytes_read,
        std::fs::metadata(&log).expect("stat").len()
    );
    // The line is 10 MiB; what is kept of it is 1 MiB (held, then decoded).
    assert!(grown < 6 << 20, "peak memory grew by {grown} bytes");
}

#[test]
fn encodings_and_byte_order_marks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let utf16 = |text: &str, le: bool| -> Vec<u8> {
        text.encode_utf16()
            .flat_map(|u| if le { u.to_le_bytes() } else { u.to_be_bytes() })
            .collect()
    };
    let cases: Vec<(FileEncoding, Vec<u8>)> = vec![
        (
            FileEncoding::Utf8,
            b"\xEF\xBB\xBFgr\xC3\xBC\xC3\x9Fe\r\nbad \xFF byte\n".to_vec(),
        ),
        (
            FileEncoding::Latin1,
            b"gr\xFC\xDFe\r\nbad \xFF byte\n".to_vec(),
        ),
        (
            FileEncoding::Utf16Le,
            [vec![0xFF, 0xFE], utf16("grüße\r\nbad ÿ byte\n", true)].concat(),
        ),
        (FileEncoding::Utf16Be, utf16("grüße\r\nbad ÿ byte\n", false)),
        // A big-endian mark in a file configured as little-endian: the mark wins.
        (
            FileEncoding::Utf16Le,
            [vec![0xFE, 0xFF], utf16("grüße\r\nbad ÿ byte\n", false)].concat(),
        ),
    ];
    for (i, (encoding, bytes)) in cases.into_iter().enumerate() {
        let name = format!("case{i}.log");
        std::fs::write(dir.path().join(&name), &bytes).expect("write");
        let mut cfg = config(&[glob(dir.path(), &name)]);
        cfg.encoding = encoding;
        let mut source =
            FileLogSource::open(&cfg, &dir.path().join(format!("state{i}"))).expect("open");
        let expected = if i == 0 {
            ["grüße", "bad \u{fffd} byte"]
        } else {
            ["grüße", "bad ÿ byte"]
        };
        assert_eq!(
            messages(&read_all(&mut source)),
            expected,
            "case {i}: {encoding:?}"
        );
    }
}

const JAVA_LOG: &str = "\
2024-05-01 12:00:00,001 INFO  [main] app.Server - started
2024-05-01 12:00:01,002 ERROR [http-1] app.Handler - request failed
java.lang.IllegalStateException: connection closed
\tat app.db.Pool.take(Pool.java:88)
\tat app.Handler.handle(Handler.java:41)
Caused by: java.io.IOException: Broken pipe
\tat sun.nio.ch.FileDispatcherImpl.write0(Native Method)
\t... 12 more
2024-05-01 12:00:02,003 INFO  [main] app.Server - still here
";

#[test]
fn multiline_joins_a_java_stack_trace() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("app.log"), JAVA_LOG).expect("write");
    let mut cfg = config(&[glob(dir.path(), "*.log")]);
    cfg.multiline = Some(Multiline {
        start_pattern: Spanned::unplaced(r"^\d{4}-\d{2}-\d{2} ".to_owned()),
        condition_pattern: Spanned::unplaced(r"^\d{4}-\d{2}-\d{2} ".to_owned()),
        mode: MultilineMode::HaltBefore,
        timeout: None,
    });
    let mut source = FileLogSource::open(&cfg, &dir.path().join("state")).expect("open");
    let now = Instant::now();
    let lines = source.read_at(100, now).expect("read");
    let got = messages(&lines);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(got[0].ends_with("started"));
    assert!(got[1].starts_with("2024-05-01 12:00:01,002 ERROR"));
    assert!(got[1].ends_with("\t... 12 more"));
    assert_eq!(got[1].lines().count(), 7);
    // The last record waits for a line that may still belong to it, then times out.
    assert!(source.read_at(100, now).expect("read").is_empty());
    let last = source
        .read_at(100, now + Duration::from_secs(1))
        .expect("read");
    assert_eq!(
        messages(&last),
        ["2024-05-01 12:00:02,003 INFO  [main] app.Server - still here"]
    );
    assert_eq!(last[0].ack.offset(), JAVA_LOG.len() as u64);
    // Until then nothing past the trace was acknowledged: it is what a restart re-reads.
    source.acknowledge(&lines[1].ack);
    assert_eq!(
        source.stats().bytes_behind,
        last[0].event.message.len() as u64 + 1
    );
}

fn encoding_strategy() -> impl Strategy<Value = FileEncoding> {
    prop_oneof![
        Just(FileEncoding::Utf8),
        Just(FileEncoding::Utf16Le),
        Just(FileEncoding::Utf16Be),
        Just(FileEncoding::Latin1),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn binary_garbage_never_panics_and_is_read_whole(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        encoding in encoding_strategy(),
        max_line_bytes in 1u64..64,
        multiline in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("garbage.log"), &bytes).expect("write");
        let mut cfg = config(&[glob(dir.path(), "*.log")]);
        cfg.encoding = encoding;
        cfg.max_line_bytes = Some(Spanned::unplaced(max_line_bytes));
        if multiline {
            cfg.multiline = Some(Multiline {
                start_pattern: Spanned::unplaced("^[a-m]".to_owned()),
                condition_pattern: Spanned::unplaced("^\\s".to_owned()),
                mode: MultilineMode::ContinueThrough,
                timeout: None,
            });
        }
        let mut source = FileLogSource::open(&cfg, &dir.path().join("state")).expect("open");
        let now = Instant::now();
        let mut lines = source.read_at(usize::MAX, now).expect("read");
        // The partial last line is due after a minute; a record it ends up in, a minute later.
        for minutes in [1, 2] {
            let later = now + Duration::from_secs(60 * minutes);
            lines.extend(source.read_at(usize::MAX, later).expect("read"));
        }
        for line in &lines {
            prop_assert!(line.event.message.len() <= (max_line_bytes as usize) * 3 + 3);
            source.acknowledge(&line.ack);
        }
        let stats = source.stats();
        // Every byte was consumed (an odd last byte of UTF-16 waits for its pair), and
        // after the timeouts every consumed byte was passed on.
        let whole = bytes.len() as u64 - (bytes.len() as u64 % match encoding {
            FileEncoding::Utf16Le | FileEncoding::Utf16Be => 2,
            _ => 1,
        });
        prop_assert_eq!(stats.bytes_read, whole);
        prop_assert_eq!(stats.bytes_behind, bytes.len() as u64 - whole);
    }
}

#[test]
fn files_that_appear_later_are_found_and_excluded_ones_are_not() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfg = config(&[glob(dir.path(), "**/*.log*")]);
    cfg.exclude = Some(Spanned::unplaced(vec!["*.gz".to_owned()]));
    cfg.start_at = StartAt::End;
    let mut source = FileLogSource::open(&cfg, &dir.path().join("state")).expect("open");
    let sub: PathBuf = dir.path().join("later/deeper");
    std::fs::create_dir_all(&sub).expect("mkdir");
    append(&sub.join("new.log"), b"found\n");
    append(&sub.join("old.log.gz"), b"compressed\n");
    let start = Instant::now();
    let mut got = Vec::new();
    while got.is_empty() && start.elapsed() < Duration::from_secs(5) {
        source.wait(Duration::from_millis(100));
        got = messages(&source.read(10).expect("read"));
    }
    assert_eq!(got, ["found"]);
    assert_eq!(source.stats().files, 1);
}
