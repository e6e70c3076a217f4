//! Identities: `(org, id) -> IdentityRecord`, and `(org, "type:userId") -> id`.

use redb::ReadableTable;

use super::StoreError;
use super::records::IdentityRecord;
use super::tables::{IDENTITY_SEQ_KEY, Identities, IdentityLinks};
use super::txn::{Source, WriteTx, decode, encode, records_of};

/// The link key of a chat account.
pub fn link_key(channel_type: &str, user_id: &str) -> String {
    format!("{channel_type}:{user_id}")
}

/// The identity an account is linked to in `org`.
pub fn find(
    src: &impl Source,
    org: &str,
    channel_type: &str,
    user_id: &str,
) -> Result<Option<IdentityRecord>, StoreError> {
    let key = link_key(channel_type, user_id);
    let Some(id) =
        src.open::<IdentityLinks>()?.get((org, key.as_str()))?.map(|v| v.value().to_owned())
    else {
        return Ok(None);
    };
    match src.open::<Identities>()?.get((org, id.as_str()))? {
        Some(bytes) => Ok(Some(decode("identity", bytes.value())?)),
        None => Ok(None),
    }
}

/// The identity id an account is linked to, if any.
pub fn linked(src: &impl Source, org: &str, key: &str) -> Result<Option<String>, StoreError> {
    Ok(src.open::<IdentityLinks>()?.get((org, key))?.map(|v| v.value().to_owned()))
}

/// An org's identities, oldest first.
pub fn list(src: &impl Source, org: &str) -> Result<Vec<IdentityRecord>, StoreError> {
    let mut all: Vec<IdentityRecord> = records_of::<Identities, _>(src, Some(org), "identity")?;
    all.sort_by(|a, b| (&a.registered_at, &a.id).cmp(&(&b.registered_at, &b.id)));
    Ok(all)
}

/// `user-<NNN>`: a counter per server, at least three digits.
pub fn next_id(tx: &WriteTx<'_>) -> Result<String, StoreError> {
    let n = tx.next_in_sequence(IDENTITY_SEQ_KEY)?;
    Ok(format!("user-{n:03}"))
}

pub fn put(tx: &WriteTx<'_>, identity: &IdentityRecord) -> Result<(), StoreError> {
    let org = identity.org_id.as_str();
    tx.table_mut::<Identities>()?
        .insert((org, identity.id.as_str()), encode(identity).as_slice())?;
    let mut links = tx.table_mut::<IdentityLinks>()?;
    for c in &identity.channels {
        links
            .insert((org, link_key(&c.channel_type, &c.user_id).as_str()), identity.id.as_str())?;
    }
    Ok(())
}
