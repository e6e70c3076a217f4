//! A2A tasks (docs/API.md §2.17): `(org, id) -> A2aTaskRecord`, the listing index (one row per
//! filter a task matches, newest first by `seq`), the totals of each listing, and the agent
//! each agent type's tasks went to last. Every change costs a handful of rows, whatever the
//! number of tasks.

use redb::ReadableTable;

use super::StoreError;
use super::records::{A2aTaskRecord, A2aTaskStatus, AgentType};
use super::tables::{A2A_TASK_SEQ_KEY, A2aAgents, A2aTaskCounts, A2aTaskIndex, A2aTasks};
use super::txn::{Source, WriteTx, encode, get_record};

/// The listing filter a `status` and `project` select: the facet of [`A2aTaskIndex`].
pub fn facet(status: Option<A2aTaskStatus>, project: Option<&str>) -> String {
    match (status, project) {
        (None, None) => String::new(),
        (Some(s), None) => format!("s:{}", s.as_str()),
        (None, Some(p)) => format!("p:{p}"),
        (Some(s), Some(p)) => format!("p:{p}|s:{}", s.as_str()),
    }
}

/// Every listing a task belongs to.
fn facets(task: &A2aTaskRecord) -> Vec<String> {
    let project = task.project_id.as_deref();
    let mut out = vec![facet(None, None), facet(Some(task.status), None)];
    if project.is_some() {
        out.push(facet(None, project));
        out.push(facet(Some(task.status), project));
    }
    out
}

pub fn get(src: &impl Source, org: &str, id: &str) -> Result<Option<A2aTaskRecord>, StoreError> {
    get_record::<A2aTasks, _>(src, (org, id), "a2a task")
}

/// Stores a new task (its `seq` is assigned here) with its index rows and totals.
pub fn insert(tx: &WriteTx<'_>, task: &mut A2aTaskRecord) -> Result<(), StoreError> {
    task.seq = tx.next_in_sequence(A2A_TASK_SEQ_KEY)?;
    let org = task.org_id.as_str();
    tx.table_mut::<A2aTasks>()?.insert((org, task.id.as_str()), encode(task).as_slice())?;
    for f in facets(task) {
        index(tx, org, &f, task, 1)?;
    }
    Ok(())
}

/// Rewrites a task whose status may have changed: the rows of the listings it left go, the
/// rows of those it joined come.
pub fn update(
    tx: &WriteTx<'_>,
    before: &A2aTaskRecord,
    after: &A2aTaskRecord,
) -> Result<(), StoreError> {
    let org = after.org_id.as_str();
    tx.table_mut::<A2aTasks>()?.insert((org, after.id.as_str()), encode(after).as_slice())?;
    let (old, new) = (facets(before), facets(after));
    for f in old.iter().filter(|f| !new.contains(f)) {
        index(tx, org, f, before, -1)?;
    }
    for f in new.iter().filter(|f| !old.contains(f)) {
        index(tx, org, f, after, 1)?;
    }
    Ok(())
}

/// Removes a task with its index rows (retention: a finished task past its days).
pub fn remove(tx: &WriteTx<'_>, task: &A2aTaskRecord) -> Result<(), StoreError> {
    let org = task.org_id.as_str();
    tx.table_mut::<A2aTasks>()?.remove((org, task.id.as_str()))?;
    for f in facets(task) {
        index(tx, org, &f, task, -1)?;
    }
    Ok(())
}

/// Adds (`delta` 1) or removes (-1) a task's row of one listing, and counts it.
fn index(
    tx: &WriteTx<'_>,
    org: &str,
    facet: &str,
    task: &A2aTaskRecord,
    delta: i64,
) -> Result<(), StoreError> {
    {
        let mut rows = tx.table_mut::<A2aTaskIndex>()?;
        if delta > 0 {
            rows.insert((org, facet, task.seq), task.id.as_str())?;
        } else {
            rows.remove((org, facet, task.seq))?;
        }
    }
    let mut counts = tx.table_mut::<A2aTaskCounts>()?;
    let current = counts.get((org, facet))?.map_or(0, |v| v.value());
    let next = current.saturating_add_signed(delta);
    if next == 0 {
        counts.remove((org, facet))?;
    } else {
        counts.insert((org, facet), next)?;
    }
    Ok(())
}

/// One page of a listing, newest first, and the listing's total. The work is `offset + limit`
/// index rows and `limit` records.
pub fn page(
    src: &impl Source,
    org: &str,
    facet: &str,
    offset: usize,
    limit: usize,
) -> Result<(Vec<A2aTaskRecord>, u64), StoreError> {
    let total = src.open::<A2aTaskCounts>()?.get((org, facet))?.map_or(0, |v| v.value());
    let ids: Vec<String> = {
        let rows = src.open::<A2aTaskIndex>()?;
        let range = rows.range((org, facet, 0)..=(org, facet, u64::MAX))?;
        range
            .rev()
            .skip(offset)
            .take(limit)
            .map(|row| row.map(|(_, id)| id.value().to_owned()))
            .collect::<Result<_, _>>()?
    };
    let mut tasks = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(task) = get(src, org, &id)? {
            tasks.push(task);
        }
    }
    Ok((tasks, total))
}

/// The agent the org's tasks of `agent_type` went to last, if any.
pub fn agent_of(
    src: &impl Source,
    org: &str,
    agent_type: AgentType,
) -> Result<Option<String>, StoreError> {
    Ok(src.open::<A2aAgents>()?.get((org, agent_type.as_str()))?.map(|v| v.value().to_owned()))
}

pub fn set_agent_of(
    tx: &WriteTx<'_>,
    org: &str,
    agent_type: AgentType,
    agent: &str,
) -> Result<(), StoreError> {
    tx.table_mut::<A2aAgents>()?.insert((org, agent_type.as_str()), agent)?;
    Ok(())
}
