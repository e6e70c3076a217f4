//! Scheduled tasks: `(org, name) -> TaskRecord`. The scheduler (`sched/`) mirrors this table;
//! the table is what survives restarts.

use super::StoreError;
use super::records::{TaskAction, TaskRecord};
use super::sealed::is_sealed;
use super::tables::Tasks;
use super::txn::{Source, WriteTx, encode, get_record, records_of};

/// An org's tasks, in name order.
pub fn list(src: &impl Source, org: &str) -> Result<Vec<TaskRecord>, StoreError> {
    opened(src, records_of::<Tasks, _>(src, Some(org), "task")?)
}

/// Every org's tasks.
pub fn all(src: &impl Source) -> Result<Vec<TaskRecord>, StoreError> {
    opened(src, records_of::<Tasks, _>(src, None, "task")?)
}

pub fn get(src: &impl Source, org: &str, name: &str) -> Result<Option<TaskRecord>, StoreError> {
    let stored = get_record::<Tasks, _>(src, (org, name), "task")?;
    stored.map(|t| map_url(t, |u| src.sealer()?.unseal(u))).transpose()
}

/// Stores a task; a webhook task's URL is sealed (`sealed.rs`): its path is often its secret.
pub fn put(tx: &WriteTx<'_>, task: &TaskRecord) -> Result<(), StoreError> {
    let sealed = map_url(task.clone(), |u| tx.sealer()?.seal(u))?;
    tx.table_mut::<Tasks>()?
        .insert((task.org_id.as_str(), task.name.as_str()), encode(&sealed).as_slice())?;
    Ok(())
}

fn opened(src: &impl Source, tasks: Vec<TaskRecord>) -> Result<Vec<TaskRecord>, StoreError> {
    tasks.into_iter().map(|t| map_url(t, |u| src.sealer()?.unseal(u))).collect()
}

fn map_url(
    mut task: TaskRecord,
    f: impl Fn(&str) -> Result<String, StoreError>,
) -> Result<TaskRecord, StoreError> {
    if let TaskAction::Webhook { url, .. } = &mut task.action {
        *url = f(url)?;
    }
    Ok(task)
}

/// Seals the webhook URLs a store from before sealing kept in plain text; how many it sealed.
pub(super) fn seal_legacy(tx: &WriteTx<'_>) -> Result<usize, StoreError> {
    let plain: Vec<TaskRecord> = records_of::<Tasks, TaskRecord>(tx, None, "task")?
        .into_iter()
        .filter(|t| matches!(&t.action, TaskAction::Webhook { url, .. } if !is_sealed(url)))
        .collect();
    for task in &plain {
        put(tx, task)?;
    }
    Ok(plain.len())
}

/// Stores what a run did to the task's own counters (run count, errors, last run). This is the
/// scheduler's bookkeeping, not a change anyone made, so it needs no audit entry of its own
/// (docs/API.md §2.15: a run is audited when it changes something; the run's action does that).
pub fn record_run(tx: &WriteTx<'_>, task: &TaskRecord) -> Result<(), StoreError> {
    put(tx, task)?;
    tx.mark_audited();
    Ok(())
}

/// Creates a missing built-in at start. Like org `default`, built-ins are the server's own
/// setup rather than a change someone made, so (as for `default`) no audit entry is written;
/// deleting one is audited, and the start that brings it back logs it.
pub fn create_built_in(tx: &WriteTx<'_>, task: &TaskRecord) -> Result<(), StoreError> {
    put(tx, task)?;
    tx.mark_audited();
    Ok(())
}

pub fn remove(tx: &WriteTx<'_>, org: &str, name: &str) -> Result<(), StoreError> {
    tx.table_mut::<Tasks>()?.remove((org, name))?;
    Ok(())
}
