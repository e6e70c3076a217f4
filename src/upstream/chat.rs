//! Chat senders (docs/API.md §4): Slack (bot token or incoming webhook), Discord (bot or webhook),
//! Telegram, and WhatsApp through the Evolution API; and the credential checks behind
//! `POST /api/channels/:name/reconnect`.
//!
//! Failures are classified for the outbox (docs/API.md §4):
//! no answer, a timeout, 5xx and 429 (and Slack's `ratelimited`) are worth retrying; any other
//! refusal is permanent. Error texts never contain a credential.

use std::time::Duration;

use serde_json::{Value, json};
use ureq::http;

use super::{
    Answer, FailureClass, Target, Upstream, UpstreamError, path_segment, upstream_message,
};
use crate::settings::Secret;

/// Where and how a message goes, with its credentials.
#[derive(Debug, Clone)]
pub enum ChatTarget {
    SlackBot {
        token: Secret,
    },
    /// `origin`: who chose the URL (a user's passes the egress policy).
    SlackWebhook {
        url: Secret,
        origin: Target,
    },
    DiscordBot {
        token: Secret,
    },
    DiscordWebhook {
        url: Secret,
        origin: Target,
    },
    Telegram {
        token: Secret,
    },
    Evolution {
        url: String,
        key: Secret,
        instance: String,
        origin: Target,
    },
}

impl ChatTarget {
    /// The target a channel's config describes (keys as `POST /api/channels/configure` takes
    /// them); a bot token wins over a webhook URL. `None`: not enough to send anything.
    pub fn from_config(
        channel: &str,
        origin: Target,
        get: impl Fn(&str) -> Option<String>,
    ) -> Option<Self> {
        let secret = |key: &str| get(key).map(Secret::new);
        match channel {
            "slack" => secret("botToken")
                .map(|token| Self::SlackBot { token })
                .or_else(|| secret("webhookUrl").map(|url| Self::SlackWebhook { url, origin })),
            "discord" => secret("botToken")
                .map(|token| Self::DiscordBot { token })
                .or_else(|| secret("webhookUrl").map(|url| Self::DiscordWebhook { url, origin })),
            "telegram" => secret("botToken").map(|token| Self::Telegram { token }),
            "whatsapp" => Some(Self::Evolution {
                url: get("evolutionApiUrl")?.trim_end_matches('/').to_owned(),
                key: secret("evolutionApiKey")?,
                instance: get("evolutionInstance")?,
                origin,
            }),
            _ => None,
        }
    }

    /// Who chose where it sends: the services' own APIs are the operator's.
    fn origin(&self) -> Target {
        match self {
            Self::SlackWebhook { origin, .. }
            | Self::DiscordWebhook { origin, .. }
            | Self::Evolution { origin, .. } => *origin,
            Self::SlackBot { .. } | Self::DiscordBot { .. } | Self::Telegram { .. } => {
                Target::Operator
            }
        }
    }

    fn service(&self) -> &'static str {
        match self {
            Self::SlackBot { .. } | Self::SlackWebhook { .. } => "Slack",
            Self::DiscordBot { .. } | Self::DiscordWebhook { .. } => "Discord",
            Self::Telegram { .. } => "Telegram",
            Self::Evolution { .. } => "Evolution API",
        }
    }

    /// Every credential in it, to scrub from error texts.
    fn secrets(&self) -> Vec<&str> {
        match self {
            Self::SlackBot { token } | Self::DiscordBot { token } | Self::Telegram { token } => {
                vec![token.expose()]
            }
            Self::SlackWebhook { url, .. } | Self::DiscordWebhook { url, .. } => vec![url.expose()],
            Self::Evolution { key, .. } => vec![key.expose()],
        }
    }
}

/// Why a send failed, as the outbox needs to know it: whether to try again, a reason for the
/// operator, and its class for the attempt log.
#[derive(Debug, Clone, PartialEq)]
pub enum SendFailure {
    /// Worth another attempt; `after` is the service's own `Retry-After`.
    Retry { reason: String, after: Option<Duration>, class: FailureClass },
    /// Will not succeed by retrying (bad credentials, unknown channel, message refused).
    Permanent { reason: String, class: FailureClass },
}

