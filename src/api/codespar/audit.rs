//! The audit trail (docs/API.md §2.4): `GET /api/audit` (newest first, by page or by keyset, with
//! filters and full-text `q`) and `GET /api/audit/verify` (recomputes the hash chains).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use super::ApiError;
use crate::api::{Request, Response, Scope, State};
use crate::clock;
use crate::search::audit::{ActionMatch, AuditFilter};
use crate::search::{MAX_WINDOW, SearchError};
use crate::store::audit::{self, AuditEntry, Verification};
use crate::store::projects;

const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 100;

/// What a listing asks for, parsed from the query string.
struct Listing {
    page_size: u64,
    page: u64,
    before: Option<u64>,
    filter: AuditFilter,
    q: Option<String>,
}

impl Listing {
    fn parse(req: &Request) -> Result<Self, ApiError> {
        let query = &req.query;
        let one_of = |name: &'static str, allowed: &[&str]| -> Result<Option<String>, ApiError> {
            match query.get(name) {
                Some(v) if allowed.contains(&v) => Ok(Some(v.to_owned())),
                Some(v) => Err(ApiError::InvalidParameter {
                    name,
                    reason: format!("'{v}' is not one of {}", allowed.join(", ")),
                }),
                None => Ok(None),
            }
        };
        let time = |name: &'static str| -> Result<Option<i64>, ApiError> {
            query
                .get(name)
                .map(|v| {
                    clock::parse_rfc3339(v).ok_or_else(|| ApiError::InvalidParameter {
                        name,
                        reason: format!("'{v}' is not an RFC 3339 timestamp"),
                    })
                })
                .transpose()
        };
        let risk = one_of("risk", &["low", "medium", "high", "critical", "all"])?;
        let filter = AuditFilter {
            risk: risk.filter(|r| r != "all"),
            actor_type: one_of("actorType", &["user", "agent", "system"])?,
            actor_id: query.get("actorId").map(str::to_owned),
            action: query.get("action").map(|a| match a.strip_suffix('*') {
                Some(prefix) => ActionMatch::Prefix(prefix.to_owned()),
                None => ActionMatch::Exact(a.to_owned()),
            }),
            result: one_of(
                "result",
                &["completed", "approved", "denied", "failed", "processed", "pending"],
            )?,
            agent_id: query.get("agentId").map(str::to_owned),
            project: query.get("project").map(|p| vec![p.to_owned()]).unwrap_or_default(),
            since_ms: time("since")?,
            until_ms: time("until")?,
        };
        Ok(Self {
            page_size: query.int("limit")?.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT) as u64,
            page: query.int("page")?.unwrap_or(1).max(1) as u64,
            before: query.int("before")?.map(|b| u64::try_from(b).unwrap_or(0)),
            filter,
            q: query.get("q").map(str::to_owned),
        })
    }

    fn offset(&self) -> u64 {
        if self.before.is_some() { 0 } else { (self.page - 1).saturating_mul(self.page_size) }
    }

    /// A `page` costs its offset: it may reach [`MAX_WINDOW`] entries deep, like searches;
    /// further, `before=<seq>` pages at any depth for the cost of one page.
    fn check_depth(&self) -> Result<(), ApiError> {
        if self.offset().saturating_add(self.page_size) > MAX_WINDOW as u64 {
            return Err(SearchError::TooDeep { max: MAX_WINDOW }.into());
        }
        Ok(())
    }
}

/// `page` skips `(page-1)*limit` entries; `before=<seq>` starts below that seq instead and costs
/// the same at any depth. Both answer `nextBefore`, the seq to continue from.
pub async fn list(state: &State, scope: &Scope, req: &Request) -> Result<Response, ApiError> {
    let mut listing = Listing::parse(req)?;
    listing.check_depth()?;
    also_by_its_names(state, scope, &mut listing.filter)?;
    if listing.q.is_some() {
        // `q` is answered by the index alone: let it reach what was acknowledged first.
        state.search.reach(&state.search.audit, &state.store).await;
    }
    // In keyset mode one more than asked tells whether anything lies beyond this page.
    let want = listing.page_size + u64::from(listing.before.is_some());
    let (mut entries, total) = if listing.filter.is_empty() && listing.q.is_none() {
        from_store(state, scope, &listing, want)?
    } else {
        from_search(state, scope, &listing, want)?
    };
    if listing.before.is_some() {
        let has_more = entries.len() as u64 > listing.page_size;
        entries.truncate(listing.page_size as usize);
        return Ok(Response::ok(&json!({
            "entries": entries,
            "total": total,
            "pageSize": listing.page_size,
            "hasMore": has_more,
            "nextBefore": next_before(&entries, has_more),
        })));
    }
    let total_pages = total.div_ceil(listing.page_size).max(1);
    let has_more = listing.page < total_pages;
    Ok(Response::ok(&json!({
        "entries": entries,
        "total": total,
        "page": listing.page,
        "pageSize": listing.page_size,
        "totalPages": total_pages,
        "hasMore": has_more,
        "nextBefore": next_before(&entries, has_more),
    })))
}

