//! The syslog sink: each event one message, in RFC 3164 or RFC 5424 form, over UDP, TCP
//! (octet counting, RFC 6587) or a local datagram socket (`/dev/log`).
//!
//! A message is one line: a JSON document (a run report) is sent compacted onto one line,
//! other text has its line breaks replaced by spaces. Over UDP and the local socket a message
//! longer than the format allows is truncated (at a character boundary), as RFC 3164 (1024
//! bytes in all) and RFC 5426 (2048 bytes, what receivers should accept) say; over TCP a frame
//! carries its length, and messages are sent whole up to 64 KiB. Timestamps are UTC.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use super::{Batch, BuildContext, SendError, Sink};
use crate::clock::{Utc, strftime};
use crate::error::ResourceError;
use crate::model::sinks::{
    FACILITIES, SEVERITIES, SinkConfig, SyslogFormat, SyslogProtocol, SyslogSinkConfig, code_of,
};

/// The longest message over UDP or the local socket, per format.
const MAX_DATAGRAM_3164: usize = 1024;
const MAX_DATAGRAM_5424: usize = 2048;
/// The longest message in a TCP frame.
const MAX_FRAME: usize = 64 << 10;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

pub struct SyslogSink {
    destination: String,
    transport: Transport,
    format: SyslogFormat,
    /// PRI: facility × 8 + severity.
    priority: u8,
    hostname: String,
    app_name: String,
    pid: u32,
}

enum Transport {
    Udp(String),
    /// The connection, made on first use and again after a failure.
    Tcp(String, Mutex<Option<TcpStream>>),
    Unix(String),
}

impl SyslogSink {
    pub fn new(config: &SyslogSinkConfig, cx: &BuildContext<'_>) -> Result<Self, ResourceError> {
        let facility = code_of(FACILITIES, config.facility.as_deref().unwrap_or("user"));
        let severity = code_of(SEVERITIES, config.severity.as_deref().unwrap_or("info"));
        let (Some(facility), Some(severity)) = (facility, severity) else {
            return Err(ResourceError::permanent(
                "the syslog sink's facility or severity is not one syslog knows",
            ));
        };
        let address = |default: &str| config.address.clone().unwrap_or_else(|| default.to_owned());
        let transport = match config.protocol {
            SyslogProtocol::Udp => Transport::Udp(address("127.0.0.1:514")),
            SyslogProtocol::Tcp => Transport::Tcp(address("127.0.0.1:514"), Mutex::new(None)),
            SyslogProtocol::Unix => Transport::Unix(address("/dev/log")),
        };
        Ok(SyslogSink {
            destination: SinkConfig::Syslog(config.clone()).destination(),
            transport,
            format: config.format,
            priority: facility * 8 + severity,
            hostname: header_field(config.hostname.as_deref().unwrap_or(cx.host)),
            app_name: header_field(config.app_name.as_deref().unwrap_or("driftless")),
            pid: std::process::id(),
        })
    }

    /// The message of one event, headers and all, within the transport's bound.
    fn message(&self, event: &[u8], time: SystemTime) -> Vec<u8> {
        let text = one_line(event);
        let header = match self.format {
            SyslogFormat::Rfc3164 => {
                let stamp = strftime("%b %e %H:%M:%S", time).unwrap_or_default();
                format!(
                    "<{}>{stamp} {} {}[{}]: ",
                    self.priority, self.hostname, self.app_name, self.pid
                )
            }
            SyslogFormat::Rfc5424 => {
                let t = Utc::of(time);
                let stamp = strftime("%Y-%m-%dT%H:%M:%S", time).unwrap_or_default();
                format!(
                    "<{}>1 {stamp}.{:03}Z {} {} {} - - ",
                    self.priority, t.millis, self.hostname, self.app_name, self.pid
                )
            }
        };
        let limit = match (&self.transport, self.format) {
            (Transport::Tcp(..), _) => MAX_FRAME,
            (_, SyslogFormat::Rfc3164) => MAX_DATAGRAM_3164,
            (_, SyslogFormat::Rfc5424) => MAX_DATAGRAM_5424,
        };
        let room = limit.saturating_sub(header.len());
        let mut message = header.into_bytes();
        message.extend_from_slice(truncate(&text, room).as_bytes());
        message
    }

    fn send_udp(&self, address: &str, messages: &[Vec<u8>]) -> Result<(), ResourceError> {
        let target = resolve(address)?;
        let bind = if target.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = UdpSocket::bind(bind)
            .and_then(|s| s.connect(target).map(|()| s))
            .map_err(|e| ResourceError::io(format_args!("{}", self.destination), &e))?;
        for message in messages {
            socket
                .send(message)
                .map_err(|e| ResourceError::io(format_args!("{}", self.destination), &e))?;
        }
        Ok(())
    }

    fn send_tcp(
        &self,
        address: &str,
        slot: &Mutex<Option<TcpStream>>,
        messages: &[Vec<u8>],
    ) -> Result<(), ResourceError> {
        let mut frames = Vec::with_capacity(messages.iter().map(|m| m.len() + 8).sum());
        for message in messages {
            frames.extend_from_slice(format!("{} ", message.len()).as_bytes());
            frames.extend_from_slice(message);
        }
        let mut slot = slot
            .lock()
            .map_err(|_| ResourceError::permanent("the syslog connection's lock is poisoned"))?;
        let fail = |e: std::io::Error| ResourceError::io(format_args!("{}", self.destination), &e);
        // A kept connection the receiver closed fails on write: one new connection is tried
        // before the failure is returned (to the retry layer).
        for fresh in [false, true] {
            if slot.is_none() || fresh {
                let stream = TcpStream::connect_timeout(&resolve(address)?, CONNECT_TIMEOUT)
                    .map_err(fail)?;
                stream
                    .set_write_timeout(Some(WRITE_TIMEOUT))
                    .map_err(fail)?;
                stream.set_nodelay(true).map_err(fail)?;
                *slot = Some(stream);
            }
            let Some(stream) = slot.as_mut() else {
                continue;
            };
            match stream.write_all(&frames).and_then(|()| stream.flush()) {
                Ok(()) => return Ok(()),
                Err(e) if fresh => {
                    *slot = None;
                    return Err(fail(e));
                }
                Err(_) => *slot = None,
            }
        }
        Err(ResourceError::transient(format!(
            "{}: not connected",
            self.destination
        )))
    }

