//! Projects (docs/API.md §2.7) against a fake GitHub on 127.0.0.1: what Spar sends to GitHub,
//! what it answers, what it stores, and that failures store nothing.

use crate::common::fake::{FakeGitHub, GITHUB_TOKEN, dead_url};
use crate::common::{Resp, Server};
use serde_json::{Value, json};

const BASE: &str = "https://spar.example.com";
const HOOK_URL: &str = "https://spar.example.com/webhooks/github";
const HOOK_SECRET: &str = "hook-secret-42";

fn server(github: &FakeGitHub) -> Server {
    Server::with(
        &[],
        &[
            ("GITHUB_TOKEN", GITHUB_TOKEN),
            ("GITHUB_API_URL", github.url()),
            ("WEBHOOK_BASE_URL", BASE),
            ("GITHUB_WEBHOOK_SECRET", HOOK_SECRET),
        ],
    )
}

fn new_agent(s: &Server, name: &str) -> String {
    let r = s.post("/api/agents", &json!({"name": name, "type": "task"}));
    assert_eq!(r.status, 201, "{}", r.json());
    r.json()["id"].as_str().expect("id").to_owned()
}

fn link(s: &Server, agent: &str, repo: &str) -> Resp {
    s.post("/api/project/link", &json!({"agentId": agent, "repo": repo}))
}

fn projects(s: &Server, org: Option<&str>) -> Vec<Value> {
    let headers: Vec<(&str, &str)> = org.map(|o| ("x-org-id", o)).into_iter().collect();
    let r = s.call("GET", "/api/projects", &headers, None);
    assert_eq!(r.status, 200);
    r.json()["projects"].as_array().cloned().expect("projects")
}

fn is_rfc3339_millis(v: &Value) -> bool {
    v.as_str().is_some_and(|t| t.len() == 24 && t.ends_with('Z') && t.as_bytes()[19] == b'.')
}

#[test]
fn link_checks_the_repo_installs_the_hook_and_reports_the_config() {
    let github = FakeGitHub::start();
    github.add_repo("acme/api-gateway", "develop");
    let s = server(&github);
    let agent = new_agent(&s, "gateway-bot");

    let r = s.call(
        "POST",
        "/api/project/link",
        &[("X-Actor", "slack:U1234ABCD")],
        Some(&json!({"agentId": agent, "repo": "https://github.com/ACME/api-gateway.git"})),
    );
    assert_eq!(r.status, 200, "{}", r.json());
    let body = r.json();
    assert_eq!(body["success"], true);
    let config = &body["config"];
    let hook_id = config["webhookId"].as_u64().expect("webhookId");
    assert_eq!(
        config,
        &json!({
            "id": "proj-001", "name": "api-gateway", "repo": "acme/api-gateway",
            "repoUrl": "https://github.com/acme/api-gateway", "defaultBranch": "develop",
            "webhookConfigured": true, "webhookId": hook_id,
            "linkedAt": config["linkedAt"], "linkedBy": "slack:U1234ABCD",
        })
    );
    assert!(is_rfc3339_millis(&config["linkedAt"]), "{config}");

    // What Spar sent: read the repo as typed, list hooks, create ours; every call authenticated.
    let sent = github.requests();
    let calls: Vec<(String, String)> =
        sent.iter().map(|r| (r.method.clone(), r.path().to_owned())).collect();
    assert_eq!(
        calls,
        [
            ("GET".into(), "/repos/ACME/api-gateway".into()),
            ("GET".into(), "/repos/acme/api-gateway/hooks".into()),
            ("POST".into(), "/repos/acme/api-gateway/hooks".into()),
        ]
    );
    for call in &sent {
        assert_eq!(call.header("authorization"), Some(format!("Bearer {GITHUB_TOKEN}").as_str()));
        assert_eq!(call.header("accept"), Some("application/vnd.github+json"));
        assert_eq!(call.header("x-github-api-version"), Some("2022-11-28"));
        assert!(call.header("user-agent").is_some_and(|ua| ua.starts_with("spar/")));
    }
    assert_eq!(
        sent[2].json(),
        json!({
            "name": "web", "active": true,
            "events": ["push", "pull_request", "workflow_run", "check_run"],
            "config": {"url": HOOK_URL, "content_type": "json", "insecure_ssl": "0", "secret": HOOK_SECRET},
        })
    );
    assert_eq!(github.hooks("acme/api-gateway").len(), 1);

    // The link is readable, audited, and the agent now belongs to the project.
    let check = s.get(&format!("/api/project?agentId={agent}")).json();
    assert_eq!(check, json!({"linked": true, "config": config}));
    assert_eq!(
        s.get(&format!("/api/agents/{agent}")).json()["project"]["repo"],
        "acme/api-gateway"
    );
    let audit = s.audit_entries("link");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["actorId"], "slack:U1234ABCD");
    assert_eq!(audit[0]["metadata"]["agentId"], agent.as_str());
    assert_eq!(audit[0]["metadata"]["repo"], "acme/api-gateway");

    // Linking again is refused before GitHub is asked anything.
    github.server.clear();
    link(&s, &agent, "acme/api-gateway").expect_error(409, "ALREADY_LINKED");
    assert!(github.requests().is_empty());
}

