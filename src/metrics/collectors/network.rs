//! `network`: node_exporter's `netdev`, `netclass`, `netstat` and `sockstat` collectors.
//!
//! Per-interface counters (`node_network_receive_bytes_total{device}`, …, as `/proc/net/dev`
//! shows them) and interface properties (`node_network_up`, `node_network_info`,
//! `node_network_mtu_bytes`, `node_network_speed_bytes`, …, as `/sys/class/net` shows them)
//! come from one rtnetlink `RTM_GETLINK` dump ([`crate::host::netlink`]) plus the few sysfs
//! attributes netlink lacks; without netlink, from those files. Protocol counters from
//! `/proc/net/{netstat,snmp,snmp6}` (`node_netstat_Tcp_CurrEstab`, … — node_exporter's default
//! field set) and socket counts from `/proc/net/sockstat{,6}`.
//!
//! Threshold values, per interface: `receive_bytes_rate`, `transmit_bytes_rate`,
//! `receive_errors_rate`, `transmit_errors_rate` (per second, since the previous collection).

use std::collections::HashMap;
use std::time::Instant;

use regex::Regex;

use super::{CollectError, Collector, NameFilter, Output, Regexes, kernel_net};
use crate::host::netlink::{self, Link, RouteSocket};
use crate::host::{proc_net, procfs, sysfs};
use crate::metrics::family::{Family, labels};
use crate::model::facts::Filter;
use crate::model::facts::NetworkCollector as NetworkConfig;

/// Debian's node_exporter 1.5 default `--collector.netdev.device-exclude`.
pub const DEFAULT_NETDEV_DEVICE_EXCLUDE: &str = "^lo$";

/// The node_exporter collectors this one is made of.
pub const PARTS: &[&str] = &[
    "netdev",
    "netclass",
    "netstat",
    "sockstat",
    "arp",
    "conntrack",
    "softnet",
    "udp_queues",
    "bonding",
];

pub const VALUE_NAMES: &[&str] = &[
    "receive_bytes_rate",
    "transmit_bytes_rate",
    "receive_errors_rate",
    "transmit_errors_rate",
];

/// node_exporter's default `--collector.netstat.fields`.
const NETSTAT_FIELDS: &str = r"^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

/// `/proc/net/dev` columns (and their `rtnl_link_stats64` sums), in order.
const RECEIVE_FAMILIES: [(&str, &str); 8] = [
    (
        "node_network_receive_bytes_total",
        "Network device statistic receive_bytes.",
    ),
    (
        "node_network_receive_packets_total",
        "Network device statistic receive_packets.",
    ),
    (
        "node_network_receive_errs_total",
        "Network device statistic receive_errs.",
    ),
    (
        "node_network_receive_drop_total",
        "Network device statistic receive_drop.",
    ),
    (
        "node_network_receive_fifo_total",
        "Network device statistic receive_fifo.",
    ),
    (
        "node_network_receive_frame_total",
        "Network device statistic receive_frame.",
    ),
    (
        "node_network_receive_compressed_total",
        "Network device statistic receive_compressed.",
    ),
    (
        "node_network_receive_multicast_total",
        "Network device statistic receive_multicast.",
    ),
];
const TRANSMIT_FAMILIES: [(&str, &str); 8] = [
    (
        "node_network_transmit_bytes_total",
        "Network device statistic transmit_bytes.",
    ),
    (
        "node_network_transmit_packets_total",
        "Network device statistic transmit_packets.",
    ),
    (
        "node_network_transmit_errs_total",
        "Network device statistic transmit_errs.",
    ),
    (
        "node_network_transmit_drop_total",
        "Network device statistic transmit_drop.",
    ),
    (
        "node_network_transmit_fifo_total",
        "Network device statistic transmit_fifo.",
    ),
    (
        "node_network_transmit_colls_total",
        "Network device statistic transmit_colls.",
    ),
    (
        "node_network_transmit_carrier_total",
        "Network device statistic transmit_carrier.",
    ),
    (
        "node_network_transmit_compressed_total",
        "Network device statistic transmit_compressed.",
    ),
];

