//! Reads a CodeSpar data directory (its file storage, docs/MIGRATING.md §2) into a [`Plan`]:
//! Spar's records, checked, before anything is written. A file that cannot be read as what
//! CodeSpar writes there stops the import, naming the file; a record Spar cannot take is
//! skipped, with the reason.
//!
//! Layout: the root holds org `default`, `orgs/<org>/` every other org, each with any of
//! `audit.json`, `projects-list.json`, `projects.json`, `agent-states.json`, `memory.json`,
//! `channel-configs.json`, `project-envs.json`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::api::OrgId;
use crate::api::codespar::is_configurable;
use crate::clock;
use crate::engine::alert_types;
use crate::store::audit::{ActorType, AuditResult};
use crate::store::orgs::DEFAULT_ORG;
use crate::store::records::{
    AgentRecord, AgentStats, AgentStatus, AgentType, ChannelAccount, IdentityRecord, OrgRecord,
    ProjectRecord, ROLES,
};
use crate::upstream::github::RepoRef;

/// The files of an org's directory the import reads; anything else is reported as skipped.
const KNOWN_FILES: [&str; 7] = [
    "audit.json",
    "projects-list.json",
    "projects.json",
    "agent-states.json",
    "memory.json",
    "channel-configs.json",
    "project-envs.json",
];
/// CodeSpar's agent that exists in every installation (docs/MIGRATING.md §2).
const COORDINATOR: &str = "coordinator";
/// What a memory entry may hold (the API's limit, docs/API.md §2.5).
const MAX_MEMORY_CONTENT: usize = 64 * 1024;
/// A file larger than this is not something CodeSpar wrote.
const MAX_FILE: u64 = 512 * 1024 * 1024;

/// Why the import stopped; nothing has been written.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0} is not a CodeSpar data directory (no such directory)")]
    NotADirectory(PathBuf),
    #[error(
        "{0} holds none of CodeSpar's files (audit.json, projects-list.json, …): is it CODESPAR_STORAGE_DIR (usually .codespar)?"
    )]
    Empty(PathBuf),
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("{path} is damaged: {reason}")]
    Damaged { path: PathBuf, reason: String },
}

/// Everything the import will write, org by org, and what it leaves out.
#[derive(Debug, Default)]
pub struct Plan {
    pub orgs: Vec<OrgPlan>,
    pub skipped: Vec<Skipped>,
}

#[derive(Debug)]
pub struct OrgPlan {
    pub org: OrgRecord,
    pub agents: Vec<AgentRecord>,
    pub projects: Vec<ProjectRecord>,
    pub configs: Vec<Config>,
    pub routes: Vec<Route>,
    pub identities: Vec<IdentityRecord>,
    pub memory: Vec<Memory>,
    pub audit: Vec<OldAudit>,
}

/// A channel's or integration's configuration: credentials, sealed when written.
#[derive(Debug)]
pub struct Config {
    pub channel: String,
    pub config: BTreeMap<String, String>,
    pub configured_at_ms: i64,
    pub configured_by: String,
}

/// One Spar route (a CodeSpar route becomes one per pattern).
#[derive(Debug)]
pub struct Route {
    pub event_type: &'static str,
    pub channel: String,
    pub channel_id: String,
    pub project_id: Option<String>,
}

#[derive(Debug)]
pub struct Memory {
    pub agent_id: Option<String>,
    pub content: String,
    pub metadata: Value,
}

/// An entry of the old trail, with its own time; re-chained when written.
#[derive(Debug)]
pub struct OldAudit {
    pub at_ms: i64,
    pub actor_type: ActorType,
    pub actor_id: String,
    pub action: String,
    pub result: AuditResult,
    pub metadata: Map<String, Value>,
}

#[derive(Debug)]
pub struct Skipped {
    /// `<file>: <record>`, relative to the CodeSpar directory.
    pub what: String,
    pub why: String,
}

