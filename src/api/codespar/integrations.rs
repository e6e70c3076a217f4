//! Integrations (docs/API.md §2.13): per-org configuration and status, and PagerDuty, Linear
//! and Sentry through their real APIs. Always org-scoped: the dispatcher refuses these
//! endpoints without `x-org-id` (400 `MISSING_ORG_ID`).
//!
//! Configurations share the channel configuration table (`slack` is one record for both APIs);
//! for org `default` the environment is the fallback. Whether an integration's last call
//! failed is kept in memory ([`Health`]): it is a live signal, not history (the audit trail has
//! the history of configuration).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ApiError;
use super::channels::{URL_KEYS, check_egress, config_values, keep_stored_secrets};
use crate::api::{OrgId, Request, Response, State, body};
use crate::clock;
use crate::engine::channels as resolve;
use crate::engine::channels::{deploy_secret, github_secret, github_token, vercel_secret};
use crate::settings::Secret;
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::channels;
use crate::store::records::{ChannelConfigRecord, ChannelStatusRecord};
use crate::upstream::linear::{Linear, NewIssue};
use crate::upstream::pagerduty::PagerDuty;
use crate::upstream::sentry::Sentry;
use crate::upstream::{self, UpstreamError};

/// What `GET /api/integrations/status` lists, in order: the deploy webhooks last, configured
/// by their secret alone (docs/API.md §2.13).
const LISTED: [&str; 10] = [
    "pagerduty",
    "linear",
    "sentry",
    "slack",
    "github",
    "discord",
    "telegram",
    "whatsapp",
    "vercel",
    "deploy",
];
pub(super) const CONFIGURABLE: &str = "pagerduty, linear, sentry, slack, github";
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;

/// An integration's configuration for an org (stored, else the environment for `default`).
fn config_of(state: &State, org: &str, name: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let keys =
        resolve::config(&state.store.read()?, &state.settings, org, name)?.unwrap_or_default();
    Ok(keys.into_iter().filter(|(_, v)| !v.trim().is_empty()).collect())
}

fn configured(state: &State, org: &str, name: &str) -> Result<bool, ApiError> {
    let has =
        |cfg: &BTreeMap<String, String>, keys: &[&str]| keys.iter().all(|k| cfg.contains_key(*k));
    Ok(match name {
        "pagerduty" => has(&config_of(state, org, name)?, &["apiKey", "fromEmail"]),
        "linear" => has(&config_of(state, org, name)?, &["apiKey"]),
        "sentry" => has(&config_of(state, org, name)?, &["authToken", "org"]),
        "github" => {
            let read = state.store.read()?;
            github_token(&read, &state.settings, org)?.is_some()
                || github_secret(&read, &state.settings, org)?.is_some()
        }
        "vercel" => vercel_secret(&state.store.read()?, &state.settings, org)?.is_some(),
        "deploy" => deploy_secret(&state.store.read()?, &state.settings, org)?.is_some(),
        chat => resolve::target(&state.store.read()?, &state.settings, org, chat)?.is_some(),
    })
}

