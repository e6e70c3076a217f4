//! GitHub deliveries into CI events (docs/API.md §3.1, with the table of events and actions).
//!
//! | event | handled actions | type |
//! |---|---|---|
//! | `push` | (none: pushes have no action) | `ci.push` |
//! | `pull_request` | `opened`, `reopened`, `closed` | `ci.pull_request.{opened,reopened,merged,closed}` |
//! | `workflow_run` | `completed` | `ci.workflow_run.{success,failure,cancelled}` |
//! | `check_run` | `completed` | `ci.check_run.{success,failure,cancelled}` |
//!
//! Other actions of these events are skipped with a reason; other events are not handled.

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::clock;

/// What a delivery turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// GitHub's hello after a hook is created.
    Ping {
        repo: Option<String>,
        hook_id: Option<u64>,
    },
    Ci(Box<CiEvent>),
    /// A handled event with an action Spar does not act on (`pull_request` `labeled`, a
    /// `workflow_run` still in progress).
    Skipped {
        action: Option<String>,
        repo: Option<String>,
        reason: &'static str,
    },
    /// An event type Spar does not handle.
    Unhandled {
        repo: Option<String>,
    },
}

impl Parsed {
    /// The repository the delivery is about, when it names one.
    pub fn repo(&self) -> Option<&str> {
        match self {
            Self::Ci(ci) => Some(&ci.repo),
            Self::Ping { repo, .. } | Self::Skipped { repo, .. } | Self::Unhandled { repo } => {
                repo.as_deref()
            }
        }
    }
}

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// Not JSON: the message names the line and column.
    Syntax(String),
    /// A field the event needs is missing.
    Missing(&'static str),
    /// A field has the wrong type: its path and what was wrong.
    Invalid { field: String, reason: String },
    /// More items than one delivery may carry (alerts of a Spike ingest body).
    TooMany { max: usize, found: usize },
}

/// One CI fact, as CodeSpar's `CIEvent`: what happened, where, and a sentence for people.
#[derive(Debug, Clone, PartialEq)]
pub struct CiEvent {
    /// `push`, `pull_request`, `workflow_run` or `check_run`.
    pub kind: &'static str,
    pub action: Option<String>,
    /// `owner/name`.
    pub repo: String,
    pub branch: String,
    /// `pushed`, the pull request's action, or `completed`.
    pub status: String,
    pub conclusion: Option<String>,
    /// The last part of the event type: `success`, `failure`, `merged`, …
    pub outcome: &'static str,
    /// CodeSpar's `details` sentence: "Workflow 'CI' failed on main (abc1234)".
    pub summary: String,
    pub url: Option<String>,
    pub sha: Option<String>,
    pub author: Option<String>,
    /// The head commit's first line, or the pull request's title.
    pub message: Option<String>,
    /// The pull request number.
    pub number: Option<u64>,
    /// The workflow or check name.
    pub name: Option<String>,
    pub occurred_at_ms: Option<i64>,
}

impl CiEvent {
    /// The normalized event type (docs/API.md §4): `ci.push`, `ci.workflow_run.failure`, …
    pub fn event_type(&self) -> String {
        if self.kind == "push" {
            "ci.push".to_owned()
        } else {
            format!("ci.{}.{}", self.kind, self.outcome)
        }
    }

    /// A failed build or check: the event that pages people.
    pub fn is_build_failure(&self) -> bool {
        matches!(self.kind, "workflow_run" | "check_run") && self.outcome == "failure"
    }

    /// Groups repeats of the same thing: one workflow on one branch, one pull request, one push.
    pub fn fingerprint(&self) -> String {
        let repo = self.repo.to_ascii_lowercase();
        match self.kind {
            "pull_request" => format!("github:{repo}:pr:{}", self.number.unwrap_or(0)),
            "push" => {
                format!("github:{repo}:push:{}:{}", self.branch, self.sha.as_deref().unwrap_or(""))
            }
            kind => format!(
                "github:{repo}:{kind}:{}:{}",
                self.name.as_deref().unwrap_or(""),
                self.branch
            ),
        }
    }
}

// The parts of GitHub's payloads Spar reads. Everything else is skipped while parsing, without
// building a JSON tree: a push can be megabytes of commits, and only their count matters.

#[derive(Deserialize, Default)]
#[serde(default)]
struct Payload {
    action: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    after: Option<String>,
    compare: Option<String>,
    deleted: Option<bool>,
    number: Option<u64>,
    hook_id: Option<u64>,
    commits: Option<Vec<IgnoredAny>>,
    head_commit: Option<Commit>,
    pusher: Option<Named>,
    sender: Option<Login>,
    repository: Option<Repository>,
    pull_request: Option<PullRequest>,
    workflow_run: Option<WorkflowRun>,
    workflow: Option<Named>,
    check_run: Option<CheckRun>,
}

