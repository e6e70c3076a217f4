//! docs/API.md §2.5 and §2.6: memory (add, statistics, ranked search) and identity, with org isolation.

use std::time::{Duration, Instant};

use crate::common::Server;
use serde_json::{Value, json};

fn add(s: &Server, org: Option<&str>, body: Value) -> Value {
    let headers: Vec<(&str, &str)> = org.map(|o| vec![("x-org-id", o)]).unwrap_or_default();
    let r = s.call("POST", "/api/memory", &headers, Some(&body));
    assert_eq!(r.status, 201, "{}", r.json());
    r.json()
}

/// Polls a memory search until it has `total` hits (the index trails writes by ~100 ms).
fn search(s: &Server, org: Option<&str>, query: &str, total: u64) -> Value {
    let headers: Vec<(&str, &str)> = org.map(|o| vec![("x-org-id", o)]).unwrap_or_default();
    let started = Instant::now();
    loop {
        let r = s.call("GET", &format!("/api/memory/search?{query}"), &headers, None).json();
        if r["total"] == total {
            return r;
        }
        assert!(started.elapsed() < Duration::from_secs(2), "{query}: {r}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn memory_entries_are_stored_searchable_and_ranked() {
    let s = Server::start();
    let agent = s.post("/api/agents", &json!({"name": "mem-agent", "type": "incident"})).json();
    let agent = agent["id"].as_str().expect("id").to_owned();
    let e = add(
        &s,
        None,
        json!({"content": "The checkout service times out when Redis is down", "category": "incident", "agentId": agent, "metadata": {"sev": 2}}),
    );
    assert!(e["id"].as_str().is_some_and(|i| i.starts_with("mem-")));
    assert_eq!(
        (e["orgId"].as_str(), e["category"].as_str(), e["agentId"].as_str()),
        (Some("default"), Some("incident"), Some(agent.as_str()))
    );
    assert_eq!(e["metadata"], json!({"sev": 2}));
    assert!(e["createdAt"].as_str().is_some_and(|t| t.ends_with('Z')));
    add(
        &s,
        None,
        json!({"content": "Redis Redis Redis: restart Redis before checkout", "category": "pattern"}),
    );
    add(
        &s,
        None,
        json!({"content": "Talked about lunch", "metadata": {"channel": "slack", "userId": "U1"}}),
    );

    let r = search(&s, None, "q=redis", 2);
    let results = r["results"].as_array().expect("results");
    assert!(
        results[0]["content"].as_str().is_some_and(|c| c.starts_with("Redis Redis")),
        "best match first: {r}"
    );
    assert!(results[0]["score"].as_f64() > results[1]["score"].as_f64());
    assert_eq!(
        (
            r["page"].as_u64(),
            r["pageSize"].as_u64(),
            r["totalPages"].as_u64(),
            r["hasMore"].as_bool()
        ),
        (Some(1), Some(20), Some(1), Some(false))
    );
    assert_eq!(
        search(&s, None, "q=redis&category=incident", 1)["results"][0]["category"],
        "incident"
    );
    assert_eq!(
        search(&s, None, &format!("q=redis&agentId={agent}"), 1)["results"][0]["agentId"],
        agent.as_str()
    );
    assert_eq!(search(&s, None, "q=redis&projectId=proj-x", 0)["results"], json!([]));
    let p2 = search(&s, None, "q=redis&limit=1&page=2", 2);
    assert_eq!(
        (p2["results"].as_array().map(Vec::len), p2["totalPages"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(search(&s, None, "q=checkout%20AND%20down", 1)["total"], 1);

    let stats = s.get("/api/memory").json();
    assert_eq!(stats["vectorStore"]["totalEmbeddings"], 3);
    assert_eq!(stats["vectorStore"]["backend"], "tantivy");
    assert_eq!(stats["conversations"]["totalMessages"], 1);
    assert_eq!(stats["conversations"]["uniqueUsers"], 1);
    assert_eq!(stats["conversations"]["channels"], json!({"slack": 1}));
    assert_eq!(stats["projectContext"]["filesIndexed"], 0);

    let audit = s.get("/api/audit?action=memory.add").json();
    assert_eq!(audit["total"], 3);
    // The agent's detail lists its memory entries.
    let detail = s.get(&format!("/api/agents/{agent}")).json();
    let embeddings = detail["memory"]["embeddings"].as_array().expect("embeddings");
    assert_eq!(embeddings.len(), 1);
    assert_eq!(embeddings[0]["id"], e["id"]);
    assert!(detail["memory"]["storageMB"].is_number());
}

#[test]
fn memory_errors() {
    let s = Server::start();
    s.post("/api/memory", &json!({})).expect_error(400, "MISSING_FIELD");
    s.post("/api/memory", &json!({"content": "   "})).expect_error(400, "MISSING_FIELD");
    s.post("/api/memory", &json!({"content": "x".repeat(64 * 1024 + 1)}))
        .expect_error(413, "PAYLOAD_TOO_LARGE");
    assert_eq!(s.post("/api/memory", &json!({"content": "x".repeat(64 * 1024)})).status, 201);
    s.post("/api/memory", &json!({"content": "x", "category": "gossip"}))
        .expect_error(400, "INVALID_FIELD");
    s.post("/api/memory", &json!({"content": "x", "metadata": [1]}))
        .expect_error(400, "INVALID_FIELD");
    s.post("/api/memory", &json!({"content": "x", "agentId": "agent-task-nobody"}))
        .expect_error(404, "AGENT_NOT_FOUND");
    s.post("/api/memory", &json!({"content": "x", "projectId": "proj-404"}))
        .expect_error(404, "PROJECT_NOT_FOUND");
    s.get("/api/memory/search").expect_error(400, "MISSING_FIELD");
    s.get("/api/memory/search?q=a%20AND%20(").expect_error(400, "INVALID_PARAMETER");
    s.get("/api/memory/search?q=x&category=gossip").expect_error(400, "INVALID_PARAMETER");
    s.get("/api/memory/search?q=x&limit=many").expect_error(400, "INVALID_PARAMETER");
}

#[test]
fn memory_of_one_org_is_invisible_to_another() {
    let s = Server::start();
    for name in ["Mem A", "Mem B"] {
        assert_eq!(s.post("/api/orgs", &json!({ "name": name })).status, 201);
    }
    add(&s, Some("org-mem-a"), json!({"content": "kubernetes rollout notes for A"}));
    add(&s, Some("org-mem-b"), json!({"content": "kubernetes rollout notes for B"}));
    // The word matches both orgs' entries; each org sees only its own.
    assert_eq!(search(&s, None, "q=kubernetes", 2)["total"], 2);
    for (org, own) in [("org-mem-a", "for A"), ("org-mem-b", "for B")] {
        let r = search(&s, Some(org), "q=kubernetes", 1);
        assert!(
            r["results"][0]["content"].as_str().is_some_and(|c| c.ends_with(own)),
            "{org}: {r}"
        );
        assert_eq!(r["results"][0]["orgId"], org);
        let stats = s.call("GET", "/api/memory", &[("x-org-id", org)], None).json();
        assert_eq!(stats["vectorStore"]["totalEmbeddings"], 1);
    }
    let sneaky = s
        .call("GET", "/api/memory/search?q=org:org-mem-b", &[("x-org-id", "org-mem-a")], None)
        .json();
    assert_eq!(sneaky["total"], 0);
}

#[test]
fn identities_are_registered_found_and_scoped() {
    let s = Server::start();
    assert_eq!(s.post("/api/orgs", &json!({"name": "People Co"})).status, 201);
    let body = json!({"displayName": "Ana Souza", "role": "maintainer", "channels": [
        {"type": "slack", "userId": "U123", "username": "ana"}, {"type": "whatsapp", "userId": "5511999990000"}]});
    let r = s.call("POST", "/api/identity", &[("x-org-id", "org-people-co")], Some(&body));
    assert_eq!(r.status, 201, "{}", r.json());
    let id = r.json();
    assert_eq!(id["id"], "user-001");
    assert_eq!(
        (id["displayName"].as_str(), id["role"].as_str()),
        (Some("Ana Souza"), Some("maintainer"))
    );
    assert_eq!(id["channels"][0]["username"], "ana");
    assert_eq!(id["channels"][1]["username"], Value::Null);
    assert!(id["channels"][0]["linkedAt"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(id["registeredAt"], id["lastSeen"]);

    let found = s
        .call(
            "GET",
            "/api/identity?channelType=whatsapp&channelUserId=5511999990000",
            &[("x-org-id", "org-people-co")],
            None,
        )
        .json();
    assert_eq!(
        (found["found"].as_bool(), found["identity"]["id"].as_str()),
        (Some(true), Some("user-001"))
    );
    let unknown = s
        .call(
            "GET",
            "/api/identity?channelType=slack&channelUserId=U999",
            &[("x-org-id", "org-people-co")],
            None,
        )
        .json();
    assert_eq!(unknown, json!({"found": false, "identity": null}));
    // Another org (here: default) does not know her.
    assert_eq!(s.get("/api/identity?channelType=slack&channelUserId=U123").json()["found"], false);

    let org = s.get("/api/orgs/org-people-co").json();
    assert_eq!(org["memberCount"], 1);
    assert_eq!(
        org["members"][0],
        json!({"identityId": "user-001", "displayName": "Ana Souza", "role": "maintainer", "joinedAt": id["registeredAt"]})
    );

    let again = json!({"displayName": "Impostor", "role": "owner", "channels": [{"type": "slack", "userId": "U123"}]});
    s.call("POST", "/api/identity", &[("x-org-id", "org-people-co")], Some(&again))
        .expect_error(409, "IDENTITY_ALREADY_EXISTS");
    // The same account may belong to someone in another org.
    assert_eq!(s.post("/api/identity", &again).status, 201);
}

#[test]
fn identity_errors() {
    let s = Server::start();
    s.get("/api/identity").expect_error(400, "MISSING_FIELD");
    s.get("/api/identity?channelType=slack").expect_error(400, "MISSING_FIELD");
    s.get("/api/identity?channelUserId=U1").expect_error(400, "MISSING_FIELD");
    s.get("/api/identity?channelType=fax&channelUserId=U1").expect_error(400, "INVALID_PARAMETER");
    let ok_channel = json!([{"type": "slack", "userId": "U1"}]);
    s.post("/api/identity", &json!({"role": "owner", "channels": ok_channel}))
        .expect_error(400, "MISSING_FIELD");
    s.post("/api/identity", &json!({"displayName": "A", "channels": ok_channel}))
        .expect_error(400, "MISSING_FIELD");
    s.post("/api/identity", &json!({"displayName": "A", "role": "owner"}))
        .expect_error(400, "MISSING_FIELD");
    s.post("/api/identity", &json!({"displayName": "A", "role": "owner", "channels": []}))
        .expect_error(400, "MISSING_FIELD");
    s.post("/api/identity", &json!({"displayName": "A", "role": "king", "channels": ok_channel}))
        .expect_error(400, "INVALID_FIELD");
    s.post(
        "/api/identity",
        &json!({"displayName": "A", "role": "owner", "channels": [{"type": "fax", "userId": "1"}]}),
    )
    .expect_error(400, "INVALID_FIELD");
    s.post(
        "/api/identity",
        &json!({"displayName": "A", "role": "owner", "channels": [{"type": "slack"}]}),
    )
    .expect_error(400, "MISSING_FIELD");
    s.post("/api/identity", &json!({"displayName": "A", "role": "owner", "channels": [{"type": "slack", "userId": "U1"}, {"type": "slack", "userId": "U1"}]})).expect_error(400, "INVALID_FIELD");
    assert_eq!(s.get("/api/orgs/default").json()["memberCount"], 0);
}
