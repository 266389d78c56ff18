//! The `/metrics` HTTP server: synchronous, `std::net` + `poll(2)`, one poller thread and a
//! small fixed pool of worker threads.
//!
//! Built so that slow, idle or hostile clients cannot keep scrapes out:
//! - the poller owns every connection that is not being answered: it reads request heads,
//!   writes answers that did not fit the socket at once, and lingers on closing ones, all
//!   without blocking; a worker only ever gets a complete request head, answers it without
//!   waiting on the client, and hands the connection back. A client that trickles its request
//!   or reads slowly holds no worker.
//! - every state has a total deadline that no trickle extends: the whole head within
//!   `read_timeout` (from the connection, or from its first byte on a kept-alive one), an idle
//!   kept-alive connection `idle_timeout`, a whole answer `write_timeout`, a request waiting for
//!   a worker `queue_timeout` (then it gets a `503`), a closing connection [`LINGER`].
//! - a request head larger than `max_request_bytes` is refused (`431`); one connection serves
//!   at most `max_requests_per_connection` requests.
//! - at most `max_connections` are open. At the limit a new connection evicts the one that has
//!   waited longest (closing ones first, then those waiting for a request): a scrape sends its
//!   request at once and is answered long before it could be the oldest, so sockets held open
//!   by an attacker cannot lock scrapes out. Only when every connection is being answered is a
//!   new one refused (`503`).
//!
//! - a client address gets `per_client_rate` requests (a burst, then one per interval); past
//!   it, `429`. The web config's `rate_limit` (exporter-toolkit's) is one more bucket shared
//!   by every request.
//!
//! With a web config ([`WebConfig`]): TLS on every connection (rustls; the handshake runs in
//! the poller, without blocking, see `transport`), plain HTTP refused;
//! basic auth on every path ([`BasicAuth`]: `401` with `WWW-Authenticate: Basic`); its extra
//! headers on every answer.
//!
//! `GET`/`HEAD /metrics` answers, with node_exporter's `collect[]`/`exclude[]` filters
//! (`collect_filter`); `/` is a small landing page; with a [`Readiness`] (the agent's),
//! `/healthz` (the process answers) and `/readyz` (`200`, or `503` with why not); other paths
//! are 404.
//!
//! With [`stop_on_signals`], SIGTERM and SIGINT stop it gracefully: no new connections, idle
//! ones closed, requests in flight answered, then [`serve`] returns.

use std::io::{self, Read, Write};
use std::net::{IpAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::basic_auth::BasicAuth;
use super::collect_filter;
use super::exposition::{Exposition, Format, Gzip, accepts_gzip};
use super::rate_limit::{Limited, Limits, Rate};
use super::transport::{self, PLAIN_HTTP_ANSWER, Received, Transport};
use super::web_config::WebConfig;

#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub workers: usize,
    /// Open connections, in every state.
    pub max_connections: usize,
    pub max_request_bytes: usize,
    /// Time allowed for a whole request head to arrive.
    pub read_timeout: Duration,
    /// Time allowed for a whole answer to be sent.
    pub write_timeout: Duration,
    /// How long an idle keep-alive connection is kept.
    pub idle_timeout: Duration,
    /// How long a complete request may wait for a worker before it is answered `503`.
    pub queue_timeout: Duration,
    pub max_requests_per_connection: usize,
    /// Requests one client address may make: a burst, then one per interval (`429` past it).
    pub per_client_rate: Option<Rate>,
    /// TLS, basic auth, extra headers and the shared rate limit.
    pub web: WebConfig,
    /// What `/readyz` answers; without it, `/healthz` and `/readyz` are unknown paths.
    pub readiness: Option<Arc<dyn Readiness>>,
}

/// Whether the process serving is ready for work (the agent: its last cycles succeeded).
pub trait Readiness: Send + Sync {
    /// `Ok` when ready; else why not, the `503` body.
    fn ready(&self) -> Result<(), String>;
}

