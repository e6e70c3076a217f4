//! Integrations (docs/API.md §2.13): per-org configuration and status, and PagerDuty, Linear and Sentry
//! through their APIs, against fakes on 127.0.0.1 that record what Spar sent.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::fake::{
    FakeIntegrations, LINEAR_KEY, PAGERDUTY_KEY, PAGERDUTY_ROUTING_KEY, SENTRY_TOKEN,
};
use crate::common::{Resp, Server};

const ORG: [(&str, &str); 1] = [("x-org-id", "default")];

fn server(fake: &FakeIntegrations, extra: &[(&str, &str)]) -> Server {
    let mut env = fake.env();
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::with(&["--rate-limit-api", "0"], &env)
}

fn get(s: &Server, path: &str) -> Resp {
    s.call("GET", path, &ORG, None)
}

fn post(s: &Server, path: &str, body: Value) -> Resp {
    s.call("POST", path, &ORG, Some(&body))
}

fn configure(s: &Server, integration: &str, config: Value) -> Resp {
    post(s, "/api/integrations/configure", json!({ "integration": integration, "config": config }))
}

fn configure_all(s: &Server) {
    for (name, config) in [
        (
            "pagerduty",
            json!({ "apiKey": PAGERDUTY_KEY, "fromEmail": "oncall@acme.test", "escalationPolicyId": "PEP0001", "routingKey": PAGERDUTY_ROUTING_KEY }),
        ),
        ("linear", json!({ "apiKey": LINEAR_KEY, "teamId": "team-eng" })),
        ("sentry", json!({ "authToken": SENTRY_TOKEN, "org": "acme", "project": "api-gateway" })),
    ] {
        assert_eq!(configure(s, name, config).status, 200, "{name}");
    }
}

fn status_of(s: &Server, id: &str) -> Value {
    let all = get(s, "/api/integrations/status").json();
    all["integrations"].as_array().expect("list").iter().find(|i| i["id"] == id).cloned().expect(id)
}

