//! The API: framework-free requests in, responses out. `http/` turns hyper requests into
//! [`Request`]s (after auth, rate limiting and body limits) and [`Response`]s back into hyper.
//!
//! **Invariant:** nothing here knows about hyper; handlers are plain functions over [`App`].

pub mod admin;
mod agents;
mod approvals;
mod audit;
mod body;
mod cache;
mod channel_routes;
mod channels;
mod deliveries;
mod error;
mod events;
mod health;
mod identity;
mod incidents;
mod integrations;
mod memory;
mod metrics;
mod openapi;
mod orgs;
mod potpie;
mod projects;
pub mod routes;
mod scheduler;
mod scope;
mod spike;
mod webhooks;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use serde::Serialize;

pub use error::ApiError;
pub use routes::{Endpoint, Method, PathClass};
pub use scope::Scope;

use tokio::sync::{mpsc, watch};

use crate::engine::Policy;
use crate::engine::outbox::Outbox;
use crate::search::Search;
use crate::settings::Settings;
use crate::store::Store;
use crate::store::audit::{Pruned, remove_older_than};
use crate::upstream::Upstream;
use crate::upstream::github::GitHub;

/// Everything a handler can reach.
pub struct App {
    pub store: Store,
    pub search: Arc<Search>,
    pub settings: Settings,
    pub upstream: Upstream,
    pub started: Instant,
    /// Sends what the engine queued; its worker is started by `spar serve`.
    pub outbox: Arc<Outbox>,
    /// Whether each org's last call to each integration failed.
    integrations: integrations::Health,
    /// The engine's settings, derived once from `settings`.
    policy: Policy,
    list_cache: cache::ResponseCache<agents::ListKey>,
    /// Bumped after every commit that recorded events: wakes the event streams.
    events_committed: watch::Sender<u64>,
    /// Turns true when the server shuts down: ends event streams and background workers.
    closing: watch::Sender<bool>,
    /// The scheduler's shared state (its runtime is started by [`App::start_workers`]).
    pub scheduler: crate::sched::Scheduler,
    /// Request, webhook and rate-limit counters for `/metrics`.
    pub metrics: crate::metrics::Metrics,
}

impl App {
    /// An app with default settings: no upstream credentials, no webhook secrets.
    pub fn new(store: Store, search: Arc<Search>) -> Self {
        Self::with_settings(store, search, Settings::default())
    }

    pub fn with_settings(store: Store, search: Arc<Search>, settings: Settings) -> Self {
        let upstream = Upstream::new(settings.upstream_timeout);
        let outbox = Arc::new(Outbox::new(store.clone(), settings.clone(), upstream.clone()));
        let policy = policy_of(&settings);
        let scheduler = crate::sched::Scheduler::new(settings.scheduler_time_scale);
        Self {
            scheduler,
            metrics: crate::metrics::Metrics::default(),
            store,
            search,
            upstream,
            settings,
            started: Instant::now(),
            outbox,
            integrations: integrations::Health::default(),
            policy,
            list_cache: cache::ResponseCache::default(),
            events_committed: watch::Sender::new(0),
            closing: watch::Sender::new(false),
        }
    }

    /// The secret GitHub deliveries for `org` are signed with (contract 7.1's lookup order): the
    /// org's `github` channel config (`webhookSecret`), then `GITHUB_WEBHOOK_SECRET_<ORG>`, then
    /// `GITHUB_WEBHOOK_SECRET`.
    pub fn github_secret(&self, org: &str) -> Result<Option<crate::settings::Secret>, ApiError> {
        let stored = crate::store::channels::config(&self.store.read()?, org, "github")?
            .and_then(|c| c.config.get("webhookSecret").filter(|s| !s.is_empty()).cloned());
        Ok(stored
            .map(crate::settings::Secret::new)
            .or_else(|| self.settings.github_secret_for(org).cloned()))
    }

    /// The secret Sentry deliveries for `org` are signed with: the org's sentry configuration
    /// (`webhookSecret`), else for org `default` `SENTRY_WEBHOOK_SECRET`.
    pub fn sentry_secret(&self, org: &str) -> Result<Option<crate::settings::Secret>, ApiError> {
        let config =
            crate::engine::channels::config(&self.store.read()?, &self.settings, org, "sentry")?;
        Ok(config
            .and_then(|keys| keys.into_iter().find(|(k, v)| k == "webhookSecret" && !v.is_empty()))
            .map(|(_, v)| crate::settings::Secret::new(v)))
    }