#[test]
fn an_existing_hook_with_our_url_is_reused() {
    let github = FakeGitHub::start();
    github.add_repo("acme/web", "main");
    let existing = github.add_hook("acme/web", HOOK_URL);
    github.add_hook("acme/web", "https://elsewhere.example.com/hook");
    let s = server(&github);
    let agent = new_agent(&s, "web-bot");

    let r = link(&s, &agent, "acme/web");
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["config"]["webhookId"], existing);
    assert!(github.requests().iter().all(|c| c.method != "POST"), "no hook created");
    assert_eq!(github.hooks("acme/web").len(), 2);
}

#[test]
fn a_token_without_hook_rights_still_links_without_a_webhook() {
    let github = FakeGitHub::start();
    github.add_repo("acme/web", "main");
    github.state.lock().expect("state").hooks_forbidden = true;
    let s = server(&github);
    let agent = new_agent(&s, "web-bot");

    let r = link(&s, &agent, "acme/web");
    assert_eq!(r.status, 200, "{}", r.json());
    let config = &r.json()["config"];
    assert_eq!(config["webhookConfigured"], false);
    assert!(config.get("webhookId").is_none(), "{config}");
}

#[test]
fn unlink_removes_the_hook_and_the_link() {
    let github = FakeGitHub::start();
    github.add_repo("acme/api-gateway", "main");
    let s = server(&github);
    let agent = new_agent(&s, "gateway-bot");
    let hook = link(&s, &agent, "acme/api-gateway").json()["config"]["webhookId"].clone();

    let r = s.delete(&format!("/api/project/link?agentId={agent}"));
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(
        r.json(),
        json!({"success": true, "unlinked": {"agentId": agent, "repo": "acme/api-gateway", "webhookRemoved": true}})
    );
    let delete = github.requests().into_iter().find(|c| c.method == "DELETE").expect("DELETE sent");
    assert_eq!(delete.path(), format!("/repos/acme/api-gateway/hooks/{hook}"));
    assert!(github.hooks("acme/api-gateway").is_empty());

    assert_eq!(s.get(&format!("/api/project?agentId={agent}")).json(), json!({"linked": false}));
    assert!(projects(&s, None).is_empty());
    let audit = s.audit_entries("unlink");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["metadata"]["webhookRemoved"], true);

    s.delete(&format!("/api/project/link?agentId={agent}")).expect_error(404, "NOT_LINKED");
    s.delete("/api/project/link").expect_error(400, "MISSING_FIELD");
    // The agent can be linked again, and deleted now that it has no project.
    assert_eq!(link(&s, &agent, "acme/api-gateway").status, 200);
}

