//! Which credentials a channel or integration of an org uses: its stored config (the configure
//! endpoints), else what the Potpie dialect saved for it, else, for org `default` only, the
//! environment (docs/API.md §1.9).

use crate::settings::{Secret, Settings};
use crate::store::{Source, StoreError, channels, orgs, potpie};
use crate::upstream::Target;
use crate::upstream::chat::ChatTarget;

/// A channel's or integration's configuration, as `(key, value)` pairs.
pub type Keys = Vec<(String, String)>;

/// The channel's credentials as `(key, value)` pairs.
pub fn config(
    src: &impl Source,
    settings: &Settings,
    org: &str,
    channel: &str,
) -> Result<Option<Keys>, StoreError> {
    Ok(sourced_config(src, settings, org, channel)?.map(|(keys, _)| keys))
}

/// The channel's credentials and who set them: a user (stored through the API or Potpie), or
/// the operator (the environment, for org `default`).
fn sourced_config(
    src: &impl Source,
    settings: &Settings,
    org: &str,
    channel: &str,
) -> Result<Option<(Keys, Target)>, StoreError> {
    if let Some(stored) = channels::config(src, org, channel)? {
        return Ok(Some((stored.config.into_iter().collect(), Target::User)));
    }
    // One store (docs/API.md §6.3): what the Potpie dialect saved counts too.
    if let Some(keys) = potpie::connector_config(src, org, channel)? {
        return Ok(Some((keys, Target::User)));
    }
    if org != orgs::DEFAULT_ORG {
        return Ok(None);
    }
    Ok(settings.env_config(channel).map(|keys| {
        let keys = keys.into_iter().map(|(k, v)| (k, v.expose().to_owned())).collect();
        (keys, Target::Operator)
    }))
}

/// Where a message on `channel` for `org` goes, if the channel is configured well enough.
pub fn target(
    src: &impl Source,
    settings: &Settings,
    org: &str,
    channel: &str,
) -> Result<Option<ChatTarget>, StoreError> {
    let Some((keys, origin)) = sourced_config(src, settings, org, channel)? else {
        return Ok(None);
    };
    let get = |key: &str| {
        keys.iter()
            .find(|(k, v)| k == key && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_owned())
    };
    Ok(ChatTarget::from_config(channel, origin, get))
}

/// The GitHub token of `org`'s projects (docs/API.md §2.7): the org's own (`integrations/configure`
/// `github`, key `token`), else `GITHUB_TOKEN`.
pub fn github_token(
    src: &impl Source,
    settings: &Settings,
    org: &str,
) -> Result<Option<Secret>, StoreError> {
    let stored = channels::config(src, org, "github")?
        .and_then(|c| c.config.get("token").filter(|s| !s.is_empty()).cloned());
    Ok(stored.map(Secret::new).or_else(|| settings.github_token.clone()))
}

/// The secret GitHub deliveries for `org` are signed with (docs/API.md §3.1): the org's
/// `github` channel config (`webhookSecret`), then `GITHUB_WEBHOOK_SECRET_<ORG>`, then
/// `GITHUB_WEBHOOK_SECRET`.
pub fn github_secret(
    src: &impl Source,
    settings: &Settings,
    org: &str,
) -> Result<Option<Secret>, StoreError> {
    let stored = channels::config(src, org, "github")?
        .and_then(|c| c.config.get("webhookSecret").filter(|s| !s.is_empty()).cloned());
    Ok(stored.map(Secret::new).or_else(|| settings.github_secret_for(org).cloned()))
}

/// The secret Sentry deliveries for `org` are signed with (docs/API.md §3.2): the org's stored
/// `webhookSecret` (its `sentry` configuration, through either configure endpoint or Potpie),
/// else `SENTRY_WEBHOOK_SECRET`, for every org. Each source's secret is resolved on its own, so
/// storing other Sentry keys never switches the environment's secret off.
pub fn sentry_secret(
    src: &impl Source,
    settings: &Settings,
    org: &str,
) -> Result<Option<Secret>, StoreError> {
    let stored = match channels::config(src, org, "sentry")? {
        Some(stored) => stored.config.into_iter().collect(),
        None => potpie::connector_config(src, org, "sentry")?.unwrap_or_default(),
    };
    let secret = stored.into_iter().find(|(k, v)| k == "webhookSecret" && !v.is_empty());
    Ok(secret.map(|(_, v)| Secret::new(v)).or_else(|| settings.sentry_webhook_secret.clone()))
}

/// The secret Vercel deliveries for `org` are signed with (docs/API.md §3.5): the org's `vercel`
/// channel config (`webhookSecret`), else `VERCEL_WEBHOOK_SECRET`, for every org.
pub fn vercel_secret(
    src: &impl Source,
    settings: &Settings,
    org: &str,
) -> Result<Option<Secret>, StoreError> {
    Ok(stored_webhook_secret(src, org, "vercel")?
        .or_else(|| settings.vercel_webhook_secret.clone()))
}

/// The secret generic deploy deliveries for `org` are signed with (docs/API.md §3.6): the org's
/// `deploy` channel config (`webhookSecret`), else `DEPLOY_WEBHOOK_SECRET`, for every org.
pub fn deploy_secret(
    src: &impl Source,
    settings: &Settings,
    org: &str,
) -> Result<Option<Secret>, StoreError> {
    Ok(stored_webhook_secret(src, org, "deploy")?
        .or_else(|| settings.deploy_webhook_secret.clone()))
}

/// A non-empty `webhookSecret` stored for `channel`. An empty one counts as none, so the
/// environment's secret stays in force (a stored blank never switches checks off).
fn stored_webhook_secret(
    src: &impl Source,
    org: &str,
    channel: &str,
) -> Result<Option<Secret>, StoreError> {
    Ok(channels::config(src, org, channel)?
        .and_then(|c| c.config.get("webhookSecret").filter(|s| !s.is_empty()).cloned())
        .map(Secret::new))
}
