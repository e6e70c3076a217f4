//! The API the console reads, tested as any client would use it: one delivery with its attempt
//! log, deliveries by channel, approvals by status, activity per minute, and who a session is.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::super::hostile::spar_created;
use crate::common::fake::{FakeChat, SLACK_TOKEN};
use crate::common::{Server, fixture};

pub const SECRET: &str = "console-secret";
pub const OPERATOR: &str = "console-operator-token-0123";

/// A server sending chat to `chat`, with the operator token when `token`.
pub fn server(chat: &FakeChat, token: bool, extra: &[(&str, &str)]) -> Server {
    let mut env: Vec<(String, String)> = chat.env();
    env.push(("GITHUB_WEBHOOK_SECRET".into(), SECRET.into()));
    env.push(("SPAR_OUTBOX_BACKOFF_MS".into(), "100".into()));
    if token {
        env.push(("ENGINE_API_TOKEN".into(), OPERATOR.into()));
    }
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::with(&["--rate-limit-api", "0", "--rate-limit-webhooks", "0"], &env)
}

/// Slack configured for org `default`, every `ci.*` event routed to it (as `bearer`).
pub fn route_ci_to_slack(s: &Server, bearer: Option<&str>) {
    let auth = bearer.map(|t| format!("Bearer {t}")).unwrap_or_default();
    let mut headers = vec![("x-org-id", "default")];
    if bearer.is_some() {
        headers.push(("Authorization", auth.as_str()));
    }
    let config = json!({ "channel": "slack", "config": { "botToken": SLACK_TOKEN } });
    assert_eq!(s.call("POST", "/api/channels/configure", &headers, Some(&config)).status, 200);
    let route = json!({ "eventType": "ci.*", "channel": "slack", "channelId": "C0ALERTS" });
    assert_eq!(s.call("POST", "/api/channel-routes", &headers, Some(&route)).status, 201);
}

