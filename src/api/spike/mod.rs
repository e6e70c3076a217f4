//! The Spike dialect (docs/API.md §5): integrations that own an ingest URL, and the ingest URL
//! itself (§3.3). The management routes take `x-api-key` plus `x-team-id` (the key's org); the
//! ingest URL's token is its own credential. Errors are `{"message","error"}` ([`SpikeError`]).
//!
//! | method | path | endpoint |
//! |---|---|---|
//! | GET | `/integrations/available` | [`Endpoint::Available`] |
//! | POST | `/integrations/create` | [`Endpoint::Create`] |
//! | GET | `/integrations` | [`Endpoint::List`] |
//! | GET | `/integrations/:token` | [`Endpoint::Get`] |
//! | DELETE | `/integrations/:token/archive` | [`Endpoint::Archive`] |
//! | POST | `/ingest/:token`, `/:token/push-events` | [`Endpoint::Ingest`] |

mod error;

use serde_json::{Map, Value, json};

pub use error::SpikeError;

use super::error::RequestError;
use super::path::{Method, Routed, endpoints};
use super::{Auth, Bucket, Request, Response, State};
use crate::clock;
use crate::engine::github::PayloadError;
use crate::engine::incidents::{self, EventTypes, Outcome};
use crate::engine::spike as parse;
use crate::ids;
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::credentials::{self, ApiKey};
use crate::store::records::{CredentialRecord, SpikeIntegrationRecord};
use crate::store::spike;

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

endpoints! {
    pub enum Endpoint {
        Available => "spike_available",
        Create => "spike_create",
        List => "spike_list",
        Get(String) => "spike_get",
        Archive(String) => "spike_archive",
        Ingest(String) => "spike_ingest",
    }
}

impl Endpoint {
    pub fn auth(&self) -> Auth {
        match self {
            Self::Ingest(_) => Auth::IngestToken,
            _ => Auth::ApiKey,
        }
    }

    /// Ingest URLs draw from the webhook bucket, the management routes from the API's.
    pub fn bucket(&self) -> Option<Bucket> {
        match self {
            Self::Ingest(_) => Some(Bucket::Webhooks),
            _ => Some(Bucket::Api),
        }
    }
}

pub fn route(method: Method, segs: &[&str]) -> Routed<Endpoint> {
    use Method::{Delete, Get, Head, Post};
    let (endpoint, allowed): (Option<Endpoint>, &'static [Method]) = match segs {
        ["integrations", "available"] => {
            ((method == Get).then_some(Endpoint::Available), &[Get, Head])
        }
        ["integrations", "create"] => ((method == Post).then_some(Endpoint::Create), &[Post]),
        ["integrations"] => ((method == Get).then_some(Endpoint::List), &[Get, Head]),
        ["integrations", token] => {
            ((method == Get).then(|| Endpoint::Get((*token).to_owned())), &[Get, Head])
        }
        ["integrations", token, "archive"] => {
            ((method == Delete).then(|| Endpoint::Archive((*token).to_owned())), &[Delete])
        }
        ["ingest", token] | [token, "push-events"] => {
            ((method == Post).then(|| Endpoint::Ingest((*token).to_owned())), &[Post])
        }
        _ => return Routed::NoRoute,
    };
    Routed::arm(endpoint, allowed)
}

pub async fn handle(state: &State, endpoint: Endpoint, req: Request) -> Response {
    let answer = match &endpoint {
        Endpoint::Available => available(state, &req),
        Endpoint::Create => create(state, &req).await,
        Endpoint::List => list(state, &req),
        Endpoint::Get(token) => get(state, &req, token),
        Endpoint::Archive(token) => archive(state, &req, token).await,
        Endpoint::Ingest(token) => ingest(state, &req, token).await,
    };
    answer.unwrap_or_else(|e| e.into_response(&req.request_id))
}

use SpikeError::NotFound;

fn bad_request(message: impl Into<String>) -> SpikeError {
    SpikeError::bad_request(message)
}

/// The key of a Spike request, checked against `x-team-id`.
fn authenticate(state: &State, req: &Request) -> Result<CredentialRecord, SpikeError> {
    let key = req.header("x-api-key").map(str::trim).filter(|k| !k.is_empty());
    let key = key.ok_or(SpikeError::Unauthorized("Missing x-api-key header"))?;
    let record = credentials::authenticate::<ApiKey>(&state.store.read()?, key)?
        .ok_or(SpikeError::Unauthorized("Invalid API key"))?;
    match req.header("x-team-id").map(str::trim).filter(|t| !t.is_empty()) {
        None => Err(SpikeError::Unauthorized("Missing x-team-id header")),
        Some(team) if team != record.org_id => {
            Err(SpikeError::Unauthorized("This API key does not belong to that team"))
        }
        Some(_) => Ok(record),
    }
}

