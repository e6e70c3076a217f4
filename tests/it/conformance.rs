//! What Spar sends upstream, held to the vendors' published requirements (docs/API.md §1.7,
//! §2.13, §4.5), and a refused body a client can still read the answer to.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::fake::{
    DISCORD_TOKEN, FakeChat, FakeIntegrations, LINEAR_KEY, PAGERDUTY_KEY, discord_user_agent,
};
use crate::common::{Server, fixture, sign};

const ORG: [(&str, &str); 1] = [("x-org-id", "default")];

fn server_with(env: Vec<(String, String)>) -> Server {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::with(&["--rate-limit-api", "0", "--rate-limit-webhooks", "0"], &env)
}

fn post(s: &Server, path: &str, body: Value) -> crate::common::Resp {
    s.call("POST", path, &ORG, Some(&body))
}

#[test]
fn every_pagerduty_rest_call_says_its_content_type() {
    let fake = FakeIntegrations::start();
    let s = server_with(fake.env());
    let config = json!({ "apiKey": PAGERDUTY_KEY, "fromEmail": "oncall@acme.test" });
    let r = post(
        &s,
        "/api/integrations/configure",
        json!({ "integration": "pagerduty", "config": config }),
    );
    assert_eq!(r.status, 200);
    for path in ["/api/integrations/pagerduty/oncall", "/api/integrations/pagerduty/incidents"] {
        let r = s.call("GET", path, &ORG, None);
        assert_eq!(r.status, 200, "{path}: {}", String::from_utf8_lossy(&r.body));
    }
    let r = post(&s, "/api/integrations/pagerduty/incidents/PINC001/acknowledge", json!({}));
    assert!(r.status < 500, "{}", String::from_utf8_lossy(&r.body));
    let calls = fake.requests("/pagerduty");
    assert!(
        calls.iter().any(|c| c.method == "GET") && calls.iter().any(|c| c.method == "PUT"),
        "{calls:?}"
    );
    for call in &calls {
        assert_eq!(
            call.header("content-type"),
            Some("application/json"),
            "{} {}",
            call.method,
            call.target
        );
        assert_eq!(call.header("accept"), Some("application/vnd.pagerduty+json;version=2"));
    }
}

#[test]
fn discord_is_called_with_a_user_agent_naming_the_bot() {
    let chat = FakeChat::start();
    let mut env = chat.env();
    env.push(("GITHUB_WEBHOOK_SECRET".into(), "ua-secret".into()));
    env.push(("WEBHOOK_BASE_URL".into(), "https://spar.acme.test".into()));
    env.push(("SPAR_OUTBOX_BACKOFF_MS".into(), "100".into()));
    let discord_hook = format!("{}/hooks/discord/777/hook-token", chat.server.url);
    let s = server_with(env);
    let configure = |config: Value| {
        let body = json!({ "channel": "discord", "config": config });
        let r = s.call("POST", "/api/channels/configure", &ORG, Some(&body));
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    };
    configure(json!({ "botToken": DISCORD_TOKEN }));
    let route = json!({ "eventType": "*", "channel": "discord", "channelId": "1122334455" });
    assert_eq!(s.call("POST", "/api/channel-routes", &ORG, Some(&route)).status, 201);
    let push = fixture("github/push.json");
    let signature = format!("sha256={}", sign("ua-secret", &push));
    let r = s.github_delivery("/webhooks/github", "push", Some("ua-1"), Some(&signature), &push);
    assert_eq!(r.status, 200);
    chat.wait_for(1);
    // The credential check and a webhook URL are Discord calls too.
    assert_eq!(post(&s, "/api/channels/discord/reconnect", json!({})).json()["connected"], true);
    configure(json!({ "webhookUrl": discord_hook }));
    assert_eq!(post(&s, "/api/channels/discord/reconnect", json!({})).json()["connected"], true);

    let calls: Vec<_> = chat
        .server
        .requests()
        .into_iter()
        .filter(|c| c.path().starts_with("/discord/") || c.path().starts_with("/hooks/discord/"))
        .collect();
    assert!(calls.len() >= 3, "{calls:?}");
    for call in &calls {
        assert!(discord_user_agent(call), "{} {:?}", call.target, call.header("user-agent"));
        assert_eq!(
            call.header("user-agent"),
            Some(
                format!("DiscordBot (https://spar.acme.test, {})", env!("CARGO_PKG_VERSION"))
                    .as_str()
            )
        );
    }
    // Other services keep Spar's own agent.
    let slack_ua = chat
        .server
        .requests()
        .iter()
        .find(|c| c.path().starts_with("/slack/"))
        .and_then(|c| c.header("user-agent").map(str::to_owned));
    assert!(slack_ua.is_none_or(|ua| ua.starts_with("spar/")));
}

