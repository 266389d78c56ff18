//! Log pipelines into real receivers: an HTTP receiver that is down for thirty seconds (nothing
//! is lost, delivery resumes), SeaweedFS's S3 (signatures checked) and rsyslog over TCP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::logs_support::{LogsWorld, append_lines, check_every_number, numbers_in};
use crate::sink_syslog::Rsyslog;
use crate::sinks_support::{ACCESS_KEY_ID, SECRET_ACCESS_KEY, SeaweedS3, gunzip};

/// An HTTP receiver on `port` that answers 200 to every POST and keeps the bodies.
fn receive_on(listener: TcpListener, bodies: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let bodies = bodies.clone();
            std::thread::spawn(move || {
                let Ok(mut writer) = stream.try_clone() else {
                    return;
                };
                let mut reader = BufReader::new(stream);
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 {
                            return;
                        }
                        let header = header.trim_end().to_ascii_lowercase();
                        if header.is_empty() {
                            break;
                        }
                        if let Some(value) = header.strip_prefix("content-length:") {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    bodies
                        .lock()
                        .expect("lock")
                        .push(String::from_utf8_lossy(&body).into_owned());
                    let reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                    if writer.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
}

#[test]
fn an_http_output_down_for_thirty_seconds_loses_nothing_and_delivery_resumes() {
    let port = crate::facts_support::free_port();
    let world = LogsWorld::new(&format!(
        "logs:\n  - id: app\n    source: {{ type: file, paths: [\"{{in}}/app.log\"], start_at: beginning }}\n    outputs:\n      - type: http\n        url: \"http://127.0.0.1:{port}/ingest\"\n        encoding: text\n        batch: {{ max_events: 500, timeout: 100ms }}\n        retry: {{ initial_backoff: 100ms, max_backoff: 1s }}\n"
    ));
    const TOTAL: u64 = 20_000;
    append_lines(&world.input("app.log"), 0..TOTAL / 2);
    let started = Instant::now();
    let mut child = world
        .command(&["logs", "--once"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start driftless logs --once");
    // The receiver is down (nothing listens: connections are refused) while more is written.
    std::thread::sleep(Duration::from_secs(5));
    append_lines(&world.input("app.log"), TOTAL / 2..TOTAL);
    std::thread::sleep(Duration::from_secs(25));
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "`logs --once` must wait for its receiver, not give up"
    );
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the receiver's port");
    let up = Instant::now();
    receive_on(listener, bodies.clone());
    let status = child.wait().expect("wait");
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    assert!(status.success(), "logs --once failed: {stderr}");
    assert!(
        up.elapsed() < Duration::from_secs(20),
        "delivery resumed {:?} after the receiver came up",
        up.elapsed()
    );
    assert!(started.elapsed() >= Duration::from_secs(30));
    let text = bodies.lock().expect("lock").concat();
    // The first run read what was there when it started reading; a second ships the rest.
    let first = numbers_in(&text);
    assert!(first.len() as u64 >= TOTAL / 2, "{} records", first.len());
    let run = world.once();
    let _ = run;
    let text = bodies.lock().expect("lock").concat();
    check_every_number(&numbers_in(&text), TOTAL);
}

#[test]
fn lines_reach_a_real_s3_server_with_signed_requests() {
    let s3 = SeaweedS3::start();
    s3.create_bucket("logs").expect("bucket");
    let mut world = LogsWorld::new(&format!(
        "logs:\n  - id: app\n    source: {{ type: file, paths: [\"{{in}}/app.log\"], start_at: beginning }}\n    outputs:\n      - type: s3\n        bucket: logs\n        prefix: \"app/\"\n        endpoint: \"{endpoint}\"\n        region: us-east-1\n        access_key_id: {{ secret: S3_KEY }}\n        secret_access_key: {{ secret: S3_SECRET }}\n        encoding: text\n        batch: {{ max_events: 2000 }}\n",
        endpoint = s3.endpoint()
    ));
    world.envs = vec![
        ("S3_KEY".to_owned(), ACCESS_KEY_ID.to_owned()),
        ("S3_SECRET".to_owned(), SECRET_ACCESS_KEY.to_owned()),
    ];
    append_lines(&world.input("app.log"), 0..5_000);
    let run = world.once();
    assert!(!run.all().contains(SECRET_ACCESS_KEY));
    let keys = s3.list("logs", "app/");
    assert!(keys.len() >= 3, "one object per batch: {keys:?}");
    let mut text = String::new();
    for key in keys {
        let (bytes, _) = s3.get("logs", &key);
        let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
            gunzip(&bytes)
        } else {
            bytes
        };
        text.push_str(&String::from_utf8_lossy(&bytes));
    }
    assert_eq!(check_every_number(&numbers_in(&text), 5_000), 0);
}

#[test]
fn lines_reach_a_real_rsyslog_over_tcp() {
    let rsyslog = Rsyslog::start();
    let world = LogsWorld::new(&format!(
        "logs:\n  - id: app\n    source: {{ type: file, paths: [\"{{in}}/app.log\"], start_at: beginning }}\n    outputs:\n      - type: syslog\n        address: \"127.0.0.1:{tcp}\"\n        protocol: tcp\n",
        tcp = rsyslog.tcp
    ));
    append_lines(&world.input("app.log"), 0..2_000);
    world.once();
    let lines = rsyslog.lines(2_000);
    assert_eq!(check_every_number(&numbers_in(&lines.join("\n")), 2_000), 0);
    // The record's message is the syslog message, sent as the pipeline's app.
    assert!(
        lines[0].ends_with("|seq=0000000 lorem ipsum dolor sit amet"),
        "{}",
        lines[0]
    );
}
