//! The rules of every request (docs/API.md §1): paths, versions, bodies, errors, CORS, auth, org header, timeouts.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::Server;
use serde_json::json;

#[test]
fn every_route_is_mirrored_under_v1_with_version_and_request_id_headers() {
    let s = Server::start();
    let created = s.post("/v1/api/agents", &json!({"name": "mirror-agent", "type": "task"}));
    assert_eq!(created.status, 201, "{}", created.json());
    let id = created.json()["id"].as_str().expect("id").to_owned();
    for path in ["/api/agents", "/v1/api/agents", "/api/agents/", "/v1/api/agents/"] {
        let r = s.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.json()[0]["id"], id.as_str(), "{path}");
        assert_eq!(r.header("x-api-version"), Some("v1"));
        assert_eq!(r.header("content-type"), Some("application/json; charset=utf-8"));
    }
    assert_eq!(s.get(&format!("/v1/api/agents/{id}")).json()["id"], id.as_str());
    assert_eq!(s.get("/v1/health").json()["status"], "ok");
    // Request ids differ per request.
    let (a, b) = (s.get("/health"), s.get("/health"));
    assert_ne!(a.header("x-request-id"), b.header("x-request-id"));
}

#[test]
fn unknown_paths_are_404_and_wrong_methods_405_with_allow() {
    let s = Server::start();
    s.get("/api/nope").expect_error(404, "NOT_FOUND");
    s.get("/nope").expect_error(404, "NOT_FOUND");
    s.get("/v1/.well-known/agent.json").expect_error(404, "NOT_FOUND");
    let r = s.call("PUT", "/api/agents", &[], Some(&json!({})));
    r.expect_error(405, "METHOD_NOT_ALLOWED");
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST"));
    let r = s.call("PATCH", "/v1/api/agents/agent-x", &[], None);
    r.expect_error(405, "METHOD_NOT_ALLOWED");
    assert_eq!(r.header("allow"), Some("GET, HEAD, DELETE"));
    s.call("GET", "/api/agents/x/action", &[], None).expect_error(405, "METHOD_NOT_ALLOWED");
}