pub fn status(state: &State, org: &OrgId) -> Result<Response, ApiError> {
    let org = org.as_str();
    let mut out = Vec::new();
    for name in LISTED {
        let configured = configured(state, org, name)?;
        let (last_sync, error) = match name {
            "slack" | "discord" | "telegram" | "whatsapp" => {
                let s: ChannelStatusRecord =
                    channels::status(&state.store.read()?, org, name)?.unwrap_or_default();
                let failing = s.last_error.clone().filter(|_| !s.connected && configured);
                (s.last_delivery_ms, failing)
            }
            _ => {
                let last = state.integrations.get(org, name);
                (last.last_sync_ms, last.error)
            }
        };
        let status = match (configured, &error) {
            (false, _) => "inactive",
            (true, Some(_)) => "error",
            (true, None) => "active",
        };
        let mut entry = json!({
            "id": name, "configured": configured, "status": status,
            "lastSync": last_sync.map(clock::rfc3339),
        });
        if let (true, Some(e)) = (configured, error) {
            entry["lastError"] = Value::from(e);
        }
        out.push(entry);
    }
    // One store (docs/API.md §6.3): integrations made through the Spike dialect are listed too.
    for spike in
        crate::store::spike::list(&state.store.read()?, org)?.iter().filter(|i| !i.is_archived)
    {
        out.push(json!({
            "id": format!("spike:{}", spike.id), "configured": true, "status": "active",
            "lastSync": null, "source": "spike", "slug": spike.slug, "name": spike.custom_name,
        }));
    }
    Ok(Response::ok(&json!({ "integrations": out })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Configure {
    integration: Option<String>,
    config: Option<Map<String, Value>>,
}

pub async fn configure(state: &State, org: &OrgId, req: &Request) -> Result<Response, ApiError> {
    let input: Configure = body::json(&req.body)?;
    let name = body::required(input.integration, "integration")?;
    if !CONFIGURABLE.split(", ").any(|c| c == name) {
        return Err(ApiError::InvalidIntegration(CONFIGURABLE));
    }
    let config =
        config_values(input.config.ok_or_else(|| ApiError::MissingField("config".into()))?)?;
    let has = |k: &str| config.get(k).is_some_and(|v| !v.is_empty());
    let required: &[&str] = match name.as_str() {
        "pagerduty" => &["apiKey", "fromEmail"],
        "linear" => &["apiKey"],
        "sentry" => &["authToken", "org"],
        "github" => &["token"],
        _ => &[],
    };
    if let Some(missing) = required.iter().find(|k| !has(k)) {
        return Err(ApiError::MissingField(format!("config.{missing}")));
    }
    if name == "slack" && !has("botToken") && !has("webhookUrl") {
        return Err(ApiError::MissingField("config.botToken (or config.webhookUrl)".into()));
    }
    for key in URL_KEYS {
        if let Some(url) = config.get(key).filter(|u| !u.is_empty()) {
            check_egress(state, &format!("config.{key}"), url).await?;
        }
    }
    let org = org.to_string();
    let actor = req.actor().to_owned();
    let now = clock::now_ms();
    let keys: Vec<String> = config.keys().cloned().collect();
    let mut record = ChannelConfigRecord {
        channel: name.clone(),
        config,
        configured_at_ms: now,
        configured_by: actor.clone(),
    };
    let stored_org = org.clone();
    state
        .store
        .write(move |tx| {
            keep_stored_secrets(tx, &stored_org, &mut record)?;
            channels::put_config(tx, &stored_org, &record)?;
            let fresh = ChannelStatusRecord { connected: true, ..Default::default() };
            channels::put_status(tx, &stored_org, &record.channel, &fresh)?;
            let draft = AuditDraft::new(ActorType::User, &actor, "integration.configure")
                .meta("integration", record.channel.as_str())
                .meta("configKeys", keys.clone());
            audit::append(tx, &stored_org, draft)?;
            Ok::<_, ApiError>(())
        })
        .await?;
    state.integrations.forget(&org, &name);
    Ok(Response::ok(&json!({
        "integration": name, "status": "active", "configuredAt": clock::rfc3339(now),
    })))
}

/// Runs an upstream call off the executor and records its outcome in [`Health`].
async fn call<T, F>(state: &State, org: &str, name: &'static str, work: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, UpstreamError> + Send + 'static,
    T: Send + 'static,
{
    let result = upstream::blocking(work).await;
    state.integrations.record(org, name, &result);
    Ok(result?)
}

fn limit(req: &Request) -> Result<u32, ApiError> {
    let limit = req.query.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    Ok(u32::try_from(limit).unwrap_or(u32::MAX))
}

fn secret(cfg: &BTreeMap<String, String>, key: &str) -> Option<Secret> {
    cfg.get(key).cloned().map(Secret::new)
}

// PagerDuty ---------------------------------------------------------------------------------

fn pagerduty(state: &State, org: &str) -> Result<(PagerDuty, BTreeMap<String, String>), ApiError> {
    let cfg = config_of(state, org, "pagerduty")?;
    let (Some(key), Some(from)) = (secret(&cfg, "apiKey"), cfg.get("fromEmail").cloned()) else {
        return Err(ApiError::IntegrationNotConfigured("PagerDuty"));
    };
    let client =
        PagerDuty::new(state.upstream.clone(), &state.settings.pagerduty_api_url, key, from);
    Ok((client, cfg))
}

pub async fn pagerduty_oncall(
    state: &State,
    org: &OrgId,
    req: &Request,
) -> Result<Response, ApiError> {
    let org = org.as_str();
    let (client, cfg) = pagerduty(state, org)?;
    let policy = req
        .query
        .get("escalationPolicyId")
        .map(str::to_owned)
        .or_else(|| cfg.get("escalationPolicyId").cloned());
    let schedule = req.query.get("scheduleId").map(str::to_owned);
    let oncalls = call(state, org, "pagerduty", move || {
        client.oncalls(policy.as_deref(), schedule.as_deref())
    })
    .await?;
    let view = |o: &crate::upstream::pagerduty::OnCall| {
        json!({
            "userId": o.user.id, "name": o.user.display(), "email": o.user.email,
            "escalationLevel": o.escalation_level, "since": o.start, "until": o.end,
        })
    };
    let lowest = oncalls.iter().min_by_key(|o| o.escalation_level).map(view);
    let all: Vec<Value> = oncalls.iter().map(view).collect();
    Ok(Response::ok(&json!({ "oncall": lowest, "all": all })))
}

pub async fn pagerduty_incidents(
    state: &State,
    org: &OrgId,
    req: &Request,
) -> Result<Response, ApiError> {
    let org = org.as_str();
    const STATUSES: [&str; 3] = ["triggered", "acknowledged", "resolved"];
    let statuses: Vec<String> = req
        .query
        .get("status")
        .unwrap_or("triggered,acknowledged")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(bad) = statuses.iter().find(|s| !STATUSES.contains(&s.as_str())) {
        return Err(ApiError::InvalidParameter {
            name: "status",
            reason: format!("unknown status '{bad}': use triggered, acknowledged or resolved"),
        });
    }
    let limit = limit(req)?;
    let (client, _) = pagerduty(state, org)?;
    let (incidents, total) =
        call(state, org, "pagerduty", move || client.incidents(&statuses, limit)).await?;
    let views: Vec<Value> = incidents
        .iter()
        .map(|i| {
            let assignee = i
                .assignments
                .first()
                .map(|a| json!({ "name": a.assignee.display(), "email": a.assignee.email }));
            json!({
                "id": i.id, "title": i.title, "status": i.status, "urgency": i.urgency,
                "service": i.service.display(), "createdAt": i.created_at,
                "assignee": assignee, "htmlUrl": i.html_url,
            })
        })
        .collect();
    let total = total.unwrap_or(views.len() as u64);
    Ok(Response::ok(&json!({ "incidents": views, "total": total })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Acknowledge {
    acknowledged_by: Option<String>,
}

pub async fn pagerduty_acknowledge(
    state: &State,
    org: &OrgId,
    req: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    let input: Acknowledge = body::json(&req.body)?;
    // Who acknowledged becomes the audit entry's actor: a short label, like `X-Actor`.
    let by = input.acknowledged_by.filter(|b| !b.trim().is_empty());
    let by = by.unwrap_or_else(|| req.actor().to_owned());
    body::short_text("acknowledgedBy", &by, 128)?;
    let org = org.to_string();
    let (client, _) = pagerduty(state, &org)?;
    let incident = id.to_owned();
    let done = call(state, &org, "pagerduty", move || client.acknowledge(&incident)).await?;
    if done.is_none() {
        return Err(ApiError::IncidentNotFound(id.to_owned()));
    }
    let now = clock::now_ms();
    let (incident, actor) = (id.to_owned(), by.clone());
    state
        .store
        .write(move |tx| {
            let draft = AuditDraft::new(ActorType::User, &actor, "pagerduty.acknowledge")
                .meta("incidentId", incident.as_str());
            audit::append(tx, &org, draft)?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(Response::ok(&json!({
        "id": id, "status": "acknowledged", "acknowledgedAt": clock::rfc3339(now),
        "acknowledgedBy": by,
    })))
}

// Linear ------------------------------------------------------------------------------------

fn linear(state: &State, org: &str) -> Result<(Linear, BTreeMap<String, String>), ApiError> {
    let cfg = config_of(state, org, "linear")?;
    let key = secret(&cfg, "apiKey").ok_or(ApiError::IntegrationNotConfigured("Linear"))?;
    Ok((Linear::new(state.upstream.clone(), &state.settings.linear_api_url, key), cfg))
}

pub async fn linear_teams(state: &State, org: &OrgId) -> Result<Response, ApiError> {
    let org = org.as_str();
    let (client, _) = linear(state, org)?;
    let teams = call(state, org, "linear", move || client.teams()).await?;
    let views: Vec<Value> = teams
        .iter()
        .map(|t| json!({ "id": t.id, "name": t.name, "key": t.key, "issueCount": t.issue_count }))
        .collect();
    Ok(Response::ok(&json!({ "teams": views })))
}

fn issue_view(i: &crate::upstream::linear::Issue) -> Value {
    json!({
        "id": i.identifier, "uuid": i.id, "title": i.title,
        "status": i.state.as_ref().map(|s| s.name.clone()),
        "priority": i.priority.map(|p| p as i64),
        "assignee": i.assignee.as_ref().map(|a| json!({ "name": a.name })),
        "labels": i.labels.as_ref().map(|l| l.nodes.iter().map(|n| n.name.clone()).collect::<Vec<_>>()).unwrap_or_default(),
        "createdAt": i.created_at, "url": i.url,
    })
}

pub async fn linear_issues(
    state: &State,
    org: &OrgId,
    req: &Request,
) -> Result<Response, ApiError> {
    let org = org.as_str();
    let limit = limit(req)?;
    let (client, _) = linear(state, org)?;
    let q = |k: &str| req.query.get(k).map(str::to_owned);
    let (team, status, assignee) = (q("team"), q("status"), q("assignee"));
    let issues = call(state, org, "linear", move || {
        client.issues(team.as_deref(), status.as_deref(), assignee.as_deref(), limit)
    })
    .await?;
    let views: Vec<Value> = issues.iter().map(issue_view).collect();
    Ok(Response::ok(&json!({ "total": views.len(), "issues": views })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateIssue {
    title: Option<String>,
    team_id: Option<String>,
    description: Option<String>,
    priority: Option<i64>,
    labels: Option<Vec<String>>,
}

pub async fn linear_create(
    state: &State,
    org: &OrgId,
    req: &Request,
) -> Result<Response, ApiError> {
    let input: CreateIssue = body::json(&req.body)?;
    let title = body::required(input.title, "title")?;
    let org = org.to_string();
    let (client, cfg) = linear(state, &org)?;
    let team_id = input
        .team_id
        .filter(|t| !t.trim().is_empty())
        .or_else(|| cfg.get("teamId").cloned())
        .ok_or_else(|| ApiError::MissingField("teamId".into()))?;
    let priority = match input.priority {
        None => None,
        Some(p @ 0..=4) => Some(p as u8),
        Some(_) => {
            return Err(ApiError::InvalidField {
                field: "priority".into(),
                reason: "must be 0 (none) to 4 (low)".into(),
            });
        }
    };
    let labels = input.labels.unwrap_or_default();
    let issue = NewIssue {
        team_id,
        title,
        description: input.description.filter(|d| !d.is_empty()),
        priority,
        label_ids: Vec::new(),
    };
    let created = call(state, &org, "linear", move || {
        let mut issue = issue;
        if !labels.is_empty() {
            let known = client.team_labels(&issue.team_id)?;
            for name in &labels {
                match known.iter().find(|l| l.name.eq_ignore_ascii_case(name)) {
                    Some(l) => issue.label_ids.push(l.id.clone()),
                    None => return Ok(Err(name.clone())),
                }
            }
        }
        client.create_issue(&issue).map(Ok)
    })
    .await?
    .map_err(ApiError::UnknownLabel)?;
    let actor = req.actor().to_owned();
    let identifier = created.identifier.clone();
    state
        .store
        .write(move |tx| {
            let draft = AuditDraft::new(ActorType::User, &actor, "linear.issue_create")
                .meta("issueId", identifier.as_str());
            audit::append(tx, &org, draft)?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(Response::json(
        201,
        &json!({
            "id": created.identifier, "uuid": created.id, "title": created.title,
            "status": created.state.as_ref().map_or("Todo".to_owned(), |s| s.name.clone()),
            "url": created.url,
        }),
    ))
}

// Sentry ------------------------------------------------------------------------------------

pub async fn sentry_issues(
    state: &State,
    org: &OrgId,
    req: &Request,
) -> Result<Response, ApiError> {
    let org = org.as_str();
    let cfg = config_of(state, org, "sentry")?;
    let (Some(token), Some(sentry_org)) = (secret(&cfg, "authToken"), cfg.get("org").cloned())
    else {
        return Err(ApiError::IntegrationNotConfigured("Sentry"));
    };
    let limit = limit(req)?;
    let project =
        req.query.get("project").map(str::to_owned).or_else(|| cfg.get("project").cloned());
    let query = req.query.get("query").unwrap_or("is:unresolved").to_owned();
    let client = Sentry::new(state.upstream.clone(), &state.settings.sentry_api_url, token);
    let issues = call(state, org, "sentry", move || {
        client.issues(&sentry_org, project.as_deref(), &query, limit)
    })
    .await?;
    let views: Vec<Value> = issues
        .iter()
        .map(|i| {
            let count = match &i.count {
                Some(Value::String(s)) => s.parse::<u64>().ok(),
                Some(v) => v.as_u64(),
                None => None,
            };
            json!({
                "id": i.id, "title": i.title, "culprit": i.culprit, "level": i.level,
                "count": count, "userCount": i.user_count, "firstSeen": i.first_seen,
                "lastSeen": i.last_seen, "permalink": i.permalink,
            })
        })
        .collect();
    Ok(Response::ok(&json!({ "total": views.len(), "issues": views })))
}
