//! Alerts become incidents (docs/API.md §3.2 for Sentry, 9.1 for Spike ingest): grouped while open
//! (Sentry by project and issue, Spike by integration and title),
//! handled by an incident agent of the matching Spar project (spawned when none is active), which
//! reacts by its autonomy level like any agent ([`super::react`]). All in the transaction that
//! acknowledges the webhook.

use serde_json::{Value, json};

use super::react::{self, Policy};
use super::sentry::{Alert, Parsed};
use crate::clock;
use crate::ids::IncidentId;
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::memory::NewMemory;
use crate::store::records::{
    AgentRecord, AgentStatus, AgentType, EventRecord, IncidentEvent, IncidentRecord,
    IncidentStatus, NewAgent, ProjectRecord,
};
use crate::store::{StoreError, WriteTx, agents, events, incidents, memory, projects};

/// What a Sentry delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// An incident was opened (`new`) or grew, and its agent handled the event.
    Routed { incident_id: IncidentId, agent_id: String, event_id: String, new: bool },
    /// The incident of a resolved issue was resolved.
    Resolved { incident_id: IncidentId, event_id: String },
    /// A resolved issue had no open incident.
    NoOpenIncident,
    /// Recorded in the audit trail only.
    Recorded { reason: &'static str },
}

/// The event types an alert source uses.
#[derive(Debug, Clone)]
pub struct EventTypes {
    /// A new incident (the autonomy table's *failure* column).
    pub opened: String,
    /// An alert grouped into an open incident (routine: it never spawns or pages again).
    pub repeated: String,
    pub resolved: String,
}

impl EventTypes {
    pub fn sentry() -> Self {
        Self {
            opened: "incident.triggered".into(),
            repeated: "incident.updated".into(),
            resolved: "incident.resolved".into(),
        }
    }
}

pub fn record(
    tx: &WriteTx<'_>,
    org: &str,
    parsed: &Parsed,
    policy: Policy,
) -> Result<Outcome, StoreError> {
    let types = EventTypes::sentry();
    match parsed {
        Parsed::Alert(alert) => open_or_grow(tx, org, alert, &types, policy),
        Parsed::Resolved(alert) => resolve(tx, org, alert, &types, policy),
        Parsed::Other { resource, action, reason } => {
            let draft = AuditDraft::new(ActorType::System, "sentry", "sentry.webhook")
                .meta("resource", resource.as_str())
                .meta("action", action.as_str())
                .meta("processed", false)
                .meta("reason", *reason);
            audit::append(tx, org, draft)?;
            Ok(Outcome::Recorded { reason })
        }
    }
}

fn rank(severity: &str) -> u8 {
    match severity {
        "critical" => 3,
        "high" => 2,
        "medium" => 1,
        _ => 0,
    }
}

