//! The append-only audit trail: one hash chain per org (docs/API.md §2.4).
//!
//! `hash = "sha256:" + hex(SHA-256(prev + timestamp + actorType + actorId + action + result +
//! canonical(metadata)))`, `prev` being the org's previous hash without its prefix (64 zeros for
//! the first). Entries are only ever appended, by [`append`], inside the transaction of the change
//! they record.

use std::borrow::Cow;
use std::fmt::Write as _;

use redb::{ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::StoreError;
use super::tables::{AUDIT_SEQ_KEY, Audit, AuditAnchors, AuditBySeq, AuditHeads};
use super::txn::{Source, WriteTx, decode, encode};
use crate::clock;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorType {
    User,
    Agent,
    System,
}

impl ActorType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Agent => "agent",
            Self::System => "system",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditResult {
    Completed,
    Approved,
    Denied,
    Failed,
    Processed,
    Pending,
}

impl AuditResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Failed => "failed",
            Self::Processed => "processed",
            Self::Pending => "pending",
        }
    }
}

/// One audit entry, stored exactly as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: String,
    pub seq: u64,
    pub timestamp: String,
    pub org_id: String,
    pub actor_type: ActorType,
    pub actor_id: String,
    pub action: String,
    pub result: AuditResult,
    pub metadata: Value,
    pub hash: String,
}

/// What a change says about itself; [`append`] adds the sequence, time and hash.
#[derive(Debug, Clone)]
pub struct AuditDraft {
    pub actor_type: ActorType,
    pub actor_id: String,
    /// A name from docs/API.md §2.4, or the action an imported entry had in its old system.
    pub action: Cow<'static, str>,
    pub result: AuditResult,
    pub metadata: Map<String, Value>,
}

impl AuditDraft {
    pub fn new(actor_type: ActorType, actor_id: &str, action: &'static str) -> Self {
        Self {
            actor_type,
            actor_id: actor_id.to_owned(),
            action: Cow::Borrowed(action),
            result: AuditResult::Completed,
            metadata: Map::new(),
        }
    }

    /// An entry of another system's trail, with that system's action name (`spar import`).
    pub fn imported(actor_type: ActorType, actor_id: &str, action: String) -> Self {
        Self { action: Cow::Owned(action), ..Self::new(actor_type, actor_id, "") }
    }

    pub fn meta(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.to_owned(), value.into());
        self
    }
}

/// Appends an entry to `org`'s chain in the caller's transaction.
pub fn append(tx: &WriteTx<'_>, org: &str, draft: AuditDraft) -> Result<AuditEntry, StoreError> {
    append_at(tx, org, draft, clock::now_ms())
}

/// Appends an entry another system recorded at `at_ms` (`spar import`): the chain links entries
/// in the order they are appended, whatever their timestamps, so an imported history keeps its
/// own times and is verified like any other.
pub fn append_imported(
    tx: &WriteTx<'_>,
    org: &str,
    draft: AuditDraft,
    at_ms: i64,
) -> Result<AuditEntry, StoreError> {
    append_at(tx, org, draft, at_ms)
}

fn append_at(
    tx: &WriteTx<'_>,
    org: &str,
    draft: AuditDraft,
    at_ms: i64,
) -> Result<AuditEntry, StoreError> {
    let mut metadata = draft.metadata;
    metadata.entry("risk").or_insert_with(|| Value::from("low"));
    let metadata = Value::Object(metadata);

    let seq = tx.next_in_sequence(AUDIT_SEQ_KEY)?;
    let (count, prev) = head(tx, org)?;
    let timestamp = clock::rfc3339(at_ms);
    let hash = chain_hash(
        &prev,
        &timestamp,
        draft.actor_type.as_str(),
        &draft.actor_id,
        &draft.action,
        draft.result.as_str(),
        &metadata,
    );
    let entry = AuditEntry {
        id: format!("aud-{seq}"),
        seq,
        timestamp,
        org_id: org.to_owned(),
        actor_type: draft.actor_type,
        actor_id: draft.actor_id,
        action: draft.action.into_owned(),
        result: draft.result,
        metadata,
        hash: format!("sha256:{hash}"),
    };
    tx.table_mut::<Audit>()?.insert((org, seq), encode(&entry).as_slice())?;
    tx.table_mut::<AuditBySeq>()?.insert(seq, org)?;
    tx.table_mut::<AuditHeads>()?.insert(org, (count + 1, hash.as_str()))?;
    tx.mark_audited();
    Ok(entry)
}

