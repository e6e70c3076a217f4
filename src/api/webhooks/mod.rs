//! Inbound webhooks (docs/API.md §3): the sender's signature over the raw body is the
//! credential, errors are in the CodeSpar API's shape ([`WebhookError`]).
//!
//! | method | path | endpoint |
//! |---|---|---|
//! | POST | `/webhooks/github` | [`Endpoint::Github`] |
//! | POST | `/webhooks/sentry` (also `/api/webhooks/sentry`, in the CodeSpar API's paths) | [`Endpoint::Sentry`] |
//! | POST | `/webhooks/vercel` | [`Endpoint::Vercel`] |
//! | POST | `/webhooks/deploy` | [`Endpoint::Deploy`] |
//!
//! Order of work: resolve the org (the secret depends on it), verify the signature over the raw
//! bytes, decode, then record in one transaction with the delivery's receipt (so a redelivery is
//! a duplicate exactly when the first was committed).

mod error;

use std::borrow::Cow;
use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::{Value, json};

pub use error::WebhookError;

use super::path::{Method, Routed, endpoints};
use super::scope::OrgId;
use super::{Auth, Bucket, Request, Response, State, body};
use crate::api::scope::ScopeError;
use crate::clock;
use crate::engine::channels::{deploy_secret, github_secret, sentry_secret, vercel_secret};
use crate::engine::deploy::{self, DeployEvent};
use crate::engine::github::{self, Parsed};
use crate::engine::incidents::{self, Outcome};
use crate::engine::{self, Ingested, sentry, signature};
use crate::settings::Secret;
use crate::store::{StoreError, orgs, projects};

const MAX_DELIVERY_ID: usize = 128;

endpoints! {
    pub enum Endpoint {
        Github => "github_webhook",
        Sentry => "sentry_webhook",
        Vercel => "vercel_webhook",
        Deploy => "deploy_webhook",
    }
}

impl Endpoint {
    pub fn auth(&self) -> Auth {
        Auth::Signature
    }

    pub fn bucket(&self) -> Option<Bucket> {
        Some(Bucket::Webhooks)
    }
}

pub fn route(method: Method, segs: &[&str]) -> Routed<Endpoint> {
    let endpoint = match segs {
        ["webhooks", "github"] => Endpoint::Github,
        ["webhooks", "sentry"] => Endpoint::Sentry,
        ["webhooks", "vercel"] => Endpoint::Vercel,
        ["webhooks", "deploy"] => Endpoint::Deploy,
        _ => return Routed::NoRoute,
    };
    Routed::arm((method == Method::Post).then_some(endpoint), &[Method::Post])
}

pub async fn handle(state: &State, endpoint: Endpoint, req: Request) -> Response {
    let answer = match endpoint {
        Endpoint::Github => github(state, &req).await,
        Endpoint::Sentry => sentry(state, &req).await,
        Endpoint::Vercel => vercel(state, &req).await,
        Endpoint::Deploy => generic_deploy(state, &req).await,
    };
    answer.unwrap_or_else(|e| e.into_response(&req.request_id))
}

