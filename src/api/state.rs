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

impl State {
    /// This server's base URL as clients should call it (ingest URLs, the agent card's `url`):
    /// `WEBHOOK_BASE_URL` when set; else the host this request reached (an address its client
    /// can reach, unlike a listen address of `0.0.0.0`); else the listen address. Computed per
    /// answer, never stored, so a client's `Host` reaches only that client.
    pub fn public_base(&self, req: &super::Request) -> String {
        if let Some(base) = &self.settings.webhook_base_url {
            return base.clone();
        }
        let plausible = |h: &&str| {
            h.len() <= 255 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        };
        match req.header("host").map(str::trim).filter(|h| !h.is_empty()).filter(plausible) {
            Some(host) => format!("http://{host}"),
            None => self.settings.public_base_url(),
        }
    }
}
