//! In-process counters for `/metrics` and `/api/metrics` (docs/API.md §2.1): requests by route,
//! method and status, a latency histogram by route, rate-limit rejections, and accepted webhooks
//! by source. What the store knows (deliveries, audit entries, index lag) is read when scraped.
//!
//! **Invariant:** recording is lock-free on the hot path once a series exists: a read lock on a
//! map of atomics; the write lock is taken only the first time a series is seen.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds (Prometheus' `le`).
pub const BUCKETS: [f64; 12] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// The webhook sources, in the order of [`Metrics::webhooks`].
pub const WEBHOOK_SOURCES: [&str; 5] = ["github", "sentry", "spike", "vercel", "deploy"];

/// The rate-limit buckets, in the order of [`Metrics::rate_limited`].
pub const LIMIT_BUCKETS: [&str; 2] = ["api", "webhooks"];

type RequestKey = (&'static str, &'static str, u16);

#[derive(Default)]
pub struct Metrics {
    requests: RwLock<HashMap<RequestKey, AtomicU64>>,
    latency: RwLock<HashMap<&'static str, Histogram>>,
    rate_limited: [AtomicU64; 2],
    webhooks: [AtomicU64; WEBHOOK_SOURCES.len()],
    /// The latest request's latency, for the JSON view's `last`.
    last_micros: AtomicU64,
}

#[derive(Default)]
struct Histogram {
    /// Per bucket, not cumulative; the last slot is `+Inf`.
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, micros: u64) {
        let secs = micros as f64 / 1e6;
        let slot = BUCKETS.iter().position(|le| secs <= *le).unwrap_or(BUCKETS.len());
        self.counts[slot].fetch_add(1, Relaxed);
        self.sum_micros.fetch_add(micros, Relaxed);
    }

    fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }
}

impl Metrics {
    /// One answered request. `route` is the endpoint's name (`unmatched` when none).
    pub fn request(&self, route: &'static str, method: &'static str, status: u16, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.last_micros.store(micros, Relaxed);
        bump(&self.requests, (route, method, status));
        observe(&self.latency, route, micros);
        if (200..300).contains(&status) {
            let source = match route {
                "github_webhook" => Some(0),
                "sentry_webhook" => Some(1),
                "spike_ingest" => Some(2),
                "vercel_webhook" => Some(3),
                "deploy_webhook" => Some(4),
                _ => None,
            };
            if let Some(i) = source {
                self.webhooks[i].fetch_add(1, Relaxed);
            }
        }
    }

    /// One request refused by a rate limiter (`webhooks` or `api`).
    pub fn rate_limited(&self, webhooks: bool) {
        self.rate_limited[usize::from(webhooks)].fetch_add(1, Relaxed);
    }

    /// Requests answered so far.
    pub fn total_requests(&self) -> u64 {
        self.requests.read().map_or(0, |m| m.values().map(|c| c.load(Relaxed)).sum())
    }

    /// `(count, sum in microseconds)` over every route.
    pub fn latency_totals(&self) -> (u64, u64) {
        self.latency.read().map_or((0, 0), |m| {
            m.values().fold((0, 0), |(n, s), h| (n + h.count(), s + h.sum_micros.load(Relaxed)))
        })
    }

    pub fn last_latency_micros(&self) -> u64 {
        self.last_micros.load(Relaxed)
    }

    /// Accepted webhooks by source, in [`WEBHOOK_SOURCES`] order.
    pub fn webhooks(&self) -> [u64; WEBHOOK_SOURCES.len()] {
        self.webhooks.each_ref().map(|c| c.load(Relaxed))
    }

    /// Rate-limit rejections by bucket, in [`LIMIT_BUCKETS`] order.
    pub fn rate_limited_counts(&self) -> [u64; 2] {
        self.rate_limited.each_ref().map(|c| c.load(Relaxed))
    }

