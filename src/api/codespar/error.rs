//! The CodeSpar API's error enum, and the one place its errors become HTTP responses
//! (docs/API.md §1.3: `{"error","code","status"}`, `details` for upstream failures).

use std::fmt;

use serde_json::Value;

use crate::api::Response;
use crate::api::body::InputError;
use crate::api::error::{RequestError, body_of};
use crate::api::scope::ScopeError;
use crate::search::SearchError;
use crate::upstream::UpstreamError;

#[derive(Debug)]
pub enum ApiError {
    /// Routing, transport and failures on our side.
    Request(RequestError),
    // Request shape (docs/API.md §1.2).
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
    /// A header the endpoint reads (`Last-Event-ID`) is malformed.
    InvalidHeader {
        name: &'static str,
        reason: String,
    },
    InvalidOrgId,
    OrgNotFound(String),
    /// An org token used beyond its org (docs/API.md §1.4).
    Forbidden(ScopeError),
    // Agents (docs/API.md §2.2).
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
    // Projects and GitHub (docs/API.md §2.7).
    MissingConfig(&'static str),
    InvalidRepo(String),
    RepoNotFound(String),
    AlreadyLinked(String),
    NotLinked(String),
    ProjectAlreadyExists(String),
    /// An org token linking a repository another org has a project for.
    RepoInAnotherOrg(String),
    /// An upstream service failed: 502 `UPSTREAM_ERROR` / `UPSTREAM_AUTH_FAILED`, 504
    /// `UPSTREAM_TIMEOUT`, with the upstream's answer as `details`.
    Upstream(UpstreamError),
    // Routes, channels, deliveries, approvals (docs/API.md §2.8 to §2.11).
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
    // Integrations (docs/API.md §2.13).
    /// The integrations that can be configured, for the message.
    InvalidIntegration(&'static str),
    /// The integration's display name ("PagerDuty").
    IntegrationNotConfigured(&'static str),
    IncidentNotFound(String),
    UnknownLabel(String),
    // Scheduler (docs/API.md §2.15).
    InvalidSchedule(String),
    TaskAlreadyExists(String),
    TaskNotFound(String),
    TaskRunning(String),
    /// The org has as many tasks as it may.
    TooManyTasks(usize),
    /// The org has as many channel routes as it may.
    TooManyRoutes(usize),
    /// Another audit verification is under way (one runs at a time).
    VerificationRunning,
    // Orgs, memory and identity (docs/API.md §2.3, §2.5, §2.6).
    OrgAlreadyExists(String),
    /// CodeSpar's `POST /api/orgs {"id"}` named an org that exists.
    OrgIdTaken(String),
    FieldTooLarge {
        field: &'static str,
        limit: usize,
    },
    IdentityAlreadyExists {
        account: String,
        identity: String,
    },
    // Agent cards and A2A tasks (docs/API.md §2.17).
    AgentTypeNotFound(String),
    UnknownSkill(String),
    TaskNotCancellable {
        id: String,
        status: &'static str,
    },
    /// No agent can take a task of this type, and none may be spawned for it.
    NoAgentAvailable(String),
}

impl ApiError {
    /// A failure on our side; the cause goes to the log, never to the client.
    pub fn internal(cause: impl Into<String>) -> Self {
        Self::Request(RequestError::Internal(cause.into()))
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::Request(e) => e.status(),
            Self::OrgNotFound(_)
            | Self::AgentNotFound(_)
            | Self::ProjectNotFound(_)
            | Self::RepoNotFound(_)
            | Self::NotLinked(_)
            | Self::RouteNotFound(_)
            | Self::ChannelNotFound(_)
            | Self::DeliveryNotFound(_)
            | Self::ApprovalNotFound(_)
            | Self::IncidentNotFound(_)
            | Self::TaskNotFound(_)
            | Self::AgentTypeNotFound(_) => 404,
            Self::ApprovalExpired(_) => 410,
            Self::Forbidden(_) => 403,
            Self::FieldTooLarge { .. } => 413,
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
            | Self::InvalidHeader { .. }
            | Self::MissingOrgId
            | Self::InvalidChannel(_)
            | Self::ChannelDisabled(_)
            | Self::InvalidIntegration(_)
            | Self::IntegrationNotConfigured(_)
            | Self::UnknownLabel(_)
            | Self::InvalidSchedule(_)
            | Self::UnknownSkill(_) => 400,
            Self::AgentAlreadyExists(_)
            | Self::InvalidState(_)
            | Self::AgentHasProject { .. }
            | Self::OrgAlreadyExists(_)
            | Self::OrgIdTaken(_)
            | Self::IdentityAlreadyExists { .. }
            | Self::AlreadyLinked(_)
            | Self::ProjectAlreadyExists(_)
            | Self::RepoInAnotherOrg(_)
            | Self::RouteAlreadyExists(_)
            | Self::TaskAlreadyExists(_)
            | Self::TaskRunning(_)
            | Self::TooManyTasks(_)
            | Self::VerificationRunning
            | Self::TooManyRoutes(_)
            | Self::TaskNotCancellable { .. }
            | Self::NoAgentAvailable(_) => 409,
            Self::Upstream(UpstreamError::Timeout { .. }) => 504,
            Self::Upstream(_) => 502,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Request(e) => e.code(),
            Self::FieldTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            Self::InvalidJson(_) => "INVALID_JSON",
            Self::InvalidField { .. } => "INVALID_FIELD",
            Self::MissingField(_) => "MISSING_FIELD",
            Self::InvalidParameter { .. } => "INVALID_PARAMETER",
            Self::InvalidOrgId => "INVALID_ORG_ID",
            Self::OrgNotFound(_) => "ORG_NOT_FOUND",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::InvalidHeader { .. } => "INVALID_HEADER",
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
            Self::RepoInAnotherOrg(_) => "REPO_IN_ANOTHER_ORG",
            Self::Upstream(UpstreamError::Timeout { .. }) => "UPSTREAM_TIMEOUT",
            Self::Upstream(UpstreamError::AuthFailed { .. }) => "UPSTREAM_AUTH_FAILED",
            Self::Upstream(_) => "UPSTREAM_ERROR",
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
            Self::InvalidSchedule(_) => "INVALID_SCHEDULE",
            Self::TaskAlreadyExists(_) => "TASK_ALREADY_EXISTS",
            Self::TaskNotFound(_) => "TASK_NOT_FOUND",
            Self::TaskRunning(_) => "TASK_RUNNING",
            Self::TooManyTasks(_) => "TOO_MANY_TASKS",
            Self::VerificationRunning => "VERIFICATION_RUNNING",
            Self::TooManyRoutes(_) => "TOO_MANY_ROUTES",
            Self::OrgAlreadyExists(_) | Self::OrgIdTaken(_) => "ORG_ALREADY_EXISTS",
            Self::IdentityAlreadyExists { .. } => "IDENTITY_ALREADY_EXISTS",
            Self::AgentTypeNotFound(_) => "AGENT_TYPE_NOT_FOUND",
            Self::UnknownSkill(_) => "UNKNOWN_SKILL",
            Self::TaskNotCancellable { .. } => "TASK_NOT_CANCELLABLE",
            Self::NoAgentAvailable(_) => "NO_AGENT_AVAILABLE",
        }
    }

    /// Builds the response. 5xx causes are logged here with the request id, and only here.
    pub fn into_response(self, request_id: &str) -> Response {
        let status = self.status();
        if let Self::Upstream(cause) = &self {
            tracing::warn!(request_id, error = %cause, "upstream call failed");
        }
        match self {
            Self::Request(e) => e.into_response(request_id),
            other => {
                let mut body = body_of(status, other.code(), other.to_string());
                if let Self::Upstream(cause) = &other {
                    body["details"] = Value::from(cause.to_string());
                }
                Response::json(status, &body)
            }
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Request(e) => write!(f, "{e}"),
            Self::InvalidJson(detail) => write!(f, "Malformed JSON: {detail}"),
            Self::InvalidField { field, reason } => write!(f, "Invalid field '{field}': {reason}"),
            Self::MissingField(field) => write!(f, "Missing required field '{field}'"),
            Self::InvalidParameter { name, reason } => {
                write!(f, "Invalid query parameter '{name}': {reason}")
            }
            Self::InvalidHeader { name, reason } => write!(f, "Invalid header {name}: {reason}"),
            Self::InvalidOrgId => write!(f, "{}", ScopeError::InvalidOrgId),
            Self::OrgNotFound(_) => write!(f, "Organization not found"),
            Self::Forbidden(why) => write!(f, "{why}"),
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
            Self::RepoInAnotherOrg(repo) => write!(
                f,
                "'{repo}' is linked in another organization; only the operator token can link it here"
            ),
            Self::ProjectAlreadyExists(repo) => {
                write!(f, "A project for '{repo}' already exists in this organization")
            }
            Self::Upstream(cause) => match cause {
                UpstreamError::Timeout { service } => write!(f, "{service} did not answer in time"),
                UpstreamError::AuthFailed { service, .. } => {
                    write!(f, "{service} rejected the configured credentials")
                }
                UpstreamError::Refused { service, reason } => {
                    write!(f, "{service} was not called: {reason}")
                }
                UpstreamError::Unreachable { service, .. }
                | UpstreamError::Status { service, .. }
                | UpstreamError::BadAnswer { service, .. } => write!(f, "{service} request failed"),
                UpstreamError::Aborted => write!(f, "Upstream request aborted"),
            },
            Self::MissingOrgId => write!(f, "{}", ScopeError::MissingOrgId),
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
            Self::InvalidSchedule(why) => write!(f, "{why}"),
            Self::TaskAlreadyExists(name) => write!(f, "Task '{name}' already exists"),
            Self::TaskNotFound(_) => write!(f, "Task not found"),
            Self::TooManyRoutes(max) => {
                write!(f, "This organization already has {max} routes: delete one first")
            }
            Self::VerificationRunning => {
                write!(f, "An audit verification is running; retry when it has finished")
            }
            Self::TooManyTasks(max) => {
                write!(f, "This organization already has {max} tasks: delete one first")
            }
            Self::TaskRunning(name) => {
                write!(f, "Task '{name}' is running; wait for the run to finish")
            }
            Self::OrgAlreadyExists(slug) => {
                write!(f, "Organization with slug '{slug}' already exists")
            }
            Self::OrgIdTaken(id) => write!(f, "Organization '{id}' already exists"),
            Self::FieldTooLarge { field, limit } => {
                write!(f, "Field '{field}' exceeds the limit of {limit} bytes")
            }
            Self::IdentityAlreadyExists { account, identity } => {
                write!(f, "Account '{account}' is already linked to identity '{identity}'")
            }
            Self::AgentTypeNotFound(t) => write!(f, "No agent card found for type '{t}'"),
            Self::UnknownSkill(skill) => {
                let ids: Vec<&str> = crate::store::records::SKILLS.iter().map(|s| s.id).collect();
                write!(f, "Unknown skill '{skill}'. Available skills: {}", ids.join(", "))
            }
            Self::TaskNotCancellable { id, status } => {
                write!(f, "Task '{id}' cannot be cancelled (status: {status})")
            }
            Self::NoAgentAvailable(why) => write!(f, "{why}"),
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
                    "pages reach at most {max} results deep (the audit trail pages further with before=<seq>)"
                ),
            },
            other => Self::Request(other.into()),
        }
    }
}

impl From<UpstreamError> for ApiError {
    fn from(e: UpstreamError) -> Self {
        Self::Upstream(e)
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        Self::Request(e)
    }
}

impl From<InputError> for ApiError {
    fn from(e: InputError) -> Self {
        match e {
            InputError::InvalidJson(detail) => Self::InvalidJson(detail),
            InputError::InvalidField { field, reason } => Self::InvalidField { field, reason },
            InputError::MissingField(field) => Self::MissingField(field),
            InputError::InvalidParameter { name, reason } => {
                Self::InvalidParameter { name, reason }
            }
        }
    }
}

impl From<ScopeError> for ApiError {
    fn from(e: ScopeError) -> Self {
        match e {
            ScopeError::InvalidOrgId => Self::InvalidOrgId,
            ScopeError::OrgNotFound(org) => Self::OrgNotFound(org),
            ScopeError::MissingOrgId => Self::MissingOrgId,
            e @ (ScopeError::Forbidden { .. } | ScopeError::OperatorOnly { .. }) => {
                Self::Forbidden(e)
            }
            ScopeError::Store(e) => e.into(),
        }
    }
}
