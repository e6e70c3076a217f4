//! The router: a plain `match` over method and path segments into [`Endpoint`].
//!
//! Every route is also served under `/v1` (contract 2.1); a trailing slash is tolerated.
//!
//! | method | path | endpoint |
//! |---|---|---|
//! | GET | `/health` | [`Endpoint::Health`] |
//! | GET | `/metrics` (Prometheus text) | [`Endpoint::Metrics`] |
//! | GET | `/openapi.json` | [`Endpoint::OpenApi`] |
//! | GET | `/api/metrics` | [`Endpoint::ApiMetrics`] |
//! | GET, POST | `/api/scheduler` | [`Endpoint::ListTasks`], [`Endpoint::CreateTask`] |
//! | DELETE | `/api/scheduler/:name` | [`Endpoint::DeleteTask`] |
//! | POST | `/api/scheduler/:name/pause`, `/resume`, `/run` | [`Endpoint::PauseTask`], [`Endpoint::ResumeTask`], [`Endpoint::RunTask`] |
//! | GET | `/api/agent-types` | [`Endpoint::AgentTypes`] |
//! | GET, POST | `/api/agents` | [`Endpoint::ListAgents`], [`Endpoint::CreateAgent`] |
//! | GET, DELETE | `/api/agents/:id` | [`Endpoint::GetAgent`], [`Endpoint::DeleteAgent`] |
//! | POST | `/api/agents/:id/action` | [`Endpoint::AgentAction`] |
//! | GET, POST | `/api/orgs` | [`Endpoint::ListOrgs`], [`Endpoint::CreateOrg`] |
//! | GET | `/api/orgs/:id` | [`Endpoint::GetOrg`] |
//! | GET | `/api/audit` | [`Endpoint::ListAudit`] |
//! | GET | `/api/audit/verify` | [`Endpoint::VerifyAudit`] |
//! | GET, POST | `/api/memory` | [`Endpoint::MemoryStats`], [`Endpoint::AddMemory`] |
//! | GET | `/api/memory/search` | [`Endpoint::SearchMemory`] |
//! | GET, POST | `/api/identity` | [`Endpoint::GetIdentity`], [`Endpoint::RegisterIdentity`] |
//! | GET | `/api/project?agentId=` | [`Endpoint::GetProjectLink`] |
//! | POST, DELETE | `/api/project/link` | [`Endpoint::LinkProject`], [`Endpoint::UnlinkProject`] |
//! | GET, POST | `/api/projects` | [`Endpoint::ListProjects`], [`Endpoint::CreateProject`] |
//! | GET, DELETE | `/api/projects/:id` | [`Endpoint::GetProject`], [`Endpoint::DeleteProject`] |
//! | POST | `/webhooks/github` | [`Endpoint::GithubWebhook`] |
//! | GET, POST | `/api/channel-routes` | [`Endpoint::ListRoutes`], [`Endpoint::CreateRoute`] |
//! | DELETE | `/api/channel-routes/:id` | [`Endpoint::DeleteRoute`] |
//! | GET | `/api/channels` | [`Endpoint::ListChannels`] |
//! | POST | `/api/channels/configure` | [`Endpoint::ConfigureChannel`] |
//! | POST | `/api/channels/:name/reconnect` | [`Endpoint::ReconnectChannel`] |
//! | GET | `/api/deliveries` | [`Endpoint::ListDeliveries`] |
//! | POST | `/api/deliveries/:id/retry` | [`Endpoint::RetryDelivery`] |
//! | GET, POST | `/api/approvals/:token` | [`Endpoint::GetApproval`], [`Endpoint::VoteApproval`] |
//! | GET | `/api/events`, `/api/events/stream` | [`Endpoint::EventStream`] |
//! | GET | `/api/integrations/status` | [`Endpoint::IntegrationStatus`] |
//! | POST | `/api/integrations/configure` | [`Endpoint::ConfigureIntegration`] |
//! | GET | `/api/integrations/pagerduty/oncall` | [`Endpoint::PagerDutyOnCall`] |
//! | GET | `/api/integrations/pagerduty/incidents` | [`Endpoint::PagerDutyIncidents`] |
//! | POST | `/api/integrations/pagerduty/incidents/:id/acknowledge` | [`Endpoint::PagerDutyAcknowledge`] |
//! | GET | `/api/integrations/linear/teams` | [`Endpoint::LinearTeams`] |
//! | GET, POST | `/api/integrations/linear/issues` | [`Endpoint::LinearIssues`], [`Endpoint::LinearCreateIssue`] |
//! | GET | `/api/integrations/sentry/issues` | [`Endpoint::SentryIssues`] |
//! | POST | `/webhooks/sentry`, `/api/webhooks/sentry` | [`Endpoint::SentryWebhook`] |
//! | GET | `/api/observability/incidents` | [`Endpoint::ListIncidents`] |
//! | POST | `/api/observability/incidents/:id/acknowledge` | [`Endpoint::AcknowledgeIncident`] |
//! | GET | `/integrations/available` (Spike dialect) | [`Endpoint::SpikeAvailable`] |
//! | POST | `/integrations/create` (Spike) | [`Endpoint::SpikeCreate`] |
//! | GET | `/integrations` (Spike) | [`Endpoint::SpikeList`] |
//! | GET | `/integrations/:token` (Spike) | [`Endpoint::SpikeGet`] |
//! | DELETE | `/integrations/:token/archive` (Spike) | [`Endpoint::SpikeArchive`] |
//! | POST | `/ingest/:token`, `/:token/push-events` (Spike ingest) | [`Endpoint::SpikeIngest`] |
//! | POST | `/api/v2/integrations/save`, `/api/v1/integrations/save` (Potpie) | [`Endpoint::PotpieSave`] |
//! | POST | `/api/v1/integrations/create` (Potpie) | [`Endpoint::PotpieCreate`] |
//! | GET | `/api/v1/integrations/connected`, `/list` (Potpie) | [`Endpoint::PotpieConnected`], [`Endpoint::PotpieList`] |
//! | GET, DELETE | `/api/v1/integrations/:id` (Potpie) | [`Endpoint::PotpieGet`], [`Endpoint::PotpieDelete`] |
//! | PATCH | `/api/v1/integrations/:id/status?active=` (Potpie) | [`Endpoint::PotpieStatus`] |
//! | GET | `/api/v1/integrations/schema/list` (Potpie) | [`Endpoint::PotpieSchemaList`] |
//! | GET, PUT, DELETE | `/api/v1/integrations/schema/:id` (Potpie) | [`Endpoint::PotpieSchemaGet`], [`Endpoint::PotpieSchemaPut`], [`Endpoint::PotpieSchemaDelete`] |
//! | GET, POST | `/admin/api-keys` (admin listener only) | [`Endpoint::AdminListKeys`], [`Endpoint::AdminCreateKey`] |
//! | DELETE | `/admin/api-keys/:name-or-prefix` (admin listener only) | [`Endpoint::AdminRevokeKey`] |
//! | POST | `/admin/backup` (admin listener only) | [`Endpoint::AdminBackup`] |
//!
//! Paths are matched segment by segment after percent-decoding. Empty segments (`//api`) and
//! dot segments (`/api/../api`) match nothing: Spar never resolves them.

