//! A2A tasks as events (docs/API.md §2.17, §4.1): a task submitted or cancelled is an
//! `a2a.task.submitted` or `a2a.task.cancelled` event of source `a2a`, handled by the agent it
//! was routed to, in the write that changes the task. So the event stream shows it, routes send
//! it (`a2a.*`), and the agent's autonomy level and state apply as to any routine event.

use serde_json::json;

use super::{Policy, react};
use crate::clock;
use crate::store::records::{A2aTaskRecord, AgentRecord, EventAction, EventRecord};
use crate::store::{StoreError, WriteTx, events};

/// How much of a task's text an event carries (the task keeps all of it).
const TEXT_IN_EVENT: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskChange {
    Submitted,
    Cancelled,
}

impl TaskChange {
    fn event_type(self) -> &'static str {
        match self {
            Self::Submitted => "a2a.task.submitted",
            Self::Cancelled => "a2a.task.cancelled",
        }
    }
}

/// Records the event of `change` to `task`; whether it queued a message.
pub fn record(
    tx: &WriteTx<'_>,
    task: &A2aTaskRecord,
    change: TaskChange,
    agent: Option<AgentRecord>,
    policy: Policy,
) -> Result<bool, StoreError> {
    let now = clock::now_ms();
    let seq = events::next_seq(tx)?;
    let text: String = task.text.chars().take(TEXT_IN_EVENT).collect();
    let mut event = EventRecord {
        id: format!("evt-{seq}"),
        seq,
        org_id: task.org_id.clone(),
        project_id: task.project_id.clone(),
        source: "a2a".into(),
        event_type: change.event_type().into(),
        severity: "info".into(),
        title: format!("A2A task {} ({}) for {}", task.id, task.skill, task.agent_id),
        details: json!({
            "taskId": task.id, "skill": task.skill, "agentType": task.agent_type,
            "agentId": task.agent_id, "status": task.status, "text": text,
            "submittedBy": task.submitted_by,
        }),
        fingerprint: format!("a2a:{}", task.id),
        occurred_at: clock::rfc3339(now),
        recorded_at_ms: now,
        agent_id: None,
        actions: Vec::new(),
    };
    react::handle(tx, &mut event, agent, policy)?;
    events::put(tx, &event)?;
    Ok(event.actions.iter().any(EventAction::notifies))
}
