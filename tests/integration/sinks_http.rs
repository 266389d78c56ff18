//! The http sink against a receiver on 127.0.0.1: refusals retried until nothing is lost,
//! `Retry-After` honoured, a 400 not retried, NDJSON + gzip and `_bulk` bodies as sent,
//! basic and bearer auth, HTTPS with a test CA, and no credential in any message.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, UNIX_EPOCH};

use driftless::sinks::Batch;
use driftless::sinks::pipeline::{BatchPolicy, Pacing, Pipeline};
use driftless::sinks::retry::RetryPolicy;
use serde_json::json;

use crate::http_support;
use crate::sinks_support::{Receiver, Reply, build, open, secrets};

fn document(text: &str) -> Batch {
    Batch::document(
        text.as_bytes().to_vec(),
        UNIX_EPOCH + Duration::from_secs(1_795_654_923),
        "run1".to_owned(),
    )
}

fn fast_retry(attempts: u64) -> serde_json::Value {
    json!({ "attempts": attempts, "initial_backoff": "10ms", "max_backoff": "20ms" })
}

#[test]
fn a_stream_refused_with_503_three_times_loses_nothing() {
    let receiver = Receiver::start(vec![Reply::status(503); 3], Reply::status(200));
    let config = json!({
        "type": "http", "url": receiver.url("/ingest"), "format": "ndjson", "gzip": true,
        "retry": fast_retry(10), "batch": { "max_events": 1000, "timeout": "50ms" },
    });
    let sink = open(config.clone(), &secrets(&[]));
    let parsed: driftless::model::sinks::SinkConfig =
        serde_json::from_value(config).expect("config");
    let delivery = parsed.delivery();
    let mut pipeline = Pipeline::start(
        sink,
        BatchPolicy::of(delivery.batch),
        RetryPolicy::of(delivery.retry),
        None,
        Pacing::Free,
    )
    .expect("pipeline");
    for i in 0..2500 {
        pipeline
            .push(format!("{{\"n\":{i}}}").into_bytes())
            .expect("push");
    }
    let failures = pipeline.close();
    assert!(failures.is_empty(), "{failures:?}");
    let requests = receiver.requests();
    assert!(requests.len() >= 6, "3 refused + at least 3 accepted");
    let mut seen = BTreeSet::new();
    for (i, request) in requests.iter().enumerate() {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/ingest");
        assert_eq!(request.headers["content-encoding"], "gzip");
        assert_eq!(request.headers["content-type"], "application/x-ndjson");
        assert!(request.raw.starts_with(&[0x1f, 0x8b]), "gzip magic");
        let text = String::from_utf8(request.body.clone()).expect("utf-8");
        assert!(text.ends_with('\n'));
        if i < 3 {
            continue; // refused: not kept by the receiver
        }
        for line in text.lines() {
            let event: serde_json::Value = serde_json::from_str(line).expect("one JSON per line");
            assert!(
                seen.insert(event["n"].as_u64().expect("n")),
                "accepted twice"
            );
        }
    }
    assert_eq!(seen, (0..2500).collect::<BTreeSet<u64>>());
}

#[test]
fn retry_after_is_waited_rather_than_the_backoff() {
    let receiver = Receiver::start(
        vec![Reply::status(429).header("Retry-After", "1")],
        Reply::status(200),
    );
    let sink = build(
        json!({ "type": "http", "url": receiver.url("/"), "retry": fast_retry(3) }),
        &secrets(&[]),
    );
    sink.send(&document("{}")).expect("the second attempt");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    let waited = requests[1].at - requests[0].at;
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
}

#[test]
fn a_400_is_not_retried_and_its_reason_is_quoted() {
    let receiver = Receiver::start(
        vec![Reply::status(400).body("mapping error: field `x` is not a number\n")],
        Reply::status(200),
    );
    let sink = build(
        json!({ "type": "http", "url": receiver.url("/"), "retry": fast_retry(5) }),
        &secrets(&[]),
    );
    let error = sink.send(&document("{\"x\": \"y\"}")).expect_err("refused");
    assert!(!error.error.is_transient());
    assert_eq!(
        error.error.message,
        "POST answered HTTP 400 Bad Request: mapping error: field `x` is not a number"
    );
    assert_eq!(receiver.requests().len(), 1);
}

#[test]
fn json_sends_a_report_as_it_is() {
    let receiver = Receiver::start(Vec::new(), Reply::status(204));
    let sink = build(
        json!({ "type": "http", "url": receiver.url("/reports"), "format": "json" }),
        &secrets(&[]),
    );
    sink.send(&document("{\"run_id\": \"run1\"}\n"))
        .expect("sent");
    let requests = receiver.requests();
    assert_eq!(requests[0].headers["content-type"], "application/json");
    assert_eq!(requests[0].body, b"{\"run_id\": \"run1\"}\n");
    assert!(!requests[0].headers.contains_key("content-encoding"));
}

