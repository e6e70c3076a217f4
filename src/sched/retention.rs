//! Retention: what the built-in `audit-cleanup` task removes (docs/API.md §2.15): audit entries
//! older than `AUDIT_RETENTION_DAYS`, and every other kind of record that grows by its own age
//! (`Settings::retention`, [`store::retention`]). Every removal commits with its audit entry
//! (`audit.retention`, `retention.prune`), in write jobs of bounded size, and the search index
//! forgets the audit entries the store no longer has.

use std::sync::Arc;

use crate::clock;
use crate::search::{Search, SearchError};
use crate::settings::Retention;
use crate::store::audit::{Pruned, remove_older_than};
use crate::store::retention::{self as records, Kind};
use crate::store::{Store, StoreError};

/// Audit entries one write job removes per org at most.
const AUDIT_PER_WRITE: usize = 5_000;
/// Expired records one scan collects at most (a snapshot read on the blocking pool).
const SCAN_LIMIT: usize = 10_000;
/// Records one write job removes at most.
const RECORDS_PER_WRITE: usize = 1_000;
const DAY_MS: i64 = 86_400_000;

/// Why a cleanup did not finish. What it removed before the failure stays removed.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("cannot remove old records: {0}")]
    Store(StoreError),
    #[error("removed old audit entries, but the index kept them: {0}")]
    Index(SearchError),
    /// A blocking task (a scan, the index cleanup) did not finish.
    #[error("the cleanup did not finish: {0}")]
    Join(String),
}

/// Removes audit entries older than `days` (see [`prune_audit_before`]).
pub async fn prune_audit(
    store: &Store,
    search: &Arc<Search>,
    days: u32,
) -> Result<Vec<Pruned>, RetentionError> {
    prune_audit_before(store, search, clock::now_ms() - i64::from(days) * DAY_MS).await
}

/// Removes audit entries older than `cutoff` (Unix milliseconds), keeping every chain
/// verifiable (the last removed hash becomes its chain's anchor), and drops them from the
/// search index. What it removed, per org.
pub async fn prune_audit_before(
    store: &Store,
    search: &Arc<Search>,
    cutoff: i64,
) -> Result<Vec<Pruned>, RetentionError> {
    let mut all: Vec<Pruned> = Vec::new();
    loop {
        let pruned = store
            .write(move |tx| remove_older_than(tx, cutoff, AUDIT_PER_WRITE))
            .await
            .map_err(RetentionError::Store)?;
        if pruned.is_empty() {
            return Ok(all);
        }
        let (search, forget) = (Arc::clone(search), pruned.clone());
        tokio::task::spawn_blocking(move || {
            forget.iter().try_for_each(|p| search.audit.forget(&p.org, p.upto_seq))
        })
        .await
        .map_err(|e| RetentionError::Join(e.to_string()))?
        .map_err(RetentionError::Index)?;
        for p in pruned {
            match all.iter_mut().find(|a| a.org == p.org) {
                Some(seen) => {
                    seen.removed += p.removed;
                    seen.upto_seq = seen.upto_seq.max(p.upto_seq);
                }
                None => all.push(p),
            }
        }
    }
}

/// Removes every kind of record past its age under `policy`; how many of each.
pub async fn prune_records(
    store: &Store,
    policy: &Retention,
) -> Result<Vec<(Kind, u64)>, RetentionError> {
    let now = clock::now_ms();
    let mut removed = Vec::new();
    for kind in Kind::ALL {
        let Some(days) = policy.days(kind.name()) else { continue };
        let cutoff = now - i64::from(days) * DAY_MS;
        removed.push((kind, prune_kind(store, kind, cutoff).await?));
    }
    Ok(removed)
}

/// Scans for expired records of `kind` and removes them in bounded write jobs, until a scan
/// finds fewer than it may hold (or a pass removes nothing: what is left changed meanwhile).
async fn prune_kind(store: &Store, kind: Kind, cutoff: i64) -> Result<u64, RetentionError> {
    let mut total = 0;
    loop {
        let snapshot = store.clone();
        let found = tokio::task::spawn_blocking(move || {
            let read = snapshot.read()?;
            records::expired(&read, kind, cutoff, SCAN_LIMIT)
        })
        .await
        .map_err(|e| RetentionError::Join(e.to_string()))?
        .map_err(RetentionError::Store)?;
        let complete = found.len() < SCAN_LIMIT;
        let mut pass = 0;
        for batch in found.chunks(RECORDS_PER_WRITE) {
            let batch = batch.to_vec();
            pass += store
                .write(move |tx| records::remove(tx, kind, &batch, cutoff))
                .await
                .map_err(RetentionError::Store)?;
        }
        total += pass;
        if complete || pass == 0 {
            return Ok(total);
        }
    }
}