    fn send_unix(&self, path: &str, messages: &[Vec<u8>]) -> Result<(), ResourceError> {
        let fail = |e: std::io::Error| ResourceError::io(format_args!("{}", self.destination), &e);
        let socket = UnixDatagram::unbound().map_err(fail)?;
        for message in messages {
            socket.send_to(message, path).map_err(fail)?;
        }
        Ok(())
    }
}

/// The first address `address` (`host:port`) names.
fn resolve(address: &str) -> Result<std::net::SocketAddr, ResourceError> {
    address
        .to_socket_addrs()
        .map_err(|e| ResourceError::io(format_args!("cannot resolve {address}"), &e))?
        .next()
        .ok_or_else(|| ResourceError::transient(format!("{address} resolves to no address")))
}

/// A header field: printable ASCII without spaces (RFC 5424's PRINTUSASCII), `-` when empty.
fn header_field(text: &str) -> String {
    let field: String = text
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(48)
        .collect();
    if field.is_empty() {
        "-".to_owned()
    } else {
        field
    }
}

/// The event on one line: a JSON document compacted (its keys in their order), other text
/// with its line breaks as spaces.
fn one_line(event: &[u8]) -> String {
    let event = event.strip_suffix(b"\n").unwrap_or(event);
    if event.first().is_some_and(|b| matches!(b, b'{' | b'['))
        && serde_json::from_slice::<serde::de::IgnoredAny>(event).is_ok()
    {
        return compact_json(&String::from_utf8_lossy(event));
    }
    String::from_utf8_lossy(event).replace(['\r', '\n'], " ")
}

/// Valid JSON without the whitespace between its tokens (a string's is kept).
fn compact_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// `text` cut to at most `bytes`, at a character boundary.
fn truncate(text: &str, bytes: usize) -> &str {
    if text.len() <= bytes {
        return text;
    }
    let mut end = bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl Sink for SyslogSink {
    fn send(&self, batch: &Batch) -> Result<(), SendError> {
        let messages: Vec<Vec<u8>> = batch
            .events
            .iter()
            .map(|event| self.message(event, batch.time))
            .collect();
        match &self.transport {
            Transport::Udp(address) => self.send_udp(address, &messages),
            Transport::Tcp(address, slot) => self.send_tcp(address, slot, &messages),
            Transport::Unix(path) => self.send_unix(path, &messages),
        }
        .map_err(SendError::from)
    }

    fn describe(&self) -> String {
        self.destination.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(format: SyslogFormat, protocol: SyslogProtocol) -> SyslogSink {
        let secrets = crate::secrets::Secrets::new(Vec::new());
        let config = SyslogSinkConfig {
            address: None,
            protocol,
            format,
            facility: Some("local3".to_owned()),
            severity: Some("notice".to_owned()),
            app_name: Some("driftless".to_owned()),
            hostname: None,
            batch: None,
            retry: None,
            spool: None,
        };
        let cx = BuildContext {
            secrets: &secrets,
            host: "web 1",
        };
        let mut sink = SyslogSink::new(&config, &cx).expect("sink");
        sink.pid = 42;
        sink
    }

    const TIME: u64 = 1_795_654_923;

    fn text(sink: &SyslogSink, event: &[u8]) -> String {
        let time = std::time::UNIX_EPOCH + Duration::from_millis(TIME * 1000 + 7);
        String::from_utf8(sink.message(event, time)).expect("utf-8")
    }

    #[test]
    fn rfc5424_header_with_priority_hostname_and_app_name() {
        let sink = sink(SyslogFormat::Rfc5424, SyslogProtocol::Udp);
        assert_eq!(
            text(&sink, b"hello\nworld\n"),
            "<157>1 2026-11-26T01:02:03.007Z web1 driftless 42 - - hello world"
        );
    }

    #[test]
    fn rfc3164_header_and_a_json_document_on_one_line() {
        let sink = sink(SyslogFormat::Rfc3164, SyslogProtocol::Udp);
        assert_eq!(
            text(&sink, b"{\n  \"z\": \"a \\\" b\",\n  \"run\": [1, 2]\n}\n"),
            "<157>Nov 26 01:02:03 web1 driftless[42]: {\"z\":\"a \\\" b\",\"run\":[1,2]}"
        );
    }

    #[test]
    fn datagrams_are_truncated_at_the_format_bound_on_a_character_boundary() {
        let long = "é".repeat(3000);
        let udp3164 = sink(SyslogFormat::Rfc3164, SyslogProtocol::Udp);
        assert!(text(&udp3164, long.as_bytes()).len() <= 1024);
        let udp5424 = sink(SyslogFormat::Rfc5424, SyslogProtocol::Udp);
        let message = text(&udp5424, long.as_bytes());
        assert!(
            message.len() <= 2048 && message.len() > 2040,
            "{}",
            message.len()
        );
        let tcp = sink(SyslogFormat::Rfc5424, SyslogProtocol::Tcp);
        assert!(
            text(&tcp, long.as_bytes()).ends_with(&long),
            "TCP sends it whole"
        );
    }
}
