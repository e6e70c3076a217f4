//! The outbox, as users see it (docs/API.md §2.10): `GET /api/deliveries`, one delivery with its
//! attempt log, and re-queueing a dead one.

use serde_json::{Value, json};

use super::ApiError;
use crate::api::{OrgId, Request, Response, Scope, State};
use crate::clock;
use crate::ids::DeliveryId;
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::outbox;
use crate::store::records::{DeliveryRecord, DeliveryStatus};

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

pub fn view(d: &DeliveryRecord) -> Value {
    json!({
        "id": d.id,
        "eventId": d.event_id,
        "eventType": d.event_type,
        "routeId": d.route_id,
        "channel": d.channel,
        "channelId": d.channel_id,
        "status": d.status,
        "attempts": d.attempts,
        "lastError": d.last_error,
        "nextAttemptAt": d.next_attempt_ms.map(clock::rfc3339),
        "createdAt": clock::rfc3339(d.created_at_ms),
        "deliveredAt": d.delivered_at_ms.map(clock::rfc3339),
    })
}

/// A delivery with its attempt log: when each attempt started, how long it took, and how it
/// ended (an error class and an HTTP status, never what the service said).
fn detail(d: &DeliveryRecord) -> Value {
    let mut out = view(d);
    out["attemptLog"] = d
        .attempt_log
        .iter()
        .map(|a| {
            json!({
                "at": clock::rfc3339(a.at_ms),
                "durationMs": a.duration_ms,
                "outcome": a.outcome,
                "error": a.error,
                "httpStatus": a.http_status,
            })
        })
        .collect();
    out
}

/// The delivery of the scope with this id.
fn find(state: &State, scope: &Scope, id: &str) -> Result<(String, u64), ApiError> {
    let not_found = || ApiError::DeliveryNotFound(id.to_owned());
    let seq = DeliveryId::parse(id).ok_or_else(not_found)?.seq();
    let org = scope
        .org_for_id(|| outbox::org_of(&state.store.read()?, seq))?
        .filter(|o| scope.sees(o))
        .ok_or_else(not_found)?;
    Ok((org, seq))
}

pub fn get(state: &State, scope: &Scope, id: &str) -> Result<Response, ApiError> {
    let (org, seq) = find(state, scope, id)?;
    let delivery = outbox::get(&state.store.read()?, &org, seq)?
        .ok_or_else(|| ApiError::DeliveryNotFound(id.to_owned()))?;
    Ok(Response::ok(&detail(&delivery)))
}

pub fn list(state: &State, org: &OrgId, req: &Request) -> Result<Response, ApiError> {
    let status = req
        .query
        .get("status")
        .map(|s| {
            DeliveryStatus::parse(s).ok_or_else(|| ApiError::InvalidParameter {
                name: "status",
                reason: "must be pending, delivered or dead".into(),
            })
        })
        .transpose()?;
    let limit = req.query.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let channel = req.query.get("channel").filter(|c| !c.is_empty());
    let filter = outbox::Filter { status, channel };
    let (page, total) = outbox::list(&state.store.read()?, org.as_str(), filter, limit)?;
    let views: Vec<Value> = page.iter().map(view).collect();
    Ok(Response::ok(&json!({ "deliveries": views, "total": total })))
}

pub async fn retry(
    state: &State,
    scope: &Scope,
    req: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    let (org, seq) = find(state, scope, id)?;
    let (actor, id) = (req.actor().to_owned(), id.to_owned());
    let requeued = state
        .store
        .write(move |tx| {
            let before = outbox::get(tx, &org, seq)?
                .ok_or_else(|| ApiError::DeliveryNotFound(id.clone()))?;
            if before.status != DeliveryStatus::Dead {
                return Err(ApiError::InvalidState(format!(
                    "Delivery {id} is {}; only a dead delivery can be retried",
                    before.status.as_str()
                )));
            }
            let mut after = before.clone();
            after.status = DeliveryStatus::Pending;
            after.attempts = 0;
            after.next_attempt_ms = Some(clock::now_ms());
            outbox::put(tx, Some(&before), &after)?;
            let draft = AuditDraft::new(ActorType::User, &actor, "delivery.retry")
                .meta("deliveryId", after.id)
                .meta("eventId", after.event_id.as_str());
            audit::append(tx, &org, draft)?;
            Ok(after)
        })
        .await?;
    state.signals.recorded(true);
    Ok(Response::ok(&view(&requeued)))
}
