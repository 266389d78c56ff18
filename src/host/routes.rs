//! The default routes, from `/proc/net/route` and `/proc/net/ipv6_route`.

use std::net::{Ipv4Addr, Ipv6Addr};

/// A default route: the interface it leaves by, and the next hop (empty for a direct route).
#[derive(Debug, Clone, PartialEq)]
pub struct DefaultRoute {
    pub interface: String,
    pub gateway: String,
}

/// The IPv4 default route with the lowest metric.
pub fn default_ipv4() -> Option<DefaultRoute> {
    parse_default_ipv4(&std::fs::read_to_string("/proc/net/route").ok()?)
}

/// The IPv6 default route with the lowest metric, the loopback's left out.
pub fn default_ipv6() -> Option<DefaultRoute> {
    parse_default_ipv6(&std::fs::read_to_string("/proc/net/ipv6_route").ok()?)
}

fn parse_default_ipv4(text: &str) -> Option<DefaultRoute> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (iface, dest, gateway, flags, metric, mask) = (
                f.first()?,
                f.get(1)?,
                f.get(2)?,
                f.get(3)?,
                f.get(6)?,
                f.get(7)?,
            );
            let up = u32::from_str_radix(flags, 16).ok()? & 1 == 1;
            (up && *dest == "00000000" && *mask == "00000000").then(|| {
                let gw = u32::from_str_radix(gateway, 16).unwrap_or(0);
                let gateway = if gw == 0 {
                    String::new()
                } else {
                    Ipv4Addr::from(u32::from_be(gw)).to_string()
                };
                (
                    metric.parse::<u64>().unwrap_or(u64::MAX),
                    DefaultRoute {
                        interface: iface.to_string(),
                        gateway,
                    },
                )
            })
        })
        .min_by_key(|(metric, _)| *metric)
        .map(|(_, route)| route)
}

fn parse_default_ipv6(text: &str) -> Option<DefaultRoute> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[0] != "00000000000000000000000000000000" || f[1] != "00" {
                return None;
            }
            let iface = f[9];
            if iface == "lo" {
                return None;
            }
            let gw = u128::from_str_radix(f[4], 16).ok()?;
            let gateway = if gw == 0 {
                String::new()
            } else {
                Ipv6Addr::from(gw).to_string()
            };
            Some((
                u32::from_str_radix(f[5], 16).unwrap_or(u32::MAX),
                DefaultRoute {
                    interface: iface.to_owned(),
                    gateway,
                },
            ))
        })
        .min_by_key(|(metric, _)| *metric)
        .map(|(_, route)| route)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ipv4_route_is_parsed() {
        let route = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                     eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
                     eth1\t00000000\t0101A8C0\t0003\t0\t0\t50\t00000000\t0\t0\t0\n\
                     eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(
            parse_default_ipv4(route),
            Some(DefaultRoute {
                interface: "eth1".to_owned(),
                gateway: "192.168.1.1".to_owned()
            })
        );
    }

    #[test]
    fn default_ipv6_route_is_parsed() {
        let route = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth0\n\
                     00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo\n";
        assert_eq!(
            parse_default_ipv6(route),
            Some(DefaultRoute {
                interface: "eth0".to_owned(),
                gateway: "fe80::1".to_owned()
            })
        );
    }
}
