//! The webhooks family's errors, in the CodeSpar API's shape (docs/API.md §1.3, §3).

use std::fmt;

use crate::api::Response;
use crate::api::body::InputError;
use crate::api::error::{RequestError, body_of};
use crate::api::scope::ScopeError;
use crate::engine::github::PayloadError;
use crate::store::StoreError;

#[derive(Debug)]
pub enum WebhookError {
    Request(RequestError),
    /// A required header (`X-GitHub-Event`, `Sentry-Hook-Resource`) is absent.
    MissingHeader(&'static str),
    InvalidHeader {
        name: &'static str,
        reason: String,
    },
    /// A secret is configured and the delivery carries no signature header.
    MissingSignature(&'static str),
    InvalidSignature,
    /// `WEBHOOK_STRICT_MODE` is on and no secret is configured for the sender.
    SecretNotConfigured(&'static str),
    /// The payload (after the signature checked out) is not what the sender sends.
    Payload(InputError),
    /// `?orgId=` (or `x-org-id`) names no usable org.
    Org(ScopeError),
}

impl WebhookError {
    pub fn status(&self) -> u16 {
        match self {
            Self::Request(e) => e.status(),
            Self::MissingHeader(_) | Self::InvalidHeader { .. } | Self::Payload(_) => 400,
            Self::MissingSignature(_) | Self::InvalidSignature | Self::SecretNotConfigured(_) => {
                401
            }
            Self::Org(ScopeError::OrgNotFound(_)) => 404,
            Self::Org(ScopeError::Store(_)) => 500,
            Self::Org(_) => 400,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Request(e) => e.code(),
            Self::MissingHeader(_) => "MISSING_HEADER",
            Self::InvalidHeader { .. } => "INVALID_HEADER",
            Self::MissingSignature(_) => "MISSING_SIGNATURE",
            Self::InvalidSignature => "INVALID_SIGNATURE",
            Self::SecretNotConfigured(_) => "WEBHOOK_SECRET_NOT_CONFIGURED",
            Self::Payload(e) => e.code(),
            Self::Org(ScopeError::InvalidOrgId) => "INVALID_ORG_ID",
            Self::Org(ScopeError::OrgNotFound(_)) => "ORG_NOT_FOUND",
            Self::Org(ScopeError::MissingOrgId) => "MISSING_ORG_ID",
            Self::Org(ScopeError::Store(_)) => "INTERNAL",
        }
    }

    /// The one place this family's errors become responses.
    pub fn into_response(self, request_id: &str) -> Response {
        match self {
            Self::Request(e) => e.into_response(request_id),
            Self::Org(ScopeError::Store(e)) => RequestError::from(e).into_response(request_id),
            other => Response::json(
                other.status(),
                &body_of(other.status(), other.code(), other.to_string()),
            ),
        }
    }
}

impl fmt::Display for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Request(e) => write!(f, "{e}"),
            Self::MissingHeader(name) => write!(f, "Missing required header {name}"),
            Self::InvalidHeader { name, reason } => write!(f, "Invalid header {name}: {reason}"),
            Self::MissingSignature(header) => write!(f, "Missing {header} header"),
            Self::InvalidSignature => write!(f, "Invalid webhook signature"),
            Self::SecretNotConfigured(provider) => write!(
                f,
                "{provider} webhook secret not configured. Set the secret or disable WEBHOOK_STRICT_MODE."
            ),
            Self::Payload(e) => write!(f, "{e}"),
            Self::Org(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for WebhookError {}

impl From<RequestError> for WebhookError {
    fn from(e: RequestError) -> Self {
        Self::Request(e)
    }
}

impl From<StoreError> for WebhookError {
    fn from(e: StoreError) -> Self {
        Self::Request(e.into())
    }
}

impl From<ScopeError> for WebhookError {
    fn from(e: ScopeError) -> Self {
        Self::Org(e)
    }
}

impl From<InputError> for WebhookError {
    fn from(e: InputError) -> Self {
        Self::Payload(e)
    }
}

impl From<PayloadError> for WebhookError {
    fn from(e: PayloadError) -> Self {
        Self::Payload(match e {
            PayloadError::Syntax(message) => InputError::InvalidJson(message),
            PayloadError::Missing(field) => InputError::MissingField(field.into()),
            PayloadError::Invalid { field, reason } => InputError::InvalidField { field, reason },
        })
    }
}
