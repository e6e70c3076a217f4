//! What the handlers can reach. Built by the composition root (`crate::app`), shared by every
//! connection; the workers get narrower structs of their own.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use super::cache::ResponseCache;
use super::codespar::agents::ListKey;
use crate::engine::{Policy, Signals};
use crate::metrics::Metrics;
use crate::sched::Scheduler;
use crate::search::Search;
use crate::settings::Settings;
use crate::store::Store;
use crate::upstream::Upstream;
use crate::upstream::chat::Chat;
use crate::upstream::health::IntegrationHealth;

pub struct State {
    pub store: Store,
    pub search: Arc<Search>,
    pub settings: Settings,
    pub upstream: Upstream,
    /// The chat clients (channel checks use the outbox's own).
    pub chat: Chat,
    /// The engine's settings, derived once from `settings`.
    pub policy: Policy,
    /// Tells event streams and the outbox that automation committed.
    pub signals: Arc<Signals>,
    pub scheduler: Arc<Scheduler>,
    /// Whether each org's last call to each integration failed.
    pub integrations: Arc<IntegrationHealth>,
    /// Request, webhook and rate-limit counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    pub started: Instant,
    pub(crate) list_cache: ResponseCache<ListKey>,
    /// One audit verification at a time: each reads the whole trail.
    pub(crate) verifications: tokio::sync::Semaphore,
    /// Turns true when the server shuts down: ends event streams.
    pub(crate) closing: watch::Receiver<bool>,
}
