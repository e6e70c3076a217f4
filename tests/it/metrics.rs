//! `/metrics` (Prometheus text format, read with a real parser) and `/api/metrics` (JSON)
//! move with traffic (docs/API.md §2.1).

use prometheus_parse::{Scrape, Value as Metric};
use serde_json::json;

use crate::common::{Server, fixture};

const SECRET: &str = "metrics-secret";

fn scrape(s: &Server) -> Scrape {
    let r = s.get("/metrics");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap_or("").starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(r.body.clone()).expect("utf-8");
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text format")
}

/// The value of the sample `name` whose labels include all of `labels`.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let sample = scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))?;
    match &sample.value {
        Metric::Counter(v) | Metric::Gauge(v) | Metric::Untyped(v) => Some(*v),
        Metric::Histogram(buckets) => buckets.last().map(|b| b.count),
        Metric::Summary(_) => None,
    }
}

#[test]
fn counters_move_with_traffic() {
    let s = Server::with(
        &["--rate-limit-api", "3", "--rate-limit-webhooks", "0"],
        &[("GITHUB_WEBHOOK_SECRET", SECRET)],
    );
    let before = scrape(&s);
    let agents = [("route", "list_agents"), ("method", "GET"), ("status", "200")];
    assert_eq!(value(&before, "spar_http_requests_total", &agents), None);
    assert_eq!(value(&before, "spar_rate_limited_total", &[("bucket", "api")]), Some(0.0));
    assert_eq!(value(&before, "spar_webhook_events_total", &[("source", "github")]), Some(0.0));

    for _ in 0..3 {
        assert_eq!(s.get("/api/agents").status, 200);
    }
    assert_eq!(s.get("/api/agents").status, 429);
    let r = s.github_webhook(
        "/webhooks/github",
        "push",
        "d-1",
        Some(SECRET),
        &fixture("github/push.json"),
    );
    assert_eq!(r.status, 200);
    let r = s.github_webhook(
        "/webhooks/github",
        "push",
        "d-2",
        Some("wrong"),
        &fixture("github/push.json"),
    );
    assert_eq!(r.status, 401);
    assert_eq!(s.get("/nowhere").status, 404);

    let after = scrape(&s);
    assert_eq!(value(&after, "spar_http_requests_total", &agents), Some(3.0));
    assert_eq!(value(&after, "spar_rate_limited_total", &[("bucket", "api")]), Some(1.0));
    assert_eq!(value(&after, "spar_rate_limited_total", &[("bucket", "webhooks")]), Some(0.0));
    assert_eq!(
        value(&after, "spar_http_requests_total", &[("route", "rate_limited"), ("status", "429")]),
        Some(1.0)
    );
    // Only the delivery that was accepted counts as a webhook event.
    assert_eq!(value(&after, "spar_webhook_events_total", &[("source", "github")]), Some(1.0));
    assert_eq!(
        value(
            &after,
            "spar_http_requests_total",
            &[("route", "github_webhook"), ("status", "401")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&after, "spar_http_requests_total", &[("route", "unmatched"), ("status", "404")]),
        Some(1.0)
    );
    // The latency histogram counts every list_agents request, buckets cumulative.
    let histogram = after
        .samples
        .iter()
        .find(|x| {
            x.metric == "spar_http_request_duration_seconds"
                && x.labels.get("route") == Some("list_agents")
        })
        .expect("histogram");
    let Metric::Histogram(buckets) = &histogram.value else { panic!("not a histogram") };
    assert!(buckets.windows(2).all(|w| w[0].count <= w[1].count), "{buckets:?}");
    assert_eq!(buckets.last().map(|b| b.count), Some(3.0));
    // Store-derived gauges: the push became audit entries; no delivery without routes.
    assert!(value(&after, "spar_audit_entries", &[]).unwrap_or(0.0) >= 1.0);
    assert_eq!(value(&after, "spar_deliveries", &[("state", "pending")]), Some(0.0));
    assert_eq!(value(&after, "spar_deliveries", &[("state", "dead")]), Some(0.0));
    assert!(value(&after, "spar_index_lag_seconds", &[]).is_some());
    // Without the operator token, the scheduler series are totals that name no org or task.
    assert!(value(&after, "spar_scheduler_runs_total", &[("outcome", "ok")]).is_some());
    assert!(value(&after, "spar_scheduler_runs_total", &[("task", "health-check")]).is_none());
    // /metrics itself is not rate limited.
    for _ in 0..5 {
        assert_eq!(s.get("/metrics").status, 200);
    }
}

#[test]
fn the_json_view_has_codespar_shape() {
    let s = Server::with(&["--rate-limit-api", "0"], &[("GITHUB_WEBHOOK_SECRET", SECRET)]);
    assert_eq!(
        s.post("/api/agents", &json!({ "name": "metrics-agent", "type": "deploy" })).status,
        201
    );
    let r = s.github_webhook(
        "/webhooks/github",
        "push",
        "d-1",
        Some(SECRET),
        &fixture("github/push.json"),
    );
    assert_eq!(r.status, 200);
    let body = s.get("/api/metrics").json();
    assert!(body["uptime"].is_u64(), "{body}");
    assert_eq!(body["agents"], 1);
    let m = &body["metrics"];
    assert!(m["api.requests"].as_u64().unwrap_or(0) >= 2, "{m}");
    assert!(m["api.latency_ms"]["count"].as_u64().unwrap_or(0) >= 2, "{m}");
    assert!(m["api.latency_ms"]["avg"].is_number() && m["api.latency_ms"]["last"].is_number());
    assert_eq!(m["webhook.received"], 1);
    assert_eq!(m["webhook.received.github"], 1);
    assert_eq!(m["deliveries.pending"], 0);
    assert!(m["audit.entries"].as_u64().unwrap_or(0) >= 2);
}
