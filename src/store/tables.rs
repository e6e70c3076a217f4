//! Every redb table, in one place. Keys put the org first, so an org's rows are contiguous and no
//! scan of one org can run into another's (docs/API.md §1.5). The exceptions are lookups that run
//! before the org is known: the id registries (`agent_ids`, `project_ids`) and `repo_projects`.
//!
//! Each table is named by a marker type implementing [`TableSpec`]; [`OpenTables`] holds the
//! tables a write batch has opened, so each is opened once per batch rather than once per use.

use std::cell::{OnceCell, RefCell};

use redb::{Key, Table, TableDefinition, Value};

/// A table: its key and value types, its definition, and its slot in [`OpenTables`].
pub trait TableSpec {
    type K: Key + 'static;
    type V: Value + 'static;
    const DEF: TableDefinition<'static, Self::K, Self::V>;
    fn slot<'a, 't>(open: &'a OpenTables<'t>)
    -> &'a OnceCell<RefCell<Table<'t, Self::K, Self::V>>>;
}

macro_rules! tables {
    ($( $(#[$doc:meta])* $marker:ident / $field:ident = $name:literal : $k:ty => $v:ty; )*) => {
        /// The tables opened so far in one write transaction.
        #[derive(Default)]
        pub struct OpenTables<'t> {
            $( $field: OnceCell<RefCell<Table<'t, $k, $v>>>, )*
        }

        $(
            $(#[$doc])*
            pub struct $marker;

            impl TableSpec for $marker {
                type K = $k;
                type V = $v;
                const DEF: TableDefinition<'static, $k, $v> = TableDefinition::new($name);
                fn slot<'a, 't>(open: &'a OpenTables<'t>) -> &'a OnceCell<RefCell<Table<'t, $k, $v>>> {
                    &open.$field
                }
            }
        )*

        /// Creates every table (a read transaction cannot open a table never created).
        pub fn create_all(txn: &redb::WriteTransaction) -> Result<(), redb::TableError> {
            $( txn.open_table(<$marker as TableSpec>::DEF)?; )*
            Ok(())
        }

        /// Rows in every table of a snapshot (for progress).
        pub fn count_all(src: &redb::ReadTransaction) -> Result<u64, crate::store::StoreError> {
            let mut rows = 0;
            $( rows += super::backup::rows::<$marker>(src)?; )*
            Ok(rows)
        }

        /// Copies every table of a snapshot into `dst`; `copied` hears each row.
        pub fn copy_all(
            src: &redb::ReadTransaction,
            dst: &redb::WriteTransaction,
            copied: &mut dyn FnMut(),
        ) -> Result<(), crate::store::StoreError> {
            $( super::backup::copy::<$marker>(src, dst, copied)?; )*
            Ok(())
        }
    };
}

tables! {
    /// `name -> u64`: the schema version and the server-wide counters.
    Meta / meta = "meta": &'static str => u64;
    /// `"check" -> a sealed known text`: proves the secret key in use is the store's.
    KeyCheck / key_check = "key_check": &'static str => &'static str;
    /// `org id -> OrgRecord` (JSON).
    Orgs / orgs = "orgs": &'static str => &'static [u8];
    /// `(org, agent id) -> AgentRecord` (JSON).
    Agents / agents = "agents": (&'static str, &'static str) => &'static [u8];
    /// `agent id -> org`: every agent id ever issued. Never shrinks, so an id is never reused.
    AgentIds / agent_ids = "agent_ids": &'static str => &'static str;
    /// `(org, agent name) -> agent id`: names are unique within an org.
    AgentNames / agent_names = "agent_names": (&'static str, &'static str) => &'static str;
    /// `(org, project id) -> ProjectRecord` (JSON).
    Projects / projects = "projects": (&'static str, &'static str) => &'static [u8];
    /// `project id -> org`: every project id ever issued. Never shrinks, so an id is never reused.
    ProjectIds / project_ids = "project_ids": &'static str => &'static str;
    /// `(lower-case repo full name, org) -> project id`: one project per repo in an org, and the
    /// org an incoming GitHub delivery belongs to. Repo first on purpose: it is looked up before
    /// the org is known.
    RepoProjects / repo_projects = "repo_projects": (&'static str, &'static str) => &'static str;
    /// `(org, seq) -> AuditEntry` (JSON): one hash chain per org, in seq order.
    Audit / audit = "audit": (&'static str, u64) => &'static [u8];
    /// `seq -> org`: the server-wide order of audit entries, for listings across all orgs.
    AuditBySeq / audit_by_seq = "audit_by_seq": u64 => &'static str;
    /// `org -> (entry count, last hash hex)`: the head of each org's chain.
    AuditHeads / audit_heads = "audit_heads": &'static str => (u64, &'static str);
    /// `(org, seq) -> MemoryEntry` (JSON).
    Memory / memory = "memory": (&'static str, u64) => &'static [u8];
    /// `seq -> org`: memory entries in server-wide order, for indexing.
    MemoryBySeq / memory_by_seq = "memory_by_seq": u64 => &'static str;
    /// `(org, agent id, seq)`: each agent's memory entries, in order.
    MemoryByAgent / memory_by_agent = "memory_by_agent": (&'static str, &'static str, u64) => ();
    /// `org, or "*" for every org -> MemoryTotals` (JSON): memory statistics kept as entries
    /// arrive, so reading them costs one row.
    MemoryTotals / memory_totals = "memory_totals": &'static str => &'static [u8];
    /// `(org or "*", user id)`: the users conversations in memory came from, counted once.
    MemoryUsers / memory_users = "memory_users": (&'static str, &'static str) => ();
    /// `(org, agent id) -> (entries, content bytes)` of that agent's memory.
    MemoryAgentTotals / memory_agent_totals = "memory_agent_totals": (&'static str, &'static str) => (u64, u64);
    /// `(org, identity id) -> IdentityRecord` (JSON).
    Identities / identities = "identities": (&'static str, &'static str) => &'static [u8];
    /// `(org, "<channel type>:<user id>") -> identity id`: a chat account names one identity.
    IdentityLinks / identity_links = "identity_links": (&'static str, &'static str) => &'static str;
    /// `org -> hash hex`: where an org's chain starts after retention removed its oldest entries.
    AuditAnchors / audit_anchors = "audit_anchors": &'static str => &'static str;
    /// `(org, seq) -> EventRecord` (JSON): normalized inbound events (docs/API.md §4).
    Events / events = "events": (&'static str, u64) => &'static [u8];
    /// `seq -> org`: events in server-wide order.
    EventsBySeq / events_by_seq = "events_by_seq": u64 => &'static str;
    /// `(org, "<source>:<delivery id>") -> Unix ms received`: webhook deliveries already
    /// recorded, so a redelivery changes nothing.
    WebhookReceipts / webhook_receipts = "webhook_receipts": (&'static str, &'static str) => u64;
    /// `(org, route id) -> RouteRecord` (JSON).
    Routes / routes = "routes": (&'static str, &'static str) => &'static [u8];
    /// `(org, channel) -> ChannelConfigRecord` (JSON, credentials included).
    ChannelConfigs / channel_configs = "channel_configs": (&'static str, &'static str) => &'static [u8];
    /// `(org, channel) -> ChannelStatusRecord` (JSON).
    ChannelStatus / channel_status = "channel_status": (&'static str, &'static str) => &'static [u8];
    /// `(org, seq) -> DeliveryRecord` (JSON): the outbox and its history.
    Deliveries / deliveries = "deliveries": (&'static str, u64) => &'static [u8];
    /// `seq -> org`: delivery ids are server-wide (`dlv-<seq>`).
    DeliveriesBySeq / deliveries_by_seq = "deliveries_by_seq": u64 => &'static str;
    /// `(due Unix ms, seq) -> org`: pending deliveries in the order they are due. A delivery is
    /// here exactly while it is pending.
    OutboxDue / outbox_due = "outbox_due": (u64, u64) => &'static str;
    /// `(org, token) -> ApprovalRecord` (JSON).
    Approvals / approvals = "approvals": (&'static str, &'static str) => &'static [u8];
    /// `token -> org`: every approval token ever issued, so one is never reused.
    ApprovalTokens / approval_tokens = "approval_tokens": &'static str => &'static str;
    /// `(org, seq) -> IncidentRecord` (JSON).
    Incidents / incidents = "incidents": (&'static str, u64) => &'static [u8];
    /// `seq -> org`: incident ids are server-wide (`inc-<NNN>`).
    IncidentIds / incident_ids = "incident_ids": u64 => &'static str;
    /// `(org, group key) -> seq` of the incident still open (or acknowledged) for that group.
    IncidentGroups / incident_groups = "incident_groups": (&'static str, &'static str) => u64;
    /// `(org, fingerprint) -> delivery id`: a Linear issue was requested for this fingerprint, so
    /// an incident agent opens one at most once.
    LinearTickets / linear_tickets = "linear_tickets": (&'static str, &'static str) => &'static str;
    /// `(org, project id or "") -> agent id`: the incident agent alerts of a project go to, so
    /// finding it costs one lookup however many agents the org has had.
    IncidentAgents / incident_agents = "incident_agents": (&'static str, &'static str) => &'static str;
    /// `(org, project id, agent id)`: the agents that ever worked on a project (a superset: a
    /// reader checks each agent's `projectId`), so a project's agents cost one range.
    AgentsByProject / agents_by_project = "agents_by_project": (&'static str, &'static str, &'static str) => ();
    /// `SHA-256 hex of a key -> CredentialRecord` (JSON): only the hash of a key is ever stored.
    ApiKeys / api_keys = "api_keys": &'static str => &'static [u8];
    /// `key name -> hash`: names are unique among keys not revoked.
    ApiKeyNames / api_key_names = "api_key_names": &'static str => &'static str;
    /// `SHA-256 hex of an org token -> CredentialRecord` (JSON): bearer tokens bound to one org.
    OrgTokens / org_tokens = "org_tokens": &'static str => &'static [u8];
    /// `token name -> hash`: names are unique among tokens not revoked.
    OrgTokenNames / org_token_names = "org_token_names": &'static str => &'static str;
    /// `(org, token) -> SpikeIntegrationRecord` (JSON).
    SpikeIntegrations / spike_integrations = "spike_integrations": (&'static str, &'static str) => &'static [u8];
    /// `token -> org`: every Spike ingest token ever issued, so one is never reused.
    SpikeTokens / spike_tokens = "spike_tokens": &'static str => &'static str;
    /// `(org, integration id) -> Potpie integration` (JSON, as the Potpie API shows it, with
    /// its `auth_data` tokens).
    PotpieIntegrations / potpie_integrations = "potpie_integrations": (&'static str, &'static str) => &'static [u8];
    /// `(org, task name) -> TaskRecord` (JSON): the scheduler's tasks and their run counts.
    Tasks / tasks = "tasks": (&'static str, &'static str) => &'static [u8];
    /// `(org, task id) -> A2aTaskRecord` (JSON): tasks other agents submitted (docs/API.md
    /// §2.17). Ids are the client's or generated, unique within an org.
    A2aTasks / a2a_tasks = "a2a_tasks": (&'static str, &'static str) => &'static [u8];
    /// `(org, facet, seq) -> task id`: each task under every listing filter it matches (`""`
    /// all, `s:<status>`, `p:<project>`, `p:<project>|s:<status>`), so a filtered page is one
    /// range read newest first.
    A2aTaskIndex / a2a_task_index = "a2a_task_index": (&'static str, &'static str, u64) => &'static str;
    /// `(org, facet) -> tasks`: the `total` of each listing, kept as tasks change.
    A2aTaskCounts / a2a_task_counts = "a2a_task_counts": (&'static str, &'static str) => u64;
    /// `(org, agent type) -> agent id`: the agent the org's A2A tasks of that type went to last,
    /// so routing costs one lookup while that agent lives.
    A2aAgents / a2a_agents = "a2a_agents": (&'static str, &'static str) => &'static str;
}

pub const SCHEMA_VERSION_KEY: &str = "schema_version";
pub const AUDIT_SEQ_KEY: &str = "audit_seq";
pub const AGENT_ID_KEY: &str = "agent_id_next";
/// Set once the agent indexes (`AgentsByProject`, `IncidentAgents`) cover every stored agent: a
/// store from before them gets them built once, at open.
pub const AGENT_INDEXES_KEY: &str = "agent_indexes_built";
pub const MEMORY_SEQ_KEY: &str = "memory_seq";
pub const IDENTITY_SEQ_KEY: &str = "identity_seq";
pub const PROJECT_SEQ_KEY: &str = "project_seq";
pub const EVENT_SEQ_KEY: &str = "event_seq";
pub const ROUTE_SEQ_KEY: &str = "route_seq";
pub const INCIDENT_SEQ_KEY: &str = "incident_seq";
pub const DELIVERY_SEQ_KEY: &str = "delivery_seq";
pub const A2A_TASK_SEQ_KEY: &str = "a2a_task_seq";
/// How many deliveries are `dead` right now (for `/health`).
pub const DEAD_DELIVERIES_KEY: &str = "deliveries_dead";
