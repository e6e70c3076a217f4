//! The records Spar stores. Field names are the API's (camelCase); timestamps are Unix
//! milliseconds. New fields must carry `#[serde(default)]` so older records still decode.

use serde::{Deserialize, Serialize};

use crate::ids::{DeliveryId, IncidentId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentType {
    Project,
    Task,
    Review,
    Deploy,
    Incident,
    Coordinator,
}

impl AgentType {
    pub const ALL: [AgentType; 6] =
        [Self::Project, Self::Task, Self::Review, Self::Deploy, Self::Incident, Self::Coordinator];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Project => "project",
            Self::Task => "task",
            Self::Review => "review",
            Self::Deploy => "deploy",
            Self::Incident => "incident",
            Self::Coordinator => "coordinator",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The `<kind>` part of `agent-<kind>-<6 base36>` (docs/API.md §1.8).
    pub fn id_kind(self) -> &'static str {
        match self {
            Self::Project => "proj",
            Self::Task => "task",
            Self::Review => "review",
            Self::Deploy => "deploy",
            Self::Incident => "inc",
            Self::Coordinator => "coord",
        }
    }

    pub fn persistent(self) -> bool {
        matches!(self, Self::Project | Self::Coordinator)
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::Project => "Monitors repo, CI/CD, channels",
            Self::Task => "Executes coding tasks",
            Self::Review => "PR analysis and risk classification",
            Self::Deploy => "Deploy orchestration with approvals",
            Self::Incident => "CI failure investigation",
            Self::Coordinator => "Cross-project orchestration",
        }
    }
}

impl AgentType {
    /// The name its agent card shows (docs/API.md §2.17).
    pub fn card_name(self) -> &'static str {
        match self {
            Self::Project => "Project Agent",
            Self::Task => "Task Agent",
            Self::Review => "Review Agent",
            Self::Deploy => "Deploy Agent",
            Self::Incident => "Incident Agent",
            Self::Coordinator => "Coordinator Agent",
        }
    }

    /// The skills agents of this type offer to other agents, in catalogue order.
    pub fn skills(self) -> impl Iterator<Item = &'static Skill> {
        SKILLS.iter().filter(move |s| s.agent_type == self)
    }
}

/// A skill an agent type offers over A2A (docs/API.md §2.17): what the well-known card and the
/// agent cards list, and what a submitted task must name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Skill {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub agent_type: AgentType,
}

const fn skill(
    id: &'static str,
    name: &'static str,
    description: &'static str,
    agent_type: AgentType,
) -> Skill {
    Skill { id, name, description, agent_type }
}

/// The skill catalogue: the one list the card, the agent cards and task validation read.
pub const SKILLS: &[Skill] = &[
    skill(
        "build-status",
        "Build Status",
        "Report the latest CI/CD build status of a project",
        AgentType::Project,
    ),
    skill(
        "diff-summary",
        "Diff Summary",
        "Summarize the changes of a commit, branch or pull request",
        AgentType::Project,
    ),
    skill(
        "instruct-task",
        "Instruct Task",
        "Hand a coding instruction to the project's agents",
        AgentType::Project,
    ),
    skill(
        "deploy-trigger",
        "Deploy Trigger",
        "Request a deployment of a project",
        AgentType::Project,
    ),
    skill(
        "log-tail",
        "Log Tail",
        "Show the recent log and activity of a project",
        AgentType::Project,
    ),
    skill("code-edit", "Code Edit", "Edit existing code as instructed", AgentType::Task),
    skill("code-generate", "Code Generate", "Write new code from a description", AgentType::Task),
    skill("test-write", "Test Write", "Write tests for existing code", AgentType::Task),
    skill(
        "refactor",
        "Refactor",
        "Restructure code without changing its behaviour",
        AgentType::Task,
    ),
    skill("pr-review", "PR Review", "Review a pull request", AgentType::Review),
    skill("risk-classify", "Risk Classify", "Classify the risk of a change", AgentType::Review),
    skill(
        "review-summary",
        "Review Summary",
        "Summarize the reviews of a pull request",
        AgentType::Review,
    ),
    skill("deploy-staging", "Deploy Staging", "Deploy to staging", AgentType::Deploy),
    skill(
        "deploy-production",
        "Deploy Production",
        "Deploy to production (with approval)",
        AgentType::Deploy,
    ),
    skill("rollback", "Rollback", "Roll a deployment back (with approval)", AgentType::Deploy),
    skill("health-check", "Health Check", "Check a deployment's health", AgentType::Deploy),
    skill("investigate", "Investigate", "Investigate a failure or an alert", AgentType::Incident),
    skill(
        "correlate",
        "Correlate",
        "Correlate an incident with recent changes",
        AgentType::Incident,
    ),
    skill("hotfix", "Hotfix", "Propose a fix for an incident", AgentType::Incident),
    skill(
        "cascade-deploy",
        "Cascade Deploy",
        "Deploy dependent projects in order",
        AgentType::Coordinator,
    ),
    skill(
        "resource-lock",
        "Resource Lock",
        "Coordinate exclusive use of a shared resource",
        AgentType::Coordinator,
    ),
    skill(
        "cross-project-query",
        "Cross-Project Query",
        "Answer a question across projects",
        AgentType::Coordinator,
    ),
];

