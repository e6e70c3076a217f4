//! How an agent handles an event, by its autonomy level (docs/API.md §4):
//!
//! | level | build or deploy failure, or incident | PR opened | push, success, deploy |
//! |---|---|---|---|
//! | 0 Passive | record only | record only | record only |
//! | 1 Notify | notify routes | notify routes | notify routes |
//! | 2 Suggest | notify with a suggestion and an approval token | same | notify |
//! | 3 and up | notify, spawn an ephemeral `incident` agent | notify, spawn a `review` agent | notify |
//!
//! A suspended agent records only. An event no agent handles (its repository is not linked)
//! notifies routes, as level 1 does. Everything here runs inside the transaction that records
//! the event, so an event, its messages (outbox deliveries) and its audit entries commit together.
//!
//! **Invariant:** every action an agent takes appends an audit entry with `actorType: "agent"`.

use serde_json::json;

use super::message::{self, Channel};
use crate::clock;
use crate::ids::DeliveryId;
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::memory::NewMemory;
use crate::store::records::{
    AgentRecord, AgentStats, AgentType, ApprovalRecord, ApprovalStatus, DeliveryKind,
    DeliveryRecord, DeliveryStatus, EventAction, EventRecord, NewAgent, RouteRecord,
};
use crate::store::{
    StoreError, WriteTx, agents, approvals, channels, incidents, memory, orgs, outbox, routes,
};
use crate::upstream::pagerduty::Trigger;

/// Engine settings that shape reactions.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// How long an approval token stays valid (docs/API.md §4: 30 minutes).
    pub approval_ttl_ms: i64,
    /// The environment configures Linear (`LINEAR_API_KEY`) for org `default`.
    pub env_linear: bool,
    /// The environment configures a PagerDuty routing key for org `default`.
    pub env_pagerduty_routing_key: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            approval_ttl_ms: 30 * 60 * 1000,
            env_linear: false,
            env_pagerduty_routing_key: false,
        }
    }
}

impl Policy {
    /// The approval lifetime, and which level-3 actions the environment configures for org
    /// `default`.
    pub fn from_settings(settings: &crate::settings::Settings) -> Self {
        let ttl = i64::try_from(settings.approval_ttl.as_millis()).unwrap_or(i64::MAX);
        let env_has = |name: &str, key: &str| {
            settings.env_config(name).is_some_and(|keys| keys.iter().any(|(k, _)| k == key))
        };
        Self {
            approval_ttl_ms: ttl,
            env_linear: env_has("linear", "apiKey"),
            env_pagerduty_routing_key: env_has("pagerduty", "routingKey"),
        }
    }
}

/// The columns of the autonomy table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A build or deploy failure (a type ending in `.failure`), or an incident.
    Failure,
    PrOpened,
    /// Pushes, successes (deploys included), cancellations, merges, resolutions.
    Routine,
}

impl Kind {
    pub fn of(event_type: &str) -> Self {
        if event_type == "ci.pull_request.opened" {
            Self::PrOpened
        } else if event_type.ends_with(".failure")
            || event_type == "incident.triggered"
            || event_type.starts_with("alert.")
        {
            Self::Failure
        } else {
            Self::Routine
        }
    }
}

/// Handles a new event: fills `event.agent_id` and `event.actions`, writes deliveries,
/// approvals, spawned agents and their audit entries. Call before the event is stored.
pub fn handle(
    tx: &WriteTx<'_>,
    event: &mut EventRecord,
    agent: Option<AgentRecord>,
    policy: Policy,
) -> Result<(), StoreError> {
    let kind = Kind::of(&event.event_type);
    handle_as(tx, event, agent, policy, kind)
}

