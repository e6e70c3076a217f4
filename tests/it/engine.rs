//! The automation engine end to end (docs/API.md §4): signed GitHub deliveries for a linked project
//! reach fake Slack, Discord, Telegram and Evolution servers through the outbox, as far as the
//! project agent's autonomy level allows; routes decide where messages go.

use serde_json::{Value, json};

use crate::common::fake::{
    DISCORD_TOKEN, EVOLUTION_INSTANCE, EVOLUTION_KEY, FakeChat, SLACK_TOKEN, TELEGRAM_TOKEN,
};
use crate::common::{Server, fixture};

const SECRET: &str = "engine-secret";

fn server(chat: &FakeChat, extra: &[(&str, &str)]) -> Server {
    let mut env: Vec<(String, String)> = chat.env();
    env.push(("GITHUB_WEBHOOK_SECRET".into(), SECRET.into()));
    env.push(("SPAR_OUTBOX_BACKOFF_MS".into(), "100".into()));
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::with(&["--rate-limit-api", "0", "--rate-limit-webhooks", "0"], &env)
}

fn in_org(org: &str) -> Vec<(&'static str, &str)> {
    vec![("x-org-id", org)]
}

fn configure(s: &Server, org: &str, channel: &str, config: Value) {
    let r = s.call(
        "POST",
        "/api/channels/configure",
        &in_org(org),
        Some(&json!({ "channel": channel, "config": config })),
    );
    assert_eq!(r.status, 200, "configure {channel}: {:?}", String::from_utf8_lossy(&r.body));
}

/// Configures the four chat channels of `org` with the bot credentials the fake accepts.
fn configure_bots(s: &Server, chat: &FakeChat, org: &str) {
    configure(s, org, "slack", json!({ "botToken": SLACK_TOKEN }));
    configure(s, org, "discord", json!({ "botToken": DISCORD_TOKEN }));
    configure(s, org, "telegram", json!({ "botToken": TELEGRAM_TOKEN }));
    configure(
        s,
        org,
        "whatsapp",
        json!({
            "evolutionApiUrl": chat.url("evolution"), "evolutionApiKey": EVOLUTION_KEY,
            "evolutionInstance": EVOLUTION_INSTANCE,
        }),
    );
}

