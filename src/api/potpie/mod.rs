//! The Potpie dialect (docs/API.md §6): `POST /api/v2/integrations/save` (also under
//! `/api/v1`), and Potpie's other integration routes under `/api/v1/integrations`. `x-api-key`
//! always; errors as FastAPI writes them ([`PotpieError`]: `{"detail": …}`, 422 with every
//! violation in field order, Pydantic v1 wording). Tokens in `auth_data` are stored and never
//! shown unmasked.
//!
//! | method | path | endpoint |
//! |---|---|---|
//! | POST | `/api/v2/integrations/save`, `/api/v1/integrations/save` | [`Endpoint::Save`] |
//! | POST | `/api/v1/integrations/create` | [`Endpoint::Create`] |
//! | GET | `/api/v1/integrations/connected` | [`Endpoint::Connected`] |
//! | GET | `/api/v1/integrations/list` | [`Endpoint::List`] |
//! | GET, DELETE | `/api/v1/integrations/:id` | [`Endpoint::Get`], [`Endpoint::Delete`] |
//! | PATCH | `/api/v1/integrations/:id/status?active=` | [`Endpoint::Status`] |
//! | GET | `/api/v1/integrations/schema/list` | [`Endpoint::SchemaList`] |
//! | GET, PUT, DELETE | `/api/v1/integrations/schema/:id` | [`Endpoint::SchemaGet`], [`Endpoint::SchemaPut`], [`Endpoint::SchemaDelete`] |

mod error;

use serde_json::{Map, Value, json};

pub use error::PotpieError;

use super::error::RequestError;
use super::path::{Method, Routed, endpoints};
use super::{Request, Response, State};
use crate::clock;
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::credentials::{self, ApiKey};
use crate::store::potpie;
use crate::store::records::CredentialRecord;

const TYPES: [&str; 6] = ["sentry", "github", "slack", "jira", "linear", "confluence"];
const STATUSES: [&str; 4] = ["active", "inactive", "pending", "error"];
const SECRET_FIELDS: [&str; 3] = ["access_token", "refresh_token", "code"];

endpoints! {
    pub enum Endpoint {
        Save => "potpie_save",
        Create => "potpie_create",
        Connected => "potpie_connected",
        List => "potpie_list",
        Get(String) => "potpie_get",
        Delete(String) => "potpie_delete",
        Status(String) => "potpie_status",
        SchemaList => "potpie_schema_list",
        SchemaGet(String) => "potpie_schema_get",
        SchemaPut(String) => "potpie_schema_put",
        SchemaDelete(String) => "potpie_schema_delete",
    }
}

pub fn route(method: Method, segs: &[&str]) -> Routed<Endpoint> {
    use Endpoint as E;
    use Method::{Delete, Get, Head, Patch, Post, Put};
    let (endpoint, allowed): (Option<Endpoint>, &'static [Method]) = match segs {
        ["api", "v1" | "v2", "integrations", "save"] => {
            ((method == Post).then_some(E::Save), &[Post])
        }
        ["api", "v1", "integrations", "create"] => ((method == Post).then_some(E::Create), &[Post]),
        ["api", "v1", "integrations", "connected"] => {
            ((method == Get).then_some(E::Connected), &[Get, Head])
        }
        ["api", "v1", "integrations", "list"] => ((method == Get).then_some(E::List), &[Get, Head]),
        ["api", "v1", "integrations", "schema", "list"] => {
            ((method == Get).then_some(E::SchemaList), &[Get, Head])
        }
        ["api", "v1", "integrations", "schema", id] => (
            match method {
                Get => Some(E::SchemaGet((*id).to_owned())),
                Put => Some(E::SchemaPut((*id).to_owned())),
                Delete => Some(E::SchemaDelete((*id).to_owned())),
                _ => None,
            },
            &[Get, Head, Put, Delete],
        ),
        ["api", "v1", "integrations", id, "status"] => {
            ((method == Patch).then(|| E::Status((*id).to_owned())), &[Patch])
        }
        ["api", "v1", "integrations", id] => (
            match method {
                Get => Some(E::Get((*id).to_owned())),
                Delete => Some(E::Delete((*id).to_owned())),
                _ => None,
            },
            &[Get, Head, Delete],
        ),
        _ => return Routed::NoRoute,
    };
    Routed::arm(endpoint, allowed)
}

