//! Fake third-party services on 127.0.0.1: a tiny HTTP/1.1 server that records every request and
//! answers through a handler, and on top of it a fake GitHub REST API that keeps repositories
//! and hooks in memory and answers like GitHub (shapes from GitHub's REST documentation).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

type Handler = dyn Fn(&Recorded) -> (u16, Value) + Send + Sync;

/// An HTTP server on 127.0.0.1 that records requests and answers with `handler`.
pub struct FakeServer {
    pub url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl FakeServer {
    pub fn start(handler: impl Fn(&Recorded) -> (u16, Value) + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake");
        let addr: SocketAddr = listener.local_addr().expect("fake addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let recorded = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (handler, recorded) = (Arc::clone(&handler), Arc::clone(&recorded));
                std::thread::spawn(move || serve(stream, &*handler, &recorded));
            }
        });
        Self { url: format!("http://{addr}"), requests }
    }

    /// Everything received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("requests").clone()
    }

    pub fn clear(&self) {
        self.requests.lock().expect("requests").clear();
    }
}

/// Answers one request per connection, then closes it.
fn serve(stream: TcpStream, handler: &Handler, recorded: &Mutex<Vec<Recorded>>) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, target) =
        (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let len = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request = Recorded { method, target, headers, body };
    recorded.lock().expect("requests").push(request.clone());
    let (status, answer) = handler(&request);
    // A JSON string answer is sent as plain text (Slack's incoming webhooks answer `ok`).
    let (payload, content_type) = match &answer {
        Value::Null => (Vec::new(), "application/json"),
        Value::String(text) => (text.clone().into_bytes(), "text/plain"),
        other => (other.to_string().into_bytes(), "application/json"),
    };
    let mut stream = reader.into_inner();
    let head = format!(
        "HTTP/1.1 {status} Fake\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&payload);
}

/// What the fake GitHub knows and how it misbehaves.
#[derive(Default)]
pub struct GitHubState {
    /// Lower-case `owner/name` → the repository object.
    pub repos: HashMap<String, Value>,
    /// Repositories the token may not see: 403.
    pub forbidden: HashSet<String>,
    /// Lower-case `owner/name` → its hooks.
    pub hooks: HashMap<String, Vec<Value>>,
    pub next_hook_id: u64,
    /// The token may not manage hooks: GitHub answers 404 on the hook routes.
    pub hooks_forbidden: bool,
    /// Every call answers this status (a GitHub outage).
    pub outage: Option<u16>,
    /// Every call is answered only after this long (a slow GitHub).
    pub delay: Option<std::time::Duration>,
}

pub const GITHUB_TOKEN: &str = "ghp_fake_token_0123456789";

pub struct FakeGitHub {
    pub server: FakeServer,
    pub state: Arc<Mutex<GitHubState>>,
}

impl FakeGitHub {
    pub fn start() -> Self {
        let state =
            Arc::new(Mutex::new(GitHubState { next_hook_id: 987_654, ..Default::default() }));
        let shared = Arc::clone(&state);
        let server = FakeServer::start(move |req| {
            let delay = shared.lock().expect("state").delay;
            if let Some(delay) = delay {
                std::thread::sleep(delay);
            }
            github(&mut shared.lock().expect("state"), req)
        });
        Self { server, state }
    }

    pub fn url(&self) -> &str {
        &self.server.url
    }

    /// Adds a repository GitHub knows (`full_name` in its canonical case).
    pub fn add_repo(&self, full_name: &str, default_branch: &str) {
        let name = full_name.split('/').nth(1).expect("owner/name");
        let owner = full_name.split('/').next().expect("owner/name");
        self.state.lock().expect("state").repos.insert(
            full_name.to_ascii_lowercase(),
            json!({
                "id": 1_296_269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": name,
                "full_name": full_name, "private": false,
                "owner": {"login": owner, "id": 9919, "type": "Organization"},
                "html_url": format!("https://github.com/{full_name}"),
                "description": "A repository", "default_branch": default_branch,
                "archived": false, "permissions": {"admin": true, "push": true, "pull": true},
            }),
        );
    }

    /// Adds a hook as if someone had created it earlier.
    pub fn add_hook(&self, full_name: &str, url: &str) -> u64 {
        let mut state = self.state.lock().expect("state");
        state.next_hook_id += 1;
        let id = state.next_hook_id;
        let hook = hook_json(id, url, &json!(["push"]));
        state.hooks.entry(full_name.to_ascii_lowercase()).or_default().push(hook);
        id
    }

    pub fn hooks(&self, full_name: &str) -> Vec<Value> {
        self.state
            .lock()
            .expect("state")
            .hooks
            .get(&full_name.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.server.requests()
    }
}

fn hook_json(id: u64, url: &str, events: &Value) -> Value {
    json!({
        "type": "Repository", "id": id, "name": "web", "active": true, "events": events,
        "config": {"content_type": "json", "insecure_ssl": "0", "url": url},
        "updated_at": "2026-11-23T10:00:00Z", "created_at": "2026-11-23T10:00:00Z",
        "url": format!("https://api.github.com/hooks/{id}"),
        "last_response": {"code": null, "status": "unused", "message": null},
    })
}

fn not_found() -> (u16, Value) {
    (
        404,
        json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}),
    )
}

