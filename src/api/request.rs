//! A request as the handlers see it (parsed, authenticated, size-checked) and what they answer.

use std::borrow::Cow;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::mpsc;

use super::Endpoint;
use super::body::Query;
use super::scope::Caller;

#[derive(Debug, Clone)]
pub struct Request {
    pub endpoint: Endpoint,
    /// Who it acts as: decided by its credential (docs/API.md §1.4).
    pub caller: Caller,
    pub query: Query,
    /// `x-org-id`, when present and not empty.
    pub org_header: Option<String>,
    /// `X-Actor`: who the audit trail names for this change (default `api`).
    pub actor: Option<String>,
    pub body: Vec<u8>,
    pub request_id: String,
    /// Headers with lower-case names; filled only for endpoints that read their own headers
    /// ([`Endpoint::reads_headers`]).
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn new(endpoint: Endpoint, raw_query: Option<&str>, request_id: String) -> Self {
        Self {
            endpoint,
            caller: Caller::Anonymous,
            query: Query::parse(raw_query),
            org_header: None,
            actor: None,
            body: Vec::new(),
            request_id,
            headers: Vec::new(),
        }
    }

    pub(crate) fn actor(&self) -> &str {
        self.actor.as_deref().unwrap_or("api")
    }

    /// A header by lower-case name (see [`Request::headers`]).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, Cow<'static, str>)>,
    /// Reference-counted, so cached bodies are sent without copying.
    pub body: Bytes,
    /// A body that keeps coming (Server-Sent Events): chunks are sent as they arrive, and the
    /// channel's small capacity is the backpressure on a client that reads slowly.
    pub stream: Option<mpsc::Receiver<Bytes>>,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &self.body)
            .field("stream", &self.stream.is_some())
            .finish()
    }
}

impl Response {
    pub fn json(status: u16, value: &impl Serialize) -> Self {
        // Our own response types serialize into a Vec without failing.
        Self::raw_json(status, Bytes::from(serde_json::to_vec(value).unwrap_or_default()))
    }

    /// A response whose body is already JSON.
    pub fn raw_json(status: u16, body: Bytes) -> Self {
        Self { status, headers: Vec::new(), body, stream: None }
    }

    pub fn empty(status: u16) -> Self {
        Self::raw_json(status, Bytes::new())
    }

    pub fn ok(value: &impl Serialize) -> Self {
        Self::json(200, value)
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<Cow<'static, str>>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// A stream of chunks (Server-Sent Events, progress lines) with this content type.
    pub fn streaming(content_type: &'static str, chunks: mpsc::Receiver<Bytes>) -> Self {
        let mut response = Self::empty(200).with_header("content-type", content_type);
        response.stream = Some(chunks);
        response
    }
}
