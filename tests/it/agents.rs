//! Agents (docs/API.md §2.2), their lifecycle, errors and audit entries.

use crate::common::Server;
use serde_json::{Value, json};

fn create(s: &Server, body: Value) -> Value {
    let r = s.post("/api/agents", &body);
    assert_eq!(r.status, 201, "{}", r.json());
    r.json()
}

fn action(s: &Server, id: &str, body: Value) -> crate::common::Resp {
    s.post(&format!("/api/agents/{id}/action"), &body)
}

fn audit(s: &Server) -> Vec<Value> {
    s.get("/api/audit?limit=100").json()["entries"].as_array().cloned().unwrap_or_default()
}

#[test]
fn create_returns_the_contract_shape_and_defaults() {
    let s = Server::start();
    let a = create(&s, json!({"name": "api-gateway-agent", "type": "review"}));
    let id = a["id"].as_str().expect("id");
    assert!(id.starts_with("agent-review-") && id.len() == "agent-review-".len() + 6, "{id}");
    assert!(
        id["agent-review-".len()..].chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    );
    assert_eq!(a["name"], "api-gateway-agent");
    assert_eq!(a["type"], "review");
    assert_eq!(a["status"], "ACTIVE");
    assert_eq!(a["autonomyLevel"], 1);
    assert_eq!(a["projectId"], Value::Null);
    assert_eq!(a["orgId"], "default");
    let created = a["createdAt"].as_str().expect("createdAt");
    assert!(
        created.len() == 24 && created.ends_with('Z') && created.as_bytes()[19] == b'.',
        "{created}"
    );
    let keys: Vec<&str> = a.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["id", "name", "type", "status", "autonomyLevel", "projectId", "orgId", "createdAt"]
    );

    for (t, kind) in
        [("task", "task"), ("deploy", "deploy"), ("incident", "inc"), ("coordinator", "coord")]
    {
        let a = create(&s, json!({"name": format!("{t}-agent"), "type": t, "autonomyLevel": 5}));
        assert!(a["id"].as_str().is_some_and(|i| i.starts_with(&format!("agent-{kind}-"))), "{a}");
        assert_eq!(a["autonomyLevel"], 5);
    }
}

#[test]
fn list_filters_and_detail() {
    let s = Server::start();
    let t = create(&s, json!({"name": "task-one", "type": "task"}));
    let r = create(&s, json!({"name": "review-one", "type": "review", "autonomyLevel": 2}));
    let list = s.get("/api/agents").json();
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    assert_eq!(list[0]["id"], t["id"]);
    for key in ["uptime", "lastActivity", "createdAt", "orgId"] {
        assert!(list[0].get(key).is_some(), "{key} missing: {}", list[0]);
    }
    assert_eq!(list[0]["lastActivity"], Value::Null);
    assert_eq!(s.get("/api/agents?type=review").json().as_array().map(Vec::len), Some(1));
    assert_eq!(s.get("/api/agents?type=review").json()[0]["id"], r["id"]);
    assert_eq!(s.get("/api/agents?status=ACTIVE").json().as_array().map(Vec::len), Some(2));
    assert_eq!(s.get("/api/agents?status=SUSPENDED").json().as_array().map(Vec::len), Some(0));
    assert_eq!(s.get("/api/agents?projectId=proj-001").json().as_array().map(Vec::len), Some(0));
    s.get("/api/agents?type=robot").expect_error(400, "INVALID_PARAMETER");

    let id = r["id"].as_str().expect("id");
    let d = s.get(&format!("/api/agents/{id}")).json();
    assert_eq!(d["id"], id);
    assert_eq!(d["project"], Value::Null);
    assert_eq!(
        d["stats"],
        json!({"messagesProcessed": 0, "tasksCompleted": 0, "reviewsPerformed": 0, "deploysTriggered": 0, "incidentsHandled": 0})
    );
    assert_eq!(d["memory"]["embeddings"], json!([]));
    s.get("/api/agents/agent-task-zzzzzz").expect_error(404, "AGENT_NOT_FOUND");
}

