//! Sentry webhook payloads of every resource: reading them never panics, whatever the bytes.
//! The first byte picks the resource; the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spar::engine::sentry::{Parsed, parse};

const RESOURCES: [&str; 4] = ["issue", "event_alert", "metric_alert", "installation"];

fuzz_target!(|data: &[u8]| {
    let Some((&first, payload)) = data.split_first() else { return };
    let resource = RESOURCES[usize::from(first) % RESOURCES.len()];
    if let Ok(Parsed::Alert(a) | Parsed::Resolved(a)) = parse(resource, payload) {
        let _ = (a.severity(), a.group_key(), a.fingerprint());
    }
});
