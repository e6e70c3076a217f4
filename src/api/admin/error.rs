//! The admin listener's errors, in the CodeSpar API's shape (docs/API.md §7). `spar api-key`
//! prints their messages when it works on a stopped store.

use crate::api::Response;
use crate::api::body::InputError;
use crate::api::error::{RequestError, contract_response};
use crate::api::scope::ScopeError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Org(#[from] ScopeError),
    #[error("An API key named '{0}' already exists")]
    KeyExists(String),
    #[error("No active API key named or prefixed '{0}'")]
    KeyNotFound(String),
    /// A prefix that matches several active keys.
    #[error("'{wanted}' matches several keys ({}); use a name", .names.join(", "))]
    AmbiguousKey { wanted: String, names: Vec<String> },
    /// `spar backup` never overwrites a file.
    #[error("{0} already exists: remove it or choose another --out")]
    BackupExists(String),
}

impl AdminError {
    pub fn status(&self) -> u16 {
        match self {
            Self::Request(e) => e.status(),
            Self::Input(_) => 400,
            Self::Org(ScopeError::OrgNotFound(_)) | Self::KeyNotFound(_) => 404,
            Self::Org(ScopeError::Store(_)) => 500,
            Self::Org(_) => 400,
            Self::KeyExists(_) | Self::AmbiguousKey { .. } | Self::BackupExists(_) => 409,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Request(e) => e.code(),
            Self::Input(e) => e.code(),
            Self::Org(ScopeError::OrgNotFound(_)) => "ORG_NOT_FOUND",
            Self::Org(ScopeError::Store(_)) => "INTERNAL",
            Self::Org(_) => "INVALID_ORG_ID",
            Self::KeyExists(_) => "API_KEY_EXISTS",
            Self::KeyNotFound(_) => "API_KEY_NOT_FOUND",
            Self::AmbiguousKey { .. } | Self::BackupExists(_) => "INVALID_STATE",
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