#[test]
fn status_and_configure_are_per_org_with_the_environment_for_default() {
    let fake = FakeIntegrations::start();
    let s = server(&fake, &[("LINEAR_API_KEY", LINEAR_KEY)]);
    s.get("/api/integrations/status").expect_error(400, "MISSING_ORG_ID");
    s.post("/api/integrations/configure", &json!({})).expect_error(400, "MISSING_ORG_ID");
    let all = get(&s, "/api/integrations/status").json();
    let ids: Vec<&str> = all["integrations"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "pagerduty",
            "linear",
            "sentry",
            "slack",
            "github",
            "discord",
            "telegram",
            "whatsapp",
            "vercel",
            "deploy"
        ]
    );
    assert_eq!(
        status_of(&s, "pagerduty"),
        json!({ "id": "pagerduty", "configured": false, "status": "inactive", "lastSync": null })
    );
    // LINEAR_API_KEY configures org default only.
    assert_eq!(status_of(&s, "linear")["status"], "active");
    assert_eq!(s.post("/api/orgs", &json!({ "name": "Other" })).status, 201);
    let other =
        s.call("GET", "/api/integrations/status", &[("x-org-id", "org-other")], None).json();
    assert_eq!(other["integrations"][1]["status"], "inactive");

    let r = configure(
        &s,
        "pagerduty",
        json!({ "apiKey": PAGERDUTY_KEY, "fromEmail": "oncall@acme.test" }),
    );
    let body = r.json();
    assert_eq!(body["integration"], "pagerduty");
    assert_eq!(body["status"], "active");
    assert!(body["configuredAt"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(status_of(&s, "pagerduty")["configured"], true);
    assert_eq!(
        s.audit_entries("integration.configure")[0]["metadata"]["configKeys"],
        json!(["apiKey", "fromEmail"])
    );

    let e =
        configure(&s, "datadog", json!({ "apiKey": "x" })).expect_error(400, "INVALID_INTEGRATION");
    assert!(e["error"].as_str().expect("msg").contains("pagerduty, linear, sentry, slack"));
    let e = configure(&s, "pagerduty", json!({ "apiKey": "x" })).expect_error(400, "MISSING_FIELD");
    assert!(e["error"].as_str().expect("msg").contains("config.fromEmail"));
    configure(&s, "sentry", json!({ "authToken": "x" })).expect_error(400, "MISSING_FIELD");
    configure(&s, "linear", json!({ "apiKey": 5 })).expect_error(400, "INVALID_FIELD");
    post(&s, "/api/integrations/configure", json!({ "integration": "linear" }))
        .expect_error(400, "MISSING_FIELD");
    // Slack through this API is the same configuration the outbox uses.
    assert_eq!(configure(&s, "slack", json!({ "botToken": "xoxb-1" })).status, 200);
    assert_eq!(status_of(&s, "slack")["configured"], true);
    let channels = s.get("/api/channels").json();
    assert!(channels.to_string().contains(r#""configured":true"#));
}

#[test]
fn pagerduty_on_call_incidents_and_acknowledge() {
    let fake = FakeIntegrations::start();
    let s = server(&fake, &[]);
    get(&s, "/api/integrations/pagerduty/oncall").expect_error(400, "INTEGRATION_NOT_CONFIGURED");
    let e = get(&s, "/api/integrations/pagerduty/incidents")
        .expect_error(400, "INTEGRATION_NOT_CONFIGURED");
    assert_eq!(e["error"], "PagerDuty integration is not configured");
    configure_all(&s);

    let oncall = get(&s, "/api/integrations/pagerduty/oncall").json();
    assert_eq!(
        oncall["oncall"],
        json!({ "userId": "PUSR001", "name": "Alice Oncall", "email": "alice@acme.test", "escalationLevel": 1,
                "since": "2026-11-23T00:00:00Z", "until": "2026-11-30T00:00:00Z" })
    );
    assert_eq!(oncall["all"].as_array().expect("all").len(), 2);
    let sent = fake.requests("/pagerduty/oncalls").pop().expect("oncalls call");
    assert_eq!(sent.header("authorization"), Some(format!("Token token={PAGERDUTY_KEY}").as_str()));
    assert_eq!(sent.header("accept"), Some("application/vnd.pagerduty+json;version=2"));
    assert_eq!(sent.query_all("include[]"), ["users"]);
    assert_eq!(sent.query_all("escalation_policy_ids[]"), ["PEP0001"], "from the configuration");
    get(&s, "/api/integrations/pagerduty/oncall?scheduleId=PSCH001&escalationPolicyId=PEP0009");
    let sent = fake.requests("/pagerduty/oncalls").pop().expect("oncalls call");
    assert_eq!(sent.query_all("schedule_ids[]"), ["PSCH001"]);
    assert_eq!(sent.query_all("escalation_policy_ids[]"), ["PEP0009"]);

    let incidents = get(&s, "/api/integrations/pagerduty/incidents").json();
    assert_eq!(incidents["total"], 2);
    assert_eq!(
        incidents["incidents"][0],
        json!({ "id": "PINC001", "title": "High error rate on api-gateway", "status": "triggered", "urgency": "high",
                "service": "api-gateway", "createdAt": "2026-11-23T10:20:00Z",
                "assignee": { "name": "Alice Oncall", "email": null },
                "htmlUrl": "https://acme.pagerduty.com/incidents/PINC001" })
    );
    assert_eq!(incidents["incidents"][1]["assignee"], Value::Null);
    let sent = fake.requests("/pagerduty/incidents").pop().expect("incidents call");
    assert_eq!(sent.query_all("statuses[]"), ["triggered", "acknowledged"]);
    assert_eq!(sent.query_all("limit"), ["25"]);
    let triggered =
        get(&s, "/api/integrations/pagerduty/incidents?status=triggered&limit=5").json();
    assert_eq!(triggered["total"], 1);
    let sent = fake.requests("/pagerduty/incidents").pop().expect("incidents call");
    assert_eq!(
        (sent.query_all("statuses[]"), sent.query_all("limit")),
        (vec!["triggered".to_owned()], vec!["5".to_owned()])
    );
    get(&s, "/api/integrations/pagerduty/incidents?status=open")
        .expect_error(400, "INVALID_PARAMETER");
    get(&s, "/api/integrations/pagerduty/incidents?limit=101")
        .expect_error(400, "INVALID_PARAMETER");

    let ack = post(
        &s,
        "/api/integrations/pagerduty/incidents/PINC001/acknowledge",
        json!({ "acknowledgedBy": "user-alice" }),
    );
    assert_eq!(ack.status, 200, "{}", String::from_utf8_lossy(&ack.body));
    let body = ack.json();
    assert_eq!(
        (body["id"].clone(), body["status"].clone()),
        (json!("PINC001"), json!("acknowledged"))
    );
    assert!(body["acknowledgedAt"].as_str().is_some());
    let sent = fake.requests("/pagerduty/incidents/PINC001").pop().expect("PUT");
    assert_eq!(sent.method, "PUT");
    assert_eq!(sent.header("from"), Some("oncall@acme.test"));
    assert_eq!(
        sent.json(),
        json!({ "incident": { "type": "incident_reference", "status": "acknowledged" } })
    );
    assert_eq!(s.audit_entries("pagerduty.acknowledge")[0]["actorId"], "user-alice");
    post(&s, "/api/integrations/pagerduty/incidents/PNOPE/acknowledge", json!({}))
        .expect_error(404, "INCIDENT_NOT_FOUND");
    assert_eq!(status_of(&s, "pagerduty")["status"], "active");
    assert!(status_of(&s, "pagerduty")["lastSync"].as_str().is_some());
}

#[test]
fn linear_teams_issues_and_create() {
    let fake = FakeIntegrations::start();
    let s = server(&fake, &[]);
    get(&s, "/api/integrations/linear/teams").expect_error(400, "INTEGRATION_NOT_CONFIGURED");
    configure_all(&s);
    let teams = get(&s, "/api/integrations/linear/teams").json();
    assert_eq!(
        teams,
        json!({ "teams": [{ "id": "72b2a2dc-6f4f-4a4e-9a8d-1b1c5d7e3f01", "name": "Engineering", "key": "ENG", "issueCount": 412 }] })
    );
    let sent = fake.requests("/linear/graphql").pop().expect("graphql");
    assert_eq!(sent.header("authorization"), Some(LINEAR_KEY), "personal keys go raw");
    assert!(sent.json()["query"].as_str().expect("query").contains("teams"));

    let issues = get(&s, "/api/integrations/linear/issues?team=team-eng&status=In%20Progress&assignee=user-1&limit=10").json();
    assert_eq!(issues["total"], 1);
    assert_eq!(
        issues["issues"][0],
        json!({ "id": "ENG-347", "uuid": "5b1f1c0e-0000-4000-8000-000000000347", "title": "Checkout times out",
                "status": "In Progress", "priority": 2, "assignee": { "name": "Alice" }, "labels": ["backend"],
                "createdAt": "2026-11-22T09:00:00.000Z", "url": "https://linear.app/acme/issue/ENG-347" })
    );
    let vars = fake.requests("/linear/graphql").pop().expect("graphql").json()["variables"].clone();
    assert_eq!(vars["first"], 10);
    assert_eq!(
        vars["filter"],
        json!({ "team": { "id": { "eq": "team-eng" } }, "state": { "name": { "eq": "In Progress" } }, "assignee": { "id": { "eq": "user-1" } } })
    );

    let created = post(
        &s,
        "/api/integrations/linear/issues",
        json!({ "title": "Checkout fails", "description": "500s", "priority": 1, "labels": ["backend", "bug"] }),
    );
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    assert_eq!(
        created.json(),
        json!({ "id": "ENG-348", "uuid": "9cfb482a-81e3-4154-b5b9-2c805e70a02d", "title": "Checkout fails", "status": "Todo",
                "url": "https://linear.app/acme/issue/ENG-348/checkout-fails" })
    );
    let calls = fake.requests("/linear/graphql");
    let labels = &calls[calls.len() - 2];
    assert_eq!(
        labels.json()["variables"],
        json!({ "id": "team-eng", "first": 100, "after": null }),
        "the configured team, from its first page"
    );
    let create = calls.last().expect("create").json();
    assert!(create["query"].as_str().expect("query").contains("issueCreate"));
    assert_eq!(
        create["variables"]["input"],
        json!({ "teamId": "team-eng", "title": "Checkout fails", "description": "500s", "priority": 1, "labelIds": ["lbl-backend", "lbl-bug"] })
    );
    assert_eq!(s.audit_entries("linear.issue_create")[0]["metadata"]["issueId"], "ENG-348");

    let before = fake.requests("/linear/graphql").len();
    post(&s, "/api/integrations/linear/issues", json!({ "title": "x", "labels": ["frontend"] }))
        .expect_error(400, "UNKNOWN_LABEL");
    assert_eq!(fake.requests("/linear/graphql").len(), before + 1, "no issue created");
    post(&s, "/api/integrations/linear/issues", json!({ "title": "x", "priority": 7 }))
        .expect_error(400, "INVALID_FIELD");
    post(&s, "/api/integrations/linear/issues", json!({ "teamId": "t" }))
        .expect_error(400, "MISSING_FIELD");

    // A GraphQL `errors` answer is an upstream error.
    fake.state.lock().expect("state").graphql_error = true;
    let e = get(&s, "/api/integrations/linear/teams").expect_error(502, "UPSTREAM_ERROR");
    assert!(e["details"].as_str().expect("details").contains("Entity not found"), "{e}");
    assert_eq!(status_of(&s, "linear")["status"], "error");
}

#[test]
fn sentry_issues_by_project_or_organization() {
    let fake = FakeIntegrations::start();
    let s = server(&fake, &[]);
    get(&s, "/api/integrations/sentry/issues").expect_error(400, "INTEGRATION_NOT_CONFIGURED");
    configure_all(&s);
    let issues = get(&s, "/api/integrations/sentry/issues").json();
    assert_eq!(issues["total"], 1);
    assert_eq!(
        issues["issues"][0],
        json!({ "id": "4209801234", "title": "TypeError: Cannot read properties of undefined (reading 'id')",
                "culprit": "handler(src/routes/orders.ts)", "level": "error", "count": 57, "userCount": 12,
                "firstSeen": "2026-11-23T10:15:02.000000Z", "lastSeen": "2026-11-23T11:02:40.000000Z",
                "permalink": "https://acme.sentry.io/issues/4209801234/" })
    );
    let sent = fake.requests("/sentry").pop().expect("sentry call");
    assert_eq!(sent.path(), "/sentry/api/0/projects/acme/api-gateway/issues/");
    assert_eq!(sent.header("authorization"), Some(format!("Bearer {SENTRY_TOKEN}").as_str()));
    assert_eq!(
        (sent.query_all("query"), sent.query_all("limit")),
        (vec!["is:unresolved".to_owned()], vec!["25".to_owned()])
    );
    get(&s, "/api/integrations/sentry/issues?project=web&query=is:resolved&limit=3")
        .expect_error(502, "UPSTREAM_ERROR");
    let sent = fake.requests("/sentry").pop().expect("sentry call");
    assert_eq!(sent.path(), "/sentry/api/0/projects/acme/web/issues/");
    assert_eq!(sent.query_all("query"), ["is:resolved"]);
    // Without a project: the organization's issues.
    configure(&s, "sentry", json!({ "authToken": SENTRY_TOKEN, "org": "acme" }));
    assert_eq!(get(&s, "/api/integrations/sentry/issues").json()["total"], 2);
    assert_eq!(
        fake.requests("/sentry").pop().expect("call").path(),
        "/sentry/api/0/organizations/acme/issues/"
    );
}

#[test]
fn upstream_failures_auth_errors_and_timeouts() {
    let fake = FakeIntegrations::start();
    let s = server(&fake, &[("SPAR_UPSTREAM_TIMEOUT_MS", "1500")]);
    configure(&s, "pagerduty", json!({ "apiKey": "wrong-key", "fromEmail": "a@b.test" }));
    configure(&s, "sentry", json!({ "authToken": "wrong", "org": "acme" }));
    configure(&s, "linear", json!({ "apiKey": "lin_api_wrong" }));
    let e =
        get(&s, "/api/integrations/pagerduty/incidents").expect_error(502, "UPSTREAM_AUTH_FAILED");
    assert!(e["details"].as_str().expect("details").contains("Authentication failed"));
    let pd = status_of(&s, "pagerduty");
    assert_eq!(pd["status"], "error");
    assert!(
        pd["lastError"].as_str().is_some_and(|m| m.contains("401") || m.contains("credentials")),
        "{pd}"
    );
    get(&s, "/api/integrations/sentry/issues").expect_error(502, "UPSTREAM_AUTH_FAILED");
    get(&s, "/api/integrations/linear/teams").expect_error(502, "UPSTREAM_AUTH_FAILED");
    assert_eq!(status_of(&s, "linear")["status"], "error");
    // Fixing the credentials clears the error.
    configure_all(&s);
    assert_eq!(status_of(&s, "pagerduty")["status"], "active");

    fake.state.lock().expect("state").outage = Some(500);
    let e = get(&s, "/api/integrations/pagerduty/incidents").expect_error(502, "UPSTREAM_ERROR");
    assert!(e["details"].as_str().expect("details").contains("500"), "{e}");
    fake.state.lock().expect("state").outage = None;

    // A slow upstream: 504 after the (shortened) timeout, and the server keeps answering.
    fake.state.lock().expect("state").delay = Some(Duration::from_secs(5));
    let addr = s.addr;
    let slow = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        use std::io::{Read, Write};
        let req = "GET /api/integrations/sentry/issues HTTP/1.1\r\nHost: x\r\nx-org-id: default\r\nConnection: close\r\n\r\n";
        stream.write_all(req.as_bytes()).expect("send");
        let mut out = String::new();
        let _ = stream.read_to_string(&mut out);
        out
    });
    std::thread::sleep(Duration::from_millis(200));
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(s.get("/health").status, 200);
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "/health took {:?}",
            started.elapsed()
        );
    }
    let answer = slow.join().expect("slow call");
    assert!(answer.contains("504") && answer.contains("UPSTREAM_TIMEOUT"), "{answer}");
    fake.state.lock().expect("state").delay = None;
}

