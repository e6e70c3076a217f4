//! Credentials Spar issues (docs/API.md §1.4, §7.2): API keys of the Spike and Potpie dialects
//! and org-bound tokens of the CodeSpar API. Each kind has `sha256(secret) -> CredentialRecord`
//! and `name -> hash` for the ones not revoked. Looking one up hashes it; the plaintext exists
//! only in the answer that created it.

use redb::{ReadableTable, ReadableTableMetadata};
use sha2::{Digest, Sha256};

use super::StoreError;
use super::records::CredentialRecord;
use super::tables::{ApiKeyNames, ApiKeys, OrgTokenNames, OrgTokens, TableSpec};
use super::txn::{Source, WriteTx, decode, encode};

/// A kind of credential: its two tables, and how it is written and named.
pub trait Kind {
    type Hashes: TableSpec<K = &'static str, V = &'static [u8]>;
    type Names: TableSpec<K = &'static str, V = &'static str>;
    /// What messages call it: "API key", "token".
    const NOUN: &'static str;
    /// How a new one starts (`spar_`, `spt_`), so a leaked one is recognisable.
    const PREFIX: &'static str;
    /// The audit actions of creating and revoking one.
    const CREATED: &'static str;
    const REVOKED: &'static str;
    /// Its name in error codes (`API_KEY_EXISTS`).
    const CODE: &'static str;
    /// Its admin listener path (`/admin/api-keys`) and its command (`spar api-key`).
    const ADMIN_PATH: &'static str;
    const COMMAND: &'static str;
}

/// `x-api-key` of the Spike and Potpie dialects.
pub struct ApiKey;

impl Kind for ApiKey {
    type Hashes = ApiKeys;
    type Names = ApiKeyNames;
    const NOUN: &'static str = "API key";
    const PREFIX: &'static str = "spar_";
    const CREATED: &'static str = "api_key.create";
    const REVOKED: &'static str = "api_key.revoke";
    const CODE: &'static str = "API_KEY";
    const ADMIN_PATH: &'static str = "/admin/api-keys";
    const COMMAND: &'static str = "api-key";
}

/// A bearer token of the CodeSpar API bound to one org.
pub struct OrgToken;

impl Kind for OrgToken {
    type Hashes = OrgTokens;
    type Names = OrgTokenNames;
    const NOUN: &'static str = "token";
    const PREFIX: &'static str = "spt_";
    const CREATED: &'static str = "token.create";
    const REVOKED: &'static str = "token.revoke";
    const CODE: &'static str = "TOKEN";
    const ADMIN_PATH: &'static str = "/admin/tokens";
    const COMMAND: &'static str = "token";
}

pub fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The record of an active credential.
pub fn authenticate<K: Kind>(
    src: &impl Source,
    secret: &str,
) -> Result<Option<CredentialRecord>, StoreError> {
    let found = match src.open::<K::Hashes>()?.get(hash(secret).as_str())? {
        Some(v) => Some(decode::<CredentialRecord>(K::NOUN, v.value())?),
        None => None,
    };
    Ok(found.filter(|k| k.revoked_at_ms.is_none()))
}

pub fn name_taken<K: Kind>(src: &impl Source, name: &str) -> Result<bool, StoreError> {
    Ok(src.open::<K::Names>()?.get(name)?.is_some())
}

pub fn insert<K: Kind>(
    tx: &WriteTx<'_>,
    secret: &str,
    record: &CredentialRecord,
) -> Result<(), StoreError> {
    let hashed = hash(secret);
    tx.table_mut::<K::Hashes>()?.insert(hashed.as_str(), encode(record).as_slice())?;
    tx.table_mut::<K::Names>()?.insert(record.name.as_str(), hashed.as_str())?;
    Ok(())
}

/// Every credential of the kind, revoked ones included, oldest first.
pub fn list<K: Kind>(src: &impl Source) -> Result<Vec<CredentialRecord>, StoreError> {
    let mut all = src
        .open::<K::Hashes>()?
        .iter()?
        .map(|row| decode::<CredentialRecord>(K::NOUN, row?.1.value()))
        .collect::<Result<Vec<_>, _>>()?;
    all.sort_by(|a, b| (a.created_at_ms, &a.name).cmp(&(b.created_at_ms, &b.name)));
    Ok(all)
}

/// Whether any active credential of the kind exists.
pub fn any_active<K: Kind>(src: &impl Source) -> Result<bool, StoreError> {
    Ok(!src.open::<K::Names>()?.is_empty()?)
}

/// What a name or prefix names among the active credentials.
pub enum Match {
    /// One: its hash and record.
    One(String, CredentialRecord),
    None,
    /// A prefix that starts several: their names.
    Several(Vec<String>),
}

/// The active credential named `name_or_prefix`, or the one whose prefix starts so.
pub fn find_active<K: Kind>(src: &impl Source, name_or_prefix: &str) -> Result<Match, StoreError> {
    // A name is one lookup; only a prefix reads them all.
    let named = src.open::<K::Names>()?.get(name_or_prefix)?.map(|h| h.value().to_owned());
    if let Some(hashed) = named {
        let stored = src.open::<K::Hashes>()?.get(hashed.as_str())?.map(|v| v.value().to_vec());
        if let Some(bytes) = stored {
            let record: CredentialRecord = decode(K::NOUN, &bytes)?;
            if record.revoked_at_ms.is_none() {
                return Ok(Match::One(hashed, record));
            }
        }
    }
    let all = src.open::<K::Hashes>()?;
    let mut matches = Vec::new();
    for row in all.iter()? {
        let (hashed, value) = row?;
        let record: CredentialRecord = decode(K::NOUN, value.value())?;
        if record.revoked_at_ms.is_some() {
            continue;
        }
        if record.name == name_or_prefix {
            return Ok(Match::One(hashed.value().to_owned(), record));
        }
        if name_or_prefix.len() >= 6 && record.prefix.starts_with(name_or_prefix) {
            matches.push((hashed.value().to_owned(), record));
        }
    }
    Ok(match (matches.pop(), matches.is_empty()) {
        (None, _) => Match::None,
        (Some((hashed, record)), true) => Match::One(hashed, record),
        (Some((_, last)), false) => {
            Match::Several(matches.into_iter().map(|(_, r)| r.name).chain([last.name]).collect())
        }
    })
}

/// Marks a credential revoked (by its hash) and frees its name.
pub fn revoke<K: Kind>(
    tx: &WriteTx<'_>,
    hashed: &str,
    record: &CredentialRecord,
    at_ms: i64,
) -> Result<(), StoreError> {
    let mut revoked = record.clone();
    revoked.revoked_at_ms = Some(at_ms);
    tx.table_mut::<K::Hashes>()?.insert(hashed, encode(&revoked).as_slice())?;
    tx.table_mut::<K::Names>()?.remove(record.name.as_str())?;
    Ok(())
}
