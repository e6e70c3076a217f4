//! A tantivy index that mirrors a store stream keyed by `seq`. It is derived data: the last seq
//! it holds is the commit payload, so a commit and its progress marker are atomic, and on start
//! it catches up from there. An index that cannot be opened, or whose document count disagrees
//! with the store, is rebuilt from the store.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tantivy::schema::Schema;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument};

use super::SearchError;
use crate::store::{ReadTx, Snapshots, Store};

/// Documents added per commit at most (bounds memory while catching up).
const BATCH: usize = 20_000;
/// tantivy's indexing memory budget, one thread (15 MB is its minimum). A busy second of
/// ingest is about 10,000 small documents, far below it; each index holds its budget for good,
/// so it counts twice toward the resident memory (BENCHMARKS.md).
const WRITER_BYTES: usize = 16 * 1024 * 1024;

/// What an index mirrors: a store stream read in seq order.
pub trait Stream: Send + Sync {
    fn name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    /// Up to `limit` documents with seq greater than `after`, in seq order.
    fn read_after(
        &self,
        tx: &ReadTx,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, TantivyDocument)>, SearchError>;
    /// Entries in the store with seq at most `seq`.
    fn count_upto(&self, tx: &ReadTx, seq: u64) -> Result<u64, SearchError>;
    /// The highest seq in the store (0 when empty).
    fn last_seq(&self, tx: &ReadTx) -> Result<u64, SearchError>;
}

pub struct SeqIndex<S> {
    pub stream: S,
    pub index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    /// Every entry with seq at most this is searchable.
    indexed: AtomicU64,
    /// `indexed`, for waiters (`Search::reach`).
    published: tokio::sync::watch::Sender<u64>,
    /// The newest searcher and the highest seq it holds (every document in it has a seq at most
    /// this), replaced after each reload, before `indexed` moves: a query can leave out a seq
    /// bound that would match every document of its searcher.
    current: Mutex<(Searcher, u64)>,
    dir: PathBuf,
}

impl<S: Stream> SeqIndex<S> {
    /// Opens the index in `dir`, rebuilding it when missing, unreadable or inconsistent.
    pub fn open(dir: &Path, stream: S, store: &Store) -> Result<Self, SearchError> {
        match Self::try_open(dir, &stream) {
            Ok((index, indexed)) => {
                let this = Self::assemble(dir, stream, index, indexed)?;
                if this.consistent(store)? {
                    return Ok(this);
                }
                tracing::warn!(
                    index = this.stream.name(),
                    "search index disagrees with the store; rebuilding it"
                );
                let stream = this.stream;
                Self::rebuild(dir, stream)
            }
            Err(e) => {
                if dir.exists() {
                    tracing::warn!(index = stream.name(), error = %e, "search index unreadable; rebuilding it from the store");
                } else {
                    tracing::info!(index = stream.name(), "creating search index");
                }
                Self::rebuild(dir, stream)
            }
        }
    }

    fn try_open(dir: &Path, stream: &S) -> Result<(Index, u64), SearchError> {
        let index = Index::open_in_dir(dir)?;
        if index.schema() != stream.schema() {
            return Err(SearchError::Index("schema changed".into()));
        }
        let payload = index.load_metas()?.payload;
        let indexed = payload.as_deref().unwrap_or("0").parse::<u64>().unwrap_or(0);
        Ok((index, indexed))
    }