fn name_of(slug: &str) -> &'static str {
    AVAILABLE.iter().find(|(s, ..)| *s == slug).map_or("Webhook", |(_, name, ..)| name)
}

fn view(base: &str, i: &SpikeIntegrationRecord) -> Value {
    let url = format!("{base}/ingest/{}", i.token);
    json!({
        "_id": i.id, "token": i.token, "customName": i.custom_name, "desc": i.desc,
        "slug": i.slug, "name": name_of(&i.slug), "service": i.service,
        "escalation": i.escalation, "repeatEscalation": i.repeat_escalation,
        "ackTimeout": i.ack_timeout, "webhook": url, "ingestUrl": url,
        "isArchived": i.is_archived, "team": i.org_id,
        "createdAt": clock::rfc3339(i.created_at_ms), "updatedAt": clock::rfc3339(i.updated_at_ms),
    })
}

pub fn available(state: &State, req: &Request) -> Result<Response, SpikeError> {
    authenticate(state, req)?;
    let list: Vec<_> = AVAILABLE
        .iter()
        .map(|(slug, name, category, description)| {
            json!({ "slug": slug, "name": name, "category": category, "description": description })
        })
        .collect();
    Ok(Response::ok(&json!({ "integrations": list })))
}

/// The request body as a JSON object, with Spike's errors.
fn object(req: &Request) -> Result<Map<String, Value>, SpikeError> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(bad_request("Body must be a JSON object")),
        Err(e) => Err(bad_request(format!("Malformed JSON: {e}"))),
    }
}

fn optional_text(body: &Map<String, Value>, field: &str) -> Result<Option<String>, SpikeError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= 1000 => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(bad_request(format!("{field} must be a string of at most 1000 characters"))),
    }
}

pub async fn create(state: &State, req: &Request) -> Result<Response, SpikeError> {
    let key = authenticate(state, req)?;
    let body = object(req)?;
    let slug = optional_text(&body, "slug")?.filter(|s| !s.is_empty());
    let slug =
        slug.ok_or_else(|| bad_request("slug is required (see GET /integrations/available)"))?;
    if !AVAILABLE.iter().any(|(s, ..)| *s == slug) {
        return Err(bad_request(format!(
            "Unknown slug '{slug}' (see GET /integrations/available)"
        )));
    }
    let repeat_escalation = match body.get("repeatEscalation") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad_request("repeatEscalation must be a boolean")),
    };
    let ack_timeout = match body.get("ackTimeout") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64().filter(|m| *m > 0) {
            Some(minutes) => Some(minutes),
            None => return Err(bad_request("ackTimeout must be a positive number of minutes")),
        },
    };
    let custom_name = optional_text(&body, "customName")?
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| name_of(&slug).to_owned());
    let desc = optional_text(&body, "desc")?.unwrap_or_default();
    let (service, escalation) =
        (optional_text(&body, "service")?, optional_text(&body, "escalation")?);
    let secret = |bytes| {
        ids::secret_hex(bytes)
            .map_err(|e| SpikeError::Request(RequestError::Internal(format!("no randomness: {e}"))))
    };
    // 128 random bits: a collision is checked (a token is never reused) but not retried.
    let (id, token) = (secret(12)?, secret(16)?);
    let now = clock::now_ms();
    let record = SpikeIntegrationRecord {
        id,
        token,
        custom_name,
        desc,
        slug,
        service,
        escalation,
        repeat_escalation,
        ack_timeout,
        is_archived: false,
        org_id: key.org_id.clone(),
        created_at_ms: now,
        updated_at_ms: now,
    };
    let stored = record.clone();
    state
        .store
        .write(move |tx| {
            if spike::org_of(tx, &stored.token)?.is_some() {
                return Err(SpikeError::Request(RequestError::Internal("token collision".into())));
            }
            spike::put(tx, &stored)?;
            let draft = AuditDraft::new(ActorType::User, &key.name, "spike.integration.create")
                .meta("integrationId", stored.id.as_str())
                .meta("slug", stored.slug.as_str())
                .meta("name", stored.custom_name.as_str());
            audit::append(tx, &stored.org_id, draft)?;
            Ok(())
        })
        .await?;
    Ok(Response::ok(&json!({ "integration": view(&state.public_base(req), &record) })))
}

/// The team's integration with this token (archived ones included).
fn find(state: &State, org: &str, token: &str) -> Result<SpikeIntegrationRecord, SpikeError> {
    spike::get(&state.store.read()?, org, token)?.ok_or(NotFound)
}

pub fn get(state: &State, req: &Request, token: &str) -> Result<Response, SpikeError> {
    let key = authenticate(state, req)?;
    let found = find(state, &key.org_id, token)?;
    Ok(Response::ok(&json!({ "integration": view(&state.public_base(req), &found) })))
}