async fn github(state: &State, req: &Request) -> Result<Response, WebhookError> {
    let event = header_token(req, "x-github-event", "X-GitHub-Event")?
        .ok_or(WebhookError::MissingHeader("X-GitHub-Event"))?;
    let delivery = header_token(req, "x-github-delivery", "X-GitHub-Delivery")?;
    // Parsed before verification only to find the org; not acted on (nor its errors answered)
    // until verified.
    let parsed = payload_bytes(req)
        .and_then(|payload| github::parse(&event, &payload).map_err(WebhookError::from));
    let org = webhook_org(state, req, parsed.as_ref().ok().and_then(Parsed::repo))?;
    verify_github(state, &org.id, req)?;
    let org = org.known()?;
    let parsed = parsed?;
    match &parsed {
        Parsed::Unhandled { .. } => {
            return Ok(Response::ok(&json!({
                "received": true, "event": event, "processed": false,
                "reason": "Event type not handled",
            })));
        }
        Parsed::Skipped { action, repo, reason } => {
            return Ok(Response::ok(&json!({
                "received": true, "event": event, "action": action, "repo": repo,
                "processed": false, "reason": reason,
            })));
        }
        Parsed::Ping { .. } | Parsed::Ci(_) => {}
    }
    let recorded = parsed.clone();
    let (delivery_id, digest) = (delivery.clone(), signature::digest_hex(&req.body));
    let policy = state.policy;
    let ingested = state
        .store
        .write(move |tx| {
            let receipt = engine::Receipt {
                source: "github",
                delivery: delivery_id.as_deref(),
                digest: &digest,
            };
            engine::ingest(tx, &org, &recorded, receipt, policy)
        })
        .await?;
    if let Ingested::Event { deliveries, .. } = &ingested {
        state.signals.recorded(*deliveries);
    }
    let answer = match (ingested, &parsed) {
        (Ingested::Duplicate, _) => json!({ "received": true, "duplicate": true }),
        (Ingested::Event { event_id, project_id, .. }, Parsed::Ci(ci)) => {
            let mut answer = json!({ "received": true, "event": event });
            if let Some(action) = &ci.action {
                answer["action"] = action.as_str().into();
            }
            answer["repo"] = ci.repo.as_str().into();
            answer["processed"] = true.into();
            answer["eventId"] = event_id.into();
            answer["projectId"] = project_id.map_or(Value::Null, Value::from);
            answer
        }
        _ => json!({ "received": true, "event": event, "processed": true }),
    };
    Ok(Response::ok(&answer))
}

async fn sentry(state: &State, req: &Request) -> Result<Response, WebhookError> {
    let resource = header_token(req, "sentry-hook-resource", "Sentry-Hook-Resource")?
        .ok_or(WebhookError::MissingHeader("Sentry-Hook-Resource"))?;
    let delivery = header_token(req, "request-id", "Request-ID")?;
    let org = webhook_org(state, req, None)?;
    verify_sentry(state, &org.id, req)?;
    let org = org.known()?;
    check_sentry_timestamp(req)?;
    let parsed = sentry::parse(&resource, &req.body)?;
    let policy = state.policy;
    let digest = signature::digest_hex(&req.body);
    let outcome = state
        .store
        .write(move |tx| {
            let receipt = engine::Receipt {
                source: "sentry",
                delivery: delivery.as_deref(),
                digest: &digest,
            };
            if receipt.seen(tx, &org)? {
                return Ok(None);
            }
            let outcome = incidents::record(tx, &org, &parsed, policy)?;
            receipt.remember(tx, &org)?;
            Ok::<_, StoreError>(Some(outcome))
        })
        .await?;
    let Some(outcome) = outcome else {
        return Ok(Response::ok(&json!({ "received": true, "duplicate": true })));
    };
    let answer = match outcome {
        Outcome::Routed { incident_id, agent_id, event_id, new } => {
            state.signals.recorded(true);
            json!({
                "received": true, "routed": true, "agentId": agent_id, "incidentId": incident_id,
                "eventId": event_id, "grouped": !new,
            })
        }
        Outcome::Resolved { incident_id, event_id } => {
            state.signals.recorded(true);
            json!({
                "received": true, "routed": true, "incidentId": incident_id,
                "eventId": event_id, "status": "resolved",
            })
        }
        Outcome::NoOpenIncident => json!({
            "received": true, "routed": false, "processed": false,
            "reason": "No open incident for this issue",
        }),
        Outcome::Recorded { reason } => {
            json!({ "received": true, "routed": false, "processed": false, "reason": reason })
        }
    };
    Ok(Response::ok(&answer))
}

