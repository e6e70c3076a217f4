//! Potpie integrations: `(org, integration id) -> the integration object` (JSON). Kept as the
//! Potpie API's own object, since that is the shape every route of the dialect returns.

use serde_json::Value;

use super::StoreError;
use super::tables::PotpieIntegrations;
use redb::ReadableTable;

use super::sealed::is_sealed;
use super::txn::{Source, WriteTx, decode, encode, get_record, records_of};

/// The fields of `auth_data` that are credentials: stored sealed (`sealed.rs`).
const SEALED_FIELDS: [&str; 3] = ["access_token", "refresh_token", "code"];

pub fn get(src: &impl Source, org: &str, id: &str) -> Result<Option<Value>, StoreError> {
    let stored = get_record::<PotpieIntegrations, _>(src, (org, id), "potpie integration")?;
    stored.map(|i| map_tokens(i, |t| src.sealer()?.unseal(t))).transpose()
}

pub fn put(tx: &WriteTx<'_>, org: &str, id: &str, integration: &Value) -> Result<(), StoreError> {
    let sealed = map_tokens(integration.clone(), |t| tx.sealer()?.seal(t))?;
    tx.table_mut::<PotpieIntegrations>()?.insert((org, id), encode(&sealed).as_slice())?;
    Ok(())
}

fn map_tokens(
    mut integration: Value,
    f: impl Fn(&str) -> Result<String, StoreError>,
) -> Result<Value, StoreError> {
    if let Some(auth) = integration.get_mut("auth_data").and_then(Value::as_object_mut) {
        for field in SEALED_FIELDS {
            if let Some(Value::String(token)) = auth.get_mut(field) {
                *token = f(token)?;
            }
        }
    }
    Ok(integration)
}

/// Seals the tokens a store from before sealing kept in plain text; how many it sealed.
pub(super) fn seal_legacy(tx: &WriteTx<'_>) -> Result<usize, StoreError> {
    let plain = |i: &Value| {
        SEALED_FIELDS.iter().any(|f| {
            i.pointer(&format!("/auth_data/{f}"))
                .and_then(Value::as_str)
                .is_some_and(|t| !is_sealed(t))
        })
    };
    let all: Vec<((String, String), Value)> = {
        let table = tx.open::<PotpieIntegrations>()?;
        let mut all = Vec::new();
        for row in table.iter()? {
            let (key, value) = row?;
            let integration: Value = decode("potpie integration", value.value())?;
            if plain(&integration) {
                let (org, id) = key.value();
                all.push(((org.to_owned(), id.to_owned()), integration));
            }
        }
        all
    };
    for ((org, id), integration) in &all {
        let opened = map_tokens(integration.clone(), |t| tx.sealer()?.unseal(t))?;
        put(tx, org, id, &opened)?;
    }
    Ok(all.len())
}

pub fn remove(tx: &WriteTx<'_>, org: &str, id: &str) -> Result<(), StoreError> {
    tx.table_mut::<PotpieIntegrations>()?.remove((org, id))?;
    Ok(())
}

/// An org's integrations, oldest first.
pub fn list(src: &impl Source, org: &str) -> Result<Vec<Value>, StoreError> {
    let stored: Vec<Value> =
        records_of::<PotpieIntegrations, _>(src, Some(org), "potpie integration")?;
    let mut all = stored
        .into_iter()
        .map(|i| map_tokens(i, |t| src.sealer()?.unseal(t)))
        .collect::<Result<Vec<_>, _>>()?;
    all.sort_by(|a, b| a["created_at"].as_str().cmp(&b["created_at"].as_str()));
    Ok(all)
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// One store (docs/API.md §6.3): the newest active Potpie integration of a type with an access
/// token, as the connector config the rest of Spar reads (`sentry`: `authToken`, `org`,
/// `project`; `linear`: `apiKey`; `slack`: `botToken`).
pub fn connector_config(
    src: &impl Source,
    org: &str,
    name: &str,
) -> Result<Option<Vec<(String, String)>>, StoreError> {
    let newest = list(src, org)?.into_iter().rev().find(|i| {
        i["integration_type"] == name
            && i["active"] == true
            && text(i, "/auth_data/access_token").is_some()
    });
    let Some(i) = newest else { return Ok(None) };
    let token = text(&i, "/auth_data/access_token").unwrap_or_default();
    let mut keys = match name {
        "sentry" => vec![("authToken".to_owned(), token)],
        "linear" => vec![("apiKey".to_owned(), token)],
        "slack" => vec![("botToken".to_owned(), token)],
        _ => return Ok(None),
    };
    if let Some(slug) = text(&i, "/scope_data/org_slug") {
        keys.push(("org".into(), slug));
    }
    if let Some(project) = text(&i, "/scope_data/project_id") {
        keys.push(("project".into(), project));
    }
    Ok(Some(keys))
}
