//! Sentry's REST API at `SENTRY_API_URL`, `Authorization: Bearer <authToken>`: unresolved issues
//! of a project (`/api/0/projects/{org}/{project}/issues/`, by slug) or of the organization.

use serde::Deserialize;
use ureq::http;

use super::{Upstream, UpstreamError, path_segment, query_pair};
use crate::settings::Secret;

const SERVICE: &str = "Sentry";

pub struct Sentry {
    http: Upstream,
    api_url: String,
    token: Secret,
}

/// Sentry sends `count` as a string and `userCount` as a number.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub culprit: Option<String>,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub count: Option<serde_json::Value>,
    #[serde(default)]
    pub user_count: Option<u64>,
    #[serde(default)]
    pub first_seen: Option<String>,
    #[serde(default)]
    pub last_seen: Option<String>,
    #[serde(default)]
    pub permalink: Option<String>,
}

impl Sentry {
    pub fn new(http: Upstream, api_url: &str, token: Secret) -> Self {
        Self { http, api_url: api_url.to_owned(), token }
    }

    pub fn issues(
        &self,
        org: &str,
        project: Option<&str>,
        query: &str,
        limit: u32,
    ) -> Result<Vec<Issue>, UpstreamError> {
        let path = match project {
            Some(p) => format!("/api/0/projects/{}/{}/issues/", path_segment(org), path_segment(p)),
            None => format!("/api/0/organizations/{}/issues/", path_segment(org)),
        };
        let url = format!("{}{path}?{}&limit={limit}", self.api_url, query_pair("query", query));
        let request = http::Request::builder()
            .method("GET")
            .uri(url)
            .header("Authorization", format!("Bearer {}", self.token.expose()));
        let answer = self.http.send(SERVICE, request, None)?;
        if !answer.is_success() {
            return Err(answer.into_error());
        }
        answer.json()
    }
}
