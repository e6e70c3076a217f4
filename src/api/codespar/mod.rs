//! The CodeSpar API (docs/API.md §2): agents, orgs, the audit trail, memory, identity, projects,
//! channels and routes, deliveries, approvals, the event stream, integrations, incidents, the
//! scheduler, agent cards and A2A tasks (`/a2a/tasks`, `/.well-known/agent.json`), plus
//! `/health`, `/metrics` and `/openapi.json`. One file per resource; the
//! router and its table are in `routes.rs`, the error type in `error.rs`.
//!
//! Bearer token when `ENGINE_API_TOKEN` is set (checked by `http/` from [`Endpoint::auth`]),
//! `{"error","code","status"}` errors.

mod a2a;
mod activity;
pub(crate) mod agents;
mod approvals;
mod audit;
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
mod orgs;
mod projects;
mod routes;
mod scheduler;

pub use channels::is_configurable;
pub use error::ApiError;
pub use routes::{Endpoint, route};

use super::scope::{OrgId, Scope};
use super::{Request, Response, State, openapi, webhooks};

pub async fn handle(state: &State, endpoint: Endpoint, req: Request) -> Response {
    if endpoint == Endpoint::SentryWebhookAlias {
        return webhooks::handle(state, webhooks::Endpoint::Sentry, req).await;
    }
    match dispatch(state, endpoint, &req).await {
        Ok(response) => response,
        Err(e) => e.into_response(&req.request_id),
    }
}

