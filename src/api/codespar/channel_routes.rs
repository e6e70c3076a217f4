//! Channel routes (docs/API.md §2.9): which events go to which chat channel. Always org-scoped: the
//! dispatcher refuses these endpoints without `x-org-id` (400 `MISSING_ORG_ID`).

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ApiError;
use crate::api::{OrgId, Request, Response, State, body};
use crate::clock;
use crate::engine::message::Channel;
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::records::RouteRecord;
use crate::store::{projects, routes};

const VALID_CHANNELS: &str = "slack, whatsapp, telegram, discord";
/// Routes an org may have (docs/API.md §2.9).
pub const MAX_ROUTES_PER_ORG: usize = 100;
const MAX_PATTERN: usize = 200;
const MAX_CHANNEL_ID: usize = 256;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RouteView<'a> {
    id: &'a str,
    event_type: &'a str,
    channel: &'a str,
    channel_id: &'a str,
    project_id: Option<&'a str>,
    enabled: bool,
    created_at: String,
}

impl<'a> From<&'a RouteRecord> for RouteView<'a> {
    fn from(r: &'a RouteRecord) -> Self {
        Self {
            id: &r.id,
            event_type: &r.event_type,
            channel: &r.channel,
            channel_id: &r.channel_id,
            project_id: r.project_id.as_deref(),
            enabled: r.enabled,
            created_at: clock::rfc3339(r.created_at_ms),
        }
    }
}

pub fn list(state: &State, org: &OrgId) -> Result<Response, ApiError> {
    let routes = routes::list(&state.store.read()?, org.as_str())?;
    let views: Vec<RouteView> = routes.iter().map(RouteView::from).collect();
    Ok(Response::ok(&json!({ "routes": views })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateRoute {
    event_type: Option<String>,
    channel: Option<String>,
    channel_id: Option<String>,
    project_id: Option<String>,
    enabled: Option<bool>,
}

pub async fn create(state: &State, org: &OrgId, req: &Request) -> Result<Response, ApiError> {
    let input: CreateRoute = body::json(&req.body)?;
    let event_type = body::required(input.event_type, "eventType")?.trim().to_owned();
    let channel = body::required(input.channel, "channel")?;
    let channel_id = body::required(input.channel_id, "channelId")?.trim().to_owned();
    if Channel::parse(&channel).is_none() {
        return Err(ApiError::InvalidChannel(VALID_CHANNELS));
    }
    for (field, value, max) in
        [("eventType", &event_type, MAX_PATTERN), ("channelId", &channel_id, MAX_CHANNEL_ID)]
    {
        body::short_text(field, value, max)?;
    }
    let project_id = input.project_id.filter(|p| !p.trim().is_empty());
    let org = org.to_string();
    let actor = req.actor().to_owned();
    let enabled = input.enabled.unwrap_or(true);
    let route = state
        .store
        .write(move |tx| {
            if let Some(p) = &project_id
                && projects::get(tx, &org, p)?.is_none()
            {
                return Err(ApiError::ProjectNotFound(p.clone()));
            }
            let same = routes::list(tx, &org)?.into_iter().find(|r| {
                r.event_type == event_type
                    && r.channel == channel
                    && r.channel_id == channel_id
                    && r.project_id == project_id
            });
            if let Some(existing) = same {
                return Err(ApiError::RouteAlreadyExists(existing.id));
            }
            // Every event of the org is matched against every route: their number is bounded.
            if routes::list(tx, &org)?.len() >= MAX_ROUTES_PER_ORG {
                return Err(ApiError::TooManyRoutes(MAX_ROUTES_PER_ORG));
            }
            let route = RouteRecord {
                id: routes::issue_id(tx)?,
                org_id: org.clone(),
                event_type: event_type.clone(),
                channel: channel.clone(),
                channel_id: channel_id.clone(),
                project_id: project_id.clone(),
                enabled,
                created_at_ms: clock::now_ms(),
            };
            routes::put(tx, &route)?;
            let draft = AuditDraft::new(ActorType::User, &actor, "channel-route.add")
                .meta("routeId", route.id.as_str())
                .meta("eventType", route.event_type.as_str())
                .meta("channel", route.channel.as_str())
                .meta("channelId", route.channel_id.as_str())
                .meta("projectId", route.project_id.clone().map_or(json!(null), Into::into))
                .meta("enabled", route.enabled);
            audit::append(tx, &org, draft)?;
            Ok(route)
        })
        .await?;
    Ok(Response::json(201, &RouteView::from(&route)))
}

pub async fn delete(
    state: &State,
    org: &OrgId,
    req: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    let org = org.to_string();
    let actor = req.actor().to_owned();
    let id = id.to_owned();
    let removed = state
        .store
        .write(move |tx| {
            let route =
                routes::get(tx, &org, &id)?.ok_or_else(|| ApiError::RouteNotFound(id.clone()))?;
            routes::remove(tx, &org, &id)?;
            let draft = AuditDraft::new(ActorType::User, &actor, "channel-route.remove")
                .meta("routeId", route.id.as_str())
                .meta("eventType", route.event_type.as_str())
                .meta("channel", route.channel.as_str())
                .meta("channelId", route.channel_id.as_str());
            audit::append(tx, &org, draft)?;
            Ok::<_, ApiError>(route.id)
        })
        .await?;
    Ok(Response::ok(&json!({ "id": removed, "deleted": true })))
}
