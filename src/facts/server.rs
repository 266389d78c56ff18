//! The `/metrics` HTTP server: synchronous, `std::net` + `poll(2)`, a small fixed pool of
//! worker threads.
//!
//! Bounded everywhere a client could exhaust it: at most `max_connections` connections are
//! open at once (more are answered 503 and closed), a request head larger than
//! `max_request_bytes` is refused (431), the whole head must arrive within `read_timeout`,
//! idle connections (new or keep-alive) wait in one poller thread, not in workers, and are
//! closed after `read_timeout` / `idle_timeout`, and one connection serves at most
//! `max_requests_per_connection` requests.
//! `GET`/`HEAD /metrics` answers; `/` is a small landing page; other paths are 404.
//!
//! With [`stop_on_signals`], SIGTERM and SIGINT stop it gracefully: no new connections, idle
//! ones closed, requests in flight answered, then [`serve`] returns.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, TrySendError};
use std::time::{Duration, Instant};

use super::exposition::{Exposition, Format, Gzip, accepts_gzip};

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
            read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            max_requests_per_connection: 1000,
        }
    }
}

/// Set by SIGTERM or SIGINT once [`stop_on_signals`] installed the handlers.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(_signal: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Makes SIGTERM and SIGINT stop [`serve`] gracefully instead of ending the process in the
/// middle of a response.
pub fn stop_on_signals() -> io::Result<()> {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: the handler only stores to an atomic (async-signal-safe). Without
        // SA_RESTART, the poller's poll(2) returns EINTR at once and sees the flag.
        let installed = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = request_stop as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if installed != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A client connection between requests: its socket and any bytes read ahead.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    served: usize,
    since: Instant,
}

/// Serves until the listener fails, or until a stop signal (see [`stop_on_signals`]).
/// Blocks the calling thread.
///
/// One poller thread (this one) owns the listening socket and every idle connection and waits
/// for them with `poll(2)`; a connection goes to a worker only once it has bytes to read, and
/// comes back after its request when the client does not send the next one at once. So idle
/// or silent clients cost no worker; only a client that trickles a partial request head holds
/// one, at most `read_timeout`.
pub fn serve(
    listener: TcpListener,
    exposition: Arc<Exposition>,
    options: ServerOptions,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    listener.set_nonblocking(true)?;
    let (mut wake_rx, wake_tx) = UnixStream::pair()?;
    wake_rx.set_nonblocking(true)?;
    wake_tx.set_nonblocking(true)?;
    let (back_tx, back_rx) = mpsc::channel::<Conn>();
    let (work_tx, work_rx) = mpsc::sync_channel::<Conn>(options.max_connections.max(1));
    let work_rx = Arc::new(std::sync::Mutex::new(work_rx));
    let busy = Arc::new(AtomicUsize::new(0));
    for n in 0..options.workers.max(1) {
        let work_rx = Arc::clone(&work_rx);
        let exposition = Arc::clone(&exposition);
        let options = options.clone();
        let back_tx = back_tx.clone();
        let wake_tx = wake_tx.try_clone()?;
        let busy = Arc::clone(&busy);
        std::thread::Builder::new()
            .name(format!("metrics-{n}"))
            .spawn(move || {
                let mut worker = Worker::new(exposition, options);
                loop {
                    let next = work_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok(conn) = next else { return };
                    let back = worker.connection(conn);
                    busy.fetch_sub(1, Ordering::SeqCst);
                    if let Some(conn) = back
                        && back_tx.send(conn).is_ok()
                    {
                        let _ = (&wake_tx).write(&[1]);
                    }
                }
            })?;
    }
    drop(back_tx);
    let mut pending: Vec<Conn> = Vec::new();
    let mut fds: Vec<libc::pollfd> = Vec::new();
    loop {
        if STOP.load(Ordering::SeqCst) {
            // No new connections or requests; those in flight get their answers.
            drop((listener, pending, work_tx));
            let deadline = Instant::now() + options.read_timeout + options.write_timeout;
            while busy.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            tracing::info!("metrics server stopped");
            return Ok(());
        }
        while let Ok(mut conn) = back_rx.try_recv() {
            conn.since = Instant::now();
            pending.push(conn);
        }
        let now = Instant::now();
        pending.retain(|c| {
            let limit = if c.served == 0 {
                options.read_timeout
            } else {
                options.idle_timeout
            };
            now.duration_since(c.since) < limit
        });
        fds.clear();
        for fd in [listener.as_raw_fd(), wake_rx.as_raw_fd()]
            .into_iter()
            .chain(pending.iter().map(|c| c.stream.as_raw_fd()))
        {
            fds.push(libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        // SAFETY: fds is a valid array of pollfd of the given length.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 1000) };
        if ready < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if fds[1].revents != 0 {
            let mut sink = [0u8; 256];
            while matches!(wake_rx.read(&mut sink), Ok(n) if n > 0) {}
        }
        // Hand ready connections to the workers (in reverse so removal keeps indices valid).
        for i in (0..pending.len()).rev() {
            if fds[i + 2].revents == 0 {
                continue;
            }
            let conn = pending.swap_remove(i);
            busy.fetch_add(1, Ordering::SeqCst);
            if let Err(e) = work_tx.try_send(conn) {
                busy.fetch_sub(1, Ordering::SeqCst);
                match e {
                    TrySendError::Full(conn) => pending.push(conn),
                    TrySendError::Disconnected(_) => {
                        return Err(io::Error::other("all metrics workers stopped"));
                    }
                }
            }
        }
        if fds[0].revents != 0 {
            loop {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if stream.set_nonblocking(false).is_err() {
                            continue;
                        }
                        if pending.len() + busy.load(Ordering::SeqCst) >= options.max_connections {
                            refuse(stream);
                            continue;
                        }
                        pending.push(Conn {
                            stream,
                            buf: Vec::new(),
                            served: 0,
                            since: Instant::now(),
                        });
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        // EMFILE and friends: back off a little instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        std::thread::sleep(Duration::from_millis(50));
                        break;
                    }
                }
            }
        }
    }
}