use super::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    Other,
}

impl Method {
    pub fn parse(s: &str) -> Self {
        match s {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "PATCH" => Self::Patch,
            "DELETE" => Self::Delete,
            "OPTIONS" => Self::Options,
            _ => Self::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
            Self::Other => "OTHER",
        }
    }

    /// Methods whose requests carry a JSON body (contract 2.2).
    pub fn has_body(self) -> bool {
        matches!(self, Self::Post | Self::Put | Self::Patch)
    }
}

/// Declares [`Endpoint`], its [`Endpoint::name`] and [`Endpoint::NAMES`] from one list, so a new
/// endpoint cannot be left out of the names (which metrics and the OpenAPI document use).
macro_rules! endpoints {
    ($( $variant:ident $(($arg:ty))? => $name:literal, )*) => {
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Endpoint {
            $( $variant $(($arg))?, )*
        }

        impl Endpoint {
            /// Every endpoint's stable name, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$( $name ),*];

            /// A stable name for logs, metrics and the OpenAPI document's `operationId`.
            pub fn name(&self) -> &'static str {
                match self {
                    $( endpoints!(@pattern $variant $(($arg))?) => $name, )*
                }
            }
        }
    };
    (@pattern $variant:ident ($arg:ty)) => { Self::$variant(_) };
    (@pattern $variant:ident) => { Self::$variant };
}