#[test]
fn create_errors() {
    let s = Server::start();
    create(&s, json!({"name": "taken-name", "type": "task"}));
    let body = s
        .post("/api/agents", &json!({"name": "taken-name", "type": "deploy"}))
        .expect_error(409, "AGENT_ALREADY_EXISTS");
    assert!(body["error"].as_str().is_some_and(|m| m.contains("taken-name")));
    s.post("/api/agents", &json!({"name": "robot-agent", "type": "robot"}))
        .expect_error(400, "INVALID_AGENT_TYPE");
    s.post("/api/agents", &json!({"name": "lvl-agent", "type": "task", "autonomyLevel": 6}))
        .expect_error(400, "INVALID_AUTONOMY_LEVEL");
    s.post("/api/agents", &json!({"name": "lvl-agent", "type": "task", "autonomyLevel": -1}))
        .expect_error(400, "INVALID_AUTONOMY_LEVEL");
    s.post("/api/agents", &json!({"name": "lvl-agent", "type": "task", "autonomyLevel": 2.5}))
        .expect_error(400, "INVALID_AUTONOMY_LEVEL");
    s.post("/api/agents", &json!({"name": "lvl-agent", "type": "task", "autonomyLevel": "2"}))
        .expect_error(400, "INVALID_FIELD");
    for bad in ["ab", "-starts-with-hyphen", "ends-", "under_score", &"x".repeat(51)] {
        s.post("/api/agents", &json!({"name": bad, "type": "task"}))
            .expect_error(400, "INVALID_FIELD");
    }
    s.post("/api/agents", &json!({"type": "task"})).expect_error(400, "MISSING_FIELD");
    s.post("/api/agents", &json!({"name": "no-type"})).expect_error(400, "MISSING_FIELD");
    let body = s
        .post("/api/agents", &json!({"name": "proj-agent", "type": "project"}))
        .expect_error(400, "MISSING_FIELD");
    assert!(body["error"].as_str().is_some_and(|m| m.contains("projectId")));
    s.post(
        "/api/agents",
        &json!({"name": "proj-agent", "type": "project", "projectId": "proj-404"}),
    )
    .expect_error(404, "PROJECT_NOT_FOUND");
    // Nothing was stored by any failure.
    assert_eq!(s.get("/api/agents").json().as_array().map(Vec::len), Some(1));
    assert_eq!(audit(&s).len(), 1);
}

