//! Agent cards and A2A tasks (docs/API.md §2.17): the public well-known card, the cards of each
//! agent type, and tasks submitted, listed, read and cancelled per org, audited, routed to an
//! agent of the skill's type, and kept across a restart.

use serde_json::{Value, json};

use crate::common::fake::{FakeGitHub, GITHUB_TOKEN};
use crate::common::{Resp, Server, get_row, put_row};
use crate::hostile::spar_created;

const OPERATOR: &str = "operator-token-a2a-0123456789";

fn as_caller(
    s: &Server,
    bearer: Option<&str>,
    org: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Resp {
    let auth = bearer.map(|b| format!("Bearer {b}"));
    let mut headers = Vec::new();
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth.as_str()));
    }
    if let Some(org) = org {
        headers.push(("x-org-id", org));
    }
    s.call(method, path, &headers, body)
}

fn submit(s: &Server, body: Value) -> Value {
    let r = s.post("/a2a/tasks", &body);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

fn audit(s: &Server, action: &str) -> Vec<Value> {
    let r = s.get(&format!("/api/audit?limit=100&action={action}"));
    assert_eq!(r.status, 200);
    r.json()["entries"].as_array().cloned().unwrap_or_default()
}

fn ids(list: &Value) -> Vec<String> {
    list["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t["id"].as_str().expect("id").to_owned())
        .collect()
}

#[test]
fn the_well_known_card_is_public_and_served_without_v1_only() {
    let s = Server::with(&[], &[("ENGINE_API_TOKEN", OPERATOR)]);
    let r = s.get("/.well-known/agent.json");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let card = r.json();
    assert_eq!(card["name"], "CodeSpar");
    assert_eq!(card["url"], format!("http://{}", s.addr));
    assert!(card["version"].as_str().is_some_and(|v| !v.is_empty()));
    assert_eq!(card["capabilities"], json!({"streaming": false, "pushNotifications": false}));
    let skills = card["skills"].as_array().expect("skills");
    assert_eq!(skills.len(), 22);
    let first = &skills[0];
    assert_eq!(first["id"], "build-status");
    assert_eq!(first["agentType"], "project");
    assert!(first["name"].as_str().is_some_and(|n| !n.is_empty()));
    assert!(first["description"].as_str().is_some_and(|n| !n.is_empty()));
    let of = |t: &str| -> Vec<&str> {
        skills.iter().filter(|s| s["agentType"] == t).filter_map(|s| s["id"].as_str()).collect()
    };
    assert_eq!(of("incident"), ["investigate", "correlate", "hotfix"]);
    assert_eq!(of("coordinator"), ["cascade-deploy", "resource-lock", "cross-project-query"]);
    // A wrong token does not matter either: the card holds no org's data.
    let r = as_caller(&s, Some("wrong"), None, "GET", "/.well-known/agent.json", None);
    assert_eq!(r.status, 200);
    s.get("/v1/.well-known/agent.json").expect_error(404, "NOT_FOUND");
    // The rest of /.well-known is nobody's.
    s.get("/.well-known/other").expect_error(404, "NOT_FOUND");

    let s = Server::with(&[], &[("WEBHOOK_BASE_URL", "https://spar.example.com/")]);
    let r = s.post("/.well-known/agent.json", &json!({}));
    r.expect_error(405, "METHOD_NOT_ALLOWED");
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    assert_eq!(s.get("/.well-known/agent.json").json()["url"], "https://spar.example.com");
}

#[test]
fn agent_cards_list_every_type_and_one_by_type() {
    let s = Server::with(&[], &[("ENGINE_API_TOKEN", OPERATOR)]);
    as_caller(&s, None, None, "GET", "/api/agent-cards", None).expect_error(401, "UNAUTHORIZED");
    let r = as_caller(&s, Some(OPERATOR), None, "GET", "/api/agent-cards", None);
    assert_eq!(r.status, 200);
    let cards = r.json();
    let cards = cards.as_array().expect("a bare array");
    let types: Vec<&str> = cards.iter().filter_map(|c| c["type"].as_str()).collect();
    assert_eq!(types, ["project", "task", "review", "deploy", "incident", "coordinator"]);
    let project = &cards[0];
    assert_eq!(project["name"], "Project Agent");
    assert_eq!(project["lifecycle"], "persistent");
    assert_eq!(
        project["skills"],
        json!(["build-status", "diff-summary", "instruct-task", "deploy-trigger", "log-tail"])
    );
    assert_eq!(cards[1]["lifecycle"], "ephemeral");

    let r = as_caller(&s, Some(OPERATOR), None, "GET", "/v1/api/agent-cards/review", None);
    assert_eq!(r.status, 200);
    let review = r.json();
    assert_eq!(review, cards[2]);
    assert_eq!(review["skills"], json!(["pr-review", "risk-classify", "review-summary"]));
    let e = as_caller(&s, Some(OPERATOR), None, "GET", "/api/agent-cards/planner", None)
        .expect_error(404, "AGENT_TYPE_NOT_FOUND");
    assert!(e["error"].as_str().is_some_and(|m| m.contains("planner")), "{e}");
}

#[test]
fn submitting_validates_the_body_and_refuses_duplicates() {
    let s = Server::with(&["--rate-limit-api", "0"], &[]);
    let t = submit(&s, json!({"skill": "code-edit", "input": {"text": "rename foo to bar"}}));
    let id = t["id"].as_str().expect("id");
    assert!(id.starts_with("task-") && id.len() == "task-".len() + 26, "{id}");
    assert_eq!(t["status"], "submitted");
    assert_eq!(t["skill"], "code-edit");
    assert_eq!(t["agentType"], "task");
    let created = t["createdAt"].as_str().expect("createdAt");
    assert!(created.len() == 24 && created.ends_with('Z'), "{created}");

    let mine = submit(&s, json!({"id": "client-1", "skill": "pr-review", "input": {"text": "x"}}));
    assert_eq!(mine["id"], "client-1");
    assert_eq!(mine["agentType"], "review");
    let again = json!({"id": "client-1", "skill": "refactor", "input": {"text": "y"}});
    s.post("/a2a/tasks", &again).expect_error(409, "TASK_ALREADY_EXISTS");

    let e = s
        .post("/a2a/tasks", &json!({"skill": "fly", "input": {"text": "x"}}))
        .expect_error(400, "UNKNOWN_SKILL");
    let message = e["error"].as_str().expect("message");
    assert!(message.contains("'fly'"), "{message}");
    assert!(message.contains("Available skills: build-status,"), "{message}");
    assert!(message.contains("cross-project-query"), "{message}");

    let e = s.post("/a2a/tasks", &json!({"skill": "code-edit"})).expect_error(400, "MISSING_FIELD");
    assert!(e["error"].as_str().is_some_and(|m| m.contains("input.text")), "{e}");
    let blank = json!({"skill": "code-edit", "input": {"text": "  "}});
    s.post("/a2a/tasks", &blank).expect_error(400, "MISSING_FIELD");
    let e =
        s.post("/a2a/tasks", &json!({"input": {"text": "x"}})).expect_error(400, "MISSING_FIELD");
    assert!(e["error"].as_str().is_some_and(|m| m.contains("skill")), "{e}");
    for (body, field) in [
        (json!({"id": "bad id", "skill": "refactor", "input": {"text": "x"}}), "id"),
        (json!({"id": "x".repeat(129), "skill": "refactor", "input": {"text": "x"}}), "id"),
        (json!({"skill": "refactor", "input": {"text": "x", "attachments": [1]}}), "attachments"),
        (json!({"skill": "refactor", "input": {"text": "x"}, "extra": 1}), "extra"),
        (json!({"skill": "refactor", "input": {"text": "x", "more": 1}}), "more"),
        (json!({"skill": "refactor", "input": {"text": "x"}, "metadata": []}), "metadata"),
        (
            json!({"skill": "refactor", "input": {"text": "x"}, "metadata": {"projectId": 7}}),
            "projectId",
        ),
    ] {
        let e = s.post("/a2a/tasks", &body).expect_error(400, "INVALID_FIELD");
        assert!(e["error"].as_str().is_some_and(|m| m.contains(field)), "{field}: {e}");
    }
    let many: Vec<Value> = (0..21).map(|i| json!({"n": i})).collect();
    let body = json!({"skill": "refactor", "input": {"text": "x", "attachments": many}});
    s.post("/a2a/tasks", &body).expect_error(400, "INVALID_FIELD");
    let body = json!({"skill": "refactor", "input": {"text": "x".repeat(64 * 1024 + 1)}});
    s.post("/a2a/tasks", &body).expect_error(413, "PAYLOAD_TOO_LARGE");
    let body = json!({"skill": "refactor", "input": {"text": "x"}, "metadata": {"k": "v".repeat(16 * 1024)}});
    s.post("/a2a/tasks", &body).expect_error(413, "PAYLOAD_TOO_LARGE");
    let body =
        json!({"skill": "refactor", "input": {"text": "x"}, "metadata": {"projectId": "proj-404"}});
    s.post("/a2a/tasks", &body).expect_error(404, "PROJECT_NOT_FOUND");

    // Only the two accepted tasks were stored, each audited once.
    assert_eq!(s.get("/a2a/tasks").json()["total"], 2);
    let submitted = audit(&s, "a2a.task_submitted");
    assert_eq!(submitted.len(), 2, "{submitted:?}");
    let entry = submitted.iter().find(|e| e["metadata"]["taskId"] == "client-1").expect("entry");
    assert_eq!(entry["actorType"], "user");
    assert_eq!(entry["actorId"], "api");
    assert_eq!(entry["metadata"]["skill"], "pr-review");
    assert_eq!(entry["metadata"]["agentId"], mine["agentId"]);
}

#[test]
fn tasks_list_page_filter_read_and_cancel() {
    let mut s = Server::with(&["--rate-limit-api", "0"], &[]);
    let mut made = Vec::new();
    for (i, skill) in
        ["code-edit", "test-write", "pr-review", "investigate", "rollback"].iter().enumerate()
    {
        let body = json!({
            "id": format!("t{i}"), "skill": skill,
            "input": {"text": format!("task {i}"), "attachments": [{"type": "url", "url": "https://x"}]},
            "metadata": {"callerAgent": "other-agent", "n": i},
        });
        made.push(submit(&s, body)["id"].as_str().expect("id").to_owned());
    }
    let list = s.get("/a2a/tasks").json();
    assert_eq!(list["total"], 5);
    assert_eq!((list["limit"].clone(), list["offset"].clone()), (json!(20), json!(0)));
    assert_eq!(ids(&list), ["t4", "t3", "t2", "t1", "t0"], "newest first");
    let item = &list["tasks"][0];
    assert_eq!(item["skill"], "rollback");
    assert_eq!(item["agentType"], "deploy");
    assert!(item["updatedAt"].is_string() && item["createdAt"].is_string(), "{item}");

    let page = s.get("/v1/a2a/tasks?limit=2&offset=1").json();
    assert_eq!(ids(&page), ["t3", "t2"]);
    assert_eq!(
        (page["total"].clone(), page["limit"].clone(), page["offset"].clone()),
        (json!(5), json!(2), json!(1))
    );
    assert_eq!(ids(&s.get("/a2a/tasks?offset=5").json()), Vec::<String>::new());
    for bad in ["limit=0", "limit=101", "limit=x", "offset=-1", "offset=100001", "status=done"] {
        s.get(&format!("/a2a/tasks?{bad}")).expect_error(400, "INVALID_PARAMETER");
    }

    let task = s.get("/a2a/tasks/t2").json();
    assert_eq!(task["id"], "t2");
    assert_eq!(task["status"], "submitted");
    assert_eq!(task["agentType"], "review");
    assert_eq!(
        task["input"],
        json!({"text": "task 2", "attachments": [{"type": "url", "url": "https://x"}]})
    );
    assert_eq!(task["metadata"], json!({"callerAgent": "other-agent", "n": 2}));
    assert_eq!(task["output"], Value::Null);
    assert_eq!(task["createdAt"], task["updatedAt"]);
    s.get("/a2a/tasks/t9").expect_error(404, "TASK_NOT_FOUND");

    assert_eq!(s.get("/a2a/tasks?status=cancelled").json()["total"], 0);
    let r = s.post("/a2a/tasks/t1/cancel", &json!({}));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let cancelled = r.json();
    assert_eq!(cancelled["id"], "t1");
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["cancelledAt"].as_str().is_some_and(|t| t.ends_with('Z')), "{cancelled}");
    let e = s.post("/a2a/tasks/t1/cancel", &json!({})).expect_error(409, "TASK_NOT_CANCELLABLE");
    assert!(e["error"].as_str().is_some_and(|m| m.contains("cancelled")), "{e}");
    s.post("/a2a/tasks/t9/cancel", &json!({})).expect_error(404, "TASK_NOT_FOUND");

    let only = s.get("/a2a/tasks?status=cancelled").json();
    assert_eq!((ids(&only), only["total"].clone()), (vec!["t1".to_owned()], json!(1)));
    let open = s.get("/a2a/tasks?status=submitted").json();
    assert_eq!(
        (ids(&open), open["total"].clone()),
        (vec!["t4".into(), "t3".into(), "t2".into(), "t0".into()], json!(4))
    );
    assert_eq!(s.get("/a2a/tasks").json()["total"], 5);
    let detail = s.get("/a2a/tasks/t1").json();
    assert_eq!(detail["status"], "cancelled");
    assert_eq!(detail["cancelledAt"], cancelled["cancelledAt"]);
    let entries = audit(&s, "a2a.task_cancelled");
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["metadata"]["taskId"], "t1");
    assert_eq!(entries[0]["metadata"]["previousStatus"], "submitted");

    // Everything survives a restart: the tasks, their order, the filters' totals.
    s.restart();
    let list = s.get("/a2a/tasks").json();
    assert_eq!(
        (ids(&list), list["total"].clone()),
        (vec!["t4".into(), "t3".into(), "t2".into(), "t1".into(), "t0".into()], json!(5))
    );
    assert_eq!(s.get("/a2a/tasks/t2").json(), task);
    assert_eq!(s.get("/a2a/tasks?status=submitted").json()["total"], 4);
    s.post("/a2a/tasks/t1/cancel", &json!({})).expect_error(409, "TASK_NOT_CANCELLABLE");
    assert_eq!(made.len(), 5);
}

