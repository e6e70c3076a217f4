//! Channels (docs/API.md §2.8): list with capabilities and state, configure credentials, and check
//! them against the service (reconnect). Credentials are stored, never returned.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ApiError;
use crate::api::{OrgId, Request, Response, State, body};
use crate::clock;
use crate::engine::channels as resolve;
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::records::{ChannelConfigRecord, ChannelStatusRecord};
use crate::store::{WriteTx, channels};
use crate::upstream::egress::EgressError;
use crate::upstream::{UpstreamError, blocking};

/// The chat channels, in the order `GET /api/channels` lists them (plus `web`).
const CHAT_CHANNELS: [&str; 4] = ["whatsapp", "slack", "discord", "telegram"];
/// What `POST /api/channels/configure` takes: chat channels and webhook secrets.
const CONFIGURABLE: &str = "telegram, whatsapp, discord, slack, github, sentry, vercel, deploy";

/// Whether Spar stores a configuration under `name`, through `POST /api/channels/configure` or
/// `POST /api/integrations/configure` (one table holds both, docs/API.md §2.13).
pub fn is_configurable(name: &str) -> bool {
    CONFIGURABLE.split(", ").chain(super::integrations::CONFIGURABLE.split(", ")).any(|c| c == name)
}
const MAX_KEYS: usize = 20;
const MAX_VALUE: usize = 2048;

/// CodeSpar's capabilities table (docs/API.md §2.8).
fn capabilities(channel: &str) -> Value {
    let (threads, code, files, reactions, max, mention) = match channel {
        "whatsapp" => (false, false, true, false, 4096, "text"),
        "slack" => (true, true, true, true, 40000, "user_id"),
        "discord" => (true, true, true, true, 2000, "user_id"),
        "telegram" => (false, false, true, false, 4096, "username"),
        _ => (false, true, false, false, 100_000, "none"),
    };
    json!({
        "threads": threads, "codeBlocks": code, "syntaxHighlighting": code,
        "fileAttachments": files, "reactions": reactions, "maxMessageLength": max,
        "mentionFormat": mention,
    })
}

