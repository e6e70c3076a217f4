//! Agent-to-agent (docs/API.md §2.17): the public agent card at `/.well-known/agent.json`, the
//! agent cards of each type, and `/a2a/tasks`, where another agent submits a task for a skill.
//! A task is stored per org, audited in the write that stores or changes it, and routed to an
//! agent of the skill's type (one is spawned when the org has none that can take it).
//!
//! The skill catalogue is `store::records::SKILLS`, the one list the card, the cards and task
//! validation read.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ApiError;
use crate::api::{OrgId, Request, Response, State, body};
use crate::clock;
use crate::engine::a2a::{self as task_events, TaskChange};
use crate::ids;
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::records::{
    A2aTaskRecord, A2aTaskStatus, AgentRecord, AgentStatus, AgentType, NewAgent, ProjectRecord,
    SKILLS, Skill, skill_named,
};
use crate::store::{Source, WriteTx, a2a, agents, projects};

/// A client's task id: 1 to 128 of letters, digits, `.`, `_`, `:` and `-`, starting with a
/// letter or digit (docs/API.md §2.17).
const MAX_ID_LEN: usize = 128;
/// `input.text`, in bytes (413 beyond).
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// `input.attachments`: how many, and their size as JSON (413 beyond).
pub const MAX_ATTACHMENTS: usize = 20;
pub const MAX_ATTACHMENTS_BYTES: usize = 64 * 1024;
/// `metadata`, as JSON (413 beyond).
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// How deep a listing pages: each page reads `offset + limit` index rows.
pub const MAX_OFFSET: i64 = 100_000;

/// Who the audit trail names for the agents this module spawns.
const SPAWNER: &str = "a2a";

fn lifecycle(t: AgentType) -> &'static str {
    if t.persistent() { "persistent" } else { "ephemeral" }
}

fn skill_view(s: &Skill) -> Value {
    json!({ "id": s.id, "name": s.name, "description": s.description, "agentType": s.agent_type })
}

/// `GET /.well-known/agent.json`: who this server is and every skill it offers. Public: it
/// holds no org's data. `url` is the base other agents call (`WEBHOOK_BASE_URL`, else the
/// `Host` this request reached).
pub fn well_known(state: &State, req: &Request) -> Response {
    Response::ok(&json!({
        "name": "CodeSpar",
        "description": "Autonomous multi-agent platform for software projects",
        "url": state.public_base(req),
        "version": env!("CARGO_PKG_VERSION"),
        "capabilities": { "streaming": false, "pushNotifications": false },
        "skills": SKILLS.iter().map(skill_view).collect::<Vec<_>>(),
    }))
}

fn card_of(t: AgentType) -> Value {
    json!({
        "type": t.as_str(),
        "name": t.card_name(),
        "lifecycle": lifecycle(t),
        "description": t.description(),
        "skills": t.skills().map(|s| s.id).collect::<Vec<_>>(),
    })
}

/// `GET /api/agent-cards`: a bare array, one card per agent type.
pub fn cards() -> Response {
    Response::ok(&AgentType::ALL.into_iter().map(card_of).collect::<Vec<_>>())
}

/// `GET /api/agent-cards/:type`, or 404 `AGENT_TYPE_NOT_FOUND`.
pub fn card(agent_type: &str) -> Result<Response, ApiError> {
    let t = AgentType::parse(agent_type)
        .ok_or_else(|| ApiError::AgentTypeNotFound(agent_type.to_owned()))?;
    Ok(Response::ok(&card_of(t)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    id: Option<String>,
    skill: Option<String>,
    input: Option<InputBody>,
    metadata: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputBody {
    text: Option<String>,
    attachments: Option<Vec<Map<String, Value>>>,
}

/// A client's id, or 400 `INVALID_FIELD` naming `id`.
fn check_task_id(id: &str) -> Result<(), ApiError> {
    let b = id.as_bytes();
    let valid = b.len() <= MAX_ID_LEN
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b':' | b'-'));
    if valid {
        return Ok(());
    }
    Err(ApiError::InvalidField {
        field: "id".into(),
        reason: format!(
            "must be 1 to {MAX_ID_LEN} letters, digits, '.', '_', ':' or '-', starting with a letter or digit"
        ),
    })
}

fn json_len(value: &impl serde::Serialize) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |v| v.len())
}

