//! Administration of API keys (contract 9): create, list, revoke. `spar api-key` calls these
//! directly on a stopped server's store, or through the running server's loopback-only admin
//! listener (`/admin/api-keys`, guarded by the token in `<data-dir>/spar.admin`).

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApiError, App, Request, Response, body};
use crate::clock;
use crate::store::api_keys::KeyMatch;
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::records::ApiKeyRecord;
use crate::store::{Store, api_keys, orgs};

/// A key as created: the only time its plaintext exists.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedKey {
    pub key: String,
    pub name: String,
    pub org_id: String,
    pub prefix: String,
    pub created_at: String,
}

/// A key as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    pub name: String,
    pub org_id: String,
    pub prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<&ApiKeyRecord> for KeyView {
    fn from(k: &ApiKeyRecord) -> Self {
        Self {
            name: k.name.clone(),
            org_id: k.org_id.clone(),
            prefix: k.prefix.clone(),
            created_at: clock::rfc3339(k.created_at_ms),
            revoked_at: k.revoked_at_ms.map(clock::rfc3339),
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

pub async fn create_key(store: &Store, org: &str, name: &str) -> Result<CreatedKey, ApiError> {
    if !valid_name(name) {
        return Err(ApiError::InvalidField {
            field: "name".into(),
            reason: "must be 1 to 64 letters, digits, '.', '_' or '-'".into(),
        });
    }
    if !super::scope::valid_org_id(org) {
        return Err(ApiError::InvalidOrgId);
    }
    let secret = crate::ids::secret_hex(20)
        .map_err(|e| ApiError::Internal(format!("no randomness for a key: {e}")))?;
    let key = format!("spar_{secret}");
    let record = ApiKeyRecord {
        name: name.to_owned(),
        org_id: org.to_owned(),
        prefix: key.chars().take(13).collect(),
        created_at_ms: clock::now_ms(),
        revoked_at_ms: None,
    };
    let (stored, plain) = (record.clone(), key.clone());
    store
        .write(move |tx| {
            if stored.org_id != orgs::DEFAULT_ORG && !orgs::exists(tx, &stored.org_id)? {
                return Err(ApiError::OrgNotFound(stored.org_id.clone()));
            }
            if api_keys::name_taken(tx, &stored.name)? {
                return Err(ApiError::ApiKeyExists(stored.name.clone()));
            }
            api_keys::insert(tx, &plain, &stored)?;
            let draft = AuditDraft::new(ActorType::User, "cli", "api_key.create")
                .meta("name", stored.name.as_str())
                .meta("prefix", stored.prefix.as_str());
            audit::append(tx, &stored.org_id, draft)?;
            Ok(())
        })
        .await?;
    Ok(CreatedKey {
        key,
        name: record.name,
        org_id: record.org_id,
        prefix: record.prefix,
        created_at: clock::rfc3339(record.created_at_ms),
    })
}

pub fn list_keys(store: &Store) -> Result<Vec<KeyView>, ApiError> {
    Ok(api_keys::list(&store.read()?)?.iter().map(KeyView::from).collect())
}

/// Revokes the active key with this name, or the one whose prefix starts so.
pub async fn revoke_key(store: &Store, name_or_prefix: &str) -> Result<KeyView, ApiError> {
    let wanted = name_or_prefix.to_owned();
    let revoked = store
        .write(move |tx| {
            let (hashed, record) = match api_keys::find_active(tx, &wanted)? {
                KeyMatch::One(hashed, record) => (hashed, record),
                KeyMatch::None => return Err(ApiError::ApiKeyNotFound(wanted.clone())),
                KeyMatch::Several(names) => {
                    return Err(ApiError::InvalidState(format!(
                        "'{wanted}' matches several keys ({}); use a name",
                        names.join(", ")
                    )));
                }
            };
            let now = clock::now_ms();
            api_keys::revoke(tx, &hashed, &record, now)?;
            let draft = AuditDraft::new(ActorType::User, "cli", "api_key.revoke")
                .meta("name", record.name.as_str())
                .meta("prefix", record.prefix.as_str());
            audit::append(tx, &record.org_id, draft)?;
            let mut done = record;
            done.revoked_at_ms = Some(now);
            Ok(done)
        })
        .await?;
    Ok(KeyView::from(&revoked))
}

#[derive(Deserialize)]
struct CreateBody {
    org: Option<String>,
    name: Option<String>,
}

pub async fn create(app: &App, req: &Request) -> Result<Response, ApiError> {
    let input: CreateBody = body::json(&req.body)?;
    let org = body::required(input.org, "org")?;
    let name = body::required(input.name, "name")?;
    Ok(Response::json(201, &create_key(&app.store, &org, &name).await?))
}

pub fn list(app: &App) -> Result<Response, ApiError> {
    Ok(Response::ok(&json!({ "keys": list_keys(&app.store)? })))
}

pub async fn revoke(app: &App, name_or_prefix: &str) -> Result<Response, ApiError> {
    Ok(Response::ok(&revoke_key(&app.store, name_or_prefix).await?))
}

#[derive(Deserialize)]
struct BackupBody {
    out: Option<String>,
}

/// `POST /admin/backup {"out": "/abs/file"}`: writes a snapshot of the running store and
/// streams its progress as JSON lines (`{"rows","total"}`, then `{"done":true,...}` or
/// `{"error"}`), so `spar backup` can show progress for large stores.
pub async fn backup(app: &App, req: &Request) -> Result<Response, ApiError> {
    let input: BackupBody = body::json(&req.body)?;
    let out = std::path::PathBuf::from(body::required(input.out, "out")?);
    if !out.is_absolute() {
        return Err(ApiError::InvalidField {
            field: "out".into(),
            reason: "must be an absolute path".into(),
        });
    }
    if out.exists() {
        return Err(ApiError::InvalidState(format!(
            "{} already exists: remove it or choose another --out",
            out.display()
        )));
    }
    let (lines, stream) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
    let store = app.store.clone();
    tokio::task::spawn_blocking(move || {
        let line = |value: serde_json::Value| bytes::Bytes::from(format!("{value}\n"));
        let mut progress = |rows: u64, total: u64| {
            let _ = lines.blocking_send(line(json!({ "rows": rows, "total": total })));
        };
        let last = match store.backup_to(&out, &mut progress) {
            Ok(copied) => json!({ "done": true, "rows": copied.rows, "bytes": copied.bytes }),
            Err(e) => json!({ "error": e.to_string() }),
        };
        let _ = lines.blocking_send(line(last));
    });
    let mut response = Response::empty(200).with_header("content-type", "application/x-ndjson");
    response.stream = Some(stream);
    Ok(response)
}
