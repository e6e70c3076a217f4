//! Agent rows: `(org, id) -> AgentRecord`, plus the id and name indexes.

use redb::ReadableTable;

use super::StoreError;
use super::records::{AgentChange, AgentRecord, AgentStatus, AgentType};
use super::tables::{
    AGENT_ID_KEY, AGENT_INDEXES_KEY, AgentIds, AgentNames, Agents, AgentsByProject, Meta,
};
use super::txn::{Source, WriteTx, encode, get_record, records_of};
use crate::ids;

/// The org an agent id was issued in, if it was ever issued (deleted agents included).
pub fn org_of(src: &impl Source, id: &str) -> Result<Option<String>, StoreError> {
    Ok(src.open::<AgentIds>()?.get(id)?.map(|v| v.value().to_owned()))
}

pub fn get(src: &impl Source, org: &str, id: &str) -> Result<Option<AgentRecord>, StoreError> {
    get_record::<Agents, _>(src, (org, id), "agent")
}

pub fn id_by_name(src: &impl Source, org: &str, name: &str) -> Result<Option<String>, StoreError> {
    Ok(src.open::<AgentNames>()?.get((org, name))?.map(|v| v.value().to_owned()))
}

/// Agents of one org, or of every org when `org` is `None`, oldest first.
pub fn list(src: &impl Source, org: Option<&str>) -> Result<Vec<AgentRecord>, StoreError> {
    let mut agents: Vec<AgentRecord> = records_of::<Agents, _>(src, org, "agent")?;
    agents.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
    Ok(agents)
}

pub fn count(src: &impl Source) -> Result<u64, StoreError> {
    use redb::ReadableTableMetadata;
    Ok(src.open::<Agents>()?.len()?)
}

/// Issues a new agent id, `agent-<kind>-<6 base36>`, never issued before.
///
/// The six characters come from a stored counter that advances by a random step of 1 to 8, so
/// ids are time-ordered like ULIDs: new agents append to the B-trees instead of dirtying a
/// random page each, which keeps group commits small.
pub fn issue_id(tx: &WriteTx<'_>, kind: &str) -> Result<String, StoreError> {
    const SPACE: u64 = 36u64.pow(6);
    loop {
        let next = {
            let mut meta = tx.table_mut::<Meta>()?;
            let current = meta.get(AGENT_ID_KEY)?.map(|v| v.value());
            // The first id starts somewhere in the lower half, leaving room to grow.
            let current = current.unwrap_or_else(|| ids::random_u64() % (SPACE / 2));
            let next = (current + 1 + ids::random_u64() % 8) % SPACE;
            meta.insert(AGENT_ID_KEY, next)?;
            next
        };
        let id = format!("agent-{kind}-{}", ids::base36(next, 6));
        if org_of(tx, &id)?.is_none() {
            return Ok(id);
        }
    }
}

/// Inserts or replaces an agent and its indexes.
pub fn put(tx: &WriteTx<'_>, agent: &AgentRecord) -> Result<(), StoreError> {
    let org = agent.org_id.as_str();
    tx.table_mut::<Agents>()?.insert((org, agent.id.as_str()), encode(agent).as_slice())?;
    tx.table_mut::<AgentIds>()?.insert(agent.id.as_str(), org)?;
    tx.table_mut::<AgentNames>()?.insert((org, agent.name.as_str()), agent.id.as_str())?;
    index_project(tx, agent)
}

/// Rewrites an existing agent whose id and name are unchanged (stats, activity, its project):
/// the id and name indexes already point at it.
pub fn update(tx: &WriteTx<'_>, agent: &AgentRecord) -> Result<(), StoreError> {
    tx.table_mut::<Agents>()?
        .insert((agent.org_id.as_str(), agent.id.as_str()), encode(agent).as_slice())?;
    index_project(tx, agent)
}

/// Keeps `AgentsByProject` a superset of every agent's current project.
fn index_project(tx: &WriteTx<'_>, agent: &AgentRecord) -> Result<(), StoreError> {
    if let Some(project) = &agent.project_id {
        let key = (agent.org_id.as_str(), project.as_str(), agent.id.as_str());
        tx.table_mut::<AgentsByProject>()?.insert(key, ())?;
    }
    Ok(())
}

/// The agents of an org whose project is `project`: one index range, however many agents the
/// org has had.
pub fn of_project(
    src: &impl Source,
    org: &str,
    project: &str,
) -> Result<Vec<AgentRecord>, StoreError> {
    let ids: Vec<String> = {
        let index = src.open::<AgentsByProject>()?;
        let range = index.range((org, project, "")..=(org, project, "\u{10ffff}"))?;
        range.map(|row| row.map(|(k, _)| k.value().2.to_owned())).collect::<Result<_, _>>()?
    };
    let mut agents = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(agent) = get(src, org, &id)?
            && agent.project_id.as_deref() == Some(project)
        {
            agents.push(agent);
        }
    }
    Ok(agents)
}

/// Builds the agent indexes of a store from before them, once (at open): every agent's
/// project, and each project's (or org's) active incident agent. How many agents it read.
pub(super) fn build_indexes_once(tx: &WriteTx<'_>) -> Result<usize, StoreError> {
    if tx.open::<Meta>()?.get(AGENT_INDEXES_KEY)?.is_some() {
        return Ok(0);
    }
    let all = list(tx, None)?;
    for agent in &all {
        index_project(tx, agent)?;
        if agent.agent_type == AgentType::Incident && agent.status != AgentStatus::Terminated {
            let project = agent.project_id.as_deref().unwrap_or_default();
            if super::incidents::agent_of(tx, &agent.org_id, project)?.is_none() {
                super::incidents::set_agent_of(tx, &agent.org_id, project, &agent.id)?;
            }
        }
    }
    tx.table_mut::<Meta>()?.insert(AGENT_INDEXES_KEY, 1)?;
    Ok(all.len())
}

/// Removes an agent; its id stays issued so it is never reused.
pub fn remove(tx: &WriteTx<'_>, agent: &AgentRecord) -> Result<(), StoreError> {
    let org = agent.org_id.as_str();
    tx.table_mut::<Agents>()?.remove((org, agent.id.as_str()))?;
    // A terminated agent's name may already belong to a newer agent.
    if id_by_name(tx, org, &agent.name)?.as_deref() == Some(agent.id.as_str()) {
        tx.table_mut::<AgentNames>()?.remove((org, agent.name.as_str()))?;
    }
    Ok(())
}

/// Marks an agent `TERMINATED` (the end state of ephemeral agents, and of a deleted project's
/// agent). The record stays for history; its name is freed for reuse.
pub fn terminate(tx: &WriteTx<'_>, agent: &AgentRecord) -> Result<AgentRecord, StoreError> {
    let now = crate::clock::now_ms();
    // Terminating a terminated agent changes nothing (and its name may be someone else's).
    let Ok(ended) = agent.after(AgentChange::Terminate, now) else { return Ok(agent.clone()) };
    let org = agent.org_id.as_str();
    tx.table_mut::<Agents>()?.insert((org, agent.id.as_str()), encode(&ended).as_slice())?;
    tx.table_mut::<AgentNames>()?.remove((org, agent.name.as_str()))?;
    Ok(ended)
}