#[test]
fn a_linear_team_with_more_labels_than_one_page_finds_them_all() {
    let fake = FakeIntegrations::start();
    let s = server_with(fake.env());
    let config = json!({ "apiKey": LINEAR_KEY, "teamId": "team-many" });
    let r = post(
        &s,
        "/api/integrations/configure",
        json!({ "integration": "linear", "config": config }),
    );
    assert_eq!(r.status, 200);
    let r = post(
        &s,
        "/api/integrations/linear/issues",
        json!({ "title": "Late label", "labels": ["label-119", "label-003"] }),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let calls = fake.requests("/linear/graphql");
    let pages: Vec<Value> = calls
        .iter()
        .map(|c| c.json())
        .filter(|b| b["query"].as_str().is_some_and(|q| q.contains("TeamLabels")))
        .map(|b| b["variables"].clone())
        .collect();
    assert_eq!(pages.len(), 2, "120 labels in pages of 100: {pages:?}");
    assert_eq!(pages[1]["after"], "99");
    let create = calls.last().expect("create").json();
    assert_eq!(create["variables"]["input"]["labelIds"], json!(["lbl-119", "lbl-003"]));
    // A label that is really missing is still refused.
    post(&s, "/api/integrations/linear/issues", json!({ "title": "x", "labels": ["label-120"] }))
        .expect_error(400, "UNKNOWN_LABEL");
}

/// Writes the whole request (headers and `body_len` bytes) before reading anything, as
/// Python's http.client and many other clients do, then reads the answer.
fn write_all_then_read(s: &Server, path: &str, body_len: usize) -> Result<String, String> {
    let mut stream = TcpStream::connect(s.addr).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(20))).map_err(|e| e.to_string())?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {body_len}\r\n\r\n",
        s.addr
    );
    stream.write_all(head.as_bytes()).map_err(|e| format!("writing the head: {e}"))?;
    let chunk = vec![b' '; 64 * 1024];
    let mut left = body_len;
    while left > 0 {
        let n = left.min(chunk.len());
        stream.write_all(&chunk[..n]).map_err(|e| format!("writing the body: {e}"))?;
        left -= n;
    }
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| format!("reading the answer: {e}"))?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

#[test]
fn a_client_that_writes_a_too_large_body_whole_reads_the_413() {
    let s = Server::with(&["--rate-limit-api", "0", "--rate-limit-webhooks", "0"], &[]);
    for (path, len) in [
        ("/api/agents", 2 * 1024 * 1024),
        ("/api/agents", 1024 * 1024 + 1),
        ("/webhooks/github", 6 * 1024 * 1024),
    ] {
        for attempt in 0..10 {
            let answer = write_all_then_read(&s, path, len)
                .unwrap_or_else(|e| panic!("{path}, {len} bytes, try {attempt}: {e}"));
            assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer}");
            assert!(answer.contains("\"code\":\"PAYLOAD_TOO_LARGE\""), "{answer}");
        }
    }
    // A client that waits for `100 Continue` is answered at once, without sending the body.
    let mut stream = TcpStream::connect(s.addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let head = format!(
        "POST /api/agents HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 2097152\r\nExpect: 100-continue\r\n\r\n",
        s.addr
    );
    stream.write_all(head.as_bytes()).expect("head");
    let mut first = [0u8; 12];
    stream.read_exact(&mut first).expect("an answer without the body");
    assert_eq!(&first, b"HTTP/1.1 413");
    // The server is none the worse.
    assert_eq!(s.get("/health").status, 200);
}