/// The project a task names in `metadata.projectId`, if any.
fn named_project(metadata: Option<&Map<String, Value>>) -> Result<Option<String>, ApiError> {
    match metadata.and_then(|m| m.get("projectId")) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(p)) if p.is_empty() => Ok(None),
        Some(Value::String(p)) => Ok(Some(p.clone())),
        Some(_) => Err(ApiError::InvalidField {
            field: "metadata.projectId".into(),
            reason: "must be a string".into(),
        }),
    }
}

/// Whether an agent can be handed a task of `t`: of that type, and not terminated.
fn takes(agent: &AgentRecord, t: AgentType) -> bool {
    agent.agent_type == t && agent.status != AgentStatus::Terminated
}

/// The agent a task of `t` would go to, found on a snapshot so the write need not scan: the
/// agent the org's tasks of that type went to last, else the org's oldest agent of that type
/// that is not terminated. The write checks it again.
fn candidate(src: &impl Source, org: &str, t: AgentType) -> Result<Option<String>, ApiError> {
    if let Some(id) = a2a::agent_of(src, org, t)?
        && agents::get(src, org, &id)?.is_some_and(|a| takes(&a, t))
    {
        return Ok(Some(id));
    }
    Ok(agents::list(src, Some(org))?.into_iter().find(|a| takes(a, t)).map(|a| a.id))
}

/// Inside the write: the agent the task goes to, and whether it was spawned for it.
///
/// A `project` skill goes to the named project's agent, or without one to the org's project
/// agent; a project agent is never spawned (it needs a repository): 409 `NO_AGENT_AVAILABLE`.
/// Every other type goes to the candidate, else a new agent of that type is spawned.
fn route(
    tx: &WriteTx<'_>,
    org: &str,
    t: AgentType,
    project: Option<&ProjectRecord>,
    candidate: Option<&str>,
) -> Result<Option<AgentRecord>, ApiError> {
    if t == AgentType::Project
        && let Some(p) = project
    {
        return match agents::get(tx, org, &p.agent_id)?.filter(|a| takes(a, t)) {
            Some(agent) => Ok(Some(agent)),
            None => Err(ApiError::NoAgentAvailable(format!(
                "Project '{}' has no agent that can take tasks",
                p.id
            ))),
        };
    }
    if let Some(id) = candidate
        && let Some(agent) = agents::get(tx, org, id)?.filter(|a| takes(a, t))
    {
        return Ok(Some(agent));
    }
    if t == AgentType::Project {
        return Err(ApiError::NoAgentAvailable(
            "No project agent in this organization: create a project (POST /api/projects) or name one in metadata.projectId".into(),
        ));
    }
    Ok(None)
}

/// A new agent of `t` for the org's A2A tasks (autonomy 1, no project), audited
/// `agent_spawn` by system `a2a`.
fn spawn(tx: &WriteTx<'_>, org: &str, t: AgentType, task: &str) -> Result<AgentRecord, ApiError> {
    let id = agents::issue_id(tx, t.id_kind())?;
    let mut name = format!("a2a-{}", id.trim_start_matches("agent-"));
    // Names are unique in an org; someone may have taken this one by hand.
    if agents::id_by_name(tx, org, &name)?.is_some() {
        name = format!("a2a-{id}");
    }
    let agent = AgentRecord::spawn(NewAgent {
        id,
        name,
        agent_type: t,
        autonomy_level: 1,
        project_id: None,
        org_id: org.to_owned(),
        now_ms: clock::now_ms(),
    });
    agents::put(tx, &agent)?;
    let draft = AuditDraft::new(ActorType::System, SPAWNER, "agent_spawn")
        .meta("agentId", agent.id.as_str())
        .meta("name", agent.name.as_str())
        .meta("type", t.as_str())
        .meta("taskId", task)
        .meta("ephemeral", !t.persistent());
    audit::append(tx, org, draft)?;
    Ok(agent)
}