pub async fn handle(state: &State, endpoint: Endpoint, req: Request) -> Response {
    use Endpoint as E;
    let answer = match &endpoint {
        E::Save => save(state, &req).await,
        E::Create => create(state, &req).await,
        E::Connected => connected(state, &req),
        E::List => list(state, &req),
        E::Get(id) => get(state, &req, id),
        E::Delete(id) => delete(state, &req, id).await,
        E::Status(id) => set_status(state, &req, id).await,
        E::SchemaList => schema_list(state, &req),
        E::SchemaGet(id) => schema_get(state, &req, id),
        E::SchemaPut(id) => schema_put(state, &req, id).await,
        E::SchemaDelete(id) => schema_delete(state, &req, id).await,
    };
    answer.unwrap_or_else(|e| e.into_response(&req.request_id))
}

fn authenticate(state: &State, req: &Request) -> Result<CredentialRecord, PotpieError> {
    let key = req.header("x-api-key").map(str::trim).filter(|k| !k.is_empty());
    let key = key.ok_or(PotpieError::MissingKey)?;
    credentials::authenticate::<ApiKey>(&state.store.read()?, key)?.ok_or(PotpieError::InvalidKey)
}

/// Pydantic v1-style violations, collected in field order.
#[derive(Default)]
struct Violations(Vec<Value>);

impl Violations {
    fn push(&mut self, loc: &[&str], msg: impl Into<String>, kind: &str, ctx: Option<Value>) {
        let mut loc_v = vec![Value::from("body")];
        loc_v.extend(loc.iter().map(|l| Value::from(*l)));
        let mut v = json!({ "loc": loc_v, "msg": msg.into(), "type": kind });
        if let Some(ctx) = ctx {
            v["ctx"] = ctx;
        }
        self.0.push(v);
    }

    fn missing(&mut self, loc: &[&str]) {
        self.push(loc, "field required", "value_error.missing", None);
    }

    fn into_result(self) -> Result<(), PotpieError> {
        if self.0.is_empty() { Ok(()) } else { Err(PotpieError::Invalid(self.0)) }
    }
}

fn check_str(
    v: &mut Violations,
    obj: &Map<String, Value>,
    loc: &[&str],
    key: &str,
    required: bool,
) {
    let path: Vec<&str> = loc.iter().copied().chain([key]).collect();
    match obj.get(key) {
        None if required => v.missing(&path),
        None | Some(Value::Null) if !required => {}
        Some(Value::String(_)) => {}
        _ => v.push(&path, "str type expected", "type_error.str", None),
    }
}

fn check_enum(
    v: &mut Violations,
    obj: &Map<String, Value>,
    key: &str,
    allowed: &[&str],
    required: bool,
) {
    match obj.get(key) {
        None if required => v.missing(&[key]),
        None | Some(Value::Null) if !required => {}
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => {}
        _ => {
            let permitted = allowed.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(", ");
            v.push(
                &[key],
                format!("value is not a valid enumeration member; permitted: {permitted}"),
                "type_error.enum",
                Some(json!({ "enum_values": allowed })),
            );
        }
    }
}

fn check_name(v: &mut Violations, obj: &Map<String, Value>, loc: &[&str]) {
    match obj.get("name") {
        None => v.missing(loc),
        Some(Value::String(s)) if s.chars().count() < 1 => v.push(
            loc,
            "ensure this value has at least 1 characters",
            "value_error.any_str.min_length",
            Some(json!({ "limit_value": 1 })),
        ),
        Some(Value::String(s)) if s.chars().count() > 255 => v.push(
            loc,
            "ensure this value has at most 255 characters",
            "value_error.any_str.max_length",
            Some(json!({ "limit_value": 255 })),
        ),
        Some(Value::String(_)) => {}
        Some(_) => v.push(loc, "str type expected", "type_error.str", None),
    }
}

/// An optional (or, for `create`, required) object field, with its string members checked.
fn check_object<'a>(
    v: &mut Violations,
    obj: &'a Map<String, Value>,
    key: &str,
    strings: &[&str],
    required: bool,
) -> Option<&'a Map<String, Value>> {
    match obj.get(key) {
        None if required => {
            v.missing(&[key]);
            None
        }
        None | Some(Value::Null) => None,
        Some(Value::Object(inner)) => {
            for s in strings {
                check_str(v, inner, &[key], s, false);
            }
            Some(inner)
        }
        Some(_) => {
            v.push(&[key], "value is not a valid dict", "type_error.dict", None);
            None
        }
    }
}