impl std::fmt::Debug for dyn Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Readiness")
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            workers: 4,
            max_connections: 512,
            max_request_bytes: 8 * 1024,
            read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            queue_timeout: Duration::from_secs(5),
            max_requests_per_connection: 1000,
            per_client_rate: Some(DEFAULT_PER_CLIENT_RATE),
            web: WebConfig::default(),
            readiness: None,
        }
    }
}

/// A client address's requests: 1000 at once, then 100 a second. A Prometheus scrapes every
/// few seconds and never meets it; a flood from one address is held to about a fifth of a core
/// (a scrape costs about 2 ms) instead of all of them. Not lower: an attacker may share
/// Prometheus's address, and then Prometheus's scrapes are refused too.
pub const DEFAULT_PER_CLIENT_RATE: Rate = Rate {
    burst: 1000,
    interval: Duration::from_millis(10),
};

/// How long a closing connection is read (and the bytes dropped) after its last answer, so
/// closing does not reset the connection before the client has read that answer.
pub const LINGER: Duration = Duration::from_millis(500);
/// The most bytes read from a closing connection.
const LINGER_BYTES: usize = 64 * 1024;

pub use crate::signals::stop_on_signals;

/// What a connection is waiting for.
enum Phase {
    /// The rest of a request head.
    Reading,
    /// The client to take the rest of an answer.
    Writing {
        out: Vec<u8>,
        sent: usize,
        then: AfterAnswer,
    },
    /// The client to close after its last answer (see [`LINGER`]).
    Lingering { drained: usize },
}

#[derive(Clone, Copy, PartialEq)]
enum AfterAnswer {
    /// Keep the connection for the next request.
    KeepAlive,
    Close,
}

/// A client connection (non-blocking socket) while the poller holds it.
struct Conn {
    io: Transport,
    peer: IpAddr,
    /// Bytes read and not yet consumed by a request.
    buf: Vec<u8>,
    /// How much of `buf` is known not to hold the end of a head.
    scanned: usize,
    served: usize,
    phase: Phase,
    /// When the connection is closed if it is still in this phase.
    deadline: Instant,
    /// When it entered this phase: at the connection limit the oldest is evicted.
    since: Instant,
}

impl Conn {
    fn accepted(io: Transport, peer: IpAddr, now: Instant, options: &ServerOptions) -> Conn {
        Conn {
            io,
            peer,
            buf: Vec::new(),
            scanned: 0,
            served: 0,
            phase: Phase::Reading,
            deadline: now + options.read_timeout,
            since: now,
        }
    }

    /// Waits for the next request: `idle_timeout` until it starts, then `read_timeout`.
    fn await_request(&mut self, now: Instant, options: &ServerOptions) {
        self.phase = Phase::Reading;
        self.since = now;
        self.deadline = now
            + if self.buf.is_empty() {
                options.idle_timeout
            } else {
                options.read_timeout
            };
    }

    fn linger(&mut self, now: Instant) {
        self.io.close_write();
        self.phase = Phase::Lingering { drained: 0 };
        self.since = now;
        self.deadline = now + LINGER;
    }

    /// The length of the first request head in `buf`, once it is complete.
    fn head_end(&mut self) -> Option<usize> {
        find_head_end(&self.buf, &mut self.scanned)
    }

    /// Drops the first `len` bytes (a request head that was read).
    fn consume(&mut self, len: usize) {
        self.buf.drain(..len);
        self.scanned = 0;
    }

    /// Reads what the client sent, up to one byte past `max_request_bytes` buffered.
    fn read_available(&mut self, now: Instant, options: &ServerOptions) -> Received {
        let was_empty = self.buf.is_empty();
        let received = self
            .io
            .receive(&mut self.buf, options.max_request_bytes + 1);
        // The head deadline of a kept-alive connection starts with the head's first byte.
        if was_empty && !self.buf.is_empty() && self.served > 0 {
            self.deadline = now + options.read_timeout;
        }
        received
    }

