//! The admin listener's API (docs/API.md §7): the credentials Spar issues (API keys of the
//! dialects, org tokens of the CodeSpar API: create, list, revoke) and backups. Served only by
//! the loopback admin listener, with the token in `<data-dir>/spar.admin` (mode 0600);
//! `spar api-key` and `spar token` call the credential operations directly on a stopped
//! server's store.
//!
//! | method | path | endpoint |
//! |---|---|---|
//! | GET, POST | `/admin/api-keys` | [`Endpoint::ListKeys`], [`Endpoint::CreateKey`] |
//! | DELETE | `/admin/api-keys/:name-or-prefix` | [`Endpoint::RevokeKey`] |
//! | GET, POST | `/admin/tokens` | [`Endpoint::ListTokens`], [`Endpoint::CreateToken`] |
//! | DELETE | `/admin/tokens/:name-or-prefix` | [`Endpoint::RevokeToken`] |
//! | POST | `/admin/backup` | [`Endpoint::Backup`] |

mod error;

use serde::{Deserialize, Serialize};
use serde_json::json;

pub use error::AdminError;

use super::error::RequestError;
use super::path::{Method, Routed, endpoints};
use super::scope::OrgId;
use super::scope::ScopeError;
use super::{Request, Response, State, body};
use crate::clock;
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::credentials::{self, ApiKey, Kind, Match, OrgToken};
use crate::store::records::CredentialRecord;
use crate::store::{Store, orgs};

/// A credential as created: the only time its plaintext exists.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedKey {
    pub key: String,
    pub name: String,
    pub org_id: String,
    pub prefix: String,
    pub created_at: String,
}

/// A credential as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    pub name: String,
    pub org_id: String,
    pub prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<&CredentialRecord> for KeyView {
    fn from(k: &CredentialRecord) -> Self {
        Self {
            name: k.name.clone(),
            org_id: k.org_id.clone(),
            prefix: k.prefix.clone(),
            created_at: clock::rfc3339(k.created_at_ms),
            revoked_at: k.revoked_at_ms.map(clock::rfc3339),
        }
    }
}

endpoints! {
    pub enum Endpoint {
        CreateKey => "admin_create_key",
        ListKeys => "admin_list_keys",
        RevokeKey(String) => "admin_revoke_key",
        CreateToken => "admin_create_token",
        ListTokens => "admin_list_tokens",
        RevokeToken(String) => "admin_revoke_token",
        Backup => "admin_backup",
    }
}