#[test]
fn odd_paths_answer_4xx_never_5xx() {
    let s = Server::start();
    s.get("/api/agents/%ff").expect_error(404, "AGENT_NOT_FOUND");
    s.get("//api/agents").expect_error(404, "NOT_FOUND");
    s.get("/api/../api/agents").expect_error(404, "NOT_FOUND");
    s.get("/api/./agents").expect_error(404, "NOT_FOUND");
    s.get("/api/agents/%2e%2e").expect_error(404, "AGENT_NOT_FOUND");
    s.get("/api/agents/a%2Fb").expect_error(404, "AGENT_NOT_FOUND");
    s.get("/api/orgs/%00").expect_error(404, "ORG_NOT_FOUND");
    // Bytes hyper itself refuses in a request target still get a 4xx.
    let r = s.raw(b"GET /api/agents/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!((400..500).contains(&r.status), "{}", r.status);
}

#[test]
fn bodies_are_checked_for_type_size_and_shape() {
    let s = Server::start();
    let ok_headers = [("Content-Type", "application/json; charset=utf-8")];
    // Parameters in the content type are fine.
    let r = s.raw_request(
        "POST",
        "/api/agents",
        &ok_headers,
        br#"{"name":"typed-agent","type":"task"}"#,
    );
    assert_eq!(r.status, 201);
    // Wrong or missing content type with a body: 415.
    s.raw_request("POST", "/api/agents", &[("Content-Type", "text/plain")], b"{}")
        .expect_error(415, "UNSUPPORTED_MEDIA_TYPE");
    s.raw_request("POST", "/api/agents", &[], br#"{"name":"x"}"#)
        .expect_error(415, "UNSUPPORTED_MEDIA_TYPE");
    // An empty POST is {}: here it lacks the required name.
    let body = s.raw_request("POST", "/api/agents", &[], b"").expect_error(400, "MISSING_FIELD");
    assert!(body["error"].as_str().is_some_and(|m| m.contains("name")));
    // Malformed JSON names line and column.
    let body = s
        .raw_request("POST", "/api/agents", &ok_headers, b"{\n  \"name\": \"abc\",\n  oops\n}")
        .expect_error(400, "INVALID_JSON");
    assert!(body["error"].as_str().is_some_and(|m| m.contains("line 3 column 3")), "{body}");
    // Wrong types and unknown fields name the field.
    let body = s
        .post("/api/agents", &json!({"name": 42, "type": "task"}))
        .expect_error(400, "INVALID_FIELD");
    assert!(body["error"].as_str().is_some_and(|m| m.contains("'name'")), "{body}");
    let body = s
        .post("/api/agents", &json!({"name": "abc", "type": "task", "colour": "red"}))
        .expect_error(400, "INVALID_FIELD");
    assert!(body["error"].as_str().is_some_and(|m| m.contains("'colour'")), "{body}");
    let body = s
        .post("/api/agents/x/action", &json!({"action": "set_autonomy", "params": {"level": "3"}}))
        .expect_error(400, "INVALID_FIELD");
    assert!(body["error"].as_str().is_some_and(|m| m.contains("params.level")), "{body}");
    s.post("/api/orgs", &json!(["not", "an", "object"])).expect_error(400, "INVALID_JSON");
    s.raw_request("POST", "/api/orgs", &ok_headers, b"null").expect_error(400, "INVALID_JSON");
    // Non-UTF-8 bytes inside a JSON string.
    s.raw_request(
        "POST",
        "/api/agents",
        &ok_headers,
        b"{\"name\":\"ab\xff\xfe\",\"type\":\"task\"}",
    )
    .expect_error(400, "INVALID_JSON");
    s.raw_request("POST", "/api/agents", &ok_headers, b"\xff\xfe\xfd")
        .expect_error(400, "INVALID_JSON");
}

#[test]
fn oversized_bodies_are_refused_without_reading_them() {
    let s = Server::start();
    let limit = 1024 * 1024;
    // Declared too large: refused from the header alone, before any body byte is sent.
    let mut stream = TcpStream::connect(s.addr).expect("connect");
    let head = format!(
        "POST /api/agents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        limit + 1
    );
    stream.write_all(head.as_bytes()).expect("write");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("PAYLOAD_TOO_LARGE"), "{text}");
    // Chunked without a length: refused once the limit is crossed.
    let mut req = b"POST /api/agents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..20 {
        req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend_from_slice(&chunk);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    s.raw(&req).expect_error(413, "PAYLOAD_TOO_LARGE");
    // Exactly at the limit is read (and then judged as JSON).
    let mut body = vec![b' '; limit - 2];
    body.splice(0..0, b"{}".iter().copied());
    let r = s.raw_request("POST", "/api/orgs", &[("Content-Type", "application/json")], &body);
    r.expect_error(400, "MISSING_FIELD");
}

#[test]
fn cors_reflects_origins_and_answers_preflight() {
    let s = Server::start();
    let r = s.call("GET", "/api/agents", &[("Origin", "https://dash.example")], None);
    assert_eq!(r.header("access-control-allow-origin"), Some("https://dash.example"));
    let r = s.call(
        "OPTIONS",
        "/api/agents",
        &[("Origin", "https://dash.example"), ("Access-Control-Request-Method", "POST")],
        None,
    );
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("https://dash.example"));
    assert!(r.header("access-control-allow-methods").is_some_and(|m| m.contains("POST")));

    let s = Server::with(&[], &[("CORS_ORIGIN", "https://a.example, https://b.example")]);
    let r = s.call("GET", "/health", &[("Origin", "https://b.example")], None);
    assert_eq!(r.header("access-control-allow-origin"), Some("https://b.example"));
    let r = s.call("GET", "/health", &[("Origin", "https://evil.example")], None);
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[test]
fn bearer_token_guards_api_but_not_health() {
    let s = Server::with(&[], &[("ENGINE_API_TOKEN", "s3cret-token")]);
    s.get("/api/agents").expect_error(401, "UNAUTHORIZED");
    s.call("GET", "/api/agents", &[("Authorization", "Bearer wrong")], None)
        .expect_error(401, "UNAUTHORIZED");
    s.call("GET", "/api/agents", &[("Authorization", "s3cret-token")], None)
        .expect_error(401, "UNAUTHORIZED");
    s.get("/v1/api/nope").expect_error(401, "UNAUTHORIZED");
    let r = s.call("GET", "/v1/api/agents", &[("Authorization", "Bearer s3cret-token")], None);
    assert_eq!(r.status, 200);
    assert_eq!(s.get("/health").status, 200);
    assert!(!s.log().contains("s3cret-token"), "the token must never be logged");
}

#[test]
fn org_header_is_validated() {
    let s = Server::start();
    for bad in ["-leading", "has space", "a/b", &"x".repeat(65)] {
        s.call("GET", "/api/agents", &[("x-org-id", bad)], None)
            .expect_error(400, "INVALID_ORG_ID");
    }
    s.call("GET", "/api/agents", &[("x-org-id", "org-ghost")], None)
        .expect_error(404, "ORG_NOT_FOUND");
    s.call(
        "POST",
        "/api/agents",
        &[("x-org-id", "org-ghost")],
        Some(&json!({"name": "abc", "type": "task"})),
    )
    .expect_error(404, "ORG_NOT_FOUND");
    let r = s.call("GET", "/api/agents", &[("x-org-id", "default")], None);
    assert_eq!(r.status, 200);
    // An empty header is the default context.
    assert_eq!(s.call("GET", "/api/agents", &[("x-org-id", "")], None).status, 200);
}

#[test]
fn head_answers_like_get_without_a_body() {
    let s = Server::start();
    let r = s.call("HEAD", "/health", &[], None);
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
}

#[test]
fn slow_and_idle_clients_are_disconnected() {
    let s = Server::with(&["--header-timeout", "1"], &[]);
    // Headers trickling in slower than the timeout.
    let mut slow = TcpStream::connect(s.addr).expect("connect");
    slow.write_all(b"GET /health HTTP/1.1\r\n").expect("write");
    slow.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let started = Instant::now();
    let mut buf = Vec::new();
    let _ = slow.read_to_end(&mut buf);
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(5), "slow client held the connection for {waited:?}");
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));
    // An idle keep-alive connection is closed too.
    let mut idle = TcpStream::connect(s.addr).expect("connect");
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    idle.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let started = Instant::now();
    let mut buf = Vec::new();
    let _ = idle.read_to_end(&mut buf);
    assert!(String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "idle connection kept {:?}",
        started.elapsed()
    );
}

