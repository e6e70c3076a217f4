//! Projects (docs/API.md §2.7): link a GitHub repository to an agent, create a project with
//! its agent, list, read, delete, unlink.
//!
//! GitHub is asked first, off the executor; the store changes only after GitHub agreed, in one
//! transaction with the audit entry, so a failure at GitHub leaves nothing behind. A hook Spar
//! created for a change the store then refused is removed again.

use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use super::agents::find as find_agent;
use crate::api::{Caller, OrgId, Request, Response, Scope, State, body};
use crate::clock;
use crate::engine::channels::{github_secret, github_token};
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::records::{AgentRecord, AgentStatus, AgentType, NewAgent, ProjectRecord};
use crate::store::{Source, agents, projects};
use crate::upstream;
use crate::upstream::github::{GitHub, HookInstall, HookRemoval, HookSpec, RepoRef};

/// The fields ProjectConfig and ProjectListEntry (docs/API.md §2.7) start with.
fn repo_view(p: &ProjectRecord) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "repo": p.repo,
        "repoUrl": p.repo_url(),
        "defaultBranch": p.default_branch,
        "webhookConfigured": p.webhook_id.is_some(),
    })
}

/// ProjectConfig (docs/API.md §2.7).
fn config_view(p: &ProjectRecord) -> Value {
    let mut config = repo_view(p);
    if let Some(hook) = p.webhook_id {
        config["webhookId"] = hook.into();
    }
    config["linkedAt"] = clock::rfc3339(p.created_at_ms).into();
    config["linkedBy"] = if p.linked_by.is_empty() { "api" } else { &p.linked_by }.into();
    config
}

/// ProjectListEntry (docs/API.md §2.7).
fn entry_view(src: &impl Source, p: &ProjectRecord) -> Result<Value, ApiError> {
    let agent = agents::get(src, &p.org_id, &p.agent_id)?;
    let mut entry = repo_view(p);
    entry["agentId"] = p.agent_id.as_str().into();
    entry["agentStatus"] = agent.map_or(Value::Null, |a| a.status.as_str().into());
    entry["orgId"] = p.org_id.as_str().into();
    entry["createdAt"] = clock::rfc3339(p.created_at_ms).into();
    Ok(entry)
}

/// The project an agent is linked to, if any.
fn linked_project(
    src: &impl Source,
    agent: &AgentRecord,
) -> Result<Option<ProjectRecord>, ApiError> {
    match &agent.project_id {
        Some(id) => Ok(projects::get(src, &agent.org_id, id)?),
        None => Ok(None),
    }
}

/// Finds a project visible in `scope`, or 404 `PROJECT_NOT_FOUND`.
fn find(src: &impl Source, scope: &Scope, id: &str) -> Result<ProjectRecord, ApiError> {
    let found = match scope.org_for_id(|| projects::org_of(src, id))? {
        Some(org) => projects::get(src, &org, id)?,
        None => None,
    };
    found.ok_or_else(|| ApiError::ProjectNotFound(id.to_owned()))
}

pub fn get_link(state: &State, scope: &Scope, req: &Request) -> Result<Response, ApiError> {
    let agent_id = req.query.required("agentId")?;
    let tx = state.store.read()?;
    let agent = find_agent(&tx, scope, agent_id)?;
    Ok(Response::ok(&match linked_project(&tx, &agent)? {
        Some(p) => json!({ "linked": true, "config": config_view(&p) }),
        None => json!({ "linked": false }),
    }))
}

pub fn list(state: &State, scope: &Scope) -> Result<Response, ApiError> {
    let tx = state.store.read()?;
    let views = projects::list(&tx, scope.filter())?
        .iter()
        .map(|p| entry_view(&tx, p))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Response::ok(&json!({ "projects": views })))
}

pub fn get(state: &State, scope: &Scope, id: &str) -> Result<Response, ApiError> {
    let tx = state.store.read()?;
    let project = find(&tx, scope, id)?;
    Ok(Response::ok(&entry_view(&tx, &project)?))
}