#[test]
fn tasks_go_to_an_agent_of_the_skills_type() {
    let github = FakeGitHub::start();
    github.add_repo("acme/web", "main");
    let s = Server::with(
        &["--rate-limit-api", "0"],
        &[
            ("GITHUB_TOKEN", GITHUB_TOKEN),
            ("GITHUB_API_URL", github.url()),
            ("WEBHOOK_BASE_URL", "https://spar.example.com"),
        ],
    );
    let agents = |s: &Server| s.get("/api/agents").json().as_array().cloned().expect("agents");
    let agent = |s: &Server, id: &Value| {
        agents(s).into_iter().find(|a| a["id"] == *id).unwrap_or_else(|| panic!("{id} not listed"))
    };

    // No task agent yet: one is spawned, audited, and the next task goes to it.
    let first = submit(&s, json!({"skill": "code-generate", "input": {"text": "a"}}));
    let spawned = agent(&s, &first["agentId"]);
    assert_eq!(spawned["type"], "task");
    assert_eq!(spawned["status"], "ACTIVE");
    let spawns: Vec<Value> = s.audit_entries("agent_spawn");
    let spawn =
        spawns.iter().find(|e| e["metadata"]["agentId"] == first["agentId"]).expect("spawn");
    assert_eq!(
        (spawn["actorType"].clone(), spawn["actorId"].clone()),
        (json!("system"), json!("a2a"))
    );
    let second = submit(&s, json!({"skill": "refactor", "input": {"text": "b"}}));
    assert_eq!(second["agentId"], first["agentId"]);
    assert_eq!(
        s.get(&format!("/a2a/tasks/{}", second["id"].as_str().expect("id"))).json()["agentId"],
        first["agentId"]
    );

    // An agent the org made itself is used rather than a new one.
    let r = s.post("/api/agents", &json!({"name": "deployer", "type": "deploy"}));
    assert_eq!(r.status, 201);
    let deployer = r.json()["id"].clone();
    let deploy = submit(&s, json!({"skill": "deploy-staging", "input": {"text": "c"}}));
    assert_eq!(deploy["agentId"], deployer);
    // ...until it is gone: then one is spawned.
    assert_eq!(s.delete(&format!("/api/agents/{}", deployer.as_str().expect("id"))).status, 200);
    let later = submit(&s, json!({"skill": "health-check", "input": {"text": "d"}}));
    assert_ne!(later["agentId"], deployer);
    assert_eq!(agent(&s, &later["agentId"])["type"], "deploy");

    // A project skill needs a project agent; none is ever spawned.
    let body = json!({"skill": "build-status", "input": {"text": "e"}});
    s.post("/a2a/tasks", &body).expect_error(409, "NO_AGENT_AVAILABLE");
    let r = s.post("/api/projects", &json!({"repo": "acme/web"}));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let project = r.json();
    let (project_id, project_agent) = (project["id"].clone(), project["agentId"].clone());
    assert!(project_agent.is_string(), "{project}");
    let body =
        json!({"skill": "log-tail", "input": {"text": "f"}, "metadata": {"projectId": project_id}});
    let routed = submit(&s, body);
    assert_eq!(routed["agentId"], project_agent);
    assert_eq!(agent(&s, &routed["agentId"])["type"], "project");
    let of_project =
        s.get(&format!("/a2a/tasks?project={}", project_id.as_str().expect("id"))).json();
    assert_eq!(
        (ids(&of_project), of_project["total"].clone()),
        (vec![routed["id"].as_str().expect("id").to_owned()], json!(1))
    );
    let without = submit(&s, json!({"skill": "build-status", "input": {"text": "g"}}));
    assert_eq!(without["agentId"], project_agent);
}