/// [`handle`], in a column of the table chosen by the caller (an alert source that knows better
/// than the event type, such as a grouped repeat).
pub fn handle_as(
    tx: &WriteTx<'_>,
    event: &mut EventRecord,
    agent: Option<AgentRecord>,
    policy: Policy,
    kind: Kind,
) -> Result<(), StoreError> {
    event.agent_id = agent.as_ref().map(|a| a.id.clone());
    if let Some(a) = &agent {
        touch(tx, a)?;
        if !a.is_running() {
            event.actions.push(EventAction::Suspended);
            return Ok(());
        }
    }
    let level = agent.as_ref().map_or(1, |a| a.autonomy_level);
    if level == 0 {
        event.actions.push(EventAction::Recorded);
        return Ok(());
    }
    let suggestion = match (&agent, level, kind) {
        (Some(a), 2, Kind::Failure | Kind::PrOpened) => Some(suggest(tx, event, a, kind, policy)?),
        _ => None,
    };
    let text = suggestion.as_ref().map(|(_, text)| text.as_str());
    notify(tx, event, agent.as_ref(), text)?;
    match (&agent, level, kind) {
        // An incident agent handles its incident itself.
        (Some(a), 3.., Kind::Failure) if a.agent_type == AgentType::Incident => {
            incident_actions(tx, event, a, policy)?;
        }
        (Some(a), 3.., Kind::Failure | Kind::PrOpened) => {
            spawn_ephemeral(tx, event, a, kind, policy)?;
        }
        _ => {}
    }
    Ok(())
}

/// The handling agent's activity: one more message processed, now.
fn touch(tx: &WriteTx<'_>, agent: &AgentRecord) -> Result<(), StoreError> {
    let mut next = agent.clone();
    next.stats.messages_processed += 1;
    next.last_activity_ms = Some(clock::now_ms());
    agents::update(tx, &next)
}

/// One pending delivery per enabled route of the event's org that matches it.
fn notify(
    tx: &WriteTx<'_>,
    event: &mut EventRecord,
    agent: Option<&AgentRecord>,
    suggestion: Option<&str>,
) -> Result<(), StoreError> {
    let matching: Vec<RouteRecord> =
        routes::list(tx, &event.org_id)?.into_iter().filter(|r| route_matches(r, event)).collect();
    if matching.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(matching.len());
    for route in &matching {
        let Some(channel) = Channel::parse(&route.channel) else { continue };
        let seq = outbox::next_seq(tx)?;
        let outgoing = Outgoing {
            kind: DeliveryKind::Message,
            route_id: route.id.clone(),
            channel: route.channel.clone(),
            channel_id: route.channel_id.clone(),
            text: message::render(event, channel, suggestion),
            payload: serde_json::Value::Null,
        };
        let action = EventAction::Notify { route_id: route.id.clone() };
        ids.push(queue(tx, event, seq, outgoing, action)?);
    }
    let (actor_type, actor) = match agent {
        Some(a) => (ActorType::Agent, a.id.as_str()),
        None => (ActorType::System, "engine"),
    };
    let draft = AuditDraft::new(actor_type, actor, "agent.notify")
        .meta("eventId", event.id.as_str())
        .meta("eventType", event.event_type.as_str())
        .meta("deliveryIds", ids)
        .meta("routeIds", matching.iter().map(|r| r.id.clone()).collect::<Vec<_>>());
    audit::append(tx, &event.org_id, draft)?;
    Ok(())
}

/// docs/API.md §2.9: enabled, `eventType` pattern matches, `projectId` empty or equal.
pub fn route_matches(route: &RouteRecord, event: &EventRecord) -> bool {
    route.enabled
        && glob_matches(&route.event_type, &event.event_type)
        && route.project_id.as_ref().is_none_or(|p| event.project_id.as_ref() == Some(p))
}

