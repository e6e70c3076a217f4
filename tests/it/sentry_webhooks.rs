//! Sentry webhooks (docs/API.md §3.2) and incidents: signatures, grouping, resolution, the incident
//! agent, and its level-3 actions (a Linear issue once per fingerprint, a PagerDuty trigger for a
//! fatal event) sent through the outbox to fakes that record them.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::fake::{FakeIntegrations, LINEAR_KEY, PAGERDUTY_KEY, PAGERDUTY_ROUTING_KEY};
use crate::common::{Resp, Server, fixture, sign, stamped};

const SECRET: &str = "sentry-hook-secret";

fn server(fake: &FakeIntegrations, extra: &[(&str, &str)]) -> Server {
    let mut env = fake.env();
    env.push(("SENTRY_WEBHOOK_SECRET".into(), SECRET.into()));
    env.push(("SPAR_OUTBOX_BACKOFF_MS".into(), "100".into()));
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::with(&["--rate-limit-api", "0", "--rate-limit-webhooks", "0"], &env)
}

fn hook(s: &Server, path: &str, resource: &str, body: &[u8], signature: Option<String>) -> Resp {
    let mut headers =
        vec![("Content-Type", "application/json"), ("Sentry-Hook-Resource", resource)];
    let signature = signature.unwrap_or_default();
    if !signature.is_empty() {
        headers.push(("Sentry-Hook-Signature", signature.as_str()));
    }
    s.raw_request("POST", path, &headers, body)
}

/// A fixture as one real delivery of it: two Sentry deliveries never carry the same bytes (an
/// issue's counts and times move, an event has its own id); Spar takes the same bytes again as
/// a replay.
fn delivered(file: &str) -> Vec<u8> {
    static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    stamped(&fixture(&format!("sentry/{file}")), &format!("sentry-{n}"))
}

