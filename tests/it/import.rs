//! `spar import codespar` (docs/MIGRATING.md): a data directory written by the real CodeSpar
//! server (tests/data/codespar-storage) imported, then checked record by record through the API
//! of a server started on the result.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::common::{Server, fixture, sign};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/codespar-storage");

fn import(from: &Path, data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spar"))
        .args(["import", "codespar"])
        .arg(from)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("SPAR_SECRET_KEY")
        .output()
        .expect("run spar import")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The entries of one of the fixture's audit files, oldest first.
fn old_trail(file: &str) -> Vec<Value> {
    let raw = std::fs::read(Path::new(FIXTURE).join(file)).expect("fixture audit");
    let parsed: Value = serde_json::from_slice(&raw).expect("json");
    parsed["entries"].as_array().expect("entries").clone()
}

/// Every entry of an org's trail through the API, oldest first.
fn trail(s: &Server, org: &str) -> Vec<Value> {
    let r = s.call("GET", "/api/audit?limit=100", &[("x-org-id", org)], None);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let mut entries = r.json()["entries"].as_array().expect("entries").clone();
    entries.reverse();
    entries
}

#[test]
fn a_codespar_data_dir_is_imported_whole_and_its_trail_verifies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = import(Path::new(FIXTURE), dir.path());
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("org default: 2 agents, 1 projects, 3 configurations"), "{said}");
    assert!(said.contains("org org-acme-corp: 0 agents"), "{said}");
    for skipped in [
        "agent-states.json: agent-widgets: CodeSpar no longer has this agent (audit agent.removed",
        "projects.json: agent-gadgets: a repository link for an agent CodeSpar does not have",
        "projects.json: coordinator: \"https://github.com/not a repo\" is not a GitHub repository",
        "orgs/org-acme-corp/channel-configs.json: vercel-api: Spar stores no configuration of that name",
        "project-envs.json: Spar has no project environments",
    ] {
        assert!(said.contains(skipped), "{skipped:?} not reported in:\n{said}");
    }

    let verified = Command::new(env!("CARGO_BIN_EXE_spar"))
        .args(["verify-audit", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("verify-audit");
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(
        text(&verified).contains("audit chains valid: 28 entries in 2 orgs"),
        "{}",
        text(&verified)
    );

    let s = Server::on_dir(dir, &[], &[]);

    let orgs: Vec<Value> = s.get("/api/orgs").json().as_array().expect("orgs").clone();
    let ids: Vec<&str> = orgs.iter().filter_map(|o| o["id"].as_str()).collect();
    assert_eq!(ids, ["default", "org-acme-corp"]);
    assert_eq!(orgs[1]["slug"], "acme-corp");
    assert_eq!(orgs[1]["createdAt"], "2026-12-01T08:36:31.906Z", "the org's first record");

    // Agents: the listed project's agent and CodeSpar's coordinator, with their ids kept; the
    // removed agent-widgets is not brought back.
    let agents = s.get("/api/agents").json();
    let view: Vec<(String, String, String, u64, Value)> = agents
        .as_array()
        .expect("agents")
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap_or_default().to_owned(),
                a["type"].as_str().unwrap_or_default().to_owned(),
                a["status"].as_str().unwrap_or_default().to_owned(),
                a["autonomyLevel"].as_u64().unwrap_or(99),
                a["projectId"].clone(),
            )
        })
        .collect();
    assert!(
        view.contains(&(
            "coordinator".into(),
            "coordinator".into(),
            "ACTIVE".into(),
            0,
            Value::Null
        )),
        "{agents}"
    );
    assert!(
        view.contains(&(
            "agent-doohickeys".into(),
            "project".into(),
            "ACTIVE".into(),
            1,
            json!("doohickeys")
        )),
        "{agents}"
    );
    assert_eq!(view.len(), 2, "{agents}");
    s.get("/api/agents/agent-widgets").expect_error(404, "AGENT_NOT_FOUND");

    // The project, with the link details CodeSpar kept for its agent.
    let projects = s.get("/api/projects").json()["projects"].clone();
    assert_eq!(projects.as_array().map(Vec::len), Some(1), "{projects}");
    let p = &projects[0];
    assert_eq!(
        (p["id"].as_str(), p["repo"].as_str()),
        (Some("doohickeys"), Some("acme/doohickeys"))
    );
    assert_eq!(p["agentId"], "agent-doohickeys");
    assert_eq!(p["agentStatus"], "ACTIVE");
    assert_eq!(p["repoUrl"], "https://github.com/acme/doohickeys");
    assert_eq!(p["createdAt"], "2026-12-01T08:36:32.293Z");
    let link = s.get("/api/project?agentId=agent-doohickeys").json();
    assert_eq!(link["linked"], true, "{link}");
    assert_eq!(link["config"]["linkedBy"], "dashboard", "{link}");

    // Channel and integration configurations: configured, their secrets never shown.
    let channels = s.call("GET", "/api/channels", &[("x-org-id", "default")], None).json();
    let configured = |name: &str| {
        channels["channels"]
            .as_array()
            .and_then(|all| all.iter().find(|c| c["name"] == name))
            .map(|c| c["configured"].clone())
    };
    assert_eq!(configured("telegram"), Some(json!(true)), "{channels}");
    assert_eq!(configured("discord"), Some(json!(false)), "{channels}");
    let status = s.call("GET", "/api/integrations/status", &[("x-org-id", "default")], None).json();
    let sentry = status["integrations"]
        .as_array()
        .and_then(|all| all.iter().find(|i| i["id"] == "sentry").cloned())
        .expect("sentry in the status");
    assert_eq!(sentry["configured"], true, "{status}");
    let everything = format!("{channels}{status}");
    assert!(!everything.contains("123456:ABCdef") && !everything.contains("sntrys_abc"));
    // Routes: CodeSpar's list was empty when it was written (added, then removed).
    let routes = s.call("GET", "/api/channel-routes", &[("x-org-id", "default")], None).json();
    assert_eq!(routes["routes"], json!([]));

    // Identities (CodeSpar's memory `_system/identities`): the org's members.
    let detail = s.get("/api/orgs/default").json();
    let members = detail["members"].as_array().expect("members");
    assert_eq!(members.len(), 1, "{detail}");
    assert_eq!(members[0]["identityId"], "user-1796114191083-62xfkg");
    assert_eq!(
        (members[0]["displayName"].as_str(), members[0]["role"].as_str()),
        (Some("Admin"), Some("owner"))
    );

    // The trails: every entry, in order, at its original time, with its CodeSpar id and hash,
    // then the import's own entry; each chain verifies.
    for (org, file) in
        [("default", "audit.json"), ("org-acme-corp", "orgs/org-acme-corp/audit.json")]
    {
        let old = old_trail(file);
        let new = trail(&s, org);
        assert_eq!(new.len(), old.len() + 1, "{org}");
        for (o, n) in old.iter().zip(&new) {
            assert_eq!(n["timestamp"], o["timestamp"], "{org}: {n}");
            assert_eq!(n["action"], o["action"], "{org}: {n}");
            assert_eq!(n["actorType"], o["actorType"]);
            assert_eq!(n["actorId"], o["actorId"]);
            assert_eq!(n["metadata"]["codespar"]["id"], o["id"]);
            assert_eq!(n["metadata"]["codespar"]["hash"], o["hash"]);
            assert_eq!(n["metadata"]["codespar"]["result"], o["result"]);
            assert!(n["hash"].as_str().is_some_and(|h| h.starts_with("sha256:") && h.len() == 71));
            if let Some(detail) = o["metadata"]["detail"].as_str() {
                assert_eq!(n["metadata"]["detail"], detail);
            }
        }
        let results: Vec<(&str, &str)> = old
            .iter()
            .zip(&new)
            .map(|(o, n)| (o["result"].as_str().unwrap_or(""), n["result"].as_str().unwrap_or("")))
            .collect();
        for (from, to) in results {
            let expected = match from {
                "success" => "completed",
                "error" | "failure" => "failed",
                other => other,
            };
            assert_eq!(to, expected, "{org}");
        }
        assert_eq!(new.last().expect("entries")["action"], "import.codespar");
        let verify = s.call("GET", "/api/audit/verify", &[("x-org-id", org)], None).json();
        assert_eq!(verify["valid"], true, "{org}: {verify}");
    }
    let removed = trail(&s, "default")
        .into_iter()
        .find(|e| e["action"] == "agent.removed")
        .expect("agent.removed kept");
    assert_eq!(removed["timestamp"], "2026-12-01T08:36:32.303Z");
    // The imported history is searchable like any other.
    let found = s.call("GET", "/api/audit?q=ECONNREFUSED", &[("x-org-id", "default")], None).json();
    assert_eq!(found["total"], 1, "{found}");

    // org-acme-corp's GitHub webhook secret came along: its deliveries verify with it.
    let push = fixture("github/push.json");
    let signed = |secret: &str| format!("sha256={}", sign(secret, &push));
    let path = "/webhooks/github?orgId=org-acme-corp";
    let wrong = s.github_delivery(path, "push", Some("d-import-1"), Some(&signed("nope")), &push);
    assert_eq!(wrong.status, 401, "{}", String::from_utf8_lossy(&wrong.body));
    let right = s.github_delivery(
        path,
        "push",
        Some("d-import-2"),
        Some(&signed("acme-org-secret")),
        &push,
    );
    assert_eq!(right.status, 200, "{}", String::from_utf8_lossy(&right.body));
}