/// `POST /webhooks/vercel` (docs/API.md §3.5).
async fn vercel(state: &State, req: &Request) -> Result<Response, WebhookError> {
    // Parsed before verification only to find the org (by the repository Vercel names); not
    // acted on, nor its errors answered, until verified.
    let parsed = deploy::parse_vercel(&req.body).map_err(WebhookError::from);
    let repo = parsed.as_ref().ok().and_then(|v| v.repo.clone());
    let org = webhook_org(state, req, repo.as_deref())?;
    let secret = vercel_secret(&state.store.read()?, &state.settings, &org.id)?;
    verify_hex(state, &org.id, req, secret, Scheme::VERCEL)?;
    let org = org.known()?;
    let vercel = parsed?;
    let event = match vercel.parsed {
        deploy::Parsed::Deploy(event) => event,
        deploy::Parsed::Intermediate { state } => {
            return Ok(Response::ok(&json!({
                "received": true, "type": vercel.kind, "state": state, "processed": false,
                "reason": "intermediate_state",
            })));
        }
        deploy::Parsed::Unhandled => {
            return Ok(Response::ok(&json!({
                "received": true, "type": vercel.kind, "processed": false,
                "reason": "Event type not handled",
            })));
        }
    };
    let answer = json!({ "received": true, "type": vercel.kind, "state": event.state });
    record_deploy(state, req, org, event, vercel.id, answer).await
}

/// `POST /webhooks/deploy` (docs/API.md §3.6): any pipeline's deploy outcome.
async fn generic_deploy(state: &State, req: &Request) -> Result<Response, WebhookError> {
    let parsed = deploy::parse_generic(&req.body).map_err(WebhookError::from);
    let repo = parsed.as_ref().ok().and_then(|g| g.repo.clone());
    let org = webhook_org(state, req, repo.as_deref())?;
    let secret = deploy_secret(&state.store.read()?, &state.settings, &org.id)?;
    verify_hex(state, &org.id, req, secret, Scheme::DEPLOY)?;
    let org = org.known()?;
    let generic = parsed?;
    let event = match generic.parsed {
        deploy::Parsed::Deploy(event) => event,
        deploy::Parsed::Intermediate { .. } | deploy::Parsed::Unhandled => {
            return Ok(Response::ok(&json!({
                "received": true, "status": generic.status, "processed": false,
                "reason": "intermediate_state",
            })));
        }
    };
    let answer = json!({ "received": true, "status": generic.status });
    record_deploy(state, req, org, event, None, answer).await
}

/// Records a verified deploy in one write with its receipts (the delivery id when the sender
/// has one, and the body's digest), and answers `answer` plus what was recorded.
async fn record_deploy(
    state: &State,
    req: &Request,
    org: String,
    event: Box<DeployEvent>,
    delivery: Option<String>,
    mut answer: Value,
) -> Result<Response, WebhookError> {
    let digest = signature::digest_hex(&req.body);
    let policy = state.policy;
    let ingested = state
        .store
        .write(move |tx| {
            let receipt = engine::Receipt {
                source: event.source,
                delivery: delivery.as_deref(),
                digest: &digest,
            };
            deploy::ingest(tx, &org, &event, receipt, policy)
        })
        .await?;
    match ingested {
        Ingested::Event { event_id, project_id, deliveries } => {
            state.signals.recorded(deliveries);
            answer["processed"] = true.into();
            answer["eventId"] = event_id.into();
            answer["projectId"] = project_id.map_or(Value::Null, Value::from);
            Ok(Response::ok(&answer))
        }
        Ingested::Duplicate | Ingested::Ping | Ingested::Ignored => {
            Ok(Response::ok(&json!({ "received": true, "duplicate": true })))
        }
    }
}

/// How a sender signs: the header and the HMAC over the raw body, as bare hex.
struct Scheme {
    sender: &'static str,
    /// Lower case, as looked up.
    header: &'static str,
    sha1: bool,
}