/// `project=` names a project as CodeSpar's clients do (docs/API.md §2.4): its id, repository or
/// repository name. Entries name it by id (`metadata.projectId`) or, in CodeSpar's entries, by
/// repository name (`metadata.project`): the filter takes every name of each project it names.
fn also_by_its_names(
    state: &State,
    scope: &Scope,
    filter: &mut AuditFilter,
) -> Result<(), ApiError> {
    let Some(name) = filter.project.first().cloned() else { return Ok(()) };
    for p in projects::list(&state.store.read()?, scope.filter())? {
        if p.is_named(&name) {
            let repo_name = p.repo.rsplit('/').next().unwrap_or(&p.repo).to_owned();
            for alias in [p.id, p.repo, repo_name] {
                if !filter.project.contains(&alias) {
                    filter.project.push(alias);
                }
            }
        }
    }
    Ok(())
}

/// No filter and no `q`: straight from the store, exact and immediate.
fn from_store(
    state: &State,
    scope: &Scope,
    listing: &Listing,
    want: u64,
) -> Result<(Vec<AuditEntry>, u64), ApiError> {
    let tx = state.store.read()?;
    let total = audit::total(&tx, scope.filter())?;
    let entries = match listing.before {
        Some(before) => audit::page_before(&tx, scope.filter(), before, want as usize)?,
        None if listing.offset() < total => {
            audit::page(&tx, scope.filter(), listing.offset(), want as usize)?
        }
        None => Vec::new(),
    };
    Ok((entries, total))
}

/// Filters or `q`: the index for what it holds, plus (for filters) a scan of the entries it has
/// not reached yet, so a filtered listing sees a write as soon as it returns. `q` is answered
/// by the index alone, once it reached the store (`Search::reach`, in [`list`]).
fn from_search(
    state: &State,
    scope: &Scope,
    listing: &Listing,
    want: u64,
) -> Result<(Vec<AuditEntry>, u64), ApiError> {
    let index = &state.search.audit;
    // Read before the snapshot: everything up to `indexed` is both searchable and in it.
    let indexed = index.indexed();
    let tx = state.store.read()?;
    let tail: Vec<AuditEntry> = match listing.q {
        Some(_) => Vec::new(),
        None => {
            audit::newest_between(&tx, scope.filter(), indexed, listing.before.unwrap_or(u64::MAX))?
                .into_iter()
                .filter(|e| listing.filter.matches(e))
                .collect()
        }
    };
    let offset = listing.offset() as usize;
    let want = want as usize;
    let mut entries: Vec<AuditEntry> = tail.iter().skip(offset).take(want).cloned().collect();
    let (seqs, indexed_total) = index.search(
        scope.filter(),
        &listing.filter,
        listing.q.as_deref(),
        indexed,
        listing.before,
        offset.saturating_sub(tail.len()),
        want - entries.len(),
    )?;
    for seq in seqs.into_iter().take(want - entries.len()) {
        // Gone only if retention removed it after it was indexed.
        if let Some(entry) = audit::by_seq(&tx, seq)? {
            entries.push(entry);
        }
    }
    Ok((entries, tail.len() as u64 + indexed_total))
}

fn next_before(entries: &[AuditEntry], has_more: bool) -> Value {
    match entries.last() {
        Some(last) if has_more => Value::from(last.seq),
        _ => Value::Null,
    }
}

/// Recomputes the scope's chains off the async threads (it reads every entry).
/// Recomputes the scope's chains on the blocking pool. It reads every entry, so one runs at a
/// time (another is 409 `VERIFICATION_RUNNING`), and it stops when its client goes away.
pub async fn verify(state: &State, scope: &Scope) -> Result<Response, ApiError> {
    let Ok(_running) = state.verifications.try_acquire() else {
        return Err(ApiError::VerificationRunning);
    };
    let tx = state.store.read()?;
    let only = scope.filter().map(str::to_owned);
    // Dropped with this request's future (the client disconnected): the work stops.
    let abandoned = StopOnDrop::default();
    let stop = abandoned.flag();
    let chains = tokio::task::spawn_blocking(move || {
        let stop = || stop.load(Ordering::Relaxed);
        match only {
            Some(org) => audit::verify_until(&tx, &org, &stop).map(|v| vec![v]),
            None => audit::chained_orgs(&tx)?
                .iter()
                .map(|org| audit::verify_until(&tx, org, &stop))
                .collect(),
        }
    })
    .await
    .map_err(|e| ApiError::internal(format!("verification task failed: {e}")))??;
    Ok(Response::ok(&report(scope, &chains)))
}

/// A flag set when it is dropped: tells blocking work its requester has gone.
#[derive(Default)]
struct StopOnDrop(Arc<AtomicBool>);

impl StopOnDrop {
    fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.0)
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
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
