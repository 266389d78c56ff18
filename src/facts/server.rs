//! The `/metrics` HTTP server: synchronous, `std::net`, a small fixed pool of worker threads.
//!
//! Bounded everywhere a client could exhaust it: at most `max_connections` connections are
//! handled or queued at once (more are answered 503 and closed), a request head larger than
//! `max_request_bytes` is refused (431), the whole head must arrive within `read_timeout`
//! (a slow client cannot hold a worker longer), idle keep-alive connections are closed after
//! `idle_timeout`, and one connection serves at most `max_requests_per_connection` requests.
//! `GET`/`HEAD /metrics` answers; `/` is a small landing page; other paths are 404.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::{self, TrySendError};
use std::time::{Duration, Instant};

use super::exposition::{Exposition, Format, accepts_gzip, gzip};

#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub workers: usize,
    /// Connections being served plus connections waiting for a worker.
    pub max_connections: usize,
    pub max_request_bytes: usize,
    /// Time allowed for a whole request head to arrive.
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    /// How long an idle keep-alive connection is kept.
    pub idle_timeout: Duration,
    pub max_requests_per_connection: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            workers: 4,
            max_connections: 64,
            max_request_bytes: 8 * 1024,
            read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_requests_per_connection: 1000,
        }
    }
}

/// Serves until the listener fails. Blocks the calling thread (it accepts connections).
pub fn serve(
    listener: TcpListener,
    exposition: Arc<Exposition>,
    options: ServerOptions,
) -> io::Result<()> {
    let workers = options.workers.max(1);
    let queue = options.max_connections.saturating_sub(workers).max(1);
    let (tx, rx) = mpsc::sync_channel::<TcpStream>(queue);
    let rx = Arc::new(std::sync::Mutex::new(rx));
    for n in 0..workers {
        let rx = Arc::clone(&rx);
        let exposition = Arc::clone(&exposition);
        let options = options.clone();
        std::thread::Builder::new()
            .name(format!("metrics-{n}"))
            .spawn(move || {
                let mut worker = Worker::new(exposition, options);
                loop {
                    let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    match next {
                        Ok(stream) => worker.connection(stream),
                        Err(_) => return,
                    }
                }
            })?;
    }
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                // EMFILE and friends: back off a little instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        match tx.try_send(stream) {
            Ok(()) => {}
            Err(TrySendError::Full(mut stream)) => {
                let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
                let _ = stream.write_all(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 20\r\nRetry-After: 1\r\nConnection: close\r\n\r\ntoo many connections",
                );
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(io::Error::other("all metrics workers stopped"));
            }
        }
    }
    Ok(())
}

/// A parsed request head: only what the server uses.
#[derive(Debug, Default, PartialEq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub http10: bool,
    pub accept: Option<String>,
    pub accept_encoding: Option<String>,
    pub connection_close: bool,
    pub keep_alive: bool,
    pub has_body: bool,
}

/// Parses a request head (everything before the blank line).
pub fn parse_head(head: &str) -> Option<Request> {
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?;
    let version = first.next()?;
    if first.next().is_some() || !version.starts_with("HTTP/1.") {
        return None;
    }
    let path = target.split(['?', '#']).next().unwrap_or("").to_owned();
    let mut request = Request {
        method,
        path,
        http10: version == "HTTP/1.0",
        ..Request::default()
    };
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "accept" => request.accept = Some(value.to_owned()),
            "accept-encoding" => request.accept_encoding = Some(value.to_owned()),
            "connection" => {
                let v = value.to_ascii_lowercase();
                request.connection_close = v.contains("close");
                request.keep_alive = v.contains("keep-alive");
            }
            "content-length" => request.has_body = value != "0",
            "transfer-encoding" => request.has_body = true,
            _ => {}
        }
    }
    Some(request)
}

struct Worker {
    exposition: Arc<Exposition>,
    options: ServerOptions,
    text: String,
    compressed: Vec<u8>,
    head: Vec<u8>,
}

enum ReadHead {
    Head(usize),
    Closed,
    TooLarge,
    TimedOut,
}

impl Worker {
    fn new(exposition: Arc<Exposition>, options: ServerOptions) -> Self {
        Worker {
            exposition,
            options,
            text: String::with_capacity(64 * 1024),
            compressed: Vec::with_capacity(16 * 1024),
            head: Vec::with_capacity(1024),
        }
    }

