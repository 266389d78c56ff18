//! The IPv4 and IPv6 addresses of the network interfaces, from `getifaddrs(3)`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// (interface, address, prefix length) for every IPv4 and IPv6 address.
pub fn interface_addresses() -> Vec<(String, IpAddr, u8)> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs allocates a list and stores its head in `head`; freed below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: cursor is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cursor };
        cursor = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: ifa_addr is non-null and points to a sockaddr whose family says its type.
        let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
        match family {
            libc::AF_INET => {
                // SAFETY: the family is AF_INET, so both are sockaddr_in (netmask may be null).
                let addr = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                let ip = Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr));
                let prefix = if ifa.ifa_netmask.is_null() {
                    32
                } else {
                    // SAFETY: non-null netmask of an AF_INET address is a sockaddr_in.
                    let mask = unsafe { &*(ifa.ifa_netmask as *const libc::sockaddr_in) };
                    u32::from_be(mask.sin_addr.s_addr).count_ones() as u8
                };
                out.push((name, IpAddr::V4(ip), prefix));
            }
            libc::AF_INET6 => {
                // SAFETY: the family is AF_INET6, so both are sockaddr_in6.
                let addr = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                let ip = Ipv6Addr::from(addr.sin6_addr.s6_addr);
                let prefix = if ifa.ifa_netmask.is_null() {
                    128
                } else {
                    // SAFETY: non-null netmask of an AF_INET6 address is a sockaddr_in6.
                    let mask = unsafe { &*(ifa.ifa_netmask as *const libc::sockaddr_in6) };
                    mask.sin6_addr
                        .s6_addr
                        .iter()
                        .map(|b| b.count_ones() as u8)
                        .sum()
                };
                out.push((name, IpAddr::V6(ip), prefix));
            }
            _ => {}
        }
    }
    // SAFETY: head came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_has_its_address() {
        let all = interface_addresses();
        assert!(
            all.iter().any(|(name, ip, prefix)| name == "lo"
                && *ip == IpAddr::V4(Ipv4Addr::LOCALHOST)
                && *prefix == 8),
            "{all:?}"
        );
    }
}
