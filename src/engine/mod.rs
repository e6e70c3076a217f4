//! The automation engine: inbound webhooks become normalized events (docs/API.md §4), recorded with
//! their audit entry and memory entry in the transaction that acknowledges the delivery.
//!
//! The handling agent then acts by its autonomy level ([`react`]) in the same transaction: the
//! messages it sends are outbox deliveries ([`outbox`] sends them), so nothing acknowledged is
//! lost on the way to a chat service.
//!
//! **Invariant:** a delivery is recorded at most once: its receipt is written in the same
//! transaction as everything it caused, so a redelivery, even after a crash, is a duplicate
//! exactly when the first delivery was committed (as every acknowledged one was).

pub mod a2a;
pub mod alert_types;
pub mod channels;
pub mod deploy;
pub mod github;
pub mod incidents;
pub mod message;
pub mod outbox;
pub mod react;
pub mod report;
pub mod sentry;
mod signals;
pub mod signature;
pub mod spike;

use serde_json::{Map, Value, json};

use crate::clock;
use crate::store::audit::{self, ActorType, AuditDraft, AuditResult};
use crate::store::memory::NewMemory;
use crate::store::records::{AgentRecord, EventAction, EventRecord, ProjectRecord};
use crate::store::{StoreError, WriteTx, agents, events, memory, projects};
use github::{CiEvent, Parsed};
pub use react::Policy;
pub use signals::Signals;

/// What recording a delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// The delivery id was recorded before: nothing changed.
    Duplicate,
    /// A CI event was recorded.
    Event { event_id: String, project_id: Option<String>, deliveries: bool },
    /// A ping was recorded.
    Ping,
    /// Nothing to record (unhandled or skipped).
    Ignored,
}

/// How long a delivery's receipt makes a redelivery a duplicate (docs/API.md §3): at least as
/// long as webhook receipts are kept.
pub const DEDUPE_WINDOW_MS: i64 = 7 * 24 * 3_600_000;

/// What identifies a delivery to recognise it again: the sender's delivery id, and the SHA-256
/// of the signed body (GitHub signs neither its delivery id nor a time, Sentry not its
/// `Request-ID`, so a captured body replayed under a new id is recognised by its digest).
pub struct Receipt<'a> {
    /// `github`, `sentry`, `vercel` or `deploy`: the receipts' key prefix.
    pub source: &'static str,
    pub delivery: Option<&'a str>,
    pub digest: &'a str,
}

impl Receipt<'_> {
    fn by_id(&self) -> Option<String> {
        self.delivery.map(|d| format!("{}:{d}", self.source))
    }

    fn by_digest(&self) -> String {
        format!("{}-body:{}", self.source, self.digest)
    }

    /// Whether this delivery was recorded before: its id ever, its body within the window.
    pub fn seen(&self, tx: &WriteTx<'_>, org: &str) -> Result<bool, StoreError> {
        if let Some(key) = self.by_id()
            && events::received(tx, org, &key)?
        {
            return Ok(true);
        }
        events::received_since(tx, org, &self.by_digest(), clock::now_ms() - DEDUPE_WINDOW_MS)
    }

    /// Records the delivery, in the transaction of what it caused.
    pub fn remember(&self, tx: &WriteTx<'_>, org: &str) -> Result<(), StoreError> {
        let now = clock::now_ms();
        if let Some(key) = self.by_id() {
            events::record_receipt(tx, org, &key, now)?;
        }
        events::record_receipt(tx, org, &self.by_digest(), now)
    }
}

/// Who handles an event about a project (docs/API.md §4.2): the project's agent.
pub(crate) struct Handler {
    pub project_id: Option<String>,
    pub agent_id: Option<String>,
    /// The agent's record, when it still exists.
    pub agent: Option<AgentRecord>,
}

impl Handler {
    pub(crate) fn of(
        tx: &WriteTx<'_>,
        org: &str,
        project: Option<&ProjectRecord>,
    ) -> Result<Self, StoreError> {
        let Some(p) = project else {
            return Ok(Self { project_id: None, agent_id: None, agent: None });
        };
        let agent = agents::get(tx, org, &p.agent_id)?;
        Ok(Self { project_id: Some(p.id.clone()), agent_id: Some(p.agent_id.clone()), agent })
    }
}

