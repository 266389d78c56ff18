//! Interface properties and counters from one `RTM_GETLINK` dump over a `NETLINK_ROUTE`
//! socket: what `/proc/net/dev` and most of `/sys/class/net/<iface>/*` say, for every
//! interface, in a couple of system calls instead of one `open`/`read`/`close` per attribute.
//!
//! The only `unsafe` here is the four system calls (`socket`, `sendto`, `recv`, and the
//! `close` behind `OwnedFd`); the replies are parsed from a byte buffer in safe code.
//! The kernel fills the attributes read here from the same fields the sysfs files show
//! (`net/core/rtnetlink.c` `rtnl_fill_ifinfo` vs `net/core/net-sysfs.c`), see [`Link`].

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

// From <linux/netlink.h> and <linux/rtnetlink.h> (stable kernel ABI).
const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x01;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_DUMP_INTR: u16 = 0x10;
const RTM_GETLINK: u16 = 18;
const RTM_NEWLINK: u16 = 16;
const IFINFOMSG_LEN: usize = 16;
const NLA_TYPE_MASK: u16 = 0x3fff;

// IFLA_* attribute types, from <linux/if_link.h>.
const IFLA_ADDRESS: u16 = 1;
const IFLA_BROADCAST: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_LINK: u16 = 5;
const IFLA_TXQLEN: u16 = 13;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKMODE: u16 = 17;
const IFLA_IFALIAS: u16 = 20;
const IFLA_STATS64: u16 = 23;
const IFLA_GROUP: u16 = 27;
const IFLA_PROMISCUITY: u16 = 30;
const IFLA_CARRIER: u16 = 33;
const IFLA_CARRIER_CHANGES: u16 = 35;
const IFLA_CARRIER_UP_COUNT: u16 = 47;
const IFLA_CARRIER_DOWN_COUNT: u16 = 48;
const IFLA_ALLMULTI: u16 = 61;

// Interface flags, from <linux/if.h>.
pub const IFF_UP: u32 = 0x1;
pub const IFF_PROMISC: u32 = 0x100;
pub const IFF_ALLMULTI: u32 = 0x200;
pub const IFF_RUNNING: u32 = 0x40;
pub const IFF_LOWER_UP: u32 = 0x10000;
pub const IFF_DORMANT: u32 = 0x20000;

/// `struct rtnl_link_stats64`, field by field (u64 each), as far as driftless reads it.
pub mod stat {
    pub const RX_PACKETS: usize = 0;
    pub const TX_PACKETS: usize = 1;
    pub const RX_BYTES: usize = 2;
    pub const TX_BYTES: usize = 3;
    pub const RX_ERRORS: usize = 4;
    pub const TX_ERRORS: usize = 5;
    pub const RX_DROPPED: usize = 6;
    pub const TX_DROPPED: usize = 7;
    pub const MULTICAST: usize = 8;
    pub const COLLISIONS: usize = 9;
    pub const RX_LENGTH_ERRORS: usize = 10;
    pub const RX_OVER_ERRORS: usize = 11;
    pub const RX_CRC_ERRORS: usize = 12;
    pub const RX_FRAME_ERRORS: usize = 13;
    pub const RX_FIFO_ERRORS: usize = 14;
    pub const RX_MISSED_ERRORS: usize = 15;
    pub const TX_ABORTED_ERRORS: usize = 16;
    pub const TX_CARRIER_ERRORS: usize = 17;
    pub const TX_FIFO_ERRORS: usize = 18;
    pub const TX_HEARTBEAT_ERRORS: usize = 19;
    pub const TX_WINDOW_ERRORS: usize = 20;
    pub const RX_COMPRESSED: usize = 21;
    pub const TX_COMPRESSED: usize = 22;
    /// Since Linux 4.6.
    pub const RX_NOHANDLER: usize = 23;
    pub const COUNT: usize = 24;
}

