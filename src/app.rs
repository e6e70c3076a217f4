//! The composition root: the one place that builds the appliance's parts and wires them
//! together, starts its background workers and stops them in order.
//!
//! ```text
//! Store ─┬─ Search ── Indexer (thread)
//!        ├─ Outbox (worker) ◀── Signals ──▶ event streams
//!        ├─ Scheduler (worker) with sched::Deps
//!        └─ api::State (every HTTP handler)
//! ```
//!
//! **Invariant:** every worker started here is joined by [`App::shutdown`], which stops them in
//! the order that loses nothing: the HTTP side has drained before it is called, then the outbox
//! and the scheduler stop and are joined, then the indexer indexes what is left and stops, then
//! the store's writer finishes its queue and closes.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::State;
use crate::engine::outbox::Outbox;
use crate::engine::{Policy, Signals};
use crate::metrics::Metrics;
use crate::sched::{self, Scheduler};
use crate::search::{Indexer, Search, SearchError};
use crate::settings::{Secret, Settings};
use crate::store::sealed::{KeyOrigin, Sealer};
use crate::store::{Store, StoreError};
use crate::upstream::Upstream;
use crate::upstream::health::IntegrationHealth;

/// The running appliance, minus its listeners (`spar serve` owns those).
pub struct App {
    state: Arc<State>,
    store: Store,
    search: Arc<Search>,
    outbox: Arc<Outbox>,
    scheduler: Arc<Scheduler>,
    closing: watch::Sender<bool>,
    indexer: Option<Indexer>,
    workers: Vec<(&'static str, JoinHandle<()>)>,
}

/// Why the appliance did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Index(SearchError),
    #[error("cannot start the indexer: {0}")]
    Indexer(std::io::Error),
}

impl App {
    /// Opens the store and its search indexes in `data_dir` and wires every part. Nothing runs
    /// in the background until [`App::start_workers`].
    pub fn open(data_dir: &Path, settings: Settings) -> Result<Self, StartError> {
        let key = settings.secret_key.as_ref().map(Secret::expose);
        let (sealer, origin) = Sealer::for_data_dir(data_dir, key).map_err(StartError::Store)?;
        let store = Store::open_sealed(data_dir, sealer).map_err(|e| {
            if let KeyOrigin::Made(path) = &origin {
                // A key made for a store that already has another would only mislead.
                let _ = std::fs::remove_file(path);
            }
            StartError::Store(e)
        })?;
        if let KeyOrigin::Made(path) = origin {
            tracing::info!(key = %path.display(), "made the key stored credentials are sealed with: back it up with the store");
        }
        let search = Arc::new(Search::open(data_dir, &store).map_err(StartError::Index)?);
        Ok(Self::assemble(store, search, settings))
    }

    fn assemble(store: Store, search: Arc<Search>, settings: Settings) -> Self {
        let upstream = Upstream::new(
            settings.upstream_timeout,
            &settings.egress_allow,
            settings.ca_file.as_ref(),
        );
        let outbox = Arc::new(Outbox::new(store.clone(), settings.clone(), upstream.clone()));
        let signals = Arc::new(Signals::new(outbox.waker()));
        let policy = Policy::from_settings(&settings);
        let integrations = Arc::new(IntegrationHealth::default());
        let scheduler = Arc::new(Scheduler::new(sched::Deps {
            store: store.clone(),
            search: Arc::clone(&search),
            settings: settings.clone(),
            upstream: upstream.clone(),
            policy,
            signals: Arc::clone(&signals),
            integrations: Arc::clone(&integrations),
        }));
        let closing = watch::Sender::new(false);
        let state = Arc::new(State {
            store: store.clone(),
            search: Arc::clone(&search),
            chat: outbox.chat().clone(),
            settings,
            upstream,
            policy,
            signals,
            scheduler: Arc::clone(&scheduler),
            integrations,
            metrics: Arc::new(Metrics::default()),
            started: Instant::now(),
            list_cache: Default::default(),
            verifications: tokio::sync::Semaphore::new(1),
            closing: closing.subscribe(),
        });
        Self {
            state,
            store,
            search,
            outbox,
            scheduler,
            closing,
            indexer: None,
            workers: Vec::new(),
        }
    }

    /// What the HTTP handlers reach.
    pub fn state(&self) -> Arc<State> {
        Arc::clone(&self.state)
    }

    /// Creates the scheduler's missing built-in tasks, then starts the indexer, the outbox and
    /// the scheduler. Needs a tokio runtime.
    pub async fn start_workers(&mut self) -> Result<(), StartError> {
        self.scheduler.ensure_built_ins().await.map_err(StartError::Store)?;
        let indexer = Indexer::start(Arc::clone(&self.search), self.store.clone())
            .map_err(StartError::Indexer)?;
        self.indexer = Some(indexer);
        let outbox = Arc::clone(&self.outbox).run(self.closing.subscribe());
        self.workers.push(("outbox", tokio::spawn(outbox)));
        let scheduler = sched::run(Arc::clone(&self.scheduler), self.closing.subscribe());
        self.workers.push(("scheduler", tokio::spawn(scheduler)));
        Ok(())
    }

    /// Turns true when shutdown begins (event streams and the admin listener follow it).
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Tells every listener of [`App::closing`] that the server is stopping: event streams end,
    /// so their connections can drain.
    pub fn begin_shutdown(&self) {
        self.closing.send_replace(true);
    }

    /// Stops everything in order (see the module doc) and closes the store.
    pub async fn shutdown(mut self) {
        self.begin_shutdown();
        for (name, worker) in self.workers.drain(..) {
            if let Err(e) = worker.await {
                tracing::error!(worker = name, error = %e, "a worker ended abnormally");
            }
        }
        // The indexer indexes what is left and the writer drains its queue: both join
        // threads, so off the async workers.
        let (indexer, store) = (self.indexer.take(), self.store.clone());
        let stopped = tokio::task::spawn_blocking(move || {
            if let Some(indexer) = indexer {
                indexer.stop();
            }
            store.close();
        });
        if let Err(e) = stopped.await {
            tracing::error!(error = %e, "the indexer or the store did not stop cleanly");
        }
    }

    /// The store's group-commit counters.
    pub fn store(&self) -> &Store {
        &self.store
    }
}
