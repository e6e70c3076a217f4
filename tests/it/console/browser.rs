//! The console in a real browser (headless Chromium through chromedriver) against the real
//! binary with seeded data: logging in, every page with its data, every action end to end, the
//! live page, a 360 px screen, and what the browser logged and fetched.
//!
//! Each page is saved as `target/ui-screenshots/<page>.png`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::super::hostile::spar_created;
use super::api::{OPERATOR, push, route_ci_to_slack, server};
use crate::common::browser::Browser;
use crate::common::fake::FakeChat;
use crate::common::{Resp, Server, fixture, sign, stamped};

/// The secret the server checks Sentry deliveries against (set by [`server`]).
const SENTRY_SECRET: &str = "console-sentry-secret";

/// A request as the operator.
fn op(s: &Server, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let auth = format!("Bearer {OPERATOR}");
    s.call(method, path, &[("Authorization", &auth), ("x-org-id", "default")], body)
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// What the operator console has to show, made through the API and webhooks.
struct Seeded {
    agent_id: String,
    agent_name: String,
    dead_delivery: String,
    approval: String,
    incident_title: String,
}

fn seed(s: &Server, chat: &FakeChat) -> Seeded {
    route_ci_to_slack(s, Some(OPERATOR));
    let project = op(s, "POST", "/api/projects", Some(&json!({ "repo": "acme/api-gateway" })));
    assert_eq!(project.status, 201);
    let agent_id = project.json()["agentId"].as_str().expect("agent").to_owned();
    let level = json!({ "action": "set_autonomy", "level": 2 });
    assert_eq!(op(s, "POST", &format!("/api/agents/{agent_id}/action"), Some(&level)).status, 200);
    let agent_name = op(s, "GET", &format!("/api/agents/{agent_id}"), None).json()["name"]
        .as_str()
        .expect("name")
        .to_owned();

    // Slack refuses the first message for good: a dead delivery to retry.
    chat.fail_with(&[(200, json!({ "ok": false, "error": "channel_not_found" }))]);
    push(s, "console-dead");
    let mut dead_delivery = String::new();
    wait_until("a dead delivery", || {
        let list = op(s, "GET", "/api/deliveries?status=dead", None).json();
        dead_delivery = list["deliveries"][0]["id"].as_str().unwrap_or_default().to_owned();
        !dead_delivery.is_empty()
    });

    // A failed run at level 2: a suggestion waiting for a vote.
    let failure = fixture("github/workflow_run.failure.json");
    let r = s.github_webhook(
        "/webhooks/github",
        "workflow_run",
        "console-fail",
        Some(super::api::SECRET),
        &failure,
    );
    assert_eq!(r.status, 200);
    let pending = op(s, "GET", "/api/approvals?status=pending", None).json();
    let approval = pending["approvals"][0]["token"].as_str().expect("approval").to_owned();

    // A Sentry alert: an open incident.
    let body = stamped(&fixture("sentry/issue.created.json"), "console-sentry");
    let signature = sign(SENTRY_SECRET, &body);
    let headers = [
        ("Content-Type", "application/json"),
        ("Sentry-Hook-Resource", "issue"),
        ("Sentry-Hook-Signature", signature.as_str()),
    ];
    let r = s.raw_request("POST", "/webhooks/sentry", &headers, &body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let incidents = op(s, "GET", "/api/observability/incidents", None).json();
    let incident_title = incidents["incidents"][0]["title"].as_str().expect("title").to_owned();

    let task =
        json!({ "name": "nightly-check", "intervalMs": 3_600_000, "action": { "type": "digest" } });
    assert_eq!(op(s, "POST", "/api/scheduler", Some(&task)).status, 201);
    Seeded { agent_id, agent_name, dead_delivery, approval, incident_title }
}

fn log_in(b: &mut Browser, token: &str) {
    b.type_into("#token", token);
    b.submit("#token");
}

/// Nothing the pages fetched left the server's origin, and the browser logged no problem.
fn assert_clean(b: &mut Browser) {
    let problems = b.console_problems();
    assert!(problems.is_empty(), "the browser console reported: {problems:#?}");
    let requested = b.requested();
    assert!(requested.len() > 10, "the network log is read: {requested:?}");
    let origin = format!("{}/", b.origin);
    let elsewhere: Vec<&String> =
        requested.iter().filter(|u| !u.starts_with(&origin) && !u.starts_with("data:")).collect();
    assert!(elsewhere.is_empty(), "requests to another host: {elsewhere:?}");
}

#[test]
fn an_operator_logs_in_sees_every_page_and_acts_from_the_console() {
    let chat = FakeChat::start();
    let s = server(&chat, true, &[("SENTRY_WEBHOOK_SECRET", SENTRY_SECRET)]);
    let seeded = seed(&s, &chat);
    let mut b = Browser::open(&format!("http://{}", s.addr), 1280);

    // `/` is the console; with a token configured it asks for one and refuses a wrong one.
    b.goto("/");
    b.wait_for_text("This server needs a token");
    log_in(&mut b, "not-the-token");
    b.wait_for_text("That token was refused.");
    log_in(&mut b, OPERATOR);
    b.wait_for_text("Pending deliveries");
    b.wait_for_text("Dead deliveries\n1");
    b.wait_for_text("Open incidents\n1");
    b.wait_for_text("nightly-check");
    b.wait_for_text("events,");
    assert!(
        b.js("return document.querySelector('svg.chart polyline') !== null", vec![]) == json!(true)
    );
    b.screenshot("overview");

    // Every page renders what was seeded.
    let pages = [
        ("agents", seeded.agent_name.as_str()),
        ("projects", "acme/api-gateway"),
        ("audit", "matching entries"),
        ("deliveries", seeded.dead_delivery.as_str()),
        ("approvals", seeded.approval.as_str()),
        ("incidents", seeded.incident_title.as_str()),
        ("tasks", "nightly-check"),
        ("channels", "Last delivery"),
    ];
    for (page, text) in pages {
        b.page(page, text);
        b.screenshot(page);
    }
    b.page("channels", "connected");
    b.page("audit", "agent.suggest");

    // Retry the dead delivery: the fake chat gets it and the page says delivered.
    let before = chat.messages().len();
    b.page(&format!("deliveries/{}", seeded.dead_delivery), "Attempts");
    b.wait_for_text("dead");
    b.screenshot("delivery");
    b.click_button("Retry");
    b.wait_for_text("Queued again");
    chat.wait_for(before + 1);
    wait_until("the delivery delivered", || {
        b.reload();
        b.wait_for_text("Attempts");
        b.main_text().contains("Status\ndelivered")
    });
    b.wait_for_text("delivered");
    assert!(b.main_text().contains("rejected"), "the first attempt's class stays listed");

    // Approve the pending approval.
    b.page("approvals", &seeded.approval);
    b.click_button(&format!("Approve {}", seeded.approval));
    b.wait_for_text(&format!("Approved {}", seeded.approval));
    let approval = op(&s, "GET", &format!("/api/approvals/{}", seeded.approval), None).json();
    assert_eq!(approval["status"], "approved");

    // Pause the task, then run it now.
    b.page("tasks", "nightly-check");
    b.click_button("Pause nightly-check");
    b.wait_for_text("paused");
    let task = |s: &Server| {
        let all = op(s, "GET", "/api/scheduler", None).json();
        all.as_array()
            .expect("tasks")
            .iter()
            .find(|t| t["name"] == "nightly-check")
            .cloned()
            .expect("task")
    };
    assert_eq!(task(&s)["enabled"], false);
    b.click_button("Run nightly-check now");
    b.wait_for_text("nightly-check ran.");
    assert_eq!(task(&s)["runCount"], 1);
    b.click_button("Resume nightly-check");
    wait_until("the task resumed", || task(&s)["enabled"] == true);

    // Verify the chain: one row per org.
    b.page("audit", "matching entries");
    b.click_button("Verify chain");
    b.wait_for_text("The chain holds");
    b.wait_for_text("Verification per org");
    b.screenshot("audit-verified");

    // Suspend and resume the agent.
    b.page(&format!("agents/{}", seeded.agent_id), "Actions");
    b.click_button("Suspend");
    b.wait_for_text("Suspended.");
    let status = |s: &Server| {
        op(s, "GET", &format!("/api/agents/{}", seeded.agent_id), None).json()["status"].clone()
    };
    assert_eq!(status(&s), "SUSPENDED");
    b.click_button("Resume");
    b.wait_for_text("Resumed.");
    assert_eq!(status(&s), "ACTIVE");

    // Acknowledge the incident.
    b.page("incidents", &seeded.incident_title);
    b.click_button("Acknowledge inc-001");
    b.wait_for_text("Acknowledged inc-001");

    // The live page shows a webhook posted while it is open.
    b.page("events", "Stream: live");
    let body = fixture("github/push.json");
    let r = s.github_webhook(
        "/webhooks/github",
        "push",
        "console-live",
        Some(super::api::SECRET),
        &body,
    );
    let event_id = r.json()["eventId"].as_str().expect("event").to_owned();
    b.wait_for_text(&event_id);
    b.screenshot("events");

    assert_clean(&mut b);
}

#[test]
fn an_org_token_sees_its_org_only_on_a_phone_sized_screen() {
    let chat = FakeChat::start();
    let s = server(&chat, true, &[]);
    let org = op(&s, "POST", "/api/orgs", Some(&json!({ "name": "Acme" }))).json();
    let org_id = org["id"].as_str().expect("org").to_owned();
    let ours = json!({ "name": "acme-bot", "type": "task" });
    let auth = format!("Bearer {OPERATOR}");
    let headers = [("Authorization", auth.as_str()), ("x-org-id", org_id.as_str())];
    assert_eq!(s.call("POST", "/api/agents", &headers, Some(&ours)).status, 201);
    let theirs = json!({ "name": "default-bot", "type": "task" });
    assert_eq!(op(&s, "POST", "/api/agents", Some(&theirs)).status, 201);
    let token = spar_created(&s, &["token", "create", "--org", &org_id]);

    let mut b = Browser::open(&format!("http://{}", s.addr), 360);
    b.goto("/ui/");
    b.wait_for_text("Log in");
    log_in(&mut b, &token);
    b.wait_for_text("Pending deliveries");
    let session = b.js("return document.getElementById('session').innerText", vec![]);
    assert!(session.as_str().is_some_and(|t| t.contains(&org_id)), "{session}");
    assert_eq!(
        b.js("return document.getElementById('org') === null", vec![]),
        json!(true),
        "no org switcher"
    );
    b.page("agents", "acme-bot");
    assert!(!b.main_text().contains("default-bot"), "another org's agent shown");

    // At 360 px every page fits the screen (wide tables scroll inside their own region).
    assert_eq!(b.js("return window.innerWidth", vec![]), json!(360));
    for page in [
        "overview",
        "events",
        "agents",
        "projects",
        "audit",
        "deliveries",
        "approvals",
        "incidents",
        "tasks",
        "channels",
    ] {
        b.goto(&format!("/ui/#/{page}"));
        b.wait_for_text("");
        wait_until(&format!("{page} rendered"), || !b.main_text().contains("Loading…"));
        let fits = b.js("return document.documentElement.scrollWidth <= window.innerWidth", vec![]);
        assert_eq!(fits, json!(true), "{page} is wider than 360 px");
        b.screenshot(&format!("{page}-360px"));
    }

    // The keyboard reaches the skip link first, then the pages.
    b.goto("/ui/#/overview");
    b.wait_for_text("Pending deliveries");
    let tab_order = b.js(
        "document.activeElement.blur(); return [...document.querySelectorAll('a[href], button, input, select')]
           .filter(e => !e.disabled && e.tabIndex >= 0).slice(0, 2).map(e => e.textContent)",
        vec![],
    );
    assert_eq!(tab_order[0], "Skip to the page");
    assert_eq!(tab_order[1], "Overview");

    // Logging out forgets the token.
    b.click_button("Log out");
    b.wait_for_text("Log in");
    assert_eq!(b.js("return sessionStorage.getItem('spar.token')", vec![]), Value::Null);
    assert_clean(&mut b);
}
