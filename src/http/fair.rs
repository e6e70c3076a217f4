//! What one client may hold open at once: connections and event streams (docs/API.md §1.7), so
//! one address cannot take every slot the server has.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::client::ClientKey;

/// Open things per client, at most `cap` each.
pub struct PerClient {
    cap: usize,
    open: Mutex<HashMap<ClientKey, usize>>,
}

/// One open thing of one client; dropping it frees the place.
pub struct Slot {
    owner: Arc<PerClient>,
    key: ClientKey,
}

impl PerClient {
    /// `None` when `cap` is 0 (no per-client cap).
    pub fn new(cap: usize) -> Option<Arc<Self>> {
        (cap > 0).then(|| Arc::new(Self { cap, open: Mutex::new(HashMap::new()) }))
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// A place for `key`, unless it already holds `cap`.
    pub fn take(self: &Arc<Self>, key: ClientKey) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let held = open.entry(key).or_insert(0);
        if *held >= self.cap {
            return None;
        }
        *held += 1;
        Some(Slot { owner: Arc::clone(self), key })
    }

    /// Clients holding at least one place (the map never keeps a client at zero).
    #[cfg(test)]
    fn clients(&self) -> usize {
        self.open.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.owner.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = open.get_mut(&self.key) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_holds_at_most_its_cap_and_dropping_frees_a_place() {
        let caps = PerClient::new(2).expect("on");
        let a = ClientKey::of("192.0.2.1".parse().expect("ip"));
        let b = ClientKey::of("192.0.2.2".parse().expect("ip"));
        let first = caps.take(a).expect("first");
        let _second = caps.take(a).expect("second");
        assert!(caps.take(a).is_none());
        assert!(caps.take(b).is_some(), "another client has its own places");
        drop(first);
        assert!(caps.take(a).is_some());
        assert!(PerClient::new(0).is_none());
    }

    #[test]
    fn clients_at_zero_are_forgotten() {
        let caps = PerClient::new(1).expect("on");
        let slot = caps.take(ClientKey::of("192.0.2.9".parse().expect("ip")));
        assert_eq!(caps.clients(), 1);
        drop(slot);
        assert_eq!(caps.clients(), 0);
    }
}
