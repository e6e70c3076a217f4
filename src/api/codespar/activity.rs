//! `GET /api/activity?minutes=` (docs/API.md §2.10): the org's events and deliveries per minute
//! over the last `minutes` (default 60, at most 1,440), for the console's overview chart.
//!
//! Reads the newest [`SCAN_LIMIT`] of each, no more: a busier window says `truncated` rather
//! than costing a scan of the whole history.

use serde_json::json;

use super::ApiError;
use crate::api::{OrgId, Request, Response, State};
use crate::clock;
use crate::store::records::EventRecord;
use crate::store::{events, outbox};

const DEFAULT_MINUTES: i64 = 60;
const MAX_MINUTES: i64 = 1_440;
/// Events, and deliveries, read per request at most.
const SCAN_LIMIT: usize = 10_000;
const MINUTE_MS: i64 = 60_000;

pub fn get(state: &State, org: &OrgId, req: &Request) -> Result<Response, ApiError> {
    let minutes = req.query.int("minutes")?.unwrap_or(DEFAULT_MINUTES);
    if !(1..=MAX_MINUTES).contains(&minutes) {
        return Err(ApiError::InvalidParameter {
            name: "minutes",
            reason: format!("must be 1 to {MAX_MINUTES}"),
        });
    }
    let now = clock::now_ms();
    // Whole minutes, the current one last.
    let end = (now / MINUTE_MS + 1) * MINUTE_MS;
    let start = end - minutes * MINUTE_MS;
    let slot = |at: i64| usize::try_from((at - start) / MINUTE_MS).ok().filter(|_| at >= start);
    let width = usize::try_from(minutes).unwrap_or(0);
    let (mut event_counts, mut delivery_counts) = (vec![0u64; width], vec![0u64; width]);
    let tx = state.store.read()?;
    // When Spar took an event in (a source's own time may be hours old); older records lack it.
    let recorded = |e: &EventRecord| match e.recorded_at_ms {
        0 => clock::parse_rfc3339(&e.occurred_at).unwrap_or(0),
        at => at,
    };
    let newest_events = events::newest(&tx, org.as_str(), SCAN_LIMIT)?;
    for at in newest_events.iter().map(recorded) {
        if let Some(n) = slot(at).and_then(|i| event_counts.get_mut(i)) {
            *n += 1;
        }
    }
    let deliveries = outbox::newest(&tx, org.as_str(), SCAN_LIMIT)?;
    for at in deliveries.iter().map(|d| d.created_at_ms) {
        if let Some(n) = slot(at).and_then(|i| delivery_counts.get_mut(i)) {
            *n += 1;
        }
    }
    // Cut short only if a full scan's oldest record still falls inside the window: the window
    // may hold more than was read.
    let cut = |read: usize, oldest: Option<i64>| {
        read == SCAN_LIMIT && oldest.is_some_and(|at| at >= start)
    };
    let truncated = cut(newest_events.len(), newest_events.last().map(recorded))
        || cut(deliveries.len(), deliveries.last().map(|d| d.created_at_ms));
    let buckets: Vec<_> = (0..width)
        .map(|i| {
            json!({
                "start": clock::rfc3339(start + i64::try_from(i).unwrap_or(0) * MINUTE_MS),
                "events": event_counts[i],
                "deliveries": delivery_counts[i],
            })
        })
        .collect();
    Ok(Response::ok(&json!({ "minutes": minutes, "buckets": buckets, "truncated": truncated })))
}
