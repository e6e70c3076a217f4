//! Identity (docs/API.md §2.6): who a chat account belongs to, and their role.

use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use crate::api::{OrgId, Request, Response, State, body};
use crate::clock;
use crate::store::audit::{self, ActorType, AuditDraft};
use crate::store::identity;
use crate::store::records::{ChannelAccount, IdentityRecord, ROLES};

const CHANNEL_TYPES: [&str; 4] = ["slack", "whatsapp", "discord", "telegram"];
const MAX_NAME: usize = 100;

pub fn get(state: &State, org: &OrgId, req: &Request) -> Result<Response, ApiError> {
    let channel_type = req.query.required("channelType")?;
    let user_id = req.query.required("channelUserId")?;
    if !CHANNEL_TYPES.contains(&channel_type) {
        return Err(ApiError::InvalidParameter {
            name: "channelType",
            reason: format!("'{channel_type}' is not one of {}", CHANNEL_TYPES.join(", ")),
        });
    }
    let found = identity::find(&state.store.read()?, org.as_str(), channel_type, user_id)?;
    Ok(Response::ok(&match found {
        Some(i) => json!({ "found": true, "identity": view(&i) }),
        None => json!({ "found": false, "identity": null }),
    }))
}

pub fn view(i: &IdentityRecord) -> Value {
    json!({
        "id": i.id,
        "displayName": i.display_name,
        "role": i.role,
        "channels": i.channels,
        "registeredAt": i.registered_at,
        "lastSeen": i.last_seen,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RegisterBody {
    display_name: Option<String>,
    role: Option<String>,
    channels: Option<Vec<ChannelBody>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ChannelBody {
    #[serde(rename = "type")]
    channel_type: Option<String>,
    user_id: Option<String>,
    username: Option<String>,
}

pub async fn register(state: &State, org: &OrgId, req: &Request) -> Result<Response, ApiError> {
    let input: RegisterBody = body::json(&req.body)?;
    let name = input.display_name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    let name = name.ok_or_else(|| ApiError::MissingField("displayName".into()))?;
    if name.chars().count() > MAX_NAME {
        return Err(invalid("displayName", format!("must be at most {MAX_NAME} characters")));
    }
    let role = input
        .role
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::MissingField("role".into()))?;
    if !ROLES.contains(&role.as_str()) {
        return Err(invalid("role", format!("must be one of {}", ROLES.join(", "))));
    }
    let channels = input
        .channels
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::MissingField("channels".into()))?;
    let now = clock::rfc3339(clock::now_ms());
    let mut accounts: Vec<ChannelAccount> = Vec::with_capacity(channels.len());
    for (i, c) in channels.into_iter().enumerate() {
        let channel_type = c
            .channel_type
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::MissingField(format!("channels[{i}].type")))?;
        if !CHANNEL_TYPES.contains(&channel_type.as_str()) {
            return Err(invalid(
                &format!("channels[{i}].type"),
                format!("must be one of {}", CHANNEL_TYPES.join(", ")),
            ));
        }
        let user_id = c
            .user_id
            .filter(|u| !u.is_empty())
            .ok_or_else(|| ApiError::MissingField(format!("channels[{i}].userId")))?;
        if accounts.iter().any(|a| a.channel_type == channel_type && a.user_id == user_id) {
            return Err(invalid(&format!("channels[{i}]"), "lists the same account twice".into()));
        }
        accounts.push(ChannelAccount {
            channel_type,
            user_id,
            username: c.username,
            linked_at: now.clone(),
        });
    }
    let (org, actor) = (org.to_string(), req.actor().to_owned());
    let record = state
        .store
        .write(move |tx| {
            for a in &accounts {
                let key = identity::link_key(&a.channel_type, &a.user_id);
                if let Some(existing) = identity::linked(tx, &org, &key)? {
                    return Err(ApiError::IdentityAlreadyExists {
                        account: key,
                        identity: existing,
                    });
                }
            }
            let record = IdentityRecord {
                id: identity::next_id(tx)?,
                org_id: org.clone(),
                display_name: name.clone(),
                role: role.clone(),
                channels: accounts.clone(),
                registered_at: now.clone(),
                last_seen: now.clone(),
            };
            identity::put(tx, &record)?;
            let linked: Vec<String> =
                accounts.iter().map(|a| identity::link_key(&a.channel_type, &a.user_id)).collect();
            let draft = AuditDraft::new(ActorType::User, &actor, "identity.register")
                .meta("identityId", record.id.as_str())
                .meta("role", record.role.as_str())
                .meta("channels", linked);
            audit::append(tx, &org, draft)?;
            Ok(record)
        })
        .await?;
    Ok(Response::json(201, &view(&record)))
}

fn invalid(field: &str, reason: String) -> ApiError {
    ApiError::InvalidField { field: field.into(), reason }
}