    /// The engine's settings.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Call after a commit that recorded events (and maybe deliveries).
    pub fn events_recorded(&self, deliveries: bool) {
        self.events_committed.send_modify(|n| *n = n.wrapping_add(1));
        if deliveries {
            self.outbox.wake();
        }
    }

    /// Starts the background workers (the outbox and the scheduler). Needs a tokio runtime.
    pub fn start_workers(self: &Arc<Self>) {
        tokio::spawn(Arc::clone(&self.outbox).run(self.closing.subscribe()));
        tokio::spawn(crate::sched::run(Arc::clone(self), self.closing.subscribe()));
    }

    /// `(org, integration)` pairs whose last upstream call failed.
    pub fn integration_errors(&self) -> Vec<(String, String)> {
        self.integrations.failing()
    }

    /// Ends event streams and stops the workers.
    pub fn begin_shutdown(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once [`Self::begin_shutdown`] was called.
    pub async fn closed(&self) {
        let mut closing = self.closing.subscribe();
        let _ = closing.wait_for(|c| *c).await;
    }

    /// The GitHub client, when `GITHUB_TOKEN` is set.
    pub fn github(&self) -> Option<GitHub> {
        let token = self.settings.github_token.clone()?;
        Some(GitHub::new(self.upstream.clone(), &self.settings.github_api_url, token))
    }
}

impl App {
    /// Audit retention (contract 10's `audit-cleanup` calls this): removes entries older than
    /// `days`, keeping every chain verifiable, and drops them from the search index.
    pub async fn prune_audit(&self, days: u32) -> Result<Vec<Pruned>, ApiError> {
        self.prune_audit_before(crate::clock::now_ms() - i64::from(days) * 86_400_000).await
    }

    /// Removes audit entries older than `cutoff_ms` (Unix milliseconds); see [`Self::prune_audit`].
    pub async fn prune_audit_before(&self, cutoff: i64) -> Result<Vec<Pruned>, ApiError> {
        let pruned =
            self.store.write(move |tx| Ok::<_, ApiError>(remove_older_than(tx, cutoff)?)).await?;
        let search = Arc::clone(&self.search);
        let forget = pruned.clone();
        tokio::task::spawn_blocking(move || {
            forget.iter().try_for_each(|p| search.audit.forget(&p.org, p.upto_seq))
        })
        .await
        .map_err(|e| ApiError::Internal(format!("index cleanup failed: {e}")))??;
        Ok(pruned)
    }
}

/// The engine's settings: the approval lifetime, and which level-3 actions the environment
/// configures for org `default`.
fn policy_of(settings: &Settings) -> Policy {
    let ttl = i64::try_from(settings.approval_ttl.as_millis()).unwrap_or(i64::MAX);
    let env_has = |name: &str, key: &str| {
        settings.env_config(name).is_some_and(|keys| keys.iter().any(|(k, _)| k == key))
    };
    Policy {
        approval_ttl_ms: ttl,
        env_linear: env_has("linear", "apiKey"),
        env_pagerduty_routing_key: env_has("pagerduty", "routingKey"),
    }
}

/// A parsed, authenticated, size-checked request.
#[derive(Debug, Clone)]
pub struct Request {
    pub endpoint: Endpoint,
    pub query: body::Query,
    /// `x-org-id`, when present and not empty.
    pub org_header: Option<String>,
    /// `X-Actor`: who the audit trail names for this change (default `api`).
    pub actor: Option<String>,
    pub body: Vec<u8>,
    pub request_id: String,
    /// Headers with lower-case names; filled only for endpoints that read their own headers
    /// (webhooks: event, delivery, signature, content type).
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn new(endpoint: Endpoint, raw_query: Option<&str>, request_id: String) -> Self {
        Self {
            endpoint,
            query: body::Query::parse(raw_query),
            org_header: None,
            actor: None,
            body: Vec::new(),
            request_id,
            headers: Vec::new(),
        }
    }