#[test]
fn bulk_sends_index_actions_and_resends_a_batch_with_items_refused_as_429() {
    let partly = json!({ "took": 1, "errors": true, "items": [
        { "index": { "status": 201 } },
        { "index": { "status": 429, "error": { "type": "es_rejected_execution_exception", "reason": "queue full" } } },
    ]});
    let accepted = json!({ "took": 1, "errors": false, "items": [
        { "index": { "status": 201 } }, { "index": { "status": 201 } },
    ]});
    let receiver = Receiver::start(
        vec![Reply::status(200).body(&partly.to_string())],
        Reply::status(200).body(&accepted.to_string()),
    );
    let sink = build(
        json!({
            "type": "http", "url": receiver.url("/_bulk"), "format": "elasticsearch_bulk",
            "index": "driftless-%Y.%m.%d", "retry": fast_retry(3),
        }),
        &secrets(&[]),
    );
    let batch = Batch {
        events: vec![b"{\"n\":1}".to_vec(), b"a plain line".to_vec()],
        document: false,
        ..document("")
    };
    sink.send(&batch)
        .expect("acknowledged on the second attempt");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2, "the whole batch sent again");
    assert_eq!(requests[0].body, requests[1].body);
    assert_eq!(
        String::from_utf8(requests[0].body.clone()).expect("utf-8"),
        "{\"index\":{\"_index\":\"driftless-2026.11.26\"}}\n{\"n\":1}\n\
         {\"index\":{\"_index\":\"driftless-2026.11.26\"}}\n{\"message\":\"a plain line\"}\n"
    );
}

#[test]
fn basic_and_bearer_auth_are_sent_and_never_shown() {
    let password = "pa55-word-of-the-test";
    let token = "t0ken-of-the-test";
    // The receiver refuses, echoing what it got (as some do): the message must not hold it.
    let receiver = Receiver::start(
        vec![
            Reply::status(200),
            Reply::status(401).body(&format!("bad credentials: Bearer {token}")),
        ],
        Reply::status(200),
    );
    let secrets = secrets(&[("ES_PASSWORD", password), ("ES_TOKEN", token)]);
    let basic = build(
        json!({ "type": "http", "url": receiver.url("/"),
                "auth": { "type": "basic", "user": "elastic", "password": { "secret": "ES_PASSWORD" } } }),
        &secrets,
    );
    basic.send(&document("{}")).expect("sent");
    let bearer = build(
        json!({ "type": "http", "url": receiver.url("/"),
                "auth": { "type": "bearer", "token": { "secret": "ES_TOKEN" } } }),
        &secrets,
    );
    let error = bearer.send(&document("{}")).expect_err("401");
    assert!(!error.error.is_transient());
    assert_eq!(
        error.error.message,
        "POST answered HTTP 401 Unauthorized: bad credentials: Bearer ***"
    );
    let requests = receiver.requests();
    use base64::Engine;
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("elastic:{password}"));
    assert_eq!(
        requests[0].headers["authorization"],
        format!("Basic {expected}")
    );
    assert_eq!(
        requests[1].headers["authorization"],
        format!("Bearer {token}")
    );
    for text in [format!("{error:?}"), bearer.describe(), basic.describe()] {
        assert!(!text.contains(token) && !text.contains(password), "{text}");
    }
}

#[test]
fn a_secret_that_is_not_set_is_named_and_nothing_is_sent() {
    let config: driftless::model::sinks::SinkConfig = serde_json::from_value(json!({
        "type": "http", "url": "http://127.0.0.1:9/",
        "auth": { "type": "header", "name": "X-Api-Key", "value": { "secret": "API_KEY" } },
    }))
    .expect("config");
    let secrets = secrets(&[]);
    let error = driftless::sinks::build(
        &config,
        &driftless::sinks::BuildContext {
            secrets: &secrets,
            host: "h",
        },
    )
    .err()
    .expect("no secret");
    assert_eq!(
        error.message,
        "`auth.value`: the secret `API_KEY` is not set in the test's secrets"
    );
}

#[test]
fn a_header_credential_with_its_prefix() {
    let receiver = Receiver::start(Vec::new(), Reply::status(200));
    let sink = build(
        json!({ "type": "http", "url": receiver.url("/"),
                "auth": { "type": "header", "name": "Authorization", "prefix": "ApiKey ",
                          "value": { "secret": "API_KEY" } } }),
        &secrets(&[("API_KEY", "k3y")]),
    );
    sink.send(&document("{}")).expect("sent");
    assert_eq!(
        receiver.requests()[0].headers["authorization"],
        "ApiKey k3y"
    );
}

#[test]
fn connection_refused_is_transient_and_retried_until_given_up() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let sink = build(
        json!({ "type": "http", "url": format!("http://127.0.0.1:{port}/"), "retry": fast_retry(2) }),
        &secrets(&[]),
    );
    let started = Instant::now();
    let error = sink.send(&document("{}")).expect_err("nobody listens");
    assert!(error.error.is_transient(), "{}", error.error);
    assert!(
        error.error.message.contains("(gave up after 2 attempts)"),
        "{}",
        error.error
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(sink.health().is_err());
}

#[test]
fn https_with_the_test_ca_and_not_without_it() {
    let server = http_support::Server::https("unused");
    let ca = server.ca().display().to_string();
    let trusted = build(
        json!({ "type": "http", "url": server.url("/ingest"), "ca_file": ca, "gzip": true }),
        &secrets(&[]),
    );
    trusted
        .send(&document("{\"a\":1}\n"))
        .expect("sent over TLS");
    trusted.health().expect("healthy");
    let posted: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r["method"] == "POST")
        .collect();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(posted[0]["path"], "/ingest");
    assert_eq!(posted[0]["body"], "{\"a\":1}\n");
    let untrusted = build(
        json!({ "type": "http", "url": server.url("/ingest"), "retry": fast_retry(3) }),
        &secrets(&[]),
    );
    let error = untrusted.send(&document("{}")).expect_err("unknown CA");
    assert!(!error.error.is_transient(), "{}", error.error);
    assert!(error.error.message.contains("TLS"), "{}", error.error);
}