/// One interface of the dump. `None`/empty where the kernel sent no attribute.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Link {
    /// `ifi_index` (sysfs `ifindex`).
    pub index: i32,
    /// `ifi_type` (sysfs `type`).
    pub kind: u16,
    /// `ifi_flags`: `dev_get_flags()`, which adds `IFF_RUNNING`, `IFF_LOWER_UP` and
    /// `IFF_DORMANT` from the device state to `dev->flags` (see [`Link::sysfs_flags`]).
    pub flags: u32,
    pub name: String,
    pub mtu: Option<u32>,
    /// `IFLA_LINK`, sent only when it differs from the index (sysfs `iflink`).
    pub link: Option<i32>,
    pub txqlen: Option<u32>,
    pub operstate: Option<u8>,
    pub link_mode: Option<u8>,
    pub group: Option<u32>,
    pub promiscuity: Option<u32>,
    pub allmulti: Option<u32>,
    pub carrier: Option<u8>,
    pub carrier_changes: Option<u32>,
    pub carrier_up: Option<u32>,
    pub carrier_down: Option<u32>,
    /// Hardware address bytes (empty when the device has none).
    pub address: Vec<u8>,
    pub broadcast: Vec<u8>,
    pub ifalias: Option<String>,
    /// `IFLA_STATS64`; fields the kernel did not send are 0.
    pub stats: Option<[u64; stat::COUNT]>,
    /// How many `IFLA_STATS64` fields the kernel sent (older kernels send fewer).
    pub stats_fields: usize,
}

impl Link {
    /// `/sys/class/net/<iface>/iflink`: the link index, the own index when none was sent.
    pub fn iflink(&self) -> i32 {
        self.link.unwrap_or(self.index)
    }

    /// Whether the device is up (`netif_running`): sysfs `carrier`, `dormant`, `speed` and
    /// `duplex` can only be read then.
    pub fn running(&self) -> bool {
        self.flags & IFF_UP != 0
    }

    /// `/sys/class/net/<iface>/flags` (`dev->flags`): the dump's flags without the state bits
    /// `dev_get_flags()` adds, and with `IFF_PROMISC`/`IFF_ALLMULTI` as the device has them
    /// (set while their counters are non-zero) rather than as the user asked for them.
    pub fn sysfs_flags(&self) -> u32 {
        let mut flags =
            self.flags & !(IFF_RUNNING | IFF_LOWER_UP | IFF_DORMANT | IFF_PROMISC | IFF_ALLMULTI);
        let promisc = match self.promiscuity {
            Some(n) => n > 0,
            None => self.flags & IFF_PROMISC != 0,
        };
        let allmulti = match self.allmulti {
            Some(n) => n > 0,
            None => self.flags & IFF_ALLMULTI != 0,
        };
        if promisc {
            flags |= IFF_PROMISC;
        }
        if allmulti {
            flags |= IFF_ALLMULTI;
        }
        flags
    }

    /// sysfs `dormant` (only readable while running).
    pub fn dormant(&self) -> Option<u32> {
        self.running()
            .then_some(u32::from(self.flags & IFF_DORMANT != 0))
    }

    /// sysfs `operstate`: the RFC 2863 state name.
    pub fn operstate_name(&self) -> &'static str {
        match self.operstate.unwrap_or(0) {
            1 => "notpresent",
            2 => "down",
            3 => "lowerlayerdown",
            4 => "testing",
            5 => "dormant",
            6 => "up",
            _ => "unknown",
        }
    }
}

/// Formats a hardware address as sysfs does (`%*phC`: lower-case hex, colon-separated).
pub fn format_mac(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.clear();
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
}

/// A `NETLINK_ROUTE` socket with a receive buffer, reused across dumps.
pub struct RouteSocket {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

impl RouteSocket {
    pub fn open() -> io::Result<RouteSocket> {
        // SAFETY: socket(2) has no memory preconditions; the result is checked below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                0, // NETLINK_ROUTE
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a freshly created descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(RouteSocket {
            fd,
            seq: 0,
            // The kernel sizes dump parts to the reader's buffer, at most 32 KiB.
            buf: vec![0; 32 * 1024],
        })
    }