/// Validates a save (or, `strict`, a create) body; the violations are all reported at once.
fn validate(body: &Value, strict: bool) -> Result<(), PotpieError> {
    let mut v = Violations::default();
    let Value::Object(obj) = body else {
        let (msg, kind) = if body.is_null() {
            ("field required", "value_error.missing")
        } else {
            ("value is not a valid dict", "type_error.dict")
        };
        v.push(&[], msg, kind, None);
        return v.into_result();
    };
    check_name(&mut v, obj, &["name"]);
    check_enum(&mut v, obj, "integration_type", &TYPES, true);
    check_enum(&mut v, obj, "status", &STATUSES, false);
    match obj.get("active") {
        None | Some(Value::Null | Value::Bool(_)) => {}
        Some(_) => {
            v.push(&["active"], "value could not be parsed to a boolean", "type_error.bool", None)
        }
    }
    check_str(&mut v, obj, &[], "unique_identifier", strict);
    let auth = ["access_token", "refresh_token", "token_type", "scope", "code"];
    if let Some(a) = check_object(&mut v, obj, "auth_data", &auth, strict)
        && let Some(at) = a.get("expires_at").filter(|x| !x.is_null())
        && !at.as_str().is_some_and(|s| clock::parse_rfc3339(s).is_some() || parse_naive(s))
    {
        v.push(
            &["auth_data", "expires_at"],
            "invalid datetime format",
            "value_error.datetime",
            None,
        );
    }
    let scope = ["org_slug", "installation_id", "workspace_id", "project_id"];
    check_object(&mut v, obj, "scope_data", &scope, strict);
    let meta = ["created_via", "version", "description"];
    if let Some(m) = check_object(&mut v, obj, "metadata", &meta, strict) {
        check_str(&mut v, m, &["metadata"], "instance_name", true);
        match m.get("tags") {
            None | Some(Value::Null) => {}
            Some(Value::Array(tags)) if tags.iter().all(Value::is_string) => {}
            Some(_) => {
                v.push(&["metadata", "tags"], "value is not a valid list", "type_error.list", None)
            }
        }
    }
    v.into_result()
}

/// `2025-01-15T10:30:00` with optional fractions: what Python's `fromisoformat` takes.
fn parse_naive(s: &str) -> bool {
    clock::parse_rfc3339(&format!("{}Z", s.trim_end_matches('Z'))).is_some()
}

/// Potpie's `datetime.utcnow().isoformat()`: microseconds, no zone letter.
fn potpie_time(ms: i64) -> String {
    let text = clock::rfc3339(ms);
    format!("{}000", text.trim_end_matches('Z'))
}

