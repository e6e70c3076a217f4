//! Retention of what grows besides the audit trail (docs/API.md §2.15, `audit-cleanup`): which
//! records of each [`Kind`] are old enough to go, found on a snapshot ([`expired`]), and their
//! removal in a write job that checks each one again ([`remove`]), with one `retention.prune`
//! audit entry per org it touched.
//!
//! What stays whatever its age: agents that are not ephemeral (project and coordinator agents)
//! or not terminated, incidents not resolved, pending deliveries and approvals, A2A tasks not
//! finished, and the registries that keep ids from being reused (`agent_ids`,
//! `approval_tokens`, …). Memory is knowledge, not history: it has no retention.

use std::collections::BTreeMap;

use redb::ReadableTable;

use super::StoreError;
use super::audit::{self, ActorType, AuditDraft};
use super::records::{
    A2aTaskRecord, AgentRecord, AgentStatus, ApprovalRecord, ApprovalStatus, DeliveryRecord,
    DeliveryStatus, EventRecord, IncidentRecord, IncidentStatus,
};
use super::tables::{
    A2aTasks, AgentNames, Agents, AgentsByProject, Approvals, DEAD_DELIVERIES_KEY, Deliveries,
    DeliveriesBySeq, Events, EventsBySeq, IncidentAgents, IncidentIds, Incidents, Meta,
    WebhookReceipts,
};
use super::txn::{Source, WriteTx, decode};
use crate::clock;

/// What retention removes, each by its own age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Terminated ephemeral agents (task, review, deploy, incident), by their last activity.
    Agents,
    /// Resolved incidents, by when they were resolved.
    Incidents,
    /// Webhook receipts, by when the delivery arrived.
    Receipts,
    /// Delivered and dead deliveries, by when they were delivered (or created).
    Deliveries,
    /// Normalized inbound events, by when they occurred.
    Events,
    /// Approvals voted on or expired, by when they were created.
    Approvals,
    /// A2A tasks completed, failed or cancelled, by when they last changed.
    A2aTasks,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Self::Agents,
        Self::Incidents,
        Self::Receipts,
        Self::Deliveries,
        Self::Events,
        Self::Approvals,
        Self::A2aTasks,
    ];

    /// Its name in settings (`SPAR_RETENTION`), audit entries and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Agents => "agents",
            Self::Incidents => "incidents",
            Self::Receipts => "receipts",
            Self::Deliveries => "deliveries",
            Self::Events => "events",
            Self::Approvals => "approvals",
            Self::A2aTasks => "a2a",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// One record that is old enough to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expired {
    Agent { org: String, id: String },
    Incident { org: String, seq: u64 },
    Receipt { org: String, key: String },
    Delivery { org: String, seq: u64 },
    Event { org: String, seq: u64 },
    Approval { org: String, token: String },
    A2aTask { org: String, id: String },
}

impl Expired {
    fn org(&self) -> &str {
        match self {
            Self::Agent { org, .. }
            | Self::Incident { org, .. }
            | Self::Receipt { org, .. }
            | Self::Delivery { org, .. }
            | Self::Event { org, .. }
            | Self::Approval { org, .. }
            | Self::A2aTask { org, .. } => org,
        }
    }
}

/// Up to `limit` records of `kind` older than `cutoff_ms` (Unix ms), read from `src`.
pub fn expired(
    src: &impl Source,
    kind: Kind,
    cutoff_ms: i64,
    limit: usize,
) -> Result<Vec<Expired>, StoreError> {
    match kind {
        Kind::Agents => first_expired(src.open::<Agents>()?.iter()?, limit, |(key, value)| {
            let agent: AgentRecord = decode("agent", value.value())?;
            let (org, id) = key.value();
            Ok(agent_expired(&agent, cutoff_ms)
                .then(|| Expired::Agent { org: org.to_owned(), id: id.to_owned() }))
        }),
        Kind::Incidents => {
            first_expired(src.open::<Incidents>()?.iter()?, limit, |(key, value)| {
                let incident: IncidentRecord = decode("incident", value.value())?;
                let (org, seq) = key.value();
                Ok(incident_expired(&incident, cutoff_ms)
                    .then(|| Expired::Incident { org: org.to_owned(), seq }))
            })
        }
        Kind::Receipts => {
            first_expired(src.open::<WebhookReceipts>()?.iter()?, limit, |(key, at)| {
                let (org, name) = key.value();
                Ok(receipt_expired(at.value(), cutoff_ms)
                    .then(|| Expired::Receipt { org: org.to_owned(), key: name.to_owned() }))
            })
        }
        Kind::Deliveries => {
            first_expired(src.open::<Deliveries>()?.iter()?, limit, |(key, value)| {
                let delivery: DeliveryRecord = decode("delivery", value.value())?;
                let (org, seq) = key.value();
                Ok(delivery_expired(&delivery, cutoff_ms)
                    .then(|| Expired::Delivery { org: org.to_owned(), seq }))
            })
        }
        Kind::Events => first_expired(src.open::<Events>()?.iter()?, limit, |(key, value)| {
            let event: EventRecord = decode("event", value.value())?;
            let (org, seq) = key.value();
            Ok(event_expired(&event, cutoff_ms)
                .then(|| Expired::Event { org: org.to_owned(), seq }))
        }),
        Kind::Approvals => {
            first_expired(src.open::<Approvals>()?.iter()?, limit, |(key, value)| {
                let approval: ApprovalRecord = decode("approval", value.value())?;
                let (org, token) = key.value();
                Ok(approval_expired(&approval, cutoff_ms)
                    .then(|| Expired::Approval { org: org.to_owned(), token: token.to_owned() }))
            })
        }
        Kind::A2aTasks => first_expired(src.open::<A2aTasks>()?.iter()?, limit, |(key, value)| {
            let task: A2aTaskRecord = decode("a2a task", value.value())?;
            let (org, id) = key.value();
            Ok(a2a_task_expired(&task, cutoff_ms)
                .then(|| Expired::A2aTask { org: org.to_owned(), id: id.to_owned() }))
        }),
    }
}