#[test]
fn creating_and_deleting_a_project_manages_its_agents_and_hook() {
    let github = FakeGitHub::start();
    github.add_repo("acme/api-service", "trunk");
    let mut s = server(&github);

    let r = s.post("/api/projects", &json!({"repo": "acme/api-service", "name": "API Service"}));
    assert_eq!(r.status, 201, "{}", r.json());
    let created = r.json();
    let agent = created["agentId"].as_str().expect("agentId").to_owned();
    assert!(agent.starts_with("agent-proj-"), "{created}");
    assert_eq!(
        created,
        json!({"id": "proj-001", "agentId": agent, "repo": "acme/api-service", "orgId": "default",
               "webhookUrl": HOOK_URL, "webhookConfigured": true})
    );
    let a = s.get(&format!("/api/agents/{agent}")).json();
    assert_eq!(
        (a["type"].as_str(), a["status"].as_str(), a["autonomyLevel"].as_u64()),
        (Some("project"), Some("ACTIVE"), Some(1))
    );
    assert_eq!(a["projectId"], "proj-001");
    let listed = projects(&s, None);
    assert_eq!(
        listed,
        [json!({"id": "proj-001", "name": "API Service", "repo": "acme/api-service",
                "repoUrl": "https://github.com/acme/api-service", "defaultBranch": "trunk",
                "webhookConfigured": true, "agentId": agent, "agentStatus": "ACTIVE",
                "orgId": "default", "createdAt": listed[0]["createdAt"]})]
    );
    s.post("/api/projects", &json!({"repo": "ACME/api-service"}))
        .expect_error(409, "PROJECT_ALREADY_EXISTS");
    s.delete(&format!("/api/agents/{agent}")).expect_error(409, "AGENT_HAS_PROJECT");

    // Agents working on the project: an ephemeral one ends with it, a persistent one stays.
    let review = s
        .post(
            "/api/agents",
            &json!({"name": "pr-reviewer", "type": "review", "projectId": "proj-001"}),
        )
        .json()["id"]
        .clone();
    let coord = s
        .post(
            "/api/agents",
            &json!({"name": "coordinator", "type": "coordinator", "projectId": "proj-001"}),
        )
        .json()["id"]
        .clone();

    s.restart();
    assert_eq!(projects(&s, None).len(), 1, "projects survive a restart");

    let r = s.delete("/api/projects/proj-001");
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(
        r.json(),
        json!({"success": true, "removed": {"id": "proj-001", "agentTerminated": true, "webhookRemoved": true}})
    );
    assert!(github.hooks("acme/api-service").is_empty(), "hook removed on GitHub");
    let status = |id: &Value| {
        s.get(&format!("/api/agents/{}", id.as_str().expect("id"))).json()["status"].clone()
    };
    assert_eq!(status(&json!(agent)), "TERMINATED");
    assert_eq!(status(&review), "TERMINATED");
    assert_eq!(status(&coord), "ACTIVE");
    assert!(projects(&s, None).is_empty());

    let deleted = s.audit_entries("project.deleted");
    assert_eq!(deleted.len(), 1);
    let meta = &deleted[0]["metadata"];
    assert_eq!(meta["projectId"], "proj-001");
    assert_eq!(meta["webhookRemoved"], true);
    let mut ended: Vec<Value> = meta["terminatedAgents"].as_array().expect("list").clone();
    ended.sort_by_key(|v| v.to_string());
    let mut expected = vec![json!(agent), review.clone()];
    expected.sort_by_key(|v| v.to_string());
    assert_eq!(ended, expected);
    assert_eq!(s.get("/api/audit/verify").json()["valid"], true);

    s.delete("/api/projects/proj-001").expect_error(404, "PROJECT_NOT_FOUND");
    // Ids are never reused, and the repo can have a project again.
    assert_eq!(
        s.post("/api/projects", &json!({"repo": "acme/api-service"})).json()["id"],
        "proj-002"
    );
}

#[test]
fn a_hook_already_gone_on_github_counts_as_removed() {
    let github = FakeGitHub::start();
    github.add_repo("acme/web", "main");
    let s = server(&github);
    assert_eq!(s.post("/api/projects", &json!({"repo": "acme/web"})).status, 201);
    github.state.lock().expect("state").hooks.clear();

    let r = s.delete("/api/projects/proj-001");
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["removed"]["webhookRemoved"], true);
}

