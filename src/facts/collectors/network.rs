//! `network`: node_exporter's `netdev`, `netclass`, `netstat` and `sockstat` collectors.
//!
//! Per-interface counters from `/proc/net/dev` (`node_network_receive_bytes_total{device}`, …),
//! interface properties from `/sys/class/net` (`node_network_up`, `node_network_info`,
//! `node_network_mtu_bytes`, `node_network_speed_bytes`, …), protocol counters from
//! `/proc/net/{netstat,snmp,snmp6}` (`node_netstat_Tcp_CurrEstab`, … — node_exporter's default
//! field set) and socket counts from `/proc/net/sockstat{,6}`.
//!
//! Threshold values, per interface: `receive_bytes_rate`, `transmit_bytes_rate`,
//! `receive_errors_rate`, `transmit_errors_rate` (per second, since the previous collection).

use std::collections::HashMap;
use std::time::Instant;

use regex::Regex;

use super::{CollectError, Collector, NameFilter, Output};
use crate::facts::metrics::{Family, labels};
use crate::facts::procfs;
use crate::model::facts::NetworkCollector as NetworkConfig;

pub const VALUE_NAMES: &[&str] = &[
    "receive_bytes_rate",
    "transmit_bytes_rate",
    "receive_errors_rate",
    "transmit_errors_rate",
];

/// node_exporter's default `--collector.netstat.fields`.
const NETSTAT_FIELDS: &str = r"^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

const RECEIVE: [&str; 8] = [
    "bytes",
    "packets",
    "errs",
    "drop",
    "fifo",
    "frame",
    "compressed",
    "multicast",
];
const TRANSMIT: [&str; 8] = [
    "bytes",
    "packets",
    "errs",
    "drop",
    "fifo",
    "colls",
    "carrier",
    "compressed",
];

pub struct NetworkCollector {
    /// For `/proc/net/dev` (Debian's node_exporter excludes `lo` by default).
    netdev: NameFilter,
    /// For `/sys/class/net` (node_exporter includes every device by default).
    netclass: NameFilter,
    netstat_fields: Regex,
    netstat_wanted: HashMap<String, bool>,
    previous: HashMap<String, (Instant, [u64; 4])>,
    buf: String,
}

impl NetworkCollector {
    pub fn new(config: &NetworkConfig) -> Result<Self, String> {
        Ok(NetworkCollector {
            netdev: NameFilter::new(&config.interfaces, &["lo"])?,
            netclass: NameFilter::new(&config.interfaces, &[])?,
            netstat_fields: Regex::new(NETSTAT_FIELDS).map_err(|e| e.to_string())?,
            netstat_wanted: HashMap::new(),
            previous: HashMap::new(),
            buf: String::with_capacity(8192),
        })
    }

    fn netdev(&mut self, out: &mut Output) -> Result<(), CollectError> {
        procfs::read_into("/proc/net/dev", &mut self.buf)?;
        let now = Instant::now();
        let mut receive: Vec<Family> = RECEIVE
            .iter()
            .map(|f| {
                Family::counter(
                    format!("node_network_receive_{f}_total"),
                    format!("Network device statistic receive_{f}."),
                )
            })
            .collect();
        let mut transmit: Vec<Family> = TRANSMIT
            .iter()
            .map(|f| {
                Family::counter(
                    format!("node_network_transmit_{f}_total"),
                    format!("Network device statistic transmit_{f}."),
                )
            })
            .collect();
        for line in self.buf.lines().skip(2) {
            let Some((device, counters)) = line.split_once(':') else {
                continue;
            };
            let device = device.trim();
            if !self.netdev.matches(device) {
                continue;
            }
            let values: Vec<u64> = counters
                .split_ascii_whitespace()
                .map(|v| procfs::parse_u64(v).unwrap_or(0))
                .collect();
            if values.len() < 16 {
                continue;
            }
            for (family, v) in receive.iter_mut().zip(&values[..8]) {
                family.push(labels([("device", device)]), *v as f64);
            }
            for (family, v) in transmit.iter_mut().zip(&values[8..16]) {
                family.push(labels([("device", device)]), *v as f64);
            }
            let current = [values[0], values[8], values[2], values[10]];
            if let Some((then, before)) = self.previous.get(device) {
                let secs = now.duration_since(*then).as_secs_f64();
                if secs > 0.0 {
                    let rate = |i: usize| current[i].saturating_sub(before[i]) as f64 / secs;
                    for (i, name) in VALUE_NAMES.iter().enumerate() {
                        out.watch(name, labels([("device", device)]), rate(i));
                    }
                }
            }
            self.previous.insert(device.to_owned(), (now, current));
        }
        // Not in /proc/net/dev; node_exporter reads it over netlink.
        let mut nohandler = Family::counter(
            "node_network_receive_nohandler_total",
            "Network device statistic receive_nohandler.",
        );
        for sample in &receive[0].samples {
            let device = &sample.labels[0].1;
            if let Some(v) =
                procfs::read_number(format!("/sys/class/net/{device}/statistics/rx_nohandler"))
            {
                nohandler.push(labels([("device", device)]), v);
            }
        }
        receive.push(nohandler);
        for family in receive.into_iter().chain(transmit) {
            out.family(family);
        }
        Ok(())
    }