fn uuid_v4() -> Result<String, PotpieError> {
    let hex = crate::ids::secret_hex(16)
        .map_err(|e| RequestError::Internal(format!("no randomness: {e}")))?;
    let mut h: Vec<char> = hex.chars().collect();
    h[12] = '4';
    h[16] = ['8', '9', 'a', 'b'][usize::from(h[16].to_digit(16).unwrap_or(0) as u8 % 4)];
    let h: String = h.into_iter().collect();
    Ok(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// The stored integration object built from a validated body.
fn build(body: &Value, key: &CredentialRecord, id: &str, forced_active: bool) -> Value {
    let now = potpie_time(clock::now_ms());
    let name = text(body, "/name").unwrap_or_default();
    let kind = text(body, "/integration_type").unwrap_or_default();
    let auth = body.get("auth_data").filter(|a| a.is_object()).map(|a| {
        json!({
            "access_token": a.get("access_token").cloned().unwrap_or(Value::Null),
            "refresh_token": a.get("refresh_token").cloned().unwrap_or(Value::Null),
            "token_type": a.get("token_type").cloned().filter(|t| !t.is_null()).unwrap_or(json!("Bearer")),
            "expires_at": a.get("expires_at").cloned().unwrap_or(Value::Null),
            "scope": a.get("scope").cloned().unwrap_or(Value::Null),
            "code": a.get("code").cloned().unwrap_or(Value::Null),
        })
    });
    let scope = body.get("scope_data").filter(|s| s.is_object()).map(|s| {
        json!({
            "org_slug": s.get("org_slug").cloned().unwrap_or(Value::Null),
            "installation_id": s.get("installation_id").cloned().unwrap_or(Value::Null),
            "workspace_id": s.get("workspace_id").cloned().unwrap_or(Value::Null),
            "project_id": s.get("project_id").cloned().unwrap_or(Value::Null),
        })
    });
    let metadata = match body.get("metadata").filter(|m| m.is_object()) {
        Some(m) => json!({
            "instance_name": text(m, "/instance_name").unwrap_or_else(|| name.clone()),
            "created_via": m.get("created_via").cloned().filter(|c| !c.is_null()).unwrap_or(json!("oauth_callback")),
            "version": m.get("version").cloned().unwrap_or(Value::Null),
            "description": m.get("description").cloned().unwrap_or(Value::Null),
            "tags": m.get("tags").cloned().filter(|t| !t.is_null()).unwrap_or(json!([])),
        }),
        None => json!({
            "instance_name": name, "created_via": "manual", "version": null,
            "description": null, "tags": [],
        }),
    };
    let unique = text(body, "/unique_identifier").unwrap_or_else(|| format!("{kind}-{id}"));
    let (status, active) = if forced_active {
        (json!("active"), json!(true))
    } else {
        (
            body.get("status").cloned().filter(|s| !s.is_null()).unwrap_or(json!("active")),
            body.get("active").cloned().filter(|a| !a.is_null()).unwrap_or(json!(true)),
        )
    };
    json!({
        "integration_id": id, "name": name, "integration_type": kind, "status": status,
        "active": active, "auth_data": auth, "scope_data": scope, "metadata": metadata,
        "unique_identifier": unique, "created_by": key.name, "org_id": key.org_id,
        "created_at": now, "updated_at": now,
    })
}

fn has_auth(i: &Value) -> bool {
    text(i, "/auth_data/access_token").is_some()
}

fn has_scope(i: &Value) -> bool {
    text(i, "/scope_data/org_slug").is_some() || text(i, "/scope_data/workspace_id").is_some()
}

/// The integration as every route shows it: tokens masked, `has_*` flags added.
fn shown(i: &Value) -> Value {
    let mut out = i.clone();
    if let Some(obj) = out.as_object_mut() {
        obj.remove("org_id");
    }
    if let Some(auth) = out.get_mut("auth_data").and_then(Value::as_object_mut) {
        for field in SECRET_FIELDS {
            if let Some(Value::String(secret)) = auth.get(field) {
                let last4: String =
                    secret.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
                auth.insert(field.to_owned(), Value::from(format!("••••{last4}")));
            }
        }
    }
    out["has_auth_data"] = Value::from(has_auth(i));
    out["has_scope_data"] = Value::from(has_scope(i));
    out
}

fn body_value(req: &Request) -> Result<Value, PotpieError> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&req.body).map_err(|e| {
        PotpieError::Invalid(vec![json!({ "loc": ["body", 0], "msg": format!("Expecting value: {e}"), "type": "value_error.jsondecode" })])
    })
}

async fn store_new(
    state: &State,
    key: &CredentialRecord,
    integration: Value,
    action: &'static str,
) -> Result<(), PotpieError> {
    let (org, actor) = (key.org_id.clone(), key.name.clone());
    state
        .store
        .write(move |tx| {
            let id = integration["integration_id"].as_str().unwrap_or_default().to_owned();
            potpie::put(tx, &org, &id, &integration)?;
            let draft = AuditDraft::new(ActorType::User, &actor, action)
                .meta("integrationId", id.as_str())
                .meta("integrationType", integration["integration_type"].clone());
            audit::append(tx, &org, draft)?;
            Ok::<_, PotpieError>(())
        })
        .await
}