    fn actor(&self) -> &str {
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
        Self::raw_json(status, Bytes::from(to_json(value)))
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
}

/// Serializes our own response types (which cannot fail into a Vec).
fn to_json(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// Runs a request to completion. Never fails: errors become their contract responses.
pub async fn handle(app: &App, req: Request) -> Response {
    let request_id = req.request_id.clone();
    match dispatch(app, req).await {
        Ok(response) => response,
        Err(e) => e.into_response(&request_id),
    }
}

async fn dispatch(app: &App, req: Request) -> Result<Response, ApiError> {
    match req.endpoint {
        Endpoint::Health => return Ok(health::get(app)),
        Endpoint::Metrics => return metrics::prometheus(app),
        Endpoint::ApiMetrics => return metrics::json_view(app),
        Endpoint::OpenApi => return Ok(openapi::get()),
        // Webhooks resolve their org themselves (`?orgId=`, header, repository; contract 7).
        Endpoint::GithubWebhook => return webhooks::github(app, &req).await,
        Endpoint::SentryWebhook => return webhooks::sentry(app, &req).await,
        // The Spike dialect authenticates with its own key headers, not `x-org-id`.
        Endpoint::SpikeAvailable => return spike::available(app, &req),
        Endpoint::SpikeCreate => return spike::create(app, &req).await,
        Endpoint::SpikeList => return spike::list(app, &req),
        Endpoint::SpikeGet(ref token) => return spike::get(app, &req, token),
        Endpoint::SpikeArchive(ref token) => return spike::archive(app, &req, token).await,
        Endpoint::SpikeIngest(ref token) => return spike::ingest(app, &req, token).await,
        Endpoint::PotpieSave => return potpie::save(app, &req).await,
        Endpoint::PotpieCreate => return potpie::create(app, &req).await,
        Endpoint::PotpieConnected => return potpie::connected(app, &req),
        Endpoint::PotpieList => return potpie::list(app, &req),
        Endpoint::PotpieGet(ref id) => return potpie::get(app, &req, id),
        Endpoint::PotpieDelete(ref id) => return potpie::delete(app, &req, id).await,
        Endpoint::PotpieStatus(ref id) => return potpie::set_status(app, &req, id).await,
        Endpoint::PotpieSchemaList => return potpie::schema_list(app, &req),
        Endpoint::PotpieSchemaGet(ref id) => return potpie::schema_get(app, &req, id),
        Endpoint::PotpieSchemaPut(ref id) => return potpie::schema_put(app, &req, id).await,
        Endpoint::PotpieSchemaDelete(ref id) => return potpie::schema_delete(app, &req, id).await,
        // Reached only through the loopback admin listener (`http/` refuses them elsewhere).
        Endpoint::AdminCreateKey => return admin::create(app, &req).await,
        Endpoint::AdminListKeys => return admin::list(app),
        Endpoint::AdminRevokeKey(ref key) => return admin::revoke(app, key).await,
        Endpoint::AdminBackup => return admin::backup(app, &req).await,
        // Contract 2.4: the integration routes need `x-org-id`.
        e if e.needs_org_header() && req.org_header.is_none() => {
            return Err(ApiError::MissingOrgId);
        }
        _ => {}
    }
    let scope = Scope::resolve(&app.store, req.org_header.as_deref())?;
    match &req.endpoint {
        Endpoint::Health => Ok(health::get(app)),
        Endpoint::AgentTypes => Ok(agents::types()),
        Endpoint::ListAgents => agents::list(app, &scope, &req),
        Endpoint::CreateAgent => agents::create(app, &scope, &req).await,
        Endpoint::GetAgent(id) => agents::get(app, &scope, id),
        Endpoint::DeleteAgent(id) => agents::delete(app, &scope, &req, id).await,
        Endpoint::AgentAction(id) => agents::action(app, &scope, &req, id).await,
        Endpoint::ListOrgs => orgs::list(app, &scope),
        Endpoint::CreateOrg => orgs::create(app, &req).await,
        Endpoint::GetOrg(id) => orgs::get(app, &scope, id),
        Endpoint::ListAudit => audit::list(app, &scope, &req),
        Endpoint::VerifyAudit => audit::verify(app, &scope).await,
        Endpoint::MemoryStats => memory::stats(app, &scope),
        Endpoint::AddMemory => memory::add(app, &scope, &req).await,
        Endpoint::SearchMemory => memory::search(app, &scope, &req),
        Endpoint::GetIdentity => identity::get(app, &scope, &req),
        Endpoint::RegisterIdentity => identity::register(app, &scope, &req).await,
        Endpoint::GetProjectLink => projects::get_link(app, &scope, &req),
        Endpoint::LinkProject => projects::link(app, &scope, &req).await,
        Endpoint::UnlinkProject => projects::unlink(app, &scope, &req).await,
        Endpoint::ListProjects => projects::list(app, &scope),
        Endpoint::CreateProject => projects::create(app, &scope, &req).await,
        Endpoint::GetProject(id) => projects::get(app, &scope, id),
        Endpoint::DeleteProject(id) => projects::delete(app, &scope, &req, id).await,
        Endpoint::GithubWebhook => webhooks::github(app, &req).await,
        Endpoint::SentryWebhook => webhooks::sentry(app, &req).await,
        Endpoint::ListTasks => scheduler::list(app, &scope),
        Endpoint::CreateTask => scheduler::create(app, &scope, &req).await,
        Endpoint::PauseTask(name) => scheduler::set_enabled(app, &scope, &req, name, false).await,
        Endpoint::ResumeTask(name) => scheduler::set_enabled(app, &scope, &req, name, true).await,
        Endpoint::RunTask(name) => scheduler::run(app, &scope, name).await,
        Endpoint::DeleteTask(name) => scheduler::delete(app, &scope, &req, name).await,
        Endpoint::Metrics
        | Endpoint::ApiMetrics
        | Endpoint::OpenApi
        | Endpoint::AdminBackup
        | Endpoint::AdminCreateKey
        | Endpoint::AdminListKeys
        | Endpoint::AdminRevokeKey(_)
        | Endpoint::SpikeAvailable
        | Endpoint::SpikeCreate
        | Endpoint::SpikeList
        | Endpoint::SpikeGet(_)
        | Endpoint::SpikeArchive(_)
        | Endpoint::SpikeIngest(_)
        | Endpoint::PotpieSave
        | Endpoint::PotpieCreate
        | Endpoint::PotpieConnected
        | Endpoint::PotpieList
        | Endpoint::PotpieGet(_)
        | Endpoint::PotpieDelete(_)
        | Endpoint::PotpieStatus(_)
        | Endpoint::PotpieSchemaList
        | Endpoint::PotpieSchemaGet(_)
        | Endpoint::PotpieSchemaPut(_)
        | Endpoint::PotpieSchemaDelete(_) => Err(ApiError::NotFound),
        Endpoint::ListIncidents => incidents::list(app, &scope, &req),
        Endpoint::AcknowledgeIncident(id) => incidents::acknowledge(app, &scope, &req, id).await,
        Endpoint::ListRoutes => channel_routes::list(app, &scope),
        Endpoint::CreateRoute => channel_routes::create(app, &scope, &req).await,
        Endpoint::DeleteRoute(id) => channel_routes::delete(app, &scope, &req, id).await,
        Endpoint::ListChannels => channels::list(app, &scope),
        Endpoint::ConfigureChannel => channels::configure(app, &scope, &req).await,
        Endpoint::ReconnectChannel(name) => channels::reconnect(app, &scope, &req, name).await,
        Endpoint::ListDeliveries => deliveries::list(app, &scope, &req),
        Endpoint::RetryDelivery(id) => deliveries::retry(app, &scope, &req, id).await,
        Endpoint::GetApproval(token) => approvals::get(app, &scope, token),
        Endpoint::VoteApproval(token) => approvals::vote(app, &scope, &req, token).await,
        Endpoint::EventStream => events::stream(app, &scope, &req),
        Endpoint::IntegrationStatus => integrations::status(app, &scope),
        Endpoint::ConfigureIntegration => integrations::configure(app, &scope, &req).await,
        Endpoint::PagerDutyOnCall => integrations::pagerduty_oncall(app, &scope, &req).await,
        Endpoint::PagerDutyIncidents => integrations::pagerduty_incidents(app, &scope, &req).await,
        Endpoint::PagerDutyAcknowledge(id) => {
            integrations::pagerduty_acknowledge(app, &scope, &req, id).await
        }
        Endpoint::LinearTeams => integrations::linear_teams(app, &scope).await,
        Endpoint::LinearIssues => integrations::linear_issues(app, &scope, &req).await,
        Endpoint::LinearCreateIssue => integrations::linear_create(app, &scope, &req).await,
        Endpoint::SentryIssues => integrations::sentry_issues(app, &scope, &req).await,
    }
}