impl SendFailure {
    pub fn retry(class: FailureClass, reason: impl Into<String>) -> Self {
        Self::Retry { reason: reason.into(), after: None, class }
    }

    pub fn permanent(class: FailureClass, reason: impl Into<String>) -> Self {
        Self::Permanent { reason: reason.into(), class }
    }

    /// How an upstream error counts: no answer, 429 and 5xx are worth retrying.
    pub fn of(e: &UpstreamError) -> Self {
        let class = FailureClass::of(e);
        match class {
            FailureClass::Timeout | FailureClass::Unreachable | FailureClass::Internal => {
                Self::retry(class, e.to_string())
            }
            FailureClass::Http(status) if status == 429 || status >= 500 => {
                Self::retry(class, e.to_string())
            }
            _ => Self::permanent(class, e.to_string()),
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            Self::Retry { reason, .. } | Self::Permanent { reason, .. } => reason,
        }
    }

    pub fn class(&self) -> FailureClass {
        match self {
            Self::Retry { class, .. } | Self::Permanent { class, .. } => *class,
        }
    }
}

/// The chat APIs' base URLs (docs/API.md §1.9).
#[derive(Debug, Clone)]
pub struct ChatApis {
    pub slack: String,
    pub discord: String,
    pub telegram: String,
    /// The URL Discord's `User-Agent` names (its API requires `DiscordBot ($url, $version)`):
    /// the server's public URL (`WEBHOOK_BASE_URL`) when there is one.
    pub bot_url: Option<String>,
}

impl ChatApis {
    /// `DiscordBot (<url>, <version>)`; without a public URL, the reserved `spar.invalid`.
    fn discord_user_agent(&self) -> String {
        let url = self.bot_url.as_deref().unwrap_or("https://spar.invalid");
        format!("DiscordBot ({url}, {})", env!("CARGO_PKG_VERSION"))
    }
}

#[derive(Clone)]
pub struct Chat {
    http: Upstream,
    apis: ChatApis,
}

impl Chat {
    pub fn new(http: Upstream, apis: ChatApis) -> Self {
        Self { http, apis }
    }

    /// Sends `text` to `channel_id` (ignored by webhook targets, whose URL names the channel).
    pub fn send(
        &self,
        target: &ChatTarget,
        channel_id: &str,
        text: &str,
    ) -> Result<(), SendFailure> {
        let sent = self.post_message(target, channel_id, text);
        classify(target, sent).map_err(|failure| scrub(target, failure))
    }

    fn post_message(
        &self,
        target: &ChatTarget,
        channel_id: &str,
        text: &str,
    ) -> Result<Answer, UpstreamError> {
        let no_mentions = json!({ "parse": [] });
        match target {
            ChatTarget::SlackBot { token } => self.post(
                target,
                &format!("{}/chat.postMessage", self.apis.slack),
                Some(&format!("Bearer {}", token.expose())),
                &json!({ "channel": channel_id, "text": text, "unfurl_links": false }),
            ),
            ChatTarget::SlackWebhook { url, .. } => {
                self.post(target, url.expose(), None, &json!({ "text": text }))
            }
            ChatTarget::DiscordBot { token } => self.post(
                target,
                &format!("{}/channels/{}/messages", self.apis.discord, path_segment(channel_id)),
                Some(&format!("Bot {}", token.expose())),
                &json!({ "content": text, "allowed_mentions": no_mentions }),
            ),
            ChatTarget::DiscordWebhook { url, .. } => self.post(
                target,
                &with_query(url.expose(), "wait=true"),
                None,
                &json!({ "content": text, "allowed_mentions": no_mentions }),
            ),
            ChatTarget::Telegram { token } => {
                // Numeric chat ids go as numbers, `@channel` names as strings.
                let chat_id =
                    channel_id.parse::<i64>().map_or_else(|_| Value::from(channel_id), Value::from);
                self.post(
                    target,
                    &format!("{}/bot{}/sendMessage", self.apis.telegram, token.expose()),
                    None,
                    &json!({
                        "chat_id": chat_id, "text": text, "parse_mode": "HTML",
                        "link_preview_options": { "is_disabled": true },
                    }),
                )
            }
            ChatTarget::Evolution { url, key, instance, .. } => {
                let request = http::Request::builder()
                    .method("POST")
                    .uri(format!("{url}/message/sendText/{}", path_segment(instance)))
                    .header("apikey", key.expose())
                    .header("Content-Type", "application/json");
                let body = json!({ "number": channel_id, "text": text });
                let body = Some(body.to_string().into_bytes());
                self.http.send_to(target.origin(), target.service(), request, body)
            }
        }
    }