/// The numeric `/sys/class/net/<iface>` attributes node_exporter's `netclass` exposes:
/// (sysfs attribute, metric name suffix, counter?). [`Netclass::numeric`] follows this order.
const NUMERIC: [(&str, &str, bool); 17] = [
    ("addr_assign_type", "address_assign_type", false),
    ("carrier", "carrier", false),
    ("carrier_changes", "carrier_changes_total", true),
    ("carrier_up_count", "carrier_up_changes_total", true),
    ("carrier_down_count", "carrier_down_changes_total", true),
    ("dev_id", "device_id", false),
    ("dormant", "dormant", false),
    ("flags", "flags", false),
    ("ifindex", "iface_id", false),
    ("iflink", "iface_link", false),
    ("link_mode", "iface_link_mode", false),
    ("mtu", "mtu_bytes", false),
    ("name_assign_type", "name_assign_type", false),
    ("netdev_group", "net_dev_group", false),
    ("type", "protocol_type", false),
    ("speed", "speed_bytes", false),
    ("tx_queue_len", "transmit_queue_length", false),
];
/// Index of `speed` in [`NUMERIC`] (Mbit/s in sysfs, bytes/s in the metric).
const SPEED: usize = 15;

/// What `netclass` reports about one interface, however it was read.
#[derive(Debug, Default, PartialEq)]
struct Netclass {
    numeric: [Option<f64>; NUMERIC.len()],
    operstate: String,
    address: String,
    broadcast: String,
    duplex: String,
    ifalias: String,
}

/// For one header line of `/proc/net/{netstat,snmp}` (or one key of `/proc/net/snmp6`): the
/// family name and help of each column node_exporter exposes, `None` for the others.
#[derive(Debug, Default)]
struct NetstatPlan {
    header: String,
    columns: Vec<Option<(String, String)>>,
}

/// The columns of a header (its whitespace-separated names after the `Proto:` prefix, or the
/// one snmp6 key), mapped by `key` to `Proto_Field` and kept when `fields` matches.
fn key_columns(
    header: &str,
    key: &dyn Fn(&str) -> Option<String>,
    fields: &Regex,
) -> Vec<Option<(String, String)>> {
    let names = header.split_once(':').map_or(header, |(_, names)| names);
    names
        .split_whitespace()
        .map(|name| {
            let key = key(name).filter(|k| fields.is_match(k))?;
            Some((
                format!("node_netstat_{key}"),
                format!("Statistic {}.", key.replace('_', "")),
            ))
        })
        .collect()
}

pub struct NetworkCollector {
    /// For the per-interface counters (Debian's node_exporter excludes `lo` by default).
    netdev: NameFilter,
    /// For the interface properties (node_exporter includes every device by default).
    netclass: NameFilter,
    arp: NameFilter,
    netstat_fields: Regex,
    netstat_plans: Vec<NetstatPlan>,
    previous: HashMap<String, (Instant, [u64; 4])>,
    buf: String,
    /// The rtnetlink socket, opened on first use; `None` when it cannot be (then
    /// `/proc/net/dev` and `/sys/class/net` are read instead).
    route: Option<RouteSocket>,
    links: Vec<Link>,
}

impl NetworkCollector {
    pub fn new(config: &NetworkConfig) -> Result<Self, String> {
        Ok(NetworkCollector {
            netdev: NameFilter::new(
                &config.interfaces,
                Regexes::new(
                    config.netdev_device_include.as_ref(),
                    config.netdev_device_exclude.as_ref(),
                ),
                Some(DEFAULT_NETDEV_DEVICE_EXCLUDE),
            )?,
            netclass: NameFilter::new(
                &config.interfaces,
                Regexes::exclude(config.netclass_ignored_devices.as_ref()),
                None,
            )?,
            arp: NameFilter::new(
                &Filter::default(),
                Regexes::new(
                    config.arp_device_include.as_ref(),
                    config.arp_device_exclude.as_ref(),
                ),
                None,
            )?,
            netstat_fields: Regex::new(NETSTAT_FIELDS).map_err(|e| e.to_string())?,
            netstat_plans: Vec::new(),
            previous: HashMap::new(),
            buf: String::with_capacity(8192),
            route: None,
            links: Vec::new(),
        })
    }

