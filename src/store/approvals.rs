//! Approval tokens: `(org, token) -> ApprovalRecord`, and `token -> org` for every token ever
//! issued (so a token is found without knowing its org, and never reused).

use redb::ReadableTable;

use super::StoreError;
use super::records::ApprovalRecord;
use super::tables::{ApprovalTokens, Approvals};
use super::txn::{Source, WriteTx, decode, encode, get_record};
use crate::ids;

/// A new `sg-<6 alphanumerics>` token, never issued before.
pub fn issue_token(tx: &WriteTx<'_>) -> Result<String, StoreError> {
    loop {
        let token = format!("sg-{}", ids::base36(ids::random_u64() % 36u64.pow(6), 6));
        if org_of(tx, &token)?.is_none() {
            return Ok(token);
        }
    }
}

pub fn org_of(src: &impl Source, token: &str) -> Result<Option<String>, StoreError> {
    Ok(src.open::<ApprovalTokens>()?.get(token)?.map(|v| v.value().to_owned()))
}

pub fn get(
    src: &impl Source,
    org: &str,
    token: &str,
) -> Result<Option<ApprovalRecord>, StoreError> {
    get_record::<Approvals, _>(src, (org, token), "approval")
}

/// An org's approvals, newest first, the first `limit` of those `keep` accepts; and how many
/// it accepts in all. Reads every approval of the org (retention keeps them to 30 days).
pub fn list(
    src: &impl Source,
    org: &str,
    keep: impl Fn(&ApprovalRecord) -> bool,
    limit: usize,
) -> Result<(Vec<ApprovalRecord>, u64), StoreError> {
    let mut all: Vec<ApprovalRecord> = Vec::new();
    for row in src.open::<Approvals>()?.range((org, "")..=(org, "\u{10ffff}"))? {
        let approval: ApprovalRecord = decode("approval", row?.1.value())?;
        if keep(&approval) {
            all.push(approval);
        }
    }
    all.sort_by(|a, b| (b.created_at_ms, &b.token).cmp(&(a.created_at_ms, &a.token)));
    let total = all.len() as u64;
    all.truncate(limit);
    Ok((all, total))
}

pub fn put(tx: &WriteTx<'_>, approval: &ApprovalRecord) -> Result<(), StoreError> {
    let org = approval.org_id.as_str();
    tx.table_mut::<Approvals>()?
        .insert((org, approval.token.as_str()), encode(approval).as_slice())?;
    tx.table_mut::<ApprovalTokens>()?.insert(approval.token.as_str(), org)?;
    Ok(())
}
