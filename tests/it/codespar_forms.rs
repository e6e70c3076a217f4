//! CodeSpar's own request forms, taken where they are unambiguous (docs/MIGRATING.md §3): org
//! `{id}`, routes keyed by destination with alert types, the destination delete path, and
//! `?project=` by a project's id, repository or name.

use serde_json::{Value, json};

use crate::common::fake::{FakeChat, SLACK_TOKEN};
use crate::common::{Server, fixture, sign, stamped};

fn in_org(org: &str) -> [(&'static str, &str); 1] {
    [("x-org-id", org)]
}

#[test]
fn an_org_created_by_id_keeps_it() {
    let s = Server::start();
    let r = s.post("/api/orgs", &json!({ "id": "org_2abcClerk" }));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let org = r.json();
    assert_eq!(
        (org["id"].as_str(), org["name"].as_str()),
        (Some("org_2abcClerk"), Some("org_2abcClerk"))
    );
    assert_eq!(org["slug"], "org-2abcclerk");
    let named = s.post("/api/orgs", &json!({ "id": "org-acme", "name": "Acme Inc" })).json();
    assert_eq!(
        (named["id"].as_str(), named["name"].as_str(), named["slug"].as_str()),
        (Some("org-acme"), Some("Acme Inc"), Some("acme"))
    );

    let again = s.post("/api/orgs", &json!({ "id": "org-acme" }));
    let body = again.expect_error(409, "ORG_ALREADY_EXISTS");
    assert_eq!(body["error"], "Organization 'org-acme' already exists");
    s.post("/api/orgs", &json!({ "id": "default" })).expect_error(409, "ORG_ALREADY_EXISTS");
    for bad in ["bad id", "-leading", &"x".repeat(65)] {
        let body = s.post("/api/orgs", &json!({ "id": bad })).expect_error(400, "INVALID_FIELD");
        assert!(body["error"].as_str().is_some_and(|m| m.contains("id")), "{body}");
    }
    s.post("/api/orgs", &json!({ "id": 7 })).expect_error(400, "INVALID_FIELD");
    s.post("/api/orgs", &json!({ "id": "org-x", "clerkOrgId": "y" }))
        .expect_error(400, "INVALID_FIELD");

    // The org is a real one: it scopes requests and starts its own chain.
    let agent = s.call(
        "POST",
        "/api/agents",
        &in_org("org_2abcClerk"),
        Some(&json!({ "name": "clerk-agent", "type": "task" })),
    );
    assert_eq!(agent.status, 201);
    assert_eq!(agent.json()["orgId"], "org_2abcClerk");
    let trail =
        s.call("GET", "/api/audit?action=org.create", &in_org("org_2abcClerk"), None).json();
    assert_eq!(trail["total"], 1, "{trail}");
}

fn routes(s: &Server) -> Vec<Value> {
    let r = s.call("GET", "/api/channel-routes", &in_org("default"), None).json();
    r["routes"].as_array().cloned().unwrap_or_default()
}

#[test]
fn routes_in_codespars_shape_are_spars_routes_to_one_destination() {
    let chat = FakeChat::start();
    let mut env = chat.env();
    env.push(("SENTRY_WEBHOOK_SECRET".into(), "forms-secret".into()));
    env.push(("SPAR_OUTBOX_BACKOFF_MS".into(), "100".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let s = Server::with(&["--rate-limit-api", "0", "--rate-limit-webhooks", "0"], &env);
    let r = s.call(
        "POST",
        "/api/channels/configure",
        &in_org("default"),
        Some(&json!({ "channel": "slack", "config": { "botToken": SLACK_TOKEN } })),
    );
    assert_eq!(r.status, 200);

    let body = json!({ "channelType": "slack", "channelId": " C0ALERTS ", "channelName": "#alerts", "alertTypes": ["deploy", "error"] });
    let r = s.call("POST", "/api/channel-routes", &in_org("default"), Some(&body));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let created = r.json();
    assert_eq!(created["success"], true);
    assert_eq!(
        created["route"],
        json!({ "channelType": "slack", "channelId": "C0ALERTS", "channelName": "#alerts", "alertTypes": ["deploy", "error"] })
    );
    let listed = routes(&s);
    let patterns: Vec<(&str, &str, &str, Value)> = listed
        .iter()
        .map(|r| {
            (
                r["eventType"].as_str().unwrap_or(""),
                r["channelType"].as_str().unwrap_or(""),
                r["channelId"].as_str().unwrap_or(""),
                r["alertTypes"].clone(),
            )
        })
        .collect();
    assert_eq!(
        patterns,
        [
            ("deploy.*", "slack", "C0ALERTS", json!(["deploy"])),
            ("incident.triggered", "slack", "C0ALERTS", json!(["error"]))
        ]
    );

    // The mapped route works like any route: a new Sentry incident reaches the destination once.
    let raw = stamped(&fixture("sentry/event_alert.fatal.json"), "forms-1");
    let headers = [("Content-Type", "application/json"), ("Sentry-Hook-Resource", "event_alert")];
    let signature = sign("forms-secret", &raw);
    let mut with_sig = headers.to_vec();
    with_sig.push(("Sentry-Hook-Signature", signature.as_str()));
    let r = s.raw_request("POST", "/webhooks/sentry", &with_sig, &raw);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let sent = chat.wait_for(1);
    assert_eq!(sent[0].json()["channel"], "C0ALERTS", "{:?}", sent[0].json());
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(chat.messages().len(), 1);

    // Upsert: the destination's routes are replaced, other destinations' kept.
    let other = json!({ "eventType": "ci.*", "channel": "slack", "channelId": "C0CI" });
    assert_eq!(s.call("POST", "/api/channel-routes", &in_org("default"), Some(&other)).status, 201);
    let body =
        json!({ "channelType": "slack", "channelId": "C0ALERTS", "alertTypes": ["error", "all"] });
    let created = s.call("POST", "/api/channel-routes", &in_org("default"), Some(&body)).json();
    assert_eq!(created["routes"].as_array().map(Vec::len), Some(1), "{created}");
    let now: Vec<(String, String)> = routes(&s)
        .iter()
        .map(|r| {
            (
                r["channelId"].as_str().unwrap_or("").to_owned(),
                r["eventType"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        now,
        [("C0CI".to_owned(), "ci.*".to_owned()), ("C0ALERTS".to_owned(), "*".to_owned())]
    );

    // What CodeSpar refuses, and mixing the two forms.
    let bad = json!({ "channelType": "slack", "channelId": "C1", "alertTypes": ["nope"] });
    let err = s
        .call("POST", "/api/channel-routes", &in_org("default"), Some(&bad))
        .expect_error(400, "INVALID_FIELD");
    assert!(
        err["error"].as_str().is_some_and(|m| m
            .contains("Invalid alert type \"nope\". Must be one of: deploy, error, incident, all")),
        "{err}"
    );
    let empty = json!({ "channelType": "slack", "channelId": "C1", "alertTypes": [] });
    s.call("POST", "/api/channel-routes", &in_org("default"), Some(&empty))
        .expect_error(400, "INVALID_FIELD");
    let none = json!({ "channelType": "slack", "channelId": "C1" });
    s.call("POST", "/api/channel-routes", &in_org("default"), Some(&none))
        .expect_error(400, "MISSING_FIELD");
    let mixed = json!({ "channelType": "slack", "channel": "slack", "channelId": "C1", "alertTypes": ["all"] });
    s.call("POST", "/api/channel-routes", &in_org("default"), Some(&mixed))
        .expect_error(400, "INVALID_FIELD");
    let sms = json!({ "channelType": "sms", "channelId": "C1", "alertTypes": ["all"] });
    s.call("POST", "/api/channel-routes", &in_org("default"), Some(&sms))
        .expect_error(400, "INVALID_CHANNEL");
    let filtered = json!({ "channelType": "slack", "channelId": "C1", "alertTypes": ["all"], "projectFilter": "no-such" });
    s.call("POST", "/api/channel-routes", &in_org("default"), Some(&filtered))
        .expect_error(404, "PROJECT_NOT_FOUND");
    s.call(
        "POST",
        "/api/channel-routes",
        &[],
        Some(&json!({ "channelType": "slack", "channelId": "C1", "alertTypes": ["all"] })),
    )
    .expect_error(400, "MISSING_ORG_ID");

    // A project filter names a project by repository name, as CodeSpar's did.
    assert_eq!(s.post("/api/projects", &json!({ "repo": "acme/web" })).status, 201);
    let filtered = json!({ "channelType": "discord", "channelId": "D1", "alertTypes": ["incident"], "projectFilter": "web" });
    let created = s.call("POST", "/api/channel-routes", &in_org("default"), Some(&filtered)).json();
    assert_eq!(created["routes"][0]["projectId"], "proj-001", "{created}");
    assert_eq!(created["route"]["projectFilter"], "web");

    // Delete by destination: every route to it, audited one by one.
    let r = s.call("DELETE", "/api/channel-routes/slack/C0ALERTS", &in_org("default"), None);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let gone = r.json();
    assert_eq!(gone["success"], true);
    assert_eq!(gone["removed"], json!({ "channelType": "slack", "channelId": "C0ALERTS" }));
    assert_eq!(gone["deleted"].as_array().map(Vec::len), Some(1));
    assert!(routes(&s).iter().all(|r| r["channelId"] != "C0ALERTS"));
    s.call("DELETE", "/api/channel-routes/slack/C0ALERTS", &in_org("default"), None)
        .expect_error(404, "ROUTE_NOT_FOUND");
    s.call("DELETE", "/api/channel-routes/slack/C0CI", &in_org("other"), None)
        .expect_error(404, "ORG_NOT_FOUND");
    let removals =
        s.call("GET", "/api/audit?action=channel-route.remove", &in_org("default"), None).json();
    assert_eq!(removals["total"], 3, "two replaced, one deleted: {removals}");
}

#[test]
fn project_names_a_project_by_id_repository_or_name_on_agents_and_audit() {
    let s = Server::start();
    let web = s.post("/api/projects", &json!({ "repo": "acme/web" })).json();
    let api = s.post("/api/projects", &json!({ "repo": "acme/api" })).json();
    let (web_id, web_agent) =
        (web["id"].as_str().expect("id"), web["agentId"].as_str().expect("agent"));
    let api_agent = api["agentId"].as_str().expect("agent");
    let task =
        s.post("/api/agents", &json!({ "name": "web-task", "type": "task", "projectId": web_id }));
    assert_eq!(task.status, 201);
    let task_id = task.json()["id"].as_str().expect("id").to_owned();

    for name in ["web", "acme/web", "ACME/Web", web_id] {
        let agents = s.get(&format!("/api/agents?project={}", name.replace('/', "%2F"))).json();
        let mut ids: Vec<&str> =
            agents.as_array().expect("agents").iter().filter_map(|a| a["id"].as_str()).collect();
        ids.sort_unstable();
        let mut want = vec![web_agent, task_id.as_str()];
        want.sort_unstable();
        assert_eq!(ids, want, "?project={name}");
    }
    let none = s.get("/api/agents?project=nothing").json();
    assert_eq!(none, json!([]));
    let api_only = s.get("/api/agents?project=api").json();
    assert_eq!(
        api_only.as_array().map(|a| a.iter().filter_map(|x| x["id"].as_str()).collect::<Vec<_>>()),
        Some(vec![api_agent])
    );

    // The audit trail: entries about the project, named any of those ways.
    for name in ["web", "acme/web", web_id] {
        let found = s.get(&format!("/api/audit?project={}", name.replace('/', "%2F"))).json();
        let entries = found["entries"].as_array().expect("entries");
        assert!(!entries.is_empty(), "?project={name}: {found}");
        assert!(
            entries.iter().all(|e| e["metadata"]["projectId"] == web_id),
            "?project={name}: {found}"
        );
        let actions: Vec<&str> = entries.iter().filter_map(|e| e["action"].as_str()).collect();
        assert!(actions.contains(&"project.create"), "{actions:?}");
    }
    let found = s.get("/api/audit?project=nothing").json();
    assert_eq!(found["total"], 0);
}