/// `POST /a2a/tasks`.
pub async fn submit(state: &State, org: &OrgId, req: &Request) -> Result<Response, ApiError> {
    let input: SubmitBody = body::json(&req.body)?;
    let skill_id = body::required(input.skill, "skill")?;
    let task_input = input.input.ok_or_else(|| ApiError::MissingField("input.text".into()))?;
    let text = body::required(task_input.text, "input.text")?;
    let skill = skill_named(&skill_id).ok_or(ApiError::UnknownSkill(skill_id))?;
    if text.len() > MAX_TEXT_BYTES {
        return Err(ApiError::FieldTooLarge { field: "input.text", limit: MAX_TEXT_BYTES });
    }
    let attachments = task_input.attachments;
    if let Some(a) = &attachments {
        if a.len() > MAX_ATTACHMENTS {
            return Err(ApiError::InvalidField {
                field: "input.attachments".into(),
                reason: format!("at most {MAX_ATTACHMENTS} attachments"),
            });
        }
        if json_len(a) > MAX_ATTACHMENTS_BYTES {
            let limit = MAX_ATTACHMENTS_BYTES;
            return Err(ApiError::FieldTooLarge { field: "input.attachments", limit });
        }
    }
    if let Some(m) = &input.metadata
        && json_len(m) > MAX_METADATA_BYTES
    {
        return Err(ApiError::FieldTooLarge { field: "metadata", limit: MAX_METADATA_BYTES });
    }
    let project_id = named_project(input.metadata.as_ref())?;
    let now = clock::now_ms();
    let id = match input.id.filter(|i| !i.is_empty()) {
        Some(id) => {
            check_task_id(&id)?;
            id
        }
        None => format!("task-{}", ids::ulid(now)),
    };
    let t = skill.agent_type;
    let candidate = candidate(&state.store.read()?, org, t)?;
    let record = A2aTaskRecord {
        id,
        org_id: org.to_string(),
        seq: 0,
        status: A2aTaskStatus::Submitted,
        skill: skill.id.to_owned(),
        agent_type: t,
        agent_id: String::new(),
        project_id,
        text,
        attachments: attachments.map(|a| a.into_iter().map(Value::Object).collect()),
        metadata: input.metadata.map(Value::Object),
        output: None,
        submitted_by: req.actor().to_owned(),
        created_at_ms: now,
        updated_at_ms: now,
        cancelled_at_ms: None,
    };
    let org = org.to_string();
    let policy = state.policy;
    let (task, notified) = state
        .store
        .write(move |tx| {
            if a2a::get(tx, &org, &record.id)?.is_some() {
                return Err(ApiError::TaskAlreadyExists(record.id.clone()));
            }
            let project = match &record.project_id {
                Some(p) => Some(
                    projects::get(tx, &org, p)?
                        .ok_or_else(|| ApiError::ProjectNotFound(p.clone()))?,
                ),
                None => None,
            };
            // Everything is checked: from here on the job writes.
            let agent = match route(tx, &org, t, project.as_ref(), candidate.as_deref())? {
                Some(agent) => agent,
                None => spawn(tx, &org, t, &record.id)?,
            };
            a2a::set_agent_of(tx, &org, t, &agent.id)?;
            let mut task = record.clone();
            task.agent_id = agent.id.clone();
            a2a::insert(tx, &mut task)?;
            let mut draft =
                AuditDraft::new(ActorType::User, &task.submitted_by, "a2a.task_submitted")
                    .meta("taskId", task.id.as_str())
                    .meta("skill", task.skill.as_str())
                    .meta("agentType", t.as_str())
                    .meta("agentId", agent.id.as_str());
            if let Some(p) = &task.project_id {
                draft = draft.meta("projectId", p.as_str());
            }
            audit::append(tx, &org, draft)?;
            let notified =
                task_events::record(tx, &task, TaskChange::Submitted, Some(agent), policy)?;
            Ok((task, notified))
        })
        .await?;
    state.signals.recorded(notified);
    Ok(Response::json(
        201,
        &json!({
            "id": task.id,
            "status": task.status,
            "skill": task.skill,
            "agentType": task.agent_type,
            "agentId": task.agent_id,
            "createdAt": clock::rfc3339(task.created_at_ms),
        }),
    ))
}

/// `GET /a2a/tasks`: one page, newest first, with the filter's total.
pub fn list(state: &State, org: &OrgId, req: &Request) -> Result<Response, ApiError> {
    let limit = req.query.limit(20, 100)?;
    let offset = match req.query.int("offset")? {
        None => 0,
        Some(n) if (0..=MAX_OFFSET).contains(&n) => usize::try_from(n).unwrap_or(0),
        Some(_) => {
            return Err(ApiError::InvalidParameter {
                name: "offset",
                reason: format!("must be between 0 and {MAX_OFFSET}"),
            });
        }
    };
    let status = req
        .query
        .get("status")
        .map(|s| {
            A2aTaskStatus::parse(s).ok_or_else(|| ApiError::InvalidParameter {
                name: "status",
                reason: format!(
                    "unknown status '{s}' (submitted, working, completed, failed, cancelled)"
                ),
            })
        })
        .transpose()?;
    let facet = a2a::facet(status, req.query.get("project"));
    let (tasks, total) = a2a::page(&state.store.read()?, org, &facet, offset, limit)?;
    let tasks: Vec<Value> = tasks
        .iter()
        .map(|t| {
            json!({
                "id": t.id, "status": t.status, "skill": t.skill, "agentType": t.agent_type,
                "agentId": t.agent_id, "projectId": t.project_id,
                "createdAt": clock::rfc3339(t.created_at_ms),
                "updatedAt": clock::rfc3339(t.updated_at_ms),
            })
        })
        .collect();
    Ok(Response::ok(&json!({ "tasks": tasks, "total": total, "limit": limit, "offset": offset })))
}

