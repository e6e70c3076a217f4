//! Channel routes (docs/API.md §2.9): which events go to which chat channel. Always org-scoped: the
//! dispatcher refuses these endpoints without `x-org-id` (400 `MISSING_ORG_ID`).
//!
//! CodeSpar's form is taken too: a route keyed by its destination, with alert types
//! (`{channelType, channelId, alertTypes}`), stored as one Spar route per pattern of
//! `engine::alert_types`, and deleted by destination.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ApiError;
use crate::api::{OrgId, Request, Response, State, body};
use crate::clock;
use crate::engine::alert_types;
use crate::engine::message::Channel;
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::records::RouteRecord;
use crate::store::{WriteTx, projects, routes};

const VALID_CHANNELS: &str = "slack, whatsapp, telegram, discord";
/// Routes an org may have (docs/API.md §2.9).
pub const MAX_ROUTES_PER_ORG: usize = 100;
const MAX_PATTERN: usize = 200;
const MAX_CHANNEL_ID: usize = 256;
const MAX_CHANNEL_NAME: usize = 100;

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
    /// CodeSpar's names for the same route: `channel`, and the alert type its pattern stands
    /// for (none when the pattern is not one of them).
    channel_type: &'a str,
    alert_types: Vec<&'static str>,
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
            channel_type: &r.channel,
            alert_types: alert_types::alert_type_of(&r.event_type).into_iter().collect(),
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
    // CodeSpar's form.
    channel_type: Option<String>,
    alert_types: Option<Vec<String>>,
    channel_name: Option<String>,
    project_filter: Option<String>,
}

impl CreateRoute {
    /// Whether the body is in CodeSpar's form; fields of both forms are 400.
    fn is_codespar_form(&self) -> Result<bool, ApiError> {
        let theirs = self.channel_type.is_some()
            || self.alert_types.is_some()
            || self.channel_name.is_some()
            || self.project_filter.is_some();
        let ours = self.event_type.is_some()
            || self.channel.is_some()
            || self.project_id.is_some()
            || self.enabled.is_some();
        if theirs && ours {
            return Err(ApiError::InvalidField {
                field: "channelType".into(),
                reason: "send either eventType and channel, or CodeSpar's channelType and alertTypes, not both".into(),
            });
        }
        Ok(theirs)
    }
}

pub async fn create(state: &State, org: &OrgId, req: &Request) -> Result<Response, ApiError> {
    let input: CreateRoute = body::json(&req.body)?;
    if input.is_codespar_form()? {
        return create_by_destination(state, org, req, input).await;
    }
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
            add(tx, &actor, &route)?;
            Ok(route)
        })
        .await?;
    Ok(Response::json(201, &RouteView::from(&route)))
}

/// Stores a new route with its audit entry.
fn add(tx: &WriteTx<'_>, actor: &str, route: &RouteRecord) -> Result<(), ApiError> {
    routes::put(tx, route)?;
    let draft = AuditDraft::new(ActorType::User, actor, "channel-route.add")
        .meta("routeId", route.id.as_str())
        .meta("eventType", route.event_type.as_str())
        .meta("channel", route.channel.as_str())
        .meta("channelId", route.channel_id.as_str())
        .meta("projectId", route.project_id.clone().map_or(json!(null), Into::into))
        .meta("enabled", route.enabled);
    audit::append(tx, &route.org_id, draft)?;
    Ok(())
}

/// Removes a route with its audit entry.
fn remove(tx: &WriteTx<'_>, actor: &str, route: &RouteRecord) -> Result<(), ApiError> {
    routes::remove(tx, &route.org_id, &route.id)?;
    let draft = AuditDraft::new(ActorType::User, actor, "channel-route.remove")
        .meta("routeId", route.id.as_str())
        .meta("eventType", route.event_type.as_str())
        .meta("channel", route.channel.as_str())
        .meta("channelId", route.channel_id.as_str());
    audit::append(tx, &route.org_id, draft)?;
    Ok(())
}

