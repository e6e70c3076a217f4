//! The scheduler (docs/API.md §2.15): recurring tasks defined in redb, timed by
//! tokio-cron-scheduler.
//!
//! The `tasks` table is the truth: the API writes it and calls [`Scheduler::changed`]; the
//! runtime ([`run`]) then arms one timer per enabled task and disarms the timers of deleted and
//! paused tasks.
//!
//! **A task's next run is computed from what the store says**, never from when the process
//! started: an interval task runs one period after its stored `lastRun` (or its creation, never
//! run), a cron task at its first fire after that ([`task::Timing::next_after`]). So a restart
//! neither delays a task nor repeats it, and a task overdue at start (it missed runs while the
//! server was down) runs once, at once, however many runs it missed.
//!
//! tokio-cron-scheduler is the clock: one repeated job, added at start and never removed, beats
//! once a second, and the runtime starts the tasks due by then. Its own repeated and cron jobs
//! cannot carry the schedule: they count from the moment they are added and keep no state
//! across restarts (short of its Postgres or NATS job stores, services an appliance does not
//! have). One-shot jobs at computed instants could, but each run and each change would remove
//! and add jobs, at a resolution of whole seconds truncated; one beat and the due times kept
//! here ([`Scheduler::next_run`]) put the whole schedule in one place.
//!
//! **Invariants**
//! - A task never runs twice at once: [`Scheduler::start_run`] is the only way into a run, and a
//!   tick that finds its task still running is skipped.
//! - A run's failure is recorded on its task (`errors`, `lastError`) and stops nothing else.
//! - Built-ins missing from the store (never created, or deleted) are created at start, before
//!   the server reports ready ([`Scheduler::ensure_built_ins`]).
//! - [`run`] returns only when the runs it started ended (or after [`RUN_DRAIN`]): a run's
//!   outcome is recorded before the store closes. Runs are tasks of its `JoinSet`, none is
//!   detached.

mod actions;
pub use actions::host_of;
pub mod retention;
pub mod task;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::clock;
use crate::engine::{Policy, Signals};
use crate::search::Search;
use crate::settings::Settings;
use crate::store::records::TaskRecord;
use crate::store::{Store, StoreError, tasks};
use crate::upstream::Upstream;
use crate::upstream::health::IntegrationHealth;
use task::{TaskKey, Timing};

/// What task actions reach: the scheduler's narrow view of the appliance.
pub struct Deps {
    pub store: Store,
    pub search: Arc<Search>,
    pub settings: Settings,
    pub upstream: Upstream,
    pub policy: Policy,
    pub signals: Arc<Signals>,
    pub integrations: Arc<IntegrationHealth>,
}

/// How long stopping waits for runs under way (a webhook task's call is bounded by the upstream
/// timeout, 10 s by default).
pub const RUN_DRAIN: Duration = Duration::from_secs(15);
/// How often the clock beats: the resolution of every schedule (the shortest is 10 s).
const HEARTBEAT: Duration = Duration::from_secs(1);

/// What the API and the runtime share.
pub struct Scheduler {
    deps: Deps,
    changed: Notify,
    /// Beaten by the clock job once a second.
    heartbeat: Arc<Notify>,
    running: Mutex<HashSet<TaskKey>>,
    /// Set when stopping: no run starts any more.
    closing: AtomicBool,
    /// Tasks that just ran: the runtime computes their next run again.
    ran: Mutex<HashSet<TaskKey>>,
    /// Whether `changed` asked for every task to be read again (the API changed the table).
    reread: AtomicBool,
    /// When each enabled task runs next (Unix ms): the schedule itself.
    next_runs: Mutex<HashMap<TaskKey, i64>>,
    /// Divides interval periods (tests only; see `Settings::scheduler_time_scale`).
    time_scale: u32,
}

/// Why a run did not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// Held while a task runs; the task can run again once it is dropped.
pub struct RunGuard<'a> {
    scheduler: &'a Scheduler,
    key: TaskKey,
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut running) = self.scheduler.running.lock() {
            running.remove(&self.key);
        }
    }
}

impl Scheduler {
    /// Interval tasks run `settings.scheduler_time_scale` times faster (tests only).
    pub fn new(deps: Deps) -> Self {
        let time_scale = deps.settings.scheduler_time_scale.max(1);
        Self {
            deps,
            changed: Notify::new(),
            heartbeat: Arc::new(Notify::new()),
            running: Mutex::new(HashSet::new()),
            closing: AtomicBool::new(false),
            ran: Mutex::new(HashSet::new()),
            reread: AtomicBool::new(true),
            next_runs: Mutex::new(HashMap::new()),
            time_scale,
        }
    }

    /// Tells the runtime the `tasks` table changed (call after the commit).
    pub fn changed(&self) {
        self.reread.store(true, Ordering::Release);
        self.changed.notify_one();
    }