/// `*` matches any run of characters (dots included, or none); everything else is literal.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and the text position it currently swallows up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Level 2: an approval token and the line that offers it.
fn suggest(
    tx: &WriteTx<'_>,
    event: &mut EventRecord,
    agent: &AgentRecord,
    kind: Kind,
    policy: Policy,
) -> Result<(String, String), StoreError> {
    let now = clock::now_ms();
    let token = approvals::issue_token(tx)?;
    let description = match kind {
        Kind::PrOpened => "spawn a review agent for this pull request",
        _ => "spawn an incident agent to investigate",
    };
    approvals::put(
        tx,
        &ApprovalRecord {
            token: token.clone(),
            org_id: event.org_id.clone(),
            event_seq: event.seq,
            event_id: event.id.clone(),
            agent_id: agent.id.clone(),
            description: description.into(),
            status: ApprovalStatus::Pending,
            created_at_ms: now,
            expires_at_ms: now + policy.approval_ttl_ms,
            voted_by: None,
            voted_at_ms: None,
            spawned_agent_id: None,
        },
    )?;
    let draft = AuditDraft::new(ActorType::Agent, &agent.id, "agent.suggest")
        .meta("eventId", event.id.as_str())
        .meta("token", token.as_str())
        .meta("suggestion", description)
        .meta("expiresAt", clock::rfc3339(now + policy.approval_ttl_ms));
    audit::append(tx, &event.org_id, draft)?;
    event.actions.push(EventAction::Suggest { token: token.clone() });
    let text = format!(
        "Suggestion: {description}. Approve with POST /api/approvals/{token} {{\"vote\":\"approve\"}} (expires in {} min).",
        policy.approval_ttl_ms / 60_000
    );
    Ok((token, text))
}

/// Level 3 (or an approved suggestion): an ephemeral agent that does its task, is recorded,
/// and ends `TERMINATED`. An incident agent's task includes [`incident_actions`]. Returns its id.
pub fn spawn_ephemeral(
    tx: &WriteTx<'_>,
    event: &mut EventRecord,
    parent: &AgentRecord,
    kind: Kind,
    policy: Policy,
) -> Result<String, StoreError> {
    let (agent_type, task, category) = match kind {
        Kind::PrOpened => (AgentType::Review, "review.task", "code"),
        _ => (AgentType::Incident, "incident.investigate", "incident"),
    };
    let now = clock::now_ms();
    let mut stats = AgentStats::default();
    match agent_type {
        AgentType::Review => stats.reviews_performed = 1,
        _ => stats.incidents_handled = 1,
    }
    let id = agents::issue_id(tx, agent_type.id_kind())?;
    // Names are unique in an org; someone may have taken this one by hand.
    let mut name = format!("{}-{}", agent_type.as_str(), event.id);
    if agents::id_by_name(tx, &event.org_id, &name)?.is_some() {
        name = format!("{name}-{id}");
    }
    let mut agent = AgentRecord::spawn(NewAgent {
        id,
        name,
        agent_type,
        autonomy_level: parent.autonomy_level,
        project_id: event.project_id.clone(),
        org_id: event.org_id.clone(),
        now_ms: now,
    });
    agent.last_activity_ms = Some(now);
    agent.stats = stats;
    agents::put(tx, &agent)?;
    let org_id = event.org_id.clone();
    let org = org_id.as_str();
    let spawn = AuditDraft::new(ActorType::Agent, &parent.id, "agent_spawn")
        .meta("agentId", agent.id.as_str())
        .meta("type", agent_type.as_str())
        .meta("eventId", event.id.as_str())
        .meta("ephemeral", true);
    audit::append(tx, org, spawn)?;

    let content = match agent_type {
        AgentType::Review => format!("Review task: {}", event.title),
        _ => format!("Investigating {}: {}", event.event_type, event.title),
    };
    let remembered = memory::add(
        tx,
        NewMemory {
            org,
            agent_id: Some(agent.id.clone()),
            project_id: event.project_id.clone(),
            category,
            content,
            metadata: json!({
                "eventId": event.id, "eventType": event.event_type,
                "fingerprint": event.fingerprint, "severity": event.severity,
            }),
        },
    )?;
    let work = AuditDraft::new(ActorType::Agent, &agent.id, task)
        .meta("eventId", event.id.as_str())
        .meta("fingerprint", event.fingerprint.as_str())
        .meta("title", event.title.as_str())
        .meta("memoryId", remembered.id);
    audit::append(tx, org, work)?;
    if agent_type == AgentType::Incident {
        incident_actions(tx, event, &agent, policy)?;
    }

    agents::terminate(tx, &agent)?;
    let end = AuditDraft::new(ActorType::Agent, &agent.id, "agent_terminate")
        .meta("agentId", agent.id.as_str())
        .meta("reason", "task complete");
    audit::append(tx, org, end)?;
    event.actions.push(EventAction::Spawn { agent_id: agent.id.clone() });
    Ok(agent.id)
}

