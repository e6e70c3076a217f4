//! Orgs (docs/API.md §2.3) and org scoping (§1.5).

use crate::common::Server;
use serde_json::{Value, json};

fn in_org(org: &str) -> [(&'static str, &str); 1] {
    [("x-org-id", org)]
}

#[test]
fn create_list_and_detail() {
    let s = Server::start();
    let r = s.post("/api/orgs", &json!({"name": "Acme Corp"}));
    assert_eq!(r.status, 201);
    let org = r.json();
    assert_eq!(org["id"], "org-acme-corp");
    assert_eq!(org["slug"], "acme-corp");
    assert_eq!(org["name"], "Acme Corp");
    assert_eq!((org["projectCount"].as_u64(), org["memberCount"].as_u64()), (Some(0), Some(0)));
    let keys: Vec<&str> = org.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(keys, ["id", "name", "slug", "projectCount", "memberCount", "createdAt"]);

    let r = s.post("/api/orgs", &json!({"name": "Other Name", "slug": "beta"}));
    assert_eq!(r.json()["id"], "org-beta");

    let list = s.get("/api/orgs").json();
    let ids: Vec<&str> =
        list.as_array().expect("array").iter().filter_map(|o| o["id"].as_str()).collect();
    assert_eq!(ids, ["default", "org-acme-corp", "org-beta"]);

    let detail = s.get("/api/orgs/org-acme-corp").json();
    assert_eq!(detail["id"], "org-acme-corp");
    assert_eq!(detail["projects"], json!([]));
    assert_eq!(detail["members"], json!([]));
    s.get("/api/orgs/org-nope").expect_error(404, "ORG_NOT_FOUND");
}

#[test]
fn create_errors() {
    let s = Server::start();
    assert_eq!(s.post("/api/orgs", &json!({"name": "Acme Corp"})).status, 201);
    let body = s
        .post("/api/orgs", &json!({"name": "ACME  corp!"}))
        .expect_error(409, "ORG_ALREADY_EXISTS");
    assert_eq!(body["error"], "Organization with slug 'acme-corp' already exists");
    s.post("/api/orgs", &json!({})).expect_error(400, "MISSING_FIELD");
    s.post("/api/orgs", &json!({"name": "   "})).expect_error(400, "MISSING_FIELD");
    s.post("/api/orgs", &json!({"name": "!!!"})).expect_error(400, "INVALID_FIELD");
    s.post("/api/orgs", &json!({"name": "ok", "slug": "Bad Slug"}))
        .expect_error(400, "INVALID_FIELD");
    s.post("/api/orgs", &json!({"name": 7})).expect_error(400, "INVALID_FIELD");
    s.post("/api/orgs", &json!({"name": "x".repeat(101)})).expect_error(400, "INVALID_FIELD");
}

#[test]
fn org_header_scopes_reads_and_writes() {
    let s = Server::start();
    for name in ["Alpha", "Beta"] {
        assert_eq!(s.post("/api/orgs", &json!({ "name": name })).status, 201);
    }
    let in_alpha = s.call(
        "POST",
        "/api/agents",
        &in_org("org-alpha"),
        Some(&json!({"name": "alpha-agent", "type": "task"})),
    );
    assert_eq!(in_alpha.status, 201);
    assert_eq!(in_alpha.json()["orgId"], "org-alpha");
    let alpha_id = in_alpha.json()["id"].as_str().expect("id").to_owned();
    let in_default = s.post("/api/agents", &json!({"name": "default-agent", "type": "task"}));
    assert_eq!(in_default.json()["orgId"], "default");
    // The same name may exist in another org.
    let beta = s.call(
        "POST",
        "/api/agents",
        &in_org("org-beta"),
        Some(&json!({"name": "alpha-agent", "type": "task"})),
    );
    assert_eq!(beta.status, 201);
    let beta_id = beta.json()["id"].as_str().expect("id").to_owned();

    // No header: every org's agents and audit entries.
    let all = s.get("/api/agents").json();
    assert_eq!(all.as_array().map(Vec::len), Some(3));
    let audit_all = s.get("/api/audit").json();
    assert_eq!(audit_all["total"], 5, "{audit_all}");

    // A header: only that org.
    let alpha = s.call("GET", "/api/agents", &in_org("org-alpha"), None).json();
    let ids: Vec<&str> =
        alpha.as_array().expect("array").iter().filter_map(|a| a["id"].as_str()).collect();
    assert_eq!(ids, [alpha_id.as_str()]);
    let audit_alpha = s.call("GET", "/api/audit", &in_org("org-alpha"), None).json();
    assert_eq!(audit_alpha["total"], 2);
    assert!(
        audit_alpha["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .all(|e| e["orgId"] == "org-alpha")
    );
    let defaults = s.call("GET", "/api/agents", &in_org("default"), None).json();
    assert_eq!(defaults.as_array().map(Vec::len), Some(1));
    let orgs = s.call("GET", "/api/orgs", &in_org("org-beta"), None).json();
    assert_eq!(
        orgs.as_array().map(|o| o.iter().map(|x| x["id"].clone()).collect::<Vec<Value>>()),
        Some(vec![json!("org-beta")])
    );

    // Another org's record by id is 404, for reads and for writes.
    s.call("GET", &format!("/api/agents/{beta_id}"), &in_org("org-alpha"), None)
        .expect_error(404, "AGENT_NOT_FOUND");
    s.call(
        "POST",
        &format!("/api/agents/{beta_id}/action"),
        &in_org("org-alpha"),
        Some(&json!({"action": "suspend"})),
    )
    .expect_error(404, "AGENT_NOT_FOUND");
    s.call("DELETE", &format!("/api/agents/{beta_id}"), &in_org("default"), None)
        .expect_error(404, "AGENT_NOT_FOUND");
    s.call("GET", "/api/orgs/org-beta", &in_org("org-alpha"), None)
        .expect_error(404, "ORG_NOT_FOUND");
    // ...while its own org (or no header) finds it.
    assert_eq!(
        s.call("GET", &format!("/api/agents/{beta_id}"), &in_org("org-beta"), None).status,
        200
    );
    assert_eq!(s.get(&format!("/api/agents/{beta_id}")).status, 200);
    assert_eq!(s.get(&format!("/api/agents/{beta_id}")).json()["orgId"], "org-beta");
}
