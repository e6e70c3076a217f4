//! What can go wrong with any request, whichever API family it reaches, and the error body of
//! the CodeSpar API (docs/API.md §1.3) that the families sharing its shape render through.
//!
//! Each family has its own error type (`codespar::ApiError`, `webhooks::WebhookError`,
//! `spike::SpikeError`, `potpie::PotpieError`, `admin::AdminError`), each with one
//! `into_response`: **the one place that family's errors become HTTP responses.** Each takes a
//! [`RequestError`] (routing, transport, credentials, rate limits, failures on our side) and
//! renders it in its own shape.

use std::fmt;

use serde_json::{Value, json};

use super::{Method, Response};
use crate::search::SearchError;
use crate::store::StoreError;

/// Errors any request can meet around its handler.
#[derive(Debug)]
pub enum RequestError {
    /// No route at this path.
    NotFound,
    /// The path takes other methods.
    MethodNotAllowed(&'static [Method]),
    UnsupportedMediaType,
    PayloadTooLarge {
        limit: usize,
    },
    BodyTimeout,
    /// The body broke off or was not valid HTTP framing.
    UnreadableBody(String),
    /// No or wrong credentials for a check made before the handler (bearer, admin token).
    Unauthorized,
    RateLimited {
        retry_after: u64,
    },
    ShuttingDown,
    /// The cause goes to the log, never to the client.
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
            Self::RateLimited { .. } => 429,
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

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => write!(f, "Route not found"),
            Self::MethodNotAllowed(allowed) => {
                write!(f, "Method not allowed. Allowed: {}", allow_list(allowed))
            }
            Self::UnsupportedMediaType => {
                write!(f, "Content-Type must be application/json for a request with a body")
            }
            Self::PayloadTooLarge { limit } => {
                write!(f, "Request body exceeds the limit of {limit} bytes")
            }
            Self::BodyTimeout => write!(f, "Request body was not received in time"),
            Self::UnreadableBody(e) => {
                write!(f, "Malformed JSON: the request body could not be read: {e}")
            }
            Self::Unauthorized => write!(f, "Unauthorized"),
            Self::RateLimited { .. } => write!(f, "Too Many Requests"),
            Self::ShuttingDown => write!(f, "Server is shutting down; retry shortly"),
            Self::Internal(_) => write!(f, "Internal server error"),
        }
    }
}

impl std::error::Error for RequestError {}

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
