//! Scheduled reports (docs/API.md §2.15: digests, build status) are events of their own: a
//! `report.*` event notifies the routes that match it, through the outbox, like any event.

use serde_json::json;

use super::react::{self, Kind, Policy};
use crate::clock;
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::records::{EventAction, EventRecord};
use crate::store::{StoreError, WriteTx, events};

/// Records the report event of `org` and queues its messages. Returns the event; its actions
/// name the deliveries (`notify:<route>`).
pub fn record(
    tx: &WriteTx<'_>,
    org: &str,
    event_type: &str,
    title: String,
    lines: Vec<String>,
    policy: Policy,
) -> Result<EventRecord, StoreError> {
    let seq = events::next_seq(tx)?;
    let now = clock::now_ms();
    let mut event = EventRecord {
        id: format!("evt-{seq}"),
        seq,
        org_id: org.to_owned(),
        project_id: None,
        source: "scheduler".into(),
        event_type: event_type.to_owned(),
        severity: "info".into(),
        title,
        details: json!({ "lines": lines }),
        fingerprint: format!("{event_type}:{seq}"),
        occurred_at: clock::rfc3339(now),
        recorded_at_ms: now,
        agent_id: None,
        actions: Vec::new(),
    };
    let draft = AuditDraft::new(ActorType::System, "scheduler", "scheduler.report")
        .meta("eventId", event.id.as_str())
        .meta("eventType", event_type)
        .meta("title", event.title.as_str());
    audit::append(tx, org, draft)?;
    react::handle_as(tx, &mut event, None, policy, Kind::Routine)?;
    events::put(tx, &event)?;
    Ok(event)
}

/// Whether recording `event` queued messages.
pub fn notified(event: &EventRecord) -> bool {
    event.actions.iter().any(EventAction::notifies)
}
