//! GitHub deliveries into CI events (contract 7.1; the table of CodeSpar's reference 3.12).
//!
//! | event | handled actions | type |
//! |---|---|---|
//! | `push` | (none: pushes have no action) | `ci.push` |
//! | `pull_request` | `opened`, `reopened`, `closed` | `ci.pull_request.{opened,reopened,merged,closed}` |
//! | `workflow_run` | `completed` | `ci.workflow_run.{success,failure,cancelled}` |
//! | `check_run` | `completed` | `ci.check_run.{success,failure,cancelled}` |
//!
//! Other actions of these events are skipped with a reason; other events are not handled.

use serde_json::Value;

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
    Unhandled,
}

/// A payload field the event cannot do without was missing or of the wrong type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingField(pub &'static str);

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
    /// The normalized event type (contract 8): `ci.push`, `ci.workflow_run.failure`, …
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

/// Reads a delivery of event `event` (the `X-GitHub-Event` header).
pub fn parse(event: &str, payload: &Value) -> Result<Parsed, MissingField> {
    match event {
        "ping" => Ok(Parsed::Ping {
            repo: text(payload, &["repository", "full_name"]).map(str::to_owned),
            hook_id: payload.get("hook_id").and_then(Value::as_u64),
        }),
        "push" => push(payload).map(|ci| Parsed::Ci(Box::new(ci))),
        "pull_request" => pull_request(payload),
        "workflow_run" => workflow_run(payload),
        "check_run" => check_run(payload),
        _ => Ok(Parsed::Unhandled),
    }
}

fn push(p: &Value) -> Result<CiEvent, MissingField> {
    let repo = repo(p)?;
    let git_ref = text(p, &["ref"]).ok_or(MissingField("ref"))?;
    let (branch, is_tag) = match git_ref.strip_prefix("refs/tags/") {
        Some(tag) => (tag, true),
        None => (git_ref.strip_prefix("refs/heads/").unwrap_or(git_ref), false),
    };
    let author = text(p, &["pusher", "name"])
        .or_else(|| text(p, &["sender", "login"]))
        .unwrap_or("someone")
        .to_owned();
    let message = text(p, &["head_commit", "message"]).map(first_line);
    let commits = p.get("commits").and_then(Value::as_array).map_or(0, Vec::len);
    let summary = if p.get("deleted").and_then(Value::as_bool) == Some(true) {
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
        branch: branch.to_owned(),
        status: "pushed".into(),
        conclusion: None,
        outcome: "pushed",
        summary,
        url: text(p, &["compare"]).map(str::to_owned),
        sha: text(p, &["after"]).map(str::to_owned),
        author: Some(author),
        message,
        number: None,
        name: None,
        occurred_at_ms: timestamp(p, &["head_commit", "timestamp"]),
    })
}

