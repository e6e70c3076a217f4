//! Channel routes: `(org, route id) -> RouteRecord`. Ids are `route-<NNN>` from a server-wide
//! counter, so one is never reused.

use super::StoreError;
use super::records::RouteRecord;
use super::tables::{ROUTE_SEQ_KEY, Routes};
use super::txn::{Source, WriteTx, encode, get_record, records_of};

/// Issues the next route id.
pub fn issue_id(tx: &WriteTx<'_>) -> Result<String, StoreError> {
    Ok(format!("route-{:03}", tx.next_in_sequence(ROUTE_SEQ_KEY)?))
}

/// An org's routes, in id order.
pub fn list(src: &impl Source, org: &str) -> Result<Vec<RouteRecord>, StoreError> {
    let mut routes: Vec<RouteRecord> = records_of::<Routes, _>(src, Some(org), "route")?;
    // `route-1000` sorts after `route-999`.
    routes.sort_by(|a, b| (a.id.len(), &a.id).cmp(&(b.id.len(), &b.id)));
    Ok(routes)
}

pub fn get(src: &impl Source, org: &str, id: &str) -> Result<Option<RouteRecord>, StoreError> {
    get_record::<Routes, _>(src, (org, id), "route")
}

pub fn put(tx: &WriteTx<'_>, route: &RouteRecord) -> Result<(), StoreError> {
    tx.table_mut::<Routes>()?
        .insert((route.org_id.as_str(), route.id.as_str()), encode(route).as_slice())?;
    Ok(())
}

pub fn remove(tx: &WriteTx<'_>, org: &str, id: &str) -> Result<(), StoreError> {
    tx.table_mut::<Routes>()?.remove((org, id))?;
    Ok(())
}
