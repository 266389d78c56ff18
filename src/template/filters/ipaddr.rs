//! `ipaddr` basics, as the ansible.utils collection's filter: with no query, the value if it is
//! an address or a network (`10.0.0.1`, `10.0.0.0/8`, `::1`) and `false` otherwise (a list:
//! its valid items); with a query, that part of it: `address`, `network`, `netmask`,
//! `prefix`, `broadcast`, `network/prefix`, `host` (address/prefix).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use minijinja::Error;
use minijinja::value::{Value, ValueKind};

use super::invalid;

/// An address with its prefix length (the full length when none is written).
struct Interface {
    address: IpAddr,
    prefix: u32,
}

impl Interface {
    fn parse(text: &str) -> Option<Interface> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address.trim().parse().ok()?;
        let bits = Self::bits(address);
        let prefix = match prefix {
            Some(p) => p.parse::<u32>().ok().filter(|p| *p <= bits)?,
            None => bits,
        };
        Some(Interface { address, prefix })
    }

    fn bits(address: IpAddr) -> u32 {
        if address.is_ipv4() { 32 } else { 128 }
    }

    fn as_u128(&self) -> u128 {
        match self.address {
            IpAddr::V4(v4) => u128::from(u32::from(v4)),
            IpAddr::V6(v6) => u128::from(v6),
        }
    }

    fn mask(&self) -> u128 {
        let bits = Self::bits(self.address);
        let all = if bits == 32 {
            u128::from(u32::MAX)
        } else {
            u128::MAX
        };
        let host_bits = bits - self.prefix;
        if host_bits >= 128 {
            0
        } else {
            all & !((1u128 << host_bits) - 1)
        }
    }

    fn make(&self, value: u128) -> IpAddr {
        match self.address {
            IpAddr::V4(_) => Ipv4Addr::from(u32::try_from(value).unwrap_or(u32::MAX)).into(),
            IpAddr::V6(_) => Ipv6Addr::from(value).into(),
        }
    }

    fn query(&self, query: &str) -> Result<Value, Error> {
        let network = self.make(self.as_u128() & self.mask());
        Ok(match query {
            "address" => Value::from(self.address.to_string()),
            "network" => Value::from(network.to_string()),
            "netmask" => Value::from(self.make(self.mask()).to_string()),
            "prefix" => Value::from(self.prefix),
            "broadcast" => Value::from(
                self.make(self.as_u128() | !self.mask() & self.make_all())
                    .to_string(),
            ),
            "network/prefix" | "net" | "subnet" => {
                Value::from(format!("{network}/{}", self.prefix))
            }
            "host" => Value::from(format!("{}/{}", self.address, self.prefix)),
            other => {
                return Err(invalid(format!(
                    "ipaddr: unknown query `{other}`; use address, network, netmask, prefix, broadcast, network/prefix or host"
                )));
            }
        })
    }

    fn make_all(&self) -> u128 {
        if self.address.is_ipv4() {
            u128::from(u32::MAX)
        } else {
            u128::MAX
        }
    }
}

pub fn ipaddr(value: &Value, query: Option<&str>) -> Result<Value, Error> {
    if value.kind() == ValueKind::Seq {
        let mut out = Vec::new();
        for item in value.try_iter()? {
            let answer = one(&item, query)?;
            if answer.kind() != ValueKind::Bool {
                out.push(answer);
            }
        }
        return Ok(Value::from(out));
    }
    one(value, query)
}

fn one(value: &Value, query: Option<&str>) -> Result<Value, Error> {
    let Some(interface) = value.as_str().and_then(Interface::parse) else {
        return Ok(Value::from(false));
    };
    match query {
        None => Ok(value.clone()),
        Some(query) => interface.query(query),
    }
}