    fn post(
        &self,
        target: &ChatTarget,
        url: &str,
        authorization: Option<&str>,
        body: &Value,
    ) -> Result<Answer, UpstreamError> {
        let mut request = http::Request::builder()
            .method("POST")
            .uri(url)
            .header("Content-Type", "application/json; charset=utf-8");
        if let Some(auth) = authorization {
            request = request.header("Authorization", auth);
        }
        request = self.identified(target, request);
        let body = Some(body.to_string().into_bytes());
        self.http.send_to(target.origin(), target.service(), request, body)
    }

    /// A request to Discord names the bot as its API requires; the others keep Spar's own
    /// `User-Agent`.
    fn identified(
        &self,
        target: &ChatTarget,
        request: http::request::Builder,
    ) -> http::request::Builder {
        match target {
            ChatTarget::DiscordBot { .. } | ChatTarget::DiscordWebhook { .. } => {
                request.header("User-Agent", self.apis.discord_user_agent())
            }
            _ => request,
        }
    }

    /// Checks the credentials against the service: `Ok` when it accepts them.
    pub fn check(&self, target: &ChatTarget) -> Result<(), String> {
        let service = target.service();
        let get = |url: String, header: Option<(&str, String)>| {
            let mut request = http::Request::builder().method("GET").uri(url);
            if let Some((name, value)) = header {
                request = request.header(name, value);
            }
            let request = self.identified(target, request);
            self.http.send_to(target.origin(), service, request, None)
        };
        let answer = match target {
            ChatTarget::SlackBot { token } => self.post(
                target,
                &format!("{}/auth.test", self.apis.slack),
                Some(&format!("Bearer {}", token.expose())),
                &json!({}),
            ),
            // An incoming webhook cannot be checked without posting; GitHub-style: the URL
            // must answer, and not with "gone".
            ChatTarget::SlackWebhook { url, .. } => get(url.expose().to_owned(), None),
            ChatTarget::DiscordBot { token } => get(
                format!("{}/users/@me", self.apis.discord),
                Some(("Authorization", format!("Bot {}", token.expose()))),
            ),
            ChatTarget::DiscordWebhook { url, .. } => get(url.expose().to_owned(), None),
            ChatTarget::Telegram { token } => {
                get(format!("{}/bot{}/getMe", self.apis.telegram, token.expose()), None)
            }
            ChatTarget::Evolution { url, key, instance, .. } => get(
                format!("{url}/instance/connectionState/{}", path_segment(instance)),
                Some(("apikey", key.expose().to_owned())),
            ),
        };
        let checked = match (target, answer) {
            (_, Err(e)) => Err(e.to_string()),
            (ChatTarget::SlackWebhook { .. }, Ok(a)) if matches!(a.status, 403 | 404 | 410) => {
                Err(format!("Slack answered HTTP {}{}", a.status, quoted(target, &a)))
            }
            (ChatTarget::SlackWebhook { .. }, Ok(_)) => Ok(()),
            (ChatTarget::Evolution { .. }, Ok(a)) if a.is_success() => {
                let state = a.json::<Value>().ok().and_then(|v| {
                    v.pointer("/instance/state").and_then(Value::as_str).map(str::to_owned)
                });
                // Only Evolution's own states are named: the answer comes from a URL a user
                // supplied, and nothing of its body is quoted.
                match state.as_deref() {
                    Some("open") => Ok(()),
                    Some(known @ ("close" | "connecting")) => {
                        Err(format!("the WhatsApp instance is not connected (state {known})"))
                    }
                    _ => Err("the WhatsApp instance is not connected".to_owned()),
                }
            }
            (_, Ok(a)) => classify(target, Ok(a)).map_err(|f| f.reason().to_owned()),
        };
        checked.map_err(|reason| redact(target, reason))
    }
}