#[test]
fn tasks_belong_to_one_org_and_need_the_bearer_token() {
    let s = Server::with(&["--rate-limit-api", "0"], &[("ENGINE_API_TOKEN", OPERATOR)]);
    let new_org = |name: &str| {
        let r =
            as_caller(&s, Some(OPERATOR), None, "POST", "/api/orgs", Some(&json!({"name": name})));
        assert_eq!(r.status, 201);
        r.json()["id"].as_str().expect("id").to_owned()
    };
    let (alpha, beta) = (new_org("alpha"), new_org("beta"));
    let alpha_token =
        spar_created(&s, &["token", "create", "--org", &alpha, "--name", "alpha-a2a"]);
    let beta_token = spar_created(&s, &["token", "create", "--org", &beta, "--name", "beta-a2a"]);
    let task = json!({"id": "shared-id", "skill": "investigate", "input": {"text": "why?"}});

    for (method, path) in [
        ("POST", "/a2a/tasks"),
        ("GET", "/a2a/tasks"),
        ("GET", "/a2a/tasks/shared-id"),
        ("POST", "/a2a/tasks/shared-id/cancel"),
    ] {
        as_caller(&s, None, None, method, path, Some(&task)).expect_error(401, "UNAUTHORIZED");
        as_caller(&s, Some("nope"), None, method, path, Some(&task))
            .expect_error(401, "UNAUTHORIZED");
    }
    let r = as_caller(&s, Some(&alpha_token), None, "POST", "/a2a/tasks", Some(&task));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let alpha_agent = r.json()["agentId"].clone();

    // Beta sees nothing of alpha's, may use the same id, and its task is its own.
    as_caller(&s, Some(&beta_token), None, "GET", "/a2a/tasks/shared-id", None)
        .expect_error(404, "TASK_NOT_FOUND");
    as_caller(&s, Some(&beta_token), None, "POST", "/a2a/tasks/shared-id/cancel", None)
        .expect_error(404, "TASK_NOT_FOUND");
    assert_eq!(
        as_caller(&s, Some(&beta_token), None, "GET", "/a2a/tasks", None).json()["total"],
        0
    );
    as_caller(&s, Some(&beta_token), Some(&alpha), "GET", "/a2a/tasks", None)
        .expect_error(403, "FORBIDDEN");
    let r = as_caller(&s, Some(&beta_token), None, "POST", "/a2a/tasks", Some(&task));
    assert_eq!(r.status, 201);
    let beta_agent = r.json()["agentId"].clone();
    assert_ne!(alpha_agent, beta_agent);
    let r = as_caller(&s, Some(&beta_token), None, "POST", "/a2a/tasks/shared-id/cancel", None);
    assert_eq!(r.status, 200);
    let alpha_view =
        as_caller(&s, Some(&alpha_token), None, "GET", "/a2a/tasks/shared-id", None).json();
    assert_eq!(alpha_view["status"], "submitted", "beta's cancel left alpha's task alone");

    // The operator names the org; without a header it is org `default`, which has none.
    let r = as_caller(&s, Some(OPERATOR), Some(&alpha), "GET", "/a2a/tasks", None).json();
    assert_eq!((ids(&r), r["total"].clone()), (vec!["shared-id".to_owned()], json!(1)));
    as_caller(&s, Some(OPERATOR), None, "GET", "/a2a/tasks/shared-id", None)
        .expect_error(404, "TASK_NOT_FOUND");

    // Each task's agent is listed in its own org only.
    let listed = |org: &str| -> Vec<Value> {
        let r = as_caller(&s, Some(OPERATOR), Some(org), "GET", "/api/agents", None).json();
        r.as_array().cloned().expect("agents").into_iter().map(|a| a["id"].clone()).collect()
    };
    assert!(listed(&alpha).contains(&alpha_agent) && !listed(&alpha).contains(&beta_agent));
    assert!(listed(&beta).contains(&beta_agent) && !listed(&beta).contains(&alpha_agent));
    // The audit entries are in each org's own trail, naming its own task.
    let trail =
        as_caller(&s, Some(&alpha_token), None, "GET", "/api/audit?action=a2a.*", None).json();
    let actions: Vec<&str> = trail["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["a2a.task_submitted"], "{trail}");
}

#[test]
fn finished_tasks_go_after_their_retention_and_open_ones_stay() {
    let mut s = Server::with(&["--rate-limit-api", "0"], &[]);
    for id in ["old-done", "old-open", "new-done"] {
        submit(&s, json!({"id": id, "skill": "hotfix", "input": {"text": id}}));
    }
    for id in ["old-done", "new-done"] {
        assert_eq!(s.post(&format!("/a2a/tasks/{id}/cancel"), &json!({})).status, 200);
    }
    s.terminate();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(0))
        .unwrap_or(0);
    let old = now - 31 * 24 * 3600 * 1000;
    for id in ["old-done", "old-open"] {
        let mut row = get_row(&s, "a2a_tasks", "default", id).expect("stored task");
        row["updatedAtMs"] = json!(old);
        row["createdAtMs"] = json!(old);
        put_row(&s, "a2a_tasks", "default", id, &serde_json::to_vec(&row).expect("json"));
    }
    s.start_again();
    let run = s.post("/api/scheduler/audit-cleanup/run", &json!({}));
    assert_eq!(run.json()["success"], true, "{}", run.json());
    s.get("/a2a/tasks/old-done").expect_error(404, "TASK_NOT_FOUND");
    let list = s.get("/a2a/tasks").json();
    assert_eq!(
        (ids(&list), list["total"].clone()),
        (vec!["new-done".into(), "old-open".into()], json!(2))
    );
    let cancelled = s.get("/a2a/tasks?status=cancelled").json();
    assert_eq!(
        (ids(&cancelled), cancelled["total"].clone()),
        (vec!["new-done".to_owned()], json!(1))
    );
    let pruned = s.audit_entries("retention.prune");
    let a2a: Vec<&Value> = pruned.iter().filter(|e| e["metadata"]["kind"] == "a2a").collect();
    assert_eq!(a2a.len(), 1, "{pruned:?}");
    assert_eq!(a2a[0]["metadata"]["removed"], 1);
    assert_eq!(s.get("/api/audit/verify").json()["valid"], true);
}

