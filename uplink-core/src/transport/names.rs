//! Server names that carry the identity a peer must prove.
//!
//! `<id>.<host>.peer.invalid`, where `<id>` is the peer's node id in lower-case base32
//! (52 characters, within a DNS label's 63), or `any` when the id is not known yet;
//! `<host>` is an IPv4 address as `a-b-c-d.v4`, an IPv6 address as its eight groups
//! joined by `-` then `.v6`, or a DNS name followed by `.dns`. The `.invalid` suffix
//! (RFC 2606) can never be a real name, so nothing but this module resolves it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::TransportError;
use crate::protocol::NodeId;

pub const SUFFIX: &str = "peer.invalid";
const ANY: &str = "any";

/// The identity a peer must prove.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    Id(NodeId),
    /// Any self-consistent identity (trust on first use).
    AnyIdentity,
}

/// Where a peer name points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Ip(IpAddr),
    Dns(String),
}

fn bad(address: &str, reason: impl Into<String>) -> TransportError {
    TransportError::Address {
        address: address.to_string(),
        reason: reason.into(),
    }
}

/// Splits `host:port` (or `[v6]:port`).
pub fn split_address(address: &str) -> Result<(&str, u16), TransportError> {
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let (host, port) = rest
            .split_once("]:")
            .ok_or_else(|| bad(address, "expected [ipv6]:port"))?;
        (host, port)
    } else {
        address
            .rsplit_once(':')
            .ok_or_else(|| bad(address, "expected host:port"))?
    };
    if host.is_empty() {
        return Err(bad(address, "the host is empty"));
    }
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| bad(address, "the port must be a number from 1 to 65535"))?;
    Ok((host, port))
}

/// The server name and port to dial `address` as, expecting `expected`.
pub fn peer_host(expected: &Expected, address: &str) -> Result<(String, u16), TransportError> {
    let (host, port) = split_address(address)?;
    let label = match expected {
        Expected::Id(id) => base32(id.as_bytes()),
        Expected::AnyIdentity => ANY.to_string(),
    };
    let encoded = if let Ok(v4) = host.parse::<Ipv4Addr>() {
        let o = v4.octets();
        format!("{}-{}-{}-{}.v4", o[0], o[1], o[2], o[3])
    } else if let Ok(v6) = host.parse::<Ipv6Addr>() {
        let groups: Vec<String> = v6.segments().iter().map(|s| format!("{s:x}")).collect();
        format!("{}.v6", groups.join("-"))
    } else {
        validate_dns(host).map_err(|why| bad(address, why))?;
        format!("{}.dns", host.to_ascii_lowercase())
    };
    let name = format!("{label}.{encoded}.{SUFFIX}");
    if name.len() > 253 {
        return Err(bad(address, "the host name is too long"));
    }
    Ok((name, port))
}

/// Whether `name` is a peer name (ours), as opposed to a public name.
pub fn is_peer_host(name: &str) -> bool {
    name.len() > SUFFIX.len() + 1
        && name[name.len() - SUFFIX.len()..].eq_ignore_ascii_case(SUFFIX)
        && name.as_bytes()[name.len() - SUFFIX.len() - 1] == b'.'
}

/// The identity and target a peer name encodes; `None` for any other name.
pub fn parse_peer_host(name: &str) -> Option<(Expected, Target)> {
    if !is_peer_host(name) {
        return None;
    }
    let name = name.to_ascii_lowercase();
    let inner = &name[..name.len() - SUFFIX.len() - 1];
    let (label, rest) = inner.split_once('.')?;
    let expected = if label == ANY {
        Expected::AnyIdentity
    } else {
        let bytes = unbase32(label)?;
        Expected::Id(NodeId::from_slice(&bytes).ok()?)
    };
    let target = if let Some(v4) = rest.strip_suffix(".v4") {
        let octets: Vec<u8> = v4
            .split('-')
            .map(|o| o.parse::<u8>())
            .collect::<Result<_, _>>()
            .ok()?;
        let octets: [u8; 4] = octets.try_into().ok()?;
        Target::Ip(IpAddr::V4(Ipv4Addr::from(octets)))
    } else if let Some(v6) = rest.strip_suffix(".v6") {
        let groups: Vec<u16> = v6
            .split('-')
            .map(|g| u16::from_str_radix(g, 16))
            .collect::<Result<_, _>>()
            .ok()?;
        let groups: [u16; 8] = groups.try_into().ok()?;
        Target::Ip(IpAddr::V6(Ipv6Addr::from(groups)))
    } else if let Some(dns) = rest.strip_suffix(".dns") {
        validate_dns(dns).ok()?;
        Target::Dns(dns.to_string())
    } else {
        return None;
    };
    Some((expected, target))
}

fn validate_dns(host: &str) -> Result<(), &'static str> {
    if host.len() > 180 {
        return Err("the host name is too long");
    }
    for label in host.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("each part of a host name must be 1 to 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err("a host name has only letters, digits and inner hyphens");
        }
    }
    Ok(())
}

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// RFC 4648 base32, lower case, no padding.
fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn unbase32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero padding, so every name has one spelling.
    (buffer == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let id = NodeId::random();
        for (address, target) in [
            ("127.0.5.1:7777", Target::Ip("127.0.5.1".parse().unwrap())),
            ("[::1]:80", Target::Ip("::1".parse().unwrap())),
            (
                "[2001:db8::7]:9",
                Target::Ip("2001:db8::7".parse().unwrap()),
            ),
            (
                "Sat.Example.com:7777",
                Target::Dns("sat.example.com".into()),
            ),
        ] {
            for expected in [Expected::Id(id), Expected::AnyIdentity] {
                let (name, port) = peer_host(&expected, address).unwrap();
                assert!(
                    rustls::pki_types::DnsName::try_from(name.as_str()).is_ok(),
                    "{name}"
                );
                assert!(name.split('.').all(|l| l.len() <= 63), "{name}");
                assert_eq!(parse_peer_host(&name), Some((expected, target.clone())));
                assert_eq!(
                    parse_peer_host(&name.to_uppercase()),
                    Some((expected, target.clone()))
                );
                assert_ne!(port, 0);
            }
        }
    }

    #[test]
    fn other_names_are_not_peer_names() {
        for name in [
            "example.com",
            "peer.invalid",
            "xpeer.invalid",
            "any.1-2-3-4.v4.peer.invalid.example.com",
            "zz.1-2-3-4.v4.peer.invalid",
            "any.1-2-3.v4.peer.invalid",
            "any.300-2-3-4.v4.peer.invalid",
            "any.host.peer.invalid",
        ] {
            assert_eq!(parse_peer_host(name), None, "{name}");
        }
    }

    #[test]
    fn bad_addresses_are_refused() {
        for address in [
            "nohost",
            ":80",
            "host:0",
            "host:99999",
            "[::1:80",
            "a..b:1",
            "-a.b:1",
        ] {
            assert!(
                matches!(
                    peer_host(&Expected::AnyIdentity, address),
                    Err(TransportError::Address { .. })
                ),
                "{address}"
            );
        }
    }

    #[test]
    fn base32_is_rfc4648() {
        assert_eq!(base32(b"foobar"), "mzxw6ytboi");
        assert_eq!(unbase32("mzxw6ytboi").unwrap(), b"foobar");
        assert_eq!(base32(&[0xff; 32]).len(), 52);
        // A spelling with non-zero padding bits is not accepted.
        assert_eq!(unbase32("mzxw6ytboj"), None);
    }
}
