//! The egress policy (docs/SECURITY.md, "Egress"): a URL a user supplies never reaches
//! loopback, private, link-local or reserved addresses, in any spelling, at configuration time
//! or at send time, and redirects are not followed. What the operator allows is reached.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::common::fake::FakeServer;
use crate::common::{Resp, Server};

/// No internal address allowed: the default of a real install.
fn strict() -> Server {
    Server::with(&["--rate-limit-api", "0"], &[("SPAR_EGRESS_ALLOW", "")])
}

fn configure_discord(s: &Server, url: &str) -> Resp {
    s.post(
        "/api/channels/configure",
        &json!({ "channel": "discord", "config": { "webhookUrl": url } }),
    )
}

fn webhook_task(name: &str, url: &str) -> Value {
    json!({ "name": name, "intervalMs": 3_600_000, "action": { "type": "webhook", "url": url } })
}

fn run(s: &Server, name: &str) -> Value {
    let r = s.post(&format!("/api/scheduler/{name}/run"), &json!({}));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

/// A listener that counts connections and never answers.
fn counting_listener(addr: &str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind(addr).expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    std::thread::spawn(move || {
        for _ in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (url, seen)
}

/// Answers every request with a redirect to `location`.
fn redirecting_to(location: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let answer = format!(
        "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut head = [0u8; 4096];
            let _ = stream.read(&mut head);
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    url
}

#[test]
fn internal_addresses_are_refused_at_configuration_in_every_spelling() {
    let s = strict();
    let (local, seen) = counting_listener("127.0.0.1:0");
    let port = local.trim_end_matches('/').rsplit(':').next().expect("port").to_owned();
    let refused = [
        local.clone(),
        format!("http://localhost:{port}/"),
        "http://10.1.2.3/hook".into(),
        "http://172.16.0.9/hook".into(),
        "http://192.168.1.1/hook".into(),
        "http://100.64.0.1/hook".into(),
        "http://169.254.169.254/latest/meta-data/".into(),
        "http://0.0.0.0/hook".into(),
        "http://[::1]/hook".into(),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        "http://[::ffff:a9fe:a9fe]/".into(),
        "http://[fd00::1]/hook".into(),
        "http://[fe80::1]/hook".into(),
        "http://2130706433/hook".into(),
    ];
    for url in &refused {
        let e = configure_discord(&s, url).expect_error(400, "INVALID_FIELD");
        let message = e["error"].as_str().unwrap_or_default();
        assert!(message.contains("webhookUrl"), "{url}: {e}");
        let task = s.post("/api/scheduler", &webhook_task("probe", url));
        task.expect_error(400, "INVALID_FIELD");
    }
    let whatsapp = json!({ "channel": "whatsapp", "config": {
        "evolutionApiUrl": "http://169.254.169.254/", "evolutionApiKey": "k", "evolutionInstance": "i" } });
    s.post("/api/channels/configure", &whatsapp).expect_error(400, "INVALID_FIELD");
    assert_eq!(seen.load(Ordering::SeqCst), 0, "nothing was fetched while checking");
}

#[test]
fn an_allowed_target_is_reached_and_a_stored_one_is_checked_again_at_send_time() {
    let target = FakeServer::start(|_| (200, json!({ "ok": true })));
    let mut s = Server::with(&["--rate-limit-api", "0"], &[("SPAR_EGRESS_ALLOW", "127.0.0.1")]);
    let url = format!("{}/hook", target.url);
    assert_eq!(s.post("/api/scheduler", &webhook_task("ping", &url)).status, 201);
    let ran = run(&s, "ping");
    assert_eq!(ran["success"], true, "{ran}");
    assert_eq!(target.requests().len(), 1);

    // The operator withdraws the allowance: the stored URL is refused when it would be sent.
    s.set_env("SPAR_EGRESS_ALLOW", "");
    s.restart();
    let ran = run(&s, "ping");
    assert_eq!(ran["success"], false, "{ran}");
    let error = ran["error"].as_str().expect("error");
    assert!(error.contains("SPAR_EGRESS_ALLOW"), "{error}");
    assert_eq!(target.requests().len(), 1, "nothing more was sent");
}

#[test]
fn a_redirect_is_not_followed_and_a_target_body_is_never_quoted() {
    let (inside, seen) = counting_listener("127.0.0.2:0");
    let hop = redirecting_to(&inside);
    let leaky = FakeServer::start(|_| (500, json!("INTERNAL-ONLY root password is hunter2")));
    let s = Server::with(&["--rate-limit-api", "0"], &[("SPAR_EGRESS_ALLOW", "127.0.0.1")]);
    // 127.0.0.2 is not allowed, so it cannot be configured directly …
    s.post("/api/scheduler", &webhook_task("direct", &inside)).expect_error(400, "INVALID_FIELD");
    // … nor reached through an allowed host that redirects there.
    assert_eq!(s.post("/api/scheduler", &webhook_task("hop", &hop)).status, 201);
    let ran = run(&s, "hop");
    assert_eq!(ran["success"], false, "{ran}");
    assert!(ran["error"].as_str().is_some_and(|e| e.contains("302")), "{ran}");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(seen.load(Ordering::SeqCst), 0, "the redirect was followed");

    assert_eq!(
        s.post("/api/scheduler", &webhook_task("leaky", &format!("{}/x", leaky.url))).status,
        201
    );
    let ran = run(&s, "leaky");
    assert_eq!(ran["success"], false);
    let shown = ran.to_string();
    assert!(shown.contains("500"), "{shown}");
    assert!(!shown.contains("hunter2") && !shown.contains("INTERNAL-ONLY"), "{shown}");
    let listed = s.get("/api/scheduler").body;
    assert!(!String::from_utf8_lossy(&listed).contains("hunter2"));
}