    /// The counters in the Prometheus text format (version 0.0.4).
    pub fn render_prometheus(&self, out: &mut String) {
        family(out, "spar_http_requests_total", "counter", "HTTP requests answered.");
        if let Ok(requests) = self.requests.read() {
            let mut rows: Vec<_> = requests.iter().map(|(k, v)| (*k, v.load(Relaxed))).collect();
            rows.sort_unstable();
            for ((route, method, status), n) in rows {
                let _ = writeln!(
                    out,
                    "spar_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
                );
            }
        }
        family(
            out,
            "spar_http_request_duration_seconds",
            "histogram",
            "Time from request to response head.",
        );
        if let Ok(latency) = self.latency.read() {
            let mut routes: Vec<_> = latency.iter().collect();
            routes.sort_unstable_by_key(|(route, _)| **route);
            for (route, h) in routes {
                let mut cumulative = 0;
                for (i, le) in BUCKETS.iter().enumerate() {
                    cumulative += h.counts[i].load(Relaxed);
                    let _ = writeln!(
                        out,
                        "spar_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {cumulative}"
                    );
                }
                cumulative += h.counts[BUCKETS.len()].load(Relaxed);
                let sum = h.sum_micros.load(Relaxed) as f64 / 1e6;
                let _ = writeln!(
                    out,
                    "spar_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {cumulative}\n\
                     spar_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}\n\
                     spar_http_request_duration_seconds_count{{route=\"{route}\"}} {cumulative}"
                );
            }
        }
        family(
            out,
            "spar_rate_limited_total",
            "counter",
            "Requests refused with 429 by the per-IP limiter.",
        );
        for (bucket, n) in LIMIT_BUCKETS.iter().zip(self.rate_limited_counts()) {
            let _ = writeln!(out, "spar_rate_limited_total{{bucket=\"{bucket}\"}} {n}");
        }
        family(out, "spar_webhook_events_total", "counter", "Webhook deliveries accepted.");
        for (source, n) in WEBHOOK_SOURCES.iter().zip(self.webhooks()) {
            let _ = writeln!(out, "spar_webhook_events_total{{source=\"{source}\"}} {n}");
        }
    }
}

/// `# HELP` and `# TYPE` lines of a metric family.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn bump(map: &RwLock<HashMap<RequestKey, AtomicU64>>, key: RequestKey) {
    if let Ok(m) = map.read()
        && let Some(c) = m.get(&key)
    {
        c.fetch_add(1, Relaxed);
        return;
    }
    if let Ok(mut m) = map.write() {
        m.entry(key).or_default().fetch_add(1, Relaxed);
    }
}

fn observe(map: &RwLock<HashMap<&'static str, Histogram>>, route: &'static str, micros: u64) {
    if let Ok(m) = map.read()
        && let Some(h) = m.get(route)
    {
        h.observe(micros);
        return;
    }
    if let Ok(mut m) = map.write() {
        m.entry(route).or_default().observe(micros);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_count_matches() {
        let m = Metrics::default();
        m.request("list_agents", "GET", 200, Duration::from_micros(300));
        m.request("list_agents", "GET", 200, Duration::from_millis(3));
        m.request("list_agents", "GET", 404, Duration::from_secs(7));
        let mut out = String::new();
        m.render_prometheus(&mut out);
        assert!(out.contains(
            "spar_http_requests_total{route=\"list_agents\",method=\"GET\",status=\"200\"} 2"
        ));
        assert!(out.contains(
            "spar_http_request_duration_seconds_bucket{route=\"list_agents\",le=\"0.0005\"} 1"
        ));
        assert!(out.contains(
            "spar_http_request_duration_seconds_bucket{route=\"list_agents\",le=\"0.005\"} 2"
        ));
        assert!(out.contains(
            "spar_http_request_duration_seconds_bucket{route=\"list_agents\",le=\"+Inf\"} 3"
        ));
        assert!(out.contains("spar_http_request_duration_seconds_count{route=\"list_agents\"} 3"));
    }
}
