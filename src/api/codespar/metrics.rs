//! `GET /metrics` (Prometheus text format) and `GET /api/metrics` (JSON), docs/API.md §2.1. The
//! request counters come from [`crate::metrics`]; the rest is read from the store when scraped.

use std::fmt::Write as _;

use bytes::Bytes;
use serde_json::json;

use super::ApiError;
use crate::api::scope::Caller;
use crate::api::{Response, State};
use crate::metrics::{LIMIT_BUCKETS, WEBHOOK_SOURCES, family};
use crate::store::records::TaskRecord;
use crate::store::{ReadTx, agents, audit, outbox, tasks};

/// What the store says.
struct Stored {
    agents: u64,
    audit_entries: u64,
    pending: u64,
    dead: u64,
    delivered: u64,
}

fn stored(read: &ReadTx) -> Result<Stored, ApiError> {
    let (pending, dead) = outbox::counts(read)?;
    let total = outbox::total(read)?;
    Ok(Stored {
        agents: agents::count(read)?,
        audit_entries: audit::total(read, None)?,
        pending,
        dead,
        delivered: total.saturating_sub(pending + dead),
    })
}

/// Per-org, per-task series name orgs and tasks: only for the operator token, or for anyone
/// with `SPAR_METRICS_ORG_LABELS` (docs/SECURITY.md). Everyone else gets totals.
pub fn prometheus(state: &State, caller: &Caller) -> Result<Response, ApiError> {
    let per_task = matches!(caller, Caller::Operator) || state.settings.metrics_org_labels;
    // One snapshot for every store-derived figure, so they agree with each other.
    let read = state.store.read()?;
    let s = stored(&read)?;
    let all_tasks = tasks::all(&read)?;
    drop(read);
    let mut out = String::with_capacity(8 * 1024);
    state.metrics.render_prometheus(&mut out);
    let mut gauge = |name: &str, help: &str, rows: &[(&str, u64)]| {
        family(&mut out, name, "gauge", help);
        for (labels, value) in rows {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    gauge(
        "spar_deliveries",
        "Outbox deliveries by state.",
        &[
            ("{state=\"pending\"}", s.pending),
            ("{state=\"delivered\"}", s.delivered),
            ("{state=\"dead\"}", s.dead),
        ],
    );
    gauge("spar_audit_entries", "Entries in the audit trail (all orgs).", &[("", s.audit_entries)]);
    gauge(
        "spar_index_lag_seconds",
        "How far the search index trails the store.",
        &[("", state.search.lag_seconds(&state.store))],
    );
    gauge("spar_agents", "Agents (all orgs).", &[("", s.agents)]);
    gauge("spar_store_size_bytes", "Size of the redb file.", &[("", state.store.size_bytes())]);
    gauge(
        "spar_uptime_seconds",
        "Seconds since start.",
        &[("", state.started.elapsed().as_secs())],
    );
    scheduler_counters(&all_tasks, per_task, &mut out);
    Ok(Response::raw_json(200, Bytes::from(out))
        .with_header("content-type", "text/plain; version=0.0.4; charset=utf-8"))
}

fn scheduler_counters(all: &[TaskRecord], per_task: bool, out: &mut String) {
    family(out, "spar_scheduler_runs_total", "counter", "Task runs by outcome.");
    if !per_task {
        let ok: u64 = all.iter().map(|t| t.run_count).sum();
        let errors: u64 = all.iter().map(|t| t.errors).sum();
        let _ = writeln!(out, "spar_scheduler_runs_total{{outcome=\"ok\"}} {ok}");
        let _ = writeln!(out, "spar_scheduler_runs_total{{outcome=\"error\"}} {errors}");
        return;
    }
    for t in all {
        for (outcome, n) in [("ok", t.run_count), ("error", t.errors)] {
            let _ = writeln!(
                out,
                "spar_scheduler_runs_total{{org=\"{}\",task=\"{}\",outcome=\"{outcome}\"}} {n}",
                escape(&t.org_id),
                escape(&t.name)
            );
        }
    }
}

/// Label values escape `\`, `"` and newlines (the text format's rule).
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The JSON view: CodeSpar's `{uptime, agents, metrics}` with a flat map of counters; `uptime`
/// is whole seconds as in `/health`, `uptimeMs` the milliseconds CodeSpar's `uptime` carried.
pub fn json_view(state: &State) -> Result<Response, ApiError> {
    let s = stored(&state.store.read()?)?;
    let m = &state.metrics;
    let (count, sum_micros) = m.latency_totals();
    let avg_ms = if count == 0 { 0.0 } else { sum_micros as f64 / count as f64 / 1000.0 };
    let mut metrics = serde_json::Map::new();
    metrics.insert("api.requests".into(), m.total_requests().into());
    metrics.insert(
        "api.latency_ms".into(),
        json!({
            "avg": (avg_ms * 100.0).round() / 100.0,
            "count": count,
            "last": (m.last_latency_micros() as f64 / 10.0).round() / 100.0,
        }),
    );
    let webhooks = m.webhooks();
    metrics.insert("webhook.received".into(), webhooks.iter().sum::<u64>().into());
    for (source, n) in WEBHOOK_SOURCES.iter().zip(webhooks) {
        metrics.insert(format!("webhook.received.{source}"), n.into());
    }
    for (bucket, n) in LIMIT_BUCKETS.iter().zip(m.rate_limited_counts()) {
        metrics.insert(format!("ratelimit.rejected.{bucket}"), n.into());
    }
    metrics.insert("deliveries.pending".into(), s.pending.into());
    metrics.insert("deliveries.delivered".into(), s.delivered.into());
    metrics.insert("deliveries.dead".into(), s.dead.into());
    metrics.insert("audit.entries".into(), s.audit_entries.into());
    metrics.insert("index.lag_seconds".into(), state.search.lag_seconds(&state.store).into());
    let up = state.started.elapsed();
    Ok(Response::ok(&json!({
        "uptime": up.as_secs(),
        "uptimeMs": u64::try_from(up.as_millis()).unwrap_or(u64::MAX),
        "agents": s.agents,
        "metrics": metrics,
    })))
}
