//! Normalized events (`(org, seq) -> EventRecord`, plus `seq -> org`) and the receipts of webhook
//! deliveries already recorded.

use redb::ReadableTable;

use super::StoreError;
use super::records::EventRecord;
use super::tables::{EVENT_SEQ_KEY, Events, EventsBySeq, WebhookReceipts};
use super::txn::{Source, WriteTx, decode, encode};

/// The next event seq (its id is `evt-<seq>`).
pub fn next_seq(tx: &WriteTx<'_>) -> Result<u64, StoreError> {
    tx.next_in_sequence(EVENT_SEQ_KEY)
}

pub fn put(tx: &WriteTx<'_>, event: &EventRecord) -> Result<(), StoreError> {
    let org = event.org_id.as_str();
    tx.table_mut::<Events>()?.insert((org, event.seq), encode(event).as_slice())?;
    tx.table_mut::<EventsBySeq>()?.insert(event.seq, org)?;
    Ok(())
}

/// The event with this seq, whatever its org.
pub fn by_seq(src: &impl Source, seq: u64) -> Result<Option<EventRecord>, StoreError> {
    let Some(org) = src.open::<EventsBySeq>()?.get(seq)?.map(|o| o.value().to_owned()) else {
        return Ok(None);
    };
    match src.open::<Events>()?.get((org.as_str(), seq))? {
        Some(bytes) => Ok(Some(decode("event", bytes.value())?)),
        None => Ok(None),
    }
}

/// An org's events, newest first, at most `limit`.
pub fn newest(src: &impl Source, org: &str, limit: usize) -> Result<Vec<EventRecord>, StoreError> {
    let events = src.open::<Events>()?;
    let rows = events.range((org, 0)..=(org, u64::MAX))?.rev().take(limit);
    rows.map(|row| decode("event", row?.1.value())).collect()
}

/// An org's events after `after_seq`, oldest first, at most `limit`.
pub fn after(
    src: &impl Source,
    org: &str,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<EventRecord>, StoreError> {
    let events = src.open::<Events>()?;
    let rows = events.range((org, after_seq.saturating_add(1))..=(org, u64::MAX))?.take(limit);
    rows.map(|row| decode("event", row?.1.value())).collect()
}

/// The newest event seq, server-wide (0 when there is none).
pub fn last_seq(src: &impl Source) -> Result<u64, StoreError> {
    Ok(src.open::<EventsBySeq>()?.last()?.map_or(0, |(k, _)| k.value()))
}

/// Whether a delivery (`key` is `<source>:<delivery id>`) was already recorded for `org`.
pub fn received(src: &impl Source, org: &str, key: &str) -> Result<bool, StoreError> {
    Ok(src.open::<WebhookReceipts>()?.get((org, key))?.is_some())
}

/// Whether `key` was received at or after `since_ms` (Unix ms).
pub fn received_since(
    src: &impl Source,
    org: &str,
    key: &str,
    since_ms: i64,
) -> Result<bool, StoreError> {
    let at = src.open::<WebhookReceipts>()?.get((org, key))?.map(|v| v.value());
    Ok(at.is_some_and(|at| i64::try_from(at).unwrap_or(i64::MAX) >= since_ms))
}

/// Remembers a delivery, so a redelivery is answered as a duplicate.
pub fn record_receipt(
    tx: &WriteTx<'_>,
    org: &str,
    key: &str,
    at_ms: i64,
) -> Result<(), StoreError> {
    let at = u64::try_from(at_ms).unwrap_or(0);
    tx.table_mut::<WebhookReceipts>()?.insert((org, key), at)?;
    Ok(())
}