    /// One `RTM_GETLINK` dump into `self.links`; `false` when netlink is unavailable.
    fn dump_links(&mut self) -> bool {
        if self.route.is_none() {
            match RouteSocket::open() {
                Ok(socket) => self.route = Some(socket),
                Err(e) => {
                    tracing::debug!(error = %e, "no rtnetlink socket; reading sysfs");
                    return false;
                }
            }
        }
        let Some(route) = self.route.as_mut() else {
            return false;
        };
        match route.links(&mut self.links) {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(error = %e, "RTM_GETLINK failed; reading sysfs");
                self.route = None;
                false
            }
        }
    }

    /// Per-interface counters from the netlink dump: the `/proc/net/dev` columns, computed
    /// from `rtnl_link_stats64` exactly as the kernel computes them for that file
    /// (`dev_seq_printf_stats`), plus `rx_nohandler`.
    fn netdev_netlink(&mut self, out: &mut Output) {
        use crate::host::netlink::stat::*;
        let rows = self.links.iter().filter_map(|link| {
            let s = link.stats.as_ref()?;
            if !self.netdev.matches(&link.name) {
                return None;
            }
            let columns = [
                s[RX_BYTES],
                s[RX_PACKETS],
                s[RX_ERRORS],
                s[RX_DROPPED] + s[RX_MISSED_ERRORS],
                s[RX_FIFO_ERRORS],
                s[RX_LENGTH_ERRORS] + s[RX_OVER_ERRORS] + s[RX_CRC_ERRORS] + s[RX_FRAME_ERRORS],
                s[RX_COMPRESSED],
                s[MULTICAST],
                s[TX_BYTES],
                s[TX_PACKETS],
                s[TX_ERRORS],
                s[TX_DROPPED],
                s[TX_FIFO_ERRORS],
                s[COLLISIONS],
                s[TX_CARRIER_ERRORS]
                    + s[TX_ABORTED_ERRORS]
                    + s[TX_WINDOW_ERRORS]
                    + s[TX_HEARTBEAT_ERRORS],
                s[TX_COMPRESSED],
            ];
            let nohandler = (link.stats_fields > RX_NOHANDLER).then_some(s[RX_NOHANDLER]);
            Some((link.name.as_str(), columns, nohandler))
        });
        emit_netdev(rows, &mut self.previous, out);
    }

    /// Per-interface counters from `/proc/net/dev` (and `rx_nohandler` from sysfs), when
    /// netlink is unavailable.
    fn netdev_procfs(&mut self, out: &mut Output) -> Result<(), CollectError> {
        procfs::read_into("/proc/net/dev", &mut self.buf)?;
        let mut rows = Vec::new();
        for line in self.buf.lines().skip(2) {
            let Some((device, counters)) = line.split_once(':') else {
                continue;
            };
            let device = device.trim();
            if !self.netdev.matches(device) {
                continue;
            }
            let mut columns = [0u64; 16];
            let mut n = 0;
            for (slot, v) in columns.iter_mut().zip(counters.split_ascii_whitespace()) {
                *slot = procfs::parse_u64(v).unwrap_or(0);
                n += 1;
            }
            if n < 16 {
                continue;
            }
            let nohandler = sysfs::net_attribute(device, "statistics/rx_nohandler")
                .and_then(|v| procfs::parse_number(&v))
                .map(|v| v as u64);
            rows.push((device, columns, nohandler));
        }
        emit_netdev(rows.into_iter(), &mut self.previous, out);
        Ok(())
    }

    /// Interface properties from the netlink dump, plus the few sysfs attributes netlink
    /// does not carry (`addr_assign_type`, `dev_id`, `name_assign_type`, and `speed` and
    /// `duplex` of running devices — sysfs refuses those of a device that is down).
    fn netclass_netlink(&mut self, out: &mut Output) {
        let mut devices: Vec<(&str, Netclass)> = Vec::with_capacity(self.links.len());
        let mut path = String::with_capacity(64);
        let buf = &mut self.buf;
        for link in &self.links {
            if !self.netclass.matches(&link.name) {
                continue;
            }
            let dir = sysfs::open_net_device(&link.name, &mut path).ok();
            let running = link.running();
            let mut num = |attr: &std::ffi::CStr| {
                dir.as_ref()?.read_into(attr, buf).ok()?;
                procfs::parse_number(buf.trim())
            };
            let some = |v: Option<u32>| v.map(f64::from);
            let mut n = Netclass {
                numeric: [
                    num(c"addr_assign_type"),
                    if running {
                        some(link.carrier.map(u32::from))
                    } else {
                        None
                    },
                    some(link.carrier_changes),
                    some(link.carrier_up),
                    some(link.carrier_down),
                    num(c"dev_id"),
                    some(link.dormant()),
                    Some(f64::from(link.sysfs_flags())),
                    Some(f64::from(link.index)),
                    Some(f64::from(link.iflink())),
                    some(link.link_mode.map(u32::from)),
                    some(link.mtu),
                    num(c"name_assign_type"),
                    link.group.map(|g| f64::from(g as i32)),
                    Some(f64::from(link.kind)),
                    if running { num(c"speed") } else { None },
                    some(link.txqlen),
                ],
                operstate: link.operstate_name().to_owned(),
                ..Netclass::default()
            };
            if running
                && let Some(dir) = &dir
                && dir.read_into(c"duplex", buf).is_ok()
            {
                n.duplex = buf.trim().to_owned();
            }
            netlink::format_mac(&link.address, &mut n.address);
            netlink::format_mac(&link.broadcast, &mut n.broadcast);
            n.ifalias = link.ifalias.as_deref().unwrap_or("").trim().to_owned();
            devices.push((link.name.as_str(), n));
        }
        devices.sort_by(|a, b| a.0.cmp(b.0));
        emit_netclass(devices.iter().map(|(d, n)| (*d, n)), out);
    }

    /// Interface properties from `/sys/class/net`, when netlink is unavailable.
    fn netclass_sysfs(&mut self, out: &mut Output) -> Result<(), CollectError> {
        let mut devices = sysfs::net_devices()?;
        devices.retain(|name| self.netclass.matches(name));
        devices.sort();
        let read = |device: &str| {
            let text = |attr: &str| sysfs::net_attribute(device, attr);
            let mut n = Netclass::default();
            for (slot, (attr, _, _)) in n.numeric.iter_mut().zip(NUMERIC) {
                *slot = text(attr).and_then(|raw| procfs::parse_number(&raw));
            }
            n.operstate = text("operstate").unwrap_or_default();
            n.address = text("address").unwrap_or_default();
            n.broadcast = text("broadcast").unwrap_or_default();
            n.duplex = text("duplex").unwrap_or_default();
            n.ifalias = text("ifalias").unwrap_or_default();
            n
        };
        let props: Vec<Netclass> = devices.iter().map(|d| read(d)).collect();
        emit_netclass(devices.iter().map(String::as_str).zip(&props), out);
        Ok(())
    }

    fn netstat(&mut self, out: &mut Output) -> Result<(), CollectError> {
        let NetworkCollector {
            netstat_fields,
            netstat_plans,
            buf,
            ..
        } = self;
        // The header lines name the same fields on every read (they are fixed by the kernel),
        // so which columns are wanted, and their metric names, are worked out once per header.
        let mut slot = 0;
        let mut emit = |header: &str,
                        values: &mut dyn Iterator<Item = &str>,
                        key: &dyn Fn(&str) -> Option<String>| {
            if netstat_plans.len() <= slot {
                netstat_plans.push(NetstatPlan::default());
            }
            let plan = &mut netstat_plans[slot];
            slot += 1;
            if plan.header != header {
                plan.header = header.to_owned();
                plan.columns = key_columns(header, key, netstat_fields);
            }
            for (column, value) in plan.columns.iter().zip(values) {
                let Some((name, help)) = column else { continue };
                if let Some(v) = procfs::parse_number(value) {
                    out.family(Family::untyped(name.clone(), help.clone()).with_value(v));
                }
            }
        };
        for path in ["/proc/net/netstat", "/proc/net/snmp"] {
            if procfs::read_into(path, buf).is_err() {
                continue;
            }
            let mut lines = buf.lines();
            while let (Some(header), Some(values)) = (lines.next(), lines.next()) {
                let (Some((proto, _)), Some((_, values))) =
                    (header.split_once(':'), values.split_once(':'))
                else {
                    continue;
                };
                let key = |name: &str| Some(format!("{proto}_{name}"));
                emit(header, &mut values.split_whitespace(), &key);
            }
        }
        if procfs::read_into("/proc/net/snmp6", buf).is_ok() {
            for line in buf.lines() {
                let mut parts = line.split_whitespace();
                let (Some(name), Some(value)) = (parts.next(), parts.next()) else {
                    continue;
                };
                // Ip6InReceives → Ip6_InReceives; Icmp6InMsgs → Icmp6_InMsgs; UdpLite6… too.
                let key = |name: &str| {
                    let pos = name.find('6')?;
                    Some(format!("{}_{}", &name[..=pos], &name[pos + 1..]))
                };
                emit(name, &mut std::iter::once(value), &key);
            }
        }
        Ok(())
    }

    /// node_exporter's `arp`: `node_arp_entries{device}`.
    fn arp(&mut self, out: &mut Output) -> Result<(), CollectError> {
        let failed = |e: String| CollectError(format!("could not get ARP entries: {e}"));
        procfs::read_into(proc_net::ARP, &mut self.buf).map_err(|e| failed(e.to_string()))?;
        let mut family = Family::gauge("node_arp_entries", "ARP entries by device");
        for (device, count) in proc_net::arp_entries(&self.buf).map_err(failed)? {
            if self.arp.matches(device) {
                family.push(labels([("device", device)]), f64::from(count));
            }
        }
        out.family(family);
        Ok(())
    }

    fn sockstat(&mut self, out: &mut Output) -> Result<(), CollectError> {
        let page = procfs::page_size();
        for (path, v6) in [("/proc/net/sockstat", false), ("/proc/net/sockstat6", true)] {
            if procfs::read_into(path, &mut self.buf).is_err() {
                continue;
            }
            for line in self.buf.lines() {
                let Some((proto, rest)) = line.split_once(':') else {
                    continue;
                };
                let proto = if proto == "sockets" || !v6 || proto.ends_with('6') {
                    proto.to_owned()
                } else {
                    format!("{proto}6")
                };
                let mut parts = rest.split_whitespace();
                while let (Some(field), Some(value)) = (parts.next(), parts.next()) {
                    let Some(v) = procfs::parse_number(value) else {
                        continue;
                    };
                    let name = format!("node_sockstat_{proto}_{field}");
                    let help = if proto == "sockets" && field == "used" {
                        "Number of IPv4 sockets in use.".to_owned()
                    } else {
                        format!("Number of {proto} sockets in state {field}.")
                    };
                    out.family(Family::gauge(name, help).with_value(v));
                    if field == "mem" && proto != "sockets" {
                        out.family(
                            Family::gauge(
                                format!("node_sockstat_{proto}_mem_bytes"),
                                format!("Number of {proto} sockets in state mem_bytes."),
                            )
                            .with_value(v * page),
                        );
                    }
                }
            }
        }
        Ok(())
    }
}

