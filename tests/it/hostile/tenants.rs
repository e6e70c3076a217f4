//! Tenants told apart by a credential (docs/SECURITY.md, "Credentials"): an org token reaches
//! its org whatever `x-org-id` says, a repository belongs to one org, and an org's own GitHub
//! token is the one its projects use.

use serde_json::{Value, json};

use super::spar_created;
use crate::common::fake::{FakeGitHub, GITHUB_TOKEN};
use crate::common::{Resp, Server};

const OPERATOR: &str = "operator-token-0123456789";

fn server(github: &FakeGitHub, env_token: bool) -> Server {
    let mut env = vec![
        ("ENGINE_API_TOKEN", OPERATOR),
        ("GITHUB_API_URL", github.url()),
        ("WEBHOOK_BASE_URL", "https://spar.example.com"),
    ];
    if env_token {
        env.push(("GITHUB_TOKEN", GITHUB_TOKEN));
    }
    Server::with(&["--rate-limit-api", "0"], &env)
}

/// A request with `bearer` and, when given, `x-org-id`.
fn as_caller(
    s: &Server,
    bearer: &str,
    org: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Resp {
    let auth = format!("Bearer {bearer}");
    let mut headers = vec![("Authorization", auth.as_str())];
    if let Some(org) = org {
        headers.push(("x-org-id", org));
    }
    s.call(method, path, &headers, body)
}

fn new_org(s: &Server, name: &str) -> String {
    let r = as_caller(s, OPERATOR, None, "POST", "/api/orgs", Some(&json!({ "name": name })));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()["id"].as_str().expect("id").to_owned()
}

fn new_agent(s: &Server, bearer: &str, org: Option<&str>, name: &str) -> String {
    let body = json!({ "name": name, "type": "task" });
    let r = as_caller(s, bearer, org, "POST", "/api/agents", Some(&body));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    r.json()["id"].as_str().expect("id").to_owned()
}

fn agent_names(r: &Resp) -> Vec<String> {
    let list = r.json();
    let agents = list.as_array().cloned().unwrap_or_default();
    agents.iter().filter_map(|a| a["name"].as_str().map(str::to_owned)).collect()
}

#[test]
fn an_org_token_reaches_its_org_only_whatever_the_header_says() {
    let github = FakeGitHub::start();
    let s = server(&github, true);
    let (alpha, beta) = (new_org(&s, "Alpha"), new_org(&s, "Beta"));
    let beta_agent = new_agent(&s, OPERATOR, Some(&beta), "beta-bot");
    let token = spar_created(&s, &["token", "create", "--org", &alpha, "--name", "alpha-ci"]);

    // Without a header it is its org; with its own org it is the same.
    let mine = new_agent(&s, &token, None, "alpha-bot");
    let listed = as_caller(&s, &token, None, "GET", "/api/agents", None);
    assert_eq!(agent_names(&listed), ["alpha-bot"]);
    let same = as_caller(&s, &token, Some(&alpha), "GET", "/api/agents", None);
    assert_eq!(agent_names(&same), ["alpha-bot"]);

    // Another org in the header: 403, for reads and writes alike.
    let e = as_caller(&s, &token, Some(&beta), "GET", "/api/agents", None)
        .expect_error(403, "FORBIDDEN");
    assert!(e["error"].as_str().is_some_and(|m| m.contains(&alpha)), "{e}");
    let body = json!({ "name": "intruder", "type": "task" });
    as_caller(&s, &token, Some(&beta), "POST", "/api/agents", Some(&body))
        .expect_error(403, "FORBIDDEN");
    // Another org's ids are not found, not reachable.
    let path = format!("/api/agents/{beta_agent}");
    as_caller(&s, &token, None, "GET", &path, None).expect_error(404, "AGENT_NOT_FOUND");
    as_caller(&s, &token, None, "DELETE", &path, None).expect_error(404, "AGENT_NOT_FOUND");
    let stop = json!({ "action": "suspend" });
    let act = format!("{path}/action");
    as_caller(&s, &token, None, "POST", &act, Some(&stop)).expect_error(404, "AGENT_NOT_FOUND");
    let orgs = as_caller(&s, &token, None, "GET", "/api/orgs", None).json();
    let ids: Vec<&str> =
        orgs.as_array().into_iter().flatten().filter_map(|o| o["id"].as_str()).collect();
    assert_eq!(ids, [alpha.as_str()], "{orgs}");
    let audit = as_caller(&s, &token, None, "GET", "/api/audit?limit=100", None).json();
    let audit_orgs: Vec<&str> = audit["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["orgId"].as_str())
        .collect();
    assert!(!audit_orgs.is_empty() && audit_orgs.iter().all(|o| *o == alpha), "{audit_orgs:?}");
    // What spans orgs is the operator's.
    let create = json!({ "name": "Gamma" });
    as_caller(&s, &token, None, "POST", "/api/orgs", Some(&create)).expect_error(403, "FORBIDDEN");
    as_caller(&s, &token, None, "GET", "/api/metrics", None).expect_error(403, "FORBIDDEN");

    // The operator still sees every org; the token's agent is in its org.
    let everything = as_caller(&s, OPERATOR, None, "GET", "/api/agents", None);
    assert!(agent_names(&everything).len() >= 2);
    let in_alpha =
        as_caller(&s, OPERATOR, Some(&alpha), "GET", &format!("/api/agents/{mine}"), None);
    assert_eq!(in_alpha.status, 200);
    // A revoked or made-up token opens nothing.
    as_caller(&s, "spar_not_a_token", None, "GET", "/api/agents", None)
        .expect_error(401, "UNAUTHORIZED");
    spar_created(&s, &["token", "revoke", "alpha-ci"]);
    as_caller(&s, &token, None, "GET", "/api/agents", None).expect_error(401, "UNAUTHORIZED");
}

#[test]
fn a_repository_linked_in_one_org_is_refused_to_another() {
    let github = FakeGitHub::start();
    github.add_repo("acme/payments", "main");
    let s = server(&github, true);
    let (alpha, beta) = (new_org(&s, "Alpha"), new_org(&s, "Beta"));
    let beta_token = spar_created(&s, &["token", "create", "--org", &beta]);
    let repo = json!({ "repo": "acme/payments" });
    let r = as_caller(&s, OPERATOR, Some(&alpha), "POST", "/api/projects", Some(&repo));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));

    let e = as_caller(&s, &beta_token, None, "POST", "/api/projects", Some(&repo))
        .expect_error(409, "REPO_IN_ANOTHER_ORG");
    assert!(e["error"].as_str().is_some_and(|m| m.contains("acme/payments")), "{e}");
    let agent = new_agent(&s, &beta_token, None, "beta-bot");
    let link = json!({ "agentId": agent, "repo": "https://github.com/ACME/payments.git" });
    as_caller(&s, &beta_token, None, "POST", "/api/project/link", Some(&link))
        .expect_error(409, "REPO_IN_ANOTHER_ORG");
    let projects = as_caller(&s, &beta_token, None, "GET", "/api/projects", None).json();
    assert_eq!(projects["projects"].as_array().map(Vec::len), Some(0), "{projects}");

    // The operator may (a repository shared on purpose).
    let r = as_caller(&s, OPERATOR, Some(&beta), "POST", "/api/projects", Some(&repo));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn an_org_uses_its_own_github_token_for_its_projects() {
    let github = FakeGitHub::start();
    github.add_repo("beta/service", "main");
    // No GITHUB_TOKEN in the environment: only the org's own token can reach GitHub.
    let s = server(&github, false);
    let (alpha, beta) = (new_org(&s, "Alpha"), new_org(&s, "Beta"));
    let beta_token = spar_created(&s, &["token", "create", "--org", &beta]);
    let configure = json!({ "integration": "github", "config": { "token": GITHUB_TOKEN } });
    let r =
        as_caller(&s, &beta_token, None, "POST", "/api/integrations/configure", Some(&configure));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // Setting the webhook secret afterwards (the channels endpoint) keeps the token.
    let secret = json!({ "channel": "github", "config": { "webhookSecret": "beta-hook" } });
    let r = as_caller(&s, &beta_token, None, "POST", "/api/channels/configure", Some(&secret));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let status = as_caller(&s, &beta_token, None, "GET", "/api/integrations/status", None);
    assert!(!String::from_utf8_lossy(&status.body).contains(GITHUB_TOKEN), "never shown");

    let repo = json!({ "repo": "beta/service" });
    let r = as_caller(&s, &beta_token, None, "POST", "/api/projects", Some(&repo));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let sent = github.requests();
    assert!(
        sent.iter().all(|r| r.header("authorization") == Some(&format!("Bearer {GITHUB_TOKEN}")))
    );

    assert_eq!(r.json()["webhookConfigured"], true);

    // Alpha has no token of its own and there is none in the environment: its project is
    // stored without a hook, and GitHub hears nothing (beta's token is not borrowed).
    let other = json!({ "repo": "beta/other" });
    let r = as_caller(&s, OPERATOR, Some(&alpha), "POST", "/api/projects", Some(&other));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["webhookConfigured"], false);
    assert_eq!(github.requests().len(), sent.len());
}
