//! A clean stop sends nothing twice: SIGTERM or SIGINT while a message is being sent waits for
//! the send and records it, so after the restart the service has the message once and the
//! delivery is `delivered`; a service that never answers does not hold the stop past its bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::fake::FakeServer;
use crate::common::{Server, fixture};

const SECRET: &str = "lifecycle-secret";

fn server() -> Server {
    Server::with(
        &["--rate-limit-api", "0", "--rate-limit-webhooks", "0"],
        &[("GITHUB_WEBHOOK_SECRET", SECRET), ("SPAR_OUTBOX_BACKOFF_MS", "200")],
    )
}

/// A Discord incoming webhook that takes `delay` to answer (forever while `hang` is set).
fn slow_discord(delay: Duration, hang: Arc<AtomicBool>) -> FakeServer {
    FakeServer::start(move |_| {
        std::thread::sleep(delay);
        while hang.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        (204, Value::Null)
    })
}

/// Routes CI events to Discord at `hook` and posts one push.
fn send_one_message(s: &Server, hook: &FakeServer) {
    let config = json!({ "channel": "discord", "config": { "webhookUrl": format!("{}/api/webhooks/1/abc", hook.url) } });
    assert_eq!(s.post("/api/channels/configure", &config).status, 200);
    let route = json!({ "eventType": "ci.*", "channel": "discord", "channelId": "alerts" });
    let r = s.call("POST", "/api/channel-routes", &[("x-org-id", "default")], Some(&route));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let r = s.github_webhook(
        "/webhooks/github",
        "push",
        "d-1",
        Some(SECRET),
        &fixture("github/push.json"),
    );
    assert_eq!(r.status, 200);
}

fn wait_for_request(hook: &FakeServer) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while hook.requests().is_empty() {
        assert!(Instant::now() < deadline, "the message was never sent");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn only_delivery(s: &Server) -> Value {
    let list = s.get("/api/deliveries").json();
    let all = list["deliveries"].as_array().cloned().unwrap_or_default();
    assert_eq!(all.len(), 1, "{list}");
    all[0].clone()
}

fn stop_mid_send_and_restart(signal: &str) {
    let hook = slow_discord(Duration::from_millis(2_500), Arc::new(AtomicBool::new(false)));
    let mut s = server();
    send_one_message(&s, &hook);
    wait_for_request(&hook);
    // The service is still answering: stop now.
    let stopped = Instant::now();
    assert_eq!(s.stop_with(signal), Some(0), "a clean exit");
    assert!(stopped.elapsed() >= Duration::from_millis(1_500), "it waited for the send");
    s.start_again();
    std::thread::sleep(Duration::from_millis(3_500));
    assert_eq!(hook.requests().len(), 1, "SIG{signal}: the message arrived once");
    let delivery = only_delivery(&s);
    assert_eq!(delivery["status"], "delivered", "{delivery}");
    assert_eq!(delivery["attempts"], 1, "{delivery}");
}

#[test]
fn sigterm_during_a_send_records_it_and_sends_nothing_twice() {
    stop_mid_send_and_restart("TERM");
}

#[test]
fn sigint_during_a_send_records_it_and_sends_nothing_twice() {
    stop_mid_send_and_restart("INT");
}

#[test]
fn a_service_that_never_answers_does_not_hold_the_stop_past_its_bound() {
    let hang = Arc::new(AtomicBool::new(true));
    let hook = slow_discord(Duration::ZERO, Arc::clone(&hang));
    let mut s = Server::with(
        &["--rate-limit-api", "0", "--rate-limit-webhooks", "0"],
        &[("GITHUB_WEBHOOK_SECRET", SECRET), ("SPAR_UPSTREAM_TIMEOUT_MS", "3000")],
    );
    send_one_message(&s, &hook);
    wait_for_request(&hook);
    let stopped = Instant::now();
    assert_eq!(s.terminate(), Some(0));
    // The send gives up at the upstream timeout; the stop follows it, well within the drain.
    assert!(stopped.elapsed() < Duration::from_secs(10), "took {:?}", stopped.elapsed());
    hang.store(false, Ordering::SeqCst);
    // What timed out is still owed: pending, with the timeout on record, sent after the restart.
    s.start_again();
    let delivery = only_delivery(&s);
    assert!(delivery["lastError"].as_str().is_some_and(|e| e.contains("in time")), "{delivery}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while only_delivery(&s)["status"] != "delivered" {
        assert!(Instant::now() < deadline, "{}", only_delivery(&s));
        std::thread::sleep(Duration::from_millis(100));
    }
}