/// The first `limit` of `rows` that `check` finds expired, in table order.
fn first_expired<R, E>(
    rows: impl Iterator<Item = Result<R, E>>,
    limit: usize,
    mut check: impl FnMut(R) -> Result<Option<Expired>, StoreError>,
) -> Result<Vec<Expired>, StoreError>
where
    StoreError: From<E>,
{
    let mut out = Vec::new();
    for row in rows {
        if out.len() >= limit {
            break;
        }
        out.extend(check(row?)?);
    }
    Ok(out)
}

/// Removes what `expired` found, checking each record again (it may have changed since the
/// snapshot), and appends one `retention.prune` audit entry per org: how many were removed.
pub fn remove(
    tx: &WriteTx<'_>,
    kind: Kind,
    doomed: &[Expired],
    cutoff_ms: i64,
) -> Result<u64, StoreError> {
    let mut removed: BTreeMap<&str, u64> = BTreeMap::new();
    for record in doomed {
        if remove_one(tx, record, cutoff_ms)? {
            *removed.entry(record.org()).or_default() += 1;
        }
    }
    for (org, count) in &removed {
        let draft = AuditDraft::new(ActorType::System, "scheduler", "retention.prune")
            .meta("kind", kind.name())
            .meta("removed", *count)
            .meta("olderThan", clock::rfc3339(cutoff_ms));
        audit::append(tx, org, draft)?;
    }
    Ok(removed.values().sum())
}

