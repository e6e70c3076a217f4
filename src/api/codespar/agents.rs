//! Agents (docs/API.md §2.2): list, detail, create, delete, lifecycle actions, types.

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value, json};

use super::ApiError;
use crate::api::{OrgId, Request, Response, Scope, State, body};
use crate::clock;
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::records::{AgentChange, AgentRecord, AgentStatus, AgentType, NewAgent};
use crate::store::{ReadTx, Source, agents, memory, projects};

/// Memory entries an agent's detail shows: its newest.
const MEMORY_SHOWN: usize = 50;

pub const AUTONOMY_LABELS: [&str; 6] =
    ["Passive", "Notify", "Suggest", "Auto-Low", "Auto-Med", "Full Auto"];

/// What a cached agent list depends on: org, type, status and project filters.
pub type ListKey = (Option<String>, Option<AgentType>, Option<AgentStatus>, Option<String>);

/// An agent as lists show it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AgentView<'a> {
    id: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    agent_type: AgentType,
    status: AgentStatus,
    autonomy_level: u8,
    project_id: Option<&'a str>,
    org_id: &'a str,
    uptime: i64,
    last_activity: Option<String>,
    created_at: String,
}

impl<'a> AgentView<'a> {
    fn new(a: &'a AgentRecord, now_ms: i64) -> Self {
        let running = a.is_running();
        Self {
            id: &a.id,
            name: &a.name,
            agent_type: a.agent_type,
            status: a.status,
            autonomy_level: a.autonomy_level,
            project_id: a.project_id.as_deref(),
            org_id: &a.org_id,
            uptime: if running { (now_ms - a.started_at_ms).max(0) / 1000 } else { 0 },
            last_activity: a.last_activity_ms.map(clock::rfc3339),
            created_at: clock::rfc3339(a.created_at_ms),
        }
    }
}

pub fn types() -> Response {
    let types: Vec<Value> = AgentType::ALL
        .iter()
        .map(|t| {
            json!({
                "type": t.as_str(),
                "lifecycle": if t.persistent() { "persistent" } else { "ephemeral" },
                "description": t.description(),
            })
        })
        .collect();
    Response::ok(&types)
}

pub fn list(state: &State, scope: &Scope, req: &Request) -> Result<Response, ApiError> {
    let agent_type = req
        .query
        .get("type")
        .map(|t| {
            AgentType::parse(t).ok_or_else(|| ApiError::InvalidParameter {
                name: "type",
                reason: format!("unknown agent type '{t}'"),
            })
        })
        .transpose()?;
    let status = req
        .query
        .get("status")
        .map(|s| {
            AgentStatus::parse(&s.to_ascii_uppercase()).ok_or_else(|| ApiError::InvalidParameter {
                name: "status",
                reason: format!("unknown status '{s}'"),
            })
        })
        .transpose()?;
    let project = req.query.get("projectId");
    // CodeSpar's `?project=`: a project's id, repository or repository name (docs/API.md §2.2).
    let named = req.query.get("project");
    // Uptimes are whole seconds: render at the start of the current second, so a response is
    // the same all second long and can be cached (see `cache.rs`).
    let second = clock::now_ms() / 1000;
    let projects_key = match (project, named) {
        (None, None) => None,
        (id, name) => Some(format!("{}\0{}", id.unwrap_or_default(), name.unwrap_or_default())),
    };
    let key = (scope.filter().map(str::to_owned), agent_type, status, projects_key);
    let generation = state.store.generation();
    let body = state.list_cache.get_or_render(key, generation, second, || {
        let tx = state.store.read()?;
        let named_ids: Option<Vec<String>> = named
            .map(|name| {
                let found = projects::list(&tx, scope.filter())?;
                let mut ids: Vec<String> =
                    found.into_iter().filter(|p| p.is_named(name)).map(|p| p.id).collect();
                ids.push(name.to_owned());
                Ok::<_, ApiError>(ids)
            })
            .transpose()?;
        let all = agents::list(&tx, scope.filter())?;
        let views: Vec<AgentView> = all
            .iter()
            .filter(|a| agent_type.is_none_or(|t| a.agent_type == t))
            .filter(|a| status.is_none_or(|s| a.status == s))
            .filter(|a| project.is_none_or(|p| a.project_id.as_deref() == Some(p)))
            .filter(|a| {
                named_ids
                    .as_ref()
                    .is_none_or(|ids| a.project_id.as_ref().is_some_and(|p| ids.contains(p)))
            })
            .map(|a| AgentView::new(a, second * 1000))
            .collect();
        serde_json::to_vec(&views).map_err(|e| ApiError::internal(e.to_string()))
    })?;
    Ok(Response::raw_json(200, body))
}

/// Finds an agent visible in `scope`, or 404 `AGENT_NOT_FOUND`.
pub(super) fn find(src: &impl Source, scope: &Scope, id: &str) -> Result<AgentRecord, ApiError> {
    let found = match scope.org_for_id(|| agents::org_of(src, id))? {
        Some(org) => agents::get(src, &org, id)?,
        None => None,
    };
    found.ok_or_else(|| ApiError::AgentNotFound(id.to_owned()))
}

