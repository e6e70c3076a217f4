//! The records Spar stores. Field names are the API's (camelCase); timestamps are Unix
//! milliseconds. New fields must carry `#[serde(default)]` so older records still decode.

use serde::{Deserialize, Serialize};

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

    /// The `<kind>` part of `agent-<kind>-<6 base36>` (contract 2.7).
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

/// Real counts of what an agent has done (contract 3, `GET /api/agents/:id`).
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgRecord {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub created_at_ms: i64,
}

/// Something an agent or a user wants remembered (contract 11).
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

/// A person, known by their accounts on chat channels (contract 11, CodeSpar 3.7).
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

/// A project: a GitHub repository and the agent that watches it (contract 4).
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
    pub fn repo_url(&self) -> String {
        if self.repo_url.is_empty() {
            format!("https://github.com/{}", self.repo)
        } else {
            self.repo_url.clone()
        }
    }
}

/// A normalized inbound event (contract 8): what a webhook said, in one shape for every source.
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
}