impl Scheme {
    /// `x-vercel-signature`: hex HMAC-SHA1 (docs/API.md §3.5).
    const VERCEL: Self = Self { sender: "Vercel", header: "x-vercel-signature", sha1: true };
    /// `x-deploy-signature`: hex HMAC-SHA256 (docs/API.md §3.6).
    const DEPLOY: Self = Self { sender: "Deploy", header: "x-deploy-signature", sha1: false };
}

/// A configured secret requires a valid signature; no secret accepts (with a warning) unless
/// strict mode is on, as for GitHub (docs/API.md §3.1).
fn verify_hex(
    state: &State,
    org: &str,
    req: &Request,
    secret: Option<Secret>,
    scheme: Scheme,
) -> Result<(), WebhookError> {
    let Some(secret) = secret else {
        if state.settings.webhook_strict_mode {
            return Err(WebhookError::SecretNotConfigured(scheme.sender));
        }
        warn_unsigned(scheme.sender, org);
        return Ok(());
    };
    let header = req.header(scheme.header).ok_or(WebhookError::MissingSignature(scheme.header))?;
    let key = secret.expose().as_bytes();
    let valid = if scheme.sha1 {
        signature::verify_hex_sha1(key, &req.body, header.trim())
    } else {
        signature::verify_hex(key, &req.body, header.trim())
    };
    if valid { Ok(()) } else { Err(WebhookError::InvalidSignature) }
}

/// `Sentry-Hook-Signature` is the hex HMAC-SHA256 of the raw body with the org's sentry
/// `webhookSecret` (or `SENTRY_WEBHOOK_SECRET` for org `default`; docs/API.md §3.2).
fn verify_sentry(state: &State, org: &str, req: &Request) -> Result<(), WebhookError> {
    let Some(secret) = sentry_secret(&state.store.read()?, &state.settings, org)? else {
        if state.settings.webhook_strict_mode {
            return Err(WebhookError::SecretNotConfigured("Sentry"));
        }
        warn_unsigned("Sentry", org);
        return Ok(());
    };
    let header = req
        .header("sentry-hook-signature")
        .ok_or(WebhookError::MissingSignature("Sentry-Hook-Signature"))?;
    if signature::verify_hex(secret.expose().as_bytes(), &req.body, header.trim()) {
        Ok(())
    } else {
        Err(WebhookError::InvalidSignature)
    }
}

/// A short printable header value (event names, delivery ids), or 400 `INVALID_HEADER`.
fn header_token(
    req: &Request,
    name: &str,
    shown: &'static str,
) -> Result<Option<String>, WebhookError> {
    let Some(value) = req.header(name).map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.len() > MAX_DELIVERY_ID || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(WebhookError::InvalidHeader {
            name: shown,
            reason: format!("must be 1 to {MAX_DELIVERY_ID} printable ASCII characters"),
        });
    }
    Ok(Some(value.to_owned()))
}

/// The payload's JSON bytes: the body, or the `payload` field of a form-encoded one.
fn payload_bytes(req: &Request) -> Result<Cow<'_, [u8]>, WebhookError> {
    let form = req
        .header("content-type")
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    if !form {
        return Ok(Cow::Borrowed(&req.body));
    }
    let text = std::str::from_utf8(&req.body)
        .map_err(|_| body::InputError::InvalidJson("the form-encoded body is not UTF-8".into()))?;
    let encoded = text
        .split('&')
        .find_map(|pair| pair.strip_prefix("payload="))
        .ok_or_else(|| body::InputError::MissingField("payload".into()))?;
    Ok(Cow::Owned(body::percent_decode(encoded, true).into_bytes()))
}

/// The org a delivery names, and whether it exists. An unknown org is answered 404 only after
/// the signature was checked (with the environment's secret), so a probe cannot tell which orgs
/// exist from the answers.
struct WebhookOrg {
    id: String,
    exists: bool,
}

impl WebhookOrg {
    fn known(self) -> Result<String, WebhookError> {
        if self.exists { Ok(self.id) } else { Err(ScopeError::OrgNotFound(self.id).into()) }
    }
}