    /// Sends `head` and `body`, as much as the socket takes now; the rest waits in the poller.
    fn answer(
        &mut self,
        head: &[u8],
        body: &[u8],
        then: AfterAnswer,
        now: Instant,
        options: &ServerOptions,
    ) -> io::Result<()> {
        let mut written = self.io.send(head)?;
        if written == head.len() {
            written += self.io.send(body)?;
        }
        let total = head.len() + body.len();
        if written == total && !self.io.pending() {
            self.answered(then, now, options);
            return Ok(());
        }
        let mut out = Vec::with_capacity(total - written);
        if written < head.len() {
            out.extend_from_slice(&head[written..]);
            out.extend_from_slice(body);
        } else {
            out.extend_from_slice(&body[written - head.len()..]);
        }
        self.phase = Phase::Writing { out, sent: 0, then };
        self.since = now;
        self.deadline = now + options.write_timeout;
        Ok(())
    }

    fn answered(&mut self, then: AfterAnswer, now: Instant, options: &ServerOptions) {
        match then {
            AfterAnswer::KeepAlive => self.await_request(now, options),
            AfterAnswer::Close => self.linger(now),
        }
    }

    /// Goes on with whatever the connection waits for after poll(2) reported it ready.
    fn advance(&mut self, now: Instant, options: &ServerOptions) -> Step {
        match &mut self.phase {
            Phase::Reading => {
                let received = self.read_available(now, options);
                if received == Received::PlainHttp {
                    self.io.fall_back_to_plain();
                    let refused =
                        self.answer(PLAIN_HTTP_ANSWER, &[], AfterAnswer::Close, now, options);
                    return if refused.is_err() {
                        Step::Close
                    } else {
                        Step::Keep
                    };
                }
                // A client may send its request and close its side at once: it is answered.
                if self.head_end().is_some() {
                    return Step::Dispatch;
                }
                if received == Received::Closed {
                    return Step::Close;
                }
                if self.buf.len() > options.max_request_bytes {
                    let head = plain_head("431 Request Header Fields Too Large", TOO_LARGE, true);
                    let refused =
                        self.answer(head.as_bytes(), TOO_LARGE, AfterAnswer::Close, now, options);
                    if refused.is_err() {
                        return Step::Close;
                    }
                }
                Step::Keep
            }
            Phase::Writing { out, sent, then } => {
                match self.io.send(&out[*sent..]) {
                    Ok(n) => *sent += n,
                    Err(_) => return Step::Close,
                }
                if *sent == out.len() && !self.io.pending() {
                    let then = *then;
                    self.answered(then, now, options);
                    if matches!(self.phase, Phase::Reading) && self.head_end().is_some() {
                        return Step::Dispatch;
                    }
                }
                Step::Keep
            }
            Phase::Lingering { drained } => {
                let mut sink = [0u8; 4096];
                if self.io.flush().is_err() {
                    return Step::Close;
                }
                loop {
                    match self.io.discard(&mut sink) {
                        Ok(0) => return Step::Close,
                        Ok(n) => {
                            *drained += n;
                            if *drained > LINGER_BYTES {
                                return Step::Close;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Keep,
                        Err(_) => return Step::Close,
                    }
                }
            }
        }
    }

    /// Eviction order at the connection limit: closing connections first, then those waiting
    /// for a request, then those being sent an answer; the oldest first within each.
    fn eviction_rank(&self) -> (u8, Instant) {
        let rank = match self.phase {
            Phase::Lingering { .. } => 0,
            Phase::Reading => 1,
            Phase::Writing { .. } => 2,
        };
        (rank, self.since)
    }
}

/// The length of the head (through the blank line) at the start of `buf`. Searching starts
/// where the previous search of the same buffer stopped (`scanned`, updated), so a head that
/// arrives one byte at a time is searched in linear, not quadratic, time.
fn find_head_end(buf: &[u8], scanned: &mut usize) -> Option<usize> {
    let from = (*scanned).min(buf.len()).saturating_sub(3);
    match buf[from..].windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => Some(from + at + 4),
        None => {
            *scanned = buf.len();
            None
        }
    }
}

/// What the poller does with a connection after [`Conn::advance`].
enum Step {
    Keep,
    /// A complete request head is buffered: hand it to a worker.
    Dispatch,
    Close,
}

/// A complete request waiting for a worker.
struct Job {
    conn: Conn,
    queued: Instant,
}

/// Serves until the listener fails, or until a stop signal (see [`stop_on_signals`]).
/// Blocks the calling thread, which becomes the poller.
pub fn serve(
    listener: TcpListener,
    exposition: Arc<Exposition>,
    options: ServerOptions,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let (mut wake_rx, wake_tx) = UnixStream::pair()?;
    wake_rx.set_nonblocking(true)?;
    wake_tx.set_nonblocking(true)?;
    let (back_tx, back_rx) = mpsc::channel::<Conn>();
    // Never full: every queued request is an open connection, and those are capped.
    let (work_tx, work_rx) = mpsc::sync_channel::<Job>(options.max_connections.max(1));
    let work_rx = Arc::new(Mutex::new(work_rx));
    // Connections queued for or held by a worker.
    let with_workers = Arc::new(AtomicUsize::new(0));
    let shared = Arc::new(Shared {
        scratch: ScratchPool::default(),
        limits: Mutex::new(Limits::new(
            options.per_client_rate,
            options.web.rate_limit,
            Instant::now(),
        )),
        auth: options
            .web
            .wants_auth()
            .then(|| BasicAuth::new(options.web.users.clone(), options.workers.max(2) - 1)),
        extra_headers: options
            .web
            .headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .collect(),
        client_limited: format!(
            "429 Too Many Requests\r\nRetry-After: {}",
            options
                .per_client_rate
                .map_or(1, |r| r.interval.as_secs_f64().ceil().max(1.0) as u64)
        ),
    });
    for n in 0..options.workers.max(1) {
        let work_rx = Arc::clone(&work_rx);
        let mut worker = Worker::new(
            Arc::clone(&exposition),
            options.clone(),
            Arc::clone(&shared),
        );
        let back_tx = back_tx.clone();
        let wake_tx = wake_tx.try_clone()?;
        let with_workers = Arc::clone(&with_workers);
        std::thread::Builder::new()
            .name(format!("metrics-{n}"))
            .spawn(move || {
                loop {
                    let next = work_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok(job) = next else { return };
                    if let Some(conn) = worker.handle(job)
                        && back_tx.send(conn).is_ok()
                    {
                        let _ = (&wake_tx).write(&[1]);
                    }
                    with_workers.fetch_sub(1, Ordering::SeqCst);
                }
            })?;
    }
    drop(back_tx);
    let mut poller = Poller {
        options,
        listener: Some(listener),
        conns: Vec::new(),
        work_tx,
        with_workers,
        stopping: None,
    };
    let mut fds: Vec<libc::pollfd> = Vec::new();
    loop {
        let now = Instant::now();
        if poller.stopping.is_none() && crate::signals::stop_requested() {
            poller.stop(now);
        }
        if let Some(give_up) = poller.stopping
            && ((poller.conns.is_empty() && poller.with_workers.load(Ordering::SeqCst) == 0)
                || now >= give_up)
        {
            tracing::info!("metrics server stopped");
            return Ok(());
        }
        while let Ok(conn) = back_rx.try_recv() {
            poller.adopt(conn, now)?;
        }
        poller.conns.retain(|c| now < c.deadline);

        fds.clear();
        fds.push(pollfd(wake_rx.as_raw_fd(), libc::POLLIN));
        if let Some(listener) = &poller.listener {
            fds.push(pollfd(listener.as_raw_fd(), libc::POLLIN));
        }
        let first_conn = fds.len();
        for conn in &poller.conns {
            let events = match conn.phase {
                Phase::Writing { .. } => libc::POLLOUT,
                // A TLS handshake's answer may wait for the socket too.
                Phase::Reading | Phase::Lingering { .. } if conn.io.pending() => {
                    libc::POLLIN | libc::POLLOUT
                }
                Phase::Reading | Phase::Lingering { .. } => libc::POLLIN,
            };
            fds.push(pollfd(conn.io.raw_fd(), events));
        }
        let wait = poller.next_deadline(now).min(if poller.stopping.is_some() {
            Duration::from_millis(10)
        } else {
            Duration::from_secs(1)
        });
        // Rounded up: waking before a deadline would spin.
        let wait_ms = wait.as_micros().div_ceil(1000) as libc::c_int;
        // SAFETY: fds is a valid array of pollfd of the given length.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms) };
        if ready < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if fds[0].revents != 0 {
            let mut sink = [0u8; 256];
            while matches!(wake_rx.read(&mut sink), Ok(n) if n > 0) {}
        }
        let now = Instant::now();
        // In reverse, so that removing a connection keeps the lower indices valid.
        for i in (0..poller.conns.len()).rev() {
            if fds[first_conn + i].revents != 0 {
                poller.advance(i, now)?;
            }
        }
        if first_conn == 2 && fds[1].revents != 0 {
            poller.accept_all(now)?;
        }
    }
}

fn pollfd(fd: std::os::fd::RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// The poller thread's state: the listener and every connection no worker holds.
struct Poller {
    options: ServerOptions,
    /// `None` once stopping.
    listener: Option<TcpListener>,
    conns: Vec<Conn>,
    work_tx: mpsc::SyncSender<Job>,
    with_workers: Arc<AtomicUsize>,
    /// When a graceful stop gives up waiting for answers in flight.
    stopping: Option<Instant>,
}

impl Poller {
    /// No new connections or requests; answers in flight are finished.
    fn stop(&mut self, now: Instant) {
        self.stopping = Some(now + self.options.read_timeout + self.options.write_timeout);
        self.listener = None;
        self.conns.retain(|c| !matches!(c.phase, Phase::Reading));
    }

    fn next_deadline(&self, now: Instant) -> Duration {
        self.conns
            .iter()
            .map(|c| c.deadline.saturating_duration_since(now))
            .min()
            .unwrap_or(Duration::MAX)
    }

    /// Takes back a connection from a worker.
    fn adopt(&mut self, mut conn: Conn, now: Instant) -> io::Result<()> {
        if matches!(conn.phase, Phase::Reading) {
            if self.stopping.is_some() {
                return Ok(());
            }
            // A request the client sent right behind the previous one.
            if conn.head_end().is_some() {
                return self.dispatch(conn, now);
            }
        }
        self.conns.push(conn);
        Ok(())
    }

    fn advance(&mut self, i: usize, now: Instant) -> io::Result<()> {
        match self.conns[i].advance(now, &self.options) {
            Step::Keep => Ok(()),
            Step::Close => {
                self.conns.swap_remove(i);
                Ok(())
            }
            Step::Dispatch => {
                let conn = self.conns.swap_remove(i);
                self.dispatch(conn, now)
            }
        }
    }

    fn dispatch(&mut self, conn: Conn, now: Instant) -> io::Result<()> {
        self.with_workers.fetch_add(1, Ordering::SeqCst);
        match self.work_tx.try_send(Job { conn, queued: now }) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.with_workers.fetch_sub(1, Ordering::SeqCst);
                match e {
                    // Cannot happen (see the channel's size); closing is the safe answer.
                    TrySendError::Full(_) => Ok(()),
                    TrySendError::Disconnected(_) => {
                        Err(io::Error::other("all metrics workers stopped"))
                    }
                }
            }
        }
    }