    /// Every interface of the network namespace, into `links` (cleared first). An
    /// interrupted dump (interfaces changed meanwhile) is retried.
    pub fn links(&mut self, links: &mut Vec<Link>) -> io::Result<()> {
        for _ in 0..3 {
            links.clear();
            if self.dump_links(links)? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// One dump; `Ok(false)` when the kernel flagged it interrupted.
    fn dump_links(&mut self, links: &mut Vec<Link>) -> io::Result<bool> {
        self.seq = self.seq.wrapping_add(1);
        let mut request = [0u8; NLMSG_HDRLEN + IFINFOMSG_LEN];
        request[0..4].copy_from_slice(&((NLMSG_HDRLEN + IFINFOMSG_LEN) as u32).to_ne_bytes());
        request[4..6].copy_from_slice(&RTM_GETLINK.to_ne_bytes());
        request[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        request[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        // pid 0, ifinfomsg all zero (AF_UNSPEC: every interface).
        // SAFETY: an all-zero sockaddr_nl is valid; the fields set are plain integers.
        let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: request and kernel are valid for the lengths passed; sendto reads only.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                request.as_ptr().cast(),
                request.len(),
                0,
                (&raw const kernel).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut complete = true;
        loop {
            // SAFETY: buf is valid for writes of its length; recv writes at most that much.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    0,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            match parse_messages(&self.buf[..n as usize], self.seq, links)? {
                Parsed::More { interrupted } => complete &= !interrupted,
                Parsed::Done { interrupted } => return Ok(complete && !interrupted),
            }
        }
    }
}

enum Parsed {
    More { interrupted: bool },
    Done { interrupted: bool },
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Parses one datagram of netlink messages, appending the links it describes.
fn parse_messages(mut data: &[u8], seq: u32, links: &mut Vec<Link>) -> io::Result<Parsed> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed netlink message");
    let mut interrupted = false;
    while data.len() >= NLMSG_HDRLEN {
        let len = u32_at(data, 0).ok_or_else(bad)? as usize;
        let kind = u16_at(data, 4).ok_or_else(bad)?;
        let flags = u16_at(data, 6).ok_or_else(bad)?;
        let msg_seq = u32_at(data, 8).ok_or_else(bad)?;
        if len < NLMSG_HDRLEN || len > data.len() {
            return Err(bad());
        }
        let body = &data[NLMSG_HDRLEN..len];
        data = &data[align4(len).min(data.len())..];
        if msg_seq != seq {
            continue; // a reply to an earlier, abandoned request
        }
        interrupted |= flags & NLM_F_DUMP_INTR != 0;
        match kind {
            NLMSG_DONE => return Ok(Parsed::Done { interrupted }),
            NLMSG_ERROR => {
                let errno = u32_at(body, 0).ok_or_else(bad)? as i32;
                return Err(io::Error::from_raw_os_error(-errno));
            }
            RTM_NEWLINK => links.push(parse_link(body).ok_or_else(bad)?),
            _ => {}
        }
    }
    Ok(Parsed::More { interrupted })
}

/// `struct ifinfomsg` and its attributes.
fn parse_link(body: &[u8]) -> Option<Link> {
    let mut link = Link {
        kind: u16_at(body, 2)?,
        index: u32_at(body, 4)? as i32,
        flags: u32_at(body, 8)?,
        ..Link::default()
    };
    let mut attrs = body.get(IFINFOMSG_LEN..)?;
    while attrs.len() >= 4 {
        let len = usize::from(u16_at(attrs, 0)?);
        let kind = u16_at(attrs, 2)? & NLA_TYPE_MASK;
        if len < 4 || len > attrs.len() {
            return None;
        }
        let value = &attrs[4..len];
        attrs = &attrs[align4(len).min(attrs.len())..];
        let u32v = || u32_at(value, 0);
        let u8v = || value.first().copied();
        let text = || {
            let end = value.iter().position(|b| *b == 0).unwrap_or(value.len());
            String::from_utf8_lossy(&value[..end]).into_owned()
        };
        match kind {
            IFLA_IFNAME => link.name = text(),
            IFLA_ADDRESS => link.address = value.to_vec(),
            IFLA_BROADCAST => link.broadcast = value.to_vec(),
            IFLA_MTU => link.mtu = u32v(),
            IFLA_LINK => link.link = u32v().map(|v| v as i32),
            IFLA_TXQLEN => link.txqlen = u32v(),
            IFLA_OPERSTATE => link.operstate = u8v(),
            IFLA_LINKMODE => link.link_mode = u8v(),
            IFLA_IFALIAS => link.ifalias = Some(text()),
            IFLA_GROUP => link.group = u32v(),
            IFLA_PROMISCUITY => link.promiscuity = u32v(),
            IFLA_ALLMULTI => link.allmulti = u32v(),
            IFLA_CARRIER => link.carrier = u8v(),
            IFLA_CARRIER_CHANGES => link.carrier_changes = u32v(),
            IFLA_CARRIER_UP_COUNT => link.carrier_up = u32v(),
            IFLA_CARRIER_DOWN_COUNT => link.carrier_down = u32v(),
            IFLA_STATS64 => {
                let mut stats = [0u64; stat::COUNT];
                for (i, chunk) in value.chunks_exact(8).take(stat::COUNT).enumerate() {
                    stats[i] = u64::from_ne_bytes(chunk.try_into().ok()?);
                    link.stats_fields = i + 1;
                }
                link.stats = Some(stats);
            }
            _ => {}
        }
    }
    Some(link)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, value: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(value);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }

    fn message(kind: u16, seq: u32, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((NLMSG_HDRLEN + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn a_link_message_parses() {
        let mut body = vec![0u8; IFINFOMSG_LEN];
        body[2..4].copy_from_slice(&1u16.to_ne_bytes());
        body[4..8].copy_from_slice(&7u32.to_ne_bytes());
        body[8..12].copy_from_slice(&(IFF_UP | IFF_RUNNING | IFF_LOWER_UP).to_ne_bytes());
        attr(IFLA_IFNAME, b"eth7\0", &mut body);
        attr(IFLA_MTU, &1500u32.to_ne_bytes(), &mut body);
        attr(IFLA_OPERSTATE, &[6], &mut body);
        attr(IFLA_ADDRESS, &[0x02, 0xfc, 0, 0, 0, 0x1a], &mut body);
        attr(IFLA_PROMISCUITY, &1u32.to_ne_bytes(), &mut body);
        let stats: Vec<u8> = (0..24u64).flat_map(|v| v.to_ne_bytes()).collect();
        attr(IFLA_STATS64, &stats, &mut body);
        let mut data = message(RTM_NEWLINK, 5, &body);
        data.extend(message(RTM_NEWLINK, 4, &body)); // stale: ignored
        data.extend(message(NLMSG_DONE, 5, &[0; 4]));
        let mut links = Vec::new();
        assert!(matches!(
            parse_messages(&data, 5, &mut links),
            Ok(Parsed::Done { interrupted: false })
        ));
        assert_eq!(links.len(), 1);
        let l = &links[0];
        assert_eq!(
            (l.name.as_str(), l.index, l.kind, l.mtu),
            ("eth7", 7, 1, Some(1500))
        );
        assert_eq!(l.operstate_name(), "up");
        assert_eq!(l.iflink(), 7);
        assert_eq!(l.sysfs_flags(), IFF_UP | IFF_PROMISC);
        assert_eq!(l.dormant(), Some(0));
        assert_eq!(l.stats.map(|s| s[stat::RX_NOHANDLER]), Some(23));
        let mut mac = String::new();
        format_mac(&l.address, &mut mac);
        assert_eq!(mac, "02:fc:00:00:00:1a");
    }

    #[test]
    fn errors_and_garbage_are_reported() {
        let mut links = Vec::new();
        let err = message(NLMSG_ERROR, 1, &(-1i32).to_ne_bytes());
        assert!(parse_messages(&err, 1, &mut links).is_err());
        let mut truncated = message(RTM_NEWLINK, 1, &[0u8; IFINFOMSG_LEN]);
        truncated[0] = 200;
        assert!(parse_messages(&truncated, 1, &mut links).is_err());
    }

    #[test]
    fn the_kernel_answers_a_dump() {
        // The collector falls back to sysfs without netlink, but this test is about netlink:
        // a host without it fails here rather than passing silently.
        let mut socket = RouteSocket::open().expect("a NETLINK_ROUTE socket");
        let mut links = Vec::new();
        socket.links(&mut links).expect("RTM_GETLINK dump");
        assert!(links.iter().any(|l| l.name == "lo"), "{links:?}");
        // A second dump on the same socket works too.
        socket.links(&mut links).expect("second dump");
        assert!(!links.is_empty());
    }
}
