//! The GitHub REST calls of docs/API.md §2.7: read a repository, find, create and delete its webhook.
//! Every call sends `Authorization: Bearer <GITHUB_TOKEN>`, `Accept: application/vnd.github+json`
//! and `X-GitHub-Api-Version: 2022-11-28` to `GITHUB_API_URL`.

use serde::Deserialize;
use serde_json::json;
use ureq::http;

use super::{Answer, Upstream, UpstreamError};
use crate::settings::{Secret, Settings};

const SERVICE: &str = "GitHub";
/// The events Spar's hook subscribes to (docs/API.md §2.7).
pub const HOOK_EVENTS: [&str; 4] = ["push", "pull_request", "workflow_run", "check_run"];

/// A repository named by the user: `owner/name` or `https://github.com/owner/name`, a trailing
/// `.git` or `/` tolerated. Both parts use only GitHub's name characters, so they are safe in a
/// URL path as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoRef {
    pub owner: String,
    pub name: String,
}

impl RepoRef {
    pub fn parse(input: &str) -> Option<Self> {
        let s = input.trim();
        let s = ["https://github.com/", "http://github.com/", "https://www.github.com/"]
            .iter()
            .find_map(|prefix| strip_prefix_ignore_case(s, prefix))
            .unwrap_or(s);
        let s = s.strip_suffix('/').unwrap_or(s);
        let s = s.strip_suffix(".git").unwrap_or(s);
        let (owner, name) = s.split_once('/')?;
        let owner_ok = !owner.is_empty()
            && owner.len() <= 39
            && owner.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let name_ok = !name.is_empty()
            && name.len() <= 100
            && name != "."
            && name != ".."
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        (owner_ok && name_ok).then(|| Self { owner: owner.to_owned(), name: name.to_owned() })
    }

    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

/// What Spar keeps from `GET /repos/{owner}/{repo}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Repo {
    pub full_name: String,
    pub default_branch: String,
    pub html_url: String,
}

#[derive(Deserialize)]
struct HookJson {
    id: u64,
    #[serde(default)]
    config: HookConfigJson,
}

#[derive(Deserialize, Default)]
struct HookConfigJson {
    url: Option<String>,
}

/// The hook Spar wants on a repository.
#[derive(Debug, Clone)]
pub struct HookSpec {
    pub url: String,
    pub secret: Option<Secret>,
}

/// How a hook came to be there, or why it is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookInstall {
    /// A hook with our URL was already there.
    Reused(u64),
    Created(u64),
    /// The token may read the repository but not manage its hooks (GitHub's 403 or 404).
    NotPermitted,
}

