//! A `/metrics` connection's bytes, plain or TLS (rustls), without ever blocking: the server's
//! poller reads request heads and finishes answers through this, and a worker writes its
//! answer through it, so a TLS handshake or a slow reader holds no worker.
//!
//! With TLS, a client that speaks plain HTTP is told so in plain HTTP (as Go's server does)
//! and closed: `/metrics` is never served without TLS when TLS is set.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

/// What a read found.
#[derive(Debug, PartialEq)]
pub(super) enum Received {
    /// Still open (whatever arrived is in the buffer).
    Open,
    /// The client closed, or the connection failed.
    Closed,
    /// Plain HTTP on a TLS connection.
    PlainHttp,
}

/// Go's answer to plain HTTP on a TLS port.
pub(super) const PLAIN_HTTP_ANSWER: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

pub(super) struct Transport {
    stream: TcpStream,
    tls: Option<Tls>,
}

struct Tls {
    conn: Box<rustls::ServerConnection>,
    /// Whether the client's first byte was looked at (TLS or plain HTTP).
    first_byte_checked: bool,
}

impl Transport {
    /// A non-blocking accepted stream, in TLS with `config`.
    pub fn new(
        stream: TcpStream,
        config: Option<&Arc<rustls::ServerConfig>>,
    ) -> Result<Transport, rustls::Error> {
        let tls = match config {
            Some(config) => Some(Tls {
                conn: Box::new(rustls::ServerConnection::new(Arc::clone(config))?),
                first_byte_checked: false,
            }),
            None => None,
        };
        Ok(Transport { stream, tls })
    }

    pub fn raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    /// Reads what arrived into `buf`, up to `limit` bytes buffered.
    pub fn receive(&mut self, buf: &mut Vec<u8>, limit: usize) -> Received {
        match &mut self.tls {
            None => receive_plain(&mut self.stream, buf, limit),
            Some(tls) => {
                if !tls.first_byte_checked {
                    let mut first = [0u8; 1];
                    match self.stream.peek(&mut first) {
                        Ok(0) => return Received::Closed,
                        // A TLS record starts with its type (22, a handshake); a request line
                        // with a method in capitals.
                        Ok(_) if first[0].is_ascii_uppercase() => return Received::PlainHttp,
                        Ok(_) => tls.first_byte_checked = true,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Received::Open,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => return Received::Open,
                        Err(_) => return Received::Closed,
                    }
                }
                receive_tls(&mut self.stream, &mut tls.conn, buf, limit)
            }
        }
    }

    /// Leaves TLS, to tell a plain HTTP client in plain HTTP what is wrong before closing.
    pub fn fall_back_to_plain(&mut self) {
        self.tls = None;
    }

    /// Writes what the socket takes now; returns how many of `bytes` were taken (with TLS,
    /// encrypted bytes may still wait: see [`Transport::pending`]).
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match &mut self.tls {
            None => send_plain(&mut self.stream, bytes),
            Some(tls) => {
                let mut taken = 0;
                loop {
                    taken += tls.conn.writer().write(&bytes[taken..])?;
                    if !flush_tls(&mut self.stream, &mut tls.conn)? || taken == bytes.len() {
                        return Ok(taken);
                    }
                }
            }
        }
    }

    /// Encrypted bytes wait for the socket (the poller waits for it to be writable).
    pub fn pending(&self) -> bool {
        self.tls.as_ref().is_some_and(|tls| tls.conn.wants_write())
    }

    /// Sends what waits, as much as the socket takes now.
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.tls {
            Some(tls) => flush_tls(&mut self.stream, &mut tls.conn).map(|_| ()),
            None => Ok(()),
        }
    }

    /// Ends the sending side: TLS's close_notify (as far as the socket takes it), then FIN.
    pub fn close_write(&mut self) {
        if let Some(tls) = &mut self.tls {
            tls.conn.send_close_notify();
            let _ = flush_tls(&mut self.stream, &mut tls.conn);
        }
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
    }

    /// Reads and drops raw bytes (a closing connection); `Ok(0)` when the client closed.
    pub fn discard(&mut self, sink: &mut [u8]) -> io::Result<usize> {
        self.stream.read(sink)
    }
}

fn receive_plain(stream: &mut TcpStream, buf: &mut Vec<u8>, limit: usize) -> Received {
    let mut chunk = [0u8; 4096];
    loop {
        let room = limit.saturating_sub(buf.len());
        if room == 0 {
            return Received::Open;
        }
        match stream.read(&mut chunk[..room.min(4096)]) {
            Ok(0) => return Received::Closed,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Received::Open,
            Err(_) => return Received::Closed,
        }
    }
}

fn receive_tls(
    stream: &mut TcpStream,
    tls: &mut rustls::ServerConnection,
    buf: &mut Vec<u8>,
    limit: usize,
) -> Received {
    let mut chunk = [0u8; 4096];
    loop {
        // What was decrypted already comes first.
        let room = limit.saturating_sub(buf.len());
        if room == 0 {
            return Received::Open;
        }
        match tls.reader().read(&mut chunk[..room.min(4096)]) {
            Ok(0) => return Received::Closed,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return Received::Closed,
        }
        match tls.read_tls(stream) {
            Ok(0) => return Received::Closed,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return match flush_tls(stream, tls) {
                    Ok(_) => Received::Open,
                    Err(_) => Received::Closed,
                };
            }
            Err(_) => return Received::Closed,
        }
        if let Err(e) = tls.process_new_packets() {
            tracing::debug!(error = %e, "TLS handshake or record failed");
            // The alert rustls queued, if the socket takes it.
            let _ = flush_tls(stream, tls);
            return Received::Closed;
        }
        if flush_tls(stream, tls).is_err() {
            return Received::Closed;
        }
    }
}

fn send_plain(stream: &mut TcpStream, mut bytes: &[u8]) -> io::Result<usize> {
    let mut written = 0;
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                written += n;
                bytes = &bytes[n..];
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

/// Sends rustls's waiting records; `Ok(true)` when none wait any more.
fn flush_tls(stream: &mut TcpStream, tls: &mut rustls::ServerConnection) -> io::Result<bool> {
    while tls.wants_write() {
        match tls.write_tls(stream) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Writes a short answer on a raw stream, as much as it takes now (refusals before a
/// [`Transport`] exists).
pub(super) fn send_raw(stream: &mut TcpStream, bytes: &[u8]) {
    let _ = send_plain(stream, bytes);
}
