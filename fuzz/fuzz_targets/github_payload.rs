//! GitHub payloads of every handled event (and one unhandled): reading them never panics,
//! whatever the bytes. The first byte picks the event; the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spar::engine::github::{Parsed, parse};

const EVENTS: [&str; 6] = ["ping", "push", "pull_request", "workflow_run", "check_run", "star"];

fuzz_target!(|data: &[u8]| {
    let Some((&first, payload)) = data.split_first() else { return };
    let event = EVENTS[usize::from(first) % EVENTS.len()];
    if let Ok(Parsed::Ci(ci)) = parse(event, payload) {
        let _ = (ci.event_type(), ci.fingerprint(), ci.is_build_failure());
    }
});