fn pull_request(p: &Value) -> Result<Parsed, MissingField> {
    let repo = repo(p)?;
    let action = text(p, &["action"]).ok_or(MissingField("action"))?.to_owned();
    let pr = p.get("pull_request").filter(|v| v.is_object()).ok_or(MissingField("pull_request"))?;
    let merged = pr.get("merged").and_then(Value::as_bool) == Some(true);
    let sender = text(p, &["sender", "login"]).unwrap_or("someone");
    let (outcome, verb, by) = match action.as_str() {
        "opened" => ("opened", "opened", text(pr, &["user", "login"]).unwrap_or(sender)),
        "reopened" => ("reopened", "reopened", sender),
        "closed" if merged => {
            ("merged", "merged", text(pr, &["merged_by", "login"]).unwrap_or(sender))
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
    let number = p.get("number").or_else(|| pr.get("number")).and_then(Value::as_u64);
    let title = text(pr, &["title"]).unwrap_or("").to_owned();
    let summary = format!("PR #{} '{title}' {verb} by {by}", number.unwrap_or(0));
    let occurred = ["merged_at", "closed_at", "updated_at", "created_at"]
        .iter()
        .find_map(|field| timestamp(pr, &[field]));
    Ok(Parsed::Ci(Box::new(CiEvent {
        kind: "pull_request",
        repo,
        branch: text(pr, &["head", "ref"]).unwrap_or("").to_owned(),
        status: action.clone(),
        action: Some(action),
        conclusion: merged.then(|| "merged".to_owned()),
        outcome,
        summary,
        url: text(pr, &["html_url"]).map(str::to_owned),
        sha: text(pr, &["head", "sha"]).map(str::to_owned),
        author: Some(by.to_owned()),
        message: Some(title),
        number,
        name: None,
        occurred_at_ms: occurred,
    })))
}

fn workflow_run(p: &Value) -> Result<Parsed, MissingField> {
    let repo = repo(p)?;
    let action = text(p, &["action"]).ok_or(MissingField("action"))?.to_owned();
    if action != "completed" {
        return Ok(skipped_run(action, repo));
    }
    let run =
        p.get("workflow_run").filter(|v| v.is_object()).ok_or(MissingField("workflow_run"))?;
    let name = text(run, &["name"])
        .filter(|n| !n.is_empty())
        .or_else(|| text(p, &["workflow", "name"]))
        .unwrap_or("workflow")
        .to_owned();
    let branch = text(run, &["head_branch"]).unwrap_or("").to_owned();
    let sha = text(run, &["head_sha"]).map(str::to_owned);
    let conclusion = text(run, &["conclusion"]).map(str::to_owned);
    let outcome = outcome_of(conclusion.as_deref());
    let summary = format!(
        "Workflow '{name}' {} on {branch}{}",
        verdict(conclusion.as_deref()),
        short_sha(sha.as_deref())
    );
    Ok(Parsed::Ci(Box::new(CiEvent {
        kind: "workflow_run",
        action: Some(action),
        repo,
        branch,
        status: "completed".into(),
        conclusion,
        outcome,
        summary,
        url: text(run, &["html_url"]).map(str::to_owned),
        sha,
        author: text(run, &["actor", "login"]).map(str::to_owned),
        message: text(run, &["head_commit", "message"]).map(first_line),
        number: None,
        name: Some(name),
        occurred_at_ms: timestamp(run, &["updated_at"]),
    })))
}

fn check_run(p: &Value) -> Result<Parsed, MissingField> {
    let repo = repo(p)?;
    let action = text(p, &["action"]).ok_or(MissingField("action"))?.to_owned();
    if action != "completed" {
        return Ok(skipped_run(action, repo));
    }
    let check = p.get("check_run").filter(|v| v.is_object()).ok_or(MissingField("check_run"))?;
    let name = text(check, &["name"]).unwrap_or("check").to_owned();
    let sha = text(check, &["head_sha"]).map(str::to_owned);
    let conclusion = text(check, &["conclusion"]).map(str::to_owned);
    let outcome = outcome_of(conclusion.as_deref());
    let summary =
        format!("Check '{name}' {}{}", verdict(conclusion.as_deref()), short_sha(sha.as_deref()));
    Ok(Parsed::Ci(Box::new(CiEvent {
        kind: "check_run",
        action: Some(action),
        repo,
        branch: text(check, &["check_suite", "head_branch"]).unwrap_or("").to_owned(),
        status: "completed".into(),
        conclusion,
        outcome,
        summary,
        url: text(check, &["html_url"]).map(str::to_owned),
        sha,
        author: text(p, &["sender", "login"]).map(str::to_owned),
        message: None,
        number: None,
        name: Some(name),
        occurred_at_ms: timestamp(check, &["completed_at"]),
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

fn repo(p: &Value) -> Result<String, MissingField> {
    text(p, &["repository", "full_name"])
        .map(str::to_owned)
        .ok_or(MissingField("repository.full_name"))
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, key| v.get(key))?.as_str()
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(200).collect()
}

/// An RFC 3339 string, or Unix seconds (push payloads use both).
fn timestamp(v: &Value, path: &[&str]) -> Option<i64> {
    let v = path.iter().try_fold(v, |v, key| v.get(key))?;
    match v {
        Value::String(s) => clock::parse_rfc3339(s),
        Value::Number(n) => n.as_i64().map(|secs| secs.saturating_mul(1000)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        assert_eq!(parse("push", &json!({"ref": "x"})), Err(MissingField("repository.full_name")));
        assert_eq!(parse("push", &json!({"repository": repo()})), Err(MissingField("ref")));
        assert_eq!(parse("star", &json!({})), Ok(Parsed::Unhandled));
        assert!(matches!(
            parse("workflow_run", &json!({"action": "in_progress", "repository": repo()})),
            Ok(Parsed::Skipped { reason: "intermediate_state", .. })
        ));
    }
}