pub fn list(state: &State, req: &Request) -> Result<Response, SpikeError> {
    let key = authenticate(state, req)?;
    let all = spike::list(&state.store.read()?, &key.org_id)?;
    let base = state.public_base(req);
    let views: Vec<Value> = all.iter().filter(|i| !i.is_archived).map(|i| view(&base, i)).collect();
    Ok(Response::ok(&json!({ "integrations": views })))
}

pub async fn archive(state: &State, req: &Request, token: &str) -> Result<Response, SpikeError> {
    let key = authenticate(state, req)?;
    let (org, token) = (key.org_id.clone(), token.to_owned());
    let archived = state
        .store
        .write(move |tx| {
            let mut found =
                spike::get(tx, &org, &token)?.filter(|i| !i.is_archived).ok_or(NotFound)?;
            found.is_archived = true;
            found.updated_at_ms = clock::now_ms();
            spike::put(tx, &found)?;
            let draft = AuditDraft::new(ActorType::User, &key.name, "spike.integration.archive")
                .meta("integrationId", found.id.as_str());
            audit::append(tx, &org, draft)?;
            Ok::<_, SpikeError>(found)
        })
        .await?;
    Ok(Response::ok(
        &json!({ "message": "Integration archived", "integration": view(&state.public_base(req), &archived) }),
    ))
}

/// Alerts recorded per write job: a body of many alerts is stored in several commits, so it
/// never holds the writer (every other write waits behind it) for more than a few
/// milliseconds. Each alert is O(1) work (its incident keeps its newest events only).
const ALERTS_PER_WRITE: usize = 100;

/// Bodies up to this size are parsed on the request's own worker (tens of microseconds).
const INLINE_PARSE_BYTES: usize = 16 * 1024;

/// `POST /ingest/{token}` and `POST /{token}/push-events`: alerts in the integration's org.
/// Acknowledged once every alert is stored; a crash part-way leaves the alerts stored so far,
/// and the sender's retry groups into the same incidents.
pub async fn ingest(state: &State, req: &Request, token: &str) -> Result<Response, SpikeError> {
    let org = spike::org_of(&state.store.read()?, token)?.ok_or(NotFound)?;
    let integration = find(state, &org, token)?;
    if integration.is_archived {
        return Err(SpikeError::Gone);
    }
    // A body of up to 5 MiB: a large one is parsed on the blocking pool, not on a worker
    // serving requests; a small one (nearly every alert) here, which costs less than the
    // hand-off to another thread.
    let parsed = if req.body.len() <= INLINE_PARSE_BYTES {
        parse::parse(&integration.slug, &integration.id, &req.body)
    } else {
        let (slug, id, body) = (integration.slug.clone(), integration.id.clone(), req.body.clone());
        tokio::task::spawn_blocking(move || parse::parse(&slug, &id, &body)).await.map_err(|e| {
            RequestError::Internal(format!("parsing the alerts did not finish: {e}"))
        })?
    };
    let alerts = parsed.map_err(|e| match e {
        PayloadError::TooMany { max, found } => SpikeError::TooManyAlerts { max, found },
        PayloadError::Syntax(m) => bad_request(format!("Malformed JSON: {m}")),
        PayloadError::Missing(field) => bad_request(format!("{field} is required")),
        PayloadError::Invalid { field, reason } => bad_request(format!("{field} {reason}")),
    })?;
    let types = EventTypes {
        opened: format!("alert.{}", integration.slug),
        repeated: format!("alert.{}", integration.slug),
        resolved: "incident.resolved".into(),
    };
    let policy = state.policy;
    let mut outcomes = Vec::with_capacity(alerts.len());
    for chunk in alerts.chunks(ALERTS_PER_WRITE) {
        let (chunk, org, types) = (chunk.to_vec(), org.clone(), types.clone());
        let stored = state
            .store
            .write(move |tx| {
                let mut outcomes = Vec::with_capacity(chunk.len());
                for a in &chunk {
                    outcomes.push(if a.resolve {
                        incidents::resolve(tx, &org, &a.alert, &types, policy)?
                    } else {
                        incidents::open_or_grow(tx, &org, &a.alert, &types, policy)?
                    });
                }
                Ok::<_, SpikeError>(outcomes)
            })
            .await?;
        outcomes.extend(stored);
    }
    let mut events = Vec::new();
    for outcome in &outcomes {
        match outcome {
            Outcome::Routed { incident_id, event_id, .. }
            | Outcome::Resolved { incident_id, event_id } => {
                events.push(json!({ "eventId": event_id, "incidentId": incident_id }));
            }
            Outcome::NoOpenIncident | Outcome::Recorded { .. } => {}
        }
    }
    if !events.is_empty() {
        state.signals.recorded(true);
    }
    let first = events.first().cloned().unwrap_or(json!({ "eventId": null, "incidentId": null }));
    let mut answer =
        json!({ "Ok": true, "eventId": first["eventId"], "incidentId": first["incidentId"] });
    if events.len() > 1 {
        answer["alerts"] = Value::from(events);
    }
    Ok(Response::ok(&answer))
}
