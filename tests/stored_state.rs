//! Behaviour that depends on state no API can create yet (projects arrive with the projects
//! API, terminated agents with the engine) or on damage: set up through the test-only store
//! helper while the server is stopped, then driven over HTTP.

mod common;

use common::{Server, get_row, put_row};
use serde_json::json;

fn project(id: &str, agent_id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id, "name": "api", "repo": "acme/api", "defaultBranch": "main",
        "agentId": agent_id, "orgId": "default", "createdAtMs": 1_795_429_800_000_i64,
    }))
    .expect("json")
}

#[test]
fn the_agent_of_a_project_cannot_be_deleted_and_shows_its_project() {
    let mut s = Server::start();
    s.terminate();
    put_row(&s, "projects", "default", "proj-001", &project("proj-001", "pending"));
    s.start_again();

    let a = s.post(
        "/api/agents",
        &json!({"name": "api-agent", "type": "project", "projectId": "proj-001"}),
    );
    assert_eq!(a.status, 201, "{}", a.json());
    let id = a.json()["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("agent-proj-"));
    let detail = s.get(&format!("/api/agents/{id}")).json();
    assert_eq!(
        detail["project"],
        json!({"id": "proj-001", "name": "api", "repo": "acme/api", "defaultBranch": "main"})
    );
    assert_eq!(s.get("/api/agents?projectId=proj-001").json().as_array().map(Vec::len), Some(1));

    s.terminate();
    put_row(&s, "projects", "default", "proj-001", &project("proj-001", &id));
    s.start_again();
    s.delete(&format!("/api/agents/{id}")).expect_error(409, "AGENT_HAS_PROJECT");
    let org = s.get("/api/orgs/default").json();
    assert_eq!(org["projectCount"], 1);
    assert_eq!(org["projects"][0]["agentId"], id.as_str());
    assert_eq!(org["projects"][0]["agentStatus"], "ACTIVE");
    // Still there, and no audit entry was written for the refused delete.
    assert_eq!(s.get(&format!("/api/agents/{id}")).status, 200);
    assert!(
        s.get("/api/audit").json()["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .all(|e| e["action"] != "agent_terminate")
    );
}

#[test]
fn a_terminated_agent_refuses_every_action() {
    let mut s = Server::start();
    let a = s.post("/api/agents", &json!({"name": "done-agent", "type": "incident"})).json();
    let id = a["id"].as_str().expect("id").to_owned();
    s.terminate();
    let mut row = get_row(&s, "agents", "default", &id).expect("stored agent");
    row["status"] = json!("TERMINATED");
    put_row(&s, "agents", "default", &id, &serde_json::to_vec(&row).expect("json"));
    s.start_again();
    assert_eq!(s.get(&format!("/api/agents/{id}")).json()["uptime"], 0);
    for action in [
        json!({"action": "suspend"}),
        json!({"action": "resume"}),
        json!({"action": "restart"}),
        json!({"action": "set_autonomy", "level": 2}),
    ] {
        s.post(&format!("/api/agents/{id}/action"), &action).expect_error(409, "INVALID_STATE");
    }
}

#[test]
fn a_corrupt_record_is_a_500_that_leaks_nothing_and_is_logged_with_its_request_id() {
    let mut s = Server::start();
    let a = s.post("/api/agents", &json!({"name": "broken-agent", "type": "task"})).json();
    let id = a["id"].as_str().expect("id").to_owned();
    s.terminate();
    put_row(&s, "agents", "default", &id, b"{not json");
    s.start_again();
    let r = s.get(&format!("/api/agents/{id}"));
    let body = r.expect_error(500, "INTERNAL");
    assert_eq!(body, json!({"error": "Internal server error", "code": "INTERNAL", "status": 500}));
    let request_id = r.header("x-request-id").expect("request id").to_owned();
    let log = s.log();
    let line = log
        .lines()
        .find(|l| l.contains(&request_id))
        .expect("the 500 is logged with its request id");
    assert!(line.contains("corrupt record"), "{line}");
    // Other agents and the server itself are unaffected.
    assert_eq!(s.get("/health").status, 200);
}