#[test]
fn no_secret_value_appears_in_responses_audit_or_logs() {
    let fake = FakeIntegrations::start();
    let s = server(&fake, &[]);
    let mut seen = String::new();
    let mut keep = |r: Resp| seen.push_str(&String::from_utf8_lossy(&r.body));
    keep(configure(
        &s,
        "pagerduty",
        json!({ "apiKey": PAGERDUTY_KEY, "fromEmail": "oncall@acme.test", "routingKey": PAGERDUTY_ROUTING_KEY }),
    ));
    keep(configure(&s, "linear", json!({ "apiKey": LINEAR_KEY })));
    keep(configure(
        &s,
        "sentry",
        json!({ "authToken": SENTRY_TOKEN, "org": "acme", "webhookSecret": "whsec-sentry-0123" }),
    ));
    keep(configure(&s, "slack", json!({ "botToken": "xoxb-secret-0123" })));
    keep(s.post(
        "/api/channels/configure",
        &json!({ "channel": "telegram", "config": { "botToken": "999:telegram-secret" } }),
    ));
    for path in [
        "/api/integrations/status",
        "/api/integrations/pagerduty/oncall",
        "/api/integrations/pagerduty/incidents",
        "/api/integrations/linear/teams",
        "/api/integrations/linear/issues",
        "/api/integrations/sentry/issues",
    ] {
        keep(get(&s, path));
    }
    fake.state.lock().expect("state").outage = Some(401);
    keep(get(&s, "/api/integrations/pagerduty/incidents"));
    keep(get(&s, "/api/integrations/status"));
    keep(s.get("/api/channels"));
    keep(s.get("/api/audit?limit=100"));
    let log = s.log();
    for secret in [
        PAGERDUTY_KEY,
        PAGERDUTY_ROUTING_KEY,
        LINEAR_KEY,
        SENTRY_TOKEN,
        "whsec-sentry-0123",
        "xoxb-secret-0123",
        "999:telegram-secret",
    ] {
        assert!(!seen.contains(secret), "{secret} in a response");
        assert!(!log.contains(secret), "{secret} in the log");
    }
}
