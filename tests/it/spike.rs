//! The Spike dialect (docs/API.md §5): integrations with `x-api-key`/`x-team-id`, and ingest URLs
//! whose alerts become incidents (deduplicated by title while open, resolved by title), for the
//! generic webhook and every vendor slug with its fixture.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::common::{Resp, Server, fixture};

fn key(s: &Server, org: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_spar"))
        .args(["api-key", "create", "--org", org, "--name", &format!("k-{org}"), "--data-dir"])
        .arg(s.data_dir())
        .output()
        .expect("spar api-key");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().last().expect("key").to_owned()
}

fn spike(
    s: &Server,
    method: &str,
    path: &str,
    key: &str,
    team: &str,
    body: Option<&Value>,
) -> Resp {
    s.call(method, path, &[("x-api-key", key), ("x-team-id", team)], body)
}

fn create(s: &Server, key: &str, slug: &str) -> Value {
    let r = spike(
        s,
        "POST",
        "/integrations/create",
        key,
        "default",
        Some(&json!({ "slug": slug, "customName": format!("{slug} alerts") })),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["integration"].clone()
}

fn spike_error(r: &Resp, status: u16, error: &str) {
    let body = r.json();
    assert_eq!((r.status, body["error"].as_str()), (status, Some(error)), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

fn ingest(s: &Server, token: &str, body: &[u8]) -> Resp {
    s.raw_request(
        "POST",
        &format!("/ingest/{token}"),
        &[("Content-Type", "application/json")],
        body,
    )
}

fn incidents(s: &Server, status: &str) -> Vec<Value> {
    let list = s.get(&format!("/api/observability/incidents?status={status}")).json();
    list["incidents"].as_array().cloned().unwrap_or_default()
}

#[test]
fn integrations_are_created_fetched_listed_and_archived() {
    let s = Server::with(&["--rate-limit-api", "0", "--rate-limit-webhooks", "0"], &[]);
    let k = key(&s, "default");
    let created = create(&s, &k, "webhook");
    let token = created["token"].as_str().expect("token").to_owned();
    assert!(
        token.len() == 32
            && token.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "{token}"
    );
    let id = created["_id"].as_str().expect("_id");
    assert_eq!(id.len(), 24);
    assert_ne!(id, token);
    let url = format!("http://127.0.0.1:{}/ingest/{token}", s.addr.port());
    assert_eq!(created["webhook"], url.as_str());
    assert_eq!(created["ingestUrl"], url.as_str());
    for (field, value) in [
        ("customName", json!("webhook alerts")),
        ("desc", json!("")),
        ("slug", json!("webhook")),
        ("name", json!("Webhook")),
        ("service", Value::Null),
        ("escalation", Value::Null),
        ("repeatEscalation", json!(false)),
        ("ackTimeout", Value::Null),
        ("isArchived", json!(false)),
        ("team", json!("default")),
    ] {
        assert_eq!(created[field], value, "{field}");
    }
    assert!(created["createdAt"].as_str().is_some_and(|t| t.ends_with('Z')));
    let full = spike(
        &s,
        "POST",
        "/integrations/create",
        &k,
        "default",
        Some(&json!({
        "slug": "sentry", "customName": "Checkout Sentry", "desc": "Errors", "service": "svc-1",
        "escalation": "esc-1", "repeatEscalation": true, "ackTimeout": 20 })),
    );
    let full = full.json()["integration"].clone();
    assert_eq!(
        (full["ackTimeout"].clone(), full["repeatEscalation"].clone(), full["escalation"].clone()),
        (json!(20), json!(true), json!("esc-1"))
    );
    assert_ne!(full["token"], token.as_str(), "a fresh token");

    // Errors, in Spike's shape.
    let post = |body: Value| spike(&s, "POST", "/integrations/create", &k, "default", Some(&body));
    spike_error(&post(json!({})), 400, "bad_request");
    spike_error(&post(json!({ "slug": "datadog" })), 400, "bad_request");
    spike_error(&post(json!({ "slug": "webhook", "ackTimeout": -5 })), 400, "bad_request");
    spike_error(&post(json!({ "slug": "webhook", "repeatEscalation": "yes" })), 400, "bad_request");
    spike_error(
        &s.raw_request(
            "POST",
            "/integrations/create",
            &[("x-api-key", &k), ("x-team-id", "default"), ("Content-Type", "application/json")],
            b"{oops",
        ),
        400,
        "bad_request",
    );
    spike_error(
        &s.call("POST", "/integrations/create", &[], Some(&json!({ "slug": "webhook" }))),
        401,
        "unauthorized",
    );

    let fetched = spike(&s, "GET", &format!("/integrations/{token}"), &k, "default", None).json();
    assert_eq!(fetched["integration"], created);
    let missing =
        spike(&s, "GET", "/integrations/00000000000000000000000000000000", &k, "default", None);
    spike_error(&missing, 404, "not_found");
    assert_eq!(missing.json()["message"], "Integration not found");
    assert_eq!(
        spike(&s, "GET", "/integrations", &k, "default", None).json()["integrations"]
            .as_array()
            .expect("list")
            .len(),
        2
    );
    // Another team's key does not see it.
    assert_eq!(s.post("/api/orgs", &json!({ "name": "Other" })).status, 201);
    let other = key(&s, "org-other");
    spike_error(
        &spike(&s, "GET", &format!("/integrations/{token}"), &other, "org-other", None),
        404,
        "not_found",
    );
    assert!(
        spike(&s, "GET", "/integrations", &other, "org-other", None).json()["integrations"]
            .as_array()
            .expect("list")
            .is_empty()
    );

    // Both dialects share one store: the status API lists the Spike integrations.
    let status = s.call("GET", "/api/integrations/status", &[("x-org-id", "default")], None).json();
    let spikes: Vec<&Value> = status["integrations"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|i| i["source"] == "spike")
        .collect();
    assert_eq!(spikes.len(), 2);
    assert!(!status.to_string().contains(&token), "no token in the status");

    // Archive: once; the ingest URL then answers 410 and creates nothing.
    let archived =
        spike(&s, "DELETE", &format!("/integrations/{token}/archive"), &k, "default", None);
    assert_eq!(archived.status, 200);
    assert_eq!(archived.json()["message"], "Integration archived");
    assert_eq!(archived.json()["integration"]["isArchived"], true);
    spike_error(
        &spike(&s, "DELETE", &format!("/integrations/{token}/archive"), &k, "default", None),
        404,
        "not_found",
    );
    spike_error(&ingest(&s, &token, br#"{"title":"late"}"#), 410, "gone");
    assert!(incidents(&s, "open").is_empty());
    assert_eq!(
        spike(&s, "GET", "/integrations", &k, "default", None).json()["integrations"]
            .as_array()
            .expect("list")
            .len(),
        1
    );
    spike_error(
        &ingest(&s, "ffffffffffffffffffffffffffffffff", br#"{"title":"x"}"#),
        404,
        "not_found",
    );
}

#[test]
fn generic_alerts_dedupe_by_title_while_open_and_resolve_by_title() {
    let s = Server::with(&["--rate-limit-api", "0", "--rate-limit-webhooks", "0"], &[]);
    let k = key(&s, "default");
    let token = create(&s, &k, "webhook")["token"].as_str().expect("token").to_owned();
    let first = ingest(&s, &token, &fixture("spike/webhook/1.alert.json"));
    assert_eq!(first.status, 200, "{}", String::from_utf8_lossy(&first.body));
    let first = first.json();
    assert_eq!(first["Ok"], true);
    let incident = first["incidentId"].as_str().expect("incident").to_owned();
    assert!(first["eventId"].as_str().is_some_and(|e| e.starts_with("evt-")));
    // A repeat while open is counted on it; Spike's own URL form works the same.
    let again = s.raw_request(
        "POST",
        &format!("/{token}/push-events"),
        &[("Content-Type", "application/json")],
        &fixture("spike/webhook/1.alert.json"),
    );
    assert_eq!(again.json()["incidentId"], incident.as_str());
    let open = incidents(&s, "open");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["count"], 2);
    assert_eq!(open[0]["severity"], "high", "sev2");
    assert_eq!(open[0]["source"], "spike");
    assert_eq!(open[0]["title"], "Disk usage above 90% on db-1");
    // Another title is another incident; resolve closes only its own.
    let other = ingest(&s, &token, br#"{"title":"Queue backlog","severity":"sev1"}"#).json();
    assert_ne!(other["incidentId"], incident.as_str());
    let resolved = ingest(&s, &token, &fixture("spike/webhook/2.resolve.json")).json();
    assert_eq!(resolved["incidentId"], incident.as_str());
    assert_eq!(incidents(&s, "resolved").len(), 1);
    assert_eq!(incidents(&s, "open")[0]["severity"], "critical", "sev1");
    // The event is alert.<slug> in the integration's org.
    let events = s.audit_entries("incident.open");
    assert_eq!(events.len(), 2);
    spike_error(&ingest(&s, &token, br#"{"body":"no title"}"#), 400, "bad_request");
    spike_error(&ingest(&s, &token, b"not json"), 400, "bad_request");
    spike_error(&ingest(&s, &token, br#"{"title":"x","severity":"sev7"}"#), 400, "bad_request");
}

#[test]
fn every_vendor_slug_opens_and_resolves_with_its_fixture_through_replay() {
    let s = Server::with(&["--rate-limit-api", "0", "--rate-limit-webhooks", "0"], &[]);
    let k = key(&s, "default");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/spike");
    for (slug, title) in [
        ("webhook", "Disk usage above 90% on db-1"),
        ("sentry", "TypeError: Cannot read properties of undefined (reading 'id')"),
        ("github-workflows", "CI failed on acme/api-gateway (main)"),
        ("pagerduty", "High error rate on api-gateway"),
        ("prometheus", "HighRequestLatency on api-gateway:9090"),
        ("grafana", "CPU above 90% on db-1"),
    ] {
        let token = create(&s, &k, slug)["token"].as_str().expect("token").to_owned();
        let out = Command::new(env!("CARGO_BIN_EXE_spar"))
            .arg("replay")
            .arg(fixtures.join(slug))
            .args(["--url", &format!("http://{}", s.addr), "--token", &token])
            .output()
            .expect("spar replay");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{slug}: {stdout}");
        let resolved = incidents(&s, "resolved");
        let mine: Vec<&Value> = resolved.iter().filter(|i| i["title"] == title).collect();
        assert_eq!(mine.len(), 1, "{slug}: opened then resolved: {resolved:?}\n{stdout}");
    }
    assert!(incidents(&s, "open").is_empty());
    // Without a token, replay says what it needs.
    let out = Command::new(env!("CARGO_BIN_EXE_spar"))
        .arg("replay")
        .arg(fixtures.join("webhook"))
        .args(["--url", &format!("http://{}", s.addr)])
        .output()
        .expect("spar replay");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--token"));
}

#[test]
fn ingest_urls_are_rate_limited_as_webhooks() {
    let s = Server::with(&["--rate-limit-api", "0", "--rate-limit-webhooks", "2"], &[]);
    let k = key(&s, "default");
    let token = create(&s, &k, "webhook")["token"].as_str().expect("token").to_owned();
    assert_eq!(ingest(&s, &token, br#"{"title":"a"}"#).status, 200);
    assert_eq!(ingest(&s, &token, br#"{"title":"a"}"#).status, 200);
    let limited = ingest(&s, &token, br#"{"title":"a"}"#);
    assert_eq!(limited.status, 429);
    assert!(limited.header("retry-after").is_some());
}

#[test]
fn ingest_urls_name_the_host_the_client_reached_unless_a_base_url_is_set() {
    let create_via = |s: &Server, k: &str, host: &str| -> String {
        let body = br#"{"slug":"prometheus"}"#;
        let head = format!(
            "POST /integrations/create HTTP/1.1\r\nHost: {host}\r\nx-api-key: {k}\r\nx-team-id: default\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let r = s.raw(&[head.as_bytes(), body].concat());
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()["integration"]["ingestUrl"].as_str().expect("ingest URL").to_owned()
    };
    let s = Server::start();
    let k = key(&s, "default");
    let url = create_via(&s, &k, "spar.internal:8080");
    assert!(url.starts_with("http://spar.internal:8080/ingest/"), "{url}");
    // A Host that is no host name falls back to the listening address.
    let url = create_via(&s, &k, "a b\"<x>");
    assert!(url.starts_with(&format!("http://127.0.0.1:{}/ingest/", s.addr.port())), "{url}");

    let s = Server::with(&[], &[("WEBHOOK_BASE_URL", "https://alerts.example.com")]);
    let k = key(&s, "default");
    let url = create_via(&s, &k, "spar.internal:8080");
    assert!(url.starts_with("https://alerts.example.com/ingest/"), "{url}");
}
