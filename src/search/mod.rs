//! Search: tantivy indexes derived from the store, for filters and full-text queries.
//!
//! **Invariants**
//! - tantivy is never the source of truth: every index can be deleted and is rebuilt from the
//!   store on the next start (or by `spar reindex`).
//! - Every query is org-filtered here, inside this module: callers pass the scope's org and
//!   cannot build an unfiltered query for a scoped request.
//! - An index publishes `indexed()` only after the documents up to it are searchable.
//! - A `q` search sees every write acknowledged before it began: it first waits ([`Search::reach`],
//!   at most [`READ_YOUR_WRITES`]) until its index holds the store's last seq, waking the
//!   indexer instead of waiting for its next poll.

pub mod audit;
mod error;
pub mod memory;
pub mod seq_index;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

pub use error::SearchError;

use crate::clock;
use crate::store::Store;
use audit::AuditStream;
use memory::MemoryStream;
use seq_index::SeqIndex;

/// How deep an index-backed search pages: tantivy's top-N collector holds `offset + limit`
/// hits, so the window must be bounded (an unbounded one is a memory exhaustion a single
/// request could trigger). The audit trail pages deeper with `before=`.
pub const MAX_WINDOW: usize = 100_000;

/// The top-N collector for a page, or `TooDeep` past [`MAX_WINDOW`].
fn window(offset: usize, limit: usize) -> Result<tantivy::collector::TopDocs, SearchError> {
    if offset.saturating_add(limit) > MAX_WINDOW {
        return Err(SearchError::TooDeep { max: MAX_WINDOW });
    }
    Ok(tantivy::collector::TopDocs::with_limit(limit.max(1)).and_offset(offset))
}

/// Documents whose raw (`STRING`) `field` is exactly `value`.
fn term(field: tantivy::schema::Field, value: &str) -> Box<dyn tantivy::query::Query> {
    Box::new(tantivy::query::TermQuery::new(
        tantivy::Term::from_field_text(field, value),
        tantivy::schema::IndexRecordOption::Basic,
    ))
}

/// Where the audit index lives in a data dir.
pub fn audit_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("index").join("audit")
}

/// Where the memory index lives in a data dir.
pub fn memory_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("index").join("memory")
}

/// How often the indexer looks for new entries while few arrive: `q` finds a quiet write within
/// about this long.
const POLL_QUIET: Duration = Duration::from_millis(100);
/// ... and under load. Each tantivy commit writes a segment and syncs it, competing with group
/// commit for the disk, so busy periods are indexed in larger, rarer commits (filtered listings
/// see new entries at once anyway).
const POLL_BUSY: Duration = Duration::from_millis(1000);
/// Documents per catch-up (about 2,000 writes/s at the quiet pace) from which it counts as busy.
const BUSY_BATCH: u64 = 200;

/// How long a `q` search waits for its index to reach the writes acknowledged before it. Past
/// it, the search answers from what is indexed (and the server logs the lag).
pub const READ_YOUR_WRITES: Duration = Duration::from_secs(3);

pub struct Search {
    pub audit: SeqIndex<AuditStream>,
    pub memory: SeqIndex<MemoryStream>,
    /// The indexer's thread, to wake it when a search waits.
    indexer: std::sync::Mutex<Option<std::thread::Thread>>,
}

impl Search {
    /// Opens (or rebuilds) the indexes under `<data-dir>/index/`.
    pub fn open(data_dir: &Path, store: &Store) -> Result<Self, SearchError> {
        let audit = SeqIndex::open(&audit_dir(data_dir), AuditStream::new(), store)?;
        let memory = SeqIndex::open(&memory_dir(data_dir), MemoryStream::new(), store)?;
        Ok(Self { audit, memory, indexer: std::sync::Mutex::new(None) })
    }

    /// Waits until `index` holds everything the store held when called (at most
    /// [`READ_YOUR_WRITES`]); whether it does. Costs nothing when the index is current, else
    /// about one index commit: the indexer is woken at once.
    pub async fn reach<S: seq_index::Stream>(&self, index: &SeqIndex<S>, store: &Store) -> bool {
        let target = match index.store_last_seq(store) {
            Ok(seq) => seq,
            Err(e) => {
                tracing::warn!(error = %e, "search: cannot read the store's last seq");
                return false;
            }
        };
        if index.indexed() >= target {
            return true;
        }
        let mut published = index.published();
        if let Ok(indexer) = self.indexer.lock()
            && let Some(thread) = indexer.as_ref()
        {
            thread.unpark();
        }
        let reached =
            tokio::time::timeout(READ_YOUR_WRITES, published.wait_for(|at| *at >= target));
        let reached = matches!(reached.await, Ok(Ok(_)));
        if !reached {
            tracing::warn!(
                index = index.stream.name(),
                target,
                indexed = index.indexed(),
                "search: the index did not reach the store in time; answering from what it holds"
            );
        }
        reached
    }

    /// Indexes everything the store has that the indexes do not.
    pub fn catch_up(&self, store: &Store) -> Result<u64, SearchError> {
        Ok(self.audit.catch_up(store, |_| {})? + self.memory.catch_up(store, |_| {})?)
    }

    /// Seconds the audit index trails the store: the age of the oldest entry it does not hold.
    pub fn lag_seconds(&self, store: &Store) -> u64 {
        let next = self.audit.indexed() + 1;
        let oldest =
            store.read().ok().and_then(|tx| crate::store::audit::by_seq(&tx, next).ok().flatten());
        oldest
            .and_then(|e| clock::parse_rfc3339(&e.timestamp))
            .map_or(0, |ts| u64::try_from((clock::now_ms() - ts) / 1000).unwrap_or(0))
    }
}

/// The background indexer: polls the store's generation and indexes what changed.
pub struct Indexer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Indexer {
    pub fn start(search: Arc<Search>, store: Store) -> std::io::Result<Self> {
        let search_for_kick = Arc::clone(&search);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new().name("spar-indexer".into()).spawn(move || {
            let mut seen = u64::MAX;
            loop {
                let stopping = flag.load(Ordering::Acquire);
                let generation = store.generation();
                let mut added = 0;
                if generation != seen || stopping {
                    match search.catch_up(&store) {
                        Ok(n) => (seen, added) = (generation, n),
                        Err(e) => tracing::error!(error = %e, "indexing failed; retrying"),
                    }
                }
                if stopping {
                    return;
                }
                // Parked rather than asleep, so `stop` wakes it at once.
                std::thread::park_timeout(if added >= BUSY_BATCH { POLL_BUSY } else { POLL_QUIET });
            }
        })?;
        if let Ok(mut indexer) = search_for_kick.indexer.lock() {
            *indexer = Some(thread.thread().clone());
        }
        Ok(Self { stop, thread: Some(thread) })
    }

    /// Indexes what is left, then stops.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}
