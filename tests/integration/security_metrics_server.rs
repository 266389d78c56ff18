//! `/metrics` stays up under abuse (issue 8, item 7): slowloris sockets, clients that trickle a
//! request head or a bad request, clients that never read their answers, and more sockets than
//! the connection limit. Each test runs the real `driftless facts --serve` and requires
//! legitimate scrapes, each with a 1 s budget, to keep succeeding.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::facts_support::*;

/// The budget of one legitimate scrape, connecting included.
const SCRAPE_BUDGET: Duration = Duration::from_secs(1);

/// One `GET /metrics` within [`SCRAPE_BUDGET`]: `true` when a complete 200 answer arrived.
fn scrape_in_time(port: u16) -> bool {
    let started = Instant::now();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, SCRAPE_BUDGET) else {
        return false;
    };
    let left = || SCRAPE_BUDGET.checked_sub(started.elapsed());
    let Some(budget) = left() else { return false };
    let _ = stream.set_write_timeout(Some(budget));
    if stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut raw = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let Some(budget) = left() else { return false };
        let _ = stream.set_read_timeout(Some(budget.max(Duration::from_millis(1))));
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
        }
    }
    if started.elapsed() > SCRAPE_BUDGET || !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        return false;
    }
    let response = parse_response(&raw);
    response.status == 200
        && response
            .headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            == Some(response.body.len())
        && response.text().contains("node_load1 ")
}

/// Scrapes `count` times, one after the other; returns how many succeeded in time.
fn scrapes_in_time(port: u16, count: usize) -> usize {
    (0..count)
        .filter(|_| {
            let ok = scrape_in_time(port);
            std::thread::sleep(Duration::from_millis(20));
            ok
        })
        .count()
}

/// Hostile sockets, kept open by one thread until dropped: each sends `opening`, then one
/// byte per `pause`; a socket the server closes is opened again at once.
struct Attack {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Attack {
    fn start(port: u16, sockets: usize, opening: &'static [u8], pause: Duration) -> Attack {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let open = move || {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
            stream.write_all(opening).ok()?;
            Some(stream)
        };
        let mut streams: Vec<Option<TcpStream>> = (0..sockets).map(|_| open()).collect();
        assert!(
            streams.iter().all(Option::is_some),
            "could not open {sockets} sockets"
        );
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                for stream in &mut streams {
                    let alive = stream.as_mut().is_some_and(|s| s.write_all(b"a").is_ok());
                    if !alive {
                        *stream = open();
                    }
                }
                std::thread::sleep(pause);
            }
        });
        Attack {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Attack {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A request head that never ends.
const SLOWLORIS: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
/// A complete but invalid request, then more bytes forever.
const BAD_REQUEST: &[u8] = b"NOT HTTP AT ALL\r\n\r\n";

#[test]
fn scrapes_succeed_while_200_slowloris_sockets_and_trickled_bad_requests_are_open() {
    let (_server, port) = serve(&["--no-config"]);
    let _slowloris = Attack::start(port, 200, SLOWLORIS, Duration::from_millis(500));
    let _bad = Attack::start(port, 8, BAD_REQUEST, Duration::from_millis(100));
    std::thread::sleep(Duration::from_millis(300));
    let ok = scrapes_in_time(port, 40);
    assert!(ok >= 38, "only {ok} of 40 scrapes succeeded within 1 s");
}

/// More sockets than the connection limit (512): the oldest waiting ones are evicted, so a
/// scrape still gets in.
#[test]
fn scrapes_succeed_with_more_slowloris_sockets_than_the_connection_limit() {
    let (_server, port) = serve(&["--no-config"]);
    let _slowloris = Attack::start(port, 600, SLOWLORIS, Duration::from_millis(500));
    std::thread::sleep(Duration::from_millis(300));
    let ok = scrapes_in_time(port, 40);
    assert!(ok >= 38, "only {ok} of 40 scrapes succeeded within 1 s");
}

/// Trickles one byte per `pause` after `opening` until the server has closed the connection
/// (not only its sending half: a write fails); returns when that was noticed.
fn trickle_until_closed(port: u16, opening: &[u8], pause: Duration, give_up: Duration) -> Duration {
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.write_all(opening).expect("write");
    stream.set_nonblocking(true).expect("nonblocking");
    let mut sink = [0u8; 4096];
    let mut half_closed = false;
    while started.elapsed() < give_up {
        while !half_closed {
            match stream.read(&mut sink) {
                Ok(0) => half_closed = true,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => return started.elapsed(),
            }
        }
        // A closed socket answers the first byte with a reset, which fails the next write.
        if stream.write_all(b"a").is_err() {
            return started.elapsed();
        }
        std::thread::sleep(pause);
    }
    started.elapsed()
}

/// Trickling clients, more than the workers: none holds a worker (scrapes are answered in
/// time), and each is closed at the 5 s head deadline, which its bytes do not extend.
#[test]
fn trickling_clients_hold_no_worker_and_are_cut_at_the_head_deadline() {
    let (_server, port) = serve(&["--no-config"]);
    let tricklers: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                trickle_until_closed(
                    port,
                    SLOWLORIS,
                    Duration::from_millis(200),
                    Duration::from_secs(10),
                )
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let ok = scrapes_in_time(port, 10);
    assert!(
        ok >= 9,
        "only {ok} of 10 scrapes succeeded while clients trickled"
    );
    for trickler in tricklers {
        let closed = trickler.join().expect("trickler");
        assert!(
            closed >= Duration::from_millis(4500) && closed < Duration::from_millis(6500),
            "a trickling client was closed after {closed:?}, not at the 5 s head deadline"
        );
    }
}

/// After answering a bad request, the server lingers at most 500 ms for the client to close;
/// bytes trickled meanwhile do not extend it.
#[test]
fn a_client_trickling_after_a_bad_request_is_cut_at_the_linger_deadline() {
    let (_server, port) = serve(&["--no-config"]);
    let closed = trickle_until_closed(
        port,
        BAD_REQUEST,
        Duration::from_millis(100),
        Duration::from_secs(5),
    );
    assert!(
        closed < Duration::from_millis(1200),
        "still open {closed:?} after its bad request was answered"
    );
}

/// Clients that pipeline requests and never read the answers: the answers wait in the poller
/// (until the write deadline), not in workers, so scrapes are answered in time.
#[test]
fn clients_that_never_read_their_answers_hold_no_worker() {
    let (_server, port) = serve(&["--no-config"]);
    let requests = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".repeat(100);
    let _silent: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            stream.write_all(&requests).expect("write");
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let ok = scrapes_in_time(port, 10);
    assert!(
        ok >= 9,
        "only {ok} of 10 scrapes succeeded while clients did not read"
    );
}
