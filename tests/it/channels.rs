//! Channels (docs/API.md §2.8): the list with capabilities, configure, and reconnect checked against
//! fake Slack, Discord, Telegram and Evolution servers.

use serde_json::{Value, json};

use crate::common::fake::{
    DISCORD_TOKEN, EVOLUTION_INSTANCE, EVOLUTION_KEY, FakeChat, SLACK_TOKEN, TELEGRAM_TOKEN,
};
use crate::common::{Server, fixture};

fn server(chat: &FakeChat) -> Server {
    let env = chat.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::with(&["--rate-limit-api", "0", "--rate-limit-webhooks", "0"], &env)
}

fn channel(s: &Server, name: &str) -> Value {
    let all = s.get("/api/channels").json();
    all["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .expect(name)
}

fn configure(s: &Server, channel: &str, config: Value) -> crate::common::Resp {
    s.post("/api/channels/configure", &json!({ "channel": channel, "config": config }))
}

#[test]
fn the_list_shows_every_channel_with_capabilities_and_state() {
    let chat = FakeChat::start();
    let s = server(&chat);
    let all = s.get("/api/channels").json();
    let names: Vec<&str> = all["channels"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["whatsapp", "slack", "discord", "telegram", "web"]);
    let slack = channel(&s, "slack");
    assert_eq!(slack["platform"], "slack");
    assert_eq!(slack["configured"], false);
    assert_eq!(slack["connected"], false);
    assert_eq!(
        slack["capabilities"],
        json!({
            "threads": true, "codeBlocks": true, "syntaxHighlighting": true, "fileAttachments": true,
            "reactions": true, "maxMessageLength": 40000, "mentionFormat": "user_id",
        })
    );
    assert_eq!(channel(&s, "discord")["capabilities"]["maxMessageLength"], 2000);
    assert_eq!(channel(&s, "telegram")["capabilities"]["mentionFormat"], "username");
    assert_eq!(channel(&s, "whatsapp")["capabilities"]["codeBlocks"], false);
    let web = channel(&s, "web");
    assert_eq!(web["connected"], true);
    assert_eq!(web["capabilities"]["maxMessageLength"], 100_000);

    let r = configure(&s, "telegram", json!({ "botToken": TELEGRAM_TOKEN }));
    assert_eq!(r.json(), json!({ "success": true, "channel": "telegram", "configured": true }));
    let telegram = channel(&s, "telegram");
    assert_eq!(telegram["configured"], true);
    assert_eq!(telegram["connected"], true);
    assert_eq!(telegram["lastDeliveryAt"], Value::Null);
    // Configuration is per org.
    s.post("/api/orgs", &json!({ "name": "Other" }));
    let other = s.call("GET", "/api/channels", &[("x-org-id", "org-other")], None).json();
    let t = other["channels"]
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["name"] == "telegram")
        .cloned();
    assert_eq!(t.expect("telegram")["configured"], false);
    // The audit names the keys, never the values.
    let audit = s.audit_entries("channel.configure");
    assert_eq!(audit[0]["metadata"]["configKeys"], json!(["botToken"]));
    let everything = [s.get("/api/channels").body, s.get("/api/audit?limit=100").body].concat();
    assert!(!String::from_utf8_lossy(&everything).contains(TELEGRAM_TOKEN));
    assert!(!s.log().contains(TELEGRAM_TOKEN));
}

#[test]
fn configure_checks_the_channel_and_its_keys() {
    let chat = FakeChat::start();
    let s = server(&chat);
    let e = configure(&s, "teams", json!({ "botToken": "x" })).expect_error(400, "INVALID_CHANNEL");
    assert!(e["error"].as_str().expect("msg").contains("telegram, whatsapp, discord, slack"));
    let e = configure(&s, "telegram", json!({ "chatId": "1" })).expect_error(400, "MISSING_FIELD");
    assert!(e["error"].as_str().expect("msg").contains("config.botToken"));
    let e =
        configure(&s, "whatsapp", json!({ "evolutionApiUrl": "http://x", "evolutionApiKey": "k" }))
            .expect_error(400, "MISSING_FIELD");
    assert!(e["error"].as_str().expect("msg").contains("config.evolutionInstance"));
    configure(&s, "slack", json!({ "appToken": "xapp" })).expect_error(400, "MISSING_FIELD");
    configure(&s, "slack", json!({ "webhookUrl": "ftp://x" })).expect_error(400, "INVALID_FIELD");
    configure(&s, "telegram", json!({})).expect_error(400, "INVALID_FIELD");
    configure(&s, "telegram", json!({ "botToken": 5 })).expect_error(400, "INVALID_FIELD");
    configure(&s, "telegram", json!({ "botToken": "x", "bad key": "y" }))
        .expect_error(400, "INVALID_FIELD");
    s.post("/api/channels/configure", &json!({ "channel": "telegram" }))
        .expect_error(400, "MISSING_FIELD");
    s.post("/api/channels/configure", &json!({ "config": {} })).expect_error(400, "MISSING_FIELD");
    assert!(s.audit_entries("channel.configure").is_empty());
}

