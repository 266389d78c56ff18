//! The s3 sink against a real S3 server (SeaweedFS, signatures checked): a `driftless apply`
//! run sends its report to a directory, an HTTP receiver and a bucket at once (the object
//! listed, read back, gunzipped: the same report); wrong credentials are a warning naming S3's error code, with no secret in
//! any output; a large object goes up in parts; the health check is a HEAD of the bucket.

use std::time::{Duration, UNIX_EPOCH};

use driftless::sinks::Batch;
use serde_json::json;

use crate::common::World;
use crate::sinks_support::{
    ACCESS_KEY_ID, Receiver, Reply, SECRET_ACCESS_KEY, SeaweedS3, build, found_under, gunzip,
    secrets,
};

const APPLY: &str = "apply:\n  - {id: f, type: file, path: \"{{ root }}/f\", content: \"x\\n\"}\n";

/// A world whose reports go to its directory and to the bucket `driftless` of `s3`, with
/// the credentials in the secrets `S3_KEY_ID` and `S3_SECRET`.
fn world_reporting_to(s3: &SeaweedS3, secret: &str) -> World {
    let mut world = World::new(APPLY);
    world.config_file(
        "main.yaml",
        &format!(
            "settings:\n  audit:\n    - type: directory\n      path: \"{}\"\n    - type: s3\n      \
             bucket: driftless\n      prefix: \"reports/{{host}}/\"\n      endpoint: \"{}\"\n      \
             access_key_id: {{ secret: S3_KEY_ID }}\n      secret_access_key: {{ secret: S3_SECRET }}\n      \
             retry: {{ attempts: 2, initial_backoff: 10ms }}\n{APPLY}",
            world.audit.display(),
            s3.endpoint(),
        ),
    );
    world
        .envs
        .push(("S3_KEY_ID".to_owned(), ACCESS_KEY_ID.to_owned()));
    world.envs.push(("S3_SECRET".to_owned(), secret.to_owned()));
    world
}

#[test]
fn an_apply_run_sends_its_report_to_a_directory_an_http_endpoint_and_a_bucket_at_once() {
    let s3 = SeaweedS3::start();
    let receiver = Receiver::start(Vec::new(), Reply::status(201));
    let mut world = world_reporting_to(&s3, SECRET_ACCESS_KEY);
    let token = "Bearer-t0ken-of-the-report-test";
    let main = std::fs::read_to_string(world.config.join("main.yaml")).expect("main.yaml");
    let http = format!(
        "    - type: http\n      url: \"{}\"\n      format: json\n      gzip: true\n      \
         auth: {{ type: bearer, token: {{ secret: REPORT_TOKEN }} }}\napply:",
        receiver.url("/reports")
    );
    world.config_file("main.yaml", &main.replacen("apply:", &http, 1));
    world
        .envs
        .push(("REPORT_TOKEN".to_owned(), token.to_owned()));
    let run = world.run(&["apply"]);
    assert!(!run.all().contains(token), "{}", run.all());
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!run.all().contains("warning"), "{}", run.all());
    let keys = s3.list("driftless", "reports/");
    assert_eq!(keys.len(), 1, "{keys:?}");
    let reports = world.reports();
    assert_eq!(reports.len(), 1);
    let run_id = reports[0]["run_id"].as_str().expect("run id");
    let host = reports[0]["host"]["hostname"].as_str().expect("host");
    assert!(
        keys[0].starts_with(&format!("reports/{host}/"))
            && keys[0].ends_with(&format!("Z-{host}-{run_id}.json.gz")),
        "{}",
        keys[0]
    );
    let (object, _) = s3.get("driftless", &keys[0]);
    let from_s3: serde_json::Value =
        serde_json::from_slice(&gunzip(&object)).expect("the object gunzips to JSON");
    assert_eq!(from_s3, reports[0], "the same report in both sinks");
    let posted = receiver.requests();
    assert_eq!(posted.len(), 1);
    assert_eq!(
        posted[0].headers["authorization"],
        format!("Bearer {token}")
    );
    assert_eq!(posted[0].headers["content-encoding"], "gzip");
    let from_http: serde_json::Value =
        serde_json::from_slice(&posted[0].body).expect("the body is the report");
    assert_eq!(from_http, reports[0], "the same report over HTTP");
}

#[test]
fn wrong_credentials_are_a_warning_naming_the_error_and_no_secret_anywhere() {
    let s3 = SeaweedS3::start();
    let wrong = "Wr0ng-Secret-Key-never-shown";
    let world = world_reporting_to(&s3, wrong);
    let run = world.run(&["apply"]);
    assert_eq!(
        run.code,
        0,
        "a report sink's failure never fails the run:\n{}",
        run.all()
    );
    let warning = run
        .stderr
        .lines()
        .find(|l| l.contains("the run report was not saved"))
        .unwrap_or_else(|| panic!("no warning:\n{}", run.all()));
    assert!(
        warning.contains("s3 bucket driftless")
            && warning.contains("answered HTTP 403")
            && warning.contains("SignatureDoesNotMatch"),
        "{warning}"
    );
    for secret in [wrong, SECRET_ACCESS_KEY, ACCESS_KEY_ID] {
        assert!(
            !run.all().contains(secret),
            "{secret} shown:\n{}",
            run.all()
        );
        assert!(
            !found_under(world.temp.path(), secret),
            "{secret} in a file"
        );
    }
    // The directory sink still got the report.
    assert_eq!(world.reports().len(), 1);
    assert!(s3.list("driftless", "reports/").is_empty());
}

