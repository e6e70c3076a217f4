//! The Spike dialect (contract 9.1, seed 003): `x-api-key` plus `x-team-id` (the key's org),
//! errors as `{"message","error"}`. So far: `GET /integrations/available`.

use serde_json::json;

use super::{ApiError, App, Request, Response};
use crate::store::api_keys;
use crate::store::records::ApiKeyRecord;

/// The kinds this appliance parses: `(slug, name, category, description)`.
pub const AVAILABLE: [(&str, &str, &str, &str); 6] = [
    (
        "webhook",
        "Webhook",
        "generic",
        "Any service that can POST JSON: title, body, severity, priority, status",
    ),
    ("sentry", "Sentry", "error-tracking", "Sentry issue and alert webhooks"),
    ("github-workflows", "GitHub Workflows", "ci-cd", "GitHub Actions workflow_run webhooks"),
    ("pagerduty", "PagerDuty", "incident-management", "PagerDuty v3 incident webhooks"),
    ("prometheus", "Prometheus", "monitoring", "Prometheus Alertmanager webhook notifications"),
    ("grafana", "Grafana", "monitoring", "Grafana alerting webhook notifications"),
];

/// The key of a Spike request, checked against `x-team-id`.
fn authenticate(app: &App, req: &Request) -> Result<ApiKeyRecord, ApiError> {
    let unauthorized =
        |m: &str| ApiError::Spike { status: 401, error: "unauthorized", message: m.into() };
    let key = req.header("x-api-key").map(str::trim).filter(|k| !k.is_empty());
    let key = key.ok_or_else(|| unauthorized("Missing x-api-key header"))?;
    let record = api_keys::authenticate(&app.store.read()?, key)?
        .ok_or_else(|| unauthorized("Invalid API key"))?;
    match req.header("x-team-id").map(str::trim).filter(|t| !t.is_empty()) {
        None => Err(unauthorized("Missing x-team-id header")),
        Some(team) if team != record.org_id => {
            Err(unauthorized("This API key does not belong to that team"))
        }
        Some(_) => Ok(record),
    }
}

pub fn available(app: &App, req: &Request) -> Result<Response, ApiError> {
    authenticate(app, req)?;
    let list: Vec<_> = AVAILABLE
        .iter()
        .map(|(slug, name, category, description)| {
            json!({ "slug": slug, "name": name, "category": category, "description": description })
        })
        .collect();
    Ok(Response::ok(&json!({ "integrations": list })))
}
