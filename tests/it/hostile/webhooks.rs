//! Forged, replayed and probing webhooks (docs/SECURITY.md, "Webhook signatures"): a secret
//! cannot switch off by reconfiguring, every org is held to the environment's secret, an old or
//! replayed delivery is refused or recognised, and unknown orgs look like known ones.

use serde_json::{Value, json};

use crate::common::{Resp, Server, fixture, sign, stamped};

const SENTRY_SECRET: &str = "env-sentry-secret";
const GITHUB_SECRET: &str = "env-github-secret";

fn server() -> Server {
    Server::with(
        &["--rate-limit-api", "0", "--rate-limit-webhooks", "0"],
        &[("SENTRY_WEBHOOK_SECRET", SENTRY_SECRET), ("GITHUB_WEBHOOK_SECRET", GITHUB_SECRET)],
    )
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
}

/// A Sentry delivery: `signature` signs with that secret (none: unsigned), `timestamp` and
/// `request_id` set their headers when given.
fn sentry(
    s: &Server,
    path: &str,
    signature: Option<&str>,
    timestamp: Option<u64>,
    request_id: Option<&str>,
) -> Resp {
    let body = fixture("sentry/issue.created.json");
    let signed = signature.map(|secret| sign(secret, &body));
    let stamp = timestamp.map(|t| t.to_string());
    let mut headers = vec![("Content-Type", "application/json"), ("Sentry-Hook-Resource", "issue")];
    if let Some(sig) = &signed {
        headers.push(("Sentry-Hook-Signature", sig));
    }
    if let Some(t) = &stamp {
        headers.push(("Sentry-Hook-Timestamp", t));
    }
    if let Some(id) = request_id {
        headers.push(("Request-ID", id));
    }
    s.raw_request("POST", path, &headers, &body)
}

fn audit_total(s: &Server) -> u64 {
    s.get("/api/audit?limit=1").json()["total"].as_u64().expect("total")
}

fn configure_sentry(s: &Server, org: &str, config: Value) {
    let r = s.call(
        "POST",
        "/api/integrations/configure",
        &[("x-org-id", org)],
        Some(&json!({ "integration": "sentry", "config": config })),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn configuring_sentry_without_a_secret_keeps_deliveries_signed() {
    let s = server();
    assert_eq!(s.post("/api/orgs", &json!({ "name": "Beta" })).status, 201);
    // The sequence that used to switch checks off: an integration configured without one.
    configure_sentry(&s, "default", json!({ "authToken": "sntrys_x", "org": "acme" }));
    sentry(&s, "/webhooks/sentry", None, None, None).expect_error(401, "MISSING_SIGNATURE");
    // Every org is held to the environment's secret, not only `default`.
    let beta = "/webhooks/sentry?orgId=org-beta";
    sentry(&s, beta, None, None, None).expect_error(401, "MISSING_SIGNATURE");
    assert_eq!(sentry(&s, beta, Some(SENTRY_SECRET), None, None).status, 200);

    // An org's own secret wins, and reconfiguring other keys keeps it.
    configure_sentry(
        &s,
        "org-beta",
        json!({ "authToken": "a", "org": "b", "webhookSecret": "own" }),
    );
    configure_sentry(&s, "org-beta", json!({ "authToken": "rotated", "org": "b" }));
    sentry(&s, beta, Some(SENTRY_SECRET), None, None).expect_error(401, "INVALID_SIGNATURE");
    assert_eq!(sentry(&s, beta, Some("own"), None, None).status, 200);
}

#[test]
fn a_stale_sentry_delivery_is_refused_and_a_repeated_one_is_a_duplicate() {
    let s = server();
    let hour_ago = now_secs() - 3_600;
    let e = sentry(&s, "/webhooks/sentry", Some(SENTRY_SECRET), Some(hour_ago), Some("r-old"))
        .expect_error(401, "STALE_DELIVERY");
    assert!(e["error"].as_str().is_some_and(|m| m.contains("300")), "{e}");
    let before = audit_total(&s);

    let fresh = sentry(&s, "/webhooks/sentry", Some(SENTRY_SECRET), Some(now_secs()), Some("r-1"));
    assert_eq!(fresh.status, 200, "{}", fresh.json());
    assert_ne!(fresh.json()["duplicate"], true);
    let after_first = audit_total(&s);
    assert!(after_first > before);
    let again = sentry(&s, "/webhooks/sentry", Some(SENTRY_SECRET), Some(now_secs()), Some("r-1"));
    assert_eq!(again.json(), json!({ "received": true, "duplicate": true }));
    // Sentry does not sign its Request-ID: the same signed body under a new one, without a
    // timestamp, is recognised by its digest.
    let forged = sentry(&s, "/webhooks/sentry", Some(SENTRY_SECRET), None, Some("r-forged"));
    assert_eq!(forged.json(), json!({ "received": true, "duplicate": true }));
    assert_eq!(audit_total(&s), after_first, "a duplicate changes nothing");
}

#[test]
fn a_signed_github_body_replayed_under_a_new_delivery_id_is_a_duplicate() {
    let s = server();
    let body = stamped(&fixture("github/push.json"), "d-original");
    let signature = format!("sha256={}", sign(GITHUB_SECRET, &body));
    let first =
        s.github_delivery("/webhooks/github", "push", Some("d-original"), Some(&signature), &body);
    assert_eq!(first.status, 200);
    assert_eq!(first.json()["processed"], true, "{}", first.json());
    let after_first = audit_total(&s);
    // Captured and sent again: GitHub signs neither a timestamp nor the delivery id.
    let replay =
        s.github_delivery("/webhooks/github", "push", Some("d-forged"), Some(&signature), &body);
    assert_eq!(replay.json(), json!({ "received": true, "duplicate": true }));
    let without_id = s.github_delivery("/webhooks/github", "push", None, Some(&signature), &body);
    assert_eq!(without_id.json()["duplicate"], true);
    assert_eq!(audit_total(&s), after_first);
}

#[test]
fn unknown_and_known_orgs_answer_alike_before_the_signature_is_checked() {
    let s = server();
    assert_eq!(s.post("/api/orgs", &json!({ "name": "Real" })).status, 201);
    let probe = |org: &str, signature: Option<&str>| {
        let body = fixture("github/push.json");
        let sig = signature.map(|sec| format!("sha256={}", sign(sec, &body)));
        let path = format!("/webhooks/github?orgId={org}");
        let r = s.github_delivery(&path, "push", Some("p-1"), sig.as_deref(), &body);
        let mut answer = r.json();
        answer.as_object_mut().map(|o| o.remove("requestId"));
        (r.status, answer)
    };
    for signature in [None, Some("guessed")] {
        let (known, unknown) = (probe("org-real", signature), probe("org-made-up", signature));
        assert_eq!(known, unknown, "signature {signature:?}");
        assert_eq!(known.0, 401);
    }
    let sentry_probe = |org: &str| {
        let r = sentry(&s, &format!("/webhooks/sentry?orgId={org}"), Some("guessed"), None, None);
        let mut answer = r.json();
        answer.as_object_mut().map(|o| o.remove("requestId"));
        (r.status, answer)
    };
    assert_eq!(sentry_probe("org-real"), sentry_probe("org-made-up"));
    // Only a correctly signed delivery learns that an org does not exist.
    let (status, _) = probe("org-made-up", Some(GITHUB_SECRET));
    assert_eq!(status, 404);
}