/// The skill named `id`, if the catalogue has it.
pub fn skill_named(id: &str) -> Option<&'static Skill> {
    SKILLS.iter().find(|s| s.id == id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AgentStatus {
    Active,
    Idle,
    Suspended,
    Error,
    Terminated,
}

impl AgentStatus {
    pub const ALL: [AgentStatus; 5] =
        [Self::Active, Self::Idle, Self::Suspended, Self::Error, Self::Terminated];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Idle => "IDLE",
            Self::Suspended => "SUSPENDED",
            Self::Error => "ERROR",
            Self::Terminated => "TERMINATED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Real counts of what an agent has done (docs/API.md §2.2, `GET /api/agents/:id`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentStats {
    pub messages_processed: u64,
    pub tasks_completed: u64,
    pub reviews_performed: u64,
    pub deploys_triggered: u64,
    pub incidents_handled: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentRecord {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub agent_type: AgentType,
    pub status: AgentStatus,
    pub autonomy_level: u8,
    pub project_id: Option<String>,
    pub org_id: String,
    pub created_at_ms: i64,
    /// When it last started (creation, restart or resume): the base of `uptime`.
    pub started_at_ms: i64,
    pub last_activity_ms: Option<i64>,
    #[serde(default)]
    pub stats: AgentStats,
}

/// What an agent starts its life with, whoever spawns it (the API, a project, the engine).
pub struct NewAgent {
    pub id: String,
    pub name: String,
    pub agent_type: AgentType,
    pub autonomy_level: u8,
    pub project_id: Option<String>,
    pub org_id: String,
    pub now_ms: i64,
}

/// A change of an agent's state: the agent state machine (docs/API.md §2.2), the one place an
/// agent's status changes, for the API's actions and the engine alike.
///
/// ```text
/// ACTIVE, IDLE, ERROR ──suspend──▶ SUSPENDED ──resume──▶ ACTIVE
/// any but TERMINATED ──restart──▶ ACTIVE      ──terminate──▶ TERMINATED (final)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentChange {
    Suspend,
    Resume,
    Restart,
    SetAutonomy(u8),
    Terminate,
}

/// Why the state machine refuses a change; the message names the agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("Agent '{0}' is terminated")]
    Terminated(String),
    #[error("Agent '{0}' is already suspended")]
    AlreadySuspended(String),
    #[error("Agent '{id}' is not suspended (status {})", .status.as_str())]
    NotSuspended { id: String, status: AgentStatus },
}

impl AgentRecord {
    /// A new agent: `ACTIVE`, started now, no activity yet.
    pub fn spawn(new: NewAgent) -> Self {
        Self {
            id: new.id,
            name: new.name,
            agent_type: new.agent_type,
            status: AgentStatus::Active,
            autonomy_level: new.autonomy_level,
            project_id: new.project_id,
            org_id: new.org_id,
            created_at_ms: new.now_ms,
            started_at_ms: new.now_ms,
            last_activity_ms: None,
            stats: AgentStats::default(),
        }
    }

