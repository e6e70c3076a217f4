//! Every redb table, in one place. Keys put the org first, so an org's rows are contiguous and no
//! scan of one org can run into another's (contract 2.4).

use redb::TableDefinition;

/// `name -> u64`: the schema version and the server-wide counters (`audit_seq`).
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// `org id -> OrgRecord` (JSON).
pub const ORGS: TableDefinition<&str, &[u8]> = TableDefinition::new("orgs");
/// `(org, agent id) -> AgentRecord` (JSON).
pub const AGENTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("agents");
/// `agent id -> org`: every agent id ever issued. Never shrinks, so an id is never reused.
pub const AGENT_IDS: TableDefinition<&str, &str> = TableDefinition::new("agent_ids");
/// `(org, agent name) -> agent id`: names are unique within an org.
pub const AGENT_NAMES: TableDefinition<(&str, &str), &str> = TableDefinition::new("agent_names");
/// `(org, project id) -> ProjectRecord` (JSON). Filled by the projects API.
pub const PROJECTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("projects");
/// `(org, seq) -> AuditEntry` (JSON): one hash chain per org, in seq order.
pub const AUDIT: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("audit");
/// `seq -> org`: the server-wide order of audit entries, for listings across all orgs.
pub const AUDIT_BY_SEQ: TableDefinition<u64, &str> = TableDefinition::new("audit_by_seq");
/// `org -> (entry count, last hash hex)`: the head of each org's chain.
pub const AUDIT_HEADS: TableDefinition<&str, (u64, &str)> = TableDefinition::new("audit_heads");

pub const SCHEMA_VERSION_KEY: &str = "schema_version";
pub const AUDIT_SEQ_KEY: &str = "audit_seq";

/// Tables keyed by a plain string, holding JSON records (created at start).
pub const ALL_BYTES: &[TableDefinition<&str, &[u8]>] = &[ORGS];
/// Tables keyed by `(org, id)`, holding JSON records (created at start).
pub const ALL_PAIR_BYTES: &[TableDefinition<(&str, &str), &[u8]>] = &[AGENTS, PROJECTS];
