//! The Potpie dialect's errors, as FastAPI writes them (docs/API.md §6): `{"detail": "…"}`,
//! `{"detail": [violations]}` for 422, and the `{success,data,error}` envelope where Potpie
//! answers a failed save that way.

use serde_json::{Value, json};

use crate::api::Response;
use crate::api::error::RequestError;

#[derive(Debug, thiserror::Error)]
pub enum PotpieError {
    /// Answered in the CodeSpar API's shape: routing, transport, limits and failures on our side
    /// happen before (or beneath) the dialect.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// No `x-api-key`: 401 with `WWW-Authenticate: ApiKey`.
    #[error("API key is required")]
    MissingKey,
    #[error("Invalid API key")]
    InvalidKey,
    /// Pydantic v1-style violations, in field order: 422.
    #[error("{} validation errors", .0.len())]
    Invalid(Vec<Value>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// A save that could not be stored: 500 in the `{success,data,error}` envelope.
    #[error("Failed to save integration: {0}")]
    SaveFailed(String),
}

impl PotpieError {
    pub fn status(&self) -> u16 {
        match self {
            Self::Request(e) => e.status(),
            Self::MissingKey | Self::InvalidKey => 401,
            Self::Invalid(_) => 422,
            Self::NotFound(_) => 404,
            Self::BadRequest(_) => 400,
            Self::SaveFailed(_) => 500,
        }
    }

    /// The one place this dialect's errors become responses.
    pub fn into_response(self, request_id: &str) -> Response {
        let status = self.status();
        match self {
            Self::Request(e) => e.into_response(request_id),
            Self::MissingKey => Response::json(status, &json!({ "detail": "API key is required" }))
                .with_header("www-authenticate", "ApiKey"),
            Self::Invalid(violations) => Response::json(status, &json!({ "detail": violations })),
            Self::SaveFailed(cause) => {
                tracing::error!(request_id, error = %cause, "potpie: a save could not be stored");
                let message = format!("Failed to save integration: {cause}");
                Response::json(status, &json!({ "success": false, "data": null, "error": message }))
            }
            other => Response::json(status, &json!({ "detail": other.to_string() })),
        }
    }
}