/// Over the connection limit: a short 503 and close.
fn refuse(mut stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = stream.write_all(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 21\r\nRetry-After: 1\r\nConnection: close\r\n\r\ntoo many connections\n",
    );
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
    gzip: Gzip,
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
            gzip: Gzip::new(),
            head: Vec::with_capacity(1024),
        }
    }

    /// Serves requests on a connection while the client sends them back to back; returns the
    /// connection when it goes idle (for the poller), `None` when it is closed.
    fn connection(&mut self, mut conn: Conn) -> Option<Conn> {
        let _ = conn.stream.set_nodelay(true);
        let _ = conn
            .stream
            .set_write_timeout(Some(self.options.write_timeout));
        self.head = std::mem::take(&mut conn.buf);
        let stream = &mut conn.stream;
        loop {
            let (len, request) = match self.read_head(stream, self.options.read_timeout) {
                ReadHead::Head(len) => {
                    let parsed = std::str::from_utf8(&self.head[..len])
                        .ok()
                        .and_then(parse_head);
                    (len, parsed)
                }
                ReadHead::Closed | ReadHead::TimedOut => return None,
                ReadHead::TooLarge => {
                    let _ = respond(
                        stream,
                        "431 Request Header Fields Too Large",
                        "text/plain",
                        None,
                        b"request head too large\n",
                        true,
                        false,
                    );
                    close_gracefully(stream);
                    return None;
                }
            };
            self.head.drain(..len);
            let Some(request) = request else {
                let _ = respond(
                    stream,
                    "400 Bad Request",
                    "text/plain",
                    None,
                    b"bad request\n",
                    true,
                    false,
                );
                close_gracefully(stream);
                return None;
            };
            conn.served += 1;
            let close = request.connection_close
                || (request.http10 && !request.keep_alive)
                || request.has_body
                || conn.served >= self.options.max_requests_per_connection;
            if self.answer(stream, &request, close).is_err() || close {
                return None;
            }
            if find_head_end(&self.head).is_some() {
                continue;
            }
            // A client that scrapes in a loop sends the next request at once; anything else
            // waits in the poller, not in a worker.
            let _ = stream.set_read_timeout(Some(Duration::from_millis(20)));
            let mut probe = [0u8; 1];
            match stream.peek(&mut probe) {
                Ok(n) if n > 0 => continue,
                Ok(_) => return None,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    conn.buf = std::mem::take(&mut self.head);
                    return Some(conn);
                }
                Err(_) => return None,
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
                    self.gzip
                        .compress(self.text.as_bytes(), &mut self.compressed)?;
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

/// After refusing a request: stop writing, then read (and drop) what the client is still
/// sending for a moment, so closing does not reset the connection before it reads the answer.
fn close_gracefully(stream: &mut TcpStream) {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 4096];
    let mut left: usize = 256 * 1024;
    while left > 0 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

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