/// The GitHub REST routes of docs/API.md §2.7.
fn github(state: &mut GitHubState, req: &Recorded) -> (u16, Value) {
    if let Some(status) = state.outage {
        return (status, json!({"message": "Server Error"}));
    }
    if req.header("user-agent").is_none() {
        return (
            403,
            json!({"message": "Request forbidden by administrative rules. Please make sure your request has a User-Agent header"}),
        );
    }
    if req.header("authorization") != Some(&format!("Bearer {GITHUB_TOKEN}")) {
        return (
            401,
            json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}),
        );
    }
    let segments: Vec<&str> = req.path().trim_start_matches('/').split('/').collect();
    let (owner, name) = match segments.as_slice() {
        ["repos", owner, name, ..] => (*owner, *name),
        _ => return not_found(),
    };
    let key = format!("{owner}/{name}").to_ascii_lowercase();
    if state.forbidden.contains(&key) {
        return (403, json!({"message": "Resource not accessible by integration"}));
    }
    let Some(repo) = state.repos.get(&key).cloned() else { return not_found() };
    match (req.method.as_str(), &segments[3..]) {
        ("GET", []) => (200, repo),
        ("GET", ["actions", "runs"]) => {
            let branch = repo["default_branch"].clone();
            (
                200,
                json!({"total_count": 1, "workflow_runs": [{
                    "id": 30433642, "name": "CI", "head_branch": branch, "status": "completed",
                    "conclusion": "failure", "event": "push",
                    "html_url": format!("https://github.com/{owner}/{name}/actions/runs/30433642"),
                }]}),
            )
        }
        (_, ["hooks", ..]) if state.hooks_forbidden => not_found(),
        ("GET", ["hooks"]) => {
            (200, Value::Array(state.hooks.get(&key).cloned().unwrap_or_default()))
        }
        ("POST", ["hooks"]) => {
            let body = req.json();
            let url = body["config"]["url"].as_str().unwrap_or("").to_owned();
            let hooks = state.hooks.entry(key).or_default();
            if hooks.iter().any(|h| h["config"]["url"] == url.as_str()) {
                return (
                    422,
                    json!({"message": "Validation Failed", "errors": [{"resource": "Hook", "code": "custom", "message": "Hook already exists on this repository"}]}),
                );
            }
            state.next_hook_id += 1;
            let hook = hook_json(state.next_hook_id, &url, &body["events"]);
            state
                .hooks
                .entry(format!("{owner}/{name}").to_ascii_lowercase())
                .or_default()
                .push(hook.clone());
            (201, hook)
        }
        ("DELETE", ["hooks", id]) => {
            let hooks = state.hooks.entry(key).or_default();
            let before = hooks.len();
            hooks.retain(|h| h["id"].as_u64().map(|n| n.to_string()).as_deref() != Some(*id));
            if hooks.len() == before { not_found() } else { (204, Value::Null) }
        }
        _ => not_found(),
    }
}

/// A URL nothing listens on (a service that is down).
pub fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