/// The level-3 work of an incident agent, queued in the outbox so it survives restarts and
/// outages: a Linear issue, once per fingerprint, when Linear is configured; a PagerDuty trigger
/// for a `critical` event when a routing key is configured.
pub fn incident_actions(
    tx: &WriteTx<'_>,
    event: &mut EventRecord,
    agent: &AgentRecord,
    policy: Policy,
) -> Result<(), StoreError> {
    let org = event.org_id.clone();
    if has_key(tx, &org, "linear", "apiKey", policy.env_linear)? {
        let id = DeliveryId(outbox::next_seq(tx)?);
        if incidents::claim_linear_ticket(tx, &org, &event.fingerprint, &id.to_string())? {
            let payload = json!({
                "title": event.title,
                "description": linear_description(event),
                "incidentId": event.details.get("incidentId"),
            });
            queue_action(tx, event, id, DeliveryKind::LinearIssue, "linear", payload)?;
            audit_action(tx, event, agent, "incident.linear_issue", id)?;
        }
    }
    if event.severity == "critical"
        && has_key(tx, &org, "pagerduty", "routingKey", policy.env_pagerduty_routing_key)?
    {
        let id = DeliveryId(outbox::next_seq(tx)?);
        let trigger = Trigger {
            dedup_key: format!("spar-{}", event.fingerprint),
            summary: event.title.chars().take(1024).collect(),
            source: "spar".into(),
            severity: "critical".into(),
            link: event.details.get("url").and_then(|u| u.as_str()).map(str::to_owned),
        };
        let payload = serde_json::to_value(&trigger).unwrap_or_default();
        queue_action(tx, event, id, DeliveryKind::PagerdutyTrigger, "pagerduty", payload)?;
        audit_action(tx, event, agent, "incident.pagerduty_trigger", id)?;
    }
    Ok(())
}

/// Whether `name`'s config has `key`: the stored config, else (org `default`) the environment.
fn has_key(
    tx: &WriteTx<'_>,
    org: &str,
    name: &str,
    key: &str,
    from_env: bool,
) -> Result<bool, StoreError> {
    Ok(match channels::config(tx, org, name)? {
        Some(stored) => stored.config.get(key).is_some_and(|v| !v.is_empty()),
        None => org == orgs::DEFAULT_ORG && from_env,
    })
}

fn linear_description(event: &EventRecord) -> String {
    let d = &event.details;
    let field = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("");
    format!(
        "Opened by Spar for {} ({} severity).\n\n- Source: {}\n- Culprit: {}\n- Link: {}\n- Fingerprint: `{}`",
        event.event_type,
        event.severity,
        event.source,
        field("culprit"),
        field("url"),
        event.fingerprint
    )
}

fn queue_action(
    tx: &WriteTx<'_>,
    event: &mut EventRecord,
    id: DeliveryId,
    kind: DeliveryKind,
    service: &str,
    payload: serde_json::Value,
) -> Result<(), StoreError> {
    let outgoing = Outgoing {
        kind,
        route_id: String::new(),
        channel: service.to_owned(),
        channel_id: event.fingerprint.clone(),
        text: String::new(),
        payload,
    };
    let action = EventAction::Upstream { service: service.to_owned(), delivery: id };
    queue(tx, event, id.seq(), outgoing, action)?;
    Ok(())
}

