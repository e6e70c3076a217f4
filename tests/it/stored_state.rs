//! Behaviour that depends on state no API can create directly (an agent terminated by other
//! means) or on damage: set up through the test-only store helper while the server is stopped,
//! then driven over HTTP. Projects are created through their API.

use crate::common::{Server, put_row};
use serde_json::json;

#[test]
fn the_agent_of_a_project_cannot_be_deleted_and_shows_its_project() {
    let s = Server::start();
    let p = s.post("/api/projects", &json!({"repo": "acme/api"}));
    assert_eq!(p.status, 201, "{}", p.json());
    let own = p.json()["agentId"].as_str().expect("agentId").to_owned();

    let a = s.post(
        "/api/agents",
        &json!({"name": "api-worker", "type": "project", "projectId": "proj-001"}),
    );
    assert_eq!(a.status, 201, "{}", a.json());
    let id = a.json()["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("agent-proj-"));
    let detail = s.get(&format!("/api/agents/{id}")).json();
    assert_eq!(
        detail["project"],
        json!({"id": "proj-001", "name": "api", "repo": "acme/api", "defaultBranch": "main"})
    );
    assert_eq!(s.get("/api/agents?projectId=proj-001").json().as_array().map(Vec::len), Some(2));

    s.delete(&format!("/api/agents/{own}")).expect_error(409, "AGENT_HAS_PROJECT");
    let org = s.get("/api/orgs/default").json();
    assert_eq!(org["projectCount"], 1);
    assert_eq!(org["projects"][0]["agentId"], own.as_str());
    assert_eq!(org["projects"][0]["agentStatus"], "ACTIVE");
    // Still there, and no audit entry was written for the refused delete.
    assert_eq!(s.get(&format!("/api/agents/{own}")).status, 200);
    assert!(s.audit_entries("agent_terminate").is_empty());
    // An agent that merely works on the project may go.
    assert_eq!(s.delete(&format!("/api/agents/{id}")).status, 200);
}

#[test]
fn a_terminated_agent_refuses_every_action() {
    let s = Server::start();
    let p = s.post("/api/projects", &json!({"repo": "acme/done"})).json();
    let id = p["agentId"].as_str().expect("id").to_owned();
    let review = s.post(
        "/api/agents",
        &json!({"name": "done-review", "type": "review", "projectId": "proj-001"}),
    );
    let review = review.json()["id"].as_str().expect("id").to_owned();
    // Deleting the project terminates its agent and the ephemeral agents working on it.
    assert_eq!(s.delete("/api/projects/proj-001").status, 200);
    for agent in [&id, &review] {
        let detail = s.get(&format!("/api/agents/{agent}")).json();
        assert_eq!(
            (detail["status"].as_str(), detail["uptime"].as_u64()),
            (Some("TERMINATED"), Some(0))
        );
        for action in [
            json!({"action": "suspend"}),
            json!({"action": "resume"}),
            json!({"action": "restart"}),
            json!({"action": "set_autonomy", "level": 2}),
        ] {
            s.post(&format!("/api/agents/{agent}/action"), &action)
                .expect_error(409, "INVALID_STATE");
        }
        s.post("/api/project/link", &json!({"agentId": agent, "repo": "acme/done"}))
            .expect_error(409, "INVALID_STATE");
    }
    // A terminated agent's name is free again; the record itself can be removed.
    let again = s.post("/api/agents", &json!({"name": "done-review", "type": "review"}));
    assert_eq!(again.status, 201, "{}", again.json());
    assert_eq!(s.delete(&format!("/api/agents/{review}")).status, 200);
    assert_eq!(s.get("/api/agents?status=TERMINATED").json().as_array().map(Vec::len), Some(1));
    let fresh = again.json()["id"].as_str().expect("id").to_owned();
    assert_eq!(
        s.get(&format!("/api/agents/{fresh}")).json()["name"],
        "done-review",
        "its name survived the removal"
    );
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