/// Success, or how the send failed.
fn classify(target: &ChatTarget, sent: Result<Answer, UpstreamError>) -> Result<(), SendFailure> {
    let answer = match sent {
        Ok(a) => a,
        Err(e) => return Err(SendFailure::of(&e)),
    };
    let service = target.service();
    let body: Option<Value> = serde_json::from_slice(&answer.body).ok();
    let after = answer
        .retry_after
        .or_else(|| body.as_ref().and_then(|b| b.get("retry_after")).and_then(Value::as_f64))
        .or_else(|| {
            body.as_ref().and_then(|b| b.pointer("/parameters/retry_after")).and_then(Value::as_f64)
        })
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(3600.0)));
    let refused = |status: u16| {
        let reason = format!("{service} answered HTTP {status}{}", quoted(target, &answer));
        let class = FailureClass::Http(status);
        if status == 429 || status >= 500 {
            SendFailure::Retry { reason, after, class }
        } else {
            SendFailure::Permanent { reason, class }
        }
    };
    if !answer.is_success() {
        return Err(refused(answer.status));
    }
    // Slack's Web API and Telegram answer 200 with `ok: false` when they refuse.
    let api_ok = match target {
        ChatTarget::SlackBot { .. } | ChatTarget::Telegram { .. } => {
            body.as_ref().and_then(|b| b.get("ok")).and_then(Value::as_bool)
        }
        _ => None,
    };
    match api_ok {
        Some(false) => {
            let message = upstream_message(&answer.body);
            let code = body
                .as_ref()
                .and_then(|b| b.get("error_code"))
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok());
            match code {
                Some(code) => Err(refused(code)),
                None if message == "ratelimited" => Err(SendFailure::Retry {
                    reason: format!("{service} refused the message: {message}"),
                    after,
                    class: FailureClass::Rejected,
                }),
                None => Err(SendFailure::permanent(
                    FailureClass::Rejected,
                    format!("{service} refused the message: {message}"),
                )),
            }
        }
        _ => Ok(()),
    }
}

/// What an answer said, for an error text: `: <message>` from a service's own API; nothing from
/// a URL a user supplied (its body is not ours to quote back), where a redirect is named as
/// such (Spar follows none).
fn quoted(target: &ChatTarget, answer: &Answer) -> String {
    match target.origin() {
        Target::Operator => format!(": {}", upstream_message(&answer.body)),
        Target::User if (300..400).contains(&answer.status) => {
            " (a redirect: Spar does not follow them)".into()
        }
        Target::User => String::new(),
    }
}

fn scrub(target: &ChatTarget, failure: SendFailure) -> SendFailure {
    match failure {
        SendFailure::Retry { reason, after, class } => {
            SendFailure::Retry { reason: redact(target, reason), after, class }
        }
        SendFailure::Permanent { reason, class } => {
            SendFailure::Permanent { reason: redact(target, reason), class }
        }
    }
}

/// Removes every credential of `target` from `text` (a Telegram token is part of its URLs).
fn redact(target: &ChatTarget, text: String) -> String {
    target.secrets().into_iter().filter(|s| !s.is_empty()).fold(text, |t, s| t.replace(s, "••••"))
}

fn with_query(url: &str, query: &str) -> String {
    if url.contains('?') { format!("{url}&{query}") } else { format!("{url}?{query}") }
}