/// `GET /a2a/tasks/:id`, or 404 `TASK_NOT_FOUND` (also for another org's task).
pub fn get(state: &State, org: &OrgId, id: &str) -> Result<Response, ApiError> {
    let task = a2a::get(&state.store.read()?, org, id)?
        .ok_or_else(|| ApiError::TaskNotFound(id.to_owned()))?;
    let mut input = json!({ "text": task.text });
    if let Some(a) = &task.attachments {
        input["attachments"] = Value::from(a.clone());
    }
    Ok(Response::ok(&json!({
        "id": task.id,
        "status": task.status,
        "skill": task.skill,
        "agentType": task.agent_type,
        "agentId": task.agent_id,
        "projectId": task.project_id,
        "input": input,
        "output": task.output,
        "metadata": task.metadata.unwrap_or_else(|| json!({})),
        "createdAt": clock::rfc3339(task.created_at_ms),
        "updatedAt": clock::rfc3339(task.updated_at_ms),
        "cancelledAt": task.cancelled_at_ms.map(clock::rfc3339),
    })))
}

/// `POST /a2a/tasks/:id/cancel`: a `submitted` or `working` task only, else 409
/// `TASK_NOT_CANCELLABLE`.
pub async fn cancel(
    state: &State,
    org: &OrgId,
    req: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    let (org, id, actor) = (org.to_string(), id.to_owned(), req.actor().to_owned());
    let policy = state.policy;
    let (task, notified) = state
        .store
        .write(move |tx| {
            let before =
                a2a::get(tx, &org, &id)?.ok_or_else(|| ApiError::TaskNotFound(id.clone()))?;
            if !before.status.cancellable() {
                let status = before.status.as_str();
                return Err(ApiError::TaskNotCancellable { id: id.clone(), status });
            }
            let now = clock::now_ms();
            let mut after = before.clone();
            after.status = A2aTaskStatus::Cancelled;
            after.updated_at_ms = now;
            after.cancelled_at_ms = Some(now);
            a2a::update(tx, &before, &after)?;
            let draft = AuditDraft::new(ActorType::User, &actor, "a2a.task_cancelled")
                .meta("taskId", after.id.as_str())
                .meta("skill", after.skill.as_str())
                .meta("agentId", after.agent_id.as_str())
                .meta("previousStatus", before.status.as_str());
            audit::append(tx, &org, draft)?;
            let agent = agents::get(tx, &org, &after.agent_id)?;
            let notified = task_events::record(tx, &after, TaskChange::Cancelled, agent, policy)?;
            Ok((after, notified))
        })
        .await?;
    state.signals.recorded(notified);
    Ok(Response::ok(&json!({
        "id": task.id,
        "status": task.status,
        "cancelledAt": task.cancelled_at_ms.map(clock::rfc3339),
    })))
}

#[cfg(test)]
mod tests {
    use super::check_task_id;
    use crate::store::records::{AgentType, SKILLS, skill_named};

    #[test]
    fn task_id_rule() {
        for ok in ["t1", "task-01JA", "a.b_c:d-e", &"a".repeat(128)] {
            assert!(check_task_id(ok).is_ok(), "{ok}");
        }
        for bad in ["-a", "a/b", "a b", "é", &"a".repeat(129), "a\n"] {
            assert!(check_task_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_type_has_skills_and_ids_are_unique() {
        for t in AgentType::ALL {
            assert!(t.skills().count() >= 3, "{}", t.as_str());
        }
        for s in SKILLS {
            assert_eq!(skill_named(s.id), Some(s));
        }
        assert_eq!(SKILLS.len(), 22);
        assert_eq!(skill_named("investigate").map(|s| s.agent_type), Some(AgentType::Incident));
    }
}
