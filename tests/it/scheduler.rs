//! The scheduler (docs/API.md §2.15) against the real binary: built-ins, user tasks with the `webhook`
//! and `digest` actions, pause/resume/delete surviving restarts, no overlap, isolated failures.
//!
//! Time: `SPAR_SCHEDULER_TIME_SCALE=10` (test-only, docs/API.md) makes a 10 s interval task tick
//! every second; cron tasks and the API's 10 s minimum are unchanged.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::Server;
use crate::common::fake::{FakeChat, FakeGitHub, FakeServer, GITHUB_TOKEN, SLACK_TOKEN, dead_url};

fn server(extra: &[(&str, &str)]) -> Server {
    let mut env = vec![("SPAR_SCHEDULER_TIME_SCALE", "10")];
    env.extend_from_slice(extra);
    Server::with(&["--rate-limit-api", "0"], &env)
}

fn tasks(s: &Server) -> Vec<Value> {
    let r = s.get("/api/scheduler");
    assert_eq!(r.status, 200);
    r.json().as_array().cloned().expect("bare array")
}

fn task(s: &Server, name: &str) -> Option<Value> {
    tasks(s).into_iter().find(|t| t["name"] == name)
}

fn webhook_task(name: &str, url: &str) -> Value {
    json!({ "name": name, "intervalMs": 10_000, "action": { "type": "webhook", "url": url, "body": { "task": name } } })
}

/// Polls `check` for up to 20 s.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn built_ins_and_the_shapes_and_errors_of_the_api() {
    let s = server(&[]);
    let all = tasks(&s);
    let names: Vec<&str> = all.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["audit-cleanup", "build-status-report", "health-check"]);
    let health = task(&s, "health-check").expect("health-check");
    for key in [
        "name",
        "schedule",
        "intervalMs",
        "lastRun",
        "nextRun",
        "runCount",
        "errors",
        "lastError",
        "enabled",
        "builtIn",
    ] {
        assert!(health.get(key).is_some(), "{key} missing: {health}");
    }
    assert_eq!(health["intervalMs"], 300_000);
    assert_eq!(health["schedule"], Value::Null);
    assert_eq!(health["builtIn"], true);
    assert_eq!(health["enabled"], true);
    assert_eq!(task(&s, "audit-cleanup").expect("cleanup")["intervalMs"], 86_400_000);

    // Nothing listens there: the task's runs fail (and must not leak the path in `lastError`).
    let dead = dead_url();
    let host = dead.trim_start_matches("http://").to_owned();
    let url = format!("{dead}/services/T000/B000/secret-path");
    let url = url.as_str();
    let r = s.post("/api/scheduler", &webhook_task("nightly", url));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let created = r.json();
    assert_eq!(created["name"], "nightly");
    assert_eq!(created["intervalMs"], 10_000);
    assert_eq!(created["builtIn"], false);
    assert_eq!(created["runCount"], 0);
    assert_eq!(created["action"], json!({ "type": "webhook", "host": host }));
    let cron = json!({ "name": "weekday-digest", "schedule": "0 9 * * 1-5", "action": { "type": "digest", "eventType": "report.digest", "windowHours": 24 } });
    let r = s.post("/api/scheduler", &cron);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["schedule"], "0 9 * * 1-5");
    assert_eq!(r.json()["intervalMs"], Value::Null);
    // The webhook's secret path is in no response, no audit entry and no log line, also once
    // its runs have failed.
    eventually("a failed run", || {
        task(&s, "nightly").is_some_and(|t| t["errors"].as_u64() >= Some(1))
    });
    let failed = task(&s, "nightly").expect("nightly");
    assert!(failed["lastError"].as_str().unwrap_or("").contains(&host), "{failed}");
    assert!(!s.log().contains("secret-path"), "the log names the secret path");
    let audit = s.get("/api/audit?limit=100");
    assert!(!String::from_utf8_lossy(&audit.body).contains("secret-path"));
    assert!(!String::from_utf8_lossy(&s.get("/api/scheduler").body).contains("secret-path"));

    s.post("/api/scheduler", &webhook_task("nightly", url))
        .expect_error(409, "TASK_ALREADY_EXISTS");
    s.post("/api/scheduler", &webhook_task("health-check", url))
        .expect_error(409, "TASK_ALREADY_EXISTS");
    let short = json!({ "name": "fast", "intervalMs": 9_999, "action": { "type": "digest" } });
    let e = s.post("/api/scheduler", &short).expect_error(400, "INVALID_SCHEDULE");
    assert!(e["error"].as_str().unwrap_or("").contains("10000"), "{e}");
    for bad in ["61 * * * *", "not a cron", "* * *", "0 9 * * 8"] {
        let body = json!({ "name": "c", "schedule": bad, "action": { "type": "digest" } });
        s.post("/api/scheduler", &body).expect_error(400, "INVALID_SCHEDULE");
    }
    let neither = json!({ "name": "n", "action": { "type": "digest" } });
    s.post("/api/scheduler", &neither).expect_error(400, "INVALID_SCHEDULE");
    let both = json!({ "name": "b", "schedule": "* * * * *", "intervalMs": 60_000, "action": { "type": "digest" } });
    s.post("/api/scheduler", &both).expect_error(400, "INVALID_SCHEDULE");
    let no_action = json!({ "name": "x", "intervalMs": 60_000 });
    s.post("/api/scheduler", &no_action).expect_error(400, "MISSING_FIELD");
    let bad_type = json!({ "name": "x", "intervalMs": 60_000, "action": { "type": "shell" } });
    s.post("/api/scheduler", &bad_type).expect_error(400, "INVALID_FIELD");
    let bad_url = json!({ "name": "x", "intervalMs": 60_000, "action": { "type": "webhook", "url": "ftp://x" } });
    s.post("/api/scheduler", &bad_url).expect_error(400, "INVALID_FIELD");
    let bad_interval = json!({ "name": "x", "intervalMs": "soon", "action": { "type": "digest" } });
    s.post("/api/scheduler", &bad_interval).expect_error(400, "INVALID_FIELD");
    s.post("/api/scheduler", &json!({ "intervalMs": 60_000, "action": { "type": "digest" } }))
        .expect_error(400, "MISSING_FIELD");

    let e = s.post("/api/scheduler/nope/pause", &json!({})).expect_error(404, "TASK_NOT_FOUND");
    assert_eq!(e["error"], "Task not found");
    s.post("/api/scheduler/nope/resume", &json!({})).expect_error(404, "TASK_NOT_FOUND");
    s.post("/api/scheduler/nope/run", &json!({})).expect_error(404, "TASK_NOT_FOUND");
    s.delete("/api/scheduler/nope").expect_error(404, "TASK_NOT_FOUND");

    // Tasks are per org: another org sees none of default's.
    assert_eq!(s.post("/api/orgs", &json!({ "name": "Beta" })).status, 201);
    let r = s.call("GET", "/api/scheduler", &[("x-org-id", "org-beta")], None);
    assert_eq!(r.json(), json!([]));
    s.call("DELETE", "/api/scheduler/nightly", &[("x-org-id", "org-beta")], None)
        .expect_error(404, "TASK_NOT_FOUND");
}