    fn accept_all(&mut self, now: Instant) -> io::Result<()> {
        loop {
            let Some(listener) = &self.listener else {
                return Ok(());
            };
            let (mut stream, peer) = match listener.accept() {
                Ok((stream, peer)) => (stream, peer.ip()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: back off a little instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    std::thread::sleep(Duration::from_millis(50));
                    return Ok(());
                }
            };
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            let _ = stream.set_nodelay(true);
            let open = self.conns.len() + self.with_workers.load(Ordering::SeqCst);
            if open >= self.options.max_connections && !self.evict_one() {
                // A TLS client could not read a plain answer: it is just closed.
                if self.options.web.tls.is_none() {
                    transport::send_raw(&mut stream, TOO_MANY_CONNECTIONS);
                }
                continue;
            }
            let io = match Transport::new(stream, self.options.web.tls.as_ref()) {
                Ok(io) => io,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start TLS on a connection");
                    continue;
                }
            };
            let mut conn = Conn::accepted(io, peer, now, &self.options);
            // A scraper sends its request with the connection: often it is already here.
            match conn.advance(now, &self.options) {
                Step::Keep => self.conns.push(conn),
                Step::Dispatch => self.dispatch(conn, now)?,
                Step::Close => {}
            }
        }
    }

    /// Closes the connection that matters least (see [`Conn::eviction_rank`]); `false` when
    /// the poller holds none.
    fn evict_one(&mut self) -> bool {
        let oldest = self
            .conns
            .iter()
            .enumerate()
            .min_by_key(|(_, c)| c.eviction_rank())
            .map(|(i, _)| i);
        match oldest {
            Some(i) => {
                self.conns.swap_remove(i);
                true
            }
            None => false,
        }
    }
}