/// The `node_network_{receive,transmit}_*_total` families from `/proc/net/dev`-style rows
/// (device, the 16 columns, `rx_nohandler`), and the rate threshold values.
fn emit_netdev<'a>(
    rows: impl Iterator<Item = (&'a str, [u64; 16], Option<u64>)>,
    previous: &mut HashMap<String, (Instant, [u64; 4])>,
    out: &mut Output,
) {
    let now = Instant::now();
    let mut families: Vec<Family> = RECEIVE_FAMILIES
        .iter()
        .chain(&TRANSMIT_FAMILIES)
        .map(|(name, help)| Family::counter(*name, *help))
        .collect();
    let mut nohandler = Family::counter(
        "node_network_receive_nohandler_total",
        "Network device statistic receive_nohandler.",
    );
    for (device, values, rx_nohandler) in rows {
        for (family, v) in families.iter_mut().zip(values) {
            family.push(labels([("device", device)]), v as f64);
        }
        if let Some(v) = rx_nohandler {
            nohandler.push(labels([("device", device)]), v as f64);
        }
        let current = [values[0], values[8], values[2], values[10]];
        if let Some((then, before)) = previous.get(device) {
            let secs = now.duration_since(*then).as_secs_f64();
            if secs > 0.0 {
                let rate = |i: usize| current[i].saturating_sub(before[i]) as f64 / secs;
                for (i, name) in VALUE_NAMES.iter().enumerate() {
                    out.watch(name, labels([("device", device)]), rate(i));
                }
            }
        }
        match previous.get_mut(device) {
            Some(entry) => *entry = (now, current),
            None => {
                previous.insert(device.to_owned(), (now, current));
            }
        }
    }
    families.insert(RECEIVE_FAMILIES.len(), nohandler);
    for family in families {
        out.family(family);
    }
}

