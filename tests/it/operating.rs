//! Running Spar as a service (docs/OPERATING.md): systemd readiness and stopping over
//! `NOTIFY_SOCKET`, the data dir from `$STATE_DIRECTORY`, the access log, the outbox's and
//! scheduler's warnings, the default log filter, and `/api/metrics` uptime units.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::fake::{FakeChat, SLACK_TOKEN, TELEGRAM_TOKEN, dead_url};
use crate::common::{Server, fixture};

const SECRET: &str = "operating-secret";

/// The server's log as JSON lines (`--log-format json`).
fn log_lines(s: &Server) -> Vec<Value> {
    s.log().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

fn with_target<'a>(lines: &'a [Value], target: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["target"] == target).collect()
}

/// Waits until a line matching `pick` is in the log; returns the matching lines.
fn wait_for_lines(s: &Server, what: &str, pick: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found: Vec<Value> = log_lines(s).into_iter().filter(|l| pick(l)).collect();
        if !found.is_empty() {
            return found;
        }
        assert!(Instant::now() < deadline, "no {what} in the log: {}", s.log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every datagram that arrives within `wait`, concatenated.
fn receive(socket: &UnixDatagram, until: &str, wait: Duration) -> String {
    let deadline = Instant::now() + wait;
    let mut got = String::new();
    let mut buf = [0u8; 4096];
    while !got.lines().any(|l| l == until) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no {until} on NOTIFY_SOCKET; got {got:?}");
        socket.set_read_timeout(Some(left)).expect("timeout");
        if let Ok(n) = socket.recv(&mut buf) {
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
    got
}

#[test]
fn systemd_hears_ready_once_serving_and_stopping_at_the_signal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
    let mut s = Server::with(&[], &[("NOTIFY_SOCKET", path.to_str().expect("utf-8 path"))]);
    let ready = receive(&socket, "READY=1", Duration::from_secs(10));
    // READY=1 comes after the addr file (the harness waited for it), so the server answers.
    assert_eq!(s.get("/health").status, 200, "{ready}");
    assert!(ready.lines().any(|l| l.starts_with("STATUS=listening on ")), "{ready}");
    assert!(!ready.contains("STOPPING=1"), "{ready}");
    assert_eq!(s.stop_with("TERM"), Some(0), "{}", s.log());
    let stopping = receive(&socket, "STOPPING=1", Duration::from_secs(5));
    assert!(!stopping.contains("READY=1"), "READY=1 is sent once: {stopping}");
}

#[test]
fn without_a_data_dir_the_store_goes_to_state_directory() {
    let state = tempfile::tempdir().expect("state dir");
    let cwd = tempfile::tempdir().expect("working dir");
    let log = std::fs::File::create(cwd.path().join("server.log")).expect("log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spar"));
    cmd.args(["serve", "--host", "127.0.0.1", "--port", "0", "--log-format", "json"])
        .current_dir(cwd.path())
        .env("STATE_DIRECTORY", state.path())
        .env("RUST_LOG", "info")
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SPAR_")) {
        cmd.env_remove(k);
    }
    let mut child = cmd.spawn().expect("spawn spar");
    let addr_file = state.path().join("spar.addr");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !addr_file.exists() {
        if let Some(status) = child.try_wait().expect("wait") {
            let log = std::fs::read_to_string(cwd.path().join("server.log")).unwrap_or_default();
            panic!("spar exited early with {status}: {log}");
        }
        assert!(Instant::now() < deadline, "no spar.addr in $STATE_DIRECTORY");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(state.path().join("spar.redb").is_file(), "the store is in $STATE_DIRECTORY");
    assert!(!cwd.path().join("spar-data").exists(), "nothing in ./spar-data");
    let killed =
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    assert_eq!(child.wait().expect("wait").code(), Some(0));
    assert!(!addr_file.exists(), "a clean stop removes spar.addr");
}

fn api_key(s: &Server) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_spar"))
        .args(["api-key", "create", "--org", "default", "--name", "ops", "--data-dir"])
        .arg(s.data_dir())
        .output()
        .expect("spar api-key");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().last().expect("key").to_owned()
}