    /// Whether the agent acts on events (and its uptime runs).
    pub fn is_running(&self) -> bool {
        !matches!(self.status, AgentStatus::Suspended | AgentStatus::Terminated)
    }

    /// The agent after `change`, or why its state does not allow it.
    pub fn after(&self, change: AgentChange, now_ms: i64) -> Result<Self, TransitionError> {
        if self.status == AgentStatus::Terminated {
            return Err(TransitionError::Terminated(self.id.clone()));
        }
        let mut next = self.clone();
        match change {
            AgentChange::Suspend if self.status == AgentStatus::Suspended => {
                return Err(TransitionError::AlreadySuspended(self.id.clone()));
            }
            AgentChange::Suspend => next.status = AgentStatus::Suspended,
            AgentChange::Resume if self.status != AgentStatus::Suspended => {
                let id = self.id.clone();
                return Err(TransitionError::NotSuspended { id, status: self.status });
            }
            AgentChange::Resume | AgentChange::Restart => {
                next.status = AgentStatus::Active;
                next.started_at_ms = now_ms;
            }
            AgentChange::SetAutonomy(level) => next.autonomy_level = level,
            AgentChange::Terminate => next.status = AgentStatus::Terminated,
        }
        Ok(next)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgRecord {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub created_at_ms: i64,
}

/// Something an agent or a user wants remembered (docs/API.md §2.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryEntry {
    pub id: String,
    pub seq: u64,
    pub org_id: String,
    pub agent_id: Option<String>,
    pub project_id: Option<String>,
    pub category: String,
    pub content: String,
    pub metadata: serde_json::Value,
    pub created_at: String,
}

/// The roles an identity may have (docs/API.md §2.6).
pub const ROLES: [&str; 6] =
    ["owner", "maintainer", "operator", "reviewer", "read-only", "emergency_admin"];

/// A person, known by their accounts on chat channels (docs/API.md §2.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityRecord {
    pub id: String,
    pub org_id: String,
    pub display_name: String,
    pub role: String,
    pub channels: Vec<ChannelAccount>,
    pub registered_at: String,
    pub last_seen: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelAccount {
    #[serde(rename = "type")]
    pub channel_type: String,
    pub user_id: String,
    pub username: Option<String>,
    pub linked_at: String,
}

/// A project: a GitHub repository and the agent that watches it (docs/API.md §2.7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRecord {
    pub id: String,
    pub name: String,
    /// `owner/name` as GitHub spells it (as the user typed it when GitHub was not asked).
    pub repo: String,
    #[serde(default)]
    pub repo_url: String,
    pub default_branch: String,
    /// The id of the hook on GitHub that delivers to this server, when there is one.
    #[serde(default)]
    pub webhook_id: Option<u64>,
    pub agent_id: String,
    pub org_id: String,
    /// When it was created or linked.
    pub created_at_ms: i64,
    /// Who linked it (`X-Actor`, default `api`).
    #[serde(default)]
    pub linked_by: String,
}

impl ProjectRecord {
    /// Whether `name` is its id, its repository (`owner/name`) or its repository's name: how
    /// CodeSpar's clients name a project (`?project=`, a route's `projectFilter`).
    pub fn is_named(&self, name: &str) -> bool {
        self.id == name
            || self.repo.eq_ignore_ascii_case(name)
            || self.repo.rsplit('/').next().is_some_and(|n| n.eq_ignore_ascii_case(name))
    }

    pub fn repo_url(&self) -> String {
        if self.repo_url.is_empty() {
            format!("https://github.com/{}", self.repo)
        } else {
            self.repo_url.clone()
        }
    }
}

