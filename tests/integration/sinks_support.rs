//! Receivers for the sink tests, on 127.0.0.1, started and stopped by the tests:
//! [`Receiver`], a small HTTP/1.1 server (a thread on a std `TcpListener`, keep-alive) that
//! answers from a script and records every request (headers and the body, gunzipped when
//! sent gzipped); [`SeaweedS3`], a real S3 server (SeaweedFS's `weed mini`, from
//! `scripts/install-test-deps`) whose identity config makes it check every signature; and
//! what building a sink needs (a fixed set of secrets).

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use driftless::error::ResourceError;
use driftless::model::sinks::SinkConfig;
use driftless::secrets::{SecretError, SecretSource, Secrets};
use driftless::sinks::{BuildContext, Sink};
use secrecy::SecretString;

/// Secrets from a fixed list.
pub struct Fixed(pub HashMap<String, String>);

impl SecretSource for Fixed {
    fn get(&self, name: &str) -> Result<Option<SecretString>, SecretError> {
        Ok(self.0.get(name).map(|v| SecretString::from(v.clone())))
    }
    fn describe(&self) -> String {
        "the test's secrets".to_owned()
    }
}

pub fn secrets(pairs: &[(&str, &str)]) -> Secrets {
    let map = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Secrets::new(vec![Box::new(Fixed(map))])
}

/// A sink built from its config as JSON, with its retry layer (for documents).
pub fn build(config: serde_json::Value, secrets: &Secrets) -> Arc<dyn Sink> {
    made(config, secrets, driftless::sinks::build)
}

/// A sink made from its config as JSON without layers (for a pipeline, which adds its own).
pub fn open(config: serde_json::Value, secrets: &Secrets) -> Arc<dyn Sink> {
    made(config, secrets, driftless::sinks::open)
}

type Make = fn(&SinkConfig, &BuildContext<'_>) -> Result<Arc<dyn Sink>, ResourceError>;

fn made(config: serde_json::Value, secrets: &Secrets, make: Make) -> Arc<dyn Sink> {
    let config: SinkConfig = serde_json::from_value(config).expect("a sink config");
    let cx = BuildContext {
        secrets,
        host: "web1",
    };
    make(&config, &cx).unwrap_or_else(|e| panic!("build: {e}"))
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Names in lower case.
    pub headers: HashMap<String, String>,
    /// The body as sent (compressed, if it was).
    pub raw: Vec<u8>,
    /// The body, gunzipped when `Content-Encoding: gzip`.
    pub body: Vec<u8>,
    pub at: Instant,
}

/// An answer of the script.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
    pub fn body(mut self, body: &str) -> Reply {
        self.body = body.to_owned();
        self
    }
}

struct State {
    script: VecDeque<Reply>,
    /// Once the script is done.
    otherwise: Reply,
    requests: Vec<Request>,
}

/// The HTTP receiver; stops when dropped.
pub struct Receiver {
    pub port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    /// Answers `script` in order, then `otherwise` to every request.
    pub fn start(script: Vec<Reply>, otherwise: Reply) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let state = Arc::new(Mutex::new(State {
            script: script.into(),
            otherwise,
            requests: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (accept_state, accept_stop) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_stop.load(Ordering::Acquire) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = accept_state.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        Receiver { port, state, stop }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().expect("lock").requests.clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Serves the requests of one connection until the client closes it.
fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut words = line.split_whitespace();
        let method = words.next().unwrap_or_default().to_owned();
        let path = words.next().unwrap_or_default().to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
            }
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut raw = vec![0; length];
        if reader.read_exact(&mut raw).is_err() {
            return;
        }
        let body = if headers.get("content-encoding").map(String::as_str) == Some("gzip") {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut out)
                .expect("a gzipped body");
            out
        } else {
            raw.clone()
        };
        let reply = {
            let mut state = state.lock().expect("lock");
            state.requests.push(Request {
                method: method.clone(),
                path,
                headers,
                raw,
                body,
                at: Instant::now(),
            });
            let otherwise = state.otherwise.clone();
            state.script.pop_front().unwrap_or(otherwise)
        };
        let mut text = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {}\r\n",
            reply.status,
            if method == "HEAD" {
                0
            } else {
                reply.body.len()
            }
        );
        for (name, value) in &reply.headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("\r\n");
        if method != "HEAD" {
            text.push_str(&reply.body);
        }
        if writer.write_all(text.as_bytes()).is_err() {
            return;
        }
    }
}

/// A free TCP port on 127.0.0.1 (free when asked: the server binds it right after).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The identity the server knows.
pub const ACCESS_KEY_ID: &str = "AKIDDRIFTLESSTEST";
pub const SECRET_ACCESS_KEY: &str = "s3cr3t-Access-Key-of-the-test";

/// SeaweedFS's `weed mini` (master, volume, filer and S3 in one process) in a temp dir,
/// checking signatures against one identity; killed when dropped.
pub struct SeaweedS3 {
    child: Child,
    pub port: u16,
    _temp: tempfile::TempDir,
    /// Held while the server runs (see [`one_at_a_time`]).
    _lock: Option<std::fs::File>,
}