endpoints! {
    Health => "health",
    AgentTypes => "agent_types",
    ListAgents => "list_agents",
    CreateAgent => "create_agent",
    GetAgent(String) => "get_agent",
    DeleteAgent(String) => "delete_agent",
    AgentAction(String) => "agent_action",
    ListOrgs => "list_orgs",
    CreateOrg => "create_org",
    GetOrg(String) => "get_org",
    ListAudit => "list_audit",
    VerifyAudit => "verify_audit",
    MemoryStats => "memory_stats",
    AddMemory => "add_memory",
    SearchMemory => "search_memory",
    GetIdentity => "get_identity",
    RegisterIdentity => "register_identity",
    GetProjectLink => "get_project_link",
    LinkProject => "link_project",
    UnlinkProject => "unlink_project",
    ListProjects => "list_projects",
    CreateProject => "create_project",
    GetProject(String) => "get_project",
    DeleteProject(String) => "delete_project",
    GithubWebhook => "github_webhook",
    ListRoutes => "list_routes",
    CreateRoute => "create_route",
    DeleteRoute(String) => "delete_route",
    ListChannels => "list_channels",
    ConfigureChannel => "configure_channel",
    ReconnectChannel(String) => "reconnect_channel",
    ListDeliveries => "list_deliveries",
    RetryDelivery(String) => "retry_delivery",
    GetApproval(String) => "get_approval",
    VoteApproval(String) => "vote_approval",
    EventStream => "event_stream",
    IntegrationStatus => "integration_status",
    ConfigureIntegration => "configure_integration",
    PagerDutyOnCall => "pagerduty_oncall",
    PagerDutyIncidents => "pagerduty_incidents",
    PagerDutyAcknowledge(String) => "pagerduty_acknowledge",
    LinearTeams => "linear_teams",
    LinearIssues => "linear_issues",
    LinearCreateIssue => "linear_create_issue",
    SentryIssues => "sentry_issues",
    SentryWebhook => "sentry_webhook",
    ListIncidents => "list_incidents",
    AcknowledgeIncident(String) => "acknowledge_incident",
    AdminCreateKey => "admin_create_key",
    AdminListKeys => "admin_list_keys",
    AdminRevokeKey(String) => "admin_revoke_key",
    SpikeAvailable => "spike_available",
    SpikeCreate => "spike_create",
    SpikeList => "spike_list",
    SpikeGet(String) => "spike_get",
    SpikeArchive(String) => "spike_archive",
    SpikeIngest(String) => "spike_ingest",
    PotpieSave => "potpie_save",
    PotpieCreate => "potpie_create",
    PotpieConnected => "potpie_connected",
    PotpieList => "potpie_list",
    PotpieGet(String) => "potpie_get",
    PotpieDelete(String) => "potpie_delete",
    PotpieStatus(String) => "potpie_status",
    PotpieSchemaList => "potpie_schema_list",
    PotpieSchemaGet(String) => "potpie_schema_get",
    PotpieSchemaPut(String) => "potpie_schema_put",
    PotpieSchemaDelete(String) => "potpie_schema_delete",
    Metrics => "metrics",
    ApiMetrics => "api_metrics",
    OpenApi => "openapi",
    ListTasks => "list_tasks",
    CreateTask => "create_task",
    PauseTask(String) => "pause_task",
    ResumeTask(String) => "resume_task",
    RunTask(String) => "run_task",
    DeleteTask(String) => "delete_task",
    AdminBackup => "admin_backup",
}