/// A normalized inbound event (docs/API.md §4): what a webhook said, in one shape for every source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    pub id: String,
    pub seq: u64,
    pub org_id: String,
    pub project_id: Option<String>,
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub severity: String,
    pub title: String,
    pub details: serde_json::Value,
    pub fingerprint: String,
    pub occurred_at: String,
    /// When Spar recorded it (`occurred_at` is the source's time, often earlier); 0 in records
    /// written before it was kept.
    #[serde(default)]
    pub recorded_at_ms: i64,
    /// The agent that handled it (the project's agent), if any.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// What was done about it, in order.
    #[serde(default)]
    pub actions: Vec<EventAction>,
}

/// One thing done about an event. Stored and shown (the event stream's `actions`) as text:
/// `notify:route-001`, `linear:dlv-3`, `suggest:<token>`, `spawn:agent-inc-…`, `suspended`,
/// `recorded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum EventAction {
    /// A message for a route is in the outbox.
    Notify { route_id: String },
    /// An upstream action (`linear`, `pagerduty`) is in the outbox.
    Upstream { service: String, delivery: DeliveryId },
    /// A level-2 suggestion awaits its vote.
    Suggest { token: String },
    /// An ephemeral agent did its task.
    Spawn { agent_id: String },
    /// The handling agent is suspended (or terminated): the event was only recorded.
    Suspended,
    /// Autonomy level 0: recorded only.
    Recorded,
    /// Text written by a version that knew another action (kept as it was).
    Other(String),
}

impl EventAction {
    /// Whether this action queued a chat message.
    pub fn notifies(&self) -> bool {
        matches!(self, Self::Notify { .. })
    }
}

impl From<EventAction> for String {
    fn from(a: EventAction) -> Self {
        match a {
            EventAction::Notify { route_id } => format!("notify:{route_id}"),
            EventAction::Upstream { service, delivery } => format!("{service}:{delivery}"),
            EventAction::Suggest { token } => format!("suggest:{token}"),
            EventAction::Spawn { agent_id } => format!("spawn:{agent_id}"),
            EventAction::Suspended => "suspended".into(),
            EventAction::Recorded => "recorded".into(),
            EventAction::Other(text) => text,
        }
    }
}

impl From<String> for EventAction {
    fn from(text: String) -> Self {
        let upstream = |service: &str, rest: &str| {
            DeliveryId::parse(rest)
                .map(|delivery| EventAction::Upstream { service: service.into(), delivery })
        };
        let parsed = match text.split_once(':') {
            Some(("notify", id)) => Some(Self::Notify { route_id: id.into() }),
            Some(("suggest", token)) => Some(Self::Suggest { token: token.into() }),
            Some(("spawn", id)) => Some(Self::Spawn { agent_id: id.into() }),
            Some((service @ ("linear" | "pagerduty"), rest)) => upstream(service, rest),
            None if text == "suspended" => Some(Self::Suspended),
            None if text == "recorded" => Some(Self::Recorded),
            _ => None,
        };
        parsed.unwrap_or(Self::Other(text))
    }
}

/// A rule that sends matching events to a chat channel (docs/API.md §2.13, `channel-routes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteRecord {
    pub id: String,
    pub org_id: String,
    /// A pattern where `*` matches any run of characters.
    pub event_type: String,
    pub channel: String,
    pub channel_id: String,
    pub project_id: Option<String>,
    pub enabled: bool,
    pub created_at_ms: i64,
}

/// A channel's stored configuration (`POST /api/channels/configure`). Values are credentials:
/// never returned, never logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelConfigRecord {
    pub channel: String,
    pub config: std::collections::BTreeMap<String, String>,
    pub configured_at_ms: i64,
    pub configured_by: String,
}

/// What Spar last learned about a channel's connection, from a delivery or a reconnect check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelStatusRecord {
    pub connected: bool,
    pub last_delivery_ms: Option<i64>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Dead,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "dead" => Some(Self::Dead),
            _ => None,
        }
    }
}

/// What an outbox delivery does when it is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryKind {
    /// A chat message (`text` to `channel`/`channelId`).
    #[default]
    Message,
    /// An incident agent's Linear issue (`payload`: title, description, incident id).
    LinearIssue,
    /// An incident agent's PagerDuty Events v2 trigger (`payload`: a `Trigger`).
    PagerdutyTrigger,
}