impl HookInstall {
    pub fn id(self) -> Option<u64> {
        match self {
            Self::Reused(id) | Self::Created(id) => Some(id),
            Self::NotPermitted => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookRemoval {
    Removed,
    /// GitHub no longer has it (404): as good as removed.
    AlreadyGone,
    /// The token may not delete it (403).
    NotPermitted,
}

/// One workflow run, as `GET /repos/{owner}/{repo}/actions/runs` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct WorkflowRun {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub head_branch: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
}

#[derive(Deserialize)]
struct WorkflowRuns {
    #[serde(default)]
    workflow_runs: Vec<WorkflowRun>,
}

/// A GitHub client for one token.
#[derive(Clone)]
pub struct GitHub {
    http: Upstream,
    api_url: String,
    token: Secret,
}

impl GitHub {
    pub fn new(http: Upstream, api_url: &str, token: Secret) -> Self {
        Self { http, api_url: api_url.trim_end_matches('/').to_owned(), token }
    }

    /// The client of `token` at `GITHUB_API_URL`.
    pub fn with_token(http: &Upstream, settings: &Settings, token: Option<Secret>) -> Option<Self> {
        Some(Self::new(http.clone(), &settings.github_api_url, token?))
    }

    /// The repository, or `None` when GitHub says 404 or 403 (missing, or the token cannot see
    /// it: GitHub does not tell the two apart).
    pub fn repo(&self, repo: &RepoRef) -> Result<Option<Repo>, UpstreamError> {
        let answer = self.call("GET", &format!("/repos/{}/{}", repo.owner, repo.name), None)?;
        match answer.status {
            200 => answer.json().map(Some),
            403 | 404 => Ok(None),
            _ => Err(answer.into_error()),
        }
    }

    /// Makes sure `full_name` has a hook delivering to `spec.url`: reuses one whose
    /// `config.url` is ours, else creates it.
    pub fn install_hook(
        &self,
        full_name: &str,
        spec: &HookSpec,
    ) -> Result<HookInstall, UpstreamError> {
        let path = format!("/repos/{full_name}/hooks");
        let listed = self.call("GET", &format!("{path}?per_page=100"), None)?;
        match listed.status {
            200 => {
                let hooks: Vec<HookJson> = listed.json()?;
                if let Some(hook) =
                    hooks.iter().find(|h| h.config.url.as_deref() == Some(&spec.url))
                {
                    return Ok(HookInstall::Reused(hook.id));
                }
            }
            403 | 404 => return Ok(HookInstall::NotPermitted),
            _ => return Err(listed.into_error()),
        }
        let mut config = json!({ "url": spec.url, "content_type": "json", "insecure_ssl": "0" });
        if let Some(secret) = &spec.secret {
            config["secret"] = secret.expose().into();
        }
        let body =
            json!({ "name": "web", "active": true, "events": HOOK_EVENTS, "config": config });
        let created = self.call("POST", &path, Some(&body))?;
        match created.status {
            200 | 201 => Ok(HookInstall::Created(created.json::<HookJson>()?.id)),
            403 | 404 => Ok(HookInstall::NotPermitted),
            _ => Err(created.into_error()),
        }
    }

    pub fn remove_hook(&self, full_name: &str, hook_id: u64) -> Result<HookRemoval, UpstreamError> {
        let answer = self.call("DELETE", &format!("/repos/{full_name}/hooks/{hook_id}"), None)?;
        match answer.status {
            200..=299 => Ok(HookRemoval::Removed),
            404 => Ok(HookRemoval::AlreadyGone),
            403 => Ok(HookRemoval::NotPermitted),
            _ => Err(answer.into_error()),
        }
    }

    /// The newest workflow runs of `full_name` (`GET /repos/{owner}/{repo}/actions/runs`).
    pub fn workflow_runs(
        &self,
        full_name: &str,
        per_page: u32,
    ) -> Result<Vec<WorkflowRun>, UpstreamError> {
        let path = format!("/repos/{full_name}/actions/runs?per_page={per_page}");
        let answer = self.call("GET", &path, None)?;
        if !answer.is_success() {
            return Err(answer.into_error());
        }
        Ok(answer.json::<WorkflowRuns>()?.workflow_runs)
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, UpstreamError> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.api_url))
            .header("Authorization", format!("Bearer {}", self.token.expose()))
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28");
        if body.is_some() {
            request = request.header("Content-Type", "application/json");
        }
        let body = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        self.http.send(SERVICE, request, body)
    }
}

#[cfg(test)]
mod tests {
    use super::RepoRef;

    #[test]
    fn repo_forms() {
        let acme = Some(RepoRef { owner: "acme".into(), name: "api.v2".into() });
        for ok in [
            "acme/api.v2",
            "https://github.com/acme/api.v2",
            "https://github.com/acme/api.v2.git",
            "https://github.com/acme/api.v2/",
            "HTTPS://GitHub.com/acme/api.v2",
            " acme/api.v2 ",
        ] {
            assert_eq!(RepoRef::parse(ok), acme, "{ok}");
        }
        for bad in [
            "",
            "acme",
            "acme/",
            "/api",
            "acme/api/extra",
            "https://gitlab.com/acme/api",
            "acme/..",
            "ac me/api",
            "acme/api?x=1",
            "acme/ap%69",
        ] {
            assert_eq!(RepoRef::parse(bad), None, "{bad}");
        }
    }
}
