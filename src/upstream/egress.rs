//! The egress policy for URLs users supply (docs/API.md §1.4): Slack and Discord incoming
//! webhooks, the Evolution API, scheduled `webhook` tasks. Spar must not become a way to reach
//! what only it can reach: its own loopback, the LAN, a cloud's metadata service.
//!
//! A URL passes when it is `http` or `https` and every address its host resolves to is public,
//! or allowed by the operator (`SPAR_EGRESS_ALLOW`: CIDRs, addresses or host names). Refused:
//! loopback, private (RFC 1918), carrier-grade NAT, unique-local, link-local (cloud metadata),
//! unspecified, multicast, reserved and broadcast addresses, and IPv6 forms that carry one of
//! them (IPv4-mapped, IPv4-compatible, NAT64, 6to4).
//!
//! **Invariant: the address checked is the address connected to.** The check runs inside the
//! resolver of the agent that sends these calls ([`CheckedResolver`]), so a name that resolves
//! differently a moment later (DNS rebinding) cannot slip past, and that agent follows no
//! redirects. Checking a URL when it is configured ([`EgressPolicy::check_url`]) gives an early
//! 400; the send checks again.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};

pub use crate::settings::EgressAllow;
use ureq::unversioned::transport::NextTimeout;

/// What Spar may call: the public internet, and what the operator allows.
#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    allow: EgressAllow,
}

/// Why a URL may not be called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    #[error("not an http:// or https:// URL")]
    BadUrl,
    #[error("{host} does not resolve")]
    Unresolved { host: String },
    #[error(
        "{host} resolves to {addr}, an address Spar does not call (loopback, private, link-local or reserved); allow it with SPAR_EGRESS_ALLOW"
    )]
    Refused { host: String, addr: IpAddr },
}

impl EgressPolicy {
    pub fn new(allow: EgressAllow) -> Self {
        Self { allow }
    }

    /// Checks a URL when it is configured: its scheme, and where its host resolves now.
    /// Blocks on DNS: call it off the async workers.
    pub fn check_url(&self, url: &str) -> Result<(), EgressError> {
        let uri: ureq::http::Uri = url.parse().map_err(|_| EgressError::BadUrl)?;
        let secure = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(EgressError::BadUrl),
        };
        let host = uri.host().filter(|h| !h.is_empty()).ok_or(EgressError::BadUrl)?;
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = (bare, port)
            .to_socket_addrs()
            .map_err(|_| EgressError::Unresolved { host: host.to_owned() })?
            .collect();
        self.vet(host, &addrs).map(drop)
    }

    /// The addresses of `host` Spar may connect to: all of them, or an error naming the first
    /// refused one (one bad address refuses the name: a client may pick any of them).
    fn vet(&self, host: &str, addrs: &[SocketAddr]) -> Result<(), EgressError> {
        let host_allowed = self.allow.hosts.iter().any(|h| h.eq_ignore_ascii_case(host));
        if addrs.is_empty() {
            return Err(EgressError::Unresolved { host: host.to_owned() });
        }
        if host_allowed {
            return Ok(());
        }
        match addrs.iter().map(SocketAddr::ip).find(|ip| !self.allows(*ip)) {
            Some(addr) => Err(EgressError::Refused { host: host.to_owned(), addr }),
            None => Ok(()),
        }
    }

    fn allows(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.allow.nets.iter().any(|(net, bits)| in_net(ip, *net, *bits))
    }
}

/// Whether `ip` is an address of the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => public_v6(v6),
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = a == 0 // "this network", unspecified
        || a == 10
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || a == 127
        || (a == 169 && b == 254) // link-local: cloud metadata
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation (TEST-NET-1)
        || (a == 198 && b == 51 && c == 100) // documentation (TEST-NET-2)
        || (a == 203 && b == 0 && c == 113) // documentation (TEST-NET-3)
        || (a == 192 && b == 168)
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 224; // multicast, reserved, broadcast
    !refused
}

fn public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return public_v4(v4);
    }
    let [first, second, third, ..] = ip.segments();
    let refused = ip.is_unspecified()
        || (first == 0x2001 && second == 0x0db8) // documentation
        || (first == 0x2001 && second == 0) // Teredo: tunnels to an address it hides
        || (first == 0x64 && second == 0xff9b && third == 1) // local-use NAT64
        || ip.is_loopback()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (first & 0xff00) == 0xff00; // multicast
    !refused
}

