//! `GET /openapi.json` (docs/API.md §2.1): an OpenAPI 3.1 document of every public route, built once
//! from [`OPERATIONS`]. Each operation's `operationId` is its [`Endpoint`] name; tests check
//! that every endpoint (admin-listener routes aside) has one and that the router serves each.
//!
//! Schemas say what a client can rely on (types of the fields docs/API.md names) and leave the
//! rest open (`additionalProperties` allowed), so the document stays true as fields are added.
//!
//! [`Endpoint`]: super::Endpoint

use std::sync::OnceLock;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::Response;

/// Who answers an operation and in which error shape.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// CodeSpar: `x-org-id` optional, bearer token when configured, `{error,code,status}`.
    CodeSpar,
    /// CodeSpar integration routes: `x-org-id` required.
    CodeSparOrg,
    /// Signed webhooks: `?orgId=`, no bearer token.
    Webhook,
    /// Spike: `x-api-key` and `x-team-id`, `{message,error}`.
    Spike,
    /// Spike ingest URLs: the token is the credential.
    SpikeIngest,
    /// Potpie: `x-api-key`, FastAPI's `{detail}`.
    Potpie,
    /// `/health`, `/metrics`, `/openapi.json`: no auth, no rate limit.
    Public,
}

/// What a successful answer carries.
#[derive(Clone, Copy)]
enum Returns {
    Object,
    Array,
    /// The Prometheus text format.
    Text,
    /// Server-Sent Events.
    Events,
    /// A JSON object of this schema (JSON text).
    Schema(&'static str),
}

struct Op {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    dialect: Dialect,
    /// Query parameters: `(name, JSON type, required)`.
    query: &'static [(&'static str, &'static str, bool)],
    /// The request body's JSON schema, as JSON text.
    body: Option<&'static str>,
    status: u16,
    returns: Returns,
}

const fn op(
    method: &'static str,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    dialect: Dialect,
) -> Op {
    Op {
        method,
        path,
        id,
        tag,
        summary,
        dialect,
        query: &[],
        body: None,
        status: 200,
        returns: Returns::Object,
    }
}

impl Op {
    const fn query(mut self, query: &'static [(&'static str, &'static str, bool)]) -> Self {
        self.query = query;
        self
    }
    const fn body(mut self, schema: &'static str) -> Self {
        self.body = Some(schema);
        self
    }
    const fn created(mut self) -> Self {
        self.status = 201;
        self
    }
    const fn returns(mut self, returns: Returns) -> Self {
        self.returns = returns;
        self
    }
}

use Dialect::{CodeSpar, CodeSparOrg, Potpie, Public, Spike, SpikeIngest, Webhook};

/// The org id rule of docs/API.md §1.5 (`x-org-id`, `x-team-id`).
const ORG_ID_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";
const OBJECT: &str = r#"{"type":"object"}"#;
const ACKNOWLEDGE: &str = r#"{"type":"object","properties":{"acknowledgedBy":{"type":"string"}},"additionalProperties":false}"#;
/// A delivery with its attempt log (docs/API.md §2.10).
const DELIVERY_DETAIL: &str = r#"{"type":"object","required":["id","status","attempts","attemptLog"],"properties":{"id":{"type":"string"},"eventId":{"type":"string"},"eventType":{"type":"string"},"routeId":{"type":"string"},"channel":{"type":"string"},"channelId":{"type":"string"},"status":{"type":"string","enum":["pending","delivered","dead"]},"attempts":{"type":"integer","minimum":0},"lastError":{"type":["string","null"]},"nextAttemptAt":{"type":["string","null"]},"createdAt":{"type":"string"},"deliveredAt":{"type":["string","null"]},"attemptLog":{"type":"array","items":{"type":"object","required":["at","durationMs","outcome","error","httpStatus"],"properties":{"at":{"type":"string"},"durationMs":{"type":"integer","minimum":0},"outcome":{"type":"string","enum":["delivered","retry","dead"]},"error":{"type":["string","null"],"enum":["timeout","unreachable","refused","http","rejected","not_configured","internal",null]},"httpStatus":{"type":["integer","null"]}},"additionalProperties":false}}}}"#;
const POTPIE_SAVE: &str = r#"{"type":"object","required":["name","integration_type"],"properties":{"name":{"type":"string"},"integration_type":{"type":"string"},"status":{"type":"string"},"active":{"type":"boolean"},"unique_identifier":{"type":"string"},"auth_data":{"type":"object"},"scope_data":{"type":"object"},"metadata":{"type":"object"}}}"#;

/// The agent card of one type (docs/API.md §2.17).
const CARD: &str = r#"{"type":"object","required":["type","name","lifecycle","description","skills"],"properties":{"type":{"type":"string"},"name":{"type":"string"},"lifecycle":{"type":"string","enum":["persistent","ephemeral"]},"description":{"type":"string"},"skills":{"type":"array","items":{"type":"string"}}}}"#;
const CARD_LIST: &str = r#"{"type":"array","items":{"type":"object","required":["type","name","lifecycle","description","skills"],"properties":{"type":{"type":"string"},"name":{"type":"string"},"lifecycle":{"type":"string"},"description":{"type":"string"},"skills":{"type":"array","items":{"type":"string"}}}}}"#;
const AGENT_CARD: &str = r#"{"type":"object","required":["name","description","url","version","capabilities","skills"],"properties":{"name":{"type":"string"},"description":{"type":"string"},"url":{"type":"string"},"version":{"type":"string"},"capabilities":{"type":"object","required":["streaming","pushNotifications"],"properties":{"streaming":{"type":"boolean"},"pushNotifications":{"type":"boolean"}}},"skills":{"type":"array","items":{"type":"object","required":["id","name","description","agentType"],"properties":{"id":{"type":"string"},"name":{"type":"string"},"description":{"type":"string"},"agentType":{"type":"string"}}}}}}"#;

/// Every public operation. Admin-listener routes (`/admin/*`) are not here: the public
/// listener never serves them (docs/API.md describes them).
static OPERATIONS: &[Op] = &[
    op("get", "/health", "health", "system", "Health: storage, index lag, deliveries", Public),
    op("get", "/metrics", "metrics", "system", "Prometheus metrics", Public).returns(Returns::Text),
    op("get", "/openapi.json", "openapi", "system", "This document", Public),
    op("get", "/api/metrics", "api_metrics", "system", "Counters as JSON", CodeSpar),
    op("get", "/api/session", "session", "system", "Who the presented bearer token makes the request", Public)
        .returns(Returns::Schema(r#"{"type":"object","required":["caller","orgId"],"properties":{"caller":{"type":"string","enum":["operator","org","anonymous","none"]},"orgId":{"type":["string","null"]}}}"#)),
    op("get", "/api/agent-types", "agent_types", "agents", "Agent types and their capabilities", CodeSpar).returns(Returns::Array),
    op("get", "/api/agents", "list_agents", "agents", "List agents", CodeSpar)
        .returns(Returns::Array)
        .query(&[("type", "string", false), ("status", "string", false), ("projectId", "string", false), ("project", "string", false)]),
    op("post", "/api/agents", "create_agent", "agents", "Create an agent", CodeSpar)
        .body(r#"{"type":"object","required":["name","type"],"properties":{"name":{"type":"string"},"type":{"type":"string","enum":["project","task","review","deploy","incident","coordinator"]},"projectId":{"type":"string"},"autonomyLevel":{"type":"integer","minimum":0,"maximum":5}},"additionalProperties":false}"#)
        .created(),
    op("get", "/api/agents/{id}", "get_agent", "agents", "One agent", CodeSpar),
    op("delete", "/api/agents/{id}", "delete_agent", "agents", "Delete an agent", CodeSpar),
    op("post", "/api/agents/{id}/action", "agent_action", "agents", "suspend, resume, restart or set_autonomy", CodeSpar)
        .body(r#"{"type":"object","required":["action"],"properties":{"action":{"type":"string","enum":["suspend","resume","restart","set_autonomy"]},"level":{"type":"integer"},"autonomyLevel":{"type":"integer"},"params":{"type":"object","properties":{"level":{"type":"integer"}},"additionalProperties":false}},"additionalProperties":false}"#),
    op("get", "/api/orgs", "list_orgs", "orgs", "List organizations", CodeSpar).returns(Returns::Array),
    op("post", "/api/orgs", "create_org", "orgs", "Create an organization", CodeSpar)
        .body(r#"{"oneOf":[{"type":"object","required":["name"],"properties":{"name":{"type":"string"},"slug":{"type":"string"}},"additionalProperties":false},{"type":"object","required":["id"],"properties":{"id":{"type":"string"},"name":{"type":"string"},"slug":{"type":"string"}},"additionalProperties":false}]}"#)
        .created(),
    op("get", "/api/orgs/{id}", "get_org", "orgs", "One organization with projects and members", CodeSpar),
    op("get", "/api/audit", "list_audit", "audit", "The audit trail, newest first", CodeSpar)
        .query(&[("limit", "integer", false), ("page", "integer", false), ("before", "integer", false), ("q", "string", false), ("actorType", "string", false), ("actorId", "string", false), ("action", "string", false), ("result", "string", false), ("agentId", "string", false), ("project", "string", false), ("risk", "string", false), ("since", "string", false), ("until", "string", false)]),
    op("get", "/api/audit/verify", "verify_audit", "audit", "Verify the hash chains", CodeSpar),
    op("get", "/api/memory", "memory_stats", "memory", "Memory statistics", CodeSpar),
    op("post", "/api/memory", "add_memory", "memory", "Add a memory entry", CodeSpar)
        .body(r#"{"type":"object","required":["content"],"properties":{"content":{"type":"string"},"category":{"type":"string","enum":["code","conversation","pattern","incident","ci"]},"agentId":{"type":"string"},"projectId":{"type":"string"},"metadata":{"type":"object"}},"additionalProperties":false}"#)
        .created(),
    op("get", "/api/memory/search", "search_memory", "memory", "Full-text search of memory", CodeSpar)
        .query(&[("q", "string", true), ("agentId", "string", false), ("projectId", "string", false), ("category", "string", false), ("limit", "integer", false), ("page", "integer", false)]),
    op("get", "/api/identity", "get_identity", "identity", "Resolve a chat account", CodeSpar)
        .query(&[("channelType", "string", true), ("channelUserId", "string", true)]),
    op("post", "/api/identity", "register_identity", "identity", "Register an identity", CodeSpar)
        .body(r#"{"type":"object","required":["displayName","role","channels"],"properties":{"displayName":{"type":"string"},"role":{"type":"string","enum":["owner","maintainer","operator","reviewer","read-only","emergency_admin"]},"channels":{"type":"array","items":{"type":"object","required":["type","userId"],"properties":{"type":{"type":"string"},"userId":{"type":"string"},"username":{"type":"string"}},"additionalProperties":false}}},"additionalProperties":false}"#)
        .created(),
    op("get", "/api/project", "get_project_link", "projects", "The project linked to an agent", CodeSpar)
        .query(&[("agentId", "string", true)]),
    op("post", "/api/project/link", "link_project", "projects", "Link an agent to a GitHub repository", CodeSpar)
        .body(r#"{"type":"object","required":["agentId","repo"],"properties":{"agentId":{"type":"string"},"repo":{"type":"string"}},"additionalProperties":false}"#),
    op("delete", "/api/project/link", "unlink_project", "projects", "Unlink an agent's project", CodeSpar)
        .query(&[("agentId", "string", true)]),
    op("get", "/api/projects", "list_projects", "projects", "List projects", CodeSpar),
    op("post", "/api/projects", "create_project", "projects", "Create a project from a repository", CodeSpar)
        .body(r#"{"type":"object","required":["repo"],"properties":{"repo":{"type":"string"},"name":{"type":"string"}},"additionalProperties":false}"#)
        .created(),
    op("get", "/api/projects/{id}", "get_project", "projects", "One project", CodeSpar),
    op("delete", "/api/projects/{id}", "delete_project", "projects", "Delete a project and its agent", CodeSpar),
    op("post", "/webhooks/github", "github_webhook", "webhooks", "GitHub webhook (X-Hub-Signature-256)", Webhook)
        .query(&[("orgId", "string", false)]).body(OBJECT),
    op("get", "/api/channel-routes", "list_routes", "routes", "List channel routes", CodeSparOrg),
    op("post", "/api/channel-routes", "create_route", "routes", "Route events to a channel", CodeSparOrg)
        .body(r#"{"oneOf":[{"type":"object","required":["eventType","channel","channelId"],"properties":{"eventType":{"type":"string"},"channel":{"type":"string","enum":["slack","whatsapp","telegram","discord"]},"channelId":{"type":"string"},"projectId":{"type":"string"},"enabled":{"type":"boolean"}},"additionalProperties":false},{"type":"object","required":["channelType","channelId","alertTypes"],"properties":{"channelType":{"type":"string","enum":["slack","whatsapp","telegram","discord"]},"channelId":{"type":"string"},"channelName":{"type":"string"},"alertTypes":{"type":"array","items":{"type":"string","enum":["deploy","error","incident","all"]}},"projectFilter":{"type":"string"}},"additionalProperties":false}]}"#)
        .created(),
    op("delete", "/api/channel-routes/{id}", "delete_route", "routes", "Delete a route", CodeSparOrg),
    op("delete", "/api/channel-routes/{channelType}/{channelId}", "delete_route_to", "routes", "Delete every route to one destination (CodeSpar's form)", CodeSparOrg),
    op("get", "/api/channels", "list_channels", "channels", "Channels and their state", CodeSpar),
    op("post", "/api/channels/configure", "configure_channel", "channels", "Store a channel's credentials", CodeSpar)
        .body(r#"{"type":"object","required":["channel","config"],"properties":{"channel":{"type":"string"},"config":{"type":"object"}},"additionalProperties":false}"#),
    op("post", "/api/channels/{name}/reconnect", "reconnect_channel", "channels", "Check a channel's credentials upstream", CodeSpar),
    op("get", "/api/deliveries", "list_deliveries", "channels", "Outbox deliveries, newest first", CodeSpar)
        .query(&[("status", "string", false), ("channel", "string", false), ("limit", "integer", false)]),
    op("get", "/api/deliveries/{id}", "get_delivery", "channels", "A delivery with its attempt log", CodeSpar)
        .returns(Returns::Schema(DELIVERY_DETAIL)),
    op("post", "/api/deliveries/{id}/retry", "retry_delivery", "channels", "Queue a dead delivery again", CodeSpar),
    op("get", "/api/activity", "activity", "channels", "Events and deliveries per minute", CodeSpar)
        .query(&[("minutes", "integer", false)]),
    op("get", "/api/approvals", "list_approvals", "agents", "Approvals, newest first", CodeSpar)
        .query(&[("status", "string", false), ("limit", "integer", false)]),
    op("get", "/api/approvals/{token}", "get_approval", "agents", "An approval request", CodeSpar),
    op("post", "/api/approvals/{token}", "vote_approval", "agents", "Approve or deny a suggestion", CodeSpar)
        .body(r#"{"type":"object","required":["vote"],"properties":{"vote":{"type":"string","enum":["approve","deny"]},"userId":{"type":"string"}},"additionalProperties":false}"#),
    op("get", "/api/events", "event_stream", "events", "Server-Sent Events of normalized events", CodeSpar)
        .query(&[("types", "string", false), ("project", "string", false)]).returns(Returns::Events),
    op("get", "/api/integrations/status", "integration_status", "integrations", "Integrations and their state", CodeSparOrg),
    op("post", "/api/integrations/configure", "configure_integration", "integrations", "Store an integration's configuration", CodeSparOrg)
        .body(r#"{"type":"object","required":["integration","config"],"properties":{"integration":{"type":"string"},"config":{"type":"object"}},"additionalProperties":false}"#),
    op("get", "/api/integrations/pagerduty/oncall", "pagerduty_oncall", "integrations", "PagerDuty on-call", CodeSparOrg)
        .query(&[("escalationPolicyId", "string", false), ("scheduleId", "string", false)]),
    op("get", "/api/integrations/pagerduty/incidents", "pagerduty_incidents", "integrations", "PagerDuty incidents", CodeSparOrg)
        .query(&[("status", "string", false), ("limit", "integer", false)]),
    op("post", "/api/integrations/pagerduty/incidents/{id}/acknowledge", "pagerduty_acknowledge", "integrations", "Acknowledge a PagerDuty incident", CodeSparOrg)
        .body(ACKNOWLEDGE),
    op("get", "/api/integrations/linear/teams", "linear_teams", "integrations", "Linear teams", CodeSparOrg),
    op("get", "/api/integrations/linear/issues", "linear_issues", "integrations", "Linear issues", CodeSparOrg)
        .query(&[("team", "string", false), ("status", "string", false), ("assignee", "string", false), ("limit", "integer", false)]),
    op("post", "/api/integrations/linear/issues", "linear_create_issue", "integrations", "Create a Linear issue", CodeSparOrg)
        .body(r#"{"type":"object","required":["title"],"properties":{"title":{"type":"string"},"teamId":{"type":"string"},"description":{"type":"string"},"priority":{"type":"integer"},"labels":{"type":"array","items":{"type":"string"}}},"additionalProperties":false}"#)
        .created(),
    op("get", "/api/integrations/sentry/issues", "sentry_issues", "integrations", "Sentry issues", CodeSparOrg)
        .query(&[("project", "string", false), ("query", "string", false), ("limit", "integer", false)]),
    op("post", "/webhooks/sentry", "sentry_webhook", "webhooks", "Sentry webhook (Sentry-Hook-Signature)", Webhook)
        .query(&[("orgId", "string", false)]).body(OBJECT),
    op("post", "/api/webhooks/sentry", "sentry_webhook_alias", "webhooks", "The Sentry webhook under /api (bearer token as well, when configured)", CodeSpar)
        .query(&[("orgId", "string", false)]).body(OBJECT),
    op("post", "/webhooks/vercel", "vercel_webhook", "webhooks", "Vercel deployment webhook (x-vercel-signature, hex HMAC-SHA1)", Webhook)
        .query(&[("orgId", "string", false)])
        .body(r#"{"type":"object","required":["type"],"properties":{"id":{"type":"string"},"type":{"type":"string"},"createdAt":{"type":"integer"},"payload":{"type":"object"}}}"#),
    op("post", "/webhooks/deploy", "deploy_webhook", "webhooks", "Generic deploy webhook (x-deploy-signature, hex HMAC-SHA256)", Webhook)
        .query(&[("orgId", "string", false)])
        .body(r#"{"type":"object","required":["status"],"properties":{"status":{"type":"string","enum":["success","failure","cancelled","canceled","pending"]},"project":{"type":"string"},"message":{"type":"string"},"url":{"type":"string"},"error":{"type":"string"},"source":{"type":"string"},"branch":{"type":"string"},"sha":{"type":"string"},"environment":{"type":"string"}}}"#),
    op("get", "/api/observability/incidents", "list_incidents", "incidents", "Incidents", CodeSpar)
        .query(&[("status", "string", false), ("severity", "string", false), ("project", "string", false), ("limit", "integer", false)]),
    op("post", "/api/observability/incidents/{id}/acknowledge", "acknowledge_incident", "incidents", "Acknowledge an incident", CodeSpar)
        .body(ACKNOWLEDGE),
    op("get", "/api/scheduler", "list_tasks", "scheduler", "Scheduled tasks", CodeSpar).returns(Returns::Array),
    op("post", "/api/scheduler", "create_task", "scheduler", "Schedule a digest or webhook task", CodeSpar)
        .body(r#"{"type":"object","required":["name","action"],"properties":{"name":{"type":"string"},"schedule":{"type":"string"},"intervalMs":{"type":"integer","minimum":10000},"action":{"type":"object","required":["type"],"properties":{"type":{"type":"string","enum":["digest","webhook"]},"eventType":{"type":"string"},"windowHours":{"type":"integer"},"url":{"type":"string"},"body":{}},"additionalProperties":false}},"additionalProperties":false}"#)
        .created(),
    op("delete", "/api/scheduler/{name}", "delete_task", "scheduler", "Cancel a task (built-ins return at restart)", CodeSpar),
    op("post", "/api/scheduler/{name}/pause", "pause_task", "scheduler", "Pause a task", CodeSpar),
    op("post", "/api/scheduler/{name}/resume", "resume_task", "scheduler", "Resume a task", CodeSpar),
    op("post", "/api/scheduler/{name}/run", "run_task", "scheduler", "Run a task now", CodeSpar),
    op("get", "/.well-known/agent.json", "well_known_agent_card", "a2a", "The A2A agent card: every skill (not under /v1)", Public)
        .returns(Returns::Schema(AGENT_CARD)),
    op("get", "/api/agent-cards", "list_agent_cards", "a2a", "The card of each agent type", CodeSpar)
        .returns(Returns::Schema(CARD_LIST)),
    op("get", "/api/agent-cards/{type}", "get_agent_card", "a2a", "The card of one agent type", CodeSpar)
        .returns(Returns::Schema(CARD)),
    op("post", "/a2a/tasks", "submit_a2a_task", "a2a", "Submit a task for a skill; it is routed to an agent of the skill's type", CodeSpar)
        .body(r#"{"type":"object","required":["skill","input"],"properties":{"id":{"type":"string","maxLength":128},"skill":{"type":"string"},"input":{"type":"object","required":["text"],"properties":{"text":{"type":"string"},"attachments":{"type":"array","maxItems":20,"items":{"type":"object"}}},"additionalProperties":false},"metadata":{"type":"object","properties":{"projectId":{"type":"string"}}}},"additionalProperties":false}"#)
        .created()
        .returns(Returns::Schema(r#"{"type":"object","required":["id","status","skill","agentType","agentId","createdAt"],"properties":{"id":{"type":"string"},"status":{"type":"string","enum":["submitted"]},"skill":{"type":"string"},"agentType":{"type":"string"},"agentId":{"type":"string"},"createdAt":{"type":"string"}}}"#)),
    op("get", "/a2a/tasks", "list_a2a_tasks", "a2a", "A2A tasks, newest first", CodeSpar)
        .query(&[("limit", "integer", false), ("offset", "integer", false), ("project", "string", false), ("status", "string", false)])
        .returns(Returns::Schema(r#"{"type":"object","required":["tasks","total","limit","offset"],"properties":{"tasks":{"type":"array","items":{"type":"object","required":["id","status","skill","agentType","createdAt","updatedAt"],"properties":{"id":{"type":"string"},"status":{"type":"string"},"skill":{"type":"string"},"agentType":{"type":"string"},"agentId":{"type":"string"},"projectId":{"type":["string","null"]},"createdAt":{"type":"string"},"updatedAt":{"type":"string"}}}},"total":{"type":"integer","minimum":0},"limit":{"type":"integer"},"offset":{"type":"integer"}}}"#)),
    op("get", "/a2a/tasks/{id}", "get_a2a_task", "a2a", "One A2A task with its input", CodeSpar)
        .returns(Returns::Schema(r#"{"type":"object","required":["id","status","skill","agentType","agentId","input","output","metadata","createdAt","updatedAt"],"properties":{"id":{"type":"string"},"status":{"type":"string","enum":["submitted","working","completed","failed","cancelled"]},"skill":{"type":"string"},"agentType":{"type":"string"},"agentId":{"type":"string"},"projectId":{"type":["string","null"]},"input":{"type":"object","required":["text"],"properties":{"text":{"type":"string"},"attachments":{"type":"array","items":{"type":"object"}}}},"output":{},"metadata":{"type":"object"},"createdAt":{"type":"string"},"updatedAt":{"type":"string"},"cancelledAt":{"type":["string","null"]}}}"#)),
    op("post", "/a2a/tasks/{id}/cancel", "cancel_a2a_task", "a2a", "Cancel a submitted or working task", CodeSpar)
        .returns(Returns::Schema(r#"{"type":"object","required":["id","status","cancelledAt"],"properties":{"id":{"type":"string"},"status":{"type":"string","enum":["cancelled"]},"cancelledAt":{"type":"string"}}}"#)),
    op("get", "/integrations/available", "spike_available", "spike", "Spike: integration types", Spike),
    op("post", "/integrations/create", "spike_create", "spike", "Spike: create an integration", Spike)
        .body(r#"{"type":"object","required":["slug"],"properties":{"slug":{"type":"string"},"customName":{"type":"string"},"desc":{"type":"string"},"service":{"type":"string"},"escalation":{"type":"string"},"ackTimeout":{"type":"integer","minimum":1},"repeatEscalation":{"type":"boolean"}}}"#),
    op("get", "/integrations", "spike_list", "spike", "Spike: list integrations", Spike),
    op("get", "/integrations/{token}", "spike_get", "spike", "Spike: one integration", Spike),
    op("delete", "/integrations/{token}/archive", "spike_archive", "spike", "Spike: archive an integration", Spike),
    op("post", "/ingest/{token}", "spike_ingest", "spike", "Spike: ingest an alert (also /{token}/push-events)", SpikeIngest)
        .body(OBJECT),
    op("post", "/api/v2/integrations/save", "potpie_save", "potpie", "Potpie: save an integration (also /api/v1/integrations/save)", Potpie)
        .body(POTPIE_SAVE),
    op("post", "/api/v1/integrations/create", "potpie_create", "potpie", "Potpie: create an integration", Potpie)
        .body(POTPIE_SAVE),
    op("get", "/api/v1/integrations/connected", "potpie_connected", "potpie", "Potpie: active integrations", Potpie),
    op("get", "/api/v1/integrations/list", "potpie_list", "potpie", "Potpie: every integration", Potpie)
        .query(&[("integration_type", "string", false), ("org_slug", "string", false)]),
    op("get", "/api/v1/integrations/{id}", "potpie_get", "potpie", "Potpie: one integration", Potpie),
    op("delete", "/api/v1/integrations/{id}", "potpie_delete", "potpie", "Potpie: delete an integration", Potpie),
    op("patch", "/api/v1/integrations/{id}/status", "potpie_status", "potpie", "Potpie: activate or deactivate", Potpie)
        .query(&[("active", "boolean", true)]),
    op("get", "/api/v1/integrations/schema/list", "potpie_schema_list", "potpie", "Potpie: integration schemas", Potpie)
        .query(&[("integration_type", "string", false), ("status", "string", false), ("active", "boolean", false)]),
    op("get", "/api/v1/integrations/schema/{id}", "potpie_schema_get", "potpie", "Potpie: one schema", Potpie),
    op("put", "/api/v1/integrations/schema/{id}", "potpie_schema_put", "potpie", "Potpie: update a schema", Potpie)
        .body(OBJECT),
    op("delete", "/api/v1/integrations/schema/{id}", "potpie_schema_delete", "potpie", "Potpie: delete a schema", Potpie),
];

/// The document, built on first use.
pub fn get() -> Response {
    static DOC: OnceLock<Bytes> = OnceLock::new();
    let body = DOC.get_or_init(|| Bytes::from(serde_json::to_vec(&document()).unwrap_or_default()));
    Response::raw_json(200, body.clone())
}

fn document() -> Value {
    let mut paths = Map::new();
    for op in OPERATIONS {
        let item = paths.entry(op.path).or_insert_with(|| json!({}));
        item[op.method] = operation(op);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Spar",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The CodeSpar control plane (REST and integrations API), with the integration-management APIs of Spike and Potpie, from one store. Every path is also served under /v1, except /.well-known/agent.json.",
        },
        "servers": [{ "url": "/" }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "ENGINE_API_TOKEN, when the server has one" },
                "apiKey": { "type": "apiKey", "in": "header", "name": "x-api-key", "description": "A key from `spar api-key create`" },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "code", "status"],
                    "properties": {
                        "error": { "type": "string" },
                        "code": { "type": "string" },
                        "status": { "type": "integer" },
                        "details": {},
                        "retryAfter": { "type": "integer" },
                    },
                },
                "SpikeError": {
                    "type": "object",
                    "required": ["message", "error"],
                    "properties": { "message": { "type": "string" }, "error": { "type": "string" } },
                },
                "PotpieError": { "type": "object" },
            },
        },
    })
}

fn operation(op: &Op) -> Value {
    let mut params: Vec<Value> = path_params(op.path)
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    params.extend(op.query.iter().map(|(name, kind, required)| {
        json!({ "name": name, "in": "query", "required": required, "schema": { "type": kind } })
    }));
    params.extend(dialect_headers(op.dialect));
    let mut out = json!({
        "operationId": op.id,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": params,
        "responses": responses(op),
    });
    if let Some(schema) = op.body {
        let schema: Value = serde_json::from_str(schema).unwrap_or_else(|_| json!({}));
        out["requestBody"] = json!({
            "required": false,
            "content": { "application/json": { "schema": schema } },
        });
    }
    out["security"] = match op.dialect {
        CodeSpar | CodeSparOrg => json!([{ "bearer": [] }, {}]),
        Spike | Potpie => json!([{ "apiKey": [] }]),
        Webhook | SpikeIngest | Public => json!([]),
    };
    out
}

fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

fn dialect_headers(dialect: Dialect) -> Vec<Value> {
    let header = |name: &str, required: bool, description: &str| {
        let schema =
            json!({ "type": "string", "pattern": ORG_ID_PATTERN, "examples": ["default"] });
        json!({ "name": name, "in": "header", "required": required, "description": description, "schema": schema })
    };
    match dialect {
        CodeSpar => {
            vec![header("x-org-id", false, "The organization; absent: the default context")]
        }
        CodeSparOrg => vec![header("x-org-id", true, "The organization (required here)")],
        Spike => vec![header("x-team-id", true, "The team (an org id) the key belongs to")],
        Webhook | SpikeIngest | Potpie | Public => Vec::new(),
    }
}

fn responses(op: &Op) -> Value {
    let success = match op.returns {
        Returns::Object => {
            json!({ "content": { "application/json": { "schema": { "type": "object" } } } })
        }
        Returns::Array => {
            json!({ "content": { "application/json": { "schema": { "type": "array" } } } })
        }
        Returns::Text => json!({ "content": { "text/plain": { "schema": { "type": "string" } } } }),
        Returns::Events => {
            json!({ "content": { "text/event-stream": { "schema": { "type": "string" } } } })
        }
        Returns::Schema(schema) => {
            let schema: Value = serde_json::from_str(schema).unwrap_or_else(|_| json!({}));
            json!({ "content": { "application/json": { "schema": schema } } })
        }
    };
    let mut success = success;
    success["description"] = Value::from(op.summary);
    let error = match op.dialect {
        Spike | SpikeIngest => "SpikeError",
        Potpie => "PotpieError",
        CodeSpar | CodeSparOrg | Webhook | Public => "Error",
    };
    let error = json!({
        "description": "An error in the dialect's shape",
        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{error}") } } },
    });
    let mut out = Map::new();
    out.insert(op.status.to_string(), success);
    // A load balancer needs a non-2xx from an unhealthy instance; the body is the usual one.
    if op.id == "health" {
        out.insert("503".into(), json!({ "description": "Degraded", "content": { "application/json": { "schema": { "type": "object" } } } }));
    }
    out.insert("4XX".into(), error.clone());
    out.insert("5XX".into(), error);
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_body_schema_is_json() {
        for op in OPERATIONS {
            if let Some(schema) = op.body {
                assert!(serde_json::from_str::<Value>(schema).is_ok(), "{}", op.id);
            }
        }
    }

    #[test]
    fn operation_ids_are_endpoint_names_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for op in OPERATIONS {
            let known = super::super::Endpoint::public_names().any(|n| n == op.id);
            assert!(known, "{} is no endpoint", op.id);
            assert!(seen.insert(op.id), "{} twice", op.id);
        }
    }
}