#[test]
fn the_access_log_names_each_request_without_tokens_or_query() {
    let s = Server::with(&["--rate-limit-api", "0", "--rate-limit-webhooks", "0"], &[]);
    let key = api_key(&s);
    let created = s.call(
        "POST",
        "/integrations/create",
        &[("x-api-key", &key), ("x-team-id", "default")],
        Some(&json!({ "slug": "webhook", "customName": "ops alerts" })),
    );
    assert_eq!(created.status, 200, "{}", String::from_utf8_lossy(&created.body));
    let token = created.json()["integration"]["token"].as_str().expect("token").to_owned();
    let alert = json!({ "title": "disk full", "status": "firing" });
    let ingested = s.post(&format!("/ingest/{token}?key=query-secret"), &alert);
    assert!(ingested.status < 300, "{}", String::from_utf8_lossy(&ingested.body));
    let pushed = s.post(&format!("/v1/{token}/push-events"), &alert);
    let listed = s.get("/api/agents?apiKey=query-secret");
    assert_eq!(listed.status, 200);
    let missing = s.get("/no/such/path");
    assert_eq!(missing.status, 404);

    let lines = wait_for_lines(&s, "access line for /no/such/path", |l| {
        l["target"] == "spar::access" && l["fields"]["path"] == "/no/such/path"
    });
    assert_eq!(lines[0]["level"], "INFO");
    let all = log_lines(&s);
    let access = with_target(&all, "spar::access");
    let find = |path: &str| {
        access
            .iter()
            .find(|l| l["fields"]["path"] == path)
            .unwrap_or_else(|| panic!("no access line for {path}: {access:?}"))
            .get("fields")
            .cloned()
            .unwrap_or_default()
    };
    let ingest = find("/ingest/:token");
    assert_eq!(ingest["method"], "POST");
    assert_eq!(ingest["status"], u64::from(ingested.status));
    assert_eq!(ingest["endpoint"], "spike_ingest");
    assert_eq!(ingest["client"], "127.0.0.1");
    assert!(ingest["duration_ms"].as_f64().is_some_and(|d| d >= 0.0), "{ingest}");
    assert_eq!(
        ingest["request_id"].as_str(),
        ingested.header("x-request-id"),
        "the line carries the answer's X-Request-Id"
    );
    assert_eq!(find("/v1/:token/push-events")["status"], u64::from(pushed.status));
    let agents = find("/api/agents");
    assert_eq!(
        (agents["status"].as_u64(), agents["endpoint"].as_str()),
        (Some(200), Some("list_agents"))
    );
    let unmatched = find("/no/such/path");
    assert_eq!(
        (unmatched["status"].as_u64(), unmatched["endpoint"].as_str()),
        (Some(404), Some("unmatched"))
    );
    // Neither the ingest token nor a query string is written anywhere in the log.
    let text = s.log();
    assert!(!text.contains(&token), "the ingest token is in the log");
    assert!(!text.contains("query-secret"), "a query string is in the log");
}