/// Credentials the fake chat services accept.
pub const SLACK_TOKEN: &str = "xoxb-fake-slack-token";
pub const DISCORD_TOKEN: &str = "fake-discord-bot-token";
pub const TELEGRAM_TOKEN: &str = "123456:fake-telegram-token";
pub const EVOLUTION_KEY: &str = "fake-evolution-key";
pub const EVOLUTION_INSTANCE: &str = "spar-instance";

/// Fake Slack, Discord, Telegram and Evolution APIs on one server, under `/slack`, `/discord`,
/// `/telegram`, `/evolution`, plus incoming webhook URLs under `/hooks/slack` and
/// `/hooks/discord`. Answers like the real services (docs/API.md §4); `script` holds forced
/// answers served first, one per request, to play an outage.
pub struct FakeChat {
    pub server: FakeServer,
    pub script: Arc<Mutex<Vec<(u16, Value)>>>,
    accepted: Arc<Mutex<Vec<Recorded>>>,
}

impl FakeChat {
    pub fn start() -> Self {
        let script: Arc<Mutex<Vec<(u16, Value)>>> = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let (forced, took) = (Arc::clone(&script), Arc::clone(&accepted));
        let server = FakeServer::start(move |req| {
            let next = {
                let mut queue = forced.lock().expect("script");
                (!queue.is_empty()).then(|| queue.remove(0))
            };
            let (status, answer) = next.unwrap_or_else(|| chat(req));
            if is_message(req) && (200..300).contains(&status) && answer["ok"] != false {
                took.lock().expect("accepted").push(req.clone());
            }
            (status, answer)
        });
        Self { server, script, accepted }
    }

    /// The next requests get these answers, in order.
    pub fn fail_with(&self, answers: &[(u16, Value)]) {
        self.script.lock().expect("script").extend_from_slice(answers);
    }

    pub fn url(&self, service: &str) -> String {
        format!("{}/{service}", self.server.url)
    }

    /// Messages the services accepted (answered 2xx with success), in order.
    pub fn messages(&self) -> Vec<Recorded> {
        self.accepted.lock().expect("accepted").clone()
    }

    /// Every message request, failed ones included.
    pub fn attempts(&self) -> Vec<Recorded> {
        self.server.requests().into_iter().filter(is_message).collect()
    }

    /// Waits until `n` messages were received; panics after 20 s.
    pub fn wait_for(&self, n: usize) -> Vec<Recorded> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "only {} of {n} messages arrived",
                got.len()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The environment that points Spar's chat clients at this fake.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("SLACK_API_URL".into(), self.url("slack")),
            ("DISCORD_API_URL".into(), self.url("discord")),
            ("TELEGRAM_API_URL".into(), self.url("telegram")),
        ]
    }
}

fn is_message(r: &Recorded) -> bool {
    r.method == "POST"
        && (r.path().ends_with("/chat.postMessage")
            || r.path().ends_with("/messages")
            || r.path().ends_with("/sendMessage")
            || r.path().contains("/message/sendText/")
            || r.path().starts_with("/hooks/"))
}

