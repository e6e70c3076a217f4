//! The CodeSpar API's router: a plain `match` over method and path segments into [`Endpoint`].
//!
//! The last column says what a request *without* `x-org-id` reads and writes (docs/API.md
//! §1.5): every org's records, org `default` only, or nothing (`required`: 400
//! `MISSING_ORG_ID`). The dispatcher (`mod.rs`) enforces it by the scope type it resolves.
//!
//! | method | path | endpoint | without `x-org-id` |
//! |---|---|---|---|
//! | GET | `/health` | [`Endpoint::Health`] | — |
//! | GET | `/metrics` (Prometheus text) | [`Endpoint::Metrics`] | — |
//! | GET | `/openapi.json` | [`Endpoint::OpenApi`] | — |
//! | GET | `/api/metrics` | [`Endpoint::ApiMetrics`] | — |
//! | GET | `/api/session` (who the credential presented is) | [`Endpoint::Session`] | — |
//! | GET, POST | `/api/scheduler` | [`Endpoint::ListTasks`], [`Endpoint::CreateTask`] | `default` |
//! | DELETE | `/api/scheduler/:name` | [`Endpoint::DeleteTask`] | `default` |
//! | POST | `/api/scheduler/:name/pause`, `/resume`, `/run` | [`Endpoint::PauseTask`], [`Endpoint::ResumeTask`], [`Endpoint::RunTask`] | `default` |
//! | GET | `/api/agent-types` | [`Endpoint::AgentTypes`] | — |
//! | GET, POST | `/api/agents` | [`Endpoint::ListAgents`], [`Endpoint::CreateAgent`] | `default`, every org |
//! | GET, DELETE | `/api/agents/:id` | [`Endpoint::GetAgent`], [`Endpoint::DeleteAgent`] | every org |
//! | POST | `/api/agents/:id/action` | [`Endpoint::AgentAction`] | every org |
//! | GET, POST | `/api/orgs` | [`Endpoint::ListOrgs`], [`Endpoint::CreateOrg`] | every org, — |
//! | GET | `/api/orgs/:id` | [`Endpoint::GetOrg`] | every org |
//! | GET | `/api/audit` | [`Endpoint::ListAudit`] | every org |
//! | GET | `/api/audit/verify` | [`Endpoint::VerifyAudit`] | every org |
//! | GET, POST | `/api/memory` | [`Endpoint::MemoryStats`], [`Endpoint::AddMemory`] | `default`, every org |
//! | GET | `/api/memory/search` | [`Endpoint::SearchMemory`] | every org |
//! | GET, POST | `/api/identity` | [`Endpoint::GetIdentity`], [`Endpoint::RegisterIdentity`] | `default` |
//! | GET | `/api/project?agentId=` | [`Endpoint::GetProjectLink`] | every org |
//! | POST, DELETE | `/api/project/link` | [`Endpoint::LinkProject`], [`Endpoint::UnlinkProject`] | every org |
//! | GET, POST | `/api/projects` | [`Endpoint::ListProjects`], [`Endpoint::CreateProject`] | `default`, every org |
//! | GET, DELETE | `/api/projects/:id` | [`Endpoint::GetProject`], [`Endpoint::DeleteProject`] | every org |
//! | GET, POST | `/api/channel-routes` | [`Endpoint::ListRoutes`], [`Endpoint::CreateRoute`] | required |
//! | DELETE | `/api/channel-routes/:id` | [`Endpoint::DeleteRoute`] | required |
//! | DELETE | `/api/channel-routes/:channelType/:channelId` (CodeSpar's form) | [`Endpoint::DeleteRouteTo`] | required |
//! | GET | `/api/channels` | [`Endpoint::ListChannels`] | `default` |
//! | POST | `/api/channels/configure` | [`Endpoint::ConfigureChannel`] | `default` |
//! | POST | `/api/channels/:name/reconnect` | [`Endpoint::ReconnectChannel`] | `default` |
//! | GET | `/api/deliveries` | [`Endpoint::ListDeliveries`] | `default` |
//! | GET | `/api/deliveries/:id` (with its attempt log) | [`Endpoint::GetDelivery`] | every org |
//! | POST | `/api/deliveries/:id/retry` | [`Endpoint::RetryDelivery`] | every org |
//! | GET | `/api/approvals` | [`Endpoint::ListApprovals`] | `default` |
//! | GET, POST | `/api/approvals/:token` | [`Endpoint::GetApproval`], [`Endpoint::VoteApproval`] | every org |
//! | GET | `/api/activity` (events and deliveries per minute) | [`Endpoint::Activity`] | `default` |
//! | GET | `/api/events`, `/api/events/stream` | [`Endpoint::EventStream`] | `default` |
//! | GET | `/api/integrations/status` | [`Endpoint::IntegrationStatus`] | required |
//! | POST | `/api/integrations/configure` | [`Endpoint::ConfigureIntegration`] | required |
//! | GET | `/api/integrations/pagerduty/oncall` | [`Endpoint::PagerDutyOnCall`] | required |
//! | GET | `/api/integrations/pagerduty/incidents` | [`Endpoint::PagerDutyIncidents`] | required |
//! | POST | `/api/integrations/pagerduty/incidents/:id/acknowledge` | [`Endpoint::PagerDutyAcknowledge`] | required |
//! | GET | `/api/integrations/linear/teams` | [`Endpoint::LinearTeams`] | required |
//! | GET, POST | `/api/integrations/linear/issues` | [`Endpoint::LinearIssues`], [`Endpoint::LinearCreateIssue`] | required |
//! | GET | `/api/integrations/sentry/issues` | [`Endpoint::SentryIssues`] | required |
//! | POST | `/api/webhooks/sentry` (the Sentry webhook, also under `/api`) | [`Endpoint::SentryWebhookAlias`] | `?orgId=` (docs/API.md §3.2) |
//! | GET | `/.well-known/agent.json` (no `/v1` alias; public) | [`Endpoint::WellKnownAgentCard`] | — |
//! | GET | `/api/agent-cards` | [`Endpoint::ListAgentCards`] | — |
//! | GET | `/api/agent-cards/:type` | [`Endpoint::GetAgentCard`] | — |
//! | GET, POST | `/a2a/tasks` | [`Endpoint::ListA2aTasks`], [`Endpoint::SubmitA2aTask`] | `default` |
//! | GET | `/a2a/tasks/:id` | [`Endpoint::GetA2aTask`] | `default` |
//! | POST | `/a2a/tasks/:id/cancel` | [`Endpoint::CancelA2aTask`] | `default` |
//! | GET | `/api/observability/incidents` | [`Endpoint::ListIncidents`] | `default` |
//! | POST | `/api/observability/incidents/:id/acknowledge` | [`Endpoint::AcknowledgeIncident`] | `default` |

