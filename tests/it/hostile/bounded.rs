//! Bounded work per request (docs/SECURITY.md, "Bounded work"): a body of thousands of repeats
//! costs what its cap allows and leaves a record of bounded size, an oversized body is refused
//! whole, other orgs' writes go on meanwhile, and reads over a large store answer with bounded
//! pages.

use std::time::Duration;

use serde_json::{Value, json};

use super::{seq_rows, spar_created};
use crate::common::Server;

/// Alertmanager's body with `n` alerts, every one of them named `name(i)`.
fn alertmanager(n: usize, name: impl Fn(usize) -> String) -> Vec<u8> {
    let alerts: Vec<Value> = (0..n)
        .map(|i| json!({ "status": "firing", "labels": { "alertname": name(i), "severity": "critical" } }))
        .collect();
    serde_json::to_vec(
        &json!({ "receiver": "spar", "status": "firing", "version": "4", "alerts": alerts }),
    )
    .expect("json")
}

/// A Prometheus ingest URL's token in org `default`.
fn prometheus_token(s: &Server) -> String {
    let key = spar_created(s, &["api-key", "create", "--org", "default", "--name", "ops"]);
    let r = s.call(
        "POST",
        "/integrations/create",
        &[("x-api-key", &key), ("x-team-id", "default")],
        Some(&json!({ "slug": "prometheus", "customName": "alerts" })),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["integration"]["token"].as_str().expect("token").to_owned()
}

fn ingest(s: &Server, token: &str, body: &[u8]) -> crate::common::Resp {
    s.raw_request(
        "POST",
        &format!("/ingest/{token}"),
        &[("Content-Type", "application/json")],
        body,
    )
}

fn unlimited() -> Server {
    Server::with(&["--rate-limit-api", "0", "--rate-limit-webhooks", "0"], &[])
}

#[test]
fn thousands_of_repeats_keep_one_bounded_incident_while_other_orgs_write() {
    let mut s = unlimited();
    let token = prometheus_token(&s);
    let repeats = alertmanager(4_000, |_| "DiskFull".into());

    // An org is created while the large body is being written.
    let (ingest_done, org_done) = std::thread::scope(|scope| {
        let big = scope.spawn(|| ingest(&s, &token, &repeats));
        std::thread::sleep(Duration::from_millis(30));
        let other = scope.spawn(|| s.post("/api/orgs", &json!({ "name": "Bystander" })));
        (big.join().expect("ingest"), other.join().expect("org"))
    });
    assert_eq!(ingest_done.status, 200, "{}", String::from_utf8_lossy(&ingest_done.body));
    assert_eq!(org_done.status, 201, "{}", String::from_utf8_lossy(&org_done.body));

    // One open incident counts every repeat.
    let open = s.get("/api/observability/incidents?status=open").json();
    let incidents = open["incidents"].as_array().expect("incidents");
    assert_eq!(incidents.len(), 1, "{open}");

    s.terminate();
    let rows = seq_rows(&s, "incidents");
    assert_eq!(rows.len(), 1);
    let incident = &rows[0];
    assert_eq!(incident["count"], 4_000, "every repeat is counted");
    let kept = incident["events"].as_array().expect("events").len();
    assert!(kept <= 50, "the record keeps the last 50 events, not {kept}");
}

#[test]
fn a_body_beyond_the_alert_cap_is_refused_whole_and_stores_nothing() {
    let s = unlimited();
    let token = prometheus_token(&s);
    // About 4.5 MiB: under the body limit, far over the alert cap.
    let alerts: Vec<String> =
        (0..150_000).map(|i| format!(r#"{{"labels":{{"alertname":"a{i}"}}}}"#)).collect();
    let flood = format!(r#"{{"alerts":[{}]}}"#, alerts.join(",")).into_bytes();
    assert!(flood.len() < 5 * 1024 * 1024, "{} bytes", flood.len());
    let r = ingest(&s, &token, &flood);
    assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    assert_eq!(body["error"], "payload_too_large", "Spike's error shape: {body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("5000")), "{body}");
    let all = s.get("/api/observability/incidents").json();
    assert_eq!(all["incidents"].as_array().map(Vec::len), Some(0), "{all}");
    // The cap itself is accepted.
    assert_eq!(ingest(&s, &token, &alertmanager(5_000, |i| format!("b{i}"))).status, 200);
}

#[test]
fn a_long_alert_title_is_cut_to_its_cap() {
    let mut s = unlimited();
    let token = prometheus_token(&s);
    let long = "x".repeat(100_000);
    assert_eq!(ingest(&s, &token, &alertmanager(1, |_| long.clone())).status, 200);
    s.terminate();
    let rows = seq_rows(&s, "incidents");
    let title = rows[0]["title"].as_str().expect("title");
    assert!(title.len() <= 500, "{} bytes", title.len());
}

#[test]
fn memory_statistics_and_an_agent_detail_stay_small_over_many_large_entries() {
    let s = unlimited();
    let agent = s.post("/api/agents", &json!({ "name": "archivist", "type": "task" })).json();
    let agent = agent["id"].as_str().expect("id").to_owned();
    let content = "m".repeat(60 * 1024);
    let entries = 120;
    for i in 0..entries {
        let r = s.post(
            "/api/memory",
            &json!({ "agentId": agent, "category": "code", "content": format!("{i} {content}") }),
        );
        assert_eq!(r.status, 201);
    }
    let stats = s.get("/api/memory");
    assert_eq!(stats.status, 200);
    assert!(stats.body.len() < 2_048, "statistics, not entries: {} bytes", stats.body.len());
    let stats = stats.json();
    assert_eq!(stats["vectorStore"]["totalEmbeddings"], entries);
    assert!(stats["vectorStore"]["storageMB"].as_f64().unwrap_or(0.0) > 7.0, "{stats}");

    let detail = s.get(&format!("/api/agents/{agent}")).json();
    let memory = &detail["memory"];
    assert_eq!(memory["totalEmbeddings"], entries);
    let shown = memory["embeddings"].as_array().expect("embeddings");
    assert_eq!(shown.len(), 50, "the newest 50");
    let content_of = |i: usize| shown[i]["content"].as_str().expect("content").to_owned();
    assert!(content_of(0).starts_with(&format!("{} ", entries - 50)), "oldest of them first");
    assert!(content_of(49).starts_with(&format!("{} ", entries - 1)));
}

#[test]
fn one_verification_runs_at_a_time_and_deep_pages_are_refused() {
    let s = unlimited();
    let token = prometheus_token(&s);
    // A few thousand audit entries: incidents of distinct titles.
    for round in 0..4 {
        let body = alertmanager(5_000, |i| format!("r{round}-{i}"));
        assert_eq!(ingest(&s, &token, &body).status, 200);
    }
    let answers: Vec<crate::common::Resp> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..4).map(|_| scope.spawn(|| s.get("/api/audit/verify"))).collect();
        runs.into_iter().map(|r| r.join().expect("verify")).collect()
    });
    let mut verified = 0;
    for r in &answers {
        match r.status {
            200 => {
                assert_eq!(r.json()["valid"], true, "{}", r.json());
                verified += 1;
            }
            409 => {
                r.expect_error(409, "VERIFICATION_RUNNING");
            }
            other => panic!("verify answered {other}: {}", String::from_utf8_lossy(&r.body)),
        }
    }
    assert!(verified >= 1);
    // Offsets are bounded; keyset paging reaches any depth.
    let e = s.get("/api/audit?page=2000&limit=100").expect_error(400, "INVALID_PARAMETER");
    assert!(e["error"].as_str().is_some_and(|m| m.contains("before=")), "{e}");
    let first = s.get("/api/audit?limit=100").json();
    let before = first["nextBefore"].as_u64().expect("a seq to page from");
    let deeper = s.get(&format!("/api/audit?limit=100&before={before}"));
    assert_eq!(deeper.status, 200);
}
