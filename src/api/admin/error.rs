//! The admin listener's errors, in the CodeSpar API's shape (docs/API.md §7). `spar api-key`
//! prints their messages when it works on a stopped store.

use std::fmt;

use crate::api::Response;
use crate::api::body::InputError;
use crate::api::error::{RequestError, body_of};
use crate::api::scope::ScopeError;
use crate::store::StoreError;

#[derive(Debug)]
pub enum AdminError {
    Request(RequestError),
    Input(InputError),
    Org(ScopeError),
    KeyExists(String),
    KeyNotFound(String),
    /// A prefix that matches several active keys.
    AmbiguousKey {
        wanted: String,
        names: Vec<String>,
    },
    /// `spar backup` never overwrites a file.
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
            other => {
                let status = other.status();
                Response::json(status, &body_of(status, other.code(), other.to_string()))
            }
        }
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Request(e) => write!(f, "{e}"),
            Self::Input(e) => write!(f, "{e}"),
            Self::Org(e) => write!(f, "{e}"),
            Self::KeyExists(name) => write!(f, "An API key named '{name}' already exists"),
            Self::KeyNotFound(what) => write!(f, "No active API key named or prefixed '{what}'"),
            Self::AmbiguousKey { wanted, names } => {
                write!(f, "'{wanted}' matches several keys ({}); use a name", names.join(", "))
            }
            Self::BackupExists(path) => {
                write!(f, "{path} already exists: remove it or choose another --out")
            }
        }
    }
}

impl std::error::Error for AdminError {}

impl From<RequestError> for AdminError {
    fn from(e: RequestError) -> Self {
        Self::Request(e)
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        Self::Request(e.into())
    }
}

impl From<InputError> for AdminError {
    fn from(e: InputError) -> Self {
        Self::Input(e)
    }
}

impl From<ScopeError> for AdminError {
    fn from(e: ScopeError) -> Self {
        Self::Org(e)
    }
}
