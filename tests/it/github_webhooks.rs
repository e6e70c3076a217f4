//! `POST /webhooks/github` (docs/API.md §3.1): signatures over the raw bytes, secrets per org, strict
//! mode, form bodies, deduplication, and what a processed delivery records.

use std::sync::Arc;

use crate::common::{Server, WebhookLoad, assert_stored_once, fixture, post_delivery, sign};
use serde_json::{Value, json};

const SECRET: &str = "It's a Secret to Everybody";

fn signed_server(extra: &[(&str, &str)]) -> Server {
    let mut envs = vec![("GITHUB_WEBHOOK_SECRET", SECRET)];
    envs.extend_from_slice(extra);
    Server::with(&["--rate-limit-webhooks", "0"], &envs)
}

fn count(s: &Server, action: &str) -> usize {
    s.audit_entries(action).len()
}

#[test]
fn a_pretty_printed_body_verifies_over_its_raw_bytes() {
    let s = signed_server(&[]);
    let body = fixture("github/push.json");
    assert!(body.windows(3).any(|w| w == b"\n  "), "the fixture is pretty-printed");

    let r = s.github_webhook("/webhooks/github", "push", "d-1", Some(SECRET), &body);
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["processed"], true, "{}", r.json());

    // One changed byte, still valid JSON: refused.
    let original = format!("sha256={}", sign(SECRET, &body));
    let mut changed = body.clone();
    let at = changed.windows(5).position(|w| w == b"alice").expect("alice");
    changed[at] = b'A';
    let r = s.github_delivery("/webhooks/github", "push", Some("d-2"), Some(&original), &changed);
    let e = r.expect_error(401, "INVALID_SIGNATURE");
    assert_eq!(e["error"], "Invalid webhook signature");

    // The same JSON re-serialised compactly does not carry the pretty body's signature.
    let compact =
        serde_json::to_vec(&serde_json::from_slice::<Value>(&body).expect("json")).expect("json");
    let r = s.github_delivery("/webhooks/github", "push", Some("d-3"), Some(&original), &compact);
    r.expect_error(401, "INVALID_SIGNATURE");

    // GitHub's documented test vector passes verification (then fails as JSON, not as a signature).
    let vector = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    let r = s.github_delivery("/webhooks/github", "push", None, Some(vector), b"Hello, World!");
    r.expect_error(400, "INVALID_JSON");
    assert_eq!(count(&s, "ci_event"), 1, "only the valid delivery was recorded");
}

#[test]
fn missing_signatures_secrets_and_strict_mode() {
    let s = signed_server(&[]);
    let body = fixture("github/push.json");
    s.github_webhook("/webhooks/github", "push", "d-1", None, &body)
        .expect_error(401, "MISSING_SIGNATURE");
    let r = s.raw_request(
        "POST",
        "/webhooks/github",
        &[("Content-Type", "application/json"), ("X-Hub-Signature-256", "sha256=00")],
        &body,
    );
    r.expect_error(400, "MISSING_HEADER");
    s.github_delivery("/webhooks/github", "push", None, Some("md5=abc"), &body)
        .expect_error(401, "INVALID_SIGNATURE");
    // An unsigned body is refused as unsigned, whatever else is wrong with it.
    let form = [("Content-Type", "application/x-www-form-urlencoded"), ("X-GitHub-Event", "push")];
    s.raw_request("POST", "/webhooks/github", &form, b"not-a-payload=1")
        .expect_error(401, "MISSING_SIGNATURE");
    s.github_delivery("/webhooks/github", "push", None, None, b"{broken")
        .expect_error(401, "MISSING_SIGNATURE");

    // No secret anywhere: accepted unsigned, with a warning in the log.
    let open = Server::with(&[], &[]);
    let r = open.github_webhook("/webhooks/github", "push", "d-1", None, &body);
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["processed"], true);
    assert!(open.log().contains("without a signature check"));

    // Strict mode: no secret means no delivery.
    let strict = Server::with(&[], &[("WEBHOOK_STRICT_MODE", "true")]);
    let e = strict.github_webhook("/webhooks/github", "push", "d-1", None, &body);
    let e = e.expect_error(401, "WEBHOOK_SECRET_NOT_CONFIGURED");
    assert!(e["error"].as_str().is_some_and(|m| m.contains("WEBHOOK_STRICT_MODE")), "{e}");
    assert_eq!(count(&strict, "ci_event"), 0);
}