#[test]
fn failures_answer_the_seed_errors_and_store_nothing() {
    let github = FakeGitHub::start();
    github.add_repo("acme/web", "main");
    github.add_repo("acme/secret", "main");
    github.state.lock().expect("state").forbidden.insert("acme/secret".into());
    let s = server(&github);
    let agent = new_agent(&s, "web-bot");

    let e = link(&s, &agent, "acme/nonexistent").expect_error(404, "REPO_NOT_FOUND");
    assert_eq!(e["error"], "Repository not found or insufficient permissions");
    link(&s, &agent, "acme/secret").expect_error(404, "REPO_NOT_FOUND");
    s.post("/api/projects", &json!({"repo": "acme/nonexistent"}))
        .expect_error(404, "REPO_NOT_FOUND");
    for bad in ["not a repo", "acme", "https://gitlab.com/acme/web", "acme/web/extra", "acme/.."] {
        link(&s, &agent, bad).expect_error(400, "INVALID_REPO");
        s.post("/api/projects", &json!({"repo": bad})).expect_error(400, "INVALID_REPO");
    }
    s.post("/api/project/link", &json!({"repo": "acme/web"})).expect_error(400, "MISSING_FIELD");
    s.post("/api/project/link", &json!({"agentId": agent})).expect_error(400, "MISSING_FIELD");
    s.post("/api/projects", &json!({})).expect_error(400, "MISSING_FIELD");
    link(&s, "agent-task-zzzzzz", "acme/web").expect_error(404, "AGENT_NOT_FOUND");
    s.get("/api/project").expect_error(400, "MISSING_FIELD");
    s.get("/api/project?agentId=agent-task-zzzzzz").expect_error(404, "AGENT_NOT_FOUND");

    // GitHub failing: 502 with the upstream status in `details`.
    github.state.lock().expect("state").outage = Some(500);
    let e = link(&s, &agent, "acme/web").expect_error(502, "UPSTREAM_ERROR");
    assert!(e["details"].as_str().is_some_and(|d| d.contains("500")), "{e}");
    s.post("/api/projects", &json!({"repo": "acme/web"})).expect_error(502, "UPSTREAM_ERROR");

    // Nothing was stored by any of it.
    assert!(projects(&s, None).is_empty());
    assert_eq!(s.get(&format!("/api/project?agentId={agent}")).json(), json!({"linked": false}));
    assert_eq!(s.get("/api/agents").json().as_array().map(Vec::len), Some(1));
    assert!(s.audit_entries("link").is_empty());
    assert!(s.audit_entries("project.create").is_empty());
    assert!(github.hooks("acme/web").is_empty());
    assert!(!s.log().contains(GITHUB_TOKEN), "the token never reaches the log");
}

#[test]
fn github_down_is_an_upstream_error_and_a_missing_token_is_missing_config() {
    let down =
        Server::with(&[], &[("GITHUB_TOKEN", GITHUB_TOKEN), ("GITHUB_API_URL", &dead_url())]);
    let agent = new_agent(&down, "web-bot");
    let e = link(&down, &agent, "acme/web").expect_error(502, "UPSTREAM_ERROR");
    assert!(e["details"].as_str().is_some_and(|d| d.contains("unreachable")), "{e}");
    assert!(projects(&down, None).is_empty());

    let bare = Server::start();
    let agent = new_agent(&bare, "web-bot");
    let e = link(&bare, &agent, "acme/web").expect_error(400, "MISSING_CONFIG");
    assert_eq!(e["error"], "GITHUB_TOKEN is not configured");

    // Without a token a project is still created, on the user's word.
    let r = bare.post("/api/projects", &json!({"repo": "https://github.com/acme/web"}));
    assert_eq!(r.status, 201, "{}", r.json());
    assert_eq!(r.json()["webhookConfigured"], false);
    assert_eq!(r.json()["webhookUrl"], Value::Null);
    assert_eq!(projects(&bare, None)[0]["defaultBranch"], "main");
}

