//! `uri` against a real server on 127.0.0.1: a `GET` observed when planning (status and body
//! digest in the plan, `no-op`), a `POST` of a JSON body with a secret header (sent, never
//! shown), an unexpected status that fails the node quoting the body, `creates`/`removes`
//! guards and a second apply that changes nothing, `register` + `when` on the answer, and a
//! dry run that sends nothing but the observing `GET`.

use crate::common::{self, World};
use crate::http_support::{Server, sha256_hex};

fn uri(url: &str, extra: &str) -> String {
    format!("apply:\n  - type: uri\n    id: call\n    url: \"{url}\"\n{extra}")
}

#[test]
fn a_get_is_observed_when_planning_and_changes_nothing() {
    let server = Server::http("t");
    server.put("health", b"ok\n");
    let world = World::new(&uri(&server.url("/files/health"), ""));
    let (path, plan) = world.plan();
    let node = common::node(&plan, "apply.call");
    assert_eq!(node["action"], "no-op", "{node:#}");
    assert_eq!(node["before"]["answer"]["status"], 200);
    assert_eq!(
        node["before"]["answer"]["content_sha256"],
        sha256_hex(b"ok\n")
    );
    assert_eq!(node["before"]["answer"]["content_length"], 3);
    let show = world.run(&["show", path.to_str().expect("utf-8")]).stdout;
    assert!(show.contains("answered when planning: HTTP 200"), "{show}");
    let run = world.apply();
    assert_eq!(run.status_of("apply.call").as_deref(), Some("unchanged"));
    world.assert_converged();
}

#[test]
fn a_post_sends_its_json_body_and_secret_header_which_are_never_shown() {
    let secret = "s3cr3t-uri-7b2c91";
    let server = Server::http("t");
    let mut world = World::new(&uri(
        &server.url("/api/items"),
        "    method: POST\n    body_format: json\n    body: {name: app, replicas: 2}\n    status_code: [200, 201]\n    headers:\n      X-Token: \"{{ secrets.TOKEN }}\"\n",
    ));
    world.envs.push(("TOKEN".to_owned(), secret.to_owned()));
    let (path, plan) = world.plan();
    let node = common::node(&plan, "apply.call");
    assert_eq!(node["action"], "run");
    assert_eq!(node["after"]["headers"]["X-Token"], "(sensitive)");
    assert_eq!(node["after"]["headers"]["Content-Type"], "application/json");
    assert_eq!(node["after_sensitive"]["headers"]["X-Token"], true);
    // A POST is not sent when planning.
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    let show = world.run(&["show", path.to_str().expect("utf-8")]);
    let dry = world.run(&["apply", "--dry-run"]);
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.status_of("apply.call").as_deref(), Some("changed"));
    let sent = &server.requests()[0];
    assert_eq!(sent["method"], "POST");
    let body: serde_json::Value =
        serde_json::from_str(sent["body"].as_str().expect("body")).expect("a JSON body");
    assert_eq!(body, serde_json::json!({"name": "app", "replicas": 2}));
    let token = sent["headers"]
        .as_object()
        .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case("x-token")))
        .map(|(_, v)| v.clone());
    assert_eq!(token, Some(serde_json::Value::from(secret)));
    let reports = serde_json::to_string(&world.reports()).expect("json");
    for output in [
        show.all(),
        dry.all(),
        run.all(),
        reports,
        common::read(&path),
    ] {
        assert!(!output.contains(secret), "the secret leaked:\n{output}");
    }
}

#[test]
fn an_unexpected_status_fails_the_node_with_the_status_and_the_body() {
    let server = Server::http("t");
    let world = World::new(&format!(
        "{}  - type: file\n    path: \"{{{{ root }}}}/after\"\n    content: x\n    depends_on: [call]\n",
        uri(&server.url("/status/503"), "")
    ));
    let (_, plan) = world.plan();
    let node = common::node(&plan, "apply.call");
    // Not what was expected when planning: sent again when the node runs (it changes
    // nothing).
    assert_eq!(node["action"], "check");
    assert_eq!(node["before"]["answer"]["status"], 503);
    let run = world.run(&["apply"]);
    assert_ne!(run.code, 0, "{}", run.all());
    let out = run.all();
    assert!(out.contains("answered HTTP 503, expected 200"), "{out}");
    assert!(out.contains("the server says no"), "{out}");
    assert!(!world.path("after").exists());
}

