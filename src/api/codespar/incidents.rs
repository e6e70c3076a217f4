//! Incidents (docs/API.md §2.14): `GET /api/observability/incidents` and acknowledging
//! one. Org-scoped; the default context is org `default`.

use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use crate::api::{OrgId, Request, Response, State, body};
use crate::clock;
use crate::ids::IncidentId;
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::incidents;
use crate::store::records::{IncidentRecord, IncidentStatus};

const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;

fn view(i: &IncidentRecord) -> Value {
    json!({
        "id": i.id, "title": i.title, "severity": i.severity, "status": i.status,
        "source": i.source, "projectId": i.project_id, "sourceProject": i.source_project,
        "count": i.count, "events": i.events, "assignedAgent": i.assigned_agent,
        "link": i.link, "linearIssue": i.linear_issue,
        "acknowledgedBy": i.acknowledged_by,
        "acknowledgedAt": i.acknowledged_at_ms.map(clock::rfc3339),
        "resolvedAt": i.resolved_at_ms.map(clock::rfc3339),
        "createdAt": clock::rfc3339(i.created_at_ms), "updatedAt": clock::rfc3339(i.updated_at_ms),
    })
}

pub fn list(state: &State, org: &OrgId, req: &Request) -> Result<Response, ApiError> {
    let status = match req.query.get("status") {
        None => IncidentStatus::Open,
        Some(s) => IncidentStatus::parse(s).ok_or_else(|| ApiError::InvalidParameter {
            name: "status",
            reason: "must be open, acknowledged or resolved".into(),
        })?,
    };
    let severity = req.query.get("severity");
    if severity.is_some_and(|s| !["critical", "high", "medium", "low"].contains(&s)) {
        return Err(ApiError::InvalidParameter {
            name: "severity",
            reason: "must be critical, high, medium or low".into(),
        });
    }
    let project = req.query.get("project");
    let limit = req.query.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let keep = |i: &IncidentRecord| {
        i.status == status
            && severity.is_none_or(|s| i.severity == s)
            && project.is_none_or(|p| {
                i.project_id.as_deref() == Some(p) || i.source_project.as_deref() == Some(p)
            })
    };
    let (page, total) = incidents::list(&state.store.read()?, org.as_str(), keep, limit)?;
    let views: Vec<Value> = page.iter().map(view).collect();
    Ok(Response::ok(&json!({ "incidents": views, "total": total })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Acknowledge {
    acknowledged_by: Option<String>,
}

pub async fn acknowledge(
    state: &State,
    org: &OrgId,
    req: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    let input: Acknowledge = body::json(&req.body)?;
    let by = input
        .acknowledged_by
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| req.actor().to_owned());
    body::short_text("acknowledgedBy", &by, 128)?;
    let not_found = || ApiError::IncidentNotFound(id.to_owned());
    let seq = IncidentId::parse(id).ok_or_else(not_found)?.seq();
    let org = org.to_string();
    let id = id.to_owned();
    let acked = state
        .store
        .write(move |tx| {
            let mut incident = incidents::get(tx, &org, seq)?
                .ok_or_else(|| ApiError::IncidentNotFound(id.clone()))?;
            if incident.status != IncidentStatus::Open {
                return Err(ApiError::InvalidState(format!(
                    "Incident {id} is {}; only an open incident can be acknowledged",
                    incident.status.as_str()
                )));
            }
            let now = clock::now_ms();
            incident.status = IncidentStatus::Acknowledged;
            incident.acknowledged_by = Some(by.clone());
            incident.acknowledged_at_ms = Some(now);
            incident.updated_at_ms = now;
            incidents::put(tx, &incident)?;
            let draft = AuditDraft::new(ActorType::User, &by, "incident.acknowledge")
                .meta("incidentId", incident.id);
            audit::append(tx, &org, draft)?;
            Ok::<_, ApiError>(incident)
        })
        .await?;
    Ok(Response::ok(&json!({
        "id": acked.id, "status": "acknowledged", "acknowledgedBy": acked.acknowledged_by,
        "acknowledgedAt": acked.acknowledged_at_ms.map(clock::rfc3339),
    })))
}
