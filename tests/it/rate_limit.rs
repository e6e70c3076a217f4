//! docs/API.md §1.6: per-IP token buckets on /api/*, never on /health, after the bearer check.

use crate::common::Server;

#[test]
fn sixth_api_request_in_a_minute_is_429_with_retry_after() {
    let s = Server::with(&["--rate-limit-api", "5"], &[]);
    for i in 0..5 {
        let r = s.get("/api/agents");
        assert_eq!(r.status, 200, "request {i}");
        assert_eq!(r.header("x-ratelimit-limit"), Some("5"));
        assert_eq!(r.header("x-ratelimit-remaining"), Some((4 - i).to_string().as_str()));
    }
    let r = s.get("/v1/api/orgs");
    let body = r.expect_error(429, "RATE_LIMITED");
    assert_eq!(body["error"], "Too Many Requests");
    let retry: u64 = r.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!((1..=12).contains(&retry), "{retry}");
    assert_eq!(body["retryAfter"], retry);
    assert_eq!(r.header("x-ratelimit-limit"), Some("5"));
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    // /health is never limited.
    for _ in 0..20 {
        assert_eq!(s.get("/health").status, 200);
    }
}

#[test]
fn unauthorized_requests_do_not_consume_tokens() {
    let s = Server::with(&["--rate-limit-api", "5"], &[("ENGINE_API_TOKEN", "tok")]);
    for _ in 0..10 {
        s.get("/api/agents").expect_error(401, "UNAUTHORIZED");
    }
    let auth = [("Authorization", "Bearer tok")];
    for i in 0..5 {
        assert_eq!(s.call("GET", "/api/agents", &auth, None).status, 200, "request {i}");
    }
    s.call("GET", "/api/agents", &auth, None).expect_error(429, "RATE_LIMITED");
}

#[test]
fn zero_turns_the_limit_off() {
    let s = Server::with(&["--rate-limit-api", "0"], &[]);
    for _ in 0..150 {
        assert_eq!(s.get("/api/agents").status, 200);
    }
}

#[test]
fn environment_sets_the_limit_and_flags_override_it() {
    let s = Server::with(&[], &[("RATE_LIMIT_API", "2")]);
    assert_eq!(s.get("/api/agents").status, 200);
    assert_eq!(s.get("/api/agents").status, 200);
    assert_eq!(s.get("/api/agents").status, 429);
    let s = Server::with(&["--rate-limit-api", "3"], &[("RATE_LIMIT_API", "2")]);
    for _ in 0..3 {
        assert_eq!(s.get("/api/agents").status, 200);
    }
    assert_eq!(s.get("/api/agents").status, 429);
}

#[test]
fn trust_proxy_buckets_by_forwarded_address_and_webhooks_have_their_own_bucket() {
    let xff = |ip: &'static str| [("X-Forwarded-For", ip)];
    // Untrusted: the header is ignored, every request is the socket peer's.
    let s = Server::with(&["--rate-limit-api", "2"], &[]);
    assert_eq!(s.call("GET", "/api/agents", &xff("10.0.0.1"), None).status, 200);
    assert_eq!(s.call("GET", "/api/agents", &xff("10.0.0.2"), None).status, 200);
    assert_eq!(s.call("GET", "/api/agents", &xff("10.0.0.3"), None).status, 429);
    // Trusted (flag or TRUST_PROXY): the client is the address our proxy appended, the last
    // entry; what the client wrote to the left of it never picks the bucket.
    for s in [
        Server::with(&["--rate-limit-api", "2", "--trust-proxy"], &[]),
        Server::with(&["--rate-limit-api", "2"], &[("TRUST_PROXY", "true")]),
    ] {
        for forged in ["10.0.0.1, 172.16.0.9", "10.0.0.2, 172.16.0.9"] {
            assert_eq!(s.call("GET", "/api/agents", &xff(forged), None).status, 200);
        }
        assert_eq!(s.call("GET", "/api/agents", &xff("10.0.0.3, 172.16.0.9"), None).status, 429);
        assert_eq!(s.call("GET", "/api/agents", &xff("172.16.0.10"), None).status, 200);
    }
    // Webhooks are limited apart from the API.
    let s = Server::with(&["--rate-limit-api", "1", "--rate-limit-webhooks", "2"], &[]);
    assert_eq!(s.get("/api/agents").status, 200);
    assert_eq!(s.get("/api/agents").status, 429);
    for _ in 0..2 {
        assert_ne!(s.post("/webhooks/github", &serde_json::json!({})).status, 429);
    }
    let r = s.post("/webhooks/github", &serde_json::json!({}));
    r.expect_error(429, "RATE_LIMITED");
    assert_eq!(r.header("x-ratelimit-limit"), Some("2"));
}