use crate::api::path::{Method, Routed, endpoints};
use crate::api::{Auth, Bucket};

endpoints! {
    pub enum Endpoint {
        Health => "health",
        Session => "session",
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
        ListRoutes => "list_routes",
        CreateRoute => "create_route",
        DeleteRoute(String) => "delete_route",
        /// `(channelType, channelId)`.
        DeleteRouteTo((String, String)) => "delete_route_to",
        ListChannels => "list_channels",
        ConfigureChannel => "configure_channel",
        ReconnectChannel(String) => "reconnect_channel",
        ListDeliveries => "list_deliveries",
        GetDelivery(String) => "get_delivery",
        RetryDelivery(String) => "retry_delivery",
        ListApprovals => "list_approvals",
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
        ListIncidents => "list_incidents",
        AcknowledgeIncident(String) => "acknowledge_incident",
        Metrics => "metrics",
        ApiMetrics => "api_metrics",
        OpenApi => "openapi",
        ListTasks => "list_tasks",
        CreateTask => "create_task",
        PauseTask(String) => "pause_task",
        ResumeTask(String) => "resume_task",
        RunTask(String) => "run_task",
        DeleteTask(String) => "delete_task",
        SentryWebhookAlias => "sentry_webhook_alias",
        Activity => "activity",
        WellKnownAgentCard => "well_known_agent_card",
        ListAgentCards => "list_agent_cards",
        GetAgentCard(String) => "get_agent_card",
        SubmitA2aTask => "submit_a2a_task",
        ListA2aTasks => "list_a2a_tasks",
        GetA2aTask(String) => "get_a2a_task",
        CancelA2aTask(String) => "cancel_a2a_task",
    }
}

impl Endpoint {
    pub fn auth(&self) -> Auth {
        match self {
            Self::Health
            | Self::Metrics
            | Self::OpenApi
            | Self::Session
            | Self::WellKnownAgentCard => Auth::Public,
            _ => Auth::Bearer,
        }
    }

