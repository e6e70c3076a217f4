//! Fair connections and rate limits that hold (docs/SECURITY.md, "Connections and rate
//! limits"): one address cannot take every connection or stream slot, forwarded addresses are
//! read from the proxy's end, IPv6 clients are one client per /64, and every dialect's routes
//! are limited.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::spar_created;
use crate::common::Server;

/// A connection to `server` from the local address `from` (any of 127.0.0.0/8).
fn connect_from(from: &str, server: SocketAddr) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let local: SocketAddr = format!("{from}:0").parse().expect("addr");
    socket.bind(&local.into()).expect("bind");
    socket.connect_timeout(&server.into(), Duration::from_secs(5)).expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream
}

/// `GET path` from `from`: the status, or `None` when the connection was closed unanswered.
fn get_from(from: &str, server: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = connect_from(from, server);
    let head = format!("GET {path} HTTP/1.1\r\nHost: spar\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.split(' ').nth(1)?.parse().ok()
}

/// The test opens more sockets than a default soft limit of 1,024 allows.
fn raise_open_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let wanted = limit.maximum.map_or(4_096, |max| max.min(4_096));
    if limit.current.is_some_and(|c| c < wanted) {
        let raised = rustix::process::Rlimit { current: Some(wanted), maximum: limit.maximum };
        setrlimit(Resource::Nofile, raised).expect("raise the open file limit");
    }
}

#[test]
fn half_open_connections_from_one_address_leave_room_for_others() {
    raise_open_file_limit();
    let s = Server::with(&["--header-timeout", "60"], &[]);
    // 1,100 request heads that never finish, from 127.0.0.1.
    let hogs: Vec<TcpStream> = (0..1_100)
        .map(|_| {
            let mut c = connect_from("127.0.0.1", s.addr);
            let _ = c.write_all(b"GET /health HTTP/1.1\r\nHost: spar\r\n");
            c
        })
        .collect();
    // Another client is served at once, and again.
    for _ in 0..3 {
        assert_eq!(get_from("127.0.0.2", s.addr, "/health"), Some(200));
    }
    // The hog's connections beyond its share were closed, not queued.
    let closed = hogs
        .iter()
        .filter(|c| {
            let mut c = *c;
            c.set_read_timeout(Some(Duration::from_millis(5))).expect("timeout");
            // Closed with our bytes unread: a reset rather than an end of stream.
            match c.read(&mut [0u8; 1]) {
                Ok(0) => true,
                Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
                Ok(_) => false,
            }
        })
        .count();
    assert!(closed >= 1_100 - 64, "only {closed} of the hog's connections were closed");
    drop(hogs);
    assert_eq!(get_from("127.0.0.1", s.addr, "/health"), Some(200));
}

#[test]
fn one_client_holds_a_bounded_number_of_event_streams() {
    let s = Server::with(&["--rate-limit-api", "0", "--max-streams-per-client", "3"], &[]);
    let open = |from: &str| {
        let mut c = connect_from(from, s.addr);
        c.write_all(b"GET /api/events/stream HTTP/1.1\r\nHost: spar\r\n\r\n").expect("write");
        let mut head = [0u8; 64];
        let n = c.read(&mut head).expect("read");
        (String::from_utf8_lossy(&head[..n]).into_owned(), c)
    };
    let streams: Vec<TcpStream> = (0..3)
        .map(|_| {
            let (head, c) = open("127.0.0.1");
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            c
        })
        .collect();
    let (refused, _) = open("127.0.0.1");
    assert!(refused.starts_with("HTTP/1.1 429"), "{refused}");
    let (other, _) = open("127.0.0.2");
    assert!(other.starts_with("HTTP/1.1 200"), "another client still streams: {other}");
    drop(streams);
    std::thread::sleep(Duration::from_millis(200));
    let (again, _) = open("127.0.0.1");
    assert!(again.starts_with("HTTP/1.1 200"), "closed streams free their places: {again}");
}

#[test]
fn forwarded_addresses_are_read_from_the_proxy_end_and_ipv6_is_bucketed_per_64() {
    let s = Server::with(&["--rate-limit-api", "2", "--trust-proxy", "2"], &[]);
    let from = |xff: &str| s.call("GET", "/api/agents", &[("X-Forwarded-For", xff)], None).status;
    // Two proxies: the client is the second entry from the right, whatever precedes it.
    assert_eq!(from("1.1.1.1, 203.0.113.7, 10.0.0.1"), 200);
    assert_eq!(from("2.2.2.2, 203.0.113.7, 10.0.0.2"), 200);
    assert_eq!(from("203.0.113.7, 10.0.0.1"), 429);
    assert_eq!(from("203.0.113.8, 10.0.0.1"), 200);
    // One IPv6 client is one /64, however many addresses it takes from it.
    assert_eq!(from("2001:db8:1:2::1, 10.0.0.1"), 200);
    assert_eq!(from("2001:db8:1:2:ffff::9, 10.0.0.1"), 200);
    assert_eq!(from("2001:db8:1:2:abcd:1:2:3, 10.0.0.1"), 429);
    assert_eq!(from("2001:db8:1:3::1, 10.0.0.1"), 200, "the next /64 is another client");
}

#[test]
fn the_spike_and_potpie_routes_are_limited_like_the_api() {
    let s = Server::with(&["--rate-limit-api", "2"], &[]);
    let key = spar_created(&s, &["api-key", "create", "--org", "default"]);
    let spike = [("x-api-key", key.as_str()), ("x-team-id", "default")];
    assert_eq!(s.call("GET", "/integrations", &spike, None).status, 200);
    assert_eq!(s.call("GET", "/integrations", &spike, None).status, 200);
    let limited = s.call("GET", "/integrations", &spike, None);
    assert_eq!(limited.status, 429);
    assert!(limited.header("retry-after").is_some());
    let potpie = [("x-api-key", key.as_str())];
    assert_eq!(s.call("GET", "/api/v1/integrations/list", &potpie, None).status, 429);
}