    /// When the task runs next (Unix ms), `None` when paused or never again: what the
    /// heartbeat computed, else, for a task it has not seen yet (just created or changed) or one
    /// running now, the same computation from its record, so an answer never shows a task
    /// without its next run.
    pub fn next_run(&self, task: &TaskRecord) -> Option<i64> {
        if !task.enabled {
            return None;
        }
        let key = TaskKey::of(task);
        if let Some(at) = self.next_runs.lock().ok().and_then(|n| n.get(&key).copied()) {
            return Some(at);
        }
        let now = clock::now_ms();
        if self.is_running(&key) {
            // The run under way counts as the last one.
            let ran_now = TaskRecord { last_run_ms: Some(now), ..task.clone() };
            return self.due_at(&ran_now, now);
        }
        self.due_at(task, now)
    }

    /// Whether a run of the task is under way.
    pub fn is_running(&self, key: &TaskKey) -> bool {
        self.running.lock().is_ok_and(|r| r.contains(key))
    }

    /// Marks the task running, unless it already is (or the scheduler is stopping).
    pub fn start_run(&self, key: &TaskKey) -> Result<RunGuard<'_>, Busy> {
        let mut running = self.running.lock().map_err(|_| Busy)?;
        if self.closing.load(Ordering::Acquire) {
            return Err(Busy);
        }
        if !running.insert(key.clone()) {
            return Err(Busy);
        }
        Ok(RunGuard { scheduler: self, key: key.clone() })
    }

    fn set_next_run(&self, key: &TaskKey, at: Option<i64>) {
        if let Ok(mut next) = self.next_runs.lock() {
            match at {
                Some(at) => next.insert(key.clone(), at),
                None => next.remove(key),
            };
        }
    }

    /// The timer period of an interval task, scaled for tests; at least a second, the timer's
    /// resolution.
    fn period(&self, interval_ms: u64) -> Duration {
        Duration::from_millis((interval_ms / u64::from(self.time_scale)).max(1000))
    }

    /// When `task` runs next (Unix ms), from its stored last run; `None` for a cron expression
    /// that never fires again. An overdue task is due now.
    fn due_at(&self, task: &TaskRecord, now_ms: i64) -> Option<i64> {
        let timing = Timing::of(task);
        let period = match timing {
            Timing::Every(ms) => self.period(ms),
            Timing::Cron(_) => Duration::ZERO,
        };
        let base = task.last_run_ms.unwrap_or(task.created_at_ms);
        timing.next_after(base, period).map(|due| due.max(now_ms))
    }

    /// Tells the runtime `key` ran: its next run counts from this one.
    fn ran(&self, key: &TaskKey) {
        if let Ok(mut ran) = self.ran.lock() {
            ran.insert(key.clone());
        }
        self.changed.notify_one();
    }
}

impl Scheduler {
    /// Runs `key` now: the action, then the task's counters. `Err(Busy)` when it is already
    /// running.
    pub async fn run_now(&self, key: &TaskKey) -> Result<Result<(), String>, Busy> {
        let guard = self.start_run(key)?;
        let started = clock::now_ms();
        let task = match self.deps.store.read().and_then(|r| tasks::get(&r, &key.org, &key.name)) {
            Ok(Some(task)) => task,
            Ok(None) => return Ok(Err("the task was deleted".into())),
            Err(e) => {
                tracing::warn!(org = key.org, task = key.name, error = %e, "scheduler: task run failed: cannot read the task");
                return Ok(Err(e.to_string()));
            }
        };
        let outcome = actions::run(&self.deps, &task).await;
        if let Err(e) = &outcome {
            // The message recorded as the task's `lastError`: what an operator can act on.
            tracing::warn!(org = key.org, task = key.name, error = %e, "scheduler: task run failed");
        }
        if let Err(e) = record_outcome(&self.deps.store, key, started, &outcome).await {
            tracing::error!(org = key.org, task = key.name, error = %e, "cannot record a task run");
        }
        drop(guard);
        self.ran(key);
        Ok(outcome)
    }

    /// Creates the built-ins missing from the store. `spar serve` calls it before it reports
    /// ready, so the first `GET /api/scheduler` already lists them.
    pub async fn ensure_built_ins(&self) -> Result<(), StoreError> {
        let created = self
            .deps
            .store
            .write(|tx| {
                let mut created = Vec::new();
                for task in task::built_ins(clock::now_ms()) {
                    if tasks::get(tx, &task.org_id, &task.name)?.is_none() {
                        tasks::create_built_in(tx, &task)?;
                        created.push(task.name);
                    }
                }
                Ok::<_, StoreError>(created)
            })
            .await?;
        if !created.is_empty() {
            tracing::info!(tasks = ?created, "scheduler: created the missing built-in tasks");
        }
        Ok(())
    }
}

/// Adds the run to the task's counters (if the task still exists).
async fn record_outcome(
    store: &Store,
    key: &TaskKey,
    started: i64,
    outcome: &Result<(), String>,
) -> Result<(), StoreError> {
    let key = key.clone();
    let outcome = outcome.clone();
    store
        .write(move |tx| {
            let Some(mut task) = tasks::get(tx, &key.org, &key.name)? else { return Ok(()) };
            task.last_run_ms = Some(started);
            match &outcome {
                Ok(()) => task.run_count += 1,
                Err(e) => {
                    task.errors += 1;
                    task.last_error = Some(e.clone());
                }
            }
            tasks::record_run(tx, &task)
        })
        .await
}