#[test]
fn the_access_log_can_be_turned_off() {
    let s = Server::with(&["--access-log", "off"], &[]);
    assert_eq!(s.get("/health").status, 200);
    let t = Server::with(&[], &[("SPAR_ACCESS_LOG", "off")]);
    assert_eq!(t.get("/health").status, 200);
    // The line is written before the answer leaves: none is coming.
    for server in [&s, &t] {
        let lines = log_lines(server);
        assert!(with_target(&lines, "spar::access").is_empty(), "{}", server.log());
    }
    let out = Command::new(env!("CARGO_BIN_EXE_spar"))
        .args(["serve", "--access-log", "sometimes", "--data-dir"])
        .arg(s.data_dir().join("unused"))
        .output()
        .expect("spar serve");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

fn chat_server(chat: &FakeChat) -> Server {
    let mut env: Vec<(String, String)> = chat.env();
    env.push(("GITHUB_WEBHOOK_SECRET".into(), SECRET.into()));
    env.push(("SPAR_OUTBOX_BACKOFF_MS".into(), "200".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::with(&["--rate-limit-api", "0", "--rate-limit-webhooks", "0"], &env)
}

fn route_to(s: &Server, channel: &str, config: Value, channel_id: &str) {
    let r = s.post("/api/channels/configure", &json!({ "channel": channel, "config": config }));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = s.call(
        "POST",
        "/api/channel-routes",
        &[("x-org-id", "default")],
        Some(&json!({ "eventType": "ci.*", "channel": channel, "channelId": channel_id })),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

fn push(s: &Server, delivery: &str) {
    let r = s.github_webhook(
        "/webhooks/github",
        "push",
        delivery,
        Some(SECRET),
        &fixture("github/push.json"),
    );
    assert_eq!(r.status, 200);
}

fn warnings(lines: &[Value], message_start: &str) -> Vec<Value> {
    lines
        .iter()
        .filter(|l| {
            l["level"] == "WARN"
                && l["fields"]["message"].as_str().is_some_and(|m| m.starts_with(message_start))
        })
        .map(|l| l["fields"].clone())
        .collect()
}

#[test]
fn a_retried_and_a_dead_delivery_each_log_a_warning() {
    let chat = FakeChat::start();
    let s = chat_server(&chat);
    route_to(&s, "slack", json!({ "botToken": SLACK_TOKEN }), "C0ALERTS");
    chat.fail_with(&[(503, json!({ "ok": false, "error": "service_unavailable" }))]);
    push(&s, "ops-retry-1");
    chat.wait_for(1);
    let retried = wait_for_lines(&s, "retry warning", |l| {
        l["level"] == "WARN"
            && l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("outbox: delivery attempt failed"))
    });
    let retried = &retried[0]["fields"];
    assert!(retried["delivery"].as_str().is_some_and(|d| d.starts_with("dlv-")), "{retried}");
    assert_eq!(retried["channel"], "slack");
    assert_eq!(retried["org"], "default");
    assert_eq!(retried["attempts"], 1);
    assert_eq!(retried["error_class"], "http");
    assert_eq!(retried["http_status"], 503);
    assert!(retried["error"].as_str().is_some_and(|e| e.contains("503")), "{retried}");
    assert!(retried["retry_in_ms"].is_u64(), "{retried}");
    assert!(warnings(&log_lines(&s), "outbox: delivery dead").is_empty());

    // Telegram answers 400 "chat not found" for chat -1: dead at the first attempt.
    let chat2 = FakeChat::start();
    let t = chat_server(&chat2);
    route_to(&t, "telegram", json!({ "botToken": TELEGRAM_TOKEN }), "-1");
    push(&t, "ops-dead-1");
    let dead = wait_for_lines(&t, "dead warning", |l| {
        l["level"] == "WARN"
            && l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("outbox: delivery dead"))
    });
    let dead = &dead[0]["fields"];
    assert_eq!(dead["channel"], "telegram");
    assert_eq!(dead["attempts"], 1);
    assert_eq!(dead["error_class"], "http");
    assert_eq!(dead["http_status"], 400);
    assert!(dead["error"].as_str().is_some_and(|e| e.contains("chat not found")), "{dead}");
    assert!(dead.get("retry_in_ms").is_none(), "{dead}");
    assert!(warnings(&log_lines(&t), "outbox: delivery attempt failed").is_empty());
    // The bot tokens (Telegram's is in its URL) are in no log line.
    for text in [s.log(), t.log()] {
        assert!(!text.contains(SLACK_TOKEN) && !text.contains(TELEGRAM_TOKEN));
    }
}

#[test]
fn a_failed_task_run_logs_a_warning() {
    let s = Server::start();
    // A webhook task to a port nothing listens on: the run fails (unreachable).
    let url = format!("{}/hook-secret-path", dead_url());
    let created = s.post(
        "/api/scheduler",
        &json!({
            "name": "ops-hook",
            "intervalMs": 3_600_000,
            "action": { "type": "webhook", "url": url, "body": {} },
        }),
    );
    assert!(created.status < 300, "{}", String::from_utf8_lossy(&created.body));
    let run = s.post("/api/scheduler/ops-hook/run", &json!({}));
    assert!(run.status < 500, "{}", String::from_utf8_lossy(&run.body));
    let lines = wait_for_lines(&s, "task warning", |l| {
        l["level"] == "WARN" && l["fields"]["message"] == "scheduler: task run failed"
    });
    let fields = &lines[0]["fields"];
    assert_eq!(
        (fields["task"].as_str(), fields["org"].as_str()),
        (Some("ops-hook"), Some("default"))
    );
    assert!(fields["error"].as_str().is_some_and(|e| e.contains("127.0.0.1")), "{fields}");
    assert!(!s.log().contains("hook-secret-path"), "a webhook's path is in the log");
}

#[test]
fn the_default_log_has_no_scheduler_crate_chatter() {
    // RUST_LOG empty counts as unset: the default filter.
    let quiet = Server::with(&[], &[("RUST_LOG", "")]);
    let chatty = Server::with(&[], &[("RUST_LOG", "info")]);
    for s in [&quiet, &chatty] {
        assert_eq!(s.get("/health").status, 200);
    }
    let is_cron = |l: &&Value| {
        l["target"].as_str().is_some_and(|t| t.starts_with("tokio_cron_scheduler"))
            && l["level"] == "INFO"
    };
    let quiet_lines = log_lines(&quiet);
    assert!(
        quiet_lines
            .iter()
            .any(|l| l["fields"]["message"].as_str().is_some_and(|m| m.ends_with("listening"))),
        "the default level is still info: {}",
        quiet.log()
    );
    assert!(
        !with_target(&quiet_lines, "spar::access").is_empty(),
        "the access log is on by default"
    );
    assert_eq!(quiet_lines.iter().filter(is_cron).count(), 0, "{}", quiet.log());
    // The control: RUST_LOG=info is taken as given, the crate's lines included.
    let chatty_lines = log_lines(&chatty);
    assert!(chatty_lines.iter().filter(is_cron).count() > 0, "{}", chatty.log());
}

#[test]
fn api_metrics_uptime_is_seconds_and_uptime_ms_milliseconds() {
    let s = Server::start();
    std::thread::sleep(Duration::from_millis(1100));
    let body = s.get("/api/metrics").json();
    let secs = body["uptime"].as_u64().expect("uptime");
    let ms = body["uptimeMs"].as_u64().expect("uptimeMs");
    assert!((1..60).contains(&secs), "{body}");
    assert!(ms >= 1100 && ms / 1000 >= secs && ms / 1000 <= secs + 1, "{body}");
    let health = s.get("/health").json()["uptime"].as_u64().expect("health uptime");
    assert!(health.abs_diff(secs) <= 1, "the same unit as /health: {health} vs {secs}");
}
