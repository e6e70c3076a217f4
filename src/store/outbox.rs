//! The outbox: `(org, seq) -> DeliveryRecord`, the `seq -> org` registry, and the due queue
//! `(due ms, seq) -> org` that holds exactly the pending deliveries.

use redb::{ReadableTable, ReadableTableMetadata};

use super::StoreError;
use super::records::{DeliveryRecord, DeliveryStatus};
use super::tables::{
    DEAD_DELIVERIES_KEY, DELIVERY_SEQ_KEY, Deliveries, DeliveriesBySeq, Meta, OutboxDue,
};
use super::txn::{Source, WriteTx, decode, encode, get_record};

pub fn next_seq(tx: &WriteTx<'_>) -> Result<u64, StoreError> {
    tx.next_in_sequence(DELIVERY_SEQ_KEY)
}

/// Stores a delivery, keeping the due queue and the dead count in step with its status.
/// `before` is the stored version it replaces, if any.
pub fn put(
    tx: &WriteTx<'_>,
    before: Option<&DeliveryRecord>,
    delivery: &DeliveryRecord,
) -> Result<(), StoreError> {
    let org = delivery.org_id.as_str();
    if let Some(old) = before {
        if let Some(due) = old.next_attempt_ms.filter(|_| old.status == DeliveryStatus::Pending) {
            tx.table_mut::<OutboxDue>()?.remove((due_key(due), old.seq))?;
        }
        if old.status == DeliveryStatus::Dead {
            adjust_dead(tx, -1)?;
        }
    } else {
        tx.table_mut::<DeliveriesBySeq>()?.insert(delivery.seq, org)?;
    }
    if delivery.status == DeliveryStatus::Pending {
        let due = delivery.next_attempt_ms.unwrap_or(0);
        tx.table_mut::<OutboxDue>()?.insert((due_key(due), delivery.seq), org)?;
    }
    if delivery.status == DeliveryStatus::Dead {
        adjust_dead(tx, 1)?;
    }
    tx.table_mut::<Deliveries>()?.insert((org, delivery.seq), encode(delivery).as_slice())?;
    Ok(())
}

fn due_key(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0)
}

fn adjust_dead(tx: &WriteTx<'_>, by: i64) -> Result<(), StoreError> {
    let mut meta = tx.table_mut::<Meta>()?;
    let now = meta.get(DEAD_DELIVERIES_KEY)?.map_or(0, |v| v.value());
    meta.insert(DEAD_DELIVERIES_KEY, now.saturating_add_signed(by))?;
    Ok(())
}

pub fn get(src: &impl Source, org: &str, seq: u64) -> Result<Option<DeliveryRecord>, StoreError> {
    get_record::<Deliveries, _>(src, (org, seq), "delivery")
}

/// The org a delivery seq belongs to.
pub fn org_of(src: &impl Source, seq: u64) -> Result<Option<String>, StoreError> {
    Ok(src.open::<DeliveriesBySeq>()?.get(seq)?.map(|v| v.value().to_owned()))
}

/// Pending deliveries due at or before `now_ms`, soonest first, as `(org, seq)`: at most
/// `limit` of those `skip` does not exclude (the worker skips the ones it is already sending
/// without decoding them).
pub fn due(
    src: &impl Source,
    now_ms: i64,
    limit: usize,
    skip: impl Fn(u64) -> bool,
) -> Result<Vec<(String, u64)>, StoreError> {
    let queue = src.open::<OutboxDue>()?;
    let mut out = Vec::new();
    for row in queue.range((0, 0)..=(due_key(now_ms), u64::MAX))? {
        let (key, org) = row?;
        let seq = key.value().1;
        if skip(seq) {
            continue;
        }
        out.push((org.value().to_owned(), seq));
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// When the soonest pending delivery is due.
pub fn next_due_ms(src: &impl Source) -> Result<Option<i64>, StoreError> {
    let queue = src.open::<OutboxDue>()?;
    let first = queue.first()?;
    Ok(first.map(|(key, _)| i64::try_from(key.value().0).unwrap_or(i64::MAX)))
}

/// Pending and dead counts, server-wide.
pub fn counts(src: &impl Source) -> Result<(u64, u64), StoreError> {
    let pending = src.open::<OutboxDue>()?.len()?;
    let dead = src.open::<Meta>()?.get(DEAD_DELIVERIES_KEY)?.map_or(0, |v| v.value());
    Ok((pending, dead))
}

/// Every delivery ever queued, server-wide.
pub fn total(src: &impl Source) -> Result<u64, StoreError> {
    Ok(src.open::<DeliveriesBySeq>()?.len()?)
}

/// An org's newest `limit` deliveries, newest first (no count: it reads no further).
pub fn newest(
    src: &impl Source,
    org: &str,
    limit: usize,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    let table = src.open::<Deliveries>()?;
    let rows = table.range((org, 0)..=(org, u64::MAX))?.rev().take(limit);
    rows.map(|row| decode("delivery", row?.1.value())).collect()
}

/// Which deliveries a listing shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter<'a> {
    pub status: Option<DeliveryStatus>,
    pub channel: Option<&'a str>,
}

/// An org's deliveries, newest first, those `filter` keeps: (the first `limit`, total).
pub fn list(
    src: &impl Source,
    org: &str,
    filter: Filter<'_>,
    limit: usize,
) -> Result<(Vec<DeliveryRecord>, u64), StoreError> {
    let table = src.open::<Deliveries>()?;
    let mut page = Vec::new();
    let mut total = 0;
    for row in table.range((org, 0)..=(org, u64::MAX))?.rev() {
        let delivery: DeliveryRecord = decode("delivery", row?.1.value())?;
        if filter.status.is_none_or(|s| s == delivery.status)
            && filter.channel.is_none_or(|c| c == delivery.channel)
        {
            total += 1;
            if page.len() < limit {
                page.push(delivery);
            }
        }
    }
    Ok((page, total))
}