pub fn list(state: &State, org: &OrgId) -> Result<Response, ApiError> {
    let org = org.as_str();
    let read = state.store.read()?;
    let mut out = Vec::new();
    for name in CHAT_CHANNELS {
        let configured = resolve::target(&read, &state.settings, org, name)?.is_some();
        let status = channels::status(&read, org, name)?;
        out.push(json!({
            "name": name,
            "platform": name,
            "connected": configured && status.as_ref().is_none_or(|s| s.connected),
            "configured": configured,
            "capabilities": capabilities(name),
            "lastDeliveryAt": status.as_ref().and_then(|s| s.last_delivery_ms).map(clock::rfc3339),
            "lastError": status.and_then(|s| s.last_error),
        }));
    }
    out.push(json!({
        "name": "web", "platform": "web", "connected": true, "configured": true,
        "capabilities": capabilities("web"), "lastDeliveryAt": null, "lastError": null,
    }));
    Ok(Response::ok(&json!({ "channels": out })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigureChannel {
    channel: Option<String>,
    config: Option<Map<String, Value>>,
}

pub async fn configure(state: &State, org: &OrgId, req: &Request) -> Result<Response, ApiError> {
    let input: ConfigureChannel = body::json(&req.body)?;
    let channel = body::required(input.channel, "channel")?;
    if !CONFIGURABLE.split(", ").any(|c| c == channel) {
        return Err(ApiError::InvalidChannel(CONFIGURABLE));
    }
    let config =
        config_values(input.config.ok_or_else(|| ApiError::MissingField("config".into()))?)?;
    check_required(&channel, &config)?;
    for key in URL_KEYS {
        if let Some(url) = config.get(key).filter(|u| !u.is_empty()) {
            check_egress(state, &format!("config.{key}"), url).await?;
        }
    }
    let org = org.to_string();
    let actor = req.actor().to_owned();
    let keys: Vec<String> = config.keys().cloned().collect();
    let mut record = ChannelConfigRecord {
        channel: channel.clone(),
        config,
        configured_at_ms: clock::now_ms(),
        configured_by: actor.clone(),
    };
    state
        .store
        .write(move |tx| {
            keep_stored_secrets(tx, &org, &mut record)?;
            channels::put_config(tx, &org, &record)?;
            // New credentials: what was learned about the old ones no longer holds.
            let fresh = ChannelStatusRecord { connected: true, ..Default::default() };
            channels::put_status(tx, &org, &record.channel, &fresh)?;
            let draft = AuditDraft::new(ActorType::User, &actor, "channel.configure")
                .meta("channel", record.channel.as_str())
                .meta("configKeys", keys.clone());
            audit::append(tx, &org, draft)?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(Response::ok(&json!({ "success": true, "channel": channel, "configured": true })))
}

/// A URL a user configures must pass the egress policy now (it is checked again at each send):
/// 400 `INVALID_FIELD` naming `field` otherwise (docs/API.md §1.4). A host that does not resolve
/// (yet) is let through: only an address can be refused, and the send checks the one it gets.
pub(super) async fn check_egress(state: &State, field: &str, url: &str) -> Result<(), ApiError> {
    const RESOLVE_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);
    let (upstream, target) = (state.upstream.clone(), url.to_owned());
    let lookup = tokio::task::spawn_blocking(move || upstream.egress().check_url(&target));
    let refused = |reason: String| ApiError::InvalidField { field: field.to_owned(), reason };
    match tokio::time::timeout(RESOLVE_WITHIN, lookup).await {
        Ok(Ok(Ok(()) | Err(EgressError::Unresolved { .. }))) | Err(_) => Ok(()),
        Ok(Ok(Err(e))) => Err(refused(e.to_string())),
        Ok(Err(e)) => Err(ApiError::internal(format!("the egress check did not finish: {e}"))),
    }
}

/// The URL keys of a channel's config, which users supply: they pass the egress policy.
pub(super) const URL_KEYS: [&str; 2] = ["webhookUrl", "evolutionApiUrl"];

/// A configuration stored without a `webhookSecret` keeps the one already stored: reconfiguring
/// other keys (an integration's token) must never switch signature checks off. GitHub's record
/// is written by two endpoints (channels: `webhookSecret`; integrations: `token`), so each keeps
/// the other's key.
pub(super) fn keep_stored_secrets(
    tx: &WriteTx<'_>,
    org: &str,
    record: &mut ChannelConfigRecord,
) -> Result<(), ApiError> {
    let kept: &[&str] =
        if record.channel == "github" { &["webhookSecret", "token"] } else { &["webhookSecret"] };
    let missing: Vec<&str> = kept
        .iter()
        .copied()
        .filter(|k| record.config.get(*k).is_none_or(|v| v.is_empty()))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let Some(stored) = channels::config(tx, org, &record.channel)? else { return Ok(()) };
    for key in missing {
        if let Some(value) = stored.config.get(key) {
            record.config.insert(key.to_owned(), value.clone());
        }
    }
    Ok(())
}

/// A non-empty object of short string values, trimmed.
pub(super) fn config_values(
    config: Map<String, Value>,
) -> Result<BTreeMap<String, String>, ApiError> {
    if config.is_empty() || config.len() > MAX_KEYS {
        return Err(ApiError::InvalidField {
            field: "config".into(),
            reason: format!("must be an object with 1 to {MAX_KEYS} string values"),
        });
    }
    config
        .into_iter()
        .map(|(key, value)| match value {
            _ if key.is_empty()
                || key.len() > 64
                || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                Err(ApiError::InvalidField {
                    field: "config".into(),
                    reason: format!("key {key:?} must be 1 to 64 letters, digits or '_'"),
                })
            }
            Value::String(s) if s.len() <= MAX_VALUE && !s.chars().any(char::is_control) => {
                Ok((key, s.trim().to_owned()))
            }
            _ => Err(ApiError::InvalidField {
                field: format!("config.{key}"),
                reason: format!("must be a string of at most {MAX_VALUE} bytes"),
            }),
        })
        .collect()
}

/// The keys each channel needs (docs/API.md §2.8; `webhookUrl` also serves Slack and Discord).
fn check_required(channel: &str, config: &BTreeMap<String, String>) -> Result<(), ApiError> {
    let has = |key: &str| config.get(key).is_some_and(|v| !v.is_empty());
    let needed: &[&str] = match channel {
        "telegram" => &["botToken"],
        "whatsapp" => &["evolutionApiUrl", "evolutionApiKey", "evolutionInstance"],
        "github" | "sentry" | "vercel" | "deploy" => &["webhookSecret"],
        _ => &[],
    };
    if let Some(missing) = needed.iter().find(|k| !has(k)) {
        return Err(ApiError::MissingField(format!("config.{missing}")));
    }
    if matches!(channel, "slack" | "discord") && !has("botToken") && !has("webhookUrl") {
        return Err(ApiError::MissingField("config.botToken (or config.webhookUrl)".into()));
    }
    for key in ["webhookUrl", "evolutionApiUrl"] {
        if let Some(url) = config.get(key).filter(|v| !v.is_empty())
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(ApiError::InvalidField {
                field: format!("config.{key}"),
                reason: "must be an http:// or https:// URL".into(),
            });
        }
    }
    Ok(())
}

pub async fn reconnect(
    state: &State,
    org: &OrgId,
    req: &Request,
    name: &str,
) -> Result<Response, ApiError> {
    if !CHAT_CHANNELS.contains(&name) {
        return Err(ApiError::ChannelNotFound(name.to_owned()));
    }
    let org = org.to_string();
    let target = resolve::target(&state.store.read()?, &state.settings, &org, name)?
        .ok_or_else(|| ApiError::ChannelDisabled(name.to_owned()))?;
    let chat = state.chat.clone();
    let checked = blocking(move || Ok::<_, UpstreamError>(chat.check(&target))).await?;
    let connected = checked.is_ok();
    let (actor, channel) = (req.actor().to_owned(), name.to_owned());
    state
        .store
        .write(move |tx| {
            let mut status = channels::status(tx, &org, &channel)?.unwrap_or_default();
            status.connected = connected;
            status.last_error = checked.as_ref().err().cloned();
            channels::put_status(tx, &org, &channel, &status)?;
            let mut draft = AuditDraft::new(ActorType::User, &actor, "channel.reconnect")
                .meta("channel", channel.as_str())
                .meta("connected", connected);
            if let Err(reason) = &checked {
                draft = draft.meta("error", reason.as_str());
            }
            audit::append(tx, &org, draft)?;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(Response::ok(&json!({ "success": true, "channel": name, "connected": connected })))
}