impl Endpoint {
    /// Largest body this endpoint accepts (contract 2.2: webhooks 5 MiB, the rest 1 MiB).
    pub fn body_limit(&self) -> usize {
        if self.is_webhook() { 5 * 1024 * 1024 } else { 1024 * 1024 }
    }

    /// Inbound webhooks: they read their own headers (event, delivery, signature) and take
    /// form-encoded bodies as well as JSON (GitHub sends either).
    pub fn is_webhook(&self) -> bool {
        matches!(self, Self::GithubWebhook | Self::SentryWebhook | Self::SpikeIngest(_))
    }

    /// The integration endpoints of seed 000 need `x-org-id` (contract 2.4).
    pub fn needs_org_header(&self) -> bool {
        matches!(
            self,
            Self::ListRoutes
                | Self::CreateRoute
                | Self::DeleteRoute(_)
                | Self::IntegrationStatus
                | Self::ConfigureIntegration
                | Self::PagerDutyOnCall
                | Self::PagerDutyIncidents
                | Self::PagerDutyAcknowledge(_)
                | Self::LinearTeams
                | Self::LinearIssues
                | Self::LinearCreateIssue
                | Self::SentryIssues
        )
    }

    /// The Potpie dialect's routes (`x-api-key`, never the bearer token).
    pub fn is_potpie(&self) -> bool {
        matches!(
            self,
            Self::PotpieSave
                | Self::PotpieCreate
                | Self::PotpieConnected
                | Self::PotpieList
                | Self::PotpieGet(_)
                | Self::PotpieDelete(_)
                | Self::PotpieStatus(_)
                | Self::PotpieSchemaList
                | Self::PotpieSchemaGet(_)
                | Self::PotpieSchemaPut(_)
                | Self::PotpieSchemaDelete(_)
        )
    }

    /// Endpoints that read request headers beyond the common ones: webhooks, and the event
    /// stream (`Last-Event-ID`).
    pub fn reads_headers(&self) -> bool {
        self.is_webhook()
            || matches!(
                self,
                Self::EventStream
                    | Self::SpikeAvailable
                    | Self::SpikeCreate
                    | Self::SpikeList
                    | Self::SpikeGet(_)
                    | Self::SpikeArchive(_)
            )
            || self.is_potpie()
    }
}

/// Which family a path belongs to: decides authentication and the rate-limit bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathClass {
    Api,
    Webhook,
    /// `/admin/*`: served only by the loopback admin listener, with its token.
    Admin,
    /// Potpie's `/api/v1/integrations/*` and `/api/v2/integrations/*`: `x-api-key` instead of
    /// the bearer token, the API's rate limit.
    Potpie,
    Other,
}

/// A request path split into decoded segments, `/v1` removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub segments: Vec<String>,
}

impl Path {
    /// Splits a raw request path. `None` when it can never name a route.
    pub fn parse(raw: &str) -> Option<Self> {
        let rest = raw.strip_prefix('/')?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let mut segments = Vec::new();
        if !rest.is_empty() {
            for seg in rest.split('/') {
                if seg.is_empty() || seg == "." || seg == ".." {
                    return None;
                }
                segments.push(super::body::percent_decode(seg, false));
            }
        }
        if segments.first().is_some_and(|s| s == "v1") {
            segments.remove(0);
            // The agent card is served without the prefix only.
            if segments.first().is_some_and(|s| s == ".well-known") {
                return None;
            }
        }
        Some(Self { segments })
    }

    pub fn class(&self) -> PathClass {
        let seg = |i: usize| self.segments.get(i).map(String::as_str);
        if seg(0) == Some("api")
            && matches!(seg(1), Some("v1" | "v2"))
            && seg(2) == Some("integrations")
        {
            return PathClass::Potpie;
        }
        match self.segments.first().map(String::as_str) {
            Some("api") => PathClass::Api,
            Some("webhooks" | "ingest") => PathClass::Webhook,
            _ if self.segments.len() == 2 && self.segments[1] == "push-events" => {
                PathClass::Webhook
            }
            Some("admin") => PathClass::Admin,
            _ => PathClass::Other,
        }
    }
}