/// Every connection is being answered: a short 503, as much as the socket takes, and close.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 21\r\nRetry-After: 1\r\nConnection: close\r\n\r\ntoo many connections\n";

/// A parsed request head: only what the server uses.
#[derive(Debug, Default, PartialEq)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// What follows `?` in the target (without a `#` fragment).
    pub query: String,
    pub authorization: Option<Authorization>,
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
    let target = target.split('#').next().unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut request = Request {
        method,
        path: path.to_owned(),
        query: query.to_owned(),
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
            "authorization" => request.authorization = Some(Authorization(value.to_owned())),
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

/// An `Authorization` header's value: a credential, never printed.
#[derive(Default, PartialEq)]
pub struct Authorization(pub String);

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authorization(<not shown>)")
    }
}

/// What encoding an answer needs: the text, its gzip form and the compressor's state.
struct Scratch {
    text: String,
    compressed: Vec<u8>,
    gzip: Gzip,
}

/// Scratch shared by the workers. A kept-alive scrape's next request goes to whichever worker
/// is free, so per-worker buffers would all grow to a scrape's size; from a pool, sequential
/// scrapes use one set and only concurrent ones make more.
#[derive(Default)]
struct ScratchPool(Mutex<Vec<Scratch>>);

impl ScratchPool {
    fn take(&self) -> Scratch {
        let pooled = self.0.lock().unwrap_or_else(|p| p.into_inner()).pop();
        pooled.unwrap_or_else(|| Scratch {
            text: String::with_capacity(64 * 1024),
            compressed: Vec::with_capacity(16 * 1024),
            gzip: Gzip::new(),
        })
    }