/// Records a parsed GitHub delivery for `org`, unless it was already recorded.
pub fn ingest(
    tx: &WriteTx<'_>,
    org: &str,
    parsed: &Parsed,
    receipt: Receipt<'_>,
    policy: Policy,
) -> Result<Ingested, StoreError> {
    let delivery = receipt.delivery;
    if receipt.seen(tx, org)? {
        return Ok(Ingested::Duplicate);
    }
    let ingested = match parsed {
        Parsed::Ci(ci) => record_ci(tx, org, ci, delivery, policy)?,
        Parsed::Ping { repo, hook_id } => {
            let mut draft = AuditDraft::new(ActorType::System, "github", "webhook.ping")
                .meta("hookId", hook_id.map_or(Value::Null, Value::from))
                .meta("repo", repo.clone().map_or(Value::Null, Value::from));
            if let Some(d) = delivery {
                draft = draft.meta("deliveryId", d);
            }
            audit::append(tx, org, draft)?;
            Ingested::Ping
        }
        Parsed::Skipped { .. } | Parsed::Unhandled { .. } => return Ok(Ingested::Ignored),
    };
    receipt.remember(tx, org)?;
    Ok(ingested)
}

/// The normalized event, audit `ci_event`, a `ci` memory entry, and the handling agent's
/// reaction for one CI event.
fn record_ci(
    tx: &WriteTx<'_>,
    org: &str,
    ci: &CiEvent,
    delivery: Option<&str>,
    policy: Policy,
) -> Result<Ingested, StoreError> {
    let project = projects::by_repo(tx, org, &ci.repo)?;
    let Handler { project_id, agent_id, agent } = Handler::of(tx, org, project.as_ref())?;
    let now = clock::now_ms();
    let seq = events::next_seq(tx)?;
    let mut event = EventRecord {
        id: format!("evt-{seq}"),
        seq,
        org_id: org.to_owned(),
        project_id: project_id.clone(),
        source: "github".into(),
        event_type: ci.event_type(),
        severity: if ci.is_build_failure() { "high" } else { "low" }.into(),
        title: ci.summary.clone(),
        details: details(ci, delivery),
        fingerprint: ci.fingerprint(),
        occurred_at: clock::rfc3339(ci.occurred_at_ms.unwrap_or(now)),
        recorded_at_ms: now,
        agent_id: None,
        actions: Vec::new(),
    };

    let mut draft = AuditDraft::new(ActorType::System, "github", "ci_event")
        .meta("eventId", event.id.as_str())
        .meta("eventType", event.event_type.as_str())
        .meta("repo", ci.repo.as_str())
        .meta("branch", ci.branch.as_str())
        .meta("status", ci.status.as_str())
        .meta("conclusion", ci.conclusion.clone().map_or(Value::Null, Value::from))
        .meta("details", ci.summary.as_str())
        .meta("deliveryId", delivery.map_or(Value::Null, Value::from))
        .meta("risk", if ci.is_build_failure() { "high" } else { "low" });
    draft.result = AuditResult::Processed;
    if let (Some(p), Some(a)) = (&project_id, &agent_id) {
        draft = draft.meta("projectId", p.as_str()).meta("agentId", a.as_str());
    }
    audit::append(tx, org, draft)?;

    memory::add(
        tx,
        NewMemory {
            org,
            agent_id,
            project_id: project_id.clone(),
            category: "ci",
            content: format!("{}: {}", ci.repo, ci.summary),
            metadata: json!({
                "eventId": event.id, "eventType": event.event_type, "repo": ci.repo,
                "branch": ci.branch, "url": ci.url,
            }),
        },
    )?;
    react::handle(tx, &mut event, agent, policy)?;
    events::put(tx, &event)?;
    let deliveries = event.actions.iter().any(EventAction::notifies);
    Ok(Ingested::Event { event_id: event.id, project_id, deliveries })
}

/// The event's own words, for messages: everything known, nothing null.
fn details(ci: &CiEvent, delivery: Option<&str>) -> Value {
    let mut out = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(v) = value {
            out.insert(key.to_owned(), v);
        }
    };
    put("repo", Some(ci.repo.as_str().into()));
    put("branch", Some(ci.branch.as_str().into()));
    put("status", Some(ci.status.as_str().into()));
    put("conclusion", ci.conclusion.as_deref().map(Value::from));
    put("action", ci.action.as_deref().map(Value::from));
    put("url", ci.url.as_deref().map(Value::from));
    put("sha", ci.sha.as_deref().map(Value::from));
    put("author", ci.author.as_deref().map(Value::from));
    put("message", ci.message.as_deref().map(Value::from));
    put("number", ci.number.map(Value::from));
    put("name", ci.name.as_deref().map(Value::from));
    put("deliveryId", delivery.map(Value::from));
    Value::Object(out)
}
