//! The scheduler (docs/API.md §2.15): recurring tasks driven by tokio-cron-scheduler, defined in redb.
//!
//! The `tasks` table is the truth: the API writes it and calls [`Scheduler::changed`]; the
//! runtime ([`run`]) then adds a timer job for each task it has no job for and removes the jobs of
//! deleted tasks. A tick reads the task again, so pausing (`enabled: false`) keeps the timer and
//! skips the runs.
//!
//! **Invariants**
//! - A task never runs twice at once: [`Scheduler::start_run`] is the only way into a run, and a
//!   tick that finds its task still running is skipped.
//! - A run's failure is recorded on its task (`errors`, `lastError`) and stops nothing else.
//! - Built-ins missing from the store (never created, or deleted) are created at start, before
//!   the server reports ready ([`ensure_built_ins`]).

mod actions;
pub use actions::host_of;
pub mod retention;
pub mod task;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio_cron_scheduler::{Job, JobScheduler};
use uuid::Uuid;

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

/// What the API and the runtime share.
pub struct Scheduler {
    deps: Deps,
    changed: Notify,
    running: Mutex<HashSet<TaskKey>>,
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
            running: Mutex::new(HashSet::new()),
            next_runs: Mutex::new(HashMap::new()),
            time_scale,
        }
    }

    /// Tells the runtime the `tasks` table changed (call after the commit).
    pub fn changed(&self) {
        self.changed.notify_one();
    }

    /// When the task's timer fires next, if it has one.
    pub fn next_run(&self, key: &TaskKey) -> Option<i64> {
        self.next_runs.lock().ok().and_then(|n| n.get(key).copied())
    }

    /// Whether a run of the task is under way.
    pub fn is_running(&self, key: &TaskKey) -> bool {
        self.running.lock().is_ok_and(|r| r.contains(key))
    }

    /// Marks the task running, unless it already is.
    pub fn start_run(&self, key: &TaskKey) -> Result<RunGuard<'_>, Busy> {
        let mut running = self.running.lock().map_err(|_| Busy)?;
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
            Err(e) => return Ok(Err(e.to_string())),
        };
        let outcome = actions::run(&self.deps, &task).await;
        if let Err(e) = &outcome {
            tracing::warn!(org = key.org, task = key.name, error = %e, "scheduled task failed");
        }
        if let Err(e) = record_outcome(&self.deps.store, key, started, &outcome).await {
            tracing::error!(org = key.org, task = key.name, error = %e, "cannot record a task run");
        }
        drop(guard);
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

/// The runtime: keeps one timer job per stored task until `closing` turns true.
pub async fn run(scheduler: Arc<Scheduler>, mut closing: watch::Receiver<bool>) {
    // A small channel size: Spar adds a handful of jobs, and the default (200 per channel,
    // over a dozen channels) costs about 2 MB of resident memory for nothing.
    let mut timers = match JobScheduler::new_with_channel_size(16).await {
        Ok(timers) => timers,
        Err(e) => {
            tracing::error!(error = %e, "scheduler: cannot start");
            return;
        }
    };
    if let Err(e) = timers.start().await {
        tracing::error!(error = %e, "scheduler: cannot start");
        return;
    }
    let mut jobs: HashMap<TaskKey, (Uuid, Timing)> = HashMap::new();
    loop {
        reconcile(&scheduler, &timers, &mut jobs).await;
        tokio::select! {
            () = scheduler.changed.notified() => {}
            _ = closing.wait_for(|c| *c) => break,
        }
    }
    let _ = timers.shutdown().await;
}

/// Adds a timer for every stored task without one, and removes the timers of deleted tasks and
/// of tasks whose timing changed (deleted and created again under the same name).
async fn reconcile(
    scheduler: &Arc<Scheduler>,
    timers: &JobScheduler,
    jobs: &mut HashMap<TaskKey, (Uuid, Timing)>,
) {
    let stored = match scheduler.deps.store.read().and_then(|r| tasks::all(&r)) {
        Ok(stored) => stored,
        Err(e) => {
            tracing::error!(error = %e, "scheduler: cannot read the tasks");
            return;
        }
    };
    let current: HashMap<TaskKey, Timing> =
        stored.iter().map(|t| (TaskKey::of(t), Timing::of(t))).collect();
    let stale: Vec<TaskKey> = jobs
        .iter()
        .filter(|(key, (_, timing))| current.get(*key) != Some(timing))
        .map(|(key, _)| key.clone())
        .collect();
    for key in stale {
        if let Some((id, _)) = jobs.remove(&key) {
            let _ = timers.remove(&id).await;
        }
        scheduler.set_next_run(&key, None);
    }
    for task in &stored {
        let key = TaskKey::of(task);
        if jobs.contains_key(&key) {
            continue;
        }
        match add_timer(scheduler, timers, task).await {
            Ok(id) => {
                jobs.insert(key.clone(), (id, Timing::of(task)));
                let next = next_tick(timers, id).await;
                scheduler.set_next_run(&key, next);
            }
            Err(e) => tracing::error!(task = task.name, error = %e, "scheduler: cannot add"),
        }
    }
}

async fn add_timer(
    scheduler: &Arc<Scheduler>,
    timers: &JobScheduler,
    task: &TaskRecord,
) -> Result<Uuid, tokio_cron_scheduler::JobSchedulerError> {
    let key = TaskKey::of(task);
    let timing = Timing::of(task);
    let scheduler = Arc::clone(scheduler);
    let period = match timing {
        Timing::Every(ms) => scheduler.period(ms),
        Timing::Cron(_) => Duration::ZERO,
    };
    let on_tick = move |id: Uuid, timers: JobScheduler| {
        let scheduler = Arc::clone(&scheduler);
        let key = key.clone();
        Box::pin(async move { tick(&scheduler, &key, id, timers).await })
            as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
    };
    let job = match timing {
        Timing::Cron(expr) => Job::new_async(expr, on_tick)?,
        Timing::Every(_) => Job::new_repeated_async(period, on_tick)?,
    };
    timers.add(job).await
}

/// One timer tick: run the task unless it is paused, deleted or still running.
async fn tick(scheduler: &Scheduler, key: &TaskKey, id: Uuid, mut timers: JobScheduler) {
    let next = timers.next_tick_for_job(id).await.ok().flatten().map(|t| t.timestamp_millis());
    scheduler.set_next_run(key, next);
    let enabled = scheduler
        .deps
        .store
        .read()
        .and_then(|r| tasks::get(&r, &key.org, &key.name))
        .ok()
        .flatten()
        .is_some_and(|t| t.enabled);
    if !enabled {
        return;
    }
    if scheduler.run_now(key).await.is_err() {
        tracing::info!(org = key.org, task = key.name, "previous run still going: tick skipped");
    }
}

async fn next_tick(timers: &JobScheduler, id: Uuid) -> Option<i64> {
    let mut timers = timers.clone();
    timers.next_tick_for_job(id).await.ok().flatten().map(|t| t.timestamp_millis())
}