/// One message or upstream action in the outbox (docs/API.md §4): written with its event, sent by
/// the outbox worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRecord {
    pub id: DeliveryId,
    pub seq: u64,
    pub org_id: String,
    pub event_id: String,
    pub event_type: String,
    #[serde(default)]
    pub kind: DeliveryKind,
    /// What an action sends (empty for messages).
    #[serde(default)]
    pub payload: serde_json::Value,
    /// What the service made of it (a Linear issue's identifier).
    #[serde(default)]
    pub result: Option<String>,
    /// The route of a message (empty for actions).
    pub route_id: String,
    pub channel: String,
    pub channel_id: String,
    /// The message, already formatted for the channel.
    pub text: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// When the next attempt is due (pending only).
    pub next_attempt_ms: Option<i64>,
    pub created_at_ms: i64,
    pub delivered_at_ms: Option<i64>,
    /// Its attempts, oldest first, the newest [`DeliveryRecord::ATTEMPTS_KEPT`] of them.
    #[serde(default)]
    pub attempt_log: Vec<DeliveryAttempt>,
}

impl DeliveryRecord {
    /// Attempts a delivery keeps in its log (8 make it dead; retries after that add more).
    pub const ATTEMPTS_KEPT: usize = 20;

    /// Adds an attempt to the log, dropping the oldest beyond the bound.
    pub fn log_attempt(&mut self, attempt: DeliveryAttempt) {
        self.attempt_log.push(attempt);
        let extra = self.attempt_log.len().saturating_sub(Self::ATTEMPTS_KEPT);
        self.attempt_log.drain(..extra);
    }
}

/// One attempt at a delivery: when, how long, and how it ended. Never what the service said:
/// an error is a class (`timeout`, `http` with its status, …), not a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttempt {
    pub at_ms: i64,
    pub duration_ms: u64,
    /// `delivered`, `retry` (failed, to be tried again) or `dead` (failed for good).
    pub outcome: String,
    /// `timeout`, `unreachable`, `refused`, `http`, `rejected`, `not_configured`, `internal`.
    pub error: Option<String>,
    pub http_status: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Denied,
}

/// A level-2 suggestion waiting for a vote (docs/API.md §4): approving it runs the level-3 action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRecord {
    /// `sg-<6 alphanumerics>`.
    pub token: String,
    pub org_id: String,
    pub event_seq: u64,
    pub event_id: String,
    /// The agent that suggested it.
    pub agent_id: String,
    pub description: String,
    pub status: ApprovalStatus,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub voted_by: Option<String>,
    pub voted_at_ms: Option<i64>,
    /// The agent an approval spawned.
    pub spawned_agent_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentStatus {
    Open,
    Acknowledged,
    Resolved,
}

impl IncidentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "acknowledged" => Some(Self::Acknowledged),
            "resolved" => Some(Self::Resolved),
            _ => None,
        }
    }
}

/// One thing that happened to an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncidentEvent {
    #[serde(rename = "type")]
    pub event_type: String,
    pub issue_id: Option<String>,
    pub agent_id: Option<String>,
    pub timestamp: String,
}

/// An incident (docs/API.md §3.2): alerts of one Sentry issue grouped while it is open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncidentRecord {
    pub id: IncidentId,
    pub seq: u64,
    pub org_id: String,
    pub title: String,
    /// `critical`, `high`, `medium` or `low`.
    pub severity: String,
    pub status: IncidentStatus,
    pub source: String,
    /// The Spar project it belongs to, when one matches the Sentry project.
    pub project_id: Option<String>,
    /// The Sentry project (slug, or numeric id when only that is known).
    pub source_project: Option<String>,
    /// `<source project>:<issue id>`: alerts with the same key join the open incident.
    pub group_key: String,
    pub fingerprint: String,
    pub count: u64,
    pub events: Vec<IncidentEvent>,
    pub assigned_agent: Option<String>,
    pub link: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at_ms: Option<i64>,
    pub resolved_at_ms: Option<i64>,
    /// The Linear issue opened for it, once the outbox created it.
    #[serde(default)]
    pub linear_issue: Option<String>,
}

