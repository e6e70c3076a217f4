//! Who a request comes from, as rate limits and per-client caps count it (docs/API.md §1.6).
//!
//! The client is the socket peer, unless `--trust-proxy N` says N proxies we run sit in front:
//! then it is the address the N-th proxy from us saw, which that proxy appended to
//! `X-Forwarded-For` (the N-th entry from the right). Entries further left were written by the
//! client itself and are never trusted. IPv6 clients are counted per /64, the block one host
//! (or one customer of a provider) gets, so rotating addresses inside it buys nothing.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use hyper::HeaderMap;
use hyper::header::HeaderName;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The address a client is counted under: an IPv4 address, or an IPv6 /64 (host bits zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    Self(IpAddr::V6(Ipv6Addr::from(prefix)))
                }
            },
        }
    }

    pub fn ip(self) -> IpAddr {
        self.0
    }
}

/// The client of a request: the peer, or the address `hops` trusted proxies vouch for.
pub fn client_key(peer: SocketAddr, headers: &HeaderMap, hops: u8) -> ClientKey {
    ClientKey::of(client_ip(peer, headers, hops))
}

/// The client's address itself (the access log's `client`), not the /64 it is counted under.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, hops: u8) -> IpAddr {
    forwarded_client(headers, hops).unwrap_or(peer.ip())
}

/// The `hops`-th `X-Forwarded-For` entry from the right, over every such header in order.
/// `None` without proxies, or when the chain is shorter than the proxies we were told of (the
/// request did not come through them) or that entry is not an address.
fn forwarded_client(headers: &HeaderMap, hops: u8) -> Option<IpAddr> {
    if hops == 0 {
        return None;
    }
    let entries: Vec<&str> = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let index = entries.len().checked_sub(usize::from(hops))?;
    entries.get(index)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(X_FORWARDED_FOR, HeaderValue::from_static(v));
        }
        h
    }

    fn key(s: &str) -> ClientKey {
        ClientKey::of(s.parse().expect("ip"))
    }

    #[test]
    fn the_proxy_appended_entry_counts_never_the_client_written_ones() {
        let peer: SocketAddr = "10.9.9.9:4000".parse().expect("addr");
        let forged = headers(&["1.2.3.4, 203.0.113.7"]);
        assert_eq!(client_key(peer, &forged, 0), key("10.9.9.9"));
        assert_eq!(client_key(peer, &forged, 1), key("203.0.113.7"));
        assert_eq!(client_key(peer, &forged, 2), key("1.2.3.4"));
        // Shorter than the chain of proxies: the peer.
        assert_eq!(client_key(peer, &forged, 3), key("10.9.9.9"));
        // Several headers are one list, in order.
        let split = headers(&["1.2.3.4", "203.0.113.7"]);
        assert_eq!(client_key(peer, &split, 1), key("203.0.113.7"));
        assert_eq!(client_key(peer, &headers(&["garbage"]), 1), key("10.9.9.9"));
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
    }
}
