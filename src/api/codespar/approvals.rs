//! Approval tokens (docs/API.md §2.11): a level-2 agent's suggestion waits for a vote; approving runs the
//! level-3 action (an ephemeral agent), denying closes it. Tokens expire (30 minutes by default).

use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use crate::api::{OrgId, Request, Response, Scope, State, body};
use crate::clock;
use crate::engine::react::{self, Kind};
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::records::{AgentStatus, ApprovalRecord, ApprovalStatus};
use crate::store::{agents, approvals, events};

fn status_text(a: &ApprovalRecord, now_ms: i64) -> &'static str {
    match a.status {
        ApprovalStatus::Approved => "approved",
        ApprovalStatus::Denied => "denied",
        ApprovalStatus::Pending if now_ms >= a.expires_at_ms => "expired",
        ApprovalStatus::Pending => "pending",
    }
}

fn view(a: &ApprovalRecord) -> Value {
    json!({
        "token": a.token,
        "status": status_text(a, clock::now_ms()),
        "eventId": a.event_id,
        "agentId": a.agent_id,
        "description": a.description,
        "createdAt": clock::rfc3339(a.created_at_ms),
        "expiresAt": clock::rfc3339(a.expires_at_ms),
        "votedBy": a.voted_by,
        "votedAt": a.voted_at_ms.map(clock::rfc3339),
        "spawnedAgentId": a.spawned_agent_id,
    })
}

fn org_of(state: &State, scope: &Scope, token: &str) -> Result<String, ApiError> {
    scope
        .org_for_id(|| approvals::org_of(&state.store.read()?, token))?
        .filter(|o| scope.sees(o))
        .ok_or_else(|| ApiError::ApprovalNotFound(token.to_owned()))
}

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

/// `GET /api/approvals?status=&limit=`: the org's approvals, newest first.
pub fn list(state: &State, org: &OrgId, req: &Request) -> Result<Response, ApiError> {
    const STATUSES: [&str; 4] = ["pending", "approved", "denied", "expired"];
    let status = req.query.get("status").filter(|s| !s.is_empty());
    if let Some(s) = status
        && !STATUSES.contains(&s)
    {
        return Err(ApiError::InvalidParameter {
            name: "status",
            reason: format!("must be one of {}", STATUSES.join(", ")),
        });
    }
    let limit = req.query.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let now = clock::now_ms();
    let keep = |a: &ApprovalRecord| status.is_none_or(|s| status_text(a, now) == s);
    let (page, total) = approvals::list(&state.store.read()?, org.as_str(), keep, limit)?;
    let views: Vec<Value> = page.iter().map(view).collect();
    Ok(Response::ok(&json!({ "approvals": views, "total": total })))
}

pub fn get(state: &State, scope: &Scope, token: &str) -> Result<Response, ApiError> {
    let org = org_of(state, scope, token)?;
    let approval = approvals::get(&state.store.read()?, &org, token)?
        .ok_or_else(|| ApiError::ApprovalNotFound(token.to_owned()))?;
    Ok(Response::ok(&view(&approval)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Vote {
    vote: Option<String>,
    user_id: Option<String>,
}

pub async fn vote(
    state: &State,
    scope: &Scope,
    req: &Request,
    token: &str,
) -> Result<Response, ApiError> {
    let input: Vote = body::json(&req.body)?;
    let vote = body::required(input.vote, "vote")?;
    let approve = match vote.as_str() {
        "approve" => true,
        "deny" => false,
        _ => {
            return Err(ApiError::InvalidField {
                field: "vote".into(),
                reason: "must be approve or deny".into(),
            });
        }
    };
    let user =
        input.user_id.filter(|u| !u.trim().is_empty()).unwrap_or_else(|| req.actor().to_owned());
    body::short_text("userId", &user, 128)?;
    let org = org_of(state, scope, token)?;
    let token = token.to_owned();
    let policy = state.policy;
    let decided = state
        .store
        .write(move |tx| {
            let mut approval = approvals::get(tx, &org, &token)?
                .ok_or_else(|| ApiError::ApprovalNotFound(token.clone()))?;
            let now = clock::now_ms();
            match status_text(&approval, now) {
                "pending" => {}
                "expired" => return Err(ApiError::ApprovalExpired(token.clone())),
                done => {
                    return Err(ApiError::InvalidState(format!(
                        "Approval request '{token}' is already {done}"
                    )));
                }
            }
            let parent = agents::get(tx, &org, &approval.agent_id)?
                .filter(|a| a.status != AgentStatus::Terminated)
                .ok_or_else(|| {
                    ApiError::InvalidState(format!(
                        "Agent '{}' that made the suggestion no longer exists",
                        approval.agent_id
                    ))
                })?;
            let mut event = events::by_seq(tx, approval.event_seq)?.ok_or_else(|| {
                ApiError::InvalidState(format!("Event '{}' no longer exists", approval.event_id))
            })?;
            approval.status =
                if approve { ApprovalStatus::Approved } else { ApprovalStatus::Denied };
            approval.voted_by = Some(user.clone());
            approval.voted_at_ms = Some(now);
            let draft = AuditDraft::new(ActorType::User, &user, "approval.voted")
                .meta("token", token.as_str())
                .meta("vote", if approve { "approve" } else { "deny" })
                .meta("status", if approve { "approved" } else { "denied" })
                .meta("eventId", approval.event_id.as_str());
            audit::append(tx, &org, draft)?;
            if approve {
                let kind = Kind::of(&event.event_type);
                approval.spawned_agent_id =
                    Some(react::spawn_ephemeral(tx, &mut event, &parent, kind, policy)?);
                events::put(tx, &event)?;
            }
            approvals::put(tx, &approval)?;
            Ok::<_, ApiError>(approval)
        })
        .await?;
    let mut body = view(&decided);
    body["vote"] = Value::from(vote);
    body["userId"] = Value::from(decided.voted_by.clone());
    Ok(Response::ok(&body))
}