#[test]
fn a_large_object_goes_up_in_parts_and_reads_back_whole() {
    let s3 = SeaweedS3::start();
    let sink = build(
        json!({
            "type": "s3", "bucket": "driftless", "endpoint": s3.endpoint(), "gzip": false,
            "key": "big/{id}.ndjson", "part_size": 5 << 20,
        }),
        &secrets(&[
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
        ]),
    );
    // 12 MiB of distinct lines: three parts of 5, 5 and 2 MiB.
    let events: Vec<Vec<u8>> = (0..120_000)
        .map(|i| format!("{{\"n\":{i:08},\"pad\":\"{}\"}}", "x".repeat(80)).into_bytes())
        .collect();
    let batch = Batch {
        events,
        time: UNIX_EPOCH + Duration::from_secs(1_795_654_923),
        id: "7".to_owned(),
        document: false,
    };
    let expected = batch.lines();
    assert!(expected.len() > 10 << 20);
    sink.send(&batch).expect("uploaded");
    let (object, etag) = s3.get("driftless", "big/7.ndjson");
    assert_eq!(object.len(), expected.len());
    assert!(object == expected, "the object is the batch");
    // A multipart object's ETag is the digest of its parts' digests, then `-<parts>`.
    assert!(etag.trim_matches('"').ends_with("-3"), "{etag}");
}

#[test]
fn health_is_a_head_of_the_bucket_with_the_credentials() {
    let s3 = SeaweedS3::start();
    let config = |bucket: &str| {
        json!({ "type": "s3", "bucket": bucket, "endpoint": s3.endpoint(),
                "retry": { "attempts": 1 } })
    };
    let good = secrets(&[
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
    ]);
    build(config("driftless"), &good)
        .health()
        .expect("the bucket is there");
    let error = build(config("no-such-bucket"), &good)
        .health()
        .expect_err("no bucket");
    assert!(error.message.contains("404"), "{error}");
    let bad = secrets(&[
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", "not-the-key"),
    ]);
    let sink = build(config("driftless"), &bad);
    let error = sink.health().expect_err("refused");
    assert!(error.message.contains("403"), "{error}");
    // A PUT with them says why, from S3's error document, and is not retried.
    let error = sink
        .send(&Batch::document(b"{}".to_vec(), UNIX_EPOCH, "r".to_owned()))
        .expect_err("refused");
    assert!(!error.error.is_transient(), "{}", error.error);
    assert!(
        error.error.message.contains("SignatureDoesNotMatch"),
        "{}",
        error.error
    );
    assert!(!error.error.message.contains("not-the-key"));
    assert!(!error.error.message.contains(ACCESS_KEY_ID));
}

#[test]
fn a_multipart_upload_whose_part_is_refused_is_aborted() {
    // A store that starts the upload, then refuses the first part for good.
    let created = "<?xml version=\"1.0\"?><InitiateMultipartUploadResult \
        xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>b</Bucket><Key>k</Key>\
        <UploadId>upload-42</UploadId></InitiateMultipartUploadResult>";
    let refused = "<Error><Code>EntityTooLarge</Code><Message>too large</Message></Error>";
    let receiver = Receiver::start(
        vec![
            Reply::status(200).body(created),
            Reply::status(400).body(refused),
        ],
        Reply::status(204),
    );
    let sink = build(
        json!({
            "type": "s3", "bucket": "driftless", "endpoint": receiver.url(""), "gzip": false,
            "key": "big/{id}", "part_size": 5 << 20, "retry": { "attempts": 3 },
        }),
        &secrets(&[
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
        ]),
    );
    let batch = Batch {
        events: vec![vec![b'x'; 6 << 20]],
        time: UNIX_EPOCH,
        id: "1".to_owned(),
        document: false,
    };
    let error = sink.send(&batch).expect_err("the part is refused");
    assert!(!error.error.is_transient(), "{}", error.error);
    assert_eq!(
        error.error.message,
        "UploadPart 1 of big/1 answered HTTP 400 Bad Request: EntityTooLarge: too large"
    );
    let requests = receiver.requests();
    let calls: Vec<(String, String)> = requests
        .iter()
        .map(|r| {
            let (path, query) = r.path.split_once('?').unwrap_or((&r.path, ""));
            let action = query
                .split('&')
                .filter(|p| ["uploads=1", "partNumber=1", "uploadId=upload-42"].contains(p))
                .collect::<Vec<_>>()
                .join("&");
            (format!("{} {path}", r.method), action)
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("POST /driftless/big/1".to_owned(), "uploads=1".to_owned()),
            (
                "PUT /driftless/big/1".to_owned(),
                "partNumber=1&uploadId=upload-42".to_owned()
            ),
            (
                "DELETE /driftless/big/1".to_owned(),
                "uploadId=upload-42".to_owned()
            ),
        ]
    );
    // Signed by query string: the secret key itself is never sent.
    assert!(
        requests
            .iter()
            .all(|r| r.path.contains("X-Amz-Signature=") && !r.path.contains(SECRET_ACCESS_KEY))
    );
}