/// What a pending delivery does: a message to a route's channel, or an upstream action.
struct Outgoing {
    kind: DeliveryKind,
    route_id: String,
    channel: String,
    channel_id: String,
    text: String,
    payload: serde_json::Value,
}

/// Writes a pending delivery, due now, and notes `action` on the event; returns its id.
fn queue(
    tx: &WriteTx<'_>,
    event: &mut EventRecord,
    seq: u64,
    out: Outgoing,
    action: EventAction,
) -> Result<DeliveryId, StoreError> {
    let now = clock::now_ms();
    let delivery = DeliveryRecord {
        id: DeliveryId(seq),
        seq,
        org_id: event.org_id.clone(),
        event_id: event.id.clone(),
        event_type: event.event_type.clone(),
        kind: out.kind,
        payload: out.payload,
        result: None,
        route_id: out.route_id,
        channel: out.channel,
        channel_id: out.channel_id,
        text: out.text,
        status: DeliveryStatus::Pending,
        attempts: 0,
        last_error: None,
        next_attempt_ms: Some(now),
        created_at_ms: now,
        delivered_at_ms: None,
        attempt_log: Vec::new(),
    };
    outbox::put(tx, None, &delivery)?;
    event.actions.push(action);
    Ok(delivery.id)
}

fn audit_action(
    tx: &WriteTx<'_>,
    event: &EventRecord,
    agent: &AgentRecord,
    action: &'static str,
    delivery_id: DeliveryId,
) -> Result<(), StoreError> {
    let draft = AuditDraft::new(ActorType::Agent, &agent.id, action)
        .meta("eventId", event.id.as_str())
        .meta("fingerprint", event.fingerprint.as_str())
        .meta("deliveryId", delivery_id);
    audit::append(tx, &event.org_id, draft)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Kind, glob_matches};

    #[test]
    fn star_matches_any_run_of_characters() {
        for (p, t) in [
            ("*", "ci.push"),
            ("*", ""),
            ("ci.*", "ci.push"),
            ("ci.*", "ci.workflow_run.failure"),
            ("*.failure", "ci.check_run.failure"),
            ("ci.*.failure", "ci.workflow_run.failure"),
            ("ci.push", "ci.push"),
            ("ci.*", "ci."),
            ("a*b*c", "aXXbYYc"),
        ] {
            assert!(glob_matches(p, t), "{p} should match {t}");
        }
        for (p, t) in [
            ("ci.push", "ci.push.x"),
            ("ci.*", "incident.triggered"),
            ("*.failure", "ci.workflow_run.success"),
            ("incident.*", "ci.push"),
            ("ci.pus", "ci.push"),
            ("a*b*c", "aXXbYY"),
        ] {
            assert!(!glob_matches(p, t), "{p} should not match {t}");
        }
    }

    #[test]
    fn the_columns_of_the_autonomy_table() {
        assert_eq!(Kind::of("ci.workflow_run.failure"), Kind::Failure);
        assert_eq!(Kind::of("ci.check_run.failure"), Kind::Failure);
        assert_eq!(Kind::of("incident.triggered"), Kind::Failure);
        assert_eq!(Kind::of("incident.updated"), Kind::Routine);
        assert_eq!(Kind::of("alert.sentry"), Kind::Failure);
        // A failed deploy is handled like a failed build (docs/API.md §4.3).
        assert_eq!(Kind::of("deploy.failure"), Kind::Failure);
        assert_eq!(Kind::of("ci.pull_request.opened"), Kind::PrOpened);
        for routine in [
            "ci.push",
            "ci.workflow_run.success",
            "ci.pull_request.merged",
            "incident.resolved",
            "deploy.success",
            "deploy.cancelled",
        ] {
            assert_eq!(Kind::of(routine), Kind::Routine, "{routine}");
        }
    }
}
