//! Memory entries: `(org, seq) -> MemoryEntry`, plus `seq -> org` for indexing in order, each
//! agent's entries in order, and running totals (per org, for every org, per agent) kept as
//! entries are written, so statistics cost a row to read, not a scan of the memory.

use std::collections::BTreeMap;

use redb::{ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::records::MemoryEntry;
use super::tables::{
    MEMORY_SEQ_KEY, Memory, MemoryAgentTotals, MemoryByAgent, MemoryBySeq, MemoryTotals,
    MemoryUsers,
};
use super::txn::{ReadTx, Source, WriteTx, decode, encode, get_record};

/// The key of the totals of every org (`*` is no org id).
const EVERY_ORG: &str = "*";

/// What `GET /api/memory` shows of a scope's memory, kept up to date entry by entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub entries: u64,
    pub bytes: u64,
    pub conversations: u64,
    /// Distinct `metadata.userId` of conversations.
    pub users: u64,
    /// Conversations by `metadata.channel`.
    pub channels: BTreeMap<String, u64>,
    pub code: u64,
    pub last_code_at: Option<String>,
}

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

/// Stores a new entry with its indexes and totals.
fn put(tx: &WriteTx<'_>, entry: &MemoryEntry) -> Result<(), StoreError> {
    let org = entry.org_id.as_str();
    tx.table_mut::<Memory>()?.insert((org, entry.seq), encode(entry).as_slice())?;
    tx.table_mut::<MemoryBySeq>()?.insert(entry.seq, org)?;
    count(tx, entry)
}

/// Adds a stored entry to the agent index and the totals.
fn count(tx: &WriteTx<'_>, entry: &MemoryEntry) -> Result<(), StoreError> {
    let org = entry.org_id.as_str();
    let bytes = entry.content.len() as u64;
    if let Some(agent) = entry.agent_id.as_deref() {
        tx.table_mut::<MemoryByAgent>()?.insert((org, agent, entry.seq), ())?;
        let mut agents = tx.table_mut::<MemoryAgentTotals>()?;
        let (n, b) = agents.get((org, agent))?.map_or((0, 0), |v| v.value());
        agents.insert((org, agent), (n + 1, b + bytes))?;
    }
    let user = entry.metadata.get("userId").and_then(serde_json::Value::as_str);
    let channel = entry.metadata.get("channel").and_then(serde_json::Value::as_str);
    for scope in [org, EVERY_ORG] {
        let mut totals = totals(tx, scope)?;
        totals.entries += 1;
        totals.bytes += bytes;
        match entry.category.as_str() {
            "conversation" => {
                totals.conversations += 1;
                if let Some(user) = user
                    && tx.table_mut::<MemoryUsers>()?.insert((scope, user), ())?.is_none()
                {
                    totals.users += 1;
                }
                if let Some(channel) = channel {
                    *totals.channels.entry(channel.to_owned()).or_default() += 1;
                }
            }
            "code" => {
                totals.code += 1;
                totals.last_code_at = Some(entry.created_at.clone());
            }
            _ => {}
        }
        tx.table_mut::<MemoryTotals>()?.insert(scope, encode(&totals).as_slice())?;
    }
    Ok(())
}

fn totals(src: &impl Source, scope: &str) -> Result<Totals, StoreError> {
    Ok(get_record::<MemoryTotals, _>(src, scope, "memory totals")?.unwrap_or_default())
}

/// The totals of an org (`None`: of every org).
pub fn totals_of(src: &impl Source, org: Option<&str>) -> Result<Totals, StoreError> {
    totals(src, org.unwrap_or(EVERY_ORG))
}

/// The newest entry of a scope with a seq at most `upto` (what the index has reached).
pub fn newest_upto(
    tx: &ReadTx,
    org: Option<&str>,
    upto: u64,
) -> Result<Option<MemoryEntry>, StoreError> {
    match org {
        Some(org) => {
            let memory = tx.open::<Memory>()?;
            let newest = memory.range((org, 0)..=(org, upto))?.next_back().transpose()?;
            newest.map(|(_, v)| decode("memory entry", v.value())).transpose()
        }
        None => {
            let by_seq_table = tx.open::<MemoryBySeq>()?;
            let newest = by_seq_table.range(..=upto)?.next_back().transpose()?;
            match newest.map(|(seq, _)| seq.value()) {
                Some(seq) => by_seq(tx, seq),
                None => Ok(None),
            }
        }
    }
}

/// Builds the agent index and the totals from the entries, for a store written before they
/// existed (`Store::open` calls it when the totals are missing).
pub(super) fn rebuild_totals(tx: &WriteTx<'_>) -> Result<u64, StoreError> {
    let mut rebuilt = 0;
    let mut after = 0;
    loop {
        let batch = entries_after(tx, after, 1024)?;
        let Some(last) = batch.last() else { return Ok(rebuilt) };
        after = last.seq;
        for entry in &batch {
            count(tx, entry)?;
            rebuilt += 1;
        }
    }
}

/// Whether the totals are missing while entries exist (a store from before them).
pub(super) fn totals_missing(src: &impl Source) -> Result<bool, StoreError> {
    Ok(src.open::<MemoryTotals>()?.is_empty()? && !src.open::<MemoryBySeq>()?.is_empty()?)
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

/// The highest memory seq in the store, 0 when empty.
pub fn last_seq(src: &impl Source) -> Result<u64, StoreError> {
    let last = src.open::<MemoryBySeq>()?.last()?.map(|(seq, _)| seq.value());
    Ok(last.unwrap_or(0))
}

pub fn count_upto(src: &impl Source, seq: u64) -> Result<u64, StoreError> {
    let by_seq = src.open::<MemoryBySeq>()?;
    let above = by_seq.range(seq.saturating_add(1)..)?.count() as u64;
    Ok(by_seq.len()?.saturating_sub(above))
}

/// An agent's newest `limit` entries, oldest first, and the count and content bytes of all of
/// them: one index range, whatever the size of the org's memory.
pub fn of_agent(
    src: &impl Source,
    org: &str,
    agent_id: &str,
    limit: usize,
) -> Result<(Vec<MemoryEntry>, u64, u64), StoreError> {
    let (memory, index) = (src.open::<Memory>()?, src.open::<MemoryByAgent>()?);
    let mut newest = Vec::new();
    for row in index.range((org, agent_id, 0)..=(org, agent_id, u64::MAX))?.rev().take(limit) {
        let seq = row?.0.value().2;
        if let Some(v) = memory.get((org, seq))? {
            newest.push(decode::<MemoryEntry>("memory entry", v.value())?);
        }
    }
    newest.reverse();
    let totals = src.open::<MemoryAgentTotals>()?.get((org, agent_id))?.map(|v| v.value());
    let (count, bytes) = totals.unwrap_or((0, 0));
    Ok((newest, count, bytes))
}