impl IncidentRecord {
    /// Events an incident keeps (docs/API.md §2.14): the newest; `count` counts them all, so a
    /// repeat costs the same however often the alert came before.
    pub const EVENTS_KEPT: usize = 50;

    pub fn record_event(&mut self, event: IncidentEvent) {
        self.events.push(event);
        let extra = self.events.len().saturating_sub(Self::EVENTS_KEPT);
        self.events.drain(..extra);
    }
}

/// An API key of the Spike and Potpie dialects, or an org token of the CodeSpar API (docs/API.md
/// §1.4). The secret itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialRecord {
    pub name: String,
    pub org_id: String,
    /// The key's first characters, to recognise it by (`spar_1a2b3c4d`).
    pub prefix: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// A Spike integration (docs/API.md §5): an ingest URL whose token authenticates alerts, parsed
/// by the integration's slug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpikeIntegrationRecord {
    pub id: String,
    pub token: String,
    pub custom_name: String,
    pub desc: String,
    pub slug: String,
    pub service: Option<String>,
    pub escalation: Option<String>,
    pub repeat_escalation: bool,
    pub ack_timeout: Option<u64>,
    pub is_archived: bool,
    pub org_id: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A scheduled task (docs/API.md §2.15): its definition and the state that survives restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRecord {
    pub org_id: String,
    pub name: String,
    /// A cron expression (six fields, seconds first), or `None` for an interval task.
    pub schedule: Option<String>,
    /// The period of an interval task.
    pub interval_ms: Option<u64>,
    pub action: TaskAction,
    pub enabled: bool,
    pub built_in: bool,
    /// Runs that succeeded.
    pub run_count: u64,
    /// Runs that failed.
    pub errors: u64,
    pub last_error: Option<String>,
    /// When the last run started.
    pub last_run_ms: Option<i64>,
    pub created_at_ms: i64,
    /// What the task saw last time, for tasks that report only changes (`health-check`).
    #[serde(default)]
    pub state: serde_json::Value,
}

/// What a task does when it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum TaskAction {
    /// Built-in: storage, index lag, channels and integrations; audited when the state changes.
    HealthCheck,
    /// Built-in: each linked project's latest workflow runs, to `report.build_status` routes.
    BuildStatusReport,
    /// Built-in: audit retention.
    AuditCleanup,
    /// A summary of the org's audit over the last `window_hours`, to routes matching `event_type`.
    #[serde(rename_all = "camelCase")]
    Digest { event_type: String, window_hours: u32 },
    /// POSTs `body` (JSON) to `url`.
    Webhook { url: String, body: serde_json::Value },
}

/// Where an A2A task is (docs/API.md §2.17): `submitted → working → completed | failed |
/// cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum A2aTaskStatus {
    Submitted,
    Working,
    Completed,
    Failed,
    Cancelled,
}

impl A2aTaskStatus {
    pub const ALL: [A2aTaskStatus; 5] =
        [Self::Submitted, Self::Working, Self::Completed, Self::Failed, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Working => "working",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Only a task not yet finished can be cancelled.
    pub fn cancellable(self) -> bool {
        matches!(self, Self::Submitted | Self::Working)
    }
}

/// A task another agent submitted over A2A (docs/API.md §2.17), routed to `agent_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct A2aTaskRecord {
    pub id: String,
    pub org_id: String,
    /// Its place in the org's listing order (a server-wide counter).
    pub seq: u64,
    pub status: A2aTaskStatus,
    pub skill: String,
    pub agent_type: AgentType,
    pub agent_id: String,
    pub project_id: Option<String>,
    pub text: String,
    pub attachments: Option<Vec<serde_json::Value>>,
    pub metadata: Option<serde_json::Value>,
    pub output: Option<serde_json::Value>,
    /// Who submitted it (`X-Actor`).
    pub submitted_by: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub cancelled_at_ms: Option<i64>,
}