/// What an event Spar does not handle is read for: its repository, to find its org.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Envelope {
    repository: Option<Repository>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Repository {
    full_name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Named {
    name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Login {
    login: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Commit {
    message: Option<String>,
    timestamp: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Head {
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    sha: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PullRequest {
    number: Option<u64>,
    title: Option<String>,
    html_url: Option<String>,
    merged: Option<bool>,
    user: Option<Login>,
    merged_by: Option<Login>,
    head: Option<Head>,
    merged_at: Option<String>,
    closed_at: Option<String>,
    updated_at: Option<String>,
    created_at: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WorkflowRun {
    name: Option<String>,
    head_branch: Option<String>,
    head_sha: Option<String>,
    conclusion: Option<String>,
    html_url: Option<String>,
    updated_at: Option<String>,
    actor: Option<Login>,
    head_commit: Option<Commit>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CheckSuite {
    head_branch: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CheckRun {
    name: Option<String>,
    head_sha: Option<String>,
    conclusion: Option<String>,
    html_url: Option<String>,
    completed_at: Option<String>,
    check_suite: Option<CheckSuite>,
}

/// Reads a delivery of event `event` (the `X-GitHub-Event` header) from its JSON bytes.
pub fn parse(event: &str, json: &[u8]) -> Result<Parsed, PayloadError> {
    if !matches!(event, "ping" | "push" | "pull_request" | "workflow_run" | "check_run") {
        let envelope: Envelope = decode(json)?;
        return Ok(Parsed::Unhandled { repo: envelope.repository.and_then(|r| r.full_name) });
    }
    let p: Payload = decode(json)?;
    match event {
        "ping" => {
            Ok(Parsed::Ping { repo: p.repository.and_then(|r| r.full_name), hook_id: p.hook_id })
        }
        "push" => push(p).map(|ci| Parsed::Ci(Box::new(ci))),
        "pull_request" => pull_request(p),
        "workflow_run" => workflow_run(p),
        _ => check_run(p),
    }
}

/// Decodes `T`; a wrong type is decoded again to name its path (only on that rare path, so the
/// common one pays nothing for path tracking).
pub(super) fn decode<T: serde::de::DeserializeOwned>(json: &[u8]) -> Result<T, PayloadError> {
    match serde_json::from_slice(json) {
        Ok(v) => Ok(v),
        Err(e) if e.is_data() => {
            let mut de = serde_json::Deserializer::from_slice(json);
            let reason = e.to_string();
            let field = match serde_path_to_error::deserialize::<_, T>(&mut de) {
                Err(located) => located.path().to_string(),
                Ok(_) => ".".to_owned(),
            };
            Err(PayloadError::Invalid { field, reason })
        }
        Err(e) => Err(PayloadError::Syntax(format!(
            "{} at line {} column {}",
            e.to_string().rsplit_once(" at line ").map_or(e.to_string(), |(m, _)| m.to_owned()),
            e.line(),
            e.column()
        ))),
    }
}

fn push(p: Payload) -> Result<CiEvent, PayloadError> {
    let repo = repo(p.repository)?;
    let git_ref = p.git_ref.ok_or(PayloadError::Missing("ref"))?;
    let (branch, is_tag) = match git_ref.strip_prefix("refs/tags/") {
        Some(tag) => (tag.to_owned(), true),
        None => (git_ref.strip_prefix("refs/heads/").unwrap_or(&git_ref).to_owned(), false),
    };
    let author = p
        .pusher
        .and_then(|n| n.name)
        .or_else(|| p.sender.and_then(|s| s.login))
        .unwrap_or_else(|| "someone".into());
    let (message, occurred) = match p.head_commit {
        Some(c) => (
            c.message.as_deref().map(first_line),
            c.timestamp.as_deref().and_then(clock::parse_rfc3339),
        ),
        None => (None, None),
    };
    let commits = p.commits.map_or(0, |c| c.len());
    let summary = if p.deleted == Some(true) {
        format!("{} {branch} deleted by {author}", if is_tag { "Tag" } else { "Branch" })
    } else if is_tag {
        format!("Tag {branch} pushed by {author}")
    } else {
        match &message {
            Some(m) => format!("Push to {branch} by {author}: {m}"),
            None => format!("Push to {branch} by {author} ({commits} commits)"),
        }
    };
    Ok(CiEvent {
        kind: "push",
        action: None,
        repo,
        branch,
        status: "pushed".into(),
        conclusion: None,
        outcome: "pushed",
        summary,
        url: p.compare,
        sha: p.after,
        author: Some(author),
        message,
        number: None,
        name: None,
        occurred_at_ms: occurred,
    })
}

fn pull_request(p: Payload) -> Result<Parsed, PayloadError> {
    let repo = repo(p.repository)?;
    let action = p.action.ok_or(PayloadError::Missing("action"))?;
    let pr = p.pull_request.ok_or(PayloadError::Missing("pull_request"))?;
    let merged = pr.merged == Some(true);
    let sender = p.sender.and_then(|s| s.login).unwrap_or_else(|| "someone".into());
    let (outcome, verb, by) = match action.as_str() {
        "opened" => ("opened", "opened", pr.user.and_then(|u| u.login).unwrap_or(sender)),
        "reopened" => ("reopened", "reopened", sender),
        "closed" if merged => {
            ("merged", "merged", pr.merged_by.and_then(|u| u.login).unwrap_or(sender))
        }
        "closed" => ("closed", "closed", sender),
        _ => {
            return Ok(Parsed::Skipped {
                action: Some(action),
                repo: Some(repo),
                reason: "Action not handled",
            });
        }
    };
    let number = p.number.or(pr.number);
    let title = pr.title.unwrap_or_default();
    let summary = format!("PR #{} '{title}' {verb} by {by}", number.unwrap_or(0));
    let occurred = [&pr.merged_at, &pr.closed_at, &pr.updated_at, &pr.created_at]
        .into_iter()
        .find_map(|t| t.as_deref().and_then(clock::parse_rfc3339));
    let (branch, sha) = match pr.head {
        Some(h) => (h.git_ref.unwrap_or_default(), h.sha),
        None => (String::new(), None),
    };
    Ok(Parsed::Ci(Box::new(CiEvent {
        kind: "pull_request",
        repo,
        branch,
        status: action.clone(),
        action: Some(action),
        conclusion: merged.then(|| "merged".to_owned()),
        outcome,
        summary,
        url: pr.html_url,
        sha,
        author: Some(by),
        message: Some(title),
        number,
        name: None,
        occurred_at_ms: occurred,
    })))
}

fn workflow_run(p: Payload) -> Result<Parsed, PayloadError> {
    let repo = repo(p.repository)?;
    let action = p.action.ok_or(PayloadError::Missing("action"))?;
    if action != "completed" {
        return Ok(skipped_run(action, repo));
    }
    let run = p.workflow_run.ok_or(PayloadError::Missing("workflow_run"))?;
    let name = run
        .name
        .filter(|n| !n.is_empty())
        .or_else(|| p.workflow.and_then(|w| w.name))
        .unwrap_or_else(|| "workflow".into());
    let branch = run.head_branch.unwrap_or_default();
    let outcome = outcome_of(run.conclusion.as_deref());
    let summary = format!(
        "Workflow '{name}' {} on {branch}{}",
        verdict(run.conclusion.as_deref()),
        short_sha(run.head_sha.as_deref())
    );
    Ok(Parsed::Ci(Box::new(CiEvent {
        kind: "workflow_run",
        action: Some(action),
        repo,
        branch,
        status: "completed".into(),
        conclusion: run.conclusion,
        outcome,
        summary,
        url: run.html_url,
        sha: run.head_sha,
        author: run.actor.and_then(|a| a.login),
        message: run.head_commit.and_then(|c| c.message).as_deref().map(first_line),
        number: None,
        name: Some(name),
        occurred_at_ms: run.updated_at.as_deref().and_then(clock::parse_rfc3339),
    })))
}

fn check_run(p: Payload) -> Result<Parsed, PayloadError> {
    let repo = repo(p.repository)?;
    let action = p.action.ok_or(PayloadError::Missing("action"))?;
    if action != "completed" {
        return Ok(skipped_run(action, repo));
    }
    let check = p.check_run.ok_or(PayloadError::Missing("check_run"))?;
    let name = check.name.unwrap_or_else(|| "check".into());
    let outcome = outcome_of(check.conclusion.as_deref());
    let summary = format!(
        "Check '{name}' {}{}",
        verdict(check.conclusion.as_deref()),
        short_sha(check.head_sha.as_deref())
    );
    Ok(Parsed::Ci(Box::new(CiEvent {
        kind: "check_run",
        action: Some(action),
        repo,
        branch: check.check_suite.and_then(|s| s.head_branch).unwrap_or_default(),
        status: "completed".into(),
        conclusion: check.conclusion,
        outcome,
        summary,
        url: check.html_url,
        sha: check.head_sha,
        author: p.sender.and_then(|s| s.login),
        message: None,
        number: None,
        name: Some(name),
        occurred_at_ms: check.completed_at.as_deref().and_then(clock::parse_rfc3339),
    })))
}

/// Runs and checks that have not finished: CodeSpar answers these as intermediate states.
fn skipped_run(action: String, repo: String) -> Parsed {
    let reason = match action.as_str() {
        "requested" | "in_progress" | "created" => "intermediate_state",
        _ => "Action not handled",
    };
    Parsed::Skipped { action: Some(action), repo: Some(repo), reason }
}

/// A run's conclusion as the last part of its event type.
fn outcome_of(conclusion: Option<&str>) -> &'static str {
    match conclusion {
        Some("success" | "neutral" | "skipped") => "success",
        Some("cancelled" | "stale") => "cancelled",
        _ => "failure",
    }
}

fn verdict(conclusion: Option<&str>) -> String {
    match conclusion {
        Some("success") => "passed".into(),
        Some("failure") => "failed".into(),
        Some("cancelled") => "was cancelled".into(),
        Some("timed_out") => "timed out".into(),
        Some("neutral" | "skipped") => "was skipped".into(),
        Some(other) => format!("finished ({other})"),
        None => "finished without a conclusion".into(),
    }
}

fn short_sha(sha: Option<&str>) -> String {
    sha.map(|s| format!(" ({})", s.get(..7).unwrap_or(s))).unwrap_or_default()
}

fn repo(repository: Option<Repository>) -> Result<String, PayloadError> {
    repository.and_then(|r| r.full_name).ok_or(PayloadError::Missing("repository.full_name"))
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn parse(event: &str, payload: &Value) -> Result<Parsed, PayloadError> {
        super::parse(event, payload.to_string().as_bytes())
    }

    fn repo() -> Value {
        json!({"full_name": "acme/api-gateway"})
    }

    #[test]
    fn workflow_failure_reads_like_codespar() {
        let p = json!({"action": "completed", "repository": repo(), "workflow_run": {
            "name": "", "head_branch": "main", "head_sha": "abc1234def", "conclusion": "failure",
            "html_url": "https://github.com/acme/api-gateway/actions/runs/1",
            "updated_at": "2026-11-23T10:04:12Z"}, "workflow": {"name": "CI"}});
        let Ok(Parsed::Ci(ci)) = parse("workflow_run", &p) else { panic!("not a CI event") };
        assert_eq!(ci.summary, "Workflow 'CI' failed on main (abc1234)");
        assert_eq!(ci.event_type(), "ci.workflow_run.failure");
        assert!(ci.is_build_failure());
        assert_eq!(ci.fingerprint(), "github:acme/api-gateway:workflow_run:CI:main");
        assert_eq!(ci.occurred_at_ms, clock::parse_rfc3339("2026-11-23T10:04:12Z"));
    }

    #[test]
    fn pull_requests_and_pushes() {
        let pr = |action: &str, merged: bool| {
            json!({"action": action, "number": 42, "repository": repo(),
                "sender": {"login": "bob"},
                "pull_request": {"title": "feat: add rate limiting", "merged": merged,
                    "user": {"login": "alice"}, "head": {"ref": "feat/rl"}}})
        };
        let Ok(Parsed::Ci(opened)) = parse("pull_request", &pr("opened", false)) else {
            panic!("opened")
        };
        assert_eq!(opened.summary, "PR #42 'feat: add rate limiting' opened by alice");
        assert_eq!(opened.branch, "feat/rl");
        let Ok(Parsed::Ci(merged)) = parse("pull_request", &pr("closed", true)) else {
            panic!("merged")
        };
        assert_eq!(merged.event_type(), "ci.pull_request.merged");
        assert!(matches!(
            parse("pull_request", &pr("labeled", false)),
            Ok(Parsed::Skipped { reason: "Action not handled", .. })
        ));

        let push = json!({"ref": "refs/heads/main", "after": "abc", "repository": repo(),
            "pusher": {"name": "alice"}, "head_commit": {"message": "feat: x\n\nbody"}});
        let Ok(Parsed::Ci(push)) = parse("push", &push) else { panic!("push") };
        assert_eq!(push.summary, "Push to main by alice: feat: x");
        assert_eq!(push.event_type(), "ci.push");
    }

    #[test]
    fn missing_fields_are_named_and_unknown_events_unhandled() {
        assert_eq!(
            parse("push", &json!({"ref": "x"})),
            Err(PayloadError::Missing("repository.full_name"))
        );
        assert_eq!(
            parse("push", &json!({"repository": repo()})),
            Err(PayloadError::Missing("ref"))
        );
        assert_eq!(
            parse("star", &json!({"repository": repo(), "action": 1})),
            Ok(Parsed::Unhandled { repo: Some("acme/api-gateway".into()) })
        );
        match parse("push", &json!({"ref": 5, "repository": repo()})) {
            Err(PayloadError::Invalid { field, .. }) => assert_eq!(field, "ref"),
            other => panic!("expected a typed error, got {other:?}"),
        }
        assert!(
            matches!(super::parse("push", b"{nope"), Err(PayloadError::Syntax(m)) if m.contains("line 1"))
        );
        assert!(matches!(
            parse("workflow_run", &json!({"action": "in_progress", "repository": repo()})),
            Ok(Parsed::Skipped { reason: "intermediate_state", .. })
        ));
    }
}