    /// `/health`, `/metrics`, `/openapi.json` and the agent card are never rate limited
    /// (docs/API.md §1.6).
    pub fn bucket(&self) -> Option<Bucket> {
        match self {
            Self::Health | Self::Metrics | Self::OpenApi | Self::WellKnownAgentCard => None,
            _ => Some(Bucket::Api),
        }
    }
}

/// Maps a routed method (`HEAD` already read as `GET`) and path to an endpoint.
pub fn route(method: Method, segs: &[&str]) -> Routed<Endpoint> {
    use Endpoint as E;
    use Method::{Delete, Get, Head, Post};
    let (endpoint, allowed): (Option<Endpoint>, &'static [Method]) = match segs {
        ["health"] => (matches!(method, Get).then_some(E::Health), &[Get, Head]),
        ["metrics"] => (matches!(method, Get).then_some(E::Metrics), &[Get, Head]),
        ["openapi.json"] => (matches!(method, Get).then_some(E::OpenApi), &[Get, Head]),
        ["api", "metrics"] => (matches!(method, Get).then_some(E::ApiMetrics), &[Get, Head]),
        ["api", "session"] => (matches!(method, Get).then_some(E::Session), &[Get, Head]),
        ["api", "scheduler"] => (
            match method {
                Get => Some(E::ListTasks),
                Post => Some(E::CreateTask),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["api", "scheduler", name] => {
            (matches!(method, Delete).then(|| E::DeleteTask((*name).to_owned())), &[Delete])
        }
        ["api", "scheduler", name, verb @ ("pause" | "resume" | "run")] => {
            let name = (*name).to_owned();
            let endpoint = match *verb {
                "pause" => E::PauseTask(name),
                "resume" => E::ResumeTask(name),
                _ => E::RunTask(name),
            };
            (matches!(method, Post).then_some(endpoint), &[Post])
        }
        ["api", "agent-types"] => (matches!(method, Get).then_some(E::AgentTypes), &[Get, Head]),
        ["api", "agents"] => (
            match method {
                Get => Some(E::ListAgents),
                Post => Some(E::CreateAgent),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["api", "agents", id] => (
            match method {
                Get => Some(E::GetAgent((*id).to_owned())),
                Delete => Some(E::DeleteAgent((*id).to_owned())),
                _ => None,
            },
            &[Get, Head, Delete],
        ),
        ["api", "agents", id, "action"] => {
            (matches!(method, Post).then(|| E::AgentAction((*id).to_owned())), &[Post])
        }
        ["api", "orgs"] => (
            match method {
                Get => Some(E::ListOrgs),
                Post => Some(E::CreateOrg),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["api", "orgs", id] => {
            (matches!(method, Get).then(|| E::GetOrg((*id).to_owned())), &[Get, Head])
        }
        ["api", "audit"] => (matches!(method, Get).then_some(E::ListAudit), &[Get, Head]),
        ["api", "audit", "verify"] => {
            (matches!(method, Get).then_some(E::VerifyAudit), &[Get, Head])
        }
        ["api", "memory"] => (
            match method {
                Get => Some(E::MemoryStats),
                Post => Some(E::AddMemory),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["api", "memory", "search"] => {
            (matches!(method, Get).then_some(E::SearchMemory), &[Get, Head])
        }
        ["api", "identity"] => (
            match method {
                Get => Some(E::GetIdentity),
                Post => Some(E::RegisterIdentity),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["api", "project"] => (matches!(method, Get).then_some(E::GetProjectLink), &[Get, Head]),
        ["api", "project", "link"] => (
            match method {
                Post => Some(E::LinkProject),
                Delete => Some(E::UnlinkProject),
                _ => None,
            },
            &[Post, Delete],
        ),
        ["api", "projects"] => (
            match method {
                Get => Some(E::ListProjects),
                Post => Some(E::CreateProject),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["api", "projects", id] => (
            match method {
                Get => Some(E::GetProject((*id).to_owned())),
                Delete => Some(E::DeleteProject((*id).to_owned())),
                _ => None,
            },
            &[Get, Head, Delete],
        ),
        ["api", "channel-routes"] => (
            match method {
                Get => Some(E::ListRoutes),
                Post => Some(E::CreateRoute),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["api", "channel-routes", id] => {
            (matches!(method, Delete).then(|| E::DeleteRoute((*id).to_owned())), &[Delete])
        }
        ["api", "channel-routes", channel, id] => (
            matches!(method, Delete)
                .then(|| E::DeleteRouteTo(((*channel).to_owned(), (*id).to_owned()))),
            &[Delete],
        ),
        ["api", "channels"] => (matches!(method, Get).then_some(E::ListChannels), &[Get, Head]),
        ["api", "channels", "configure"] => {
            (matches!(method, Post).then_some(E::ConfigureChannel), &[Post])
        }
        ["api", "channels", name, "reconnect"] => {
            (matches!(method, Post).then(|| E::ReconnectChannel((*name).to_owned())), &[Post])
        }
        ["api", "deliveries"] => (matches!(method, Get).then_some(E::ListDeliveries), &[Get, Head]),
        ["api", "deliveries", id] => {
            (matches!(method, Get).then(|| E::GetDelivery((*id).to_owned())), &[Get, Head])
        }
        ["api", "deliveries", id, "retry"] => {
            (matches!(method, Post).then(|| E::RetryDelivery((*id).to_owned())), &[Post])
        }
        ["api", "approvals"] => (matches!(method, Get).then_some(E::ListApprovals), &[Get, Head]),
        ["api", "activity"] => (matches!(method, Get).then_some(E::Activity), &[Get, Head]),
        ["api", "approvals", token] => (
            match method {
                Get => Some(E::GetApproval((*token).to_owned())),
                Post => Some(E::VoteApproval((*token).to_owned())),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["api", "events"] | ["api", "events", "stream"] => {
            (matches!(method, Get).then_some(E::EventStream), &[Get, Head])
        }
        ["api", "integrations", "status"] => {
            (matches!(method, Get).then_some(E::IntegrationStatus), &[Get, Head])
        }
        ["api", "integrations", "configure"] => {
            (matches!(method, Post).then_some(E::ConfigureIntegration), &[Post])
        }
        ["api", "integrations", "pagerduty", "oncall"] => {
            (matches!(method, Get).then_some(E::PagerDutyOnCall), &[Get, Head])
        }
        ["api", "integrations", "pagerduty", "incidents"] => {
            (matches!(method, Get).then_some(E::PagerDutyIncidents), &[Get, Head])
        }
        ["api", "integrations", "pagerduty", "incidents", id, "acknowledge"] => {
            (matches!(method, Post).then(|| E::PagerDutyAcknowledge((*id).to_owned())), &[Post])
        }
        ["api", "integrations", "linear", "teams"] => {
            (matches!(method, Get).then_some(E::LinearTeams), &[Get, Head])
        }
        ["api", "integrations", "linear", "issues"] => (
            match method {
                Get => Some(E::LinearIssues),
                Post => Some(E::LinearCreateIssue),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["api", "integrations", "sentry", "issues"] => {
            (matches!(method, Get).then_some(E::SentryIssues), &[Get, Head])
        }
        ["api", "observability", "incidents"] => {
            (matches!(method, Get).then_some(E::ListIncidents), &[Get, Head])
        }
        ["api", "observability", "incidents", id, "acknowledge"] => {
            (matches!(method, Post).then(|| E::AcknowledgeIncident((*id).to_owned())), &[Post])
        }
        [".well-known", "agent.json"] => {
            (matches!(method, Get).then_some(E::WellKnownAgentCard), &[Get, Head])
        }
        ["api", "agent-cards"] => {
            (matches!(method, Get).then_some(E::ListAgentCards), &[Get, Head])
        }
        ["api", "agent-cards", t] => {
            (matches!(method, Get).then(|| E::GetAgentCard((*t).to_owned())), &[Get, Head])
        }
        ["a2a", "tasks"] => (
            match method {
                Get => Some(E::ListA2aTasks),
                Post => Some(E::SubmitA2aTask),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["a2a", "tasks", id] => {
            (matches!(method, Get).then(|| E::GetA2aTask((*id).to_owned())), &[Get, Head])
        }
        ["a2a", "tasks", id, "cancel"] => {
            (matches!(method, Post).then(|| E::CancelA2aTask((*id).to_owned())), &[Post])
        }
        ["api", "webhooks", "sentry"] => {
            (matches!(method, Post).then_some(E::SentryWebhookAlias), &[Post])
        }
        _ => return Routed::NoRoute,
    };
    Routed::arm(endpoint, allowed)
}
