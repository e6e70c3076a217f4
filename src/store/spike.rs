//! Spike integrations: `(org, token) -> SpikeIntegrationRecord`, and `token -> org` for every
//! token ever issued (ingest URLs carry only the token).

use redb::ReadableTable;

use super::StoreError;
use super::records::SpikeIntegrationRecord;
use super::tables::{SpikeIntegrations, SpikeTokens};
use super::txn::{Source, WriteTx, encode, get_record, records_of};

pub fn org_of(src: &impl Source, token: &str) -> Result<Option<String>, StoreError> {
    Ok(src.open::<SpikeTokens>()?.get(token)?.map(|v| v.value().to_owned()))
}

pub fn get(
    src: &impl Source,
    org: &str,
    token: &str,
) -> Result<Option<SpikeIntegrationRecord>, StoreError> {
    get_record::<SpikeIntegrations, _>(src, (org, token), "spike integration")
}

pub fn put(tx: &WriteTx<'_>, record: &SpikeIntegrationRecord) -> Result<(), StoreError> {
    let org = record.org_id.as_str();
    tx.table_mut::<SpikeIntegrations>()?
        .insert((org, record.token.as_str()), encode(record).as_slice())?;
    tx.table_mut::<SpikeTokens>()?.insert(record.token.as_str(), org)?;
    Ok(())
}

/// An org's integrations, oldest first.
pub fn list(src: &impl Source, org: &str) -> Result<Vec<SpikeIntegrationRecord>, StoreError> {
    let mut all: Vec<SpikeIntegrationRecord> =
        records_of::<SpikeIntegrations, _>(src, Some(org), "spike integration")?;
    all.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
    Ok(all)
}
