//! The log outputs, each opened through `logs::log_outputs::open` and fed records through a
//! `sinks::pipeline::Pipeline` as a log pipeline runs them, against the real receivers of the
//! sink tests: SeaweedFS for s3 (signatures checked), rsyslog for syslog, the scripted HTTP
//! receiver for NDJSON and `_bulk`. The file output: rotation by size with gzip of the
//! rotated files (read back), rotation by the time in its name, and a crash in the middle of
//! a batch (the file cut in a line) that leaves every later line whole.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use driftless::logs::LogEvent;
use driftless::logs::log_outputs::{OpenOutput, OutputContext, open};
use driftless::model::logs::LogOutput;
use driftless::secrets::Secrets;
use driftless::sinks::Batch;
use driftless::sinks::pipeline::{Pacing, Pipeline};
use serde_json::{Value, json};

use crate::sink_syslog::Rsyslog;
use crate::sinks_support::{
    ACCESS_KEY_ID, Receiver, Reply, SECRET_ACCESS_KEY, SeaweedS3, gunzip, secrets,
};

/// Batches of `max_events`, cut fast, retried fast.
fn delivery(max_events: u64) -> Value {
    json!({
        "batch": { "max_events": max_events, "timeout": "20ms" },
        "retry": { "attempts": 3, "initial_backoff": "10ms", "max_backoff": "50ms" },
    })
}

/// An output of `type` with `fields` and the fast delivery, as the model reads it.
fn output(kind: &str, fields: Value, max_events: u64) -> LogOutput {
    let mut fields = fields;
    if let (Some(fields), Value::Object(layers)) = (fields.as_object_mut(), delivery(max_events)) {
        for (name, value) in layers {
            fields.entry(name).or_insert(value);
        }
    }
    serde_json::from_value(json!({ kind: fields })).unwrap_or_else(|e| panic!("{kind}: {e}"))
}

fn opened(output: &LogOutput, state_dir: &Path, secrets: &Secrets) -> OpenOutput {
    let cx = OutputContext {
        host: "web1",
        secrets,
        pipeline: "app",
        state_dir,
    };
    open(output, &cx).unwrap_or_else(|e| panic!("open: {e}"))
}

/// Record `n` of the test's stream: its number in a field and in the message.
fn record(n: usize) -> LogEvent {
    let mut event = LogEvent::new(format!("line {n:05}"), Arc::from("/var/log/app.log"));
    event.set("seq", Value::from(n));
    event
}

/// Runs the records `range` through `output` as a pipeline does, and waits until every one is
/// delivered.
fn run(output: OpenOutput, range: std::ops::Range<usize>) {
    let mut pipeline = Pipeline::start(
        output.sink,
        output.batch,
        output.retry,
        output.spool,
        Pacing::Free,
    )
    .expect("pipeline");
    for n in range {
        pipeline
            .push(output.encoding.encode(&record(n)))
            .expect("push");
    }
    let failures = pipeline.close();
    assert!(failures.is_empty(), "{failures:?}");
}

/// The `seq` of each JSON line of `text`.
fn seqs(text: &str) -> Vec<u64> {
    text.lines()
        .map(|line| {
            let record: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            assert_eq!(record["file"], "/var/log/app.log", "{line}");
            record["seq"].as_u64().expect("seq")
        })
        .collect()
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    names.sort();
    names
}

#[test]
fn the_file_output_rotates_by_size_keeps_its_newest_files_and_gzips_them() {
    let temp = tempfile::tempdir().expect("temp");
    let dir = temp.path().join("collected");
    let path = dir.join("app.log");
    let file = output(
        "file",
        json!({ "path": path, "rotate": { "max_bytes": 2000, "keep": 3, "gzip": true } }),
        10,
    );
    run(opened(&file, temp.path(), &secrets(&[])), 0..200);

    assert_eq!(
        names(&dir),
        ["app.log", "app.log.1.gz", "app.log.2.gz", "app.log.3.gz"]
    );
    // Oldest to newest, the files hold one run of records without a gap, ending at the last.
    let mut kept = Vec::new();
    for name in ["app.log.3.gz", "app.log.2.gz", "app.log.1.gz"] {
        let text = String::from_utf8(gunzip(&std::fs::read(dir.join(name)).expect("read")))
            .expect("utf-8");
        assert!(text.len() <= 2000, "{name}: {} bytes", text.len());
        kept.extend(seqs(&text));
    }
    let current = std::fs::read_to_string(&path).expect("current");
    assert!(current.len() <= 2000);
    kept.extend(seqs(&current));
    let first = kept[0];
    let expected: Vec<u64> = (first..200).collect();
    assert_eq!(kept, expected);
    assert!(first > 0, "older files were removed");
}