pub fn push(s: &Server, delivery: &str) {
    let body = fixture("github/push.json");
    let r = s.github_webhook("/webhooks/github", "push", delivery, Some(SECRET), &body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

fn wait_for(what: &str, mut ready: impl FnMut() -> Option<Value>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(found) = ready() {
            return found;
        }
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn a_delivery_answers_its_attempts_with_time_duration_and_outcome_but_no_body() {
    let chat = FakeChat::start();
    let s = server(&chat, false, &[]);
    route_ci_to_slack(&s, None);
    chat.fail_with(&[
        (503, json!({ "ok": false, "error": "service_unavailable", "secret": "BODY-CANARY" })),
        (200, json!({ "ok": false, "error": "channel_not_found" })),
    ]);
    push(&s, "attempts-1");
    let dead = wait_for("a dead delivery", || {
        let list = s.get("/api/deliveries?status=dead").json();
        list["deliveries"].get(0).cloned()
    });
    let id = dead["id"].as_str().expect("id").to_owned();
    let detail = s.get(&format!("/api/deliveries/{id}"));
    assert_eq!(detail.status, 200);
    let detail = detail.json();
    assert_eq!(detail["status"], "dead");
    let log = detail["attemptLog"].as_array().expect("attempt log").clone();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0]["outcome"], "retry");
    assert_eq!(log[0]["error"], "http");
    assert_eq!(log[0]["httpStatus"], 503);
    assert_eq!(log[1]["outcome"], "dead");
    assert_eq!(log[1]["error"], "rejected");
    for a in &log {
        assert!(a["at"].as_str().is_some_and(|t| t.ends_with('Z')), "{a}");
        assert!(a["durationMs"].as_u64().is_some(), "{a}");
    }
    assert!(!detail.to_string().contains("BODY-CANARY"), "no response body: {detail}");

    // Re-queued, it is delivered; the log keeps every attempt, the new one last.
    assert_eq!(s.post(&format!("/api/deliveries/{id}/retry"), &json!({})).status, 200);
    let delivered = wait_for("the retried delivery", || {
        let d = s.get(&format!("/api/deliveries/{id}")).json();
        (d["status"] == "delivered").then_some(d)
    });
    let log = delivered["attemptLog"].as_array().expect("log").clone();
    assert_eq!(log.len(), 3, "{log:?}");
    assert_eq!(log[2]["outcome"], "delivered");
    assert_eq!(log[2]["error"], Value::Null);
    assert_eq!(log[2]["httpStatus"], Value::Null, "a status only for a failure");
    assert_eq!(chat.messages().len(), 1);

    // Unknown, malformed and other orgs' ids are all the same 404.
    for bad in ["dlv-999999", "nope", "dlv-"] {
        s.get(&format!("/api/deliveries/{bad}")).expect_error(404, "DELIVERY_NOT_FOUND");
    }
    let other = s.post("/api/orgs", &json!({ "name": "Other" })).json()["id"].clone();
    let other = other.as_str().expect("org id");
    let theirs = s.call("GET", &format!("/api/deliveries/{id}"), &[("x-org-id", other)], None);
    theirs.expect_error(404, "DELIVERY_NOT_FOUND");
}

#[test]
fn the_attempt_log_is_bounded_per_delivery() {
    let chat = FakeChat::start();
    let s = server(&chat, false, &[("SPAR_OUTBOX_BACKOFF_MS", "1")]);
    route_ci_to_slack(&s, None);
    // Every answer a failure: 8 attempts a round, re-queued twice, 24 attempts in all.
    let failures: Vec<(u16, Value)> = (0..24).map(|_| (500, json!({ "ok": false }))).collect();
    chat.fail_with(&failures);
    push(&s, "bounded-1");
    let dead = || {
        wait_for("a dead delivery", || {
            let list = s.get("/api/deliveries?status=dead").json();
            list["deliveries"].get(0).cloned()
        })
    };
    let id = dead()["id"].as_str().expect("id").to_owned();
    for _ in 0..2 {
        assert_eq!(s.post(&format!("/api/deliveries/{id}/retry"), &json!({})).status, 200);
        std::thread::sleep(Duration::from_millis(50));
        dead();
    }
    assert_eq!(chat.attempts().len(), 24);
    let detail = s.get(&format!("/api/deliveries/{id}")).json();
    let log = detail["attemptLog"].as_array().expect("log");
    assert_eq!(log.len(), 20, "the newest 20 attempts are kept");
    assert_eq!(log.last().expect("last")["outcome"], "dead");
    // Attempts 5 to 24 are kept: three rounds' ends, the first four attempts gone.
    assert_eq!(log.iter().filter(|a| a["outcome"] == "dead").count(), 3);
}

#[test]
fn deliveries_filter_by_channel_and_approvals_by_status() {
    let chat = FakeChat::start();
    let s = server(&chat, false, &[]);
    route_ci_to_slack(&s, None);
    push(&s, "channel-1");
    wait_for("delivery", || {
        s.get("/api/deliveries?status=delivered").json()["deliveries"].get(0).cloned()
    });
    let slack = s.get("/api/deliveries?channel=slack").json();
    assert_eq!(slack["total"], 1);
    let discord = s.get("/api/deliveries?channel=discord").json();
    assert_eq!((discord["total"].clone(), discord["deliveries"].clone()), (json!(0), json!([])));

    // A level-2 project agent suggests on a failed run: one pending approval.
    let project = s.post("/api/projects", &json!({ "repo": "acme/api-gateway" })).json();
    let agent = project["agentId"].as_str().expect("agent");
    let level = json!({ "action": "set_autonomy", "level": 2 });
    assert_eq!(s.post(&format!("/api/agents/{agent}/action"), &level).status, 200);
    let failure = fixture("github/workflow_run.failure.json");
    let r = s.github_webhook("/webhooks/github", "workflow_run", "fail-1", Some(SECRET), &failure);
    assert_eq!(r.status, 200);
    let pending = s.get("/api/approvals?status=pending").json();
    assert_eq!(pending["total"], 1, "{pending}");
    let token = pending["approvals"][0]["token"].as_str().expect("token").to_owned();
    assert_eq!(pending["approvals"][0]["status"], "pending");
    assert_eq!(s.get("/api/approvals").json()["total"], 1);
    let vote = json!({ "vote": "deny" });
    assert_eq!(s.post(&format!("/api/approvals/{token}"), &vote).status, 200);
    assert_eq!(s.get("/api/approvals?status=pending").json()["total"], 0);
    assert_eq!(s.get("/api/approvals?status=denied").json()["approvals"][0]["token"], token);
    s.get("/api/approvals?status=maybe").expect_error(400, "INVALID_PARAMETER");
    s.get("/api/approvals?limit=0").expect_error(400, "INVALID_PARAMETER");
    let other = s.post("/api/orgs", &json!({ "name": "Other" })).json()["id"].clone();
    let other = other.as_str().expect("org id");
    let theirs = s.call("GET", "/api/approvals", &[("x-org-id", other)], None).json();
    assert_eq!(theirs["total"], 0, "another org sees none: {theirs}");
}

#[test]
fn activity_counts_events_and_deliveries_per_minute() {
    let chat = FakeChat::start();
    let s = server(&chat, false, &[]);
    route_ci_to_slack(&s, None);
    for n in 0..3 {
        push(&s, &format!("activity-{n}"));
    }
    let activity = s.get("/api/activity?minutes=5").json();
    assert_eq!(activity["minutes"], 5);
    let buckets = activity["buckets"].as_array().expect("buckets");
    assert_eq!(buckets.len(), 5);
    let sum = |key: &str| buckets.iter().map(|b| b[key].as_u64().expect("count")).sum::<u64>();
    assert_eq!(sum("events"), 3);
    assert_eq!(sum("deliveries"), 3);
    assert_eq!(activity["truncated"], false);
    let starts: Vec<&str> = buckets.iter().map(|b| b["start"].as_str().expect("start")).collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "oldest first: {starts:?}");
    assert!(buckets[4]["events"].as_u64() > Some(0) || buckets[3]["events"].as_u64() > Some(0));
    for bad in ["0", "1441", "x"] {
        s.get(&format!("/api/activity?minutes={bad}")).expect_error(400, "INVALID_PARAMETER");
    }
    let other = s.post("/api/orgs", &json!({ "name": "Other" })).json()["id"].clone();
    let other = other.as_str().expect("org id");
    let other = s.call("GET", "/api/activity?minutes=5", &[("x-org-id", other)], None).json();
    assert!(other["buckets"].as_array().expect("buckets").iter().all(|b| b["events"] == 0));
}