#[test]
fn a_backup_holds_the_tasks_and_their_listing() {
    let s = Server::with(&["--rate-limit-api", "0"], &[]);
    submit(&s, json!({"id": "kept-1", "skill": "correlate", "input": {"text": "one"}}));
    submit(&s, json!({"id": "kept-2", "skill": "refactor", "input": {"text": "two"}}));
    assert_eq!(s.post("/a2a/tasks/kept-1/cancel", &json!({})).status, 200);
    let work = tempfile::tempdir().expect("temp");
    let file = work.path().join("spar.backup");
    let spar = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_spar"))
            .args(args)
            .output()
            .expect("run spar");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    let (data, file_arg) = (s.data_dir().display().to_string(), file.display().to_string());
    spar(&["backup", "--data-dir", &data, "--out", &file_arg]);
    let restored = tempfile::tempdir().expect("temp");
    let target = restored.path().join("data");
    let key = s.data_dir().join("secret.key").display().to_string();
    spar(&["restore", &file_arg, "--data-dir", &target.display().to_string(), "--key-file", &key]);
    let dir = tempfile::TempDir::new_in(restored.path()).expect("temp");
    std::fs::remove_dir(dir.path()).expect("empty");
    std::fs::rename(&target, dir.path()).expect("move");
    let r = Server::on_dir(dir, &["--rate-limit-api", "0"], &[]);
    assert_eq!(r.get("/a2a/tasks").json(), s.get("/a2a/tasks").json());
    assert_eq!(r.get("/a2a/tasks/kept-1").json()["status"], "cancelled");
    assert_eq!(r.get("/a2a/tasks?status=submitted").json()["total"], 1);
    r.post("/a2a/tasks", &json!({"id": "kept-2", "skill": "refactor", "input": {"text": "x"}}))
        .expect_error(409, "TASK_ALREADY_EXISTS");
}