pub fn route(method: Method, segs: &[&str]) -> Routed<Endpoint> {
    use Method::{Delete, Get, Head, Post};
    let (endpoint, allowed): (Option<Endpoint>, &'static [Method]) = match segs {
        ["admin", "api-keys"] => (
            match method {
                Get => Some(Endpoint::ListKeys),
                Post => Some(Endpoint::CreateKey),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["admin", "api-keys", key] => {
            ((method == Delete).then(|| Endpoint::RevokeKey((*key).to_owned())), &[Delete])
        }
        ["admin", "tokens"] => (
            match method {
                Get => Some(Endpoint::ListTokens),
                Post => Some(Endpoint::CreateToken),
                _ => None,
            },
            &[Get, Head, Post],
        ),
        ["admin", "tokens", token] => {
            ((method == Delete).then(|| Endpoint::RevokeToken((*token).to_owned())), &[Delete])
        }
        ["admin", "backup"] => ((method == Post).then_some(Endpoint::Backup), &[Post]),
        _ => return Routed::NoRoute,
    };
    Routed::arm(endpoint, allowed)
}

pub async fn handle(state: &State, endpoint: Endpoint, req: Request) -> Response {
    let answer = match &endpoint {
        Endpoint::CreateKey => create::<ApiKey>(state, &req).await,
        Endpoint::ListKeys => list::<ApiKey>(state),
        Endpoint::RevokeKey(key) => revoke::<ApiKey>(state, key).await,
        Endpoint::CreateToken => create::<OrgToken>(state, &req).await,
        Endpoint::ListTokens => list::<OrgToken>(state),
        Endpoint::RevokeToken(token) => revoke::<OrgToken>(state, token).await,
        Endpoint::Backup => backup(state, &req),
    };
    answer.unwrap_or_else(|e| e.into_response(&req.request_id))
}

/// A credential's name: 1 to 64 letters, digits, `.`, `_` or `-`, else 400 `INVALID_FIELD`.
fn check_key_name(name: &str) -> Result<(), AdminError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if valid {
        return Ok(());
    }
    let reason = "must be 1 to 64 letters, digits, '.', '_' or '-'";
    Err(body::InputError::field("name", reason).into())
}

/// Issues a credential of kind `K` for `org`, named `name`.
pub async fn create_key<K: Kind>(
    store: &Store,
    org: &str,
    name: &str,
) -> Result<CreatedKey, AdminError> {
    check_key_name(name)?;
    OrgId::parse(org)?;
    let secret = crate::ids::secret_hex(20)
        .map_err(|e| RequestError::Internal(format!("no randomness for a {}: {e}", K::NOUN)))?;
    let key = format!("{}{secret}", K::PREFIX);
    let record = CredentialRecord {
        name: name.to_owned(),
        org_id: org.to_owned(),
        prefix: key.chars().take(K::PREFIX.len() + 8).collect(),
        created_at_ms: clock::now_ms(),
        revoked_at_ms: None,
    };
    let (stored, plain) = (record.clone(), key.clone());
    store
        .write(move |tx| {
            if stored.org_id != orgs::DEFAULT_ORG && !orgs::exists(tx, &stored.org_id)? {
                return Err(ScopeError::OrgNotFound(stored.org_id.clone()).into());
            }
            if credentials::name_taken::<K>(tx, &stored.name)? {
                return Err(AdminError::exists::<K>(&stored.name));
            }
            credentials::insert::<K>(tx, &plain, &stored)?;
            let draft = AuditDraft::new(ActorType::User, "cli", K::CREATED)
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

pub fn list_keys<K: Kind>(store: &Store) -> Result<Vec<KeyView>, AdminError> {
    Ok(credentials::list::<K>(&store.read()?)?.iter().map(KeyView::from).collect())
}

/// Revokes the active credential with this name, or the one whose prefix starts so.
pub async fn revoke_key<K: Kind>(
    store: &Store,
    name_or_prefix: &str,
) -> Result<KeyView, AdminError> {
    let wanted = name_or_prefix.to_owned();
    let revoked = store
        .write(move |tx| {
            let (hashed, record) = match credentials::find_active::<K>(tx, &wanted)? {
                Match::One(hashed, record) => (hashed, record),
                Match::None => return Err(AdminError::not_found::<K>(&wanted)),
                Match::Several(names) => {
                    return Err(AdminError::AmbiguousKey { wanted: wanted.clone(), names });
                }
            };
            let now = clock::now_ms();
            credentials::revoke::<K>(tx, &hashed, &record, now)?;
            let draft = AuditDraft::new(ActorType::User, "cli", K::REVOKED)
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
#[serde(deny_unknown_fields)]
struct CreateBody {
    org: Option<String>,
    name: Option<String>,
}

async fn create<K: Kind>(state: &State, req: &Request) -> Result<Response, AdminError> {
    let input: CreateBody = body::json(&req.body)?;
    let org = body::required(input.org, "org")?;
    let name = body::required(input.name, "name")?;
    Ok(Response::json(201, &create_key::<K>(&state.store, &org, &name).await?))
}

fn list<K: Kind>(state: &State) -> Result<Response, AdminError> {
    Ok(Response::ok(&json!({ "keys": list_keys::<K>(&state.store)? })))
}

async fn revoke<K: Kind>(state: &State, name_or_prefix: &str) -> Result<Response, AdminError> {
    Ok(Response::ok(&revoke_key::<K>(&state.store, name_or_prefix).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupBody {
    out: Option<String>,
}

/// `POST /admin/backup {"out": "/abs/file"}`: writes a snapshot of the running store and
/// streams its progress as JSON lines (`{"rows","total"}`, then `{"done":true,...}` or
/// `{"error"}`), so `spar backup` can show progress for large stores.
fn backup(state: &State, req: &Request) -> Result<Response, AdminError> {
    let input: BackupBody = body::json(&req.body)?;
    let out = std::path::PathBuf::from(body::required(input.out, "out")?);
    if !out.is_absolute() {
        return Err(body::InputError::field("out", "must be an absolute path").into());
    }
    if out.exists() {
        return Err(AdminError::BackupExists(out.display().to_string()));
    }
    let (lines, stream) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
    let store = state.store.clone();
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
    Ok(Response::streaming("application/x-ndjson", stream))
}