    fn give(&self, scratch: Scratch) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(scratch);
    }
}

/// What the workers share: scratch buffers, the rate limits, basic auth and the web config's
/// extra headers (as head lines).
struct Shared {
    scratch: ScratchPool,
    limits: Mutex<Limits>,
    auth: Option<BasicAuth>,
    extra_headers: String,
    /// The `429` status line of a client past its rate, with when to come back.
    client_limited: String,
}

struct Worker {
    exposition: Arc<Exposition>,
    options: ServerOptions,
    shared: Arc<Shared>,
}

/// An answer before it is sent: status line (and any header lines of its own), content type,
/// encoding, body.
struct Answer<'a> {
    status: &'a str,
    content_type: &'a str,
    encoding: Option<&'a str>,
    body: &'a [u8],
}

impl<'a> Answer<'a> {
    fn plain(status: &'a str, body: &'a [u8]) -> Answer<'a> {
        Answer {
            status,
            content_type: "text/plain; charset=utf-8",
            encoding: None,
            body,
        }
    }
}

impl Worker {
    fn new(exposition: Arc<Exposition>, options: ServerOptions, shared: Arc<Shared>) -> Self {
        Worker {
            exposition,
            options,
            shared,
        }
    }

    /// Answers the request at the start of the connection's buffer; returns the connection
    /// for the poller, `None` when it is to be closed at once.
    fn handle(&mut self, job: Job) -> Option<Conn> {
        let Job { mut conn, queued } = job;
        let end = conn.head_end()?;
        let request = std::str::from_utf8(&conn.buf[..end])
            .ok()
            .and_then(parse_head);
        conn.consume(end);
        conn.served += 1;
        let now = Instant::now();
        let answered = match request {
            _ if now.duration_since(queued) > self.options.queue_timeout => {
                let head = plain_head("503 Service Unavailable\r\nRetry-After: 1", BUSY, true);
                conn.answer(
                    head.as_bytes(),
                    BUSY,
                    AfterAnswer::Close,
                    now,
                    &self.options,
                )
            }
            None => {
                let head = plain_head("400 Bad Request", BAD_REQUEST, true);
                conn.answer(
                    head.as_bytes(),
                    BAD_REQUEST,
                    AfterAnswer::Close,
                    now,
                    &self.options,
                )
            }
            Some(request) => {
                let close = request.connection_close
                    || (request.http10 && !request.keep_alive)
                    || request.has_body
                    || conn.served >= self.options.max_requests_per_connection
                    || crate::signals::stop_requested();
                self.answer(&mut conn, &request, close)
            }
        };
        answered.ok().map(|()| conn)
    }