pub fn open_or_grow(
    tx: &WriteTx<'_>,
    org: &str,
    alert: &Alert,
    types: &EventTypes,
    policy: Policy,
) -> Result<Outcome, StoreError> {
    let now = clock::now_ms();
    let project = matching_project(tx, org, alert.project.as_deref())?;
    let project_id = project.as_ref().map(|p| p.id.clone());
    let mut agent = incident_agent(tx, org, project.as_ref(), alert.source)?;
    let existing = incidents::open_in_group(tx, org, &alert.group_key())?;
    let new = existing.is_none();
    let mut incident = match existing {
        Some(mut open) => {
            open.count += 1;
            if rank(alert.severity()) > rank(&open.severity) {
                open.severity = alert.severity().into();
            }
            open.updated_at_ms = now;
            open
        }
        None => {
            let seq = incidents::next_seq(tx)?;
            agent.stats.incidents_handled += 1;
            IncidentRecord {
                id: IncidentId(seq),
                seq,
                org_id: org.to_owned(),
                title: alert.title.clone(),
                severity: alert.severity().into(),
                status: IncidentStatus::Open,
                source: alert.source.into(),
                project_id: project_id.clone(),
                source_project: alert.project.clone(),
                group_key: alert.group_key(),
                fingerprint: alert.fingerprint(),
                count: 1,
                events: Vec::new(),
                assigned_agent: None,
                link: alert.link.clone(),
                created_at_ms: now,
                updated_at_ms: now,
                acknowledged_by: None,
                acknowledged_at_ms: None,
                resolved_at_ms: None,
                linear_issue: None,
            }
        }
    };
    incident.assigned_agent = Some(agent.id.clone());
    incident.record_event(IncidentEvent {
        event_type: format!("{}.alert", alert.source),
        issue_id: Some(alert.issue_id.clone()),
        agent_id: Some(agent.id.clone()),
        timestamp: clock::rfc3339(now),
    });
    incidents::put(tx, &incident)?;

    let kind = if new { &types.opened } else { &types.repeated };
    let mut event = incident_event(tx, &incident, alert, kind, now)?;
    let draft = AuditDraft::new(
        ActorType::System,
        alert.source,
        if new { "incident.open" } else { "incident.update" },
    )
    .meta("incidentId", incident.id)
    .meta("eventId", event.id.as_str())
    .meta("severity", incident.severity.as_str())
    .meta("count", incident.count)
    .meta("issueId", alert.issue_id.as_str())
    .meta("agentId", agent.id.as_str());
    audit::append(tx, org, draft)?;
    if new {
        memory::add(
            tx,
            NewMemory {
                org,
                agent_id: Some(agent.id.clone()),
                project_id,
                category: "incident",
                content: format!(
                    "{} ({})",
                    alert.title,
                    alert.project.as_deref().unwrap_or(alert.source)
                ),
                metadata: json!({ "incidentId": incident.id, "issueId": alert.issue_id, "level": alert.level, "url": alert.link }),
            },
        )?;
    }
    let agent_id = agent.id.clone();
    // A repeat is routine whatever its type: it never spawns or pages again.
    let column = if new { react::Kind::Failure } else { react::Kind::Routine };
    react::handle_as(tx, &mut event, Some(agent), policy, column)?;
    events::put(tx, &event)?;
    Ok(Outcome::Routed { incident_id: incident.id, agent_id, event_id: event.id, new })
}

pub fn resolve(
    tx: &WriteTx<'_>,
    org: &str,
    alert: &Alert,
    types: &EventTypes,
    policy: Policy,
) -> Result<Outcome, StoreError> {
    let Some(mut incident) = incidents::open_in_group(tx, org, &alert.group_key())? else {
        let draft = AuditDraft::new(ActorType::System, alert.source, "alert.unmatched")
            .meta("title", alert.title.as_str())
            .meta("action", "resolve")
            .meta("processed", false)
            .meta("reason", "No open incident for this issue");
        audit::append(tx, org, draft)?;
        return Ok(Outcome::NoOpenIncident);
    };
    let now = clock::now_ms();
    incident.status = IncidentStatus::Resolved;
    incident.resolved_at_ms = Some(now);
    incident.updated_at_ms = now;
    incident.record_event(IncidentEvent {
        event_type: format!("{}.resolved", alert.source),
        issue_id: Some(alert.issue_id.clone()),
        agent_id: incident.assigned_agent.clone(),
        timestamp: clock::rfc3339(now),
    });
    incidents::put(tx, &incident)?;
    let mut event = incident_event(tx, &incident, alert, &types.resolved, now)?;
    let draft = AuditDraft::new(ActorType::System, alert.source, "incident.resolve")
        .meta("incidentId", incident.id)
        .meta("eventId", event.id.as_str());
    audit::append(tx, org, draft)?;
    let agent = match &incident.assigned_agent {
        Some(id) => agents::get(tx, org, id)?,
        None => None,
    };
    react::handle(tx, &mut event, agent, policy)?;
    events::put(tx, &event)?;
    Ok(Outcome::Resolved { incident_id: incident.id, event_id: event.id })
}

