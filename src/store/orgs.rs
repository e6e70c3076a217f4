//! Organizations: `org id -> OrgRecord`.

use redb::ReadableTable;

use super::StoreError;
use super::records::OrgRecord;
use super::tables::Orgs;
use super::txn::{Source, WriteTx, decode, encode, get_record};

pub use crate::ids::DEFAULT_ORG;

pub fn get(src: &impl Source, id: &str) -> Result<Option<OrgRecord>, StoreError> {
    get_record::<Orgs, _>(src, id, "org")
}

pub fn exists(src: &impl Source, id: &str) -> Result<bool, StoreError> {
    Ok(src.open::<Orgs>()?.get(id)?.is_some())
}

/// Every org, `default` first, then oldest first.
pub fn list(src: &impl Source) -> Result<Vec<OrgRecord>, StoreError> {
    let mut orgs = src
        .open::<Orgs>()?
        .iter()?
        .map(|row| decode::<OrgRecord>("org", row?.1.value()))
        .collect::<Result<Vec<_>, _>>()?;
    orgs.sort_by(|a, b| {
        (a.id != DEFAULT_ORG, a.created_at_ms, &a.id).cmp(&(
            b.id != DEFAULT_ORG,
            b.created_at_ms,
            &b.id,
        ))
    });
    Ok(orgs)
}

pub fn put(tx: &WriteTx<'_>, org: &OrgRecord) -> Result<(), StoreError> {
    tx.table_mut::<Orgs>()?.insert(org.id.as_str(), encode(org).as_slice())?;
    Ok(())
}
