//! Outbound HTTP to third-party services (docs/API.md §1.9): one shared ureq agent with a 10 s overall
//! timeout and `User-Agent: spar/<version>`, and one client module per service.
//!
//! TLS trusts the platform's CA store plus `SPAR_CA_FILE` ([`trusted_roots`]), on every agent.
//!
//! **Invariants**
//! - Every outbound call goes through [`Upstream`], whose base URLs come from [`Settings`]; none
//!   is hard-coded elsewhere.
//! - ureq blocks: callers in async code run calls through [`blocking`], never on the executor.
//! - Errors carry the service and status, never a credential.
//!
//! [`Settings`]: crate::settings::Settings

pub mod chat;
pub mod egress;
pub mod github;
pub mod health;
pub mod linear;
pub mod pagerduty;
pub mod sentry;

use std::sync::Arc;
use std::time::Duration;

use ureq::http;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

use crate::settings::CaFile;
use egress::{CheckedResolver, EgressAllow, EgressPolicy};

/// Largest upstream answer read into memory.
const MAX_ANSWER: u64 = 8 * 1024 * 1024;

/// Who chose where a call goes: the operator (a base URL from the environment) or a user (a URL
/// stored through the API), whose URLs pass the egress policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Operator,
    User,
}

/// The shared outbound HTTP agents (cheap to clone: their pools are shared).
#[derive(Clone)]
pub struct Upstream {
    /// For the operator's base URLs (`SLACK_API_URL`, `GITHUB_API_URL`, …).
    agent: ureq::Agent,
    /// For user-supplied URLs: connects only where the egress policy allows.
    checked: ureq::Agent,
    egress: Arc<EgressPolicy>,
}

impl Upstream {
    /// `ca_file`: private CAs trusted besides the platform's store (`SPAR_CA_FILE`).
    pub fn new(timeout: Duration, allow: &EgressAllow, ca_file: Option<&CaFile>) -> Self {
        // Read once here, at start: both agents share these roots (and ureq's cached rustls
        // config is built from them once per agent).
        let tls = TlsConfig::builder()
            .root_certs(RootCerts::Specific(Arc::new(trusted_roots(ca_file))))
            .build();
        let config = || {
            ureq::Agent::config_builder()
                .tls_config(tls.clone())
                .timeout_global(Some(timeout))
                .http_status_as_error(false)
                .user_agent(concat!("spar/", env!("CARGO_PKG_VERSION")))
                .max_redirects(0)
                // The outbox sends up to 32 messages at once, mostly to one host per service:
                // keep their connections instead of opening one per message.
                .max_idle_connections(128)
                .max_idle_connections_per_host(32)
        };
        let egress = Arc::new(EgressPolicy::new(allow.clone()));
        let connector = ureq::unversioned::transport::DefaultConnector::default();
        let resolver = CheckedResolver::new(Arc::clone(&egress));
        // No proxy from the environment for user URLs: through a proxy, the checked resolver
        // would vet the proxy's address, not the target's.
        let checked_config = config().proxy(None).build();
        Self {
            agent: config().build().into(),
            checked: ureq::Agent::with_parts(checked_config, connector, resolver),
            egress,
        }
    }

    /// The egress policy, to check a user-supplied URL when it is configured.
    pub fn egress(&self) -> &EgressPolicy {
        &self.egress
    }

    /// POSTs `body` as JSON to a user's `url` (a scheduled `webhook` task's target).
    pub fn post_json(&self, url: &str, body: &serde_json::Value) -> Result<Answer, UpstreamError> {
        let request = http::Request::builder()
            .method("POST")
            .uri(url)
            .header("Content-Type", "application/json");
        let body = Some(serde_json::to_vec(body).unwrap_or_default());
        self.send_to(Target::User, "webhook", request, body)
    }