/// `POST /api/v2/integrations/save` (and `/api/v1/integrations/save`).
async fn save(state: &State, req: &Request) -> Result<Response, PotpieError> {
    let key = authenticate(state, req)?;
    let body = body_value(req)?;
    validate(&body, false)?;
    let id = uuid_v4()?;
    let integration = build(&body, &key, &id, false);
    store_new(state, &key, integration.clone(), "potpie.integration.save")
        .await
        .map_err(|e| PotpieError::SaveFailed(e.to_string()))?;
    let data = json!({
        "integration_id": id, "name": integration["name"], "integration_type": integration["integration_type"],
        "status": integration["status"], "active": integration["active"],
        "unique_identifier": integration["unique_identifier"], "created_by": integration["created_by"],
        "created_at": integration["created_at"], "has_auth_data": has_auth(&integration),
        "has_scope_data": has_scope(&integration), "metadata": integration["metadata"],
    });
    Ok(Response::ok(&json!({ "success": true, "data": data, "error": null })))
}

/// `POST /api/v1/integrations/create`: every field required; always created active.
async fn create(state: &State, req: &Request) -> Result<Response, PotpieError> {
    let key = authenticate(state, req)?;
    let body = body_value(req)?;
    validate(&body, true)?;
    let id = uuid_v4()?;
    let integration = build(&body, &key, &id, true);
    store_new(state, &key, integration.clone(), "potpie.integration.create").await?;
    Ok(Response::ok(&json!({ "success": true, "data": shown(&integration), "error": null })))
}

fn map_of(list: &[Value]) -> Value {
    let mut map = Map::new();
    for i in list {
        map.insert(i["integration_id"].as_str().unwrap_or_default().to_owned(), shown(i));
    }
    Value::Object(map)
}

fn connected(state: &State, req: &Request) -> Result<Response, PotpieError> {
    let key = authenticate(state, req)?;
    let all = potpie::list(&state.store.read()?, &key.org_id)?;
    let active: Vec<Value> = all.into_iter().filter(|i| i["active"] == true).collect();
    Ok(Response::ok(
        &json!({ "status": "success", "count": active.len(), "connected_integrations": map_of(&active) }),
    ))
}

fn list(state: &State, req: &Request) -> Result<Response, PotpieError> {
    let key = authenticate(state, req)?;
    let all = potpie::list(&state.store.read()?, &key.org_id)?;
    let kind = req.query.get("integration_type");
    let org_slug = req.query.get("org_slug");
    let picked: Vec<Value> = all
        .into_iter()
        .filter(|i| match (kind, org_slug) {
            (Some(k), _) => i["integration_type"] == k,
            (None, Some(slug)) => {
                i.pointer("/scope_data/org_slug").and_then(Value::as_str) == Some(slug)
            }
            (None, None) => true,
        })
        .collect();
    Ok(Response::ok(
        &json!({ "status": "success", "count": picked.len(), "integrations": map_of(&picked) }),
    ))
}

fn find(state: &State, key: &CredentialRecord, id: &str) -> Result<Value, PotpieError> {
    potpie::get(&state.store.read()?, &key.org_id, id)?
        .ok_or_else(|| PotpieError::NotFound(format!("Integration not found: {id}")))
}

fn get(state: &State, req: &Request, id: &str) -> Result<Response, PotpieError> {
    let key = authenticate(state, req)?;
    let found = find(state, &key, id)?;
    Ok(Response::ok(&json!({ "status": "success", "integration": shown(&found) })))
}

async fn remove(state: &State, key: &CredentialRecord, id: &str) -> Result<Value, PotpieError> {
    let found = find(state, key, id)?;
    let (org, actor, id) = (key.org_id.clone(), key.name.clone(), id.to_owned());
    state
        .store
        .write(move |tx| {
            potpie::remove(tx, &org, &id)?;
            let draft = AuditDraft::new(ActorType::User, &actor, "potpie.integration.delete")
                .meta("integrationId", id.as_str());
            audit::append(tx, &org, draft)?;
            Ok::<_, PotpieError>(())
        })
        .await?;
    Ok(found)
}

async fn delete(state: &State, req: &Request, id: &str) -> Result<Response, PotpieError> {
    let key = authenticate(state, req)?;
    if id.len() < 10 {
        return Err(PotpieError::BadRequest("Invalid integration ID format".into()));
    }
    let gone = remove(state, &key, id).await?;
    Ok(Response::ok(&json!({
        "status": "success", "message": format!("Integration deleted: {id}"),
        "deleted_integration": { "integration_id": id, "name": gone["name"], "type": gone["integration_type"] },
    })))
}

