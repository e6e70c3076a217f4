//! `POST /webhooks/vercel` (docs/API.md §3.5) and `POST /webhooks/deploy` (§3.6): signatures over
//! the raw bytes with each sender's scheme, secrets from the channels API and the environment,
//! strict mode, deduplication, org routing, and what a processed deploy records: the normalized
//! event (§4.1) in the event stream, its audit entry, its route's chat message and the agent's
//! reaction (§4.3), plus `spar replay` of the fixtures (§3.4).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::fake::{FakeChat, SLACK_TOKEN};
use crate::common::{Resp, Server, fixture, replay_answers, sign, stamped};

const VERCEL_SECRET: &str = "vercel-hook-secret";
const DEPLOY_SECRET: &str = "deploy-hook-secret";

/// `hex(HMAC-SHA1(secret, body))`, computed here independently of Spar's own signing code.
fn sign_sha1(secret: &str, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn server(extra: &[(&str, &str)]) -> Server {
    let mut envs =
        vec![("VERCEL_WEBHOOK_SECRET", VERCEL_SECRET), ("DEPLOY_WEBHOOK_SECRET", DEPLOY_SECRET)];
    envs.extend_from_slice(extra);
    Server::with(&["--rate-limit-api", "0", "--rate-limit-webhooks", "0"], &envs)
}

/// A Vercel fixture as one delivery of it: its `id` replaced by `id` (Vercel's delivery id), so
/// two deliveries never carry the same bytes.
fn vercel_body(file: &str, id: &str) -> Vec<u8> {
    let mut body: Value =
        serde_json::from_slice(&fixture(&format!("vercel/{file}"))).expect("fixture json");
    body["id"] = Value::from(id);
    serde_json::to_vec_pretty(&body).expect("json")
}

/// Posts `body` to `path` with exactly this `x-vercel-signature` (or none).
fn vercel_raw(s: &Server, path: &str, signature: Option<&str>, body: &[u8]) -> Resp {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(sig) = signature {
        headers.push(("x-vercel-signature", sig));
    }
    s.raw_request("POST", path, &headers, body)
}

/// A Vercel delivery signed with `secret` as Vercel signs it.
fn vercel(s: &Server, path: &str, secret: &str, body: &[u8]) -> Resp {
    vercel_raw(s, path, Some(&sign_sha1(secret, body)), body)
}

fn deploy_raw(s: &Server, path: &str, signature: Option<&str>, body: &[u8]) -> Resp {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(sig) = signature {
        headers.push(("x-deploy-signature", sig));
    }
    s.raw_request("POST", path, &headers, body)
}

/// A generic deploy delivery signed with `secret`.
fn deploy(s: &Server, path: &str, secret: &str, body: &Value) -> Resp {
    let bytes = serde_json::to_vec(body).expect("json");
    deploy_raw(s, path, Some(&sign(secret, &bytes)), &bytes)
}

fn ok(r: &Resp) -> Value {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

fn in_org(org: &str) -> [(&'static str, &str); 1] {
    [("x-org-id", org)]
}

fn audit(s: &Server, org: &str, query: &str) -> Value {
    s.call("GET", &format!("/api/audit?{query}&limit=100"), &in_org(org), None).json()
}

fn configure(s: &Server, org: &str, channel: &str, config: Value) -> Resp {
    let body = json!({ "channel": channel, "config": config });
    s.call("POST", "/api/channels/configure", &in_org(org), Some(&body))
}

fn integration(s: &Server, org: &str, id: &str) -> Value {
    let all = s.call("GET", "/api/integrations/status", &in_org(org), None).json();
    all["integrations"].as_array().expect("list").iter().find(|i| i["id"] == id).cloned().expect(id)
}

/// The org's events after `Last-Event-ID: 0`, read from the event stream (docs/API.md §2.12)
/// until `n` have arrived: (SSE event name, data).
pub(crate) fn streamed(s: &Server, org: &str, n: usize) -> Vec<(String, Value)> {
    let mut stream = TcpStream::connect(s.addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let req = format!(
        "GET /api/events HTTP/1.1\r\nHost: spar\r\nAccept: text/event-stream\r\nx-org-id: {org}\r\nLast-Event-ID: 0\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).expect("send");
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("head");
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let (mut text, mut out) = (String::new(), Vec::new());
    let deadline = Instant::now() + Duration::from_secs(10);
    while out.len() < n {
        assert!(Instant::now() < deadline, "only {} of {n} events streamed: {text}", out.len());
        let mut size = String::new();
        reader.read_line(&mut size).expect("chunk size");
        let size = usize::from_str_radix(size.trim(), 16).expect("hex chunk size");
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).expect("chunk");
        text.push_str(&String::from_utf8_lossy(&chunk[..size]));
        while let Some(end) = text.find("\n\n") {
            let frame: String = text.drain(..end + 2).collect();
            let field = |name: &str| {
                frame.lines().find_map(|l| l.strip_prefix(&format!("{name}: "))).map(str::to_owned)
            };
            if let (Some(event), Some(data)) = (field("event"), field("data"))
                && event != "connected"
            {
                out.push((event, serde_json::from_str(&data).expect("data is JSON")));
            }
        }
    }
    out
}

#[test]
fn vercel_deliveries_are_verified_with_hmac_sha1_over_the_raw_body() {
    let s = server(&[]);
    let body = vercel_body("deployment.error.json", "evt-a");
    assert!(body.windows(3).any(|w| w == b"\n  "), "the body is pretty-printed");
    let answer = ok(&vercel(&s, "/webhooks/vercel", VERCEL_SECRET, &body));
    assert_eq!(
        answer,
        json!({"received": true, "type": "deployment.error", "state": "error", "processed": true,
               "eventId": "evt-1", "projectId": null})
    );

    // One changed byte, still valid JSON: refused.
    let good = sign_sha1(VERCEL_SECRET, &body);
    let mut changed = vercel_body("deployment.error.json", "evt-b");
    let at = changed.windows(5).position(|w| w == b"alice").expect("alice");
    changed[at] = b'A';
    let e = vercel_raw(&s, "/webhooks/vercel", Some(&good), &changed)
        .expect_error(401, "INVALID_SIGNATURE");
    assert_eq!(e["error"], "Invalid webhook signature");
    // The right key in the wrong scheme (GitHub's SHA-256) is no Vercel signature.
    let body_c = vercel_body("deployment.error.json", "evt-c");
    vercel_raw(&s, "/webhooks/vercel", Some(&sign(VERCEL_SECRET, &body_c)), &body_c)
        .expect_error(401, "INVALID_SIGNATURE");
    vercel_raw(
        &s,
        "/webhooks/vercel",
        Some(&format!("sha1={}", sign_sha1(VERCEL_SECRET, &body_c))),
        &body_c,
    )
    .expect_error(401, "INVALID_SIGNATURE");
    let e =
        vercel_raw(&s, "/webhooks/vercel", None, &body_c).expect_error(401, "MISSING_SIGNATURE");
    assert_eq!(e["error"], "Missing x-vercel-signature header");
    vercel(&s, "/webhooks/vercel", "another-secret", &body_c)
        .expect_error(401, "INVALID_SIGNATURE");
    // An unsigned broken body is refused as unsigned; a signed one as what it is.
    vercel_raw(&s, "/webhooks/vercel", None, b"{nope").expect_error(401, "MISSING_SIGNATURE");
    vercel(&s, "/webhooks/vercel", VERCEL_SECRET, b"{nope").expect_error(400, "INVALID_JSON");
    let e = vercel(&s, "/webhooks/vercel", VERCEL_SECRET, br#"{"id":"x","payload":{}}"#)
        .expect_error(400, "MISSING_FIELD");
    assert!(e["error"].as_str().is_some_and(|m| m.contains("type")), "{e}");
    vercel(&s, "/webhooks/vercel", VERCEL_SECRET, br#"{"id":7,"type":"deployment.error"}"#)
        .expect_error(400, "INVALID_FIELD");

    assert_eq!(audit(&s, "default", "action=deploy_event")["total"], 1, "only the valid one");
    let metrics = s.get("/api/metrics").json();
    assert_eq!(metrics["metrics"]["webhook.received.vercel"], 1, "{metrics}");
    assert_eq!(metrics["metrics"]["webhook.received.deploy"], 0, "{metrics}");
}

#[test]
fn generic_deploys_are_verified_with_hmac_sha256_and_their_bodies_checked() {
    let s = server(&[]);
    let body = fixture("deploy/failure.json");
    let r = deploy_raw(&s, "/webhooks/deploy", Some(&sign(DEPLOY_SECRET, &body)), &body);
    assert_eq!(
        ok(&r),
        json!({"received": true, "status": "failure", "processed": true, "eventId": "evt-1",
               "projectId": null})
    );
    let other = fixture("deploy/success.json");
    deploy_raw(&s, "/webhooks/deploy", Some(&sign_sha1(DEPLOY_SECRET, &other)), &other)
        .expect_error(401, "INVALID_SIGNATURE");
    deploy_raw(&s, "/webhooks/deploy", Some(&sign(VERCEL_SECRET, &other)), &other)
        .expect_error(401, "INVALID_SIGNATURE");
    let e = deploy_raw(&s, "/webhooks/deploy", None, &other).expect_error(401, "MISSING_SIGNATURE");
    assert_eq!(e["error"], "Missing x-deploy-signature header");
    // A Vercel signature header does not sign a generic deploy.
    let headers = [
        ("Content-Type", "application/json"),
        ("x-vercel-signature", &sign_sha1(DEPLOY_SECRET, &other)[..]),
    ];
    s.raw_request("POST", "/webhooks/deploy", &headers, &other)
        .expect_error(401, "MISSING_SIGNATURE");

    // Body errors, after the signature checked out.
    for (bad, code, field) in [
        (json!({"project": "api"}), "MISSING_FIELD", "status"),
        (json!({"status": "exploded"}), "INVALID_FIELD", "status"),
        (json!({"status": 3}), "INVALID_FIELD", "status"),
        (json!({"status": "success", "source": "a b"}), "INVALID_FIELD", "source"),
        (json!({"status": "success", "url": "ftp://x"}), "INVALID_FIELD", "url"),
    ] {
        let e = deploy(&s, "/webhooks/deploy", DEPLOY_SECRET, &bad).expect_error(400, code);
        assert!(e["error"].as_str().is_some_and(|m| m.contains(field)), "{bad}: {e}");
    }
    deploy_raw(&s, "/webhooks/deploy", Some(&sign(DEPLOY_SECRET, b"{nope")), b"{nope")
        .expect_error(400, "INVALID_JSON");
    assert_eq!(audit(&s, "default", "action=deploy_event")["total"], 1);
}

#[test]
fn no_secret_accepts_with_a_warning_and_strict_mode_refuses() {
    let open = Server::with(&[], &[]);
    let r = vercel_raw(
        &open,
        "/webhooks/vercel",
        None,
        &vercel_body("deployment.succeeded.json", "u-1"),
    );
    assert_eq!(ok(&r)["processed"], true);
    let r = deploy_raw(&open, "/webhooks/deploy", None, &fixture("deploy/success.json"));
    assert_eq!(ok(&r)["processed"], true);
    assert!(open.log().contains("without a signature check"));
    assert_eq!(audit(&open, "default", "action=deploy_event")["total"], 2);

    let strict = Server::with(&[], &[("WEBHOOK_STRICT_MODE", "true")]);
    let e =
        vercel_raw(&strict, "/webhooks/vercel", None, &vercel_body("deployment.error.json", "s-1"))
            .expect_error(401, "WEBHOOK_SECRET_NOT_CONFIGURED");
    assert!(e["error"].as_str().is_some_and(|m| m.starts_with("Vercel webhook secret")), "{e}");
    let e = deploy_raw(&strict, "/webhooks/deploy", None, &fixture("deploy/failure.json"))
        .expect_error(401, "WEBHOOK_SECRET_NOT_CONFIGURED");
    assert!(e["error"].as_str().is_some_and(|m| m.contains("WEBHOOK_STRICT_MODE")), "{e}");
    assert_eq!(audit(&strict, "default", "action=deploy_event")["total"], 0);
}

#[test]
fn secrets_stored_through_the_channels_api_sign_that_orgs_deliveries_and_are_never_shown() {
    // The environment signs every org without a stored secret; a stored one replaces it.
    let s = server(&[]);
    assert_eq!(s.post("/api/orgs", &json!({"name": "Beta"})).status, 201);
    let stored_v = "beta-vercel-secret-7d1f";
    let stored_d = "beta-deploy-secret-93ac";
    configure(&s, "org-beta", "vercel", json!({})).expect_error(400, "INVALID_FIELD");
    configure(&s, "org-beta", "vercel", json!({"token": "x"})).expect_error(400, "MISSING_FIELD");
    assert_eq!(integration(&s, "org-beta", "vercel")["configured"], true, "by the environment");
    assert_eq!(
        ok(&configure(&s, "org-beta", "vercel", json!({"webhookSecret": stored_v})))["configured"],
        true
    );
    assert_eq!(configure(&s, "org-beta", "deploy", json!({"webhookSecret": stored_d})).status, 200);

    let to_beta = "/webhooks/vercel?orgId=org-beta";
    let body = vercel_body("deployment.succeeded.json", "b-1");
    vercel(&s, to_beta, VERCEL_SECRET, &body).expect_error(401, "INVALID_SIGNATURE");
    assert_eq!(ok(&vercel(&s, to_beta, stored_v, &body))["processed"], true);
    // Org default still signs with the environment's secret, not beta's.
    let body = vercel_body("deployment.succeeded.json", "d-1");
    vercel(&s, "/webhooks/vercel", stored_v, &body).expect_error(401, "INVALID_SIGNATURE");
    assert_eq!(ok(&vercel(&s, "/webhooks/vercel", VERCEL_SECRET, &body))["processed"], true);

    let generic = json!({"project": "web", "status": "success", "sha": "1234567"});
    deploy(&s, "/webhooks/deploy?orgId=org-beta", DEPLOY_SECRET, &generic)
        .expect_error(401, "INVALID_SIGNATURE");
    assert_eq!(
        ok(&deploy(&s, "/webhooks/deploy?orgId=org-beta", stored_d, &generic))["processed"],
        true
    );
    assert_eq!(audit(&s, "org-beta", "action=deploy_event")["total"], 2);
    assert_eq!(audit(&s, "default", "action=deploy_event")["total"], 1);

    // Where the webhook secrets appear, they appear as configured, never as values.
    let status = s.call("GET", "/api/integrations/status", &in_org("org-beta"), None);
    let ids: Vec<Value> = status.json()["integrations"]
        .as_array()
        .expect("list")
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    assert_eq!(&ids[8..], &[json!("vercel"), json!("deploy")]);
    assert_eq!(
        integration(&s, "org-beta", "deploy"),
        json!({"id": "deploy", "configured": true, "status": "active", "lastSync": null})
    );
    let entry = &audit(&s, "org-beta", "action=channel.configure")["entries"][0];
    assert_eq!(entry["metadata"]["configKeys"], json!(["webhookSecret"]));
    let mut seen = String::from_utf8_lossy(&status.body).into_owned();
    seen.push_str(&String::from_utf8_lossy(
        &s.call("GET", "/api/channels", &in_org("org-beta"), None).body,
    ));
    seen.push_str(&String::from_utf8_lossy(
        &s.call("GET", "/api/audit?limit=100", &in_org("org-beta"), None).body,
    ));
    seen.push_str(&s.log());
    for secret in [stored_v, stored_d, VERCEL_SECRET, DEPLOY_SECRET] {
        assert!(!seen.contains(secret), "{secret} leaked");
    }
    // Sealed at rest: the store file does not hold the stored secrets in the clear.
    let mut s = s;
    s.terminate();
    let raw = std::fs::read(s.data_dir().join("spar.redb")).expect("store");
    for secret in [stored_v, stored_d] {
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} in the clear"
        );
    }

    // Without the environment, an org without a stored secret is unconfigured.
    let bare = Server::with(&[], &[]);
    assert_eq!(integration(&bare, "default", "vercel")["configured"], false);
    assert_eq!(integration(&bare, "default", "vercel")["status"], "inactive");
    assert_eq!(
        configure(&bare, "default", "deploy", json!({"webhookSecret": stored_d})).status,
        200
    );
    assert_eq!(integration(&bare, "default", "deploy")["configured"], true);
    let bytes = fixture("deploy/success.json");
    deploy_raw(&bare, "/webhooks/deploy", None, &bytes).expect_error(401, "MISSING_SIGNATURE");
    assert_eq!(
        ok(&deploy_raw(&bare, "/webhooks/deploy", Some(&sign(stored_d, &bytes)), &bytes))["processed"],
        true
    );
}

#[test]
fn a_redelivery_is_a_duplicate_and_changes_nothing() {
    let mut s = server(&[]);
    let body = vercel_body("deployment.error.json", "Qd5zbWhANXH8cXFHhiZaQJzy");
    assert_eq!(ok(&vercel(&s, "/webhooks/vercel", VERCEL_SECRET, &body))["processed"], true);
    let memory_total = s.get("/api/memory").json()["vectorStore"]["totalEmbeddings"].clone();
    assert_eq!(memory_total, 1);

    let duplicate = json!({"received": true, "duplicate": true});
    assert_eq!(ok(&vercel(&s, "/webhooks/vercel", VERCEL_SECRET, &body)), duplicate);
    // The same delivery id with other bytes (Vercel's retry of the same event) is one too.
    let mut retried: Value = serde_json::from_slice(&body).expect("json");
    retried["payload"]["regions"] = json!(["sfo1"]);
    let retried = serde_json::to_vec(&retried).expect("json");
    assert_eq!(ok(&vercel(&s, "/webhooks/vercel", VERCEL_SECRET, &retried)), duplicate);
    // Remembered across restarts: the receipt is stored with the event.
    s.restart();
    assert_eq!(ok(&vercel(&s, "/webhooks/vercel", VERCEL_SECRET, &body)), duplicate);

    let generic = fixture("deploy/failure.json");
    let sig = sign(DEPLOY_SECRET, &generic);
    assert_eq!(ok(&deploy_raw(&s, "/webhooks/deploy", Some(&sig), &generic))["processed"], true);
    // The generic hook has no delivery id: the same signed body again is the same delivery.
    assert_eq!(ok(&deploy_raw(&s, "/webhooks/deploy", Some(&sig), &generic)), duplicate);
    assert_eq!(audit(&s, "default", "action=deploy_event")["total"], 2, "each recorded once");
    assert_eq!(s.get("/api/memory").json()["vectorStore"]["totalEmbeddings"], 2);

    // A new Vercel delivery id, or a body that differs, is a new event.
    let next = vercel_body("deployment.error.json", "another-delivery");
    assert_eq!(ok(&vercel(&s, "/webhooks/vercel", VERCEL_SECRET, &next))["processed"], true);
    let next_generic = stamped(&generic, "run-814");
    let r = deploy_raw(
        &s,
        "/webhooks/deploy",
        Some(&sign(DEPLOY_SECRET, &next_generic)),
        &next_generic,
    );
    assert_eq!(ok(&r)["processed"], true);
    assert_eq!(audit(&s, "default", "action=deploy_event")["total"], 4);
    assert_eq!(s.get("/api/audit/verify").json()["valid"], true);
}

#[test]
fn deploys_find_their_org_by_query_or_by_the_repository_a_project_links() {
    let s = server(&[]);
    assert_eq!(s.post("/api/orgs", &json!({"name": "Acme"})).status, 201);
    let r = vercel(
        &s,
        "/webhooks/vercel?orgId=org-acme",
        VERCEL_SECRET,
        &vercel_body("deployment.succeeded.json", "o-1"),
    );
    assert_eq!(ok(&r)["projectId"], Value::Null);
    assert_eq!(audit(&s, "org-acme", "action=deploy_event")["total"], 1);
    assert_eq!(audit(&s, "default", "action=deploy_event")["total"], 0);

    // Vercel names the Git repository it deployed; the org whose project links it gets it.
    let p = s.call(
        "POST",
        "/api/projects",
        &in_org("org-acme"),
        Some(&json!({"repo": "acme/api-gateway"})),
    );
    assert_eq!(p.status, 201, "{}", String::from_utf8_lossy(&p.body));
    let (project, agent) = (p.json()["id"].clone(), p.json()["agentId"].clone());
    let r = ok(&vercel(
        &s,
        "/webhooks/vercel",
        VERCEL_SECRET,
        &vercel_body("deployment.error.json", "o-2"),
    ));
    assert_eq!(r["projectId"], project);
    let in_acme = audit(&s, "org-acme", "action=deploy_event");
    assert_eq!(in_acme["total"], 2);
    let meta = &in_acme["entries"][0]["metadata"];
    assert_eq!((meta["projectId"].clone(), meta["agentId"].clone()), (project.clone(), agent));
    assert_eq!(meta["repo"], "acme/api-gateway");
    // So does a generic deploy whose project is `owner/name`.
    let r = ok(&deploy_raw(
        &s,
        "/webhooks/deploy",
        Some(&sign(DEPLOY_SECRET, &fixture("deploy/failure.json"))),
        &fixture("deploy/failure.json"),
    ));
    assert_eq!(r["projectId"], project);
    // A generic deploy naming the project by its repository name, in the org it is sent to.
    let r = ok(&deploy(
        &s,
        "/webhooks/deploy?orgId=org-acme",
        DEPLOY_SECRET,
        &json!({"project": "API-Gateway", "status": "success"}),
    ));
    assert_eq!(r["projectId"], project);
    let r = ok(&deploy(
        &s,
        "/webhooks/deploy",
        DEPLOY_SECRET,
        &json!({"project": "api-gateway", "status": "success"}),
    ));
    assert_eq!(r["projectId"], Value::Null, "org default has no such project");
    assert_eq!(audit(&s, "org-acme", "action=deploy_event")["total"], 4);
    assert_eq!(audit(&s, "default", "action=deploy_event")["total"], 1);

    // A named org must exist (answered after the signature), and be a valid id.
    let body = vercel_body("deployment.error.json", "o-3");
    vercel(&s, "/webhooks/vercel?orgId=org-nope", VERCEL_SECRET, &body)
        .expect_error(404, "ORG_NOT_FOUND");
    vercel_raw(&s, "/webhooks/vercel?orgId=org-nope", None, &body)
        .expect_error(401, "MISSING_SIGNATURE");
    deploy(&s, "/webhooks/deploy?orgId=bad%20org", DEPLOY_SECRET, &json!({"status": "success"}))
        .expect_error(400, "INVALID_ORG_ID");
}

#[test]
fn intermediate_states_and_other_vercel_events_are_answered_and_not_acted_on() {
    let s = server(&[]);
    let created = vercel_body("deployment.created.json", "i-1");
    let answer = json!({"received": true, "type": "deployment.created", "state": "created",
                        "processed": false, "reason": "intermediate_state"});
    assert_eq!(ok(&vercel(&s, "/webhooks/vercel", VERCEL_SECRET, &created)), answer);
    // Not recorded, so not a duplicate either.
    assert_eq!(ok(&vercel(&s, "/webhooks/vercel", VERCEL_SECRET, &created)), answer);
    let mut building: Value =
        serde_json::from_slice(&vercel_body("deployment.succeeded.json", "i-2")).expect("json");
    building["payload"]["deployment"]["readyState"] = json!("BUILDING");
    let building = serde_json::to_vec(&building).expect("json");
    let r = ok(&vercel(&s, "/webhooks/vercel", VERCEL_SECRET, &building));
    assert_eq!(
        (r["state"].as_str(), r["reason"].as_str()),
        (Some("BUILDING"), Some("intermediate_state"))
    );
    let promoted = br#"{"id":"i-3","type":"project.created","payload":{"project":{"id":"prj_1"}}}"#;
    assert_eq!(
        ok(&vercel(&s, "/webhooks/vercel", VERCEL_SECRET, promoted)),
        json!({"received": true, "type": "project.created", "processed": false, "reason": "Event type not handled"})
    );
    let pending = fixture("deploy/pending.json");
    assert_eq!(
        ok(&deploy_raw(&s, "/webhooks/deploy", Some(&sign(DEPLOY_SECRET, &pending)), &pending)),
        json!({"received": true, "status": "pending", "processed": false, "reason": "intermediate_state"})
    );
    assert_eq!(audit(&s, "default", "action=deploy_event")["total"], 0);
    assert_eq!(s.get("/api/memory").json()["vectorStore"]["totalEmbeddings"], 0);
    assert_eq!(s.get("/health").json()["deliveries"]["pending"], 0);
}

#[test]
fn a_deploy_is_streamed_audited_and_routed_to_chat_like_a_ci_event() {
    let chat = FakeChat::start();
    let mut env: Vec<(String, String)> = chat.env();
    env.push(("SPAR_OUTBOX_BACKOFF_MS".into(), "100".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let s = server(&env);
    assert_eq!(configure(&s, "default", "slack", json!({"botToken": SLACK_TOKEN})).status, 200);
    let route = |pattern: &str, channel_id: &str| {
        let body = json!({"eventType": pattern, "channel": "slack", "channelId": channel_id});
        let r = s.call("POST", "/api/channel-routes", &in_org("default"), Some(&body));
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        r.json()["id"].as_str().expect("route id").to_owned()
    };
    let deploys = route("deploy.*", "C-DEPLOYS");
    route("ci.*", "C-CI");

    // An intermediate state sends nothing.
    ok(&vercel(
        &s,
        "/webhooks/vercel",
        VERCEL_SECRET,
        &vercel_body("deployment.created.json", "r-0"),
    ));
    let failed = ok(&vercel(
        &s,
        "/webhooks/vercel",
        VERCEL_SECRET,
        &vercel_body("deployment.error.json", "r-1"),
    ));
    let event_id = failed["eventId"].as_str().expect("event id").to_owned();

    let messages = chat.wait_for(1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(chat.messages().len(), 1, "one route matches, one message");
    let message = messages[0].json();
    assert_eq!(message["channel"], "C-DEPLOYS");
    let text = message["text"].as_str().expect("text");
    assert!(text.starts_with("*deploy.failure* · acme/api-gateway\n"), "{text}");
    for line in [
        "Target: production",
        "Branch: main",
        "Commit: feat: add rate limiting",
        "Error: Command \"npm run build\" exited with 1",
        "<https://vercel.com/acme/api-gateway/89qyp1cskzkLrVicDaZoDbjyHuDJ|Open>",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }

    // The normalized event, in the event stream.
    let events = streamed(&s, "default", 1);
    let (name, data) = &events[0];
    assert_eq!(name, "deploy.failure");
    let event = &data["data"];
    assert_eq!(event["id"], event_id.as_str());
    assert_eq!(
        (event["source"].as_str(), event["severity"].as_str()),
        (Some("vercel"), Some("high"))
    );
    assert_eq!(event["title"], "Deploy 'api-gateway' failed to production on main (abc1234)");
    assert_eq!(event["fingerprint"], "vercel:api-gateway:production:main");
    assert_eq!(event["actions"], json!([format!("notify:{deploys}")]));
    assert_eq!(event["occurredAt"], "2026-11-23T10:02:32.000Z");
    let d = &event["details"];
    assert_eq!(
        (d["repo"].as_str(), d["deploymentId"].as_str()),
        (Some("acme/api-gateway"), Some("dpl_89qyp1cskzkLrVicDaZoDbjyHuDJ"))
    );
    assert_eq!(d["url"], "https://api-gateway-k3x9q2m1p-acme.vercel.app");
    assert_eq!(d["deliveryId"], "r-1");

    // The audit entry: the system, as Vercel.
    let entries = audit(&s, "default", "action=deploy_event")["entries"].clone();
    assert_eq!(entries.as_array().map(Vec::len), Some(1));
    let entry = &entries[0];
    assert_eq!(
        (entry["actorType"].as_str(), entry["actorId"].as_str()),
        (Some("system"), Some("vercel"))
    );
    assert_eq!(entry["result"], "processed");
    let meta = &entry["metadata"];
    assert_eq!(
        (meta["eventType"].as_str(), meta["risk"].as_str()),
        (Some("deploy.failure"), Some("high"))
    );
    assert_eq!(
        (meta["status"].as_str(), meta["target"].as_str()),
        (Some("error"), Some("production"))
    );
    assert_eq!(meta["deliveryId"], "r-1");
    let notify = audit(&s, "default", "action=agent.notify");
    assert_eq!(notify["total"], 1);
    assert_eq!(notify["entries"][0]["metadata"]["eventId"], event_id.as_str());

    // A generic success: routine, routed the same way, audited as its sender.
    let r = deploy_raw(
        &s,
        "/webhooks/deploy",
        Some(&sign(DEPLOY_SECRET, &fixture("deploy/success.json"))),
        &fixture("deploy/success.json"),
    );
    assert_eq!(ok(&r)["processed"], true);
    let messages = chat.wait_for(2);
    let text = messages[1].json()["text"].as_str().expect("text").to_owned();
    assert!(text.starts_with("*deploy.success* · api-gateway\n"), "{text}");
    assert!(text.contains("Commit: Deployed v1.4.2"), "{text}");
    let entry = &audit(&s, "default", "action=deploy_event")["entries"][0];
    assert_eq!(
        (entry["actorId"].as_str(), entry["metadata"]["risk"].as_str()),
        (Some("railway"), Some("low"))
    );
    let events = streamed(&s, "default", 2);
    assert_eq!(events[1].0, "deploy.success");
    assert_eq!(events[1].1["data"]["source"], "deploy");
    assert_eq!(events[1].1["data"]["details"]["sender"], "railway");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(chat.messages().len(), 2);
    assert!(chat.messages().iter().all(|m| m.json()["channel"] == "C-DEPLOYS"));
}

#[test]
fn a_failed_deploy_is_handled_like_a_failed_build_and_a_success_like_a_push() {
    let s = server(&[]);
    let p = s.post("/api/projects", &json!({"repo": "acme/api-gateway"})).json();
    let agent = p["agentId"].as_str().expect("agent").to_owned();
    let level = |n: u8| {
        let r = s.post(
            &format!("/api/agents/{agent}/action"),
            &json!({"action": "set_autonomy", "level": n}),
        );
        assert_eq!(r.status, 200);
    };
    let incidents = || s.get("/api/agents?type=incident").json().as_array().map_or(0, Vec::len);

    level(3);
    ok(&vercel(
        &s,
        "/webhooks/vercel",
        VERCEL_SECRET,
        &vercel_body("deployment.succeeded.json", "l-1"),
    ));
    assert_eq!(incidents(), 0, "a success spawns nothing");
    ok(&vercel(
        &s,
        "/webhooks/vercel",
        VERCEL_SECRET,
        &vercel_body("deployment.canceled.json", "l-2"),
    ));
    assert_eq!(incidents(), 0, "a cancellation spawns nothing");
    ok(&vercel(
        &s,
        "/webhooks/vercel",
        VERCEL_SECRET,
        &vercel_body("deployment.error.json", "l-3"),
    ));
    assert_eq!(incidents(), 1, "a failure spawns an incident agent at level 3");
    assert_eq!(audit(&s, "default", "action=incident.investigate")["total"], 1);
    let spawn = &audit(&s, "default", "action=agent_spawn")["entries"][0];
    assert_eq!(
        (spawn["actorType"].as_str(), spawn["actorId"].as_str()),
        (Some("agent"), Some(agent.as_str()))
    );

    // Level 2: a suggestion with an approval token for the failure, none for a success.
    level(2);
    ok(&vercel(
        &s,
        "/webhooks/vercel",
        VERCEL_SECRET,
        &vercel_body("deployment.error.json", "l-4"),
    ));
    ok(&deploy(
        &s,
        "/webhooks/deploy",
        DEPLOY_SECRET,
        &json!({"project": "acme/api-gateway", "status": "success", "sha": "f00"}),
    ));
    assert_eq!(audit(&s, "default", "action=agent.suggest")["total"], 1);
    // Level 0: recorded only.
    level(0);
    ok(&deploy(
        &s,
        "/webhooks/deploy",
        DEPLOY_SECRET,
        &json!({"project": "acme/api-gateway", "status": "failure", "sha": "f01"}),
    ));
    assert_eq!(incidents(), 1);
    assert_eq!(audit(&s, "default", "action=agent.suggest")["total"], 1);
    let events = streamed(&s, "default", 6);
    let types: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        types,
        [
            "deploy.success",
            "deploy.cancelled",
            "deploy.failure",
            "deploy.failure",
            "deploy.success",
            "deploy.failure"
        ]
    );
    assert_eq!(events[5].1["data"]["actions"], json!(["recorded"]));
    assert!(events.iter().all(|(_, d)| d["data"]["agentId"] == agent.as_str()));
    let detail = s.get(&format!("/api/agents/{agent}")).json();
    let memory = detail["memory"]["embeddings"].as_array().expect("memory");
    assert!(memory.iter().any(|m| m["category"] == "ci"
        && m["content"]
            == "acme/api-gateway: Deploy 'api-gateway' failed to production on main (abc1234)"));
}

/// Runs `spar replay` against `s` with these arguments.
fn replay(s: &Server, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spar"));
    cmd.arg("replay")
        .args(["--url", &format!("http://{}", s.addr)])
        .args(args)
        .env_remove("VERCEL_WEBHOOK_SECRET")
        .env_remove("DEPLOY_WEBHOOK_SECRET");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run spar replay");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn replay_signs_the_deploy_fixtures_with_each_senders_scheme() {
    let s = server(&[]);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let vercel_dir = fixtures.join("vercel");
    let vercel_dir = vercel_dir.to_str().expect("path");
    // The secret from the environment, as the server's.
    let (code, stdout) = replay(&s, &[vercel_dir], &[("VERCEL_WEBHOOK_SECRET", VERCEL_SECRET)]);
    assert_eq!(code, Some(0), "{stdout}");
    let lines = replay_answers(&stdout);
    assert_eq!(lines.len(), 4, "{stdout}");
    for (file, status, answer) in &lines {
        assert_eq!(*status, 200, "{file}: {answer}");
        let expected = !file.ends_with("deployment.created.json");
        assert_eq!(answer["processed"], expected, "{file}: {answer}");
    }
    assert_eq!(audit(&s, "default", "action=deploy_event")["total"], 3);
    // Replayed again: new deliveries (fresh ids), not duplicates.
    let (code, stdout) = replay(&s, &["--builtin", "vercel", "--secret", VERCEL_SECRET], &[]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(replay_answers(&stdout).iter().all(|(_, _, a)| a["duplicate"].is_null()), "{stdout}");
    assert_eq!(audit(&s, "default", "action=deploy_event")["total"], 6);

    let (code, stdout) =
        replay(&s, &["--builtin", "deploy"], &[("DEPLOY_WEBHOOK_SECRET", DEPLOY_SECRET)]);
    assert_eq!(code, Some(0), "{stdout}");
    let lines = replay_answers(&stdout);
    assert_eq!(lines.len(), 3, "{stdout}");
    let processed = lines.iter().filter(|(_, _, a)| a["processed"] == true).count();
    assert_eq!(processed, 2, "success and failure; pending is intermediate: {stdout}");
    let (code, _) =
        replay(&s, &["--builtin", "deploy"], &[("DEPLOY_WEBHOOK_SECRET", DEPLOY_SECRET)]);
    assert_eq!(code, Some(0));
    assert_eq!(audit(&s, "default", "action=deploy_event")["total"], 10);

    // The wrong secret: refused, and the exit code says so.
    let (code, stdout) = replay(&s, &["--builtin", "vercel", "--secret", "wrong"], &[]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        replay_answers(&stdout)
            .iter()
            .all(|(_, st, a)| *st == 401 && a["code"] == "INVALID_SIGNATURE"),
        "{stdout}"
    );
}