    /// Sends one request to an operator-set URL and reads the whole answer. Any status is an
    /// answer; only transport failures are errors.
    fn send(
        &self,
        service: &'static str,
        request: http::request::Builder,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, UpstreamError> {
        self.send_to(Target::Operator, service, request, body)
    }

    /// [`Self::send`], through the agent the target's origin calls for.
    pub(crate) fn send_to(
        &self,
        target: Target,
        service: &'static str,
        request: http::request::Builder,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, UpstreamError> {
        let invalid = |e: http::Error| UpstreamError::Unreachable {
            service,
            reason: format!("the request could not be built (check the configured URL): {e}"),
        };
        let agent = match target {
            Target::Operator => &self.agent,
            Target::User => &self.checked,
        };
        let sent = match body {
            Some(bytes) => agent.run(request.body(bytes).map_err(invalid)?),
            None => agent.run(request.body(()).map_err(invalid)?),
        };
        let mut response = sent.map_err(|e| transport_error(service, e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok());
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .map_err(|e| transport_error(service, e))?;
        Ok(Answer { service, status, body, retry_after })
    }
}

/// The CAs outbound TLS trusts: the platform's store plus the operator's `SPAR_CA_FILE`.
///
/// Why this way: ureq's `platform-verifier` feature (rustls-platform-verifier) cannot be given
/// extra roots through ureq, so the platform store is read with `rustls-native-certs` (on Linux
/// the same files OpenSSL uses: /etc/ssl/certs, or `SSL_CERT_FILE`/`SSL_CERT_DIR` when set) and
/// handed over with the CA file's certificates as one `RootCerts::Specific` list.
///
/// Mozilla's roots (`webpki-root-certs`, as whole certificates since `Specific` takes those)
/// stand in only when the platform store is empty or missing: a static binary in an empty
/// container image has no /etc/ssl/certs and must still reach public APIs.
pub fn trusted_roots(ca_file: Option<&CaFile>) -> Vec<Certificate<'static>> {
    let platform = rustls_native_certs::load_native_certs();
    if !platform.errors.is_empty() {
        let errors: Vec<String> = platform.errors.iter().map(ToString::to_string).collect();
        tracing::warn!(errors = ?errors, loaded = platform.certs.len(), "some of the platform's CA certificates could not be read");
    }
    let platform: Vec<&[u8]> = platform.certs.iter().map(|c| c.as_ref()).collect();
    roots_from(&platform, ca_file)
}

fn roots_from(platform: &[&[u8]], ca_file: Option<&CaFile>) -> Vec<Certificate<'static>> {
    let mut roots: Vec<Certificate<'static>> =
        platform.iter().map(|der| Certificate::from_der(der).to_owned()).collect();
    if roots.is_empty() {
        tracing::info!("no platform CA store: trusting the bundled Mozilla roots");
        roots.extend(
            webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .map(|der| Certificate::from_der(der.as_ref()).to_owned()),
        );
    }
    if let Some(ca) = ca_file {
        tracing::info!(path = %ca.path, certs = ca.certs.len(), "trusting the CAs of SPAR_CA_FILE too");
        roots.extend(ca.certs.iter().map(|der| Certificate::from_der(der).to_owned()));
    }
    roots
}

/// An upstream's answer: any status, the body read whole.
pub struct Answer {
    service: &'static str,
    pub status: u16,
    pub body: Vec<u8>,
    /// `Retry-After` in seconds, when the answer had one.
    pub retry_after: Option<f64>,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON of type `T`, or [`UpstreamError::BadAnswer`].
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, UpstreamError> {
        serde_json::from_slice(&self.body).map_err(|e| UpstreamError::BadAnswer {
            service: self.service,
            reason: format!("unexpected response body: {e}"),
        })
    }

    /// This answer as an error: 401 is an authentication failure, anything else a status error.
    pub fn into_error(self) -> UpstreamError {
        let message = upstream_message(&self.body);
        match self.status {
            401 => UpstreamError::AuthFailed { service: self.service, message },
            status => UpstreamError::Status { service: self.service, status, message },
        }
    }
}

/// The message field APIs put in their error bodies (`message`, Slack's `error`, Telegram's
/// `description`), else the body as text, cut short.
fn upstream_message(body: &[u8]) -> String {
    let json = serde_json::from_slice::<serde_json::Value>(body).ok();
    let field = |name: &str| {
        json.as_ref().and_then(|v| v.get(name)).and_then(|m| m.as_str()).map(str::to_owned)
    };
    let nested = json
        .as_ref()
        .and_then(|v| v.pointer("/error/message"))
        .and_then(|m| m.as_str())
        .map(str::to_owned);
    let message = field("message")
        .or(nested)
        .or_else(|| field("description"))
        .or_else(|| field("detail"))
        .or_else(|| field("error"))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    message.chars().take(200).collect()
}

fn transport_error(service: &'static str, e: ureq::Error) -> UpstreamError {
    match e {
        ureq::Error::Timeout(_) => UpstreamError::Timeout { service },
        // The checked resolver's refusal (`egress.rs`).
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::PermissionDenied => {
            UpstreamError::Refused { service, reason: io.to_string() }
        }
        other => UpstreamError::Unreachable { service, reason: other.to_string() },
    }
}

/// What kind of failure a call ended in, for records that must not hold what a service said
/// (a delivery's attempt log): no text, no body, at most an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// No answer within the timeout.
    Timeout,
    /// No answer at all: DNS, connection, TLS.
    Unreachable,
    /// Not called: the egress policy refuses the address.
    Refused,
    /// An answer with this unexpected status.
    Http(u16),
    /// A 2xx answer that says no (Slack's `ok: false`), or one that could not be read.
    Rejected,
    /// Nothing to call with: the channel or integration is not configured.
    NotConfigured,
    /// On our side: storage, a job that did not finish.
    Internal,
}