#[test]
fn a_task_is_an_event_its_agent_handles_and_routes_send() {
    use crate::common::fake::{FakeChat, SLACK_TOKEN};
    let chat = FakeChat::start();
    let mut env = chat.env();
    env.push(("SPAR_OUTBOX_BACKOFF_MS".into(), "100".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let s = Server::with(&["--rate-limit-api", "0"], &env);
    let org = [("x-org-id", "default")];
    let configure = json!({ "channel": "slack", "config": { "botToken": SLACK_TOKEN } });
    assert_eq!(s.call("POST", "/api/channels/configure", &org, Some(&configure)).status, 200);
    let route = json!({ "eventType": "a2a.*", "channel": "slack", "channelId": "C0A2A" });
    assert_eq!(s.call("POST", "/api/channel-routes", &org, Some(&route)).status, 201);

    let task = submit(
        &s,
        json!({ "skill": "investigate", "input": { "text": "Why did checkout fail?" } }),
    );
    let id = task["id"].as_str().expect("id").to_owned();
    let agent = task["agentId"].as_str().expect("agent").to_owned();
    let sent = chat.wait_for(1);
    let text = sent[0].json()["text"].as_str().expect("text").to_owned();
    for words in [
        "a2a.task.submitted",
        id.as_str(),
        "Skill: investigate",
        agent.as_str(),
        "Why did checkout fail?",
    ] {
        assert!(text.contains(words), "{words:?} in {text}");
    }
    assert_eq!(sent[0].json()["channel"], "C0A2A");

    let r = s.post(&format!("/a2a/tasks/{id}/cancel"), &json!({}));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let sent = chat.wait_for(2);
    assert!(sent[1].json()["text"].as_str().is_some_and(|t| t.contains("a2a.task.cancelled")));

    // Both are events of the org's stream, handled by the task's agent.
    let events = crate::deploy_webhooks::streamed(&s, "default", 2);
    let kinds: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(kinds, ["a2a.task.submitted", "a2a.task.cancelled"]);
    let first = &events[0].1["data"];
    assert_eq!(first["source"], "a2a");
    assert_eq!(first["agentId"], agent.as_str());
    assert_eq!(first["details"]["taskId"], id.as_str());
    assert!(
        first["actions"].as_array().is_some_and(|a| a
            .iter()
            .any(|x| x.as_str().is_some_and(|x| x.starts_with("notify:")))),
        "{first}"
    );
    // A suspended agent records the next task's event and sends nothing.
    let r = s.post(&format!("/api/agents/{agent}/action"), &json!({ "action": "suspend" }));
    assert_eq!(r.status, 200);
    submit(&s, json!({ "skill": "investigate", "input": { "text": "again" } }));
    let events = crate::deploy_webhooks::streamed(&s, "default", 3);
    assert_eq!(events[2].1["data"]["actions"], json!(["suspended"]));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(chat.messages().len(), 2);
}
