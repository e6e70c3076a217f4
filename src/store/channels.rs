//! Channel configurations (credentials) and what Spar last learned about each channel's
//! connection, both keyed by `(org, channel)`.

use super::StoreError;
use super::records::{ChannelConfigRecord, ChannelStatusRecord};
use super::tables::{ChannelConfigs, ChannelStatus};
use redb::ReadableTable;

use super::sealed::is_sealed;
use super::txn::{Source, WriteTx, decode, encode, get_record};

/// The channel's configuration, its values unsealed.
pub fn config(
    src: &impl Source,
    org: &str,
    channel: &str,
) -> Result<Option<ChannelConfigRecord>, StoreError> {
    let stored = get_record::<ChannelConfigs, _>(src, (org, channel), "channel config")?;
    stored.map(|r| map_values(r, |v| src.sealer()?.unseal(v))).transpose()
}

/// Stores a configuration, every value sealed (`sealed.rs`): they are credentials.
pub fn put_config(
    tx: &WriteTx<'_>,
    org: &str,
    record: &ChannelConfigRecord,
) -> Result<(), StoreError> {
    let sealed = map_values(record.clone(), |v| tx.sealer()?.seal(v))?;
    tx.table_mut::<ChannelConfigs>()?
        .insert((org, record.channel.as_str()), encode(&sealed).as_slice())?;
    Ok(())
}

fn map_values(
    mut record: ChannelConfigRecord,
    f: impl Fn(&str) -> Result<String, StoreError>,
) -> Result<ChannelConfigRecord, StoreError> {
    for value in record.config.values_mut() {
        *value = f(value)?;
    }
    Ok(record)
}

/// Seals what a store from before sealing kept in plain text; how many it sealed.
pub(super) fn seal_legacy(tx: &WriteTx<'_>) -> Result<usize, StoreError> {
    let all: Vec<(String, ChannelConfigRecord)> = {
        let table = tx.open::<ChannelConfigs>()?;
        let mut all = Vec::new();
        for row in table.iter()? {
            let (key, value) = row?;
            let record: ChannelConfigRecord = decode("channel config", value.value())?;
            if record.config.values().any(|v| !is_sealed(v)) {
                all.push((key.value().0.to_owned(), record));
            }
        }
        all
    };
    for (org, record) in &all {
        let plain = map_values(record.clone(), |v| tx.sealer()?.unseal(v))?;
        put_config(tx, org, &plain)?;
    }
    Ok(all.len())
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