/// A fake webhook target that counts calls per path, can be slow on `/slow` and fails `/fail`.
struct Target {
    server: FakeServer,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
}

impl Target {
    fn start() -> Self {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max_in_flight = Arc::new(AtomicUsize::new(0));
        let (now, max) = (Arc::clone(&in_flight), Arc::clone(&max_in_flight));
        let server = FakeServer::start(move |req| match req.path() {
            "/slow" => {
                let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(running, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2_500));
                now.fetch_sub(1, Ordering::SeqCst);
                (200, json!({ "ok": true }))
            }
            "/fail" => (500, json!({ "message": "boom" })),
            _ => (200, json!({ "ok": true })),
        });
        Self { server, in_flight, max_in_flight }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url)
    }

    fn calls(&self, path: &str) -> usize {
        self.server.requests().iter().filter(|r| r.path() == path).count()
    }
}

#[test]
fn pause_resume_and_delete_survive_restarts() {
    let target = Target::start();
    let mut s = server(&[]);
    let r = s.post("/api/scheduler", &webhook_task("ping", &target.url("/ping")));
    assert_eq!(r.status, 201);
    eventually("two runs", || target.calls("/ping") >= 2);
    let sent = &target.server.requests()[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.json(), json!({ "task": "ping" }));
    let ping = task(&s, "ping").expect("ping");
    assert!(ping["runCount"].as_u64().unwrap_or(0) >= 1, "{ping}");
    assert!(ping["lastRun"].is_string() && ping["nextRun"].is_string(), "{ping}");

    let r = s.post("/api/scheduler/ping/pause", &json!({}));
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({ "name": "ping", "enabled": false, "message": "Task paused" }));
    // A run already under way may finish; after that, nothing while paused.
    std::thread::sleep(Duration::from_millis(500));
    let paused_at = target.calls("/ping");
    std::thread::sleep(Duration::from_millis(2_500));
    assert_eq!(target.calls("/ping"), paused_at, "a paused task ran");
    let counted = task(&s, "ping").expect("ping")["runCount"].as_u64().expect("count");
    assert!(counted >= 2, "{counted}");
    assert_eq!(task(&s, "ping").expect("ping")["nextRun"], Value::Null);

    // Built-ins can be paused and deleted like any task.
    assert_eq!(s.post("/api/scheduler/audit-cleanup/pause", &json!({})).status, 200);
    let r = s.delete("/api/scheduler/health-check");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({ "name": "health-check", "message": "Task cancelled" }));
    assert!(task(&s, "health-check").is_none());

    s.restart();
    let ping = task(&s, "ping").expect("ping after restart");
    assert_eq!(ping["enabled"], false, "{ping}");
    assert_eq!(ping["runCount"].as_u64(), Some(counted), "{ping}");
    assert_eq!(task(&s, "audit-cleanup").expect("cleanup")["enabled"], false);
    let health = task(&s, "health-check").expect("a deleted built-in comes back on restart");
    assert_eq!(health["enabled"], true);
    std::thread::sleep(Duration::from_millis(2_000));
    assert_eq!(target.calls("/ping"), paused_at, "still paused after the restart");

    let r = s.post("/api/scheduler/ping/resume", &json!({}));
    assert_eq!(r.json(), json!({ "name": "ping", "enabled": true, "message": "Task resumed" }));
    eventually("a run after resume", || target.calls("/ping") > paused_at);

    assert_eq!(s.delete("/api/scheduler/ping").status, 200);
    std::thread::sleep(Duration::from_millis(500));
    let after_delete = target.calls("/ping");
    s.restart();
    assert!(task(&s, "ping").is_none(), "a deleted user task stays deleted");
    std::thread::sleep(Duration::from_millis(2_000));
    assert_eq!(target.calls("/ping"), after_delete);
    let actions: Vec<String> = s.get("/api/audit?action=scheduler.*&limit=50").json()["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str().map(str::to_owned))
        .collect();
    for wanted in [
        "scheduler.task_created",
        "scheduler.task_paused",
        "scheduler.task_resumed",
        "scheduler.task_deleted",
        "scheduler.webhook",
    ] {
        assert!(actions.iter().any(|a| a == wanted), "{wanted} not audited: {actions:?}");
    }
}