    fn answer(&mut self, conn: &mut Conn, request: &Request, close: bool) -> io::Result<()> {
        let then = if close {
            AfterAnswer::Close
        } else {
            AfterAnswer::KeepAlive
        };
        let head_only = request.method == "HEAD";
        let admitted = self
            .shared
            .limits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .admit(conn.peer, Instant::now());
        let mut scratch = self.shared.scratch.take();
        let failed_body;
        let answer = if let Err(limited) = admitted {
            match limited {
                Limited::Client => Answer::plain(
                    &self.shared.client_limited,
                    b"too many requests from this address\n",
                ),
                // exporter-toolkit's answer.
                Limited::Everyone => Answer::plain("429 Too Many Requests", b"Too Many Requests\n"),
            }
        } else if let Some(auth) = &self.shared.auth
            && !auth.allows(request.authorization.as_ref().map(|a| a.0.as_str()))
        {
            // exporter-toolkit's answer, the same for a wrong password and an unknown user.
            Answer::plain(
                "401 Unauthorized\r\nWWW-Authenticate: Basic",
                b"Unauthorized\n",
            )
        } else if request.method != "GET" && !head_only {
            Answer::plain(
                "405 Method Not Allowed\r\nAllow: GET, HEAD",
                b"only GET and HEAD\n",
            )
        } else {
            match request.path.as_str() {
                "/metrics" => match self.metrics(request, &mut scratch) {
                    Ok(scraped) => Answer {
                        status: "200 OK",
                        content_type: scraped.format.content_type(),
                        encoding: scraped.gzip.then_some("gzip"),
                        body: if scraped.gzip {
                            &scratch.compressed
                        } else {
                            scratch.text.as_bytes()
                        },
                    },
                    Err(Refused::Filter(body)) => {
                        failed_body = body;
                        Answer::plain("400 Bad Request", failed_body.as_bytes())
                    }
                    Err(Refused::Encoding) => {
                        let head = plain_head("500 Internal Server Error", ENCODING_FAILED, true);
                        self.shared.scratch.give(scratch);
                        return conn.answer(
                            head.as_bytes(),
                            ENCODING_FAILED,
                            AfterAnswer::Close,
                            Instant::now(),
                            &self.options,
                        );
                    }
                },
                "/" => Answer {
                    status: "200 OK",
                    content_type: "text/html; charset=utf-8",
                    encoding: None,
                    body: LANDING.as_bytes(),
                },
                "/healthz" if self.options.readiness.is_some() => Answer::plain("200 OK", b"ok\n"),
                "/readyz" if let Some(readiness) = &self.options.readiness => {
                    match readiness.ready() {
                        Ok(()) => Answer::plain("200 OK", b"ready\n"),
                        Err(why) => {
                            failed_body = format!("not ready: {why}\n");
                            Answer::plain("503 Service Unavailable", failed_body.as_bytes())
                        }
                    }
                }
                _ => Answer::plain("404 Not Found", b"not found; metrics are at /metrics\n"),
            }
        };
        let mut head = response_head(
            answer.status,
            answer.content_type,
            answer.encoding,
            answer.body.len(),
            close,
        );
        // The web config's headers go before the blank line.
        head.truncate(head.len() - 2);
        head.push_str(&self.shared.extra_headers);
        head.push_str("\r\n");
        let body = if head_only { &[][..] } else { answer.body };
        let answered = conn.answer(head.as_bytes(), body, then, Instant::now(), &self.options);
        self.shared.scratch.give(scratch);
        answered
    }