    fn connection(&mut self, mut stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let _ = stream.set_write_timeout(Some(self.options.write_timeout));
        self.head.clear();
        for served in 0.. {
            let first_wait = if served == 0 {
                self.options.read_timeout
            } else {
                self.options.idle_timeout
            };
            let (len, request) = match self.read_head(&mut stream, first_wait) {
                ReadHead::Head(len) => {
                    let parsed = std::str::from_utf8(&self.head[..len])
                        .ok()
                        .and_then(parse_head);
                    (len, parsed)
                }
                ReadHead::Closed | ReadHead::TimedOut => return,
                ReadHead::TooLarge => {
                    let _ = respond(
                        &mut stream,
                        "431 Request Header Fields Too Large",
                        "text/plain",
                        None,
                        b"request head too large\n",
                        true,
                        false,
                    );
                    return;
                }
            };
            self.head.drain(..len);
            let Some(request) = request else {
                let _ = respond(
                    &mut stream,
                    "400 Bad Request",
                    "text/plain",
                    None,
                    b"bad request\n",
                    true,
                    false,
                );
                return;
            };
            let close = request.connection_close
                || (request.http10 && !request.keep_alive)
                || request.has_body
                || served + 1 >= self.options.max_requests_per_connection;
            if self.answer(&mut stream, &request, close).is_err() || close {
                return;
            }
        }
    }

    /// Reads until a complete head is buffered; the whole head must arrive within `wait`.
    fn read_head(&mut self, stream: &mut TcpStream, wait: Duration) -> ReadHead {
        let deadline = Instant::now() + wait;
        let mut chunk = [0u8; 2048];
        loop {
            if let Some(pos) = find_head_end(&self.head) {
                return ReadHead::Head(pos);
            }
            if self.head.len() > self.options.max_request_bytes {
                return ReadHead::TooLarge;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return ReadHead::TimedOut;
            }
            let _ = stream.set_read_timeout(Some(left));
            match stream.read(&mut chunk) {
                Ok(0) => return ReadHead::Closed,
                Ok(n) => self.head.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return ReadHead::TimedOut;
                }
                Err(_) => return ReadHead::Closed,
            }
        }
    }

    fn answer(&mut self, stream: &mut TcpStream, request: &Request, close: bool) -> io::Result<()> {
        let head_only = request.method == "HEAD";
        if request.method != "GET" && !head_only {
            return respond(
                stream,
                "405 Method Not Allowed\r\nAllow: GET, HEAD",
                "text/plain",
                None,
                b"only GET and HEAD\n",
                close,
                false,
            );
        }
        match request.path.as_str() {
            "/metrics" => {
                let format = Format::negotiate(request.accept.as_deref());
                if let Err(e) = self.exposition.encode(format, &mut self.text) {
                    tracing::error!(error = %e, "encoding metrics failed");
                    return respond(
                        stream,
                        "500 Internal Server Error",
                        "text/plain",
                        None,
                        b"encoding metrics failed\n",
                        true,
                        false,
                    );
                }
                if accepts_gzip(request.accept_encoding.as_deref()) {
                    gzip(self.text.as_bytes(), &mut self.compressed)?;
                    respond(
                        stream,
                        "200 OK",
                        format.content_type(),
                        Some("gzip"),
                        &self.compressed,
                        close,
                        head_only,
                    )
                } else {
                    respond(
                        stream,
                        "200 OK",
                        format.content_type(),
                        None,
                        self.text.as_bytes(),
                        close,
                        head_only,
                    )
                }
            }
            "/" => respond(
                stream,
                "200 OK",
                "text/html; charset=utf-8",
                None,
                LANDING.as_bytes(),
                close,
                head_only,
            ),
            _ => respond(
                stream,
                "404 Not Found",
                "text/plain",
                None,
                b"not found; metrics are at /metrics\n",
                close,
                head_only,
            ),
        }
    }
}

const LANDING: &str = "<!doctype html><html><head><title>driftless</title></head><body><h1>driftless</h1><p><a href=\"/metrics\">Metrics</a></p></body></html>\n";

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: &[u8],
    close: bool,
    head_only: bool,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(encoding) = encoding {
        head.push_str("Content-Encoding: ");
        head.push_str(encoding);
        head.push_str("\r\nVary: Accept-Encoding\r\n");
    }
    head.push_str(if close {
        "Connection: close\r\n\r\n"
    } else {
        "Connection: keep-alive\r\n\r\n"
    });
    if head_only {
        stream.write_all(head.as_bytes())?;
    } else {
        // One write for small answers, two for large ones; no copying of the body.
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_parse() {
        let r = parse_head(
            "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: text/plain\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
        );
        let r = r.unwrap_or_default();
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/metrics");
        assert_eq!(r.accept.as_deref(), Some("text/plain"));
        assert!(r.connection_close);
        assert!(parse_head("garbage").is_none());
        assert!(parse_head("GET / SPDY/3\r\n\r\n").is_none());
        assert!(parse_head("GET / HTTP/1.1\r\nno colon\r\n\r\n").is_none());
    }
}