fn send(s: &Server, file: &str) -> Value {
    let body = delivered(file);
    let resource = file.split('.').next().expect("resource");
    let r = hook(s, "/webhooks/sentry", resource, &body, Some(sign(SECRET, &body)));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

fn incidents(s: &Server, query: &str) -> Vec<Value> {
    let list = s.get(&format!("/api/observability/incidents{query}")).json();
    list["incidents"].as_array().cloned().unwrap_or_default()
}

/// A project whose repository is named like the Sentry project, its agent at `level`.
fn project(s: &Server, level: u8) -> (String, String) {
    let r = s.post("/api/projects", &json!({ "repo": "acme/api-gateway" })).json();
    let agent = r["agentId"].as_str().expect("agent").to_owned();
    let set = json!({ "action": "set_autonomy", "level": level });
    assert_eq!(s.post(&format!("/api/agents/{agent}/action"), &set).status, 200);
    (r["id"].as_str().expect("id").to_owned(), agent)
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn signatures_are_checked_over_the_raw_body() {
    let fake = FakeIntegrations::start();
    let s = server(&fake, &[]);
    let body = fixture("sentry/issue.created.json");
    let good = hook(&s, "/webhooks/sentry", "issue", &body, Some(sign(SECRET, &body)));
    assert_eq!(good.status, 200);
    let mut changed = body.clone();
    let at = changed.iter().position(|b| *b == b'1').expect("a digit");
    changed[at] = b'2';
    hook(&s, "/webhooks/sentry", "issue", &changed, Some(sign(SECRET, &body)))
        .expect_error(401, "INVALID_SIGNATURE");
    hook(&s, "/webhooks/sentry", "issue", &body, None).expect_error(401, "MISSING_SIGNATURE");
    hook(&s, "/webhooks/sentry", "issue", &body, Some("zz".into()))
        .expect_error(401, "INVALID_SIGNATURE");
    s.raw_request("POST", "/webhooks/sentry", &[("Content-Type", "application/json")], &body)
        .expect_error(400, "MISSING_HEADER");
    hook(&s, "/webhooks/sentry", "issue", b"{nope", Some(sign(SECRET, b"{nope")))
        .expect_error(400, "INVALID_JSON");
    // The /api alias is the same endpoint.
    let again = delivered("issue.created.json");
    let alias = hook(&s, "/api/webhooks/sentry", "issue", &again, Some(sign(SECRET, &again)));
    assert_eq!(alias.json()["routed"], true);

    // Another org signs with its own stored webhookSecret.
    assert_eq!(s.post("/api/orgs", &json!({ "name": "Beta" })).status, 201);
    let cfg = json!({ "integration": "sentry", "config": { "authToken": "t", "org": "beta", "webhookSecret": "beta-secret" } });
    assert_eq!(
        s.call("POST", "/api/integrations/configure", &[("x-org-id", "org-beta")], Some(&cfg))
            .status,
        200
    );
    hook(&s, "/webhooks/sentry?orgId=org-beta", "issue", &body, Some(sign(SECRET, &body)))
        .expect_error(401, "INVALID_SIGNATURE");
    let ok = hook(
        &s,
        "/webhooks/sentry?orgId=org-beta",
        "issue",
        &body,
        Some(sign("beta-secret", &body)),
    );
    assert_eq!(ok.status, 200);
    let beta =
        s.call("GET", "/api/observability/incidents", &[("x-org-id", "org-beta")], None).json();
    assert_eq!(beta["total"], 1);

    // Strict mode refuses when no secret is configured.
    let strict = Server::with(&[], &[("WEBHOOK_STRICT_MODE", "true")]);
    hook(&strict, "/webhooks/sentry", "issue", &body, None)
        .expect_error(401, "WEBHOOK_SECRET_NOT_CONFIGURED");
}

#[test]
fn alerts_group_into_incidents_that_resolve_and_acknowledge() {
    let fake = FakeIntegrations::start();
    let s = server(&fake, &[]);
    let (project_id, _) = project(&s, 1);
    let first = send(&s, "issue.created.json");
    assert_eq!(first["received"], true);
    assert_eq!(first["routed"], true);
    let incident_id = first["incidentId"].as_str().expect("incident").to_owned();
    assert_eq!(incident_id, "inc-001");
    let agent_id = first["agentId"].as_str().expect("agent").to_owned();
    assert!(agent_id.starts_with("agent-inc-"), "{agent_id}");
    let agent = s.get(&format!("/api/agents/{agent_id}")).json();
    assert_eq!(
        (agent["type"].clone(), agent["status"].clone()),
        (json!("incident"), json!("ACTIVE"))
    );
    assert_eq!(agent["projectId"], project_id.as_str());
    assert_eq!(agent["autonomyLevel"], 1, "the project agent's level");

    // A repeat joins the open incident, handled by the same agent.
    let again = send(&s, "issue.created.json");
    assert_eq!(
        (again["incidentId"].clone(), again["agentId"].clone()),
        (json!(incident_id), json!(agent_id))
    );
    assert_eq!(again["grouped"], true);
    let open = incidents(&s, "");
    assert_eq!(open.len(), 1);
    let inc = &open[0];
    assert_eq!(inc["count"], 2);
    assert_eq!(inc["severity"], "high", "level error");
    assert_eq!(inc["status"], "open");
    assert_eq!(inc["source"], "sentry");
    assert_eq!(inc["projectId"], project_id.as_str());
    assert_eq!(inc["assignedAgent"], agent_id.as_str());
    assert_eq!(inc["events"].as_array().expect("events").len(), 2);
    assert_eq!(inc["events"][0]["type"], "sentry.alert");
    assert_eq!(inc["events"][0]["issueId"], "4209801234");
    assert_eq!(inc["title"], "TypeError: Cannot read properties of undefined (reading 'id')");
    assert_eq!(incidents(&s, "?severity=high&project=api-gateway").len(), 1);
    assert!(incidents(&s, "?severity=critical").is_empty());
    s.get("/api/observability/incidents?status=closed").expect_error(400, "INVALID_PARAMETER");

    // Acknowledge.
    let ack = s.post(
        &format!("/api/observability/incidents/{incident_id}/acknowledge"),
        &json!({ "acknowledgedBy": "user-fabiano" }),
    );
    assert_eq!(ack.status, 200, "{}", String::from_utf8_lossy(&ack.body));
    let body = ack.json();
    assert_eq!(body["status"], "acknowledged");
    assert_eq!(body["acknowledgedBy"], "user-fabiano");
    assert!(body["acknowledgedAt"].as_str().is_some());
    s.post(&format!("/api/observability/incidents/{incident_id}/acknowledge"), &json!({}))
        .expect_error(409, "INVALID_STATE");
    s.post("/api/observability/incidents/inc-999/acknowledge", &json!({}))
        .expect_error(404, "INCIDENT_NOT_FOUND");
    assert_eq!(s.post("/api/orgs", &json!({ "name": "Gamma" })).status, 201);
    s.call(
        "POST",
        &format!("/api/observability/incidents/{incident_id}/acknowledge"),
        &[("x-org-id", "org-gamma")],
        Some(&json!({})),
    )
    .expect_error(404, "INCIDENT_NOT_FOUND");
    assert_eq!(incidents(&s, "?status=acknowledged").len(), 1);

    // Resolved closes it; a new alert afterwards opens a new incident.
    let resolved = send(&s, "issue.resolved.json");
    assert_eq!(resolved["incidentId"], incident_id.as_str());
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(
        incidents(&s, "?status=resolved")[0]["resolvedAt"].as_str().map(|_| true),
        Some(true)
    );
    let nothing = send(&s, "issue.resolved.json");
    assert_eq!(nothing["routed"], false);
    let reopened = send(&s, "issue.created.json");
    assert_eq!(reopened["incidentId"], "inc-002");
    assert_eq!(reopened["agentId"], agent_id.as_str(), "the active incident agent keeps handling");

    // Other resources are recorded and not acted on.
    let metric = send(&s, "metric_alert.critical.json");
    assert_eq!(metric["processed"], false);
    assert!(metric["reason"].as_str().is_some());
    let recorded = s.audit_entries("sentry.webhook");
    assert!(recorded.iter().any(|e| e["metadata"]["resource"] == "metric_alert"));
    assert_eq!(s.audit_entries("incident.open").len(), 2);
    assert_eq!(s.audit_entries("incident.resolve").len(), 1);
}

#[test]
fn a_level_3_incident_agent_opens_one_linear_issue_per_fingerprint_and_pages_for_fatal() {
    let fake = FakeIntegrations::start();
    let s = server(&fake, &[]);
    project(&s, 3);
    for (name, config) in [
        ("linear", json!({ "apiKey": LINEAR_KEY, "teamId": "team-eng" })),
        (
            "pagerduty",
            json!({ "apiKey": PAGERDUTY_KEY, "fromEmail": "oncall@acme.test", "routingKey": PAGERDUTY_ROUTING_KEY }),
        ),
    ] {
        let body = json!({ "integration": name, "config": config });
        assert_eq!(
            s.call("POST", "/api/integrations/configure", &[("x-org-id", "default")], Some(&body))
                .status,
            200
        );
    }
    let creates = || -> Vec<crate::common::fake::Recorded> {
        fake.requests("/linear/graphql")
            .into_iter()
            .filter(|r| r.json()["query"].as_str().unwrap_or("").contains("issueCreate"))
            .collect()
    };

    // An `error` issue: a Linear issue, no page.
    let first = send(&s, "issue.created.json");
    wait_until("the Linear issue", || creates().len() == 1);
    let input = creates()[0].json()["variables"]["input"].clone();
    assert_eq!(input["teamId"], "team-eng");
    assert_eq!(input["title"], "TypeError: Cannot read properties of undefined (reading 'id')");
    assert!(
        input["description"]
            .as_str()
            .expect("description")
            .contains("sentry:api-gateway:4209801234")
    );
    let incident = first["incidentId"].as_str().expect("incident").to_owned();
    wait_until("the incident to know its issue", || {
        incidents(&s, "")[0]["linearIssue"] == "ENG-348"
    });
    let actions = s.audit_entries("incident.linear_issue");
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0]["actorType"], "agent");
    assert_eq!(actions[0]["actorId"], first["agentId"]);

    // Repeats, and even a new incident after resolution, never open a second issue for the
    // same fingerprint.
    send(&s, "issue.created.json");
    send(&s, "issue.resolved.json");
    send(&s, "issue.created.json");

    // A fatal event alert: its own Linear issue, and a PagerDuty trigger.
    let fatal = send(&s, "event_alert.fatal.json");
    assert_ne!(fatal["incidentId"], incident.as_str());
    wait_until("the PagerDuty trigger", || !fake.requests("/pd-events/v2/enqueue").is_empty());
    let trigger = fake.requests("/pd-events/v2/enqueue")[0].json();
    assert_eq!(trigger["routing_key"], PAGERDUTY_ROUTING_KEY);
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["dedup_key"], "spar-sentry:api-gateway:4209805555");
    assert_eq!(trigger["payload"]["severity"], "critical");
    assert_eq!(trigger["payload"]["source"], "spar");
    assert_eq!(trigger["payload"]["summary"], "Error: connect ECONNREFUSED 10.0.3.7:5432");
    send(&s, "event_alert.fatal.json");
    wait_until("the second Linear issue", || creates().len() == 2);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(creates().len(), 2, "one Linear issue per fingerprint");
    assert_eq!(fake.requests("/pd-events/v2/enqueue").len(), 1, "one page per incident");
    let critical = incidents(&s, "?severity=critical");
    assert_eq!(critical.len(), 1);
    assert_eq!(critical[0]["count"], 2);
    // The actions are outbox deliveries, visible and delivered.
    let all = s.get("/api/deliveries?limit=50").json();
    let kinds: Vec<&str> = all["deliveries"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d["channel"].as_str())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "linear").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "pagerduty").count(), 1);
    assert!(all["deliveries"].as_array().expect("list").iter().all(|d| d["status"] == "delivered"));
    // The credentials these actions used appear nowhere a user or operator can read.
    let mut seen = String::from_utf8_lossy(&s.get("/api/audit?limit=100").body).into_owned();
    seen.push_str(&all.to_string());
    seen.push_str(
        &s.call("GET", "/api/integrations/status", &[("x-org-id", "default")], None)
            .json()
            .to_string(),
    );
    seen.push_str(&s.get("/api/observability/incidents?status=open").json().to_string());
    seen.push_str(&s.log());
    for secret in [LINEAR_KEY, PAGERDUTY_KEY, PAGERDUTY_ROUTING_KEY, SECRET] {
        assert!(!seen.contains(secret), "{secret} leaked");
    }
}

#[test]
fn replay_posts_every_sentry_fixture_signed() {
    let fake = FakeIntegrations::start();
    let s = server(&fake, &[]);
    let out = Command::new(env!("CARGO_BIN_EXE_spar"))
        .arg("replay")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sentry"))
        .args(["--url", &format!("http://{}", s.addr), "--secret", SECRET])
        .output()
        .expect("run spar replay");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let lines: Vec<&str> = stdout.lines().filter(|l| l.contains(".json")).collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(lines.iter().all(|l| l.contains("  200  ")), "{stdout}");
    assert_eq!(incidents(&s, "?status=resolved").len(), 1);
    assert_eq!(incidents(&s, "").len(), 1, "the fatal alert's incident stays open");
}
