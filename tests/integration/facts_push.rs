//! `settings.metrics.push`: `driftless facts --push` sends a scrape to its sinks each
//! interval until SIGTERM; into a directory with a fixed name, the file is what node_exporter's
//! textfile collector reads, replaced atomically, and the real `promtool` accepts it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::facts_support::{driftless, free_port, promtool_check};

#[test]
fn facts_push_writes_the_scrape_into_its_sinks_each_interval_until_sigterm() {
    let temp = tempfile::tempdir().expect("temp dir");
    let (config, textfile, history) = (
        temp.path().join("config"),
        temp.path().join("textfile"),
        temp.path().join("history"),
    );
    std::fs::create_dir(&config).expect("config dir");
    std::fs::write(
        config.join("main.yaml"),
        format!(
            "facts:\n  - type: load\n  - type: memory\n\
             settings:\n  metrics:\n    push:\n      interval: 200ms\n      sinks:\n\
             \x20       - type: directory\n          path: \"{}\"\n          name: driftless.prom\n\
             \x20       - type: directory\n          path: \"{}\"\n          name: \"%s-{{id}}.prom\"\n\
             \x20         keep_files: 3\n\
             \x20       - type: http\n          url: \"http://127.0.0.1:{}/metrics\"\n\
             \x20         retry: {{ attempts: 1 }}\n",
            textfile.display(),
            history.display(),
            free_port(),
        ),
    )
    .expect("config");
    let child = Command::new(driftless())
        .args(["-c"])
        .arg(&config)
        .args(["facts", "--push"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start driftless facts --push");
    let prom = textfile.join("driftless.prom");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_dir(&history).map_or(0, |d| d.count()) < 3 {
        assert!(Instant::now() < deadline, "no three pushes in time");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: kill(2) on the child this test started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // A receiver that is down is said at the start; the other sinks still get every scrape.
    assert!(
        stderr.starts_with(
            "warning: a metrics push sink fails its health check: http http://127.0.0.1:"
        ),
        "{stderr}"
    );

    let text = std::fs::read_to_string(&prom).expect("the textfile");
    assert!(text.contains("node_load1 "), "{text}");
    assert!(text.contains("node_memory_MemTotal_bytes "), "{text}");
    let (code, output) = promtool_check(&text);
    // 0 clean, 3 style warnings only (node_exporter's own names, `MemTotal`, get them too).
    assert!(code == 0 || code == 3, "promtool {code}: {output}");
    let kept = std::fs::read_dir(&history).expect("history").count();
    assert!(kept <= 3, "keep_files bounds the history: {kept}");
}

#[test]
fn facts_push_without_push_sinks_says_how_to_configure_them() {
    let temp = tempfile::tempdir().expect("temp dir");
    std::fs::write(temp.path().join("main.yaml"), "facts:\n  - type: load\n").expect("config");
    let out = Command::new(driftless())
        .arg("-c")
        .arg(temp.path())
        .args(["facts", "--push"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: nothing to push to: set `settings: { metrics: { push: { interval: 15s, sinks: [...] } } }` in the config\n"
    );
}
