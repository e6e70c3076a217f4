//! The admin listener's errors, in the CodeSpar API's shape (docs/API.md §7). `spar api-key`
//! prints their messages when it works on a stopped store.

use crate::api::Response;
use crate::api::body::InputError;
use crate::api::error::{RequestError, contract_response};
use crate::api::scope::ScopeError;
use crate::store::credentials::Kind;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Org(#[from] ScopeError),
    #[error("{noun} named '{name}' already exists (revoke it or choose another name)")]
    KeyExists { noun: &'static str, code: &'static str, name: String },
    #[error("No active {noun} named or prefixed '{wanted}'")]
    KeyNotFound { noun: &'static str, code: &'static str, wanted: String },
    /// A prefix that matches several active keys.
    #[error("'{wanted}' matches several keys ({}); use a name", .names.join(", "))]
    AmbiguousKey { wanted: String, names: Vec<String> },
    /// `spar backup` never overwrites a file.
    #[error("{0} already exists: remove it or choose another --out")]
    BackupExists(String),
}

impl AdminError {
    pub fn exists<K: Kind>(name: &str) -> Self {
        Self::KeyExists { noun: K::NOUN, code: K::CODE, name: name.to_owned() }
    }

    pub fn not_found<K: Kind>(wanted: &str) -> Self {
        Self::KeyNotFound { noun: K::NOUN, code: K::CODE, wanted: wanted.to_owned() }
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::Request(e) => e.status(),
            Self::Input(_) => 400,
            Self::Org(ScopeError::OrgNotFound(_)) | Self::KeyNotFound { .. } => 404,
            Self::Org(ScopeError::Store(_)) => 500,
            Self::Org(ScopeError::Forbidden { .. } | ScopeError::OperatorOnly { .. }) => 403,
            Self::Org(_) => 400,
            Self::KeyExists { .. } | Self::AmbiguousKey { .. } | Self::BackupExists(_) => 409,
        }
    }

    pub fn code(&self) -> String {
        match self {
            Self::Request(e) => e.code().into(),
            Self::Input(e) => e.code().into(),
            Self::Org(ScopeError::OrgNotFound(_)) => "ORG_NOT_FOUND".into(),
            Self::Org(ScopeError::Store(_)) => "INTERNAL".into(),
            Self::Org(ScopeError::Forbidden { .. } | ScopeError::OperatorOnly { .. }) => {
                "FORBIDDEN".into()
            }
            Self::Org(_) => "INVALID_ORG_ID".into(),
            Self::KeyExists { code, .. } => format!("{code}_EXISTS"),
            Self::KeyNotFound { code, .. } => format!("{code}_NOT_FOUND"),
            Self::AmbiguousKey { .. } | Self::BackupExists(_) => "INVALID_STATE".into(),
        }
    }

    /// The one place this family's errors become responses.
    pub fn into_response(self, request_id: &str) -> Response {
        match self {
            Self::Request(e) => e.into_response(request_id),
            Self::Org(ScopeError::Store(e)) => RequestError::from(e).into_response(request_id),
            other => contract_response(other.status(), &other.code(), other.to_string()),
        }
    }
}
