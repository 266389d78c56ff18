//! Field rules the firewall types (`iptables`, `ufw`) share: ports and port ranges, addresses
//! and networks, interface names, comments. Each value reaches the tool as one argv element,
//! never through a shell; these rules refuse at check time what the tool would refuse (or
//! read otherwise) at execute time.

use std::fmt;
use std::net::IpAddr;

use schemars::JsonSchema;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::diagnostics::Diagnostic;
use crate::model::Spanned;

/// A port or a range of ports, `22` or `"8000:8080"`: YAML's `22` and `"22"` are the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct PortSpec(#[schemars(with = "PortSchema")] pub String);

/// A number or a string, for the schema.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum PortSchema {
    Number(u16),
    Range(String),
}

impl<'de> Deserialize<'de> for PortSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PortVisitor;
        impl Visitor<'_> for PortVisitor {
            type Value = PortSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port (22) or a range of ports (\"8000:8080\")")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PortSpec, E> {
                Ok(PortSpec(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PortSpec, E> {
                Ok(PortSpec(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PortSpec, E> {
                Ok(PortSpec(v.to_string()))
            }
        }
        deserializer.deserialize_any(PortVisitor)
    }
}

fn port_number(text: &str) -> Option<u16> {
    let digits = !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit());
    text.parse::<u16>().ok().filter(|&p| digits && p > 0)
}

/// Why `text` is not a port (1–65535) or a range `LOW:HIGH` with `LOW <= HIGH`.
fn port_error(text: &str) -> Option<String> {
    match text.split_once(':') {
        None if port_number(text).is_some() => None,
        None => Some(format!("`{text}` is not a port between 1 and 65535")),
        Some((low, high)) => match (port_number(low), port_number(high)) {
            (Some(low), Some(high)) if low <= high => None,
            (Some(_), Some(_)) => Some(format!("the range `{text}` ends before it starts")),
            _ => Some(format!(
                "`{text}` is not a range of ports between 1 and 65535 (`LOW:HIGH`)"
            )),
        },
    }
}

pub fn port(field: &str, value: Option<&Spanned<PortSpec>>, found: &mut Vec<Diagnostic>) {
    let Some(value) = value else { return };
    if let Some(why) = port_error(&value.value.0) {
        found.push(
            Diagnostic::error(format!("`{field}`: {why}"))
                .at(value.span)
                .help("write a port such as 22, or a range such as \"8000:8080\""),
        );
    }
}

/// The IP version an address or network is of, or why it is neither.
pub fn address_version(text: &str) -> Result<IpVersionOf, String> {
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let ip: IpAddr = address
        .parse()
        .map_err(|_| format!("`{text}` is not an IP address or network (`10.0.0.0/8`)"))?;
    let bits = if ip.is_ipv4() { 32 } else { 128 };
    if let Some(prefix) = prefix {
        let valid = !prefix.is_empty()
            && prefix.bytes().all(|b| b.is_ascii_digit())
            && prefix.parse::<u8>().is_ok_and(|p| p <= bits);
        if !valid {
            return Err(format!(
                "`{text}`: the prefix length must be a number from 0 to {bits}"
            ));
        }
    }
    Ok(if ip.is_ipv4() {
        IpVersionOf::V4
    } else {
        IpVersionOf::V6
    })
}

/// An address's IP version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpVersionOf {
    V4,
    V6,
}

/// An address or network, of `version` when one is given.
pub fn address(
    field: &str,
    value: Option<&Spanned<String>>,
    version: Option<IpVersionOf>,
    found: &mut Vec<Diagnostic>,
) {
    let Some(value) = value else { return };
    match address_version(&value.value) {
        Err(why) => found.push(
            Diagnostic::error(format!("`{field}`: {why}"))
                .at(value.span)
                .help("write one address (192.0.2.1) or network (192.0.2.0/24); names are not looked up"),
        ),
        Ok(found_version) if version.is_some_and(|v| v != found_version) => found.push(
            Diagnostic::error(format!(
                "`{field}`: `{}` is an {} address, and the rule is for {}",
                value.value,
                if found_version == IpVersionOf::V4 { "IPv4" } else { "IPv6" },
                if found_version == IpVersionOf::V4 { "IPv6" } else { "IPv4" },
            ))
            .at(value.span)
            .help("set `ip_version` to the version of the addresses"),
        ),
        Ok(_) => {}
    }
}

/// A network interface's name as the kernel allows it (at most 15 bytes, no `/`, no space),
/// restricted to the characters names are made of; a trailing `+` matches every interface
/// starting with the rest (iptables).
pub fn interface(
    field: &str,
    value: Option<&Spanned<String>>,
    wildcard: bool,
    found: &mut Vec<Diagnostic>,
) {
    let Some(value) = value else { return };
    let name = match value.value.strip_suffix('+') {
        Some(stem) if wildcard => stem,
        _ => value.value.as_str(),
    };
    let valid = !name.is_empty()
        && name.len() <= 15
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
    if !valid {
        found.push(
            Diagnostic::error(format!(
                "`{field}`: `{}` is not a network interface name",
                value.value
            ))
            .at(value.span)
            .help(if wildcard {
                "an interface is named with at most 15 letters, digits and `._@-` (`eth0`, `wg0`), a trailing `+` for every interface starting so"
            } else {
                "an interface is named with at most 15 letters, digits and `._@-` (`eth0`, `wg0`)"
            }),
        );
    }
}

/// Comments are printable text without quotes or backslashes: the tools quote them in what
/// they print (`iptables -S`, `ufw show added`), which is read back to find a task's rules.
pub fn comment(value: Option<&Spanned<String>>, found: &mut Vec<Diagnostic>) {
    let Some(value) = value else { return };
    let text = &value.value;
    let why = if text.is_empty() {
        Some("is empty")
    } else if text.len() > 200 {
        Some("is longer than 200 bytes")
    } else if text.chars().any(|c| c.is_control() || "\"'\\`".contains(c)) {
        Some("holds a quote, a backslash or a control character")
    } else if text.trim() != text {
        Some("starts or ends with a space")
    } else {
        None
    };
    if let Some(why) = why {
        found.push(
            Diagnostic::error(format!("`comment` {why}"))
                .at(value.span)
                .help("a comment is one line of at most 200 bytes, without quotes or backslashes"),
        );
    }
}

/// A comma-free word of letters, digits and `_-` (a protocol name, a chain).
pub fn is_word(text: &str, max: usize) -> bool {
    !text.is_empty()
        && text.len() <= max
        && !text.starts_with('-')
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_ranges() {
        for good in ["22", "1", "65535", "8000:8080", "80:80"] {
            assert_eq!(port_error(good), None, "{good}");
        }
        for bad in [
            "0", "65536", "", "22;rm", "-1", "80:22", "1:", ":2", "+22", "1:2:3",
        ] {
            assert!(port_error(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn addresses_and_networks() {
        assert_eq!(address_version("10.0.0.0/8"), Ok(IpVersionOf::V4));
        assert_eq!(address_version("192.0.2.1"), Ok(IpVersionOf::V4));
        assert_eq!(address_version("2001:db8::/32"), Ok(IpVersionOf::V6));
        for bad in [
            "10.0.0.0/33",
            "example.com",
            "10.0.0.1/",
            "1.2.3.4,5.6.7.8",
            "::/129",
        ] {
            assert!(address_version(bad).is_err(), "{bad}");
        }
    }
}
