//! `wait_for` against listeners and files the test makes: a port that opens after a delay, a
//! port closed, a file that appears, a regex in a file and in what a port sends, a timeout
//! that fails the node with its message and skips its dependants, and a dry run that never
//! waits.

use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::common::World;

/// A port nothing listens on (bound, then freed).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A listener on `port` after `delay`, answering every connection with `banner`.
fn listen_later(port: u16, delay: Duration, banner: &'static [u8]) {
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind later");
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let _ = stream.write_all(banner);
        }
    });
}

fn wait_then_file(wait: &str) -> String {
    format!(
        "apply:\n  - type: wait_for\n    id: wait\n{wait}  - type: file\n    path: \"{{{{ root }}}}/after\"\n    content: x\n    depends_on: [wait]\n"
    )
}

#[test]
fn a_port_that_opens_later_is_waited_for() {
    let port = free_port();
    let world = World::new(&wait_then_file(&format!(
        "    port: {port}\n    sleep: 100ms\n    timeout: 20s\n"
    )));
    let (_, plan) = world.plan();
    // It runs and changes nothing: no change in the summary.
    assert_eq!(crate::common::action(&plan, "apply.wait"), "check");
    assert_eq!(plan["summary"]["run"], 0);
    listen_later(port, Duration::from_millis(800), b"");
    let started = Instant::now();
    let run = world.apply();
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "did not wait"
    );
    assert_eq!(run.status_of("apply.wait").as_deref(), Some("unchanged"));
    assert!(world.path("after").exists());
    // A second apply waits again (the port is open now) and changes nothing.
    let again = world.apply();
    assert_eq!(again.status_of("apply.wait").as_deref(), Some("unchanged"));
    world.assert_converged();
}

#[test]
fn a_closed_port_and_a_banner_regex() {
    let closed = free_port();
    let open = free_port();
    listen_later(open, Duration::ZERO, b"SSH-2.0-test\r\n");
    let world = World::new(&format!(
        "apply:\n  - type: wait_for\n    id: closed\n    port: {closed}\n    state: stopped\n    timeout: 5s\n  - type: wait_for\n    id: banner\n    port: {open}\n    search_regex: \"^SSH-2\"\n    sleep: 100ms\n    timeout: 10s\n"
    ));
    let run = world.apply();
    assert_eq!(run.status_of("apply.closed").as_deref(), Some("unchanged"));
    assert_eq!(run.status_of("apply.banner").as_deref(), Some("unchanged"));
}

#[test]
fn a_file_that_appears_and_a_regex_in_it() {
    let world = World::new(&wait_then_file(
        "    path: \"{{ root }}/ready\"\n    search_regex: \"state: (up|ok)\"\n    sleep: 100ms\n    timeout: 20s\n",
    ));
    let file = world.path("ready");
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        std::fs::write(&file, "state: starting\n").expect("write");
        std::thread::sleep(Duration::from_millis(500));
        std::fs::write(&file, "state: up\n").expect("write");
    });
    let started = Instant::now();
    world.apply();
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "did not wait for the regex"
    );
    assert!(world.path("after").exists());
}

#[test]
fn a_timeout_fails_the_node_with_its_message_and_skips_its_dependants() {
    let port = free_port();
    let world = World::new(&wait_then_file(&format!(
        "    port: {port}\n    timeout: 1s\n    sleep: 200ms\n    msg: the app did not start\n"
    )));
    // A dry run never waits.
    let started = Instant::now();
    let dry = world.run(&["apply", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "a dry run waited"
    );
    let run = world.run(&["apply"]);
    assert_ne!(run.code, 0, "{}", run.all());
    let out = run.all();
    assert!(
        out.contains(&format!(
            "the app did not start (waited 1s for port 127.0.0.1:{port} to be open)"
        )),
        "{out}"
    );
    assert_eq!(run.status_of("apply.wait").as_deref(), Some("failed"));
    assert_eq!(
        run.status_of(&format!("apply.file:{}", world.path("after").display()))
            .as_deref(),
        Some("skipped")
    );
    assert!(!world.path("after").exists());
}