/// What GitHub said about a repository, and the hook Spar put on it.
#[derive(Debug, Clone)]
struct Remote {
    /// GitHub's `full_name` (what the user typed when GitHub was not asked).
    repo: String,
    repo_url: String,
    default_branch: String,
    hook: Option<HookInstall>,
}

impl Remote {
    /// A repository taken on the user's word (no `GITHUB_TOKEN` to ask with).
    fn unchecked(repo: &RepoRef) -> Self {
        Self {
            repo: repo.full_name(),
            repo_url: format!("https://github.com/{}", repo.full_name()),
            default_branch: "main".into(),
            hook: None,
        }
    }

    fn hook_id(&self) -> Option<u64> {
        self.hook.and_then(HookInstall::id)
    }
}

/// Checks the repository on GitHub (404 `REPO_NOT_FOUND` for GitHub's 404 or 403) and, when
/// `with_hook` and `WEBHOOK_BASE_URL` is set, makes sure it has Spar's hook for `org`.
async fn check_on_github(
    state: &State,
    org: &str,
    repo: RepoRef,
    with_hook: bool,
) -> Result<Remote, ApiError> {
    let github = github_of(state, org)?.ok_or(ApiError::MissingConfig("GITHUB_TOKEN"))?;
    let secret = github_secret(&state.store.read()?, &state.settings, org)?;
    let spec = state
        .settings
        .github_hook_url(org)
        .filter(|_| with_hook)
        .map(|url| HookSpec { url, secret });
    upstream::blocking(move || {
        let found = github.repo(&repo)?.ok_or_else(|| ApiError::RepoNotFound(repo.full_name()))?;
        let hook = spec.map(|spec| github.install_hook(&found.full_name, &spec)).transpose()?;
        if hook == Some(HookInstall::NotPermitted) {
            tracing::warn!(
                repo = found.full_name,
                "the GitHub token may not manage hooks: linked without a webhook"
            );
        }
        Ok(Remote {
            repo: found.full_name,
            repo_url: found.html_url,
            default_branch: found.default_branch,
            hook,
        })
    })
    .await
}

/// Removes a hook Spar created for a change that did not happen. Best effort, in the
/// background: the client already has its answer.
fn undo_hook(state: &State, org: &str, remote: &Remote, kept: Option<u64>) {
    let Some(HookInstall::Created(id)) = remote.hook else { return };
    if kept == Some(id) {
        return;
    }
    let (Ok(Some(github)), repo) = (github_of(state, org), remote.repo.clone()) else {
        return;
    };
    tokio::task::spawn_blocking(move || {
        if let Err(e) = github.remove_hook(&repo, id) {
            tracing::warn!(repo, hook = id, error = %e, "could not remove an unused GitHub hook");
        }
    });
}

/// Removes a project's hook from GitHub. `Ok(true)` when it is gone (a 404 counts), `Ok(false)`
/// when there was none or the token may not remove it; GitHub down is 502 and changes nothing.
async fn remove_hook(state: &State, project: &ProjectRecord) -> Result<bool, ApiError> {
    let Some(hook) = project.webhook_id else { return Ok(false) };
    let Some(github) = github_of(state, &project.org_id)? else {
        tracing::warn!(
            project = project.id,
            hook,
            "GITHUB_TOKEN is not set: the GitHub hook stays"
        );
        return Ok(false);
    };
    let repo = project.repo.clone();
    let removal =
        upstream::blocking(move || github.remove_hook(&repo, hook).map_err(ApiError::from)).await?;
    if removal == HookRemoval::NotPermitted {
        tracing::warn!(project = project.id, hook, "the GitHub token may not delete the hook");
    }
    Ok(removal != HookRemoval::NotPermitted)
}

/// The GitHub client of `org`'s projects: its own token, else `GITHUB_TOKEN`.
fn github_of(state: &State, org: &str) -> Result<Option<GitHub>, ApiError> {
    let token = github_token(&state.store.read()?, &state.settings, org)?;
    Ok(GitHub::with_token(&state.upstream, &state.settings, token))
}