async fn set_status(state: &State, req: &Request, id: &str) -> Result<Response, PotpieError> {
    let key = authenticate(state, req)?;
    let active = match req.query.get("active") {
        Some("true" | "1" | "yes" | "on") => true,
        Some("false" | "0" | "no" | "off") => false,
        other => {
            let (msg, kind) = if other.is_none() {
                ("field required", "value_error.missing")
            } else {
                ("value could not be parsed to a boolean", "type_error.bool")
            };
            return Err(PotpieError::Invalid(vec![
                json!({ "loc": ["query", "active"], "msg": msg, "type": kind }),
            ]));
        }
    };
    update(state, &key, id, move |i| i["active"] = Value::from(active)).await?;
    Ok(Response::ok(&json!({
        "status": "success", "message": format!("Integration status updated: {id} -> active: {active}"),
    })))
}

async fn update(
    state: &State,
    key: &CredentialRecord,
    id: &str,
    change: impl Fn(&mut Value) + Send + 'static,
) -> Result<Value, PotpieError> {
    find(state, key, id)?;
    let (org, actor, id) = (key.org_id.clone(), key.name.clone(), id.to_owned());
    state
        .store
        .write(move |tx| {
            let mut found = potpie::get(tx, &org, &id)?
                .ok_or_else(|| PotpieError::NotFound(format!("Integration not found: {id}")))?;
            change(&mut found);
            found["updated_at"] = Value::from(potpie_time(clock::now_ms()));
            potpie::put(tx, &org, &id, &found)?;
            let draft = AuditDraft::new(ActorType::User, &actor, "potpie.integration.update")
                .meta("integrationId", id.as_str());
            audit::append(tx, &org, draft)?;
            Ok::<_, PotpieError>(found)
        })
        .await
}

/// The `/schema/*` routes answer failures as 200 `{success:false, data:null, error}`.
fn schema_failure(e: PotpieError) -> Result<Response, PotpieError> {
    match e {
        PotpieError::NotFound(message) => {
            Ok(Response::ok(&json!({ "success": false, "data": null, "error": message })))
        }
        other => Err(other),
    }
}

fn schema_get(state: &State, req: &Request, id: &str) -> Result<Response, PotpieError> {
    let key = authenticate(state, req)?;
    match find(state, &key, id) {
        Ok(found) => {
            Ok(Response::ok(&json!({ "success": true, "data": shown(&found), "error": null })))
        }
        Err(e) => schema_failure(e),
    }
}

async fn schema_put(state: &State, req: &Request, id: &str) -> Result<Response, PotpieError> {
    let key = authenticate(state, req)?;
    let body = body_value(req)?;
    let mut v = Violations::default();
    match &body {
        Value::Object(obj) => check_name(&mut v, obj, &["name"]),
        _ => v.push(&[], "value is not a valid dict", "type_error.dict", None),
    }
    v.into_result()?;
    let name = body["name"].clone();
    match update(state, &key, id, move |i| i["name"] = name.clone()).await {
        Ok(updated) => {
            Ok(Response::ok(&json!({ "success": true, "data": shown(&updated), "error": null })))
        }
        Err(e) => schema_failure(e),
    }
}

async fn schema_delete(state: &State, req: &Request, id: &str) -> Result<Response, PotpieError> {
    let key = authenticate(state, req)?;
    match remove(state, &key, id).await {
        Ok(gone) => {
            Ok(Response::ok(&json!({ "success": true, "data": shown(&gone), "error": null })))
        }
        Err(e) => schema_failure(e),
    }
}

fn schema_list(state: &State, req: &Request) -> Result<Response, PotpieError> {
    let key = authenticate(state, req)?;
    let all = potpie::list(&state.store.read()?, &key.org_id)?;
    let (kind, status) = (req.query.get("integration_type"), req.query.get("status"));
    let active = req.query.get("active").map(|a| a == "true");
    let picked: Vec<Value> = all
        .into_iter()
        .filter(|i| kind.is_none_or(|k| i["integration_type"] == k))
        .filter(|i| status.is_none_or(|s| i["status"] == s))
        .filter(|i| active.is_none_or(|a| i["active"] == a))
        .collect();
    Ok(Response::ok(
        &json!({ "success": true, "count": picked.len(), "integrations": map_of(&picked), "error": null }),
    ))
}
