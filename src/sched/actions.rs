//! What tasks do when they run. Each action returns `Err` with a message an operator can act
//! on; the caller records it on the task. Every change an action makes commits with its audit
//! entry.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::clock;
use crate::engine::channels::github_token;
use crate::engine::report;
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::orgs::DEFAULT_ORG;
use crate::store::records::{TaskAction, TaskRecord};
use crate::store::{Store, StoreError, channels, orgs, outbox, projects, tasks};
use crate::upstream::blocking;
use crate::upstream::github::GitHub;

use super::Deps;
use super::retention;

/// The index may trail the store by this much before `health-check` calls it lagging.
const INDEX_LAG_LIMIT_SECS: u64 = 60;
/// Workflow runs per repository in the build status report.
const RUNS_PER_REPO: u32 = 3;
/// The most audit entries a digest reads.
const DIGEST_SCAN_LIMIT: u64 = 100_000;

pub async fn run(deps: &Deps, task: &TaskRecord) -> Result<(), String> {
    match &task.action {
        TaskAction::HealthCheck => health_check(deps, task).await,
        TaskAction::BuildStatusReport => build_status_report(deps).await,
        TaskAction::AuditCleanup => audit_cleanup(deps).await,
        TaskAction::Digest { event_type, window_hours } => {
            digest(deps, &task.org_id, event_type, *window_hours).await
        }
        TaskAction::Webhook { url, body } => webhook(deps, task, url, body).await,
    }
}

/// Storage, index lag, dead deliveries, channels and integrations; `system.health_check` in the
/// audit of org `default` when any of them changed since the last run.
async fn health_check(deps: &Deps, task: &TaskRecord) -> Result<(), String> {
    let state = health_state(deps);
    if state == task.state {
        return Ok(());
    }
    let (org, name) = (task.org_id.clone(), task.name.clone());
    let previous = task.state.clone();
    deps.store
        .write(move |tx| {
            let Some(mut current) = tasks::get(tx, &org, &name)? else { return Ok(()) };
            let changed = changed_keys(&previous, &state);
            current.state = state.clone();
            tasks::put(tx, &current)?;
            let status = if healthy(&state) { "ok" } else { "degraded" };
            let draft = AuditDraft::new(ActorType::System, "scheduler", "system.health_check")
                .meta("status", status)
                .meta("changed", changed)
                .meta("state", state.clone());
            audit::append(tx, DEFAULT_ORG, draft)?;
            Ok::<_, crate::store::StoreError>(())
        })
        .await
        .map_err(|e| e.to_string())
}

fn health_state(deps: &Deps) -> Value {
    let read = deps.store.read();
    let storage_ok = read.as_ref().is_ok_and(|r| orgs::exists(r, DEFAULT_ORG).is_ok());
    let dead = read.as_ref().ok().and_then(|r| outbox::counts(r).ok()).map_or(0, |(_, d)| d);
    let lag = deps.search.lag_seconds(&deps.store);
    let mut channel_states = BTreeMap::new();
    if let Ok(r) = &read {
        for name in ["slack", "discord", "telegram", "whatsapp"] {
            if let Ok(Some(status)) = channels::status(r, DEFAULT_ORG, name) {
                let s = if status.last_error.is_some() { "error" } else { "ok" };
                channel_states.insert(name.to_owned(), Value::from(s));
            }
        }
    }
    // Only org `default`'s own integrations: no org's ids land in another org's audit.
    let integrations: BTreeMap<String, Value> = deps
        .integrations
        .failing()
        .into_iter()
        .filter(|(org, _)| org == DEFAULT_ORG)
        .map(|(_, name)| (name, Value::from("error")))
        .collect();
    json!({
        "storage": if storage_ok { "ok" } else { "error" },
        "index": if lag <= INDEX_LAG_LIMIT_SECS { "ok" } else { "lagging" },
        "deliveries": if dead == 0 { "ok" } else { "dead" },
        "channels": channel_states,
        "integrations": integrations,
    })
}

fn healthy(state: &Value) -> bool {
    let ok = |key: &str| state.get(key).and_then(Value::as_str) == Some("ok");
    ok("storage")
        && ok("index")
        && ok("deliveries")
        && state.get("integrations").and_then(Value::as_object).is_none_or(|m| m.is_empty())
        && state
            .get("channels")
            .and_then(Value::as_object)
            .is_none_or(|m| m.values().all(|v| v == "ok"))
}

/// The top-level keys whose values differ.
fn changed_keys(before: &Value, after: &Value) -> Vec<String> {
    let keys = after.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>());
    keys.unwrap_or_default().into_iter().filter(|k| before.get(k) != after.get(k)).collect()
}

/// Each org's linked projects' newest workflow runs, as one `report.build_status` event per
/// org with projects.
async fn build_status_report(deps: &Deps) -> Result<(), String> {
    let all = projects::list(&deps.store.read().map_err(|e| e.to_string())?, None)
        .map_err(|e| e.to_string())?;
    if all.is_empty() {
        return Ok(());
    }
    let mut by_org: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for project in all {
        // Each org's projects are read with its own GitHub token, else GITHUB_TOKEN.
        let token = github_token(
            &deps.store.read().map_err(|e| e.to_string())?,
            &deps.settings,
            &project.org_id,
        )
        .map_err(|e| e.to_string())?;
        let gh = GitHub::with_token(&deps.upstream, &deps.settings, token).ok_or(
            "GITHUB_TOKEN is not set: build-status-report reads workflow runs from GitHub with it",
        )?;
        let repo = project.repo.clone();
        let runs = blocking(move || gh.workflow_runs(&repo, RUNS_PER_REPO))
            .await
            .map_err(|e| format!("GitHub, {}: {e}", project.repo))?;
        let lines = by_org.entry(project.org_id.clone()).or_default();
        if runs.is_empty() {
            lines.push(format!("{}: no workflow runs", project.repo));
        }
        for run in runs {
            let outcome = run.conclusion.or(run.status).unwrap_or_else(|| "unknown".into());
            lines.push(format!(
                "{}: {} on {}: {outcome}",
                project.repo,
                run.name.unwrap_or_else(|| "workflow".into()),
                run.head_branch.unwrap_or_else(|| "?".into()),
            ));
        }
    }
    for (org, lines) in by_org {
        let title = format!("Build status, {} line(s)", lines.len());
        record_report(deps, &org, "report.build_status", title, lines).await?;
    }
    Ok(())
}

