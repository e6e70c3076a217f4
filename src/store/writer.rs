//! Group commit. One thread owns the write side of redb. Concurrent writers queue jobs; the thread
//! takes every job waiting, runs them in one transaction, commits once (one fsync), and only
//! then answers each job. So a write is durable before anyone is told it succeeded, and the cost
//! of an fsync is shared by everyone who arrived while the previous one ran.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

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
}

impl WriterStats {
    fn record(&self, writes: usize, run: std::time::Duration, commit: std::time::Duration) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.writes.fetch_add(writes as u64, Ordering::Relaxed);
        self.run_micros.fetch_add(run.as_micros() as u64, Ordering::Relaxed);
        self.commit_micros.fetch_add(commit.as_micros() as u64, Ordering::Relaxed);
    }
}

/// The writer thread's loop: runs until every sender is dropped, then returns.
pub(super) fn run(
    db: Arc<redb::Database>,
    sealer: Option<Arc<Sealer>>,
    mut jobs: mpsc::Receiver<BoxedJob>,
    stats: Arc<WriterStats>,
) {
    while let Some(first) = jobs.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&db, sealer.as_deref(), batch, &stats);
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
