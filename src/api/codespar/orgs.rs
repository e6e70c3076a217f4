//! Organizations (docs/API.md §2.3): list, create, detail.

use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use crate::api::{OrgId, Request, Response, Scope, State, body};
use crate::clock;
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::records::OrgRecord;
use crate::store::{ReadTx, agents, identity, orgs, projects};

const MAX_NAME: usize = 100;
const MAX_SLUG: usize = 48;

fn view(tx: &ReadTx, org: &OrgRecord) -> Result<Value, ApiError> {
    Ok(json!({
        "id": org.id,
        "name": org.name,
        "slug": org.slug,
        "projectCount": projects::list(tx, Some(&org.id))?.len(),
        "memberCount": identity::list(tx, &org.id)?.len(),
        "createdAt": clock::rfc3339(org.created_at_ms),
    }))
}

pub fn list(state: &State, scope: &Scope) -> Result<Response, ApiError> {
    let tx = state.store.read()?;
    let views = orgs::list(&tx)?
        .iter()
        .filter(|o| scope.sees(&o.id))
        .map(|o| view(&tx, o))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Response::ok(&views))
}

pub fn get(state: &State, scope: &Scope, id: &str) -> Result<Response, ApiError> {
    let tx = state.store.read()?;
    let org = orgs::get(&tx, id)?
        .filter(|o| scope.sees(&o.id))
        .ok_or_else(|| ApiError::OrgNotFound(id.to_owned()))?;
    let mut out = view(&tx, &org)?;
    let project_views = projects::list(&tx, Some(&org.id))?
        .into_iter()
        .map(|p| {
            let agent = agents::get(&tx, &org.id, &p.agent_id)?;
            Ok(json!({
                "id": p.id,
                "name": p.name,
                "repo": p.repo,
                "agentId": p.agent_id,
                "agentStatus": agent.as_ref().map(|a| a.status),
                "autonomyLevel": agent.as_ref().map(|a| a.autonomy_level),
                "createdAt": clock::rfc3339(p.created_at_ms),
            }))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    out["projects"] = Value::Array(project_views);
    let members: Vec<Value> = identity::list(&tx, &org.id)?
        .iter()
        .map(|i| {
            json!({ "identityId": i.id, "displayName": i.display_name, "role": i.role, "joinedAt": i.registered_at })
        })
        .collect();
    out["members"] = Value::Array(members);
    Ok(Response::ok(&out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: Option<String>,
    slug: Option<String>,
    /// CodeSpar's form (docs/API.md §2.3): the org's id itself, kept as given.
    id: Option<String>,
}

/// What a create names: the new org's id, name and slug.
struct NewOrg {
    id: String,
    name: String,
    slug: String,
    /// Whether the id was given (CodeSpar's form): a taken id is then named as such.
    by_id: bool,
}

pub async fn create(state: &State, req: &Request) -> Result<Response, ApiError> {
    let input: CreateBody = body::json(&req.body)?;
    let new = match input.id.filter(|id| !id.is_empty()) {
        Some(id) => by_id(id, input.name, input.slug)?,
        None => by_name(input.name, input.slug)?,
    };
    let actor = req.actor().to_owned();
    let org = state
        .store
        .write(move |tx| {
            if orgs::exists(tx, &new.id)? {
                return Err(if new.by_id {
                    ApiError::OrgIdTaken(new.id.clone())
                } else {
                    ApiError::OrgAlreadyExists(new.slug.clone())
                });
            }
            let org = OrgRecord {
                id: new.id.clone(),
                name: new.name.clone(),
                slug: new.slug.clone(),
                created_at_ms: clock::now_ms(),
            };
            orgs::put(tx, &org)?;
            let draft = AuditDraft::new(ActorType::User, &actor, "org.create")
                .meta("orgId", org.id.as_str())
                .meta("name", org.name.as_str())
                .meta("slug", org.slug.as_str());
            audit::append(tx, &org.id, draft)?;
            Ok(org)
        })
        .await?;
    Ok(Response::json(
        201,
        &json!({
            "id": org.id, "name": org.name, "slug": org.slug, "projectCount": 0,
            "memberCount": 0, "createdAt": clock::rfc3339(org.created_at_ms),
        }),
    ))
}

/// Spar's form: `{name, slug?}`, the id `org-<slug>`.
fn by_name(name: Option<String>, slug: Option<String>) -> Result<NewOrg, ApiError> {
    let name = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    let Some(name) = name else {
        return Err(ApiError::MissingField("name".into()));
    };
    check_name(&name)?;
    let slug = match slug.filter(|s| !s.is_empty()) {
        Some(slug) => checked_slug(slug)?,
        None => slugify(&name),
    };
    if slug.is_empty() {
        return Err(invalid("name", "must contain at least one letter or digit".into()));
    }
    Ok(NewOrg { id: format!("org-{slug}"), name, slug, by_id: false })
}

/// CodeSpar's form: `{id, name?}`, the id kept (it must be a valid org id, docs/API.md §1.5),
/// the name defaulting to it, the slug made from it without a leading `org-`.
fn by_id(id: String, name: Option<String>, slug: Option<String>) -> Result<NewOrg, ApiError> {
    if OrgId::parse(&id).is_err() {
        let reason = "must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$".to_owned();
        return Err(invalid("id", reason));
    }
    let name = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()).unwrap_or(id.clone());
    check_name(&name)?;
    let slug = match slug.filter(|s| !s.is_empty()) {
        Some(slug) => checked_slug(slug)?,
        None => slugify(id.strip_prefix("org-").unwrap_or(&id)),
    };
    Ok(NewOrg { id, name, slug, by_id: true })
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.chars().count() > MAX_NAME {
        return Err(invalid("name", format!("must be at most {MAX_NAME} characters")));
    }
    Ok(())
}

fn checked_slug(slug: String) -> Result<String, ApiError> {
    if valid_slug(&slug) {
        return Ok(slug);
    }
    Err(invalid(
        "slug",
        format!(
            "use 1 to {MAX_SLUG} lowercase letters, digits and '-', not starting or ending with '-'"
        ),
    ))
}

fn invalid(field: &str, reason: String) -> ApiError {
    ApiError::InvalidField { field: field.into(), reason }
}

/// Lowercase; every run of other characters becomes one `-`; trimmed of `-`; at most 48 chars.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_matches('-').chars().take(MAX_SLUG).collect();
    slug.trim_end_matches('-').to_owned()
}

fn valid_slug(s: &str) -> bool {
    slugify(s) == s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slugify("Acme Corp"), "acme-corp");
        assert_eq!(slugify("  --Ünïcode & Co!! "), "n-code-co");
        assert_eq!(slugify("!!!"), "");
        assert_eq!(slugify(&"ab-".repeat(40)).len(), 47);
        assert!(valid_slug("acme-corp"));
        assert!(!valid_slug("Acme"));
        assert!(!valid_slug("-acme"));
    }
}
