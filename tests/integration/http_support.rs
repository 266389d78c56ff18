//! A real HTTP(S) server on 127.0.0.1 for the download tests: a small Python script
//! (`http.server`, `ssl`) the test starts and kills, serving the files of a directory under
//! `/files/`, a redirect, a 404, a route that never answers (timeouts) and one that wants a
//! header, any status (`/status/NNN`) and a JSON answer (`/json`); every request's path and
//! headers are logged to a file. POSTs (the http sink's, `uri`'s) are logged with their body,
//! gunzipped, and answered 200 (`/api/…`: 201 with JSON). HTTPS uses a test CA made
//! with `openssl` (a CA, and a leaf for IP 127.0.0.1 signed by it).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const SERVER: &str = r#"
import http.server, json, os, ssl, sys, time
root, log, token = sys.argv[1], sys.argv[2], sys.argv[3]
class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def answer(self, code, body=b"", headers=()):
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        with open(log, "a") as f:
            f.write(json.dumps({"path": self.path, "headers": dict(self.headers)}) + "\n")
        path = self.path
        if path == "/slow":
            time.sleep(60)
            return
        if path.startswith("/status/"):
            return self.answer(int(path[len("/status/"):]), b"the server says no\n")
        if path == "/json":
            return self.answer(200, b'{"ready": true, "version": "1.2"}', [("Content-Type", "application/json")])
        if path.startswith("/redirect/"):
            return self.answer(302, headers=[("Location", "/files/" + path[len("/redirect/"):])])
        if path.startswith("/private/"):
            if self.headers.get("X-Token") != token:
                return self.answer(403, b"forbidden\n")
            path = "/files/" + path[len("/private/"):]
        if path.startswith("/files/"):
            name = os.path.join(root, path[len("/files/"):])
            if os.path.isfile(name):
                with open(name, "rb") as f:
                    return self.answer(200, f.read())
        self.answer(404, b"not found\n")
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            import gzip
            body = gzip.decompress(body)
        with open(log, "a") as f:
            f.write(json.dumps({"method": "POST", "path": self.path, "headers": dict(self.headers), "body": body.decode("utf-8", "replace")}) + "\n")
        if self.path.startswith("/api/"):
            return self.answer(201, b'{"created": true}', [("Content-Type", "application/json")])
        self.answer(200, b"{}")
    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
if len(sys.argv) > 5:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[4], sys.argv[5])
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    /// What it serves under `/files/`.
    pub files: PathBuf,
    log: PathBuf,
    https: bool,
    _temp: tempfile::TempDir,
}

pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian `openssl`) must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`ca.pem`) and a leaf for IP 127.0.0.1 signed by it (`leaf.pem`, `leaf.key`), in
/// `dir`.
pub fn make_certs(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=driftless test CA",
    ]);
    openssl(dir, &ca);
    let mut leaf = vec!["req"];
    leaf.extend(ec);
    leaf.extend([
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(dir, &leaf);
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write leaf.ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ],
    );
}

impl Server {
    /// An HTTP server; `token` is the `X-Token` value `/private/` wants.
    pub fn http(token: &str) -> Server {
        Server::start(token, false)
    }

    /// An HTTPS server whose certificate the CA at [`Server::ca`] signed.
    pub fn https(token: &str) -> Server {
        Server::start(token, true)
    }

    /// The test CA (HTTPS servers).
    pub fn ca(&self) -> PathBuf {
        self._temp.path().join("ca.pem")
    }

    fn start(token: &str, https: bool) -> Server {
        let temp = tempfile::tempdir().expect("temp dir");
        let files = temp.path().join("files");
        std::fs::create_dir(&files).expect("mkdir files");
        let script = temp.path().join("server.py");
        std::fs::write(&script, SERVER).expect("write server.py");
        let log = temp.path().join("requests.log");
        let mut command = Command::new("python3");
        command.arg(&script).arg(&files).arg(&log).arg(token);
        if https {
            make_certs(temp.path());
            command
                .arg(temp.path().join("leaf.pem"))
                .arg(temp.path().join("leaf.key"));
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 must be installed");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the port");
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no port: {line:?}"));
        Server {
            child,
            port,
            files,
            log,
            https,
            _temp: temp,
        }
    }

    pub fn url(&self, path: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }

    /// Serves `bytes` as `/files/<name>`.
    pub fn put(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.files.join(name), bytes).expect("write served file");
    }

    /// The requests received so far: path and headers.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("request log line"))
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
