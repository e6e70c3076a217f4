//! The webhooks family's errors, in the CodeSpar API's shape (docs/API.md §1.3, §3).

use crate::api::Response;
use crate::api::body::InputError;
use crate::api::error::{RequestError, contract_response};
use crate::api::scope::ScopeError;
use crate::engine::github::PayloadError;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Request(#[from] RequestError),
    /// A required header (`X-GitHub-Event`, `Sentry-Hook-Resource`) is absent.
    #[error("Missing required header {0}")]
    MissingHeader(&'static str),
    #[error("Invalid header {name}: {reason}")]
    InvalidHeader { name: &'static str, reason: String },
    /// A secret is configured and the delivery carries no signature header.
    #[error("Missing {0} header")]
    MissingSignature(&'static str),
    #[error("Invalid webhook signature")]
    InvalidSignature,
    /// A signed delivery sent too long ago (or from too far in the future) to be fresh.
    #[error("Delivery timestamp is more than {window_secs} s from now: refused as a replay")]
    StaleDelivery { window_secs: i64 },
    /// `WEBHOOK_STRICT_MODE` is on and no secret is configured for the sender.
    #[error("{0} webhook secret not configured. Set the secret or disable WEBHOOK_STRICT_MODE.")]
    SecretNotConfigured(&'static str),
    /// The payload (after the signature checked out) is not what the sender sends.
    #[error(transparent)]
    Payload(#[from] InputError),
    /// `?orgId=` (or `x-org-id`) names no usable org.
    #[error(transparent)]
    Org(#[from] ScopeError),
}

impl WebhookError {
    pub fn status(&self) -> u16 {
        match self {
            Self::Request(e) => e.status(),
            Self::MissingHeader(_) | Self::InvalidHeader { .. } | Self::Payload(_) => 400,
            Self::MissingSignature(_)
            | Self::InvalidSignature
            | Self::StaleDelivery { .. }
            | Self::SecretNotConfigured(_) => 401,
            Self::Org(ScopeError::OrgNotFound(_)) => 404,
            Self::Org(ScopeError::Store(_)) => 500,
            Self::Org(ScopeError::Forbidden { .. } | ScopeError::OperatorOnly { .. }) => 403,
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
            Self::StaleDelivery { .. } => "STALE_DELIVERY",
            Self::SecretNotConfigured(_) => "WEBHOOK_SECRET_NOT_CONFIGURED",
            Self::Payload(e) => e.code(),
            Self::Org(ScopeError::InvalidOrgId) => "INVALID_ORG_ID",
            Self::Org(ScopeError::OrgNotFound(_)) => "ORG_NOT_FOUND",
            Self::Org(ScopeError::MissingOrgId) => "MISSING_ORG_ID",
            Self::Org(ScopeError::Forbidden { .. } | ScopeError::OperatorOnly { .. }) => {
                "FORBIDDEN"
            }
            Self::Org(ScopeError::Store(_)) => "INTERNAL",
        }
    }

    /// The one place this family's errors become responses.
    pub fn into_response(self, request_id: &str) -> Response {
        match self {
            Self::Request(e) => e.into_response(request_id),
            Self::Org(ScopeError::Store(e)) => RequestError::from(e).into_response(request_id),
            other => contract_response(other.status(), other.code(), other.to_string()),
        }
    }
}

impl From<PayloadError> for WebhookError {
    fn from(e: PayloadError) -> Self {
        Self::Payload(match e {
            PayloadError::Syntax(message) => InputError::InvalidJson(message),
            PayloadError::Missing(field) => InputError::MissingField(field.into()),
            PayloadError::Invalid { field, reason } => InputError::InvalidField { field, reason },
            PayloadError::TooMany { max, found } => InputError::InvalidField {
                field: "body".into(),
                reason: format!("carries {found} items; at most {max} are taken"),
            },
        })
    }
}