pub fn get(state: &State, scope: &Scope, id: &str) -> Result<Response, ApiError> {
    let tx: ReadTx = state.store.read()?;
    let agent = find(&tx, scope, id)?;
    let project = match &agent.project_id {
        Some(p) => projects::get(&tx, &agent.org_id, p)?.map(|p| {
            json!({ "id": p.id, "name": p.name, "repo": p.repo, "defaultBranch": p.default_branch })
        }),
        None => None,
    };
    let now = clock::now_ms() / 1000 * 1000;
    let mut out = serde_json::to_value(AgentView::new(&agent, now))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    out["project"] = project.unwrap_or(Value::Null);
    out["stats"] =
        serde_json::to_value(&agent.stats).map_err(|e| ApiError::internal(e.to_string()))?;
    // The newest entries (docs/API.md §2.2: at most 50), and totals over all of them.
    let (newest, count, bytes) = memory::of_agent(&tx, &agent.org_id, &agent.id, MEMORY_SHOWN)?;
    out["memory"] = json!({
        "embeddings": newest.iter().map(super::memory::view).collect::<Vec<_>>(),
        "totalEmbeddings": count,
        "storageMB": super::memory::storage_mb(bytes),
    });
    Ok(Response::ok(&out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateBody {
    name: Option<String>,
    #[serde(rename = "type")]
    agent_type: Option<String>,
    project_id: Option<String>,
    autonomy_level: Option<Number>,
}

pub async fn create(state: &State, org: &OrgId, req: &Request) -> Result<Response, ApiError> {
    let input: CreateBody = body::json(&req.body)?;
    let name = body::required(input.name, "name")?;
    check_agent_name(&name)?;
    let type_name = body::required(input.agent_type, "type")?;
    let agent_type = AgentType::parse(&type_name).ok_or(ApiError::InvalidAgentType(type_name))?;
    let project_id = input.project_id.filter(|p| !p.is_empty());
    if agent_type == AgentType::Project && project_id.is_none() {
        return Err(ApiError::MissingField("projectId".into()));
    }
    let autonomy_level = match &input.autonomy_level {
        Some(n) => autonomy(n)?,
        None => 1,
    };
    let org = org.to_string();
    let actor = req.actor().to_owned();
    let agent = state
        .store
        .write(move |tx| {
            if agents::id_by_name(tx, &org, &name)?.is_some() {
                return Err(ApiError::AgentAlreadyExists(name.clone()));
            }
            if let Some(p) = &project_id
                && projects::get(tx, &org, p)?.is_none()
            {
                return Err(ApiError::ProjectNotFound(p.clone()));
            }
            let agent = AgentRecord::spawn(NewAgent {
                id: agents::issue_id(tx, agent_type.id_kind())?,
                name: name.clone(),
                agent_type,
                autonomy_level,
                project_id: project_id.clone(),
                org_id: org.clone(),
                now_ms: clock::now_ms(),
            });
            agents::put(tx, &agent)?;
            let draft = agent_draft(&actor, "agent_spawn", &agent)
                .meta("name", agent.name.as_str())
                .meta("type", agent_type.as_str());
            audit::append(tx, &org, draft)?;
            Ok(agent)
        })
        .await?;
    Ok(Response::json(
        201,
        &json!({
            "id": agent.id,
            "name": agent.name,
            "type": agent.agent_type,
            "status": agent.status,
            "autonomyLevel": agent.autonomy_level,
            "projectId": agent.project_id,
            "orgId": agent.org_id,
            "createdAt": clock::rfc3339(agent.created_at_ms),
        }),
    ))
}

pub async fn delete(
    state: &State,
    scope: &Scope,
    req: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    let (scope, id, actor) = (scope.clone(), id.to_owned(), req.actor().to_owned());
    let removed = state
        .store
        .write(move |tx| {
            let agent = find(tx, &scope, &id)?;
            if let Some(p) = &agent.project_id
                && projects::get(tx, &agent.org_id, p)?.is_some_and(|p| p.agent_id == agent.id)
            {
                return Err(ApiError::AgentHasProject {
                    agent: agent.id.clone(),
                    project: p.clone(),
                });
            }
            agents::remove(tx, &agent)?;
            let draft = agent_draft(&actor, "agent_terminate", &agent)
                .meta("previousStatus", agent.status.as_str())
                .meta("risk", "medium");
            audit::append(tx, &agent.org_id, draft)?;
            Ok(agent.id)
        })
        .await?;
    Ok(Response::ok(&json!({ "id": removed, "deleted": true, "message": "Agent removed" })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ActionBody {
    action: Option<String>,
    params: Option<ActionParams>,
    level: Option<Number>,
    autonomy_level: Option<Number>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionParams {
    level: Option<Number>,
}

pub async fn action(
    state: &State,
    scope: &Scope,
    req: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    let input: ActionBody = body::json(&req.body)?;
    let action = match body::required(input.action, "action")?.as_str() {
        "suspend" => AgentChange::Suspend,
        "resume" => AgentChange::Resume,
        "restart" => AgentChange::Restart,
        "set_autonomy" => {
            let level = input
                .params
                .and_then(|p| p.level)
                .or(input.level)
                .or(input.autonomy_level)
                .ok_or_else(|| ApiError::MissingField("params.level".into()))?;
            AgentChange::SetAutonomy(autonomy(&level)?)
        }
        _ => return Err(ApiError::InvalidAction),
    };
    let (scope, id, actor) = (scope.clone(), id.to_owned(), req.actor().to_owned());
    let (before, after, timestamp) = state
        .store
        .write(move |tx| {
            let before = find(tx, &scope, &id)?;
            let after = before
                .after(action, clock::now_ms())
                .map_err(|e| ApiError::InvalidState(e.to_string()))?;
            agents::put(tx, &after)?;
            let entry =
                audit::append(tx, &after.org_id, action_draft(&actor, action, &before, &after))?;
            Ok::<_, ApiError>((before, after, entry.timestamp))
        })
        .await?;
    let body = match action {
        AgentChange::SetAutonomy(level) => json!({
            "id": after.id, "action": action_name(action), "previousLevel": before.autonomy_level,
            "currentLevel": level, "timestamp": timestamp,
        }),
        AgentChange::Restart => json!({
            "id": after.id, "action": action_name(action), "previousStatus": before.status,
            "currentStatus": after.status, "uptime": 0, "timestamp": timestamp,
        }),
        AgentChange::Suspend | AgentChange::Resume | AgentChange::Terminate => json!({
            "id": after.id, "action": action_name(action), "previousStatus": before.status,
            "currentStatus": after.status, "timestamp": timestamp,
        }),
    };
    Ok(Response::ok(&body))
}

/// The action as the request and response name it.
fn action_name(action: AgentChange) -> &'static str {
    match action {
        AgentChange::Suspend => "suspend",
        AgentChange::Resume => "resume",
        AgentChange::Restart => "restart",
        AgentChange::SetAutonomy(_) => "set_autonomy",
        AgentChange::Terminate => "terminate",
    }
}

/// The audit action recorded for it (docs/API.md §2.2).
fn audit_action(action: AgentChange) -> &'static str {
    match action {
        AgentChange::Suspend => "agent.suspend",
        AgentChange::Resume => "agent.resume",
        AgentChange::Restart => "agent.restart",
        AgentChange::SetAutonomy(_) => "autonomy_change",
        AgentChange::Terminate => "agent_terminate",
    }
}

fn action_draft(
    actor: &str,
    action: AgentChange,
    before: &AgentRecord,
    after: &AgentRecord,
) -> AuditDraft {
    let draft = agent_draft(actor, audit_action(action), after);
    match action {
        AgentChange::SetAutonomy(level) => draft
            .meta("previousLevel", before.autonomy_level)
            .meta("currentLevel", level)
            .meta("label", AUTONOMY_LABELS[usize::from(level)])
            .meta("risk", "medium"),
        _ => draft
            .meta("previousStatus", before.status.as_str())
            .meta("currentStatus", after.status.as_str()),
    }
}

fn agent_draft(actor: &str, action: &'static str, agent: &AgentRecord) -> AuditDraft {
    let draft = AuditDraft::new(ActorType::User, actor, action).meta("agentId", agent.id.as_str());
    match &agent.project_id {
        Some(p) => draft.meta("projectId", p.as_str()),
        None => draft,
    }
}

/// A level 0..=5; any other number is 400 `INVALID_AUTONOMY_LEVEL`.
fn autonomy(n: &Number) -> Result<u8, ApiError> {
    n.as_u64()
        .filter(|l| *l <= 5)
        .and_then(|l| u8::try_from(l).ok())
        .ok_or(ApiError::InvalidAutonomyLevel)
}

/// `^[a-zA-Z0-9][a-zA-Z0-9-]{1,48}[a-zA-Z0-9]$`, else 400 `INVALID_FIELD` naming `name`.
fn check_agent_name(name: &str) -> Result<(), ApiError> {
    let b = name.as_bytes();
    let valid = (3..=50).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-');
    if valid {
        return Ok(());
    }
    Err(ApiError::InvalidField {
        field: "name".into(),
        reason: "must be 3-50 characters: letters, digits and hyphens, not starting or ending with a hyphen".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::check_agent_name;

    #[test]
    fn agent_name_rule() {
        for ok in ["abc", "api-gateway-agent", &"a".repeat(50)] {
            assert!(check_agent_name(ok).is_ok(), "{ok}");
        }
        for bad in ["ab", "-abc", "abc-", "a_bc", "ab c", &"a".repeat(51), "héllo"] {
            let e = check_agent_name(bad).expect_err(bad);
            assert_eq!(e.code(), "INVALID_FIELD", "{bad}");
        }
    }
}
