//! Retention: what the built-in `audit-cleanup` task removes. Every removal commits with its
//! audit entry (`audit.retention`), and the search index forgets what the store no longer has.

use std::sync::Arc;

use crate::clock;
use crate::search::{Search, SearchError};
use crate::store::audit::{Pruned, remove_older_than};
use crate::store::{Store, StoreError};

/// Why a cleanup did not finish. What it removed before the failure stays removed.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("cannot remove old audit entries: {0}")]
    Store(StoreError),
    #[error("removed old audit entries, but the index kept them: {0}")]
    Index(SearchError),
    /// The blocking task that updates the index did not finish.
    #[error("the index cleanup did not finish: {0}")]
    Join(String),
}

/// Removes audit entries older than `days` (see [`prune_audit_before`]).
pub async fn prune_audit(
    store: &Store,
    search: &Arc<Search>,
    days: u32,
) -> Result<Vec<Pruned>, RetentionError> {
    prune_audit_before(store, search, clock::now_ms() - i64::from(days) * 86_400_000).await
}

/// Removes audit entries older than `cutoff` (Unix milliseconds), keeping every chain
/// verifiable (the last removed hash becomes its chain's anchor), and drops them from the
/// search index.
pub async fn prune_audit_before(
    store: &Store,
    search: &Arc<Search>,
    cutoff: i64,
) -> Result<Vec<Pruned>, RetentionError> {
    let pruned = store
        .write(move |tx| remove_older_than(tx, cutoff))
        .await
        .map_err(RetentionError::Store)?;
    let (search, forget) = (Arc::clone(search), pruned.clone());
    tokio::task::spawn_blocking(move || {
        forget.iter().try_for_each(|p| search.audit.forget(&p.org, p.upto_seq))
    })
    .await
    .map_err(|e| RetentionError::Join(e.to_string()))?
    .map_err(RetentionError::Index)?;
    Ok(pruned)
}