/// The `netclass` families from per-device properties (sorted by device).
fn emit_netclass<'a>(devices: impl Iterator<Item = (&'a str, &'a Netclass)>, out: &mut Output) {
    let mut families: Vec<Family> = NUMERIC
        .iter()
        .map(|(_, name, counter)| {
            let full = format!("node_network_{name}");
            let help = format!("Network device property: {name}");
            if *counter {
                Family::counter(full, help)
            } else {
                Family::gauge(full, help)
            }
        })
        .collect();
    let mut info = Family::gauge(
        "node_network_info",
        "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
    );
    let mut up = Family::gauge(
        "node_network_up",
        "Value is 1 if operstate is 'up', 0 otherwise.",
    );
    for (device, n) in devices {
        for (i, (family, value)) in families.iter_mut().zip(n.numeric).enumerate() {
            let Some(mut value) = value else { continue };
            if i == SPEED {
                value = value * 1000.0 * 1000.0 / 8.0;
            }
            family.push(labels([("device", device)]), value);
        }
        up.push(
            labels([("device", device)]),
            if n.operstate == "up" { 1.0 } else { 0.0 },
        );
        info.push(
            labels([
                ("address", &n.address),
                ("broadcast", &n.broadcast),
                ("device", device),
                ("duplex", &n.duplex),
                ("ifalias", &n.ifalias),
                ("operstate", &n.operstate),
            ]),
            1.0,
        );
    }
    for family in families {
        out.family(family);
    }
    out.family(info);
    out.family(up);
}