/// The chat services' routes, each with its own credential check and answer shapes.
fn chat(req: &Recorded) -> (u16, Value) {
    let path = req.path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let auth = req.header("authorization").unwrap_or("");
    match segments.as_slice() {
        ["slack", "chat.postMessage"] | ["slack", "auth.test"] => {
            if auth != format!("Bearer {SLACK_TOKEN}") {
                return (200, json!({"ok": false, "error": "invalid_auth"}));
            }
            if segments[1] == "auth.test" {
                return (
                    200,
                    json!({"ok": true, "team": "Acme", "user": "spar", "team_id": "T1", "user_id": "U1"}),
                );
            }
            let channel = req.json()["channel"].as_str().unwrap_or("").to_owned();
            if channel == "C0MISSING" {
                return (200, json!({"ok": false, "error": "channel_not_found"}));
            }
            (
                200,
                json!({"ok": true, "channel": channel, "ts": "1795428902.000200", "message": {"type": "message", "text": req.json()["text"]}}),
            )
        }
        ["discord", ..] | ["hooks", "discord", ..] if !discord_user_agent(req) => (
            400,
            json!({"message": "Requests must name their bot: User-Agent: DiscordBot ($url, $versionNumber)", "code": 0}),
        ),
        ["discord", "channels", channel, "messages"] => {
            if auth != format!("Bot {DISCORD_TOKEN}") {
                return (401, json!({"message": "401: Unauthorized", "code": 0}));
            }
            (
                200,
                json!({"id": "1100000000000000001", "channel_id": channel, "content": req.json()["content"], "timestamp": "2026-11-23T10:00:00.000000+00:00"}),
            )
        }
        ["discord", "users", "@me"] => {
            if auth != format!("Bot {DISCORD_TOKEN}") {
                return (401, json!({"message": "401: Unauthorized", "code": 0}));
            }
            (200, json!({"id": "1000", "username": "spar", "bot": true}))
        }
        ["telegram", bot, method] => {
            if *bot != format!("bot{TELEGRAM_TOKEN}") {
                return (
                    401,
                    json!({"ok": false, "error_code": 401, "description": "Unauthorized"}),
                );
            }
            match *method {
                "getMe" => (
                    200,
                    json!({"ok": true, "result": {"id": 123456, "is_bot": true, "first_name": "Spar", "username": "spar_bot"}}),
                ),
                "sendMessage" => {
                    let body = req.json();
                    if body["chat_id"] == json!(-1) {
                        return (
                            400,
                            json!({"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}),
                        );
                    }
                    (
                        200,
                        json!({"ok": true, "result": {"message_id": 77, "chat": {"id": body["chat_id"], "type": "supergroup"}, "date": 1_795_428_902, "text": body["text"]}}),
                    )
                }
                _ => (404, json!({"ok": false, "error_code": 404, "description": "Not Found"})),
            }
        }
        ["evolution", "message", "sendText", instance] => {
            if req.header("apikey") != Some(EVOLUTION_KEY) {
                return (
                    401,
                    json!({"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}}),
                );
            }
            if *instance != EVOLUTION_INSTANCE {
                return (
                    404,
                    json!({"status": 404, "error": "Not Found", "response": {"message": [format!("The \"{instance}\" instance does not exist")]}}),
                );
            }
            let number = req.json()["number"].as_str().unwrap_or("").to_owned();
            (
                201,
                json!({"key": {"remoteJid": format!("{number}@s.whatsapp.net"), "fromMe": true, "id": "BAE5F5A632EAE722"}, "message": {"extendedTextMessage": {"text": req.json()["text"]}}, "messageTimestamp": "1795428902", "status": "PENDING"}),
            )
        }
        ["evolution", "instance", "connectionState", instance] => {
            if req.header("apikey") != Some(EVOLUTION_KEY) {
                return (401, json!({"status": 401, "error": "Unauthorized"}));
            }
            (200, json!({"instance": {"instanceName": instance, "state": "open"}}))
        }
        ["hooks", "slack", ..] => match req.method.as_str() {
            "POST" => (200, Value::String("ok".into())),
            _ => (400, Value::String("invalid_payload".into())),
        },
        ["hooks", "discord", id, _token] => match req.method.as_str() {
            "POST" => (
                200,
                json!({"id": "1100000000000000002", "channel_id": "42", "webhook_id": id, "content": req.json()["content"]}),
            ),
            _ => (200, json!({"id": id, "type": 1, "name": "Spar", "channel_id": "42"})),
        },
        _ => (404, json!({"message": "Not Found"})),
    }
}

pub const PAGERDUTY_KEY: &str = "u+fakePagerDutyKey01";
pub const PAGERDUTY_ROUTING_KEY: &str = "R0123456789abcdef0123456789abcde";
pub const LINEAR_KEY: &str = "lin_api_fakeLinearKey0123";
pub const SENTRY_TOKEN: &str = "sntrys_fakeSentryToken0123";

impl Recorded {
    /// The query's pairs, percent-decoded, in order (repeated keys kept).
    pub fn query(&self) -> Vec<(String, String)> {
        let raw = self.target.split_once('?').map_or("", |(_, q)| q);
        raw.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect()
    }

    pub fn query_all(&self, key: &str) -> Vec<String> {
        self.query().into_iter().filter(|(k, _)| k == key).map(|(_, v)| v).collect()
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How the fake integrations misbehave.
#[derive(Default)]
pub struct IntegrationsState {
    /// Every call answers this status.
    pub outage: Option<u16>,
    /// Every call is answered only after this long.
    pub delay: Option<std::time::Duration>,
    /// Linear answers with a GraphQL `errors` array.
    pub graphql_error: bool,
}

/// Fake PagerDuty REST (`/pagerduty`), PagerDuty Events (`/pd-events`), Linear GraphQL
/// (`/linear/graphql`) and Sentry (`/sentry`) on one server, answering in the shapes of the
/// documentation and checking each service's credentials.
pub struct FakeIntegrations {
    pub server: FakeServer,
    pub state: Arc<Mutex<IntegrationsState>>,
}

impl FakeIntegrations {
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(IntegrationsState::default()));
        let shared = Arc::clone(&state);
        let server = FakeServer::start(move |req| {
            let (outage, delay, graphql_error) = {
                let s = shared.lock().expect("state");
                (s.outage, s.delay, s.graphql_error)
            };
            if let Some(d) = delay {
                std::thread::sleep(d);
            }
            if let Some(status) = outage {
                return (
                    status,
                    json!({"error": {"message": "Internal Server Error", "code": 2000}}),
                );
            }
            integrations(req, graphql_error)
        });
        Self { server, state }
    }

    pub fn env(&self) -> Vec<(String, String)> {
        let base = &self.server.url;
        vec![
            ("PAGERDUTY_API_URL".into(), format!("{base}/pagerduty")),
            ("PAGERDUTY_EVENTS_URL".into(), format!("{base}/pd-events")),
            ("LINEAR_API_URL".into(), format!("{base}/linear/graphql")),
            ("SENTRY_API_URL".into(), format!("{base}/sentry")),
        ]
    }

    /// Requests whose path starts with `prefix`.
    pub fn requests(&self, prefix: &str) -> Vec<Recorded> {
        self.server.requests().into_iter().filter(|r| r.path().starts_with(prefix)).collect()
    }
}

fn integrations(req: &Recorded, graphql_error: bool) -> (u16, Value) {
    let path = req.path().to_owned();
    if let Some(rest) = path.strip_prefix("/pagerduty") {
        return pagerduty(req, rest);
    }
    if path == "/pd-events/v2/enqueue" {
        let body = req.json();
        if body["routing_key"].as_str().map(str::len) != Some(32)
            || body["event_action"] != "trigger"
            || body["payload"]["summary"].as_str().is_none()
        {
            return (
                400,
                json!({"status": "invalid event", "message": "Event object is invalid", "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"]}),
            );
        }
        return (
            202,
            json!({"status": "success", "message": "Event processed", "dedup_key": body["dedup_key"]}),
        );
    }
    if path == "/linear/graphql" {
        return linear(req, graphql_error);
    }
    if let Some(rest) = path.strip_prefix("/sentry") {
        return sentry(req, rest);
    }
    (404, json!({"message": "Not Found"}))
}

/// Discord's API asks every request for `User-Agent: DiscordBot ($url, $versionNumber)`.
pub fn discord_user_agent(req: &Recorded) -> bool {
    let ua = req.header("user-agent").unwrap_or("");
    let inner = ua.strip_prefix("DiscordBot (").and_then(|r| r.strip_suffix(')'));
    inner.and_then(|i| i.split_once(", ")).is_some_and(|(url, version)| {
        (url.starts_with("https://") || url.starts_with("http://"))
            && !version.is_empty()
            && version.chars().all(|c| c.is_ascii_digit() || c == '.')
    })
}

fn pagerduty(req: &Recorded, rest: &str) -> (u16, Value) {
    if req.header("authorization") != Some(&format!("Token token={PAGERDUTY_KEY}")) {
        return (401, json!({"error": {"message": "Authentication failed", "code": 2006}}));
    }
    // PagerDuty's REST API reference: every call carries `Content-Type: application/json`.
    if req.header("content-type").is_none_or(|ct| !ct.starts_with("application/json")) {
        return (
            400,
            json!({"error": {"message": "Invalid Input Provided", "code": 2001, "errors": ["Content-Type must be application/json"]}}),
        );
    }
    let full = req.query_all("include[]").contains(&"users".to_owned());
    let user = |id: &str, name: &str, email: &str| {
        if full {
            json!({"id": id, "type": "user", "summary": name, "name": name, "email": email})
        } else {
            json!({"id": id, "type": "user_reference", "summary": name})
        }
    };
    match (req.method.as_str(), rest) {
        ("GET", "/oncalls") => (
            200,
            json!({
                "oncalls": [
                    {"escalation_policy": {"id": "PEP0001", "type": "escalation_policy_reference", "summary": "Default"},
                     "escalation_level": 2, "schedule": null, "user": user("PUSR002", "Bob Backup", "bob@acme.test"),
                     "start": null, "end": null},
                    {"escalation_policy": {"id": "PEP0001", "type": "escalation_policy_reference", "summary": "Default"},
                     "escalation_level": 1, "schedule": {"id": "PSCH001", "type": "schedule_reference", "summary": "Primary"},
                     "user": user("PUSR001", "Alice Oncall", "alice@acme.test"),
                     "start": "2026-11-23T00:00:00Z", "end": "2026-11-30T00:00:00Z"}
                ],
                "limit": 25, "offset": 0, "more": false, "total": null
            }),
        ),
        ("GET", "/incidents") => {
            let statuses = req.query_all("statuses[]");
            let all = [
                json!({"id": "PINC001", "type": "incident", "incident_number": 41, "title": "High error rate on api-gateway",
                       "status": "triggered", "urgency": "high", "created_at": "2026-11-23T10:20:00Z",
                       "html_url": "https://acme.pagerduty.com/incidents/PINC001",
                       "service": {"id": "PSVC001", "type": "service_reference", "summary": "api-gateway"},
                       "assignments": [{"at": "2026-11-23T10:20:00Z", "assignee": {"id": "PUSR001", "type": "user_reference", "summary": "Alice Oncall"}}],
                       "acknowledgements": []}),
                json!({"id": "PINC002", "type": "incident", "incident_number": 40, "title": "Disk full on db-1",
                       "status": "acknowledged", "urgency": "low", "created_at": "2026-11-23T09:00:00Z",
                       "html_url": "https://acme.pagerduty.com/incidents/PINC002",
                       "service": {"id": "PSVC002", "type": "service_reference", "summary": "database"},
                       "assignments": [], "acknowledgements": []}),
            ];
            let incidents: Vec<Value> = all
                .into_iter()
                .filter(|i| statuses.iter().any(|s| i["status"] == s.as_str()))
                .collect();
            let total = incidents.len();
            (
                200,
                json!({"incidents": incidents, "limit": 25, "offset": 0, "more": false, "total": total}),
            )
        }
        ("PUT", incident) if incident.starts_with("/incidents/") => {
            if req.header("from").is_none() {
                return (
                    400,
                    json!({"error": {"message": "Invalid Input Provided", "code": 2001, "errors": ["You must specify a user's email address in the \"From\" header."]}}),
                );
            }
            let id = &incident["/incidents/".len()..];
            if id != "PINC001" {
                return (404, json!({"error": {"message": "Not Found", "code": 2100}}));
            }
            (
                200,
                json!({"incident": {"id": id, "type": "incident", "status": "acknowledged",
                "acknowledgements": [{"at": "2026-11-23T10:25:00Z", "acknowledger": {"id": "PUSR001", "type": "user_reference", "summary": "Alice Oncall"}}]}}),
            )
        }
        _ => (404, json!({"error": {"message": "Not Found", "code": 2100}})),
    }
}

fn linear(req: &Recorded, graphql_error: bool) -> (u16, Value) {
    if req.header("authorization") != Some(LINEAR_KEY) {
        return (
            400,
            json!({"errors": [{"message": "Authentication required, not authenticated", "extensions": {"code": "AUTHENTICATION_ERROR", "type": "authentication error"}}]}),
        );
    }
    if graphql_error {
        return (
            200,
            json!({"data": null, "errors": [{"message": "Entity not found: Team", "extensions": {"code": "INVALID_INPUT"}}]}),
        );
    }
    let body = req.json();
    let query = body["query"].as_str().unwrap_or("").to_owned();
    let vars = &body["variables"];
    if query.contains("issueCreate") {
        let input = &vars["input"];
        return (
            200,
            json!({"data": {"issueCreate": {"success": true, "issue": {
            "id": "9cfb482a-81e3-4154-b5b9-2c805e70a02d", "identifier": "ENG-348", "title": input["title"],
            "url": "https://linear.app/acme/issue/ENG-348/checkout-fails", "priority": input["priority"],
            "createdAt": "2026-11-23T10:30:00.000Z", "state": {"name": "Todo"}}}}}),
        );
    }
    if query.contains("team(id") {
        return (200, team_labels(vars));
    }
    if query.contains("teams") {
        return (
            200,
            json!({"data": {"teams": {"nodes": [
            {"id": "72b2a2dc-6f4f-4a4e-9a8d-1b1c5d7e3f01", "name": "Engineering", "key": "ENG", "issueCount": 412}]}}}),
        );
    }
    if query.contains("issues(") {
        return (
            200,
            json!({"data": {"issues": {"nodes": [
            {"id": "5b1f1c0e-0000-4000-8000-000000000347", "identifier": "ENG-347", "title": "Checkout times out",
             "url": "https://linear.app/acme/issue/ENG-347", "priority": 2, "createdAt": "2026-11-22T09:00:00.000Z",
             "state": {"name": "In Progress"}, "assignee": {"name": "Alice"},
             "labels": {"nodes": [{"name": "backend"}]}}]}}}),
        );
    }
    (
        400,
        json!({"errors": [{"message": "Cannot query field", "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]}),
    )
}

/// A team's labels as Linear pages a connection: `first` (default 50, at most 250) after the
/// `after` cursor, with `pageInfo`. Team `team-many` has 120 labels (`label-000`, …).
fn team_labels(vars: &Value) -> Value {
    let all: Vec<Value> = if vars["id"] == "team-many" {
        (0..120)
            .map(|i| json!({"id": format!("lbl-{i:03}"), "name": format!("label-{i:03}")}))
            .collect()
    } else {
        vec![
            json!({"id": "lbl-backend", "name": "backend"}),
            json!({"id": "lbl-bug", "name": "Bug"}),
        ]
    };
    let first = vars["first"].as_u64().unwrap_or(50).min(250) as usize;
    let start = vars["after"].as_str().and_then(|c| c.parse::<usize>().ok()).map_or(0, |c| c + 1);
    let page: Vec<Value> = all.iter().skip(start).take(first).cloned().collect();
    let end = start + page.len();
    json!({"data": {"team": {"labels": {"nodes": page, "pageInfo": {
        "hasNextPage": end < all.len(),
        "endCursor": if end > start { Value::from((end - 1).to_string()) } else { Value::Null },
    }}}}})
}

fn sentry(req: &Recorded, rest: &str) -> (u16, Value) {
    if req.header("authorization") != Some(&format!("Bearer {SENTRY_TOKEN}")) {
        return (401, json!({"detail": "Invalid token"}));
    }
    let issue = json!({"id": "4209801234", "shortId": "API-GATEWAY-1Z",
        "title": "TypeError: Cannot read properties of undefined (reading 'id')",
        "culprit": "handler(src/routes/orders.ts)", "level": "error", "status": "unresolved",
        "count": "57", "userCount": 12, "firstSeen": "2026-11-23T10:15:02.000000Z",
        "lastSeen": "2026-11-23T11:02:40.000000Z", "permalink": "https://acme.sentry.io/issues/4209801234/",
        "project": {"id": "4504123", "name": "api-gateway", "slug": "api-gateway"}});
    let segments: Vec<&str> = rest.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["api", "0", "projects", "acme", "api-gateway", "issues"] => (200, json!([issue])),
        ["api", "0", "projects", "acme", _, "issues"] => {
            (404, json!({"detail": "The requested resource does not exist"}))
        }
        ["api", "0", "organizations", "acme", "issues"] => (
            200,
            json!([issue, {"id": "4209800001", "title": "Timeout", "count": "3", "userCount": 1}]),
        ),
        _ => (404, json!({"detail": "The requested resource does not exist"})),
    }
}