/// `(entries in the chain, last hash hex)` of an org's chain.
fn head(src: &impl Source, org: &str) -> Result<(u64, String), StoreError> {
    let heads = src.open::<AuditHeads>()?;
    Ok(match heads.get(org)? {
        Some(v) => {
            let (count, hash) = v.value();
            (count, hash.to_owned())
        }
        None => (0, GENESIS.to_owned()),
    })
}

/// The hash an org's chain starts from: the last entry retention removed, else 64 zeros.
fn anchor(src: &impl Source, org: &str) -> Result<String, StoreError> {
    let anchors = src.open::<AuditAnchors>()?;
    let found = anchors.get(org)?.map(|v| v.value().to_owned());
    Ok(found.unwrap_or_else(|| GENESIS.to_owned()))
}

/// What retention removed from one org's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub org: String,
    pub removed: u64,
    /// The highest seq removed; the chain now starts after it.
    pub upto_seq: u64,
}

/// Removes the oldest entries older than `cutoff_ms`, at most `limit` per org (so one write
/// job stays short: the caller repeats until nothing is left), and records, per org, the hash
/// of the last one removed as the chain's new anchor (so verification still passes), then
/// appends an `audit.retention` entry saying what was removed. The only way entries ever leave
/// the trail.
pub fn remove_older_than(
    tx: &WriteTx<'_>,
    cutoff_ms: i64,
    limit: usize,
) -> Result<Vec<Pruned>, StoreError> {
    let mut pruned = Vec::new();
    for org in chained_orgs(tx)? {
        let mut doomed = Vec::new();
        let mut last_hash = None;
        for row in tx.open::<Audit>()?.range((org.as_str(), 0)..=(org.as_str(), u64::MAX))? {
            if doomed.len() >= limit {
                break;
            }
            let (key, bytes) = row?;
            let entry: AuditEntry = decode("audit entry", bytes.value())?;
            if clock::parse_rfc3339(&entry.timestamp).is_none_or(|ts| ts >= cutoff_ms) {
                break;
            }
            doomed.push(key.value().1);
            last_hash = Some(entry.hash);
        }
        let (Some(&upto_seq), Some(last_hash)) = (doomed.last(), last_hash) else { continue };
        {
            let mut audit = tx.table_mut::<Audit>()?;
            for seq in &doomed {
                audit.remove((org.as_str(), *seq))?;
            }
        }
        {
            let mut by_seq = tx.table_mut::<AuditBySeq>()?;
            for seq in &doomed {
                by_seq.remove(*seq)?;
            }
        }
        let anchor_hex = last_hash.trim_start_matches("sha256:").to_owned();
        tx.table_mut::<AuditAnchors>()?.insert(org.as_str(), anchor_hex.as_str())?;
        let (count, head_hash) = head(tx, &org)?;
        let removed = doomed.len() as u64;
        tx.table_mut::<AuditHeads>()?
            .insert(org.as_str(), (count - removed, head_hash.as_str()))?;
        let draft = AuditDraft::new(ActorType::System, "scheduler", "audit.retention")
            .meta("removed", removed)
            .meta("throughSeq", upto_seq)
            .meta("olderThan", clock::rfc3339(cutoff_ms))
            .meta("anchor", last_hash.as_str());
        append(tx, &org, draft)?;
        pruned.push(Pruned { org, removed, upto_seq });
    }
    Ok(pruned)
}

/// Number of entries visible in a scope (`None`: every org).
pub fn total(src: &impl Source, org: Option<&str>) -> Result<u64, StoreError> {
    match org {
        Some(org) => Ok(head(src, org)?.0),
        None => Ok(src.open::<AuditBySeq>()?.len()?),
    }
}

/// Newest-first page: skips `offset` entries, returns up to `limit`.
pub fn page(
    src: &impl Source,
    org: Option<&str>,
    offset: u64,
    limit: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    newest(src, org, 0..u64::MAX, usize::try_from(offset).unwrap_or(usize::MAX), limit)
}

/// Newest-first entries with `seq` below `before` (keyset paging): O(limit) at any depth.
pub fn page_before(
    src: &impl Source,
    org: Option<&str>,
    before: u64,
    limit: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    newest(src, org, 0..before, 0, limit)
}

