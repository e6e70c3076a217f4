//! Memory (docs/API.md §2.5): add an entry, statistics, ranked search.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ApiError;
use crate::api::{OrgId, Request, Response, Scope, State, body};
use crate::search::memory::MemoryFilter;
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::memory::NewMemory;
use crate::store::records::MemoryEntry;
use crate::store::{agents, memory, projects};

const MAX_CONTENT: usize = 64 * 1024;
const CATEGORIES: [&str; 5] = ["code", "conversation", "pattern", "incident", "ci"];
const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AddBody {
    content: Option<String>,
    category: Option<String>,
    agent_id: Option<String>,
    project_id: Option<String>,
    metadata: Option<Map<String, Value>>,
}

pub async fn add(state: &State, org: &OrgId, req: &Request) -> Result<Response, ApiError> {
    let input: AddBody = body::json(&req.body)?;
    let content = input
        .content
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| ApiError::MissingField("content".into()))?;
    if content.len() > MAX_CONTENT {
        return Err(ApiError::FieldTooLarge { field: "content", limit: MAX_CONTENT });
    }
    let category = input.category.unwrap_or_else(|| "conversation".into());
    if !CATEGORIES.contains(&category.as_str()) {
        return Err(ApiError::InvalidField {
            field: "category".into(),
            reason: format!("must be one of {}", CATEGORIES.join(", ")),
        });
    }
    let metadata = Value::Object(input.metadata.unwrap_or_default());
    let (agent_id, project_id) =
        (input.agent_id.filter(|a| !a.is_empty()), input.project_id.filter(|p| !p.is_empty()));
    let (org, actor) = (org.to_string(), req.actor().to_owned());
    let entry = state
        .store
        .write(move |tx| {
            if let Some(a) = &agent_id
                && agents::get(tx, &org, a)?.is_none()
            {
                return Err(ApiError::AgentNotFound(a.clone()));
            }
            if let Some(p) = &project_id
                && projects::get(tx, &org, p)?.is_none()
            {
                return Err(ApiError::ProjectNotFound(p.clone()));
            }
            let entry = memory::add(
                tx,
                NewMemory {
                    org: &org,
                    agent_id: agent_id.clone(),
                    project_id: project_id.clone(),
                    category: &category,
                    content: content.clone(),
                    metadata: metadata.clone(),
                },
            )?;
            let mut draft = AuditDraft::new(ActorType::User, &actor, "memory.add")
                .meta("memoryId", entry.id.as_str())
                .meta("category", entry.category.as_str())
                .meta("bytes", entry.content.len())
                .meta("metadata", entry.metadata.clone());
            if let Some(a) = &entry.agent_id {
                draft = draft.meta("agentId", a.as_str());
            }
            if let Some(p) = &entry.project_id {
                draft = draft.meta("projectId", p.as_str());
            }
            audit::append(tx, &org, draft)?;
            Ok(entry)
        })
        .await?;
    Ok(Response::json(201, &view(&entry)))
}

/// An entry as the API shows it (the internal seq stays internal).
pub fn view(e: &MemoryEntry) -> Value {
    json!({
        "id": e.id, "orgId": e.org_id, "agentId": e.agent_id, "projectId": e.project_id,
        "category": e.category, "content": e.content, "metadata": e.metadata,
        "createdAt": e.created_at,
    })
}

/// Content bytes as megabytes with two decimals, as `storageMB` shows them.
pub fn storage_mb(bytes: u64) -> f64 {
    (bytes as f64 / 1_048_576.0 * 100.0).round() / 100.0
}

/// Statistics of the scope's memory, from totals kept as entries arrive (one row to read).
pub fn stats(state: &State, scope: &Scope) -> Result<Response, ApiError> {
    let tx = state.store.read()?;
    let totals = memory::totals_of(&tx, scope.filter())?;
    let newest_repo = projects::list(&tx, scope.filter())?.pop().map(|p| p.repo);
    let indexed = state.search.memory.indexed();
    let last_sync = memory::newest_upto(&tx, scope.filter(), indexed)?.map(|e| e.created_at);
    Ok(Response::ok(&json!({
        "vectorStore": {
            "totalEmbeddings": totals.entries,
            "storageMB": storage_mb(totals.bytes),
            "lastSync": last_sync,
            "dimensions": null,
            "backend": "tantivy",
        },
        "conversations": {
            "totalMessages": totals.conversations,
            "uniqueUsers": totals.users,
            "channels": totals.channels,
            "retentionDays": null,
        },
        "projectContext": {
            "filesIndexed": totals.code,
            "lastIndexed": totals.last_code_at,
            "repo": newest_repo,
        },
    })))
}

/// Ranked full-text search (tantivy query syntax in `q`), org-filtered by the search module,
/// once the index holds every entry acknowledged before the request (`Search::reach`).
pub async fn search(state: &State, scope: &Scope, req: &Request) -> Result<Response, ApiError> {
    let q = req.query.required("q")?;
    let category = req.query.get("category").map(str::to_owned);
    if let Some(c) = &category
        && !CATEGORIES.contains(&c.as_str())
    {
        return Err(ApiError::InvalidParameter {
            name: "category",
            reason: format!("'{c}' is not one of {}", CATEGORIES.join(", ")),
        });
    }
    let filter = MemoryFilter {
        agent_id: req.query.get("agentId").map(str::to_owned),
        project_id: req.query.get("projectId").map(str::to_owned),
        category,
    };
    let page_size = req.query.int("limit")?.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT) as u64;
    let page = req.query.int("page")?.unwrap_or(1).max(1) as u64;
    let offset = (page - 1).saturating_mul(page_size);
    state.search.reach(&state.search.memory, &state.store).await;
    let (hits, total) = state.search.memory.search(
        scope.filter(),
        q,
        &filter,
        usize::try_from(offset).unwrap_or(usize::MAX),
        page_size as usize,
    )?;
    let tx = state.store.read()?;
    let mut results = Vec::with_capacity(hits.len());
    for (seq, score) in hits {
        if let Some(entry) = memory::by_seq(&tx, seq)? {
            let mut v = view(&entry);
            v["score"] = json!(score);
            results.push(v);
        }
    }
    let total_pages = total.div_ceil(page_size).max(1);
    Ok(Response::ok(&json!({
        "results": results,
        "total": total,
        "page": page,
        "pageSize": page_size,
        "totalPages": total_pages,
        "hasMore": page < total_pages,
    })))
}