/// The normalized event of an incident change.
fn incident_event(
    tx: &WriteTx<'_>,
    incident: &IncidentRecord,
    alert: &Alert,
    kind: &str,
    now: i64,
) -> Result<EventRecord, StoreError> {
    let seq = events::next_seq(tx)?;
    let mut details = serde_json::Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            details.insert(k.to_owned(), v);
        }
    };
    put("project", alert.project.clone().map(Value::from));
    put("issueId", Some(alert.issue_id.clone().into()));
    put("level", Some(alert.level.clone().into()));
    put("culprit", alert.culprit.clone().map(Value::from));
    put("count", Some(incident.count.into()));
    put("url", alert.link.clone().map(Value::from));
    put("environment", alert.environment.clone().map(Value::from));
    put("incidentId", Some(incident.id.into()));
    Ok(EventRecord {
        id: format!("evt-{seq}"),
        seq,
        org_id: incident.org_id.clone(),
        project_id: incident.project_id.clone(),
        source: incident.source.clone(),
        event_type: kind.into(),
        severity: incident.severity.clone(),
        title: alert.title.clone(),
        details: Value::Object(details),
        fingerprint: incident.fingerprint.clone(),
        occurred_at: clock::rfc3339(now),
        recorded_at_ms: now,
        agent_id: None,
        actions: Vec::new(),
    })
}

/// The Spar project a Sentry project belongs to: same name, or same repository name.
fn matching_project(
    tx: &WriteTx<'_>,
    org: &str,
    sentry_project: Option<&str>,
) -> Result<Option<ProjectRecord>, StoreError> {
    let Some(slug) = sentry_project else { return Ok(None) };
    Ok(projects::list(tx, Some(org))?.into_iter().find(|p| {
        let repo_name = p.repo.rsplit('/').next().unwrap_or("");
        p.name.eq_ignore_ascii_case(slug) || repo_name.eq_ignore_ascii_case(slug)
    }))
}

/// The active incident agent of the project (or of the org, without a project); spawned when
/// there is none, at the project agent's autonomy level (level 1 without a project). One
/// lookup (the `incident_agents` index), whatever the number of agents the org has had.
fn incident_agent(
    tx: &WriteTx<'_>,
    org: &str,
    project: Option<&ProjectRecord>,
    source: &str,
) -> Result<AgentRecord, StoreError> {
    let project_id = project.map(|p| p.id.clone());
    let key = project_id.clone().unwrap_or_default();
    let key = key.as_str();
    let handles = |a: &AgentRecord| {
        a.agent_type == AgentType::Incident
            && matches!(a.status, AgentStatus::Active | AgentStatus::Idle | AgentStatus::Suspended)
            && a.project_id == project_id
    };
    // The index knows every incident agent (a store from before it had it built at open).
    let indexed = match incidents::agent_of(tx, org, key)? {
        Some(id) => agents::get(tx, org, &id)?,
        None => None,
    };
    if let Some(agent) = indexed.filter(handles) {
        incidents::set_agent_of(tx, org, key, &agent.id)?;
        return Ok(agent);
    }
    let level = match project {
        Some(p) => agents::get(tx, org, &p.agent_id)?.map_or(1, |a| a.autonomy_level),
        None => 1,
    };
    let id = agents::issue_id(tx, AgentType::Incident.id_kind())?;
    let mut name = format!("incident-{}", project_id.as_deref().unwrap_or(org));
    if agents::id_by_name(tx, org, &name)?.is_some() {
        name = format!("{name}-{id}");
    }
    let agent = AgentRecord::spawn(NewAgent {
        id,
        name,
        agent_type: AgentType::Incident,
        autonomy_level: level,
        project_id,
        org_id: org.to_owned(),
        now_ms: clock::now_ms(),
    });
    agents::put(tx, &agent)?;
    incidents::set_agent_of(tx, org, key, &agent.id)?;
    let draft = AuditDraft::new(ActorType::System, source, "agent_spawn")
        .meta("agentId", agent.id.as_str())
        .meta("type", "incident")
        .meta("autonomyLevel", level);
    audit::append(tx, org, draft)?;
    Ok(agent)
}