/// The newest entries of a scope (`None`: every org) with seq in `seqs`, newest first: a redb
/// range read backwards, so its cost is `skip + limit` whatever the trail's size.
fn newest(
    src: &impl Source,
    org: Option<&str>,
    seqs: std::ops::Range<u64>,
    skip: usize,
    limit: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    let audit = src.open::<Audit>()?;
    let mut out = Vec::new();
    if seqs.is_empty() {
        return Ok(out);
    }
    match org {
        Some(org) => {
            let rows = audit.range((org, seqs.start)..(org, seqs.end))?;
            for row in rows.rev().skip(skip).take(limit) {
                out.push(decode("audit entry", row?.1.value())?);
            }
        }
        None => {
            let by_seq = src.open::<AuditBySeq>()?;
            for row in by_seq.range(seqs)?.rev().skip(skip).take(limit) {
                let (seq, org) = row?;
                out.push(load(&*audit, org.value(), seq.value())?);
            }
        }
    }
    Ok(out)
}

/// The entry `seq` of `org`, which the `AuditBySeq` index says exists.
fn load(
    audit: &impl ReadableTable<(&'static str, u64), &'static [u8]>,
    org: &str,
    seq: u64,
) -> Result<AuditEntry, StoreError> {
    let bytes = audit
        .get((org, seq))?
        .ok_or_else(|| StoreError::Corrupt(format!("audit index names missing entry aud-{seq}")))?;
    decode("audit entry", bytes.value())
}

/// Up to `limit` entries of every org with seq above `after`, oldest first (for indexing).
pub fn entries_after(
    src: &impl Source,
    after: u64,
    limit: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    let audit = src.open::<Audit>()?;
    let by_seq = src.open::<AuditBySeq>()?;
    let mut out = Vec::new();
    for row in by_seq.range(after.saturating_add(1)..)?.take(limit) {
        let (seq, org) = row?;
        out.push(load(&*audit, org.value(), seq.value())?);
    }
    Ok(out)
}

/// Entries (of every org) with seq at most `seq`.
pub fn count_upto(src: &impl Source, seq: u64) -> Result<u64, StoreError> {
    let by_seq = src.open::<AuditBySeq>()?;
    let above = by_seq.range(seq.saturating_add(1)..)?.count() as u64;
    Ok(by_seq.len()?.saturating_sub(above))
}

/// The highest seq in the store, 0 when empty.
pub fn last_seq(src: &impl Source) -> Result<u64, StoreError> {
    let by_seq = src.open::<AuditBySeq>()?;
    let last = by_seq.last()?.map(|(seq, _)| seq.value());
    Ok(last.unwrap_or(0))
}

/// Newest-first entries of the scope with `after < seq < before`: the part of the trail the
/// search index has not reached yet.
pub fn newest_between(
    src: &impl Source,
    org: Option<&str>,
    after: u64,
    before: u64,
) -> Result<Vec<AuditEntry>, StoreError> {
    newest(src, org, after.saturating_add(1)..before, 0, usize::MAX)
}

/// The entry with this seq, in whatever org it belongs to.
pub fn by_seq(src: &impl Source, seq: u64) -> Result<Option<AuditEntry>, StoreError> {
    let Some(org) = src.open::<AuditBySeq>()?.get(seq)?.map(|o| o.value().to_owned()) else {
        return Ok(None);
    };
    load(&*src.open::<Audit>()?, &org, seq).map(Some)
}

/// The outcome of recomputing one org's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub org: String,
    /// Entries whose hash was recomputed and matched.
    pub entries: u64,
    /// The last matching entry's seq and hash (`sha256:`-prefixed).
    pub last_seq: Option<u64>,
    pub last_hash: Option<String>,
    pub broken: Option<Broken>,
}

/// Where and why a chain stopped matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub at: String,
    pub reason: String,
}

/// Every org that has audit entries.
pub fn chained_orgs(src: &impl Source) -> Result<Vec<String>, StoreError> {
    let heads = src.open::<AuditHeads>()?;
    heads.iter()?.map(|row| Ok(row?.0.value().to_owned())).collect()
}

/// Recomputes `org`'s chain entry by entry and checks that it ends where its head says, so an
/// altered, reordered, removed or appended-behind-our-back entry is found. Stops at the first
/// break.
pub fn verify(src: &impl Source, org: &str) -> Result<Verification, StoreError> {
    verify_until(src, org, &|| false)
}