/// Reads `dir`; `now_ms` stands in for times the files do not hold.
pub fn read(dir: &Path, now_ms: i64) -> Result<Plan, ReadError> {
    if !dir.is_dir() {
        return Err(ReadError::NotADirectory(dir.to_owned()));
    }
    let mut plan = Plan::default();
    let mut dirs = vec![(DEFAULT_ORG.to_owned(), dir.to_owned(), String::new())];
    let orgs_dir = dir.join("orgs");
    if orgs_dir.is_dir() {
        for (name, path) in entries(&orgs_dir)? {
            let shown = format!("orgs/{name}/");
            if !path.is_dir() {
                plan.skip(shown.trim_end_matches('/'), "not an org directory");
            } else if name == DEFAULT_ORG {
                plan.skip(&shown, "org `default` is the directory's root in CodeSpar");
            } else if OrgId::parse(&name).is_err() {
                plan.skip(&shown, "not a valid org id (docs/API.md §1.5)");
            } else {
                dirs.push((name, path, shown));
            }
        }
    }
    let mut seen_files = 0;
    let mut taken = Taken::default();
    for (org, path, shown) in dirs {
        let mut reader =
            OrgReader { org: &org, dir: &path, shown: &shown, plan: &mut plan, now_ms };
        let (org_plan, files) = reader.read(&mut taken)?;
        seen_files += files;
        plan.orgs.push(org_plan);
    }
    if seen_files == 0 {
        return Err(ReadError::Empty(dir.to_owned()));
    }
    Ok(plan)
}

impl Plan {
    fn skip(&mut self, what: &str, why: impl Into<String>) {
        self.skipped.push(Skipped { what: what.to_owned(), why: why.into() });
    }
}

/// The entries of a directory, sorted by name.
fn entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, ReadError> {
    let unreadable =
        |e: std::io::Error| ReadError::Unreadable { path: dir.to_owned(), reason: e.to_string() };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        out.push((entry.file_name().to_string_lossy().into_owned(), entry.path()));
    }
    out.sort();
    Ok(out)
}