#[test]
fn each_org_can_have_its_own_secret() {
    let s = signed_server(&[("GITHUB_WEBHOOK_SECRET_ORG_ACME_CORP", "acme-secret")]);
    let org = s.post("/api/orgs", &json!({"name": "Acme Corp"})).json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(org, "org-acme-corp");
    let body = fixture("github/workflow_run.failure.json");
    let to_org = format!("/webhooks/github?orgId={org}");

    let ok = s.github_webhook(&to_org, "workflow_run", "d-1", Some("acme-secret"), &body);
    assert_eq!(ok.status, 200, "{}", ok.json());
    s.github_webhook(&to_org, "workflow_run", "d-2", Some(SECRET), &body)
        .expect_error(401, "INVALID_SIGNATURE");
    s.github_webhook("/webhooks/github", "workflow_run", "d-3", Some("acme-secret"), &body)
        .expect_error(401, "INVALID_SIGNATURE");
    assert_eq!(
        s.github_webhook("/webhooks/github", "workflow_run", "d-4", Some(SECRET), &body).status,
        200
    );

    // Recorded in the org it was for, and only there.
    let in_org = s.call("GET", "/api/audit?action=ci_event", &[("x-org-id", &org)], None).json();
    assert_eq!(in_org["total"], 1);
    assert_eq!(in_org["entries"][0]["orgId"], org.as_str());
    let in_default =
        s.call("GET", "/api/audit?action=ci_event", &[("x-org-id", "default")], None).json();
    assert_eq!(in_default["total"], 1);

    // Without ?orgId= the org of the project for the repository is used, with its secret.
    let p = s.call(
        "POST",
        "/api/projects",
        &[("x-org-id", &org)],
        Some(&json!({"repo": "acme/api-gateway"})),
    );
    assert_eq!(p.status, 201);
    let r = s.github_webhook("/webhooks/github", "workflow_run", "d-5", Some("acme-secret"), &body);
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["projectId"], p.json()["id"]);
    let in_org = s.call("GET", "/api/audit?action=ci_event", &[("x-org-id", &org)], None).json();
    assert_eq!(in_org["total"], 2);

    s.github_webhook("/webhooks/github?orgId=org-nope", "push", "d-6", Some(SECRET), &body)
        .expect_error(404, "ORG_NOT_FOUND");
    s.github_webhook("/webhooks/github?orgId=bad%20org", "push", "d-7", Some(SECRET), &body)
        .expect_error(400, "INVALID_ORG_ID");
}

#[test]
fn form_encoded_payloads_are_accepted() {
    let s = signed_server(&[]);
    let json_body = fixture("github/pull_request.opened.json");
    let mut form = b"payload=".to_vec();
    for &b in &json_body {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            form.push(b);
        } else if b == b' ' {
            form.push(b'+');
        } else {
            form.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    let sig = format!("sha256={}", sign(SECRET, &form));
    let r = s.raw_request(
        "POST",
        "/webhooks/github",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-GitHub-Event", "pull_request"),
            ("X-GitHub-Delivery", "form-1"),
            ("X-Hub-Signature-256", &sig),
        ],
        &form,
    );
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(
        r.json(),
        json!({"received": true, "event": "pull_request", "action": "opened", "repo": "acme/api-gateway",
               "processed": true, "eventId": "evt-1", "projectId": null})
    );
    let entry = &s.audit_entries("ci_event")[0];
    assert_eq!(entry["metadata"]["details"], "PR #42 'feat: add rate limiting' opened by alice");

    let r = s.raw_request(
        "POST",
        "/webhooks/github",
        &[("Content-Type", "text/plain"), ("X-GitHub-Event", "push")],
        b"hello",
    );
    r.expect_error(415, "UNSUPPORTED_MEDIA_TYPE");
}