/// [`verify`], giving up (with `StoreError::Cancelled`) once `stop` says so, checked every
/// thousand entries: a verification nobody waits for any more stops using the disk.
pub fn verify_until(
    src: &impl Source,
    org: &str,
    stop: &dyn Fn() -> bool,
) -> Result<Verification, StoreError> {
    let (count, head_hash) = head(src, org)?;
    let audit = src.open::<Audit>()?;
    let mut result = Verification {
        org: org.to_owned(),
        entries: 0,
        last_seq: None,
        last_hash: None,
        broken: None,
    };
    let mut prev = anchor(src, org)?;
    let mut last_id = None;
    for (n, row) in audit.range((org, 0)..=(org, u64::MAX))?.enumerate() {
        if n % 1000 == 999 && stop() {
            return Err(StoreError::Cancelled);
        }
        let (key, bytes) = row?;
        let seq = key.value().1;
        let id = format!("aud-{seq}");
        let problem = match serde_json::from_slice::<AuditEntry>(bytes.value()) {
            Err(e) => Some(format!("the stored entry cannot be read: {e}")),
            Ok(e) if e.seq != seq || e.id != id || e.org_id != org => {
                Some("its id, seq or org does not match where it is stored".to_owned())
            }
            Ok(e) => {
                let hash = entry_hash(&prev, &e);
                if e.hash == format!("sha256:{hash}") {
                    prev = hash;
                    result.entries += 1;
                    result.last_seq = Some(seq);
                    result.last_hash = Some(e.hash);
                    None
                } else {
                    Some("its hash does not match its content and the entry before it".to_owned())
                }
            }
        };
        if let Some(reason) = problem {
            result.broken = Some(Broken { at: id, reason });
            return Ok(result);
        }
        last_id = Some(id);
    }
    if result.entries != count || prev != head_hash {
        result.broken = Some(Broken {
            at: last_id.unwrap_or_else(|| "the first entry".to_owned()),
            reason: format!(
                "the chain ends here after {} entries, but its head records {count} entries ending in sha256:{head_hash}",
                result.entries
            ),
        });
    }
    Ok(result)
}

/// The hash an entry must carry, given the previous hash.
fn entry_hash(prev: &str, e: &AuditEntry) -> String {
    chain_hash(
        prev,
        &e.timestamp,
        e.actor_type.as_str(),
        &e.actor_id,
        &e.action,
        e.result.as_str(),
        &e.metadata,
    )
}

/// The chain formula of docs/API.md §2.4, returning the 64-hex digest without prefix.
pub fn chain_hash(
    prev: &str,
    timestamp: &str,
    actor_type: &str,
    actor_id: &str,
    action: &str,
    result: &str,
    metadata: &Value,
) -> String {
    let mut h = Sha256::new();
    for part in [prev, timestamp, actor_type, actor_id, action, result] {
        h.update(part.as_bytes());
    }
    let mut canon = String::new();
    canonical_json(metadata, &mut canon);
    h.update(canon.as_bytes());
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    h.finalize().iter().fold(String::with_capacity(64), |mut s, &b| {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
        s
    })
}

/// Compact JSON with object keys sorted at every depth; strings escape only `"`, `\` and control
/// characters (as `\u00xx`); numbers as serde_json writes them. Keys are sorted explicitly so
/// the result does not depend on serde_json's map feature flags.
pub fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => canonical_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_string(key, out);
                out.push(':');
                canonical_json(&map[key], out);
            }
            out.push('}');
        }
    }
}

fn canonical_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_sorts_keys_at_every_depth_and_escapes_minimally() {
        let v = json!({"b": {"z": 1, "a": [true, null, 2.5]}, "a": "é\n\"\\/"});
        let mut s = String::new();
        canonical_json(&v, &mut s);
        assert_eq!(s, r#"{"a":"é\u000a\"\\/","b":{"a":[true,null,2.5],"z":1}}"#);
    }

    #[test]
    fn chain_hash_matches_an_independent_sha256() {
        // sha256("0"*64 + "2026-01-01T00:00:00.000Z" + "user" + "api" + "link" + "completed" + "{}")
        let h = chain_hash(
            GENESIS,
            "2026-01-01T00:00:00.000Z",
            "user",
            "api",
            "link",
            "completed",
            &json!({}),
        );
        let mut d = Sha256::new();
        d.update(format!("{GENESIS}2026-01-01T00:00:00.000Zuserapilinkcompleted{{}}"));
        let expected: String = d.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(h, expected);
    }
}
