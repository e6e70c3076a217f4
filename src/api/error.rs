//! What can go wrong with any request, whichever API family it reaches, and the error body of
//! the CodeSpar API (docs/API.md §1.3) that the families sharing its shape render through.
//!
//! Each family has its own error type (`codespar::ApiError`, `webhooks::WebhookError`,
//! `spike::SpikeError`, `potpie::PotpieError`, `admin::AdminError`), each with one
//! `into_response`: **the one place that family's errors become HTTP responses.** Each takes a
//! [`RequestError`] (routing, transport, credentials, rate limits, failures on our side) and
//! renders it in its own shape.

use serde_json::{Value, json};

use super::{Method, Response};
use crate::search::SearchError;
use crate::store::StoreError;

/// Errors any request can meet around its handler.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// No route at this path.
    #[error("Route not found")]
    NotFound,
    /// The path takes other methods.
    #[error("Method not allowed. Allowed: {}", allow_list(.0))]
    MethodNotAllowed(&'static [Method]),
    #[error("Content-Type must be application/json for a request with a body")]
    UnsupportedMediaType,
    #[error("Request body exceeds the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("Request body was not received in time")]
    BodyTimeout,
    /// The body broke off or was not valid HTTP framing.
    #[error("Malformed JSON: the request body could not be read: {0}")]
    UnreadableBody(String),
    /// No or wrong credentials for a check made before the handler (bearer, admin token).
    #[error("Unauthorized")]
    Unauthorized,
    #[error("Too Many Requests")]
    RateLimited { retry_after: u64 },
    /// The client already holds as many event streams as it may.
    #[error("Too many open event streams from this client (at most {cap}); close one first")]
    TooManyStreams { cap: usize },
    #[error("Server is shutting down; retry shortly")]
    ShuttingDown,
    /// The cause goes to the log, never to the client.
    #[error("Internal server error")]
    Internal(String),
}

impl RequestError {
    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::MethodNotAllowed(_) => 405,
            Self::UnsupportedMediaType => 415,
            Self::PayloadTooLarge { .. } => 413,
            Self::BodyTimeout => 408,
            Self::UnreadableBody(_) => 400,
            Self::Unauthorized => 401,
            Self::RateLimited { .. } | Self::TooManyStreams { .. } => 429,
            Self::ShuttingDown => 503,
            Self::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed(_) => "METHOD_NOT_ALLOWED",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            Self::BodyTimeout => "REQUEST_TIMEOUT",
            Self::UnreadableBody(_) => "INVALID_JSON",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::TooManyStreams { .. } => "TOO_MANY_STREAMS",
            Self::ShuttingDown => "SHUTTING_DOWN",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// In the CodeSpar API's shape, with the headers this error needs.
    pub fn into_response(self, request_id: &str) -> Response {
        self.log(request_id);
        let status = self.status();
        let mut body = body_of(status, self.code(), self.to_string());
        if let Self::RateLimited { retry_after } = &self {
            body["retryAfter"] = Value::from(*retry_after);
        }
        self.headers(Response::json(status, &body))
    }

    /// The headers this error's answer needs in any family's shape.
    pub fn headers(&self, response: Response) -> Response {
        match self {
            Self::MethodNotAllowed(allowed) => response.with_header("allow", allow_list(allowed)),
            Self::RateLimited { retry_after } => {
                response.with_header("retry-after", retry_after.to_string())
            }
            Self::Unauthorized => response.with_header("www-authenticate", "Bearer"),
            // The rest of the body was never read: the connection cannot be reused.
            Self::PayloadTooLarge { .. } | Self::BodyTimeout => {
                response.with_header("connection", "close")
            }
            _ => response,
        }
    }

    /// Logs a failure on our side (with the request id, the only place it is logged).
    pub fn log(&self, request_id: &str) {
        if let Self::Internal(cause) = self {
            tracing::error!(request_id, error = %cause, "internal error");
        }
    }
}

impl From<StoreError> for RequestError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::WriterStopped => Self::ShuttingDown,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<SearchError> for RequestError {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::Store(e) => e.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// `GET, HEAD, POST`
pub fn allow_list(allowed: &[Method]) -> String {
    allowed.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
}

/// The CodeSpar API's error body: `{"error","code","status"}`.
pub fn body_of(status: u16, code: &str, message: String) -> Value {
    json!({ "error": message, "code": code, "status": status })
}

/// An error in the CodeSpar API's shape.
pub fn contract_response(status: u16, code: &str, message: String) -> Response {
    Response::json(status, &body_of(status, code, message))
}

/// A storage failure in a family's handler is the request's failure on our side (503 while
/// shutting down, else 500 with the cause logged).
macro_rules! store_errors_are_request_errors {
    ($($family:ty),*) => {$(
        impl From<StoreError> for $family {
            fn from(e: StoreError) -> Self {
                Self::Request(e.into())
            }
        }
    )*};
}
store_errors_are_request_errors!(
    super::codespar::ApiError,
    super::webhooks::WebhookError,
    super::spike::SpikeError,
    super::potpie::PotpieError,
    super::admin::AdminError
);
