//! Memory entries: `(org, seq) -> MemoryEntry`, plus `seq -> org` for indexing in order.

use redb::{ReadableTable, ReadableTableMetadata};

use super::StoreError;
use super::records::MemoryEntry;
use super::tables::{MEMORY_SEQ_KEY, Memory, MemoryBySeq};
use super::txn::{Source, WriteTx, decode, encode};

/// The next memory seq (its id is `mem-<seq>`).
pub fn next_seq(tx: &WriteTx<'_>) -> Result<u64, StoreError> {
    tx.next_in_sequence(MEMORY_SEQ_KEY)
}

/// A memory entry before it is numbered.
pub struct NewMemory<'a> {
    pub org: &'a str,
    pub agent_id: Option<String>,
    pub project_id: Option<String>,
    pub category: &'a str,
    pub content: String,
    pub metadata: serde_json::Value,
}

/// Numbers (`mem-<seq>`), timestamps and stores a new entry.
pub fn add(tx: &WriteTx<'_>, new: NewMemory<'_>) -> Result<MemoryEntry, StoreError> {
    let seq = next_seq(tx)?;
    let entry = MemoryEntry {
        id: format!("mem-{seq}"),
        seq,
        org_id: new.org.to_owned(),
        agent_id: new.agent_id,
        project_id: new.project_id,
        category: new.category.to_owned(),
        content: new.content,
        metadata: new.metadata,
        created_at: crate::clock::rfc3339(crate::clock::now_ms()),
    };
    put(tx, &entry)?;
    Ok(entry)
}

pub fn put(tx: &WriteTx<'_>, entry: &MemoryEntry) -> Result<(), StoreError> {
    let org = entry.org_id.as_str();
    tx.table_mut::<Memory>()?.insert((org, entry.seq), encode(entry).as_slice())?;
    tx.table_mut::<MemoryBySeq>()?.insert(entry.seq, org)?;
    Ok(())
}

/// The entry with this seq, whatever its org.
pub fn by_seq(src: &impl Source, seq: u64) -> Result<Option<MemoryEntry>, StoreError> {
    let Some(org) = src.open::<MemoryBySeq>()?.get(seq)?.map(|o| o.value().to_owned()) else {
        return Ok(None);
    };
    match src.open::<Memory>()?.get((org.as_str(), seq))? {
        Some(bytes) => Ok(Some(decode("memory entry", bytes.value())?)),
        None => Ok(None),
    }
}

/// Up to `limit` entries with seq above `after`, oldest first (for indexing).
pub fn entries_after(
    src: &impl Source,
    after: u64,
    limit: usize,
) -> Result<Vec<MemoryEntry>, StoreError> {
    let memory = src.open::<Memory>()?;
    let mut out = Vec::new();
    for row in src.open::<MemoryBySeq>()?.range(after.saturating_add(1)..)?.take(limit) {
        let (seq, org) = row?;
        if let Some(bytes) = memory.get((org.value(), seq.value()))? {
            out.push(decode("memory entry", bytes.value())?);
        }
    }
    Ok(out)
}

pub fn count_upto(src: &impl Source, seq: u64) -> Result<u64, StoreError> {
    let by_seq = src.open::<MemoryBySeq>()?;
    let above = by_seq.range(seq.saturating_add(1)..)?.count() as u64;
    Ok(by_seq.len()?.saturating_sub(above))
}

/// An agent's entries, oldest first. Scans the org's memory: fine at appliance sizes; an index
/// by agent is the next step if it ever is not.
pub fn of_agent(
    src: &impl Source,
    org: &str,
    agent_id: &str,
) -> Result<Vec<MemoryEntry>, StoreError> {
    Ok(all(src, Some(org))?
        .into_iter()
        .filter(|e| e.agent_id.as_deref() == Some(agent_id))
        .collect())
}

/// Every entry of a scope (`None`: all orgs), oldest first, for statistics.
pub fn all(src: &impl Source, org: Option<&str>) -> Result<Vec<MemoryEntry>, StoreError> {
    let memory = src.open::<Memory>()?;
    let rows = match org {
        Some(org) => memory.range((org, 0)..=(org, u64::MAX))?,
        None => memory.iter()?,
    };
    rows.map(|row| decode("memory entry", row?.1.value())).collect()
}