    /// A scrape, into the scratch buffers (the text, and its gzip when the client takes it).
    fn metrics(&self, request: &Request, scratch: &mut Scratch) -> Result<Scraped, Refused> {
        let selection = collect_filter::select(&request.query, self.exposition.collectors())
            .map_err(Refused::Filter)?;
        let format = Format::negotiate(request.accept.as_deref());
        let encoded = self
            .exposition
            .encode_selected(format, &selection, &mut scratch.text);
        if let Err(e) = encoded {
            tracing::error!(error = %e, "encoding metrics failed");
            return Err(Refused::Encoding);
        }
        let gzip = accepts_gzip(request.accept_encoding.as_deref());
        if gzip {
            let Scratch {
                text,
                compressed,
                gzip,
            } = scratch;
            gzip.compress(text.as_bytes(), compressed)
                .map_err(|_| Refused::Encoding)?;
        }
        Ok(Scraped { format, gzip })
    }
}

/// A scrape in the scratch buffers.
struct Scraped {
    format: Format,
    /// The body is `scratch.compressed`, not `scratch.text`.
    gzip: bool,
}

/// Why a scrape is not answered with metrics.
enum Refused {
    /// A bad `collect[]`/`exclude[]`: the `400` body.
    Filter(String),
    Encoding,
}

const TOO_LARGE: &[u8] = b"request head too large\n";
const BUSY: &[u8] = b"busy\n";
const BAD_REQUEST: &[u8] = b"bad request\n";
const ENCODING_FAILED: &[u8] = b"encoding metrics failed\n";
const LANDING: &str = "<!doctype html><html><head><title>driftless</title></head><body><h1>driftless</h1><p><a href=\"/metrics\">Metrics</a></p></body></html>\n";

fn response_head(
    status: &str,
    content_type: &str,
    encoding: Option<&str>,
    length: usize,
    close: bool,
) -> String {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n"
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
    head
}

/// The head of a short plain-text answer.
fn plain_head(status: &str, body: &[u8], close: bool) -> String {
    response_head(status, "text/plain", None, body.len(), close)
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

    #[test]
    fn a_head_arriving_byte_by_byte_is_found_where_it_ends() {
        let request = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next";
        let end = request.len() - b"GET /next".len();
        let mut buf = Vec::new();
        let mut scanned = 0;
        for (i, byte) in request.iter().enumerate() {
            buf.push(*byte);
            let found = find_head_end(&buf, &mut scanned);
            assert_eq!(
                found,
                (i + 1 >= end).then_some(end),
                "after {} bytes",
                i + 1
            );
        }
    }
}