/// Removes one record and its index rows if it is still expired; whether it did.
fn remove_one(tx: &WriteTx<'_>, record: &Expired, cutoff_ms: i64) -> Result<bool, StoreError> {
    match record {
        Expired::Agent { org, id } => {
            let key = (org.as_str(), id.as_str());
            let stored = tx.open::<Agents>()?.get(key)?.map(|v| v.value().to_vec());
            let Some(bytes) = stored else { return Ok(false) };
            let agent: AgentRecord = decode("agent", &bytes)?;
            if !agent_expired(&agent, cutoff_ms) {
                return Ok(false);
            }
            tx.table_mut::<Agents>()?.remove(key)?;
            if let Some(project) = &agent.project_id {
                tx.table_mut::<AgentsByProject>()?.remove((
                    org.as_str(),
                    project.as_str(),
                    id.as_str(),
                ))?;
            }
            let named = tx
                .open::<AgentNames>()?
                .get((org.as_str(), agent.name.as_str()))?
                .map(|v| v.value() == id);
            if named == Some(true) {
                tx.table_mut::<AgentNames>()?.remove((org.as_str(), agent.name.as_str()))?;
            }
            let project = agent.project_id.as_deref().unwrap_or_default();
            let handles =
                tx.open::<IncidentAgents>()?.get((org.as_str(), project))?.map(|v| v.value() == id);
            if handles == Some(true) {
                tx.table_mut::<IncidentAgents>()?.remove((org.as_str(), project))?;
            }
            Ok(true)
        }
        Expired::Incident { org, seq } => {
            let stored =
                tx.open::<Incidents>()?.get((org.as_str(), *seq))?.map(|v| v.value().to_vec());
            let Some(bytes) = stored else { return Ok(false) };
            let incident: IncidentRecord = decode("incident", &bytes)?;
            if !incident_expired(&incident, cutoff_ms) {
                return Ok(false);
            }
            tx.table_mut::<Incidents>()?.remove((org.as_str(), *seq))?;
            tx.table_mut::<IncidentIds>()?.remove(*seq)?;
            Ok(true)
        }
        Expired::Receipt { org, key } => {
            let at =
                tx.open::<WebhookReceipts>()?.get((org.as_str(), key.as_str()))?.map(|v| v.value());
            if !at.is_some_and(|at| receipt_expired(at, cutoff_ms)) {
                return Ok(false);
            }
            tx.table_mut::<WebhookReceipts>()?.remove((org.as_str(), key.as_str()))?;
            Ok(true)
        }
        Expired::Delivery { org, seq } => {
            let stored =
                tx.open::<Deliveries>()?.get((org.as_str(), *seq))?.map(|v| v.value().to_vec());
            let Some(bytes) = stored else { return Ok(false) };
            let delivery: DeliveryRecord = decode("delivery", &bytes)?;
            if !delivery_expired(&delivery, cutoff_ms) {
                return Ok(false);
            }
            tx.table_mut::<Deliveries>()?.remove((org.as_str(), *seq))?;
            tx.table_mut::<DeliveriesBySeq>()?.remove(*seq)?;
            if delivery.status == DeliveryStatus::Dead {
                let mut meta = tx.table_mut::<Meta>()?;
                let dead = meta.get(DEAD_DELIVERIES_KEY)?.map_or(0, |v| v.value());
                meta.insert(DEAD_DELIVERIES_KEY, dead.saturating_sub(1))?;
            }
            Ok(true)
        }
        Expired::Event { org, seq } => {
            let stored =
                tx.open::<Events>()?.get((org.as_str(), *seq))?.map(|v| v.value().to_vec());
            let Some(bytes) = stored else { return Ok(false) };
            let event: EventRecord = decode("event", &bytes)?;
            if !event_expired(&event, cutoff_ms) {
                return Ok(false);
            }
            tx.table_mut::<Events>()?.remove((org.as_str(), *seq))?;
            tx.table_mut::<EventsBySeq>()?.remove(*seq)?;
            Ok(true)
        }
        Expired::Approval { org, token } => {
            let key = (org.as_str(), token.as_str());
            let stored = tx.open::<Approvals>()?.get(key)?.map(|v| v.value().to_vec());
            let Some(bytes) = stored else { return Ok(false) };
            let approval: ApprovalRecord = decode("approval", &bytes)?;
            if !approval_expired(&approval, cutoff_ms) {
                return Ok(false);
            }
            tx.table_mut::<Approvals>()?.remove(key)?;
            Ok(true)
        }
        Expired::A2aTask { org, id } => {
            let Some(task) = super::a2a::get(tx, org, id)? else { return Ok(false) };
            if !a2a_task_expired(&task, cutoff_ms) {
                return Ok(false);
            }
            super::a2a::remove(tx, &task)?;
            Ok(true)
        }
    }
}

fn a2a_task_expired(task: &A2aTaskRecord, cutoff_ms: i64) -> bool {
    !task.status.cancellable() && task.updated_at_ms < cutoff_ms
}

fn agent_expired(agent: &AgentRecord, cutoff_ms: i64) -> bool {
    let ended = agent.last_activity_ms.unwrap_or(agent.started_at_ms);
    agent.status == AgentStatus::Terminated && !agent.agent_type.persistent() && ended < cutoff_ms
}

fn incident_expired(incident: &IncidentRecord, cutoff_ms: i64) -> bool {
    incident.status == IncidentStatus::Resolved
        && incident.resolved_at_ms.unwrap_or(incident.updated_at_ms) < cutoff_ms
}

fn receipt_expired(at_ms: u64, cutoff_ms: i64) -> bool {
    i64::try_from(at_ms).unwrap_or(i64::MAX) < cutoff_ms
}

fn delivery_expired(delivery: &DeliveryRecord, cutoff_ms: i64) -> bool {
    let finished = matches!(delivery.status, DeliveryStatus::Delivered | DeliveryStatus::Dead);
    finished && delivery.delivered_at_ms.unwrap_or(delivery.created_at_ms) < cutoff_ms
}

fn event_expired(event: &EventRecord, cutoff_ms: i64) -> bool {
    clock::parse_rfc3339(&event.occurred_at).is_some_and(|at| at < cutoff_ms)
}

fn approval_expired(approval: &ApprovalRecord, cutoff_ms: i64) -> bool {
    let settled = approval.status != ApprovalStatus::Pending || approval.expires_at_ms < cutoff_ms;
    settled && approval.created_at_ms < cutoff_ms
}