#[test]
fn a_body_sent_too_slowly_is_answered_408_and_the_connection_closed() {
    let s = Server::with(&["--body-timeout", "1"], &[]);
    let mut slow = TcpStream::connect(s.addr).expect("connect");
    slow.write_all(
        b"POST /api/agents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"name\":",
    )
    .expect("write");
    slow.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let started = Instant::now();
    let mut buf = Vec::new();
    let _ = slow.read_to_end(&mut buf);
    let answer = String::from_utf8_lossy(&buf);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"REQUEST_TIMEOUT\""), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5), "held for {:?}", started.elapsed());
    // Nothing was created from the half body.
    assert_eq!(s.get("/api/agents").json(), serde_json::json!([]));
}

#[test]
fn sigterm_exits_zero_and_removes_the_address_file() {
    let mut s = Server::start();
    assert_eq!(s.get("/health").status, 200);
    assert_eq!(s.terminate(), Some(0));
    assert!(!s.data_dir().join("spar.addr").exists());
}

#[test]
fn oversized_request_heads_are_refused() {
    let s = Server::start();
    let mut req = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: ".to_vec();
    req.extend(std::iter::repeat_n(b'a', 40 * 1024));
    req.extend_from_slice(b"\r\n\r\n");
    let r = s.raw(&req);
    assert_eq!(r.status, 431);
    // A head under the limit is served.
    let mut ok = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: ".to_vec();
    ok.extend(std::iter::repeat_n(b'a', 16 * 1024));
    ok.extend_from_slice(b"\r\n\r\n");
    assert_eq!(s.raw(&ok).status, 200);
}

#[test]
fn connections_beyond_the_limit_wait_until_one_closes() {
    let s = Server::with(&["--max-connections", "2"], &[]);
    // Two clients hold both slots (connected, request not finished).
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut c = TcpStream::connect(s.addr).expect("connect");
            c.write_all(b"GET /health HTTP/1.1\r\n").expect("write");
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    // A third is accepted by the kernel but not served while they hold on.
    let mut third = TcpStream::connect(s.addr).expect("connect");
    third
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    third.set_read_timeout(Some(Duration::from_millis(700))).expect("timeout");
    let mut buf = [0u8; 64];
    assert!(third.read(&mut buf).is_err(), "served beyond --max-connections");
    // One slot frees up: the waiting client is served.
    drop(held.pop());
    third.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let mut answer = Vec::new();
    let _ = third.read_to_end(&mut answer);
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"), "{answer:?}");
}