/// Audit retention: entries older than `audit_retention_days` leave the trail (each org's
/// `audit.retention` entry says what went).
/// The audit trail past `AUDIT_RETENTION_DAYS`, then every other kind of record past its age
/// (`SPAR_RETENTION`).
async fn audit_cleanup(deps: &Deps) -> Result<(), String> {
    let days = deps.settings.audit_retention_days;
    let audit =
        retention::prune_audit(&deps.store, &deps.search, days).await.map_err(|e| e.to_string())?;
    let records = retention::prune_records(&deps.store, &deps.settings.retention)
        .await
        .map_err(|e| e.to_string())?;
    let audit_removed: u64 = audit.iter().map(|p| p.removed).sum();
    let removed: Vec<String> =
        records.iter().filter(|(_, n)| *n > 0).map(|(k, n)| format!("{} {n}", k.name())).collect();
    if audit_removed > 0 || !removed.is_empty() {
        tracing::info!(audit = audit_removed, records = %removed.join(", "), "retention: removed old records");
    }
    Ok(())
}

/// A summary of the org's audit over the last `window_hours`, to routes matching `event_type`.
async fn digest(deps: &Deps, org: &str, event_type: &str, window_hours: u32) -> Result<(), String> {
    let since = clock::now_ms() - i64::from(window_hours) * 3_600_000;
    // Up to DIGEST_SCAN_LIMIT entries read and decoded: on the blocking pool, not a worker.
    let (store, scanned_org) = (deps.store.clone(), org.to_owned());
    let (total, by_action) =
        tokio::task::spawn_blocking(move || count_actions(&store, &scanned_org, since))
            .await
            .map_err(|e| format!("the digest did not finish: {e}"))?
            .map_err(|e| e.to_string())?;
    let mut counts: Vec<(String, u64)> = by_action.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut lines = vec![format!("{total} audit entries")];
    lines.extend(counts.iter().take(10).map(|(action, n)| format!("{n} × {action}")));
    let title = format!("Digest of org {org}, last {window_hours} h");
    record_report(deps, org, event_type, title, lines).await
}

/// The org's audit entries since `since` (Unix ms), by action: newest first, keyset-paged
/// (`before`), so each page costs its own size, and at most [`DIGEST_SCAN_LIMIT`] of them.
fn count_actions(
    store: &Store,
    org: &str,
    since: i64,
) -> Result<(u64, BTreeMap<String, u64>), StoreError> {
    let read = store.read()?;
    let (mut total, mut by_action) = (0u64, BTreeMap::new());
    let mut before = u64::MAX;
    'pages: while total < DIGEST_SCAN_LIMIT {
        let page = audit::page_before(&read, Some(org), before, 500)?;
        let Some(last) = page.last() else { break };
        before = last.seq;
        for entry in page {
            if clock::parse_rfc3339(&entry.timestamp).is_some_and(|t| t < since) {
                break 'pages;
            }
            total += 1;
            *by_action.entry(entry.action).or_default() += 1;
        }
    }
    Ok((total, by_action))
}

async fn record_report(
    deps: &Deps,
    org: &str,
    event_type: &str,
    title: String,
    lines: Vec<String>,
) -> Result<(), String> {
    let (org, event_type, policy) = (org.to_owned(), event_type.to_owned(), deps.policy);
    let event = deps
        .store
        .write(move |tx| {
            report::record(tx, &org, &event_type, title.clone(), lines.clone(), policy)
        })
        .await
        .map_err(|e| e.to_string())?;
    deps.signals.recorded(report::notified(&event));
    Ok(())
}

/// POSTs the task's body to its URL; anything but a 2xx answer is a failure. Each call is
/// audited in the task's org with the target's host only (the path of a webhook URL is often
/// its secret).
async fn webhook(deps: &Deps, task: &TaskRecord, url: &str, body: &Value) -> Result<(), String> {
    let (http, target, payload) = (deps.upstream.clone(), url.to_owned(), body.clone());
    let answer = blocking(move || http.post_json(&target, &payload)).await;
    let status = answer.as_ref().ok().map(|a| a.status);
    let (org, name, host) = (task.org_id.clone(), task.name.clone(), host_of(url));
    deps.store
        .write(move |tx| {
            let draft = AuditDraft::new(ActorType::System, "scheduler", "scheduler.webhook")
                .meta("task", name.as_str())
                .meta("host", host.as_str())
                .meta("status", status.map_or(Value::Null, Value::from));
            audit::append(tx, &org, draft).map(|_| ())
        })
        .await
        .map_err(|e| e.to_string())?;
    let host = host_of(url);
    match answer {
        Ok(a) if a.is_success() => Ok(()),
        Ok(a) => Err(format!("the webhook at {host} answered {}", a.status)),
        // Transport errors may quote the URL, whose path is often the webhook's secret.
        Err(e) => Err(format!(
            "the webhook at {host} failed: {}",
            e.to_string().replace(url, host.as_str())
        )),
    }
}

/// `https://hooks.example.com/T0/B0/secret` → `hooks.example.com`.
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.rsplit('@').next().unwrap_or_default().to_owned()
}