/// With an org token, a repository that has a project in another org is that org's: 409
/// `REPO_IN_ANOTHER_ORG` (the operator may still link it anywhere; docs/API.md §2.7).
fn check_repo_is_ours(
    src: &impl Source,
    caller: &Caller,
    org: &str,
    repo: &str,
) -> Result<(), ApiError> {
    if caller.spans_orgs() {
        return Ok(());
    }
    if projects::orgs_of_repo(src, repo)?.iter().any(|other| other != org) {
        return Err(ApiError::RepoInAnotherOrg(repo.to_owned()));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct LinkBody {
    agent_id: Option<String>,
    repo: Option<String>,
}

pub async fn link(state: &State, scope: &Scope, req: &Request) -> Result<Response, ApiError> {
    let input: LinkBody = body::json(&req.body)?;
    let agent_id = body::required(input.agent_id, "agentId")?;
    let repo = parse_repo(body::required(input.repo, "repo")?)?;
    // Refuse what must fail before asking GitHub anything.
    let (org, joins_existing) = {
        let tx = state.store.read()?;
        let agent = find_agent(&tx, scope, &agent_id)?;
        check_linkable(&tx, &agent)?;
        check_repo_is_ours(&tx, &req.caller, &agent.org_id, &repo.full_name())?;
        let existing = projects::by_repo(&tx, &agent.org_id, &repo.full_name())?;
        (agent.org_id, existing.is_some())
    };
    let remote = check_on_github(state, &org, repo, !joins_existing).await?;
    let (scope, actor, linked) = (scope.clone(), req.actor().to_owned(), remote.clone());
    let caller = req.caller.clone();
    let result = state
        .store
        .write(move |tx| {
            let agent = find_agent(tx, &scope, &agent_id)?;
            check_linkable(tx, &agent)?;
            check_repo_is_ours(tx, &caller, &agent.org_id, &linked.repo)?;
            let project = match projects::by_repo(tx, &agent.org_id, &linked.repo)? {
                // Another agent's project for this repository: the agent joins it.
                Some(existing) => existing,
                None => {
                    let project = new_project(tx, &linked, &agent.id, &agent.org_id, &actor)?;
                    projects::put(tx, &project)?;
                    project
                }
            };
            let mut updated = agent.clone();
            updated.project_id = Some(project.id.clone());
            agents::put(tx, &updated)?;
            let draft = AuditDraft::new(ActorType::User, &actor, "link")
                .meta("agentId", agent.id.as_str())
                .meta("projectId", project.id.as_str())
                .meta("repo", project.repo.as_str())
                .meta("webhookConfigured", project.webhook_id.is_some());
            audit::append(tx, &agent.org_id, draft)?;
            Ok::<_, ApiError>(project)
        })
        .await;
    undo_hook(state, &org, &remote, result.as_ref().ok().and_then(|p| p.webhook_id));
    let project = result?;
    Ok(Response::ok(&json!({ "success": true, "config": config_view(&project) })))
}

/// An agent can be linked when it is not terminated and has no project yet.
fn check_linkable(src: &impl Source, agent: &AgentRecord) -> Result<(), ApiError> {
    if agent.status == AgentStatus::Terminated {
        return Err(ApiError::InvalidState(format!("Agent '{}' is terminated", agent.id)));
    }
    if linked_project(src, agent)?.is_some() {
        return Err(ApiError::AlreadyLinked(agent.id.clone()));
    }
    Ok(())
}

fn new_project(
    tx: &crate::store::WriteTx<'_>,
    remote: &Remote,
    agent_id: &str,
    org: &str,
    actor: &str,
) -> Result<ProjectRecord, ApiError> {
    Ok(ProjectRecord {
        id: projects::issue_id(tx)?,
        name: repo_name(&remote.repo).to_owned(),
        repo: remote.repo.clone(),
        repo_url: remote.repo_url.clone(),
        default_branch: remote.default_branch.clone(),
        webhook_id: remote.hook_id(),
        agent_id: agent_id.to_owned(),
        org_id: org.to_owned(),
        created_at_ms: clock::now_ms(),
        linked_by: actor.to_owned(),
    })
}

pub async fn unlink(state: &State, scope: &Scope, req: &Request) -> Result<Response, ApiError> {
    let agent_id = req.query.required("agentId")?.to_owned();
    let project = {
        let tx = state.store.read()?;
        let agent = find_agent(&tx, scope, &agent_id)?;
        linked_project(&tx, &agent)?.ok_or_else(|| ApiError::NotLinked(agent_id.clone()))?
    };
    // The project belongs to the agent that linked it: unlinking that agent removes the
    // project and its hook. An agent that joined another's project just leaves it.
    let owner = project.agent_id == agent_id;
    let webhook_removed = if owner { remove_hook(state, &project).await? } else { false };
    let (scope, actor, unlinked) = (scope.clone(), req.actor().to_owned(), agent_id.clone());
    let repo = state
        .store
        .write(move |tx| {
            let agent = find_agent(tx, &scope, &agent_id)?;
            let project =
                linked_project(tx, &agent)?.ok_or_else(|| ApiError::NotLinked(agent_id.clone()))?;
            let mut updated = agent.clone();
            updated.project_id = None;
            agents::put(tx, &updated)?;
            if project.agent_id == agent.id {
                projects::remove(tx, &project)?;
            }
            let draft = AuditDraft::new(ActorType::User, &actor, "unlink")
                .meta("agentId", agent.id.as_str())
                .meta("projectId", project.id.as_str())
                .meta("repo", project.repo.as_str())
                .meta("webhookRemoved", webhook_removed);
            audit::append(tx, &agent.org_id, draft)?;
            Ok::<_, ApiError>(project.repo)
        })
        .await?;
    Ok(Response::ok(&json!({
        "success": true,
        "unlinked": { "agentId": unlinked, "repo": repo, "webhookRemoved": webhook_removed },
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    repo: Option<String>,
    name: Option<String>,
}

pub async fn create(state: &State, org: &OrgId, req: &Request) -> Result<Response, ApiError> {
    let input: CreateBody = body::json(&req.body)?;
    let repo = parse_repo(body::required(input.repo, "repo")?)?;
    let name = input.name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if name.as_ref().is_some_and(|n| n.chars().count() > 100 || n.chars().any(char::is_control)) {
        return Err(ApiError::InvalidField {
            field: "name".into(),
            reason: "must be at most 100 printable characters".into(),
        });
    }
    let org = org.to_string();
    {
        let tx = state.store.read()?;
        if projects::by_repo(&tx, &org, &repo.full_name())?.is_some() {
            return Err(ApiError::ProjectAlreadyExists(repo.full_name()));
        }
        check_repo_is_ours(&tx, &req.caller, &org, &repo.full_name())?;
    }
    // Without a token there is nothing to validate against: the project is taken as given.
    let remote = match github_of(state, &org)? {
        Some(_) => check_on_github(state, &org, repo, true).await?,
        None => Remote::unchecked(&repo),
    };
    let (created, actor, caller) = (remote.clone(), req.actor().to_owned(), req.caller.clone());
    let stored_org = org.clone();
    let result = state
        .store
        .write(move |tx| {
            let org = stored_org.as_str();
            if projects::by_repo(tx, org, &created.repo)?.is_some() {
                return Err(ApiError::ProjectAlreadyExists(created.repo.clone()));
            }
            check_repo_is_ours(tx, &caller, org, &created.repo)?;
            let agent_name = free_agent_name(tx, org, repo_name(&created.repo))?;
            let agent_id = agents::issue_id(tx, AgentType::Project.id_kind())?;
            let mut project = new_project(tx, &created, &agent_id, org, &actor)?;
            if let Some(name) = &name {
                project.name.clone_from(name);
            }
            let agent = AgentRecord::spawn(NewAgent {
                id: agent_id,
                name: agent_name,
                agent_type: AgentType::Project,
                autonomy_level: 1,
                project_id: Some(project.id.clone()),
                org_id: org.to_owned(),
                now_ms: project.created_at_ms,
            });
            projects::put(tx, &project)?;
            agents::put(tx, &agent)?;
            let spawn = AuditDraft::new(ActorType::User, &actor, "agent_spawn")
                .meta("agentId", agent.id.as_str())
                .meta("projectId", project.id.as_str())
                .meta("name", agent.name.as_str())
                .meta("type", "project");
            audit::append(tx, org, spawn)?;
            let created_entry = AuditDraft::new(ActorType::User, &actor, "project.create")
                .meta("projectId", project.id.as_str())
                .meta("agentId", agent.id.as_str())
                .meta("repo", project.repo.as_str())
                .meta("webhookConfigured", project.webhook_id.is_some());
            audit::append(tx, org, created_entry)?;
            Ok(project)
        })
        .await;
    undo_hook(state, &org, &remote, result.as_ref().ok().and_then(|p| p.webhook_id));
    let project = result?;
    Ok(Response::json(
        201,
        &json!({
            "id": project.id,
            "agentId": project.agent_id,
            "repo": project.repo,
            "orgId": project.org_id,
            "webhookUrl": state.settings.github_hook_url(&project.org_id),
            "webhookConfigured": project.webhook_id.is_some(),
        }),
    ))
}

pub async fn delete(
    state: &State,
    scope: &Scope,
    req: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    let project = find(&state.store.read()?, scope, id)?;
    let webhook_removed = remove_hook(state, &project).await?;
    let (scope, actor, removed) = (scope.clone(), req.actor().to_owned(), id.to_owned());
    let agent_terminated = state
        .store
        .write(move |tx| {
            let project = find(tx, &scope, &removed)?;
            let org = project.org_id.as_str();
            // Its own agent, and every ephemeral agent working on it.
            let own_agent = agents::get(tx, org, &project.agent_id)?;
            let own_agent_exists = own_agent.is_some();
            let ephemeral = agents::of_project(tx, org, &project.id)?
                .into_iter()
                .filter(|a| a.id != project.agent_id && !a.agent_type.persistent());
            let ending: Vec<AgentRecord> = own_agent
                .into_iter()
                .chain(ephemeral)
                .filter(|a| a.status != AgentStatus::Terminated)
                .collect();
            for agent in &ending {
                agents::terminate(tx, agent)?;
                let draft = AuditDraft::new(ActorType::User, &actor, "agent_terminate")
                    .meta("agentId", agent.id.as_str())
                    .meta("projectId", project.id.as_str())
                    .meta("previousStatus", agent.status.as_str())
                    .meta("reason", "project deleted")
                    .meta("risk", "medium");
                audit::append(tx, org, draft)?;
            }
            projects::remove(tx, &project)?;
            let terminated: Vec<&str> = ending.iter().map(|a| a.id.as_str()).collect();
            let draft = AuditDraft::new(ActorType::User, &actor, "project.deleted")
                .meta("projectId", project.id.as_str())
                .meta("repo", project.repo.as_str())
                .meta("agentId", project.agent_id.as_str())
                .meta("terminatedAgents", terminated)
                .meta("webhookRemoved", webhook_removed)
                .meta("risk", "medium");
            audit::append(tx, org, draft)?;
            Ok::<_, ApiError>(own_agent_exists)
        })
        .await?;
    Ok(Response::ok(&json!({
        "success": true,
        "removed": { "id": id, "agentTerminated": agent_terminated, "webhookRemoved": webhook_removed },
    })))
}

/// An agent name for a new project's agent: `<repo>-agent`, numbered when taken.
fn free_agent_name(tx: &impl Source, org: &str, repo_name: &str) -> Result<String, ApiError> {
    let mut base: String = repo_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    base.truncate(40);
    let base = base.trim_end_matches('-');
    let base = if base.is_empty() { "project" } else { base };
    let mut candidate = format!("{base}-agent");
    let mut n = 2;
    while agents::id_by_name(tx, org, &candidate)?.is_some() {
        candidate = format!("{base}-agent-{n}");
        n += 1;
    }
    Ok(candidate)
}

fn repo_name(full_name: &str) -> &str {
    full_name.rsplit('/').next().unwrap_or(full_name)
}

fn parse_repo(input: String) -> Result<RepoRef, ApiError> {
    RepoRef::parse(&input).ok_or(ApiError::InvalidRepo(input))
}
