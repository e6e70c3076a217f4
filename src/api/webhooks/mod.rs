//! Inbound webhooks (contract 7). GitHub: `POST /webhooks/github`; Sentry: `POST /webhooks/sentry`
//! (also `/api/webhooks/sentry`).
//!
//! Order of work: resolve the org (the secret depends on it), verify the signature over the raw
//! bytes, decode, then record in one transaction with the delivery's receipt (so a redelivery is
//! a duplicate exactly when the first was committed).

use std::borrow::Cow;
use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::{Value, json};

use super::{ApiError, App, Request, Response, Scope, body};
use crate::clock;
use crate::engine::github::{self, Parsed, PayloadError};
use crate::engine::incidents::{self, Outcome};
use crate::engine::{self, Ingested, sentry, signature};
use crate::store::{orgs, projects};

const MAX_DELIVERY_ID: usize = 128;

pub async fn github(app: &App, req: &Request) -> Result<Response, ApiError> {
    let event = header_token(req, "x-github-event", "X-GitHub-Event")?
        .ok_or(ApiError::MissingHeader("X-GitHub-Event"))?;
    let delivery = header_token(req, "x-github-delivery", "X-GitHub-Delivery")?;
    // Parsed before verification only to find the org; not acted on (nor its errors answered)
    // until verified.
    let parsed = payload_bytes(req)
        .and_then(|payload| github::parse(&event, &payload).map_err(payload_error));
    let org = webhook_org(app, req, parsed.as_ref().ok().and_then(Parsed::repo))?;
    verify_github(app, &org, req)?;
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
    let receipt = delivery.clone();
    let policy = app.policy();
    let ingested = app
        .store
        .write(move |tx| engine::ingest(tx, &org, &recorded, receipt.as_deref(), policy))
        .await?;
    if let Ingested::Event { deliveries, .. } = &ingested {
        app.events_recorded(*deliveries);
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

pub async fn sentry(app: &App, req: &Request) -> Result<Response, ApiError> {
    let resource = header_token(req, "sentry-hook-resource", "Sentry-Hook-Resource")?
        .ok_or(ApiError::MissingHeader("Sentry-Hook-Resource"))?;
    let org = webhook_org(app, req, None)?;
    verify_sentry(app, &org, req)?;
    let parsed = sentry::parse(&resource, &req.body).map_err(payload_error)?;
    let policy = app.policy();
    let outcome = app.store.write(move |tx| incidents::record(tx, &org, &parsed, policy)).await?;
    let answer = match outcome {
        Outcome::Routed { incident_id, agent_id, event_id, new } => {
            app.events_recorded(true);
            json!({
                "received": true, "routed": true, "agentId": agent_id, "incidentId": incident_id,
                "eventId": event_id, "grouped": !new,
            })
        }
        Outcome::Resolved { incident_id, event_id } => {
            app.events_recorded(true);
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

/// Contract 7.2: `Sentry-Hook-Signature` is the hex HMAC-SHA256 of the raw body with the org's
/// sentry `webhookSecret` (or `SENTRY_WEBHOOK_SECRET` for org `default`).
fn verify_sentry(app: &App, org: &str, req: &Request) -> Result<(), ApiError> {
    let Some(secret) = app.sentry_secret(org)? else {
        if app.settings.webhook_strict_mode {
            return Err(ApiError::WebhookSecretNotConfigured("Sentry"));
        }
        warn_unsigned("Sentry", org);
        return Ok(());
    };
    let header = req
        .header("sentry-hook-signature")
        .ok_or(ApiError::MissingSignature("Sentry-Hook-Signature"))?;
    if signature::verify_hex(secret.expose().as_bytes(), &req.body, header.trim()) {
        Ok(())
    } else {
        Err(ApiError::InvalidSignature)
    }
}

/// A short printable header value (event names, delivery ids), or 400 `INVALID_HEADER`.
fn header_token(
    req: &Request,
    name: &str,
    shown: &'static str,
) -> Result<Option<String>, ApiError> {
    let Some(value) = req.header(name).map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.len() > MAX_DELIVERY_ID || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::InvalidHeader {
            name: shown,
            reason: format!("must be 1 to {MAX_DELIVERY_ID} printable ASCII characters"),
        });
    }
    Ok(Some(value.to_owned()))
}

/// The payload's JSON bytes: the body, or the `payload` field of a form-encoded one.
fn payload_bytes(req: &Request) -> Result<Cow<'_, [u8]>, ApiError> {
    let form = req
        .header("content-type")
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    if !form {
        return Ok(Cow::Borrowed(&req.body));
    }
    let text = std::str::from_utf8(&req.body)
        .map_err(|_| ApiError::InvalidJson("the form-encoded body is not UTF-8".into()))?;
    let encoded = text
        .split('&')
        .find_map(|pair| pair.strip_prefix("payload="))
        .ok_or_else(|| ApiError::MissingField("payload".into()))?;
    Ok(Cow::Owned(body::percent_decode(encoded, true).into_bytes()))
}

fn payload_error(e: PayloadError) -> ApiError {
    match e {
        PayloadError::Syntax(message) => ApiError::InvalidJson(message),
        PayloadError::Missing(field) => ApiError::MissingField(field.into()),
        PayloadError::Invalid { field, reason } => ApiError::InvalidField { field, reason },
    }
}

/// The org a delivery belongs to: `?orgId=`, else `x-org-id`, else the org of the project whose
/// repository sent it, else `default`.
fn webhook_org(app: &App, req: &Request, repo: Option<&str>) -> Result<String, ApiError> {
    let named = req.query.get("orgId").filter(|o| !o.is_empty()).or(req.org_header.as_deref());
    if let Some(org) = named {
        return Ok(Scope::resolve(&app.store, Some(org))?.write_org().to_owned());
    }
    if let Some(repo) = repo
        && let Some(org) = projects::orgs_of_repo(&app.store.read()?, repo)?.into_iter().next()
    {
        return Ok(org);
    }
    Ok(orgs::DEFAULT_ORG.to_owned())
}

/// Contract 7.1: a configured secret requires a valid `X-Hub-Signature-256`; no secret accepts
/// (with a warning) unless strict mode is on.
fn verify_github(app: &App, org: &str, req: &Request) -> Result<(), ApiError> {
    let Some(secret) = app.github_secret(org)? else {
        if app.settings.webhook_strict_mode {
            return Err(ApiError::WebhookSecretNotConfigured("GitHub"));
        }
        warn_unsigned("GitHub", org);
        return Ok(());
    };
    let header = req
        .header("x-hub-signature-256")
        .ok_or(ApiError::MissingSignature("X-Hub-Signature-256"))?;
    let hex = header.trim().strip_prefix("sha256=").ok_or(ApiError::InvalidSignature)?;
    if signature::verify_hex(secret.expose().as_bytes(), &req.body, hex) {
        Ok(())
    } else {
        Err(ApiError::InvalidSignature)
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
            "webhook accepted without a signature check: no secret is configured (set GITHUB_WEBHOOK_SECRET or SENTRY_WEBHOOK_SECRET, or WEBHOOK_STRICT_MODE=true to refuse)"
        );
    }
}
