//! `GET /api/audit` (contract 5): newest first, paged.

use serde_json::json;

use super::{ApiError, App, Request, Response, Scope};
use crate::store::audit;

const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 100;

pub fn list(app: &App, scope: &Scope, req: &Request) -> Result<Response, ApiError> {
    let page_size = req.query.int("limit")?.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT) as u64;
    let page = req.query.int("page")?.unwrap_or(1).max(1) as u64;
    let tx = app.store.read()?;
    let total = audit::total(&tx, scope.filter())?;
    let offset = (page - 1).saturating_mul(page_size);
    let entries = if offset < total {
        audit::page(&tx, scope.filter(), offset, page_size as usize)?
    } else {
        Vec::new()
    };
    let total_pages = total.div_ceil(page_size).max(1);
    Ok(Response::ok(&json!({
        "entries": entries,
        "total": total,
        "page": page,
        "pageSize": page_size,
        "totalPages": total_pages,
        "hasMore": page < total_pages,
    })))
}
