//! The API's error enum and the one place errors become HTTP responses (contract 2.3).

use std::fmt;

use serde_json::{Value, json};

use super::{Method, Response};
use crate::search::SearchError;
use crate::store::StoreError;
use crate::upstream::UpstreamError;

#[derive(Debug)]
pub enum ApiError {
    // Transport and request shape (contract 2).
    NotFound,
    MethodNotAllowed(&'static [Method]),
    UnsupportedMediaType,
    PayloadTooLarge {
        limit: usize,
    },
    BodyTimeout,
    InvalidJson(String),
    InvalidField {
        field: String,
        reason: String,
    },
    MissingField(String),
    InvalidParameter {
        name: &'static str,
        reason: String,
    },
    InvalidOrgId,
    OrgNotFound(String),
    Unauthorized,
    RateLimited {
        retry_after: u64,
    },
    // Agents (contract 3).
    AgentNotFound(String),
    AgentAlreadyExists(String),
    InvalidAgentType(String),
    InvalidAutonomyLevel,
    InvalidAction,
    InvalidState(String),
    AgentHasProject {
        agent: String,
        project: String,
    },
    ProjectNotFound(String),
    // Projects and GitHub (contract 4).
    MissingConfig(&'static str),
    InvalidRepo(String),
    RepoNotFound(String),
    AlreadyLinked(String),
    NotLinked(String),
    ProjectAlreadyExists(String),
    /// An upstream service failed: 502 `UPSTREAM_ERROR` / `UPSTREAM_AUTH_FAILED`, 504
    /// `UPSTREAM_TIMEOUT`, with the upstream's answer as `details`.
    Upstream(UpstreamError),
    // Webhooks (contract 7).
    MissingHeader(&'static str),
    InvalidHeader {
        name: &'static str,
        reason: String,
    },
    MissingSignature(&'static str),
    InvalidSignature,
    WebhookSecretNotConfigured(&'static str),
    // Routes, channels, deliveries, approvals (contracts 6, 8, 10).
    MissingOrgId,
    /// The valid channel names, for the message.
    InvalidChannel(&'static str),
    RouteAlreadyExists(String),
    RouteNotFound(String),
    ChannelNotFound(String),
    ChannelDisabled(String),
    DeliveryNotFound(String),
    ApprovalNotFound(String),
    ApprovalExpired(String),
    // Integrations (contract 6).
    /// The integrations that can be configured, for the message.
    InvalidIntegration(&'static str),
    /// The integration's display name ("PagerDuty").
    IntegrationNotConfigured(&'static str),
    IncidentNotFound(String),
    UnknownLabel(String),
    // API keys and the Spike dialect (contract 9).
    /// A Spike-dialect error: `{"message","error"}` with this status.
    Spike {
        status: u16,
        error: &'static str,
        message: String,
    },
    ApiKeyExists(String),
    ApiKeyNotFound(String),
    /// A Potpie-dialect error: FastAPI's body (`{"detail": …}`, or the `{success,data,error}`
    /// envelope) with this status.
    Potpie {
        status: u16,
        body: Value,
    },
    // Scheduler (contract 10).
    InvalidSchedule(String),
    TaskAlreadyExists(String),
    TaskNotFound(String),
    TaskRunning(String),
    // Orgs, memory and identity (contract 11).
    OrgAlreadyExists(String),
    FieldTooLarge {
        field: &'static str,
        limit: usize,
    },
    IdentityAlreadyExists {
        account: String,
        identity: String,
    },
    // Server side.
    ShuttingDown,
    /// The cause goes to the log, never to the client.
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            Self::Spike { status, .. } | Self::Potpie { status, .. } => *status,
            Self::NotFound
            | Self::OrgNotFound(_)
            | Self::AgentNotFound(_)
            | Self::ProjectNotFound(_)
            | Self::RepoNotFound(_)
            | Self::NotLinked(_)
            | Self::RouteNotFound(_)
            | Self::ChannelNotFound(_)
            | Self::DeliveryNotFound(_)
            | Self::ApprovalNotFound(_)
            | Self::IncidentNotFound(_)
            | Self::ApiKeyNotFound(_)
            | Self::TaskNotFound(_) => 404,
            Self::ApprovalExpired(_) => 410,
            Self::MethodNotAllowed(_) => 405,
            Self::UnsupportedMediaType => 415,
            Self::PayloadTooLarge { .. } | Self::FieldTooLarge { .. } => 413,
            Self::BodyTimeout => 408,
            Self::InvalidJson(_)
            | Self::InvalidField { .. }
            | Self::MissingField(_)
            | Self::InvalidParameter { .. }
            | Self::InvalidOrgId
            | Self::InvalidAgentType(_)
            | Self::InvalidAutonomyLevel
            | Self::InvalidAction
            | Self::MissingConfig(_)
            | Self::InvalidRepo(_)
            | Self::MissingHeader(_)
            | Self::InvalidHeader { .. }
            | Self::MissingOrgId
            | Self::InvalidChannel(_)
            | Self::ChannelDisabled(_)
            | Self::InvalidIntegration(_)
            | Self::IntegrationNotConfigured(_)
            | Self::UnknownLabel(_)
            | Self::InvalidSchedule(_) => 400,
            Self::Unauthorized
            | Self::MissingSignature(_)
            | Self::InvalidSignature
            | Self::WebhookSecretNotConfigured(_) => 401,
            Self::RateLimited { .. } => 429,
            Self::AgentAlreadyExists(_)
            | Self::InvalidState(_)
            | Self::AgentHasProject { .. }
            | Self::OrgAlreadyExists(_)
            | Self::IdentityAlreadyExists { .. }
            | Self::AlreadyLinked(_)
            | Self::ProjectAlreadyExists(_)
            | Self::RouteAlreadyExists(_)
            | Self::ApiKeyExists(_)
            | Self::TaskAlreadyExists(_)
            | Self::TaskRunning(_) => 409,
            Self::Upstream(UpstreamError::Timeout { .. }) => 504,
            Self::Upstream(_) => 502,
            Self::ShuttingDown => 503,
            Self::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed(_) => "METHOD_NOT_ALLOWED",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::PayloadTooLarge { .. } | Self::FieldTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            Self::BodyTimeout => "REQUEST_TIMEOUT",
            Self::InvalidJson(_) => "INVALID_JSON",
            Self::InvalidField { .. } => "INVALID_FIELD",
            Self::MissingField(_) => "MISSING_FIELD",
            Self::InvalidParameter { .. } => "INVALID_PARAMETER",
            Self::InvalidOrgId => "INVALID_ORG_ID",
            Self::OrgNotFound(_) => "ORG_NOT_FOUND",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::AgentNotFound(_) => "AGENT_NOT_FOUND",
            Self::AgentAlreadyExists(_) => "AGENT_ALREADY_EXISTS",
            Self::InvalidAgentType(_) => "INVALID_AGENT_TYPE",
            Self::InvalidAutonomyLevel => "INVALID_AUTONOMY_LEVEL",
            Self::InvalidAction => "INVALID_ACTION",
            Self::InvalidState(_) => "INVALID_STATE",
            Self::AgentHasProject { .. } => "AGENT_HAS_PROJECT",
            Self::ProjectNotFound(_) => "PROJECT_NOT_FOUND",
            Self::MissingConfig(_) => "MISSING_CONFIG",
            Self::InvalidRepo(_) => "INVALID_REPO",
            Self::RepoNotFound(_) => "REPO_NOT_FOUND",
            Self::AlreadyLinked(_) => "ALREADY_LINKED",
            Self::NotLinked(_) => "NOT_LINKED",
            Self::ProjectAlreadyExists(_) => "PROJECT_ALREADY_EXISTS",
            Self::Upstream(UpstreamError::Timeout { .. }) => "UPSTREAM_TIMEOUT",
            Self::Upstream(UpstreamError::AuthFailed { .. }) => "UPSTREAM_AUTH_FAILED",
            Self::Upstream(_) => "UPSTREAM_ERROR",
            Self::MissingHeader(_) => "MISSING_HEADER",
            Self::InvalidHeader { .. } => "INVALID_HEADER",
            Self::MissingSignature(_) => "MISSING_SIGNATURE",
            Self::InvalidSignature => "INVALID_SIGNATURE",
            Self::WebhookSecretNotConfigured(_) => "WEBHOOK_SECRET_NOT_CONFIGURED",
            Self::MissingOrgId => "MISSING_ORG_ID",
            Self::InvalidChannel(_) => "INVALID_CHANNEL",
            Self::RouteAlreadyExists(_) => "ROUTE_ALREADY_EXISTS",
            Self::RouteNotFound(_) => "ROUTE_NOT_FOUND",
            Self::ChannelNotFound(_) => "CHANNEL_NOT_FOUND",
            Self::ChannelDisabled(_) => "CHANNEL_DISABLED",
            Self::DeliveryNotFound(_) => "DELIVERY_NOT_FOUND",
            Self::ApprovalNotFound(_) => "APPROVAL_NOT_FOUND",
            Self::ApprovalExpired(_) => "APPROVAL_EXPIRED",
            Self::InvalidIntegration(_) => "INVALID_INTEGRATION",
            Self::IntegrationNotConfigured(_) => "INTEGRATION_NOT_CONFIGURED",
            Self::IncidentNotFound(_) => "INCIDENT_NOT_FOUND",
            Self::UnknownLabel(_) => "UNKNOWN_LABEL",
            Self::ApiKeyExists(_) => "API_KEY_EXISTS",
            Self::Spike { error, .. } => error,
            Self::Potpie { .. } => "POTPIE",
            Self::ApiKeyNotFound(_) => "API_KEY_NOT_FOUND",
            Self::InvalidSchedule(_) => "INVALID_SCHEDULE",
            Self::TaskAlreadyExists(_) => "TASK_ALREADY_EXISTS",
            Self::TaskNotFound(_) => "TASK_NOT_FOUND",
            Self::TaskRunning(_) => "TASK_RUNNING",
            Self::OrgAlreadyExists(_) => "ORG_ALREADY_EXISTS",
            Self::IdentityAlreadyExists { .. } => "IDENTITY_ALREADY_EXISTS",
            Self::ShuttingDown => "SHUTTING_DOWN",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// Builds the response. 5xx causes are logged here with the request id, and only here.
    pub fn into_response(self, request_id: &str) -> Response {
        let status = self.status();
        if let Self::Internal(cause) = &self {
            tracing::error!(request_id, error = %cause, "internal error");
        }
        if let Self::Upstream(cause) = &self {
            tracing::warn!(request_id, error = %cause, "upstream call failed");
        }
        if let Self::Spike { error, message, .. } = &self {
            return Response::json(status, &json!({ "message": message, "error": error }));
        }
        if let Self::Potpie { body, .. } = &self {
            let response = Response::json(status, body);
            return if body["detail"] == "API key is required" {
                response.with_header("www-authenticate", "ApiKey")
            } else {
                response
            };
        }
        let mut body = json!({ "error": self.to_string(), "code": self.code(), "status": status });
        if let Self::Upstream(cause) = &self {
            body["details"] = Value::from(cause.to_string());
        }
        let mut response = match &self {
            Self::MethodNotAllowed(allowed) => {
                let allow = allowed.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ");
                Response::json(status, &body).with_header("allow", allow)
            }
            Self::RateLimited { retry_after } => {
                body["retryAfter"] = Value::from(*retry_after);
                Response::json(status, &body).with_header("retry-after", retry_after.to_string())
            }
            Self::Unauthorized => {
                Response::json(status, &body).with_header("www-authenticate", "Bearer")
            }
            _ => Response::json(status, &body),
        };
        if matches!(self, Self::PayloadTooLarge { .. } | Self::BodyTimeout) {
            // The rest of the body was never read: the connection cannot be reused.
            response = response.with_header("connection", "close");
        }
        response
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => write!(f, "Route not found"),
            Self::MethodNotAllowed(allowed) => {
                let names: Vec<_> = allowed.iter().map(|m| m.as_str()).collect();
                write!(f, "Method not allowed. Allowed: {}", names.join(", "))
            }
            Self::UnsupportedMediaType => {
                write!(f, "Content-Type must be application/json for a request with a body")
            }
            Self::PayloadTooLarge { limit } => {
                write!(f, "Request body exceeds the limit of {limit} bytes")
            }
            Self::BodyTimeout => write!(f, "Request body was not received in time"),
            Self::InvalidJson(detail) => write!(f, "Malformed JSON: {detail}"),
            Self::InvalidField { field, reason } => write!(f, "Invalid field '{field}': {reason}"),
            Self::MissingField(field) => write!(f, "Missing required field '{field}'"),
            Self::InvalidParameter { name, reason } => {
                write!(f, "Invalid query parameter '{name}': {reason}")
            }
            Self::InvalidOrgId => write!(
                f,
                "Invalid x-org-id: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            ),
            Self::OrgNotFound(_) => write!(f, "Organization not found"),
            Self::Unauthorized => write!(f, "Unauthorized"),
            Self::RateLimited { .. } => write!(f, "Too Many Requests"),
            Self::AgentNotFound(_) => write!(f, "Agent not found"),
            Self::AgentAlreadyExists(name) => write!(f, "Agent '{name}' already exists"),
            Self::InvalidAgentType(t) => write!(
                f,
                "Invalid agent type '{t}'. Must be one of: project, task, review, deploy, incident, coordinator"
            ),
            Self::InvalidAutonomyLevel => write!(f, "Autonomy level must be between 0 and 5"),
            Self::InvalidAction => {
                write!(f, "Invalid action. Must be one of: suspend, resume, restart, set_autonomy")
            }
            Self::InvalidState(why) => write!(f, "{why}"),
            Self::AgentHasProject { agent, project } => write!(
                f,
                "Agent '{agent}' is the agent of project '{project}'; delete the project instead"
            ),
            Self::ProjectNotFound(_) => write!(f, "Project not found"),
            Self::MissingConfig(what) => write!(f, "{what} is not configured"),
            Self::InvalidRepo(repo) => {
                write!(f, "Invalid repo '{repo}': use owner/name or https://github.com/owner/name")
            }
            Self::RepoNotFound(_) => write!(f, "Repository not found or insufficient permissions"),
            Self::AlreadyLinked(_) => {
                write!(f, "Agent already has a linked project. Unlink first.")
            }
            Self::NotLinked(agent) => write!(f, "Agent '{agent}' has no linked project"),
            Self::ProjectAlreadyExists(repo) => {
                write!(f, "A project for '{repo}' already exists in this organization")
            }
            Self::Upstream(cause) => match cause {
                UpstreamError::Timeout { service } => write!(f, "{service} did not answer in time"),
                UpstreamError::AuthFailed { service, .. } => {
                    write!(f, "{service} rejected the configured credentials")
                }
                UpstreamError::Unreachable { service, .. }
                | UpstreamError::Status { service, .. }
                | UpstreamError::BadAnswer { service, .. } => write!(f, "{service} request failed"),
                UpstreamError::Aborted => write!(f, "Upstream request aborted"),
            },
            Self::MissingHeader(name) => write!(f, "Missing required header {name}"),
            Self::InvalidHeader { name, reason } => write!(f, "Invalid header {name}: {reason}"),
            Self::MissingSignature(header) => write!(f, "Missing {header} header"),
            Self::InvalidSignature => write!(f, "Invalid webhook signature"),
            Self::WebhookSecretNotConfigured(provider) => write!(
                f,
                "{provider} webhook secret not configured. Set the secret or disable WEBHOOK_STRICT_MODE."
            ),
            Self::MissingOrgId => write!(f, "The x-org-id header is required for this endpoint"),
            Self::InvalidChannel(valid) => write!(f, "Invalid channel. Must be one of: {valid}"),
            Self::RouteAlreadyExists(id) => write!(
                f,
                "A route with the same eventType, channel, channelId and projectId already exists ({id})"
            ),
            Self::RouteNotFound(_) => write!(f, "Channel route not found"),
            Self::ChannelNotFound(name) => write!(
                f,
                "Channel '{name}' not found. Valid channels: whatsapp, slack, discord, telegram"
            ),
            Self::ChannelDisabled(name) => write!(
                f,
                "Channel '{name}' is not configured. Configure it with POST /api/channels/configure."
            ),
            Self::DeliveryNotFound(_) => write!(f, "Delivery not found"),
            Self::ApprovalNotFound(_) => write!(f, "Approval request not found"),
            Self::ApprovalExpired(token) => write!(f, "Approval request '{token}' has expired"),
            Self::InvalidIntegration(valid) => {
                write!(f, "Invalid integration. Must be one of: {valid}")
            }
            Self::IntegrationNotConfigured(name) => {
                write!(f, "{name} integration is not configured")
            }
            Self::IncidentNotFound(_) => write!(f, "Incident not found"),
            Self::UnknownLabel(name) => write!(f, "Unknown label '{name}' for this team"),
            Self::ApiKeyExists(name) => write!(f, "An API key named '{name}' already exists"),
            Self::Spike { message, .. } => write!(f, "{message}"),
            Self::Potpie { body, .. } => write!(f, "{body}"),
            Self::ApiKeyNotFound(what) => write!(f, "No active API key named or prefixed '{what}'"),
            Self::InvalidSchedule(why) => write!(f, "{why}"),
            Self::TaskAlreadyExists(name) => write!(f, "Task '{name}' already exists"),
            Self::TaskNotFound(_) => write!(f, "Task not found"),
            Self::TaskRunning(name) => {
                write!(f, "Task '{name}' is running; wait for the run to finish")
            }
            Self::OrgAlreadyExists(slug) => {
                write!(f, "Organization with slug '{slug}' already exists")
            }
            Self::FieldTooLarge { field, limit } => {
                write!(f, "Field '{field}' exceeds the limit of {limit} bytes")
            }
            Self::IdentityAlreadyExists { account, identity } => {
                write!(f, "Account '{account}' is already linked to identity '{identity}'")
            }
            Self::ShuttingDown => write!(f, "Server is shutting down; retry shortly"),
            Self::Internal(_) => write!(f, "Internal server error"),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<SearchError> for ApiError {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::InvalidQuery(reason) => Self::InvalidParameter { name: "q", reason },
            SearchError::TooDeep { max } => Self::InvalidParameter {
                name: "page",
                reason: format!(
                    "filtered and full-text searches page at most {max} results deep; page the audit trail further with before=<seq>"
                ),
            },
            SearchError::Store(e) => e.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<UpstreamError> for ApiError {
    fn from(e: UpstreamError) -> Self {
        Self::Upstream(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::WriterStopped => Self::ShuttingDown,
            other => Self::Internal(other.to_string()),
        }
    }
}
