//! The Spike dialect's errors: `{"message","error"}` with the status (docs/API.md §5).

use serde_json::json;

use crate::api::Response;
use crate::api::error::RequestError;

#[derive(Debug, thiserror::Error)]
pub enum SpikeError {
    /// Answered in the CodeSpar API's shape: routing, transport, limits and failures on our side
    /// happen before (or beneath) the dialect.
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("{0}")]
    BadRequest(String),
    /// No key, an unknown key, or a key of another team.
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("Integration not found")]
    NotFound,
    /// The integration was archived: its ingest URL no longer takes alerts.
    #[error("Integration archived: it no longer accepts alerts")]
    Gone,
    /// A body with more alerts than one delivery may carry.
    #[error("The body carries {found} alerts; at most {max} are taken in one delivery")]
    TooManyAlerts { max: usize, found: usize },
}

impl SpikeError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    fn status_and_error(&self) -> (u16, &'static str) {
        match self {
            Self::Request(e) => (e.status(), e.code()),
            Self::BadRequest(_) => (400, "bad_request"),
            Self::Unauthorized(_) => (401, "unauthorized"),
            Self::NotFound => (404, "not_found"),
            Self::Gone => (410, "gone"),
            Self::TooManyAlerts { .. } => (413, "payload_too_large"),
        }
    }

    /// The one place this dialect's errors become responses.
    pub fn into_response(self, request_id: &str) -> Response {
        if let Self::Request(e) = self {
            return e.into_response(request_id);
        }
        let (status, error) = self.status_and_error();
        Response::json(status, &json!({ "message": self.to_string(), "error": error }))
    }
}
