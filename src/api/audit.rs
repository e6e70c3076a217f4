//! The audit trail (contract 5): `GET /api/audit` (newest first, by page or by keyset) and
//! `GET /api/audit/verify` (recomputes the hash chains).

use serde_json::{Value, json};

use super::{ApiError, App, Request, Response, Scope};
use crate::store::audit::{self, AuditEntry, Verification};

const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 100;

/// `page` skips `(page-1)*limit` entries; `before=<seq>` starts below that seq instead and costs
/// the same at any depth. Both answer `nextBefore`, the seq to continue from.
pub fn list(app: &App, scope: &Scope, req: &Request) -> Result<Response, ApiError> {
    let page_size = req.query.int("limit")?.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT) as u64;
    let before = req.query.int("before")?;
    let page = req.query.int("page")?.unwrap_or(1).max(1) as u64;
    let tx = app.store.read()?;
    let total = audit::total(&tx, scope.filter())?;
    if let Some(before) = before {
        let before = u64::try_from(before).unwrap_or(0);
        // One more than asked tells whether anything lies beyond this page.
        let mut entries = audit::page_before(&tx, scope.filter(), before, page_size as usize + 1)?;
        let has_more = entries.len() as u64 > page_size;
        entries.truncate(page_size as usize);
        return Ok(Response::ok(&json!({
            "entries": entries,
            "total": total,
            "pageSize": page_size,
            "hasMore": has_more,
            "nextBefore": next_before(&entries, has_more),
        })));
    }
    let offset = (page - 1).saturating_mul(page_size);
    let entries = if offset < total {
        audit::page(&tx, scope.filter(), offset, page_size as usize)?
    } else {
        Vec::new()
    };
    let total_pages = total.div_ceil(page_size).max(1);
    let has_more = page < total_pages;
    Ok(Response::ok(&json!({
        "entries": entries,
        "total": total,
        "page": page,
        "pageSize": page_size,
        "totalPages": total_pages,
        "hasMore": has_more,
        "nextBefore": next_before(&entries, has_more),
    })))
}

fn next_before(entries: &[AuditEntry], has_more: bool) -> Value {
    match entries.last() {
        Some(last) if has_more => Value::from(last.seq),
        _ => Value::Null,
    }
}

/// Recomputes the scope's chains off the async threads (it reads every entry).
pub async fn verify(app: &App, scope: &Scope) -> Result<Response, ApiError> {
    let tx = app.store.read()?;
    let only = scope.filter().map(str::to_owned);
    let chains = tokio::task::spawn_blocking(move || match only {
        Some(org) => audit::verify(&tx, &org).map(|v| vec![v]),
        None => audit::chained_orgs(&tx)?.iter().map(|org| audit::verify(&tx, org)).collect(),
    })
    .await
    .map_err(|e| ApiError::Internal(format!("verification task failed: {e}")))??;
    Ok(Response::ok(&report(scope, &chains)))
}

/// One org: `{valid, entries, lastHash}` (plus `brokenAt`, `reason`). Every org: the same totals
/// (the first break in seq order, the newest hash) plus the per-org detail in `orgs`.
fn report(scope: &Scope, chains: &[Verification]) -> Value {
    let mut out = summary(chains);
    if scope.filter().is_none() {
        out["orgs"] = chains.iter().map(|c| summary(std::slice::from_ref(c))).collect();
        for (detail, chain) in out["orgs"].as_array_mut().into_iter().flatten().zip(chains) {
            detail["orgId"] = Value::from(chain.org.as_str());
        }
    }
    out
}

fn summary(chains: &[Verification]) -> Value {
    let seq = |id: &str| id.trim_start_matches("aud-").parse::<u64>().unwrap_or(u64::MAX);
    let first_break = chains.iter().filter_map(|c| c.broken.as_ref()).min_by_key(|b| seq(&b.at));
    let newest = chains.iter().max_by_key(|c| c.last_seq).and_then(|c| c.last_hash.clone());
    let mut out = json!({
        "valid": first_break.is_none(),
        "entries": chains.iter().map(|c| c.entries).sum::<u64>(),
        "lastHash": newest,
    });
    if let Some(b) = first_break {
        out["brokenAt"] = Value::from(b.at.as_str());
        out["reason"] = Value::from(b.reason.as_str());
    }
    out
}