#[test]
fn a_redelivery_is_answered_as_a_duplicate_and_changes_nothing() {
    let mut s = signed_server(&[]);
    let body = fixture("github/push.json");
    let first = s.github_webhook(
        "/webhooks/github",
        "push",
        "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        Some(SECRET),
        &body,
    );
    assert_eq!(first.json()["processed"], true);
    let audit_total = s.get("/api/audit").json()["total"].clone();
    let memory_total = s.get("/api/memory").json()["vectorStore"]["totalEmbeddings"].clone();

    let again = s.github_webhook(
        "/webhooks/github",
        "push",
        "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        Some(SECRET),
        &body,
    );
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), json!({"received": true, "duplicate": true}));
    // Remembered across restarts: the receipt is stored with the event.
    s.restart();
    let after_restart = s.github_webhook(
        "/webhooks/github",
        "push",
        "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        Some(SECRET),
        &body,
    );
    assert_eq!(after_restart.json()["duplicate"], true);
    assert_eq!(s.get("/api/audit").json()["total"], audit_total);
    assert_eq!(s.get("/api/memory").json()["vectorStore"]["totalEmbeddings"], memory_total);

    // A new delivery id is a new event.
    let other = s.github_webhook("/webhooks/github", "push", "another", Some(SECRET), &body);
    assert_eq!(other.json()["processed"], true);
    assert_eq!(count(&s, "ci_event"), 2);
}

#[test]
fn ping_unhandled_events_and_intermediate_states() {
    let s = signed_server(&[]);
    let r = s.github_webhook(
        "/webhooks/github",
        "ping",
        "p-1",
        Some(SECRET),
        &fixture("github/ping.json"),
    );
    assert_eq!(r.json(), json!({"received": true, "event": "ping", "processed": true}));
    assert_eq!(count(&s, "webhook.ping"), 1);

    let star = br#"{"action":"created","starred_at":"2026-11-23T10:00:00Z","repository":{"full_name":"acme/api-gateway"}}"#;
    let r = s.github_webhook("/webhooks/github", "star", "s-1", Some(SECRET), star);
    assert_eq!(
        r.json(),
        json!({"received": true, "event": "star", "processed": false, "reason": "Event type not handled"})
    );

    let running = br#"{"action":"in_progress","workflow_run":{"name":"CI","status":"in_progress"},"repository":{"full_name":"acme/api-gateway"}}"#;
    let r = s.github_webhook("/webhooks/github", "workflow_run", "w-1", Some(SECRET), running);
    assert_eq!(r.json()["processed"], false);
    assert_eq!(r.json()["reason"], "intermediate_state");

    let broken = br#"{"ref":"refs/heads/main"}"#;
    let e = s.github_webhook("/webhooks/github", "push", "b-1", Some(SECRET), broken);
    let e = e.expect_error(400, "MISSING_FIELD");
    assert!(e["error"].as_str().is_some_and(|m| m.contains("repository.full_name")), "{e}");
    assert_eq!(count(&s, "ci_event"), 0);
}

#[test]
fn a_processed_event_is_audited_remembered_and_reaches_the_project() {
    let s = signed_server(&[]);
    let p = s.post("/api/projects", &json!({"repo": "acme/api-gateway"})).json();
    let (project, agent) = (p["id"].clone(), p["agentId"].as_str().expect("agent").to_owned());

    let cases = [
        ("push.json", "push", "ci.push", "Push to main by alice: feat: add rate limiting", "low"),
        (
            "pull_request.opened.json",
            "pull_request",
            "ci.pull_request.opened",
            "PR #42 'feat: add rate limiting' opened by alice",
            "low",
        ),
        (
            "pull_request.merged.json",
            "pull_request",
            "ci.pull_request.merged",
            "PR #42 'feat: add rate limiting' merged by bob",
            "low",
        ),
        (
            "workflow_run.success.json",
            "workflow_run",
            "ci.workflow_run.success",
            "Workflow 'CI' passed on main (abc1234)",
            "low",
        ),
        (
            "workflow_run.failure.json",
            "workflow_run",
            "ci.workflow_run.failure",
            "Workflow 'CI' failed on main (abc1234)",
            "high",
        ),
        (
            "check_run.success.json",
            "check_run",
            "ci.check_run.success",
            "Check 'lint' passed (abc1234)",
            "low",
        ),
    ];
    for (i, (file, event, event_type, details, risk)) in cases.iter().enumerate() {
        let delivery = format!("delivery-{i}");
        let r = s.github_webhook(
            "/webhooks/github",
            event,
            &delivery,
            Some(SECRET),
            &fixture(&format!("github/{file}")),
        );
        assert_eq!(r.status, 200, "{file}: {}", r.json());
        let answer = r.json();
        assert_eq!(
            (answer["event"].as_str(), answer["repo"].as_str()),
            (Some(*event), Some("acme/api-gateway")),
            "{file}"
        );
        assert_eq!(answer["processed"], true, "{file}");
        assert_eq!(answer["projectId"], project, "{file}");

        let entry = s.audit_entries("ci_event").into_iter().next().expect("entry");
        assert_eq!(
            (entry["actorType"].as_str(), entry["actorId"].as_str()),
            (Some("system"), Some("github"))
        );
        assert_eq!(entry["result"], "processed");
        let meta = &entry["metadata"];
        assert_eq!(meta["eventType"], *event_type, "{file}");
        assert_eq!(meta["details"], *details, "{file}");
        assert_eq!(meta["risk"], *risk, "{file}");
        assert_eq!(meta["repo"], "acme/api-gateway");
        assert_eq!(meta["deliveryId"], delivery.as_str());
        assert_eq!(meta["agentId"], agent.as_str());
        assert_eq!(meta["projectId"], project);
    }
    let failure = s.get("/api/audit?action=ci_event&risk=high").json();
    assert_eq!(failure["total"], 1);
    let meta = &failure["entries"][0]["metadata"];
    assert_eq!(
        (meta["branch"].as_str(), meta["status"].as_str(), meta["conclusion"].as_str()),
        (Some("main"), Some("completed"), Some("failure"))
    );

    // One `ci` memory entry per event, on the project's agent.
    let detail = s.get(&format!("/api/agents/{agent}")).json();
    let memory = detail["memory"]["embeddings"].as_array().expect("memory");
    assert_eq!(memory.len(), cases.len());
    assert!(memory.iter().all(|m| m["category"] == "ci" && m["projectId"] == project));
    assert!(
        memory
            .iter()
            .any(|m| m["content"] == "acme/api-gateway: Workflow 'CI' failed on main (abc1234)")
    );
    assert_eq!(s.get("/api/memory").json()["projectContext"]["repo"], "acme/api-gateway");
    assert_eq!(s.get("/api/audit/verify").json()["valid"], true);
}

