//! API keys (docs/API.md §7.2): `sha256(key) -> ApiKeyRecord` and `name -> hash` for keys not revoked.
//! Looking a key up hashes it; the plaintext exists only in the answer that created it.

use redb::ReadableTable;
use sha2::{Digest, Sha256};

use super::StoreError;
use super::records::ApiKeyRecord;
use super::tables::{ApiKeyNames, ApiKeys};
use super::txn::{Source, WriteTx, decode, encode};

pub fn hash(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The record of an active key.
pub fn authenticate(src: &impl Source, key: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
    let found = match src.open::<ApiKeys>()?.get(hash(key).as_str())? {
        Some(v) => Some(decode::<ApiKeyRecord>("api key", v.value())?),
        None => None,
    };
    Ok(found.filter(|k| k.revoked_at_ms.is_none()))
}

pub fn name_taken(src: &impl Source, name: &str) -> Result<bool, StoreError> {
    Ok(src.open::<ApiKeyNames>()?.get(name)?.is_some())
}

pub fn insert(tx: &WriteTx<'_>, key: &str, record: &ApiKeyRecord) -> Result<(), StoreError> {
    let hashed = hash(key);
    tx.table_mut::<ApiKeys>()?.insert(hashed.as_str(), encode(record).as_slice())?;
    tx.table_mut::<ApiKeyNames>()?.insert(record.name.as_str(), hashed.as_str())?;
    Ok(())
}

/// Every key, revoked ones included, oldest first.
pub fn list(src: &impl Source) -> Result<Vec<ApiKeyRecord>, StoreError> {
    let mut keys = src
        .open::<ApiKeys>()?
        .iter()?
        .map(|row| decode::<ApiKeyRecord>("api key", row?.1.value()))
        .collect::<Result<Vec<_>, _>>()?;
    keys.sort_by(|a, b| (a.created_at_ms, &a.name).cmp(&(b.created_at_ms, &b.name)));
    Ok(keys)
}

/// What a name or prefix names among the active keys.
pub enum KeyMatch {
    /// One key: its hash and record.
    One(String, ApiKeyRecord),
    None,
    /// A prefix that starts several keys: their names.
    Several(Vec<String>),
}

/// The active key named `name_or_prefix`, or the one active key whose prefix starts so.
pub fn find_active(src: &impl Source, name_or_prefix: &str) -> Result<KeyMatch, StoreError> {
    let keys = src.open::<ApiKeys>()?;
    let mut matches = Vec::new();
    for row in keys.iter()? {
        let (hashed, value) = row?;
        let record: ApiKeyRecord = decode("api key", value.value())?;
        if record.revoked_at_ms.is_some() {
            continue;
        }
        if record.name == name_or_prefix {
            return Ok(KeyMatch::One(hashed.value().to_owned(), record));
        }
        if name_or_prefix.len() >= 6 && record.prefix.starts_with(name_or_prefix) {
            matches.push((hashed.value().to_owned(), record));
        }
    }
    Ok(match (matches.pop(), matches.is_empty()) {
        (None, _) => KeyMatch::None,
        (Some((hashed, record)), true) => KeyMatch::One(hashed, record),
        (Some((_, last)), false) => {
            KeyMatch::Several(matches.into_iter().map(|(_, r)| r.name).chain([last.name]).collect())
        }
    })
}

/// Marks a key revoked (by its hash) and frees its name.
pub fn revoke(
    tx: &WriteTx<'_>,
    hashed: &str,
    record: &ApiKeyRecord,
    at_ms: i64,
) -> Result<(), StoreError> {
    let mut revoked = record.clone();
    revoked.revoked_at_ms = Some(at_ms);
    tx.table_mut::<ApiKeys>()?.insert(hashed, encode(&revoked).as_slice())?;
    tx.table_mut::<ApiKeyNames>()?.remove(record.name.as_str())?;
    Ok(())
}