/// An exclusive lock on a file of the test-deps directory: one SeaweedFS at a time among the
/// test processes. Each instance opens a dozen ports picked free; two instances started
/// together could pick the same one, and a test would then talk to another test's server.
fn one_at_a_time() -> std::fs::File {
    use std::os::fd::AsRawFd;
    let deps = crate::deps::test_deps(&["bin/weed"]);
    let file = std::fs::File::create(deps.join("weed.lock")).expect("lock file");
    // SAFETY: flock(2) on a descriptor we own; released when the file is closed.
    let taken = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(taken, 0, "flock: {}", std::io::Error::last_os_error());
    file
}

impl SeaweedS3 {
    /// A server on fresh ports; started again (up to three times) if it does not come up,
    /// since a port picked free may be taken by another test's server before it binds it.
    pub fn start() -> SeaweedS3 {
        let lock = one_at_a_time();
        let mut logs = String::new();
        for _ in 0..3 {
            let mut server = SeaweedS3::spawn();
            if server.wait_ready(Duration::from_secs(20)) {
                server._lock = Some(lock);
                return server;
            }
            logs.push_str(&std::fs::read_to_string(server.log()).unwrap_or_default());
            let _ = server.child.kill();
        }
        panic!("weed did not start:\n{logs}");
    }

    fn spawn() -> SeaweedS3 {
        let deps = crate::deps::test_deps(&["bin/weed"]);
        let temp = tempfile::tempdir().expect("temp dir");
        let data = temp.path().join("data");
        std::fs::create_dir(&data).expect("mkdir data");
        let config = temp.path().join("s3.json");
        let identities = serde_json::json!({ "identities": [{
            "name": "driftless",
            "credentials": [{ "accessKey": ACCESS_KEY_ID, "secretKey": SECRET_ACCESS_KEY }],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]});
        std::fs::write(&config, identities.to_string()).expect("write s3.json");
        let port = free_port();
        let mut command = Command::new(deps.join("bin/weed"));
        command
            .arg("mini")
            .arg(format!("-dir={}", data.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-s3.config={}", config.display()))
            .arg(format!("-s3.port={port}"))
            .args(["-admin.ui=false", "-webdav=false"]);
        for flag in [
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port.grpc",
            "s3.port.iceberg",
            "admin.port",
            "admin.port.grpc",
            "metricsPort",
            "s3.metricsPort",
        ] {
            command.arg(format!("-{flag}={}", free_port()));
        }
        let log = std::fs::File::create(temp.path().join("weed.log")).expect("log");
        let child = command
            .current_dir(temp.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start weed");
        SeaweedS3 {
            child,
            port,
            _temp: temp,
            _lock: None,
        }
    }

    fn log(&self) -> PathBuf {
        self._temp.path().join("weed.log")
    }

    /// Whether S3 came up within `limit` (the weed process still running).
    fn wait_ready(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return false;
            }
            // The port opens before the filer behind it is ready: a bucket made too soon
            // fails. Make the test's bucket until it works.
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && self.create_bucket("driftless").is_ok()
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn bucket(&self, name: &str) -> rusty_s3::Bucket {
        rusty_s3::Bucket::new(
            self.endpoint().parse().expect("url"),
            rusty_s3::UrlStyle::Path,
            name.to_owned(),
            "us-east-1",
        )
        .expect("bucket")
    }

    fn credentials() -> rusty_s3::Credentials {
        rusty_s3::Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    }

    pub fn create_bucket(&self, name: &str) -> Result<(), String> {
        use rusty_s3::S3Action;
        let url = self
            .bucket(name)
            .create_bucket(&Self::credentials())
            .sign(Duration::from_secs(60));
        match ureq::put(url.as_str()).send_empty() {
            Ok(_) | Err(ureq::Error::StatusCode(409)) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The keys under `prefix` in `bucket`.
    pub fn list(&self, bucket: &str, prefix: &str) -> Vec<String> {
        use rusty_s3::S3Action;
        let bucket = self.bucket(bucket);
        let credentials = Self::credentials();
        let mut action = bucket.list_objects_v2(Some(&credentials));
        action.with_prefix(prefix);
        let url = action.sign(Duration::from_secs(60));
        let text = ureq::get(url.as_str())
            .call()
            .expect("list")
            .into_body()
            .read_to_string()
            .expect("list body");
        let listed = rusty_s3::actions::ListObjectsV2::parse_response(&text).expect("a listing");
        listed.contents.into_iter().map(|c| c.key).collect()
    }

    /// An object's bytes and its ETag.
    pub fn get(&self, bucket: &str, key: &str) -> (Vec<u8>, String) {
        use rusty_s3::S3Action;
        let bucket = self.bucket(bucket);
        let url = bucket
            .get_object(Some(&Self::credentials()), key)
            .sign(Duration::from_secs(60));
        let response = ureq::get(url.as_str()).call().expect("get");
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = response
            .into_body()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .expect("object");
        (bytes, etag)
    }
}

impl Drop for SeaweedS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("gzip");
    out
}

/// Whether `needle` appears anywhere under `dir` (file names and contents).
pub fn found_under(dir: &Path, needle: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(Result::ok).any(|entry| {
        let path = entry.path();
        path.to_string_lossy().contains(needle)
            || if path.is_dir() {
                found_under(&path, needle)
            } else {
                std::fs::read(&path)
                    .map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
                    .unwrap_or(false)
            }
    })
}
