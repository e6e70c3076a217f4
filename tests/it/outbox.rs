//! The durable outbox (docs/API.md §4): retries with backoff, permanent failures, re-queueing, and
//! exactly-once delivery across `kill -9`, against fake chat services that count what they got.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::fake::{FakeChat, SLACK_TOKEN, TELEGRAM_TOKEN};
use crate::common::{Server, fixture};

const SECRET: &str = "outbox-secret";

fn server(chat: &FakeChat) -> Server {
    let mut env: Vec<(String, String)> = chat.env();
    env.push(("GITHUB_WEBHOOK_SECRET".into(), SECRET.into()));
    env.push(("SPAR_OUTBOX_BACKOFF_MS".into(), "200".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::with(&["--rate-limit-api", "0", "--rate-limit-webhooks", "0"], &env)
}

fn setup(s: &Server, channel: &str, config: Value, channel_id: &str) {
    let r = s.post("/api/channels/configure", &json!({ "channel": channel, "config": config }));
    assert_eq!(r.status, 200);
    let r = s.call(
        "POST",
        "/api/channel-routes",
        &[("x-org-id", "default")],
        Some(&json!({ "eventType": "ci.*", "channel": channel, "channelId": channel_id })),
    );
    assert_eq!(r.status, 201);
}

fn push(s: &Server, delivery: &str) -> String {
    let r = s.github_webhook(
        "/webhooks/github",
        "push",
        delivery,
        Some(SECRET),
        &fixture("github/push.json"),
    );
    assert_eq!(r.status, 200);
    r.json()["eventId"].as_str().expect("event id").to_owned()
}

fn deliveries(s: &Server, query: &str) -> Vec<Value> {
    s.get(&format!("/api/deliveries{query}")).json()["deliveries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits until the only delivery has this status; returns it.
fn wait_status(s: &Server, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = deliveries(s, "");
        if list.first().is_some_and(|d| d["status"] == status) {
            return list[0].clone();
        }
        assert!(Instant::now() < deadline, "no {status} delivery: {list:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_service_failing_twice_gets_the_message_once_after_backoff() {
    let chat = FakeChat::start();
    let s = server(&chat);
    setup(&s, "slack", json!({ "botToken": SLACK_TOKEN }), "C0ALERTS");
    chat.fail_with(&[
        (500, json!({ "ok": false, "error": "internal_error" })),
        (503, json!({ "ok": false, "error": "service_unavailable" })),
    ]);
    let started = Instant::now();
    push(&s, "retry-1");
    let delivered = wait_status(&s, "delivered");
    assert_eq!(delivered["attempts"], 3);
    // The last error stays on record for the operator.
    assert!(delivered["lastError"].as_str().is_some_and(|e| e.contains("503")), "{delivered}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(chat.messages().len(), 1, "delivered exactly once");
    let attempts = chat.attempts();
    assert_eq!(attempts.len(), 3);
    // Backoff: 200 ms then 600 ms (±20%) between the attempts.
    assert!(started.elapsed() >= Duration::from_millis(640), "{:?}", started.elapsed());
    assert_eq!(s.audit_entries("notification.retry").len(), 2);
    let sent = s.audit_entries("notification.sent");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["metadata"]["attempts"], 3);
    let health = s.get("/health").json();
    assert_eq!(health["deliveries"], json!({ "pending": 0, "dead": 0 }));
}

#[test]
fn a_permanent_refusal_is_dead_after_one_attempt_and_can_be_requeued() {
    let chat = FakeChat::start();
    let s = server(&chat);
    // Telegram answers 400 "chat not found" for chat -1.
    setup(&s, "telegram", json!({ "botToken": TELEGRAM_TOKEN }), "-1");
    push(&s, "dead-1");
    let dead = wait_status(&s, "dead");
    assert_eq!(dead["attempts"], 1);
    let error = dead["lastError"].as_str().expect("last error");
    assert!(error.contains("chat not found"), "{error}");
    assert_eq!(dead["nextAttemptAt"], Value::Null);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(chat.attempts().len(), 1, "no retry of a permanent failure");
    assert_eq!(s.get("/health").json()["deliveries"]["dead"], 1);
    assert_eq!(deliveries(&s, "?status=dead").len(), 1);
    assert!(deliveries(&s, "?status=pending").is_empty());
    s.get("/api/deliveries?status=lost").expect_error(400, "INVALID_PARAMETER");
    s.get("/api/deliveries?limit=0").expect_error(400, "INVALID_PARAMETER");
    let dead_audit = s.audit_entries("notification.dead");
    assert_eq!(dead_audit.len(), 1);
    // The bot token is part of Telegram's URL; it never reaches an error text or the log.
    let listing = String::from_utf8_lossy(&s.get("/api/deliveries").body).into_owned();
    let audit = String::from_utf8_lossy(&s.get("/api/audit?limit=100").body).into_owned();
    for text in [&listing, &audit, &s.log()] {
        assert!(!text.contains(TELEGRAM_TOKEN));
    }
    // The channel shows what went wrong.
    let channels = s.get("/api/channels").json();
    let telegram = channels["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .find(|c| c["name"] == "telegram")
        .cloned()
        .expect("telegram");
    assert_eq!(telegram["connected"], false);
    assert!(telegram["lastError"].as_str().is_some_and(|e| e.contains("chat not found")));

    // The operator fixes the route's target... here: the fake starts accepting chat -1.
    let id = dead["id"].as_str().expect("id").to_owned();
    chat.fail_with(&[(200, json!({ "ok": true, "result": { "message_id": 1 } }))]);
    let r = s.post(&format!("/api/deliveries/{id}/retry"), &json!({}));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["status"], "pending");
    let delivered = wait_status(&s, "delivered");
    assert_eq!(delivered["attempts"], 1);
    assert_eq!(s.get("/health").json()["deliveries"]["dead"], 0);
    s.post(&format!("/api/deliveries/{id}/retry"), &json!({})).expect_error(409, "INVALID_STATE");
    s.post("/api/deliveries/dlv-999/retry", &json!({})).expect_error(404, "DELIVERY_NOT_FOUND");
    s.post("/api/deliveries/nonsense/retry", &json!({})).expect_error(404, "DELIVERY_NOT_FOUND");
    assert_eq!(s.audit_entries("delivery.retry").len(), 1);
}

#[test]
fn an_unconfigured_channel_is_dead_with_a_message_that_says_what_to_do() {
    let chat = FakeChat::start();
    let s = server(&chat);
    let r = s.call(
        "POST",
        "/api/channel-routes",
        &[("x-org-id", "default")],
        Some(&json!({ "eventType": "*", "channel": "discord", "channelId": "1" })),
    );
    assert_eq!(r.status, 201);
    push(&s, "unconfigured-1");
    let dead = wait_status(&s, "dead");
    let error = dead["lastError"].as_str().expect("error");
    assert!(
        error.contains("discord is not configured") && error.contains("/api/channels/configure"),
        "{error}"
    );
}

#[test]
fn pending_deliveries_survive_kill_9_and_are_delivered_exactly_once() {
    let chat = FakeChat::start();
    let mut s = server(&chat);
    setup(&s, "slack", json!({ "botToken": SLACK_TOKEN }), "C0ALERTS");
    // Slack is down: every attempt before the crash fails.
    let outage: Vec<(u16, Value)> = (0..500).map(|_| (503, json!({ "ok": false }))).collect();
    chat.fail_with(&outage);
    let events: Vec<String> = (0..5).map(|n| push(&s, &format!("crash-{n}"))).collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while chat.attempts().len() < 5 {
        assert!(Instant::now() < deadline, "no attempts were made");
        std::thread::sleep(Duration::from_millis(20));
    }
    s.kill9();
    assert!(chat.messages().is_empty());
    chat.script.lock().expect("script").clear();

    s.start_again();
    let messages = chat.wait_for(5);
    let deadline = Instant::now() + Duration::from_secs(20);
    while deliveries(&s, "?status=delivered").len() < 5 {
        assert!(Instant::now() < deadline, "not all delivered: {:?}", deliveries(&s, ""));
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(chat.messages().len(), 5, "each delivered exactly once: {messages:?}");
    let mut delivered_events: Vec<String> =
        deliveries(&s, "").iter().map(|d| d["eventId"].as_str().unwrap_or("").to_owned()).collect();
    delivered_events.sort();
    let mut expected = events.clone();
    expected.sort();
    assert_eq!(delivered_events, expected);
    assert_eq!(s.get("/api/audit/verify").json()["valid"], true);
}

#[test]
fn under_concurrent_load_every_message_is_sent_exactly_once() {
    let chat = FakeChat::start();
    let s = server(&chat);
    setup(&s, "slack", json!({ "botToken": SLACK_TOKEN }), "C0LOAD");
    let body = std::sync::Arc::new(fixture("github/push.json"));
    let senders: Vec<_> = (0..4)
        .map(|w| {
            let (addr, body) = (s.addr, std::sync::Arc::clone(&body));
            std::thread::spawn(move || {
                for n in 0..60 {
                    let stream = std::net::TcpStream::connect(addr).expect("connect");
                    let answer = crate::common::post_delivery(
                        stream,
                        SECRET,
                        &format!("load-{w}-{n}"),
                        &body,
                    );
                    assert!(answer.is_some_and(|a| a["processed"] == true));
                }
            })
        })
        .collect();
    for t in senders {
        t.join().expect("sender");
    }
    chat.wait_for(240);
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.get("/health").json()["deliveries"]["pending"] != 0 {
        assert!(Instant::now() < deadline, "still pending");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(chat.messages().len(), 240, "a message was sent twice");
    let total = s.get("/api/audit?action=notification.sent&limit=1").json()["total"].clone();
    assert_eq!(total, 240);
}