#[test]
fn the_session_says_who_a_credential_is() {
    let chat = FakeChat::start();
    let open = server(&chat, false, &[]);
    assert_eq!(open.get("/api/session").json(), json!({ "caller": "anonymous", "orgId": null }));

    let s = server(&chat, true, &[]);
    let as_bearer = |token: &str| {
        let auth = format!("Bearer {token}");
        s.call("GET", "/api/session", &[("Authorization", &auth)], None)
    };
    let none = s.get("/api/session");
    assert_eq!(none.status, 200);
    assert_eq!(none.json()["caller"], "none");
    let wrong = as_bearer("not-the-token");
    assert_eq!(wrong.status, 200, "the console asks without logging a failed request");
    assert_eq!(wrong.json()["caller"], "none");
    assert_eq!(as_bearer(OPERATOR).json(), json!({ "caller": "operator", "orgId": null }));
    let auth = format!("Bearer {OPERATOR}");
    let org =
        s.call("POST", "/api/orgs", &[("Authorization", &auth)], Some(&json!({ "name": "Acme" })));
    let org_id = org.json()["id"].as_str().expect("org id").to_owned();
    let token = spar_created(&s, &["token", "create", "--org", &org_id]);
    assert_eq!(as_bearer(&token).json(), json!({ "caller": "org", "orgId": org_id }));
    // A wrong token still opens nothing else.
    let auth = "Bearer not-the-token";
    s.call("GET", "/api/agents", &[("Authorization", auth)], None)
        .expect_error(401, "UNAUTHORIZED");
}
