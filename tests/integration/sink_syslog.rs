//! Run reports into a real rsyslog (Debian's, from `scripts/install-test-deps`) listening on
//! 127.0.0.1 over UDP and TCP: both RFC formats arrive with the right PRI, hostname, app name
//! and message, and a receiver that is down is a warning of the run, not a failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::World;
use crate::deps::test_deps;
use crate::facts_support::free_port;

/// rsyslogd in the foreground with its own config, writing what it receives to `received`.
pub(crate) struct Rsyslog {
    child: Child,
    received: PathBuf,
    pub(crate) udp: u16,
    pub(crate) tcp: u16,
    _dir: tempfile::TempDir,
}

impl Rsyslog {
    pub(crate) fn start() -> Rsyslog {
        let deps = test_deps(&["bin/rsyslogd", "lib/libestr.so.0"]);
        let modules = modules_dir(&deps.join("root"));
        let dir = tempfile::tempdir().expect("temp dir");
        let (udp, tcp) = (free_udp_port(), free_port());
        let received = dir.path().join("received.log");
        std::fs::create_dir(dir.path().join("work")).expect("work dir");
        let config = format!(
            "global(workDirectory=\"{work}\")\n\
             module(load=\"imudp\")\nmodule(load=\"imtcp\")\n\
             input(type=\"imudp\" address=\"127.0.0.1\" port=\"{udp}\")\n\
             input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{tcp}\")\n\
             template(name=\"fields\" type=\"string\" \
               string=\"%pri%|%hostname%|%app-name%|%protocol-version%|%msg%\\n\")\n\
             action(type=\"omfile\" file=\"{received}\" template=\"fields\")\n",
            work = dir.path().join("work").display(),
            received = received.display(),
        );
        let conf = dir.path().join("rsyslog.conf");
        std::fs::write(&conf, config).expect("rsyslog.conf");
        let child = Command::new(deps.join("bin/rsyslogd"))
            .args(["-n", "-f"])
            .arg(&conf)
            .arg("-M")
            .arg(&modules)
            .arg("-i")
            .arg(dir.path().join("rsyslogd.pid"))
            .env("LD_LIBRARY_PATH", deps.join("lib"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rsyslogd");
        let rsyslog = Rsyslog {
            child,
            received,
            udp,
            tcp,
            _dir: dir,
        };
        rsyslog.wait_listening();
        rsyslog
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.tcp)).is_err() {
            assert!(
                Instant::now() < deadline,
                "rsyslogd did not listen on {}",
                self.tcp
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The lines received, once there are `n` of them.
    pub(crate) fn lines(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&self.received).unwrap_or_default();
            let lines: Vec<String> = text.lines().map(str::to_owned).collect();
            if lines.len() >= n {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "rsyslog received {lines:?}, expected {n} lines"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The directory of rsyslog's modules in the unpacked package.
fn modules_dir(root: &Path) -> PathBuf {
    let lib = root.join("usr/lib");
    std::fs::read_dir(&lib)
        .expect("usr/lib")
        .map(|e| e.expect("entry").path().join("rsyslog"))
        .find(|dir| dir.join("imudp.so").exists())
        .expect("rsyslog's modules")
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free UDP port")
        .port()
}

fn world_sending_to(sinks: &str) -> World {
    let world = World::new("");
    world.config_file(
        "main.yaml",
        &format!(
            "settings:\n  audit:\n    - type: directory\n      path: \"{audit}\"\n{sinks}\
             apply:\n  - type: file\n    path: \"{root}/motd\"\n    content: \"hello\\n\"\n",
            audit = world.audit.display(),
            root = world.root.display(),
        ),
    );
    world
}

#[test]
fn run_reports_reach_rsyslog_over_udp_in_rfc5424_and_over_tcp_in_rfc3164() {
    let rsyslog = Rsyslog::start();
    let world = world_sending_to(&format!(
        "    - type: syslog\n      address: \"127.0.0.1:{udp}\"\n      format: rfc5424\n\
         \x20     facility: local3\n      severity: notice\n      hostname: web1\n\
         \x20   - type: syslog\n      address: \"127.0.0.1:{tcp}\"\n      protocol: tcp\n\
         \x20     format: rfc3164\n      facility: auth\n      severity: warning\n\
         \x20     app_name: drift-audit\n      hostname: web1\n",
        udp = rsyslog.udp,
        tcp = rsyslog.tcp,
    ));
    let run = world.apply();
    assert_eq!(run.code, 0, "{}", run.all());
    let report = &world.reports()[0];

    let mut lines = rsyslog.lines(2);
    lines.sort();
    // rsyslog's `msg` of an RFC 3164 message keeps the space after the tag.
    let fields = |line: &str| -> Vec<String> {
        line.splitn(5, '|')
            .map(|f| f.trim_start().to_owned())
            .collect()
    };
    // auth.warning = 4 × 8 + 4 = 36, over TCP in RFC 3164 (rsyslog's protocol version 0): the
    // report whole, on one line.
    let tcp = fields(&lines[1]);
    assert_eq!(tcp[..4], ["36", "web1", "drift-audit", "0"], "{lines:?}");
    let tcp_report: Value = serde_json::from_str(&tcp[4]).expect("the whole report");
    assert_eq!(&tcp_report, report);
    // local3.notice = 19 × 8 + 5 = 157, over UDP in RFC 5424 (version 1): cut at RFC 5426's
    // 2048 bytes, its keys in the report's order.
    let udp = fields(&lines[0]);
    assert_eq!(udp[..4], ["157", "web1", "driftless", "1"], "{lines:?}");
    let run_id = report["run_id"].as_str().expect("run id");
    assert!(
        udp[4].starts_with(&format!("{{\"run_id\":\"{run_id}\"")),
        "{}",
        udp[4]
    );
    assert!(lines[0].len() <= 2048 + 40, "{}", lines[0].len());
}

#[test]
fn a_syslog_receiver_that_is_down_is_a_warning_and_the_run_succeeds() {
    let port = free_port();
    let world = world_sending_to(&format!(
        "    - type: syslog\n      address: \"127.0.0.1:{port}\"\n      protocol: tcp\n\
         \x20     retry: {{ attempts: 2, initial_backoff: 10ms }}\n"
    ));
    let run = world.apply();
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr
            .contains(&format!("syslog tcp 127.0.0.1:{port}: "))
            && run.stderr.contains("gave up after 2 attempts"),
        "{}",
        run.stderr
    );
    assert_eq!(
        world.reports().len(),
        1,
        "the directory sink still got the report"
    );
}

#[test]
fn a_report_reaches_a_local_datagram_socket_like_dev_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket_path = dir.path().join("log");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let world = world_sending_to(&format!(
        "    - type: syslog\n      protocol: unix\n      address: \"{}\"\n      format: rfc3164\n",
        socket_path.display()
    ));
    let run = world.apply();
    assert_eq!(run.code, 0, "{}", run.all());
    let mut buf = vec![0u8; 4096];
    let n = socket.recv(&mut buf).expect("a message");
    let message = String::from_utf8_lossy(&buf[..n]).into_owned();
    // user.info = 1 × 8 + 6 = 14; cut at RFC 3164's 1024 bytes.
    assert!(message.starts_with("<14>"), "{message}");
    assert!(message.contains(" driftless["), "{message}");
    assert!(message.contains("]: {\"run_id\":\""), "{message}");
    assert!(n <= 1024, "{n}");
}
