//! Group commit. One thread owns the write side of redb. Concurrent writers queue jobs; the thread
//! takes every job waiting, runs them in one transaction, commits once (one fsync), and only
//! then answers each job. So a write is durable before anyone is told it succeeded, and the cost
//! of an fsync is shared by everyone who arrived while the previous one ran.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::sealed::Sealer;
use super::{StoreError, WriteTx};

/// Most jobs in one transaction; bounds the latency a batch adds to its first job.
const MAX_BATCH: usize = 512;
/// Queue depth before writers wait (backpressure instead of unbounded memory).
pub(super) const QUEUE_DEPTH: usize = 4096;

pub(super) type BoxedJob = Box<dyn Job>;

pub(super) enum Ran {
    /// Succeeded; its writes stay in the batch.
    Ok,
    /// Failed before writing anything; the batch goes on.
    Rejected,
    /// Failed after writing: the batch must be rolled back.
    Poisoned,
}

pub(super) trait Job: Send {
    fn run(&mut self, tx: &WriteTx<'_>) -> Ran;
    /// Answers the caller once the batch's fate is known.
    fn finish(self: Box<Self>, commit: Result<(), String>);
}

pub(super) struct TypedJob<F, R, E> {
    pub f: F,
    pub out: Option<Result<R, E>>,
    pub reply: oneshot::Sender<Result<R, E>>,
}

impl<F, R, E> Job for TypedJob<F, R, E>
where
    F: FnMut(&WriteTx<'_>) -> Result<R, E> + Send,
    R: Send,
    E: From<StoreError> + Send,
{
    fn run(&mut self, tx: &WriteTx<'_>) -> Ran {
        tx.start_job();
        let result = (self.f)(tx);
        let ran = match (&result, tx.dirty()) {
            (Ok(_), _) => Ran::Ok,
            (Err(_), false) => Ran::Rejected,
            (Err(_), true) => Ran::Poisoned,
        };
        debug_assert!(
            !matches!(ran, Ran::Ok) || !tx.dirty() || tx.audited(),
            "every change must append its audit entry in the same transaction"
        );
        self.out = Some(result);
        ran
    }

    fn finish(self: Box<Self>, commit: Result<(), String>) {
        let result = match (self.out, commit) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (Some(Ok(_)) | None, Err(msg)) => Err(StoreError::CommitFailed(msg).into()),
            (None, Ok(())) => Err(StoreError::WriterStopped.into()),
        };
        // The caller may have gone away (client disconnected); the write stands regardless.
        let _ = self.reply.send(result);
    }
}

/// What the writer has done since start (read by logs and metrics).
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Bumped after every successful commit, before anyone is answered: a reader that sees the
    /// same generation twice knows nothing was committed in between.
    pub generation: AtomicU64,
    pub batches: AtomicU64,
    pub writes: AtomicU64,
    /// Time spent running jobs, and committing (fsync included), in microseconds.
    pub run_micros: AtomicU64,
    pub commit_micros: AtomicU64,
    /// Empty commits that saved redb's allocator state when the writer fell idle (see [`run`]).
    pub checkpoints: AtomicU64,
}

impl WriterStats {
    fn record(&self, writes: usize, run: std::time::Duration, commit: std::time::Duration) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.writes.fetch_add(writes as u64, Ordering::Relaxed);
        self.run_micros.fetch_add(run.as_micros() as u64, Ordering::Relaxed);
        self.commit_micros.fetch_add(commit.as_micros() as u64, Ordering::Relaxed);
    }
}

/// How long the writer waits, after a commit, before saving redb's allocator state (see [`run`]).
const CHECKPOINT_IDLE: Duration = Duration::from_millis(50);

/// The writer thread's loop: runs until every sender is dropped, then returns.
///
/// **Crash recovery.** After a crash (`kill -9`, power loss) redb must rebuild its allocator
/// state before the store opens, by walking every page: about 18 s for a 6.4 GB store (10 million
/// audit entries) on this project's machine. A commit with redb's quick repair saves that state,
/// so the next open is immediate, but it is a two-phase commit (a second fsync), which would slow
/// every batch under load. So batches commit without it, and once no job has arrived for
/// [`CHECKPOINT_IDLE`] after a commit, the writer makes an empty commit with quick repair. A
/// crash while the writer is idle, or after the end of a burst, opens at once; only a crash in
/// the middle of a burst (or within 50 ms of its end) pays the full walk on the next start.
pub(super) fn run(
    db: Arc<redb::Database>,
    sealer: Option<Arc<Sealer>>,
    mut jobs: mpsc::Receiver<BoxedJob>,
    stats: Arc<WriterStats>,
) {
    // A clock to wait on the queue with a timeout; without one, no checkpoints (still correct).
    let timer = tokio::runtime::Builder::new_current_thread().enable_time().build().ok();
    // Whether the last commit saved the allocator state (an open store starts from a clean one).
    let mut saved = true;
    loop {
        let first = match (&timer, saved) {
            (Some(timer), false) => {
                // The timeout is made inside `block_on`: its timer needs the runtime's context.
                let waited = timer
                    .block_on(async { tokio::time::timeout(CHECKPOINT_IDLE, jobs.recv()).await });
                match waited {
                    Ok(job) => job,
                    Err(_) => {
                        saved = checkpoint(&db, &stats);
                        continue;
                    }
                }
            }
            _ => jobs.blocking_recv(),
        };
        let Some(first) = first else { return };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&db, sealer.as_deref(), batch, &stats);
        saved = false;
    }
}

/// An empty commit that saves redb's allocator state (quick repair); whether it did.
fn checkpoint(db: &redb::Database, stats: &WriterStats) -> bool {
    let saved = db.begin_write().map_err(|e| e.to_string()).and_then(|mut txn| {
        txn.set_quick_repair(true);
        txn.commit().map_err(|e| e.to_string())
    });
    match saved {
        Ok(()) => {
            stats.checkpoints.fetch_add(1, Ordering::Relaxed);
            true
        }
        Err(e) => {
            // Nothing is lost: the next start repairs the long way.
            tracing::warn!(error = %e, "could not save the store's allocator state");
            false
        }
    }
}

fn commit_batch(
    db: &redb::Database,
    sealer: Option<&Sealer>,
    mut pending: Vec<BoxedJob>,
    stats: &WriterStats,
) {
    loop {
        let txn = match db.begin_write() {
            Ok(txn) => txn,
            Err(e) => {
                let msg = e.to_string();
                tracing::error!(error = %msg, "cannot begin write transaction");
                pending.into_iter().for_each(|job| job.finish(Err(msg.clone())));
                return;
            }
        };
        let started = Instant::now();
        let poisoned = {
            let tx = WriteTx::new(&txn, sealer);
            pending.iter_mut().position(|job| matches!(job.run(&tx), Ran::Poisoned))
        };
        if let Some(i) = poisoned {
            // Roll back everything; the poisoned job gets its own error, the rest run again.
            drop(txn);
            let job = pending.remove(i);
            job.finish(Ok(()));
            if pending.is_empty() {
                return;
            }
            continue;
        }
        let ran = started.elapsed();
        let commit = txn.commit().map_err(|e| e.to_string());
        stats.record(pending.len(), ran, started.elapsed() - ran);
        if commit.is_ok() {
            stats.generation.fetch_add(1, Ordering::Release);
        }
        if let Err(msg) = &commit {
            tracing::error!(error = %msg, "commit failed; {} writes rejected", pending.len());
        }
        pending.into_iter().for_each(|job| job.finish(commit.clone()));
        return;
    }
}