#[test]
fn a_slow_task_never_overlaps_and_a_failing_task_stops_nothing() {
    let target = Target::start();
    let s = server(&[]);
    for (name, path) in [("slow", "/slow"), ("fail", "/fail"), ("ok", "/ok")] {
        assert_eq!(s.post("/api/scheduler", &webhook_task(name, &target.url(path))).status, 201);
    }
    // While a slow run is under way, another run of it is refused.
    eventually("the slow task running", || task(&s, "slow").is_some_and(|t| t["running"] == true));
    s.post("/api/scheduler/slow/run", &json!({})).expect_error(409, "TASK_RUNNING");
    std::thread::sleep(Duration::from_millis(6_000));

    assert_eq!(target.max_in_flight.load(Ordering::SeqCst), 1, "runs of one task overlapped");
    let slow = task(&s, "slow").expect("slow");
    // About 6 ticks passed; each run takes 2.5 s, so at most 3 started.
    assert!(target.calls("/slow") <= 3, "{} slow runs", target.calls("/slow"));
    assert!(slow["runCount"].as_u64().unwrap_or(0) >= 1, "{slow}");
    let fail = task(&s, "fail").expect("fail");
    assert!(fail["errors"].as_u64().unwrap_or(0) >= 3, "{fail}");
    assert_eq!(fail["runCount"], 0);
    assert!(fail["lastError"].as_str().unwrap_or("").contains("500"), "{fail}");
    let ok = task(&s, "ok").expect("ok");
    assert!(ok["runCount"].as_u64().unwrap_or(0) >= 3, "{ok}");
    assert_eq!(ok["errors"], 0, "{ok}");
    assert_eq!(ok["lastError"], Value::Null);
    assert!(target.in_flight.load(Ordering::SeqCst) <= 1);
}