/// The runtime: starts each enabled task when it is due, until `closing` turns true, then
/// waits (at most [`RUN_DRAIN`]) for the runs it started.
pub async fn run(scheduler: Arc<Scheduler>, mut closing: watch::Receiver<bool>) {
    let clock = match start_clock(&scheduler).await {
        Ok(clock) => clock,
        Err(e) => {
            tracing::error!(error = %e, "scheduler: cannot start its clock");
            return;
        }
    };
    let mut runs = JoinSet::new();
    loop {
        reschedule(&scheduler);
        start_due(&scheduler, &mut runs);
        tokio::select! {
            () = scheduler.changed.notified() => {}
            () = scheduler.heartbeat.notified() => {}
            Some(_) = runs.join_next() => {}
            _ = closing.wait_for(|c| *c) => break,
        }
    }
    scheduler.closing.store(true, Ordering::Release);
    let mut clock = clock;
    let _ = clock.shutdown().await;
    let drained =
        tokio::time::timeout(RUN_DRAIN, async { while runs.join_next().await.is_some() {} });
    if drained.await.is_err() {
        tracing::warn!(
            runs = runs.len(),
            "scheduler: task runs still going after {RUN_DRAIN:?}; stopping without them"
        );
        runs.abort_all();
    }
}

/// tokio-cron-scheduler with one job: a beat of [`Scheduler::heartbeat`] every [`HEARTBEAT`].
async fn start_clock(
    scheduler: &Scheduler,
) -> Result<JobScheduler, tokio_cron_scheduler::JobSchedulerError> {
    // A small channel size: Spar adds one job, and the default (200 per channel, over a dozen
    // channels) costs about 2 MB of resident memory for nothing.
    let clock = JobScheduler::new_with_channel_size(16).await?;
    let beat = Arc::clone(&scheduler.heartbeat);
    clock
        .add(Job::new_repeated_async(HEARTBEAT, move |_, _| {
            let beat = Arc::clone(&beat);
            Box::pin(async move { beat.notify_one() })
        })?)
        .await?;
    clock.start().await?;
    Ok(clock)
}

/// Brings the schedule up to date with the store: every task after the API changed the table,
/// else the tasks that just ran.
fn reschedule(scheduler: &Scheduler) {
    let ran = scheduler.ran.lock().map(|mut r| std::mem::take(&mut *r)).unwrap_or_default();
    let everything = scheduler.reread.swap(false, Ordering::AcqRel);
    if !everything && ran.is_empty() {
        return;
    }
    let read = scheduler.deps.store.read();
    let stored: Result<Vec<TaskRecord>, StoreError> = if everything {
        read.and_then(|r| tasks::all(&r))
    } else {
        read.and_then(|r| {
            let found: Result<Vec<_>, _> =
                ran.iter().map(|k| tasks::get(&r, &k.org, &k.name)).collect();
            found.map(|f| f.into_iter().flatten().collect())
        })
    };
    let stored = match stored {
        Ok(stored) => stored,
        Err(e) => {
            tracing::error!(error = %e, "scheduler: cannot read the tasks");
            // Try again at the next change or run.
            scheduler.reread.store(true, Ordering::Release);
            return;
        }
    };
    let now = clock::now_ms();
    let Ok(mut next) = scheduler.next_runs.lock() else { return };
    if everything {
        next.clear();
    } else {
        for key in &ran {
            next.remove(key);
        }
    }
    for task in stored.iter().filter(|t| t.enabled) {
        match scheduler.due_at(task, now) {
            Some(due) => {
                next.insert(TaskKey::of(task), due);
            }
            None => tracing::warn!(task = task.name, "scheduler: its schedule never fires again"),
        }
    }
}

/// Starts every task due by now that is not running already.
fn start_due(scheduler: &Arc<Scheduler>, runs: &mut JoinSet<()>) {
    if scheduler.closing.load(Ordering::Acquire) {
        return;
    }
    let now = clock::now_ms();
    let due: Vec<TaskKey> = match scheduler.next_runs.lock() {
        Ok(next) => next.iter().filter(|(_, at)| **at <= now).map(|(k, _)| k.clone()).collect(),
        Err(_) => return,
    };
    for key in due {
        if scheduler.is_running(&key) {
            continue;
        }
        // Until it has run (and `ran` computes its next run), it is not due again.
        scheduler.set_next_run(&key, None);
        let scheduler = Arc::clone(scheduler);
        runs.spawn(async move { tick(&scheduler, &key).await });
    }
}

/// A due task: run it, unless it was paused or deleted meanwhile.
async fn tick(scheduler: &Scheduler, key: &TaskKey) {
    let task = scheduler.deps.store.read().and_then(|r| tasks::get(&r, &key.org, &key.name));
    if !matches!(task, Ok(Some(ref t)) if t.enabled) {
        return;
    }
    if scheduler.run_now(key).await.is_err() {
        tracing::info!(org = key.org, task = key.name, "previous run still going: tick skipped");
    }
}