#[test]
fn the_file_output_starts_a_new_file_when_the_time_in_its_name_changes() {
    let temp = tempfile::tempdir().expect("temp");
    let dir = temp.path().join("collected");
    let file = output(
        "file",
        json!({
            "path": dir.join("app-%Y-%m-%d.log"), "encoding": "text",
            "rotate": { "keep": 2, "gzip": true },
        }),
        10,
    );
    let out = opened(&file, temp.path(), &secrets(&[]));
    let day = |d: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_654_923 + d * 86_400);
    for d in 0..4 {
        let batch = Batch {
            events: vec![format!("day {d}").into_bytes(), b"more".to_vec()],
            time: day(d),
            id: d.to_string(),
            document: false,
        };
        out.sink.send(&batch).expect("send");
    }
    assert_eq!(
        names(&dir),
        [
            "app-2026-11-27.log.gz",
            "app-2026-11-28.log.gz",
            "app-2026-11-29.log"
        ]
    );
    let read_gz = |name: &str| {
        String::from_utf8(gunzip(&std::fs::read(dir.join(name)).expect("read"))).expect("utf-8")
    };
    assert_eq!(read_gz("app-2026-11-27.log.gz"), "day 1\nmore\n");
    assert_eq!(read_gz("app-2026-11-28.log.gz"), "day 2\nmore\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("app-2026-11-29.log")).expect("read"),
        "day 3\nmore\n"
    );
}

#[test]
fn a_crash_in_the_middle_of_a_batch_leaves_every_later_line_whole() {
    let temp = tempfile::tempdir().expect("temp");
    let path = temp.path().join("app.log");
    let file = output("file", json!({ "path": path }), 7);
    run(opened(&file, temp.path(), &secrets(&[])), 0..50);
    // The process died while writing record 30: the file ends in the middle of its line.
    let text = std::fs::read_to_string(&path).expect("read");
    let cut = text.find("\"seq\":30").expect("record 30") + 4;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_len(cut as u64))
        .expect("truncate");
    // The next process sends again what was not acknowledged, from record 28 (its batch).
    run(opened(&file, temp.path(), &secrets(&[])), 28..60);

    let text = std::fs::read_to_string(&path).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 30 + 1 + 32, "{text}");
    assert!(
        serde_json::from_str::<Value>(lines[30]).is_err(),
        "the cut line stays alone on its line: {}",
        lines[30]
    );
    let before: Vec<u64> = seqs(&lines[..30].join("\n"));
    let after: Vec<u64> = seqs(&lines[31..].join("\n"));
    assert_eq!(before, (0..30).collect::<Vec<u64>>());
    assert_eq!(after, (28..60).collect::<Vec<u64>>());
    assert!(text.ends_with('\n'));
}

#[test]
fn the_s3_output_puts_each_batch_as_a_gzipped_ndjson_object_named_by_host_and_pipeline() {
    let s3 = SeaweedS3::start();
    let temp = tempfile::tempdir().expect("temp");
    let keys = secrets(&[
        ("LOG_S3_KEY", ACCESS_KEY_ID),
        ("LOG_S3_SECRET", SECRET_ACCESS_KEY),
    ]);
    let bucket = output(
        "s3",
        json!({
            "bucket": "driftless", "prefix": "logs/{pipeline}/", "endpoint": s3.endpoint(),
            "access_key_id": { "secret": "LOG_S3_KEY" },
            "secret_access_key": { "secret": "LOG_S3_SECRET" },
        }),
        10,
    );
    let out = opened(&bucket, temp.path(), &keys);
    let spool = out
        .spool
        .clone()
        .expect("a network output spools by default");
    assert!(spool.path.starts_with(temp.path()));
    run(out, 0..25);

    let mut listed = s3.list("driftless", "logs/app/");
    listed.sort_by_key(|key| {
        let batch = key.rsplit('-').next().unwrap_or_default();
        batch
            .split('.')
            .next()
            .unwrap_or_default()
            .parse::<u64>()
            .unwrap_or(0)
    });
    let mut delivered = Vec::new();
    for key in &listed {
        assert!(
            key.contains("-web1-app-") && key.ends_with(".ndjson.gz"),
            "{key}"
        );
        let (bytes, _) = s3.get("driftless", key);
        delivered.extend(seqs(&String::from_utf8(gunzip(&bytes)).expect("utf-8")));
    }
    assert_eq!(delivered, (0..25).collect::<Vec<u64>>());
    assert_eq!(
        std::fs::read_dir(&spool.path).expect("spool").count(),
        0,
        "the spool is empty once the store has everything"
    );
}