#[test]
fn an_import_never_lands_on_a_store_or_half_way() {
    // A second import into the same data dir is refused, and changes nothing.
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("spar");
    assert!(import(Path::new(FIXTURE), &target).status.success());
    let before = std::fs::read(target.join("spar.redb")).expect("store");
    let again = import(Path::new(FIXTURE), &target);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again).contains("already holds a store"), "{}", text(&again));
    assert_eq!(std::fs::read(target.join("spar.redb")).expect("store"), before);

    // A damaged file stops the import, naming the file; no data dir is left behind.
    let copy = dir.path().join("codespar");
    copy_dir(Path::new(FIXTURE), &copy);
    let damaged = copy.join("orgs/org-acme-corp/audit.json");
    let whole = std::fs::read(&damaged).expect("audit");
    std::fs::write(&damaged, &whole[..whole.len() / 2]).expect("truncate");
    let fresh = dir.path().join("fresh");
    let out = import(&copy, &fresh);
    assert_eq!(out.status.code(), Some(1));
    let said = text(&out);
    assert!(said.contains(&damaged.display().to_string()) && said.contains("damaged"), "{said}");
    assert!(said.contains("nothing was imported"), "{said}");
    assert!(!fresh.exists(), "a data dir was left behind");
    let leftovers: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A bad entry deep in a valid file is damage too (the trail must come whole).
    std::fs::write(&damaged, &whole).expect("restore");
    let mut trail: Value = serde_json::from_slice(&whole).expect("json");
    trail["entries"][2]["timestamp"] = json!("yesterday");
    std::fs::write(&damaged, serde_json::to_vec(&trail).expect("json")).expect("write");
    let out = import(&copy, &fresh);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("entry 2: timestamp \"yesterday\""), "{}", text(&out));
    assert!(!fresh.exists());

    // Something that is not a CodeSpar directory is refused before anything happens.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let out = import(&empty, &fresh);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("holds none of CodeSpar's files"), "{}", text(&out));
    assert!(!fresh.exists());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let dest = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).expect("copy");
        }
    }
}