async fn dispatch(state: &State, endpoint: Endpoint, req: &Request) -> Result<Response, ApiError> {
    use Endpoint as E;
    // What a request without `x-org-id` reads and writes: the router table's last column. An
    // org token confines every one of these to its org.
    let (header, caller) = (req.org_header.as_deref(), &req.caller);
    let every_org = || Scope::of(&state.store, caller, header);
    let default_org = || OrgId::header_or_default(&state.store, caller, header);
    let named_org = || OrgId::from_header(&state.store, caller, header);
    // Endpoints of no org still refuse a malformed or unknown `x-org-id`.
    let no_org = || every_org().map(drop);
    match endpoint {
        E::Health => Ok(health::get(state)),
        E::Session => Ok(health::session(caller)),
        E::Metrics => metrics::prometheus(state, caller),
        E::OpenApi => Ok(openapi::get()),
        // Server-wide figures: the header is not read; not for an org's token.
        E::ApiMetrics => {
            caller.require_operator()?;
            metrics::json_view(state)
        }
        E::AgentTypes => {
            no_org()?;
            Ok(agents::types())
        }
        E::ListAgents => agents::list(state, &every_org()?, req),
        E::CreateAgent => agents::create(state, &default_org()?, req).await,
        E::GetAgent(id) => agents::get(state, &every_org()?, &id),
        E::DeleteAgent(id) => agents::delete(state, &every_org()?, req, &id).await,
        E::AgentAction(id) => agents::action(state, &every_org()?, req, &id).await,
        E::ListOrgs => orgs::list(state, &every_org()?),
        E::CreateOrg => {
            no_org()?;
            caller.require_operator()?;
            orgs::create(state, req).await
        }
        E::GetOrg(id) => orgs::get(state, &every_org()?, &id),
        E::ListAudit => audit::list(state, &every_org()?, req).await,
        E::VerifyAudit => audit::verify(state, &every_org()?).await,
        E::MemoryStats => memory::stats(state, &every_org()?),
        E::AddMemory => memory::add(state, &default_org()?, req).await,
        E::SearchMemory => memory::search(state, &every_org()?, req).await,
        E::GetIdentity => identity::get(state, &default_org()?, req),
        E::RegisterIdentity => identity::register(state, &default_org()?, req).await,
        E::GetProjectLink => projects::get_link(state, &every_org()?, req),
        E::LinkProject => projects::link(state, &every_org()?, req).await,
        E::UnlinkProject => projects::unlink(state, &every_org()?, req).await,
        E::ListProjects => projects::list(state, &every_org()?),
        E::CreateProject => projects::create(state, &default_org()?, req).await,
        E::GetProject(id) => projects::get(state, &every_org()?, &id),
        E::DeleteProject(id) => projects::delete(state, &every_org()?, req, &id).await,
        E::ListRoutes => channel_routes::list(state, &named_org()?),
        E::CreateRoute => channel_routes::create(state, &named_org()?, req).await,
        E::DeleteRoute(id) => channel_routes::delete(state, &named_org()?, req, &id).await,
        E::DeleteRouteTo((channel, id)) => {
            channel_routes::delete_by_destination(state, &named_org()?, req, &channel, &id).await
        }
        E::ListChannels => channels::list(state, &default_org()?),
        E::ConfigureChannel => channels::configure(state, &default_org()?, req).await,
        E::ReconnectChannel(name) => channels::reconnect(state, &default_org()?, req, &name).await,
        E::ListDeliveries => deliveries::list(state, &default_org()?, req),
        E::GetDelivery(id) => deliveries::get(state, &every_org()?, &id),
        E::RetryDelivery(id) => deliveries::retry(state, &every_org()?, req, &id).await,
        E::ListApprovals => approvals::list(state, &default_org()?, req),
        E::Activity => activity::get(state, &default_org()?, req),
        E::GetApproval(token) => approvals::get(state, &every_org()?, &token),
        E::VoteApproval(token) => approvals::vote(state, &every_org()?, req, &token).await,
        E::EventStream => events::stream(state, &default_org()?, req),
        E::IntegrationStatus => integrations::status(state, &named_org()?),
        E::ConfigureIntegration => integrations::configure(state, &named_org()?, req).await,
        E::PagerDutyOnCall => integrations::pagerduty_oncall(state, &named_org()?, req).await,
        E::PagerDutyIncidents => integrations::pagerduty_incidents(state, &named_org()?, req).await,
        E::PagerDutyAcknowledge(id) => {
            integrations::pagerduty_acknowledge(state, &named_org()?, req, &id).await
        }
        E::LinearTeams => integrations::linear_teams(state, &named_org()?).await,
        E::LinearIssues => integrations::linear_issues(state, &named_org()?, req).await,
        E::LinearCreateIssue => integrations::linear_create(state, &named_org()?, req).await,
        E::SentryIssues => integrations::sentry_issues(state, &named_org()?, req).await,
        E::ListIncidents => incidents::list(state, &default_org()?, req),
        E::AcknowledgeIncident(id) => {
            incidents::acknowledge(state, &default_org()?, req, &id).await
        }
        E::ListTasks => scheduler::list(state, &default_org()?),
        E::CreateTask => scheduler::create(state, &default_org()?, req).await,
        E::PauseTask(name) => {
            scheduler::set_enabled(state, &default_org()?, req, &name, false).await
        }
        E::ResumeTask(name) => {
            scheduler::set_enabled(state, &default_org()?, req, &name, true).await
        }
        E::RunTask(name) => scheduler::run(state, &default_org()?, &name).await,
        E::DeleteTask(name) => scheduler::delete(state, &default_org()?, req, &name).await,
        // No org data: the card is public and ignores `x-org-id`, like `/health`.
        E::WellKnownAgentCard => Ok(a2a::well_known(state, req)),
        E::ListAgentCards => {
            no_org()?;
            Ok(a2a::cards())
        }
        E::GetAgentCard(t) => {
            no_org()?;
            a2a::card(&t)
        }
        E::SubmitA2aTask => a2a::submit(state, &default_org()?, req).await,
        E::ListA2aTasks => a2a::list(state, &default_org()?, req),
        E::GetA2aTask(id) => a2a::get(state, &default_org()?, &id),
        E::CancelA2aTask(id) => a2a::cancel(state, &default_org()?, req, &id).await,
        // Handled above, by the webhooks family.
        E::SentryWebhookAlias => Err(ApiError::internal("the Sentry alias is a webhook")),
    }
}