/// CodeSpar's create (docs/API.md §2.9): the destination's routes are replaced by one route
/// per pattern of its alert types.
async fn create_by_destination(
    state: &State,
    org: &OrgId,
    req: &Request,
    input: CreateRoute,
) -> Result<Response, ApiError> {
    let channel = body::required(input.channel_type, "channelType")?;
    let channel_id = body::required(input.channel_id, "channelId")?.trim().to_owned();
    if Channel::parse(&channel).is_none() {
        return Err(ApiError::InvalidChannel(VALID_CHANNELS));
    }
    body::short_text("channelId", &channel_id, MAX_CHANNEL_ID)?;
    if let Some(name) = &input.channel_name {
        body::short_text("channelName", name, MAX_CHANNEL_NAME)?;
    }
    let types = input.alert_types.ok_or_else(|| ApiError::MissingField("alertTypes".into()))?;
    let invalid = |reason: String| ApiError::InvalidField { field: "alertTypes".into(), reason };
    if types.is_empty() || types.len() > alert_types::ALERT_TYPES.len() * 2 {
        return Err(invalid(format!(
            "must list 1 to 8 of: {}",
            alert_types::ALERT_TYPES.join(", ")
        )));
    }
    let patterns = alert_types::patterns(&types).map_err(|t| {
        invalid(format!(
            "Invalid alert type {t:?}. Must be one of: {}",
            alert_types::ALERT_TYPES.join(", ")
        ))
    })?;
    let filter = input.project_filter.filter(|p| !p.trim().is_empty());
    let mut route = json!({
        "channelType": channel, "channelId": channel_id,
        "alertTypes": types.iter().map(|t| t.trim()).collect::<Vec<_>>(),
    });
    let org = org.to_string();
    let actor = req.actor().to_owned();
    let (routes, project) = state
        .store
        .write(move |tx| {
            let project = match &filter {
                Some(name) => Some(
                    projects::list(tx, Some(&org))?
                        .into_iter()
                        .find(|p| p.is_named(name))
                        .ok_or_else(|| ApiError::ProjectNotFound(name.clone()))?,
                ),
                None => None,
            };
            let all = routes::list(tx, &org)?;
            let (replaced, kept): (Vec<_>, Vec<_>) =
                all.into_iter().partition(|r| r.channel == channel && r.channel_id == channel_id);
            if kept.len() + patterns.len() > MAX_ROUTES_PER_ORG {
                return Err(ApiError::TooManyRoutes(MAX_ROUTES_PER_ORG));
            }
            for old in &replaced {
                remove(tx, &actor, old)?;
            }
            let mut created = Vec::new();
            for pattern in &patterns {
                let route = RouteRecord {
                    id: routes::issue_id(tx)?,
                    org_id: org.clone(),
                    event_type: (*pattern).to_owned(),
                    channel: channel.clone(),
                    channel_id: channel_id.clone(),
                    project_id: project.as_ref().map(|p| p.id.clone()),
                    enabled: true,
                    created_at_ms: clock::now_ms(),
                };
                add(tx, &actor, &route)?;
                created.push(route);
            }
            Ok::<_, ApiError>((created, project))
        })
        .await?;
    let views: Vec<RouteView> = routes.iter().map(RouteView::from).collect();
    if let Some(name) = &input.channel_name {
        route["channelName"] = json!(name);
    }
    if let Some(p) = &project {
        route["projectFilter"] = json!(p.name);
    }
    Ok(Response::json(201, &json!({ "success": true, "route": route, "routes": views })))
}

/// CodeSpar's delete: every route of the org to one destination.
pub async fn delete_by_destination(
    state: &State,
    org: &OrgId,
    req: &Request,
    channel: &str,
    channel_id: &str,
) -> Result<Response, ApiError> {
    let org = org.to_string();
    let actor = req.actor().to_owned();
    let (channel, channel_id) = (channel.to_owned(), channel_id.to_owned());
    let (ids, channel, channel_id) = state
        .store
        .write(move |tx| {
            let doomed: Vec<RouteRecord> = routes::list(tx, &org)?
                .into_iter()
                .filter(|r| r.channel == channel && r.channel_id == channel_id)
                .collect();
            if doomed.is_empty() {
                return Err(ApiError::RouteNotFound(format!("{channel}/{channel_id}")));
            }
            for route in &doomed {
                remove(tx, &actor, route)?;
            }
            let ids: Vec<String> = doomed.into_iter().map(|r| r.id).collect();
            Ok::<_, ApiError>((ids, channel.clone(), channel_id.clone()))
        })
        .await?;
    Ok(Response::ok(&json!({
        "success": true,
        "removed": { "channelType": channel, "channelId": channel_id },
        "deleted": ids,
    })))
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
            remove(tx, &actor, &route)?;
            Ok::<_, ApiError>(route.id)
        })
        .await?;
    Ok(Response::ok(&json!({ "id": removed, "deleted": true })))
}