// CodeSpar's files, as its file store writes them. Fields Spar has no use for are ignored.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListedProject {
    id: String,
    agent_id: String,
    repo: String,
    created_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProjectConfig {
    repo_url: Option<String>,
    repo_owner: Option<String>,
    repo_name: Option<String>,
    linked_at: Option<String>,
    linked_by: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AgentState {
    agent_id: String,
    state: String,
    autonomy_level: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MemoryValue {
    value: Value,
    updated_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChannelConfig {
    config: BTreeMap<String, Value>,
    configured_at: Option<String>,
    configured_by: Option<String>,
}

#[derive(Deserialize)]
struct AuditFile {
    entries: Vec<AuditLine>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuditLine {
    id: Option<String>,
    timestamp: String,
    actor_type: String,
    actor_id: String,
    action: String,
    result: String,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
    hash: Option<String>,
    project_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OldRoute {
    channel_type: String,
    channel_id: String,
    alert_types: Vec<String>,
    project_filter: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OldIdentity {
    display_name: Option<String>,
    role: Option<String>,
    #[serde(default)]
    channels: BTreeMap<String, String>,
}

/// Agent and project ids are unique across orgs in Spar (docs/API.md §1.8); in CodeSpar they
/// were unique only within one.
#[derive(Default)]
struct Taken {
    agents: BTreeSet<String>,
    projects: BTreeSet<String>,
}

impl Taken {
    /// `base`, or `base-2`, `base-3`, … when an org already has it.
    fn project_id(&mut self, base: &str) -> String {
        let mut id = base.to_owned();
        let mut n = 2;
        while self.projects.contains(&id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        self.projects.insert(id.clone());
        id
    }
}

struct OrgReader<'a> {
    org: &'a str,
    dir: &'a Path,
    /// The directory as the report shows it (`""` for the root, `orgs/<org>/`).
    shown: &'a str,
    plan: &'a mut Plan,
    now_ms: i64,
}

impl OrgReader<'_> {
    fn skip(&mut self, file: &str, record: &str, why: impl Into<String>) {
        let what = if record.is_empty() {
            format!("{}{file}", self.shown)
        } else {
            format!("{}{file}: {record}", self.shown)
        };
        self.plan.skipped.push(Skipped { what, why: why.into() });
    }

    /// A JSON file of the org's directory, or `None` when it does not exist.
    fn file<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ReadError> {
        let path = self.dir.join(name);
        let unreadable =
            |e: std::io::Error| ReadError::Unreadable { path: path.clone(), reason: e.to_string() };
        match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unreadable(e)),
            Ok(m) if m.len() > MAX_FILE => {
                return Err(ReadError::Damaged {
                    path,
                    reason: format!("larger than {} MiB", MAX_FILE >> 20),
                });
            }
            Ok(_) => {}
        }
        let bytes = std::fs::read(&path).map_err(unreadable)?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ReadError::Damaged { path: path.clone(), reason: e.to_string() })
    }

    fn damaged(&self, file: &str, reason: String) -> ReadError {
        ReadError::Damaged { path: self.dir.join(file), reason }
    }

    /// A CodeSpar timestamp, or `fallback` when it is missing or unreadable.
    fn time_or(&self, ts: Option<&str>, fallback: i64) -> i64 {
        ts.and_then(clock::parse_rfc3339).unwrap_or(fallback)
    }

    fn read(&mut self, taken: &mut Taken) -> Result<(OrgPlan, usize), ReadError> {
        let mut files = 0;
        for (name, path) in entries(self.dir)? {
            if name == "orgs" && self.shown.is_empty() {
                continue;
            }
            if KNOWN_FILES.contains(&name.as_str()) {
                files += 1;
            } else if path.is_dir() {
                self.skip(&format!("{name}/"), "", "not part of CodeSpar's file store");
            } else {
                self.skip(&name, "", "Spar has no equivalent of this CodeSpar file");
            }
        }
        let listed: Vec<ListedProject> = self.file("projects-list.json")?.unwrap_or_default();
        let links: BTreeMap<String, ProjectConfig> =
            self.file("projects.json")?.unwrap_or_default();
        let states: Vec<AgentState> = self.file("agent-states.json")?.unwrap_or_default();
        let memory: BTreeMap<String, BTreeMap<String, MemoryValue>> =
            self.file("memory.json")?.unwrap_or_default();
        let configs: BTreeMap<String, ChannelConfig> =
            self.file("channel-configs.json")?.unwrap_or_default();
        let audit = self.audit()?;
        if self.file::<Value>("project-envs.json")?.is_some() {
            self.skip(
                "project-envs.json",
                "",
                "Spar has no project environments (prj_… ids): its projects are repositories",
            );
        }
        let created_at_ms = audit.iter().map(|e| e.at_ms).min().unwrap_or(self.now_ms);
        let removed = removed_agents(&audit);

        let mut agents = self.agents(&listed, &states, &memory, &removed, &mut taken.agents);
        let projects = self.projects(&listed, &links, &mut agents, taken);
        let mut plan = OrgPlan {
            org: OrgRecord {
                id: self.org.to_owned(),
                name: self.org.to_owned(),
                slug: self.org.strip_prefix("org-").unwrap_or(self.org).to_ascii_lowercase(),
                created_at_ms,
            },
            configs: self.configs(configs),
            routes: Vec::new(),
            identities: Vec::new(),
            memory: Vec::new(),
            agents,
            projects,
            audit,
        };
        self.memory(memory, &mut plan);
        Ok((plan, files))
    }

    fn audit(&mut self) -> Result<Vec<OldAudit>, ReadError> {
        const FILE: &str = "audit.json";
        let Some(file) = self.file::<AuditFile>(FILE)? else { return Ok(Vec::new()) };
        let mut out = Vec::with_capacity(file.entries.len());
        for (i, line) in file.entries.into_iter().enumerate() {
            let at_ms = clock::parse_rfc3339(&line.timestamp).ok_or_else(|| {
                self.damaged(
                    FILE,
                    format!("entry {i}: timestamp {:?} is not RFC 3339", line.timestamp),
                )
            })?;
            let actor_type = match line.actor_type.as_str() {
                "user" => ActorType::User,
                "agent" => ActorType::Agent,
                "system" => ActorType::System,
                other => {
                    return Err(self.damaged(FILE, format!("entry {i}: actorType {other:?}")));
                }
            };
            let mut metadata = line.metadata.unwrap_or_default();
            metadata.insert(
                "codespar".into(),
                json!({
                    "id": line.id,
                    "hash": line.hash,
                    "result": line.result,
                    "projectId": line.project_id,
                }),
            );
            out.push(OldAudit {
                at_ms,
                actor_type,
                actor_id: line.actor_id,
                action: line.action,
                result: result_of(&line.result),
                metadata,
            });
        }
        Ok(out)
    }

    /// The org's agents: every listed project's agent and, in `default`, CodeSpar's
    /// coordinator, with their states and levels. Agents other records name that this CodeSpar
    /// no longer has are reported.
    fn agents(
        &mut self,
        listed: &[ListedProject],
        states: &[AgentState],
        memory: &BTreeMap<String, BTreeMap<String, MemoryValue>>,
        removed: &BTreeMap<String, String>,
        agent_ids: &mut BTreeSet<String>,
    ) -> Vec<AgentRecord> {
        let mut wanted: Vec<(String, AgentType, i64)> = Vec::new();
        if self.org == DEFAULT_ORG {
            wanted.push((COORDINATOR.to_owned(), AgentType::Coordinator, self.now_ms));
        }
        for p in listed {
            let created = self.time_or(p.created_at.as_deref(), self.now_ms);
            wanted.push((p.agent_id.clone(), AgentType::Project, created));
        }
        let mut agents = Vec::new();
        for (id, agent_type, created) in wanted {
            if !valid_id(&id) {
                self.skip("projects-list.json", &id, "not a usable agent id");
                continue;
            }
            if !agent_ids.insert(id.clone()) {
                self.skip("projects-list.json", &id, "an agent of this id is already imported");
                continue;
            }
            let state = states.iter().rev().find(|s| s.agent_id == id);
            let remembered = memory.get(&id).and_then(|m| m.get("autonomyLevel"));
            let level = state
                .and_then(|s| s.autonomy_level.as_ref())
                .or(remembered.map(|m| &m.value))
                .and_then(Value::as_u64)
                .filter(|l| *l <= 5);
            let default_level = if agent_type == AgentType::Coordinator { 0 } else { 1 };
            agents.push(AgentRecord {
                name: agent_name(&id),
                id,
                agent_type,
                status: state.map_or(AgentStatus::Active, |s| status_of(&s.state)),
                autonomy_level: level.map_or(default_level, |l| l as u8),
                project_id: None,
                org_id: self.org.to_owned(),
                created_at_ms: created,
                started_at_ms: self.now_ms,
                last_activity_ms: None,
                stats: AgentStats::default(),
            });
        }
        let known: BTreeSet<&str> = agents.iter().map(|a| a.id.as_str()).collect();
        let gone = |id: &str| match removed.get(id) {
            Some(at) => format!("CodeSpar no longer has this agent (audit agent.removed, {at})"),
            None => "CodeSpar has no such agent (no project lists it)".to_owned(),
        };
        let mut unknown: Vec<(&str, String)> = Vec::new();
        for s in states.iter().filter(|s| !known.contains(s.agent_id.as_str())) {
            unknown.push(("agent-states.json", s.agent_id.clone()));
        }
        for (id, keys) in memory {
            if keys.contains_key("autonomyLevel") && !known.contains(id.as_str()) {
                unknown.push(("memory.json", format!("{id}.autonomyLevel")));
            }
        }
        for (file, record) in unknown {
            let agent = record.split('.').next().unwrap_or(&record).to_owned();
            self.skip(file, &record, gone(&agent));
        }
        agents
    }

    /// Listed projects, each with its agent's link details, and the links of other agents
    /// (`POST /api/project/link`), which are projects of their agent in Spar. A project keeps
    /// its CodeSpar id (a link's is its repository name, as CodeSpar names projects), with `-2`,
    /// `-3`, … where another org already has it.
    fn projects(
        &mut self,
        listed: &[ListedProject],
        links: &BTreeMap<String, ProjectConfig>,
        agents: &mut [AgentRecord],
        taken: &mut Taken,
    ) -> Vec<ProjectRecord> {
        let mut projects: Vec<ProjectRecord> = Vec::new();
        for p in listed {
            let Some(repo) = RepoRef::parse(&p.repo) else {
                let why = format!("{:?} is not a GitHub repository", p.repo);
                self.skip("projects-list.json", &p.id, why);
                continue;
            };
            if !valid_id(&p.id)
                || projects.iter().any(|q| q.repo.eq_ignore_ascii_case(&repo.full_name()))
            {
                self.skip(
                    "projects-list.json",
                    &p.id,
                    "not a usable project id, or its repository listed twice",
                );
                continue;
            }
            let Some(agent) = agents.iter_mut().find(|a| a.id == p.agent_id) else { continue };
            let id = taken.project_id(&p.id);
            let link = links.get(&p.agent_id);
            agent.project_id = Some(id.clone());
            projects.push(ProjectRecord {
                id,
                name: repo.name.clone(),
                repo: repo.full_name(),
                repo_url: link.and_then(|l| l.repo_url.clone()).unwrap_or_default(),
                default_branch: "main".into(),
                webhook_id: None,
                agent_id: p.agent_id.clone(),
                org_id: self.org.to_owned(),
                created_at_ms: agent.created_at_ms,
                linked_by: link
                    .and_then(|l| l.linked_by.clone())
                    .unwrap_or_else(|| "codespar".into()),
            });
        }
        for (agent_id, link) in links {
            if projects.iter().any(|p| &p.agent_id == agent_id) {
                continue;
            }
            let repo_text = match (&link.repo_owner, &link.repo_name) {
                (Some(owner), Some(name)) if !owner.is_empty() => format!("{owner}/{name}"),
                _ => link.repo_url.clone().unwrap_or_default(),
            };
            let Some(agent) = agents.iter_mut().find(|a| &a.id == agent_id) else {
                let why = "a repository link for an agent CodeSpar does not have";
                self.skip("projects.json", agent_id, why);
                continue;
            };
            let Some(repo) = RepoRef::parse(&repo_text) else {
                let why = format!("{repo_text:?} is not a GitHub repository");
                self.skip("projects.json", agent_id, why);
                continue;
            };
            if projects.iter().any(|p| p.repo.eq_ignore_ascii_case(&repo.full_name())) {
                let why = format!("{} already has a project in this org", repo.full_name());
                self.skip("projects.json", agent_id, why);
                continue;
            }
            let id = taken.project_id(&repo.name);
            agent.project_id = Some(id.clone());
            let linked = self.time_or(link.linked_at.as_deref(), agent.created_at_ms);
            projects.push(ProjectRecord {
                id,
                name: repo.name.clone(),
                repo: repo.full_name(),
                repo_url: link.repo_url.clone().unwrap_or_default(),
                default_branch: "main".into(),
                webhook_id: None,
                agent_id: agent_id.clone(),
                org_id: self.org.to_owned(),
                created_at_ms: linked,
                linked_by: link.linked_by.clone().unwrap_or_else(|| "codespar".into()),
            });
        }
        projects
    }

    fn configs(&mut self, configs: BTreeMap<String, ChannelConfig>) -> Vec<Config> {
        const FILE: &str = "channel-configs.json";
        let mut out = Vec::new();
        for (channel, stored) in configs {
            if !is_configurable(&channel) {
                let why = "Spar stores no configuration of that name (docs/API.md §2.8, §2.13)";
                self.skip(FILE, &channel, why);
                continue;
            }
            let mut config = BTreeMap::new();
            for (key, value) in stored.config {
                match value {
                    Value::String(s) if !s.is_empty() => {
                        config.insert(key, s);
                    }
                    _ => self.skip(FILE, &format!("{channel}.{key}"), "not a non-empty string"),
                }
            }
            if config.is_empty() {
                continue;
            }
            out.push(Config {
                channel,
                config,
                configured_at_ms: self.time_or(stored.configured_at.as_deref(), self.now_ms),
                configured_by: stored.configured_by.unwrap_or_else(|| "codespar".into()),
            });
        }
        out
    }

    /// memory.json: CodeSpar keeps identities and routes there (`_system/identities`,
    /// `system/channel-routes`) beside each agent's key-value memory.
    fn memory(
        &mut self,
        memory: BTreeMap<String, BTreeMap<String, MemoryValue>>,
        plan: &mut OrgPlan,
    ) {
        const FILE: &str = "memory.json";
        for (owner, keys) in memory {
            for (key, entry) in keys {
                match (owner.as_str(), key.as_str()) {
                    ("_system", "identities") => self.identities(entry, plan),
                    ("system", "channel-routes") => self.routes(entry.value, plan),
                    // An agent setting, read with the agent (or reported there).
                    (_, "autonomyLevel") => {}
                    _ => {
                        let agent =
                            plan.agents.iter().find(|a| a.id == owner).map(|a| a.id.clone());
                        let content = format!("{key}: {}", entry.value);
                        if content.len() > MAX_MEMORY_CONTENT {
                            self.skip(
                                FILE,
                                &format!("{owner}.{key}"),
                                "larger than a memory entry may be (64 KiB)",
                            );
                            continue;
                        }
                        plan.memory.push(Memory {
                            agent_id: agent,
                            content,
                            metadata: json!({
                                "codespar": { "owner": owner, "key": key, "updatedAt": entry.updated_at },
                            }),
                        });
                    }
                }
            }
        }
    }

    fn identities(&mut self, entry: MemoryValue, plan: &mut OrgPlan) {
        const WHAT: &str = "memory.json";
        let Value::Object(users) = entry.value else {
            self.skip(WHAT, "_system.identities", "not an object of identities");
            return;
        };
        let since = entry.updated_at.clone().unwrap_or_else(|| clock::rfc3339(self.now_ms));
        for (id, user) in users {
            let record = format!("_system.identities.{id}");
            let Ok(user) = serde_json::from_value::<OldIdentity>(user) else {
                self.skip(WHAT, &record, "not an identity (displayName, role, channels)");
                continue;
            };
            if !valid_id(&id) {
                self.skip(WHAT, &record, "not a usable identity id");
                continue;
            }
            let role = user.role.unwrap_or_else(|| "read-only".into());
            let role = if ROLES.contains(&role.as_str()) {
                role
            } else {
                self.skip(
                    WHAT,
                    &record,
                    format!("role {role:?} is not Spar's: imported as read-only"),
                );
                "read-only".into()
            };
            plan.identities.push(IdentityRecord {
                id: id.clone(),
                org_id: self.org.to_owned(),
                display_name: user.display_name.unwrap_or_else(|| id.clone()),
                role,
                channels: user
                    .channels
                    .into_iter()
                    .map(|(channel_type, user_id)| ChannelAccount {
                        channel_type,
                        user_id,
                        username: None,
                        linked_at: since.clone(),
                    })
                    .collect(),
                registered_at: since.clone(),
                last_seen: since.clone(),
            });
        }
    }

    fn routes(&mut self, value: Value, plan: &mut OrgPlan) {
        const WHAT: &str = "memory.json";
        let Ok(old) = serde_json::from_value::<Vec<OldRoute>>(value) else {
            self.skip(WHAT, "system.channel-routes", "not a list of routes");
            return;
        };
        for r in old {
            let record = format!("system.channel-routes {}:{}", r.channel_type, r.channel_id);
            let patterns = match alert_types::patterns(&r.alert_types) {
                Ok(p) if !p.is_empty() => p,
                Ok(_) => {
                    self.skip(WHAT, &record, "no alert types");
                    continue;
                }
                Err(t) => {
                    self.skip(WHAT, &record, format!("unknown alert type {t:?}"));
                    continue;
                }
            };
            if !["slack", "discord", "telegram", "whatsapp"].contains(&r.channel_type.as_str()) {
                self.skip(WHAT, &record, "not a chat channel Spar sends to");
                continue;
            }
            let project_id = match r.project_filter.as_deref().filter(|f| !f.is_empty()) {
                None => None,
                Some(filter) => match plan.projects.iter().find(|p| p.is_named(filter)) {
                    Some(p) => Some(p.id.clone()),
                    None => {
                        self.skip(
                            WHAT,
                            &record,
                            format!("its project filter {filter:?} names no imported project"),
                        );
                        continue;
                    }
                },
            };
            for event_type in patterns {
                plan.routes.push(Route {
                    event_type,
                    channel: r.channel_type.clone(),
                    channel_id: r.channel_id.trim().to_owned(),
                    project_id: project_id.clone(),
                });
            }
        }
    }
}

/// Agents the trail says were removed, with when.
fn removed_agents(audit: &[OldAudit]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in audit.iter().filter(|e| e.action == "agent.removed") {
        if let Some(id) = e.metadata.get("agentId").and_then(Value::as_str) {
            out.insert(id.to_owned(), clock::rfc3339(e.at_ms));
        }
    }
    out
}

/// CodeSpar's results (`success`, `failure`, `error`, `denied`, `pending`, `approved`) in
/// Spar's vocabulary (docs/API.md §2.4); the original stays in the entry's metadata.
fn result_of(result: &str) -> AuditResult {
    match result {
        "success" | "completed" => AuditResult::Completed,
        "failure" | "error" | "failed" => AuditResult::Failed,
        "denied" => AuditResult::Denied,
        "approved" => AuditResult::Approved,
        "pending" => AuditResult::Pending,
        _ => AuditResult::Processed,
    }
}

/// CodeSpar's persisted states (lowercase in its files, uppercase in its docs).
fn status_of(state: &str) -> AgentStatus {
    match state.to_ascii_lowercase().as_str() {
        "suspended" => AgentStatus::Suspended,
        "idle" => AgentStatus::Idle,
        "error" => AgentStatus::Error,
        "terminated" => AgentStatus::Terminated,
        _ => AgentStatus::Active,
    }
}

/// An id Spar can keep as it is: what the API accepts in a path segment, bounded.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// CodeSpar names an agent by its id; Spar's names are 3 to 50 letters, digits and `-`.
fn agent_name(id: &str) -> String {
    let name: String =
        id.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(50).collect();
    let name = name.trim_matches('-').to_owned();
    if name.len() < 3 { format!("agent-{name}") } else { name }
}
