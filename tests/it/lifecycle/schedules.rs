//! Schedules that survive restarts: a task's next run counts from its stored `lastRun`, an
//! overdue task runs once soon after start, a recent one does not run early, and a server
//! restarted more often than a task's interval still runs it.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::fake::FakeServer;
use crate::common::{Server, get_row, put_row};

fn target() -> FakeServer {
    FakeServer::start(|_| (200, json!({ "ok": true })))
}

fn task(s: &Server, name: &str) -> Value {
    let all = s.get("/api/scheduler").json();
    all.as_array().into_iter().flatten().find(|t| t["name"] == name).cloned().expect(name)
}

fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    i64::try_from(since.expect("clock").as_millis()).expect("ms")
}

/// Rewrites the stopped server's stored `lastRun` of `name` (org `default`).
fn set_last_run(s: &Server, name: &str, at_ms: i64) {
    let mut row = get_row(s, "tasks", "default", name).expect("stored task");
    row["lastRunMs"] = json!(at_ms);
    put_row(s, "tasks", "default", name, &serde_json::to_vec(&row).expect("json"));
}

fn parse_rfc3339_ms(v: &Value) -> i64 {
    let text = v.as_str().expect("a time");
    let parsed = chrono::DateTime::parse_from_rfc3339(text).expect("rfc3339");
    parsed.timestamp_millis()
}

fn calls_within(t: &FakeServer, wait: Duration) -> usize {
    std::thread::sleep(wait);
    t.requests().len()
}

fn new_task(s: &Server, body: Value) {
    let r = s.post("/api/scheduler", &body);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn an_overdue_task_runs_once_soon_after_start_and_a_recent_one_waits() {
    let (overdue, recent) = (target(), target());
    let mut s = Server::with(&["--rate-limit-api", "0"], &[]);
    let every_minute = |name: &str, url: &str| json!({ "name": name, "intervalMs": 60_000, "action": { "type": "webhook", "url": url } });
    new_task(&s, every_minute("overdue", &overdue.url));
    new_task(&s, every_minute("recent", &recent.url));
    s.terminate();
    // The server was down for five periods of `overdue`; `recent` ran 10 s ago.
    let now = now_ms();
    set_last_run(&s, "overdue", now - 300_000);
    set_last_run(&s, "recent", now - 10_000);
    s.start_again();
    let started = Instant::now();
    while overdue.requests().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(5), "the overdue task did not run");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(calls_within(&overdue, Duration::from_secs(3)), 1, "once, not once per missed run");
    assert_eq!(recent.requests().len(), 0, "not before its period is up");
    // The next runs are real fire times, from the stored last runs.
    let ran = task(&s, "overdue");
    let next = parse_rfc3339_ms(&ran["nextRun"]) - parse_rfc3339_ms(&ran["lastRun"]);
    assert!((59_000..=61_000).contains(&next), "{ran}");
    let waiting = task(&s, "recent");
    let due = parse_rfc3339_ms(&waiting["nextRun"]);
    assert!((due - (now + 50_000)).abs() <= 1_500, "{waiting}");
}

#[test]
fn a_cron_task_that_missed_fires_catches_up_once() {
    let hook = target();
    let mut s = Server::with(&["--rate-limit-api", "0"], &[]);
    let hourly = json!({ "name": "hourly", "schedule": "0 * * * *",
        "action": { "type": "webhook", "url": hook.url } });
    new_task(&s, hourly);
    s.terminate();
    set_last_run(&s, "hourly", now_ms() - 3 * 3_600_000);
    s.start_again();
    let started = Instant::now();
    while hook.requests().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(5), "the missed fires were not caught up");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(calls_within(&hook, Duration::from_secs(3)), 1, "three missed fires, one run");
    let next = parse_rfc3339_ms(&task(&s, "hourly")["nextRun"]);
    assert_eq!(next % 3_600_000, 0, "on the hour");
    assert!(next > now_ms() && next <= now_ms() + 3_600_000);
}

#[test]
fn a_server_restarted_more_often_than_the_interval_still_runs_the_task() {
    let hook = target();
    let mut s = Server::with(&["--rate-limit-api", "0"], &[]);
    let body = json!({ "name": "tenner", "intervalMs": 10_000, "action": { "type": "webhook", "url": hook.url } });
    new_task(&s, body);
    // Up 3 s at a time, for about 24 s: no uptime ever reaches the 10 s interval.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(24) {
        std::thread::sleep(Duration::from_secs(3));
        s.restart();
    }
    let runs = hook.requests().len();
    assert!((1..=3).contains(&runs), "{runs} runs in 24 s of 3 s uptimes");
}