#[test]
fn reconnect_checks_credentials_against_each_service() {
    let chat = FakeChat::start();
    let s = server(&chat);
    let e =
        s.post("/api/channels/teams/reconnect", &json!({})).expect_error(404, "CHANNEL_NOT_FOUND");
    assert_eq!(
        e["error"],
        "Channel 'teams' not found. Valid channels: whatsapp, slack, discord, telegram"
    );
    s.post("/api/channels/telegram/reconnect", &json!({})).expect_error(400, "CHANNEL_DISABLED");

    let reconnect =
        |name: &str| s.post(&format!("/api/channels/{name}/reconnect"), &json!({})).json();
    configure(&s, "telegram", json!({ "botToken": TELEGRAM_TOKEN }));
    configure(&s, "slack", json!({ "botToken": SLACK_TOKEN }));
    configure(&s, "discord", json!({ "botToken": DISCORD_TOKEN }));
    configure(
        &s,
        "whatsapp",
        json!({ "evolutionApiUrl": chat.url("evolution"), "evolutionApiKey": EVOLUTION_KEY, "evolutionInstance": EVOLUTION_INSTANCE }),
    );
    for name in ["telegram", "slack", "discord", "whatsapp"] {
        assert_eq!(
            reconnect(name),
            json!({ "success": true, "channel": name, "connected": true }),
            "{name}"
        );
    }
    let calls: Vec<String> =
        chat.server.requests().iter().map(|r| format!("{} {}", r.method, r.path())).collect();
    for expected in [
        format!("GET /telegram/bot{TELEGRAM_TOKEN}/getMe"),
        "POST /slack/auth.test".to_owned(),
        "GET /discord/users/@me".to_owned(),
        format!("GET /evolution/instance/connectionState/{EVOLUTION_INSTANCE}"),
    ] {
        assert!(calls.contains(&expected), "{expected} in {calls:?}");
    }
    let slack_check = chat.server.requests().into_iter().find(|r| r.path() == "/slack/auth.test");
    assert_eq!(
        slack_check.expect("auth.test").header("authorization"),
        Some(format!("Bearer {SLACK_TOKEN}").as_str())
    );

    // Wrong credentials: not connected, and the list says why.
    configure(&s, "telegram", json!({ "botToken": "999:wrong" }));
    configure(&s, "slack", json!({ "botToken": "xoxb-wrong" }));
    assert_eq!(reconnect("telegram")["connected"], false);
    assert_eq!(reconnect("slack")["connected"], false);
    let telegram = channel(&s, "telegram");
    assert_eq!(telegram["connected"], false);
    assert!(
        telegram["lastError"].as_str().is_some_and(|e| e.contains("Unauthorized")),
        "{telegram}"
    );
    assert!(!telegram.to_string().contains("999:wrong"));
    assert!(channel(&s, "slack")["lastError"].as_str().is_some_and(|e| e.contains("invalid_auth")));
    assert_eq!(s.audit_entries("channel.reconnect").len(), 6);
}

#[test]
fn a_github_channel_secret_signs_that_orgs_webhooks() {
    let chat = FakeChat::start();
    let s = server(&chat);
    let r = configure(&s, "github", json!({ "webhookSecret": "from-the-store" }));
    assert_eq!(r.status, 200);
    let body = fixture("github/push.json");
    s.github_webhook("/webhooks/github", "push", "gh-1", Some("wrong"), &body)
        .expect_error(401, "INVALID_SIGNATURE");
    let ok = s.github_webhook("/webhooks/github", "push", "gh-2", Some("from-the-store"), &body);
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["processed"], true);
    configure(&s, "github", json!({ "token": "x" })).expect_error(400, "MISSING_FIELD");
}
