//! The outcome of each org's last call to each integration: a live signal for the status
//! endpoint and the health check, not history (the audit trail has the history of
//! configuration), so it is kept in memory.

use std::collections::HashMap;
use std::sync::Mutex;

use super::UpstreamError;
use crate::clock;

#[derive(Default)]
pub struct IntegrationHealth {
    calls: Mutex<HashMap<(String, String), LastCall>>,
}

#[derive(Clone, Default)]
pub struct LastCall {
    pub last_sync_ms: Option<i64>,
    pub error: Option<String>,
}

impl IntegrationHealth {
    pub fn record<T>(&self, org: &str, name: &'static str, result: &Result<T, UpstreamError>) {
        let Ok(mut calls) = self.calls.lock() else { return };
        let entry = calls.entry((org.to_owned(), name.to_owned())).or_default();
        match result {
            Ok(_) => {
                entry.last_sync_ms = Some(clock::now_ms());
                entry.error = None;
            }
            Err(e) => entry.error = Some(e.to_string()),
        }
    }

    pub fn forget(&self, org: &str, name: &str) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.remove(&(org.to_owned(), name.to_owned()));
        }
    }

    /// `(org, integration)` whose last call failed.
    pub fn failing(&self) -> Vec<(String, String)> {
        let calls = self.calls.lock().ok();
        let failing = calls.iter().flat_map(|c| c.iter()).filter(|(_, call)| call.error.is_some());
        failing.map(|(key, _)| key.clone()).collect()
    }

    pub fn get(&self, org: &str, name: &str) -> LastCall {
        let calls = self.calls.lock().ok();
        calls.and_then(|c| c.get(&(org.to_owned(), name.to_owned())).cloned()).unwrap_or_default()
    }
}