#[test]
fn digest_build_status_health_check_and_cleanup_do_their_work() {
    let chat = FakeChat::start();
    let github = FakeGitHub::start();
    github.add_repo("acme/api-gateway", "main");
    let mut env: Vec<(String, String)> = chat.env();
    env.push(("SLACK_BOT_TOKEN".into(), SLACK_TOKEN.into()));
    env.push(("GITHUB_TOKEN".into(), GITHUB_TOKEN.into()));
    env.push(("GITHUB_API_URL".into(), github.url().into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let s = server(&env);
    let org = [("x-org-id", "default")];
    for event_type in ["report.digest", "report.build_status"] {
        let route =
            json!({ "eventType": event_type, "channel": "slack", "channelId": "C0REPORTS" });
        assert_eq!(s.call("POST", "/api/channel-routes", &org, Some(&route)).status, 201);
    }

    // Nothing linked yet: the report has nothing to say and sends nothing.
    let r = s.post("/api/scheduler/build-status-report/run", &json!({}));
    assert_eq!(r.json()["success"], true, "{}", r.json());
    assert_eq!(s.post("/api/projects", &json!({ "repo": "acme/api-gateway" })).status, 201);
    let r = s.post("/api/scheduler/build-status-report/run", &json!({}));
    assert_eq!(r.json()["success"], true, "{}", r.json());
    assert_eq!(r.json()["task"]["runCount"], 2);
    let runs: Vec<_> =
        github.requests().into_iter().filter(|r| r.path().ends_with("/actions/runs")).collect();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].path(), "/repos/acme/api-gateway/actions/runs");
    let message = chat.wait_for(1)[0].json();
    assert_eq!(message["channel"], "C0REPORTS");
    let text = message["text"].as_str().unwrap_or("");
    assert!(
        text.contains("report.build_status")
            && text.contains("acme/api-gateway: CI on main: failure"),
        "{text}"
    );

    let digest = json!({ "name": "digest", "intervalMs": 86_400_000, "action": { "type": "digest", "windowHours": 24 } });
    assert_eq!(s.post("/api/scheduler", &digest).status, 201);
    let r = s.post("/api/scheduler/digest/run", &json!({}));
    assert_eq!(r.json()["success"], true, "{}", r.json());
    let text = chat.wait_for(2)[1].json()["text"].as_str().unwrap_or("").to_owned();
    assert!(text.contains("Digest of org default, last 24 h"), "{text}");
    assert!(text.contains("audit entries") && text.contains("× scheduler.task_created"), "{text}");

    // health-check: the first run records the state; an unchanged second run records nothing.
    let count =
        |s: &Server| s.get("/api/audit?action=system.health_check").json()["total"].as_u64();
    assert_eq!(s.post("/api/scheduler/health-check/run", &json!({})).json()["success"], true);
    assert_eq!(count(&s), Some(1));
    let entry = &s.get("/api/audit?action=system.health_check").json()["entries"][0];
    assert_eq!(entry["metadata"]["status"], "ok", "{entry}");
    assert_eq!(s.post("/api/scheduler/health-check/run", &json!({})).json()["success"], true);
    assert_eq!(count(&s), Some(1));

    // audit-cleanup: nothing is a year old, so nothing goes.
    let total = s.get("/api/audit").json()["total"].as_u64().expect("total");
    let r = s.post("/api/scheduler/audit-cleanup/run", &json!({}));
    assert_eq!(r.json()["success"], true);
    assert_eq!(r.json()["task"]["runCount"], 1);
    assert!(s.get("/api/audit").json()["total"].as_u64().expect("total") >= total);
    assert_eq!(s.get("/api/audit/verify").json()["valid"], true);
}

#[test]
fn build_status_without_a_github_token_is_a_recorded_error() {
    let s = server(&[]);
    assert_eq!(s.post("/api/projects", &json!({ "repo": "acme/web" })).status, 201);
    let r = s.post("/api/scheduler/build-status-report/run", &json!({})).json();
    assert_eq!(r["success"], false);
    assert!(r["error"].as_str().unwrap_or("").contains("GITHUB_TOKEN"), "{r}");
    assert_eq!(r["task"]["errors"], 1);
    assert_eq!(r["task"]["runCount"], 0);
}

#[test]
fn a_new_task_answers_its_next_run_at_once() {
    let s = Server::start();
    let hourly =
        json!({ "name": "hourly", "intervalMs": 3_600_000, "action": { "type": "digest" } });
    let created = s.post("/api/scheduler", &hourly);
    assert_eq!(created.status, 201);
    let created = created.json();
    let next = created["nextRun"].as_str().expect("nextRun on the create answer");
    let next_ms = chrono::DateTime::parse_from_rfc3339(next).expect("RFC 3339").timestamp_millis();
    let in_an_hour = chrono::Utc::now().timestamp_millis() + 3_600_000;
    assert!((next_ms - in_an_hour).abs() < 60_000, "{created}");
    let cron = json!({ "name": "nine", "schedule": "0 0 9 * * *", "action": { "type": "digest" } });
    let created = s.post("/api/scheduler", &cron).json();
    assert!(created["nextRun"].as_str().is_some_and(|t| t.contains("T09:00:00")), "{created}");
    // Paused: no next run.
    assert_eq!(s.post("/api/scheduler/nine/pause", &json!({})).status, 200);
    assert_eq!(task(&s, "nine").expect("nine")["nextRun"], Value::Null);
}