fn route(s: &Server, org: &str, body: Value) -> Value {
    let r = s.call("POST", "/api/channel-routes", &in_org(org), Some(&body));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

/// Creates a project for the fixtures' repository in `org`; returns (project id, agent id).
fn project(s: &Server, org: &str) -> (String, String) {
    let r =
        s.call("POST", "/api/projects", &in_org(org), Some(&json!({ "repo": "acme/api-gateway" })));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    (body["id"].as_str().expect("id").into(), body["agentId"].as_str().expect("agent").into())
}

fn deliver(s: &Server, org: &str, event: &str, file: &str, id: &str) -> Value {
    let path = if org == "default" {
        "/webhooks/github".to_owned()
    } else {
        format!("/webhooks/github?orgId={org}")
    };
    let r = s.github_webhook(&path, event, id, Some(SECRET), &fixture(&format!("github/{file}")));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let answer = r.json();
    assert_eq!(answer["processed"], true, "{answer}");
    answer
}

fn deliveries(s: &Server, org: &str) -> Vec<Value> {
    let page = s.call("GET", "/api/deliveries?limit=500", &in_org(org), None).json();
    page["deliveries"].as_array().cloned().unwrap_or_default()
}

fn deliveries_of(s: &Server, org: &str, event_id: &str) -> Vec<Value> {
    deliveries(s, org).into_iter().filter(|d| d["eventId"] == event_id).collect()
}

fn set_level(s: &Server, agent: &str, level: u8) {
    let r = s.post(
        &format!("/api/agents/{agent}/action"),
        &json!({ "action": "set_autonomy", "level": level }),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// Waits until nothing is pending, then a little longer to catch any extra send.
fn settle(s: &Server) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while s.get("/health").json()["deliveries"]["pending"] != 0 {
        assert!(std::time::Instant::now() < deadline, "deliveries still pending");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
}

#[test]
fn a_signed_push_reaches_each_routed_channel_exactly_once_with_its_credentials() {
    let chat = FakeChat::start();
    let s = server(&chat, &[]);
    configure_bots(&s, &chat, "default");
    let (project_id, agent_id) = project(&s, "default");
    for (channel, id) in [
        ("slack", "C0ALERTS"),
        ("discord", "1122334455"),
        ("telegram", "-1001234567890"),
        ("whatsapp", "5511999999999"),
    ] {
        let r = route(
            &s,
            "default",
            json!({ "eventType": "ci.*", "channel": channel, "channelId": id }),
        );
        assert_eq!(r["enabled"], true);
        assert_eq!(r["projectId"], Value::Null);
    }
    let answer = deliver(&s, "default", "push", "push.json", "push-1");
    assert_eq!(answer["projectId"], project_id.as_str());

    let messages = chat.wait_for(4);
    settle(&s);
    assert_eq!(chat.messages().len(), 4, "one message per route, no more");
    let find = |prefix: &str| {
        messages
            .iter()
            .find(|m| m.path().starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix}"))
    };

    let slack = find("/slack/chat.postMessage");
    assert_eq!(slack.header("authorization"), Some(format!("Bearer {SLACK_TOKEN}").as_str()));
    assert_eq!(slack.json()["channel"], "C0ALERTS");
    let text = slack.json()["text"].as_str().expect("text").to_owned();
    assert!(text.starts_with("*ci.push* · acme/api-gateway"), "{text}");
    for words in ["Branch: main", "Author: alice", "Commit: feat: add rate limiting"] {
        assert!(text.contains(words), "{words} in {text}");
    }

    let discord = find("/discord/channels/1122334455/messages");
    assert_eq!(discord.header("authorization"), Some(format!("Bot {DISCORD_TOKEN}").as_str()));
    assert!(discord.json()["content"].as_str().expect("content").starts_with("**ci.push**"));
    assert_eq!(discord.json()["allowed_mentions"], json!({ "parse": [] }));

    let telegram = find(&format!("/telegram/bot{TELEGRAM_TOKEN}/sendMessage"));
    assert_eq!(telegram.json()["chat_id"], json!(-1_001_234_567_890_i64));
    assert_eq!(telegram.json()["parse_mode"], "HTML");
    assert!(telegram.json()["text"].as_str().expect("text").starts_with("<b>ci.push</b>"));

    let whatsapp = find(&format!("/evolution/message/sendText/{EVOLUTION_INSTANCE}"));
    assert_eq!(whatsapp.header("apikey"), Some(EVOLUTION_KEY));
    assert_eq!(whatsapp.json()["number"], "5511999999999");
    assert!(whatsapp.json()["text"].as_str().expect("text").contains("Author: alice"));

    // The outbox kept each as delivered after one attempt.
    let list = deliveries(&s, "default");
    assert_eq!(list.len(), 4);
    for d in &list {
        assert_eq!(d["status"], "delivered", "{d}");
        assert_eq!(d["attempts"], 1);
        assert_eq!(d["eventId"], answer["eventId"]);
        assert_eq!(d["eventType"], "ci.push");
        assert!(d["deliveredAt"].as_str().is_some());
        assert_eq!(d["lastError"], Value::Null);
    }
    // The agent's action is audited as the agent's.
    let notify = s.audit_entries("agent.notify");
    assert_eq!(notify.len(), 1);
    assert_eq!(notify[0]["actorType"], "agent");
    assert_eq!(notify[0]["actorId"], agent_id.as_str());
    assert_eq!(s.audit_entries("notification.sent").len(), 4);
    assert_eq!(s.get(&format!("/api/agents/{agent_id}")).json()["stats"]["messagesProcessed"], 1);
    // No credential reached a response, the audit trail or the log.
    let audit = String::from_utf8_lossy(&s.get("/api/audit?limit=100").body).into_owned();
    let channels = String::from_utf8_lossy(&s.get("/api/channels").body).into_owned();
    for secret in [SLACK_TOKEN, DISCORD_TOKEN, TELEGRAM_TOKEN, EVOLUTION_KEY] {
        for (what, text) in [("audit", &audit), ("channels", &channels), ("log", &s.log())] {
            assert!(!text.contains(secret), "{secret} leaked into the {what}");
        }
    }
}

#[test]
fn slack_and_discord_incoming_webhooks_and_env_credentials_work() {
    let chat = FakeChat::start();
    let slack_hook = format!("{}/hooks/slack/T000/B000/XXXX", chat.server.url);
    let discord_hook = format!("{}/hooks/discord/777/hook-token", chat.server.url);
    // Org default takes Discord's webhook URL from the environment (docs/API.md §1.9).
    let s = server(&chat, &[("DISCORD_WEBHOOK_URL", &discord_hook)]);
    configure(&s, "default", "slack", json!({ "webhookUrl": slack_hook }));
    project(&s, "default");
    route(&s, "default", json!({ "eventType": "*", "channel": "slack", "channelId": "ignored" }));
    route(&s, "default", json!({ "eventType": "*", "channel": "discord", "channelId": "ignored" }));
    deliver(&s, "default", "workflow_run", "workflow_run.failure.json", "wf-1");
    let messages = chat.wait_for(2);
    let slack = messages.iter().find(|m| m.path().starts_with("/hooks/slack/")).expect("slack");
    assert_eq!(slack.path(), "/hooks/slack/T000/B000/XXXX");
    let text = slack.json()["text"].as_str().expect("text").to_owned();
    for words in
        ["*ci.workflow_run.failure*", "Workflow: CI", "Branch: main", "Conclusion: failure"]
    {
        assert!(text.contains(words), "{words} in {text}");
    }
    let discord =
        messages.iter().find(|m| m.path().starts_with("/hooks/discord/")).expect("discord");
    assert_eq!(discord.target, "/hooks/discord/777/hook-token?wait=true");
    assert!(discord.header("authorization").is_none());
}

#[test]
fn the_autonomy_table_row_by_row() {
    let chat = FakeChat::start();
    let s = server(&chat, &[]);
    configure(&s, "default", "slack", json!({ "botToken": SLACK_TOKEN }));
    let (_, agent) = project(&s, "default");
    route(&s, "default", json!({ "eventType": "*", "channel": "slack", "channelId": "C0ALL" }));
    let mut n = 0;
    let mut send = |event: &str, file: &str| {
        n += 1;
        let answer = deliver(&s, "default", event, file, &format!("d-{n}"));
        answer["eventId"].as_str().expect("event id").to_owned()
    };
    let spawned = |s: &Server, kind: &str| -> Vec<Value> {
        let all = s.get(&format!("/api/agents?type={kind}")).json();
        all.as_array().cloned().unwrap_or_default()
    };

    // Level 0, Passive: record only.
    set_level(&s, &agent, 0);
    for (event, file) in [
        ("workflow_run", "workflow_run.failure.json"),
        ("pull_request", "pull_request.opened.json"),
        ("push", "push.json"),
    ] {
        let id = send(event, file);
        assert!(deliveries_of(&s, "default", &id).is_empty(), "level 0 {event}");
    }
    assert!(s.audit_entries("agent.notify").is_empty());

    // Level 1, Notify: every column notifies, nothing else.
    set_level(&s, &agent, 1);
    for (event, file) in [
        ("workflow_run", "workflow_run.failure.json"),
        ("pull_request", "pull_request.opened.json"),
        ("push", "push.json"),
    ] {
        let id = send(event, file);
        let d = deliveries_of(&s, "default", &id);
        assert_eq!(d.len(), 1, "level 1 {event}");
    }
    assert!(s.audit_entries("agent.suggest").is_empty());

    // Level 2, Suggest: failures and opened PRs carry an approval token; pushes just notify.
    set_level(&s, &agent, 2);
    send("workflow_run", "workflow_run.failure.json");
    send("pull_request", "pull_request.opened.json");
    let push = send("push", "push.json");
    let suggestions = s.audit_entries("agent.suggest");
    assert_eq!(suggestions.len(), 2);
    assert!(
        suggestions.iter().all(|e| e["actorType"] == "agent" && e["actorId"] == agent.as_str())
    );
    for e in &suggestions {
        let token = e["metadata"]["token"].as_str().expect("token");
        assert!(token.len() == 9 && token.starts_with("sg-"), "{token}");
        let approval = s.get(&format!("/api/approvals/{token}")).json();
        assert_eq!(approval["status"], "pending");
    }
    settle(&s);
    let texts: Vec<String> = chat
        .messages()
        .iter()
        .map(|m| m.json()["text"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(texts.iter().filter(|t| t.contains("/api/approvals/sg-")).count(), 2, "{texts:?}");
    assert!(deliveries_of(&s, "default", &push).len() == 1);
    assert!(spawned(&s, "incident").is_empty() && spawned(&s, "review").is_empty());

    // Level 3: a failure spawns an incident agent, an opened PR a review agent; both end
    // TERMINATED; a push only notifies.
    set_level(&s, &agent, 3);
    // Someone took the name the incident agent would get: both keep working.
    let next_event = format!("evt-{}", s.audit_entries("ci_event").len() + 1);
    let squatter = json!({ "name": format!("incident-{next_event}"), "type": "task" });
    assert_eq!(s.post("/api/agents", &squatter).status, 201);
    let failure = send("workflow_run", "workflow_run.failure.json");
    assert_eq!(failure, next_event);
    s.post("/api/agents", &squatter).expect_error(409, "AGENT_ALREADY_EXISTS");
    let pr = send("pull_request", "pull_request.opened.json");
    let push = send("push", "push.json");
    for id in [&failure, &pr, &push] {
        assert_eq!(deliveries_of(&s, "default", id).len(), 1);
    }
    let incident = spawned(&s, "incident");
    assert_eq!(incident.len(), 1, "{incident:?}");
    assert_eq!(incident[0]["status"], "TERMINATED");
    let name = incident[0]["name"].as_str().expect("name");
    assert!(name.starts_with(&format!("incident-{failure}-agent-inc-")), "{name}");
    let review = spawned(&s, "review");
    assert_eq!(review.len(), 1);
    assert_eq!(review[0]["status"], "TERMINATED");
    let detail = s.get(&format!("/api/agents/{}", review[0]["id"].as_str().expect("id"))).json();
    assert_eq!(detail["stats"]["reviewsPerformed"], 1);
    let spawns = s.audit_entries("agent_spawn");
    let by_agent: Vec<&Value> = spawns.iter().filter(|e| e["actorType"] == "agent").collect();
    assert_eq!(by_agent.len(), 2);
    assert!(by_agent.iter().all(|e| e["actorId"] == agent.as_str()));
    assert_eq!(s.audit_entries("incident.investigate").len(), 1);
    assert_eq!(s.audit_entries("review.task").len(), 1);
    assert_eq!(s.audit_entries("incident.investigate")[0]["actorId"], incident[0]["id"]);
    // The incident agent remembered its investigation (the search index catches up shortly).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while s.get("/api/memory/search?q=Investigating").json()["total"] != 1 {
        assert!(std::time::Instant::now() < deadline, "no incident memory entry");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // Suspended: records the event, sends and spawns nothing.
    let r = s.post(&format!("/api/agents/{agent}/action"), &json!({ "action": "suspend" }));
    assert_eq!(r.status, 200);
    let before = s.audit_entries("agent.notify").len();
    let id = send("workflow_run", "workflow_run.failure.json");
    assert!(deliveries_of(&s, "default", &id).is_empty());
    assert_eq!(s.audit_entries("agent.notify").len(), before);
    assert_eq!(spawned(&s, "incident").len(), 1);
    let recorded = s.audit_entries("ci_event");
    assert!(recorded.iter().any(|e| e["metadata"]["eventId"] == id.as_str()), "still recorded");
}

#[test]
fn approval_tokens_approve_deny_and_expire() {
    let chat = FakeChat::start();
    let s = server(&chat, &[("SPAR_APPROVAL_TTL_MS", "1500")]);
    let (_, agent) = project(&s, "default");
    set_level(&s, &agent, 2);
    let token_of = |s: &Server, n: usize| -> String {
        let all = s.audit_entries("agent.suggest");
        let mut tokens: Vec<String> = all
            .iter()
            .map(|e| e["metadata"]["token"].as_str().expect("token").to_owned())
            .collect();
        tokens.reverse();
        tokens[n].clone()
    };
    deliver(&s, "default", "workflow_run", "workflow_run.failure.json", "a-1");
    deliver(&s, "default", "pull_request", "pull_request.opened.json", "a-2");
    deliver(&s, "default", "workflow_run", "workflow_run.failure.json", "a-3");
    let (approve, deny, expire) = (token_of(&s, 0), token_of(&s, 1), token_of(&s, 2));

    // Approving runs the level-3 action: an incident agent is spawned, and terminated when done.
    let r = s.post(
        &format!("/api/approvals/{approve}"),
        &json!({ "vote": "approve", "userId": "U-alice" }),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    assert_eq!(body["status"], "approved");
    assert_eq!(body["vote"], "approve");
    assert_eq!(body["userId"], "U-alice");
    let spawned = body["spawnedAgentId"].as_str().expect("spawned agent").to_owned();
    assert!(spawned.starts_with("agent-inc-"), "{spawned}");
    assert_eq!(s.get(&format!("/api/agents/{spawned}")).json()["status"], "TERMINATED");
    let voted = s.audit_entries("approval.voted");
    assert_eq!(voted[0]["actorId"], "U-alice");
    assert_eq!(voted[0]["metadata"]["status"], "approved");
    // A second vote is refused.
    s.post(&format!("/api/approvals/{approve}"), &json!({ "vote": "deny" }))
        .expect_error(409, "INVALID_STATE");

    // Denying spawns nothing.
    let r =
        s.post(&format!("/api/approvals/{deny}"), &json!({ "vote": "deny", "userId": "U-bob" }));
    assert_eq!(r.json()["status"], "denied");
    assert_eq!(r.json()["spawnedAgentId"], Value::Null);
    assert!(s.get("/api/agents?type=review").json().as_array().expect("list").is_empty());

    // Bad votes and unknown tokens.
    s.post(&format!("/api/approvals/{expire}"), &json!({ "vote": "maybe" }))
        .expect_error(400, "INVALID_FIELD");
    s.post(&format!("/api/approvals/{expire}"), &json!({})).expect_error(400, "MISSING_FIELD");
    s.post(
        &format!("/api/approvals/{expire}"),
        &json!({ "vote": "deny", "userId": "x".repeat(200) }),
    )
    .expect_error(400, "INVALID_FIELD");
    s.post("/api/approvals/sg-zzzzzz", &json!({ "vote": "approve" }))
        .expect_error(404, "APPROVAL_NOT_FOUND");

    // Expiry (1.5 s here, 30 minutes by default).
    std::thread::sleep(std::time::Duration::from_millis(1600));
    assert_eq!(s.get(&format!("/api/approvals/{expire}")).json()["status"], "expired");
    s.post(&format!("/api/approvals/{expire}"), &json!({ "vote": "approve" }))
        .expect_error(410, "APPROVAL_EXPIRED");
    assert_eq!(s.get("/api/agents?type=incident").json().as_array().expect("list").len(), 1);
}

#[test]
fn routes_match_by_pattern_project_and_enabled_and_never_across_orgs() {
    let chat = FakeChat::start();
    let s = server(&chat, &[]);
    let r = s.post("/api/orgs", &json!({ "name": "Beta" }));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let beta = r.json()["id"].as_str().expect("org id").to_owned();
    for org in ["default", beta.as_str()] {
        configure(&s, org, "slack", json!({ "botToken": SLACK_TOKEN }));
    }
    let (project_a, _) = project(&s, "default");
    let other = s.post("/api/projects", &json!({ "repo": "acme/other-service" })).json();
    let other_project = other["id"].as_str().expect("id").to_owned();
    project(&s, &beta);

    route(&s, "default", json!({ "eventType": "ci.*", "channel": "slack", "channelId": "C-CI" }));
    route(
        &s,
        "default",
        json!({ "eventType": "*.failure", "channel": "slack", "channelId": "C-FAIL" }),
    );
    route(
        &s,
        "default",
        json!({ "eventType": "incident.*", "channel": "slack", "channelId": "C-INC" }),
    );
    route(
        &s,
        "default",
        json!({ "eventType": "ci.push", "channel": "slack", "channelId": "C-MINE", "projectId": project_a }),
    );
    route(
        &s,
        "default",
        json!({ "eventType": "ci.push", "channel": "slack", "channelId": "C-OTHER", "projectId": other_project }),
    );
    route(
        &s,
        "default",
        json!({ "eventType": "*", "channel": "slack", "channelId": "C-OFF", "enabled": false }),
    );
    route(&s, &beta, json!({ "eventType": "*", "channel": "slack", "channelId": "C-BETA" }));

    let channels_for = |s: &Server, org: &str, id: &str| -> Vec<String> {
        let mut c: Vec<String> = deliveries_of(s, org, id)
            .iter()
            .map(|d| d["channelId"].as_str().unwrap_or("").to_owned())
            .collect();
        c.sort();
        c
    };
    let push = deliver(&s, "default", "push", "push.json", "r-1");
    let push_id = push["eventId"].as_str().expect("id");
    assert_eq!(channels_for(&s, "default", push_id), ["C-CI", "C-MINE"]);
    let failure = deliver(&s, "default", "workflow_run", "workflow_run.failure.json", "r-2");
    assert_eq!(
        channels_for(&s, "default", failure["eventId"].as_str().expect("id")),
        ["C-CI", "C-FAIL"]
    );

    // Org beta's delivery fires only beta's route; default's `*` routes never see it.
    let beta_push = deliver(&s, &beta, "push", "push.json", "r-3");
    let beta_id = beta_push["eventId"].as_str().expect("id");
    assert_eq!(channels_for(&s, &beta, beta_id), ["C-BETA"]);
    assert!(channels_for(&s, "default", beta_id).is_empty());
    settle(&s);
    let sent: Vec<String> = chat
        .messages()
        .iter()
        .map(|m| m.json()["channel"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(sent.iter().filter(|c| *c == "C-BETA").count(), 1);
    assert!(!sent.iter().any(|c| c == "C-OFF" || c == "C-OTHER" || c == "C-INC"), "{sent:?}");
    // Deliveries and routes are org-scoped.
    assert_eq!(deliveries(&s, &beta).len(), 1);
    let listed = s.call("GET", "/api/channel-routes", &in_org(&beta), None).json();
    assert_eq!(listed["routes"].as_array().expect("routes").len(), 1);
}

#[test]
fn route_api_shapes_and_errors() {
    let chat = FakeChat::start();
    let s = server(&chat, &[]);
    let org = in_org("default");
    s.get("/api/channel-routes").expect_error(400, "MISSING_ORG_ID");
    s.post("/api/channel-routes", &json!({})).expect_error(400, "MISSING_ORG_ID");
    let created = route(
        &s,
        "default",
        json!({ "eventType": "incident.*", "channel": "slack", "channelId": " C0ALERTS " }),
    );
    assert_eq!(created["id"], "route-001");
    assert_eq!(created["eventType"], "incident.*");
    assert_eq!(created["channel"], "slack");
    assert_eq!(created["channelId"], "C0ALERTS");
    assert_eq!(created["projectId"], Value::Null);
    assert_eq!(created["enabled"], true);
    assert!(created["createdAt"].as_str().is_some_and(|t| t.ends_with('Z')));
    let listed = s.call("GET", "/api/channel-routes", &org, None).json();
    assert_eq!(listed["routes"][0], created);

    let post = |body: Value| s.call("POST", "/api/channel-routes", &org, Some(&body));
    post(json!({ "eventType": "incident.*", "channel": "slack", "channelId": "C0ALERTS" }))
        .expect_error(409, "ROUTE_ALREADY_EXISTS");
    let e = post(json!({ "eventType": "*", "channel": "teams", "channelId": "x" }))
        .expect_error(400, "INVALID_CHANNEL");
    assert!(e["error"].as_str().expect("msg").contains("slack, whatsapp, telegram, discord"));
    post(json!({ "channel": "slack", "channelId": "x" })).expect_error(400, "MISSING_FIELD");
    post(json!({ "eventType": "*", "channelId": "x" })).expect_error(400, "MISSING_FIELD");
    post(json!({ "eventType": "*", "channel": "slack" })).expect_error(400, "MISSING_FIELD");
    post(
        json!({ "eventType": "*", "channel": "slack", "channelId": "x", "projectId": "proj-999" }),
    )
    .expect_error(404, "PROJECT_NOT_FOUND");
    post(json!({ "eventType": 5, "channel": "slack", "channelId": "x" }))
        .expect_error(400, "INVALID_FIELD");

    // Another org cannot delete it; its own org can, once.
    s.post("/api/orgs", &json!({ "name": "Gamma" }));
    s.call("DELETE", "/api/channel-routes/route-001", &in_org("org-gamma"), None)
        .expect_error(404, "ROUTE_NOT_FOUND");
    let r = s.call("DELETE", "/api/channel-routes/route-001", &org, None);
    assert_eq!(r.json(), json!({ "id": "route-001", "deleted": true }));
    s.call("DELETE", "/api/channel-routes/route-001", &org, None)
        .expect_error(404, "ROUTE_NOT_FOUND");
    // Ids are never reused.
    let next =
        route(&s, "default", json!({ "eventType": "*", "channel": "discord", "channelId": "1" }));
    assert_eq!(next["id"], "route-002");
    let audit: Vec<Value> = s.audit_entries("channel-route.add");
    assert_eq!(audit.len(), 2);
    assert_eq!(s.audit_entries("channel-route.remove").len(), 1);
}