/// Maps method and path to an endpoint; `HEAD` routes like `GET`.
pub fn route(method: Method, path: &Path) -> Result<Endpoint, ApiError> {
    use Method::{Delete, Get, Head, Patch, Post, Put};
    let segs: Vec<&str> = path.segments.iter().map(String::as_str).collect();
    let method = if method == Head { Get } else { method };
    let (endpoint, allowed): (Option<Endpoint>, &'static [Method]) = match segs.as_slice() {
        ["health"] => (matches!(method, Get).then_some(Endpoint::Health), &[Get, Head]),
        ["metrics"] => (matches!(method, Get).then_some(Endpoint::Metrics), &[Get, Head]),
        ["openapi.json"] => (matches!(method, Get).then_some(Endpoint::OpenApi), &[Get, Head]),
        ["api", "metrics"] => (matches!(method, Get).then_some(Endpoint::ApiMetrics), &[Get, Head]),
        ["api", "scheduler"] => (
            match method {
                Get => Some(Endpoint::ListTasks),
                Post => Some(Endpoint::CreateTask),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["api", "scheduler", name] => {
            (matches!(method, Delete).then(|| Endpoint::DeleteTask((*name).to_owned())), &[Delete])
        }
        ["api", "scheduler", name, verb @ ("pause" | "resume" | "run")] => {
            let name = (*name).to_owned();
            let endpoint = match *verb {
                "pause" => Endpoint::PauseTask(name),
                "resume" => Endpoint::ResumeTask(name),
                _ => Endpoint::RunTask(name),
            };
            (matches!(method, Post).then_some(endpoint), &[Post])
        }
        ["admin", "backup"] => (matches!(method, Post).then_some(Endpoint::AdminBackup), &[Post]),
        ["api", "agent-types"] => {
            (matches!(method, Get).then_some(Endpoint::AgentTypes), &[Get, Head])
        }
        ["api", "agents"] => (
            match method {
                Get => Some(Endpoint::ListAgents),
                Post => Some(Endpoint::CreateAgent),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["api", "agents", id] => (
            match method {
                Get => Some(Endpoint::GetAgent((*id).to_owned())),
                Delete => Some(Endpoint::DeleteAgent((*id).to_owned())),
                _ => None,
            },
            &[Get, Head, Delete],
        ),
        ["api", "agents", id, "action"] => {
            (matches!(method, Post).then(|| Endpoint::AgentAction((*id).to_owned())), &[Post])
        }
        ["api", "orgs"] => (
            match method {
                Get => Some(Endpoint::ListOrgs),
                Post => Some(Endpoint::CreateOrg),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["api", "orgs", id] => {
            (matches!(method, Get).then(|| Endpoint::GetOrg((*id).to_owned())), &[Get, Head])
        }
        ["api", "audit"] => (matches!(method, Get).then_some(Endpoint::ListAudit), &[Get, Head]),
        ["api", "audit", "verify"] => {
            (matches!(method, Get).then_some(Endpoint::VerifyAudit), &[Get, Head])
        }
        ["api", "memory"] => (
            match method {
                Get => Some(Endpoint::MemoryStats),
                Post => Some(Endpoint::AddMemory),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["api", "memory", "search"] => {
            (matches!(method, Get).then_some(Endpoint::SearchMemory), &[Get, Head])
        }
        ["api", "identity"] => (
            match method {
                Get => Some(Endpoint::GetIdentity),
                Post => Some(Endpoint::RegisterIdentity),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["api", "project"] => {
            (matches!(method, Get).then_some(Endpoint::GetProjectLink), &[Get, Head])
        }
        ["api", "project", "link"] => (
            match method {
                Post => Some(Endpoint::LinkProject),
                Delete => Some(Endpoint::UnlinkProject),
                _ => None,
            },
            &[Post, Delete],
        ),
        ["api", "projects"] => (
            match method {
                Get => Some(Endpoint::ListProjects),
                Post => Some(Endpoint::CreateProject),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["api", "projects", id] => (
            match method {
                Get => Some(Endpoint::GetProject((*id).to_owned())),
                Delete => Some(Endpoint::DeleteProject((*id).to_owned())),
                _ => None,
            },
            &[Get, Head, Delete],
        ),
        ["webhooks", "github"] => {
            (matches!(method, Post).then_some(Endpoint::GithubWebhook), &[Post])
        }
        ["api", "channel-routes"] => (
            match method {
                Get => Some(Endpoint::ListRoutes),
                Post => Some(Endpoint::CreateRoute),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["api", "channel-routes", id] => {
            (matches!(method, Delete).then(|| Endpoint::DeleteRoute((*id).to_owned())), &[Delete])
        }
        ["api", "channels"] => {
            (matches!(method, Get).then_some(Endpoint::ListChannels), &[Get, Head])
        }
        ["api", "channels", "configure"] => {
            (matches!(method, Post).then_some(Endpoint::ConfigureChannel), &[Post])
        }
        ["api", "channels", name, "reconnect"] => (
            matches!(method, Post).then(|| Endpoint::ReconnectChannel((*name).to_owned())),
            &[Post],
        ),
        ["api", "deliveries"] => {
            (matches!(method, Get).then_some(Endpoint::ListDeliveries), &[Get, Head])
        }
        ["api", "deliveries", id, "retry"] => {
            (matches!(method, Post).then(|| Endpoint::RetryDelivery((*id).to_owned())), &[Post])
        }
        ["api", "approvals", token] => (
            match method {
                Get => Some(Endpoint::GetApproval((*token).to_owned())),
                Post => Some(Endpoint::VoteApproval((*token).to_owned())),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["api", "events"] | ["api", "events", "stream"] => {
            (matches!(method, Get).then_some(Endpoint::EventStream), &[Get, Head])
        }
        ["api", "integrations", "status"] => {
            (matches!(method, Get).then_some(Endpoint::IntegrationStatus), &[Get, Head])
        }
        ["api", "integrations", "configure"] => {
            (matches!(method, Post).then_some(Endpoint::ConfigureIntegration), &[Post])
        }
        ["api", "integrations", "pagerduty", "oncall"] => {
            (matches!(method, Get).then_some(Endpoint::PagerDutyOnCall), &[Get, Head])
        }
        ["api", "integrations", "pagerduty", "incidents"] => {
            (matches!(method, Get).then_some(Endpoint::PagerDutyIncidents), &[Get, Head])
        }
        ["api", "integrations", "pagerduty", "incidents", id, "acknowledge"] => (
            matches!(method, Post).then(|| Endpoint::PagerDutyAcknowledge((*id).to_owned())),
            &[Post],
        ),
        ["api", "integrations", "linear", "teams"] => {
            (matches!(method, Get).then_some(Endpoint::LinearTeams), &[Get, Head])
        }
        ["api", "integrations", "linear", "issues"] => (
            match method {
                Get => Some(Endpoint::LinearIssues),
                Post => Some(Endpoint::LinearCreateIssue),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["api", "integrations", "sentry", "issues"] => {
            (matches!(method, Get).then_some(Endpoint::SentryIssues), &[Get, Head])
        }
        ["api", "v1" | "v2", "integrations", "save"] => {
            (matches!(method, Post).then_some(Endpoint::PotpieSave), &[Post])
        }
        ["api", "v1", "integrations", "create"] => {
            (matches!(method, Post).then_some(Endpoint::PotpieCreate), &[Post])
        }
        ["api", "v1", "integrations", "connected"] => {
            (matches!(method, Get).then_some(Endpoint::PotpieConnected), &[Get, Head])
        }
        ["api", "v1", "integrations", "list"] => {
            (matches!(method, Get).then_some(Endpoint::PotpieList), &[Get, Head])
        }
        ["api", "v1", "integrations", "schema", "list"] => {
            (matches!(method, Get).then_some(Endpoint::PotpieSchemaList), &[Get, Head])
        }
        ["api", "v1", "integrations", "schema", id] => (
            match method {
                Get => Some(Endpoint::PotpieSchemaGet((*id).to_owned())),
                Put => Some(Endpoint::PotpieSchemaPut((*id).to_owned())),
                Delete => Some(Endpoint::PotpieSchemaDelete((*id).to_owned())),
                _ => None,
            },
            &[Get, Head, Put, Delete],
        ),
        ["api", "v1", "integrations", id, "status"] => {
            (matches!(method, Patch).then(|| Endpoint::PotpieStatus((*id).to_owned())), &[Patch])
        }
        ["api", "v1", "integrations", id] => (
            match method {
                Get => Some(Endpoint::PotpieGet((*id).to_owned())),
                Delete => Some(Endpoint::PotpieDelete((*id).to_owned())),
                _ => None,
            },
            &[Get, Head, Delete],
        ),
        ["integrations", "available"] => {
            (matches!(method, Get).then_some(Endpoint::SpikeAvailable), &[Get, Head])
        }
        ["integrations", "create"] => {
            (matches!(method, Post).then_some(Endpoint::SpikeCreate), &[Post])
        }
        ["integrations"] => (matches!(method, Get).then_some(Endpoint::SpikeList), &[Get, Head]),
        ["integrations", token] => {
            (matches!(method, Get).then(|| Endpoint::SpikeGet((*token).to_owned())), &[Get, Head])
        }
        ["integrations", token, "archive"] => (
            matches!(method, Delete).then(|| Endpoint::SpikeArchive((*token).to_owned())),
            &[Delete],
        ),
        ["ingest", token] | [token, "push-events"] => {
            (matches!(method, Post).then(|| Endpoint::SpikeIngest((*token).to_owned())), &[Post])
        }
        ["admin", "api-keys"] => (
            match method {
                Get => Some(Endpoint::AdminListKeys),
                Post => Some(Endpoint::AdminCreateKey),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["admin", "api-keys", key] => (
            matches!(method, Delete).then(|| Endpoint::AdminRevokeKey((*key).to_owned())),
            &[Delete],
        ),
        ["webhooks", "sentry"] | ["api", "webhooks", "sentry"] => {
            (matches!(method, Post).then_some(Endpoint::SentryWebhook), &[Post])
        }
        ["api", "observability", "incidents"] => {
            (matches!(method, Get).then_some(Endpoint::ListIncidents), &[Get, Head])
        }
        ["api", "observability", "incidents", id, "acknowledge"] => (
            matches!(method, Post).then(|| Endpoint::AcknowledgeIncident((*id).to_owned())),
            &[Post],
        ),
        _ => return Err(ApiError::NotFound),
    };
    endpoint.ok_or(ApiError::MethodNotAllowed(allowed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(method: &str, path: &str) -> Result<Endpoint, ApiError> {
        let path = Path::parse(path).ok_or(ApiError::NotFound)?;
        route(Method::parse(method), &path)
    }

    #[test]
    fn matches_routes_with_v1_and_trailing_slash() {
        assert_eq!(r("GET", "/api/agents").ok(), Some(Endpoint::ListAgents));
        assert_eq!(r("GET", "/v1/api/agents/").ok(), Some(Endpoint::ListAgents));
        assert_eq!(r("HEAD", "/health").ok(), Some(Endpoint::Health));
        assert_eq!(
            r("POST", "/api/agents/agent-x/action").ok(),
            Some(Endpoint::AgentAction("agent-x".into()))
        );
        assert_eq!(r("GET", "/api/agents/a%20b").ok(), Some(Endpoint::GetAgent("a b".into())));
    }

    #[test]
    fn odd_paths_match_nothing() {
        for p in [
            "//api/agents",
            "/api/../api/agents",
            "/api/./agents",
            "/v1",
            "/v1/v1/api/agents",
            "api/agents",
            "/api/agents//",
        ] {
            assert!(matches!(r("GET", p), Err(ApiError::NotFound)), "{p}");
        }
    }

    #[test]
    fn wrong_method_lists_allowed() {
        match r("PUT", "/api/agents") {
            Err(ApiError::MethodNotAllowed(allowed)) => {
                assert_eq!(allowed, &[Method::Get, Method::Head, Method::Post]);
            }
            other => panic!("expected 405, got {other:?}"),
        }
    }
}