    /// Deletes whatever is in `dir` and starts an empty index there.
    pub fn rebuild(dir: &Path, stream: S) -> Result<Self, SearchError> {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| SearchError::Index(e.to_string()))?;
        }
        std::fs::create_dir_all(dir).map_err(|e| SearchError::Index(e.to_string()))?;
        let index = Index::create_in_dir(dir, stream.schema())?;
        Self::assemble(dir, stream, index, 0)
    }

    fn assemble(dir: &Path, stream: S, index: Index, indexed: u64) -> Result<Self, SearchError> {
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let writer = index.writer_with_num_threads(1, WRITER_BYTES)?;
        let current = Mutex::new((reader.searcher(), indexed));
        Ok(Self {
            stream,
            index,
            current,
            reader,
            writer: Mutex::new(writer),
            indexed: AtomicU64::new(indexed),
            published: tokio::sync::watch::Sender::new(indexed),
            dir: dir.to_path_buf(),
        })
    }

    /// The index holds exactly the store's entries up to its payload seq.
    fn consistent(&self, store: &Store) -> Result<bool, SearchError> {
        let docs = self.reader.searcher().num_docs();
        let expected = self.stream.count_upto(&store.read()?, self.indexed())?;
        Ok(docs == expected)
    }

    pub fn indexed(&self) -> u64 {
        self.indexed.load(Ordering::Acquire)
    }

    /// Follows `indexed` as it moves.
    pub fn published(&self) -> tokio::sync::watch::Receiver<u64> {
        self.published.subscribe()
    }

    /// The highest seq the store holds now.
    pub fn store_last_seq(&self, store: &Store) -> Result<u64, SearchError> {
        self.stream.last_seq(&store.read()?)
    }

    pub fn reader(&self) -> &IndexReader {
        &self.reader
    }

    /// The newest searcher, and the highest seq any of its documents has.
    pub fn searcher(&self) -> (Searcher, u64) {
        match self.current.lock() {
            Ok(current) => current.clone(),
            // Poisoned only by a panic while replacing it: the reader's own is as new, and
            // `u64::MAX` keeps every seq bound in the query.
            Err(_) => (self.reader.searcher(), u64::MAX),
        }
    }

    /// After a reload: the reader's searcher now holds everything up to `seq`.
    fn publish_searcher(&self, seq: u64) {
        if let Ok(mut current) = self.current.lock() {
            *current = (self.reader.searcher(), seq);
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Indexes what the store has beyond `indexed`, one batch per commit. Returns how many
    /// documents were added. `progress` hears the running total after each commit.
    pub fn catch_up(
        &self,
        store: &impl Snapshots,
        mut progress: impl FnMut(u64),
    ) -> Result<u64, SearchError> {
        let mut added = 0u64;
        loop {
            // The snapshot is read under the writer lock, so a concurrent `delete` (retention)
            // either sees these documents committed or runs before this snapshot was taken.
            let mut writer = self
                .writer
                .lock()
                .map_err(|_| SearchError::Index("writer lock poisoned".into()))?;
            let after = self.indexed();
            let docs = self.stream.read_after(&store.snapshot()?, after, BATCH)?;
            let Some(&(last, _)) = docs.last() else { return Ok(added) };
            let n = docs.len() as u64;
            for (_, doc) in docs {
                writer.add_document(doc)?;
            }
            let mut commit = writer.prepare_commit()?;
            commit.set_payload(&last.to_string());
            commit.commit()?;
            drop(writer);
            self.reader.reload()?;
            self.publish_searcher(last);
            // Published only once searchable, so readers may trust `indexed`.
            self.indexed.store(last, Ordering::Release);
            self.published.send_replace(last);
            added += n;
            progress(added);
        }
    }

    /// Deletes the documents matching `query` (used by retention) and commits.
    pub fn delete(&self, query: Box<dyn tantivy::query::Query>) -> Result<(), SearchError> {
        let mut writer =
            self.writer.lock().map_err(|_| SearchError::Index("writer lock poisoned".into()))?;
        writer.delete_query(query)?;
        let mut commit = writer.prepare_commit()?;
        commit.set_payload(&self.indexed().to_string());
        commit.commit()?;
        drop(writer);
        self.reader.reload()?;
        self.publish_searcher(self.indexed());
        Ok(())
    }

    /// Waits for merges to finish; called on shutdown.
    pub fn close(self) {
        if let Ok(writer) = self.writer.into_inner() {
            let _ = writer.wait_merging_threads();
        }
    }
}
