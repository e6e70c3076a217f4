//! Linear's GraphQL API at `LINEAR_API_URL`, `Authorization: <apiKey>` (personal keys go raw).
//! A GraphQL `errors` array is a failure even next to `data`; so is `issueCreate.success: false`.

use serde::Deserialize;
use serde_json::{Value, json};
use ureq::http;

use super::{Upstream, UpstreamError};
use crate::settings::Secret;

const SERVICE: &str = "Linear";

pub struct Linear {
    http: Upstream,
    url: String,
    api_key: Secret,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Team {
    pub id: String,
    pub name: String,
    pub key: String,
    #[serde(default)]
    pub issue_count: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Named {
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Nodes<T> {
    pub nodes: Vec<T>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    pub id: String,
    pub identifier: String,
    pub title: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub priority: Option<f64>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub state: Option<Named>,
    #[serde(default)]
    pub assignee: Option<Named>,
    #[serde(default)]
    pub labels: Option<Nodes<Named>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Label {
    pub id: String,
    pub name: String,
}

/// What a new issue says.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewIssue {
    pub team_id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub label_ids: Vec<String>,
}

const TEAMS: &str = "query Teams { teams { nodes { id name key issueCount } } }";
const ISSUES: &str = "query ListIssues($first: Int!, $filter: IssueFilter) { issues(first: $first, filter: $filter, orderBy: createdAt) { nodes { id identifier title url priority createdAt state { name } assignee { name } labels { nodes { name } } } } }";
const LABELS: &str = "query TeamLabels($id: String!, $first: Int!, $after: String) { team(id: $id) { labels(first: $first, after: $after) { nodes { id name } pageInfo { hasNextPage endCursor } } } }";
/// Labels asked for per page (Linear answers at most 250), and pages read at most: a team's
/// labels are read whole, within a bound on the calls one request makes.
const LABELS_PER_PAGE: u32 = 100;
const MAX_LABEL_PAGES: usize = 50;
const CREATE: &str = "mutation IssueCreate($input: IssueCreateInput!) { issueCreate(input: $input) { success issue { id identifier title url priority createdAt state { name } } } }";

impl Linear {
    pub fn new(http: Upstream, url: &str, api_key: Secret) -> Self {
        Self { http, url: url.to_owned(), api_key }
    }

    pub fn teams(&self) -> Result<Vec<Team>, UpstreamError> {
        let data = self.query(TEAMS, json!({}))?;
        decode(data.pointer("/teams/nodes"))
    }

    /// Issues, newest first, filtered by team id, state name and assignee id.
    pub fn issues(
        &self,
        team: Option<&str>,
        state: Option<&str>,
        assignee: Option<&str>,
        first: u32,
    ) -> Result<Vec<Issue>, UpstreamError> {
        let mut filter = serde_json::Map::new();
        if let Some(t) = team {
            filter.insert("team".into(), json!({ "id": { "eq": t } }));
        }
        if let Some(s) = state {
            filter.insert("state".into(), json!({ "name": { "eq": s } }));
        }
        if let Some(a) = assignee {
            filter.insert("assignee".into(), json!({ "id": { "eq": a } }));
        }
        let data = self.query(ISSUES, json!({ "first": first, "filter": filter }))?;
        decode(data.pointer("/issues/nodes"))
    }

    /// Every label of the team, page by page (Linear pages connections, 50 by default).
    pub fn team_labels(&self, team_id: &str) -> Result<Vec<Label>, UpstreamError> {
        let mut labels = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_LABEL_PAGES {
            let vars = json!({ "id": team_id, "first": LABELS_PER_PAGE, "after": after });
            let data = self.query(LABELS, vars)?;
            let page: Vec<Label> = decode(data.pointer("/team/labels/nodes"))?;
            labels.extend(page);
            let info = data.pointer("/team/labels/pageInfo");
            let next = info.and_then(|i| i.get("hasNextPage")).and_then(Value::as_bool);
            let cursor = info.and_then(|i| i.get("endCursor")).and_then(Value::as_str);
            match (next, cursor) {
                (Some(true), Some(c)) => after = Some(c.to_owned()),
                _ => return Ok(labels),
            }
        }
        Err(UpstreamError::BadAnswer {
            service: SERVICE,
            reason: format!(
                "the team has more than {} labels",
                LABELS_PER_PAGE as usize * MAX_LABEL_PAGES
            ),
        })
    }

    pub fn create_issue(&self, issue: &NewIssue) -> Result<Issue, UpstreamError> {
        let data = self.query(CREATE, json!({ "input": issue }))?;
        if data.pointer("/issueCreate/success") != Some(&Value::Bool(true)) {
            return Err(UpstreamError::BadAnswer {
                service: SERVICE,
                reason: "issueCreate did not succeed".into(),
            });
        }
        decode(data.pointer("/issueCreate/issue"))
    }

    /// One GraphQL call; its `data`, or the first error's message.
    fn query(&self, query: &str, variables: Value) -> Result<Value, UpstreamError> {
        let request = http::Request::builder()
            .method("POST")
            .uri(&self.url)
            .header("Authorization", self.api_key.expose())
            .header("Content-Type", "application/json");
        let body = json!({ "query": query, "variables": variables });
        let answer = self.http.send(SERVICE, request, Some(body.to_string().into_bytes()))?;
        let parsed: Option<Value> = serde_json::from_slice(&answer.body).ok();
        let errors = parsed.as_ref().and_then(|v| v.get("errors")).and_then(Value::as_array);
        if let Some(first) = errors.and_then(|e| e.first()) {
            let message = first.get("message").and_then(Value::as_str).unwrap_or("error");
            let code = first.pointer("/extensions/code").and_then(Value::as_str);
            if answer.status == 401 || code == Some("AUTHENTICATION_ERROR") {
                return Err(UpstreamError::AuthFailed {
                    service: SERVICE,
                    message: message.into(),
                });
            }
            return Err(UpstreamError::Status {
                service: SERVICE,
                status: answer.status,
                message: format!("GraphQL error: {message}"),
            });
        }
        if !answer.is_success() {
            return Err(answer.into_error());
        }
        parsed.and_then(|v| v.get("data").cloned()).filter(|d| !d.is_null()).ok_or_else(|| {
            UpstreamError::BadAnswer { service: SERVICE, reason: "no data in the answer".into() }
        })
    }
}

fn decode<T: serde::de::DeserializeOwned>(value: Option<&Value>) -> Result<T, UpstreamError> {
    let value = value.ok_or_else(|| UpstreamError::BadAnswer {
        service: SERVICE,
        reason: "the answer lacks the requested field".into(),
    })?;
    T::deserialize(value).map_err(|e| UpstreamError::BadAnswer {
        service: SERVICE,
        reason: format!("unexpected answer: {e}"),
    })
}