#[test]
fn actions_follow_the_lifecycle_and_are_audited() {
    let s = Server::start();
    let a = create(&s, json!({"name": "life-agent", "type": "deploy", "autonomyLevel": 1}));
    let id = a["id"].as_str().expect("id");

    let r = action(&s, id, json!({"action": "suspend"})).json();
    assert_eq!(
        (r["action"].as_str(), r["previousStatus"].as_str(), r["currentStatus"].as_str()),
        (Some("suspend"), Some("ACTIVE"), Some("SUSPENDED"))
    );
    assert!(r["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(s.get(&format!("/api/agents/{id}")).json()["uptime"], 0);
    action(&s, id, json!({"action": "suspend"})).expect_error(409, "INVALID_STATE");

    let r = action(&s, id, json!({"action": "resume"})).json();
    assert_eq!(
        (r["previousStatus"].as_str(), r["currentStatus"].as_str()),
        (Some("SUSPENDED"), Some("ACTIVE"))
    );
    action(&s, id, json!({"action": "resume"})).expect_error(409, "INVALID_STATE");

    let r = action(&s, id, json!({"action": "restart"})).json();
    assert_eq!(
        (r["previousStatus"].as_str(), r["currentStatus"].as_str(), r["uptime"].as_u64()),
        (Some("ACTIVE"), Some("ACTIVE"), Some(0))
    );

    let r = action(&s, id, json!({"action": "set_autonomy", "params": {"level": 3}})).json();
    assert_eq!((r["previousLevel"].as_u64(), r["currentLevel"].as_u64()), (Some(1), Some(3)));
    let r = action(&s, id, json!({"action": "set_autonomy", "level": 4})).json();
    assert_eq!(r["currentLevel"], 4);
    let r = action(&s, id, json!({"action": "set_autonomy", "autonomyLevel": 0})).json();
    assert_eq!((r["previousLevel"].as_u64(), r["currentLevel"].as_u64()), (Some(4), Some(0)));
    assert_eq!(s.get(&format!("/api/agents/{id}")).json()["autonomyLevel"], 0);

    let body = action(&s, id, json!({"action": "explode"})).expect_error(400, "INVALID_ACTION");
    assert_eq!(
        body["error"],
        "Invalid action. Must be one of: suspend, resume, restart, set_autonomy"
    );
    let body = action(&s, id, json!({"action": "set_autonomy", "params": {"level": 9}}))
        .expect_error(400, "INVALID_AUTONOMY_LEVEL");
    assert_eq!(body["error"], "Autonomy level must be between 0 and 5");
    action(&s, id, json!({"action": "set_autonomy"})).expect_error(400, "MISSING_FIELD");
    action(&s, id, json!({})).expect_error(400, "MISSING_FIELD");
    action(&s, "agent-task-nobody", json!({"action": "suspend"}))
        .expect_error(404, "AGENT_NOT_FOUND");

    let actions: Vec<String> =
        audit(&s).iter().rev().map(|e| e["action"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(
        actions,
        [
            "agent_spawn",
            "agent.suspend",
            "agent.resume",
            "agent.restart",
            "autonomy_change",
            "autonomy_change",
            "autonomy_change"
        ]
    );
    let newest = &audit(&s)[0];
    assert_eq!(newest["actorType"], "user");
    assert_eq!(newest["actorId"], "api");
    assert_eq!(newest["metadata"]["agentId"], id);
    assert_eq!(newest["metadata"]["currentLevel"], 0);
}

#[test]
fn delete_removes_and_never_reuses_the_id() {
    let s = Server::start();
    let a = create(&s, json!({"name": "short-lived", "type": "task"}));
    let id = a["id"].as_str().expect("id");
    let r = s.call("DELETE", &format!("/api/agents/{id}"), &[("X-Actor", "slack:U42")], None);
    assert_eq!(r.json(), json!({"id": id, "deleted": true, "message": "Agent removed"}));
    s.get(&format!("/api/agents/{id}")).expect_error(404, "AGENT_NOT_FOUND");
    s.delete(&format!("/api/agents/{id}")).expect_error(404, "AGENT_NOT_FOUND");
    action(&s, id, json!({"action": "restart"})).expect_error(404, "AGENT_NOT_FOUND");
    // The name is free again; the id is not handed out again.
    let again = create(&s, json!({"name": "short-lived", "type": "task"}));
    assert_ne!(again["id"], a["id"]);
    let entries = audit(&s);
    let terminate =
        entries.iter().find(|e| e["action"] == "agent_terminate").expect("agent_terminate entry");
    assert_eq!(terminate["actorId"], "slack:U42");
    assert_eq!(terminate["metadata"]["agentId"], id);
}

#[test]
fn agent_types_lists_the_six_with_lifecycles() {
    let s = Server::start();
    let types = s.get("/api/agent-types").json();
    let pairs: Vec<(String, String)> = types
        .as_array()
        .expect("array")
        .iter()
        .map(|t| {
            (t["type"].as_str().unwrap_or("").into(), t["lifecycle"].as_str().unwrap_or("").into())
        })
        .collect();
    let expected = [
        ("project", "persistent"),
        ("task", "ephemeral"),
        ("review", "ephemeral"),
        ("deploy", "ephemeral"),
        ("incident", "ephemeral"),
        ("coordinator", "persistent"),
    ];
    assert_eq!(pairs, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
    assert!(types[0]["description"].as_str().is_some_and(|d| !d.is_empty()));
}

#[test]
fn lists_reflect_every_write_at_once() {
    // The list is cached per second; every commit must invalidate it immediately.
    let s = Server::start();
    for i in 0..5 {
        assert_eq!(s.get("/api/agents").json().as_array().map(Vec::len), Some(i));
        let a = create(&s, json!({"name": format!("fresh-{i}"), "type": "task"}));
        let id = a["id"].as_str().expect("id");
        let listed = s.get("/api/agents").json();
        assert_eq!(listed.as_array().map(Vec::len), Some(i + 1));
        assert_eq!(action(&s, id, json!({"action": "suspend"})).status, 200);
        let listed = s.get("/api/agents?status=SUSPENDED").json();
        assert_eq!(listed.as_array().map(Vec::len), Some(i + 1));
        assert!(listed.as_array().expect("array").iter().any(|a| a["id"] == id));
    }
}