#[test]
fn guards_skip_the_request_and_a_second_apply_changes_nothing() {
    let server = Server::http("t");
    let world = World::new(&format!(
        r#"apply:
  - type: uri
    id: register-host
    url: "{url}"
    method: POST
    body: "host=web1"
    status_code: 201
    creates: "{{{{ root }}}}/registered"
  - type: uri
    id: cleanup
    url: "{url}"
    method: DELETE
    removes: "{{{{ root }}}}/old-token"
"#,
        url = server.url("/api/hosts")
    ));
    let (_, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.register-host"), "run");
    // `removes` of a path that is not there: skipped.
    assert_eq!(common::action(&plan, "apply.cleanup"), "no-op");
    let run = world.apply();
    assert_eq!(
        run.status_of("apply.register-host").as_deref(),
        Some("changed")
    );
    assert_eq!(server.requests().len(), 1);
    // What the registration leaves on the host (a task or the service writes it).
    common::write(&world.path("registered"), b"yes\n");
    world.assert_converged();
    let again = world.apply();
    assert_eq!(
        again.status_of("apply.register-host").as_deref(),
        Some("unchanged")
    );
    assert_eq!(
        server.requests().len(),
        1,
        "the guard let the POST through again"
    );
}

#[test]
fn a_registered_answer_is_read_by_when() {
    let server = Server::http("t");
    let world = World::new(&format!(
        r#"apply:
  - type: uri
    id: probe
    url: "{url}"
    return_content: true
    register: api
  - type: file
    path: "{{{{ root }}}}/ready"
    content: "ready\n"
    when: api.status == 200 and api.json.ready and "1.2" in api.content
  - type: file
    path: "{{{{ root }}}}/down"
    content: "down\n"
    when: api.status != 200
"#,
        url = server.url("/json")
    ));
    let (_, plan) = world.plan();
    // Registered: sent again when the node runs, for the `when` to read.
    assert_eq!(common::action(&plan, "apply.probe"), "check");
    assert_eq!(plan["summary"]["check"], 1);
    let run = world.apply();
    assert_eq!(
        run.status_of("apply.probe").as_deref(),
        Some("unchanged"),
        "{}",
        run.all()
    );
    assert_eq!(common::read(&world.path("ready")), "ready\n");
    assert!(!world.path("down").exists());
    // A second apply reads the answer again and changes nothing (the task whose `when` is
    // false is planned, as every task with a deferred `when`, and skipped).
    let again = world.apply();
    let ready = format!("apply.file:{}", world.path("ready").display());
    assert_eq!(
        again.status_of(&ready).as_deref(),
        Some("unchanged"),
        "{}",
        again.all()
    );
    assert!(
        !again.stdout.lines().any(|l| l.starts_with("changed")),
        "{}",
        again.all()
    );
}

#[test]
fn a_form_over_https_with_basic_auth_hides_the_password() {
    let password = "pa55-uri-91d3e0";
    let server = Server::https("t");
    let world = World::new(&uri(
        &server.url("/api/login"),
        &format!(
            "    method: POST\n    body_format: form-urlencoded\n    body: {{user: ops, note: \"a b&c\"}}\n    status_code: 201\n    url_username: ops\n    url_password: \"{password}\"\n    ca_path: \"{}\"\n",
            server.ca().display()
        ),
    ));
    let (path, plan) = world.plan();
    let node = common::node(&plan, "apply.call");
    assert_eq!(node["after"]["url_password"], "(sensitive)");
    assert_eq!(
        node["after"]["headers"]["Content-Type"],
        "application/x-www-form-urlencoded"
    );
    let show = world.run(&["show", path.to_str().expect("utf-8")]);
    let run = world.execute(&path, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let sent = &server.requests()[0];
    // Fields go in name order.
    assert_eq!(sent["body"], "note=a+b%26c&user=ops");
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("ops:{password}"))
    );
    let auth = sent["headers"]
        .as_object()
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        })
        .map(|(_, v)| v.clone());
    assert_eq!(auth, Some(serde_json::Value::from(expected)));
    let reports = serde_json::to_string(&world.reports()).expect("json");
    for output in [show.all(), run.all(), reports, common::read(&path)] {
        assert!(!output.contains(password), "the password leaked:\n{output}");
    }
}

#[test]
fn a_plan_whose_guard_changed_is_refused_and_sends_nothing() {
    let server = Server::http("t");
    let world = World::new(&uri(
        &server.url("/api/once"),
        "    method: PUT\n    creates: \"{{ root }}/done\"\n",
    ));
    let (path, plan) = world.plan();
    assert_eq!(common::action(&plan, "apply.call"), "run");
    common::write(&world.path("done"), b"");
    let run = world.execute(&path, &[]);
    assert_ne!(run.code, 0);
    assert!(run.all().contains("apply.call: `creates "), "{}", run.all());
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}
