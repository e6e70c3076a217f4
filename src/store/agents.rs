//! Agent rows: `(org, id) -> AgentRecord`, plus the id and name indexes.

use redb::ReadableTable;

use super::StoreError;
use super::records::AgentRecord;
use super::tables::{AGENT_IDS, AGENT_NAMES, AGENTS};
use super::txn::{Source, WriteTx, decode, encode};

/// The org an agent id was issued in, if it was ever issued (deleted agents included).
pub fn org_of(src: &impl Source, id: &str) -> Result<Option<String>, StoreError> {
    Ok(src.open(AGENT_IDS)?.get(id)?.map(|v| v.value().to_owned()))
}

pub fn get(src: &impl Source, org: &str, id: &str) -> Result<Option<AgentRecord>, StoreError> {
    match src.open(AGENTS)?.get((org, id))? {
        Some(v) => Ok(Some(decode("agent", v.value())?)),
        None => Ok(None),
    }
}

pub fn id_by_name(src: &impl Source, org: &str, name: &str) -> Result<Option<String>, StoreError> {
    Ok(src.open(AGENT_NAMES)?.get((org, name))?.map(|v| v.value().to_owned()))
}

/// Agents of one org, or of every org when `org` is `None`, oldest first.
pub fn list(src: &impl Source, org: Option<&str>) -> Result<Vec<AgentRecord>, StoreError> {
    let table = src.open(AGENTS)?;
    let rows = match org {
        Some(org) => table.range((org, "")..(format!("{org}\0").as_str(), ""))?,
        None => table.iter()?,
    };
    let mut agents = rows
        .map(|row| decode::<AgentRecord>("agent", row?.1.value()))
        .collect::<Result<Vec<_>, _>>()?;
    agents.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
    Ok(agents)
}

pub fn count(src: &impl Source) -> Result<u64, StoreError> {
    use redb::ReadableTableMetadata;
    Ok(src.open(AGENTS)?.len()?)
}

/// Inserts or replaces an agent and its indexes.
pub fn put(tx: &WriteTx, agent: &AgentRecord) -> Result<(), StoreError> {
    let org = agent.org_id.as_str();
    tx.table_mut(AGENTS)?.insert((org, agent.id.as_str()), encode(agent).as_slice())?;
    tx.table_mut(AGENT_IDS)?.insert(agent.id.as_str(), org)?;
    tx.table_mut(AGENT_NAMES)?.insert((org, agent.name.as_str()), agent.id.as_str())?;
    Ok(())
}

/// Removes an agent; its id stays issued so it is never reused.
pub fn remove(tx: &WriteTx, agent: &AgentRecord) -> Result<(), StoreError> {
    let org = agent.org_id.as_str();
    tx.table_mut(AGENTS)?.remove((org, agent.id.as_str()))?;
    tx.table_mut(AGENT_NAMES)?.remove((org, agent.name.as_str()))?;
    Ok(())
}