/// The org a delivery belongs to: `?orgId=`, else `x-org-id`, else the org of the project whose
/// repository sent it (GitHub's `repository.full_name`, Vercel's commit repository, a generic
/// deploy's `project` of the form `owner/name`), else `default`.
fn webhook_org(
    state: &State,
    req: &Request,
    repo: Option<&str>,
) -> Result<WebhookOrg, WebhookError> {
    let named = req.query.get("orgId").filter(|o| !o.is_empty()).or(req.org_header.as_deref());
    if let Some(org) = named {
        return match OrgId::existing(&state.store, org) {
            Ok(org) => Ok(WebhookOrg { id: org.into_string(), exists: true }),
            Err(ScopeError::OrgNotFound(id)) => Ok(WebhookOrg { id, exists: false }),
            Err(e) => Err(e.into()),
        };
    }
    let by_repo = match repo {
        Some(repo) => projects::orgs_of_repo(&state.store.read()?, repo)?.into_iter().next(),
        None => None,
    };
    let id = by_repo.unwrap_or_else(|| orgs::DEFAULT_ORG.to_owned());
    Ok(WebhookOrg { id, exists: true })
}

/// How far `Sentry-Hook-Timestamp` may be from now (docs/API.md §3.2): a delivery outside it is
/// a replay of an old one (or a clock badly off), refused 401 `STALE_DELIVERY`.
const SENTRY_TIMESTAMP_WINDOW_SECS: i64 = 300;

fn check_sentry_timestamp(req: &Request) -> Result<(), WebhookError> {
    let Some(raw) = req.header("sentry-hook-timestamp").map(str::trim).filter(|v| !v.is_empty())
    else {
        return Ok(());
    };
    let sent = raw.split('.').next().and_then(|s| s.parse::<i64>().ok()).ok_or_else(|| {
        WebhookError::InvalidHeader {
            name: "Sentry-Hook-Timestamp",
            reason: "must be Unix seconds".into(),
        }
    })?;
    let skew = (clock::now_ms() / 1000 - sent).abs();
    if skew > SENTRY_TIMESTAMP_WINDOW_SECS {
        return Err(WebhookError::StaleDelivery { window_secs: SENTRY_TIMESTAMP_WINDOW_SECS });
    }
    Ok(())
}

/// A configured secret requires a valid `X-Hub-Signature-256`; no secret accepts (with a
/// warning) unless strict mode is on (docs/API.md §3.1).
fn verify_github(state: &State, org: &str, req: &Request) -> Result<(), WebhookError> {
    let Some(secret) = github_secret(&state.store.read()?, &state.settings, org)? else {
        if state.settings.webhook_strict_mode {
            return Err(WebhookError::SecretNotConfigured("GitHub"));
        }
        warn_unsigned("GitHub", org);
        return Ok(());
    };
    let header = req
        .header("x-hub-signature-256")
        .ok_or(WebhookError::MissingSignature("X-Hub-Signature-256"))?;
    let hex = header.trim().strip_prefix("sha256=").ok_or(WebhookError::InvalidSignature)?;
    if signature::verify_hex(secret.expose().as_bytes(), &req.body, hex) {
        Ok(())
    } else {
        Err(WebhookError::InvalidSignature)
    }
}

/// Warns that deliveries go unverified, at most once a minute (not once per delivery).
fn warn_unsigned(source: &str, org: &str) {
    static LAST_WARNED_MS: AtomicI64 = AtomicI64::new(i64::MIN);
    let now = clock::now_ms();
    let last = LAST_WARNED_MS.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= 60_000
        && LAST_WARNED_MS.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    {
        tracing::warn!(
            org,
            source,
            "webhook accepted without a signature check: no secret is configured (set the org's webhookSecret, or GITHUB_WEBHOOK_SECRET, SENTRY_WEBHOOK_SECRET, VERCEL_WEBHOOK_SECRET or DEPLOY_WEBHOOK_SECRET; or WEBHOOK_STRICT_MODE=true to refuse)"
        );
    }
}
