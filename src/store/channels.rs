//! Channel configurations (credentials) and what Spar last learned about each channel's
//! connection, both keyed by `(org, channel)`.

use super::StoreError;
use super::records::{ChannelConfigRecord, ChannelStatusRecord};
use super::tables::{ChannelConfigs, ChannelStatus};
use super::txn::{Source, WriteTx, encode, get_record};

pub fn config(
    src: &impl Source,
    org: &str,
    channel: &str,
) -> Result<Option<ChannelConfigRecord>, StoreError> {
    get_record::<ChannelConfigs, _>(src, (org, channel), "channel config")
}

pub fn put_config(
    tx: &WriteTx<'_>,
    org: &str,
    record: &ChannelConfigRecord,
) -> Result<(), StoreError> {
    tx.table_mut::<ChannelConfigs>()?
        .insert((org, record.channel.as_str()), encode(record).as_slice())?;
    Ok(())
}

pub fn status(
    src: &impl Source,
    org: &str,
    channel: &str,
) -> Result<Option<ChannelStatusRecord>, StoreError> {
    get_record::<ChannelStatus, _>(src, (org, channel), "channel status")
}

pub fn put_status(
    tx: &WriteTx<'_>,
    org: &str,
    channel: &str,
    record: &ChannelStatusRecord,
) -> Result<(), StoreError> {
    tx.table_mut::<ChannelStatus>()?.insert((org, channel), encode(record).as_slice())?;
    Ok(())
}