#[test]
fn the_http_output_posts_ndjson_and_elasticsearch_bulk() {
    let receiver = Receiver::start(Vec::new(), Reply::status(200));
    let bulk_receiver = Receiver::start(
        Vec::new(),
        Reply::status(200).body(r#"{"took":1,"errors":false,"items":[]}"#),
    );
    let temp = tempfile::tempdir().expect("temp");
    let ndjson = output("http", json!({ "url": receiver.url("/in") }), 10);
    run(opened(&ndjson, temp.path(), &secrets(&[])), 0..15);
    let bulk = output(
        "http",
        json!({ "url": bulk_receiver.url("/_bulk"), "format": "elasticsearch_bulk" }),
        5,
    );
    run(opened(&bulk, temp.path(), &secrets(&[])), 0..5);

    let requests = receiver.requests();
    let mut delivered = Vec::new();
    for request in &requests {
        assert_eq!(request.path, "/in");
        assert_eq!(request.headers["content-type"], "application/x-ndjson");
        delivered.extend(seqs(&String::from_utf8_lossy(&request.body)));
    }
    assert_eq!(delivered, (0..15).collect::<Vec<u64>>());

    let requests = bulk_receiver.requests();
    assert_eq!(requests.len(), 1);
    let body = String::from_utf8_lossy(&requests[0].body).into_owned();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 10, "{body}");
    let index = format!(
        "logs-app-{}",
        driftless::clock::strftime("%Y.%m.%d", SystemTime::now()).expect("date")
    );
    for (i, pair) in lines.chunks(2).enumerate() {
        let action: Value = serde_json::from_str(pair[0]).expect("action");
        assert_eq!(action, json!({ "index": { "_index": index } }));
        assert_eq!(seqs(pair[1]), [i as u64]);
    }
}

#[test]
fn the_syslog_output_sends_each_record_as_one_message_to_rsyslog() {
    let rsyslog = Rsyslog::start();
    let temp = tempfile::tempdir().expect("temp");
    let udp = output(
        "syslog",
        json!({ "address": format!("127.0.0.1:{}", rsyslog.udp), "facility": "local3" }),
        4,
    );
    run(opened(&udp, temp.path(), &secrets(&[])), 0..3);
    let tcp = output(
        "syslog",
        json!({
            "address": format!("127.0.0.1:{}", rsyslog.tcp), "protocol": "tcp",
            "format": "rfc3164", "hostname": "web1", "encoding": "json",
        }),
        4,
    );
    run(opened(&tcp, temp.path(), &secrets(&[])), 3..5);

    let lines = rsyslog.lines(5);
    let fields: Vec<Vec<String>> = lines
        .iter()
        .map(|line| {
            line.splitn(5, '|')
                .map(|f| f.trim_start().to_owned())
                .collect()
        })
        .collect();
    // local3.info = 19 × 8 + 6 = 158, RFC 5424 over UDP: the record's text as the message,
    // the pipeline's id as the app name.
    let mut udp_messages: Vec<&str> = fields
        .iter()
        .filter(|f| f[3] == "1")
        .map(|f| {
            assert_eq!(f[..3], ["158", "web1", "app"], "{lines:?}");
            f[4].as_str()
        })
        .collect();
    udp_messages.sort();
    assert_eq!(udp_messages, ["line 00000", "line 00001", "line 00002"]);
    // user.info = 14, RFC 3164 over TCP, JSON records.
    let tcp_records: Vec<u64> = fields
        .iter()
        .filter(|f| f[3] == "0")
        .flat_map(|f| {
            assert_eq!(f[..3], ["14", "web1", "app"], "{lines:?}");
            seqs(&f[4])
        })
        .collect();
    assert_eq!(tcp_records, [3, 4]);
}

#[test]
fn the_console_output_writes_and_acknowledges_without_a_spool() {
    let temp = tempfile::tempdir().expect("temp");
    let console = output(
        "console",
        json!({ "stream": "stderr", "encoding": "text" }),
        10,
    );
    let out = opened(&console, temp.path(), &secrets(&[]));
    assert_eq!(out.sink.describe(), "console (stderr)");
    assert!(out.spool.is_none());
    let mut pipeline =
        Pipeline::start(out.sink, out.batch, out.retry, out.spool, Pacing::Free).expect("pipeline");
    for n in 0..3 {
        pipeline
            .push(out.encoding.encode(&record(n)))
            .expect("push");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while pipeline.safe() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(pipeline.safe(), 3);
    assert!(pipeline.close().is_empty());
    assert_eq!(names(temp.path()), Vec::<String>::new(), "nothing on disk");
}