    fn netclass(&mut self, out: &mut Output) -> Result<(), CollectError> {
        // (sysfs attribute, metric name, counter?)
        const NUMERIC: &[(&str, &str, bool)] = &[
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
        let mut devices: Vec<String> = std::fs::read_dir("/sys/class/net")?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| self.netclass.matches(name))
            .collect();
        devices.sort();
        for device in &devices {
            let dir = format!("/sys/class/net/{device}");
            let text = |attr: &str| procfs::read_trimmed(format!("{dir}/{attr}"));
            for (family, (attr, name, _)) in families.iter_mut().zip(NUMERIC) {
                let Some(raw) = text(attr) else { continue };
                let Some(mut value) = procfs::parse_number(&raw) else {
                    continue;
                };
                if *name == "speed_bytes" {
                    value = value * 1000.0 * 1000.0 / 8.0;
                }
                family.push(labels([("device", device.as_str())]), value);
            }
            let operstate = text("operstate").unwrap_or_default();
            up.push(
                labels([("device", device.as_str())]),
                if operstate == "up" { 1.0 } else { 0.0 },
            );
            info.push(
                labels([
                    ("address", &text("address").unwrap_or_default()),
                    ("broadcast", &text("broadcast").unwrap_or_default()),
                    ("device", device),
                    ("duplex", &text("duplex").unwrap_or_default()),
                    ("ifalias", &text("ifalias").unwrap_or_default()),
                    ("operstate", &operstate),
                ]),
                1.0,
            );
        }
        for family in families {
            out.family(family);
        }
        out.family(info);
        out.family(up);
        Ok(())
    }

    fn wanted(&mut self, key: &str) -> bool {
        if let Some(w) = self.netstat_wanted.get(key) {
            return *w;
        }
        let w = self.netstat_fields.is_match(key);
        self.netstat_wanted.insert(key.to_owned(), w);
        w
    }

    fn netstat(&mut self, out: &mut Output) -> Result<(), CollectError> {
        let mut found = Vec::new();
        for path in ["/proc/net/netstat", "/proc/net/snmp"] {
            if procfs::read_into(path, &mut self.buf).is_err() {
                continue;
            }
            let mut lines = self.buf.lines();
            while let (Some(header), Some(values)) = (lines.next(), lines.next()) {
                let (Some((proto, names)), Some((_, values))) =
                    (header.split_once(':'), values.split_once(':'))
                else {
                    continue;
                };
                for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
                    found.push((format!("{proto}_{name}"), value.to_owned()));
                }
            }
        }
        if procfs::read_into("/proc/net/snmp6", &mut self.buf).is_ok() {
            for line in self.buf.lines() {
                let mut parts = line.split_whitespace();
                let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
                    continue;
                };
                // Ip6InReceives → Ip6_InReceives; Icmp6InMsgs → Icmp6_InMsgs; UdpLite6… too.
                if let Some(pos) = key.find('6') {
                    found.push((
                        format!("{}_{}", &key[..=pos], &key[pos + 1..]),
                        value.to_owned(),
                    ));
                }
            }
        }
        for (key, value) in found {
            if !self.wanted(&key) {
                continue;
            }
            if let Some(v) = procfs::parse_number(&value) {
                out.family(
                    Family::untyped(
                        format!("node_netstat_{key}"),
                        format!("Statistic {}.", key.replace('_', "")),
                    )
                    .with_value(v),
                );
            }
        }
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
                    let help = format!("Number of {proto} sockets in state {field}.");
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

impl Collector for NetworkCollector {
    fn collect(&mut self, out: &mut Output) -> Result<(), CollectError> {
        let results = [
            self.netdev(out),
            self.netclass(out),
            self.netstat(out),
            self.sockstat(out),
        ];
        results
            .into_iter()
            .collect::<Result<Vec<()>, _>>()
            .map(|_| ())
    }
}
