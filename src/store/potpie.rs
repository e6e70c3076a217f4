//! Potpie integrations: `(org, integration id) -> the integration object` (JSON). Kept as the
//! Potpie API's own object, since that is the shape every route of the dialect returns.

use serde_json::Value;

use super::StoreError;
use super::tables::PotpieIntegrations;
use super::txn::{Source, WriteTx, encode, get_record, records_of};

pub fn get(src: &impl Source, org: &str, id: &str) -> Result<Option<Value>, StoreError> {
    get_record::<PotpieIntegrations, _>(src, (org, id), "potpie integration")
}

pub fn put(tx: &WriteTx<'_>, org: &str, id: &str, integration: &Value) -> Result<(), StoreError> {
    tx.table_mut::<PotpieIntegrations>()?.insert((org, id), encode(integration).as_slice())?;
    Ok(())
}

pub fn remove(tx: &WriteTx<'_>, org: &str, id: &str) -> Result<(), StoreError> {
    tx.table_mut::<PotpieIntegrations>()?.remove((org, id))?;
    Ok(())
}

/// An org's integrations, oldest first.
pub fn list(src: &impl Source, org: &str) -> Result<Vec<Value>, StoreError> {
    let mut all: Vec<Value> =
        records_of::<PotpieIntegrations, _>(src, Some(org), "potpie integration")?;
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