#[test]
fn webhook_bodies_may_be_larger_than_api_bodies_up_to_5_mib() {
    let s = signed_server(&[]);
    let mut push: Value = serde_json::from_slice(&fixture("github/push.json")).expect("json");
    push["padding"] = Value::from("x".repeat(2 * 1024 * 1024));
    let body = serde_json::to_vec(&push).expect("json");
    let r = s.github_webhook("/webhooks/github", "push", "big-1", Some(SECRET), &body);
    assert_eq!(r.status, 200, "a 2 MiB delivery is accepted");

    push["padding"] = Value::from("x".repeat(5 * 1024 * 1024));
    let body = serde_json::to_vec(&push).expect("json");
    s.github_webhook("/webhooks/github", "push", "big-2", Some(SECRET), &body)
        .expect_error(413, "PAYLOAD_TOO_LARGE");
}

#[test]
fn acknowledged_deliveries_survive_sigkill_and_are_never_recorded_twice() {
    let mut s = signed_server(&[]);
    let body = Arc::new(fixture("github/push.json"));
    let load = WebhookLoad::start(s.addr, SECRET, Arc::clone(&body), 8, "");
    load.wait_for_acknowledged(100);
    s.kill9();
    let (acknowledged, attempted) = load.finish();
    assert!(acknowledged.len() > 50, "only {} deliveries were acknowledged", acknowledged.len());

    s.start_again();
    let unique = assert_stored_once(&s, &acknowledged, "after SIGKILL");
    // Each event's memory entry committed with it.
    assert_eq!(
        s.get("/api/memory").json()["vectorStore"]["totalEmbeddings"].as_u64(),
        Some(unique.len() as u64)
    );

    // GitHub redelivers what it did not hear back about: a stored delivery is a duplicate, one
    // lost in flight is recorded now, and none is recorded twice.
    let in_flight: Vec<&String> = attempted.iter().filter(|d| !acknowledged.contains(d)).collect();
    for delivery in in_flight.iter().copied().chain(acknowledged.iter().take(20)) {
        let stream = std::net::TcpStream::connect(s.addr).expect("connect");
        let answer = post_delivery(stream, SECRET, delivery, &body).expect("answered");
        assert_eq!(answer["duplicate"] == true, unique.contains(delivery), "{delivery}: {answer}");
    }
    let after = assert_stored_once(&s, &acknowledged, "after redelivery");
    assert!(attempted.iter().all(|d| after.contains(d)));
    assert_eq!(s.get("/api/audit/verify").json()["valid"], true);
}
