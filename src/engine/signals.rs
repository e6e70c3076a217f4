//! How the workers that follow committed automation hear of it: event streams wait for a new
//! commit of events, the outbox for new deliveries. Signals are hints, never data: a listener
//! always reads what happened from the store.

use std::sync::Arc;

use tokio::sync::{Notify, watch};

pub struct Signals {
    /// Bumped after every commit that recorded events.
    events: watch::Sender<u64>,
    /// Wakes the outbox worker.
    outbox: Arc<Notify>,
}

impl Signals {
    pub fn new(outbox: Arc<Notify>) -> Self {
        Self { events: watch::Sender::new(0), outbox }
    }

    /// Call after a commit that recorded events, and (`deliveries`) queued outbox deliveries.
    pub fn recorded(&self, deliveries: bool) {
        self.events.send_modify(|n| *n = n.wrapping_add(1));
        if deliveries {
            self.outbox.notify_one();
        }
    }

    /// Changes after each commit that recorded events.
    pub fn events(&self) -> watch::Receiver<u64> {
        self.events.subscribe()
    }
}