impl FailureClass {
    pub fn of(e: &UpstreamError) -> Self {
        match e {
            UpstreamError::Refused { .. } => Self::Refused,
            UpstreamError::Unreachable { .. } => Self::Unreachable,
            UpstreamError::Timeout { .. } => Self::Timeout,
            UpstreamError::AuthFailed { .. } => Self::Http(401),
            UpstreamError::Status { status, .. } => Self::Http(*status),
            UpstreamError::BadAnswer { .. } => Self::Rejected,
            UpstreamError::Aborted => Self::Internal,
        }
    }

    /// Its name in the attempt log (`http` for an HTTP status, given apart).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Unreachable => "unreachable",
            Self::Refused => "refused",
            Self::Http(_) => "http",
            Self::Rejected => "rejected",
            Self::NotConfigured => "not_configured",
            Self::Internal => "internal",
        }
    }

    pub fn http_status(self) -> Option<u16> {
        match self {
            Self::Http(status) => Some(status),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No answer: DNS, connection refused, TLS, a broken connection.
    #[error("{service} is unreachable: {reason}")]
    Unreachable { service: &'static str, reason: String },
    /// Not called: the egress policy refuses the address (no retry will change that).
    #[error("{service} was not called: {reason}")]
    Refused { service: &'static str, reason: String },
    /// No answer within the overall timeout.
    #[error("{service} did not answer in time")]
    Timeout { service: &'static str },
    /// The service refused our credentials (HTTP 401).
    #[error("{service} rejected the configured credentials (HTTP 401: {message})")]
    AuthFailed { service: &'static str, message: String },
    /// An answer with an unexpected status.
    #[error("{service} answered HTTP {status}: {message}")]
    Status { service: &'static str, status: u16, message: String },
    /// An answer we could not read.
    #[error("{service} sent a bad answer: {reason}")]
    BadAnswer { service: &'static str, reason: String },
    /// The blocking call could not run (the runtime is shutting down).
    #[error("the upstream call was aborted")]
    Aborted,
}

/// `name=value` for a URL query, both percent-encoded (`statuses[]` becomes `statuses%5B%5D`,
/// which every server decodes back).
pub fn query_pair(name: &str, value: &str) -> String {
    format!("{}={}", encode(name), encode(value))
}

/// Percent-encodes everything but unreserved characters, for one URL path segment.
pub fn path_segment(s: &str) -> String {
    encode(s)
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Runs blocking upstream work on tokio's blocking pool.
pub async fn blocking<T, E, F>(work: F) -> Result<T, E>
where
    F: FnOnce() -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<UpstreamError> + Send + 'static,
{
    tokio::task::spawn_blocking(work).await.map_err(|_| UpstreamError::Aborted)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_roots_stand_in_only_for_an_empty_platform_store() {
        let ca = CaFile { path: "ca.pem".into(), certs: Arc::new(vec![b"private".to_vec()]) };
        let platform: [&[u8]; 2] = [b"one", b"two"];
        let ders = |roots: Vec<Certificate<'static>>| -> Vec<Vec<u8>> {
            roots.iter().map(|c| c.der().to_vec()).collect()
        };
        assert_eq!(
            ders(roots_from(&platform, Some(&ca))),
            [b"one".to_vec(), b"two".to_vec(), b"private".to_vec()]
        );
        let bundled = webpki_root_certs::TLS_SERVER_ROOT_CERTS.len();
        assert!(bundled > 100);
        assert_eq!(roots_from(&[], None).len(), bundled);
        let with_ca = ders(roots_from(&[], Some(&ca)));
        assert_eq!(with_ca.len(), bundled + 1);
        assert_eq!(with_ca.last().map(Vec::as_slice), Some(&b"private"[..]));
    }
}