#[test]
fn projects_are_scoped_by_org() {
    let github = FakeGitHub::start();
    github.add_repo("acme/web", "main");
    github.add_repo("acme/api", "main");
    let s = server(&github);
    let org = s.post("/api/orgs", &json!({"name": "Acme Corp"})).json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let in_org = [("x-org-id", org.as_str())];

    let r = s.call("POST", "/api/projects", &in_org, Some(&json!({"repo": "acme/web"})));
    assert_eq!(r.status, 201, "{}", r.json());
    assert_eq!(r.json()["orgId"], org.as_str());
    // The org's hook URL names the org, so its deliveries land there.
    let url = format!("{HOOK_URL}?orgId={org}");
    assert_eq!(r.json()["webhookUrl"], url.as_str());
    assert_eq!(github.hooks("acme/web")[0]["config"]["url"], url.as_str());
    assert_eq!(s.post("/api/projects", &json!({"repo": "acme/api"})).status, 201);
    // The same repo may have a project in another org.
    assert_eq!(s.post("/api/projects", &json!({"repo": "acme/web"})).status, 201);

    assert_eq!(projects(&s, None).len(), 3, "no header: every org");
    let mine = projects(&s, Some(&org));
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["repo"], "acme/web");
    assert_eq!(projects(&s, Some("default")).len(), 2);

    let theirs = mine[0]["id"].as_str().expect("id");
    s.call("DELETE", &format!("/api/projects/{theirs}"), &[("x-org-id", "default")], None)
        .expect_error(404, "PROJECT_NOT_FOUND");
    s.call("GET", &format!("/api/projects/{theirs}"), &[("x-org-id", "default")], None)
        .expect_error(404, "PROJECT_NOT_FOUND");
    assert_eq!(s.call("GET", &format!("/api/projects/{theirs}"), &in_org, None).status, 200);
    assert_eq!(projects(&s, Some(&org)).len(), 1, "still there");
    s.call("GET", "/api/projects", &[("x-org-id", "org-nope")], None)
        .expect_error(404, "ORG_NOT_FOUND");
}

#[test]
fn a_second_agent_linked_to_the_same_repo_joins_its_project() {
    let github = FakeGitHub::start();
    github.add_repo("acme/web", "main");
    let s = server(&github);
    assert_eq!(s.post("/api/projects", &json!({"repo": "acme/web"})).status, 201);
    let helper = new_agent(&s, "web-helper");

    let r = link(&s, &helper, "acme/web");
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["config"]["id"], "proj-001");
    assert_eq!(github.hooks("acme/web").len(), 1, "no second hook");
    assert_eq!(projects(&s, None).len(), 1);

    // Leaving it keeps the project and its hook for the agent that owns it.
    let r = s.delete(&format!("/api/project/link?agentId={helper}"));
    assert_eq!(r.json()["unlinked"]["webhookRemoved"], false);
    assert_eq!(projects(&s, None).len(), 1);
    assert_eq!(github.hooks("acme/web").len(), 1);
}

#[test]
fn a_slow_github_is_a_timeout_and_never_blocks_the_server() {
    let github = FakeGitHub::start();
    github.add_repo("acme/web", "main");
    github.state.lock().expect("state").delay = Some(std::time::Duration::from_secs(3));
    let s = Server::with(
        &[],
        &[
            ("GITHUB_TOKEN", GITHUB_TOKEN),
            ("GITHUB_API_URL", github.url()),
            ("SPAR_UPSTREAM_TIMEOUT_MS", "1500"),
        ],
    );
    let agent = new_agent(&s, "web-bot");
    std::thread::scope(|scope| {
        let slow = scope.spawn(|| link(&s, &agent, "acme/web"));
        std::thread::sleep(std::time::Duration::from_millis(300));
        // While the link waits on GitHub, the server answers at once.
        let started = std::time::Instant::now();
        assert_eq!(s.get("/health").status, 200);
        assert_eq!(s.get("/api/agents").status, 200);
        assert!(
            started.elapsed() < std::time::Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
        let e = slow.join().expect("link thread").expect_error(504, "UPSTREAM_TIMEOUT");
        assert_eq!(e["error"], "GitHub did not answer in time");
    });
    assert!(projects(&s, None).is_empty());
}