impl Collector for NetworkCollector {
    fn collect(&mut self, out: &mut Output) -> Result<(), CollectError> {
        // One rtnetlink dump serves both netdev and netclass; /proc and /sys when it fails.
        let netlink = (out.wants("netdev") || out.wants("netclass")) && self.dump_links();
        out.part("netdev", |out| {
            if netlink {
                self.netdev_netlink(out);
                Ok(())
            } else {
                self.netdev_procfs(out)
            }
        });
        out.part("netclass", |out| {
            if netlink {
                self.netclass_netlink(out);
                Ok(())
            } else {
                self.netclass_sysfs(out)
            }
        });
        out.part("netstat", |out| self.netstat(out));
        out.part("sockstat", |out| self.sockstat(out));
        out.part("arp", |out| self.arp(out));
        out.part("conntrack", |out| kernel_net::conntrack(&mut self.buf, out));
        out.part("softnet", |out| kernel_net::softnet(&mut self.buf, out));
        out.part("udp_queues", |out| {
            kernel_net::udp_queues(&mut self.buf, out)
        });
        out.part("bonding", kernel_net::bonding);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (family name, sorted (labels, value)) for every `node_network_*` family.
    type Series = Vec<(String, Vec<(Vec<(String, String)>, f64)>)>;

    fn families(out: &Output) -> Series {
        let mut f: Vec<_> = out
            .families
            .iter()
            .filter(|f| f.name.starts_with("node_network_"))
            .map(|f| {
                let mut samples: Vec<_> = f
                    .samples
                    .iter()
                    .map(|s| {
                        let l: Vec<(String, String)> = s
                            .labels
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.clone()))
                            .collect();
                        (l, s.value)
                    })
                    .collect();
                samples.sort_by(|a, b| a.0.cmp(&b.0));
                (f.name.to_string(), samples)
            })
            .collect();
        f.sort_by(|a, b| a.0.cmp(&b.0));
        f
    }

    /// The netlink path reports the same series, with the same property values, as reading
    /// `/proc/net/dev` and `/sys/class/net` (counters may move between the two reads).
    #[test]
    fn netlink_and_sysfs_agree() {
        let config = NetworkConfig::default();
        let mut c = NetworkCollector::new(&config).expect("collector");
        assert!(
            c.dump_links(),
            "the netlink dump failed: this test compares it with sysfs"
        );
        let mut via_netlink = Output::default();
        c.netdev_netlink(&mut via_netlink);
        c.netclass_netlink(&mut via_netlink);
        let mut via_sysfs = Output::default();
        c.netdev_procfs(&mut via_sysfs).expect("/proc/net/dev");
        c.netclass_sysfs(&mut via_sysfs).expect("/sys/class/net");
        let (a, b) = (families(&via_netlink), families(&via_sysfs));
        let names = |f: &Series| {
            f.iter()
                .map(|(n, s)| (n.clone(), s.iter().map(|x| x.0.clone()).collect::<Vec<_>>()))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&a), names(&b), "series differ");
        for ((name, sa), (_, sb)) in a.iter().zip(&b) {
            let moving = name.starts_with("node_network_receive_")
                || name.starts_with("node_network_transmit_")
                    && name != "node_network_transmit_queue_length";
            if !moving {
                assert_eq!(sa, sb, "{name}");
            }
        }
    }
}