/// The IPv4 address an IPv6 one stands for: mapped (`::ffff:a.b.c.d`), compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) or 6to4 (`2002:aabb:ccdd::`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(low(hi, lo)),
        // `::` and `::1` are themselves, not IPv4-compatible addresses.
        [0, 0, 0, 0, 0, 0, hi, lo] if (hi, lo) != (0, 0) && (hi, lo) != (0, 1) => Some(low(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x2002, hi, lo, ..] => Some(low(hi, lo)),
        _ => None,
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V4(_)) => {
            ip.to_ipv4_mapped().is_some_and(|v4| in_net(IpAddr::V4(v4), net, bits))
        }
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

/// The resolver of the agent that calls user-supplied URLs: resolves as usual, then refuses
/// the connection unless [`EgressPolicy`] allows every address (see the module doc).
pub struct CheckedResolver {
    policy: Arc<EgressPolicy>,
    inner: DefaultResolver,
}

impl CheckedResolver {
    pub fn new(policy: Arc<EgressPolicy>) -> Self {
        Self { policy, inner: DefaultResolver::default() }
    }
}

impl fmt::Debug for CheckedResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckedResolver").finish()
    }
}

impl Resolver for CheckedResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(refused(&EgressError::BadUrl));
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        let host = uri.host().unwrap_or_default();
        self.policy.vet(host, &addrs).map_err(|e| refused(&e))?;
        Ok(addrs)
    }
}

fn refused(e: &EgressError) -> ureq::Error {
    ureq::Error::Io(std::io::Error::new(std::io::ErrorKind::PermissionDenied, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn internal_addresses_in_every_spelling_are_refused() {
        for refused in [
            "127.0.0.1",
            "127.8.9.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "2002:7f00:1::",
            "192.0.2.10",
            "198.51.100.7",
            "203.0.113.9",
            "2001:db8::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "64:ff9b:1::a00:1",
        ] {
            assert!(!is_public(ip(refused)), "{refused} must be refused");
        }
        for public in
            ["93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8"]
        {
            assert!(is_public(ip(public)), "{public} is public");
        }
    }

    #[test]
    fn the_allow_list_takes_cidrs_addresses_and_hosts() {
        let allow = EgressAllow::parse("127.0.0.1/32, 10.0.0.0/8, hooks.lan,::1").expect("ok");
        let policy = EgressPolicy::new(allow);
        assert!(policy.allows(ip("127.0.0.1")));
        assert!(!policy.allows(ip("127.0.0.2")));
        assert!(policy.allows(ip("10.9.9.9")));
        assert!(policy.allows(ip("::1")));
        assert!(policy.allows(ip("::ffff:127.0.0.1")), "mapped forms of an allowed address");
        assert!(!policy.allows(ip("192.168.0.1")));
        let lan: SocketAddr = "192.168.0.7:80".parse().expect("addr");
        assert!(policy.vet("hooks.lan", &[lan]).is_ok());
        assert!(policy.vet("other.lan", &[lan]).is_err());
        for bad in ["10.0.0.0/33", "not a host!", "1.2.3.4/x"] {
            assert!(EgressAllow::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_must_be_http_and_resolve_to_allowed_addresses() {
        let open = EgressPolicy::default();
        assert_eq!(open.check_url("ftp://example.com/x"), Err(EgressError::BadUrl));
        assert_eq!(open.check_url("not a url"), Err(EgressError::BadUrl));
        assert!(matches!(
            open.check_url("http://127.0.0.1:9/hook"),
            Err(EgressError::Refused { .. })
        ));
        assert!(matches!(
            open.check_url("http://[::ffff:127.0.0.1]:9/hook"),
            Err(EgressError::Refused { .. })
        ));
        assert!(matches!(open.check_url("http://localhost:9/"), Err(EgressError::Refused { .. })));
        let allowed = EgressPolicy::new(EgressAllow::parse("127.0.0.1").expect("ok"));
        assert_eq!(allowed.check_url("http://127.0.0.1:9/hook"), Ok(()));
    }
}
